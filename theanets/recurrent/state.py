"""Carried state: the State of a model, and the shared state of carried-state training."""

import itertools

import numpy as np
import pytensor
import pytensor.tensor as TT

from .. import checks, util
from .._compat import ifelse
from ..layers.recurrent import Bidirectional, Recurrent
from .data import StreamBatches

TOKENS = itertools.count(1)


class State(dict):
    """The carried state of a recurrent model after a call: name -> array.

    Names are ``'<layer>.<state>'``: ``h`` the hidden state, ``c`` an LSTM
    cell, ``s`` an SCRN context, ``p`` a leaky pre-activation (each
    ``(batch, size)``), ``t`` a clockwork layer's time counter (``(batch,)``
    integers). It remembers the model that returned it: another model
    refuses it (pass ``dict(state)`` to move values between models on
    purpose).
    """

    def __init__(self, values, owner=None):
        super().__init__(values)
        self.owner = owner

    def __repr__(self):
        return "State({})".format(
            ", ".join("{}: {}".format(k, np.shape(v)) for k, v in sorted(self.items()))
        )


def stateful_layers(model):
    """The model's recurrent layers; ConfigurationError for one that cannot carry state."""
    result = []
    for layer in model.layers:
        if isinstance(layer, Bidirectional):
            raise util.ConfigurationError(
                "{}: a bidirectional layer cannot carry its state from one call to the next: "
                "its backward half reads each sequence from its end, so it needs the whole "
                "sequence in one call (predict without state= / return_state=, and train "
                "without carry_state)".format(layer._context())
            )
        if isinstance(layer, Recurrent):
            layer.check_stateful()
            result.append(layer)
    return result


def connect_all(model, regs, initial_for):
    """Connect the layers like ``build_graph``, recurrent ones from given states.

    ``initial_for(layer)`` gives the ``initial`` dict of
    :meth:`~theanets.layers.recurrent.Recurrent.connect_stateful`. Returns
    ``(outputs, updates, finals)``, finals keyed by state name.
    """
    finals = {}

    def connect(layer, outputs):
        if not isinstance(layer, Recurrent):
            return layer.connect(outputs)
        out, upd, fin = layer.connect_stateful(outputs, initial_for(layer))
        finals.update((layer.state_name(k), v) for k, v in fin.items())
        return out, upd

    outputs, updates = model._connect(regs, connect)
    return outputs, updates, finals


def reset_period(value):
    """The carry_state option as a reset period: 'pass', None (never) or an int."""
    if value is True or (isinstance(value, str) and value.lower() == "epoch"):
        return "pass"
    if isinstance(value, str) and value.lower() == "never":
        return None
    if checks.is_count(value) and value > 0:
        return int(value)
    raise util.ConfigurationError(
        'carry_state must be False, True, "epoch", "never" or a positive number of batches, '
        "not {!r}".format(value)
    )


class Carrier:
    """The shared variables holding carried states while a model trains.

    Each stream of data (training, validation) keeps its own state; the
    shared variables hold the active stream's. An empty (0-row) state means
    "start from the usual initial state".
    """

    def __init__(self, model):
        self.model = model
        self.building = False
        self.shared = {}
        self.saved = {}
        self.active = None
        self.graphs = {}
        for layer in stateful_layers(model):
            for key, name, shape, dtype in layer.carried_states():
                self.shared[name] = pytensor.shared(
                    np.zeros((0,) + tuple(shape), dtype), name="carried:" + name
                )

    def _empty(self):
        return {
            n: np.zeros((0,) + v.get_value(borrow=True).shape[1:], v.dtype)
            for n, v in self.shared.items()
        }

    def reset(self):
        for name, value in self._empty().items():
            self.shared[name].set_value(value)

    def activate(self, label):
        if label == self.active:
            return
        if self.active is not None:
            self.saved[self.active] = {n: v.get_value() for n, v in self.shared.items()}
        for name, value in self.saved.get(label, self._empty()).items():
            self.shared[name].set_value(value)
        self.active = label

    def graph(self, regs):
        key = self.model._hash(regs)
        if key not in self.graphs:

            def initial_for(layer):
                result = {}
                for k, name, _, _ in layer.carried_states():
                    carried = self.shared[name]

                    def start(usual, carried=carried):
                        # the usual initial state until a state of this batch size is carried
                        fits = TT.eq(carried.shape[0], usual.shape[0])
                        return ifelse(fits, carried, carried.type.filter_variable(usual))

                    result[k] = start
                return result

            outputs, updates, finals = connect_all(self.model, regs, initial_for)
            updates = list(updates) + [
                (var, var.type.filter_variable(finals[name])) for name, var in self.shared.items()
            ]
            self.graphs[key] = outputs, updates
        return self.graphs[key]

    def feed(self, source, label, period, kwargs):
        if (
            not callable(source)
            or isinstance(source, (list, tuple, np.ndarray))
            or hasattr(source, "iterate")
        ):
            raise util.DataError(
                "carry_state: the {} data must come in stream order, batch i of every stream "
                "continuing batch i-1: pass theanets.recurrent.stream_batches(...) (or a "
                "callable returning consecutive batches), not {}".format(
                    label, type(source).__name__
                )
            )
        return Feed(self, source, label, period, kwargs)


class Feed:
    """A callable data source that switches and resets the carried state."""

    def __init__(self, carrier, source, label, period, kwargs):
        self.carrier, self.source, self.label = carrier, source, label
        try:
            self.length = len(source)
        except TypeError:
            self.length = (
                kwargs.get("iteration_size", kwargs.get("{}_batches".format(label))) or 100
            )
        self.by_pass = period == "pass" and isinstance(source, StreamBatches)
        self.period = self.length if period == "pass" else period
        self.calls = 0

    def __len__(self):
        return self.length

    def __call__(self):
        self.carrier.activate(self.label)
        if self.by_pass:
            start = self.source.position == 0
        else:
            start = self.period is not None and self.calls % self.period == 0
        if start:
            self.carrier.reset()
        self.calls += 1
        return self.source()
