"""Rewritten graphs kept on disk, so that a later process skips PyTensor's
rewriting of a graph it has rewritten before.

Measured on the small recurrent models of ``benchmarks/forms.py`` (3-(16
form)-2), PyTensor's rewriting of the evaluation and training functions
takes 0.3-1.1 s of the first training call of every process, even when
XLA's programs come from JAX's persistent cache; reading the rewritten
graph back takes a few hundredths. Only the rewriting is skipped: the graph
read back is linked as usual (the JAX program traced anew, XLA's compiled
program read from JAX's own cache), and it is the graph the rewriting gave,
so the functions compute exactly what a freshly rewritten one computes.

An entry is found by a digest (:func:`key`) of everything the rewriting
depends on: the graph itself (every operation with its parameters, the
inner graphs of ``scan`` included, every type, constant and input name; not
the values of shared variables, which stay inputs), the rewrites asked for,
the configuration flags that steer them, the versions of Python, numpy and
PyTensor, and the source of theanets (whose operations and rewrites are part
of the result). A graph holding an operation this module cannot describe
completely (one without ``__props__`` other than ``scan``) is not kept.

The entries live in ``<base_compiledir>/theanets-graphs`` (beside JAX's
cache in ``<base_compiledir>/jax``), at most :data:`MAX_ENTRIES` of them;
``THEANETS_GRAPH_CACHE=0`` turns the cache off.

The directory is trusted as PyTensor's own compile directory is (which
holds compiled modules that it loads), and guarded as far as a pickle can
be: an entry is read only if it and its directory belong to this user and
nobody else may write them (the directory is made ``0700``), and it is
unpickled with only the classes and rebuilding functions of PyTensor's
graphs, of theanets' operations and of numpy arrays
(:class:`_GraphUnpickler`): an entry naming anything else (``os.system``,
``builtins.exec``, ``numpy.memmap``, ...) is refused, and the graph is
rewritten anew.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import pickle
import sys
import tempfile
from typing import Any

import numpy as np
import pytensor
from pytensor.compile.executor import Function
from pytensor.compile.io import SymbolicInput, SymbolicOutput
from pytensor.compile.maker import FunctionMaker
from pytensor.graph.basic import Apply, Constant, Variable
from pytensor.graph.fg import FunctionGraph
from pytensor.graph.traversal import ancestors
from pytensor.link.basic import Container
from pytensor.scan.op import Scan
from pytensor.tensor.sharedvar import SharedVariable

__all__ = ["MAX_ENTRIES", "enabled", "key", "load", "save"]

_logger = logging.getLogger(__name__)

#: The most rewritten graphs kept on disk (the oldest are removed beyond it).
MAX_ENTRIES = 256

#: Bumped when the format of an entry changes.
_FORMAT = 1

# The configuration flags that PyTensor's rewriting (and the function
# maker's preparation of the graph) reads.
_FLAGS = (
    "floatX",
    "intX",
    "cast_policy",
    "optimizer",
    "optimizer_excluding",
    "optimizer_including",
    "optimizer_requiring",
    "optdb__max_use_ratio",
    "optdb__position_cutoff",
    "on_opt_error",
    "on_shape_error",
    "cycle_detection",
    "check_stack_trace",
    "scan__allow_output_prealloc",
    "scan__allow_gc",
    "tensor__insert_inplace_optimizer_validate_nb",
    "compute_test_value",
)

_CONTEXT: list[str] = []


def enabled() -> bool:
    """Whether rewritten graphs are kept (``THEANETS_GRAPH_CACHE`` is not ``0``)."""
    return os.environ.get("THEANETS_GRAPH_CACHE", "1").strip().lower() not in ("0", "no", "false")


def _directory() -> str:
    return os.path.join(os.fspath(pytensor.config.base_compiledir), "theanets-graphs")


def _source_digest() -> str:
    """A digest of theanets' source: its operations and rewrites shape the result."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    digest = hashlib.md5()
    for folder, dirs, files in sorted(os.walk(root)):
        dirs.sort()
        for name in sorted(files):
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                digest.update(os.path.relpath(path, root).encode("utf8"))
                with open(path, "rb") as handle:
                    digest.update(handle.read())
    return digest.hexdigest()


def _context() -> str:
    """What every entry of this process depends on besides its graph (made once)."""
    if not _CONTEXT:
        config = pytensor.config
        parts = [
            _FORMAT,
            sys.version,
            np.__version__,
            pytensor.__version__,
            _source_digest(),
            [(name, repr(getattr(config, name, None))) for name in _FLAGS],
        ]
        _CONTEXT.append(repr(parts))
    return _CONTEXT[0]


