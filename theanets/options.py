"""Training options: the one table of the keywords ``train``/``itertrain``
understand (:data:`TABLE`), the warning for a keyword that nothing reads,
and the docstring that lists them all (``help(model.train)``).

Each entry is a :class:`~theanets.downhill.hypers.Option`: its name,
default, constraint, owner (loop, dataset, optimizer, regularizer, model),
whether it is compiled into the training step, and what it does. The
optimizers' entries are those of :data:`theanets.downhill.hypers.OPTIONS`;
the loop's, the models' and the regularizers' are added here. Everything
else that lists options is made from the table: :data:`LOOP_OPTIONS`,
:func:`train_options`, :func:`train_doc`, the models' ``TRAIN_OPTIONS``
(:func:`described`), the options the trainer keeps out of its cache key,
the scikit-learn estimators' ``_parameter_constraints`` and the tables of
the training guide.
"""

import difflib
import inspect
import textwrap
import warnings

from . import checks, downhill, regularizers, util
from .downhill.hypers import Flag, Kind, Option

__all__ = [
    "LOOP_OPTIONS",
    "MODEL_OPTIONS",
    "RUNTIME_OPTIONS",
    "TABLE",
    "UnknownOptionWarning",
    "check_options",
    "check_values",
    "described",
    "option",
    "train_doc",
    "train_options",
]


class UnknownOptionWarning(UserWarning):
    """A keyword argument of ``train``/``itertrain`` that nothing reads."""


def _regularizer(name, doc, synonyms=(), default=0, kind="float or dict"):
    return Option(name, default, Kind(kind), "regularizer", True, doc, synonyms=synonyms)


_NOISE = "add Gaussian noise of this standard deviation to {}"
_DROPOUT = "set this fraction of {} to zero (and scale the rest up to keep the mean)"

#: The entries of the loop that are parameters of ``train`` itself.
_TRAIN_ARGS = (
    Option(
        "algo",
        "rmsprop",
        Kind("str or trainer object"),
        "loop",
        True,
        "the training algorithm: ``'rmsprop'``, ``'sgd'``, ``'nag'``, ``'rprop'``, "
        "``'adagrad'``, ``'adadelta'``, ``'esgd'``, ``'adam'``; ``'sample'``, "
        "``'layerwise'`` (or ``'supervised'``), ``'pretrain'`` (or ``'unsupervised'``); "
        "or an object with an ``itertrain(train, valid, **kwargs)`` method (its "
        "``TRAIN_OPTIONS``, if any, are its options); ``algorithm`` is a deprecated "
        "synonym",
        synonyms=("algorithm",),
    ),
    Option(
        "subalgo",
        "rmsprop",
        Kind("str"),
        "loop",
        True,
        "the optimizer of each stage of ``'layerwise'`` and ``'pretrain'``",
    ),
    Option(
        "save_every",
        0,
        Kind("int or float"),
        "loop",
        False,
        "an int saves every that many iterations, a float every that many minutes; 0 "
        "saves once, when training ends (the original raised ZeroDivisionError for 0)",
    ),
    Option(
        "save_progress",
        None,
        Kind("str, path or binary file"),
        "loop",
        False,
        "where to save (None: nowhere); a string is formatted with the Unix time "
        "(``'model-{}.pkl'``)",
    ),
)

