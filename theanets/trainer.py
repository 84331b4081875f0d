"""Trainers: the ways a network can be trained, and the training loop around them.

:func:`itertrain` (what ``Network.train`` and ``Network.itertrain`` call)
picks a trainer from ``algo``: a downhill optimizer name gives a
:class:`DownhillTrainer`; ``'sample'`` a :class:`SampleTrainer`;
``'layerwise'`` a :class:`SupervisedPretrainer`; ``'pretrain'`` an
:class:`UnsupervisedPretrainer`. It checks the options and the data, wraps the
data into :class:`~theanets.downhill.Dataset` objects and hands the
optimizers' loops their listeners (:mod:`theanets.downhill.events`): the
display, the history and the checkpoints (:class:`Checkpointer`). Each
trainer has ``itertrain(train, valid, **kwargs)`` yielding
``(train_monitors, valid_monitors)`` pairs.

This module knows the network through its public methods (``loss``,
``monitors``, ``variables``, ``params``, ``save``, ...) and a few private
hooks that :class:`~theanets.graph.Network` keeps for it: the data each
trainer expects (``_expected_inputs``, ``_expected_variables``), the parts
of a cache key (``_hash``, ``_training_variant``), the model's named caches
(``_caches``) and the shadow model of unsupervised pretraining
(``_pretraining_model``). It imports no model module, so the models can
import it.

Compiled training functions are cached on the network: a second ``train``
call with the same graph and settings compiles nothing (see
:func:`optimizer_for`).
"""

import io
import itertools
import numbers
import os
import time
import warnings

import numpy as np

from . import (
    _mode,
    checks,
    downhill,
    feedback,
    layers,
    options,
    parallel,
    regularizers,
    streaming,
    util,
)

__all__ = [
    "Checkpointer",
    "DownhillTrainer",
    "SampleTrainer",
    "SupervisedPretrainer",
    "UnsupervisedPretrainer",
    "algo_names",
    "check_algo",
    "itertrain",
    "make_trainer",
    "optimizer_for",
]

#: Training algorithms of theanets itself, besides the downhill optimizers.
OWN_ALGOS = ("sample", "layerwise", "pretrain")


def algo_names(own=True):
    """Names of the training algorithms: the downhill optimizers (and, if
    ``own``, theanets' own ``sample``, ``layerwise`` and ``pretrain``).

    Examples
    --------
    >>> algo_names(own=False)
    ['adadelta', 'adagrad', 'adam', 'esgd', 'nag', 'rmsprop', 'rprop', 'sgd']
    >>> algo_names()[-3:]
    ['sample', 'layerwise', 'pretrain']
    """
    names = downhill.Optimizer.names()
    return names + list(OWN_ALGOS) if own else names


def check_algo(name, what="algo"):
    """Return the downhill optimizer ``name``, lower-cased.

    Parameters
    ----------
    name : str
        An optimizer name, any case (``'Adam'``).
    what : str
        ``'algo'`` or ``'subalgo'``: which argument ``name`` came from (the
        valid choices of ``algo`` include theanets' own algorithms).

    Raises
    ------
    theanets.util.UnknownNameError
        (a KeyError) listing the valid names, before anything is built.
    """
    if isinstance(name, str) and downhill.Optimizer.is_registered(name):
        return name.lower()
    if what == "algo":
        raise util.unknown_name("training algorithm", name, algo_names())
    raise util.unknown_name(
        "{} (an optimizer for each stage)".format(what), name, algo_names(own=False)
    )


def make_trainer(network, algo="rmsprop", subalgo="rmsprop"):
    """The trainer object for ``algo``: a name (any case) or a trainer object.

    Raises
    ------
    theanets.util.UnknownNameError
        For an unknown name (listing the valid ones).
    theanets.util.ConfigurationError
        For something that is neither a name nor has an ``itertrain`` method.
    """
    if isinstance(algo, str):
        name = algo.lower()
        if name == "sample":
            return SampleTrainer(network)
        if name.startswith("layer") or name.startswith("sup"):
            return SupervisedPretrainer(check_algo(subalgo, "subalgo"), network)
        if name.startswith("pre") or name.startswith("unsup"):
            return UnsupervisedPretrainer(check_algo(subalgo, "subalgo"), network)
        return DownhillTrainer(check_algo(algo, "algo"), network)
    if not callable(getattr(algo, "itertrain", None)):
        raise util.ConfigurationError(
            "algo must be an algorithm name ({}) or a trainer object with an itertrain "
            "method, not {!r}".format(", ".join(algo_names()), algo)
        )
    return algo


