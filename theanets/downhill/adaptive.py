"""Optimizers that adapt a per-element step size from gradient statistics.

"step" below is the amount subtracted from the parameter (before momentum,
see :meth:`Optimizer.get_updates`); ``lr`` is ``learning_rate``, ``eps`` is
``rms_regularizer`` and ``gamma = exp(-ln 2 / rms_halflife)``.
"""

import pytensor.tensor as TT

from .. import util
from .._backend import RandomSource, jacobian_vector, vector_jacobian
from .base import Optimizer
from .util import shared_like, shared_scalar_like

__all__ = ["RProp", "RMSProp", "ADAGRAD", "ADADELTA", "ESGD", "Adam"]


class RProp(Optimizer):
    """Resilient backpropagation (iRprop-).

    Each element has its own step size, starting at ``learning_rate``. It is
    multiplied by ``rprop_increase`` when the gradient keeps its sign, by
    ``rprop_decrease`` when the sign flips -- and then that gradient is
    treated as zero (no move, and none remembered) -- and clipped to
    ``[rprop_min_step, rprop_max_step]`` (the defaults are in
    :data:`~theanets.downhill.hypers.OPTIONS`).
    ``step = sign(grad) * size``.

    Examples
    --------
    >>> import numpy as np, pytensor, pytensor.tensor as TT
    >>> from theanets import downhill
    >>> x = pytensor.shared(np.float32([3, -2]), name='x')
    >>> _ = downhill.minimize(TT.sqr(x - 1).sum(), None, algo='rprop',
    ...                       learning_rate=0.1, max_updates=100)
    >>> np.round(x.get_value(), 1).tolist()
    [1.0, 1.0]
    """

    SHARED_HYPERS = ()  # the learning rate is the initial step size, not in the step

    HYPERS = ("rprop_increase", "rprop_decrease", "rprop_min_step", "rprop_max_step")

    def _get_updates_for(self, param, grad):
        grad_tm1 = shared_like(param, "grad")
        step_tm1 = shared_like(param, "step", self.learning_rate)
        test = grad * grad_tm1
        same = TT.gt(test, 0)
        flip = TT.lt(test, 0)
        factor = TT.eq(test, 0) + same * self.step_increase + flip * self.step_decrease
        step = TT.clip(step_tm1 * factor, self.min_step, self.max_step)
        grad = TT.switch(flip, 0, grad)
        yield param, TT.sign(grad) * step
        yield grad_tm1, grad
        yield step_tm1, step


class ADAGRAD(Optimizer):
    """ADAGRAD: ``acc += grad**2``; ``step = lr * grad / sqrt(acc + eps)``.

    Reads ``rms_regularizer`` as ``eps``.

    Examples
    --------
    >>> import numpy as np, pytensor, pytensor.tensor as TT
    >>> from theanets import downhill
    >>> x = pytensor.shared(np.float32([3, -2]), name='x')
    >>> _ = downhill.minimize(TT.sqr(x - 1).sum(), None, algo='adagrad',
    ...                       learning_rate=1, max_updates=100)
    >>> np.round(x.get_value(), 3).tolist()
    [1.0, 1.0]
    """

    HYPERS = ("rms_regularizer",)

    def _get_updates_for(self, param, grad):
        g2_tm1 = shared_like(param, "g2_acc")
        g2_t = g2_tm1 + grad * grad
        yield g2_tm1, g2_t
        yield param, self._shared_hyper("learning_rate") * grad / TT.sqrt(g2_t + self.epsilon)


class RMSProp(Optimizer):
    """RMSProp, Graves' (2013) variant that centres the second moment.

    ``f = gamma f + (1 - gamma) grad``, ``s = gamma s + (1 - gamma) grad**2``,
    ``step = lr * grad / sqrt(s - f**2 + eps)``. Reads ``rms_halflife`` and
    ``rms_regularizer``.

    Rounding can make ``s - f**2`` slightly negative when gradients are
    nearly constant (a NaN in downhill); it is floored at zero here, which
    changes nothing else.

    Examples
    --------
    >>> import numpy as np, pytensor, pytensor.tensor as TT
    >>> from theanets import downhill
    >>> x = pytensor.shared(np.float32([3, -2]), name='x')
    >>> _ = downhill.minimize(TT.sqr(x - 1).sum(), None, algo='rmsprop',
    ...                       learning_rate=0.01, max_updates=500)
    >>> np.round(x.get_value(), 1).tolist()
    [1.0, 1.0]
    """

    HYPERS = ("rms_halflife", "rms_regularizer")

    def _get_updates_for(self, param, grad):
        g1_tm1 = shared_like(param, "g1_ewma")
        g2_tm1 = shared_like(param, "g2_ewma")
        g1_t = self.ewma * g1_tm1 + (1 - self.ewma) * grad
        g2_t = self.ewma * g2_tm1 + (1 - self.ewma) * grad * grad
        var = TT.maximum(g2_t - g1_t * g1_t, 0)
        yield g1_tm1, g1_t
        yield g2_tm1, g2_t
        yield param, self._shared_hyper("learning_rate") * grad / TT.sqrt(var + self.epsilon)


