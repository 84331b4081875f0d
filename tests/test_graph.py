"""Tests of theanets.graph.Network: the spec grammar of add_layer, variables,
parameters, graph building and caching, feed_forward/predict/score, monitors
and the training loss."""

import numpy as np
import pytensor
import pytest

import theanets
from theanets import layers, regularizers, util

TOL = dict(rtol=1e-5, atol=1e-6)  # float32 values


def _x(n=6, d=3, seed=0):
    return np.random.RandomState(seed).randn(n, d).astype("float32")


# ----- spec grammar -------------------------------------------------------


def test_default_names_and_activations():
    net = theanets.Regressor([3, 4, 5, 2])
    assert [l.name for l in net.layers] == ["in", "hid1", "hid2", "out"]
    assert [l.kwargs["activation"] for l in net.layers] == ["linear", "relu", "relu", "linear"]
    assert theanets.Classifier([3, 4, 2]).layers[-1].kwargs["activation"] == "softmax"
    assert type(theanets.Classifier([3, 4, 2]).layers[-1]) is layers.Feedforward


def test_int_spec():
    net = theanets.Regressor([3, 4, 2])
    assert type(net.layers[0]) is layers.Input and net.layers[0].output_shape == (3,)
    assert type(net.layers[1]) is layers.Feedforward and net.layers[1].output_shape == (4,)
    assert net.layers[1].kwargs["inputs"] == "in:out"


def test_tuple_of_ints_is_a_shape():
    net = theanets.convolution.Regressor([(4, 3, 2), "flat", 5])
    assert net.layers[0].output_shape == (4, 3, 2)
    assert net.inputs[0].ndim == 4
    net = theanets.Regressor([(2, 3), (2, 5)])
    assert net.layers[1].output_shape == (2, 5)
    assert net.predict(np.zeros((4, 2, 3), "float32")).shape == (4, 2, 5)


def test_mixed_tuples():
    net = theanets.Regressor(
        [7, (8, "ff", "tanh"), ("relu+norm:z", 6), (5, "softmax"), ("FF", 4), (3, "maxout:2")]
    )
    hid1, hid2, hid3, hid4, out = net.layers[1:]
    assert type(hid1) is layers.Feedforward and hid1.kwargs["activation"] == "tanh"
    assert hid2.activate.name == "norm:z(relu)" and hid2.output_shape == (6,)
    assert type(hid3) is layers.Classifier and hid3.activate.name == "softmax"
    assert type(hid4) is layers.Feedforward and hid4.kwargs["activation"] == "relu"
    assert out.activate.name == "maxout:2"


def test_dict_spec():
    net = theanets.Regressor(
        [
            3,
            dict(form="FF", size=4, name="h", activation="tanh", std=0.1),
            dict(size=2, inputs="in", name="o2"),
        ]
    )
    h, o = net.layers[1:]
    assert (h.name, h.kwargs["activation"], h.kwargs["std"]) == ("h", "tanh", 0.1)
    assert o.name == "o2" and o.kwargs["inputs"] == "in" and o._input_shapes == {"in:out": (3,)}
    assert o.kwargs["activation"] == "linear"  # the default for the last layer


def test_string_spec():
    net = theanets.convolution.Regressor([(2, 3, 1), "flat", "FLAT", 2])
    assert [type(l) for l in net.layers[1:3]] == [layers.Flatten, layers.Flatten]
    assert net.layers[2].output_shape == (6,)


def test_layer_instance_spec():
    hidden = layers.Feedforward(size=4, inputs="in", name="given", activation="tanh", rng=13)
    net = theanets.Regressor([3, hidden, 2])
    assert net.layers[1] is hidden and hidden.output_shape == (4,)
    assert net.layers[2].kwargs["inputs"] == "given:out"
    assert net.predict(_x()).shape == (6, 2)