#: The other entries of the loop, the models' and the regularizers'.
_OTHERS = (
    Option(
        "listeners",
        None,
        Kind("list of Listener objects"),
        "loop",
        False,
        "objects that hear the training loop beside the display, as Keras callbacks "
        "(subclasses of :class:`theanets.downhill.events.Listener`): compile started "
        "and finished, each validation and update, the end; one may stop training by "
        "returning a reason",
    ),
    Option(
        "devices",
        None,
        Kind("int or list of jax devices"),
        "loop",
        True,
        "train data-parallel (None: on one device): each mini-batch is split over this "
        "many of ``jax.devices()`` (or these devices), parameters replicated, gradients "
        "summed by XLA; JAX mode only (see :mod:`theanets.parallel`)",
    ),
    Option(
        "monitors",
        None,
        Kind("dict"),
        "model",
        True,
        "output or parameter glob pattern -> levels to report (see "
        ":meth:`~theanets.graph.Network.monitors`)",
    ),
    Option(
        "monitor_gradients",
        False,
        Flag(),
        "model",
        True,
        "also report ``grad(<param>)``, each parameter's squared gradient sum",
    ),
    Option(
        "rng",
        None,
        Kind("int or numpy.random.RandomState"),
        "model",
        False,
        "seed of mini-batch shuffling, noise and dropout (None: the network's ``rng``)",
    ),
    Option(
        "progress",
        None,
        Kind("None or bool"),
        "model",
        False,
        "the training display: None or True, a progress bar in a terminal and at most "
        "one log line per validation elsewhere; False, silent",
    ),
    Option(
        "carry_state",
        False,
        Kind("bool, str or int"),
        "model",
        True,
        "recurrent models: start each batch from the state the previous batch of its "
        'stream ended in (True/"epoch": reset each pass, "never", or reset every N '
        "batches); data from ``stream_batches()``",
    ),
    _regularizer(
        "regularizers",
        "a list of :class:`~theanets.regularizers.Regularizer` objects (then the keywords "
        "below are not read), or a dict of those keywords; any registered regularizer "
        "name (a user subclass's lower-cased class name) is an option too",
        default=None,
        kind="list or dict",
    ),
    _regularizer(
        "weight_l2",
        "penalty: weight x mean squared weight (or ``weight_decay``)",
        ("weight_decay",),
    ),
    _regularizer(
        "weight_l1",
        "penalty: weight x mean absolute weight (or ``weight_sparsity``)",
        ("weight_sparsity",),
    ),
    _regularizer(
        "hidden_l1",
        "penalty: weight x mean absolute activation of the hidden layers (or ``hidden_sparsity``)",
        ("hidden_sparsity",),
    ),
    _regularizer(
        "contractive",
        "penalty: weight x squared gradient of the hidden activations with respect to the inputs",
    ),
    _regularizer(
        "recurrent_norm", "penalise changes in the norm of recurrent states between time steps"
    ),
    _regularizer("recurrent_state", "penalise changes of recurrent states between time steps"),
    _regularizer("input_noise", _NOISE.format("the inputs"), kind="float"),
    _regularizer("hidden_noise", _NOISE.format("the hidden layers' outputs"), kind="float"),
    _regularizer("output_noise", _NOISE.format("the output"), kind="float"),
    _regularizer(
        "noise", "glob pattern of output names -> noise deviation", default=None, kind="dict"
    ),
    _regularizer("input_dropout", _DROPOUT.format("the inputs"), kind="float"),
    _regularizer("hidden_dropout", _DROPOUT.format("the hidden layers' outputs"), kind="float"),
    _regularizer("output_dropout", _DROPOUT.format("the output"), kind="float"),
    _regularizer(
        "dropout", "glob pattern of output names -> dropout rate", default=None, kind="dict"
    ),
)

#: Every training option, in the order of the documentation.
TABLE = _TRAIN_ARGS + downhill.hypers.OPTIONS + downhill.hypers.DATA_OPTIONS + _OTHERS

_BY_NAME = {entry.name: entry for entry in TABLE}


def option(name):
    """The entry of :data:`TABLE` called ``name``.

    Examples
    --------
    >>> option('batch_size').default, option('batch_size').owner
    (32, 'dataset')
    """
    return _BY_NAME[name]


def described(*names):
    """``{name: (default, doc)}`` of the entries ``names``: a model class's
    ``TRAIN_OPTIONS``.

    Examples
    --------
    >>> described('rng')['rng'][0] is None
    True
    """
    return {name: (_BY_NAME[name].default, _BY_NAME[name].doc) for name in names}


#: The models' entries that every model reads (``Network.TRAIN_OPTIONS``);
#: model classes add their own (the recurrent models ``carry_state``).
MODEL_OPTIONS = ("monitors", "monitor_gradients", "rng", "progress")

#: Options read by :func:`itertrain` and the Dataset wrapping, with defaults:
#: ``{name: (default, doc)}`` of the loop's and the datasets' entries.
LOOP_OPTIONS = {
    entry.name: (entry.default, entry.doc)
    for entry in TABLE
    if entry.owner in ("loop", "dataset") and entry not in downhill.hypers.OPTIONS
}

#: The options that do not change the compiled training step (batch sizes,
#: ``max_updates``, early stopping, the display, checkpoints, ``rng``).
RUNTIME_OPTIONS = frozenset(entry.name for entry in TABLE if not entry.compiled)


