"""A batched, multi-channel 2-D convolution as native PyTensor operations.

Three operations make one family, closed under differentiation:

- :class:`Conv2d` ``(x, w) -> y``: the convolution itself (Theano's
  ``conv2d``: a true convolution, kernels flipped) of channels-last images
  ``x`` ``(examples, width, height, channels)`` with kernels ``w`` in
  Theano's layout ``(filters, channels, fw, fh)``, after padding the two
  spatial axes with zeros and keeping every ``stride``-th output;
- :class:`Conv2dGradInputs` ``(g, w, x) -> gx``: the gradient of
  ``sum(g * Conv2d(x, w))`` with respect to ``x`` (a transposed
  convolution; ``x`` only gives its shape);
- :class:`Conv2dGradWeights` ``(x, g) -> gw``: its gradient with respect to
  ``w`` (a correlation of the images with ``g``).

The convolution is bilinear in ``(x, w)``, so each of the three is bilinear
in its two data inputs, and the gradient and the pushforward (R-operator) of
each are sums of operations of the same family: second derivatives (a
Hessian-vector product, say) work to any order.

Each operation has a numpy implementation (``perform``: the ``FAST_COMPILE``
and C/VM modes), a JAX one (``jax.lax.conv_general_dilated``, which XLA
compiles to its own convolution kernels) and a Numba one (an explicit
im2col and one matrix product). The JAX and Numba conversions are
registered when PyTensor's dispatch module for that backend is imported,
whoever imports it, so that importing theanets imports neither jax nor
numba.

Examples
--------
>>> import numpy as np, pytensor, pytensor.tensor as TT
>>> x, w = TT.tensor4('x', dtype='float64'), TT.tensor4('w', dtype='float64')
>>> y = Conv2d((3, 3), border_pads((3, 3), 'same'))(x, w)
>>> f = pytensor.function([x, w], y, mode='FAST_COMPILE')
>>> images = np.arange(16.).reshape((1, 4, 4, 1))
>>> f(images, np.ones((1, 1, 3, 3)))[0, :, :, 0]
array([[10., 18., 24., 18.],
       [27., 45., 54., 39.],
       [51., 81., 90., 63.],
       [42., 66., 72., 50.]])
"""

import numpy as np
import pytensor
import pytensor.tensor as TT
from pytensor.gradient import disconnected_type
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op
from pytensor.scalar import upcast

from .._compat import node_and_shapes
from ._dispatch import after_import
from ._gradient import bilinear_pushforward

__all__ = [
    "Conv2d",
    "Conv2dGradInputs",
    "Conv2dGradWeights",
    "border_pads",
    "conv2d",
    "BORDER_MODES",
]

BORDER_MODES = ("valid", "full", "same")

#: Under JAX, a convolution with at most this many filter taps times input
#: channels, and at most ``FMA_MAX_FILTERS`` filters, is computed as a sum of
#: shifted images times kernel taps, which XLA fuses into one loop: measured
#: on a CPU, 3 times faster than XLA's convolution for 28x28 images, one
#: channel and 16 5x5 filters, which spends most of its time gathering
#: patches when there are few channels. With more channels or filters XLA's
#: convolution is the faster.
FMA_MAX_TERMS = 32
FMA_MAX_FILTERS = 32

#: Part of the key of the Numba functions in PyTensor's disk cache (which
#: otherwise knows an operation only by its parameters): change it with
#: the Numba implementation.
NUMBA_VERSION = 4


