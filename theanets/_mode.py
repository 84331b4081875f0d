"""The PyTensor compile mode of the functions that theanets compiles.

Measured on CPU (see ``benchmarks/profile_compile.py`` and the speed page of
the guide): almost all of the time to a model's first training step goes to
compiling, not to graph building or rewriting, and JAX compiles a model an
order of magnitude faster than PyTensor's default Numba linker (which
compiles each node of the graph with LLVM) or its C linker (which runs the
C++ compiler), while running its steps at least as fast. So:

- if the user chose a mode or a linker (``PYTENSOR_FLAGS=mode=...`` or
  ``THEANO_FLAGS=...``, ``pytensor.config.mode = ...`` or
  ``pytensor.config.change_flags(mode=...)``), that mode is used; a JAX
  mode is then given the static-shape fix below;
- otherwise, if ``jax`` is installed (a dependency of theanets, so it
  normally is; ``pip install jax`` where it was left out) and the
  function has no sparse variable (JAX has no sparse matrices) and draws no
  random numbers (JAX has its own generator: the same seed would give other
  noise and dropout masks than the other modes), JAX;
- otherwise PyTensor's default mode (Numba).

Under JAX, ``scan`` needs static shapes: a recurrent layer's initial state
``zeros((batch, size))`` and the scan's buffers are sized from the input's
shape through a few integer operations, which JAX would otherwise stage as
traced values ("Shapes must be 1D sequences of concrete values"). The JAX
linker here traces the graph under ``jax.ensure_compile_time_eval()``, so
that arithmetic on concrete values (shapes and constants) is computed while
tracing and shapes stay concrete; operations on the data are traced as
usual. It also keeps JAX's compiled programs in a persistent cache beside
PyTensor's (``<base_compiledir>/jax``) unless the user configured one.
"""

import contextlib
import ctypes
import gc
import importlib.util
import os
import warnings

import numpy as np
import pytensor
from pytensor.compile.mode import Mode, get_mode
from pytensor.compile.sharedvalue import SharedVariable
from pytensor.graph.traversal import ancestors

from . import parallel

__all__ = ["default_mode", "jax_mode", "user_mode", "jax_available"]

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


def _quiet_jax_warnings():
    catcher = warnings.catch_warnings()
    catcher.__enter__()
    for message in _JAX_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=UserWarning)
    return catcher


def jax_available():
    """True if ``jax`` can be imported (without importing it).

    Examples
    --------
    >>> import theanets._mode
    >>> theanets._mode.jax_available() in (True, False)
    True
    """
    return importlib.util.find_spec("jax") is not None


def user_mode():
    """The mode the user asked for, or None if they asked for none.

    A user asks for a mode with ``mode=`` or ``linker=`` in
    ``PYTENSOR_FLAGS`` (or ``THEANO_FLAGS``, copied over when theanets is
    imported), or by setting ``pytensor.config.mode`` or
    ``pytensor.config.linker``.

    Returns
    -------
    pytensor.compile.mode.Mode or None
    """
    config = pytensor.config
    flags = os.environ.get("PYTENSOR_FLAGS", "")
    named = {item.split("=", 1)[0].strip().lower() for item in flags.split(",")}
    chosen = (
        not isinstance(config.mode, str)
        or config.mode != "Mode"
        or config.linker != "auto"
        or "mode" in named
        or "linker" in named
    )
    return get_mode(config.mode) if chosen else None


_SHAPE_OPS_PATCHED = []


