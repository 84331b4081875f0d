"""The events of the training loop, and the listeners that hear them.

:meth:`Optimizer.iterate <theanets.downhill.Optimizer.iterate>` tells each
of its ``listeners`` what happens, in this order::

    compile_started(optimizer, detail)    if the functions are compiled anew
    validation(count, monitors)           every validate_every updates, from 0
    compile_finished(optimizer)           after a compile, before the first update
    update(count, monitors)               after each update, before it is yielded
    resumed(count)                        when the consumer asks for the next one
    ...
    end(reason)                           once, however the loop ends

``count`` is the number of updates made in this loop: before the
validation, after the update. A :class:`Listener` implements the events it
cares about; the others do nothing. ``validation``, ``update`` and
``resumed`` may return a reason (a string) to end the loop: after a
validation, it ends before stepping; after an update, once that update has
been yielded. The reason is handed to ``end``, which gets one of:

- ``'max_updates'``: ``max_updates`` updates were made;
- ``'patience'``: the validation loss stopped improving (:class:`EarlyStopping`);
- ``'interrupted'``: Ctrl-C, or a ``KeyboardInterrupt`` in a step;
- ``'diverged'``: a loss was not finite;
- ``'closed'``: the consumer stopped iterating (the generator was closed);
- ``'error'``: an exception ends the loop (it propagates after ``end``);
- a listener's own reason.

(:class:`Relay`, which ends several loops at once, adds ``'finished'``
where no loop told a reason.) Every end but ``'closed'`` and ``'error'``
(:data:`ABORTED`) is normal: the parameters with the best validation loss
are restored; an aborted loop leaves the parameters as they are.

theanets itself listens with the display
(:class:`theanets.feedback.Progress`), the history
(:class:`theanets.feedback.History`) and the checkpoints
(:class:`theanets.trainer.Checkpointer`); each optimizer hears its own
:class:`EarlyStopping` first.

Examples
--------
A listener that writes down what it hears:

>>> import numpy as np, pytensor, pytensor.tensor as TT
>>> from theanets import downhill
>>> from theanets.downhill import events
>>> class Notes(events.Listener):
...     def __init__(self):
...         self.heard = []
...     def validation(self, count, monitors):
...         self.heard.append(('validation', count))
...     def update(self, count, monitors):
...         self.heard.append(('update', count))
...     def end(self, reason):
...         self.heard.append(('end', reason))
>>> x = pytensor.shared(np.float32([3, -2]), name='x')
>>> opt = downhill.build('sgd', loss=TT.sqr(x - 1).sum())
>>> notes = Notes()
>>> _ = opt.minimize(learning_rate=0.1, max_updates=3, validate_every=2,
...                  listeners=[notes])
>>> for event, value in notes.heard:
...     print(event, value)
validation 0
update 1
update 2
validation 2
update 3
end max_updates
"""

import logging

from .. import util

__all__ = [
    "ABORTED",
    "EVENTS",
    "EarlyStopping",
    "Listener",
    "Relay",
    "check_listeners",
    "improves",
    "notify",
]

_logger = logging.getLogger(__name__)

#: The names of the events, in the order they first happen.
EVENTS = ("compile_started", "compile_finished", "validation", "update", "resumed", "end")

#: The reasons of an end that leaves the parameters as they are.
ABORTED = frozenset(["closed", "error"])


