"""The optimizer base class: compiling, the update loop and early stopping.

An :class:`Optimizer` turns a scalar loss expression into two compiled
functions -- one that evaluates the monitors, one that also updates the
parameters -- and runs them over :class:`~theanets.downhill.Dataset` objects,
stopping when the validation loss stops improving.
"""

import collections
import contextlib
import copy
import logging
import signal
import threading
import warnings

import numpy as np
import pytensor
import pytensor.tensor as TT
from pytensor.compile.sharedvalue import SharedVariable

from .. import _mode, util
from ..checks import check_int
from . import events, hypers, shared_steps
from .util import find_inputs_and_params, log_param, shared_like

__all__ = ["build", "Optimizer"]

_logger = logging.getLogger(__name__)


@contextlib.contextmanager
def _interrupt_after_step():
    """While training: the first Ctrl-C ends the loop after the current step.

    Yields a function telling whether Ctrl-C was pressed. A KeyboardInterrupt
    raised at an arbitrary point could be lost: JAX's garbage-collector
    callback swallowed it in about one run of fifteen, and training went
    on. So the first SIGINT only sets a flag that the loop reads between
    steps (then stops, with the best parameters restored, as before); a
    second one interrupts at once, as Python's default handler does. Left
    alone outside the main thread, or where the program has its own SIGINT
    handler.
    """
    pressed = []

    def handler(signum, frame):
        pressed.append(True)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        _logger.warning("Ctrl-C: stopping after this update (press again to interrupt now)")

    own = (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    )
    if own:
        signal.signal(signal.SIGINT, handler)
    try:
        yield lambda: bool(pressed)
    finally:
        if own and signal.getsignal(signal.SIGINT) is handler:
            signal.signal(signal.SIGINT, signal.default_int_handler)


def build(algo, loss, params=None, inputs=None, updates=(), monitors=(), monitor_gradients=False):
    """Construct an optimizer by name.

    Parameters
    ----------
    algo : str
        Name of the algorithm, any case: ``'sgd'``, ``'nag'``, ``'rprop'``,
        ``'rmsprop'``, ``'adagrad'``, ``'adadelta'``, ``'esgd'``, ``'adam'``,
        or the lower-cased class name of a user subclass of
        :class:`Optimizer`.
    loss : pytensor scalar expression
        The loss to minimize.
    params : list of shared variables, optional
        Parameters to optimize; found by walking the loss graph if omitted.
    inputs : list of symbolic variables, optional
        Inputs of the compiled functions, in the order of the arrays in each
        mini-batch; found by walking the loss graph if omitted.
    updates : sequence of (shared variable, expression) pairs, optional
        Extra updates to apply on every function call (e.g. from the graph).
    monitors : sequence of (name, expression) pairs, optional
        Extra scalar expressions to report along with the loss.
    monitor_gradients : bool, optional
        If True, also report ``'grad(<param name>)'``, the sum of squared
        gradient elements of each parameter.

    Returns
    -------
    Optimizer

    Raises
    ------
    theanets.util.UnknownNameError
        (a KeyError) listing the valid names, if ``algo`` is unknown.

    Examples
    --------
    >>> import numpy as np, pytensor, pytensor.tensor as TT
    >>> from theanets import downhill
    >>> x = pytensor.shared(np.float32([1, 2]), name='x')
    >>> opt = downhill.build('Adam', loss=TT.sqr(x).sum())
    >>> type(opt).__name__
    'Adam'
    """
    return Optimizer.build(
        algo,
        loss,
        params=params,
        inputs=inputs,
        updates=updates,
        monitors=monitors,
        monitor_gradients=monitor_gradients,
    )


def _pairs(value, what):
    """Return ``value`` (a dict or a sequence of pairs) as a list of pairs."""
    if isinstance(value, dict):
        return list(value.items())
    pairs = list(value)
    for pair in pairs:
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
            raise util.ConfigurationError(
                "{} must be a dict or a sequence of (name, expression) pairs; "
                "got an element {!r}".format(what, pair)
            )
    return [tuple(pair) for pair in pairs]


