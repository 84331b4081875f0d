"""Loss functions: what a network minimises while training.

A model has one or more losses (``model.losses``); their weighted sum, plus
any regularizers, is the training loss. The first loss alone is reported as
the ``err`` monitor. Losses are a registry: ``loss='mae'`` in a model
constructor, ``model.add_loss('xe', weight=0.1)``, or a user subclass by its
lower-cased class name.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytensor.tensor as TT

from . import checks, util
from ._typing import Outputs, Symbolic

__all__ = [
    "Loss",
    "MeanSquaredError",
    "MeanAbsoluteError",
    "GaussianLogLikelihood",
    "MaximumMeanDiscrepancy",
    "KullbackLeiblerDivergence",
    "CrossEntropy",
    "Hinge",
]


def _full_output_name(name: str) -> str:
    return name if ":" in name else name + ":out"


def _weight_total(weights):
    """The sum of ``weights``, or 1 where it is 0: a mini-batch whose weights
    are all zero (a batch of fully masked sequences) adds 0 to the loss
    instead of NaN (0 / 0), which the original reported as divergence. Where
    the sum is positive, values and gradients are the original's."""
    total = weights.sum()
    return TT.switch(TT.gt(total, 0), total, TT.ones_like(total))


class Loss(metaclass=util.Registrar):
    """Base class of losses.

    Parameters
    ----------
    target : int or symbolic variable
        The number of dimensions of the target array (a float container
        named ``'target'`` is made), or a symbolic variable to use as the
        target (an autoencoder's input).
    weight : float
        Factor applied to this loss in the model's total loss.
    weighted : bool
        If True the loss takes an extra array ``weights`` shaped like the
        target, and computes a weighted mean. A mini-batch whose weights
        are all zero gives 0 (the original gave NaN, 0 / 0, and training
        stopped as if it diverged); weights are checked at ``train`` to be
        >= 0 and not all zero.
    output_name : str
        The graph output compared against the target; ``':out'`` is
        appended when there is no colon.

    Notes
    -----
    To write a loss, subclass and implement ``__call__(outputs)``, returning
    a symbolic scalar; ``self._target`` is the target variable and
    ``self._weights`` the weights variable or None.
    """

    #: Containers used to make the target variable, by ndim.
    TARGET_CONTAINERS = util.FLOAT_CONTAINERS

    def __init__(
        self,
        target: int | Symbolic,
        weight: float = 1.0,
        weighted: bool = False,
        output_name: str = "out",
    ) -> None:
        self.weight = weight
        self._target = self._target_variable(target)
        self._weights: Symbolic | None = None
        if weighted:
            self._weights = util.FLOAT_CONTAINERS[self._target.ndim]("weights")
        self.output_name = _full_output_name(output_name)

    def _target_variable(self, target: int | Symbolic) -> Symbolic:
        """``target`` itself, or a new variable named 'target' of that many dimensions."""
        if not checks.is_count(target):
            return target
        if not 0 <= target < len(self.TARGET_CONTAINERS):
            raise util.ConfigurationError(
                "{}: target must have 0 to {} dimensions, not {}".format(
                    type(self).__name__, len(self.TARGET_CONTAINERS) - 1, target
                )
            )
        return self.TARGET_CONTAINERS[target]("target")

    @property
    def variables(self) -> list[Symbolic]:
        """The symbolic inputs this loss needs: target, then weights."""
        result = [self._target]
        if self._weights is not None:
            result.append(self._weights)
        return result

    def to_spec(self) -> dict[str, Any]:
        """A dict from which ``Network.add_loss`` rebuilds this loss.

        Returns
        -------
        dict
            ``form`` (the registry name), ``weight``, ``weighted``,
            ``output_name`` and ``target``: the number of dimensions when the
            target is a free variable like the one this loss makes itself
            (named ``'target'``, of this loss's container type), else the
            symbolic target variable itself (for instance an autoencoder's
            input). Subclasses with more constructor arguments add them.

        Examples
        --------
        >>> spec = MeanSquaredError(target=2, weight=0.5).to_spec()
        >>> sorted(spec.items())  # doctest: +NORMALIZE_WHITESPACE
        [('form', 'meansquarederror'), ('output_name', 'out:out'), ('target', 2),
         ('weight', 0.5), ('weighted', False)]
        >>> Loss.build(spec.pop('form'), **spec).to_spec()['target']
        2
        """
        target = self._target
        ndim = getattr(target, "ndim", None)
        if (
            isinstance(ndim, int)
            and 0 <= ndim < len(self.TARGET_CONTAINERS)
            and target.owner is None
            and target.name == "target"
            and target.type == self.TARGET_CONTAINERS[ndim]("target").type
        ):
            target = ndim
        return dict(
            form=type(self).__name__.lower(),
            weight=self.weight,
            weighted=self._weights is not None,
            output_name=self.output_name,
            target=target,
        )

    def log(self) -> None:
        """Log a one-line description of this loss."""
        util.log(
            "using loss: {} * {} ({}{})",
            self.weight,
            type(self).__name__,
            self.output_name,
            ", weighted" if self._weights is not None else "",
        )

    def _output(self, outputs):
        try:
            return outputs[self.output_name]
        except KeyError:
            raise util.UnknownNameError(  # noqa: B904 (the message says it all)
                "{}: the network has no output {!r}; outputs are: {}".format(
                    type(self).__name__, self.output_name, ", ".join(sorted(outputs))
                )
            )

    def _weighted_mean(self, err):
        """Mean of ``err``, or its ``weights``-weighted mean."""
        if self._weights is None:
            return err.mean()
        return (self._weights * err).sum() / _weight_total(self._weights)

    def __call__(self, outputs: Outputs) -> Symbolic:
        """The symbolic value of this loss given the graph's ``outputs`` dict."""
        raise NotImplementedError("{} must implement __call__(outputs)".format(type(self).__name__))


