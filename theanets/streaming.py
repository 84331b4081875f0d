"""Data larger than memory: file-backed arrays, iterables of batches, prediction in batches.

Three ways for data that does not fit in memory to reach a model:

- a :class:`numpy.memmap` (or a view of one) given to ``train``, ``predict``
  or ``score`` is checked a chunk of rows at a time and read one mini-batch at
  a time; the pages of each chunk or batch are handed back to the operating
  system once copied (``madvise(MADV_DONTNEED)`` where the platform has it),
  so that the process's resident memory stays near one batch, not the file;
- an iterable of batches (a generator, or any object with ``__iter__`` that
  is not a list or tuple, which already mean "a list of arrays") is drawn
  from as the original's callable datasets are: each call takes the next
  batch, a re-iterable starts a new pass when one ends;
- ``feed_forward``/``predict`` with ``batch_size=`` compute their outputs a
  slice of rows at a time into one preallocated result.
"""

from __future__ import annotations

import mmap
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from . import util

__all__ = [
    "CHUNK_BYTES",
    "CastArray",
    "IterableBatches",
    "in_batches",
    "is_file_backed",
    "is_streamed",
    "read",
    "row_chunks",
]

#: About how many bytes of a file-backed array are read into memory at once
#: while it is checked (the data's rows are checked a chunk at a time).
CHUNK_BYTES = 8 << 20


def _mmap_of(x: Any) -> tuple[np.memmap, mmap.mmap] | None:
    """The memmap that ``x`` views and its mmap, or None if ``x`` is in memory."""
    while isinstance(x, np.ndarray):
        mm = getattr(x, "_mmap", None)  # numpy's own attribute: the map it reads
        if isinstance(x, np.memmap) and isinstance(mm, mmap.mmap):
            return x, mm
        x = x.base
    return None


def is_file_backed(x: Any) -> bool:
    """True for a :class:`numpy.memmap` or any view of one.

    >>> import numpy as np, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), 'x.dat')
    >>> x = np.memmap(path, dtype='float32', mode='w+', shape=(4, 2))
    >>> is_file_backed(x), is_file_backed(x[1:]), is_file_backed(np.ones(3))
    (True, True, False)
    """
    return _mmap_of(x) is not None


def is_streamed(x: Any) -> bool:
    """True for data read a batch at a time: file-backed arrays and :class:`CastArray`."""
    return isinstance(x, CastArray) or is_file_backed(x)


