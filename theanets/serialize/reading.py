"""Opening and reading model files within bounds.

A path is opened only if it names a regular file (after following
symlinks): a FIFO, a device (``/dev/zero``, ``/dev/urandom``), a socket or
a directory is refused before anything is read, and the file is opened with
``O_NONBLOCK`` and checked again with :func:`os.fstat`, so a path swapped
for a FIFO between the two checks cannot block the loader. Reads never ask
for a size the file declares: they go in chunks, up to what the file's
length (or, for a stream of unknown length, :data:`limits.MAX_FILE_BYTES`)
accounts for.
"""

import contextlib
import io
import os
import stat
import zlib

from .. import util
from . import limits

__all__ = ["opened", "open_regular", "read_limited", "stream_size", "gunzip", "GZIP_MAGIC"]

#: The first bytes of a gzip file.
GZIP_MAGIC = b"\x1f\x8b"

_CHUNK = 1 << 20

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _kind(mode):
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


def _refuse(label, mode):
    raise util.LoadError(
        "{} is not a regular file (it is {}); a model file must be a regular file".format(
            label, _kind(mode)
        )
    )


def open_regular(path, label):
    """Open ``path`` for reading if it is a regular file; return (handle, size).

    Raises
    ------
    FileNotFoundError
        If there is no such file.
    theanets.util.LoadError
        If the path (after following symlinks) is not a regular file, or is
        larger than :data:`limits.MAX_FILE_BYTES`.

    Examples
    --------
    >>> open_regular('/dev/null', '/dev/null')
    Traceback (most recent call last):
    ...
    theanets.util.LoadError: /dev/null is not a regular file (it is a character device); ...
    """
    path = os.fspath(path)
    if not stat.S_ISREG(os.stat(path).st_mode):
        _refuse(label, os.stat(path).st_mode)
    flags = (
        os.O_RDONLY
        | getattr(os, "O_NONBLOCK", 0)
        | getattr(os, "O_NOCTTY", 0)
        | getattr(os, "O_CLOEXEC", 0)
        | getattr(os, "O_BINARY", 0)
    )
    fd = os.open(path, flags)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            _refuse(label, info.st_mode)
        check_size(info.st_size, label)
        handle = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    return handle, info.st_size


def check_size(size, label, what="holds"):
    """Raise LoadError if ``size`` exceeds :data:`limits.MAX_FILE_BYTES`."""
    if size > limits.MAX_FILE_BYTES:
        raise util.LoadError(
            "{} {} {} bytes, more than theanets.serialize.limits.MAX_FILE_BYTES ({}); raise "
            "that limit to load larger models".format(label, what, size, limits.MAX_FILE_BYTES)
        )


def stream_size(handle):
    """Bytes from an open handle's position to its end, or None if that cannot be told."""
    try:
        info = os.fstat(handle.fileno())
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        info = None
    if info is not None and not stat.S_ISREG(info.st_mode):
        return None  # a pipe, socket or device: read it as a stream
    try:
        if not handle.seekable():
            return None
        pos = handle.tell()
        end = handle.seek(0, os.SEEK_END)
        handle.seek(pos)
    except (AttributeError, OSError, ValueError):
        return None
    return end - pos


def read_limited(handle, limit, label):
    """Read an open handle to its end, in chunks; LoadError past ``limit`` bytes."""
    chunks, total = [], 0
    while True:
        chunk = handle.read(min(_CHUNK, limit - total + 1))
        if not chunk:
            return b"".join(chunks)
        total += len(chunk)
        if total > limit:
            raise util.LoadError(
                "{} holds more than {} bytes, more than it can account for (its length, or "
                "theanets.serialize.limits.MAX_FILE_BYTES for a stream)".format(label, limit)
            )
        chunks.append(chunk)


def gunzip(data, label):
    """Decompress gzip ``data`` (one or more members) within the ratio and size ceilings.

    Output is produced a chunk at a time, so a decompression bomb is refused
    when it passes ``MAX_COMPRESSION_RATIO`` times the input's length (or
    ``MAX_FILE_BYTES``), never after.
    """
    limit = min(limits.MAX_FILE_BYTES, len(data) * limits.MAX_COMPRESSION_RATIO + (1 << 16))
    chunks, total = [], 0
    rest = data
    try:
        while rest:
            inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
            pending = rest
            while True:
                chunk = inflater.decompress(pending, _CHUNK)
                total += len(chunk)
                if total > limit:
                    raise util.LoadError(
                        "{} decompresses to more than {} bytes: more than "
                        "theanets.serialize.limits.MAX_COMPRESSION_RATIO ({}) times its "
                        "length, or MAX_FILE_BYTES; refused as a decompression bomb".format(
                            label, limit, limits.MAX_COMPRESSION_RATIO
                        )
                    )
                chunks.append(chunk)
                pending = inflater.unconsumed_tail
                if inflater.eof or not (pending or chunk):
                    break
            if not inflater.eof:
                raise util.LoadError(
                    "{} is not a readable theanets model (truncated or "
                    "corrupt?): the gzip stream ends early".format(label)
                )
            rest = inflater.unused_data
    except zlib.error as err:
        raise util.LoadError(
            "{} is not a readable theanets model (truncated or corrupt?): gzip: {}".format(
                label, err
            )
        ) from err
    return b"".join(chunks)


@contextlib.contextmanager
def opened(filename_or_handle, label):
    """A seekable handle on a model file and the bytes it holds from its position.

    A path is opened with :func:`open_regular` (and closed afterwards); a
    seekable handle on a regular file (or in memory) is used as it is; any
    other handle (a pipe, a socket) is read into memory, at most
    :data:`limits.MAX_FILE_BYTES`.
    """
    if hasattr(filename_or_handle, "read"):
        size = stream_size(filename_or_handle)
        if size is None:
            data = read_limited(filename_or_handle, limits.MAX_FILE_BYTES, label)
            yield io.BytesIO(data), len(data)
        else:
            check_size(size, label)
            yield filename_or_handle, size
        return
    handle, size = open_regular(filename_or_handle, label)
    with handle:
        yield handle, size
