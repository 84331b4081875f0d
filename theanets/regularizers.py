"""Regularizers: penalties added to the loss, and graph changes (noise, dropout).

They are usually made from keyword arguments of ``train``, ``loss``,
``feed_forward`` or ``predict`` (see :func:`from_kwargs`)::

    model.train([X], weight_l2=1e-4, hidden_l1=0.1, hidden_dropout=0.5)

A user subclass of :class:`Regularizer` is used by passing its lower-cased
class name as a keyword, with a weight or a dict of constructor arguments.
"""

from __future__ import annotations

import fnmatch
from collections.abc import MutableMapping, Sequence
from typing import Any

import numpy as np
import pytensor.tensor as TT

from . import checks, util
from ._backend import random_source
from ._typing import Outputs, Symbolic
from .layers.base import Input, Layer

__all__ = [
    "from_kwargs",
    "check_regularizers",
    "Regularizer",
    "WeightL2",
    "WeightL1",
    "HiddenL1",
    "RecurrentNorm",
    "RecurrentState",
    "Contractive",
    "GaussianNoise",
    "BernoulliDropout",
]


def _seed(rng):
    """An int seed (or stream) for a symbolic random stream from ``rng``.

    A numpy RandomState (what a network's ``rng`` may be) gives a seed drawn
    from it; the original library passed it through and then failed.
    """
    if isinstance(rng, np.random.RandomState):
        return int(rng.randint(2**30))
    return rng


def check_regularizers(value: Any, context: str = "regularizers") -> Any:
    """Check the ``regularizers=`` option: None, a dict of options, or a list
    of Regularizer instances. Returns it unchanged.

    The original ignored anything else (``regularizers=5`` trained with no
    regularizer at all).

    Examples
    --------
    >>> check_regularizers(5, 'Regressor.train')  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    theanets.util.ConfigurationError: Regressor.train: regularizers=5 is not allowed: ...
    """
    if value is None or isinstance(value, dict):
        return value
    expected = (
        "expected None, a dict of regularizer options (e.g. {'weight_l2': 1e-4}) "
        "or a list of Regularizer instances"
    )
    if not isinstance(value, (list, tuple)):
        raise util.ConfigurationError(
            "{}: regularizers={!r} is not allowed: {}".format(context, value, expected)
        )
    for item in value:
        if not isinstance(item, Regularizer):
            raise util.ConfigurationError(
                "{}: regularizers holds {!r}, which is not a Regularizer: {}{}".format(
                    context,
                    item,
                    expected,
                    " (build one with theanets.Regularizer.build({!r}, ...))".format(item)
                    if isinstance(item, str)
                    else "",
                )
            )
    return value


