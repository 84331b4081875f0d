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

import numba

from . import _ffi, ffi_targets
from ._ffi import matrix32, matrix64, tensor32, tensor64, vector32, vector64
from .ffi_targets import HANDLER, skip
from .lstm_kernels import (
    _JIT,
    backward_in_parts,
    backward_in_place,
    forward_in_parts,
    forward_in_place,
)

__all__ = ["PAIR", "choose", "targets"]


@numba.njit(inline="always")
def _forward_arrays32(frame):
    a, r = _ffi.args_pointer(frame), _ffi.rets_pointer(frame)
    return (
        tensor32(a, 0), matrix32(a, 1), matrix32(a, 2), matrix32(a, 3), vector32(a, 4),
        matrix32(a, 5), vector32(a, 6), vector32(a, 7), vector32(a, 8),
        tensor32(r, 0), tensor32(r, 1), tensor32(r, 2),
    )  # fmt: skip


@numba.njit(inline="always")
def _backward_arrays32(frame):
    a, r = _ffi.args_pointer(frame), _ffi.rets_pointer(frame)
    return (
        tensor32(a, 0), matrix32(a, 1), matrix32(a, 2), matrix32(a, 3), vector32(a, 4),
        matrix32(a, 5), vector32(a, 6), vector32(a, 7), vector32(a, 8),
        tensor32(a, 9), tensor32(a, 10), tensor32(a, 11), tensor32(a, 12), tensor32(a, 13),
        tensor32(r, 0), matrix32(r, 1), matrix32(r, 2), matrix32(r, 3), vector32(r, 4),
        matrix32(r, 5), vector32(r, 6), vector32(r, 7), vector32(r, 8),
    )  # fmt: skip


@numba.njit(inline="always")
def _forward_arrays64(frame):
    a, r = _ffi.args_pointer(frame), _ffi.rets_pointer(frame)
    return (
        tensor64(a, 0), matrix64(a, 1), matrix64(a, 2), matrix64(a, 3), vector64(a, 4),
        matrix64(a, 5), vector64(a, 6), vector64(a, 7), vector64(a, 8),
        tensor64(r, 0), tensor64(r, 1), tensor64(r, 2),
    )  # fmt: skip


@numba.njit(inline="always")
def _backward_arrays64(frame):
    a, r = _ffi.args_pointer(frame), _ffi.rets_pointer(frame)
    return (
        tensor64(a, 0), matrix64(a, 1), matrix64(a, 2), matrix64(a, 3), vector64(a, 4),
        matrix64(a, 5), vector64(a, 6), vector64(a, 7), vector64(a, 8),
        tensor64(a, 9), tensor64(a, 10), tensor64(a, 11), tensor64(a, 12), tensor64(a, 13),
        tensor64(r, 0), matrix64(r, 1), matrix64(r, 2), matrix64(r, 3), vector64(r, 4),
        matrix64(r, 5), vector64(r, 6), vector64(r, 7), vector64(r, 8),
    )  # fmt: skip


# The handlers are made (compiled, or loaded from Numba's cache) for one dtype
# at a time, when a graph first needs them; those on several threads (which
# take the number of parts as the call's one attribute) only once Numba's
# threading layer runs, whose functions their code links to.


def _float32_handlers():
    @numba.cfunc(HANDLER, **_JIT)
    def forward(frame):
        if not skip(frame):
            forward_in_place(*_forward_arrays32(frame))
        return _ffi.done()

    @numba.cfunc(HANDLER, **_JIT)
    def backward(frame):
        if not skip(frame):
            backward_in_place(*_backward_arrays32(frame))
        return _ffi.done()

    return forward, backward


def _float32_threaded_handlers():
    @numba.cfunc(HANDLER, **_JIT)
    def forward(frame):
        if not skip(frame):
            forward_in_parts(*_forward_arrays32(frame), _ffi.int64_attribute(frame, 0, 1))
        return _ffi.done()

    @numba.cfunc(HANDLER, **_JIT)
    def backward(frame):
        if not skip(frame):
            backward_in_parts(*_backward_arrays32(frame), _ffi.int64_attribute(frame, 0, 1))
        return _ffi.done()

    return forward, backward


def _float64_handlers():
    @numba.cfunc(HANDLER, **_JIT)
    def forward(frame):
        if not skip(frame):
            forward_in_place(*_forward_arrays64(frame))
        return _ffi.done()

    @numba.cfunc(HANDLER, **_JIT)
    def backward(frame):
        if not skip(frame):
            backward_in_place(*_backward_arrays64(frame))
        return _ffi.done()

    return forward, backward


def _float64_threaded_handlers():
    @numba.cfunc(HANDLER, **_JIT)
    def forward(frame):
        if not skip(frame):
            forward_in_parts(*_forward_arrays64(frame), _ffi.int64_attribute(frame, 0, 1))
        return _ffi.done()

    @numba.cfunc(HANDLER, **_JIT)
    def backward(frame):
        if not skip(frame):
            backward_in_parts(*_backward_arrays64(frame), _ffi.int64_attribute(frame, 0, 1))
        return _ffi.done()

    return forward, backward


#: The LSTM's FFI targets.
PAIR = ffi_targets.Pair(
    "lstm",
    {
        ("float32", False): _float32_handlers,
        ("float32", True): _float32_threaded_handlers,
        ("float64", False): _float64_handlers,
        ("float64", True): _float64_threaded_handlers,
    },
)
targets = PAIR.targets
choose = PAIR.choose
