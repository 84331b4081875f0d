"""The fused recurrences' XLA foreign functions: made, registered and chosen.

Each fused recurrence (:mod:`theanets.ops.lstm_ffi`, :mod:`theanets.ops.gru_ffi`)
has a :class:`Pair` of handlers, forwards and backwards, for each dtype and
for one thread or several. They are compiled (or loaded from Numba's cache)
and registered with XLA the first time a graph needs them, or, where they
are not cached and a program being traced can do without them for a while,
compiled by a background process (:mod:`theanets.ops.compile_kernels`)
while the program computes the recurrence in XLA operations; where XLA refuses
them, or its FFI layout is not the one read here (another major version of
the C API jaxlib ships), :meth:`Pair.targets` is None and the host callback serves
(``THEANETS_JAX_RECURRENCE=callback`` asks for it too).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable

import numba
import numpy as np
from numba import types

from . import _ffi, _numba_cache, _threads, compile_kernels
from .compile_kernels import Job

# before _launch is cached (see theanets.ops._numba_cache)
_numba_cache.install()

__all__ = ["HANDLER", "MIN_ROWS", "Pair", "parts", "skip"]

#: Rows of the batch each thread takes at least (as the callback path's split).
MIN_ROWS = 16

#: The signature of a handler: ``XLA_FFI_Error* handler(XLA_FFI_CallFrame*)``.
HANDLER = types.voidptr(types.voidptr)

# The API version answered where XLA's metadata query does not carry its own
# (compiled into the cached handlers: a stale one only makes XLA refuse them,
# and the host callback serve).
_MAJOR, _MINOR = _ffi.api_version() or (0, 0)


@numba.njit(inline="always")
def skip(frame):
    """True for a call that computes nothing: XLA's metadata query (answered)
    or a stage other than execution."""
    return _ffi.answered_metadata(frame, _MAJOR, _MINOR) or not _ffi.executing(frame)


class Pair:
    """The forward and backward FFI targets of one fused recurrence.

    Parameters
    ----------
    family : str
        The recurrence's name in the targets' names (``theanets_<family>_...``).
    makers : dict
        ``(dtype name, threaded)`` to a function that compiles the two
        handlers (``numba.cfunc`` of :data:`HANDLER`). Those on several
        threads take the number of parts as the call's attribute ``parts``.
    """

    def __init__(self, family: str, makers: dict[tuple[str, bool], Callable]) -> None:
        if family not in compile_kernels.FAMILIES:
            raise ValueError("no module of compile_kernels.FAMILIES holds {!r}".format(family))
        self.family = family
        self.makers = makers
        self._names: dict[tuple[str, bool], tuple[str, str] | None] = {}
        self._lock = threading.Lock()
        self._keep: list = []  # XLA holds the handlers' addresses: keep them alive
        self._jobs: dict[tuple[str, bool], Job | None] = {}

    def targets(self, dtype, threaded=False, wait=True) -> tuple[str, str] | Job | None:
        """The names of the forward and backward FFI targets for ``dtype``, on
        several threads or one (registered with XLA on first use), or None
        where they cannot be.

        Where the handlers are not in Numba's cache and ``wait`` is False,
        a background process compiles them (see
        :mod:`theanets.ops.compile_kernels`) and, until it is done, the
        answer is its :class:`~theanets.ops.compile_kernels.Job`.
        """
        key = (np.dtype(dtype).name, bool(threaded))
        with self._lock:
            if key not in self._names:
                job = None if wait else self._background(*key)
                if job is not None and not job.ready():
                    return job
                self._names[key] = self._register(*key)
            return self._names[key]

    def _usable(self, dtype, threaded) -> bool:
        if _ffi.api_version() is None or (dtype, threaded) not in self.makers:
            return False
        return not threaded or _threadsafe_numba()  # also starts the threading layer

    def _background(self, dtype, threaded) -> Job | None:
        """The background process compiling the handlers, started on first
        use; None where they are cached (or unusable here) or no process
        can be started."""
        key = (dtype, threaded)
        if key not in self._jobs:
            self._jobs[key] = None
            if (
                compile_kernels.in_background()
                and self._usable(dtype, threaded)
                and not compile_kernels.cached(self.family, dtype, threaded)
            ):
                self._jobs[key] = compile_kernels.start(self.family, dtype, threaded)
        return self._jobs[key]

    def make(self, dtype, threaded=False) -> tuple | None:
        """Compile the handlers for ``dtype`` (or load them from Numba's
        cache) and mark them as cached where no marker says so yet (see
        :func:`theanets.ops.compile_kernels.cached`); None where they
        cannot be made here."""
        if not self._usable(dtype, threaded):
            return None
        if compile_kernels.cached(self.family, dtype, threaded):
            return self.makers[dtype, threaded]()  # loaded from the cache
        # compiled here (what a first call waits for: say so)
        with compile_kernels.compiling_here(self.family, dtype, threaded):
            handlers = self.makers[dtype, threaded]()
        compile_kernels.mark(self.family, dtype, threaded)
        return handlers

    def _register(self, dtype, threaded):
        handlers = self.make(dtype, threaded)
        if handlers is None:
            return None
        suffix = dtype + ("_threaded" if threaded else "")
        names = tuple(
            "theanets_{}_{}_{}".format(self.family, part, suffix)
            for part in ("forward", "backward")
        )
        try:
            for name, handler in zip(names, handlers, strict=True):
                _ffi.register(name, handler)
        except Exception:  # an XLA that refuses them: the host callback serves
            return None
        self._keep.extend(handlers)
        return names

    def choose(self, dtype, batch: int, wait=True) -> tuple[tuple[str, str] | Job | None, int]:
        """The FFI targets for ``dtype`` and a batch of ``batch`` examples and
        the number of threads they run on: ``(None, 1)`` where there are none,
        and a :class:`~theanets.ops.compile_kernels.Job` instead of names
        where ``wait`` is False and they are being compiled (see :meth:`targets`).

        Where the handlers split the work over threads, or the batch is too
        small to split (its products are small: on several BLAS threads they
        wait for each other more than they compute, the character model's
        step at 223 steps/s on two threads against 296 on one BLAS thread),
        every later call of a compiled program runs with BLAS on one thread.
        """
        count = parts(batch)
        names = self.targets(dtype, threaded=True, wait=wait) if count > 1 else None
        if names is None:
            count, names = 1, self.targets(dtype, wait=wait)
        if isinstance(names, Job):
            return names, count
        if (
            names is not None
            and (count > 1 or batch < 2 * MIN_ROWS)
            and _threads.blas_threads() > 1
        ):
            from .._jax import linker

            linker.around_calls(_threads.one_blas_thread)
        return names, count


@numba.njit(parallel=True, cache=_numba_cache.caching())
def _launch(x):
    for i in numba.prange(x.shape[0]):
        x[i] = i


@functools.lru_cache(maxsize=1)
def _threadsafe_numba() -> bool:
    """Whether Numba's threading layer may be entered from several threads at
    once (OpenMP, TBB): XLA may run two handlers at the same time (the two
    directions of a bidirectional layer), and the workqueue layer aborts the
    process then."""
    try:
        _launch(np.zeros(2))
        return numba.threading_layer() in ("omp", "tbb")
    except Exception:  # no layer at all
        return False


def parts(batch: int) -> int:
    """On how many threads the handlers run a batch of ``batch`` examples.

    As many as BLAS would use (what ``OMP_NUM_THREADS``,
    ``OPENBLAS_NUM_THREADS`` or threadpoolctl set, at most one per core), at
    most Numba's thread count and one per ``MIN_ROWS`` examples, where
    Numba's threading layer allows it; else 1. With more than one, every
    call of a compiled program runs with BLAS on one thread (each part's
    products are its own).
    """
    if batch < 2 * MIN_ROWS or not _threadsafe_numba():
        return 1
    return max(1, min(_threads.blas_threads(), numba.get_num_threads(), batch // MIN_ROWS))
