"""Tests of theanets.layers: one shared check for every registered layer form,
then per-layer behaviour, initialisation, and configuration errors."""

import logging
import pickle

import numpy as np
import pytensor
import pytest
import scipy.sparse

import theanets
from theanets import util
from theanets.layers import Layer

TOL = dict(rtol=1e-5, atol=1e-6)  # float32 values

N = 5  # examples in test batches
T = 3  # time steps in recurrent test batches (None in a shape)


def _case(model, layers, index, shape, outputs, params, shapes=None):
    """``shapes`` maps an output (suffix) to its full array shape where it
    differs from ``(N,) + shape`` (None read as T)."""
    return dict(
        model=model,
        layers=layers,
        index=index,
        shape=shape,
        outputs=outputs,
        params=params,
        shapes=shapes or {},
    )


def _ff(key):
    return _case(
        theanets.Regressor,
        [3, dict(form=key, size=4, activation="tanh"), 2],
        1,
        (4,),
        ["out", "pre"],
        [("hid1.w", (3, 4)), ("hid1.b", (4,))],
    )


def _softmax(key):
    return _case(
        theanets.Regressor,
        [3, (4, key), 2],
        1,
        (4,),
        ["out", "pre"],
        [("hid1.w", (3, 4)), ("hid1.b", (4,))],
    )


def _flat(key):
    return _case(theanets.convolution.Regressor, [(2, 3, 2), key, 2], 1, (12,), ["out"], [])


def _concat(key):
    return _case(
        theanets.Regressor,
        [
            3,
            dict(size=4, name="a"),
            dict(size=2, name="b", inputs="in"),
            dict(form=key, inputs=["a", "b:out"], name="c"),
            2,
        ],
        3,
        (6,),
        ["out"],
        [],
    )


def _prod(key):
    return _case(
        theanets.Regressor,
        [
            3,
            dict(size=4, name="a"),
            dict(size=4, name="b", inputs="in", activation="tanh"),
            dict(form=key, inputs=["a", "b"], name="p"),
            2,
        ],
        3,
        (4,),
        ["out"],
        [],
    )


#: Every registered layer form usable in a feedforward model -> how to test it.
#: Recurrent and convolution forms must be listed here once they are registered.
LAYER_CASES = {
    "input": _case(theanets.Regressor, [dict(form="input", size=3), 2], 0, (3,), ["out"], []),
    "feedforward": _ff("feedforward"),
    "ff": _ff("ff"),
    "classifier": _softmax("classifier"),
    "softmax": _softmax("softmax"),
    "tied": _case(theanets.Autoencoder, [3, 4, "tied"], 2, (3,), ["out", "pre"], [("out.b", (3,))]),
    "flatten": _flat("flatten"),
    "flat": _flat("flat"),
    "concatenate": _concat("concatenate"),
    "concat": _concat("concat"),
    "product": _prod("product"),
    "prod": _prod("prod"),
    "reshape": _case(
        theanets.Regressor,
        [6, dict(form="reshape", shape=(2, 3)), "flat", 2],
        1,
        (2, 3),
        ["out"],
        [],
    ),
    # convolution and pooling: 3-D (examples, time, channels) and 4-D image inputs
    "conv1": _case(
        theanets.Regressor,
        [(6, 3), dict(form="conv1", size=4, filter_size=2, activation="tanh"), "flat", 2],
        1,
        (5, 4),
        ["out", "pre"],
        [("hid1.w", (4, 3, 1, 2)), ("hid1.b", (4,))],
    ),
    "conv2": _case(
        theanets.convolution.Regressor,
        [
            (6, 5, 3),
            dict(
                form="conv2",
                size=4,
                filter_size=(3, 2),
                stride=(2, 1),
                border_mode="full",
                activation="tanh",
            ),
            "flat",
            2,
        ],
        1,
        (4, 6, 4),
        ["out", "pre"],
        [("hid1.w", (4, 3, 3, 2)), ("hid1.b", (4,))],
    ),
    "pool1": _case(
        theanets.Regressor,
        [(7, 3), dict(form="pool1", pool_size=3), "flat", 2],
        1,
        (2, 3),
        ["out"],
        [],
    ),
    "pool2": _case(
        theanets.convolution.Regressor,
        [(6, 5, 3), dict(form="pool2", pool_size=(2, 2), mode="mean"), "flat", 2],
        1,
        (3, 2, 3),
        ["out"],
        [],
    ),
}