class Listener:
    """Base class of what listens to the training loop: every event does nothing.

    Subclasses override the events they care about (see the module for the
    order). ``validation``, ``update`` and ``resumed`` may return a string,
    the reason to end the loop; None goes on.

    Examples
    --------
    >>> class Losses(Listener):
    ...     def __init__(self):
    ...         self.losses = []
    ...     def update(self, count, monitors):
    ...         self.losses.append(monitors['loss'])
    >>> listener = Losses()
    >>> listener.compile_started(None, 'a reason')  # inherited: nothing
    >>> listener.update(1, {'loss': 0.5})
    >>> listener.losses
    [0.5]
    """

    def compile_started(self, optimizer, detail=""):
        """The optimizer starts compiling its functions.

        Parameters
        ----------
        optimizer : theanets.downhill.Optimizer
            The optimizer that compiles.
        detail : str
            A short reason for the wait (how or why it compiles), or ``''``.
        """

    def compile_finished(self, optimizer):
        """The compiled functions have run: the first update after a compile is
        done (PyTensor's default linker compiles at the first call). Not called
        if the loop ends before that update."""

    def validation(self, count, monitors):
        """The validation data was evaluated after ``count`` updates.

        ``monitors`` is the dict of monitor means (``'loss'`` first), the
        same object that is yielded with each update until the next
        validation. Return a reason to end the loop before the next step.
        """

    def update(self, count, monitors):
        """Update number ``count`` (from 1) was made; ``monitors`` are its
        training monitors, about to be yielded. Return a reason to end the loop
        once the consumer asks for the next update."""

    def resumed(self, count):
        """The consumer took update ``count`` and asks for the next one (the
        generator resumed). Not called after the last update the consumer
        takes if it stops iterating. Return a reason to end the loop."""

    def end(self, reason):
        """The loop ended, for ``reason`` (see the module)."""


def check_listeners(listeners):
    """Return ``listeners`` as a list, checked: each has every event method.

    Raises
    ------
    theanets.util.ConfigurationError
        For something that is not a sequence of listeners.

    Examples
    --------
    >>> check_listeners([Listener()])  # doctest: +ELLIPSIS
    [<theanets.downhill.events.Listener object at ...>]
    >>> check_listeners(Listener())
    Traceback (most recent call last):
    ...
    theanets.util.ConfigurationError: listeners must be a list of Listener objects, not a Listener
    """
    if isinstance(listeners, (str, bytes, dict)) or not hasattr(listeners, "__iter__"):
        raise util.ConfigurationError(
            "listeners must be a list of Listener objects, not a {}".format(
                type(listeners).__name__
            )
        )
    listeners = list(listeners)
    for listener in listeners:
        missing = [name for name in EVENTS if not callable(getattr(listener, name, None))]
        if missing:
            raise util.ConfigurationError(
                "listeners: {!r} has no method {} (subclass "
                "theanets.downhill.events.Listener)".format(listener, ", ".join(missing))
            )
    return listeners


def improves(loss, best, min_improvement=0):
    """Whether validation ``loss`` improves on ``best``: ``best - loss > best *
    min_improvement`` (with 0, any decrease). What :class:`EarlyStopping`
    keeps, and the display marks.

    Examples
    --------
    >>> improves(0.9, 1.0), improves(0.9, 1.0, 0.2), improves(float('nan'), 1.0)
    (True, False, False)
    """
    return best - loss > best * min_improvement


def notify(listeners, event, *args):
    """Tell every listener of ``event``; return the first reason to stop, or None.

    Every listener hears the event, also after one has asked to stop. A
    reason that is not a string (e.g. True) is named by the listener's class.

    Examples
    --------
    >>> class Tired(Listener):
    ...     def update(self, count, monitors):
    ...         return True if count >= 3 else None
    >>> notify([Listener(), Tired()], 'update', 2, {'loss': 1.0}) is None
    True
    >>> notify([Listener(), Tired()], 'update', 3, {'loss': 1.0})
    'Tired'
    """
    reason = None
    for listener in listeners:
        said = getattr(listener, event)(*args)
        if said and reason is None:
            reason = said if isinstance(said, str) else type(listener).__name__
    return reason


def log_monitors(label, count, monitors, suffix=""):
    """Log one line of monitor values at INFO, as the loop does for each
    update and validation.

    Examples
    --------
    >>> log_monitors('SGD', 3, {'loss': 0.5, 'err': 0.25})  # 'SGD 3 loss=0.5 err=0.25'
    """
    values = " ".join("{}={:.6g}".format(k, v) for k, v in monitors.items())
    _logger.info("%s %d %s%s", label, count, values, suffix)