def from_kwargs(graph: Any, **kwargs: Any) -> list[Regularizer]:
    """Build the regularizers named in keyword arguments.

    Parameters
    ----------
    graph : theanets.graph.Network
        The network to regularize (its layers give the input, hidden and
        output patterns).
    regularizers : list or dict, optional
        A list of Regularizer instances is returned as is; a dict is merged
        into the other keyword arguments.
    rng : int, optional
        Seed of the random streams of noise and dropout (default 13).
    input_dropout, hidden_dropout, output_dropout : float, optional
        Dropout rates for the inputs, hidden layers and output.
    dropout : dict, optional
        Glob pattern of output names -> dropout rate.
    input_noise, hidden_noise, output_noise : float, optional
        Standard deviations of additive Gaussian noise.
    noise : dict, optional
        Glob pattern of output names -> noise standard deviation.
    **kwargs
        Any registered regularizer name (``weight_l2``, ``hidden_l1``,
        ``contractive``, a user subclass, ...) with a weight or a dict of
        constructor arguments. Other keys are ignored.

    Returns
    -------
    list of Regularizer, dropout first, then noise, then the named ones.

    Examples
    --------
    >>> import theanets
    >>> net = theanets.Regressor([3, 4, 2])
    >>> [type(r).__name__ for r in from_kwargs(net, hidden_dropout=0.5, weight_l2=1e-3)]
    ['BernoulliDropout', 'WeightL2']
    """
    if "regularizers" in kwargs:
        regs = check_regularizers(kwargs["regularizers"])
        if isinstance(regs, (tuple, list)):
            return list(regs)
        if isinstance(regs, dict):
            kwargs = dict(kwargs, **regs)
    rng = kwargs.get("rng", 13)
    if checks.is_number(rng) or isinstance(rng, (str, bool, np.bool_)):
        checks.check_rng("rng", rng)  # a stream object is used as it is, as in the original
    rng = _seed(rng)

    def names(layers):
        return tuple(layer.output_name for layer in layers)

    inputs = names(l for l in graph.layers if isinstance(l, Input))
    hiddens = names(graph.layers[1:-1])
    outputs = names(graph.layers[-1:])

    result: list[Regularizer] = []
    for kind, cls in (("dropout", BernoulliDropout), ("noise", GaussianNoise)):
        levels = _merge_levels(
            [
                (inputs, kwargs.get("input_" + kind, 0)),
                (hiddens, kwargs.get("hidden_" + kind, 0)),
                (outputs, kwargs.get("output_" + kind, 0)),
            ],
            kwargs.get(kind) or {},
        )
        for pattern, weight in levels:
            if weight:
                # Each stochastic regularizer draws from its own stream, so
                # same-shaped outputs do not get the same masks.
                seed = rng + len(result) if checks.is_count(rng) else rng
                result.append(cls(pattern=pattern, weight=weight, rng=seed))

    for key, value in kwargs.items():
        if not Regularizer.is_registered(key):
            continue
        if isinstance(value, dict):
            result.append(Regularizer.build(key, **value))
        else:
            result.append(Regularizer.build(key, weight=value))
    return result


def option_names() -> list[str]:
    """The keyword options :func:`from_kwargs` reads, sorted.

    The regularizer names (any registered key, any case, also works) and the
    dropout and noise options.

    Examples
    --------
    >>> [n for n in option_names() if n.startswith('hidden')]
    ['hidden_dropout', 'hidden_l1', 'hidden_noise', 'hidden_sparsity', 'hiddenl1']
    """
    names = {"regularizers", "rng", "dropout", "noise"}
    for kind in ("dropout", "noise"):
        names.update("{}_{}".format(where, kind) for where in ("input", "hidden", "output"))
    names.update(Regularizer.names())
    return sorted(names)


def is_option(name: str) -> bool:
    """True if :func:`from_kwargs` reads the keyword ``name``.

    Examples
    --------
    >>> is_option('weight_l2'), is_option('Weight_L2'), is_option('learning_rate')
    (True, True, False)
    """
    return name in option_names() or Regularizer.is_registered(name)


def _merge_levels(defaults, given):
    """The (pattern, level) pairs: defaults, updated or extended by ``given``.

    A list, not a dict, so that the input and output patterns of a network
    whose only layers are its input and output stay two entries.
    """
    levels = list(defaults)
    for pattern, level in dict(given).items():
        for i, (default, _) in enumerate(levels):
            if default == pattern:
                levels[i] = (pattern, level)
                break
        else:
            levels.append((pattern, level))
    return levels