def _recurrent(key, outputs, params, shapes=None, **kwargs):
    """A recurrent layer of 4 units on 3 input features, in a recurrent model."""
    spec = dict(form=key, size=4, activation="tanh", **kwargs)
    return _case(
        theanets.recurrent.Regressor,
        [3, spec, 2],
        1,
        (None, 4),
        outputs,
        [("hid1." + name, shape) for name, shape in params],
        shapes,
    )


_RNN_PARAMS = [("xh", (3, 4)), ("hh", (4, 4)), ("b", (4,))]

# recurrent layers: 3-D (examples, time, features) inputs
LAYER_CASES.update(
    {
        "rnn": _recurrent("rnn", ["pre", "out"], _RNN_PARAMS),
        "bcrnn": _recurrent("bcrnn", ["pre", "out"], _RNN_PARAMS, num_modules=2),
        "rrnn": _recurrent(
            "rrnn",
            ["pre", "hid", "rate", "out"],
            _RNN_PARAMS + [("r", (4,)), ("xr", (3, 4))],
            shapes={"rate": (T, N, 4)},
        ),  # time-major, as in the original
        "mrnn": _recurrent(
            "mrnn",
            ["pre", "factors", "out"],
            [("xh", (3, 4)), ("xf", (3, 2)), ("hf", (4, 2)), ("fh", (2, 4)), ("b", (4,))],
            shapes={"factors": (T, N, 2)},
        ),
        "lstm": _recurrent(
            "lstm",
            ["out", "cell"],
            [
                ("xh", (3, 16)),
                ("hh", (4, 16)),
                ("b", (16,)),
                ("ci", (4,)),
                ("cf", (4,)),
                ("co", (4,)),
            ],
        ),
        "gru": _recurrent(
            "gru",
            ["pre", "hid", "rate", "out"],
            [("hh", (4, 4)), ("hr", (4, 4)), ("hz", (4, 4)), ("w", (3, 12)), ("b", (12,))],
        ),
        "clockwork": _recurrent("clockwork", ["pre", "out"], _RNN_PARAMS, periods=(1, 2)),
        "mut1": _recurrent(
            "mut1",
            ["pre", "hid", "rate", "out"],
            [
                ("xh", (3, 4)),
                ("xr", (3, 4)),
                ("xz", (3, 4)),
                ("hh", (4, 4)),
                ("hr", (4, 4)),
                ("bh", (4,)),
                ("br", (4,)),
                ("bz", (4,)),
            ],
        ),
        "scrn": _recurrent(
            "scrn",
            ["hid", "state", "rate", "out"],
            [
                ("w", (3, 8)),
                ("sh", (4, 4)),
                ("hh", (4, 4)),
                ("ho", (4, 4)),
                ("so", (4, 4)),
                ("b", (4,)),
                ("r", (4,)),
            ],
            shapes={"rate": (4,)},
        ),
        "bidirectional": _case(
            theanets.recurrent.Regressor,
            [3, dict(form="bidirectional", size=4), 2],
            1,
            (None, 4),
            ["out", "pre", "fw_out", "fw_pre", "bw_out", "bw_pre"],
            [
                ("hid1_{}.{}".format(w, name), shape)
                for w in ("fw", "bw")
                for name, shape in [("xh", (3, 2)), ("hh", (2, 2)), ("b", (2,))]
            ],
            shapes={k: (N, T, 2) for k in ("fw_out", "fw_pre", "bw_out", "bw_pre")},
        ),
    }
)

