"""Padding a prediction's input to one of a few sizes, so that a model
compiled for static shapes (JAX) compiles a bounded number of programs
whatever batch sizes and sequence lengths it is given.

Rows (axis 0) are padded with zeros up to the next power of two (at least
:data:`MIN_ROWS`; beyond :data:`STEP` rows, the next multiple of it), and
the outputs sliced back: every layer listed in :data:`ROW_WISE` computes
each example from that example alone, so the real rows' outputs are those
of the unpadded call. Sequence lengths (axis 1 of a recurrent model's
input) are padded likewise, at the end, if every layer computes each step
from the steps before it (recurrent layers running forwards, and layers
that work step by step): an output at step ``t`` depends on steps up to
``t`` only. With a bidirectional or backward-running layer too
(``'length'``): the compiled function then also takes the number of real
steps, and backward layers reverse those only, in place
(:func:`theanets.layers.recurrent.base.real_length`), so that the padding
stays after them. A model with another kind of layer keeps its lengths:
each new length compiles anew.

Examples
--------
>>> [bucket(n) for n in (1, 16, 17, 100, 1024, 1025)]
[16, 16, 32, 128, 1024, 2048]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._cache import NamedCache

__all__ = ["MIN_ROWS", "STEP", "bucket", "padding_of", "call_padded"]

MIN_ROWS = 16
STEP = 1024

# id(compiled function) -> (function, whether its padded outputs were found
# to be the unpadded ones); bounded (functions are not weakly referable)
_CHECKED = NamedCache("padding checks", size=256)


def _checked(fn: Any) -> bool | None:
    entry = _CHECKED.get(id(fn))
    return entry[1] if entry is not None and entry[0] is fn else None


def bucket(n: int) -> int:
    """The padded size for ``n`` rows or steps.

    Parameters
    ----------
    n : int
        The real size (at least 1).

    Returns
    -------
    int
        The next power of two at least ``n`` and :data:`MIN_ROWS`, up to
        :data:`STEP`; beyond it the next multiple of :data:`STEP`.
    """
    if n <= STEP:
        return max(MIN_ROWS, 1 << max(0, int(n) - 1).bit_length())
    return -(-int(n) // STEP) * STEP


def _kinds() -> tuple[tuple[type, ...], tuple[type, ...]]:
    from . import layers
    from .layers.recurrent import Bidirectional, Recurrent

    row_wise = (
        layers.Input,
        layers.Feedforward,
        layers.Tied,
        layers.Flatten,
        layers.Concatenate,
        layers.Product,
        Recurrent,
        Bidirectional,
    ) + tuple(
        getattr(layers, n) for n in ("Conv1", "Conv2", "Pool1", "Pool2") if hasattr(layers, n)
    )
    return row_wise, (layers.Input, layers.Feedforward, Recurrent, Bidirectional)


def padding_of(model: Any) -> tuple[bool, str | None]:
    """Whether ``model``'s rows may be padded, and how its sequences may be
    (``'end'``, ``'length'`` or None), as the module notes say."""
    from .layers.recurrent import Bidirectional, Recurrent

    row_wise, step_wise = _kinds()
    # the library's own layer classes (a user's subclass may mix examples)
    rows = all(
        isinstance(layer, row_wise) and type(layer).__module__.startswith("theanets.")
        for layer in model.layers
    )
    if not rows or getattr(model, "INPUT_NDIM", 2) != 3:
        return rows, None
    if not all(isinstance(layer, step_wise) for layer in model.layers):
        return rows, None
    recurrent = [layer for layer in model.layers if isinstance(layer, (Recurrent, Bidirectional))]
    if not recurrent:
        return rows, None
    # a bidirectional layer always has a backward worker
    backwards = any(isinstance(layer, Bidirectional) or layer._backwards for layer in recurrent)
    return rows, ("length" if backwards else "end")


def call_padded(
    fn: Any, x: np.ndarray, rows: bool, steps: str | None, ndims: list[int] | None = None
) -> list[np.ndarray]:
    """``fn(x)``, with ``x`` padded as allowed and the outputs sliced back.

    Parameters
    ----------
    fn : callable
        A compiled function of one input whose outputs of two or more
        dimensions have the examples along axis 0 (and those of three or
        more the steps along axis 1 if ``steps``).
    x : ndarray
        The input.
    rows : bool
        Whether to pad axis 0.
    steps : str or None
        ``'end'`` to pad axis 1 at its end; ``'length'`` likewise, ``fn``
        taking the number of real steps as its second argument; None to
        leave it.
    ndims : list of int, optional
        The number of dimensions of each output (default: taken from the
        outputs). Outputs of one dimension are not sliced (they are
        computed from parameters alone, as an SCRN layer's ``rate``), nor
        along the steps if they have fewer than three.

    Returns
    -------
    list of ndarray
        The outputs for the rows and steps of ``x``.
    """
    n = x.shape[0]
    t = x.shape[1] if steps else 0
    pad = [(0, 0)] * x.ndim
    if rows and n:
        pad[0] = (0, bucket(n) - n)
    if steps and t:
        pad[1] = (0, bucket(t) - t)
    if steps == "length":
        call = lambda a: fn(a, np.int64(t))  # noqa: E731
    else:
        call = fn
    if all(p == (0, 0) for p in pad) or _checked(fn) is False:
        return list(call(x))
    outputs = call(np.pad(x, pad))
    ndims = [np.ndim(o) for o in outputs] if ndims is None else ndims
    sliced = [
        o if d < 2 else o[:n, :t] if steps and t and d >= 3 else o[:n]
        for o, d in zip(outputs, ndims, strict=True)
    ]
    if _checked(fn) is None:
        # The first padded call is checked against an unpadded one: an
        # output whose axes are not (examples, steps, ...) -- as a layer's
        # time-major rates -- turns the padding off for this function.
        plain = list(call(x))
        same = all(
            a.shape == b.shape and np.allclose(a, b, rtol=1e-4, atol=1e-5, equal_nan=True)
            for a, b in zip(sliced, plain, strict=True)
        )
        _CHECKED.put(id(fn), (fn, same))
        if not same:
            return plain
    return sliced
