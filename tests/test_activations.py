"""Tests of theanets.activations: plain names, composition, parametric
activations, user subclasses, errors and gradients."""

import pickle
import types

import numpy as np
import pytensor
import pytensor.tensor as TT
import pytest
from pytensor.gradient import verify_grad

import theanets
from theanets import activations, util

TOL = dict(rtol=1e-5, atol=1e-6)  # float32 values

PROBE = np.array(
    [
        [-10, -1, -0.1, 0, 0.1, 1, 10],
        [-2.5, -0.3, 0.2, 0.7, 1.3, 3.1, -0.05],
        [0.5, 0.4, -0.6, 2.2, -1.7, 0.01, 0.9],
    ],
    dtype="float32",
)


def _std(x):
    return x.std(axis=-1, keepdims=True)


NUMPY = {
    "linear": lambda x: x,
    "logistic": lambda x: 1 / (1 + np.exp(-x)),
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "tanh": np.tanh,
    "softplus": lambda x: np.log1p(np.exp(x)),
    "softmax": lambda x: (
        np.exp(x - x.max(-1, keepdims=True))
        / np.exp(x - x.max(-1, keepdims=True)).sum(-1, keepdims=True)
    ),
    "relu": lambda x: np.maximum(x, 0),
    "rect:max": lambda x: np.maximum(x, 0),
    "rect:min": lambda x: np.minimum(x, 1),
    "rect:minmax": lambda x: np.clip(x, 0, 1),
    "norm:mean": lambda x: x - x.mean(-1, keepdims=True),
    "norm:max": lambda x: x / (np.abs(x).max(-1, keepdims=True) + 1e-8),
    "norm:std": lambda x: x / (_std(x) + 1e-8),
    "norm:z": lambda x: (x - x.mean(-1, keepdims=True)) / (_std(x) + 1e-8),
}


def _layer(size=7, name="l", seed=13):
    """The parts of a layer an activation uses: name, rng and output size."""
    return types.SimpleNamespace(name=name, rng=np.random.RandomState(seed), output_size=size)


def _apply(act, x=PROBE):
    var = TT.matrix("x")
    return pytensor.function([var], act(var))(x)


def test_plain_table_is_complete():
    assert set(activations.COMMON) == set(NUMPY)


@pytest.mark.parametrize("name", sorted(NUMPY))
def test_plain_activation_matches_numpy(name):
    act = activations.build(name, _layer())
    assert act.name == name
    assert act.params == []
    np.testing.assert_allclose(_apply(act), NUMPY[name](PROBE.astype("float64")), **TOL)


@pytest.mark.parametrize("name", ["relu", "tanh", "norm:z"])
def test_plain_activation_in_a_layer(name):
    net = theanets.Regressor([7, dict(size=7, activation=name, diagonal=1, std_b=0)])
    assert net.layers[1].activate.name == name
    np.testing.assert_allclose(net.predict(PROBE), NUMPY[name](PROBE.astype("float64")), **TOL)


def test_activation_instance_is_returned_unchanged():
    act = activations.build("prelu", _layer())
    assert activations.build(act, _layer()) is act


def test_composition_order_and_name():
    act = activations.build("relu+norm:z", _layer())
    assert isinstance(act, activations.Compose)
    assert act.name == "norm:z(relu)"
    expect = NUMPY["norm:z"](NUMPY["relu"](PROBE.astype("float64")))
    np.testing.assert_allclose(_apply(act), expect, **TOL)
    # the other order gives other values
    other = activations.build("norm:z+relu", _layer())
    assert other.name == "relu(norm:z)"
    assert not np.allclose(_apply(other), expect)


def test_three_part_composition():
    act = activations.build("linear+tanh+rect:minmax", _layer())
    assert act.name == "rect:minmax(tanh(linear))"
    np.testing.assert_allclose(_apply(act), np.clip(np.tanh(PROBE), 0, 1), **TOL)


def test_composition_params_outer_then_inner():
    act = activations.build("prelu+lgrelu", _layer(name="h"))
    assert act.name == "lgrelu(prelu)"
    assert [p.name for p in act.params] == ["h.gain", "h.leak", "h.leak"]
    assert act.params[2] is act.inner.leak


def _small_positive(rng, n):
    return 0.1 * np.abs(rng.randn(n))


def test_prelu_params_and_formula():
    layer = _layer()
    act = activations.build("prelu", layer)
    assert isinstance(act, activations.Prelu)
    assert [p.name for p in act.params] == ["l.leak"]
    leak = act.leak.get_value()
    assert leak.shape == (7,) and leak.dtype == np.float32
    np.testing.assert_allclose(leak, _small_positive(np.random.RandomState(13), 7), rtol=1e-6)
    x = PROBE.astype("float64")
    np.testing.assert_allclose(
        _apply(act), np.maximum(x, 0) + np.exp(leak) * np.minimum(x, 0), **TOL
    )
    assert type(activations.build("leaky-relu", _layer())) is activations.Prelu