#: Registered keys that are not layers one can put in a model.
NOT_LAYERS = {"layer"}

#: Abstract base classes of a layer family: registered, but refused in a
#: model with a ConfigurationError naming the concrete forms.
ABSTRACT_LAYERS = {
    "convolution": (
        dict(form="convolution", size=2, filter_size=(2, 2)),
        r"layer 'hid1' \(Convolution\): Convolution is the base class of the "
        r"convolution layers; use one of conv1, conv2",
    ),
    "pooling": (
        dict(form="pooling"),
        r"layer 'hid1' \(Pooling\): Pooling is the base class "
        r"of the pooling layers; use one of pool1, pool2",
    ),
    "recurrent": (
        dict(form="recurrent", size=2),
        r"layer 'hid1' \(Recurrent\): Recurrent is the base class of the recurrent "
        r"layers; use one of bcrnn, bidirectional, clockwork, gru, lstm, mrnn, mut1, "
        r"rnn, rrnn, scrn",
    ),
}


def _data(net, seed=0):
    shape = [T if d is None else d for d in net.layers[0].output_shape]
    return np.random.RandomState(seed).randn(N, *shape).astype("float32")


def check_layer(key, case):
    """Build the layer in a network and check names, shapes, params, to_spec, pickle."""
    net = case["model"](case["layers"])
    layer = net.layers[case["index"]]
    assert type(layer) is Layer.get_class(key)

    # output names and shapes
    assert layer.output_shape == case["shape"]
    assert layer.output_name == layer.name + ":out"
    x = _data(net)
    outputs = net.feed_forward(x)
    own = sorted(k for k in outputs if k.partition(":")[0] == layer.name)
    assert own == sorted(layer.full_name(s) for s in case["outputs"])
    for name in own:
        shape = (N,) + tuple(T if d is None else d for d in case["shape"])
        assert outputs[name].shape == case["shapes"].get(name.partition(":")[2], shape), name
        assert outputs[name].dtype == np.float32

    # parameter names, shapes and counts
    assert [(p.name, p.get_value().shape) for p in layer.params] == case["params"]
    count = sum(int(np.prod(s)) for _, s in case["params"])
    assert layer.log_params() == count
    for p in layer.params:
        assert p.get_value().dtype == np.float32

    # to_spec round trip: the same shapes, parameters and outputs in a fresh network
    spec = layer.to_spec()
    assert spec["name"] == layer.name and Layer.get_class(spec["form"]) is type(layer)
    fresh = type(net)()
    for each in net.layers:
        fresh.add_layer(each.to_spec())
    for each in fresh.layers:
        each.bind(fresh)
    rebuilt = fresh.layers[case["index"]]
    assert type(rebuilt) is type(layer)
    assert [l.output_shape for l in fresh.layers] == [l.output_shape for l in net.layers]
    assert [p.name for p in rebuilt.params] == [p.name for p in layer.params]
    for a, b in zip(rebuilt.params, layer.params, strict=True):
        np.testing.assert_allclose(a.get_value(), b.get_value(), **TOL)
    np.testing.assert_allclose(fresh.predict(x), net.predict(x), **TOL)

    # pickle round trip
    copy = pickle.loads(pickle.dumps(net, -1))
    assert [l.name for l in copy.layers] == [l.name for l in net.layers]
    assert copy.layers[case["index"]].output_shape == case["shape"]
    np.testing.assert_allclose(copy.predict(x), net.predict(x), **TOL)
    np.testing.assert_allclose(
        copy.feed_forward(x)[layer.output_name], outputs[layer.output_name], **TOL
    )


