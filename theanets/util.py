"""Shared helpers: errors, registries, random initialisers, name matching.

Everything here is public API of the original ``theanets.util`` (see the
module list in the documentation); the error classes add a few subclasses so
that clearer errors stay catchable by the ``except`` clauses old scripts use.
"""

from __future__ import annotations

import difflib
import fnmatch
import logging
import os
import pickle
import sys
from collections.abc import Callable

import numpy as np
import pytensor
import pytensor.tensor as TT
from click import style
from tqdm import tqdm

__all__ = [
    "basestring",
    "FLOAT",
    "FLOAT_CONTAINERS",
    "INT_CONTAINERS",
    "Error",
    "ConfigurationError",
    "UnknownNameError",
    "DataError",
    "AllocationError",
    "SpecWarning",
    "Registrar",
    "random_matrix",
    "random_vector",
    "memory_limit",
    "check_allocation",
    "suggest",
    "outputs_matching",
    "params_matching",
    "log",
    "enable_detailed_callsite_logging",
]

#: Kept for scripts written for Python 2 that import it from here.
basestring = str

#: The float dtype of every parameter and data array (``pytensor.config.floatX``).
FLOAT = pytensor.config.floatX

#: Symbolic float containers, indexed by number of dimensions.
FLOAT_CONTAINERS = (TT.scalar, TT.vector, TT.matrix, TT.tensor3, TT.tensor4)

#: Symbolic int32 containers, indexed by number of dimensions.
INT_CONTAINERS = (TT.iscalar, TT.ivector, TT.imatrix, TT.itensor3, TT.itensor4)

_logger = logging.getLogger("theanets")


class Error(Exception):
    """Base class of every error theanets raises on purpose."""


class ConfigurationError(Error):
    """A model, layer, loss or training configuration is invalid."""


class UnknownNameError(ConfigurationError, KeyError):
    """A name (layer form, activation, loss, algorithm, ...) is not known.

    It is a :class:`KeyError` too, which is what the original library raised,
    so ``except KeyError`` clauses in existing scripts keep working.
    """

    def __str__(self):
        # KeyError would print the message quoted, like a dict key.
        return str(self.args[0]) if self.args else ""


class DataError(Error, ValueError, TypeError):
    """Data given to a model has the wrong number, shape, type or values.

    Subclasses both :class:`ValueError` and :class:`TypeError`: the original
    library let such mistakes surface as either.
    """


class AllocationError(ConfigurationError, MemoryError):
    """A parameter would need more memory than the machine has.

    Raised before anything is allocated (see :func:`memory_limit`). It is a
    :class:`MemoryError` too, which is what the original library ran into
    (after allocating), so ``except MemoryError`` clauses keep working.
    """


class SpecWarning(UserWarning):
    """A model or layer spec that the original library accepted but misread.

    For instance an unknown keyword in a layer dict (``actvation='tanh'``),
    which the original stored and ignored, or a tuple spec naming two
    activations, of which the original silently used the last. The spec
    still builds as it did in the original (old scripts keep running); the
    warning says what was ignored and, where it can, "perhaps you meant ...".
    """


def _suggest(key, choices):
    """A "perhaps you meant" phrase for an unknown ``key``, or ''."""
    close = difflib.get_close_matches(str(key), list(choices), n=3)
    if not close:
        return ""
    return "; perhaps you meant {}".format(" or ".join(repr(c) for c in close))


def suggest(key, choices):
    """The "; perhaps you meant 'a' or 'b'" phrase for an unknown ``key``, or ''.

    Examples
    --------
    >>> suggest('actvation', ['activation', 'size'])
    "; perhaps you meant 'activation'"
    """
    return _suggest(key, choices)


def unknown_name(kind, key, choices, context=""):
    """Build the :class:`UnknownNameError` for an unknown ``key`` of ``kind``.

    ``context`` (e.g. ``'layer "hid1": '``) is put in front of the message.
    """
    choices = sorted(choices)
    return UnknownNameError(
        "{}unknown {} {!r}{}; valid choices are: {}".format(
            context, kind, key, _suggest(key, choices), ", ".join(choices)
        )
    )