def test_add_layer_later_does_not_bind():
    net = theanets.Regressor([3, 4])
    new = net.add_layer(2)
    assert new is net.layers[-1] and new.name.startswith("feedforward")
    assert new._output_shapes == {}
    new.bind(net)
    assert new.output_shape == (2,) and new.kwargs["inputs"] == "out:out"


def test_inputs_by_layer_name_and_output_name():
    net = theanets.Regressor(
        [
            7,
            dict(size=8, name="a"),
            dict(size=6, name="b", inputs="in", activation="tanh"),
            dict(size=5, inputs=["a", "b:out"]),
        ]
    )
    out = net.layers[-1]
    assert list(out._input_shapes) == ["a:out", "b:out"]
    assert [p.name for p in out.params] == ["out.w_a:out", "out.w_b:out", "out.b"]


def test_deep_tied_autoencoder_partners():
    net = theanets.Autoencoder([7, 8, 5, "tied", ("tied", "linear")])
    assert [l.partner.name for l in net.layers[3:]] == ["hid2", "hid1"]
    assert [l.output_shape for l in net.layers] == [(7,), (8,), (5,), (8,), (7,)]
    net = theanets.Autoencoder([7, 8, 5, 4, "tied", "tied", "tied"])
    assert [l.partner.name for l in net.layers[4:]] == ["hid3", "hid2", "hid1"]
    # a tied layer after a tied pair pairs with the layer before the pair
    net = theanets.Autoencoder([7, 8, "tied", 9, "tied"])
    assert [net.layers[2].partner.name, net.layers[4].partner.name] == ["hid1", "hid3"]


def test_explicit_partner():
    net = theanets.Autoencoder([7, 8, 5, dict(form="tied", partner="hid1", inputs="hid1")])
    assert net.layers[-1].partner is net.layers[1]


def test_spec_input_ndim_follows_model():
    assert theanets.recurrent.Regressor([3, 2]).inputs[0].ndim == 3
    assert theanets.convolution.Regressor([(4, 4, 1), "flat", 2]).inputs[0].ndim == 4
    assert theanets.Regressor([3, 2]).inputs[0].ndim == 2


# ----- spec errors --------------------------------------------------------


def _raises(spec, pattern, model=theanets.Regressor, error=util.ConfigurationError):
    with pytest.raises(error, match=pattern) as info:
        model(spec)
    return info.value


def test_unknown_form_string():
    err = _raises(
        [7, "flatt", 5],
        r"layer 'hid1': unknown layer form 'flatt'; perhaps you "
        r"meant 'flat'.*; valid choices are: .*concat.*tied",
    )
    assert isinstance(err, KeyError)


def test_unknown_form_in_dict():
    err = _raises(
        [7, dict(form="bogus", size=3), 5],
        r"layer 'hid1': unknown layer form 'bogus'; "
        r"valid choices are: (.*, )?classifier, ",
    )
    assert isinstance(err, KeyError)
    _raises([7, dict(form=None, size=3), 5], r"layer 'hid1': unknown layer form None")


def test_unknown_form_caught_as_key_error():
    with pytest.raises(KeyError):
        theanets.Regressor([7, "bogus", 5])


def test_abstract_layer_form_is_not_a_form():
    # One rule for every registry: an abstract base is not buildable by name.
    err = _raises(
        [7, dict(form="layer", size=3), 5],
        r"layer 'hid1': unknown layer form 'layer'; valid choices are: .*classifier",
        error=util.UnknownNameError,
    )
    assert "'layer'," not in str(err).split("valid choices are:")[1]
    # In a tuple, a name that is no form is read as an activation.
    _raises([7, (3, "layer"), 5], r"unknown activation 'layer'", error=util.UnknownNameError)


def test_abstract_loss_and_activation_are_unknown_names():
    net = theanets.Regressor([3, 4, 2])
    with pytest.raises(
        util.UnknownNameError, match=r"unknown loss 'loss'.*valid choices are: .*mse"
    ) as info:
        net.add_loss("loss")
    assert "'loss'," not in str(info.value).split("valid choices are:")[1]
    with pytest.raises(util.UnknownNameError, match=r"unknown activation 'activation'"):
        theanets.Regressor([3, (4, "activation"), 2])
    with pytest.raises(util.UnknownNameError, match=r"unknown activation 'compose'"):
        theanets.Regressor([3, (4, "compose"), 2])


