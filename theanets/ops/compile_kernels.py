"""The fused recurrences' handlers compiled in a process of their own.

Compiling the FFI handlers of one fused recurrence for one dtype (the Numba
kernels and the two C functions XLA calls) takes 13-26 s; Numba's disk cache
keeps them for every later process. A first training call that waited for
them would wait that long once after each install, upgrade or edit of the
kernels. Instead, where they are not in the cache (:func:`cached`),
:class:`~theanets.ops.ffi_targets.Pair` starts this module as a background
process (:func:`start`), the program being traced computes the recurrence
in XLA operations meanwhile, and the program is traced again with the
handlers at its first call after the process is done (theanets' JAX
linker does that). The process goes on after its parent ends, so
that the next run finds the handlers cached; the first run after an
install computes its first updates on one path and the rest on the other,
so its last bits differ from a later run's.

``THEANETS_KERNELS=wait`` (or ``THEANETS_JAX_RECURRENCE=ffi``) compiles
them in the calling process when a program first needs them instead: the
test suite and the benchmarks' speed figures set it, so that what they
check or measure runs one path.

From the command line, ``python -m theanets.ops.compile_kernels`` compiles
every handler (each recurrence and dtype, on one thread and on several),
for a machine to have them before its first run; ``python -m
theanets.ops.compile_kernels lstm float32 [threaded]`` compiles one pair,
as the background process does.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator

from .. import util
from . import _numba_cache

__all__ = ["ENV_VAR", "FAMILIES", "MODES", "Job", "cached", "in_background", "join", "start"]

#: The environment variable saying where missing handlers are compiled.
ENV_VAR = "THEANETS_KERNELS"
#: Its values: in a background process (the default), or in the calling one.
MODES = ("background", "wait")

#: Each fused recurrence's name and the module holding its ``PAIR``.
FAMILIES = {"lstm": "theanets.ops.lstm_ffi", "gru": "theanets.ops.gru_ffi"}
#: The dtypes they are compiled for.
DTYPES = ("float32", "float64")

#: The background processes this process started (see :func:`join`).
_STARTED: list[Job] = []


def mode() -> str:
    """``THEANETS_KERNELS``: ``'background'`` (unset or empty) or ``'wait'``.

    Raises
    ------
    ValueError
        For another value.
    """
    return util.env_choice(ENV_VAR, MODES)


def in_background() -> bool:
    """Whether handlers not in the cache are compiled by a background
    process: ``THEANETS_KERNELS`` is not ``wait`` and
    ``THEANETS_JAX_RECURRENCE`` does not force the handlers (``ffi``)."""
    from . import xla_lstm

    return mode() == "background" and xla_lstm.requested() != "ffi"


def directory() -> str | None:
    """The directory of Numba's cache holding the ops' functions (one per
    Numba version, llvmlite version and state of the sources: see
    :mod:`theanets.ops._numba_cache`), or None where this Numba's private
    cache API is not the one known here (nothing is compiled in the
    background then)."""
    return _numba_cache.cache_directory()


@functools.lru_cache(maxsize=1)
def _host() -> str:
    # Numba's cache keys machine code by the CPU it was compiled for: a cache
    # directory shared by two machines has markers for each
    try:
        from numba.core.registry import cpu_target

        magic = cpu_target.target_context.codegen().magic_tuple()
    except Exception:  # another Numba: one marker for every CPU
        return "cpu"
    return hashlib.sha256(repr(magic).encode()).hexdigest()[:12]


def _stem(family: str, dtype: str, threaded: bool) -> str:
    return "{}-{}-{}-{}".format(family, dtype, "threaded" if threaded else "single", _host())


def _marker(family: str, dtype: str, threaded: bool) -> str | None:
    path = directory()
    return None if path is None else os.path.join(path, _stem(family, dtype, threaded) + ".ready")


def cached(family: str, dtype: str, threaded: bool) -> bool:
    """Whether a process has made the handlers of ``family`` for ``dtype``
    (on several threads or one) with this cache: loading them takes a
    fraction of a second."""
    path = _marker(family, dtype, threaded)
    return path is not None and os.path.exists(path)


def mark(family: str, dtype: str, threaded: bool) -> None:
    """Record that the handlers are in the cache (called once they are made)."""
    path = _marker(family, dtype, threaded)
    if path is None:
        return
    with contextlib.suppress(OSError):  # a read-only cache: the next run compiles again
        _numba_cache.ensure_directory(os.path.dirname(path))
        with open(path, "w") as handle:
            handle.write("made by process {}\n".format(os.getpid()))


@contextlib.contextmanager
def compiling_here(family: str, dtype: str, threaded: bool) -> Iterator[None]:
    """Say that the handlers of ``family`` for ``dtype`` are compiled in this
    process (a first call waits for them), and when they are done."""
    kept = _numba_cache.caching()
    util.say(
        "theanets.ops",
        "compiling the fused {} kernels ({}{}) in this process ({})".format(
            family.upper(),
            dtype,
            ", threaded" if threaded else "",
            "once for this install, 13-26 s"
            if kept
            else "13-26 s, in every process: Numba can keep nothing here",
        ),
    )
    started = time.time()
    yield
    util.say(
        "theanets.ops",
        "compiled the fused {} kernels ({}) in {:.0f} s".format(
            family.upper(), dtype, time.time() - started
        ),
    )


class Job:
    """A background process compiling one pair of handlers.

    Parameters
    ----------
    family, dtype, threaded
        What it compiles.
    process : subprocess.Popen
        The process.
    log : str
        The file its output goes to.
    """

    def __init__(self, family, dtype, threaded, process, log):
        self.family, self.dtype, self.threaded = family, dtype, threaded
        self.process = process
        self.log = log
        self.returncode: int | None = None
        self.started = time.time()

    def ready(self) -> bool:
        """Whether the process is done (a non-blocking check, made at every
        call of a program that waits for it). Where it failed, a warning
        says why, and the calling process compiles the handlers itself."""
        if self.returncode is None:
            code = self.process.poll()
            if code is None:
                return False
            self._finish(code)
        return True

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the process, at most ``timeout`` seconds; whether it is done."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout)
        return self.ready()

    def _finish(self, code: int) -> None:
        self.returncode = code
        if code == 0:
            util.say(
                "theanets.ops",
                "the fused {} kernels ({}) are compiled ({:.0f} s): computing with them "
                "from the next update".format(
                    self.family.upper(), self.dtype, time.time() - self.started
                ),
            )
        else:
            try:
                with open(self.log) as handle:
                    tail = handle.read().strip().splitlines()[-5:]
            except OSError:
                tail = []
            util.say(
                "theanets.ops",
                "compiling the fused {} kernels ({}) in the background failed (exit "
                "code {}): compiling them here instead{}".format(
                    self.family.upper(),
                    self.dtype,
                    code,
                    "".join("\n  " + line for line in tail),
                ),
                level=logging.WARNING,
            )


def _command(family: str, dtype: str, threaded: bool) -> list[str]:
    """The background process's command: this module's :func:`main`, from
    this theanets (a source tree or a directory that a script put on
    ``sys.path`` goes first on the child's path; an install is found there
    as usual, without putting its directory ahead of the standard library),
    niced before its first import, so that it runs behind the training
    process's work where they share the cores."""
    parent = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    first = [] if os.path.basename(parent) in ("site-packages", "dist-packages") else [parent]
    code = (
        "import os, sys; getattr(os, 'nice', abs)(10); sys.path[:0] = {!r}; "
        "from theanets.ops.compile_kernels import main; sys.exit(main({!r}))"
    ).format(first, [family, dtype] + (["threaded"] if threaded else []))
    return [sys.executable, "-c", code]