def _concrete_shape_arithmetic():
    """Make PyTensor's JAX conversion compute integer scalars eagerly.

    Integer (and boolean) scalars and vectors are shape arithmetic: under
    ``jax.jit`` they would become traced values even when all their inputs
    are concrete (an input's shape, a constant), and JAX refuses a traced
    value as an array shape. Converted here under
    ``jax.ensure_compile_time_eval()``, they stay concrete whenever their
    inputs are; operations on traced data are traced as before. When all
    their inputs are known they are computed with numpy (their ``perform``):
    JAX would compile a small program for each of them, which took 0.45 s of
    a convolution model's first training call. This applies
    to the graphs inside ``scan`` too.

    ``arange`` is converted anew: PyTensor's version fails on a narrow
    integer constant (``int8`` 0 to 128 overflows in numpy 2's arithmetic)
    and refuses bounds computed from shapes, which are concrete here.

    The conversions are registered in PyTensor's ``jax_funcify`` when the
    first JAX mode is made, so they hold for every JAX function of the
    process from then on (they only keep concrete what JAX would trace).
    """
    if _SHAPE_OPS_PATCHED:
        return
    import jax
    import jax.numpy as jnp
    from pytensor.graph.basic import Constant
    from pytensor.ifelse import IfElse
    from pytensor.link.jax.dispatch import jax_funcify
    from pytensor.tensor.basic import ARange, MakeVector, ScalarFromTensor, Split, TensorFromScalar
    from pytensor.tensor.elemwise import DimShuffle, Elemwise
    from pytensor.tensor.shape import Shape, Shape_i
    from pytensor.tensor.subtensor import Subtensor

    def is_shape_arithmetic(node):
        return node is not None and all(
            getattr(out.type, "ndim", 2) <= 1
            and str(getattr(out.type, "dtype", "")).startswith(("int", "uint", "bool"))
            for out in node.outputs
        )

    def _to_numpy(value):
        if isinstance(value, jax.Array) and not isinstance(value, jax.core.Tracer):
            return np.asarray(value)
        return value

    def _perform(node, args):
        args = [
            np.asarray(a, dtype=getattr(inp.type, "dtype", None))
            for a, inp in zip(args, node.inputs, strict=True)
        ]
        storage = [[None] for _ in node.outputs]
        node.op.perform(node, args, storage)
        return storage[0][0] if len(storage) == 1 else [s[0] for s in storage]

    def wrap(original):
        def convert(op, node=None, **kwargs):
            fn = original(op, node=node, **kwargs)
            if not is_shape_arithmetic(node):
                return fn
            node.op.prepare_node(node, None, None, "py")

            def concrete(*args):
                if not any(isinstance(a, jax.core.Tracer) for a in args):
                    # all known: numpy, not a small XLA program per operation
                    return _perform(node, args)
                with jax.ensure_compile_time_eval():
                    out = fn(*args)
                # a concrete JAX array used later outside this context (in
                # a comparison, say) would be traced again: hand on numpy
                if isinstance(out, (list, tuple)):
                    return type(out)(_to_numpy(o) for o in out)
                return _to_numpy(out)

            return concrete

        return convert

    for cls in (
        Elemwise,
        ScalarFromTensor,
        TensorFromScalar,
        Subtensor,
        Shape,
        Shape_i,
        MakeVector,
        DimShuffle,
    ):
        jax_funcify.register(cls)(wrap(jax_funcify.dispatch(cls)))

    @jax_funcify.register(Split)
    def convert_split(op, node=None, **kwargs):
        # PyTensor's version sums split sizes it cannot read from constants
        # with jnp.cumsum, which is traced: the gradient of a join (the
        # concatenate layer, a bidirectional layer) then failed with
        # "Abstract tracer value ... in jax.numpy.split". The sizes come
        # from shapes, concrete here, so they are summed with numpy.
        def split(x, axis, splits):
            if isinstance(axis, jax.core.Tracer) or isinstance(splits, jax.core.Tracer):
                raise NotImplementedError(
                    "theanets: a join or split along a position known only at run time "
                    "cannot be compiled by JAX; use mode=NUMBA"
                )
            splits = np.asarray(splits)
            if len(splits) != op.len_splits or (splits < 0).any():
                raise ValueError(
                    "split sizes {} do not fit {} parts".format(splits.tolist(), op.len_splits)
                )
            return jnp.split(x, np.cumsum(splits[:-1]), axis=int(axis))

        return split

    traced_ifelse = jax_funcify.dispatch(IfElse)

    @jax_funcify.register(IfElse)
    def convert_ifelse(op, node=None, **kwargs):
        # A condition known while tracing (one computed from shapes, as
        # carried-state training's "does the carried state fit this batch")
        # picks its branch then: lax.cond would need both branches to have
        # the same shapes, which such a choice exists to avoid.
        traced = traced_ifelse(op, node=node, **kwargs)
        n_outs = op.n_outs

        def ifelse(cond, *args):
            if isinstance(cond, jax.core.Tracer):
                return traced(cond, *args)
            chosen = args[:n_outs] if bool(np.asarray(cond)) else args[n_outs:]
            return chosen if n_outs > 1 else chosen[0]

        return ifelse

    @jax_funcify.register(ARange)
    def convert_arange(op, node=None, **kwargs):
        constants = [inp.data.item() if isinstance(inp, Constant) else None for inp in node.inputs]

        def arange(*args):
            args = [a if c is None else c for a, c in zip(args, constants, strict=True)]
            with jax.ensure_compile_time_eval():
                return jnp.arange(*args, dtype=op.dtype)

        return arange

    _SHAPE_OPS_PATCHED.append(True)