def _optimizer_options():
    """{name: default} of every hyper-parameter the downhill optimizers read.

    Those their ``HYPERS`` name (and the deprecated synonyms), and those of a
    user subclass that takes its own as keywords of ``_prepare``.
    """
    result = {}
    for cls in downhill.Optimizer.classes(abstract=True):  # the base's own too
        for entry in cls.hyper_options():
            for name in (entry.name,) + entry.synonyms:
                result.setdefault(name, entry.default)
        for klass in cls.__mro__:
            prepare = klass.__dict__.get("_prepare")
            if prepare is None or prepare is downhill.Optimizer.__dict__["_prepare"]:
                continue
            for name, param in inspect.signature(prepare).parameters.items():
                if param.default is not inspect.Parameter.empty:
                    result.setdefault(name, param.default)
    return result


def train_options(network):
    """Every keyword option ``network.train`` understands, sorted.

    Optimizer hyper-parameters, dataset options, regularizer keywords,
    the loop options, and the network's ``TRAIN_OPTIONS``.

    Examples
    --------
    >>> import theanets
    >>> names = train_options(theanets.Regressor([3, 4, 2]))
    >>> all(n in names for n in ('learning_rate', 'hidden_l1', 'batch_size'))
    True
    """
    names = {name for entry in TABLE if entry.owner != "model" for name in _names(entry)}
    names |= set(_optimizer_options())
    names |= set(regularizers.option_names())
    names |= set(getattr(network, "TRAIN_OPTIONS", {}))
    return sorted(names)


def _names(entry):
    return (entry.name,) + entry.synonyms


def check_options(network, kwargs, extra=None):
    """Warn (UnknownOptionWarning) about each keyword that nothing reads.

    Known are :func:`train_options` and ``extra`` (the ``TRAIN_OPTIONS`` of
    the trainer object in use).
    """
    known = set(train_options(network)) | set(extra or ())
    for name in kwargs:
        if name in known or regularizers.is_option(name):
            continue
        close = difflib.get_close_matches(str(name), sorted(known), n=3)
        hint = "; perhaps you meant {}".format(" or ".join(repr(c) for c in close)) if close else ""
        warnings.warn(
            "{}.train: unknown option {!r} is ignored{} (see help({}.train) for the "
            "options)".format(type(network).__name__, name, hint, type(network).__name__),
            UnknownOptionWarning,
            stacklevel=util.outside_stacklevel(),
        )


def check_values(network, kwargs, save_every=0):
    """Check the values of the training options that are used before training
    starts (and would otherwise fail with a message from deep inside).

    ``rng`` (None, an int seed in numpy's range or a RandomState; it seeds
    the mini-batch shuffling), the dataset options (``batch_size``,
    ``iteration_size``, ``train_batches``, ``valid_batches``, ``axis``),
    ``regularizers`` (see
    :func:`theanets.regularizers.check_regularizers`) and ``save_every`` (a
    number >= 0: an int counts iterations, a float minutes; the original
    saved after every iteration for a negative value).

    Raises
    ------
    theanets.util.ConfigurationError
        Naming the option, the value and what is allowed.

    Examples
    --------
    >>> import theanets
    >>> check_values(theanets.Regressor([3, 2]), dict(rng=2 ** 40))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    theanets.util.ConfigurationError: Regressor.train: rng must be None, an int seed or a ...
    """
    caller = "{}.train".format(type(network).__name__)
    if "rng" in kwargs:
        checks.check_rng("rng", kwargs["rng"], caller)
    # the dataset's own options, checked under the name given (the dataset
    # knows a train_batches or valid_batches only as its iteration_size)
    for name in ("iteration_size", "train_batches", "valid_batches", "batch_size", "axis"):
        if name in kwargs:
            option(name).check(kwargs[name])
    if "regularizers" in kwargs:
        regularizers.check_regularizers(kwargs["regularizers"], caller)
    if not checks.is_number(save_every) or not save_every >= 0 or save_every == float("inf"):
        raise util.ConfigurationError(
            "{}: save_every={!r} is not allowed: expected an int >= 0 (save every that many "
            "iterations) or a float >= 0 (every that many minutes); 0 saves when training "
            "ends".format(caller, save_every)
        )


