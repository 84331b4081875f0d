'''Writing and opening files: atomic writes, stale temporaries, format sniffing.'''

import hashlib
import io
import os
import re
import socket
import tempfile

from .. import util

__all__ = ['atomic_write', 'clear_stale_temporaries', 'file_label', 'is_safe_file']

#: The first bytes of a zip archive (and so of every file in the safe format).
ZIP_MAGIC = b'PK\x03\x04'

#: Deflate compresses at most about 1032:1; anything claiming more is corrupt.
MAX_DEFLATE_RATIO = 1100


def is_handle(filename_or_handle):
    '''True for an open file (anything with ``read`` or ``write``), False for a path.'''
    return hasattr(filename_or_handle, 'read') or hasattr(filename_or_handle, 'write')


# Temporaries are named '.<file name>.tmp-<host>-<pid>-<random>': a later save
# of the same path removes those of processes of this host that have died.
_HOST = hashlib.md5(socket.gethostname().encode('utf8')).hexdigest()[:8]


def _temp_prefix(path):
    return '.{}.tmp-{}-{}-'.format(os.path.basename(path), _HOST, os.getpid())


def _pid_alive(pid):
    '''Whether process ``pid`` may still run (True when it cannot be told).'''
    if os.name != 'posix':
        return True  # on Windows os.kill(pid, 0) would interrupt the process
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # someone else's live process, or not a pid we can ask about
    return True


def clear_stale_temporaries(path):
    '''Remove temporaries of ``path`` left by saves that were killed.

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
    '''
    path = os.path.abspath(os.fspath(path))
    folder, name = os.path.split(path)
    pattern = re.compile(r'\.{}\.tmp-{}-(\d+)-[A-Za-z0-9_]+\Z'.format(re.escape(name), _HOST))
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
            util.log('could not remove stale temporary {}: {}', entry, err)
            continue
        removed.append(os.path.join(folder, entry))
        util.log('removed stale temporary {}', os.path.join(folder, entry))
    return removed


def atomic_write(path, write):
    '''Write a file atomically: to a temporary file, then renamed over ``path``.

    The temporary file is made in the folder of ``path``, flushed to disk,
    then moved into place with :func:`os.replace`; if ``write`` raises, the
    temporary file is removed and ``path`` is left as it was. Temporaries
    that killed processes left for ``path`` are removed first
    (:func:`clear_stale_temporaries`).

    Parameters
    ----------
    path : str or path-like
        The file to write.
    write : callable
        ``write(handle)`` writes the content to a binary file handle.

    Examples
    --------
    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> atomic_write(os.path.join(folder, 'x.bin'), lambda h: h.write(b'abc'))
    >>> os.listdir(folder)
    ['x.bin']
    '''
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    clear_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(path), dir=folder)
    try:
        # mkstemp makes the file private (0600); give it the mode a plain
        # open() would: the replaced file's, else 0666 less the umask.
        os.chmod(tmp, _file_mode(path))
        with os.fdopen(fd, 'wb') as raw:
            write(raw)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _file_mode(path):
    '''Permission bits for a new file at ``path``.'''
    if os.path.exists(path):
        return os.stat(path).st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def file_label(filename_or_handle):
    '''How messages name a file: its path, or an open handle's ``name``.

    Examples
    --------
    >>> import io
    >>> file_label('model.npz'), file_label(io.BytesIO())
    ('model.npz', 'handle')
    '''
    if hasattr(filename_or_handle, 'read') or hasattr(filename_or_handle, 'write'):
        return str(getattr(filename_or_handle, 'name', 'handle'))
    return os.fspath(filename_or_handle)


def _peek(handle, size):
    '''The first ``size`` bytes of an open file, and a handle still at its start.

    A seekable handle is rewound; an unseekable one is read into memory.
    '''
    seekable = getattr(handle, 'seekable', None)
    if seekable is not None and seekable():
        pos = handle.tell()
        head = handle.read(size)
        handle.seek(pos)
        return head, handle
    data = handle.read()
    return data[:size], io.BytesIO(data)


def is_safe_file(filename_or_handle):
    '''Whether a file starts like the safe format (a zip archive).

    Parameters
    ----------
    filename_or_handle : str, path-like or binary file handle
        A handle is left at the position it had.

    Returns
    -------
    (bool, source)
        The answer, and what to read the file from: the path, the handle, or
        (for an unseekable handle) an in-memory copy of its content.
    '''
    if hasattr(filename_or_handle, 'read'):
        head, source = _peek(filename_or_handle, len(ZIP_MAGIC))
    else:
        source = os.fspath(filename_or_handle)
        with open(source, 'rb') as handle:
            head = handle.read(len(ZIP_MAGIC))
    return head == ZIP_MAGIC, source


def file_size(handle):
    '''The number of bytes from a seekable handle's position to its end.'''
    pos = handle.tell()
    end = handle.seek(0, os.SEEK_END)
    handle.seek(pos)
    return end - pos