class Regularizer(metaclass=util.Registrar):
    """Base class of regularizers.

    Parameters
    ----------
    pattern : str or sequence of str
        Glob pattern(s) of the output or parameter names it applies to.
    weight : float
        Strength: the factor of the loss term, or the noise/dropout level.
    """

    def __init__(self, pattern: str | None = "*", weight: float = 0.0) -> None:
        if not checks.is_number(weight) or not np.isfinite(weight):
            raise util.ConfigurationError(
                "{}: weight must be a finite number, not {!r}".format(type(self).__name__, weight)
            )
        self.pattern = pattern
        self.weight = weight

    def log(self) -> None:
        """Log a one-line description."""
        util.log("regularizer: {} * {} on {}", self.weight, type(self).__name__, self.pattern)

    def modify_graph(self, outputs: MutableMapping[str, Symbolic]) -> None:
        """Change one layer's ``outputs`` dict in place (nothing by default)."""

    def loss(self, layers: Sequence[Layer], outputs: Outputs) -> Symbolic:
        """The symbolic penalty, before ``weight`` is applied (0 by default)."""
        return 0

    def updates(self) -> list[tuple[Symbolic, Symbolic]]:
        """Update pairs the modified graph needs (random generator states)."""
        return []

    def graph_key(self) -> tuple[Any, ...]:
        """What of this regularizer shapes the graph it builds: part of the
        key under which a model caches graphs and compiled functions."""
        return (type(self).__name__, self.weight, repr(self.pattern))

    def __repr__(self):
        return "{}({!r}, {!r})".format(type(self).__name__, self.pattern, self.weight)


def _mean_of(terms):
    terms = list(terms)
    if not terms:
        return 0
    return sum(terms) / len(terms)


class WeightL2(Regularizer):
    """Mean over matching weight matrices (ndim > 1) of ``mean(W ** 2)``."""

    __extra_registration_keys__ = ["weight_l2", "weight_decay"]

    def _penalty(self, value):
        return TT.sqr(value).mean()

    def loss(self, layers: Sequence[Layer], outputs: Outputs) -> Symbolic:
        return _mean_of(
            self._penalty(p) for _, p in util.params_matching(layers, self.pattern) if p.ndim > 1
        )


class WeightL1(WeightL2):
    """Mean over matching weight matrices (ndim > 1) of ``mean(abs(W))``."""

    __extra_registration_keys__ = ["weight_l1", "weight_sparsity"]

    def _penalty(self, value):
        return abs(value).mean()


def _hidden_pattern(pattern, layers):
    """``'*'`` (or None) stands for the hidden layers' ``:out`` outputs."""
    if pattern in ("*", None):
        return tuple(layer.output_name for layer in layers[1:-1])
    return pattern


class HiddenL1(Regularizer):
    """Mean over matching outputs of ``mean(abs(h))`` (hidden layers by default)."""

    __extra_registration_keys__ = ["hidden_l1", "hidden_sparsity"]

    def loss(self, layers: Sequence[Layer], outputs: Outputs) -> Symbolic:
        pattern = _hidden_pattern(self.pattern, layers)
        return _mean_of(abs(h).mean() for _, h in util.outputs_matching(outputs, pattern))


class RecurrentNorm(Regularizer):
    """Mean change of the squared norm of recurrent outputs between time steps.

    With ``n_t = sum(h_t ** 2)``, the penalty is ``mean(n_t - n_{t+1})``
    (not squared: kept from the original), averaged over matching 3-D
    outputs (batch, time, features).
    """

    __extra_registration_keys__ = ["recurrent_norm"]

    def _penalty(self, h):
        norms = TT.sqr(h).sum(axis=-1)
        return (norms[:, :-1] - norms[:, 1:]).mean()

    def loss(self, layers: Sequence[Layer], outputs: Outputs) -> Symbolic:
        return _mean_of(
            self._penalty(h) for _, h in util.outputs_matching(outputs, self.pattern) if h.ndim == 3
        )


class RecurrentState(RecurrentNorm):
    """Mean squared change of recurrent outputs between time steps."""

    __extra_registration_keys__ = ["recurrent_state"]

    def _penalty(self, h):
        return TT.sqr(h[:, :-1] - h[:, 1:]).mean()


