"""Compiled steps shared between optimizers of one structure.

An optimizer with a ``share_key`` (:func:`theanets.trainer.optimizer_for`
sets it to the structure of the model trained) compiles its evaluation and
training functions once per structure, compiled hyper-parameters and mode
setting. A later optimizer of the same key takes copies of them with its
own shared variables swapped in (``Function.copy(swap=...)``), without
building its training graph -- the gradient and every update -- again: for
a small model, building that graph was most of what a new model of a known
structure cost (iris: 54 of 73 ms of a scikit-learn estimator's compile).

The copy is made only when it is certainly the function this optimizer
would compile: its loss, monitors and graph updates have the structure of
the first optimizer's (the same graph signature), and every shared variable
the compiled functions read maps to one of this optimizer's: a variable of
its graph (at the same place of the graph), a parameter (at the same
place in the list), a new state variable (accumulators, velocities, step
counts, random generators: new variables holding the first optimizer's
initial values, which depend only on the key) or a new shared
hyper-parameter. Otherwise the optimizer builds and compiles its own.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

from pytensor.compile.sharedvalue import SharedVariable

from .. import _cache, _mode

__all__ = ["Step", "key_of", "remember", "copy_into"]


@dataclasses.dataclass
class Step:
    """What a later optimizer of the same key needs of a compiled one."""

    f_eval: Any
    f_step: Any
    #: the shared variables of the loss, monitors and graph updates, in the
    #: order of a walk from them
    graph: list[SharedVariable]
    signature: str
    params: list[SharedVariable]
    #: the optimizer's own state variables with their initial values
    state: list[tuple[SharedVariable, Any]]
    hypers: dict[str, SharedVariable]
    #: the compile mode and why, for the display
    choice: Any


def _graph_variables(opt: Any) -> list[Any]:
    return list(opt._monitor_exprs) + [v for pair in opt._updates for v in pair]


def _signature(opt: Any) -> str:
    return _cache.graph_signature(list(opt._inputs) + _graph_variables(opt))


def key_of(opt: Any) -> tuple[Any, ...] | None:
    """The key of ``opt``'s compiled step, or None if it shares none."""
    share = getattr(opt, "share_key", None)
    if share is None:
        return None
    return (share, opt._hyper_key(), _mode.setting())


def remember(opt: Any, key: tuple[Any, ...], choice: Any) -> None:
    """Keep ``opt``'s freshly compiled functions for later optimizers of ``key``."""
    _cache.CACHES["steps"].put(
        key,
        Step(
            f_eval=opt.f_eval,
            f_step=opt.f_step,
            graph=_cache.shared_variables(_graph_variables(opt)),
            signature=_signature(opt),
            params=list(opt._params),
            state=list(opt._initial_state),
            hypers=dict(opt._hypers),
            choice=choice,
        ),
    )


def _new_like(var: SharedVariable, value: Any) -> SharedVariable:
    """A new shared variable of ``var``'s class, type and name holding a copy of ``value``."""
    return type(var)(type=var.type, value=copy.deepcopy(value), strict=False, name=var.name)


def _swap(step: Step, opt: Any) -> tuple[dict[Any, Any], list[Any]] | None:
    """The variables of ``step`` -> those of ``opt``, and ``opt``'s initial
    state; None if some variable has no counterpart."""
    graph = _cache.shared_variables(_graph_variables(opt))
    if len(graph) != len(step.graph) or len(opt._params) != len(step.params):
        return None
    swap = dict(zip(step.graph, graph, strict=True))
    for old, new in zip(step.params, opt._params, strict=True):
        if swap.setdefault(old, new) is not new:
            return None
    state = []
    for old, value in step.state:
        new = _new_like(old, value)
        swap[old] = new
        state.append((new, copy.deepcopy(value)))
    for name, old in step.hypers.items():
        new = opt._shared_hyper(name)
        if not isinstance(new, SharedVariable):
            return None
        swap[old] = new
    if any(not new.type.in_same_class(old.type) for old, new in swap.items()):
        return None
    for fn in (step.f_eval, step.f_step):
        for item in fn.maker.inputs:
            var = item.variable
            if isinstance(var, SharedVariable) and var not in swap:
                return None
    return {old: new for old, new in swap.items() if old is not new}, state


def copy_into(opt: Any, key: tuple[Any, ...]) -> Any:
    """Give ``opt`` copies of the functions compiled for ``key``, if any.

    Sets ``opt.f_eval``, ``opt.f_step``, its initial state and its shared
    hyper-parameters (``opt._hypers`` must be empty and its hyper-parameter
    attributes set).

    Returns
    -------
    The compile mode choice of the copied functions (for the display), or
    None if nothing was copied: ``opt`` must build and compile its own.
    """
    step = _cache.CACHES["steps"].get(key)
    if step is None or _signature(opt) != step.signature:
        return None
    found = _swap(step, opt)
    if found is None:
        opt._hypers = {}
        return None
    swap, state = found
    opt.f_eval = _mode.copy_function(step.f_eval, swap)
    opt.f_step = _mode.copy_function(step.f_step, swap)
    opt._initial_state = state
    return step.choice
