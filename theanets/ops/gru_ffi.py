"""The fused GRU as XLA foreign functions: the kernels on XLA's own buffers.

On the CPU the JAX mode runs :class:`~theanets.ops.gru.GRUSequence` and its
gradient as two XLA custom calls whose handlers (C functions compiled by
Numba, reading XLA's call frames) call the
kernels of :mod:`theanets.ops.gru_kernels` on the operands' and results'
buffers in place, as the LSTM's do (:mod:`theanets.ops.lstm_ffi`). Each call
carries the activation's index as its attribute ``activation`` and the
number of threads as ``parts`` (attributes come in the order of their names).
Made, registered and chosen by :class:`theanets.ops.ffi_targets.Pair`.
"""

from __future__ import annotations

import numba

from . import _ffi, ffi_targets
from ._ffi import matrix32, matrix64, tensor32, tensor64, vector32, vector64
from .ffi_targets import HANDLER, skip
from .gru_kernels import (
    backward_in_parts,
    backward_in_place,
    forward_in_parts,
    forward_in_place,
)
from .lstm_kernels import _JIT

__all__ = ["PAIR", "choose", "targets"]

# the call's int64 attributes, by name
_ACTIVATION, _PARTS = 0, 1


@numba.njit(inline="always")
def _forward_arrays32(frame):
    a, r = _ffi.args_pointer(frame), _ffi.rets_pointer(frame)
    return (
        tensor32(a, 0), matrix32(a, 1), matrix32(a, 2), vector32(a, 3), matrix32(a, 4),
        matrix32(a, 5), matrix32(a, 6),
        tensor32(r, 0), tensor32(r, 1), tensor32(r, 2), tensor32(r, 3), tensor32(r, 4),
    )  # fmt: skip


@numba.njit(inline="always")
def _backward_arrays32(frame):
    a, r = _ffi.args_pointer(frame), _ffi.rets_pointer(frame)
    return (
        tensor32(a, 0), matrix32(a, 1), matrix32(a, 2), vector32(a, 3), matrix32(a, 4),
        matrix32(a, 5), matrix32(a, 6),
        tensor32(a, 7), tensor32(a, 8), tensor32(a, 9), tensor32(a, 10), tensor32(a, 11),
        tensor32(a, 12), tensor32(a, 13), tensor32(a, 14), tensor32(a, 15),
        tensor32(r, 0), matrix32(r, 1), matrix32(r, 2), vector32(r, 3), matrix32(r, 4),
        matrix32(r, 5), matrix32(r, 6),
    )  # fmt: skip


@numba.njit(inline="always")
def _forward_arrays64(frame):
    a, r = _ffi.args_pointer(frame), _ffi.rets_pointer(frame)
    return (
        tensor64(a, 0), matrix64(a, 1), matrix64(a, 2), vector64(a, 3), matrix64(a, 4),
        matrix64(a, 5), matrix64(a, 6),
        tensor64(r, 0), tensor64(r, 1), tensor64(r, 2), tensor64(r, 3), tensor64(r, 4),
    )  # fmt: skip


@numba.njit(inline="always")
def _backward_arrays64(frame):
    a, r = _ffi.args_pointer(frame), _ffi.rets_pointer(frame)
    return (
        tensor64(a, 0), matrix64(a, 1), matrix64(a, 2), vector64(a, 3), matrix64(a, 4),
        matrix64(a, 5), matrix64(a, 6),
        tensor64(a, 7), tensor64(a, 8), tensor64(a, 9), tensor64(a, 10), tensor64(a, 11),
        tensor64(a, 12), tensor64(a, 13), tensor64(a, 14), tensor64(a, 15),
        tensor64(r, 0), matrix64(r, 1), matrix64(r, 2), vector64(r, 3), matrix64(r, 4),
        matrix64(r, 5), matrix64(r, 6),
    )  # fmt: skip


@numba.njit(inline="always")
def _kind(frame):
    return _ffi.int64_attribute(frame, _ACTIVATION, 2)


@numba.njit(inline="always")
def _parts(frame):
    return _ffi.int64_attribute(frame, _PARTS, 1)


# One pair of handlers per dtype and threading, as the LSTM's (each made on
# first use).


def _float32_handlers():
    @numba.cfunc(HANDLER, **_JIT)
    def forward(frame):
        if not skip(frame):
            forward_in_place(*_forward_arrays32(frame), _kind(frame))
        return _ffi.done()

    @numba.cfunc(HANDLER, **_JIT)
    def backward(frame):
        if not skip(frame):
            backward_in_place(*_backward_arrays32(frame), _kind(frame))
        return _ffi.done()

    return forward, backward


def _float32_threaded_handlers():
    @numba.cfunc(HANDLER, **_JIT)
    def forward(frame):
        if not skip(frame):
            forward_in_parts(*_forward_arrays32(frame), _kind(frame), _parts(frame))
        return _ffi.done()

    @numba.cfunc(HANDLER, **_JIT)
    def backward(frame):
        if not skip(frame):
            backward_in_parts(*_backward_arrays32(frame), _kind(frame), _parts(frame))
        return _ffi.done()

    return forward, backward


def _float64_handlers():
    @numba.cfunc(HANDLER, **_JIT)
    def forward(frame):
        if not skip(frame):
            forward_in_place(*_forward_arrays64(frame), _kind(frame))
        return _ffi.done()

    @numba.cfunc(HANDLER, **_JIT)
    def backward(frame):
        if not skip(frame):
            backward_in_place(*_backward_arrays64(frame), _kind(frame))
        return _ffi.done()

    return forward, backward


def _float64_threaded_handlers():
    @numba.cfunc(HANDLER, **_JIT)
    def forward(frame):
        if not skip(frame):
            forward_in_parts(*_forward_arrays64(frame), _kind(frame), _parts(frame))
        return _ffi.done()

    @numba.cfunc(HANDLER, **_JIT)
    def backward(frame):
        if not skip(frame):
            backward_in_parts(*_backward_arrays64(frame), _kind(frame), _parts(frame))
        return _ffi.done()

    return forward, backward


#: The GRU's FFI targets.
PAIR = ffi_targets.Pair(
    "gru",
    {
        ("float32", False): _float32_handlers,
        ("float32", True): _float32_threaded_handlers,
        ("float64", False): _float64_handlers,
        ("float64", True): _float64_threaded_handlers,
    },
)
targets = PAIR.targets
choose = PAIR.choose
