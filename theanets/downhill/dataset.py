"""Mini-batch datasets for the optimizers."""

import logging
import sys

import numpy as np
import scipy.sparse
from pytensor.compile.sharedvalue import SharedVariable

from .. import streaming, util
from ..checks import is_count
from .hypers import option

__all__ = ["Dataset"]

_logger = logging.getLogger(__name__)

_SUPPORTED = (
    "a numpy array, a scipy.sparse csr/csc matrix, a pandas "
    "Series/DataFrame or a pytensor shared variable"
)


def _is_pandas(x):
    """True if ``x`` is a pandas Series or DataFrame.

    pandas is optional: if it was never imported, ``x`` cannot be one.
    """
    pd = sys.modules.get("pandas")
    return pd is not None and isinstance(x, (pd.Series, pd.DataFrame))


def _is_sparse(x):
    return scipy.sparse.issparse(x) and x.format in ("csr", "csc")


def _is_array(x):
    return (
        isinstance(x, (np.ndarray, SharedVariable, streaming.CastArray))
        or _is_sparse(x)
        or _is_pandas(x)
    )


def _take(x, part, axis):
    """Slice ``x`` with the slice ``part`` along ``axis``."""
    if _is_pandas(x):
        return x.iloc[part] if axis == 0 else x.iloc[:, part]
    index = tuple([slice(None)] * axis + [part])
    if streaming.is_streamed(x):  # read into memory now, the file's pages let go
        return streaming.read(x, index)
    return x[index]


class Dataset:
    """Mini-batches of arrays, or of whatever a callable returns.

    Array data is cut into contiguous mini-batches along ``axis``; the order
    of the *batches* (never of the samples within them) is shuffled at
    construction and again every time the cursor wraps around. Each
    iteration yields exactly ``iteration_size`` batches, continuing from
    where the previous iteration stopped.

    Parameters
    ----------
    inputs : array, sequence of arrays, or callable
        Arrays (numpy, scipy.sparse csr/csc, pandas Series/DataFrame, or
        pytensor shared variables; a :class:`numpy.memmap` is read one
        mini-batch at a time, see :mod:`theanets.streaming`), all of the
        same length along ``axis``,
        in the order of the optimizer's inputs; a single array is wrapped in
        a list. Or a zero-argument callable returning one mini-batch (a list
        of arrays) per call.
    name : str, optional
        Used in log and error messages; default ``'dataset<N>'``.
    batch_size : int, optional
        Samples per mini-batch (default 32; the last one may be short);
        ``<= 0`` makes one batch of everything. Unused for callables.
    iteration_size : int, optional
        Batches per iteration. Default: the number of batches (one pass), or
        for a callable ``len(inputs)`` if defined, else 100.
    axis : int, optional
        The axis along which samples lie (default 0). Unused for callables.
    rng : None, int or numpy.random.RandomState, optional
        Shuffles the batch order; None or an int seeds a new RandomState.

    Raises
    ------
    theanets.util.DataError
        (a ValueError) for unsupported types, empty arrays or arrays of
        different lengths.
    theanets.util.ConfigurationError
        For a ``batch_size``, ``iteration_size`` or ``axis`` of the wrong
        type or range.

    Examples
    --------
    >>> import numpy as np
    >>> from theanets.downhill import Dataset
    >>> x = np.arange(10).reshape((5, 2))
    >>> ds = Dataset(x, batch_size=2, rng=3)
    >>> [len(b[0]) for b in ds]
    [2, 2, 1]
    >>> ds.iteration_size
    3
    """

    _count = 0

    def __init__(self, inputs, name=None, batch_size=32, iteration_size=None, axis=0, rng=None):
        if name is None:
            name = "dataset{}".format(Dataset._count)
            Dataset._count += 1
        self.name = name
        self.batch_size = option("batch_size").check(batch_size)
        self.iteration_size = option("iteration_size").check(iteration_size)
        self.axis = option("axis").check(axis)
        if rng is None or is_count(rng):
            rng = np.random.RandomState(rng)
        self.rng = rng
        self._callable = None
        self._inputs = []
        self._axes = []
        self._batches = []
        self._index = 0
        if callable(inputs) and not _is_array(inputs):
            self._init_callable(inputs)
        else:
            self._init_arrays(inputs)

    def _error(self, message, *args):
        return util.DataError('dataset "{}": {}'.format(self.name, message.format(*args)))

    def _init_callable(self, inputs):
        self._callable = inputs
        if self.iteration_size is None:
            try:
                self.iteration_size = len(inputs)
            except TypeError:
                self.iteration_size = 100
        _logger.info(
            "%s: %d mini-batches from callable %s",
            self.name,
            self.iteration_size,
            getattr(inputs, "__name__", inputs),
        )

    def _init_arrays(self, inputs):
        if _is_array(inputs):
            inputs = [inputs]
        if not isinstance(inputs, (list, tuple)):
            raise self._error(
                "inputs is a {}; expected {}, a list or tuple of those, or a callable",
                type(inputs).__name__,
                _SUPPORTED,
            )
        if not inputs:
            raise self._error("no arrays given; expected a list of arrays")
        length = None
        for i, x in enumerate(inputs):
            if isinstance(x, SharedVariable):
                x = x.get_value(borrow=True)
            if not _is_array(x):
                raise self._error("array {} is a {}; expected {}", i, type(x).__name__, _SUPPORTED)
            ndim = len(x.shape)
            if not -ndim <= self.axis < ndim:
                raise self._error(
                    "array {} has shape {}, which has no axis {}", i, x.shape, self.axis
                )
            axis = self.axis % ndim
            if x.shape[axis] == 0:
                raise self._error(
                    "array {} (shape {}) is empty along axis {}", i, x.shape, self.axis
                )
            if length is None:
                length = x.shape[axis]
            elif x.shape[axis] != length:
                raise self._error(
                    "array {} has {} samples along axis {} (shape {}), but "
                    "array 0 has {}; expected {}",
                    i,
                    x.shape[axis],
                    self.axis,
                    x.shape,
                    length,
                    length,
                )
            self._inputs.append(x)
            self._axes.append(axis)
        size = self.batch_size if self.batch_size > 0 else length
        self._batches = [
            slice(start, min(start + size, length)) for start in range(0, length, size)
        ]
        if self.iteration_size is None:
            self.iteration_size = len(self._batches)
        self.shuffle()
        _logger.info(
            "%s: %d of %d mini-batches from %s",
            self.name,
            self.iteration_size,
            len(self._batches),
            ", ".join(str(tuple(x.shape)) for x in self._inputs),
        )

    def shuffle(self):
        """Shuffle the order of the mini-batches (not the samples)."""
        self.rng.shuffle(self._batches)

    def __iter__(self):
        return self.iterate(shuffle=True)

    def iterate(self, shuffle=True):
        """Yield ``iteration_size`` mini-batches, continuing from the cursor.

        Parameters
        ----------
        shuffle : bool, optional
            Reshuffle the batch order whenever the cursor wraps around
            (default True).

        Yields
        ------
        list
            One slice of each array (or one call of the callable).
        """
        for _ in range(self.iteration_size):
            if self._callable is not None:
                yield self._call()
            else:
                yield self._next_batch(shuffle)

    def _call(self):
        batch = self._callable()
        if _is_array(batch):
            batch = [batch]
        return list(batch)

    def _next_batch(self, shuffle):
        part = self._batches[self._index]
        self._index += 1
        if self._index >= len(self._batches):
            self._index = 0
            if shuffle:
                self.shuffle()
        return [_take(x, part, axis) for x, axis in zip(self._inputs, self._axes, strict=True)]