def test_registry_names_are_the_concrete_forms():
    assert "layer" not in layers.Layer.names() and "ff" in layers.Layer.names()
    assert "loss" not in theanets.Loss.names() and "mse" in theanets.Loss.names()
    assert "activation" not in theanets.Activation.names()
    assert "regularizer" not in theanets.Regularizer.names()
    assert "_stochastic" not in theanets.Regularizer.names()
    # Abstract classes stay in the registry, as in the original, and are found.
    assert layers.Layer.get_class("layer") is layers.Layer
    assert not layers.Layer.is_registered("layer")


def test_compose_exposes_f_and_g():
    net = theanets.Regressor([3, (4, "relu+tanh"), 2])
    act = net.layers[1].activate
    assert act.name == "tanh(relu)"
    assert (act.f.name, act.g.name) == ("relu", "tanh")
    assert act.f is act.inner and act.g is act.outer


@pytest.mark.parametrize(
    "model", [theanets.Network, theanets.Regressor, theanets.Classifier, theanets.Autoencoder]
)
def test_a_one_layer_network_builds_but_cannot_compute(model):
    # The original built it (its own tests bind layers to Network([3])); it
    # is refused where it would compute: its output would be its input.
    net = model([6])
    assert [l.name for l in net.layers] == ["in"] and len(net.losses) == 1
    message = (
        r"{}\.{}: a network needs an input layer and an output layer, but this one "
        r"has only one layer \('in'\)"
    )
    for method, call in (
        ("feed_forward", lambda: net.predict(_x(d=6))),
        ("feed_forward", lambda: net.feed_forward(_x(d=6))),
        ("build_graph", lambda: net.build_graph()),
        ("build_graph", lambda: net.loss()),
        ("train", lambda: net.train([_x(d=6)] * len(net.variables))),
    ):
        with pytest.raises(util.ConfigurationError, match=message.format(model.__name__, method)):
            call()


def test_layers_bind_to_a_one_layer_network():
    net = theanets.Network([3])
    layer = layers.Feedforward(inputs="in", size=4, name="l")
    layer.bind(net)
    assert [p.name for p in layer.params] == ["l.w", "l.b"]
    out, _ = layer.connect({"in:out": net.inputs[0]})
    assert sorted(out) == ["l:out", "l:pre"]


def test_empty_network_is_built_layer_by_layer():
    net = theanets.Regressor([])
    assert net.layers == [] and net.losses == []
    with pytest.raises(
        util.ConfigurationError,
        match=r"Regressor\.feed_forward: a network "
        r"needs an input layer and an output layer, but this one has no layers",
    ):
        net.predict(_x())
    with pytest.raises(
        util.ConfigurationError,
        match=r"Regressor\.add_loss: the network has "
        r"no layers yet",
    ):
        net.add_loss("mse")
    net.add_layer(3)
    net.add_layer(dict(size=2, activation="linear"))
    with pytest.raises(
        util.ConfigurationError,
        match=r"Regressor\.feed_forward: layer "
        r"'in' \(Input\) is not bound: a layer added with "
        r"add_layer after the network was built must be bound",
    ):
        net.predict(_x())
    for layer in net.layers:
        layer.bind(net)
    net.set_loss("mse", target=2)
    assert net.predict(_x()).shape == (6, 2)
    assert theanets.Network().layers == []


@pytest.mark.parametrize(
    "args, meant",
    [((10, 20, 1), r"\[10, 20, 1\]"), ((10,), r"\[10, \.\.\.\]"), ((10, "mse"), r"\[10, \.\.\.\]")],
)
def test_sizes_as_separate_arguments(args, meant):
    with pytest.raises(
        util.ConfigurationError,
        match=r"Regressor: layers must be a list of "
        r"layer specs, not the int 10; perhaps you meant Regressor\(" + meant,
    ):
        theanets.Regressor(*args)


