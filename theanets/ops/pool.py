"""Pooling of channels-last images as native PyTensor operations.

:class:`Pool2d` takes the maximum, or the mean, of each window of
``pool_size`` pixels of images ``(examples, width, height, channels)``;
windows start every ``stride`` pixels from the first (they overlap when the
stride is smaller than the window; a partial window at the end of an axis
is dropped). Its gradient is :class:`Pool2dGrad`; for the maximum, the
gradient of that and the pushforward of the pooling are
:class:`Pool2dMaskedSum`, so that second derivatives work to any order.

As PyTensor's ``max`` does, the gradient of a maximum goes to every element
of the window equal to it (ties included); elements of several windows add
the gradients of each.

Each operation has a numpy implementation (``perform``), a JAX one and a
Numba one, registered as for :mod:`theanets.ops.conv`.

Examples
--------
>>> import numpy as np, pytensor.tensor as TT
>>> x = TT.tensor4('x', dtype='float64')
>>> images = np.arange(16.).reshape((1, 4, 4, 1))
>>> Pool2d((2, 2))(x).eval({x: images})[0, :, :, 0]
array([[ 5.,  7.],
       [13., 15.]])
>>> Pool2d((3, 3), stride=(1, 1), mode='mean')(x).eval({x: images})[0, :, :, 0]
array([[ 5.,  6.],
       [ 9., 10.]])
"""

import numpy as np
import pytensor.tensor as TT
from pytensor.gradient import disconnected_type
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op

from .._compat import node_and_shapes
from ._dispatch import after_import
from ._gradient import disconnected

__all__ = ["Pool2d", "Pool2dGrad", "Pool2dMaskedSum", "POOL_MODES", "pool"]

POOL_MODES = ("max", "mean")

#: Part of the key of the Numba functions in PyTensor's disk cache: change it
#: with the Numba implementation (see :func:`theanets.ops._dispatch.numba_register`).
NUMBA_VERSION = 1


def _tensor4(value, what):
    var = TT.as_tensor_variable(value)
    if var.type.ndim != 4:
        raise TypeError(
            "pooling: {} must be a 4-D tensor, not {}-D ({})".format(what, var.type.ndim, var.type)
        )
    return var


