"""Showing training progress: what a plain ``train`` call tells its user.

With no configuration, ``model.train(...)`` says that it is compiling
(PyTensor's first call of a new function can take a minute), how long that
took, then how training goes:

- where stderr is a terminal, a `tqdm <https://tqdm.github.io>`_ progress bar
  (updates, training loss, validation loss, best validation loss so far);
- elsewhere (a log file, a notebook, a pipe), one line per validation,
  through the ``theanets.feedback`` logger.

A line at the end gives the number of updates, the time and the best
validation loss. ``progress=False`` in ``train``/``itertrain`` silences all
of it, and so does a level on the ``theanets`` logger
(``logging.getLogger('theanets').setLevel(logging.WARNING)``). Lines go
through :func:`theanets.util.say`: printed as ``YYYYMMDD HHMMSS theanets
...`` if the application has not configured logging, logged (and never
printed twice) if it has.

Every update and validation is also recorded in the model's :attr:`history`
(:func:`history`, :class:`History`), a dict of lists that plots in one line
(:func:`theanets.plot.learning_curves`) or turns into a
``pandas.DataFrame``.
"""

import contextlib
import logging
import math
import sys
import time

from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from . import util
from .downhill import events

__all__ = ["History", "Progress", "history"]

#: The logger of the progress lines.
LOGGER = logging.getLogger(__name__)


def history(network):
    """The training history of ``network``, created empty if it has none.

    ``network.history`` is ``{'train': {...}, 'valid': {...}}``: for each,
    ``'update'`` (the number of updates made to the model before the values
    were measured, counted over all its ``train`` calls) and one list per
    monitor (``'loss'``, ``'err'``, ``'acc'``, ...), all of the same length
    (NaN where a monitor was not measured, e.g. one added in a later
    ``train`` call). ``'train'`` gets one row per update, ``'valid'`` one
    per validation.

    Examples
    --------
    >>> import numpy as np
    >>> import theanets
    >>> net = theanets.Regressor([3, 4, 2])
    >>> x = np.random.RandomState(0).randn(20, 3).astype('float32')
    >>> y = x[:, :2] * 2
    >>> _ = net.train([x, y], max_updates=4, validate_every=2, progress=False)
    >>> hist = history(net)
    >>> hist is net.history
    True
    >>> hist['train']['update'], hist['valid']['update']
    ([1, 2, 3, 4], [0, 2])
    >>> sorted(hist['valid'])
    ['err', 'loss', 'update']
    """
    value = getattr(network, "history", None)
    if not (isinstance(value, dict) and set(value) == {"train", "valid"}):
        value = dict(train=dict(update=[]), valid=dict(update=[]))
        network.history = value
    return value


def _append(table, update, monitors):
    """Add a row to a history table, keeping every list the same length."""
    rows = len(table["update"])
    table["update"].append(update)
    for name, value in monitors.items():
        if name == "update":
            continue
        table.setdefault(name, [math.nan] * rows).append(float(value))
    for column in table.values():
        if len(column) == rows:
            column.append(math.nan)


def _values(monitors):
    return " ".join("{}={:.4g}".format(k, v) for k, v in monitors.items())


