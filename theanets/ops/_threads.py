"""Running a compiled kernel on several threads, with BLAS on one.

The fused LSTM's kernels (:mod:`theanets.ops.lstm`) make one small matrix
product per step; on several BLAS threads those wait for each other more
than they compute. So while a kernel runs, BLAS runs on one thread and the
kernel itself is split over threads (slices of the batch, which are
independent): :func:`one_blas_thread` sets the limit (process-wide, shared
by kernels running at once) and says how many threads the kernel may use,
:func:`run` calls the pieces in a pool's threads, :func:`split` cuts a range
into nearly equal pieces.
"""

import concurrent.futures
import contextlib
import ctypes
import os
import threading
from typing import Any

__all__ = ["blas_threads", "one_blas_thread", "run", "split", "cores"]

_BLAS: list[Any] = []  # (get, set, per_thread) of each BLAS library, found once
# the one limit in force while any kernel runs: its depth and the thread
# counts it replaced (kernels may run at once: a bidirectional layer's two)
_LIMIT: dict[str, Any] = dict(depth=0, saved=[])
_LIMIT_LOCK = threading.Lock()


def _openblas_function(path, name):
    """OpenBLAS's ``openblas_NAME`` in the library at ``path`` (already
    loaded), under the prefixes and suffixes of its builds, or None."""
    try:
        library = ctypes.CDLL(path)
    except OSError:
        return None
    for prefix in ("openblas_", "scipy_openblas_"):
        for suffix in ("", "64_", "_64"):
            function = getattr(library, prefix + name + suffix, None)
            if function is not None:
                return function
    return None


def _blas_controls():
    """``(get, set, per_thread)`` for each BLAS library loaded (those of
    numpy and of scipy, which the kernels call).

    OpenBLAS without OpenMP has one thread count for the whole process, set
    here through its own functions: threadpoolctl (from 3.8) lets only the
    first thread that set it change it, so that limits set from XLA's
    callback threads were silently ignored and the kernels' products ran on
    BLAS threads that then spun beside the kernels' own (measured on two
    cores: the benchmarks' LSTM at 41 ms a step against 23 ms on one core).
    Other libraries go through threadpoolctl; those whose count is per
    thread (OpenMP) are set in each thread that runs a kernel.
    """
    import scipy.linalg.cython_blas  # noqa: F401 (the BLAS the kernels call)
    import threadpoolctl

    controls = []
    for lib in threadpoolctl.ThreadpoolController().select(user_api="blas").lib_controllers:
        per_thread = getattr(lib, "threading_layer", None) == "openmp"
        get = set_ = None
        if lib.internal_api == "openblas" and not per_thread:
            get = _openblas_function(lib.filepath, "get_num_threads")
            set_ = _openblas_function(lib.filepath, "set_num_threads")
        if get is None or set_ is None:
            get, set_ = lib.get_num_threads, lib.set_num_threads
        controls.append((get, set_, per_thread))
    return controls


@contextlib.contextmanager
def one_blas_thread():
    """A context running the BLAS libraries on one thread; it gives the number
    of threads the kernels may use instead: as many as BLAS had (what
    ``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS`` or threadpoolctl set), at
    most one per core this process may run on.

    The kernels make many small products (one per step): on several BLAS
    threads they wait for each other more than they compute, and more so when
    called back from XLA's own threads (measured with the benchmarks' LSTM on
    two cores: 59 ms a step against 20 ms on one BLAS thread). Splitting the
    batch between threads instead needs no wait but at the end (the examples
    are independent). The limit is process-wide: nested or concurrent uses
    share one, lifted when the last ends.
    """
    with _LIMIT_LOCK:
        if not _BLAS:
            _BLAS.extend(_blas_controls())
        if _LIMIT["depth"] == 0:
            _LIMIT["saved"] = [get() for get, _, _ in _BLAS]
            for _, set_, per_thread in _BLAS:
                if not per_thread:
                    set_(1)
        _LIMIT["depth"] += 1
        threads = max([count for count in _LIMIT["saved"] if count] or [1])
    try:
        with _one_blas_thread_here():
            yield max(1, min(threads, cores()))
    finally:
        with _LIMIT_LOCK:
            _LIMIT["depth"] -= 1
            if _LIMIT["depth"] == 0:
                for (_, set_, per_thread), count in zip(_BLAS, _LIMIT["saved"], strict=True):
                    if not per_thread and count:
                        set_(count)


def blas_threads():
    """The number of threads :func:`one_blas_thread` would give the kernels now."""
    with _LIMIT_LOCK:
        if not _BLAS:
            _BLAS.extend(_blas_controls())
        counts = _LIMIT["saved"] if _LIMIT["depth"] else [get() for get, _, _ in _BLAS]
    return max(1, min(max([count for count in counts if count] or [1]), cores()))


@contextlib.contextmanager
def _one_blas_thread_here():
    """One BLAS thread for the libraries whose count is per thread, in this thread."""
    saved = [(set_, get()) for get, set_, per_thread in _BLAS if per_thread]
    for set_, _ in saved:
        set_(1)
    try:
        yield
    finally:
        for set_, count in saved:
            if count:
                set_(count)


def cores():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


_POOL: list[concurrent.futures.ThreadPoolExecutor] = []

if hasattr(os, "register_at_fork"):
    # a forked child has none of the pool's threads, and an executor that
    # believes it has them would never run what it is given: a new one there
    os.register_at_fork(after_in_child=_POOL.clear)


def run(tasks):
    """Call the functions ``tasks``, the first in this thread and the others
    in a pool's threads (the kernels release the GIL); return when all have
    (at once for none: an empty range splits into no pieces)."""
    if not tasks:
        return
    if len(tasks) > 1:
        tasks = [tasks[0]] + [_in_one_blas_thread(task) for task in tasks[1:]]
        with _LIMIT_LOCK:
            if not _POOL or _POOL[0]._max_workers < len(tasks) - 1:
                _POOL.insert(
                    0,
                    concurrent.futures.ThreadPoolExecutor(
                        max_workers=len(tasks) - 1, thread_name_prefix="theanets-lstm"
                    ),
                )
            pool = _POOL[0]
        futures = [pool.submit(task) for task in tasks[1:]]
    else:
        futures = []
    try:
        tasks[0]()
    finally:
        for future in futures:
            future.result()


def _in_one_blas_thread(task):
    def run():
        with _one_blas_thread_here():
            task()

    return run


def split(size, parts, multiple=1):
    """``parts`` ranges ``(lo, hi)`` covering ``range(size)``, of nearly equal
    sizes, their ends multiples of ``multiple`` (none for an empty range)."""
    multiple = max(1, multiple)
    units = size // multiple
    bounds = [multiple * (units * k // parts) for k in range(parts)] + [size]
    return [(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:], strict=True) if hi > lo]
