"""Writing files: the target rule, atomic writes, stale temporaries, file labels."""

from __future__ import annotations

import errno
import hashlib
import io
import os
import re
import socket
import stat
import tempfile
from typing import IO, TYPE_CHECKING, Any

from .. import util
from . import limits, reading

if TYPE_CHECKING:  # typing.TypeIs from Python 3.13
    from typing_extensions import TypeIs

__all__ = [
    "atomic_write",
    "resolve_target",
    "clear_stale_temporaries",
    "file_label",
    "check_names",
    "is_safe_file",
]

#: The first bytes of a zip archive (and so of every file in the safe format).
ZIP_MAGIC = b"PK\x03\x04"

#: Characters a layer or parameter name may not hold: NUL and the other
#: control characters (a zip entry name is cut at a NUL, so such a model
#: could be saved but not loaded).
_BAD_NAME = re.compile(r"[\x00-\x1f\x7f]")


def is_handle(filename_or_handle: object) -> TypeIs[IO[bytes]]:
    """True for an open file (anything with ``read`` or ``write``), False for a path."""
    return hasattr(filename_or_handle, "read") or hasattr(filename_or_handle, "write")


# Temporaries are named '.<file name>.tmp-<host>-<pid>-<random>' (the file
# name shortened and hashed where the whole would exceed the folder's name
# limit): a later save of the same path removes those of processes of this
# host that have died.
_HOST = hashlib.md5(socket.gethostname().encode("utf8")).hexdigest()[:8]

#: Characters of mkstemp's random part.
_RANDOM = 8


def _name_max(folder):
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (AttributeError, ValueError, OSError):
        return 255


def _stem(name, folder):
    """The file-name part of a temporary's name, short enough for the folder."""
    room = _name_max(folder) - len("..tmp-{}-{}-".format(_HOST, 2**22)) - _RANDOM
    if len(name.encode("utf8", "surrogateescape")) <= room:
        return name
    digest = hashlib.md5(name.encode("utf8", "surrogateescape")).hexdigest()[:8]
    short = name.encode("utf8", "surrogateescape")[: max(room - 9, 1)].decode("utf8", "ignore")
    return "{}~{}".format(short, digest)


def _temp_prefix(path):
    folder, name = os.path.split(os.path.abspath(path))
    return ".{}.tmp-{}-{}-".format(_stem(name, folder), _HOST, os.getpid())


def _pid_alive(pid):
    """Whether process ``pid`` may still run (True when it cannot be told)."""
    if os.name != "posix":
        return True  # on Windows os.kill(pid, 0) would interrupt the process
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # someone else's live process, or not a pid we can ask about
    return True


def clear_stale_temporaries(path):
    """Remove temporaries of ``path`` left by saves that were killed.

    A temporary of ``path`` is removed only if it was made on this host by a
    process that no longer runs: never a temporary of another path, of
    another machine (on a shared folder), or one that a live process (this
    one included) may be writing now. (Only on POSIX systems, where a
    process can be asked whether it runs; elsewhere nothing is removed.)

    Parameters
    ----------
    path : str or path-like
        The saved file whose temporaries to clear.

    Returns
    -------
    list of str
        The paths removed.

    Examples
    --------
    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> stale = os.path.join(folder, '.m.npz.tmp-{}-999999999-x1'.format(_HOST))
    >>> open(stale, 'wb').close()
    >>> removed = clear_stale_temporaries(os.path.join(folder, 'm.npz'))
    >>> [os.path.basename(p) == os.path.basename(stale) for p in removed], os.listdir(folder)
    ([True], [])
    """
    path = os.path.abspath(os.fspath(path))
    folder, name = os.path.split(path)
    pattern = re.compile(
        r"\.{}\.tmp-{}-(\d+)-[A-Za-z0-9_]+\Z".format(re.escape(_stem(name, folder)), _HOST)
    )
    removed = []
    try:
        entries = os.listdir(folder)
    except OSError:
        return removed
    for entry in entries:
        match = pattern.match(entry)
        if not match:
            continue
        pid = int(match.group(1))
        if pid == os.getpid() or _pid_alive(pid):
            continue
        try:
            os.unlink(os.path.join(folder, entry))
        except FileNotFoundError:
            continue  # another process cleared it first
        except OSError as err:
            util.log("could not remove stale temporary {}: {}", entry, err)
            continue
        removed.append(os.path.join(folder, entry))
        util.log("removed stale temporary {}", os.path.join(folder, entry))
    return removed


