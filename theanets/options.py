"""Training options: the keywords ``train``/``itertrain`` understand, their
defaults, the warning for a keyword that nothing reads, and the docstring
that lists them all (``help(model.train)``).

Known options come from the downhill optimizers' hyper-parameters, the
regularizers' keywords, the options of the training loop
(:data:`LOOP_OPTIONS`) and the model class's ``TRAIN_OPTIONS``.
"""

import difflib
import inspect
import re
import warnings

from . import checks, downhill, regularizers, util

__all__ = [
    "LOOP_OPTIONS",
    "UnknownOptionWarning",
    "check_options",
    "check_values",
    "train_doc",
    "train_options",
]


class UnknownOptionWarning(UserWarning):
    """A keyword argument of ``train``/``itertrain`` that nothing reads."""


#: Options read by :func:`itertrain` and the Dataset wrapping, with defaults.
LOOP_OPTIONS = {
    "batch_size": (32, "examples per mini-batch"),
    "iteration_size": (None, "mini-batches per training iteration and validation (default: all)"),
    "train_batches": (None, "mini-batches per training iteration (if no iteration_size)"),
    "valid_batches": (None, "mini-batches per validation (if no iteration_size)"),
    "axis": (0, "axis of the examples in the data arrays"),
    "max_updates": (None, "stop after this many updates (default: no limit)"),
    "algorithm": (None, "deprecated synonym of algo"),
    "regularizers": (None, "a list of Regularizer instances, or a dict of options"),
    "devices": (None, "JAX devices (a count or a list) to split each mini-batch over"),
}


