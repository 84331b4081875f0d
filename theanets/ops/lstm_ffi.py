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

import functools
import threading

import numba
import numpy as np
from numba import carray, types

from . import _ffi, _threads
from .lstm_kernels import (
    _JIT,
    backward_in_parts,
    backward_in_place,
    forward_in_parts,
    forward_in_place,
)

__all__ = ["choose", "parts", "targets"]

#: Rows of the batch each thread takes at least (as the callback path's split).
MIN_ROWS = 16


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


@numba.njit(inline="always")
def _forward_arrays32(frame):
    a, r = _ffi.args_pointer(frame), _ffi.rets_pointer(frame)
    return (
        _tensor32(a, 0), _matrix32(a, 1), _matrix32(a, 2), _matrix32(a, 3), _vector32(a, 4),
        _matrix32(a, 5), _vector32(a, 6), _vector32(a, 7), _vector32(a, 8),
        _tensor32(r, 0), _tensor32(r, 1), _tensor32(r, 2),
    )  # fmt: skip


@numba.njit(inline="always")
def _backward_arrays32(frame):
    a, r = _ffi.args_pointer(frame), _ffi.rets_pointer(frame)
    return (
        _tensor32(a, 0), _matrix32(a, 1), _matrix32(a, 2), _matrix32(a, 3), _vector32(a, 4),
        _matrix32(a, 5), _vector32(a, 6), _vector32(a, 7), _vector32(a, 8),
        _tensor32(a, 9), _tensor32(a, 10), _tensor32(a, 11), _tensor32(a, 12), _tensor32(a, 13),
        _tensor32(r, 0), _matrix32(r, 1), _matrix32(r, 2), _matrix32(r, 3), _vector32(r, 4),
        _matrix32(r, 5), _vector32(r, 6), _vector32(r, 7), _vector32(r, 8),
    )  # fmt: skip


@numba.njit(inline="always")
def _forward_arrays64(frame):
    a, r = _ffi.args_pointer(frame), _ffi.rets_pointer(frame)
    return (
        _tensor64(a, 0), _matrix64(a, 1), _matrix64(a, 2), _matrix64(a, 3), _vector64(a, 4),
        _matrix64(a, 5), _vector64(a, 6), _vector64(a, 7), _vector64(a, 8),
        _tensor64(r, 0), _tensor64(r, 1), _tensor64(r, 2),
    )  # fmt: skip


@numba.njit(inline="always")
def _backward_arrays64(frame):
    a, r = _ffi.args_pointer(frame), _ffi.rets_pointer(frame)
    return (
        _tensor64(a, 0), _matrix64(a, 1), _matrix64(a, 2), _matrix64(a, 3), _vector64(a, 4),
        _matrix64(a, 5), _vector64(a, 6), _vector64(a, 7), _vector64(a, 8),
        _tensor64(a, 9), _tensor64(a, 10), _tensor64(a, 11), _tensor64(a, 12), _tensor64(a, 13),
        _tensor64(r, 0), _matrix64(r, 1), _matrix64(r, 2), _matrix64(r, 3), _vector64(r, 4),
        _matrix64(r, 5), _vector64(r, 6), _vector64(r, 7), _vector64(r, 8),
    )  # fmt: skip


@numba.njit(inline="always")
def _skip(frame):
    """True for a call that computes nothing: XLA's metadata query (answered)
    or a stage other than execution."""
    return _ffi.answered_metadata(frame, _MAJOR, _MINOR) or not _ffi.executing(frame)


# The handlers are made (compiled, or loaded from Numba's cache) for one dtype
# at a time, when a graph first needs them; those on several threads (which
# take the number of parts as the call's one attribute) only once Numba's
# threading layer runs, whose functions their code links to.


def _float32_handlers():
    @numba.cfunc(_HANDLER, **_JIT)
    def forward(frame):
        if not _skip(frame):
            forward_in_place(*_forward_arrays32(frame))
        return _ffi.done()

    @numba.cfunc(_HANDLER, **_JIT)
    def backward(frame):
        if not _skip(frame):
            backward_in_place(*_backward_arrays32(frame))
        return _ffi.done()

    return forward, backward


def _float32_threaded_handlers():
    @numba.cfunc(_HANDLER, **_JIT)
    def forward(frame):
        if not _skip(frame):
            forward_in_parts(*_forward_arrays32(frame), _ffi.int64_attribute(frame, 0, 1))
        return _ffi.done()

    @numba.cfunc(_HANDLER, **_JIT)
    def backward(frame):
        if not _skip(frame):
            backward_in_parts(*_backward_arrays32(frame), _ffi.int64_attribute(frame, 0, 1))
        return _ffi.done()

    return forward, backward


