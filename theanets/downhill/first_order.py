"""First-order optimizers: plain and Nesterov-accelerated gradient descent."""

from .base import Optimizer

__all__ = ["SGD", "NAG"]


class SGD(Optimizer):
    """Stochastic gradient descent: ``step = learning_rate * grad``.

    Accepts the common hyper-parameters of :class:`Optimizer`; with
    ``momentum > 0`` it is classical momentum (or Nesterov's with
    ``nesterov=True``).

    Examples
    --------
    >>> import numpy as np, pytensor, pytensor.tensor as TT
    >>> from theanets import downhill
    >>> x = pytensor.shared(np.float32([3, -2]), name='x')
    >>> opt = downhill.SGD(TT.sqr(x - 1).sum())
    >>> _ = opt.minimize(learning_rate=0.1, momentum=0.5, max_updates=60)
    >>> np.round(x.get_value(), 3).tolist()
    [1.0, 1.0]
    """

    def _get_updates_for(self, param, grad):
        yield param, self._shared_hyper("learning_rate") * grad


class NAG(SGD):
    """Nesterov's accelerated gradient: :class:`SGD` with ``nesterov=True``.

    Needs ``momentum > 0`` to differ from SGD. The velocity update is
    ``v <- mu**2 * v - (1 + mu) * learning_rate * grad`` and the parameter
    moves by the new ``v`` (Bengio et al. 2012, eq. 7, as downhill does).

    Examples
    --------
    >>> import numpy as np, pytensor, pytensor.tensor as TT
    >>> from theanets import downhill
    >>> x = pytensor.shared(np.float32([3, -2]), name='x')
    >>> _ = downhill.minimize(TT.sqr(x - 1).sum(), None, algo='nag',
    ...                       learning_rate=0.1, momentum=0.5, max_updates=60)
    >>> np.round(x.get_value(), 3).tolist()
    [1.0, 1.0]
    """

    def _prepare(self, **kwargs):
        kwargs["nesterov"] = True
        super()._prepare(**kwargs)