def test_lgrelu_params_and_formula():
    act = activations.build("lgrelu", _layer())
    assert [p.name for p in act.params] == ["l.gain", "l.leak"]
    ref = np.random.RandomState(13)
    gain, leak = _small_positive(ref, 7), _small_positive(ref, 7)
    np.testing.assert_allclose(act.gain.get_value(), gain, rtol=1e-6)
    np.testing.assert_allclose(act.leak.get_value(), leak, rtol=1e-6)
    x = PROBE.astype("float64")
    expect = np.exp(gain) * np.maximum(x, 0) + np.exp(leak) * np.minimum(x, 0)
    np.testing.assert_allclose(_apply(act), expect, **TOL)
    assert type(activations.build("leaky-gain-relu", _layer())) is activations.LGrelu


def test_elu_params_and_formula():
    act = activations.build("elu", _layer())
    assert [p.name for p in act.params] == ["l.gain"]
    gain = act.gain.get_value()
    np.testing.assert_allclose(gain, _small_positive(np.random.RandomState(13), 7), rtol=1e-6)
    x = PROBE.astype("float64")
    expect = np.where(x >= 0, x, np.exp(gain) * (np.exp(x) - 1))
    np.testing.assert_allclose(_apply(act), expect, **TOL)


def test_maxout_params_and_formula():
    act = activations.build("maxout:3", _layer())
    assert isinstance(act, activations.Maxout) and act.pieces == 3
    assert [p.name for p in act.params] == ["l.slope", "l.intercept"]
    ref = np.random.RandomState(13)
    slope, intercept = ref.randn(7, 3), ref.randn(7, 3)
    np.testing.assert_allclose(act.slope.get_value(), slope, rtol=1e-6)
    np.testing.assert_allclose(act.intercept.get_value(), intercept, rtol=1e-6)
    x = PROBE.astype("float64")
    expect = (x[..., None] * slope + intercept).max(axis=-1)
    np.testing.assert_allclose(_apply(act), expect, rtol=1e-5, atol=1e-5)


def test_parametric_activation_params_in_network_params():
    net = theanets.Regressor([7, (8, "lgrelu"), (5, "maxout:2")])
    assert [p.name for p in net.params] == [
        "hid1.w",
        "hid1.b",
        "hid1.gain",
        "hid1.leak",
        "out.w",
        "out.b",
        "out.slope",
        "out.intercept",
    ]
    assert net.layers[2].activate.slope.get_value().shape == (5, 2)
    with pytest.raises(KeyError, match="has no parameter 'slope'"):
        net.find("out", "slope")  # activation parameters are not searchable


def test_activation_params_drawn_before_layer_params():
    """The activation's parameters come first from the layer's rng (bind order)."""
    net = theanets.Regressor([3, (4, "prelu"), 2])
    ref = np.random.RandomState(13)
    leak = _small_positive(ref, 4)
    w = ref.randn(3, 4) / np.sqrt(7)
    np.testing.assert_allclose(net.layers[1].activate.leak.get_value(), leak, rtol=1e-6)
    np.testing.assert_allclose(net.find("hid1", "w").get_value(), w, rtol=1e-5)


class PassAboveOne(activations.Activation):
    """A user activation: identity above 1, zero below."""

    def __call__(self, x):
        return x * (x > 1)


