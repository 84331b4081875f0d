"""The PyTensor compile mode of the functions that theanets compiles, and
the one place where it compiles them (:func:`function`).

Measured on CPU (see ``benchmarks/profile_compile.py`` and the speed page of
the guide): almost all of the time to a model's first training step goes to
compiling, not to graph building or rewriting, and JAX compiles a model an
order of magnitude faster than PyTensor's default Numba linker (which
compiles each node of the graph with LLVM) or its C linker (which runs the
C++ compiler), while running its steps at least as fast. So:

- if the user chose a mode or a linker (``PYTENSOR_FLAGS=mode=...`` or
  ``THEANO_FLAGS=...``, ``pytensor.config.mode = ...`` or
  ``pytensor.config.change_flags(mode=...)``), that mode is used; a JAX
  mode is then given the static-shape fix of :mod:`theanets._jax`;
- otherwise, if ``jax`` is installed (a dependency of theanets, so it
  normally is; ``pip install jax`` where it was left out) and the
  function has no sparse variable (JAX has no sparse matrices), JAX; a
  function that draws random numbers (noise, dropout) draws them with
  JAX's generator, unless ``THEANETS_DRAWS=numpy`` asks for numpy's (the
  draws of the other modes; see :mod:`theanets._jax.draws`);
- otherwise PyTensor's default mode (Numba).

:func:`choose` returns the mode with the reason for it, which the training
display shows when it compiles.

A function compiled with a ``share`` key is kept in the process's
``functions`` cache (:data:`theanets._cache.CACHES`); a later function of
the same key and graph structure (another model of the same structure) is
a copy of it with the new model's shared variables swapped in, and under
JAX it runs the same traced program: nothing is compiled again.
:mod:`theanets._compiles` counts what is compiled.

The JAX specifics live in :mod:`theanets._jax`; their names are re-exported
here for the modules that import them from here.
"""

from __future__ import annotations

import os
from typing import Any, NamedTuple

import numpy as np
import pytensor
from pytensor.compile.mode import Mode, get_mode
from pytensor.graph.traversal import ancestors

from . import _cache, _compiles, _jax, parallel
from ._gc import gc_paused
from ._jax import SCAN_REWRITES, ForkedJAXError, jax_available, jax_mode
from ._jax.draws import draws

__all__ = [
    "SCAN_REWRITES",
    "Choice",
    "ForkedJAXError",
    "choose",
    "default_mode",
    "function",
    "gc_paused",
    "jax_available",
    "jax_mode",
    "keep_numpy_values",
    "static_shapes",
    "compiles_per_shape",
    "user_mode",
]


def user_mode() -> Mode | None:
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


def _kinds(variables):
    """(has sparse variables, draws random numbers) of the graph of ``variables``."""
    from pytensor.sparse.type import SparseTensorType
    from pytensor.tensor.random.type import RandomType

    kinds = {type(var.type) for var in ancestors(variables)}
    return (
        any(issubclass(k, SparseTensorType) for k in kinds),
        any(issubclass(k, RandomType) for k in kinds),
    )


def _has_scan(variables):
    from pytensor.scan.op import Scan

    return any(
        var.owner is not None and isinstance(var.owner.op, Scan) for var in ancestors(variables)
    )


class Choice(NamedTuple):
    """A compile mode with its name and the reason it was chosen."""

    mode: Mode
    name: str
    reason: str

    def describe(self) -> str:
        """``name`` and ``reason`` in a few words, for the display.

        Examples
        --------
        >>> Choice(get_mode(None), 'Numba', 'jax is not installed').describe()
        'Numba: jax is not installed'
        """
        return self.name + (": " + self.reason if self.reason else "")


def _linker_name(mode: Mode) -> str:
    name = type(getattr(mode, "linker", None)).__name__
    for plain in ("JAX", "Numba", "CVM", "VM", "C", "Py"):
        if plain.lower() in name.lower():
            return plain
    return name