@pytest.mark.parametrize("key", sorted(Layer._registry))
def test_every_registered_layer_form(key):
    if key in NOT_LAYERS:
        assert Layer.get_class(key) is Layer
        return
    if key in ABSTRACT_LAYERS:
        spec, pattern = ABSTRACT_LAYERS[key]
        with pytest.raises(util.ConfigurationError, match=pattern):
            theanets.convolution.Regressor([(4, 4, 2), spec, "flat", 2])
        return
    assert key in LAYER_CASES, (
        "layer form {!r} ({}) is registered but has no entry in LAYER_CASES of "
        "tests/test_layers.py; add one (recurrent and convolution forms, once registered, "
        "must be listed there too)".format(key, Layer.get_class(key).__name__)
    )
    check_layer(key, LAYER_CASES[key])


def test_layer_cases_are_registered():
    assert set(LAYER_CASES) <= set(Layer._registry)


# ----- naming and attributes ---------------------------------------------


def test_direct_construction_uses_global_counter():
    before = Layer._count
    ff = theanets.layers.Feedforward(size=3)
    tied = theanets.layers.Tied(partner="x")
    assert ff.name == "feedforward{}".format(before + 1)
    assert tied.name == "tied{}".format(before + 2)
    assert theanets.layers.Concatenate(name="given").name == "given"
    assert Layer._count == before + 3


def test_names_and_shapes():
    net = theanets.Regressor([3, (4, "tanh"), 2])
    hid = net.layers[1]
    assert hid.full_name("pre") == "hid1:pre"
    assert hid.output_name == "hid1:out"
    assert hid.input_name == "in:out"
    assert (hid.input_shape, hid.input_size) == ((3,), 3)
    assert (hid.output_shape, hid.output_size) == ((4,), 4)
    assert dict(hid._input_shapes) == {"in:out": (3,)}
    assert repr(hid) == "Feedforward('hid1')"


def test_input_name_requires_one_input():
    net = theanets.Regressor([3, dict(size=4, name="a"), dict(size=2, inputs=["in", "a"])])
    out = net.layers[-1]
    with pytest.raises(
        util.ConfigurationError,
        match=r"layer 'out' \(Feedforward\) expects exactly one input, but has 2",
    ):
        out.input_name
    assert [p.name for p in out.params] == ["out.w_in:out", "out.w_a:out", "out.b"]


def test_find_by_name_and_index():
    net = theanets.Regressor([3, 4, 2])
    hid = net.layers[1]
    assert hid.find("w") is hid.params[0]
    assert hid.find("b") is hid.find(1) is hid.find(-1)
    with pytest.raises(
        KeyError,
        match=r"layer 'hid1' \(Feedforward\) has no parameter 'c'; "
        r"its parameters are \['hid1.w', 'hid1.b'\]",
    ):
        hid.find("c")
    with pytest.raises(KeyError):
        hid.find(2)


def test_to_spec_of_network_built_layers():
    net = theanets.Autoencoder([3, 4, "tied"])
    assert net.layers[1].to_spec() == {
        "activation": "relu",
        "size": 4,
        "inputs": "in:out",
        "rng": 13,
        "form": "feedforward",
        "name": "hid1",
    }
    assert net.layers[2].to_spec() == {
        "activation": "linear",
        "inputs": "hid1:out",
        "rng": 13,
        "size": None,
        "shape": None,
        "form": "tied",
        "name": "out",
        "partner": "hid1",
    }
    assert net.layers[0].to_spec() == {
        "activation": "linear",
        "shape": (3,),
        "form": "input",
        "name": "in",
    }


def test_log_params_counts_activation_params(caplog):
    caplog.set_level(logging.INFO, logger="theanets")
    net = theanets.Regressor([3, (4, "prelu"), 2])
    assert net.layers[1].log_params() == 3 * 4 + 4 + 4
    assert "parameter hid1.leak (4,)" in caplog.text


# ----- initialisation -----------------------------------------------------


def test_default_initialisation():
    net = theanets.Regressor([3, 4, 2])
    ref = np.random.RandomState(13)
    np.testing.assert_allclose(
        net.find("hid1", "w").get_value(), ref.randn(3, 4) / np.sqrt(7), rtol=1e-5
    )
    np.testing.assert_allclose(net.find("hid1", "b").get_value(), ref.randn(4), rtol=1e-5)
    ref = np.random.RandomState(13)  # every layer restarts RandomState(13)
    np.testing.assert_allclose(
        net.find("out", "w").get_value(), ref.randn(4, 2) / np.sqrt(6), rtol=1e-5
    )