def _make_jax_linker():
    from pytensor.link.jax.linker import JAXLinker

    class StaticShapeJAXLinker(JAXLinker):
        """PyTensor's JAX linker: quiet about the expected warnings, numpy outputs."""

        def fgraph_convert(self, *args, **kwargs):
            catcher = _quiet_jax_warnings()
            try:
                return super().fgraph_convert(*args, **kwargs)
            finally:
                catcher.__exit__(None, None, None)

        def jit_compile(self, fn):
            def traced(*args):
                catcher = _quiet_jax_warnings()
                try:
                    with gc_paused():
                        return fn(*args)
                finally:
                    catcher.__exit__(None, None, None)

            traced.__name__ = getattr(fn, "__name__", "jax_funcified_fgraph")
            jitted = super().jit_compile(traced)
            # Outputs are handed to numpy (no copy on the CPU): predictions
            # and monitor values are numpy arrays, as in the other modes.
            # Updated shared variables keep JAX's arrays, so that parameters
            # stay on the device between steps.
            updated = set((getattr(self.fgraph, "update_mapping", None) or {}).keys())
            # data (not shared values) is split over the devices of train(devices=)
            is_data = [not isinstance(v, SharedVariable) for v in self.fgraph.inputs]
            plain = [i for i in range(len(self.fgraph.outputs)) if i not in updated]

            def call(*args):
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
                outputs = list(jitted(*parallel.place(args, is_data)))
                for i in plain:
                    outputs[i] = parallel.to_numpy(outputs[i])
                return outputs

            return call

        def clone(self, allow_gc=None):
            return type(self)()

    return StaticShapeJAXLinker


_JAX_MODES = {}

# Set once a JAX function has run in this process, and in a child forked
# after that: JAX's runtime threads do not survive a fork, and a child that
# called into it hung for ever.
_JAX_STARTED = []
_FORKED = []


class ForkedJAXError(RuntimeError):
    """A JAX-compiled function was called in a process forked after JAX started."""


def _note_fork_in_child():
    if _JAX_STARTED:
        _FORKED.append(True)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_note_fork_in_child)


def _few_cores_xla_flags():
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
_MALLOC_SET = []


def _keep_large_buffers():
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


def _use_persistent_cache():
    import jax

    if (
        jax.config.jax_compilation_cache_dir is None
        and "JAX_COMPILATION_CACHE_DIR" not in os.environ
    ):
        path = os.path.join(os.fspath(pytensor.config.base_compiledir), "jax")
        jax.config.update("jax_compilation_cache_dir", path)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.1)


# Rewrites for graphs holding a ``scan`` (recurrent models) under JAX: the
# fast_compile set plus numerical stabilization. Measured on the LSTM
# regressor of the benchmarks, the full fast_run set spends 2-3 times longer
# rewriting the gradient of the scan (4.3 s against 1.6 s) for the same step
# time (75 against 73 ms): XLA optimizes the traced program itself. For
# feedforward graphs the full set gives faster steps (a 784-512-512-10
# classifier: 4.0 against 4.7 ms) for a few tenths of a second, so they keep it.
SCAN_REWRITES = ("fast_compile", "stabilize", "jax")


def _scan_optimizer():
    from pytensor.graph.rewriting.db import RewriteDatabaseQuery

    if "scan" not in _JAX_MODES:
        _JAX_MODES["scan"] = RewriteDatabaseQuery(include=list(SCAN_REWRITES))
    return _JAX_MODES["scan"]


def jax_mode(optimizer=None):
    """PyTensor's JAX mode, with the static-shape fix (see the module notes).

    Parameters
    ----------
    optimizer : optional
        The graph rewrites to apply; PyTensor's JAX mode's by default.

    Returns
    -------
    pytensor.compile.mode.Mode

    Raises
    ------
    ImportError
        If jax is not installed.
    """
    if not jax_available():
        raise ImportError(
            "the JAX mode needs jax, a dependency of theanets that is not "
            "installed here: pip install jax"
        )
    key = id(optimizer) if optimizer is not None else None
    if key not in _JAX_MODES:
        from pytensor.compile.mode import JAX

        _few_cores_xla_flags()
        _keep_large_buffers()
        _use_persistent_cache()
        _concrete_shape_arithmetic()
        linker = _make_jax_linker()()
        _JAX_MODES[key] = Mode(linker, JAX.provided_optimizer if optimizer is None else optimizer)
    return _JAX_MODES[key]