#: The docstring of ``Network.train`` and ``Network.itertrain`` (see
#: :func:`train_doc`); the entries of the options come from :data:`TABLE`.
_TRAIN_DOC = """{summary}

        Parameters
        ----------
        train : list of arrays, Dataset, callable or iterable of batches
            Training data, arrays in the order of :attr:`variables`
            (``[X, y]``, ``[X, y, w]``, or ``[X]`` for an autoencoder).
            Arrays of another float dtype are cast to floatX once; a
            :class:`numpy.memmap` is read a batch at a time, and a callable
            or an iterable (a generator) gives one batch at a time (see
            :mod:`theanets.streaming`).
        valid : same as train, optional
            Validation data; the training data is used if None.
{signature}
        Other Parameters
        ----------------
{options}        **kwargs
            Options of the model class: its ``TRAIN_OPTIONS`` (name ->
            (default, description)). A name that nothing reads gets an
            :class:`~theanets.trainer.UnknownOptionWarning` saying "perhaps
            you meant ...".

        {returns}

        Notes
        -----
        Validation runs before every ``validate_every``-th update; training
        stops when ``patience`` validations pass without improvement, when
        ``max_updates`` is reached, on KeyboardInterrupt, or when the loss
        becomes NaN or infinite (with a RuntimeWarning). Then the parameters
        with the best validation loss are restored: as in the original,
        updates made after the last validation are dropped.

        Every call starts with fresh optimizer state, as in the original; the
        compiled training functions are reused when the graph and the
        settings are those of an earlier call.

        Examples
        --------
        >>> import numpy as np
        >>> import theanets
        >>> net = theanets.Regressor([3, 4, 2])
        >>> rs = np.random.RandomState(0)
        >>> x, y = rs.randn(20, 3).astype('f'), rs.randn(20, 2).astype('f')
        {example}
        """

#: The options that are named parameters of ``train`` and ``itertrain``.
_SIGNATURE = ("algo", "subalgo", "save_every", "save_progress")


def _entry(name, kind, default, doc):
    """One numpydoc entry of the docstring: ``name : kind`` and its text."""
    text = "{} (default {!r}).".format(doc, default)
    indent = " " * 12
    return "        {} : {}\n{}\n".format(
        name, kind, textwrap.fill(text, 79, initial_indent=indent, subsequent_indent=indent)
    )


def _table_entry(entry):
    return _entry(entry.name, entry.constraint.kind, entry.default, entry.doc)


_TRAIN_DOC_PARTS = dict(
    itertrain=dict(
        summary="Train the network, yielding monitor values after each iteration.",
        returns="""Yields
        ------
        (train_monitors, valid_monitors) : pair of dicts of floats
            After each training iteration: the training monitors (computed
            before that iteration's update) and the latest validation
            monitors.""",
        example=""">>> for train, valid in net.itertrain([x, y], max_updates=3):
        ...     print(sorted(train))
        ['err', 'loss']
        ['err', 'loss']
        ['err', 'loss']""",
    ),
    train=dict(
        summary="Train the network until training stops.",
        returns="""Returns
        -------
        (train_monitors, valid_monitors) : pair of dicts of floats
            Those of the last iteration, or None if there was none.""",
        example=""">>> train, valid = net.train([x, y], learning_rate=1e-3, max_updates=3)
        >>> sorted(valid)
        ['err', 'loss']""",
    ),
)


def train_doc(method, options=None):
    """The docstring of ``Network.<method>`` (``'train'`` or ``'itertrain'``).

    It lists every entry of :data:`TABLE` with its default, except the
    models' own: those of every model (:data:`MODEL_OPTIONS`) and those of
    ``options`` (a model class's ``TRAIN_OPTIONS``) are listed instead.

    Examples
    --------
    >>> doc = train_doc('train', {'carry': (False, 'keep the state')})
    >>> 'learning_rate : float' in doc, 'carry : option' in doc
    (True, True)
    """
    signature = "".join(_table_entry(_BY_NAME[name]) for name in _SIGNATURE)
    listed = "".join(
        _table_entry(entry)
        for entry in TABLE
        if entry.owner != "model" and entry.name not in _SIGNATURE
    )
    for name, (default, text) in dict(described(*MODEL_OPTIONS), **(options or {})).items():
        entry = _BY_NAME.get(name)  # a class may describe an entry its own way
        ours = entry is not None and (entry.default, entry.doc) == (default, text)
        kind = entry.constraint.kind if ours else "option"
        listed += _entry(name, kind, default, text)
    return _TRAIN_DOC.format(signature=signature, options=listed, **_TRAIN_DOC_PARTS[method])