def test_same_int_seed_gives_identical_same_shaped_layers():
    net = theanets.Regressor([4, 4, 4, 4])
    np.testing.assert_allclose(net.find(1, "w").get_value(), net.find(2, "w").get_value())
    shared = theanets.Regressor([4, 4, 4, 4], rng=np.random.RandomState(13))
    assert not np.allclose(shared.find(1, "w").get_value(), shared.find(2, "w").get_value())


def test_initialisation_options():
    net = theanets.Regressor(
        [
            7,
            dict(size=8, mean=0.5, std=0.2, mean_b=1.0, std_b=0.5),
            dict(size=4, diagonal=0.7, name="diag"),
            dict(size=5, std_w=0.1, std_b=0, sparsity_w=0.3, nrng=2),
        ]
    )
    ref = np.random.RandomState(13)
    np.testing.assert_allclose(net.find(1, "w").get_value(), 0.5 + 0.2 * ref.randn(7, 8), rtol=1e-5)
    np.testing.assert_allclose(net.find(1, "b").get_value(), 1.0 + 0.5 * ref.randn(8), rtol=1e-5)
    np.testing.assert_allclose(net.find("diag", "w").get_value(), 0.7 * np.eye(8, 4), rtol=1e-6)
    w = net.find("out", "w").get_value()
    assert w.shape == (4, 5)
    assert 0 < np.count_nonzero(w) < w.size  # sparse, but the diagonal is kept
    assert np.all(np.diag(w) != 0)
    np.testing.assert_allclose(net.find("out", "b").get_value(), 0, atol=0)


def test_bias_ignores_layer_wide_options():
    net = theanets.Regressor([3, dict(size=4, mean=10, std=0.001)])
    ref = np.random.RandomState(13)
    ref.randn(3, 4)
    np.testing.assert_allclose(net.find(1, "b").get_value(), ref.randn(4), rtol=1e-5)


# ----- per-layer behaviour ------------------------------------------------


def test_feedforward_multiple_inputs_values():
    net = theanets.Regressor(
        [
            dict(form="input", name="in", size=3),
            dict(form="input", name="aux", size=2),
            dict(size=4, inputs=["in", "aux"], activation="linear"),
        ]
    )
    out = net.layers[-1]
    assert [p.name for p in out.params] == ["out.w_in:out", "out.w_aux:out", "out.b"]
    x = np.random.RandomState(1).randn(N, 3).astype("float32")
    a = np.random.RandomState(2).randn(N, 2).astype("float32")
    outputs, _ = net.build_graph()
    fn = pytensor.function(net.inputs, outputs["out:out"])
    w1, w2, b = (p.get_value() for p in out.params)
    np.testing.assert_allclose(fn(x, a), x @ w1 + a @ w2 + b, **TOL)


def test_classifier_layer_forces_softmax():
    layer = Layer.build("classifier", size=3, activation="relu", inputs="in")
    assert layer.kwargs["activation"] == "softmax"
    net = theanets.Regressor([3, (4, "softmax")])
    assert type(net.layers[1]) is theanets.layers.Classifier
    probs = net.predict(np.random.RandomState(0).randn(N, 3).astype("float32"))
    np.testing.assert_allclose(probs.sum(axis=1), 1, rtol=1e-5)


def test_tied_uses_transposed_partner_weights():
    net = theanets.Autoencoder([3, (4, "linear"), ("tied", "linear")])
    hid, tied = net.layers[1], net.layers[2]
    assert tied.partner is hid
    assert tied.params == [tied.find("b")]
    x = _data(net)
    w, b1, b2 = hid.find("w").get_value(), hid.find("b").get_value(), tied.find("b").get_value()
    np.testing.assert_allclose(net.predict(x), (x @ w + b1) @ w.T + b2, **TOL)
    # sharing: changing the partner's weights changes the tied layer's output
    hid.find("w").set_value(2 * w)
    np.testing.assert_allclose(net.predict(x), (x @ (2 * w) + b1) @ (2 * w).T + b2, **TOL)