def _like(var, value):
    """Cast an update ``value`` to the dtype of ``var`` if they differ.

    Hyper-parameters are floatX; with ``floatX=float64`` and float32
    parameters the arithmetic is float64, and updates must keep the type.
    """
    dtype = getattr(var, "dtype", None)  # random generators have none
    if dtype is not None and getattr(value, "dtype", None) != dtype:
        value = TT.cast(value, dtype)
    return value


class Optimizer(metaclass=util.Registrar):
    """Base class of the gradient-based optimizers.

    Subclasses implement :meth:`_get_updates_for` (and, for their own
    hyper-parameters, :meth:`_prepare`); momentum, gradient clipping,
    compilation and the training loop live here. The loop tells its
    listeners what happens (:mod:`theanets.downhill.events`); the first is
    the optimizer's own early stopping.

    Parameters
    ----------
    loss : pytensor scalar expression
        The loss to minimize.
    params : list of shared variables, optional
        Parameters to optimize. Default: every shared variable the loss
        depends on.
    inputs : list of symbolic variables, optional
        Inputs of the compiled functions, in mini-batch order. Default: every
        free (non-shared, non-constant) variable of the loss graph.
    updates : sequence of (shared variable, expression) pairs, optional
        Extra updates applied on every call of both compiled functions.
    monitors : sequence of (name, expression) pairs, optional
        Extra expressions reported after ``'loss'``.
    monitor_gradients : bool, optional
        Also report ``'grad(<param name>)'`` (sum of squared gradient) for
        each parameter; unnamed parameters are called ``unnamed<k>``.

    Attributes
    ----------
    early_stopping : theanets.downhill.events.EarlyStopping
        Keeps the parameters of the best validation and stops the loop when
        patience elapses; set from ``patience`` and ``min_improvement`` by
        every :meth:`iterate`, reset by :meth:`reset_early_stopping`.

    Notes
    -----
    Hyper-parameters are keyword arguments of :meth:`iterate`,
    :meth:`minimize` and :meth:`get_updates`; unknown ones are ignored.
    Each class names those it reads in ``HYPERS`` (:meth:`hyper_options`);
    their defaults and constraints are the entries of
    :data:`theanets.downhill.hypers.OPTIONS`. Common to all algorithms:
    ``learning_rate``, ``momentum``, ``nesterov``, ``patience``,
    ``validate_every``, ``min_improvement``, ``max_gradient_norm``,
    ``max_gradient_elem``.

    Examples
    --------
    >>> import numpy as np, pytensor, pytensor.tensor as TT
    >>> from theanets import downhill
    >>> x = pytensor.shared(np.float32([3, -2]), name='x')
    >>> opt = downhill.build('sgd', loss=TT.sqr(x - 1).sum())
    >>> for train, valid in opt.iterate(learning_rate=0.1, max_updates=3):
    ...     print(round(train['loss'], 3), round(valid['loss'], 3))
    13.0 13.0
    8.32 13.0
    5.325 13.0
    """

    def __init__(
        self, loss, params=None, inputs=None, updates=(), monitors=(), monitor_gradients=False
    ):
        if params is None or inputs is None:
            found_inputs, found_params = find_inputs_and_params(loss)
        self._loss = loss
        self._params = list(found_params if params is None else params)
        self._inputs = list(found_inputs if inputs is None else inputs)
        self._updates = _pairs(updates, "updates")
        self._check_params()

        self._monitor_names = ["loss"]
        self._monitor_exprs = [loss]
        for name, expr in _pairs(monitors, "monitors"):
            self._monitor_names.append(name)
            self._monitor_exprs.append(expr)
        if monitor_gradients:
            unnamed = 0
            grads = TT.grad(loss, self._params)
            for param, grad in zip(self._params, grads, strict=True):
                name = param.name
                if not name:
                    name = "unnamed{}".format(unnamed)
                    unnamed += 1
                self._monitor_names.append("grad({})".format(name))
                self._monitor_exprs.append((grad * grad).sum())

        self._update_count = 0
        self.early_stopping = events.EarlyStopping(self._params)
        self.f_eval = self.f_step = None
        self._compiled_for = None
        self._initial_state = []
        self._hypers = {}

    def _check_params(self):
        if not self._params:
            raise util.ConfigurationError(
                "{}: the loss depends on no shared variables, so there are "
                "no parameters to optimize".format(type(self).__name__)
            )
        for param in self._params:
            if not isinstance(param, SharedVariable):
                raise util.ConfigurationError(
                    "{}: parameter {!r} is a {}; expected a shared variable".format(
                        type(self).__name__, param, type(param).__name__
                    )
                )

    # -- compiling ----------------------------------------------------------

    def _function(self, kind, updates):
        # share_key (set by theanets.trainer.optimizer_for) names the
        # structure of the model trained: a step compiled for an earlier
        # model of that structure is copied with this one's variables.
        share = getattr(self, "share_key", None)
        return _mode.function(
            self._inputs,
            self._monitor_exprs,
            updates=updates,
            name="{}_{}".format(type(self).__name__.lower(), kind),
            allow_input_downcast=True,
            on_unused_input="ignore",
            share=None if share is None else share + (kind, self._hyper_key()),
        )

    def _compile(self, listeners=(), **kwargs):
        """Compile the evaluation and the training-step functions.

        If they were compiled before with the same hyper-parameters, they are
        kept and the optimizer state (accumulators, velocities, Adam's step
        count, ESGD's random generators) is reset to its initial values
        instead, which is what compiling again would give. If an optimizer
        of the same ``share_key`` compiled them, they are copied with this
        optimizer's variables (:mod:`theanets.downhill.shared_steps`).
        Otherwise the ``listeners`` hear ``compile_started`` (and the loop
        tells them ``compile_finished`` after the first update).
        """
        self._prepare(**kwargs)  # checks kwargs first
        for name, var in self._hypers.items():
            var.set_value(np.asarray(getattr(self, name), dtype=var.dtype))
        key = self._hyper_key()
        if self.f_step is not None and key == self._compiled_for:
            self.reset_state()
            return False
        self._hypers = {}
        shared = shared_steps.key_of(self)
        choice = None if shared is None else shared_steps.copy_into(self, shared)
        if choice is not None:
            # copies of the functions an optimizer of this structure compiled
            self._compiled_for = key
            events.notify(listeners, "compile_started", self, choice.describe())
            return True
        updates = list(self._step_updates())
        # detail: the compile mode and why (a model with sparse inputs, say,
        # compiles with Numba), for the display
        choice = _mode.choose(self._inputs, self._monitor_exprs, self._updates + updates)
        events.notify(listeners, "compile_started", self, choice.describe())
        graph_vars = set(id(var) for var, _ in self._updates)
        param_vars = set(id(param) for param in self._params)
        self._initial_state = [
            (var, copy.deepcopy(var.get_value(borrow=True)))
            for var, _ in updates
            if id(var) not in graph_vars and id(var) not in param_vars
        ]
        self.f_eval = self._function("eval", self._updates)
        self.f_step = self._function("step", self._updates + updates)
        self._compiled_for = key
        if shared is not None:
            shared_steps.remember(self, shared, choice)
        return True

    #: Hyper-parameters that steer the loop but are not compiled in.
    _LOOP_PARAMS = tuple(o.attr or o.name for o in hypers.OPTIONS if not o.compiled)

    #: Hyper-parameters that the compiled step reads from shared variables
    #: (see :meth:`_shared_hyper`): a new value needs no new compilation.
    SHARED_HYPERS: tuple[str, ...] = tuple(o.name for o in hypers.OPTIONS if o.shared)

    def _shared_names(self):
        """The names of :attr:`SHARED_HYPERS` that are shared with these settings.

        None with Nesterov momentum: there the learning rate meets the
        constant ``1 + momentum`` and the compiler folds the two into one
        constant, which a shared value would round differently.
        """
        if self.nesterov and self.momentum > 0:
            return ()
        return self.SHARED_HYPERS

    def _shared_hyper(self, name):
        """The value of hyper-parameter ``name`` in the step graph.

        For a name of :meth:`_shared_names`, a shared scalar (floatX) that
        holds the attribute ``name`` set by :meth:`_prepare`, updated on
        every :meth:`iterate`; it holds the same float as a constant would
        (a Python float in a floatX graph is a floatX constant), so results
        are those of a step compiled with the value built in. Otherwise the
        attribute itself, compiled in as a constant.
        """
        if name not in self._shared_names():
            return getattr(self, name)
        var = self._hypers.get(name)
        if var is None:
            var = self._hypers[name] = pytensor.shared(
                np.asarray(getattr(self, name), dtype=pytensor.config.floatX), name=name
            )
        return var

    def _hyper_key(self):
        """The hyper-parameter values (set by :meth:`_prepare`) compiled into the step."""
        return tuple(
            sorted(
                (name, value)
                for name, value in vars(self).items()
                if not name.startswith("_")
                and name not in self._LOOP_PARAMS
                and name not in self._shared_names()
                and isinstance(value, (bool, int, float, str))
            )
        )

    def reset_state(self):
        """Set the optimizer's own state variables back to their initial values.

        These are the accumulators, velocities, step counts and random
        generators that :meth:`get_updates` created for the compiled step;
        the parameters and the graph's own updates are left alone.
        """
        for var, value in self._initial_state:
            var.set_value(copy.deepcopy(value), borrow=True)

    def reset_early_stopping(self):
        """Forget the best validation loss: the current parameters are the best so far."""
        self.early_stopping.reset()

    def get_updates(self, **kwargs):
        """Yield ``(variable, new value)`` update pairs for one step.

        Reads the hyper-parameters from ``kwargs`` (see :meth:`_prepare`),
        then combines each algorithm step with momentum: without momentum
        ``param <- param - step``; with momentum ``mu`` a velocity
        ``'<param>_vel'`` is kept, ``v <- mu * v - step`` (or, with
        ``nesterov=True``, ``v <- mu**2 * v - (1 + mu) * step``) and
        ``param <- param + v``.

        Examples
        --------
        >>> import numpy as np, pytensor, pytensor.tensor as TT
        >>> from theanets import downhill
        >>> x = pytensor.shared(np.float32([1, 2]), name='x')
        >>> opt = downhill.build('sgd', loss=TT.sqr(x).sum())
        >>> [v.name for v, _ in opt.get_updates(momentum=0.9)]
        ['x_vel', 'x']
        """
        self._prepare(**kwargs)
        self._hypers = {}  # this graph's own shared hyper-parameters
        return self._step_updates()

    def _step_updates(self):
        """The update pairs of :meth:`get_updates`, with the hyper-parameters set."""
        for param, grad in self._differentiate():
            for var, step in self._get_updates_for(param, grad):
                if var is not param:
                    yield var, _like(var, step)
                elif self.momentum == 0:
                    yield param, _like(param, param - step)
                else:
                    mu = self.momentum
                    vel_tm1 = shared_like(param, "vel")
                    if self.nesterov:
                        vel_t = mu * mu * vel_tm1 - (1 + mu) * step
                    else:
                        vel_t = mu * vel_tm1 - step
                    yield vel_tm1, _like(vel_tm1, vel_t)
                    yield param, _like(param, param + vel_t)

    def _differentiate(self):
        """Yield ``(param, gradient)`` pairs, clipped as configured.

        ``max_gradient_elem > 0`` clips each element to that magnitude;
        otherwise ``max_gradient_norm > 0`` rescales each parameter's
        gradient to at most that L2 norm.
        """
        grads = TT.grad(self._loss, self._params)
        for param, grad in zip(self._params, grads, strict=True):
            if self.max_gradient_elem > 0:
                limit = self.max_gradient_elem
                grad = TT.clip(grad, -limit, limit)
            elif self.max_gradient_norm > 0:
                norm = TT.sqrt((grad * grad).sum())
                grad = grad * TT.minimum(1, self.max_gradient_norm / norm)
            yield param, grad

    #: The hyper-parameters this class reads, by their names in
    #: :data:`~theanets.downhill.hypers.OPTIONS` (or as
    #: :class:`~theanets.downhill.hypers.Option` records of its own), besides
    #: those its base classes read; :meth:`_prepare` sets each as an attribute.
    HYPERS: tuple[str | hypers.Option, ...] = (
        "learning_rate",
        "momentum",
        "nesterov",
        "patience",
        "validate_every",
        "min_improvement",
        "max_gradient_norm",
        "max_gradient_elem",
    )

    @classmethod
    def hyper_options(cls):
        """The :class:`~theanets.downhill.hypers.Option` of every
        hyper-parameter the class reads: the ``HYPERS`` of the class, then
        those of its bases.

        Examples
        --------
        >>> from theanets import downhill
        >>> [o.name for o in downhill.Adam.hyper_options()][:4]
        ['beta1_halflife', 'beta2_halflife', 'rms_halflife', 'rms_regularizer']
        """
        found = {}
        for klass in cls.__mro__:
            for item in klass.__dict__.get("HYPERS", ()):
                entry = hypers.option(item)
                found.setdefault(entry.name, entry)
        return list(found.values())

    def _prepare(self, **kwargs):
        """Read, check, set and log the hyper-parameters of :meth:`hyper_options`.

        Each value (its table default if not given) is checked against its
        constraint, set as the attribute the table names (converted where it
        says so: a half-life becomes a decay factor) and logged. A subclass
        may still take hyper-parameters of its own as keywords and chain here
        with the remaining ``kwargs``; names nobody knows are ignored.
        """
        values = {}
        for entry in self.hyper_options():
            value = kwargs.get(entry.name, entry.default)
            for old in entry.synonyms:
                if old in kwargs and value == entry.default:
                    warnings.warn(
                        "{} is deprecated; use {}".format(old, entry.name),
                        DeprecationWarning,
                        stacklevel=4,
                    )
                    value = kwargs[old]
            values[entry.name] = value = entry.check(value, values)
            setattr(
                self,
                entry.attr or entry.name,
                value if entry.convert is None else entry.convert(value),
            )
            log_param(entry.name, value)

    def _get_updates_for(self, param, grad):
        """Yield ``(var, value)`` pairs for one parameter.

        For ``var is param`` the value is the *step* (subtracted from the
        parameter, combined with momentum by :meth:`get_updates`); for
        auxiliary variables it is their new value.
        """
        raise NotImplementedError(
            "{} does not implement _get_updates_for".format(type(self).__name__)
        )

    # -- the training loop --------------------------------------------------

    def iterate(self, train=None, valid=None, max_updates=None, listeners=(), **kwargs):
        """Optimize step by step, yielding the monitors after each step.

        Every ``validate_every`` steps (starting before the first) the
        ``valid`` dataset is evaluated; if that validation loss has not
        improved (relatively, by more than ``min_improvement``) for more than
        ``patience`` validations, the loop stops before stepping
        (:attr:`early_stopping`). Each step is one pass of ``iteration_size``
        mini-batches of ``train``.

        When the loop ends -- patience, ``max_updates``, a
        ``KeyboardInterrupt``, divergence or a listener's request, but not
        when the consumer stops iterating nor on an error -- the parameters
        with the best validation loss are restored. If a training or
        validation loss is not finite, the loop stops with a
        ``RuntimeWarning`` and does not yield that step.

        Parameters
        ----------
        train : Dataset or iterable of mini-batches, optional
            Training data; None calls the step function once without inputs.
        valid : Dataset or iterable of mini-batches, optional
            Validation data; defaults to ``train``.
        max_updates : int, optional
            Stop after this many steps (default: no limit).
        listeners : sequence of :class:`~theanets.downhill.events.Listener`, optional
            Told of every event of the loop (compiling, validations,
            updates, the end: see :mod:`theanets.downhill.events`), after
            :attr:`early_stopping`; any of them may end the loop. Empty by
            default: nothing is shown or recorded.
        **kwargs
            Hyper-parameters; unknown names are ignored.

        Yields
        ------
        train_monitors : OrderedDict
            Monitor means over this step's mini-batches (``'loss'`` first),
            computed with the parameters before the update.
        valid_monitors : OrderedDict
            The most recent validation monitors; the same object until the
            next validation.
        """
        max_updates = check_int("max_updates", max_updates, 0, allow_none=True)
        listeners = [self.early_stopping] + events.check_listeners(listeners)
        compiled = self._compile(listeners, **kwargs)
        self.early_stopping.patience = self.patience
        self.early_stopping.min_improvement = self.min_improvement
        if valid is None:
            valid = train
        self._update_count = 0
        with _interrupt_after_step() as interrupted:
            yield from self._loop(train, valid, max_updates, interrupted, listeners, compiled)

    def _loop(self, train, valid, max_updates, interrupted, listeners, compiled):
        """The body of :meth:`iterate`; ``interrupted()`` is true after a Ctrl-C.

        ``compiled``: the functions were compiled for this loop, so the
        listeners hear ``compile_finished`` after the first update.
        """
        validated = None  # the update count at the last validation
        training = validation = None
        reason = stop = None
        try:
            while max_updates is None or self._update_count < max_updates:
                if interrupted():
                    stop = "interrupted"
                if stop is not None:
                    break
                try:
                    if self._update_count % self.validate_every == 0:
                        validated = self._update_count
                        validation = self.evaluate(valid)
                        if self._diverged(validation, "validation"):
                            stop = "diverged"
                            break
                        stop = events.notify(
                            listeners, "validation", self._update_count, validation
                        )
                        if stop is not None:
                            break
                    training = self._step(train)
                except KeyboardInterrupt:
                    stop = "interrupted"
                    break
                if self._diverged(training, "training"):
                    stop = "diverged"
                    break
                self._update_count += 1
                events.log_monitors(type(self).__name__, self._update_count, training)
                if compiled:
                    compiled = False
                    events.notify(listeners, "compile_finished", self)
                stop = events.notify(listeners, "update", self._update_count, training)
                yield training, validation
                stop = events.notify(listeners, "resumed", self._update_count) or stop
            reason = "max_updates" if stop is None else stop
        except GeneratorExit:
            reason = "closed"
            raise
        except BaseException:
            reason = "error"
            raise
        finally:
            if reason == "interrupted":
                _logger.info("interrupted!")
            if reason not in events.ABORTED:
                self._warn_unvalidated(validated)
            events.notify(listeners, "end", reason)

    def _warn_unvalidated(self, validated):
        """Say in the log if restoring the best parameters drops updates that
        were never validated: a warning if that is every update, else a note.

        As in the original, the loop ends by restoring the parameters with
        the best validation loss, so the updates after the last validation
        are dropped; with ``max_updates`` below ``validate_every`` that is
        every update, and the model is left untrained. The numbers stay the
        original's; the log says so.
        """
        if validated is None or self._update_count <= validated:
            return
        # a warning where every update is lost, a note where only the last few are
        untrained = validated == 0
        _logger.log(
            logging.WARNING if untrained else logging.INFO,
            "%s: the last %d of %d updates came after the last validation (at update %d) "
            "and are dropped: the parameters from update %d, the best validated, are "
            "restored%s",
            type(self).__name__,
            self._update_count - validated,
            self._update_count,
            validated,
            self.early_stopping.best_update,
            " (no update was validated: validate_every={} is more than the {} updates made; "
            "lower validate_every to keep them)".format(self.validate_every, self._update_count)
            if untrained
            else "",
        )

    def _diverged(self, monitors, phase):
        """Restore the best parameters, warn and return True if
        ``monitors['loss']`` is not finite; the caller then stops.

        The parameters are restored before warning, so they are good even
        where the warning is raised as an error.
        """
        loss = monitors["loss"]
        if np.isfinite(loss):
            return False
        if phase == "training":
            where = "the training loss of update {} is {}".format(self._update_count + 1, loss)
        else:
            where = "the validation loss after update {} is {}".format(self._update_count, loss)
        stopper = self.early_stopping
        if stopper.best_loss < 1e100:
            best = "the best parameters (from update {}, validation loss {:g})".format(
                stopper.best_update, stopper.best_loss
            )
        else:
            best = "the initial parameters (no finite validation loss was seen)"
        message = "{}: training diverged: {}; stopped and restored {}".format(
            type(self).__name__, where, best
        )
        self.set_params("best")
        warnings.warn(message, RuntimeWarning, stacklevel=3)
        return True

    def _run(self, function, dataset):
        # A diverging model overflows inside the compiled function; that is
        # reported once, by _diverged, not by numpy warnings from each op
        # (which, where warnings are errors, would abort before the best
        # parameters are restored).
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            if dataset is None:
                values = [function()]
            else:
                values = []
                for batch in dataset:
                    values.append(function(*batch))
                    # let this batch go before the next one is read: a batch
                    # read from a file is a fresh copy, and two of them alive
                    # at once double what streaming holds in memory
                    del batch
        means = np.mean(np.asarray(values, dtype="float64"), axis=0)
        return collections.OrderedDict(
            (name, float(value)) for name, value in zip(self._monitor_names, means, strict=True)
        )

    def evaluate(self, dataset):
        """Evaluate the monitors on a dataset without updating parameters.

        Parameters
        ----------
        dataset : Dataset, iterable of mini-batches, or None
            None calls the function once without inputs.

        Returns
        -------
        OrderedDict
            Monitor name -> mean over mini-batches (Python floats).
        """
        if self.f_eval is None:
            self.f_eval = self._function("eval", self._updates)
        return self._run(self.f_eval, dataset)

    def _step(self, dataset):
        """Run one training pass (``iteration_size`` mini-batches)."""
        return self._run(self.f_step, dataset)

    def minimize(self, *args, **kwargs):
        """Run :meth:`iterate` to the end; return its last yielded pair.

        Returns ``(None, None)`` if no step was taken.

        Examples
        --------
        >>> import numpy as np, pytensor, pytensor.tensor as TT
        >>> from theanets import downhill
        >>> x = pytensor.shared(np.float32([3, -2]), name='x')
        >>> opt = downhill.build('sgd', loss=TT.sqr(x - 1).sum())
        >>> train, valid = opt.minimize(learning_rate=0.1, max_updates=100)
        >>> np.round(x.get_value(), 3).tolist()
        [1.0, 1.0]
        """
        train = valid = None
        for train, valid in self.iterate(*args, **kwargs):
            pass
        return train, valid

    def set_params(self, targets=None):
        """Set the parameter values.

        Parameters
        ----------
        targets : list or tuple of arrays, optional
            New values, in parameter order. Anything else (e.g. ``'best'``)
            restores the parameters with the best validation loss so far.
        """
        if not isinstance(targets, (list, tuple)):
            targets = self.early_stopping.best_params
        if len(targets) != len(self._params):
            raise util.ConfigurationError(
                "set_params: got {} values for {} parameters".format(
                    len(targets), len(self._params)
                )
            )
        for param, target in zip(self._params, targets, strict=True):
            param.set_value(target)