class Registrar(type):
    """Metaclass that keeps a registry of the subclasses of a class family.

    Every class created with this metaclass -- the base, library subclasses
    and user subclasses alike -- is registered under its lower-cased class
    name and under each name in its own ``__extra_registration_keys__``. A
    family (Layer, Activation, Loss, Regularizer, Optimizer) shares one
    registry, made by its root class.

    One rule for every family: only concrete classes are buildable by name.
    The root class of a family is abstract, and so is any class that says
    ``__abstract__ = True`` in its own body (a base class that only exists to
    be subclassed). An abstract class stays in ``_registry`` (as in the
    original) and :meth:`get_class` finds it, but :meth:`is_registered` is
    False for its names and :meth:`build` raises the usual
    :class:`UnknownNameError` listing the valid (concrete) choices.

    Examples
    --------
    >>> class Shape(metaclass=Registrar):
    ...     pass
    >>> class Square(Shape):
    ...     __extra_registration_keys__ = ['box']
    >>> Shape.names()
    ['box', 'square']
    >>> type(Shape.build('BOX')).__name__
    'Square'
    >>> Shape.is_registered('shape')
    False
    >>> Shape.build('shape')
    Traceback (most recent call last):
    ...
    theanets.util.UnknownNameError: unknown shape 'shape'; valid choices are: box, square
    """

    def __init__(cls, name, bases, dct):
        super().__init__(name, bases, dct)
        root = not hasattr(cls, "_registry")
        if root:
            cls._registry = {}
        cls._registrar_abstract = bool(dct.get("__abstract__", root))
        cls._registry[name.lower()] = cls
        for key in dct.get("__extra_registration_keys__", ()):
            cls._registry[key.lower()] = cls

    def _family(cls):
        return cls.__mro__[-2].__name__.lower() if len(cls.__mro__) > 1 else "name"

    def names(cls, where: Callable[[type], bool] | None = None) -> list[str]:
        """The buildable names: the sorted keys of the concrete classes of the family.

        Parameters
        ----------
        where : callable, optional
            ``where(klass)`` True for the classes to list (default: all).

        Returns
        -------
        list of str

        Examples
        --------
        >>> import theanets
        >>> theanets.losses.Loss.names(where=lambda c: 'Cross' in c.__name__)
        ['crossentropy', 'xe']
        """
        return sorted(
            k
            for k, c in cls._registry.items()
            if not c._registrar_abstract and (where is None or where(c))
        )

    def classes(cls, abstract: bool = False) -> list[type]:
        """The registered classes of the family, each once, in the order they
        were made; with ``abstract``, the abstract ones (the base) too.

        Examples
        --------
        >>> import theanets
        >>> [c.__name__ for c in theanets.losses.Loss.classes()][:2]
        ['MeanSquaredError', 'MeanAbsoluteError']
        """
        seen: dict[int, type] = {}
        for klass in cls._registry.values():
            if abstract or not klass._registrar_abstract:
                seen.setdefault(id(klass), klass)
        return list(seen.values())

    def build(cls, key, *args, **kwargs):
        """Instantiate the concrete class registered under ``key`` (any case).

        Raises
        ------
        UnknownNameError
            (a KeyError) naming the valid keys, if ``key`` names no concrete
            class.
        """
        if not cls.is_registered(key):
            raise unknown_name(cls._family(), key, cls.names())
        return cls._registry[key.lower()](*args, **kwargs)

    def get_class(cls, key):
        """Return the class registered under ``key`` (any case), abstract or not.

        Raises
        ------
        UnknownNameError
            (a KeyError) naming the valid keys, if ``key`` is not registered.
        """
        if isinstance(key, str) and key.lower() in cls._registry:
            return cls._registry[key.lower()]
        raise unknown_name(cls._family(), key, cls.names())

    def is_registered(cls, key):
        """True if ``key`` (any case) names a concrete, buildable class."""
        return (
            isinstance(key, str)
            and key.lower() in cls._registry
            and not cls._registry[key.lower()]._registrar_abstract
        )


def _as_rng(rng):
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.RandomState(rng)
    return rng


#: The most bytes one parameter may take; None (the default) means the
#: machine's physical memory (see :func:`memory_limit`).
MEMORY_LIMIT = None

#: Values drawn (as float64) at a time while filling a parameter.
_CHUNK = 1 << 20


def memory_limit():
    """The most bytes one parameter array may take.

    :data:`MEMORY_LIMIT` if set, else the machine's physical memory
    (``os.sysconf('SC_PHYS_PAGES') * os.sysconf('SC_PAGE_SIZE')``), or None
    where that is unknown (then nothing is checked).
    """
    if MEMORY_LIMIT is not None:
        return int(MEMORY_LIMIT)
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None


def _bytes_text(n):
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return "{:.0f} {}".format(n, unit) if unit == "bytes" else "{:.1f} {}".format(n, unit)
        n /= 1024.0
    return "{:.1f} TiB".format(n)  # pragma: no cover