def border_pads(filter_size, border_mode):
    """Zeros added ``((before, after), (before, after))`` around the two
    spatial axes for a border mode.

    'valid' adds none; 'full' adds ``f - 1`` on each side; 'same' adds
    ``f // 2`` before and ``(f - 1) // 2`` after (for an even filter the
    extra zero goes before the data, so that the outputs are those of
    ``scipy.signal.convolve(..., mode='same')``).

    Examples
    --------
    >>> border_pads((3, 2), 'same')
    ((1, 1), (1, 0))
    >>> border_pads((3, 2), 'full')
    ((2, 2), (1, 1))
    """
    if border_mode not in BORDER_MODES:
        raise ValueError(
            "border_mode must be one of {}, not {!r}".format(
                ", ".join(repr(m) for m in BORDER_MODES), border_mode
            )
        )
    if border_mode == "valid":
        return ((0, 0), (0, 0))
    if border_mode == "full":
        return tuple((f - 1, f - 1) for f in filter_size)
    return tuple((f // 2, (f - 1) // 2) for f in filter_size)


def _output_size(size, pads, filt, step):
    """Outputs along one axis of ``size`` inputs (None if unknown)."""
    if size is None:
        return None
    return (size + pads[0] + pads[1] - filt) // step + 1


def _float_dtype(*variables):
    dtype = upcast(*[v.dtype for v in variables])
    if not dtype.startswith("float"):
        dtype = upcast(dtype, pytensor.config.floatX)
    return dtype


def _tensor4(value, dtype, what):
    var = TT.as_tensor_variable(value)
    if var.type.ndim != 4:
        raise TypeError(
            "convolution: {} must be a 4-D tensor, not {}-D ({})".format(
                what, var.type.ndim, var.type
            )
        )
    return TT.cast(var, dtype) if var.dtype != dtype else var


class _ConvOp(Op):
    """Shared parameters and helpers of the convolution operations.

    Parameters
    ----------
    filter_size : (int, int)
        The kernels' spatial shape ``(fw, fh)``.
    pads : ((int, int), (int, int))
        Zeros added before and after each spatial axis of the images.
    stride : (int, int)
        Keep every ``stride``-th output along each axis, starting with the
        first.
    """

    __props__ = ("filter_size", "pads", "stride")

    def __init__(self, filter_size, pads=((0, 0), (0, 0)), stride=(1, 1)):
        self.filter_size = tuple(int(f) for f in filter_size)
        self.pads = tuple((int(b), int(a)) for b, a in pads)
        self.stride = tuple(int(s) for s in stride)
        if len(self.filter_size) != 2 or min(self.filter_size) < 1:
            raise ValueError(
                "convolution: filter_size must be two positive ints, not {}".format(filter_size)
            )
        if len(self.pads) != 2 or min(min(p) for p in self.pads) < 0:
            raise ValueError(
                "convolution: pads must be two pairs of ints >= 0, not {}".format(pads)
            )
        if len(self.stride) != 2 or min(self.stride) < 1:
            raise ValueError("convolution: stride must be two positive ints, not {}".format(stride))
        super().__init__()

    def _ops(self):
        """The forward, input-gradient and weight-gradient ops of these settings."""
        args = (self.filter_size, self.pads, self.stride)
        return Conv2d(*args), Conv2dGradInputs(*args), Conv2dGradWeights(*args)

    def _out_spatial(self, width, height):
        return tuple(
            _output_size(n, p, f, s)
            for n, p, f, s in zip(
                (width, height), self.pads, self.filter_size, self.stride, strict=True
            )
        )

    def _check_images(self, shape):
        """Check numeric image shape ``shape`` against the filter; its output sizes."""
        out = self._out_spatial(shape[1], shape[2])
        if min(out) < 1:
            raise ValueError(
                "convolution: images of shape {} padded by {} are smaller than the filter "
                "{}".format(tuple(shape), self.pads, self.filter_size)
            )
        return out

    def _check_kernels(self, shape, channels):
        if tuple(shape[2:]) != self.filter_size or (channels is not None and shape[1] != channels):
            raise ValueError(
                "convolution: kernels of shape {} do not match the filter size {} and "
                "{} input channels (expected (filters, channels, fw, fh))".format(
                    tuple(shape), self.filter_size, channels
                )
            )

    # -- numpy implementation -------------------------------------------------

    def _patches(self, x):
        """``(N, W', H', C, fw, fh)`` view of the padded, strided windows of ``x``."""
        self._check_images(x.shape)
        padded = np.pad(x, ((0, 0),) + self.pads + ((0, 0),))
        windows = np.lib.stride_tricks.sliding_window_view(padded, self.filter_size, axis=(1, 2))
        return windows[:, :: self.stride[0], :: self.stride[1]]

    def _np_forward(self, x, w):
        self._check_kernels(w.shape, x.shape[3])
        out = np.tensordot(self._patches(x), w[:, :, ::-1, ::-1], axes=([3, 4, 5], [1, 2, 3]))
        return out.astype(x.dtype, copy=False)

    def _np_grad_inputs(self, g, w, x_shape):
        (wb, _), (hb, _) = self.pads
        fw, fh = self.filter_size
        sw, sh = self.stride
        ow, oh = self._check_images(x_shape)
        self._check_kernels(w.shape, x_shape[3])
        padded = np.zeros(
            (
                x_shape[0],
                x_shape[1] + sum(self.pads[0]),
                x_shape[2] + sum(self.pads[1]),
                x_shape[3],
            ),
            g.dtype,
        )
        for u in range(fw):
            for v in range(fh):
                padded[:, u : u + (ow - 1) * sw + 1 : sw, v : v + (oh - 1) * sh + 1 : sh] += np.dot(
                    g, w[:, :, fw - 1 - u, fh - 1 - v]
                )
        return padded[:, wb : wb + x_shape[1], hb : hb + x_shape[2]]

    def _np_grad_weights(self, x, g):
        flipped = np.tensordot(g, self._patches(x), axes=([0, 1, 2], [0, 1, 2]))
        return np.ascontiguousarray(flipped[:, :, ::-1, ::-1]).astype(x.dtype, copy=False)

    # -- JAX implementation ---------------------------------------------------

    def _jax_conv(self, x, w):
        import jax
        import jax.numpy as jnp

        return jax.lax.conv_general_dilated(
            x,
            jnp.flip(w, (2, 3)),
            window_strides=self.stride,
            padding=self.pads,
            dimension_numbers=("NHWC", "OIHW", "NHWC"),
        )

    def _jax_forward(self, x, w):
        """The convolution under JAX: XLA's convolution, or for few channels
        and filters a sum of shifted images times kernel taps (see
        :data:`FMA_MAX_TERMS`)."""
        channels, filters = x.shape[3], w.shape[0]
        fw, fh = self.filter_size
        if fw * fh * channels > FMA_MAX_TERMS or filters > FMA_MAX_FILTERS:
            return self._jax_conv(x, w)
        import jax
        import jax.numpy as jnp

        # one row of F weights per tap and channel, (u, v, c) major to minor:
        # the reshape makes XLA lay the rows out contiguously (indexing a
        # transposed w instead reads the weights across its rows in the loop,
        # 8 times slower)
        rows = jnp.transpose(w[:, :, ::-1, ::-1], (2, 3, 1, 0)).reshape((-1, filters))
        x = jnp.pad(x, ((0, 0),) + self.pads + ((0, 0),))
        ow, oh = self._out_spatial(x.shape[1] - sum(self.pads[0]), x.shape[2] - sum(self.pads[1]))
        sw, sh = self.stride
        out = None
        for u in range(fw):
            for v in range(fh):
                window = x[:, u : u + (ow - 1) * sw + 1 : sw, v : v + (oh - 1) * sh + 1 : sh]
                for c in range(channels):
                    term = window[..., c : c + 1] * rows[(u * fh + v) * channels + c]
                    out = term if out is None else out + term
        # clamp(-inf, out, inf) is out, NaN included; it keeps XLA from
        # fusing the sum into a consumer's reduction (a YNNPACK fusion that
        # then materializes every broadcast term: 8 times slower, measured
        # with a sum or a max-pool after the convolution)
        inf = jnp.asarray(np.inf, out.dtype)
        return jax.lax.clamp(-inf, out, inf)

    def _jax_grad_inputs(self, g, w, x_shape, dtype):
        import jax

        (gx,) = jax.linear_transpose(
            lambda x: self._jax_conv(x, w), jax.ShapeDtypeStruct(tuple(x_shape), dtype)
        )(g)
        return gx

    def _jax_grad_weights(self, x, g):
        import jax

        shape = (g.shape[3], x.shape[3]) + self.filter_size
        (gw,) = jax.linear_transpose(
            lambda w: self._jax_conv(x, w), jax.ShapeDtypeStruct(shape, x.dtype)
        )(g)
        return gw


class Conv2d(_ConvOp):
    """The convolution ``y = conv(x, w)`` (see the module documentation).

    Inputs ``x`` ``(N, W, H, C)`` and ``w`` ``(F, C, fw, fh)``; output
    ``(N, W', H', F)`` with ``W' = (W + pads - fw) // stride + 1`` (likewise
    ``H'``): ``y[n, i, j, f] = sum over u, v, c of xp[n, i * sw + u, j * sh
    + v, c] * w[f, c, fw - 1 - u, fh - 1 - v]``, ``xp`` being ``x`` padded
    with zeros.

    Examples
    --------
    >>> import numpy as np, pytensor.tensor as TT
    >>> op = Conv2d((3, 3), pads=((1, 1), (1, 1)), stride=(2, 2))
    >>> y = op(TT.tensor4('x', shape=(None, 7, 6, 2)), TT.tensor4('w', shape=(5, 2, 3, 3)))
    >>> y.type.shape
    (None, 4, 3, 5)
    """

    def make_node(self, x, w):
        x, w = TT.as_tensor_variable(x), TT.as_tensor_variable(w)
        dtype = _float_dtype(x, w)
        x, w = _tensor4(x, dtype, "the images"), _tensor4(w, dtype, "the kernels")
        n, width, height, channels = x.type.shape
        if (
            None not in (channels, w.type.shape[1])
            and channels != w.type.shape[1]
            or any(
                k is not None and k != f
                for k, f in zip(w.type.shape[2:], self.filter_size, strict=True)
            )
        ):
            self._check_kernels(w.type.shape, channels)
        out = TT.tensor(
            dtype=dtype, shape=(n,) + self._out_spatial(width, height) + (w.type.shape[0],)
        )
        if any(s is not None and s < 1 for s in out.type.shape[1:3]):
            raise ValueError(
                "convolution: images of shape {} padded by {} are smaller than the filter "
                "{}".format(x.type.shape, self.pads, self.filter_size)
            )
        return Apply(self, [x, w], [out])

    def perform(self, node, inputs, output_storage):
        x, w = inputs
        output_storage[0][0] = self._np_forward(x, w)

    def infer_shape(self, *args):
        node, shapes = node_and_shapes(args)
        (n, width, height, _), (f, _, _, _) = shapes
        out = [
            (size + p[0] + p[1] - filt) // step + 1
            for size, p, filt, step in zip(
                (width, height), self.pads, self.filter_size, self.stride, strict=True
            )
        ]
        return [(n, out[0], out[1], f)]

    def pullback(self, inputs, outputs, cotangents):
        x, w = inputs
        (g,) = cotangents
        _, grad_inputs, grad_weights = self._ops()
        return [grad_inputs(g, w, x), grad_weights(x, g)]

    def pushforward(self, inputs, outputs, tangents):
        return bilinear_pushforward(self, *inputs, *tangents)


class Conv2dGradInputs(_ConvOp):
    """``gx``, the gradient of ``sum(g * Conv2d(x, w))`` with respect to ``x``.

    Inputs ``g`` ``(N, W', H', F)``, ``w`` ``(F, C, fw, fh)`` and ``x``
    (only its shape is used: a stride may leave the last rows of ``x``
    unused, so ``g`` does not determine it); output of ``x``'s shape.
    """

    def make_node(self, g, w, x):
        g, w, x = (TT.as_tensor_variable(v) for v in (g, w, x))
        dtype = _float_dtype(g, w)
        g, w = _tensor4(g, dtype, "the output gradient"), _tensor4(w, dtype, "the kernels")
        x = _tensor4(x, x.dtype, "the images")
        shape = x.type.shape[:3] + (
            x.type.shape[3] if x.type.shape[3] is not None else w.type.shape[1],
        )
        return Apply(self, [g, w, x], [TT.tensor(dtype=dtype, shape=shape)])

    def perform(self, node, inputs, output_storage):
        g, w, x = inputs
        output_storage[0][0] = self._np_grad_inputs(g, w, x.shape)

    def infer_shape(self, *args):
        node, shapes = node_and_shapes(args)
        return [shapes[2]]

    def connection_pattern(self, node):
        return [[True], [True], [False]]

    def pullback(self, inputs, outputs, cotangents):
        g, w, x = inputs
        (h,) = cotangents  # shaped like x
        forward, _, grad_weights = self._ops()
        # <gx(g, w), h> = <g, conv(h, w)>, and as a function of w, the
        # gradient of <g, conv(h, w)> is grad_weights(h, g).
        return [forward(h, w), grad_weights(h, g), disconnected_type()]

    def pushforward(self, inputs, outputs, tangents):
        g, w, x = inputs
        tg, tw, _ = tangents
        return bilinear_pushforward(self, g, w, tg, tw, rest=(x,))


class Conv2dGradWeights(_ConvOp):
    """``gw``, the gradient of ``sum(g * Conv2d(x, w))`` with respect to ``w``.

    Inputs ``x`` ``(N, W, H, C)`` and ``g`` ``(N, W', H', F)``; output
    ``(F, C, fw, fh)``.
    """

    def make_node(self, x, g):
        x, g = TT.as_tensor_variable(x), TT.as_tensor_variable(g)
        dtype = _float_dtype(x, g)
        x, g = _tensor4(x, dtype, "the images"), _tensor4(g, dtype, "the output gradient")
        shape = (g.type.shape[3], x.type.shape[3]) + self.filter_size
        return Apply(self, [x, g], [TT.tensor(dtype=dtype, shape=shape)])

    def perform(self, node, inputs, output_storage):
        x, g = inputs
        output_storage[0][0] = self._np_grad_weights(x, g)

    def infer_shape(self, *args):
        node, shapes = node_and_shapes(args)
        (_, _, _, c), (_, _, _, f) = shapes
        return [(f, c) + self.filter_size]

    def pullback(self, inputs, outputs, cotangents):
        x, g = inputs
        (h,) = cotangents  # shaped like w
        forward, grad_inputs, _ = self._ops()
        # <gw(x, g), h> = <g, conv(x, h)>: linear in x with adjoint
        # grad_inputs(g, h, x), and in g with adjoint conv(x, h).
        return [grad_inputs(g, h, x), forward(x, h)]

    def pushforward(self, inputs, outputs, tangents):
        return bilinear_pushforward(self, *inputs, *tangents)


def conv2d(x, w, filter_size, border_mode="valid", stride=(1, 1)):
    """Theano's ``conv2d`` (a true convolution: kernels flipped) on
    channels-last images.

    PyTensor has no batched multi-channel convolution: this is one node of
    :class:`Conv2d`, which has its own gradients and
    implementations for numpy, JAX and Numba.

    Parameters
    ----------
    x : symbolic 4-D tensor
        Images ``(examples, width, height, channels)``.
    w : symbolic 4-D tensor
        Kernels ``(filters, channels) + filter_size``, in Theano's layout.
    filter_size : (int, int)
        The kernels' spatial shape (known when the graph is built).
    border_mode : 'valid', 'full' or 'same'
        'valid': only where the kernel fits inside the image, size
        ``W - fw + 1``; 'full': everywhere the kernel overlaps the image
        (zero padded), size ``W + fw - 1``; 'same': size ``W``, the centre of
        the 'full' output as in ``scipy.signal.convolve(..., mode='same')``
        (see :func:`border_pads`: for even filters, the extra row/column of
        zeros goes before the image).
    stride : (int, int)
        Keep every ``stride``-th output along each axis, starting with the
        first (Theano's ``subsample``).

    Returns
    -------
    symbolic 4-D tensor ``(examples, width', height', filters)``.
    """
    return Conv2d(filter_size, border_pads(filter_size, border_mode), stride)(x, w)


# -- conversions for PyTensor's JAX and Numba linkers ---------------------------


def _register_jax():
    from pytensor.link.jax.dispatch import jax_funcify

    @jax_funcify.register(Conv2d)
    def _jax_conv2d(op, node=None, **kwargs):
        return op._jax_forward

    @jax_funcify.register(Conv2dGradInputs)
    def _jax_conv2d_grad_inputs(op, node=None, **kwargs):
        def grad_inputs(g, w, x):
            return op._jax_grad_inputs(g, w, x.shape, g.dtype)

        return grad_inputs

    @jax_funcify.register(Conv2dGradWeights)
    def _jax_conv2d_grad_weights(op, node=None, **kwargs):
        return op._jax_grad_weights


def _numba_kernels(op):
    """Numba functions ``(forward, grad_inputs, grad_weights)`` for the
    settings of ``op``: an im2col and one matrix product each.

    The columns ``(fw * fh * C, N * W' * H')`` hold one row per filter tap
    and channel: the padded images shifted by that tap, strided, one output
    position after the other (copied as runs along the height). With the
    kernel matrix ``(fw * fh * C, F)`` of the flipped kernels in the same
    order, the convolution is ``columns.T @ kernels``, its weight gradient
    ``columns @ g`` and its input gradient the rows of ``kernels @ g.T``
    added back under their taps.
    """
    from pytensor.link.numba.dispatch.basic import numba_njit

    fw, fh = op.filter_size
    (wb, wa), (hb, ha) = op.pads
    sw, sh = op.stride

    @numba_njit
    def out_size(width, height):
        ow = (width + wb + wa - fw) // sw + 1
        oh = (height + hb + ha - fh) // sh + 1
        if ow < 1 or oh < 1:
            raise ValueError("convolution: images smaller than the filter")
        return ow, oh

    @numba_njit
    def im2col(x):
        n, width, height, c = x.shape
        ow, oh = out_size(width, height)
        padded = np.zeros((n, width + wb + wa, height + hb + ha, c), x.dtype)
        padded[:, wb : wb + width, hb : hb + height, :] = x
        cols = np.empty((fw * fh * c, n * ow * oh), x.dtype)
        for u in range(fw):
            for v in range(fh):
                for k in range(c):
                    row = cols[(u * fh + v) * c + k]
                    for i in range(n):
                        for p in range(ow):
                            base = (i * ow + p) * oh
                            source = padded[i, p * sw + u]
                            for q in range(oh):
                                row[base + q] = source[q * sh + v, k]
        return cols, ow, oh

    @numba_njit
    def kernel_matrix(w, c):
        f = w.shape[0]
        if w.shape[1] != c or w.shape[2] != fw or w.shape[3] != fh:
            raise ValueError(
                "convolution: kernels do not match the filter size or the input channels"
            )
        mat = np.empty((fw * fh * c, f), w.dtype)
        for u in range(fw):
            for v in range(fh):
                for k in range(c):
                    for j in range(f):
                        mat[(u * fh + v) * c + k, j] = w[j, k, fw - 1 - u, fh - 1 - v]
        return mat

    @numba_njit
    def forward(x, w):
        cols, ow, oh = im2col(x)
        out = np.dot(cols.T, kernel_matrix(w, x.shape[3]))
        return out.reshape((x.shape[0], ow, oh, w.shape[0]))

    @numba_njit
    def grad_weights(x, g):
        cols, ow, oh = im2col(x)
        n, c, f = x.shape[0], x.shape[3], g.shape[3]
        mat = np.dot(cols, np.ascontiguousarray(g).reshape((n * ow * oh, f)))
        w = np.empty((f, c, fw, fh), mat.dtype)
        for u in range(fw):
            for v in range(fh):
                for k in range(c):
                    for j in range(f):
                        w[j, k, fw - 1 - u, fh - 1 - v] = mat[(u * fh + v) * c + k, j]
        return w

    @numba_njit
    def grad_inputs(g, w, x):
        n, width, height, c = x.shape
        ow, oh = out_size(width, height)
        f = g.shape[3]
        g2 = np.ascontiguousarray(g).reshape((n * ow * oh, f))
        cols = np.dot(kernel_matrix(w, c), g2.T)
        padded = np.zeros((n, width + wb + wa, height + hb + ha, c), cols.dtype)
        for u in range(fw):
            for v in range(fh):
                for k in range(c):
                    row = cols[(u * fh + v) * c + k]
                    for i in range(n):
                        for p in range(ow):
                            base = (i * ow + p) * oh
                            target = padded[i, p * sw + u]
                            for q in range(oh):
                                target[q * sh + v, k] += row[base + q]
        return np.ascontiguousarray(padded[:, wb : wb + width, hb : hb + height, :])

    return forward, grad_inputs, grad_weights


def _register_numba():
    from ._dispatch import numba_register

    @numba_register(Conv2d, NUMBA_VERSION)
    def _numba_conv2d(op, node=None, **kwargs):
        return _numba_kernels(op)[0]

    @numba_register(Conv2dGradInputs, NUMBA_VERSION)
    def _numba_conv2d_grad_inputs(op, node=None, **kwargs):
        return _numba_kernels(op)[1]

    @numba_register(Conv2dGradWeights, NUMBA_VERSION)
    def _numba_conv2d_grad_weights(op, node=None, **kwargs):
        return _numba_kernels(op)[2]


after_import("pytensor.link.jax.dispatch", _register_jax)
after_import("pytensor.link.numba.dispatch", _register_numba)
