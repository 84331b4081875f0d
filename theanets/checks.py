"""Checking arguments and data at every entry point, in one place.

Arguments (hyper-parameters, layer sizes and shapes, layer references) are
checked by the ``check_*`` functions, which return the value in a canonical
form (a float, an int, a tuple of ints, a layer) or raise
:class:`theanets.util.ConfigurationError` naming the argument, the value and
what was expected; :func:`is_number` and :func:`is_count` are the predicates
they share, and :func:`shape_text` is how every message writes a shape.

Arrays: every entry point that takes arrays (``train``, ``predict``,
``score``, ``encode``, ...) describes what it expects as a list of
:class:`Expected` and calls :func:`prepare`, which casts floats to floatX
and labels to int32 and raises :class:`theanets.util.DataError` naming the
argument, the expected and the actual shape or type -- before anything is
compiled.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any, TypeGuard

import numpy as np
import pytensor
import scipy.sparse

from . import streaming, util

__all__ = [
    "shape_text",
    "is_number",
    "is_count",
    "check_real",
    "check_int",
    "check_count",
    "check_shape",
    "check_rng",
    "check_layer_name",
    "find_layer",
    "Expected",
    "prepare",
    "prepare_one",
    "prepare_scored",
]


# ----- arguments ----------------------------------------------------------


def shape_text(shape: Sequence[int | None]) -> str:
    """How messages write a shape: ``(N, 3)``, ``(?, 5)``, ``(4,)``.

    Examples
    --------
    >>> shape_text((None, 5)), shape_text([4]), shape_text(('N', 3))
    ('(?, 5)', '(4,)', '(N, 3)')
    """
    return (
        "("
        + ", ".join("?" if d is None else str(d) for d in shape)
        + (",)" if len(shape) == 1 else ")")
    )


def is_number(value: object) -> bool:
    """True for a real number: int, float, numpy scalar or 0-d numeric array; not a bool.

    Examples
    --------
    >>> import numpy as np
    >>> is_number(0), is_number(np.float32(0.5)), is_number(np.array(2)), is_number(True)
    (True, True, True, False)
    """
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, np.ndarray):
        return value.ndim == 0 and value.dtype.kind in "iuf"
    return isinstance(value, numbers.Real)


def is_count(value: object) -> TypeGuard[int]:
    """True for a whole number: an int or numpy integer, not a bool.

    Examples
    --------
    >>> import numpy as np
    >>> is_count(3), is_count(np.int64(3)), is_count(3.0), is_count(True)
    (True, True, False, False)
    """
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _invalid(name, value, allowed):
    return util.ConfigurationError(
        "{}={!r} is not allowed: expected {}".format(name, value, allowed)
    )


def _describe(kind, low, high, low_open, high_open):
    if low is not None and high is not None:
        return "{} in {}{}, {}{}".format(
            kind, "(" if low_open else "[", low, high, ")" if high_open else "]"
        )
    if low is not None:
        return "{} {} {}".format(kind, ">" if low_open else ">=", low)
    if high is not None:
        return "{} {} {}".format(kind, "<" if high_open else "<=", high)
    return kind


def check_real(
    name: str,
    value: Any,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    finite: bool = True,
) -> float:
    """Check that ``value`` is a real number in a range; return it as a float.

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
    """
    allowed = _describe("a real number", low, high, low_open, high_open)
    if finite and high is None:
        allowed = allowed.replace("a real number", "a finite real number")
    if not is_number(value):
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


def check_int(
    name: str, value: Any, low: int | None = None, allow_none: bool = False
) -> int | None:
    """Check that ``value`` is an integer ``>= low``; return it as an int.

    Examples
    --------
    >>> check_int('validate_every', 10, 1)
    10
    >>> check_int('batch_size', 3.5)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    theanets.util.ConfigurationError: batch_size=3.5 is not allowed: ...
    """
    if value is None and allow_none:
        return None
    allowed = _describe("an integer", low, None, False, False)
    if allow_none:
        allowed += " or None"
    if not is_count(value) or (low is not None and value < low):
        raise _invalid(name, value, allowed)
    return int(value)


def check_count(what: str, value: Any, context: str) -> int:
    """Check that ``value`` is a positive whole number; return it as an int.

    Parameters
    ----------
    what : str
        The argument's name (``'size'``).
    value
        Its value.
    context : str
        Who takes it, for the message (``"layer 'hid1' (Feedforward)"``).

    Examples
    --------
    >>> check_count('size', 4, 'layer')
    4
    >>> check_count('size', 0, "layer 'hid1'")
    Traceback (most recent call last):
    ...
    theanets.util.ConfigurationError: layer 'hid1': size must be a positive whole number, not 0
    """
    if not is_count(value) or value <= 0:
        raise util.ConfigurationError(
            "{}: {} must be a positive whole number, not {!r}".format(context, what, value)
        )
    return int(value)


def check_pair(what: str, value: Any, context: str) -> tuple[int, ...]:
    """Check that ``value`` is a pair of positive whole numbers; return it as a tuple.

    A list is accepted (specs read from JSON hold lists).

    Examples
    --------
    >>> check_pair('filter_size', [3, 2], 'layer')
    (3, 2)
    >>> check_pair('stride', (1, 0), "layer 'conv'")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    theanets.util.ConfigurationError: layer 'conv': stride must be a pair of positive ...
    """
    if (
        isinstance(value, (tuple, list))
        and len(value) == 2
        and all(is_count(v) and v > 0 for v in value)
    ):
        return tuple(int(v) for v in value)
    raise util.ConfigurationError(
        "{}: {} must be a pair of positive whole numbers, not {!r}".format(context, what, value)
    )


def check_shape(
    what: str, shape: Any, context: str, unknown_ok: bool = True
) -> tuple[int | None, ...]:
    """Check that ``shape`` holds positive whole numbers; return it as a tuple.

    ``None`` entries (unknown sizes) are allowed where ``unknown_ok``.

    Examples
    --------
    >>> check_shape('shape', [3, None], 'layer')
    (3, None)
    >>> check_shape('shape', (3, 0), "layer 'in'")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    theanets.util.ConfigurationError: layer 'in': shape must hold positive whole numbers, not 0 ...
    """
    if isinstance(shape, np.ndarray) and shape.ndim == 1:
        shape = tuple(shape.tolist())
    if not isinstance(shape, (tuple, list)) or not shape:
        raise util.ConfigurationError(
            "{}: {} must be a non-empty tuple of positive whole numbers, not {!r}".format(
                context, what, shape
            )
        )
    for dim in shape:
        if dim is None and unknown_ok:
            continue
        if not is_count(dim) or dim <= 0:
            raise util.ConfigurationError(
                "{}: {} must hold positive whole numbers, not {!r} (in {!r})".format(
                    context, what, dim, tuple(shape)
                )
            )
    return tuple(None if d is None else int(d) for d in shape)


#: The seeds numpy's RandomState takes.
SEED_RANGE = (0, 2**32 - 1)


def check_rng(what: str, value: Any, context: str = "") -> Any:
    """Check a random seed: None, an int in numpy's seed range, or a RandomState.

    Anything with a ``randn`` method counts as a RandomState (the original
    used whatever it was given). Returns ``value`` unchanged.

    Parameters
    ----------
    what : str
        The argument's name (``'rng'``).
    value
        Its value.
    context : str
        Who takes it, for the message (``'Regressor'``).

    Raises
    ------
    theanets.util.ConfigurationError
        Naming the argument, the value and what is allowed.

    Examples
    --------
    >>> check_rng('rng', 13)
    13
    >>> check_rng('rng', -1, 'Regressor')  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    theanets.util.ConfigurationError: Regressor: rng must be None, an int seed or a numpy ...
    """
    if (
        value is None
        or hasattr(value, "randn")
        or (is_count(value) and SEED_RANGE[0] <= value <= SEED_RANGE[1])
    ):
        return value
    hint = ""
    if isinstance(value, np.random.Generator):
        hint = " (a numpy Generator draws other numbers: pass np.random.RandomState(seed))"
    elif is_count(value):
        hint = " (int seeds are {} to 2**32 - 1)".format(SEED_RANGE[0])
    raise util.ConfigurationError(
        "{}{} must be None, an int seed or a numpy RandomState, not {!r}{}".format(
            context + ": " if context else "", what, value, hint
        )
    )


def check_layer_name(name: Any, context: str = "layer") -> str:
    """Check a layer name: a string without ``':'`` or NUL; return it.

    Output names are ``'<layer>:<output>'`` and are split at the first
    ``':'``, so a layer called ``'a:b'`` could not be found by the layers
    after it; a NUL cannot be written to most file formats.

    Examples
    --------
    >>> check_layer_name('hid1')
    'hid1'
    >>> check_layer_name('hid:1')  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    theanets.util.ConfigurationError: layer 'hid:1': a layer name may not contain ':' ...
    """
    if not isinstance(name, str):
        raise util.ConfigurationError("layer names must be strings, not {!r}".format(name))
    for bad, why in ((":", "output names are '<layer>:<output>'"), ("\0", "it cannot be saved")):
        if bad in name:
            raise util.ConfigurationError(
                "{} {!r}: a layer name may not contain {!r} ({}); got {!r}".format(
                    context, name, bad, why, name
                )
            )
    return name


def find_layer(layers: Sequence[Any], which: Any, what: str = "layer", context: str = "") -> Any:
    """The layer of ``layers`` that ``which`` names: an index or a layer name.

    Parameters
    ----------
    layers : sequence of Layer
    which : int or str
        A position in ``layers`` (negative counts from the end) or a name.
    what : str
        What the layer is to the caller, for the message (``'partner layer'``).
    context : str
        Put in front of the message (``"layer 'hid2' (Tied): "``).

    Raises
    ------
    theanets.util.UnknownNameError
        (a KeyError) for an index out of range or an unknown name, listing the
        layer names; ConfigurationError if several layers have the name.

    Examples
    --------
    >>> import theanets
    >>> net = theanets.Regressor([3, 4, 2])
    >>> find_layer(net.layers, -1).name, find_layer(net.layers, 'hid1').name
    ('out', 'hid1')
    >>> find_layer(net.layers, 'hid')  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    theanets.util.UnknownNameError: unknown layer 'hid'; perhaps you meant 'hid1'; valid ...
    """
    if is_count(which):
        if not -len(layers) <= which < len(layers):
            raise util.UnknownNameError(
                "{}no {} {} in a network of {} layers".format(context, what, which, len(layers))
            )
        return layers[which]
    matches = [layer for layer in layers if layer.name == which]
    if len(matches) > 1:
        raise util.ConfigurationError(
            "{}{} {!r} is ambiguous: {} layers have that name".format(
                context, what, which, len(matches)
            )
        )
    if not matches:
        raise util.unknown_name(what, which, [layer.name for layer in layers], context)
    return matches[0]


# ----- data ---------------------------------------------------------------


class Expected:
    """What one array must look like.

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
    weights : bool
        For the weights of a weighted loss or score: no value may be
        negative, and not all may be zero (the weighted mean would be
        meaningless: the original minimised a negative loss without bound,
        or reported all-zero weights as divergence).
    """

    def __init__(
        self, name, ndim, shape=None, dtype="float", sparse=False, classes=None, weights=False
    ):
        self.weights = weights
        self.name = name
        self.ndim = ndim
        self.shape = tuple(shape) if shape is not None else None
        self.dtype = dtype
        self.sparse = sparse
        self.classes = classes

    def describe(self, article=True):
        """E.g. ``'a float array of shape (N, 3)'`` (without the article if not ``article``)."""
        full = ("N",) + self.shape if self.shape is not None else ("N",) + ("?",) * (self.ndim - 1)
        kind = {"float": "float", "int": "integer"}[self.dtype]
        sparse = "scipy.sparse {} ".format(self.sparse) if self.sparse else ""
        text = "{}{} array of shape {}".format(sparse, kind, shape_text(full))
        if not article:
            return text
        return ("an " if text[0] in "aeiou" else "a ") + text


def _type_name(value):
    return (
        type(value).__module__.split(".")[0] + "." + type(value).__name__
        if not isinstance(value, np.ndarray)
        else "numpy.ndarray"
    )


def prepare_one(caller, expected, value):
    """Check one array against ``expected``; return it cast for PyTensor."""
    where = "{}: {}".format(caller, expected.name)
    if scipy.sparse.issparse(value):
        if not expected.sparse:
            raise util.DataError(
                "{} is a scipy.sparse matrix, but the model expects a dense "
                "{} (use .toarray(), or a sparse input layer)".format(
                    where, expected.describe(article=False)
                )
            )
        value = value.asformat(expected.sparse)
        data = value.data
    else:
        if expected.sparse:
            raise util.DataError(
                "{} must be a scipy.sparse {} matrix (the input layer is sparse), not {}".format(
                    where, expected.sparse, _type_name(value)
                )
            )
        if hasattr(value, "to_numpy"):  # pandas
            value = value.to_numpy()
        try:
            value = np.asarray(value)
        except (TypeError, ValueError) as err:
            raise util.DataError(
                "{} must be an array, not {} ({})".format(where, _type_name(value), err)
            ) from err
        if value.dtype == object or not (
            np.issubdtype(value.dtype, np.number) or value.dtype == bool
        ):
            raise util.DataError("{} must hold numbers, not {} values".format(where, value.dtype))
        if np.issubdtype(value.dtype, np.complexfloating):
            raise util.DataError(
                "{} must hold real numbers, not {} values".format(where, value.dtype)
            )
        data = value
    if value.ndim != expected.ndim:
        raise util.DataError(
            "{} must be {}, but has {} dimension(s) with shape {}".format(
                where, expected.describe(), value.ndim, shape_text(value.shape)
            )
        )
    if value.shape[0] == 0:
        raise util.DataError(
            "{} is empty (shape {}); at least one example is needed".format(
                where, shape_text(value.shape)
            )
        )
    if expected.shape is not None:
        for want, have in zip(expected.shape, value.shape[1:], strict=True):
            if want is not None and want != have:
                raise util.DataError(
                    "{} must be {}, but has shape {}".format(
                        where, expected.describe(), shape_text(value.shape)
                    )
                )
    if 0 in value.shape[1:]:  # an axis of free size, e.g. time, with nothing along it
        axis = value.shape.index(0, 1)
        raise util.DataError(
            "{} has no {} (shape {}); at least one is needed in {}".format(
                where,
                "time steps"
                if axis == 1 and value.ndim == 3
                else "values along axis {}".format(axis),
                shape_text(value.shape),
                expected.describe(),
            )
        )
    if streaming.is_file_backed(value):
        return _prepare_file_backed(where, expected, value)
    return _check_and_cast(where, expected, value, data)


def _prepare_file_backed(where, expected, value):
    """Check a memmap a chunk of rows at a time; cast it a batch at a time later.

    Checking or casting the whole array at once would read all of it into
    memory (see :mod:`theanets.streaming`).
    """
    for rows in streaming.row_chunks(value):
        _check_and_cast(where, expected, *[streaming.read(value, rows)] * 2)
    dtype = "int32" if expected.dtype == "int" else pytensor.config.floatX
    return value if value.dtype == dtype else streaming.CastArray(value, dtype)


def _check_and_cast(where, expected, value, data):
    """Check the values of ``value`` (``data``: its stored values) and cast it."""
    if expected.dtype == "int":
        if np.issubdtype(data.dtype, np.floating):
            if not np.all(np.isfinite(data)) or np.any(data != np.round(data)):
                raise util.DataError(
                    "{} must hold integer class labels, but holds {} values "
                    "that are not whole numbers".format(where, data.dtype)
                )
        elif not np.issubdtype(data.dtype, np.integer):
            raise util.DataError(
                "{} must hold integer class labels, not {}".format(where, data.dtype)
            )
        if (
            expected.classes is not None
            and data.size
            and (data.max() >= expected.classes or data.min() < -expected.classes)
        ):
            raise util.DataError(
                "{} holds labels from {} to {}, but the model has {} classes "
                "(labels 0 to {})".format(
                    where, data.min(), data.max(), expected.classes, expected.classes - 1
                )
            )
        limits = np.iinfo(np.int32)
        if data.size and (data.max() > limits.max or data.min() < limits.min):
            raise util.DataError(
                "{} holds labels from {} to {}, outside the int32 range".format(
                    where, data.min(), data.max()
                )
            )
        return value.astype("int32")
    with np.errstate(over="ignore"):
        cast = value.astype(pytensor.config.floatX, copy=False)
    # One pass over the data in the common case: the cast values are finite
    # only if the data was finite and fits in floatX.
    if not np.all(np.isfinite(cast.data if scipy.sparse.issparse(cast) else cast)):
        finite = np.isfinite(data)
        if not np.all(finite):
            raise util.DataError(
                "{} contains {} NaN or infinite value(s)".format(
                    where, np.size(data) - np.count_nonzero(finite)
                )
            )
        raise util.DataError(
            "{} holds values too large for {} (largest magnitude {:g})".format(
                where, pytensor.config.floatX, float(np.max(np.abs(data)))
            )
        )
    if expected.weights:
        _check_weights(where, cast.data if scipy.sparse.issparse(cast) else cast)
    return cast


def _check_weights(where, values):
    """Weights must be >= 0, and not all 0."""
    negative = np.count_nonzero(values < 0)
    if negative:
        raise util.DataError(
            "{} holds {} negative weight(s) (smallest {:g}); weights must be >= 0 (a "
            "negative weight rewards the error it weighs, and the loss has no minimum)".format(
                where, negative, float(values.min())
            )
        )
    if not np.any(values):
        raise util.DataError(
            "{} is all zeros: at least one weight must be positive (the weighted mean of "
            "nothing is undefined)".format(where)
        )


def prepare(caller, expected, arrays):
    """Check and cast a list of arrays against a list of :class:`Expected`.

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
    """
    if not isinstance(arrays, (list, tuple)):
        raise util.DataError(
            "{} takes a list of arrays ({}), not {}".format(
                caller, ", ".join(e.name for e in expected), _type_name(arrays)
            )
        )
    if len(arrays) != len(expected):
        raise util.DataError(
            "{} takes {} array(s) ({}), but {} were given".format(
                caller, len(expected), ", ".join(e.name for e in expected), len(arrays)
            )
        )
    result = [prepare_one(caller, e, a) for e, a in zip(expected, arrays, strict=True)]
    lengths = [a.shape[0] for a in result]
    if len(set(lengths)) > 1:
        raise util.DataError(
            "{}: arrays must have the same number of examples, but {}".format(
                caller,
                ", ".join(
                    "{} has {}".format(e.name, n) for e, n in zip(expected, lengths, strict=True)
                ),
            )
        )
    # sequences (a free first axis per example: time) are compared step by step
    sequences = [
        (e.name, a.shape[1])
        for e, a in zip(expected, result, strict=True)
        if e.shape and e.shape[0] is None and a.ndim >= 2
    ]
    if len({steps for _, steps in sequences}) > 1:
        raise util.DataError(
            "{}: sequences must have the same number of time steps (axis 1), but {}".format(
                caller, ", ".join("{} has {}".format(name, n) for name, n in sequences)
            )
        )
    return result


def prepare_scored(
    caller: str,
    predicted: Any,
    y: Any,
    w: Any = None,
    dtype: str = "float",
    classes: int | None = None,
) -> tuple[Any, Any]:
    """Check and cast the ``y`` (and optional ``w``) that ``score`` compares
    with the model's ``predicted`` values: both must have their shape.

    Returns ``(y, w)``; ``w`` stays None if not given.
    """
    y = prepare_one(
        caller, Expected("y", predicted.ndim, predicted.shape[1:], dtype=dtype, classes=classes), y
    )
    if y.shape[0] != predicted.shape[0]:
        raise util.DataError(
            "{}: x has {} examples but y has {}".format(caller, predicted.shape[0], y.shape[0])
        )
    if w is not None:
        w = prepare_one(caller, Expected("w", y.ndim, y.shape[1:], weights=True), w)
        if w.shape != y.shape:
            raise util.DataError(
                "{}: w must have the shape of y {}, not {}".format(caller, y.shape, w.shape)
            )
    return y, w