@pytest.mark.parametrize("layers_", ["abc", {"a": 3}, 3.5])
def test_layers_must_be_a_sequence(layers_):
    with pytest.raises(
        util.ConfigurationError,
        match=r"Regressor: layers must be a list of "
        r"layer specs \(e\.g\. \[3, 4, 2\]\), not",
    ):
        theanets.Regressor(layers_)


def test_duplicate_size():
    _raises(
        [7, (8, "relu", 9), 5],
        r"layer 'hid1': duplicate layer sizes in spec "
        r"\(8, 'relu', 9\)",
    )


def test_bad_tuple_item_and_spec_type():
    _raises([7, (8, 2.5), 5], r"layer 'hid1': cannot understand 2.5 in spec \(8, 2.5\)")
    _raises([7, (8, None), 5], r"layer 'hid1': cannot understand None")
    _raises(
        [7, 2.5, 5],
        r"layer 'hid1': a layer spec must be an int, tuple, dict, string or "
        r"Layer, not 2.5",
    )
    _raises([7, True, 5], r"layer 'hid1': a layer spec must be .*not True")


def test_missing_partner():
    _raises(
        [7, 8, ("tied", 8), ("tied", 7), ("tied", 5)],
        r"layer 'out': cannot find partner for tied layer: every earlier layer is already "
        r"paired \(layers: \['in', 'hid1', 'hid2', 'hid3'\]\)",
        model=theanets.Autoencoder,
    )


def test_duplicate_input_name():
    _raises([7, dict(form="input", name="in", size=3), 5], r"layer 'in': duplicate input name 'in'")


def test_duplicate_layer_name():
    _raises(
        [3, dict(size=4, name="a"), dict(size=3, name="a", inputs="in")],
        r"layer 'a': duplicate layer name 'a': the network already has a layer of that "
        r"name \(layers: \['in', 'a'\]\)",
    )
    net = theanets.Regressor([3, 4])
    with pytest.raises(util.ConfigurationError, match="layer 'out': duplicate layer name 'out'"):
        net.add_layer(layers.Feedforward(size=2, name="out"))


def test_unknown_loss_and_activation_are_key_errors():
    with pytest.raises(KeyError):
        theanets.Regressor([3, 2], loss="nope")
    with pytest.raises(KeyError):
        theanets.Regressor([3, (2, "nope")])


# ----- variables and parameters -------------------------------------------


def test_variables_order():
    assert [v.name for v in theanets.Regressor([3, 2]).variables] == ["in", "target"]
    classifier = theanets.Classifier([3, 4], weighted=True)
    assert [(v.name, v.ndim, v.dtype) for v in classifier.variables] == [
        ("in", 2, "float32"),
        ("target", 1, "int32"),
        ("weights", 1, "float32"),
    ]
    ae = theanets.Autoencoder([3, 2, 3], weighted=True)
    assert [(v.name, v.ndim) for v in ae.variables] == [("in", 2), ("weights", 2)]
    assert ae.variables[0] is ae.inputs[0]
    two = theanets.Regressor(
        [
            dict(form="input", name="a", size=2),
            dict(form="input", name="b", size=3),
            dict(size=1, inputs=["a", "b"]),
        ]
    )
    assert [v.name for v in two.variables] == ["a", "b", "target"]


def test_params_order_and_count():
    net = theanets.Regressor([3, (4, "prelu"), 2])
    assert [p.name for p in net.params] == ["hid1.w", "hid1.b", "hid1.leak", "out.w", "out.b"]
    assert net.num_params == 3 * 4 + 4 + 4 + 4 * 2 + 2
    assert theanets.Autoencoder([3, 4, "tied"]).num_params == 3 * 4 + 4 + 3