class _PoolOp(Op):
    """Shared parameters and helpers of the pooling operations.

    Parameters
    ----------
    pool_size : (int, int)
        Window width and height.
    stride : (int, int), optional
        Steps between the starts of consecutive windows (default: the pool
        size, windows that do not overlap).
    mode : 'max' or 'mean'
        How to summarise a window.
    """

    __props__ = ("pool_size", "stride", "mode")

    def __init__(self, pool_size, stride=None, mode="max"):
        self.pool_size = tuple(int(p) for p in pool_size)
        self.stride = self.pool_size if stride is None else tuple(int(s) for s in stride)
        if len(self.pool_size) != 2 or min(self.pool_size) < 1:
            raise ValueError(
                "pooling: pool_size must be two positive ints, not {}".format(pool_size)
            )
        if len(self.stride) != 2 or min(self.stride) < 1:
            raise ValueError("pooling: stride must be two positive ints, not {}".format(stride))
        if mode not in POOL_MODES:
            raise ValueError(
                "pooling: mode must be one of {}, not {!r}".format(
                    ", ".join(repr(m) for m in POOL_MODES), mode
                )
            )
        self.mode = mode
        super().__init__()

    def _ops(self):
        args = (self.pool_size, self.stride, self.mode)
        return Pool2d(*args), Pool2dGrad(*args), Pool2dMaskedSum(*args)

    @property
    def _tiled(self):
        """True if the windows tile the images (the stride is the pool size)."""
        return self.stride == self.pool_size

    def _counts(self, width, height):
        """Windows along each axis (None if unknown)."""
        return tuple(
            None if n is None else (n - p) // s + 1
            for n, p, s in zip((width, height), self.pool_size, self.stride, strict=True)
        )

    def _check_images(self, shape):
        counts = self._counts(shape[1], shape[2])
        if any(c is not None and c < 1 for c in counts):
            raise ValueError(
                "pooling: images of shape {} are smaller than the pool size {}".format(
                    tuple(shape), self.pool_size
                )
            )
        return counts

    def _window(self, a, u, v, counts):
        """The element at offset ``(u, v)`` of every window: ``(N, n, m, C)``."""
        (sw, sh), (n, m) = self.stride, counts
        return a[:, u : u + (n - 1) * sw + 1 : sw, v : v + (m - 1) * sh + 1 : sh]

    def _offsets(self):
        return [(u, v) for u in range(self.pool_size[0]) for v in range(self.pool_size[1])]

    # -- numpy ----------------------------------------------------------------

    def _np_pool(self, x):
        self._check_images(x.shape)
        windows = np.lib.stride_tricks.sliding_window_view(x, self.pool_size, axis=(1, 2))
        windows = windows[:, :: self.stride[0], :: self.stride[1]]
        reduce = np.max if self.mode == "max" else np.mean
        return reduce(windows, axis=(-2, -1)).astype(x.dtype, copy=False)

    def _np_grad(self, x, out, g):
        counts = self._check_images(x.shape)
        gx = np.zeros(x.shape, g.dtype)
        area = self.pool_size[0] * self.pool_size[1]
        for u, v in self._offsets():
            if self.mode == "max":
                part = np.where(self._window(x, u, v, counts) == out, g, 0)
            else:
                part = g / area
            self._window(gx, u, v, counts)[...] += part
        return gx

    def _np_masked_sum(self, x, out, h):
        counts = self._check_images(x.shape)
        total = np.zeros(out.shape, h.dtype)
        for u, v in self._offsets():
            total += np.where(
                self._window(x, u, v, counts) == out, self._window(h, u, v, counts), 0
            )
        return total

    # -- JAX ------------------------------------------------------------------

    def _jax_tiles(self, a, counts):
        """``a`` cropped to whole windows, as ``(N, n, pw, m, ph, C)``."""
        (n, m), (pw, ph) = counts, self.pool_size
        a = a[:, : n * pw, : m * ph]
        return a.reshape((a.shape[0], n, pw, m, ph, a.shape[3]))

    def _jax_pool(self, x):
        import jax
        import jax.numpy as jnp

        counts = self._counts(x.shape[1], x.shape[2])
        if self._tiled:
            tiles = self._jax_tiles(x, counts)
            return tiles.max(axis=(2, 4)) if self.mode == "max" else tiles.mean(axis=(2, 4))
        window, strides = (1,) + self.pool_size + (1,), (1,) + self.stride + (1,)
        if self.mode == "max":
            return jax.lax.reduce_window(
                x, jnp.array(-jnp.inf, x.dtype), jax.lax.max, window, strides, "VALID"
            )
        total = jax.lax.reduce_window(
            x, jnp.array(0, x.dtype), jax.lax.add, window, strides, "VALID"
        )
        return total / (self.pool_size[0] * self.pool_size[1])

    def _jax_grad(self, x, out, g):
        import jax
        import jax.numpy as jnp

        counts = self._counts(x.shape[1], x.shape[2])
        (pw, ph), (sw, sh) = self.pool_size, self.stride
        if self._tiled:
            spread = g[:, :, None, :, None]
            if self.mode == "max":
                tiles = jnp.where(self._jax_tiles(x, counts) == out[:, :, None, :, None], spread, 0)
            else:
                tiles = jnp.broadcast_to(
                    spread / (pw * ph), (g.shape[0], counts[0], pw, counts[1], ph, g.shape[3])
                )
            gx = tiles.reshape((g.shape[0], counts[0] * pw, counts[1] * ph, g.shape[3]))
            return jnp.pad(
                gx, ((0, 0), (0, x.shape[1] - gx.shape[1]), (0, x.shape[2] - gx.shape[2]), (0, 0))
            )
        gx = None
        zero = jnp.array(0, g.dtype)
        for u, v in self._offsets():
            if self.mode == "max":
                part = jnp.where(self._window(x, u, v, counts) == out, g, 0)
            else:
                part = g / (pw * ph)
            # back to the positions of the offset: zeros between and around
            config = [
                (0, 0, 0),
                (u, x.shape[1] - u - (counts[0] - 1) * sw - 1, sw - 1),
                (v, x.shape[2] - v - (counts[1] - 1) * sh - 1, sh - 1),
                (0, 0, 0),
            ]
            part = jax.lax.pad(part, zero, config)
            gx = part if gx is None else gx + part
        return gx

    def _jax_masked_sum(self, x, out, h):
        import jax.numpy as jnp

        counts = self._counts(x.shape[1], x.shape[2])
        if self._tiled:
            mask = self._jax_tiles(x, counts) == out[:, :, None, :, None]
            return jnp.where(mask, self._jax_tiles(h, counts), 0).sum(axis=(2, 4))
        total = None
        for u, v in self._offsets():
            part = jnp.where(self._window(x, u, v, counts) == out, self._window(h, u, v, counts), 0)
            total = part if total is None else total + part
        return total


