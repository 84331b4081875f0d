"""Sequence data helpers: random windows, contiguous streams, and text."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from .. import util
from .._typing import NDArray, Rng

__all__ = ["batches", "StreamBatches", "stream_batches", "Text"]


def batches(
    arrays: Sequence[Any], steps: int = 100, batch_size: int = 64, rng: Rng = None
) -> Callable[[], list[NDArray]]:
    """Make a callable that samples batches of sequences from long arrays.

    Parameters
    ----------
    arrays : list of ndarray
        Arrays of shape ``(time, features)`` with the same length.
    steps : int
        Length of each sampled sequence.
    batch_size : int
        Sequences per batch (1 works: the original needed at least 2).
    rng : None, int or RandomState
        Source of the random offsets.

    Returns
    -------
    A zero-argument callable returning one ``(batch_size, steps, features)``
    array per input array; each example starts at one random offset shared
    across the arrays.

    Examples
    --------
    >>> x = np.arange(40, dtype='float32').reshape(20, 2)
    >>> sample = batches([x], steps=5, batch_size=3, rng=0)
    >>> [a.shape for a in sample()]
    [(3, 5, 2)]
    """
    if not isinstance(arrays, (list, tuple)) or not arrays:
        raise util.DataError(
            "batches: arrays must be a non-empty list of arrays, not {}".format(
                repr(arrays) if isinstance(arrays, (list, tuple)) else type(arrays).__name__
            )
        )
    if (
        not isinstance(batch_size, (int, np.integer))
        or isinstance(batch_size, bool)
        or batch_size < 1
    ):
        raise util.ConfigurationError(
            "batches: batch_size must be a positive whole number, not {!r}".format(batch_size)
        )
    if not isinstance(steps, (int, np.integer)) or steps < 1:
        raise util.ConfigurationError(
            "batches: steps must be a positive whole number, not {!r}".format(steps)
        )
    for i, a in enumerate(arrays):
        if np.ndim(a) != 2:
            raise util.DataError(
                "batches: array {} must be 2-D (time, features), but has shape {}".format(
                    i, np.shape(a)
                )
            )
    lengths = [len(a) for a in arrays]
    if len(set(lengths)) > 1:
        raise util.DataError(
            "batches: arrays must have the same number of time steps, but have {}".format(lengths)
        )
    if len(arrays[0]) <= steps:
        raise util.DataError(
            "batches: arrays have {} time steps, fewer than steps={} + 1".format(
                len(arrays[0]), steps
            )
        )
    if rng is None or isinstance(rng, int):
        rng = np.random.RandomState(rng)

    def sample():
        xs = [np.zeros((batch_size, steps, a.shape[1]), a.dtype) for a in arrays]
        for i in range(batch_size):
            offset = rng.randint(len(arrays[0]) - steps)
            for x, a in zip(xs, arrays, strict=True):
                x[i] = a[offset : offset + steps]
        return xs

    return sample


class StreamBatches:
    """Contiguous mini-batches of long sequences, for training with carried state.

    Made by :func:`stream_batches` (see there). Each call returns the next
    mini-batch: one array per variable, ``(streams, steps, ...)``; batch
    ``i`` of every stream continues batch ``i - 1``. After the last batch
    of a pass the next call starts again from the beginning.

    Attributes
    ----------
    position : int
        Index of the batch the next call returns.
    """

    def __init__(
        self,
        arrays: Sequence[NDArray],
        steps: int,
        finish: Callable[[list[NDArray]], list[NDArray]] | None = None,
    ) -> None:
        self.arrays = arrays
        self.steps = steps
        self.finish = finish
        self.position = 0

    def __len__(self) -> int:
        """Batches in one pass (the last may be shorter than ``steps``)."""
        return -(-self.arrays[0].shape[1] // self.steps)

    @property
    def streams(self) -> int:
        """The number of streams (the batch size)."""
        return self.arrays[0].shape[0]

    def batch(self, index: int) -> list[NDArray]:
        """Batch ``index`` of a pass, without moving :attr:`position`."""
        lo, hi = index * self.steps, (index + 1) * self.steps
        parts = [np.ascontiguousarray(a[:, lo:hi]) for a in self.arrays]
        return self.finish(parts) if self.finish is not None else parts

    def __call__(self) -> list[NDArray]:
        batch = self.batch(self.position)
        self.position = (self.position + 1) % len(self)
        return batch

    def __iter__(self) -> Iterator[list[NDArray]]:
        """The batches of one pass, in order (:attr:`position` does not move)."""
        return (self.batch(i) for i in range(len(self)))

    def copy(self) -> StreamBatches:
        """The same batches with a cursor of their own, at the start."""
        return StreamBatches(self.arrays, self.steps, self.finish)


def stream_batches(arrays: Sequence[Any], steps: int, streams: int | None = None) -> StreamBatches:
    """Cut long sequences into contiguous mini-batches for carried-state training.

    Parameters
    ----------
    arrays : list of ndarray
        One array per model variable (``[inputs, targets]``,
        ``[inputs, labels]``, ...). With ``streams`` given, each holds one
        long sequence, time first (``(time, features)``, or ``(time,)`` for
        labels), which is cut into ``streams`` parallel streams of equal
        length (a remainder at the end is dropped). Without ``streams``, each
        already holds the streams: ``(streams, time, ...)``.
    steps : int
        Time steps per mini-batch (the truncation length of back-propagation
        through time); the last batch of a pass may be shorter.
    streams : int, optional
        Cut one long sequence into this many streams (the batch size; 1 is
        fine).

    Returns
    -------
    StreamBatches
        A callable giving the batches in order, with ``len()`` the batches
        per pass: pass it to ``train(..., carry_state=True)``.

    Examples
    --------
    >>> x = np.arange(24, dtype='float32').reshape(12, 2)
    >>> feed = stream_batches([x], steps=4, streams=2)
    >>> len(feed), feed.streams
    (2, 2)
    >>> first, = feed()
    >>> second, = feed()
    >>> first[:, :, 0].tolist(), second[:, :, 0].tolist()
    ([[0.0, 2.0, 4.0, 6.0], [12.0, 14.0, 16.0, 18.0]], [[8.0, 10.0], [20.0, 22.0]])
    """
    if not isinstance(arrays, (list, tuple)) or not arrays:
        raise util.DataError(
            "stream_batches: arrays must be a non-empty list of arrays, not {}".format(
                repr(arrays) if isinstance(arrays, (list, tuple)) else type(arrays).__name__
            )
        )
    if not isinstance(steps, (int, np.integer)) or isinstance(steps, bool) or steps < 1:
        raise util.ConfigurationError(
            "stream_batches: steps must be a positive whole number, not {!r}".format(steps)
        )
    arrays = [np.asarray(a) for a in arrays]
    if streams is not None:
        if not isinstance(streams, (int, np.integer)) or isinstance(streams, bool) or streams < 1:
            raise util.ConfigurationError(
                "stream_batches: streams must be a positive whole number, not {!r}".format(streams)
            )
        lengths = [len(a) if a.ndim else 0 for a in arrays]
        if len(set(lengths)) > 1:
            raise util.DataError(
                "stream_batches: arrays must have the same number of time "
                "steps, but have {}".format(lengths)
            )
        each = lengths[0] // streams
        if each < 1:
            raise util.DataError(
                "stream_batches: {} time steps cannot make {} streams".format(lengths[0], streams)
            )
        arrays = [a[: each * streams].reshape((streams, each) + a.shape[1:]) for a in arrays]
    shapes = [a.shape[:2] if a.ndim >= 2 else a.shape for a in arrays]
    if any(a.ndim < 2 for a in arrays) or len(set(shapes)) > 1:
        raise util.DataError(
            "stream_batches: without streams=, each array must hold "
            "(streams, time, ...) with the same streams and time, but the "
            "shapes are {}".format([a.shape for a in arrays])
        )
    return StreamBatches(arrays, int(steps))


class Text:
    """A body of text, encoded as integer character codes.

    Parameters
    ----------
    text : str
        The text.
    alpha : str, optional
        The alphabet; by default the sorted characters occurring at least
        ``min_count`` times.
    min_count : int
        Minimum count of a character to be in the default alphabet.
    unknown : str
        Stands in for characters outside the alphabet (code 0).

    Examples
    --------
    >>> t = Text('hello world hello')
    >>> t.alpha
    ' ehlo'
    >>> t.encode('hole')
    [3, 5, 4, 2]
    >>> t.decode(t.encode('hole'))
    'hole'
    """

    def __init__(
        self, text: str, alpha: str | None = None, min_count: int = 2, unknown: str = "\0"
    ) -> None:
        self.unknown = unknown
        if alpha is None:
            counts: dict[str, int] = {}
            for c in text:
                counts[c] = counts.get(c, 0) + 1
            alpha = "".join(sorted(c for c, n in counts.items() if n >= min_count and c != unknown))
        self.alpha: str = alpha
        self._rev_index = unknown + self.alpha
        self._fwd_index = {c: i for i, c in enumerate(self._rev_index)}
        self.text = "".join(c if c in self._fwd_index else unknown for c in text)

    def encode(self, txt: str) -> list[int]:
        """The list of codes of the characters of ``txt`` (unknown -> 0)."""
        return [self._fwd_index.get(c, 0) for c in txt]

    def decode(self, enc: Sequence[int]) -> str:
        """The string for a list of codes."""
        return "".join(self._rev_index[c] for c in enc)

    def classifier_streams(self, steps: int, streams: int) -> StreamBatches:
        """Contiguous ``[one-hot inputs, next-character labels]`` batches.

        The text is cut into ``streams`` parallel streams; batch ``i`` of
        each continues batch ``i - 1`` (see :func:`stream_batches`): the
        data for training with ``carry_state=True``. Inputs are float32
        ``(streams, steps, 1 + len(alpha))``, labels int32 ``(streams,
        steps)``.

        Examples
        --------
        >>> feed = Text('abcabcabcabc').classifier_streams(steps=3, streams=2)
        >>> inputs, labels = feed()
        >>> inputs.shape, labels.tolist()
        ((2, 3, 4), [[2, 3, 1], [1, 2, 3]])
        """
        codes = np.array(self.encode(self.text), "int32")
        if len(codes) < 2:
            raise util.DataError(
                "Text.classifier_streams: the text has {} characters; at least 2 are needed".format(
                    len(codes)
                )
            )
        width = 1 + len(self.alpha)
        feed = stream_batches([codes[:-1], codes[1:]], steps, streams=streams)

        def finish(parts):
            return [np.eye(width, dtype="float32")[parts[0]], parts[1]]

        feed.finish = finish
        return feed

    def one_hot(self, codes: Sequence[int] | NDArray) -> NDArray:
        """One-hot float32 rows ``(len(codes), 1 + len(alpha))`` for a list of codes."""
        return np.eye(1 + len(self.alpha), dtype="float32")[np.asarray(codes, "int64")]

    def classifier_batches(
        self, steps: int, batch_size: int, rng: Rng = None
    ) -> Callable[[], list[NDArray]]:
        """A callable giving ``[one-hot inputs, next-character labels]`` batches.

        Inputs are float32 ``(batch_size, steps, 1 + len(alpha))``; labels
        are int32 ``(batch_size, steps)``, each the code of the next character.
        """
        if not isinstance(steps, (int, np.integer)) or steps < 1:
            raise util.ConfigurationError(
                "Text.classifier_batches: steps must be a positive whole number, not {!r}".format(
                    steps
                )
            )
        if len(self.text) <= steps + 1:
            raise util.DataError(
                "Text.classifier_batches: the text has {} characters; "
                "steps={} needs at least {}".format(len(self.text), steps, steps + 2)
            )
        if rng is None or isinstance(rng, int):
            rng = np.random.RandomState(rng)
        codes = np.array(self.encode(self.text), "int32")
        width = 1 + len(self.alpha)

        def sample():
            inputs = np.zeros((batch_size, steps, width), "float32")
            outputs = np.zeros((batch_size, steps), "int32")
            for b in range(batch_size):
                offset = rng.randint(len(codes) - steps - 1)
                window = codes[offset : offset + steps + 1]
                inputs[b, np.arange(steps), window[:-1]] = 1
                outputs[b] = window[1:]
            return [inputs, outputs]

        return sample