def _error(err, path, what):
    """``err`` again (same class and errno), its message naming the user's ``path``."""
    reason = err.strerror or str(err)
    return type(err)(err.errno, "cannot save to {!r}: {}: {}".format(path, what, reason))


def _refuse(cls, code, path, why):
    return cls(code, "cannot save to {!r}: {}".format(path, why))


def resolve_target(path):
    """Where saving to ``path`` writes, and the file there now (its stat, or None).

    The rule: a symlink is followed (to its final target, which gets the new
    model; the link stays a link); the target must be a regular file or not
    exist yet, in a folder that exists. Nothing is created.

    Raises
    ------
    OSError
        (FileNotFoundError, IsADirectoryError, NotADirectoryError,
        PermissionError, or OSError for a FIFO, device or socket) whose
        message names ``path``.

    Examples
    --------
    >>> resolve_target('/dev/null')
    Traceback (most recent call last):
    ...
    OSError: [Errno 22] cannot save to '/dev/null': it is a character device, not a regular file...
    """
    if not isinstance(path, str) or not path:
        raise _refuse(FileNotFoundError, errno.ENOENT, path, "the path is empty")
    target = os.path.realpath(path) if os.path.islink(path) else os.path.abspath(path)
    folder, name = os.path.split(target)
    if len(name.encode("utf8", "surrogateescape")) > _name_max(
        folder if os.path.isdir(folder) else "/"
    ):
        raise _refuse(
            OSError,
            errno.ENAMETOOLONG,
            path,
            "the file name is longer than the file system allows ({} bytes)".format(
                _name_max(folder)
            ),
        )
    try:
        info = os.stat(target)
    except FileNotFoundError:
        info = None
    except OSError as err:
        raise _error(err, path, "cannot look at it") from err
    if info is not None and not stat.S_ISREG(info.st_mode):
        if stat.S_ISDIR(info.st_mode):
            raise _refuse(IsADirectoryError, errno.EISDIR, path, "it is a directory")
        raise _refuse(
            OSError,
            errno.EINVAL,
            path,
            "it is {}, not a regular file; a model is saved only over a regular file".format(
                _kind(info.st_mode)
            ),
        )
    if info is None:
        if not os.path.isdir(folder):
            raise _refuse(
                FileNotFoundError,
                errno.ENOENT,
                path,
                "the folder {!r} does not exist".format(folder),
            )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise _refuse(
            PermissionError,
            errno.EACCES,
            path,
            "cannot create files in the folder {!r}".format(folder),
        )
    return target, info


def _kind(mode):
    for test, name in (
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def atomic_write(path, write):
    """Write a file atomically: to a temporary file, then renamed over the target.

    The rule (see :func:`resolve_target`): the target is ``path``, or the
    final target of a symlink ``path`` (the link stays); it must be a
    regular file or not exist. The temporary file is made in the target's
    folder (its name fitted within the folder's name limit), given the
    replaced file's mode and owner (or the mode a plain ``open`` would give),
    flushed to disk, then moved into place with :func:`os.replace`. A file
    with more than one hard link is instead rewritten in place from the
    finished temporary, so that every link sees the new content. If
    ``write`` raises, the temporary is removed and the file is left as it
    was. Temporaries that killed processes left are removed first
    (:func:`clear_stale_temporaries`).

    Parameters
    ----------
    path : str or path-like
        The file to write.
    write : callable
        ``write(handle)`` writes the content to a binary file handle.

    Raises
    ------
    OSError
        If the target is not a regular file, its folder does not exist or
        cannot be written, or the owner of the replaced file cannot be kept;
        the message names ``path``.

    Examples
    --------
    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> atomic_write(os.path.join(folder, 'x.bin'), lambda h: h.write(b'abc'))
    >>> os.listdir(folder)
    ['x.bin']
    """
    path = os.fspath(path)
    target, info = resolve_target(path)
    clear_stale_temporaries(target)
    try:
        fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(target), dir=os.path.dirname(target))
    except OSError as err:
        raise _error(err, path, "cannot create a temporary file beside it") from err
    try:
        _keep_owner_and_mode(tmp, info, path)
        with os.fdopen(fd, "wb") as raw:
            write(raw)
            raw.flush()
            os.fsync(raw.fileno())
        if info is not None and info.st_nlink > 1:
            _rewrite_in_place(tmp, target)
            os.unlink(tmp)
        else:
            os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _keep_owner_and_mode(tmp, info, path):
    if info is None:  # mkstemp made it private (0600): give it what open() would
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        return
    if hasattr(os, "chown") and (info.st_uid, info.st_gid) != (os.getuid(), os.getgid()):
        try:
            os.chown(tmp, info.st_uid, info.st_gid)
        except OSError as err:
            raise _error(
                err,
                path,
                "it belongs to user {} (group {}), and saving would make it yours".format(
                    info.st_uid, info.st_gid
                ),
            ) from err
    os.chmod(tmp, stat.S_IMODE(info.st_mode))