def test_tied_partner_given_as_layer():
    net = theanets.Regressor([3, 4])
    tied = theanets.layers.Tied(partner=net.layers[1], inputs="out", name="t")
    net.add_layer(tied)
    tied.bind(net)
    assert tied.output_shape == (3,) and tied.to_spec()["partner"] == "out"


def test_structural_layer_values():
    net = theanets.Regressor(
        [
            3,
            dict(size=4, name="a"),
            dict(size=4, name="b", inputs="in", activation="tanh"),
            dict(form="prod", inputs=["a", "b"], name="p"),
            dict(form="concat", inputs=["a", "p"], name="c"),
            dict(form="reshape", shape=(2, 4), name="r"),
            dict(form="flat", name="f"),
            2,
        ]
    )
    out = net.feed_forward(_data(net))
    np.testing.assert_allclose(out["p:out"], out["a:out"] * out["b:out"], **TOL)
    np.testing.assert_allclose(out["c:out"], np.concatenate([out["a:out"], out["p:out"]], 1), **TOL)
    np.testing.assert_allclose(out["r:out"], out["c:out"].reshape(N, 2, 4), **TOL)
    np.testing.assert_allclose(out["f:out"], out["c:out"], **TOL)
    assert [l.output_shape for l in net.layers[3:7]] == [(4,), (8,), (2, 4), (8,)]


def test_product_of_three_inputs():
    net = theanets.Regressor(
        [
            3,
            dict(size=2, name="a"),
            dict(size=2, name="b", inputs="in"),
            dict(size=2, name="c", inputs="in", activation="tanh"),
            dict(form="prod", inputs=["a", "b", "c"]),
        ]
    )
    out = net.feed_forward(_data(net))
    np.testing.assert_allclose(out["out:out"], out["a:out"] * out["b:out"] * out["c:out"], **TOL)


def test_feedforward_on_higher_dimensional_input():
    net = theanets.recurrent.Regressor([3, 4, 2])
    assert net.layers[0].output_shape == (None, 3)
    assert net.layers[1].output_shape == (None, 4)
    x = np.random.RandomState(0).randn(2, 5, 3).astype("float32")
    assert net.predict(x).shape == (2, 5, 2)


@pytest.mark.parametrize("sparse,fmt", [(True, "csr"), ("csr", "csr"), ("CSC", "csc")])
def test_sparse_input(sparse, fmt):
    net = theanets.Regressor([dict(form="input", size=4, sparse=sparse), 3, 2])
    inp = net.layers[0]
    assert inp.sparse == fmt and inp.to_spec()["sparse"] == fmt
    assert inp.input.name == "in" and inp.input.format == fmt
    dense = np.eye(N, 4, dtype="float32") * 2
    got = net.predict(scipy.sparse.csr_matrix(dense))
    ref = theanets.Regressor([4, 3, 2])
    np.testing.assert_allclose(got, ref.predict(dense), **TOL)


def test_input_variable_named_after_layer():
    net = theanets.Regressor([dict(form="input", name="pixels", shape=(2, 3)), "flat", 2])
    assert net.inputs[0].name == "pixels" and net.inputs[0].ndim == 3
    four = theanets.layers.Input(size=3, ndim=4, name="x")
    assert four.kwargs["shape"] == (None, None, 3) and four.input.ndim == 4


# ----- configuration errors -----------------------------------------------


def _raises(spec, pattern, model=theanets.Regressor):
    with pytest.raises(util.ConfigurationError, match=pattern) as info:
        model(spec)
    return info.value


@pytest.mark.parametrize("size", [0, -3, 2.5, "4", True])
def test_bad_hidden_size(size):
    _raises(
        [3, dict(size=size), 2],
        r"layer 'hid1' \(Feedforward\): size must be a positive whole number, not",
    )