def _describe_query(query: Any) -> Any:
    """The tags of a ``RewriteDatabaseQuery``; None for any other optimizer."""
    from pytensor.graph.rewriting.db import RewriteDatabaseQuery

    if type(query) is not RewriteDatabaseQuery or query.extra_rewrites:
        return None
    subs = {}
    for name, sub in sorted(query.subquery.items()):
        subs[name] = _describe_query(sub)
        if subs[name] is None:
            return None
    return (
        list(query.include),
        list(query.require),
        list(query.exclude),
        repr(query.position_cutoff),
        sorted(subs.items()),
    )


class _Undescribed(Exception):
    """A graph holds an operation whose parameters cannot all be named."""


def _describe_op(op: Any) -> Any:
    if isinstance(op, Scan):
        # scan has no __props__: its parameters, and its inner graph
        inner = op.fgraph
        return (
            "scan",
            repr(op.info),
            repr(op.truncate_gradient),
            repr(op.name),
            repr(op.strict),
            repr(op.allow_gc),
            repr(op.mode) if op.mode is None or isinstance(op.mode, str) else _undescribed(op),
            _signature(list(inner.inputs), list(inner.outputs)),
        )
    props = getattr(op, "__props__", None)
    if props is None:
        _undescribed(op)
    return (
        type(op).__module__,
        type(op).__qualname__,
        str(op),
        repr(op._props_dict()),
    )


def _undescribed(op: Any) -> Any:
    raise _Undescribed(type(op).__name__)


def _describe_var(var: Any, index: dict[int, int], roots: dict[int, int]) -> Any:
    if var.owner is None:
        if isinstance(var, Constant):
            if var.data is None or isinstance(var.data, slice):
                return ("constant", str(var.type), repr(var.data))
            data = np.asarray(var.data)
            if data.dtype.hasobject:
                raise _Undescribed("constant {!r}".format(type(var.data).__name__))
            return ("constant", str(var.type), data.shape, hashlib.md5(data.tobytes()).hexdigest())
        kind = "shared" if isinstance(var, SharedVariable) else "input"
        return (kind, str(var.type), var.name, roots.get(id(var), -1))
    node = var.owner
    return (
        "node",
        _describe_op(node.op),
        node.outputs.index(var),
        str(var.type),
        tuple(index.get(id(i), -1) for i in node.inputs),
    )


def _signature(inputs: list[Any], outputs: list[Any]) -> str:
    """A digest of the graph from ``inputs`` to ``outputs`` (see the module)."""
    roots = {id(v): i for i, v in enumerate(inputs)}
    index: dict[int, int] = {}
    order = list(ancestors(outputs))
    for var in order:
        index.setdefault(id(var), len(index))
    parts = [_describe_var(var, index, roots) for var in order]
    parts.append(tuple(index.get(id(v), -1) for v in inputs))
    parts.append(tuple(index[id(v)] for v in outputs))
    return hashlib.md5(repr(parts).encode("utf8")).hexdigest()


def key(
    inputs: list[Any], outputs: list[Any], updates: list[Any], mode: Any, kwargs: dict[str, Any]
) -> str | None:
    """The digest naming the rewritten graph of a function, or None if it
    cannot be kept (see the module)."""
    query = _describe_query(getattr(mode, "provided_optimizer", None))
    if query is None or any(not isinstance(v, Variable) for v in inputs):
        return None
    variables = list(outputs) + [v for pair in updates for v in pair]
    try:
        graph = _signature(list(inputs), variables)
    except _Undescribed:
        return None
    parts = [
        _context(),
        type(mode.linker).__module__,
        type(mode.linker).__qualname__,
        query,
        len(outputs),
        repr(sorted(kwargs.items())),
        graph,
    ]
    return hashlib.md5(repr(parts).encode("utf8")).hexdigest()


# -- an entry: the rewritten graph as a flat list of nodes ---------------------
#
# Kept flat (each node naming its inputs by number) rather than pickled as one
# nested object, whose depth follows the graph's and would reach Python's
# recursion limit on a long graph.


