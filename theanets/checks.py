'''Checking and casting data before it reaches a compiled function.

Every entry point that takes arrays (``train``, ``predict``, ``score``,
``encode``, ...) describes what it expects as a list of :class:`Expected`
and calls :func:`prepare`, which casts floats to floatX and labels to int32
and raises :class:`theanets.util.DataError` naming the argument, the
expected and the actual shape or type -- before anything is compiled.
'''

import numbers

import numpy as np
import pytensor
import scipy.sparse

from . import util

__all__ = ['Expected', 'prepare', 'prepare_one', 'prepare_scored']


def _shape_text(shape):
    return '(' + ', '.join('?' if d is None else str(d) for d in shape) + \
        (',)' if len(shape) == 1 else ')')


class Expected:
    '''What one array must look like.

    Parameters
    ----------
    name : str
        How the array is called in messages (``'x'``, ``'target'``, ...).
    ndim : int
        Dimensions including the batch axis.
    shape : tuple, optional
        Per-example shape (None entries are free); None checks only ndim.
    dtype : str
        ``'float'`` (cast to floatX) or ``'int'`` (integer labels, int32).
    sparse : str or False
        ``'csr'``/``'csc'`` if a scipy.sparse matrix is expected.
    classes : int, optional
        For labels: the number of classes (labels must lie in
        ``[-classes, classes)``; negative labels count from the end).
    '''

    def __init__(self, name, ndim, shape=None, dtype='float', sparse=False, classes=None):
        self.name = name
        self.ndim = ndim
        self.shape = tuple(shape) if shape is not None else None
        self.dtype = dtype
        self.sparse = sparse
        self.classes = classes

    def describe(self, article=True):
        '''E.g. ``'a float array of shape (N, 3)'`` (without the article if not ``article``).'''
        full = ('N',) + self.shape if self.shape is not None else ('N',) + ('?',) * (self.ndim - 1)
        kind = {'float': 'float', 'int': 'integer'}[self.dtype]
        sparse = 'scipy.sparse {} '.format(self.sparse) if self.sparse else ''
        text = '{}{} array of shape {}'.format(sparse, kind, _shape_text(full))
        if not article:
            return text
        return ('an ' if text[0] in 'aeiou' else 'a ') + text


def _type_name(value):
    return type(value).__module__.split('.')[0] + '.' + type(value).__name__ \
        if not isinstance(value, np.ndarray) else 'numpy.ndarray'