class ADADELTA(RMSProp):
    """ADADELTA (Zeiler 2012); the learning rate is not used.

    ``s = gamma s + (1 - gamma) grad**2``,
    ``delta = grad * sqrt(x + eps) / sqrt(s + eps)``,
    ``x = gamma x + (1 - gamma) delta**2``, ``step = delta`` (with the
    previous ``x`` in ``delta``). Reads ``rms_halflife`` and
    ``rms_regularizer``.

    Examples
    --------
    >>> import numpy as np, pytensor, pytensor.tensor as TT
    >>> from theanets import downhill
    >>> x = pytensor.shared(np.float32([3, -2]), name='x')
    >>> train, _ = downhill.minimize(TT.sqr(x - 1).sum(), None,
    ...                              algo='adadelta', max_updates=50)
    >>> train['loss'] < 13
    True
    """

    def _get_updates_for(self, param, grad):
        x2_tm1 = shared_like(param, "x2_ewma")
        g2_tm1 = shared_like(param, "g2_ewma")
        g2_t = self.ewma * g2_tm1 + (1 - self.ewma) * grad * grad
        delta = grad * TT.sqrt(x2_tm1 + self.epsilon) / TT.sqrt(g2_t + self.epsilon)
        x2_t = self.ewma * x2_tm1 + (1 - self.ewma) * delta * delta
        yield g2_tm1, g2_t
        yield x2_tm1, x2_t
        yield param, delta


class ESGD(RMSProp):
    """Equilibrated SGD (Dauphin et al. 2015).

    With ``v ~ N(0, 1)`` drawn afresh every step and ``Hv`` the
    Hessian-vector product, ``D = gamma D + (1 - gamma) Hv**2`` and
    ``step = lr * grad / (sqrt(D) + eps)``. Reads ``rms_halflife`` and
    ``rms_regularizer``.

    Parameters
    ----------
    *args, **kwargs
        As for :class:`Optimizer`.
    hv_method : {'rop', 'lop', 'grad'}, optional
        How ``Hv`` is computed: R-operator (default), L-operator, or the
        gradient of ``grad . v``.
    rng : int, optional
        Seed of the normal vectors (default 12345, the default seed of
        Theano's MRG streams); the draws equal those of
        ``pytensor.tensor.random.utils.RandomStream(rng)``, one generator per
        parameter in parameter order.

    Examples
    --------
    >>> import numpy as np, pytensor, pytensor.tensor as TT
    >>> from theanets import downhill
    >>> x = pytensor.shared(np.float32([3, -2]), name='x')
    >>> train, _ = downhill.minimize(TT.sqr(x - 1).sum(), None, algo='esgd',
    ...                              learning_rate=0.1, max_updates=50)
    >>> train['loss'] < 0.01
    True
    """

    HV_METHODS = ("rop", "lop", "grad")

    def __init__(self, *args, hv_method="rop", rng=12345, **kwargs):
        method = str(hv_method).lower()
        if method not in self.HV_METHODS:
            raise util.ConfigurationError(
                "hv_method={!r} is not allowed: expected one of {}".format(
                    hv_method, ", ".join(self.HV_METHODS)
                )
            )
        self.hv_method = method
        self.rng = RandomSource(rng)
        super().__init__(*args, **kwargs)

    def _hessian_vector(self, param, grad, v):
        if self.hv_method == "rop":
            return jacobian_vector(grad, param, v)
        if self.hv_method == "lop":
            return vector_jacobian(grad, param, v)
        return TT.grad(TT.sum(grad * v), param)

    def _get_updates_for(self, param, grad):
        D_tm1 = shared_like(param, "D_ewma")
        v = self.rng.normal(0, 1, param.shape, dtype=param.dtype)
        Hv = self._hessian_vector(param, grad, v)
        D_t = self.ewma * D_tm1 + (1 - self.ewma) * Hv * Hv
        yield self.rng.updates()[-1]
        yield D_tm1, D_t
        yield param, self._shared_hyper("learning_rate") * grad / (TT.sqrt(D_t) + self.epsilon)


class Adam(RMSProp):
    """Adam (Kingma & Ba 2015) with bias correction, as in downhill HEAD.

    ``t += 1``, ``m = b1 m + (1 - b1) grad``,
    ``v = b2 v + (1 - b2) grad**2``,
    ``step = lr * (m / (1 - b1**t)) / (sqrt(v / (1 - b2**t)) + eps)``, with
    ``b1 = exp(-ln 2 / beta1_halflife)`` (~0.9057 by default) and
    ``b2 = exp(-ln 2 / beta2_halflife)`` (~0.9900). Reads
    ``rms_regularizer``; ``rms_halflife`` is accepted but unused.

    Examples
    --------
    >>> import numpy as np, pytensor, pytensor.tensor as TT
    >>> from theanets import downhill
    >>> x = pytensor.shared(np.float32([3, -2]), name='x')
    >>> _ = downhill.minimize(TT.sqr(x - 1).sum(), None, algo='adam',
    ...                       learning_rate=0.1, max_updates=300)
    >>> np.round(x.get_value(), 2).tolist()
    [1.0, 1.0]
    """

    HYPERS = ("beta1_halflife", "beta2_halflife")

    def _get_updates_for(self, param, grad):
        t_tm1 = shared_scalar_like(param, "t")
        t_t = t_tm1 + 1
        g1_tm1 = shared_like(param, "g1_ewma")
        g2_tm1 = shared_like(param, "g2_ewma")
        g1_t = self.beta1 * g1_tm1 + (1 - self.beta1) * grad
        g2_t = self.beta2 * g2_tm1 + (1 - self.beta2) * grad * grad
        numer = g1_t / (1 - self.beta1**t_t)
        denom = TT.sqrt(g2_t / (1 - self.beta2**t_t)) + self.epsilon
        yield t_tm1, t_t
        yield g1_tm1, g1_t
        yield g2_tm1, g2_t
        yield param, self._shared_hyper("learning_rate") * numer / denom
