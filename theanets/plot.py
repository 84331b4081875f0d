"""Learning curves: plots of a model's training history.

This module needs matplotlib (``pip install matplotlib``, or the
``examples`` extra from a clone: ``pip install '.[examples]'``), which
theanets itself does not: it is only imported when asked for (``import
theanets.plot``), never by ``import theanets``.

Examples
--------
>>> import matplotlib
>>> matplotlib.use('Agg')
>>> import numpy as np
>>> import theanets
>>> import theanets.plot
>>> net = theanets.Regressor([3, 4, 2])
>>> x = np.random.RandomState(0).randn(20, 3).astype('float32')
>>> _ = net.train([x, x[:, :2]], max_updates=6, validate_every=2, progress=False)
>>> ax = theanets.plot.learning_curves(net)
>>> [line.get_label() for line in ax.get_lines()]
['train loss', 'valid loss']
>>> ax.get_xlabel()
'updates'
"""

from __future__ import annotations

try:
    import matplotlib.pyplot as plt
except ImportError as error:
    raise ImportError(
        "theanets.plot draws with matplotlib, which is not installed; install it with "
        '"pip install matplotlib"'
    ) from error

from collections.abc import Sequence
from typing import Any

from . import util

__all__ = ["learning_curves"]


def learning_curves(model: Any, monitors: Sequence[str] = ("loss",), ax: Any = None) -> Any:
    """Plot training and validation monitors against the number of updates.

    Parameters
    ----------
    model : theanets.graph.Network or dict
        A trained model (its ``history``, see
        :func:`theanets.feedback.history`), or such a history dict.
    monitors : sequence of str, optional
        The monitors to draw (default ``('loss',)``); each gets a line for
        the training values (one per update) and one for the validations.
    ax : matplotlib Axes, optional
        Where to draw (default: a new figure).

    Returns
    -------
    matplotlib.axes.Axes

    Raises
    ------
    theanets.util.ConfigurationError
        If the model has no history yet, or a monitor was never recorded
        (naming the recorded ones).
    """
    history = model if isinstance(model, dict) else getattr(model, "history", None)
    if not (isinstance(history, dict) and history.get("train", {}).get("update")):
        raise util.ConfigurationError(
            "learning_curves: {} has no training history yet; train it first".format(
                type(model).__name__
            )
        )
    if isinstance(monitors, str):
        monitors = (monitors,)
    known = sorted((set(history["train"]) | set(history["valid"])) - {"update"})
    for name in monitors:
        if name not in known:
            raise util.ConfigurationError(
                "learning_curves: no monitor {!r} was recorded; the recorded monitors are "
                "{}".format(name, ", ".join(known))
            )
    if ax is None:
        _, ax = plt.subplots()
    for name in monitors:
        for phase, style in (
            ("train", dict(lw=1, alpha=0.7)),
            ("valid", dict(lw=2, marker="o", ms=3)),
        ):
            table = history[phase]
            if name in table:
                ax.plot(table["update"], table[name], label="{} {}".format(phase, name), **style)
    ax.set_xlabel("updates")
    ax.set_ylabel(", ".join(monitors))
    ax.legend()
    return ax
