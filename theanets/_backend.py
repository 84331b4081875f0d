"""The few places where PyTensor differs from Theano, behind small helpers.

No other module of theanets (the optimizers in :mod:`theanets.downhill`
included) needs to know where PyTensor keeps sigmoid, softplus, sparse
products, random streams, graph traversal and the R- and L-operators, how
its ``scan`` returns updates, nor that it has no batched convolution or
pooling (``conv2d`` and ``pool`` stand in for Theano's). Where PyTensor
versions differ (only where ``ifelse`` lives), :mod:`theanets._compat`
settles the difference, once, at import.
"""

import numpy as np
import pytensor
import pytensor.gradient
import pytensor.sparse
import pytensor.tensor as TT
from pytensor.graph.traversal import graph_inputs
from pytensor.sparse.variable import SparseVariable
from pytensor.tensor.math import sigmoid, softplus
from pytensor.tensor.random import shared_rng
from pytensor.tensor.random.basic import BinomialRV, NormalRV

from .ops.conv import Conv2d, border_pads
from .ops.pool import Pool2d

__all__ = [
    "sigmoid",
    "softplus",
    "RandomSource",
    "random_source",
    "SourceNormal",
    "SourceBinomial",
    "is_sparse",
    "dot",
    "sparse_input",
    "SparseVariable",
    "conv2d",
    "pool",
    "scan",
    "graph_inputs",
    "jacobian_vector",
    "vector_jacobian",
]


class SourceNormal(NormalRV):
    """The normal draws of a :class:`RandomSource`: PyTensor's, under a type
    of their own, so that the JAX mode can give theanets' draws (noise) a
    faster generator (:mod:`theanets._jax.draws`) without changing anyone
    else's; every other mode draws exactly as PyTensor's ``normal``."""


class SourceBinomial(BinomialRV):
    """The binomial draws of a :class:`RandomSource` (dropout's masks); see
    :class:`SourceNormal`."""


_SOURCE_NORMAL = SourceNormal()
_SOURCE_BINOMIAL = SourceBinomial()


class RandomSource:
    """A seeded source of symbolic random draws (Theano's random streams).

    Each draw gets its own generator, held in a shared variable and seeded
    with the next child of ``numpy.random.SeedSequence(seed)``: the draws
    are those of PyTensor's ``RandomStream(seed)`` (which PyTensor now
    deprecates), but the generators' updates are returned explicitly by
    :meth:`updates` instead of relying on the deprecated ``default_update``.
    A compiled function must apply those updates to draw anew on each call.

    Parameters
    ----------
    seed : int or None
        Seed of the generators.

    Examples
    --------
    >>> import pytensor
    >>> source = RandomSource(5)
    >>> sample = source.normal(0, 1, (2,), dtype='float64')
    >>> f = pytensor.function([], sample, updates=source.updates())
    >>> bool((f() != f()).all())
    True
    """

    def __init__(self, seed=None):
        self.seeds = np.random.SeedSequence(seed)
        self._updates = []

    def _generator(self):
        generator = np.random.default_rng(self.seeds.spawn(1)[0])
        return shared_rng(generator, borrow=True)

    def normal(self, loc, scale, size, dtype=None):
        """A symbolic array of normal draws (float64 unless ``dtype`` is given)."""
        rng = self._generator()
        next_rng, value = _SOURCE_NORMAL(
            loc, scale, size=size, rng=rng, dtype=dtype, return_next_rng=True
        )
        self._updates.append((rng, next_rng))
        return value

    def binomial(self, n, p, size):
        """A symbolic array of binomial draws (int64)."""
        rng = self._generator()
        next_rng, value = _SOURCE_BINOMIAL(n, p, size=size, rng=rng, return_next_rng=True)
        self._updates.append((rng, next_rng))
        return value

    def updates(self):
        """The ``(generator, next generator)`` pair of every draw made so far."""
        return list(self._updates)


def random_source(seed):
    """A :class:`RandomSource` for an int (or None) seed; a source is returned as is."""
    if seed is None or isinstance(seed, (int, np.integer)):
        return RandomSource(seed)
    return seed


def jacobian_vector(f, wrt, v):
    """The R-operator ``J(f, wrt) v`` (``pushforward``, formerly ``Rop``)."""
    return pytensor.gradient.pushforward(f, wrt, v)


def vector_jacobian(f, wrt, v):
    """The L-operator ``v J(f, wrt)`` (``pullback``, formerly ``Lop``)."""
    return pytensor.gradient.pullback(f, wrt, v)


def is_sparse(var):
    """True if the symbolic variable ``var`` holds a sparse matrix."""
    return isinstance(var, SparseVariable)


def dot(x, w):
    """``x . w`` for dense or sparse ``x`` (a structured product for sparse)."""
    if is_sparse(x):
        return pytensor.sparse.structured_dot(x, w)
    return TT.dot(x, w)


def sparse_input(fmt, name):
    """A symbolic sparse matrix input of format ``'csr'`` or ``'csc'``."""
    maker = {"csr": pytensor.sparse.csr_matrix, "csc": pytensor.sparse.csc_matrix}[fmt]
    return maker(name, dtype=pytensor.config.floatX)


def same_padding(filter_size):
    """Zeros added ``(before, after)`` along an axis for ``border_mode='same'``.

    ``before = filter_size // 2`` and ``after = (filter_size - 1) // 2``: for
    an even filter the extra zero goes *before* the data (top/left). The
    outputs are then the centre of the 'full' convolution, starting at index
    ``(filter_size - 1) // 2``, exactly what ``scipy.signal.convolve``,
    ``scipy.signal.convolve2d`` and ``numpy.convolve`` return with
    ``mode='same'``.
    """
    return filter_size // 2, (filter_size - 1) // 2


def conv2d(x, w, filter_size, border_mode="valid", stride=(1, 1)):
    """Theano's ``conv2d`` (a true convolution: kernels flipped) on
    channels-last images.

    PyTensor has no batched multi-channel convolution: this is one node of
    :class:`theanets.ops.conv.Conv2d`, which has its own gradients and
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
        (see :func:`same_padding`: for even filters, the extra row/column of
        zeros goes before the image).
    stride : (int, int)
        Keep every ``stride``-th output along each axis, starting with the
        first (Theano's ``subsample``).

    Returns
    -------
    symbolic 4-D tensor ``(examples, width', height', filters)``.
    """
    return Conv2d(filter_size, border_pads(filter_size, border_mode), stride)(x, w)


def pool(x, pool_size, mode="max", stride=None):
    """Pooling over the axes after the batch axis.

    One node of :class:`theanets.ops.pool.Pool2d`, which has its own
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


def scan(fn, **kwargs):
    """``pytensor.scan`` returning ``(list of outputs, list of update pairs)``.

    Accepts ``pytensor.scan``'s keyword arguments; always returns a list of
    outputs, and the updates (empty unless a step function draws random
    numbers) as a list of pairs, on every supported PyTensor version.

    Under ``mode=FAST_COMPILE`` the step function is compiled in that mode
    too (PyTensor otherwise compiles it to C with full optimisation, which
    is slow to build, whatever the mode of the function holding the scan).
    """
    kwargs["return_list"] = True
    if kwargs.get("mode") is None and pytensor.config.mode == "FAST_COMPILE":
        kwargs["mode"] = "FAST_COMPILE"
    return pytensor.scan(fn, return_updates=False, **kwargs), []