def check_allocation(shape, what="a parameter", dtype=None):
    """Raise :class:`AllocationError` if an array of ``shape`` cannot fit in memory.

    Parameters
    ----------
    shape : tuple of int
        The array's shape.
    what : str
        What the array is, for the message (``"layer 'hid1' (Feedforward):
        parameter 'hid1.w'"``).
    dtype : dtype, optional
        Default floatX.

    Examples
    --------
    >>> check_allocation((10 ** 7, 10 ** 7), "parameter 'w'")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    theanets.util.AllocationError: parameter 'w' of shape (10000000, 10000000) needs ...
    """
    limit = memory_limit()
    if limit is None:
        return
    itemsize = np.dtype(dtype or pytensor.config.floatX).itemsize
    need = itemsize
    for dim in shape:
        need *= int(dim)
    if need > limit:
        raise AllocationError(
            "{} of shape ({}) needs {} of {}, more than {} ({}); use smaller layers".format(
                what,
                ", ".join(str(int(d)) for d in shape) + ("," if len(shape) == 1 else ""),
                _bytes_text(need),
                np.dtype(dtype or pytensor.config.floatX).name,
                "this machine has" if MEMORY_LIMIT is None else "theanets.util.MEMORY_LIMIT",
                _bytes_text(limit),
            )
        )


def _normal(rng, shape, mean, std):
    """``mean + std * rng.randn(*shape)`` in floatX, drawn a chunk of rows at a time.

    The values are those of one ``randn`` call computed in float64 and cast
    (numpy's RandomState gives the same stream in chunks), but the float64
    temporaries are one chunk, not the whole array.
    """
    out = np.empty(shape, dtype=pytensor.config.floatX)
    flat = out.reshape(-1)
    for start in range(0, flat.size, _CHUNK):
        stop = min(flat.size, start + _CHUNK)
        flat[start:stop] = mean + std * rng.randn(stop - start)
    return out