def _entry(fn: Any, inputs: list[Any], shared: list[Any]) -> bytes:
    maker = fn.maker
    fgraph = maker.fgraph
    numbers: dict[int, int] = {}
    records: list[Any] = []  # each makes the next variables: 1, or a node's outputs

    def number(var: Any) -> int:
        if id(var) not in numbers:
            if var.owner is not None:
                raise ValueError("a node's output before its node")
            numbers[id(var)] = len(numbers)
            records.append(("constant", var))
        return numbers[id(var)]

    # The caller's own variables stand for the graph's inputs: the JAX
    # linker has replaced a random generator's input with a copy holding its
    # state at compile time, which the function read back must not start from.
    for var, spec in zip(fgraph.inputs, maker.inputs, strict=True):
        numbers[id(var)] = len(numbers)
        records.append(("input", spec.variable))
    for node in fgraph.toposort():
        ins = [number(i) for i in node.inputs]
        records.append(("node", node.op, ins, [(o.type, o.name) for o in node.outputs]))
        for out in node.outputs:
            numbers[id(out)] = len(numbers)
    outputs = [number(o) for o in fgraph.outputs]
    # an input's update is the graph's output that update_mapping names (as
    # Function.copy sets it); the spec's own is the graph before rewriting
    specs = [dict(spec.__dict__, update=None) for spec in maker.inputs]
    entry = dict(
        records=records,
        outputs=outputs,
        update_mapping=dict(fgraph.update_mapping),
        specs=specs,
        borrow=[o.borrow for o in maker.outputs],
        unpack_single=maker.unpack_single,
        return_none=maker.return_none,
        name=maker.name,
        trust_input=maker.trust_input,
    )
    return _dumps(entry, inputs, shared)


def _dumps(entry: Any, inputs: list[Any], shared: list[Any]) -> bytes:
    """Pickled, with this graph's data inputs, shared variables and their
    storage named by position (the function read back gets its caller's)."""
    named: dict[int, tuple[str, int]] = {}
    for i, var in enumerate(inputs):
        named[id(var)] = ("data", i)
    for i, var in enumerate(shared):
        named[id(var)] = ("shared", i)
        named[id(var.container)] = ("container", i)

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj: Any) -> Any:
            if isinstance(obj, (Variable, Container)):
                return named.get(id(obj))
            return None

    buffer = io.BytesIO()
    Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(entry)
    return buffer.getvalue()


# What an entry may name: the modules of PyTensor's graphs, operations and
# types, theanets' operations, and these few others (the exceptions an
# assertion raises, numpy's array and dtype rebuilders, paths).
_MODULES = (
    "pytensor.graph.",
    "pytensor.tensor.",
    "pytensor.scalar.",
    "pytensor.scan.",
    "pytensor.sparse.",
    "pytensor.misc.",
    "pytensor.assumptions.",
    "pytensor.conditional.",
    "pytensor.link.jax.dispatch.",
    "theanets.ops.",
)
_EXACT_MODULES = (
    "pytensor.compile.ops",
    "pytensor.raise_op",
    "pytensor.ifelse",
    "theanets._backend",
)
_NAMES = {
    "builtins": {"slice", "set", "frozenset", "complex", "range", "bytearray", "AssertionError"},
    "copyreg": {"_reconstructor"},
    "collections": {"OrderedDict"},
    "pathlib": {"PosixPath", "WindowsPath", "PurePosixPath", "PureWindowsPath"},
    "numpy": {"dtype", "ndarray"},
    "numpy.ma": {"MaskedArray"},
    "numpy.ma.core": {"MaskedArray", "_mareconstruct"},
}
for _core in ("numpy._core", "numpy.core"):  # numpy 2 and 1
    _NAMES[_core + ".multiarray"] = {"_reconstruct", "scalar"}
    _NAMES[_core + ".numeric"] = {"_frombuffer"}
# modules of the prefixes above whose names read or write files
_REFUSED_MODULES = ("pytensor.tensor.io",)


class _GraphUnpickler(pickle.Unpickler):
    """An unpickler of graph entries: only the names of :data:`_MODULES`,
    :data:`_EXACT_MODULES` and :data:`_NAMES` are found (and numpy's dtype
    and scalar types); the data inputs and shared variables come from the caller."""

    def __init__(self, data: bytes, inputs: list[Any], shared: list[Any]) -> None:
        super().__init__(io.BytesIO(data))
        self.inputs = inputs
        self.shared = shared

    def find_class(self, module: str, name: str) -> Any:
        allowed = (
            name in _NAMES.get(module, ())
            or module == "numpy.dtypes"
            or (module == "numpy" and _is_scalar_type(getattr(np, name, None)))
            or module in _EXACT_MODULES
            or module.startswith(_MODULES)
        )
        if not allowed or module.startswith(_REFUSED_MODULES):
            raise pickle.UnpicklingError(
                "a rewritten graph may not name {}.{}".format(module, name)
            )
        return super().find_class(module, name)

    def persistent_load(self, pid: Any) -> Any:
        kind, i = pid
        if kind == "data":
            return self.inputs[i]
        if kind == "shared":
            return self.shared[i]
        return self.shared[i].container