# ----- the training loop -------------------------------------------------------


def itertrain(
    network,
    train,
    valid=None,
    algo="rmsprop",
    subalgo="rmsprop",
    save_every=0,
    save_progress=None,
    **kwargs,
):
    """Train ``network``, yielding ``(train_monitors, valid_monitors)`` pairs.

    The engine of :meth:`theanets.graph.Network.itertrain`, which documents
    the arguments. Picks the trainer (:func:`make_trainer`), checks the
    options (unknown names get an :class:`UnknownOptionWarning`) and the
    data, wraps the data into :class:`~theanets.downhill.Dataset` objects
    and runs the trainer, its loops heard by the display
    (:class:`theanets.feedback.Progress`), the history
    (:class:`theanets.feedback.History`) and the checkpoints
    (:class:`Checkpointer`), ended once for all stages
    (:class:`theanets.downhill.events.Relay`).
    """
    if "rng" not in kwargs:
        kwargs["rng"] = getattr(network, "_rng", 13)
    if "algorithm" in kwargs:
        warnings.warn(
            "please use algo= instead of algorithm=",
            DeprecationWarning,
            stacklevel=util.outside_stacklevel(),
        )
        algo = kwargs.pop("algorithm")
        if isinstance(algo, (list, tuple)):
            algo = algo[0]
    trainer = make_trainer(network, algo, subalgo)
    extra = getattr(trainer, "TRAIN_OPTIONS", None)
    # A user's trainer object without TRAIN_OPTIONS may read anything.
    if extra is not None or isinstance(trainer, _OWN_TRAINERS):
        options.check_options(network, kwargs, extra)

    # The unsupervised pretrainer trains an autoencoder: inputs only.
    pretrain = isinstance(trainer, UnsupervisedPretrainer)
    expected = network._expected_inputs() if pretrain else network._expected_variables()

    def wrap(data, label):
        if data is None or isinstance(data, downhill.Dataset):
            return data
        caller = "{}.train ({} data{})".format(
            type(network).__name__,
            label,
            ", algo='pretrain' trains on the inputs alone" if pretrain else "",
        )
        if streaming.is_batch_iterable(data):  # a generator, a DataLoader, ...
            data = streaming.IterableBatches(data)
        if callable(data):
            data = CheckedBatches(
                data,
                lambda batch: checks.prepare(
                    caller + ", a batch from {}".format(CheckedBatches.describe(data)),
                    expected,
                    batch,
                ),
            )
        else:
            data = checks.prepare(
                caller, expected, data if isinstance(data, (list, tuple)) else [data]
            )
        size = kwargs.get("iteration_size", kwargs.get("{}_batches".format(label)))
        return downhill.Dataset(
            data,
            name=label,
            batch_size=kwargs.get("batch_size", 32),
            iteration_size=size,
            axis=kwargs.get("axis", 0),
            rng=kwargs["rng"],
        )

    train_ds = wrap(train, "train")
    valid_ds = wrap(valid if valid is not None else train, "valid")

    saver = Checkpointer(network, save_every, save_progress)
    shown = feedback.Progress(
        kwargs.get("progress"),
        kwargs.get("max_updates"),
        kwargs.get("min_improvement", options.option("min_improvement").default),
    )
    # One end for all the stages of a training (layerwise, pretrain); the
    # user's listeners hear the loop after the display, history and saver.
    user = kwargs.pop("listeners", None)
    user = [] if user is None else downhill.events.check_listeners(user)
    relay = downhill.events.Relay([shown, feedback.History(network), saver] + user)
    devices = kwargs.pop("devices", None)
    try:
        with parallel.using(devices) as setting:
            if isinstance(trainer, _LISTENING_TRAINERS):
                steps = trainer.itertrain(train_ds, valid_ds, listeners=[relay], **kwargs)
            else:
                steps = _announce(trainer.itertrain(train_ds, valid_ds, **kwargs), relay)
            for monitors in steps:
                parallel.require_used(setting)
                _mode.keep_numpy_values(network.params)
                yield monitors
    except GeneratorExit:
        relay.finish("closed")
        raise
    except BaseException:
        relay.finish("error")
        raise
    else:
        relay.finish()
    finally:
        _mode.keep_numpy_values(network.params)