def _optimizer_options():
    """{name: default} of every hyper-parameter the downhill optimizers read."""
    result = {}
    for cls in downhill.Optimizer._registry.values():  # the abstract base's too
        for klass in cls.__mro__:
            prepare = klass.__dict__.get("_prepare")
            if prepare is None:
                continue
            for name, param in inspect.signature(prepare).parameters.items():
                if param.default is not inspect.Parameter.empty:
                    result.setdefault(name, param.default)
    result.update(max_gradient_clip=0, gradient_clip=0)  # deprecated synonyms
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
    names = set(LOOP_OPTIONS) | set(_optimizer_options())
    names |= set(regularizers.option_names())
    names |= set(getattr(network, "TRAIN_OPTIONS", {}))
    return sorted(names)


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
    the mini-batch shuffling), ``regularizers`` (see
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
    if "regularizers" in kwargs:
        regularizers.check_regularizers(kwargs["regularizers"], caller)
    if not checks.is_number(save_every) or not save_every >= 0 or save_every == float("inf"):
        raise util.ConfigurationError(
            "{}: save_every={!r} is not allowed: expected an int >= 0 (save every that many "
            "iterations) or a float >= 0 (every that many minutes); 0 saves when training "
            "ends".format(caller, save_every)
        )


#: The docstring of ``Network.train`` and ``Network.itertrain`` (see
#: :func:`train_doc`): every training option, with its default.
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
        algo : str or trainer object
            ``'rmsprop'`` (default), ``'sgd'``, ``'nag'``, ``'rprop'``,
            ``'adagrad'``, ``'adadelta'``, ``'esgd'``, ``'adam'``;
            ``'sample'``, ``'layerwise'`` (or ``'supervised'``),
            ``'pretrain'`` (or ``'unsupervised'``); or an object with an
            ``itertrain(train, valid, **kwargs)`` method (its
            ``TRAIN_OPTIONS``, if any, are its options). ``algorithm`` is a
            deprecated synonym.
        subalgo : str
            The optimizer of each stage of ``'layerwise'``/``'pretrain'``
            (default ``'rmsprop'``).
        save_every : int or float
            An int saves every that many iterations, a float every that many
            minutes; 0 saves only when training ends (default 0; the
            original raised ZeroDivisionError for 0).
        save_progress : str, path or binary file, optional
            Where to save (default None: nowhere); a string is formatted with
            the Unix time (``'model-{{}}.pkl'``).

        Other Parameters
        ----------------
        learning_rate : float
            Step size (default 1e-4; unused by adadelta).
        momentum : float
            Momentum in [0, 1) (default 0).
        nesterov : bool
            Nesterov momentum (default False; ``algo='nag'`` sets it).
        patience : int
            Validations without improvement before stopping (default 5).
        validate_every : int
            Updates between validations (default 10).
        min_improvement : float
            Relative loss decrease that counts as improvement (default 0).
        max_updates : int
            Stop after this many updates (default None: no limit).
        max_gradient_norm : float
            Rescale each parameter's gradient to at most this L2 norm
            (default 0: off).
        max_gradient_elem : float
            Clip each gradient element to this magnitude (default 0: off;
            ``max_gradient_clip``/``gradient_clip`` are deprecated synonyms).
        rms_halflife : float
            Half-life, in updates, of the gradient averages of rmsprop,
            adadelta and esgd (default 14).
        rms_regularizer : float
            The epsilon of adagrad, rmsprop, adadelta, esgd and adam
            (default 1e-8).
        rprop_increase, rprop_decrease : float
            rprop's step-size factors (defaults 1.01 and 0.99).
        rprop_min_step, rprop_max_step : float
            rprop's step-size bounds (defaults 0 and 100).
        beta1_halflife, beta2_halflife : float
            Half-lives of adam's moment averages (defaults 7 and 69).
        batch_size : int
            Examples per mini-batch (default 32).
        devices : int or list of jax devices
            Train data-parallel (default None: one device): each mini-batch
            is split over this many of ``jax.devices()`` (or these devices),
            parameters replicated, gradients summed by XLA; JAX mode only.
            See :mod:`theanets.parallel`.
        iteration_size : int
            Mini-batches per training iteration and per validation
            (default None: all of them); ``train_batches`` and
            ``valid_batches`` set each alone.
        axis : int
            The axis of the examples in the data arrays (default 0).
        weight_l2, weight_l1 : float
            Penalties on the mean squared / absolute weights (default 0;
            synonyms ``weight_decay``, ``weight_sparsity``).
        hidden_l1 : float
            Penalty on the mean absolute hidden activation (default 0;
            synonym ``hidden_sparsity``).
        recurrent_norm, recurrent_state : float
            Penalties on recurrent state changes (default 0).
        contractive : float or dict
            Contractive penalty (default 0); a dict gives its arguments.
        input_dropout, hidden_dropout, output_dropout : float
            Dropout rates (default 0); ``dropout`` is a dict of output glob
            pattern -> rate.
        input_noise, hidden_noise, output_noise : float
            Standard deviations of additive Gaussian noise (default 0);
            ``noise`` is a dict of output glob pattern -> deviation.
        regularizers : list or dict
            Regularizer instances, or a dict of the options above (default
            None). Any registered regularizer name (a user subclass's
            lower-cased class name) is an option too.
        monitors : dict
            Output or parameter glob pattern -> levels to report (default
            None; see :meth:`monitors`).
        monitor_gradients : bool
            Also report each parameter's squared gradient sum (default False).
        rng : int or numpy.random.RandomState
            Seed of mini-batch shuffling, noise and dropout (default: the
            network's ``rng``).
        progress : None, bool
            The training display: None (default) or True, a progress bar in
            a terminal and at most one log line per validation elsewhere;
            False, silent.
{model_options}        **kwargs
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

    It lists every training option with its default; ``options`` (a model
    class's ``TRAIN_OPTIONS``) adds those it does not name already.

    Examples
    --------
    >>> doc = train_doc('train', {'carry': (False, 'keep the state')})
    >>> 'learning_rate : float' in doc, 'carry : option' in doc
    (True, True)
    """
    extra = ""
    for name, (default, text) in sorted((options or {}).items()):
        if re.search(r"\b{}\b".format(re.escape(name)), _TRAIN_DOC):
            continue
        extra += "        {} : option\n            {} (default {!r}).\n".format(name, text, default)
    return _TRAIN_DOC.format(model_options=extra, **_TRAIN_DOC_PARTS[method])