class Pool2d(_PoolOp):
    """Pooling ``(N, W, H, C) -> (N, (W - pw) // sw + 1, (H - ph) // sh + 1, C)``.

    Examples
    --------
    >>> import pytensor.tensor as TT
    >>> Pool2d((2, 2))(TT.tensor4('x', shape=(None, 7, 6, 3))).type.shape
    (None, 3, 3, 3)
    """

    def make_node(self, x):
        x = _tensor4(x, "the images")
        if not x.dtype.startswith("float"):
            raise TypeError("pooling: the images must be floats, not {}".format(x.dtype))
        n, width, height, c = x.type.shape
        counts = self._check_images(x.type.shape)
        return Apply(self, [x], [TT.tensor(dtype=x.dtype, shape=(n,) + counts + (c,))])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = self._np_pool(inputs[0])

    def infer_shape(self, *args):
        node, shapes = node_and_shapes(args)
        ((n, width, height, c),) = shapes
        counts = [
            (d - p) // s + 1
            for d, p, s in zip((width, height), self.pool_size, self.stride, strict=True)
        ]
        return [(n, counts[0], counts[1], c)]

    def pullback(self, inputs, outputs, cotangents):
        _, grad, _ = self._ops()
        return [grad(inputs[0], outputs[0], cotangents[0])]

    def pushforward(self, inputs, outputs, tangents):
        (t,) = tangents
        if disconnected(t):
            return [disconnected_type()]
        if self.mode == "mean":
            return [self(t)]
        _, _, masked_sum = self._ops()
        return [masked_sum(inputs[0], outputs[0], t)]


class Pool2dGrad(_PoolOp):
    """``gx``, the gradient of ``sum(g * Pool2d(x))`` with respect to ``x``.

    Inputs ``x``, ``out = Pool2d(x)`` and ``g`` (shaped like ``out``);
    output shaped like ``x``. For the maximum, each element equal to the
    maximum of a window gets that window's ``g``; for the mean, every element
    of a window gets ``g / (pw * ph)``.
    """

    def make_node(self, x, out, g):
        x, out, g = (
            _tensor4(v, what)
            for v, what in (
                (x, "the images"),
                (out, "the pooled images"),
                (g, "the output gradient"),
            )
        )
        return Apply(self, [x, out, g], [TT.tensor(dtype=g.dtype, shape=x.type.shape)])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = self._np_grad(*inputs)

    def infer_shape(self, *args):
        node, shapes = node_and_shapes(args)
        return [shapes[0]]

    def pullback(self, inputs, outputs, cotangents):
        x, out, g = inputs
        (h,) = cotangents
        forward, _, masked_sum = self._ops()
        # linear in g; which elements get it changes only by jumps with x
        # (a gradient of zero, as for PyTensor's max)
        dg = masked_sum(x, out, h) if self.mode == "max" else forward(h)
        return [x.zeros_like(), out.zeros_like(), dg]

    def pushforward(self, inputs, outputs, tangents):
        x, out, _ = inputs
        tg = tangents[2]
        return [disconnected_type() if disconnected(tg) else self(x, out, tg)]


class Pool2dMaskedSum(_PoolOp):
    """For each window, the sum of ``h`` where ``x`` equals the window's
    maximum ``out``: the pushforward of a max-pooling, and the gradient of
    :class:`Pool2dGrad` with respect to its output gradient.
    """

    def make_node(self, x, out, h):
        x, out, h = (
            _tensor4(v, what)
            for v, what in ((x, "the images"), (out, "the pooled images"), (h, "the tangent"))
        )
        return Apply(self, [x, out, h], [TT.tensor(dtype=h.dtype, shape=out.type.shape)])

    def perform(self, node, inputs, output_storage):
        output_storage[0][0] = self._np_masked_sum(*inputs)

    def infer_shape(self, *args):
        node, shapes = node_and_shapes(args)
        return [shapes[1]]

    def pullback(self, inputs, outputs, cotangents):
        x, out, _ = inputs
        _, grad, _ = self._ops()
        return [x.zeros_like(), out.zeros_like(), grad(x, out, cotangents[0])]

    def pushforward(self, inputs, outputs, tangents):
        x, out, _ = inputs
        th = tangents[2]
        return [disconnected_type() if disconnected(th) else self(x, out, th)]