def _seconds(value):
    if value < 60:
        return "{:.1f} s".format(value)
    return "{:d} min {:02d} s".format(int(value // 60), int(value % 60))


class History(events.Listener):
    """Records every validation and update of a training into the model's
    :func:`history`.

    Made by :func:`theanets.trainer.itertrain` for each ``train`` call
    (whatever ``progress`` says).

    Parameters
    ----------
    network : theanets.graph.Network
        The model whose ``history`` gets the rows.

    Examples
    --------
    >>> import theanets
    >>> net = theanets.Regressor([3, 4, 2])
    >>> recorder = History(net)
    >>> recorder.validation(0, {'loss': 2.0})
    >>> recorder.update(1, {'loss': 1.5})
    >>> net.history['train'], net.history['valid']
    ({'update': [1], 'loss': [1.5]}, {'update': [0], 'loss': [2.0]})
    """

    def __init__(self, network):
        self.history = history(network)

    def _updates(self):
        """The updates recorded so far (over all ``train`` calls)."""
        done = self.history["train"]["update"]
        return done[-1] if done else 0

    def validation(self, count, monitors):
        _append(self.history["valid"], self._updates(), monitors)

    def update(self, count, monitors):
        _append(self.history["train"], self._updates() + 1, monitors)


class Progress(events.Listener):
    """The display of one ``train``/``itertrain`` call (see the module).

    Made by :func:`theanets.trainer.itertrain`, which hands it to the
    optimizers' loops as one of their listeners: it says when an optimizer
    compiles, shows the updates and validations, and sums up at the end.

    Parameters
    ----------
    progress : None or bool
        None or True: show progress (a bar in a terminal, lines elsewhere);
        False: show nothing.
    max_updates : int, optional
        The length of the bar, if known.
    min_improvement : float, optional
        The relative improvement of the validation loss that counts as
        better (as for early stopping, :func:`theanets.downhill.events.improves`).

    Raises
    ------
    theanets.util.ConfigurationError
        If ``progress`` is anything else.

    Examples
    --------
    >>> Progress(progress='yes')
    Traceback (most recent call last):
    ...
    theanets.util.ConfigurationError: train: progress must be None, True or False, not 'yes'
    """

    def __init__(self, progress=None, max_updates=None, min_improvement=0):
        if not (progress is None or isinstance(progress, bool)):
            raise util.ConfigurationError(
                "train: progress must be None, True or False, not {!r}".format(progress)
            )
        self.max_updates = max_updates if isinstance(max_updates, int) else None
        if progress is False or not util.console_enabled(LOGGER):
            self.mode = "off"
        elif getattr(sys.stderr, "isatty", lambda: False)():
            self.mode = "bar"
        else:
            self.mode = "lines"
        self.updates = 0
        # what counts as better, as for early stopping (the marked validation
        # is one whose parameters training keeps)
        self.min_improvement = min_improvement
        self.best = None  # (validation loss, updates before it)
        self.started = time.time()
        self._compiling_since = None
        self._validation = None
        self._marker = None  # a validation not shown yet: its ' *' or ''
        self._bar = None
        self._redirect = contextlib.ExitStack()

    def _say(self, text):
        if self.mode != "off":
            util.say(LOGGER, text)

    def compile_started(self, optimizer, detail=""):
        """Say that the optimizer compiles (and why, if ``detail`` says)."""
        self._close_bar()
        self._compiling_since = time.time()
        self._say(
            "compiling the training function{}...".format(" ({})".format(detail) if detail else "")
        )

    def compile_finished(self, optimizer):
        """Say how long compiling took. PyTensor's default (Numba) linker
        compiles at the first call, so the time runs until the first update
        is done."""
        if self._compiling_since is not None:
            self._say("compiled in {}".format(_seconds(time.time() - self._compiling_since)))
            self._compiling_since = None

    def validation(self, count, monitors):
        """Keep the validation (shown with the next update) and the best loss."""
        self._validation = monitors
        self._marker = ""
        loss = monitors.get("loss", math.nan)
        if self.best is None or events.improves(loss, self.best[0], self.min_improvement):
            self.best = (loss, self.updates)
            self._marker = " *"

    def update(self, count, monitors):
        """Show one update: a line with the validation before it, or the bar."""
        self.updates += 1
        if self.mode == "lines" and self._marker is not None:
            self._say(
                "update {} train {} | valid {} | best {:.4g}{}".format(
                    self.updates,
                    _values(monitors),
                    _values(self._validation),
                    self.best[0],
                    self._marker,
                )
            )
        elif self.mode == "bar":
            self._show_bar(monitors)
        self._marker = None

    def _show_bar(self, training):
        if self._bar is None:
            # Console log handlers the application set up write above the bar.
            self._redirect.enter_context(
                logging_redirect_tqdm(loggers=[logging.root, logging.getLogger("theanets")])
            )
            self._bar = tqdm(
                total=self.max_updates,
                unit="update",
                file=sys.stderr,
                dynamic_ncols=True,
                leave=True,
            )
        if self._bar.total is not None and self._bar.n >= self._bar.total:
            self._bar.total = None  # more updates than max_updates (pretraining stages)
        postfix = "loss={:.4g}".format(training.get("loss", math.nan))
        if self._validation is not None:
            postfix += " valid={:.4g}".format(self._validation.get("loss", math.nan))
        if self.best is not None:
            postfix += " best={:.4g}".format(self.best[0])
        self._bar.set_postfix_str(postfix, refresh=False)
        self._bar.update(1)

    def _close_bar(self):
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        self._redirect.close()

    def end(self, reason):
        """End the display: close the bar and, unless training was aborted
        (an error, or the consumer stopped iterating), say what it achieved."""
        self._close_bar()
        if reason not in events.ABORTED and self.updates:
            best = (
                ""
                if self.best is None
                else "; best validation loss {:.4g} after {} updates".format(*self.best)
            )
            self._say(
                "trained {} updates in {}{}".format(
                    self.updates, _seconds(time.time() - self.started), best
                )
            )