def test_find():
    net = theanets.Regressor([3, (4, "prelu"), 2])
    assert net.find("hid1", "w") is net.layers[1].params[0]
    assert net.find(1, 1) is net.find("hid1", "b")
    assert net.find(-1, "w") is net.find("out", "w")
    with pytest.raises(KeyError, match=r"layer 'in' \(Input\) has no parameter 0"):
        net.find(0, 0)
    with pytest.raises(KeyError, match=r"unknown layer 'hid'; perhaps you meant 'hid1'"):
        net.find("hid", "w")
    with pytest.raises(KeyError, match=r"no layer 7 in a network of 3 layers"):
        net.find(7, "w")
    with pytest.raises(KeyError, match=r"has no parameter 'leak'"):
        net.find("hid1", "leak")


# ----- graph --------------------------------------------------------------


def test_build_graph_outputs_and_cache():
    net = theanets.Regressor([3, 4, 5, 2])
    outputs, updates = net.build_graph()
    assert sorted(outputs) == [
        "hid1:out",
        "hid1:pre",
        "hid2:out",
        "hid2:pre",
        "in:out",
        "out:out",
        "out:pre",
    ]
    assert outputs["in:out"] is net.inputs[0]
    assert not updates
    assert net.build_graph() is net.build_graph()
    drop1 = regularizers.from_kwargs(net, hidden_dropout=0.5)
    again = regularizers.from_kwargs(net, hidden_dropout=0.5)
    drop2 = regularizers.from_kwargs(net, hidden_dropout=0.5, rng=99)
    assert net.build_graph(drop1) is net.build_graph(again)  # the same seed: the same masks
    assert net.build_graph(drop1) is not net.build_graph(drop2)  # another seed, other masks
    other = net.build_graph(regularizers.from_kwargs(net, hidden_dropout=0.3))
    assert other is not net.build_graph(drop1)
    assert "hid1:out-predrop" in other[0] and other[1]


def test_feed_forward_keys_and_values():
    net = theanets.Regressor([3, (4, "tanh"), 2])
    x = _x()
    out = net.feed_forward(x)
    assert sorted(out) == ["hid1:out", "hid1:pre", "in:out", "out:out", "out:pre"]
    w, b = net.find("hid1", "w").get_value(), net.find("hid1", "b").get_value()
    np.testing.assert_allclose(out["hid1:pre"], x @ w + b, **TOL)
    np.testing.assert_allclose(out["hid1:out"], np.tanh(x @ w + b), **TOL)
    np.testing.assert_allclose(out["in:out"], x)
    np.testing.assert_allclose(net.predict(x), out["out:out"])


def test_feed_forward_with_regularizers_adds_keys():
    net = theanets.Regressor([3, 4, 2])
    out = net.feed_forward(_x(), input_noise=0.1, hidden_dropout=0.5)
    assert sorted(out) == [
        "hid1:out",
        "hid1:out-predrop",
        "hid1:pre",
        "in:out",
        "in:out-prenoise",
        "out:out",
        "out:pre",
    ]
    np.testing.assert_allclose(out["in:out-prenoise"], _x())
    assert not np.allclose(out["in:out"], _x())
    dropped = out["hid1:out"] == 0
    np.testing.assert_allclose(
        out["hid1:out"][~dropped], 2 * out["hid1:out-predrop"][~dropped], **TOL
    )


def test_predict_shape_and_dtype():
    net = theanets.Regressor([3, 4, 2])
    y = net.predict(_x())
    assert y.shape == (6, 2) and y.dtype == np.float32


def test_score_uses_global_mean():
    net = theanets.Regressor([3, 4, 2])
    x = _x()
    y = np.random.RandomState(1).randn(6, 2).astype("float32") + [[0, 5]]
    yhat = net.predict(x)
    expect = 1 - ((y - yhat) ** 2).sum() / ((y - y.mean()) ** 2).sum()
    np.testing.assert_allclose(net.score(x, y), expect, rtol=1e-5)
    w = np.random.RandomState(2).uniform(0, 1, (6, 2)).astype("float32")
    expect = 1 - (w * (y - yhat) ** 2).sum() / (w * (y - y.mean()) ** 2).sum()
    np.testing.assert_allclose(net.score(x, y, w), expect, rtol=1e-5)
    np.testing.assert_allclose(net.score(x, yhat), 1, rtol=1e-6)


