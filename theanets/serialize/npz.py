"""Reading the zip archive of a safe file strictly, within bounds.

Before :mod:`zipfile` reads the central directory, the number of entries
it declares (in the end-of-central-directory record, or its zip64 form) is
checked against :data:`~theanets.serialize.limits.MAX_NPZ_ENTRIES`. Then
every entry must have a name of its own (a duplicate is refused: which of
two arrays numpy would read is not what the writer meant), be neither
encrypted nor compressed with anything but deflate, and declare sizes that
fit in the file (a deflated entry: at most
:data:`~theanets.serialize.limits.MAX_COMPRESSION_RATIO` times its
compressed size; all together at most
:data:`~theanets.serialize.limits.MAX_FILE_BYTES`). Each ``.npy`` header is
parsed on its own (a malformed one is a :class:`~theanets.util.LoadError`
naming the entry), must declare a numeric dtype (or, for the description,
a unicode string) and exactly as many bytes as the entry holds; an array
is read only after its shape has been compared with what the model
description says, a chunk at a time, and its CRC is checked.
"""

import struct
import zipfile
import zlib

import numpy as np

from .. import util
from . import limits

__all__ = ["Archive"]

_EOCD = b"PK\x05\x06"
_EOCD64_LOCATOR = b"PK\x06\x07"
_EOCD64 = b"PK\x06\x06"


class Archive:
    """The entries of a safe file, checked; arrays read on request.

    Parameters
    ----------
    handle : seekable binary file handle
        Positioned at the start of the archive.
    size : int
        The bytes from there to the end of the file.
    label : str
        How messages name the file.
    """

    def __init__(self, handle, size, label):
        self.label = label
        self.size = size
        start = handle.tell()
        self._check_entry_count(handle, start)
        handle.seek(start)
        try:
            self.zip = zipfile.ZipFile(handle)
        except (
            zipfile.BadZipFile,
            OSError,
            ValueError,
            EOFError,
            struct.error,
            NotImplementedError,
        ) as err:
            self.fail("{}: {}", type(err).__name__, err)
        self.entries = {}
        total = 0
        for info in self.zip.infolist():
            self._check_entry(info)
            total += info.file_size
            if total > limits.MAX_FILE_BYTES:
                self.fail(
                    "its entries hold more than {} bytes together "
                    "(theanets.serialize.limits.MAX_FILE_BYTES)",
                    limits.MAX_FILE_BYTES,
                )
            self.entries[info.filename[: -len(".npy")]] = info
        self._headers = {}
        for key in self.entries:  # every declared size, before anything is read
            self._headers[key] = self._header(key)

    def fail(self, message, *args):
        raise util.LoadError(
            "{} is not a readable theanets safe model file (truncated or corrupt?): {}".format(
                self.label, message.format(*args)
            )
        )

    def _check_entry_count(self, handle, start):
        tail = min(self.size, 22 + 65535)
        handle.seek(start + self.size - tail)
        data = handle.read(tail)
        at = data.rfind(_EOCD)
        if at < 0 or len(data) - at < 22:
            self.fail("it has no zip end-of-directory record")
        count = struct.unpack("<H", data[at + 10 : at + 12])[0]
        if count == 0xFFFF and at >= 20 and data[at - 20 : at - 16] == _EOCD64_LOCATOR:
            offset = struct.unpack("<Q", data[at - 12 : at - 4])[0]
            if offset + 56 > self.size:
                self.fail("its zip64 end-of-directory record lies outside the file")
            handle.seek(start + offset)
            record = handle.read(56)
            if record[:4] != _EOCD64:
                self.fail("its zip64 end-of-directory record is missing")
            count = struct.unpack("<Q", record[32:40])[0]
        if count > limits.MAX_NPZ_ENTRIES:
            self.fail(
                "it declares {} entries, more than {} (theanets.serialize.limits.MAX_NPZ_ENTRIES)",
                count,
                limits.MAX_NPZ_ENTRIES,
            )

    def _check_entry(self, info):
        name = info.filename
        if name[: -len(".npy")] in self.entries:
            self.fail("the entry {!r} appears twice", name)
        if info.flag_bits & 0x1:
            self.fail("the entry {!r} is encrypted; a safe file holds plain arrays", name)
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            self.fail(
                "the entry {!r} is compressed with method {}; only stored and deflated "
                "entries are read",
                name,
                info.compress_type,
            )
        if not name.endswith(".npy"):
            self.fail("the entry {!r} is not a .npy array", name)
        limit = (
            info.compress_size
            if info.compress_type == zipfile.ZIP_STORED
            else info.compress_size * limits.MAX_COMPRESSION_RATIO + 1024
        )
        if info.compress_size > self.size or info.file_size > limit:
            self.fail(
                "entry {!r} declares {} bytes ({} stored), but the file has {}{}",
                name,
                info.file_size,
                info.compress_size,
                self.size,
                ""
                if info.compress_type == zipfile.ZIP_STORED
                else " (more than theanets.serialize.limits.MAX_COMPRESSION_RATIO = {} times "
                "what is stored)".format(limits.MAX_COMPRESSION_RATIO),
            )

    def header(self, key):
        """(shape, fortran_order, dtype) of entry ``key``, checked against its size."""
        return self._headers[key][:3]

    def _header(self, key):
        info = self.entries[key]
        try:
            with self.zip.open(info) as member:
                version = np.lib.format.read_magic(member)
                if version == (1, 0):
                    read = np.lib.format.read_array_header_1_0
                elif version == (2, 0):
                    read = np.lib.format.read_array_header_2_0
                else:
                    raise ValueError("unsupported .npy format version {}".format(version))
                shape, fortran, dtype = read(member, max_header_size=limits.MAX_HEADER_BYTES)
                offset = member.tell()
        except Exception as err:  # numpy raises ValueError, SyntaxError, TokenError, ...
            self.fail(
                "the entry {!r} has a malformed .npy header: {}: {}",
                info.filename,
                type(err).__name__,
                err,
            )
        if dtype.hasobject or dtype.kind not in "biufU" or dtype.fields is not None:
            self.fail("the entry {!r} holds {} values, not numbers", info.filename, dtype)
        count = 1
        for dim in shape:
            count *= int(dim)
        if count * dtype.itemsize != info.file_size - offset:
            self.fail(
                "entry {!r} declares an array of shape {} and dtype {} ({} bytes), but "
                "holds {} bytes",
                info.filename,
                tuple(shape),
                dtype,
                count * dtype.itemsize,
                info.file_size - offset,
            )
        return tuple(shape), fortran, dtype, offset

    def array(self, key):
        """The array of entry ``key``, read a chunk at a time after checking its header."""
        shape, fortran, dtype, offset = self._headers[key]
        info = self.entries[key]
        chunks = []
        try:
            with self.zip.open(info) as member:
                member.read(offset)
                while True:  # to the end, where zipfile checks the CRC
                    chunk = member.read(1 << 20)
                    if not chunk:
                        break
                    chunks.append(chunk)
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error, ValueError) as err:
            self.fail(
                "the entry {!r} cannot be read: {}: {}", info.filename, type(err).__name__, err
            )
        values = np.frombuffer(b"".join(chunks), dtype=dtype)
        return values.reshape(shape, order="F" if fortran else "C")