def pool(x, pool_size, mode="max", stride=None):
    """Pooling over the axes after the batch axis.

    One node of :class:`Pool2d`, which has its own
    gradients and implementations for numpy, JAX and Numba.

    Parameters
    ----------
    x : symbolic tensor
        ``(examples, d_1, ..., d_k, channels)`` with ``k = len(pool_size)``,
        1 or 2.
    pool_size : tuple of int
        Window size along ``d_1 ... d_k``.
    mode : 'max' or 'mean'
        Take the largest value, or the mean, of each window.
    stride : tuple of int, optional
        Steps between the starts of consecutive windows (default: the pool
        size, so windows do not overlap). The first window starts at 0; a
        partial window at the end of an axis is dropped (Theano's
        ``ignore_border=True``).

    Returns
    -------
    symbolic tensor ``(examples, n_1, ..., n_k, channels)`` with
    ``n_i = (d_i - p_i) // s_i + 1`` windows along each axis (``d_i // p_i``
    without a stride).
    """
    pool_size = tuple(pool_size)
    stride = pool_size if stride is None else tuple(stride)
    if len(pool_size) == 1:
        # (N, T, C) as images (N, 1, T, C)
        op = Pool2d((1,) + pool_size, (1,) + stride, mode)
        return op(x.dimshuffle(0, "x", 1, 2))[:, 0]
    if len(pool_size) != 2:
        raise ValueError(
            "pool: pooling over 1 or 2 axes, not {} (pool_size {})".format(
                len(pool_size), pool_size
            )
        )
    return Pool2d(pool_size, stride, mode)(x)


# -- conversions for PyTensor's JAX and Numba linkers ---------------------------


def _register_jax():
    from pytensor.link.jax.dispatch import jax_funcify

    @jax_funcify.register(Pool2d)
    def _jax_pool2d(op, node=None, **kwargs):
        return op._jax_pool

    @jax_funcify.register(Pool2dGrad)
    def _jax_pool2d_grad(op, node=None, **kwargs):
        return op._jax_grad

    @jax_funcify.register(Pool2dMaskedSum)
    def _jax_pool2d_masked_sum(op, node=None, **kwargs):
        return op._jax_masked_sum


def _register_numba():
    from pytensor.link.numba.dispatch.basic import numba_njit

    from ._dispatch import numba_register

    def register(op_class):
        return numba_register(op_class, NUMBA_VERSION)

    def settings(op):
        (pw, ph), (sw, sh) = op.pool_size, op.stride
        return pw, ph, sw, sh, op.mode == "max"

    @register(Pool2d)
    def _numba_pool2d(op, node=None, **kwargs):
        pw, ph, sw, sh, is_max = settings(op)

        @numba_njit
        def pool(x):
            n, width, height, c = x.shape
            cw, ch = (width - pw) // sw + 1, (height - ph) // sh + 1
            if cw < 1 or ch < 1:
                raise ValueError("pooling: images smaller than the pool size")
            out = np.empty((n, cw, ch, c), x.dtype)
            for i in range(n):
                for p in range(cw):
                    for q in range(ch):
                        for k in range(c):
                            acc = x[i, p * sw, q * sh, k]
                            for u in range(pw):
                                for v in range(ph):
                                    if u == 0 and v == 0:
                                        continue
                                    value = x[i, p * sw + u, q * sh + v, k]
                                    if is_max:
                                        if value > acc or np.isnan(value):
                                            acc = value
                                    else:
                                        acc += value
                            out[i, p, q, k] = acc if is_max else acc / (pw * ph)
            return out

        return pool

    @register(Pool2dGrad)
    def _numba_pool2d_grad(op, node=None, **kwargs):
        pw, ph, sw, sh, is_max = settings(op)

        @numba_njit
        def grad(x, out, g):
            n, cw, ch, c = g.shape
            gx = np.zeros(x.shape, g.dtype)
            for i in range(n):
                for p in range(cw):
                    for q in range(ch):
                        for u in range(pw):
                            for v in range(ph):
                                for k in range(c):
                                    r, s = p * sw + u, q * sh + v
                                    if not is_max:
                                        gx[i, r, s, k] += g[i, p, q, k] / (pw * ph)
                                    elif x[i, r, s, k] == out[i, p, q, k]:
                                        gx[i, r, s, k] += g[i, p, q, k]
            return gx

        return grad

    @register(Pool2dMaskedSum)
    def _numba_pool2d_masked_sum(op, node=None, **kwargs):
        pw, ph, sw, sh, _ = settings(op)

        @numba_njit
        def masked_sum(x, out, h):
            n, cw, ch, c = out.shape
            total = np.zeros(out.shape, h.dtype)
            for i in range(n):
                for p in range(cw):
                    for q in range(ch):
                        for u in range(pw):
                            for v in range(ph):
                                for k in range(c):
                                    r, s = p * sw + u, q * sh + v
                                    if x[i, r, s, k] == out[i, p, q, k]:
                                        total[i, p, q, k] += h[i, r, s, k]
            return total

        return masked_sum


after_import("pytensor.link.jax.dispatch", _register_jax)
after_import("pytensor.link.numba.dispatch", _register_numba)
