"""Gradients of every recurrent layer against finite differences (float64, tiny cases)."""

import numpy as np
import pytensor
import pytensor.tensor as TT
import pytest
from pytensor.graph.replace import clone_replace

import theanets
from theanets.layers import Layer
from theanets.layers.recurrent import Bidirectional, Recurrent

FORMS = {
    "rnn": dict(form="rnn"),
    "bcrnn": dict(form="bcrnn", num_modules=2),
    "rrnn-matrix": dict(form="rrnn", rate="matrix"),
    "rrnn-vector": dict(form="rrnn", rate="vector"),
    "rrnn-uniform": dict(form="rrnn", rate="uniform"),
    "rrnn-log": dict(form="rrnn", rate="log"),
    "mrnn": dict(form="mrnn"),
    "lstm": dict(form="lstm"),
    "gru": dict(form="gru"),
    "clockwork": dict(form="clockwork", periods=(1, 2)),
    "mut1": dict(form="mut1"),
    "scrn-vector": dict(form="scrn", rate="vector"),
    "scrn-log": dict(form="scrn", rate="log"),
    "bidirectional-gru": dict(form="bidirectional", worker="gru"),
    "backward-rnn": dict(form="rnn", direction="backward"),
}


def test_every_recurrent_form_is_checked():
    forms = {spec["form"] for spec in FORMS.values()}
    registered = {
        key
        for key, cls in Layer._registry.items()
        if cls is not Recurrent and issubclass(cls, (Recurrent, Bidirectional))
    }
    assert registered <= forms


def _layer(spec, size=2):
    np.random.seed(0)  # fixed rates
    net = theanets.recurrent.Regressor([2, dict(spec, size=size, activation="tanh"), 1])
    return net.layers[1]


def _check(cost_expr, inputs, point):
    def cost(*values):
        return clone_replace(cost_expr, dict(zip(inputs, values, strict=True)))

    pytensor.gradient.verify_grad(
        cost, point, rng=np.random.RandomState(3), eps=1e-7, abs_tol=1e-5, rel_tol=1e-4
    )


@pytest.mark.parametrize("key", sorted(FORMS))
def test_gradients_match_finite_differences(key):
    size = 4 if key.startswith("bidirectional") else 2
    with pytensor.config.change_flags(floatX="float64"):
        layer = _layer(FORMS[key], size=size)
        params = layer.params
        x = TT.tensor3("x")
        outputs = layer.connect({"in:out": x})[0]
        out = outputs["hid1:out"]
        assert out.dtype == "float64"
        weights = np.arange(1, size + 1)
        total = (out * weights).sum()
        if "hid1:cell" in outputs:  # the LSTM cell too
            total = total + 0.5 * outputs["hid1:cell"].sum()
        rng = np.random.RandomState(3)
        point = [rng.randn(2, 3, 2)] + [p.get_value() for p in params]
        _check(total, [x] + params, point)


@pytest.mark.parametrize(
    "key",
    ["rnn", "bcrnn", "lstm", "gru", "clockwork", "mut1", "scrn-vector", "rrnn-matrix", "mrnn"],
)
def test_gradients_through_a_given_state(key):
    """Gradients with respect to a carried state (what stateful prediction feeds in)."""
    with pytensor.config.change_flags(floatX="float64"):
        layer = _layer(FORMS[key])
        x = TT.tensor3("x")
        states = {
            k: TT.matrix(k) for k, _, _, dtype in layer.carried_states() if dtype == "float64"
        }
        initial = {k: (lambda usual, v=v: v) for k, v in states.items()}
        if "t_0" in layer.CARRIED:
            counter = TT.constant(np.array([1, 0]), dtype="int64")
            initial["t_0"] = lambda usual: counter
        outputs, _, finals = layer.connect_stateful({"in:out": x}, initial)
        total = (outputs["hid1:out"] * np.arange(1, 3)).sum() + sum(
            0.3 * f.sum() for k, f in finals.items() if k != "t_0"
        )
        rng = np.random.RandomState(4)
        names = sorted(states)
        point = [rng.randn(2, 3, 2)] + [0.5 * rng.randn(2, 2) for _ in names]
        _check(total, [x] + [states[n] for n in names], point)


def test_carried_state_is_a_constant_for_the_gradient():
    """In carried-state training the state fed in does not depend on the parameters."""
    net = theanets.recurrent.Regressor([2, (3, "lstm"), 1])
    x = np.random.RandomState(0).randn(2, 8, 2).astype("float32")
    y = np.zeros((2, 8, 1), "float32")
    feed = theanets.recurrent.stream_batches([x, y], steps=4)
    net.train(feed, algo="sgd", learning_rate=0.01, max_updates=1, carry_state=True)
    # the step's graph held the carried states as shared variables, not parameters
    assert all(not p.name.startswith("carried:") for p in net.params)
