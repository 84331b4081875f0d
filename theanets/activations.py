"""Activation functions for layers.

An activation is named by a string in a layer spec: a plain name from the
table below, ``'maxout:k'``, the key of an :class:`Activation` subclass
(``'prelu'``, ``'lgrelu'``, ``'elu'`` or a user subclass by lower-cased
class name), or several of these joined with ``+`` and applied left to right
(``'relu+norm:z'`` applies relu first).

Plain names: ``linear``, ``logistic``/``sigmoid``, ``tanh``, ``softplus``,
``softmax``, ``relu``/``rect:max``, ``rect:min``, ``rect:minmax``,
``norm:mean``, ``norm:max``, ``norm:std``, ``norm:z``.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pytensor
import pytensor.tensor as TT

from . import util
from ._backend import sigmoid, softplus
from ._typing import Symbolic

__all__ = ["build", "plain_name", "Activation", "Compose", "Prelu", "LGrelu", "Elu", "Maxout"]


def _identity(x):
    return x


def _softmax(x):
    z = TT.exp(x - x.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def _relu(x):
    return TT.maximum(x, 0)


def _rect_min(x):
    return TT.minimum(x, 1)


def _rect_minmax(x):
    return TT.clip(x, 0, 1)


def _norm_mean(x):
    return x - x.mean(axis=-1, keepdims=True)


def _norm_max(x):
    return x / (abs(x).max(axis=-1, keepdims=True) + 1e-8)


def _norm_std(x):
    return x / (x.std(axis=-1, keepdims=True) + 1e-8)


def _norm_z(x):
    return (x - x.mean(axis=-1, keepdims=True)) / (x.std(axis=-1, keepdims=True) + 1e-8)


#: The plain (parameter-free) activations, by name.
COMMON = {
    "linear": _identity,
    "logistic": sigmoid,
    "sigmoid": sigmoid,
    "tanh": TT.tanh,
    "softplus": softplus,
    "softmax": _softmax,
    "relu": _relu,
    "rect:max": _relu,
    "rect:min": _rect_min,
    "rect:minmax": _rect_minmax,
    "norm:mean": _norm_mean,
    "norm:max": _norm_max,
    "norm:std": _norm_std,
    "norm:z": _norm_z,
}


class _Plain:
    """A parameter-free activation: a named, picklable wrapper of a function."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.params: list[Symbolic] = []

    def __call__(self, x: Symbolic) -> Symbolic:
        return COMMON[self.name](x)

    def __repr__(self):
        return "Activation({!r})".format(self.name)


def plain_name(activation: Any) -> str | None:
    """The name of ``activation`` if it is one of the parameter-free
    functions of :data:`COMMON` (as :func:`build` makes them), else None."""
    return activation.name if isinstance(activation, _Plain) else None


def build(name: str | Activation, layer: Any, **kwargs: Any) -> Activation | _Plain:
    """Construct the activation function called ``name`` for ``layer``.

    Parameters
    ----------
    name : str or Activation
        The activation's name (see the module docstring); an
        :class:`Activation` instance is returned unchanged.
    layer : theanets.layers.Layer
        The layer that will use the activation: parametric activations make
        one parameter per unit of its output, drawn from its rng.

    Returns
    -------
    A callable mapping a symbolic tensor to a symbolic tensor, with
    attributes ``name`` and ``params`` (a list of shared variables).

    Raises
    ------
    UnknownNameError
        (a KeyError) naming the layer and the valid choices.
    """
    if isinstance(name, Activation):
        return name
    if not isinstance(name, str):
        raise util.ConfigurationError(
            "layer {!r}: activation must be a string or an Activation, not {!r}".format(
                getattr(layer, "name", layer), name
            )
        )
    if "+" in name:
        parts = [build(n, layer, **kwargs) for n in name.split("+")]
        return functools.reduce(
            lambda inner, outer: Compose(name, layer, inner=inner, outer=outer), parts
        )
    if name in COMMON:
        return _Plain(name)
    if name.lower().partition(":")[0] == "maxout":
        try:
            pieces = int(name.partition(":")[2])
            if pieces < 1:
                raise ValueError(pieces)
        except ValueError:
            raise util.ConfigurationError(  # noqa: B904 (the message says it all)
                'layer {!r}: maxout activation must be written "maxout:<pieces>" '
                "with a positive whole number of pieces, not {!r}".format(
                    getattr(layer, "name", layer), name
                )
            )
        return Maxout(name, layer, pieces=pieces, **kwargs)
    if not Activation.is_registered(name):
        choices = list(COMMON) + ["maxout:<k>"] + Activation.names()
        raise util.unknown_name(
            "activation",
            name,
            choices,
            context="layer {!r}: ".format(getattr(layer, "name", layer)),
        )
    return Activation.build(name, name=name, layer=layer, **kwargs)