# ----- monitors and loss --------------------------------------------------


def test_monitors_levels_lists_callables_and_globs(caplog):
    net = theanets.Regressor([7, 8, 12, 5])
    with caplog.at_level("WARNING", logger="theanets"):
        mons = net.monitors(
            monitors={"hid1:out": (0.1, 0.5), "*.w": {"m": lambda e: e.mean()}, "nomatch*": 0.3}
        )
    assert (
        "Regressor: monitor pattern 'nomatch*' matches no output or parameter, so it "
        "reports nothing" in caplog.text
    )
    assert [n for n, _ in mons] == [
        "err",
        "hid1:out<0.1",
        "hid1:out<0.5",
        "hid1.w:m",
        "hid2.w:m",
        "out.w:m",
    ]
    x = _x(d=7)
    fn = pytensor.function(net.inputs, [e for _, e in mons[1:]])
    values = fn(x)
    h = net.feed_forward(x)["hid1:out"]
    np.testing.assert_allclose(values[0], np.mean(h < 0.1), **TOL)
    np.testing.assert_allclose(values[1], np.mean(h < 0.5), **TOL)
    np.testing.assert_allclose(values[2], net.find("hid1", "w").get_value().mean(), **TOL)


def test_monitors_as_list_of_pairs_single_level_and_label_pairs():
    net = theanets.Regressor([3, 4, 2])
    mons = net.monitors(
        monitors=[("out:out", 0), ("hid1:pre", [("max", lambda e: e.max())]), ("hid1.b", 0.0)]
    )
    assert [n for n, _ in mons] == ["err", "out:out<0", "hid1:pre:max", "hid1.b<0.0"]
    with pytest.raises(
        util.ConfigurationError,
        match=r"monitor levels for 'out:out' must be numbers or \(label, "
        r"callable\) pairs, not 'x'",
    ):
        net.monitors(monitors={"out:out": ["x"]})


def test_err_monitor_is_first_loss():
    net = theanets.Regressor([3, 2])
    ((name, expr),) = net.monitors()
    assert name == "err"
    x, y = _x(), np.ones((6, 2), "float32")
    value = pytensor.function(net.variables, expr)(x, y)
    np.testing.assert_allclose(value, np.mean((net.predict(x) - y) ** 2), **TOL)


def test_loss_with_regularizers():
    net = theanets.Regressor([3, 4, 2])
    x, y = _x(), np.ones((6, 2), "float32")
    plain = pytensor.function(net.variables, net.loss())(x, y)
    mse = np.mean((net.predict(x) - y) ** 2)
    np.testing.assert_allclose(plain, mse, **TOL)
    w1, w2 = net.find("hid1", "w").get_value(), net.find("out", "w").get_value()
    l2 = (np.mean(w1**2) + np.mean(w2**2)) / 2
    h = net.feed_forward(x)["hid1:out"]
    value = pytensor.function(net.variables, net.loss(weight_l2=0.1, hidden_l1=0.5))(x, y)
    np.testing.assert_allclose(value, mse + 0.1 * l2 + 0.5 * np.abs(h).mean(), **TOL)


def test_updates_empty_for_feedforward():
    assert not theanets.Regressor([3, 2]).updates()


def test_network_base_class_usable_directly():
    net = theanets.graph.Network([3, 4, 2])
    assert net.predict(_x()).shape == (6, 2)
    assert isinstance(net.losses[0], theanets.losses.MeanSquaredError)
    assert net.losses[0].variables[0].ndim == 2


def test_empty_network():
    net = theanets.Regressor()
    assert net.layers == [] and net.losses == [] and net.params == [] and net.inputs == []
    assert net.num_params == 0