def _announce(pairs, listener):
    """Yield the ``(train, valid)`` pairs of a trainer that takes no
    listeners (``algo='sample'``, a user's trainer object), telling
    ``listener`` of each as the optimizers' loop would (a validation when a
    new validation dict comes); it cannot stop such a trainer."""
    count = 0
    last = None
    for training, validation in pairs:
        if validation is not None and validation is not last:
            last = validation
            listener.validation(count, validation)
        count += 1
        listener.update(count, training)
        yield training, validation
        listener.resumed(count)
    listener.end("finished")


class CheckedBatches:
    """A callable dataset whose every batch is checked as arrays given to
    ``train`` are (shapes, dtypes, lengths), before it reaches a compiled
    function: a batch of the wrong width is a :class:`~theanets.util.DataError`
    naming the array, not an error from inside the compiler's program.

    Parameters
    ----------
    source : callable
        Returns one mini-batch: a list of arrays (or one array).
    check : callable
        Checks and casts a list of arrays (:func:`theanets.checks.prepare`).
    """

    def __init__(self, source, check):
        self.source = source
        self.check = check
        self.__name__ = self.describe(source)

    @staticmethod
    def describe(source):
        """How ``source`` is named in messages."""
        return getattr(source, "__name__", type(source).__name__)

    def __call__(self):
        batch = self.source()
        return self.check(list(batch) if isinstance(batch, (list, tuple)) else [batch])

    def __len__(self):
        return len(self.source)  # a TypeError if it has none: Dataset then takes 100


# ----- caching compiled optimizers ---------------------------------------------

#: Options that change how training runs, not what is compiled: the
#: entries of the options table that are not compiled into the step.
_RUNTIME_OPTIONS = options.RUNTIME_OPTIONS

#: How many compiled optimizers a network keeps (the most recently used):
#: the size of its ``optimizers`` cache (``Network.CACHE_SIZES``).
CACHED_OPTIMIZERS = 8


def _freeze(value, refs):
    """A hashable stand-in for an option value; objects count by identity.

    Objects compared by identity are appended to ``refs``, which the cache
    entry keeps alive, so that an id is never reused while it is a key.
    """
    if isinstance(value, (str, bytes, bool, type(None), numbers.Number)):
        return (type(value).__name__, value)
    if isinstance(value, dict):
        return (
            "dict",
            tuple(
                sorted(
                    ((repr(k), _freeze(v, refs)) for k, v in value.items()), key=lambda kv: kv[0]
                )
            ),
        )
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(_freeze(v, refs) for v in value))
    refs.append(value)
    return ("id", id(value))