def choose(inputs: Any = (), outputs: Any = (), updates: Any = ()) -> Choice:
    """The compile mode for a function of ``inputs``, ``outputs``, ``updates``,
    with the reason for it.

    Pass the same arguments as to ``pytensor.function`` (any of them may be
    left out: they are only looked at for sparse variables, random draws
    and ``scan``).

    Returns
    -------
    Choice
        The user's mode if they chose one (a JAX mode with the static-shape
        fix); else JAX when it is installed and the function has no sparse
        variable (with fewer rewrites, ``SCAN_REWRITES``, for a function
        holding a ``scan``), its random draws made with JAX's generator
        unless ``THEANETS_DRAWS=numpy``; else PyTensor's default mode
        (Numba). Its reason is empty for a plain JAX function.

    Raises
    ------
    ValueError
        If ``THEANETS_DRAWS`` is set to another value than ``jax`` or ``numpy``.

    Examples
    --------
    With no mode configured, a graph with noise gives
    ``JAX: noise and dropout drawn by JAX's generator`` (and ``Numba:
    THEANETS_DRAWS=numpy keeps numpy's random draws`` with that setting):

    >>> import pytensor.tensor as TT
    >>> from theanets._backend import RandomSource
    >>> x = TT.matrix('x')
    >>> noise = RandomSource(1).normal(0, 1, x.shape)
    >>> choice = choose([x], [x + noise])
    >>> choice.mode.linker is not None and bool(choice.describe())
    True
    """
    chosen = user_mode()
    if chosen is not None:
        if _jax.is_plain_jax(chosen):
            chosen = _jax.jax_mode(chosen.provided_optimizer)
        config = pytensor.config
        named = config.mode if isinstance(config.mode, str) and config.mode != "Mode" else None
        return Choice(
            chosen, named or _linker_name(chosen), "the mode set in PyTensor's configuration"
        )
    variables = _flatten(inputs) + _flatten(outputs) + _flatten(updates)
    sparse, random = _kinds(variables)
    reason = ""
    if not jax_available():
        reason = "jax is not installed"
    elif sparse:
        reason = "the model takes sparse inputs, which JAX cannot hold"
    elif random and draws() == "numpy":
        reason = "THEANETS_DRAWS=numpy keeps numpy's random draws"
    else:
        mode = _jax.jax_mode(_jax.scan_optimizer() if _has_scan(variables) else None)
        return Choice(mode, "JAX", "noise and dropout drawn by JAX's generator" if random else "")
    return Choice(get_mode(None), "Numba", reason)


def default_mode(inputs: Any = (), outputs: Any = (), updates: Any = ()) -> Mode:
    """The compile mode for a function of ``inputs``, ``outputs``, ``updates``:
    the mode of :func:`choose`.

    Returns
    -------
    pytensor.compile.mode.Mode

    Examples
    --------
    >>> import pytensor, pytensor.tensor as TT
    >>> import theanets._mode
    >>> x = TT.matrix('x')
    >>> f = pytensor.function([x], 2 * x, mode=theanets._mode.default_mode([x], [2 * x]))
    >>> f([[1, 2]]).tolist()
    [[2.0, 4.0]]
    """
    return choose(inputs, outputs, updates).mode


def _copy_of(cached: Any, variables: list[Any]) -> Any:
    """A copy of the cached ``(function, shared variables)`` for the graph of
    ``variables`` (its shared variables swapped in), or None if they differ."""
    fn, old = cached
    new = _cache.shared_variables(variables)
    if len(new) != len(old) or any(
        not n.type.in_same_class(o.type) for n, o in zip(new, old, strict=True)
    ):
        return None
    return copy_function(fn, {o: n for o, n in zip(old, new, strict=True) if o is not n})


def copy_function(fn: Any, swap: dict[Any, Any]) -> Any:
    """A copy of compiled function ``fn`` with the shared variables of
    ``swap`` (old -> new) in place of its own; nothing is compiled again
    (under JAX the copy calls ``fn``'s traced program)."""
    present = {id(i.variable) for i in fn.maker.inputs}
    swap = {o: n for o, n in swap.items() if id(o) in present}
    jitted = getattr(getattr(fn.maker, "linker", None), "jitted", None)
    with gc_paused():
        if jitted is None:
            copied = fn.copy(swap=swap, name=fn.name)
        else:
            with _jax.reusing(jitted):
                copied = fn.copy(swap=swap, name=fn.name)
    _compiles.note("copy")
    return copied