@pytest.mark.parametrize("size", [0, -1])
def test_bad_int_spec_size(size):
    _raises([3, size, 2], r"layer 'hid1' \(Feedforward\): size must be a positive whole number")
    _raises([size, 2], r"layer 'in' \(Input\): size must be a positive whole number")


@pytest.mark.parametrize("shape", [(0,), (2, -1), (2, 1.5)])
def test_bad_shapes(shape):
    _raises(
        [dict(form="input", shape=shape), 2],
        r"layer 'in' \(Input\): shape must hold positive whole numbers",
    )
    if all(isinstance(d, int) for d in shape):
        _raises([shape, 2], r"layer 'in' \(Input\): shape must hold positive whole numbers")
    _raises(
        [4, dict(form="reshape", shape=shape)],
        r"layer 'out' \(Reshape\): shape must hold positive whole numbers",
    )


@pytest.mark.parametrize("shape", [(), 3, "ab"])
def test_shape_not_a_tuple(shape):
    _raises(
        [dict(form="input", shape=shape), 2],
        r"layer 'in' \(Input\): shape must be a non-empty tuple",
    )


def test_input_ndim_and_sparse_errors():
    _raises([dict(form="input", size=3, ndim=1), 2], r"layer 'in' \(Input\): ndim must be 2 to 4")
    _raises([dict(form="input", size=3, ndim=5), 2], r"layer 'in' \(Input\): ndim must be 2 to 4")
    _raises(
        [dict(form="input", size=3, ndim=3, sparse=True), 2],
        r"layer 'in' \(Input\): sparse inputs must be \"csr\" or \"csc\" with 2 dimensions",
    )
    _raises(
        [dict(form="input", size=3, sparse="coo"), 2], r"sparse inputs must be .*not sparse='coo'"
    )


def test_missing_size():
    _raises([7, dict(form="ff"), 5], r"layer 'hid1' \(Feedforward\) does not specify a size")
    _raises([dict(form="input"), 5], r"layer 'in' \(Input\) does not specify a size")


def test_unresolved_input():
    _raises(
        [7, dict(size=8, inputs="nope"), 5],
        r"layer 'hid1' \(Feedforward\): unknown input layer 'nope'; valid choices are: "
        r"in, out$",
    )


def test_input_from_later_layer():
    _raises(
        [7, dict(size=8, inputs="out"), 5],
        r"layer 'hid1' \(Feedforward\): input 'out:out' comes from layer 'out', "
        r"which is not bound yet",
    )


def test_input_from_unknown_output_suffix():
    err = _raises(
        [7, dict(size=8, inputs="in:pre"), 5],
        r"layer 'hid1' \(Feedforward\): layer 'in' has no output 'pre'",
    )
    assert isinstance(err, KeyError)


def test_bad_inputs_type():
    _raises(
        [7, dict(size=8, inputs=5), 5],
        r"layer 'hid1' \(Feedforward\): inputs must be a name, a Layer, or a list",
    )
    _raises(
        [7, dict(size=8, inputs=[5]), 5],
        r"layer 'hid1' \(Feedforward\): inputs must be names or layers, not 5",
    )


def test_layer_without_inputs():
    _raises([(3, "ff"), 4], r"layer 'in' \(Feedforward\) has no inputs")
    _raises([3, dict(form="concat", inputs=[]), 2], r"layer 'hid1' \(Concatenate\) has no inputs")


def test_incompatible_input_shapes():
    _raises(
        [
            dict(form="input", name="a", size=3),
            dict(form="input", name="b", shape=(4, 3)),
            dict(size=5, inputs=["a", "b"]),
        ],
        r"layer 'out' \(Feedforward\): incompatible input shapes a:out \(3,\), "
        r"b:out \(4, 3\)",
    )