def optimizer_for(network, algo, kwargs):
    """The downhill optimizer training ``network`` with ``algo`` and ``kwargs``.

    Built (and later compiled) once per graph and settings and cached on the
    network: the key is the algorithm, the identity of the network's layers
    and losses and every option except those that only steer the loop
    (batch sizes, ``max_updates``, ``patience``, ...) and those the
    optimizer keeps in shared variables (its ``SHARED_HYPERS``:
    ``learning_rate``, except for rprop). A cached optimizer
    is returned with its early-stopping state reset; its accumulators are
    reset when it iterates (:meth:`theanets.downhill.Optimizer.iterate`), so
    every training run starts fresh, as with a new optimizer.
    """
    refs = []
    shared = downhill.Optimizer.get_class(algo).SHARED_HYPERS
    options = tuple(
        sorted(
            (k, _freeze(v, refs))
            for k, v in kwargs.items()
            if k not in _RUNTIME_OPTIONS and k not in shared
        )
    )
    # The regularizers are built once, here, and handed to the graph: with
    # their seeds in the key, each call's rng draws its own noise and
    # dropout masks (rng only steers the loop otherwise).
    kwargs = dict(kwargs, regularizers=regularizers.from_kwargs(network, **kwargs))
    structure = network.structure_key(kwargs["regularizers"])
    variant = network._training_variant()
    key = (algo, network._hash(kwargs["regularizers"]), variant, options)
    cache = network._caches["optimizers"]
    entry = cache.pop(key, None)
    if entry is None:
        opt = downhill.build(
            algo,
            loss=network.loss(**kwargs),
            updates=network.updates(**kwargs),
            monitors=network.monitors(**kwargs),
            inputs=network.variables,
            params=network.params,
            monitor_gradients=kwargs.get("monitor_gradients", False),
        )
        # Models of the same structure share the compiled steps (each with
        # its own parameters and optimizer state swapped in), unless an
        # option is an object known only by identity, or the step carries
        # state of this run (carried-state training).
        if variant is None and not refs:
            opt.share_key = ("optimizer", algo, structure, options)
        entry = (opt, refs)
    else:
        entry[0].reset_early_stopping()
    cache.put(key, entry)  # (re)inserted last: the most recently used
    return entry[0]


class DownhillTrainer:
    """Train a network with one of the optimizers of :mod:`theanets.downhill`.

    Every call of :meth:`itertrain` starts with fresh optimizer state
    (accumulators, Adam's moments and step count) and fresh early-stopping
    state, as with a new optimizer; the compiled functions are reused when
    the graph and settings are the same (see :func:`optimizer_for`).

    Parameters
    ----------
    algo : str
        Optimizer name: sgd, nag, rprop, rmsprop, adagrad, adadelta, esgd, adam.
    network : theanets.graph.Network
        The network to train.
    """

    def __init__(self, algo, network):
        self.algo = algo
        self.network = network

    def itertrain(self, train, valid=None, listeners=(), **kwargs):
        """Yield ``(train_monitors, valid_monitors)`` after each iteration;
        ``listeners`` hear the optimizer's loop
        (:meth:`theanets.downhill.Optimizer.iterate`)."""
        opt = optimizer_for(self.network, self.algo, kwargs)
        yield from opt.iterate(train, valid=valid, listeners=listeners, **kwargs)


def _column(batch, index):
    """Array ``index`` of a mini-batch (a bare array is its own column 0)."""
    if isinstance(batch, (tuple, list)):
        return batch[index]
    return batch