def random_matrix(rows, cols, mean=0, std=1, sparsity=0, radius=0, diagonal=0, rng=None):
    """Create a matrix of randomly-initialised weights.

    The draws are, in order: ``randn(rows, cols)``; if ``0 < sparsity < 1``,
    a ``binomial(1, 1 - sparsity, (rows, cols))`` keep-mask whose leading
    diagonal is forced on. Then, if ``radius > 0``, the matrix is rescaled so
    that its largest singular value equals ``radius``; if ``diagonal`` is
    non-zero the result is ``diagonal * eye(rows, cols)`` instead (the draws
    are still made, so the rng moves on as in the original).

    The values are the original library's (float64 draws cast to floatX),
    but without a float64 copy of the whole matrix: the draws are made and
    cast a chunk at a time, so the peak memory is about that of the result.
    A matrix that would need more than :func:`memory_limit` raises
    :class:`AllocationError` before anything is drawn.

    Parameters
    ----------
    rows, cols : int
        Shape of the matrix.
    mean, std : float
        Mean and standard deviation of the entries.
    sparsity : float in [0, 1)
        Fraction of entries set to zero.
    radius : float
        If positive, the spectral radius (largest singular value) to rescale to.
    diagonal : float
        If non-zero, return this value times the identity instead.
    rng : None, int or numpy.random.RandomState
        Source of randomness; an int or None seeds a new RandomState.

    Returns
    -------
    numpy.ndarray of shape (rows, cols) and dtype floatX.

    Examples
    --------
    >>> random_matrix(2, 3, diagonal=2).tolist()
    [[2.0, 0.0, 0.0], [0.0, 2.0, 0.0]]
    >>> random_matrix(2, 3, rng=4).dtype == FLOAT
    True
    """
    check_allocation((rows, cols), "a weight matrix")
    rng = _as_rng(rng)
    if radius > 0:  # the SVD works on the float64 values, as the original's did
        arr = mean + std * rng.randn(rows, cols)
    else:
        arr = _normal(rng, (rows, cols), mean, std)
    if 1 > sparsity > 0:
        k = min(rows, cols)
        step = max(1, _CHUNK // max(1, cols))
        for start in range(0, rows, step):
            stop = min(rows, start + step)
            mask = rng.binomial(n=1, p=1 - sparsity, size=(stop - start, cols)).astype(bool)
            for i in range(start, min(stop, k)):
                mask[i - start, i] = True
            arr[start:stop] *= mask
    if radius > 0:
        u, s, vT = np.linalg.svd(arr, full_matrices=False)
        arr = np.dot(np.dot(u, np.diag(radius * s / abs(s[0]))), vT)
    if diagonal != 0:
        arr = (diagonal * np.eye(rows, cols)).astype(pytensor.config.floatX)
    return arr.astype(pytensor.config.floatX, copy=False)


def random_vector(size, mean=0, std=1, rng=None):
    """Create a vector of ``size`` normally-distributed values (floatX).

    Drawn as :func:`random_matrix` draws (float64, cast a chunk at a time).

    Examples
    --------
    >>> random_vector(3, mean=1, std=0).tolist()
    [1.0, 1.0, 1.0]
    """
    check_allocation((size,), "a vector")
    return _normal(_as_rng(rng), (size,), mean, std)


def _patterns(patterns):
    if isinstance(patterns, str):
        return (patterns,)
    return tuple(patterns)


def outputs_matching(outputs, patterns):
    """Yield ``(name, expression)`` for each output matching a glob pattern.

    Parameters
    ----------
    outputs : dict or sequence of (name, expression) pairs
        Graph outputs; a dict is walked in sorted name order.
    patterns : str or sequence of str
        ``fnmatch`` glob patterns; a name is yielded once even if several
        patterns match it.

    Examples
    --------
    >>> [n for n, _ in outputs_matching({'a:out': 1, 'b:pre': 2}, '*:out')]
    ['a:out']
    """
    if isinstance(outputs, dict):
        outputs = sorted(outputs.items(), key=lambda kv: kv[0])
    patterns = _patterns(patterns)
    for name, expr in outputs:
        if any(fnmatch.fnmatch(name, p) for p in patterns):
            yield name, expr


def params_matching(layers, patterns):
    """Yield ``(param.name, param)`` for parameters matching glob patterns.

    Parameters are visited in layer order, then in each layer's own order.
    """
    patterns = _patterns(patterns)
    for layer in layers:
        for param in layer.params:
            if any(fnmatch.fnmatch(param.name, p) for p in patterns):
                yield param.name, param


_detailed_callsite = False


class ConsoleHandler(logging.Handler):
    """Prints ``YYYYMMDD HHMMSS theanets message`` lines to ``sys.stderr``.

    The original library's console format (coloured on a terminal). Used by
    :func:`say` when the application has not configured logging; it is never
    attached to a logger. Lines are written through ``tqdm.write``, so that
    they do not break a progress bar on the screen.
    """

    def emit(self, record):
        try:
            stream = sys.stderr
            stamp = logging.Formatter().formatTime(record, "%Y%m%d %H%M%S").split()
            name = record.name if ":" in record.name else "theanets"
            parts = [stamp[0], stamp[1], name]
            if getattr(stream, "isatty", lambda: False)():
                parts = [
                    style(parts[0], fg="blue"),
                    style(parts[1], fg="cyan"),
                    style(parts[2], fg="magenta"),
                ]
            tqdm.write(" ".join(parts + [record.getMessage()]), file=stream)
        except Exception:  # a handler must never raise (logging's own rule)
            self.handleError(record)


#: The handler of :func:`say` (module state: one console for the process).
CONSOLE = ConsoleHandler()


def _level_without_configuration(logger):
    """The level ``logger`` uses when the application has not configured
    logging: the first level set on it or on an ancestor below the root
    logger, else INFO (where Python's own default would be WARNING)."""
    while logger is not None and logger is not logging.root:
        if logger.level:
            return logger.level
        logger = logger.parent
    return logging.INFO


def say(logger, text, level=logging.INFO, stacklevel=2):
    """Log ``text`` on ``logger``, printing it if no handler would show it.

    If the application has configured logging -- a handler on ``logger``,
    on ``theanets`` or on the root logger (``logging.basicConfig``) --
    this is ``logger.log(level, text)``, with the usual meaning of levels
    and handlers, so that no line is ever shown twice. Otherwise (a plain
    script) the line is printed to stderr by :data:`CONSOLE`, unless a level
    set on ``logger`` or an ancestor (``logging.getLogger('theanets')
    .setLevel(logging.WARNING)``), or ``logging.disable``, silences it. The
    root logger is never touched.

    Parameters
    ----------
    logger : logging.Logger or str
        A logger under ``theanets`` (or its name).
    text : str
        The message.
    level : int, optional
        Default ``logging.INFO``.
    stacklevel : int, optional
        Which caller a configured log record names (as in
        ``logging.Logger.log``; default: the caller of ``say``).

    Examples
    --------
    >>> import logging
    >>> logger = logging.getLogger('theanets.example')
    >>> logger.setLevel(logging.WARNING)
    >>> say(logger, 'not shown')
    >>> logger.setLevel(logging.NOTSET)
    """
    if isinstance(logger, str):
        logger = logging.getLogger(logger)
    if logger.hasHandlers():
        logger.log(level, text, stacklevel=stacklevel)
    elif logging.root.manager.disable < level and level >= _level_without_configuration(logger):
        CONSOLE.handle(logger.makeRecord(logger.name, level, "(theanets)", 0, text, (), None))


def console_enabled(logger):
    """True if an INFO message of ``logger`` would be shown (see :func:`say`)."""
    if isinstance(logger, str):
        logger = logging.getLogger(logger)
    if logger.hasHandlers():
        return logger.isEnabledFor(logging.INFO)
    return (
        logging.root.manager.disable < logging.INFO
        and logging.INFO >= _level_without_configuration(logger)
    )


def enable_detailed_callsite_logging():
    """Make :func:`log` name the calling module and line of each message."""
    global _detailed_callsite
    _detailed_callsite = True


def log(msg, *args, **kwargs):
    """Log an INFO message under the ``theanets`` logger.

    The message is ``str.format``-ed with the arguments, as in the original
    (``log('{} layers', 3)``).

    Called from a script, the message is shown as the original showed it: a
    ``YYYYMMDD HHMMSS theanets message`` line on the console (stderr), as
    long as the application has not configured logging. Once it has
    (``logging.basicConfig(...)``, or a handler on the ``theanets`` logger),
    the message goes through logging only, formatted and filtered as
    configured, and is never printed twice. See :func:`say`. A level on the
    ``theanets`` logger silences it: ``logging.getLogger('theanets')
    .setLevel(logging.WARNING)``.

    The library's own calls (layers, losses, saving, ...) are details: they
    are logged at INFO for an application that configures logging, and
    never printed otherwise.

    Examples
    --------
    In a plain script, ``theanets.log('{} layers and {name}', 3, name='a
    loss')`` prints ``20261129 221500 theanets 3 layers and a loss``. Where
    logging is configured, the configuration decides:

    >>> import logging, sys
    >>> import theanets
    >>> handler = logging.StreamHandler(sys.stdout)
    >>> logger = logging.getLogger('theanets')
    >>> logger.addHandler(handler)
    >>> logger.setLevel(logging.INFO)
    >>> theanets.log('{} layers and {name}', 3, name='a loss')
    3 layers and a loss
    >>> logger.removeHandler(handler)
    >>> logger.setLevel(logging.NOTSET)
    """
    name = "theanets"
    frame = sys._getframe(1)
    caller = frame.f_globals.get("__name__", "?")
    if _detailed_callsite:
        module = caller.replace("theanets.", "")
        name = "theanets.{}:{}".format(module, frame.f_lineno)
    text = msg.format(*args, **kwargs) if (args or kwargs) else msg
    if not (caller == "theanets" or caller.startswith("theanets.")):
        say(name, text, stacklevel=3)  # the record names the script's line
        return
    logging.getLogger(name).info(text)


class LoadError(Error, pickle.UnpicklingError, EOFError, ValueError, OSError):
    """A saved model file cannot be read: truncated, corrupt, or not a model.

    The original library let such files surface as whatever the unpickler or
    gzip raised; this error derives from all of those (``pickle.UnpicklingError``,
    ``EOFError``, ``ValueError`` and ``OSError``, which ``gzip.BadGzipFile``
    is), so ``except`` clauses written for the original still catch it.

    Examples
    --------
    >>> import pickle
    >>> isinstance(LoadError('model.pkl is truncated'), pickle.UnpicklingError)
    True
    """

    def __str__(self):
        # OSError would format two arguments as "[Errno a] b".
        return str(self.args[0]) if self.args else ""


def outside_stacklevel():
    """The ``stacklevel`` of a warning that points at the first caller outside theanets."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_globals.get("__name__", "").startswith("theanets."):
        frame, level = frame.f_back, level + 1
    return level


def env_choice(name, choices):
    """The setting in environment variable ``name``: one of ``choices``
    (case and surrounding spaces ignored), the first where it is unset or
    empty.

    Raises
    ------
    ValueError
        For another value, naming the valid ones.

    Examples
    --------
    >>> env_choice('THEANETS_NO_SUCH_SETTING', ('auto', 'off'))
    'auto'
    """
    value = os.environ.get(name, "").strip().lower() or choices[0]
    if value not in choices:
        raise ValueError("{} must be one of {}, not {!r}".format(name, ", ".join(choices), value))
    return value