class MeanSquaredError(Loss):
    """Mean of squared differences; weighted: ``sum(w (x - t)^2) / sum(w)``."""

    __extra_registration_keys__ = ["mse"]

    def __call__(self, outputs: Outputs) -> Symbolic:
        return self._weighted_mean(TT.sqr(self._output(outputs) - self._target))


class MeanAbsoluteError(Loss):
    """Mean of absolute differences; weighted: ``sum(|w (x - t)|) / sum(w)``."""

    __extra_registration_keys__ = ["mae"]

    def __call__(self, outputs: Outputs) -> Symbolic:
        err = self._output(outputs) - self._target
        if self._weights is None:
            return abs(err).mean()
        return abs(self._weights * err).sum() / _weight_total(self._weights)


class GaussianLogLikelihood(Loss):
    """Negative log-likelihood of the target under a diagonal Gaussian.

    The network provides the mean and the covariance diagonal as two
    outputs (``mean_name``, ``covar_name``). Weights are not used.

    Notes
    -----
    Reproduces the original formula exactly (it is what trained models were
    tuned against): with ``prec = 1 / (|covar| + eps)`` and ``eta = mean *
    prec``, per example ``0.5 (D log 2 pi - log sum(prec) + sum(eta prec eta)
    + sum(t prec t)) - sum(eta t)``; the log-determinant uses the log of the
    *sum* of precisions.
    """

    __extra_registration_keys__ = ["gll"]

    def __init__(
        self,
        mean_name: str = "mean",
        covar_name: str = "covar",
        covar_eps: float = 1e-3,
        **kwargs: Any,
    ) -> None:
        self.mean_name = _full_output_name(mean_name)
        self.covar_name = _full_output_name(covar_name)
        self.covar_eps = covar_eps
        kwargs.setdefault("output_name", mean_name)
        super().__init__(**kwargs)

    def to_spec(self) -> dict[str, Any]:
        """As :meth:`Loss.to_spec`, plus ``mean_name``, ``covar_name``, ``covar_eps``."""
        spec = super().to_spec()
        spec.update(mean_name=self.mean_name, covar_name=self.covar_name, covar_eps=self.covar_eps)
        return spec

    def __call__(self, outputs: Outputs) -> Symbolic:
        mean = outputs[self.mean_name]
        prec = 1 / (abs(outputs[self.covar_name]) + self.covar_eps)
        eta = mean * prec
        dim = TT.cast(mean.shape[-1], mean.dtype)
        const = (
            dim * np.float32(np.log(2 * np.pi))
            - TT.log(prec.sum(axis=-1))
            + (eta * prec * eta).sum(axis=-1)
        )
        t = self._target
        nll = 0.5 * (const + (t * prec * t).sum(axis=-1)) - (eta * t).sum(axis=-1)
        return nll.mean()