def _float64_handlers():
    @numba.cfunc(_HANDLER, **_JIT)
    def forward(frame):
        if not _skip(frame):
            forward_in_place(*_forward_arrays64(frame))
        return _ffi.done()

    @numba.cfunc(_HANDLER, **_JIT)
    def backward(frame):
        if not _skip(frame):
            backward_in_place(*_backward_arrays64(frame))
        return _ffi.done()

    return forward, backward


def _float64_threaded_handlers():
    @numba.cfunc(_HANDLER, **_JIT)
    def forward(frame):
        if not _skip(frame):
            forward_in_parts(*_forward_arrays64(frame), _ffi.int64_attribute(frame, 0, 1))
        return _ffi.done()

    @numba.cfunc(_HANDLER, **_JIT)
    def backward(frame):
        if not _skip(frame):
            backward_in_parts(*_backward_arrays64(frame), _ffi.int64_attribute(frame, 0, 1))
        return _ffi.done()

    return forward, backward


_MAKERS = {
    ("float32", False): _float32_handlers,
    ("float32", True): _float32_threaded_handlers,
    ("float64", False): _float64_handlers,
    ("float64", True): _float64_threaded_handlers,
}
_TARGETS: dict[tuple[str, bool], tuple[str, str] | None] = {}
_LOCK = threading.Lock()


def targets(dtype, threaded=False) -> tuple[str, str] | None:
    """The names of the forward and backward FFI targets for ``dtype``, on
    several threads or one (registered with XLA on first use), or None where
    they cannot be."""
    key = (np.dtype(dtype).name, bool(threaded))
    with _LOCK:
        if key not in _TARGETS:
            _TARGETS[key] = _register(*key)
        return _TARGETS[key]


def _register(dtype, threaded):
    if _ffi.api_version() is None or (dtype, threaded) not in _MAKERS:
        return None
    if threaded and not _threadsafe_numba():  # also starts the threading layer
        return None
    suffix = dtype + ("_threaded" if threaded else "")
    names = tuple("theanets_lstm_{}_{}".format(p, suffix) for p in ("forward", "backward"))
    handlers = _MAKERS[dtype, threaded]()
    try:
        for name, handler in zip(names, handlers, strict=True):
            _ffi.register(name, handler)
    except Exception:  # an XLA that refuses them: the host callback serves
        return None
    _KEEP.extend(handlers)  # XLA holds their addresses: keep them alive
    return names


_KEEP: list = []


@numba.njit(parallel=True, cache=True)
def _launch(x):
    for i in numba.prange(x.shape[0]):
        x[i] = i


@functools.lru_cache(maxsize=1)
def _threadsafe_numba() -> bool:
    """Whether Numba's threading layer may be entered from several threads at
    once (OpenMP, TBB): XLA may run two handlers at the same time (the two
    directions of a bidirectional layer), and the workqueue layer aborts the
    process then."""
    try:
        _launch(np.zeros(2))
        return numba.threading_layer() in ("omp", "tbb")
    except Exception:  # no layer at all
        return False


def parts(batch: int) -> int:
    """On how many threads the handlers run a batch of ``batch`` examples.

    As many as BLAS would use (what ``OMP_NUM_THREADS``,
    ``OPENBLAS_NUM_THREADS`` or threadpoolctl set, at most one per core), at
    most Numba's thread count and one per ``MIN_ROWS`` examples, where
    Numba's threading layer allows it; else 1. With more than one, every
    call of a compiled program runs with BLAS on one thread (each part's
    products are its own).
    """
    if batch < 2 * MIN_ROWS or not _threadsafe_numba():
        return 1
    return max(1, min(_threads.blas_threads(), numba.get_num_threads(), batch // MIN_ROWS))


def choose(dtype, batch: int) -> tuple[tuple[str, str] | None, int]:
    """The FFI targets for ``dtype`` and a batch of ``batch`` examples and the
    number of threads they run on: ``(None, 1)`` where there are none.

    Where the handlers split the work over threads, or the batch is too
    small to split (its products are small: on several BLAS threads they
    wait for each other more than they compute, the character model's step
    at 223 steps/s on two threads against 296 on one BLAS thread), every
    later call of a compiled program runs with BLAS on one thread.
    """
    count = parts(batch)
    names = targets(dtype, threaded=True) if count > 1 else None
    if names is None:
        count, names = 1, targets(dtype)
    if names is not None and (count > 1 or batch < 2 * MIN_ROWS) and _threads.blas_threads() > 1:
        from .._jax import linker

        linker.around_calls(_threads.one_blas_thread)
    return names, count
