'''Small helpers shared by the optimizers: auxiliary variables, graph walking,
hyper-parameter checks, logging and the random stream used by ESGD.
'''

import logging
import numbers

import numpy as np
import pytensor
import pytensor.tensor as TT
from pytensor.compile.sharedvalue import SharedVariable
from pytensor.graph.basic import Constant

try:
    from pytensor.graph.traversal import graph_inputs
except ImportError:  # PyTensor < 2.32
    from pytensor.graph.basic import graph_inputs

from .. import util

__all__ = ['shared_like', 'shared_scalar_like', 'as_float',
           'find_inputs_and_params', 'log_param', 'NormalStream',
           'jacobian_vector', 'vector_jacobian', 'check_real', 'check_int']

_logger = logging.getLogger(__name__)


def shared_like(param, suffix, init=0):
    '''Create a shared variable shaped and typed like ``param``.

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
    '''
    value = param.get_value(borrow=True)
    return pytensor.shared(
        np.full(value.shape, init, dtype=value.dtype),
        name='{}_{}'.format(param.name, suffix),
        shape=param.type.shape)


def shared_scalar_like(param, suffix, init=0):
    '''Create a scalar shared variable of ``param``'s dtype.

    Named ``'<param.name>_<suffix>'``; used for per-parameter counters.

    Examples
    --------
    >>> import numpy as np, pytensor
    >>> w = pytensor.shared(np.ones(3, dtype='float32'), name='w')
    >>> t = shared_scalar_like(w, 't')
    >>> t.name, t.get_value().shape, t.dtype
    ('w_t', (), 'float32')
    '''
    dtype = param.get_value(borrow=True).dtype
    return pytensor.shared(np.asarray(init, dtype=dtype),
                           name='{}_{}'.format(param.name, suffix))


def as_float(value):
    '''Return ``value`` as a symbolic constant of dtype floatX.

    Examples
    --------
    >>> import pytensor
    >>> as_float(0.5).dtype == pytensor.config.floatX
    True
    '''
    return TT.constant(np.asarray(value, dtype=pytensor.config.floatX))


def find_inputs_and_params(node):
    '''Walk a computation graph and find its free inputs and parameters.

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
    '''
    inputs, params = [], []
    for var in graph_inputs([node]):
        if isinstance(var, SharedVariable):
            params.append(var)
        elif not isinstance(var, Constant):
            inputs.append(var)
    return inputs, params


def log_param(name, value):
    '''Log the value of one hyper-parameter at INFO level.'''
    _logger.info('%s = %s', name, value)


class NormalStream:
    """Standard-normal draws with the same values as ``RandomStream(seed)``.

    Each :meth:`normal` call spawns a child seed from
    ``numpy.random.SeedSequence(seed)`` and keeps a shared
    ``numpy.random.Generator`` for it -- exactly what PyTensor's (now
    deprecated) ``pytensor.tensor.random.utils.RandomStream`` does -- but
    returns the generator update explicitly instead of relying on the
    deprecated ``default_update`` attribute.

    Examples
    --------
    >>> import pytensor
    >>> stream = NormalStream(5)
    >>> (rng, next_rng), sample = stream.normal((2,), 'float64')
    >>> f = pytensor.function([], sample, updates=[(rng, next_rng)])
    >>> f().shape
    (2,)
    """

    def __init__(self, seed=None):
        self.seeds = np.random.SeedSequence(seed)

    def normal(self, size, dtype):
        """Return ``((rng, next_rng), sample)`` for a fresh generator."""
        generator = np.random.default_rng(self.seeds.spawn(1)[0])
        try:
            from pytensor.tensor.random import shared_rng
        except ImportError:  # PyTensor before shared_rng: the classic API
            rng = pytensor.shared(generator, borrow=True)
            sample = TT.random.normal(0, 1, size=size, dtype=dtype, rng=rng)
            return (rng, sample.owner.outputs[0]), sample
        rng = shared_rng(generator, borrow=True)
        next_rng, sample = rng.normal(size=size, dtype=dtype)
        return (rng, next_rng), sample


def jacobian_vector(f, wrt, v):
    """The R-operator ``J(f, wrt) v`` (``pushforward``, formerly ``Rop``)."""
    import pytensor.gradient as G
    op = getattr(G, 'pushforward', None) or G.Rop
    return op(f, wrt, v)


def vector_jacobian(f, wrt, v):
    """The L-operator ``v J(f, wrt)`` (``pullback``, formerly ``Lop``)."""
    import pytensor.gradient as G
    op = getattr(G, 'pullback', None) or G.Lop
    return op(f, wrt, v)


def _invalid(name, value, allowed):
    return util.ConfigurationError(
        '{}={!r} is not allowed: expected {}'.format(name, value, allowed))


def _is_real(value):
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, np.ndarray):
        return value.ndim == 0 and value.dtype.kind in 'iuf'
    return isinstance(value, numbers.Real)


def _describe(kind, low, high, low_open, high_open):
    if low is not None and high is not None:
        return '{} in {}{}, {}{}'.format(kind, '(' if low_open else '[', low,
                                        high, ')' if high_open else ']')
    if low is not None:
        return '{} {} {}'.format(kind, '>' if low_open else '>=', low)
    if high is not None:
        return '{} {} {}'.format(kind, '<' if high_open else '<=', high)
    return kind


def check_real(name, value, low=None, high=None, low_open=False,
               high_open=False, finite=True):
    '''Check that ``value`` is a real number in a range; return it as a float.

    Any real number is accepted (ints, numpy scalars, 0-d arrays), so
    ``momentum=0`` works.

    Raises
    ------
    theanets.util.ConfigurationError
        Naming the argument, the value and the allowed range.

    Examples
    --------
    >>> check_real('momentum', 0, 0, 1, high_open=True)
    0.0
    >>> check_real('momentum', 1, 0, 1, high_open=True)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    theanets.util.ConfigurationError: momentum=1 is not allowed: expected a ...
    '''
    allowed = _describe('a real number', low, high, low_open, high_open)
    if finite and high is None:
        allowed = allowed.replace('a real number', 'a finite real number')
    if not _is_real(value):
        raise _invalid(name, value, allowed)
    number = float(value)
    ok = not np.isnan(number) and (not finite or np.isfinite(number))
    if low is not None:
        ok = ok and (number > low if low_open else number >= low)
    if high is not None:
        ok = ok and (number < high if high_open else number <= high)
    if not ok:
        raise _invalid(name, value, allowed)
    return number


def check_int(name, value, low=None, allow_none=False):
    '''Check that ``value`` is an integer ``>= low``; return it as an int.

    Examples
    --------
    >>> check_int('validate_every', 10, 1)
    10
    >>> check_int('batch_size', 3.5)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    theanets.util.ConfigurationError: batch_size=3.5 is not allowed: ...
    '''
    if value is None and allow_none:
        return None
    allowed = _describe('an integer', low, None, False, False)
    if allow_none:
        allowed += ' or None'
    if (isinstance(value, (bool, np.bool_))
            or not isinstance(value, numbers.Integral)):
        raise _invalid(name, value, allowed)
    if low is not None and value < low:
        raise _invalid(name, value, allowed)
    return int(value)