def _is_plain_jax(mode):
    from pytensor.link.jax.linker import JAXLinker

    linker = getattr(mode, "linker", None)
    return isinstance(linker, JAXLinker) and not type(linker).__name__.startswith("Static")


def _flatten(variables):
    if variables is None:
        return []
    if isinstance(variables, dict):
        variables = list(variables.keys()) + list(variables.values())
    if not isinstance(variables, (list, tuple)):
        variables = [variables]
    flat = []
    for var in variables:
        if isinstance(var, (list, tuple)):
            flat.extend(_flatten(var))
        elif var is not None and hasattr(var, "type"):
            flat.append(var)
    return flat


def _needs_numpy_draws_or_sparse(variables):
    """True if the graph has sparse variables or draws random numbers.

    JAX has no sparse matrices, and draws its random numbers with its own
    generator: the same seed would give other noise and dropout masks than
    in the other modes (and binomial draws need NumPyro).
    """
    from pytensor.sparse.type import SparseTensorType
    from pytensor.tensor.random.type import RandomType

    return any(isinstance(var.type, (SparseTensorType, RandomType)) for var in ancestors(variables))


def _has_scan(variables):
    from pytensor.scan.op import Scan

    return any(
        var.owner is not None and isinstance(var.owner.op, Scan) for var in ancestors(variables)
    )


def default_mode(inputs=(), outputs=(), updates=()):
    """The compile mode for a function of ``inputs``, ``outputs``, ``updates``.

    Pass the same arguments as to ``pytensor.function`` (any of them may be
    left out: they are only looked at for sparse variables and random
    draws, which stay in PyTensor's default mode).

    Returns
    -------
    pytensor.compile.mode.Mode
        The user's mode if they chose one (a JAX mode with the static-shape
        fix), else JAX when it is installed and the function has neither
        sparse variables nor random draws (with fewer rewrites,
        ``SCAN_REWRITES``, for a function holding a ``scan``), else
        PyTensor's default mode (Numba).

    Examples
    --------
    >>> import pytensor, pytensor.tensor as TT
    >>> import theanets._mode
    >>> x = TT.matrix('x')
    >>> f = pytensor.function([x], 2 * x, mode=theanets._mode.default_mode([x], [2 * x]))
    >>> f([[1, 2]]).tolist()
    [[2.0, 4.0]]
    """
    chosen = user_mode()
    if chosen is not None:
        if _is_plain_jax(chosen):
            return jax_mode(chosen.provided_optimizer)
        return chosen
    variables = _flatten(inputs) + _flatten(outputs) + _flatten(updates)
    if jax_available() and not _needs_numpy_draws_or_sparse(variables):
        return jax_mode(_scan_optimizer() if _has_scan(variables) else None)
    return get_mode(None)


def function(inputs, outputs, updates=(), **kwargs):
    """``pytensor.function`` in the mode of :func:`default_mode`: the one
    place where theanets compiles.

    Examples
    --------
    >>> import pytensor.tensor as TT
    >>> x = TT.vector('x')
    >>> function([x], x + 1)([1, 2]).tolist()
    [2.0, 3.0]
    """
    updates = list(updates)
    with gc_paused():
        return pytensor.function(
            inputs, outputs, updates=updates, mode=default_mode(inputs, outputs, updates), **kwargs
        )


@contextlib.contextmanager
def gc_paused():
    """Pause Python's cyclic garbage collector (if it runs) in this block.

    Building, rewriting and tracing a graph allocate many objects that stay
    alive: the collector would scan them again and again (0.2 s of the 1.1 s
    first train call of a small convolution model, measured). Garbage made
    meanwhile is collected at the next collection after the block.

    Examples
    --------
    >>> import gc
    >>> with gc_paused():
    ...     gc.isenabled()
    False
    >>> gc.isenabled()
    True
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def keep_numpy_values(variables):
    """Give each shared variable of ``variables`` a numpy value again.

    A function compiled for JAX leaves its updated shared variables holding
    JAX arrays; users (and pickles) expect numpy arrays from
    ``get_value()``, so training hands them back as numpy at every yield.
    A numpy value is left alone (no copy).

    Examples
    --------
    >>> import numpy as np, pytensor
    >>> w = pytensor.shared(np.zeros(2))
    >>> keep_numpy_values([w]); type(w.get_value()).__name__
    'ndarray'
    """
    for var in variables:
        value = var.get_value(borrow=True)
        if not isinstance(value, np.ndarray):
            var.set_value(parallel.to_numpy(value), borrow=True)