def _rewrite_in_place(tmp, target):
    with open(tmp, "rb") as source, open(target, "r+b") as dest:
        while True:
            chunk = source.read(1 << 20)
            if not chunk:
                break
            dest.write(chunk)
        dest.truncate()
        dest.flush()
        os.fsync(dest.fileno())


def file_label(filename_or_handle: Any) -> str:
    """How messages name a file: its path, or an open handle's ``name``.

    Examples
    --------
    >>> import io
    >>> file_label('model.npz'), file_label(io.BytesIO())
    ('model.npz', 'handle')
    """
    if hasattr(filename_or_handle, "read") or hasattr(filename_or_handle, "write"):
        return str(getattr(filename_or_handle, "name", "handle"))
    return os.fspath(filename_or_handle)


def check_names(model):
    r"""Raise ConfigurationError for a layer or parameter name a file cannot hold.

    Checked before anything is written: every name must be a non-empty
    string without NUL or other control characters.

    Examples
    --------
    >>> import theanets
    >>> net = theanets.Regressor([3, 4, 2])
    >>> net.layers[1].name = 'hid' + chr(0) + '1'
    >>> check_names(net)
    Traceback (most recent call last):
    ...
    theanets.util.ConfigurationError: cannot save a layer named 'hid\x001': ...
    """
    for what, names in (
        ("layer", [getattr(l, "name", None) for l in model.layers]),
        ("parameter", [getattr(p, "name", None) for p in model.params]),
    ):
        for name in names:
            if not isinstance(name, str) or not name or _BAD_NAME.search(name):
                raise util.ConfigurationError(
                    "cannot save a {} named {!r}: names must be non-empty strings without "
                    "NUL or other control characters; rename it first".format(what, name)
                )


def is_safe_file(filename_or_handle: Any) -> tuple[bool, Any]:
    """Whether a file starts like the safe format (a zip archive).

    Parameters
    ----------
    filename_or_handle : str, path-like or binary file handle
        A path must name a regular file; a seekable handle is left at the
        position it had.

    Returns
    -------
    (bool, source)
        The answer, and what to read the file from: the path, the handle, or
        (for an unseekable handle) an in-memory copy of its content, read
        within :data:`~theanets.serialize.limits.MAX_FILE_BYTES`.

    Examples
    --------
    >>> import io
    >>> is_safe_file(io.BytesIO(b'PK\x03\x04...'))[0]
    True
    """
    label = file_label(filename_or_handle)
    if not hasattr(filename_or_handle, "read"):
        handle, _ = reading.open_regular(filename_or_handle, label)
        with handle:
            return handle.read(len(ZIP_MAGIC)) == ZIP_MAGIC, os.fspath(filename_or_handle)
    handle = filename_or_handle
    if reading.stream_size(handle) is None:
        handle = io.BytesIO(reading.read_limited(handle, limits.MAX_FILE_BYTES, label))
    head = handle.read(len(ZIP_MAGIC))
    handle.seek(-len(head), 1)
    return head == ZIP_MAGIC, handle