def test_feedforward_shape_must_keep_leading_axes():
    _raises(
        [3, (6, 7), 4],
        r"layer 'hid1' \(Feedforward\): output shape \(6, 7\) cannot be "
        r"made from input 'in:out' of shape \(3,\)",
    )
    _raises(
        [(2, 3), dict(size=4, shape=(4,))],
        r"layer 'out' \(Feedforward\): output shape \(4,\) cannot be made",
    )


def test_product_shape_mismatch():
    _raises(
        [
            7,
            dict(size=8, name="a"),
            dict(size=6, name="b", inputs="in"),
            dict(form="prod", inputs=["a", "b"]),
        ],
        r"layer 'out' \(Product\): all inputs must have the same shape, got a:out \(8,\), "
        r"b:out \(6,\)",
    )


def test_concatenate_leading_mismatch():
    _raises(
        [
            dict(form="input", name="a", shape=(2, 3)),
            dict(form="input", name="b", shape=(4, 3)),
            dict(form="concat", inputs=["a", "b"]),
        ],
        r"layer 'out' \(Concatenate\): inputs must agree on all but the last axis",
    )


def test_flatten_errors():
    _raises(
        [(6, 5, 3), dict(form="flat", size=7), 2],
        r"layer 'hid1' \(Flatten\): size=7 was given, but flattening input \(6, 5, 3\) "
        r"gives 90 values",
        model=theanets.convolution.Regressor,
    )
    _raises(
        [3, "flat", 2],
        r"layer 'hid1' \(Flatten\): cannot flatten input 'in:out' of "
        r"unknown shape \(\?, 3\)",
        model=theanets.recurrent.Regressor,
    )


def test_reshape_errors():
    _raises(
        [7, dict(form="reshape", shape=(3, 2)), "flat", 5],
        r"layer 'hid1' \(Reshape\): cannot reshape input \(7,\) \(7 values\) to \(3, 2\) "
        r"\(6 values\)",
    )
    _raises([7, dict(form="reshape"), 5], r"layer 'hid1' \(Reshape\) needs shape=")


def test_tied_errors():
    _raises(
        [3, dict(form="tied", partner="nope")],
        r"layer 'out' \(Tied\): unknown partner layer 'nope'; valid choices are: in$",
    )
    _raises(
        [3, dict(form="tied", partner=5)],
        r"layer 'out' \(Tied\): partner must be a layer name or a Layer, not 5",
    )
    _raises(
        [3, "flat", "tied"],
        r"layer 'out' \(Tied\): partner layer 'hid1' \(Flatten\) has no weights 'hid1.w'",
    )
    _raises([3, "tied"], r"layer 'out' \(Tied\): partner layer 'in' \(Input\) has no weights")
    _raises(
        [3, dict(form="tied", partner="out", name="t"), dict(size=4, name="out")],
        r"layer 't' \(Tied\): partner 'out' must be bound before this layer",
    )
    _raises(
        [3, 4, dict(form="tied", partner="hid1", inputs="in")],
        r"layer 'out' \(Tied\): input 'in:out' has 3 features, but partner weights "
        r"'hid1.w' \(3, 4\) need 4",
    )


def test_bad_rng_and_init_options():
    _raises(
        [3, dict(size=4, rng="seed"), 2],
        r"layer 'hid1' \(Feedforward\): rng must be None, an int seed or a numpy RandomState",
    )
    _raises(
        [3, dict(size=4, std="big"), 2],
        r"layer 'hid1' \(Feedforward\): initialisation option std for parameter 'hid1.w' "
        r"must be a number, not 'big'",
    )
    _raises(
        [3, dict(size=4, mean_b=None), 2],
        r"initialisation option mean for parameter 'hid1.b' must be a number, not None",
    )


def test_layer_name_must_be_a_string():
    _raises([3, dict(size=4, name=7), 2], r"layer names must be strings, not 7")


def test_base_layer_transform_not_implemented():
    layer = Layer(size=2, inputs="in", name="base")
    with pytest.raises(NotImplementedError, match="Layer must implement transform"):
        layer.transform({})
