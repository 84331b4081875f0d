"""Numba's disk cache of the kernels, invalidated by a change to any of them.

Numba keys a cached function by its own source file's time stamp and size
only: a kernel that calls (or inlines) kernels of another file keeps its
machine code when that file changes. The FFI handlers of
:mod:`theanets.ops.lstm_ffi` compile in the kernels of
:mod:`theanets.ops.lstm` and the frame readers of :mod:`theanets.ops._ffi`,
so that an edit of either (or an installed update that changes one file
but not the other's stamp) would leave stale code running. Installed by
:func:`install` (on import of :mod:`theanets.ops.lstm_kernels` and
:mod:`theanets.ops.ffi_targets`, before their functions are decorated),
this module's locators stamp every function defined in ``theanets/ops``
with the stamps of all the package's sources, so that a change to any of
them recompiles them all.

They also keep the cache of each Numba and llvmlite version and each state
of the sources in a directory of its own (``theanets-numba<version>-
llvmlite<version>-<digest of the sources>`` inside Numba's cache directory).
Numba saves a function's index before its machine code: two Numba versions
(or two states of the sources) sharing one file name let a process read the
new index and the other version's bitcode in between, which LLVM cannot
parse ("Opaque pointers are only supported in -opaque-pointers mode": two
virtual environments on one source tree, or an upgrade of Numba, with
processes compiling at once). Directories of an earlier state of the
sources under the same versions are removed when a new one is made.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil

__all__ = [
    "NO_CACHE",
    "cache_directory",
    "caching",
    "directory_name",
    "ensure_directory",
    "install",
    "sources_stamp",
]

_HERE = os.path.dirname(os.path.abspath(__file__))


@functools.lru_cache(maxsize=1)
def sources_stamp() -> tuple[tuple[str, float, int], ...]:
    """``(name, mtime, size)`` of each Python source of ``theanets/ops``."""
    stamps = []
    for name in sorted(os.listdir(_HERE)):
        if name.endswith(".py"):
            st = os.stat(os.path.join(_HERE, name))
            stamps.append((name, st.st_mtime, st.st_size))
    return tuple(stamps)


def _versions_prefix() -> str:
    import llvmlite
    import numba

    return "theanets-numba{}-llvmlite{}-".format(numba.__version__, llvmlite.__version__)


@functools.lru_cache(maxsize=1)
def directory_name() -> str:
    """The name of the directory, inside Numba's cache directory, that holds
    the cache of this Numba, this llvmlite and these sources."""
    digest = hashlib.sha256(repr(sources_stamp()).encode()).hexdigest()[:16]
    return _versions_prefix() + digest


def _remove_earlier(base: str) -> None:
    """Remove the directories that ``base`` holds for other states of the
    sources under this Numba and llvmlite (never those of other versions:
    another environment may use them). A process still reading one finds
    its files gone and compiles again."""
    prefix, ours = _versions_prefix(), directory_name()
    try:
        names = os.listdir(base)
    except OSError:
        return
    for name in names:
        if name.startswith(prefix) and name != ours:
            shutil.rmtree(os.path.join(base, name), ignore_errors=True)


def _probe(x):
    return x


#: What a process without a writable cache directory is told.
NO_CACHE = (
    "Numba has no writable directory to keep theanets' compiled kernels in "
    "(NUMBA_CACHE_DIR, the user's cache directory and the package's own "
    "__pycache__ are not writable): each process compiles the fused LSTM's "
    "and GRU's kernels again when it first needs them (13-26 s a recurrence "
    "and float type); set NUMBA_CACHE_DIR to a writable directory to keep them"
)


@functools.lru_cache(maxsize=1)
def _cached_probe():
    """A function of ``theanets/ops`` declared with ``cache=True`` (never
    compiled: its cache knows where the ops' functions are kept), or None
    where Numba has no writable cache directory for them (said once, with
    :data:`NO_CACHE`)."""
    import logging

    import numba

    from .. import util

    install()
    try:
        return numba.njit(cache=True)(_probe)
    except RuntimeError as error:
        if "no locator available" not in str(error):
            raise
        util.say("theanets.ops", NO_CACHE, level=logging.WARNING)
        return None


def caching() -> bool:
    """Whether Numba can keep the ops' compiled functions on disk here: the
    value of ``cache=`` for their decorators.

    Numba refuses to decorate a function with ``cache=True`` where no
    cache directory is writable (``RuntimeError: cannot cache function
    ...: no locator available``: a read-only install with a read-only home
    and ``NUMBA_CACHE_DIR``), which would make every recurrent model
    unusable. There, they compile in each process instead, and a warning
    says so (once, with :data:`NO_CACHE`).
    """
    return _cached_probe() is not None


def cache_directory() -> str | None:
    """The directory Numba keeps the ops' functions in, or None where it
    keeps none or this Numba's private cache API is not the one known here."""
    probe = _cached_probe() if install() else None
    path = getattr(getattr(probe, "_cache", None), "_cache_path", None)
    return path if isinstance(path, str) else None


def ensure_directory(path: str) -> None:
    """Make the cache directory ``path`` (one of :func:`directory_name`) as
    Numba would: the directories of earlier states of the sources go first."""
    if not os.path.isdir(path):
        _remove_earlier(os.path.dirname(path))
        os.makedirs(path, exist_ok=True)


def _ours(py_file: str) -> bool:
    return os.path.dirname(os.path.abspath(py_file)) == _HERE


def _stamped(locator: type) -> type:
    """``locator`` for the functions of ``theanets/ops`` only, stamped with all their sources."""

    class Stamped(locator):
        @classmethod
        def from_function(cls, py_func, py_file):
            if not _ours(py_file):
                return None
            return super().from_function(py_func, py_file)

        def get_source_stamp(self):
            return (super().get_source_stamp(), sources_stamp())

        def get_cache_path(self):
            return os.path.join(super().get_cache_path(), directory_name())

        def ensure_cache_path(self):
            ensure_directory(self.get_cache_path())
            super().ensure_cache_path()

    Stamped.__name__ = Stamped.__qualname__ = "TheanetsOps" + locator.__name__.lstrip("_")
    return Stamped


def install() -> bool:
    """Put the stamped locators first in Numba's list (once); False where
    this Numba's private cache API is not the one known here."""
    from numba.core import caching

    impl = getattr(caching, "CacheImpl", None) or getattr(caching, "_CacheImpl", None)
    mixin = getattr(caching, "_SourceFileBackedLocatorMixin", None)
    locators = getattr(impl, "_locator_classes", None)
    if impl is None or mixin is None or not isinstance(locators, list):
        return False
    if any(c.__name__.startswith("TheanetsOps") for c in locators):
        return True
    backed = [c for c in locators if issubclass(c, mixin)]
    locators[:0] = [_stamped(c) for c in backed]
    return True