class EarlyStopping(Listener):
    """Keeps the parameters of the best validation; stops when it stops improving.

    A validation loss improves on the best one if ``best - loss > best *
    min_improvement`` (with 0, any decrease). When more than ``patience``
    validations in a row have not improved, :meth:`validation` returns
    ``'patience'``. A normal end of the loop restores the parameters of the
    best validation (:data:`ABORTED` ends leave them). The state lasts over
    loops until :meth:`reset`, as the original's did.

    Each :class:`~theanets.downhill.Optimizer` has one,
    :attr:`~theanets.downhill.Optimizer.early_stopping`, set from its
    ``patience`` and ``min_improvement`` by every ``iterate`` and heard
    before the other listeners.

    Parameters
    ----------
    params : list of shared variables
        The parameters to keep and restore.
    patience : float, optional
        Validations without improvement before stopping (default 5; may be
        ``inf``).
    min_improvement : float, optional
        Relative improvement that counts (default 0).

    Attributes
    ----------
    best_loss : float
        The best validation loss (``1e100`` before the first).
    best_update : int
        The update count of the best validation.
    best_params : list of arrays
        The parameter values of the best validation.

    Examples
    --------
    >>> import numpy as np, pytensor
    >>> w = pytensor.shared(np.float32([1.0]), name='w')
    >>> stop = EarlyStopping([w], patience=1)
    >>> stop.validation(0, {'loss': 2.0})
    >>> w.set_value(np.float32([5.0]))
    >>> stop.validation(10, {'loss': 3.0})
    >>> stop.validation(20, {'loss': 2.5})
    'patience'
    >>> stop.end('patience')
    >>> w.get_value().tolist(), stop.best_update
    ([1.0], 0)
    """

    def __init__(self, params, patience=5, min_improvement=0):
        self.params = list(params)
        self.patience = patience
        self.min_improvement = min_improvement
        self.reset()

    def reset(self):
        """Forget the best validation: the current parameters are the best so far."""
        self.best_loss = 1e100
        self.best_update = 0
        self._best_validation = 0
        self._validations = 0
        self.best_params = [p.get_value() for p in self.params]

    def validation(self, count, monitors):
        """Record a validation; return ``'patience'`` if patience has elapsed."""
        self._validations += 1
        loss = monitors["loss"]
        marker = ""
        if improves(loss, self.best_loss, self.min_improvement):
            self.best_loss = loss
            self._best_validation = self._validations
            self.best_update = count
            self.best_params = [p.get_value() for p in self.params]
            marker = " *"
        log_monitors("validation", count, monitors, marker)
        if self._validations - self._best_validation > self.patience:
            _logger.info("patience elapsed!")
            return "patience"
        return None

    def restore(self):
        """Set the parameters to those of the best validation."""
        for param, value in zip(self.params, self.best_params, strict=True):
            param.set_value(value)

    def end(self, reason):
        """Restore the best parameters, unless the loop was aborted."""
        if reason not in ABORTED:
            self.restore()


class Relay(Listener):
    """Several listeners heard as one, over several loops (training stages).

    Every event is passed on to each of ``listeners`` (the first reason to
    stop is returned) except ``end``: a stage's end is kept, and
    :meth:`finish` ends them all once, when the whole training ends.

    Parameters
    ----------
    listeners : sequence of Listener

    Examples
    --------
    >>> class Ends(Listener):
    ...     def end(self, reason):
    ...         print('end', reason)
    >>> relay = Relay([Ends()])
    >>> relay.end('patience')  # the first stage
    >>> relay.end('max_updates')  # the second
    >>> relay.finish()
    end max_updates
    """

    def __init__(self, listeners):
        self.listeners = check_listeners(listeners)
        self.reason = None
        self.finished = False

    def compile_started(self, optimizer, detail=""):
        return notify(self.listeners, "compile_started", optimizer, detail)

    def compile_finished(self, optimizer):
        return notify(self.listeners, "compile_finished", optimizer)

    def validation(self, count, monitors):
        return notify(self.listeners, "validation", count, monitors)

    def update(self, count, monitors):
        return notify(self.listeners, "update", count, monitors)

    def resumed(self, count):
        return notify(self.listeners, "resumed", count)

    def end(self, reason):
        """Keep the reason of a stage's end (for :meth:`finish`)."""
        self.reason = reason

    def finish(self, reason=None):
        """End every listener, once: with ``reason``, else the last stage's
        reason, else ``'finished'`` (no stage told one)."""
        if self.finished:
            return
        self.finished = True
        notify(self.listeners, "end", reason or self.reason or "finished")