def _kept_function(inputs: Any, outputs: Any, updates: list[Any], mode: Mode, kwargs: Any) -> Any:
    """The function compiled from the rewritten graph that an earlier process
    kept on disk (:mod:`theanets._jax.rewritten`), or None.

    Only for theanets' own JAX modes, and for the plain form of the calls
    theanets makes (a list of variables in, variables or a list of them
    out); a function compiled here instead is kept for the next process.
    Returns None (the caller compiles as usual) otherwise.
    """
    if (
        not _jax.own_mode(mode)
        or not _jax.rewritten.enabled()
        or set(kwargs) - {"name", "allow_input_downcast", "on_unused_input"}
        or not isinstance(inputs, (list, tuple))
        or isinstance(outputs, dict)
    ):
        return None
    outs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    name = _jax.rewritten.key(list(inputs), list(outs), updates, mode, kwargs)
    if name is None:
        return None
    shared = _cache.shared_variables(list(outs) + [v for pair in updates for v in pair])
    with gc_paused():
        fn = _jax.rewritten.load(name, list(inputs), shared, mode)
        if fn is not None:
            _compiles.note("disk")
            return fn
        fn = pytensor.function(inputs, outputs, updates=updates, mode=mode, **kwargs)
        _jax.rewritten.save(name, fn, list(inputs), shared)
    return fn


def setting() -> tuple[Any, ...]:
    """What the choice of a mode depends on besides the graph (see
    :func:`choose`): the configured mode and linker, the flags naming them,
    ``THEANETS_DRAWS``."""
    config = pytensor.config
    return (
        str(config.mode),
        str(config.linker),
        os.environ.get("PYTENSOR_FLAGS", ""),
        os.environ.get("THEANETS_DRAWS", ""),
    )


def function(inputs: Any, outputs: Any, updates: Any = (), share: Any = None, **kwargs: Any) -> Any:
    """``pytensor.function`` in the mode of :func:`default_mode`: the one
    place where theanets compiles.

    Parameters
    ----------
    inputs, outputs, updates, **kwargs
        As for ``pytensor.function``.
    share : hashable, optional
        A key of the structure this graph is built from (a model's
        :meth:`~theanets.graph.Network.structure_key` and what the function
        is for). A function of the same key and graph structure compiled
        earlier in this process is copied with this graph's shared
        variables instead of compiling anew.

    Returns
    -------
    pytensor.compile.function.types.Function

    Examples
    --------
    >>> import pytensor.tensor as TT
    >>> x = TT.vector('x')
    >>> function([x], x + 1)([1, 2]).tolist()
    [2.0, 3.0]
    """
    updates = list(updates.items()) if isinstance(updates, dict) else list(updates)
    mode = default_mode(inputs, outputs, updates)
    key = None
    if share is not None:
        outs = _flatten(outputs)
        variables = outs + [v for pair in updates for v in pair]
        signature = _cache.graph_signature(list(_flatten(inputs)) + variables)
        key = (share, signature, id(mode), repr(sorted(kwargs.items())))
        cached = _cache.CACHES["functions"].get(key)
        if cached is not None:
            copied = _copy_of(cached, variables)
            if copied is not None:
                return copied
    fn = _kept_function(inputs, outputs, updates, mode, kwargs)
    if fn is None:
        with gc_paused():
            fn = pytensor.function(inputs, outputs, updates=updates, mode=mode, **kwargs)
    _compiles.note("graph")
    if key is not None:
        _cache.CACHES["functions"].put(key, (fn, _cache.shared_variables(variables)))
    return fn


def compiles_per_shape(inputs: Any, outputs: Any, updates: Any = ()) -> bool:
    """Whether a function of this graph would be compiled for static shapes
    (in the JAX mode), one program per signature of input shapes."""
    return _linker_name(choose(inputs, outputs, updates).mode) == "JAX"


def static_shapes(fn: Any) -> bool:
    """Whether compiled function ``fn`` compiles a program for each new
    signature of input shapes (JAX), so that padding inputs to a few sizes
    saves compiles."""
    return getattr(getattr(fn, "maker", None), "linker", None) is not None and hasattr(
        fn.maker.linker, "jitted"
    )


def keep_numpy_values(variables: Any) -> None:
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
            array = parallel.to_numpy(value)
            if array.dtype == var.type.dtype and array.ndim == var.type.ndim:
                # the same values, of the variable's own type: stored as
                # they are (set_value's type check costs ~10 us a variable,
                # paid at every training step)
                var.container.storage[0] = array
            else:
                var.set_value(array, borrow=True)