def prepare_one(caller, expected, value):
    '''Check one array against ``expected``; return it cast for PyTensor.'''
    where = '{}: {}'.format(caller, expected.name)
    if scipy.sparse.issparse(value):
        if not expected.sparse:
            raise util.DataError('{} is a scipy.sparse matrix, but the model expects a dense '
                                 '{} (use .toarray(), or a sparse input layer)'.format(
                                     where, expected.describe(article=False)))
        value = value.asformat(expected.sparse)
        data = value.data
    else:
        if expected.sparse:
            raise util.DataError('{} must be a scipy.sparse {} matrix (the input layer is '
                                 'sparse), not {}'.format(
                                     where, expected.sparse, _type_name(value)))
        if hasattr(value, 'to_numpy'):  # pandas
            value = value.to_numpy()
        try:
            value = np.asarray(value)
        except (TypeError, ValueError) as err:
            raise util.DataError('{} must be an array, not {} ({})'.format(
                where, _type_name(value), err)) from err
        if value.dtype == object or not (np.issubdtype(value.dtype, np.number) or
                                         value.dtype == bool):
            raise util.DataError('{} must hold numbers, not {} values'.format(where, value.dtype))
        if np.issubdtype(value.dtype, np.complexfloating):
            raise util.DataError('{} must hold real numbers, not {} values'.format(
                where, value.dtype))
        data = value
    if value.ndim != expected.ndim:
        raise util.DataError('{} must be {}, but has {} dimension(s) with shape {}'.format(
            where, expected.describe(), value.ndim, _shape_text(value.shape)))
    if value.shape[0] == 0:
        raise util.DataError('{} is empty (shape {}); at least one example is needed'.format(
            where, _shape_text(value.shape)))
    if expected.shape is not None:
        for want, have in zip(expected.shape, value.shape[1:]):
            if want is not None and want != have:
                raise util.DataError('{} must be {}, but has shape {}'.format(
                    where, expected.describe(), _shape_text(value.shape)))
    if expected.dtype == 'int':
        if np.issubdtype(data.dtype, np.floating):
            if not np.all(np.isfinite(data)) or np.any(data != np.round(data)):
                raise util.DataError('{} must hold integer class labels, but holds {} values '
                                     'that are not whole numbers'.format(where, data.dtype))
        elif not np.issubdtype(data.dtype, np.integer):
            raise util.DataError('{} must hold integer class labels, not {}'.format(
                where, data.dtype))
        if expected.classes is not None and data.size and (
                data.max() >= expected.classes or data.min() < -expected.classes):
            raise util.DataError('{} holds labels from {} to {}, but the model has {} classes '
                                 '(labels 0 to {})'.format(where, data.min(), data.max(),
                                                          expected.classes, expected.classes - 1))
        limits = np.iinfo(np.int32)
        if data.size and (data.max() > limits.max or data.min() < limits.min):
            raise util.DataError('{} holds labels from {} to {}, outside the int32 range'.format(
                where, data.min(), data.max()))
        return value.astype('int32')
    with np.errstate(over='ignore'):
        cast = value.astype(pytensor.config.floatX, copy=False)
    # One pass over the data in the common case: the cast values are finite
    # only if the data was finite and fits in floatX.
    if not np.all(np.isfinite(cast.data if scipy.sparse.issparse(cast) else cast)):
        finite = np.isfinite(data)
        if not np.all(finite):
            raise util.DataError('{} contains {} NaN or infinite value(s)'.format(
                where, np.size(data) - np.count_nonzero(finite)))
        raise util.DataError('{} holds values too large for {} (largest magnitude {:g})'.format(
            where, pytensor.config.floatX, float(np.max(np.abs(data)))))
    return cast


def prepare(caller, expected, arrays):
    '''Check and cast a list of arrays against a list of :class:`Expected`.

    Parameters
    ----------
    caller : str
        The entry point, for messages (``'Regressor.train'``).
    expected : list of Expected
        One per array, in order.
    arrays : sequence of arrays
        The data; all must have the same number of examples (axis 0).

    Returns
    -------
    list of arrays, cast to floatX (or int32 for labels).
    '''
    if not isinstance(arrays, (list, tuple)):
        raise util.DataError('{} takes a list of arrays ({}), not {}'.format(
            caller, ', '.join(e.name for e in expected), _type_name(arrays)))
    if len(arrays) != len(expected):
        raise util.DataError('{} takes {} array(s) ({}), but {} were given'.format(
            caller, len(expected), ', '.join(e.name for e in expected), len(arrays)))
    result = [prepare_one(caller, e, a) for e, a in zip(expected, arrays)]
    lengths = [a.shape[0] for a in result]
    if len(set(lengths)) > 1:
        raise util.DataError('{}: arrays must have the same number of examples, but {}'.format(
            caller, ', '.join('{} has {}'.format(e.name, n) for e, n in zip(expected, lengths))))
    return result


def is_number(value):
    '''True for real numbers (ints, floats, numpy scalars), not bools.'''
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def prepare_scored(caller, predicted, y, w=None, dtype='float', classes=None):
    """Check and cast the ``y`` (and optional ``w``) that ``score`` compares
    with the model's ``predicted`` values: both must have their shape.

    Returns ``(y, w)``; ``w`` stays None if not given.
    """
    y = prepare_one(caller, Expected('y', predicted.ndim, predicted.shape[1:], dtype=dtype,
                                     classes=classes), y)
    if y.shape[0] != predicted.shape[0]:
        raise util.DataError('{}: x has {} examples but y has {}'.format(
            caller, predicted.shape[0], y.shape[0]))
    if w is not None:
        w = prepare_one(caller, Expected('w', y.ndim, y.shape[1:]), w)
        if w.shape != y.shape:
            raise util.DataError('{}: w must have the shape of y {}, not {}'.format(
                caller, y.shape, w.shape))
    return y, w
