"""The fused LSTM as XLA foreign functions: the kernels on XLA's own buffers.

On the CPU the JAX mode runs :class:`~theanets.ops.lstm.LSTMSequence` and its
gradient as two XLA custom calls whose handlers (C functions compiled by
Numba, reading XLA's call frames) call the kernels of
:mod:`theanets.ops.lstm_kernels` on the operands' and results' buffers in
place: no host callback, no copies of the sequences,
no Python between XLA's operations. The recurrence runs on the calling
thread; the products over all steps are BLAS's, on its threads.

The handlers are compiled (for float32 and float64) and registered with
XLA the first time a graph needs them (:func:`targets`); where XLA refuses
them, or its FFI layout is not the one read here, :func:`targets` is None
and the host callback serves (``THEANETS_JAX_RECURRENCE=callback`` asks for
it too).
"""

from __future__ import annotations

import threading

import numba
import numpy as np
from numba import carray, types

from . import _ffi
from .lstm_kernels import _JIT, backward_in_place, forward_in_place

__all__ = ["targets"]


# Views of XLA's buffers, one set per dtype (the dtype of a carray is a
# compile-time constant).


@numba.njit(inline="always")
def _vector32(buffers, i):
    return carray(_ffi.data(buffers, i), (_ffi.dim(buffers, i, 0),), np.float32)


@numba.njit(inline="always")
def _matrix32(buffers, i):
    shape = (_ffi.dim(buffers, i, 0), _ffi.dim(buffers, i, 1))
    return carray(_ffi.data(buffers, i), shape, np.float32)


@numba.njit(inline="always")
def _tensor32(buffers, i):
    shape = (_ffi.dim(buffers, i, 0), _ffi.dim(buffers, i, 1), _ffi.dim(buffers, i, 2))
    return carray(_ffi.data(buffers, i), shape, np.float32)


@numba.njit(inline="always")
def _vector64(buffers, i):
    return carray(_ffi.data(buffers, i), (_ffi.dim(buffers, i, 0),), np.float64)


@numba.njit(inline="always")
def _matrix64(buffers, i):
    shape = (_ffi.dim(buffers, i, 0), _ffi.dim(buffers, i, 1))
    return carray(_ffi.data(buffers, i), shape, np.float64)


@numba.njit(inline="always")
def _tensor64(buffers, i):
    shape = (_ffi.dim(buffers, i, 0), _ffi.dim(buffers, i, 1), _ffi.dim(buffers, i, 2))
    return carray(_ffi.data(buffers, i), shape, np.float64)


_HANDLER = types.voidptr(types.voidptr)
# The API version answered where XLA's metadata query does not carry its own
# (compiled into the cached handlers: a stale one only makes XLA refuse them,
# and the host callback serve).
_MAJOR, _MINOR = _ffi.api_version() or (0, 0)


# The handlers are made (compiled, or loaded from Numba's cache) for one
# dtype at a time, when a graph first needs them.


def _float32_handlers():
    @numba.cfunc(_HANDLER, **_JIT)
    def forward(frame):
        if _ffi.answered_metadata(frame, _MAJOR, _MINOR) or not _ffi.executing(frame):
            return _ffi.done()
        a, r = _ffi.args_pointer(frame), _ffi.rets_pointer(frame)
        forward_in_place(
            _tensor32(a, 0), _matrix32(a, 1), _matrix32(a, 2), _matrix32(a, 3), _vector32(a, 4),
            _matrix32(a, 5), _vector32(a, 6), _vector32(a, 7), _vector32(a, 8),
            _tensor32(r, 0), _tensor32(r, 1), _tensor32(r, 2),
        )  # fmt: skip
        return _ffi.done()

    @numba.cfunc(_HANDLER, **_JIT)
    def backward(frame):
        if _ffi.answered_metadata(frame, _MAJOR, _MINOR) or not _ffi.executing(frame):
            return _ffi.done()
        a, r = _ffi.args_pointer(frame), _ffi.rets_pointer(frame)
        backward_in_place(
            _tensor32(a, 0), _matrix32(a, 1), _matrix32(a, 2), _matrix32(a, 3), _vector32(a, 4),
            _matrix32(a, 5), _vector32(a, 6), _vector32(a, 7), _vector32(a, 8),
            _tensor32(a, 9), _tensor32(a, 10), _tensor32(a, 11), _tensor32(a, 12),
            _tensor32(a, 13),
            _tensor32(r, 0), _matrix32(r, 1), _matrix32(r, 2), _matrix32(r, 3), _vector32(r, 4),
            _matrix32(r, 5), _vector32(r, 6), _vector32(r, 7), _vector32(r, 8),
        )  # fmt: skip
        return _ffi.done()

    return forward, backward


def _float64_handlers():
    @numba.cfunc(_HANDLER, **_JIT)
    def forward(frame):
        if _ffi.answered_metadata(frame, _MAJOR, _MINOR) or not _ffi.executing(frame):
            return _ffi.done()
        a, r = _ffi.args_pointer(frame), _ffi.rets_pointer(frame)
        forward_in_place(
            _tensor64(a, 0), _matrix64(a, 1), _matrix64(a, 2), _matrix64(a, 3), _vector64(a, 4),
            _matrix64(a, 5), _vector64(a, 6), _vector64(a, 7), _vector64(a, 8),
            _tensor64(r, 0), _tensor64(r, 1), _tensor64(r, 2),
        )  # fmt: skip
        return _ffi.done()

    @numba.cfunc(_HANDLER, **_JIT)
    def backward(frame):
        if _ffi.answered_metadata(frame, _MAJOR, _MINOR) or not _ffi.executing(frame):
            return _ffi.done()
        a, r = _ffi.args_pointer(frame), _ffi.rets_pointer(frame)
        backward_in_place(
            _tensor64(a, 0), _matrix64(a, 1), _matrix64(a, 2), _matrix64(a, 3), _vector64(a, 4),
            _matrix64(a, 5), _vector64(a, 6), _vector64(a, 7), _vector64(a, 8),
            _tensor64(a, 9), _tensor64(a, 10), _tensor64(a, 11), _tensor64(a, 12),
            _tensor64(a, 13),
            _tensor64(r, 0), _matrix64(r, 1), _matrix64(r, 2), _matrix64(r, 3), _vector64(r, 4),
            _matrix64(r, 5), _vector64(r, 6), _vector64(r, 7), _vector64(r, 8),
        )  # fmt: skip
        return _ffi.done()

    return forward, backward


_MAKERS = {"float32": _float32_handlers, "float64": _float64_handlers}
_TARGETS: dict[str, tuple[str, str] | None] = {}
_LOCK = threading.Lock()


def targets(dtype) -> tuple[str, str] | None:
    """The names of the forward and backward FFI targets for ``dtype``
    (registered with XLA on first use), or None where they cannot be."""
    dtype = np.dtype(dtype)
    with _LOCK:
        if dtype.name not in _TARGETS:
            _TARGETS[dtype.name] = _register(dtype)
        return _TARGETS[dtype.name]


def _register(dtype):
    if _ffi.api_version() is None or dtype.name not in _MAKERS:
        return None
    names = tuple("theanets_lstm_{}_{}".format(p, dtype.name) for p in ("forward", "backward"))
    handlers = _MAKERS[dtype.name]()
    try:
        for name, handler in zip(names, handlers, strict=True):
            _ffi.register(name, handler)
    except Exception:  # an XLA that refuses them: the host callback serves
        return None
    _KEEP.extend(handlers)  # XLA holds their addresses: keep them alive
    return names


_KEEP: list = []
