"""Kernels that XLA calls directly on the CPU: typed-FFI handlers compiled by Numba.

A host callback (``jax.pure_callback`` and the lowering it uses) enters
Python at every call, wraps XLA's operands as numpy arrays and copies every
result into XLA's buffers: for the benchmarks' LSTM, ~23 MB copied a step,
about 2 ms of its 28. XLA's typed foreign-function interface instead calls
a C function with a *call frame* holding pointers to the operands' and
results' own buffers. This module reads such frames from Numba-compiled C
functions (``numba.cfunc``): a handler made here runs its kernel on XLA's
buffers in place, without Python, the GIL or a copy.

The frame's layout is XLA's C API (``xla/ffi/api/c_api.h``, which jaxlib
ships: :func:`jax.ffi.include_dir`), major version 0, whose layout every
0.x keeps (fields are only added at the ends of the structs). A handler
answers XLA's metadata query with the API version of the XLA that asks
(read from the frame), or that of the installed header; under another
major version nothing is registered (:func:`api_version` is None) and the
host callback serves.
"""

from __future__ import annotations

import ctypes
import os
import re

import numba
import numpy as np
from numba import carray, types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = [
    "answered_metadata",
    "matrix32",
    "matrix64",
    "tensor32",
    "tensor64",
    "vector32",
    "vector64",
    "api_version",
    "args_pointer",
    "data",
    "dim",
    "done",
    "executing",
    "int64_attribute",
    "register",
    "rets_pointer",
]

# Word (8-byte) offsets of the fields read, on a 64-bit platform:
# XLA_FFI_CallFrame {size_t struct_size; XLA_FFI_Extension_Base* extension_start;
# const XLA_FFI_Api* api; XLA_FFI_ExecutionContext* ctx; XLA_FFI_ExecutionStage
# stage; XLA_FFI_Args args; XLA_FFI_Rets rets; ...}, where XLA_FFI_Args and
# XLA_FFI_Rets are {size_t struct_size; void* extension_start; int64_t size;
# int* types; void** pointers}.
_FRAME_EXTENSION = 1
_FRAME_API = 2
_FRAME_STAGE_INT32 = 8  # int32 offset of stage (bytes 32-35)
_ARGS_POINTERS = 9  # args at byte 40: its pointers at byte 72
_RETS_POINTERS = 14  # rets at byte 80: its pointers at byte 112
# XLA_FFI_Attrs (at byte 120) {size_t struct_size; void* extension_start;
# int64_t size; int* types; XLA_FFI_ByteSpan** names; void** attrs}, sorted by
# name; a scalar attribute is an XLA_FFI_Scalar {int dtype; void* value}
_ATTRS_SIZE = 17
_ATTRS_POINTERS = 20
_SCALAR_VALUE = 1
# XLA_FFI_Buffer {size_t struct_size; void* extension_start; int dtype; void*
# data; int64_t rank; int64_t* dims}
_BUFFER_DATA = 3
_BUFFER_DIMS = 5
# XLA_FFI_Extension_Base {size_t struct_size; int type; void* next}; the
# metadata extension adds XLA_FFI_Metadata* metadata after it
_EXTENSION_TYPE_INT32 = 2
_EXTENSION_NEXT = 2
_EXTENSION_METADATA = 3
_METADATA_TYPE = 1
# XLA_FFI_Metadata {size_t struct_size; XLA_FFI_Api_Version {size_t
# struct_size; void* extension_start; int major; int minor} api_version;
# uint32 traits; ...} and XLA_FFI_Api {size_t struct_size; void*
# extension_start; XLA_FFI_Api_Version api_version; ...}: int32 offsets
_METADATA_MAJOR_INT32 = 6
_METADATA_TRAITS_INT32 = 8
_API_MAJOR_INT32 = 8
_EXECUTE = 3


@intrinsic
def _pointer(typingctx, address):
    """The integer ``address`` as a ``void*``."""
    signature = types.voidptr(types.intp)

    def codegen(context, builder, sig, args):
        return builder.inttoptr(args[0], cgutils.voidptr_t)

    return signature, codegen


@numba.njit(inline="always")
def _word(pointer, index):
    return carray(pointer, (index + 1,), np.int64)[index]


@numba.njit(inline="always")
def _int32(pointer, index):
    return carray(pointer, (index + 1,), np.int32)[index]


@numba.njit(inline="always")
def done():
    """What a handler returns: no error (a null ``XLA_FFI_Error*``)."""
    return _pointer(0)


@numba.njit(inline="always")
def answered_metadata(frame, major, minor):
    """True if ``frame`` is XLA's metadata query, now answered: API version
    ``major`` (0) and the asking XLA's minor version if the frame says it,
    else ``minor``; no traits."""
    extension = _word(frame, _FRAME_EXTENSION)
    while extension != 0:
        base = _pointer(extension)
        if _int32(base, _EXTENSION_TYPE_INT32) == _METADATA_TYPE:
            api = _word(frame, _FRAME_API)
            # the asking XLA's minor version where it is a 0.x (the layout
            # read here): its later minors only add fields at the ends
            if api != 0 and _int32(_pointer(api), _API_MAJOR_INT32) == major:
                minor = _int32(_pointer(api), _API_MAJOR_INT32 + 1)
            fields = carray(
                _pointer(_word(base, _EXTENSION_METADATA)), (_METADATA_TRAITS_INT32 + 1,), np.int32
            )
            fields[_METADATA_MAJOR_INT32] = major
            fields[_METADATA_MAJOR_INT32 + 1] = minor
            fields[_METADATA_TRAITS_INT32] = 0
            return True
        extension = _word(base, _EXTENSION_NEXT)
    return False


