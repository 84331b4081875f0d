'''The few places where PyTensor differs from Theano, behind small helpers.

No other module of theanets needs to know where PyTensor keeps sigmoid,
softplus, sparse products or random streams.
'''

import pytensor
import pytensor.sparse
import pytensor.tensor as TT
from pytensor.tensor.math import sigmoid, softplus  # noqa: F401 (re-exported)
from pytensor.tensor.random import shared_rng

__all__ = ['sigmoid', 'softplus', 'RandomSource', 'random_source', 'is_sparse', 'dot',
           'sparse_input', 'SparseVariable']

from pytensor.sparse.variable import SparseVariable  # noqa: E402


class RandomSource:
    """A seeded source of symbolic random draws (Theano's MRG_RandomStreams).

    The generator's state lives in a shared variable. Each draw threads the
    state on; :meth:`updates` gives the update pair that a compiled function
    must apply so that every call draws anew.

    Parameters
    ----------
    seed : int or None
        Seed of the generator.
    """

    def __init__(self, seed=None):
        self.shared = shared_rng(seed=seed)
        self._state = self.shared

    def normal(self, loc, scale, size):
        """A symbolic array of normal draws (float64; cast as needed)."""
        self._state, value = self._state.normal(loc, scale, size=size)
        return value

    def binomial(self, n, p, size):
        """A symbolic array of binomial draws (int64)."""
        self._state, value = self._state.binomial(n, p, size=size)
        return value

    def updates(self):
        """The ``(shared state, new state)`` pair to apply, if any draw was made."""
        if self._state is self.shared:
            return []
        return [(self.shared, self._state)]


def random_source(seed):
    """A :class:`RandomSource` for an int (or None) seed; a source is returned as is."""
    if seed is None or isinstance(seed, int):
        return RandomSource(seed)
    return seed


def is_sparse(var):
    '''True if the symbolic variable ``var`` holds a sparse matrix.'''
    return isinstance(var, SparseVariable)


def dot(x, w):
    '''``x . w`` for dense or sparse ``x`` (a structured product for sparse).'''
    if is_sparse(x):
        return pytensor.sparse.structured_dot(x, w)
    return TT.dot(x, w)


def sparse_input(fmt, name):
    '''A symbolic sparse matrix input of format ``'csr'`` or ``'csc'``.'''
    maker = {'csr': pytensor.sparse.csr_matrix, 'csc': pytensor.sparse.csc_matrix}[fmt]
    return maker(name, dtype=pytensor.config.floatX)