class SampleTrainer:
    """Set weights to samples of the training data (``algo='sample'``).

    Weight matrices of the output layer whose columns match the target width
    become unit-norm target rows; the first weight matrix whose rows match
    the input width becomes unit-norm input rows (as columns). Samples are
    drawn by reservoir sampling with ``rng``. Yields once, with loss 0.

    The target is the loss's target array (the input itself for an
    autoencoder), wherever it sits among the training arrays; integer class
    labels are not used as samples. (The original used the last array, so
    weights or labels could be taken for targets.)
    """

    def __init__(self, network):
        self.network = network

    @staticmethod
    def reservoir(xs, n, rng):
        """Draw ``n`` unit-norm samples from the iterable ``xs``.

        Samples of norm zero are skipped. If there are fewer than ``n``
        items, the pool is padded with copies of random items plus Gaussian
        jitter of the pool's standard deviation.
        """
        pool = []
        seen = 0
        for x in xs:
            norm = np.linalg.norm(x)
            if not norm > 0:
                continue
            x = x / norm
            seen += 1
            if len(pool) < n:
                pool.append(x)
                continue
            j = rng.randint(seen)
            if j < n:
                pool[j] = x
        if not pool:
            raise util.DataError("sample trainer: the training data has no non-zero samples")
        count, std = len(pool), np.std(pool, axis=0)
        while len(pool) < n:
            x = pool[rng.randint(count)]
            pool.append(x + std * rng.randn(*x.shape))
        return np.array(pool, dtype=pool[0].dtype)

    def _columns(self):
        """Positions of the input and of the (float) target among the arrays."""
        names = [v.name for v in self.network.variables]
        target = self.network.losses[0].variables[0] if self.network.losses else None
        if target is None or target.dtype.startswith("int") or target.name not in names:
            return 0, None
        return 0, names.index(target.name)

    def itertrain(self, train, valid=None, **kwargs):
        """Set the weights from ``train`` samples; yield ``({'loss': 0}, {'loss': 0})``."""
        rng = kwargs.get("rng")
        if rng is None or isinstance(rng, (int, np.integer)):
            rng = np.random.RandomState(rng)
        icol, ocol = self._columns()
        idim = odim = None
        for batch in train:
            idim = _column(batch, icol).shape[-1]
            if ocol is not None:
                odim = _column(batch, ocol).shape[-1]

        if odim is not None:
            samples = itertools.chain.from_iterable(_column(b, ocol) for b in train)
            for param in self.network.layers[-1].params:
                shape = param.get_value(borrow=True).shape
                if len(shape) == 2 and shape[1] == odim:
                    arr = np.vstack(self.reservoir(samples, shape[0], rng))
                    util.log("setting {}: {}", param.name, shape)
                    param.set_value(
                        (arr / np.sqrt((arr * arr).sum(axis=1))[:, None]).astype(param.dtype)
                    )

        samples = itertools.chain.from_iterable(_column(b, icol) for b in train)
        for param in self.network.params:
            shape = param.get_value(borrow=True).shape
            if len(shape) == 2 and shape[0] == idim:
                arr = np.vstack(self.reservoir(samples, shape[1], rng)).T
                util.log("setting {}: {}", param.name, shape)
                param.set_value((arr / np.sqrt((arr * arr).sum(axis=0))).astype(param.dtype))
                break  # only the encoding weights see input samples
        yield dict(loss=0), dict(loss=0)


class SupervisedPretrainer:
    """Train a network layer by layer, growing it one layer per stage.

    Stage i trains the first i hidden layers plus a temporary output: a new
    ``'lwout'`` layer shaped like the real output (or, for a network with
    tied layers, the tied layers mirroring the first i layers); the last
    stage trains the whole network. Each stage runs a
    :class:`DownhillTrainer` with ``algo`` to completion.

    The temporary layers are made once per network and kept (with their
    initial values) so that a later run reuses each stage's compiled
    functions; every run restarts them from those initial values, which is
    what new layers drawn from the same int ``rng`` would have. (With a
    numpy RandomState as the network's ``rng`` the original drew new values
    each run.)

    Parameters
    ----------
    algo : str
        The optimizer of each stage.
    network : theanets.graph.Network
        The network to train.
    """

    def __init__(self, algo, network):
        self.algo = algo
        self.network = network

    def _new_tail(self, original, i, tied):
        """New temporary output layer(s) of stage ``i``."""
        net = self.network
        if tied:
            tail = []
            for j in range(i):
                source = tail[-1] if tail else original[i]
                tail.append(
                    layers.Layer.build(
                        "tied",
                        partner=original[i - j].name,
                        inputs=source.output_name,
                        rng=getattr(net, "_rng", 13),
                    )
                )
            return tail
        out = original[-1]
        return [
            layers.Layer.build(
                "feedforward",
                name="lwout",
                inputs=original[i].output_name,
                size=out.output_size,
                activation=out.kwargs.get("activation", "relu"),
                rng=getattr(net, "_rng", 13),
            )
        ]

    def _stage_layers(self, original, i, tied, last):
        """Put the layers of stage ``i`` in place and bind them."""
        net = self.network
        if last:
            net.layers = original
            for layer in net.layers:
                layer.bind(net, initialize=False)
            return
        key = (i, tied, tuple(id(layer) for layer in original))
        entry = net._caches["layerwise"].get(key)
        tail = entry[0] if entry is not None else self._new_tail(original, i, tied)
        net.layers = original[: i + 1] + tail
        for layer in net.layers:
            layer.bind(net, initialize=entry is None and any(layer is t for t in tail))
        params = [param for layer in tail for param in layer.params]
        if entry is None:
            net._caches["layerwise"].put(key, (tail, [p.get_value() for p in params], original))
        else:
            for param, value in zip(params, entry[1], strict=True):
                param.set_value(value)

    def itertrain(self, train, valid=None, listeners=(), **kwargs):
        """Yield the monitors of every stage in turn; ``listeners`` hear each
        stage's loop."""
        net = self.network
        original = list(net.layers)
        output_name = net.losses[0].output_name
        tied = any(isinstance(layer, layers.Tied) for layer in original)
        stages = 1 + len(original) // 2 if tied else len(original) - 1
        try:
            for i in range(1, stages):
                self._stage_layers(original, i, tied, last=i == stages - 1)
                net.losses[0].output_name = net.layers[-1].output_name
                util.log(
                    "layerwise stage {}/{}: {}",
                    i,
                    stages - 1,
                    " -> ".join(layer.name for layer in net.layers),
                )
                yield from DownhillTrainer(self.algo, net).itertrain(
                    train, valid, listeners=listeners, **kwargs
                )
        finally:
            net.layers = original
            net.losses[0].output_name = output_name