class Activation(metaclass=util.Registrar):
    """Base class of activations with learnable parameters.

    Subclass it and implement ``__call__(x)``; the subclass is then usable in
    a layer spec by its lower-cased class name. Parameters go in
    ``self.params`` (use :meth:`_add_param` so they are named
    ``'<layer>.<name>'`` and drawn from the layer's rng).

    Parameters
    ----------
    name : str
        The name this activation was requested by.
    layer : theanets.layers.Layer
        The layer using the activation.

    Examples
    --------
    >>> import pytensor.tensor as TT
    >>> class ThresholdedLinear(Activation):
    ...     def __call__(self, x: Symbolic) -> Symbolic:
    ...         return x * (x > 1)
    >>> Activation.is_registered('thresholdedlinear')
    True
    """

    def __init__(self, name: str, layer: Any, **kwargs: Any) -> None:
        self.name = name
        self.layer = layer
        self.kwargs = kwargs
        self.params: list[Symbolic] = []

    def _add_param(self, suffix, value):
        """Append a shared parameter named ``'<layer>.<suffix>'``."""
        param = pytensor.shared(
            np.asarray(value, dtype=pytensor.config.floatX),
            name="{}.{}".format(self.layer.name, suffix),
        )
        self.params.append(param)
        return param

    def _small_positive(self, suffix):
        """A per-unit parameter initialised to ``0.1 * abs(randn(units))``."""
        return self._add_param(suffix, 0.1 * abs(self.layer.rng.randn(self.layer.output_size)))

    def __call__(self, x: Symbolic) -> Symbolic:
        raise NotImplementedError("{} must implement __call__(x)".format(type(self).__name__))

    def __repr__(self):
        return "Activation({!r})".format(self.name)


class Compose(Activation):
    """Apply ``inner`` then ``outer``: ``outer(inner(x))``.

    Its name is ``'outer(inner)'`` and its params are outer's then inner's.
    The two functions are also ``f`` (inner) and ``g`` (outer), the names the
    original used (scripts read ``layer.activate.f.name``). It is made from
    a ``'inner+outer'`` name, not built by its own name.

    Examples
    --------
    >>> import theanets
    >>> net = theanets.Regressor([3, (4, 'relu+norm:z'), 2])
    >>> act = net.layers[1].activate
    >>> act.name, act.f.name, act.g.name
    ('norm:z(relu)', 'relu', 'norm:z')
    """

    __abstract__ = True  # needs its two functions: not buildable by name

    def __init__(
        self,
        name: str,
        layer: Any,
        inner: Activation | _Plain,
        outer: Activation | _Plain,
        **kwargs: Any,
    ) -> None:
        super().__init__(name, layer, **kwargs)
        self.inner = self.f = inner
        self.outer = self.g = outer
        self.name = "{}({})".format(outer.name, inner.name)
        self.params = list(outer.params) + list(inner.params)

    def __call__(self, x: Symbolic) -> Symbolic:
        return self.outer(self.inner(x))


class Prelu(Activation):
    """Parametric rectified linear: ``relu(x) + exp(leak) * min(x, 0)``.

    One ``leak`` per unit, initialised to ``0.1 * abs(randn)``.
    """

    __extra_registration_keys__ = ["leaky-relu"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.leak = self._small_positive("leak")

    def __call__(self, x: Symbolic) -> Symbolic:
        return _relu(x) + TT.exp(self.leak) * TT.minimum(x, 0)


class LGrelu(Activation):
    """Leaky, gained rectified linear: ``exp(gain) relu(x) + exp(leak) min(x, 0)``.

    Draws ``gain`` then ``leak``, each ``0.1 * abs(randn)`` per unit.
    """

    __extra_registration_keys__ = ["leaky-gain-relu"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.gain = self._small_positive("gain")
        self.leak = self._small_positive("leak")

    def __call__(self, x: Symbolic) -> Symbolic:
        return TT.exp(self.gain) * _relu(x) + TT.exp(self.leak) * TT.minimum(x, 0)


class Elu(Activation):
    """Exponential linear: ``x`` for ``x >= 0``, else ``exp(gain) (exp(x) - 1)``."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.gain = self._small_positive("gain")

    def __call__(self, x: Symbolic) -> Symbolic:
        return TT.switch(x >= 0, x, TT.exp(self.gain) * (TT.exp(x) - 1))


class Maxout(Activation):
    """Piecewise linear: ``max_k(slope[:, k] * x + intercept[:, k])``.

    Requested as ``'maxout:<pieces>'``; draws ``slope`` then ``intercept``,
    each ``randn(units, pieces)``.
    """

    def __init__(self, *args, pieces=2, **kwargs):
        super().__init__(*args, **kwargs)
        self.pieces = pieces
        shape = (self.layer.output_size, pieces)
        self.slope = self._add_param("slope", self.layer.rng.randn(*shape))
        self.intercept = self._add_param("intercept", self.layer.rng.randn(*shape))

    def __call__(self, x: Symbolic) -> Symbolic:
        return (x[..., None] * self.slope + self.intercept).max(axis=-1)
