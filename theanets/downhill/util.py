"""Small helpers shared by the optimizers: auxiliary variables, graph walking
and logging (hyper-parameters are checked with :mod:`theanets.checks`).

Where PyTensor versions differ (graph traversal, R- and L-operators, random
streams) is settled in one private backend module of theanets, not here.
"""

import logging

import numpy as np
import pytensor
import pytensor.tensor as TT
from pytensor.compile.sharedvalue import SharedVariable
from pytensor.graph.basic import Constant

from .._backend import graph_inputs

__all__ = ["shared_like", "shared_scalar_like", "as_float", "find_inputs_and_params", "log_param"]

_logger = logging.getLogger(__name__)


def shared_like(param, suffix, init=0):
    """Create a shared variable shaped and typed like ``param``.

    Parameters
    ----------
    param : pytensor shared variable
        The parameter to mirror; its value gives the shape and dtype, its
        type the broadcast pattern.
    suffix : str
        The new variable is named ``'<param.name>_<suffix>'``.
    init : float, optional
        Initial value of every element (default 0).

    Returns
    -------
    A pytensor shared variable.

    Examples
    --------
    >>> import numpy as np, pytensor
    >>> w = pytensor.shared(np.ones((2, 3), dtype='float32'), name='w')
    >>> vel = shared_like(w, 'vel')
    >>> vel.name, vel.get_value().tolist()
    ('w_vel', [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    """
    value = param.get_value(borrow=True)
    return pytensor.shared(
        np.full(value.shape, init, dtype=value.dtype),
        name="{}_{}".format(param.name, suffix),
        shape=param.type.shape,
    )


def shared_scalar_like(param, suffix, init=0):
    """Create a scalar shared variable of ``param``'s dtype.

    Named ``'<param.name>_<suffix>'``; used for per-parameter counters.

    Examples
    --------
    >>> import numpy as np, pytensor
    >>> w = pytensor.shared(np.ones(3, dtype='float32'), name='w')
    >>> t = shared_scalar_like(w, 't')
    >>> t.name, t.get_value().shape, t.dtype
    ('w_t', (), 'float32')
    """
    dtype = param.get_value(borrow=True).dtype
    return pytensor.shared(np.asarray(init, dtype=dtype), name="{}_{}".format(param.name, suffix))


def as_float(value):
    """Return ``value`` as a symbolic constant of dtype floatX.

    Examples
    --------
    >>> import pytensor
    >>> as_float(0.5).dtype == pytensor.config.floatX
    True
    """
    return TT.constant(np.asarray(value, dtype=pytensor.config.floatX))


def find_inputs_and_params(node):
    """Walk a computation graph and find its free inputs and parameters.

    Parameters
    ----------
    node : pytensor variable
        Usually the loss.

    Returns
    -------
    inputs : list
        Variables without an owner that are neither shared nor constant, in
        graph order.
    params : list
        Shared variables the graph depends on, in graph order.

    Examples
    --------
    >>> import numpy as np, pytensor, pytensor.tensor as TT
    >>> x = TT.vector('x')
    >>> w = pytensor.shared(np.ones(2, dtype=x.dtype), name='w')
    >>> inputs, params = find_inputs_and_params(TT.dot(x, w))
    >>> [v.name for v in inputs], [v.name for v in params]
    (['x'], ['w'])
    """
    inputs, params = [], []
    for var in graph_inputs([node]):
        if isinstance(var, SharedVariable):
            params.append(var)
        elif not isinstance(var, Constant):
            inputs.append(var)
    return inputs, params


def log_param(name, value):
    """Log the value of one hyper-parameter at INFO level."""
    _logger.info("%s = %s", name, value)