class UnsupervisedPretrainer:
    """Pretrain a network's hidden layers as a tied autoencoder (``algo='pretrain'``).

    A shadow autoencoder (the network's ``_pretraining_model``, a
    :class:`theanets.Autoencoder` for the feedforward models) is built from
    the network's layers (all but the output), mirrored with tied layers
    (the last one linear). It is trained layer by layer on the inputs alone
    (training data ``[X]``), then its parameters are copied into the
    network's layers of the same names. The shadow is kept on the network, so
    a later run reuses its compiled functions; each run restarts it from its
    initial parameters.

    Parameters
    ----------
    algo : str
        The optimizer of each stage.
    network : theanets.graph.Network
        The network to pretrain.
    """

    def __init__(self, algo, network):
        self.algo = algo
        self.network = network

    def _shadow(self):
        net = self.network
        specs = [layer.to_spec() for layer in net.layers[:-1]]
        if len(specs) < 2:
            raise util.ConfigurationError(
                "pretrain needs at least one hidden layer; the network has {}".format(
                    [layer.name for layer in net.layers]
                )
            )
        for spec in specs[::-1][:-2]:
            specs.append(dict(form="tied", partner=spec["name"], activation=spec["activation"]))
        specs.append(dict(form="tied", partner=specs[1]["name"], activation="linear"))
        key = (tuple(id(layer) for layer in net.layers), repr(specs))
        cache = net._caches["pretraining"]
        entry = cache.get(key)
        if entry is None:
            util.log("pretraining a shadow autoencoder")
            shadow = net._pretraining_model(specs)
            cache.put(key, (shadow, [p.get_value() for p in shadow.params], list(net.layers)))
            return shadow
        shadow, initial, _ = entry
        util.log("pretraining the shadow autoencoder again")
        for param, value in zip(shadow.params, initial, strict=True):
            param.set_value(value)
        return shadow

    def itertrain(self, train, valid=None, listeners=(), **kwargs):
        """Yield the monitors of the shadow autoencoder's training;
        ``listeners`` hear each stage's loop."""
        net = self.network
        names = set(layer.name for layer in net.layers[:-1])
        shadow = self._shadow()
        yield from SupervisedPretrainer(self.algo, shadow).itertrain(
            train, valid, listeners=listeners, **kwargs
        )
        # longest names first: a layer named 'enc.1' is not layer 'enc'
        by_length = sorted(names, key=len, reverse=True)
        for param in shadow.params:
            layer = next((n for n in by_length if param.name.startswith(n + ".")), None)
            if layer is not None:
                util.log("copying pretrained parameter {}", param.name)
                net.find(layer, param.name[len(layer) + 1 :]).set_value(param.get_value())