class MaximumMeanDiscrepancy(Loss):
    """Maximum mean discrepancy between target and output samples.

    Parameters
    ----------
    kernel : float or callable
        A number is the bandwidth of a Gaussian kernel ``exp(-|a-b|^2 / bw)``;
        a callable ``kernel(a, b)`` returns the matrix of kernel values of
        all pairs of rows.
    """

    __extra_registration_keys__ = ["mmd"]

    def __init__(self, kernel: float = 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kernel = kernel

    def to_spec(self) -> dict[str, Any]:
        """As :meth:`Loss.to_spec`, plus ``kernel`` (a number or the callable)."""
        spec = super().to_spec()
        spec["kernel"] = self.kernel
        return spec

    def _kernel(self, a, b):
        if callable(self.kernel):
            return self.kernel(a, b)
        sqdist = TT.sqr(a[:, None, :] - b[None, :, :]).sum(axis=-1)
        return TT.exp(-sqdist / self.kernel)

    def __call__(self, outputs: Outputs) -> Symbolic:
        x, t = self._output(outputs), self._target
        k = self._kernel
        return k(t, t).mean() - 2 * k(t, x).mean() + k(x, x).mean()


class KullbackLeiblerDivergence(Loss):
    """Mean absolute KL divergence ``|t log(t / x)|`` (both clipped to [1e-8, 1-1e-8])."""

    __extra_registration_keys__ = ["kl", "kld"]

    def __call__(self, outputs: Outputs) -> Symbolic:
        t = TT.clip(self._target, 1e-8, 1 - 1e-8)
        x = TT.clip(self._output(outputs), 1e-8, 1 - 1e-8)
        kl = t * TT.log(t / x)
        if self._weights is None:
            return abs(kl).mean()
        return abs(self._weights * kl).sum() / _weight_total(self._weights)


class CrossEntropy(Loss):
    """Cross-entropy of integer class labels under the output probabilities.

    The target is an int32 array of labels with ``target`` dimensions; the
    output has one more dimension (classes, last). Negative labels count
    from the end, as in numpy indexing.
    """

    __extra_registration_keys__ = ["xe"]

    TARGET_CONTAINERS = util.INT_CONTAINERS

    def _rows(self, outputs):
        """Output as (rows, classes) and the flattened labels."""
        out = self._output(outputs)
        return out.reshape((-1, out.shape[-1])), self._target.flatten()

    def _mean_over_rows(self, values):
        if self._weights is None:
            return values.mean()
        w = self._weights.flatten()
        return (w * values).sum() / _weight_total(w)

    def __call__(self, outputs: Outputs) -> Symbolic:
        probs, labels = self._rows(outputs)
        p = probs[TT.arange(labels.shape[0]), labels]
        return self._mean_over_rows(-TT.log(TT.clip(p, 1e-8, 1)))

    def accuracy(self, outputs: Outputs) -> Symbolic:
        """Symbolic fraction (or weighted fraction) of correctly labelled rows."""
        probs, labels = self._rows(outputs)
        correct = TT.eq(TT.argmax(probs, axis=-1), labels)
        return self._mean_over_rows(TT.cast(correct, probs.dtype))


class Hinge(CrossEntropy):
    """Multiclass hinge loss ``max(0, max_k(x_k - x_t))`` per row."""

    __extra_registration_keys__ = ["hinge"]

    def __call__(self, outputs: Outputs) -> Symbolic:
        scores, labels = self._rows(outputs)
        correct = scores[TT.arange(labels.shape[0]), labels]
        return self._mean_over_rows(TT.maximum(0, (scores - correct[:, None]).max(axis=-1)))
