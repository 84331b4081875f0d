"""The optimizers' hyper-parameters: one table of :class:`Option` records.

Each record gives a training option's name, default, constraint, owner
(who reads it: ``'loop'``, ``'dataset'``, ``'optimizer'``,
``'regularizer'`` or ``'model'``), whether its value is compiled into the
training step, and a line of documentation. :data:`OPTIONS` holds those the
optimizers read; an optimizer class names the ones it reads in its
``HYPERS``, and the ``_prepare`` method of
:class:`~theanets.downhill.Optimizer` reads, checks, sets and logs them in
one loop. :data:`DATA_OPTIONS` are the loop's and the datasets' options that
downhill reads (``max_updates``, ``batch_size``, ...).
:mod:`theanets.options` adds the other training options to the same table.

Examples
--------
>>> lr = option('learning_rate')
>>> lr.default, lr.owner, lr.compiled
(0.0001, 'optimizer', True)
>>> lr.check(-1)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
theanets.util.ConfigurationError: learning_rate=-1 is not allowed: expected a finite real ...
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from .. import util
from ..checks import check_int, check_real

__all__ = [
    "OWNERS",
    "Option",
    "Real",
    "Int",
    "Flag",
    "Kind",
    "OPTIONS",
    "DATA_OPTIONS",
    "option",
    "decay",
]

#: Who reads an option.
OWNERS = ("loop", "dataset", "optimizer", "regularizer", "model")


@dataclasses.dataclass(frozen=True)
class Real:
    """A real number (not a bool) in a range; checked by
    :func:`theanets.checks.check_real`. ``low`` may name another option: its
    checked value is the bound."""

    low: float | str | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    finite: bool = True
    kind = "float"

    def check(self, name: str, value: Any, values: Mapping[str, Any] | None = None) -> float:
        low = (values or {}).get(self.low) if isinstance(self.low, str) else self.low
        return check_real(name, value, low, self.high, self.low_open, self.high_open, self.finite)


@dataclasses.dataclass(frozen=True)
class Int:
    """An integer (not a bool) ``>= low``, or None where ``allow_none``."""

    low: int | None = None
    allow_none: bool = False
    kind = "int"

    def check(self, name: str, value: Any, values: Mapping[str, Any] | None = None) -> int | None:
        return check_int(name, value, self.low, self.allow_none)


@dataclasses.dataclass(frozen=True)
class Flag:
    """Anything, taken for its truth value."""

    kind = "bool"

    def check(self, name: str, value: Any, values: Mapping[str, Any] | None = None) -> bool:
        return bool(value)


@dataclasses.dataclass(frozen=True)
class Kind:
    """A value of the kind ``kind`` describes, checked where it is used (by
    its owner: the regularizers, the data wrapping, the display, ...)."""

    kind: str

    def check(self, name: str, value: Any, values: Mapping[str, Any] | None = None) -> Any:
        return value


@dataclasses.dataclass(frozen=True)
class Option:
    """One training option.

    Attributes
    ----------
    name : str
        The keyword.
    default
        Its value when not given: written here and nowhere else.
    constraint : Real, Int, Flag or Kind
        What values are allowed; :meth:`check` applies it.
    owner : str
        Who reads it, one of :data:`OWNERS`.
    compiled : bool
        Whether a new value changes the compiled training step (False for
        the options that only steer the loop or the mini-batches).
    doc : str
        What it does, in one sentence (the docstring of ``train``, the guide).
    attr : str, optional
        The optimizer attribute that holds the checked value (default: name).
    convert : callable, optional
        Turns the checked value into the attribute (a half-life into a decay).
    shared : bool
        The compiled step reads it from a shared variable: a new value needs
        no compile (:attr:`Optimizer.SHARED_HYPERS`).
    synonyms : tuple of str
        Other names of the option (``doc`` mentions them). The optimizers'
        are deprecated: the optimizers warn when they are used.
    """

    name: str
    default: Any
    constraint: Real | Int | Flag | Kind
    owner: str
    compiled: bool
    doc: str
    attr: str | None = None
    convert: Callable[[Any], Any] | None = None
    shared: bool = False
    synonyms: tuple[str, ...] = ()

    def __post_init__(self):
        if self.owner not in OWNERS:
            raise util.ConfigurationError(
                "option {}: owner {!r} is not one of {}".format(
                    self.name, self.owner, ", ".join(OWNERS)
                )
            )

    def check(self, value: Any, values: Mapping[str, Any] | None = None) -> Any:
        """``value`` checked (and made canonical) by the constraint; raises
        :class:`~theanets.util.ConfigurationError` naming the option, the
        value and what is allowed. ``values`` are the options checked so far
        (for a bound that names another option)."""
        return self.constraint.check(self.name, value, values)


def decay(halflife: float) -> float:
    """The decay factor ``exp(-ln 2 / halflife)`` of a half-life in updates.

    >>> round(decay(7), 4)
    0.9057
    """
    return float(np.exp(-np.log(2) / halflife))


_HALFLIFE = Real(0, low_open=True)

#: The hyper-parameters of the optimizers, those of :class:`Optimizer` first.
OPTIONS = (
    Option(
        "learning_rate",
        1e-4,
        Real(0),
        "optimizer",
        True,
        "step size (the initial step size of rprop; unused by adadelta)",
        shared=True,
    ),
    Option("momentum", 0, Real(0, 1, high_open=True), "optimizer", True, "momentum, in [0, 1)"),
    Option("nesterov", False, Flag(), "optimizer", True, "Nesterov momentum (nag sets it)"),
    Option(
        "patience",
        5,
        Real(0, finite=False),
        "loop",
        False,
        "validations without improvement before training stops",
    ),
    Option("validate_every", 10, Int(1), "loop", False, "updates between validations"),
    Option(
        "min_improvement",
        0,
        Real(0),
        "loop",
        False,
        "relative decrease of the validation loss that counts as an improvement (0: any)",
    ),
    Option(
        "max_gradient_norm",
        0,
        Real(0),
        "optimizer",
        True,
        "if > 0, rescale each parameter's gradient to at most this L2 norm",
    ),
    Option(
        "max_gradient_elem",
        0,
        Real(0),
        "optimizer",
        True,
        "if > 0, clip each gradient element to [-limit, limit] (it takes precedence over "
        "``max_gradient_norm``; ``max_gradient_clip`` and ``gradient_clip`` are deprecated "
        "synonyms)",
        synonyms=("max_gradient_clip", "gradient_clip"),
    ),
    Option(
        "rms_halflife",
        14,
        _HALFLIFE,
        "optimizer",
        True,
        "half-life, in updates, of the gradient averages of rmsprop, adadelta and esgd",
        attr="ewma",
        convert=decay,
    ),
    Option(
        "rms_regularizer",
        1e-8,
        Real(0),
        "optimizer",
        True,
        "the epsilon that keeps the divisions of adagrad, rmsprop, adadelta, esgd and adam finite",
        attr="epsilon",
    ),
    Option(
        "rprop_increase",
        1.01,
        Real(1),
        "optimizer",
        True,
        "rprop: step-size factor when a gradient keeps its sign",
        attr="step_increase",
    ),
    Option(
        "rprop_decrease",
        0.99,
        Real(0, 1, low_open=True),
        "optimizer",
        True,
        "rprop: step-size factor when a gradient changes its sign",
        attr="step_decrease",
    ),
    Option(
        "rprop_min_step",
        0,
        Real(0),
        "optimizer",
        True,
        "rprop: smallest step size",
        attr="min_step",
    ),
    Option(
        "rprop_max_step",
        100,
        Real("rprop_min_step", finite=False),
        "optimizer",
        True,
        "rprop: largest step size",
        attr="max_step",
    ),
    Option(
        "beta1_halflife",
        7,
        _HALFLIFE,
        "optimizer",
        True,
        "adam: half-life of the mean of gradients (beta1 = exp(-ln 2 / halflife))",
        attr="beta1",
        convert=decay,
    ),
    Option(
        "beta2_halflife",
        69,
        _HALFLIFE,
        "optimizer",
        True,
        "adam: half-life of the mean of squared gradients",
        attr="beta2",
        convert=decay,
    ),
)

#: The options of the loop and the datasets that the downhill functions read
#: (:meth:`Optimizer.iterate`, :func:`minimize`, :class:`Dataset`).
DATA_OPTIONS = (
    Option(
        "max_updates",
        None,
        Int(0, allow_none=True),
        "loop",
        False,
        "stop after this many updates (None: no limit)",
    ),
    Option(
        "batch_size",
        32,
        Int(),
        "dataset",
        False,
        "examples per mini-batch (``<= 0``: one batch of everything)",
    ),
    Option(
        "iteration_size",
        None,
        Int(1, allow_none=True),
        "dataset",
        False,
        "mini-batches per training iteration and per validation (None: all of them); "
        "it overrides ``train_batches`` and ``valid_batches``",
    ),
    Option(
        "train_batches",
        None,
        Int(1, allow_none=True),
        "dataset",
        False,
        "mini-batches per training iteration, where no ``iteration_size`` is given",
    ),
    Option(
        "valid_batches",
        None,
        Int(1, allow_none=True),
        "dataset",
        False,
        "mini-batches per validation, where no ``iteration_size`` is given",
    ),
    Option("axis", 0, Int(), "dataset", False, "the axis of the examples in the data arrays"),
)

_BY_NAME = {entry.name: entry for entry in OPTIONS + DATA_OPTIONS}


def option(name: str | Option) -> Option:
    """The :class:`Option` called ``name`` in :data:`OPTIONS` (an Option is
    returned as it is: a user's optimizer may declare its own).

    Raises
    ------
    theanets.util.UnknownNameError
        For a name that is not in the table.
    """
    if isinstance(name, Option):
        return name
    if name not in _BY_NAME:
        raise util.UnknownNameError(
            "unknown hyper-parameter {!r}; the table has: {}".format(name, ", ".join(_BY_NAME))
        )
    return _BY_NAME[name]