def release(x: Any) -> None:
    """Hand the pages under ``x`` back to the operating system (its file keeps the data).

    Only for read-only and shared mappings (``mode='r'``, ``'r+'``,
    ``'w+'``): a copy-on-write map (``mode='c'``) holds its changes in
    those pages, which releasing would lose, so it is left alone. A no-op
    where the platform has no ``madvise``.
    """
    found = _mmap_of(x)
    if found is None or not hasattr(mmap, "MADV_DONTNEED") or x.size == 0:
        return
    owner, mm = found
    if owner.mode == "c" or mm.closed:
        return
    base = np.frombuffer(mm, dtype=np.uint8).__array_interface__["data"][0]
    low, high = np.lib.array_utils.byte_bounds(np.asarray(x))
    page = mmap.PAGESIZE
    start = (low - base) // page * page
    stop = min(len(mm), -(-(high - base) // page) * page)
    if stop > start:
        mm.madvise(mmap.MADV_DONTNEED, start, stop - start)


def read(x: Any, index: Any, dtype: Any = None) -> np.ndarray:
    """``x[index]`` copied into memory (as ``dtype``), its file pages released."""
    if isinstance(x, CastArray):
        return x[index]
    part = x[index]
    out = np.array(part, dtype=dtype, copy=True)
    release(part)
    return out


def row_chunks(x: Any) -> Iterator[slice]:
    """Slices of rows (axis 0) of ``x``, each about :data:`CHUNK_BYTES` in size."""
    row_bytes = max(1, int(np.prod(x.shape[1:], dtype=np.int64)) * np.dtype(x.dtype).itemsize)
    rows = max(1, CHUNK_BYTES // row_bytes)
    for start in range(0, x.shape[0], rows):
        yield slice(start, min(start + rows, x.shape[0]))


class CastArray:
    """A file-backed array whose slices are cast to ``dtype`` when read.

    What :func:`theanets.checks.prepare` returns for a memmap whose dtype is
    not the model's (float64 data for a float32 model): casting the whole
    array would copy it into memory, so each mini-batch is cast as it is
    read instead.

    Parameters
    ----------
    data : numpy.memmap
        The file-backed array.
    dtype : numpy dtype or str
        The dtype of every slice read from it.
    """

    def __init__(self, data: np.ndarray, dtype: Any) -> None:
        self.data = data
        self.dtype = np.dtype(dtype)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: Any) -> np.ndarray:
        return read(self.data, index, self.dtype)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        # Whole-array use (a user's own numpy call) reads everything: allowed,
        # as for the memmap itself, but nothing in theanets does it.
        return np.asarray(self.data, dtype=dtype or self.dtype)

    def __repr__(self) -> str:
        return "CastArray({} of {}, read as {})".format(
            "x".join(map(str, self.shape)), self.data.dtype, self.dtype
        )


def is_batch_iterable(data: Any) -> bool:
    """True for an iterable of batches: iterable, not an array, list, tuple, str or dict."""
    if isinstance(data, (list, tuple, str, bytes, dict, np.ndarray)) or callable(data):
        return False
    if hasattr(data, "shape") or hasattr(data, "to_numpy"):  # sparse, pandas, shared
        return False
    return isinstance(data, Iterable)


class IterableBatches:
    """An iterable of batches as a callable dataset: each call returns the next batch.

    A re-iterable (``iter(data)`` returns a new iterator each time, as a
    class with ``__iter__`` or a ``torch.utils.data.DataLoader`` does) starts
    a new pass when one ends, as the batches of an array wrap around. A
    one-pass iterator (a generator) that runs out is a
    :class:`~theanets.util.DataError` saying how many batches it gave: ask
    for fewer (``max_updates``, ``train_batches``) or pass a re-iterable.

    Parameters
    ----------
    data : iterable
        Yields batches: a list of arrays each (or one array).

    Examples
    --------
    >>> batches = IterableBatches(range(3))
    >>> [batches() for _ in range(5)]
    [0, 1, 2, 0, 1]
    >>> len(batches)
    3
    """

    def __init__(self, data: Iterable) -> None:
        self.data: Any = data
        self.__name__ = type(data).__name__
        self._iterator: Iterator | None = None
        self._reiterable = iter(data) is not data
        self._given = 0

    def __call__(self) -> Any:
        if self._iterator is None:
            self._iterator = iter(self.data)
        try:
            batch = next(self._iterator)
        except StopIteration:
            if not self._reiterable or self._given == 0:
                raise util.DataError(
                    "the {} of batches ran out after {} batch(es); give it more, "
                    "train for fewer updates (max_updates=, train_batches=), or "
                    "pass a re-iterable (an object whose __iter__ starts a new "
                    "pass) or a callable".format(
                        "iterator" if not self._reiterable else "iterable", self._given
                    )
                ) from None
            self._iterator = iter(self.data)
            self._given = 0
            return self()
        self._given += 1
        return batch

    def __len__(self) -> int:
        return len(self.data)  # a TypeError if it has none: Dataset then takes 100


def in_batches(
    compute: Callable[[Any], dict[str, np.ndarray]], x: Any, batch_size: int, what: str
) -> dict[str, np.ndarray]:
    """Apply ``compute`` to ``x`` a slice of ``batch_size`` rows at a time.

    Parameters
    ----------
    compute : callable
        Maps an array of rows to a dict of output arrays (examples along
        axis 0), as :meth:`theanets.graph.Network.feed_forward` does.
    x : array
        The input, examples along axis 0; a file-backed array is read one
        slice at a time.
    batch_size : int
        Rows per call (a positive int, checked by the caller).
    what : str
        The caller, for messages.

    Returns
    -------
    dict mapping each output name to one array holding all rows, as one
    call of ``compute`` on all of ``x`` would.
    """
    n = x.shape[0]
    outputs: dict[str, np.ndarray] = {}
    for start in range(0, n, batch_size):
        part = slice(start, min(start + batch_size, n))
        rows = read(x, part) if is_streamed(x) else x[part]
        for name, value in compute(rows).items():
            if name not in outputs:
                outputs[name] = np.empty((n,) + value.shape[1:], dtype=value.dtype)
            outputs[name][part] = value
    return outputs