def start(family: str, dtype: str, threaded: bool) -> Job | None:
    """Start the background process compiling the handlers of ``family`` for
    ``dtype`` (on several threads or one), and say so; None where it cannot
    be started (no known cache directory, or no process)."""
    path = directory()
    if path is None:
        return None
    log = os.path.join(path, _stem(family, dtype, threaded) + ".log")
    try:
        _numba_cache.ensure_directory(path)
        with open(log, "w") as output:
            process = subprocess.Popen(
                _command(family, dtype, threaded),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                # a process group of its own: not stopped by the parent's
                # Ctrl-C or end; in the parent's session, so that its nice
                # value counts against the parent's work (Linux shares the
                # CPU evenly between sessions, whatever their nice values)
                process_group=0,
                env=dict(os.environ, **{ENV_VAR: "wait"}),
            )
    except OSError:
        return None
    job = Job(family, dtype, threaded, process, log)
    _STARTED.append(job)
    util.say(
        "theanets.ops",
        "compiling the fused {} kernels ({}{}) in a background process, once for this "
        "install (15-30 s); until they are ready the recurrence runs as XLA's loop".format(
            family.upper(), dtype, ", threaded" if threaded else ""
        ),
    )
    return job


def join(timeout: float | None = None) -> bool:
    """Wait for the background processes this process started; whether all are done."""
    return all([job.wait(timeout) for job in list(_STARTED)])


@contextlib.contextmanager
def _locked(path: str) -> Iterator[None]:
    """Hold the cache directory's compile lock: processes started at once
    (workers of a grid search, say) compile one after the other, and the
    later ones find the handlers made."""
    _numba_cache.ensure_directory(path)
    with open(os.path.join(path, "compile.lock"), "a") as handle:
        try:
            import fcntl
        except ImportError:  # no flock (Windows): they compile side by side
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def compile_pair(family: str, dtype: str, threaded: bool) -> str:
    """Make (compile, or load from the cache) and mark the handlers of
    ``family`` for ``dtype``, under the cache directory's lock.

    Returns
    -------
    str
        ``'compiled'``, ``'cached'`` (another process made them), or
        ``'unavailable'`` (this platform has none: see
        :meth:`~theanets.ops.ffi_targets.Pair.make`).
    """
    pair = importlib.import_module(FAMILIES[family]).PAIR
    path = directory()
    with _locked(path) if path is not None else contextlib.nullcontext():
        if cached(family, dtype, threaded):
            return "cached"
        return "unavailable" if pair.make(dtype, threaded) is None else "compiled"


def main(argv: list[str] | None = None) -> int:
    """The command line: ``[FAMILY DTYPE [threaded]]``; every pair without arguments."""
    argv = sys.argv[1:] if argv is None else argv
    usage = "usage: python -m theanets.ops.compile_kernels [{{{}}} {{{}}} [threaded]]".format(
        ",".join(FAMILIES), ",".join(DTYPES)
    )
    if argv and (
        len(argv) not in (2, 3)
        or argv[0] not in FAMILIES
        or argv[1] not in DTYPES
        or argv[2:] not in ([], ["threaded"])
    ):
        print(usage, file=sys.stderr)
        return 2
    if argv:
        pairs = [(argv[0], argv[1], len(argv) == 3)]
    else:
        pairs = [(f, d, t) for f in FAMILIES for d in DTYPES for t in (False, True)]
    for family, dtype, threaded in pairs:
        started = time.time()
        result = compile_pair(family, dtype, threaded)
        print(
            "{} {} {}: {} ({:.1f} s)".format(
                family, dtype, "threaded" if threaded else "single", result, time.time() - started
            ),
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
