"""Gradient-based optimizers for PyTensor expressions (the ``downhill`` API).

A re-implementation, on PyTensor, of the ``downhill`` library that the
original theanets trained with: :func:`build` an :class:`Optimizer` by name
and iterate it over :class:`Dataset` objects, or call :func:`minimize`.

Examples
--------
Fit ``y = 2 x + 1`` by mini-batch gradient descent:

>>> import numpy as np, pytensor, pytensor.tensor as TT
>>> from theanets import downhill
>>> x, y = TT.vector('x'), TT.vector('y')
>>> w = pytensor.shared(np.float32([0, 0]), name='w')
>>> loss = TT.sqr(w[0] * x + w[1] - y).mean()
>>> xs = np.linspace(-1, 1, 64)
>>> train, valid = downhill.minimize(
...     loss, [xs, 2 * xs + 1], inputs=[x, y], algo='adam',
...     learning_rate=0.1, batch_size=16, max_updates=200)
>>> np.round(w.get_value(), 2).tolist()
[2.0, 1.0]
"""

from .adaptive import ADADELTA, ADAGRAD, ESGD, Adam, RMSProp, RProp
from .base import Optimizer, build
from .dataset import Dataset
from .first_order import NAG, SGD

__all__ = [
    "build",
    "minimize",
    "Optimizer",
    "Dataset",
    "SGD",
    "NAG",
    "RProp",
    "RMSProp",
    "ADAGRAD",
    "ADADELTA",
    "ESGD",
    "Adam",
]


def minimize(
    loss,
    train,
    valid=None,
    params=None,
    inputs=None,
    algo="rmsprop",
    updates=(),
    monitors=(),
    monitor_gradients=False,
    batch_size=32,
    train_batches=None,
    valid_batches=None,
    **kwargs,
):
    """Minimize a loss over data; return the final monitor values.

    Parameters
    ----------
    loss : pytensor scalar expression
        The loss to minimize.
    train : Dataset, array, list of arrays, callable, or None
        Training data. Anything but a :class:`Dataset` (or None, which runs
        the functions without inputs) is wrapped as
        ``Dataset(train, name='train', batch_size=batch_size,
        iteration_size=train_batches)``.
    valid : same as ``train``, optional
        Validation data (default: the training data), wrapped likewise with
        ``name='valid'`` and ``iteration_size=valid_batches``.
    params, inputs, updates, monitors, monitor_gradients
        As for :func:`build`.
    algo : str, optional
        Algorithm name (default ``'rmsprop'``).
    batch_size : int, optional
        Mini-batch size for wrapped data (default 32).
    train_batches, valid_batches : int, optional
        Mini-batches per training step / validation (default: all).
    **kwargs
        Hyper-parameters for :meth:`Optimizer.iterate` (``learning_rate``,
        ``max_updates``, ``patience``, ...); unknown names are ignored.

    Returns
    -------
    train_monitors, valid_monitors : OrderedDict
        The last pair yielded by :meth:`Optimizer.iterate` (``(None, None)``
        if no step was taken).

    Examples
    --------
    >>> import numpy as np, pytensor, pytensor.tensor as TT
    >>> from theanets import downhill
    >>> x = pytensor.shared(np.float32([3, -2]), name='x')
    >>> train, valid = downhill.minimize(TT.sqr(x - 1).sum(), None,
    ...                                  algo='sgd', learning_rate=0.1,
    ...                                  max_updates=100)
    >>> np.round(x.get_value(), 3).tolist()
    [1.0, 1.0]
    >>> list(train)
    ['loss']
    """

    def wrap(data, name, iteration_size):
        if data is None or isinstance(data, Dataset):
            return data
        return Dataset(data, name=name, batch_size=batch_size, iteration_size=iteration_size)

    train = wrap(train, "train", train_batches)
    valid = wrap(valid, "valid", valid_batches)
    optimizer = build(
        algo,
        loss,
        params=params,
        inputs=inputs,
        updates=updates,
        monitors=monitors,
        monitor_gradients=monitor_gradients,
    )
    return optimizer.minimize(train, valid, **kwargs)