@numba.njit(inline="always")
def executing(frame):
    """Whether ``frame`` is a call to compute (XLA's execute stage)."""
    return _int32(frame, _FRAME_STAGE_INT32) == _EXECUTE


@numba.njit(inline="always")
def args_pointer(frame):
    """The operands' buffers (``XLA_FFI_Buffer*`` each) of ``frame``."""
    return _pointer(_word(frame, _ARGS_POINTERS))


@numba.njit(inline="always")
def rets_pointer(frame):
    """The results' buffers of ``frame``."""
    return _pointer(_word(frame, _RETS_POINTERS))


@numba.njit(inline="always")
def int64_attribute(frame, index, default):
    """The int64 scalar attribute ``index`` (in the order of their names) of
    ``frame``, or ``default`` where it has fewer."""
    if index >= _word(frame, _ATTRS_SIZE):
        return default
    scalar = _pointer(_word(_pointer(_word(frame, _ATTRS_POINTERS)), index))
    return _word(_pointer(_word(scalar, _SCALAR_VALUE)), 0)


@numba.njit(inline="always")
def data(buffers, index):
    """The data pointer of buffer ``index`` of ``buffers``."""
    return _pointer(_word(_pointer(_word(buffers, index)), _BUFFER_DATA))


@numba.njit(inline="always")
def dim(buffers, index, axis):
    """The length of axis ``axis`` of buffer ``index`` of ``buffers``."""
    buffer = _pointer(_word(buffers, index))
    return _word(_pointer(_word(buffer, _BUFFER_DIMS)), axis)


def api_version() -> tuple[int, int] | None:
    """The XLA FFI API version of the installed jaxlib, if its layout is known here.

    Read from the C header jaxlib ships; None where there is none, or its
    major version is not 0 (whose call frames this module reads), or this
    is not a 64-bit platform.
    """
    if ctypes.sizeof(ctypes.c_void_p) != 8:
        return None
    try:
        import jax.ffi

        path = os.path.join(jax.ffi.include_dir(), "xla", "ffi", "api", "c_api.h")
        with open(path) as f:
            header = f.read()
    except (ImportError, AttributeError, OSError):
        return None
    major = re.search(r"#define XLA_FFI_API_MAJOR (\d+)", header)
    minor = re.search(r"#define XLA_FFI_API_MINOR (\d+)", header)
    if major is None or minor is None or int(major.group(1)) != 0:
        return None
    return int(major.group(1)), int(minor.group(1))


def register(name: str, handler) -> None:
    """Register the compiled ``numba.cfunc`` ``handler`` as XLA's CPU FFI target ``name``.

    Raises whatever jax raises where XLA refuses it (the caller falls back).
    """
    import jax.ffi

    capsule_new = ctypes.pythonapi.PyCapsule_New
    capsule_new.restype = ctypes.py_object
    capsule_new.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]
    capsule = capsule_new(handler.address, b"xla._CUSTOM_CALL_TARGET", None)
    jax.ffi.register_ffi_target(name, capsule, platform="cpu")


# Buffer ``i`` of ``buffers`` as an array, one reader per rank and dtype
# (the dtype of a carray is a compile-time constant). Called, not inlined
# into the handlers at Numba's level: Numba's lowering scans a block once
# per variable, and a handler reading 23 buffers inline made one block of
# thousands of statements (the LSTM's float32 handlers compiled in 8.5 s
# that way, 4.1 s as calls). They run once per handler call, beside kernels
# that take milliseconds.


@numba.njit
def vector32(buffers, i):
    return carray(data(buffers, i), (dim(buffers, i, 0),), np.float32)


@numba.njit
def matrix32(buffers, i):
    shape = (dim(buffers, i, 0), dim(buffers, i, 1))
    return carray(data(buffers, i), shape, np.float32)


@numba.njit
def tensor32(buffers, i):
    shape = (dim(buffers, i, 0), dim(buffers, i, 1), dim(buffers, i, 2))
    return carray(data(buffers, i), shape, np.float32)


@numba.njit
def vector64(buffers, i):
    return carray(data(buffers, i), (dim(buffers, i, 0),), np.float64)


@numba.njit
def matrix64(buffers, i):
    shape = (dim(buffers, i, 0), dim(buffers, i, 1))
    return carray(data(buffers, i), shape, np.float64)


@numba.njit
def tensor64(buffers, i):
    shape = (dim(buffers, i, 0), dim(buffers, i, 1), dim(buffers, i, 2))
    return carray(data(buffers, i), shape, np.float64)