class ScaledTanh(activations.Activation):
    """A user activation with a parameter."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.scale = self._add_param("scale", np.full(self.layer.output_size, 2.0))

    def __call__(self, x):
        return self.scale * TT.tanh(x)


def test_user_activation_by_name_in_spec():
    net = theanets.Regressor([7, dict(size=7, activation="passaboveone", diagonal=1, std_b=0)])
    act = net.layers[1].activate
    assert isinstance(act, PassAboveOne) and act.name == "passaboveone"
    assert act.layer is net.layers[1]
    np.testing.assert_allclose(net.predict(PROBE), PROBE * (PROBE > 1), **TOL)


def test_user_activation_with_params_and_composition():
    net = theanets.Regressor([7, dict(size=7, activation="relu+scaledtanh", diagonal=1, std_b=0)])
    assert [p.name for p in net.layers[1].params] == ["out.w", "out.b", "out.scale"]
    np.testing.assert_allclose(net.predict(PROBE), 2 * np.tanh(np.maximum(PROBE, 0)), **TOL)


def test_activations_pickle():
    net = theanets.Regressor([7, (6, "relu+norm:z"), (5, "prelu"), (4, "maxout:2")])
    copy = pickle.loads(pickle.dumps(net))
    assert copy.layers[1].activate.name == "norm:z(relu)"
    np.testing.assert_allclose(copy.predict(PROBE), net.predict(PROBE), **TOL)


# ----- errors -------------------------------------------------------------


def test_unknown_activation():
    with pytest.raises(KeyError) as info:
        theanets.Regressor([3, (4, "rellu"), 2])
    err = info.value
    assert isinstance(err, util.ConfigurationError)
    text = str(err)
    assert text.startswith("layer 'hid1': unknown activation 'rellu'")
    assert "perhaps you meant 'relu'" in text
    for name in ("linear", "norm:z", "prelu", "maxout:<k>", "elu"):
        assert name in text


def test_unknown_part_of_composition():
    with pytest.raises(KeyError, match=r"layer 'hid1': unknown activation 'bogus'"):
        theanets.Regressor([3, (4, "relu+bogus"), 2])


@pytest.mark.parametrize(
    "name", ["maxout", "maxout:", "maxout:x", "maxout:0", "maxout:-2", "maxout:1.5"]
)
def test_bad_maxout(name):
    with pytest.raises(
        util.ConfigurationError, match=r"layer 'hid1': maxout activation must be written"
    ):
        theanets.Regressor([3, (4, name), 2])


def test_maxout_prefix_must_be_exact():
    with pytest.raises(KeyError, match="unknown activation 'maxoutish:2'"):
        activations.build("maxoutish:2", _layer())


@pytest.mark.parametrize("value", [None, 5, ("relu",)])
def test_non_string_activation(value):
    with pytest.raises(
        util.ConfigurationError, match=r"layer 'hid1': activation must be a string or an Activation"
    ):
        theanets.Regressor([3, dict(size=4, activation=value), 2])


def test_base_activation_call_not_implemented():
    act = activations.Activation("activation", _layer())
    with pytest.raises(NotImplementedError, match="Activation must implement"):
        act(TT.matrix())


# ----- gradients (float64) ------------------------------------------------


def _x64():
    rng = np.random.RandomState(5)
    x = rng.uniform(0.2, 2.0, size=(3, 4)) * rng.choice([-1, 1], size=(3, 4))
    return x  # values away from the kinks at 0


@pytest.mark.parametrize(
    "name,attrs",
    [
        ("prelu", ["leak"]),
        ("lgrelu", ["gain", "leak"]),
        ("elu", ["gain"]),
        ("maxout:3", ["slope", "intercept"]),
    ],
)
def test_parametric_gradients(name, attrs):
    act = activations.build(name, _layer(size=4))
    values = [getattr(act, a).get_value().astype("float64") for a in attrs]

    def fn(x, *params):
        for attr, param in zip(attrs, params, strict=True):
            setattr(act, attr, param)
        return act(x)

    verify_grad(fn, [_x64()] + values, rng=np.random.RandomState(1), abs_tol=1e-6, rel_tol=1e-5)


@pytest.mark.parametrize(
    "name", ["logistic", "tanh", "softplus", "softmax", "norm:z", "norm:std", "relu+norm:mean"]
)
def test_plain_gradients(name):
    act = activations.build(name, _layer(size=4))
    verify_grad(act, [_x64()], rng=np.random.RandomState(2), abs_tol=1e-6, rel_tol=1e-5)


# ----- the contract every registered activation meets ------------------------

#: The family's abstract base: registered (for now) but not usable by name.
ABSTRACT_ACTIVATIONS = {activations.Activation}

#: One case per concrete activation class: the activation name that makes it.
ACTIVATION_CASES = {
    "compose": "prelu+tanh",
    "prelu": "prelu",
    "lgrelu": "lgrelu",
    "elu": "elu",
    "maxout": "maxout:3",
}


def _concrete_activations():
    return sorted(
        {
            cls
            for cls in activations.Activation._registry.values()
            if cls.__module__.startswith("theanets.") and cls not in ABSTRACT_ACTIVATIONS
        },
        key=lambda cls: cls.__name__,
    )


def check_activation(cls, name):
    """Use the activation in a layer; check outputs, parameters, gradients, pickle."""
    net = theanets.Regressor([7, dict(size=5, activation=name), 3])
    layer = net.layers[1]
    act = layer.activate
    assert type(act) is cls
    assert layer.to_spec()["activation"] == name
    outputs = net.feed_forward(PROBE)
    assert outputs["hid1:out"].shape == (3, 5)
    assert np.all(np.isfinite(outputs["hid1:out"]))
    # parameters are named for the layer, follow the layer's own, and are trained
    assert act.params, "{} has no parameters".format(cls.__name__)
    assert all(p.name.startswith("hid1.") for p in act.params)
    assert layer.params[-len(act.params) :] == list(act.params)
    assert all(any(p is q for q in net.params) for p in act.params)
    y = np.random.RandomState(1).randn(3, 3).astype("float32")
    grads = pytensor.function(net.variables, TT.grad(net.loss(), list(act.params)))(PROBE, y)
    assert all(np.all(np.isfinite(g)) for g in grads)
    assert any(np.any(g != 0) for g in grads), "no gradient reaches {}".format(cls.__name__)
    # a pickled model computes the same
    copy = pickle.loads(pickle.dumps(net, -1))
    assert type(copy.layers[1].activate) is cls
    np.testing.assert_allclose(copy.predict(PROBE), net.predict(PROBE), **TOL)


@pytest.mark.parametrize("cls", _concrete_activations(), ids=lambda cls: cls.__name__)
def test_every_registered_activation(cls):
    key = cls.__name__.lower()
    assert key in ACTIVATION_CASES, (
        "activation {} is registered but has no entry in ACTIVATION_CASES of "
        "tests/test_activations.py; add one".format(cls.__name__)
    )
    check_activation(cls, ACTIVATION_CASES[key])


def test_activation_cases_are_registered():
    assert set(ACTIVATION_CASES) <= set(activations.Activation._registry)