def _is_scalar_type(value: Any) -> bool:
    """Whether ``value`` is one of numpy's scalar types (``numpy.float64``, ...)."""
    return isinstance(value, type) and issubclass(value, np.generic)


def _loads(data: bytes, inputs: list[Any], shared: list[Any]) -> Any:
    return _GraphUnpickler(data, inputs, shared).load()


def _private(path: str) -> bool:
    """Whether ``path`` belongs to this user and nobody else may write it."""
    if not hasattr(os, "getuid"):  # Windows: access lists, not modes
        return True
    status = os.stat(path)
    return status.st_uid == os.getuid() and not status.st_mode & 0o022


def _function(entry: Any, mode: Any) -> Any:
    values: list[Any] = []
    graph_inputs = []
    for record in entry["records"]:
        if record[0] == "node":
            _, op, ins, outs = record
            node = Apply(op, [values[i] for i in ins], [t.make_variable(n) for t, n in outs])
            values.extend(node.outputs)
        else:
            values.append(record[1])
            if record[0] == "input":
                graph_inputs.append(record[1])
    fgraph = FunctionGraph(graph_inputs, [values[i] for i in entry["outputs"]], clone=False)
    fgraph.update_mapping = entry["update_mapping"]
    updated = {i: o for o, i in entry["update_mapping"].items()}
    ins = []
    for n, state in enumerate(entry["specs"]):
        spec = SymbolicInput.__new__(SymbolicInput)
        spec.__dict__.update(state)
        if n in updated:
            spec.update = fgraph.outputs[updated[n]]
        ins.append(spec)
    # as Function.copy makes its function: every output of the graph (the
    # updates too) is an output of the maker
    outs = [SymbolicOutput(o) for o in fgraph.outputs]
    for out, borrow in zip(outs, entry["borrow"], strict=False):
        out.borrow = borrow
    maker = FunctionMaker(
        inputs=ins,
        outputs=outs,
        fgraph=fgraph,
        mode=mode,
        on_unused_input="ignore",
        function_class=Function,
        accept_inplace=True,
        no_fgraph_prep=True,
        name=entry["name"],
        trust_input=entry["trust_input"],
    )
    maker.unpack_single = entry["unpack_single"]
    maker.return_none = entry["return_none"]
    return maker.create([spec.value for spec in ins])


def load(name: str, inputs: list[Any], shared: list[Any], mode: Any) -> Any:
    """The function of the rewritten graph kept as ``name`` (a :func:`key`),
    linked with this call's ``inputs`` and ``shared`` variables; None if
    there is none (or it cannot be read)."""
    path = os.path.join(_directory(), name)
    try:
        if not (_private(_directory()) and _private(path)):
            _logger.debug("not reading %s: others may write it", path)
            return None
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    try:
        entry = _loads(data, inputs, shared)
        return _function(entry, mode)
    except Exception as error:  # a damaged or outdated entry: rewrite anew
        _logger.debug("could not read the rewritten graph %s: %r", path, error)
        return None


def save(name: str, fn: Any, inputs: list[Any], shared: list[Any]) -> None:
    """Keep the rewritten graph of compiled function ``fn`` as ``name``.

    Quietly does nothing where the graph cannot be pickled or the directory
    cannot be written.
    """
    try:
        data = _entry(fn, inputs, shared)
    except Exception as error:
        _logger.debug("could not keep the rewritten graph of %s: %r", fn.name, error)
        return
    folder = _directory()
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=".tmp-")
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, os.path.join(folder, name))
        _prune(folder)
    except OSError as error:
        _logger.debug("could not write the rewritten graph of %s: %r", fn.name, error)


def _prune(folder: str) -> None:
    entries = []
    for name in os.listdir(folder):
        if not name.startswith("."):
            try:
                entries.append((os.stat(os.path.join(folder, name)).st_mtime, name))
            except OSError:
                pass
    for _, name in sorted(entries)[: max(0, len(entries) - MAX_ENTRIES)]:
        try:
            os.remove(os.path.join(folder, name))
        except OSError:
            pass
