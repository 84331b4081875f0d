"""The few places where PyTensor differs from Theano, behind small helpers.

No other module of theanets (the optimizers in :mod:`theanets.downhill`
included) needs to know where PyTensor keeps sigmoid, softplus, sparse
products, random streams, graph traversal and the R- and L-operators, or
how its ``scan`` returns updates (PyTensor has no batched convolution or
pooling: the native operations of :mod:`theanets.ops`, ``conv2d`` and
``pool``, stand in for Theano's). Where PyTensor versions differ (where
``ifelse`` lives, how ``infer_shape`` is called), :mod:`theanets._compat`
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
