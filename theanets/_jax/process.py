"""Process-wide settings made once before JAX's CPU backend starts: XLA's
threads, glibc's malloc thresholds, JAX's persistent compile cache, and the
guard against calling JAX in a forked child."""

from __future__ import annotations

import ctypes
import os

import pytensor

__all__ = ["ForkedJAXError", "check_not_forked", "prepare_process"]

# Set once a JAX function has run in this process, and in a child forked
# after that: JAX's runtime threads do not survive a fork, and a child that
# called into it hung for ever.
_JAX_STARTED: list[bool] = []
_FORKED: list[bool] = []


class ForkedJAXError(RuntimeError):
    """A JAX-compiled function was called in a process forked after JAX started."""


def _note_fork_in_child() -> None:
    if _JAX_STARTED:
        _FORKED.append(True)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_note_fork_in_child)


def check_not_forked() -> None:
    """Raise :class:`ForkedJAXError` in a child forked after JAX started here;
    otherwise note that JAX has started.

    Raises
    ------
    ForkedJAXError
        In such a child, where JAX would hang.
    """
    if _FORKED:
        raise ForkedJAXError(
            'this process was forked (multiprocessing\'s "fork" start method, '
            "os.fork) after JAX had started in its parent, and JAX cannot run in "
            "such a child: it would hang. Start the workers with "
            'multiprocessing.get_context("spawn") or "forkserver" (or '
            "concurrent.futures.ProcessPoolExecutor(mp_context=...)), or compile "
            "with PYTENSOR_FLAGS=mode=NUMBA"
        )
    if not _JAX_STARTED:
        _JAX_STARTED.append(True)


def _few_cores_xla_flags() -> None:
    """On at most two cores, run XLA's Eigen kernels on one thread.

    XLA runs its convolutions (and some products) with Eigen's own threads,
    besides splitting its loops over its threads; on two cores they compete.
    Measured on two cores, the small convolution classifier of the
    benchmarks takes 1.3 ms a step instead of 1.8 ms with
    ``--xla_cpu_multi_thread_eigen=false`` (the autoencoder 1.18 instead of
    1.25 ms; the classifier, the LSTM and all of them on one core are
    unchanged). Machines with more cores keep XLA's default, as does a user
    whose ``XLA_FLAGS`` names the flag. It only takes effect if JAX's CPU
    backend has not been started yet in this process.
    """
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_cpu_multi_thread_eigen" in flags:
        return
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    if cores <= 2:
        os.environ["XLA_FLAGS"] = (flags + " --xla_cpu_multi_thread_eigen=false").strip()


# glibc's mallopt parameters, and the values set (see _keep_large_buffers)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_THRESHOLD = 32 * 2**20
_TRIM_THRESHOLD = 64 * 2**20
_MALLOC_SET: list[bool] = []


def _keep_large_buffers() -> bool:
    """Have glibc's malloc keep freed large blocks for reuse.

    glibc gives a block above its mmap threshold fresh pages from the kernel
    and hands them back when it is freed; the threshold starts at 128 KiB
    and rises only when such a block is freed, so it depends on what the
    process allocated before. XLA's temporary buffers (megabytes for a
    convolution) were then page-faulted anew on every call in some
    processes: a step of the convolution classifier of the benchmarks took
    7 ms instead of 1.9 ms, in about half of the processes that read it from
    the compile cache. A fixed threshold of 32 MiB (the most glibc would
    rise to) and a trim threshold of 64 MiB keep such buffers in the heap.
    Left alone if the user set ``MALLOC_MMAP_THRESHOLD_``,
    ``MALLOC_TRIM_THRESHOLD_`` or ``GLIBC_TUNABLES``, and on other C
    libraries. Returns True if the thresholds were set.
    """
    if _MALLOC_SET:
        return _MALLOC_SET[0]
    done = False
    named = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES")
    if not any(name in os.environ for name in named):
        try:
            libc = ctypes.CDLL(None)
            mallopt = libc.mallopt
        except (OSError, AttributeError, TypeError):  # not glibc (or no C library)
            mallopt = None
        if mallopt is not None and hasattr(libc, "gnu_get_libc_version"):
            done = bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)) and bool(
                mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD)
            )
    _MALLOC_SET.append(done)
    return done


def _use_persistent_cache() -> None:
    import jax

    if (
        jax.config.jax_compilation_cache_dir is None  # type: ignore[attr-defined]
        and "JAX_COMPILATION_CACHE_DIR" not in os.environ
    ):
        path = os.path.join(os.fspath(pytensor.config.base_compiledir), "jax")
        jax.config.update("jax_compilation_cache_dir", path)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.1)


def prepare_process() -> None:
    """Make the settings above (each only once, and only where the user made none)."""
    _few_cores_xla_flags()
    _keep_large_buffers()
    _use_persistent_cache()