#: The trainers of this module, whose options :mod:`theanets.options` knows.
_OWN_TRAINERS = (DownhillTrainer, SampleTrainer, SupervisedPretrainer, UnsupervisedPretrainer)

#: The trainers that hand ``listeners`` to the optimizers' loops.
_LISTENING_TRAINERS = (DownhillTrainer, SupervisedPretrainer, UnsupervisedPretrainer)


class Checkpointer(downhill.events.Listener):
    """Saves a network during training, as ``save_every``/``save_progress`` say.

    A listener of the training loop, made by :func:`itertrain` for each
    ``train`` call. With ``save_every > 0``, when the consumer asks for the
    next update (``resumed``) after the ``i``-th (from 0, over all stages)
    and ``i > 0``: an int saves if ``i % save_every == 0``, a float if more
    than ``save_every`` minutes passed since the last save (or the start).
    With ``save_every == 0``, once when training ends (not when it is
    aborted). ``save_progress`` None saves nothing.

    Parameters
    ----------
    network : theanets.graph.Network
        The model to save.
    save_every : int or float
        Iterations (int) or minutes (float) between saves; 0 saves at the end.
    save_progress : str, path, binary file or None
        Where to save; a string is formatted with the Unix time.

    Examples
    --------
    >>> import io, theanets
    >>> handle = io.BytesIO()
    >>> saver = Checkpointer(theanets.Regressor([3, 4, 2]), 2, handle)
    >>> for count in (1, 2, 3):
    ...     saver.resumed(count)
    >>> saver.saved_at, handle.tell() > 0
    (2, True)
    """

    def __init__(self, network, save_every, save_progress):
        self.network = network
        self.every = save_every
        self.target = save_progress
        self.last = time.time()
        self.saved_at = None
        self.taken = 0  # updates taken by the consumer
        if save_progress is not None and not (
            checks.is_number(save_every) and np.isfinite(save_every)
        ):
            raise util.ConfigurationError(
                "save_every must be an int (iterations) or a float (minutes), not {!r}".format(
                    save_every
                )
            )
        # Any integer type counts iterations; any other real number, minutes.
        self.minutes = not isinstance(save_every, numbers.Integral)

    def _save(self, i):
        """Save now. A failed save leaves earlier checkpoints as they were:
        a path is written atomically (by :meth:`Network.save`); for a handle
        the model is serialized in memory first, and a failed write is cut
        off again where the handle allows it."""
        target = self.target
        if isinstance(target, os.PathLike):
            target = os.fspath(target)
        if isinstance(target, str):
            self.network.save(target.format(int(time.time())))
        else:
            self._save_to_handle(target)
        self.last = time.time()
        self.saved_at = i

    def _save_to_handle(self, handle):
        buffer = io.BytesIO()
        name = getattr(handle, "name", None)
        if isinstance(name, str):
            buffer.name = name  # save() picks the format from the name
        self.network.save(buffer)
        start = None
        try:
            if handle.seekable():
                start = handle.tell()
        except (AttributeError, OSError, ValueError):
            start = None
        try:
            handle.write(buffer.getvalue())
            if hasattr(handle, "flush"):
                handle.flush()
        except BaseException:
            if start is not None:
                try:
                    handle.seek(start)
                    handle.truncate()
                except (OSError, ValueError):
                    pass
            raise

    def resumed(self, count):
        """The consumer took an update: save if one is due (see the class)."""
        i = self.taken
        self.taken += 1
        if self.target is None or i == 0 or self.every <= 0:
            return
        if self.minutes:
            due = (time.time() - self.last) / 60 > self.every
        else:
            due = i % self.every == 0
        if due:
            self._save(i)

    def end(self, reason):
        """Training ended: with ``save_every == 0``, save (unless it was aborted)."""
        if reason not in downhill.events.ABORTED and self.target is not None and self.every <= 0:
            self._save(None)