class Contractive(Regularizer):
    """Squared gradient of hidden activity with respect to the inputs.

    Parameters
    ----------
    pattern : str, optional
        Outputs whose mean activity is differentiated; ``None`` or ``'*'``
        means the hidden layers' outputs (not counting Input layers of a
        multi-input network). (In the original library the default None
        raised a TypeError; here it works.)
    wrt : str
        Glob pattern of the input variables to differentiate with respect to.
        An output that does not depend on a matching input contributes a zero
        gradient for it (the original raised a DisconnectedInputError).
    """

    def __init__(self, pattern: str | None = None, weight: float = 0.0, wrt: str = "*") -> None:
        super().__init__(pattern=pattern, weight=weight)
        self.wrt = wrt

    def loss(self, layers: Sequence[Layer], outputs: Outputs) -> Symbolic:
        pattern: str | tuple[str, ...] | None = self.pattern
        if pattern in ("*", None):
            # Hidden layers only: an Input layer in the middle of a
            # multi-input network holds data, not hidden activity.
            pattern = tuple(
                layer.output_name for layer in layers[1:-1] if not isinstance(layer, Input)
            )
        wrt = [
            layer.input
            for layer in layers
            if isinstance(layer, Input) and fnmatch.fnmatch(layer.input.name, self.wrt)
        ]
        if not wrt:
            raise util.ConfigurationError(
                "Contractive: wrt={!r} matches no input; inputs are {}".format(
                    self.wrt, [l.name for l in layers if isinstance(l, Input)]
                )
            )

        # An output that does not depend on some input has a zero gradient
        # with respect to it (not an error).
        def contraction(h: Symbolic) -> Symbolic:
            grads: Any = TT.grad(h.mean(), wrt, disconnected_inputs="ignore")
            return sum(TT.sqr(g).mean() for g in grads)

        return _mean_of(contraction(h) for _, h in util.outputs_matching(outputs, pattern))


class _Stochastic(Regularizer):
    """Shared machinery of regularizers that change graph outputs at random."""

    __abstract__ = True

    SUFFIX = ""

    #: The (low, high) bounds of the weight, and how to say them.
    LIMITS = (0, np.inf, "at least 0")

    def __init__(self, pattern: str = "*:out", weight: float = 0.0, rng: Any = 13) -> None:
        super().__init__(pattern=pattern, weight=weight)
        low, high, text = self.LIMITS
        if not low <= weight < high:
            raise util.ConfigurationError(
                "{} on {!r}: the level must be {}, not {!r}".format(
                    type(self).__name__, pattern, text, weight
                )
            )
        self.seed = _seed(rng)
        self.rng = random_source(self.seed)

    def graph_key(self) -> tuple[Any, ...]:
        """As for Regularizer, with the seed: another seed draws other noise."""
        seed = self.seed if checks.is_count(self.seed) else ("stream", id(self.seed))
        return super().graph_key() + (seed,)

    def modify_graph(self, outputs: MutableMapping[str, Symbolic]) -> None:
        for name, expr in list(util.outputs_matching(outputs, self.pattern)):
            outputs[name + self.SUFFIX] = expr
            outputs[name] = self._apply(expr)

    def _apply(self, expr):
        raise NotImplementedError

    def updates(self) -> list[tuple[Symbolic, Symbolic]]:
        return self.rng.updates()


class GaussianNoise(_Stochastic):
    """Add ``N(0, weight ** 2)`` noise to matching outputs.

    The unchanged values stay available as ``'<name>-prenoise'``.
    """

    SUFFIX = "-prenoise"

    def _apply(self, expr):
        noise = self.rng.normal(0, self.weight, size=expr.shape)
        return expr + TT.cast(noise, expr.dtype)


class BernoulliDropout(_Stochastic):
    """Zero each matching output value with probability ``weight``.

    Kept values are scaled by ``1 / (1 - weight)`` (inverted dropout), so the
    expected value is unchanged. The unchanged values stay available as
    ``'<name>-predrop'``.
    """

    SUFFIX = "-predrop"
    LIMITS = (0, 1, "a probability in [0, 1)")

    def _apply(self, expr):
        keep = 1 - self.weight
        mask = self.rng.binomial(1, keep, size=expr.shape)
        return expr * TT.cast(mask, expr.dtype) / TT.cast(keep, expr.dtype)
