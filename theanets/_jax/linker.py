"""PyTensor's JAX linker as theanets uses it: quiet about the expected
warnings, numpy outputs, a count (and a log line) for each program XLA
compiles for new input shapes, a traced program reused by a copied
function (see :func:`reusing`), and a program traced again once the
kernels its trace did without are compiled (see :meth:`_Counted.wait_for`)."""

from __future__ import annotations

import contextlib
import threading
import warnings
from collections.abc import Callable, Iterator
from typing import Any

from .. import _compiles, parallel, util
from .._gc import gc_paused
from .process import check_not_forked

__all__ = ["around_calls", "make_linker", "reusing", "quiet_jax_warnings", "tracing"]

# PyTensor's JAX linker warns about these while converting and tracing a
# graph; each is expected and harmless here:
# - a random generator held in a shared variable is copied into the compiled
#   function (its draws still change from call to call);
# - run-time shape assertions cannot be kept in a traced program;
# - without jax_enable_x64 (float32 work) JAX computes int64/float64 scalars
#   in 32 bits.
_JAX_WARNINGS = (
    r"The RandomType SharedVariables .* will not be used",
    r"Skipping .* Op \(.*\) as JAX tracing would remove it",
    r"Explicitly requested dtype .* is not available",
)


@contextlib.contextmanager
def quiet_jax_warnings() -> Iterator[None]:
    """Silence the expected warnings of PyTensor's JAX conversion in this block."""
    with warnings.catch_warnings():
        for message in _JAX_WARNINGS:
            warnings.filterwarnings("ignore", message=message, category=UserWarning)
        yield


# The jitted program a function being copied hands to its copy's linker.
_REUSE: list[Any] = []


@contextlib.contextmanager
def reusing(jitted: Any) -> Iterator[None]:
    """Link the functions made in this block with the traced program ``jitted``.

    A copy of a compiled function (``Function.copy(swap=...)``) has the
    same graph with other shared variables; its JAX program takes the
    shared values as arguments, so the original's jitted program (with
    the traces and XLA programs it keeps per input shapes) serves the copy
    unchanged, and nothing is converted, traced or compiled again.
    """
    _REUSE.append(jitted)
    try:
        yield
    finally:
        _REUSE.pop()


# Contexts every call of a compiled program runs in, added by the operations
# whose foreign functions need them (theanets.ops.lstm_ffi: BLAS on one
# thread while its handlers run their own threads).
_AROUND_CALLS: list[Callable[[], contextlib.AbstractContextManager[Any]]] = []


def around_calls(context: Callable[[], contextlib.AbstractContextManager[Any]]) -> None:
    """Run every later call of a compiled program inside ``context()``, to its end."""
    if context not in _AROUND_CALLS:
        _AROUND_CALLS.append(context)


def _signature(args: tuple[Any, ...]) -> tuple[Any, ...]:
    # attribute reads only: this runs at every call of a compiled function
    return tuple((getattr(a, "shape", None), getattr(a, "dtype", None)) for a in args)


# The programs being traced, innermost last, in each thread (see tracing()).
_TRACING = threading.local()


def tracing() -> _Counted | None:
    """The program whose trace is running in this thread (the operations'
    JAX functions run while it is traced), or None."""
    stack = getattr(_TRACING, "stack", None)
    return stack[-1] if stack else None


class _Counted:
    """A jitted program that counts (and logs) each new signature of input
    shapes, and is traced again when what its trace waited for is ready.

    Parameters
    ----------
    fn : callable
        The function jitted: PyTensor's JAX function of a graph.
    name : str
        Its name, for the log.
    make : callable
        ``make(traced)``: the jitted program of a function (the linker's own
        ``jit_compile``).
    """

    def __init__(self, fn: Callable[..., Any], name: str, make: Callable[..., Any]) -> None:
        self.fn = fn
        self.name = name
        self.make = make
        self.seen: set[tuple[Any, ...]] = set()
        self.waiting: list[Callable[[], bool]] = []
        self.jitted = self._jit()

    def _jit(self) -> Callable[..., Any]:
        # a new function each time: jax keeps the traces of a function it has jitted
        def traced(*args):
            stack = _TRACING.__dict__.setdefault("stack", [])
            stack.append(self)
            try:
                with quiet_jax_warnings(), gc_paused():
                    return self.fn(*args)
            finally:
                stack.pop()

        traced.__name__ = self.name
        return self.make(traced)

    def wait_for(self, ready: Callable[[], bool]) -> None:
        """Trace this program again at its first call after ``ready()`` is
        true (and that of every other check added): called during a trace
        by an operation that computed without what is not ready yet (the
        fused kernels, compiled by a background process)."""
        if ready not in self.waiting:
            self.waiting.append(ready)

    def __call__(self, *args: Any) -> Any:
        if self.waiting and all(ready() for ready in self.waiting):
            self.waiting = []
            self.jitted = self._jit()
            _compiles.note("kernels")
            util.log("tracing {} again: the kernels it waited for are ready", self.name)
        signature = _signature(args)
        if signature not in self.seen:
            self.seen.add(signature)
            _compiles.note("shape")
            if len(self.seen) > 1:
                util.log(
                    "compiling {} for new input shapes {}",
                    self.name,
                    [s for s, _ in signature if s],  # the arrays' shapes
                )
        return self.jitted(*args)


def make_linker() -> type:
    """The linker class (made on first use: importing it imports jax)."""
    import jax
    from pytensor.link.jax.linker import JAXLinker

    class StaticShapeJAXLinker(JAXLinker):
        """PyTensor's JAX linker: quiet, numpy outputs, counted shapes, reusable programs."""

        def fgraph_convert(self, *args, **kwargs):
            if _REUSE:
                return None  # the copied function's program serves (see jit_compile)
            with quiet_jax_warnings():
                return super().fgraph_convert(*args, **kwargs)

        def jit_compile(self, fn):
            if _REUSE:
                jitted = _REUSE[-1]
            else:
                name = getattr(fn, "__name__", "jax_funcified_fgraph")
                jitted = _Counted(fn, name, super().jit_compile)
            self.jitted = jitted
            # Outputs are handed to numpy (no copy on the CPU): predictions
            # and monitor values are numpy arrays, as in the other modes.
            # Updated shared variables keep JAX's arrays, so that parameters
            # stay on the device between steps.
            updated = set((getattr(self.fgraph, "update_mapping", None) or {}).keys())
            plain = [i for i in range(len(self.fgraph.outputs)) if i not in updated]
            # data (not shared values) is split over the devices of train(devices=)
            from pytensor.compile.sharedvalue import SharedVariable

            is_data = [not isinstance(v, SharedVariable) for v in self.fgraph.inputs]

            def run(args):
                outputs = list(jitted(*parallel.place(args, is_data)))
                for i in plain:
                    outputs[i] = parallel.to_numpy(outputs[i])
                return outputs

            def call(*args):
                check_not_forked()
                if not _AROUND_CALLS:
                    return run(args)
                with contextlib.ExitStack() as stack:
                    for context in list(_AROUND_CALLS):
                        stack.enter_context(context())
                    outputs = run(args)
                    # XLA computes after returning: the contexts last until it is done
                    jax.block_until_ready(outputs)
                return outputs

            return call

        def clone(self, allow_gc=None):
            return type(self)()

    return StaticShapeJAXLinker
