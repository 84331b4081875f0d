"""Tests of theanets.trainer: every algorithm a network can be trained with.

Each downhill optimizer must reduce the loss of a small Regressor,
Autoencoder and Classifier; 'sample', 'layerwise' and 'pretrain' are checked
for what they set, in which order they train, and what they leave behind.
"""

import contextlib
import logging
import re

import numpy as np
import pytensor
import pytest

import theanets
from theanets import downhill, layers, trainer, util

FLOAT = pytensor.config.floatX
#: Tolerances for float32 values.
TOL = dict(rtol=1e-5, atol=1e-6)

N = 64


# ----- data and models ------------------------------------------------------

_rs = np.random.RandomState(0)
X = _rs.randn(N, 4).astype(FLOAT)
Y = np.tanh(X.dot(_rs.randn(4, 3))).astype(FLOAT)
LABELS = ((X[:, 0] > 0).astype("int32") + (X[:, 1] > 0)).astype("int32")


def _regressor():
    return theanets.Regressor([4, 8, 3]), [X, Y]


def _autoencoder():
    return theanets.Autoencoder([4, 3, 4]), [X]


def _classifier():
    return theanets.Classifier([4, 8, 3]), [X, LABELS]


MODELS = dict(regressor=_regressor, autoencoder=_autoencoder, classifier=_classifier)

#: Hyper-parameters that make each optimizer reduce the loss in 30 updates of
#: 4 mini-batches, and the largest ratio of final to initial loss expected.
ALGOS = dict(
    sgd=(dict(learning_rate=0.05), 0.8),
    nag=(dict(learning_rate=0.02, momentum=0.9), 0.6),
    rprop=(dict(learning_rate=0.01), 0.6),
    rmsprop=(dict(learning_rate=0.01), 0.6),
    adagrad=(dict(learning_rate=0.1), 0.6),
    adadelta=(dict(), 0.97),  # no learning rate: slow start from zero history
    esgd=(dict(learning_rate=0.01, rms_regularizer=1e-2), 0.7),
    adam=(dict(learning_rate=0.01), 0.7),
)


def _loss_fn(net):
    return pytensor.function(net.variables, net.loss())


def _values(net):
    return {p.name: p.get_value().copy() for p in net.params}


# ----- downhill optimizers --------------------------------------------------


def test_algos_cover_the_downhill_registry():
    assert sorted(ALGOS) == trainer.algo_names(own=False)


@pytest.mark.parametrize("model", sorted(MODELS))
@pytest.mark.parametrize("algo", sorted(ALGOS))
def test_algorithm_reduces_loss(algo, model):
    net, data = MODELS[model]()
    kwargs, ratio = ALGOS[algo]
    loss = _loss_fn(net)
    before = float(loss(*data))
    pairs = list(
        net.itertrain(data, algo=algo, batch_size=16, max_updates=30, patience=100, **kwargs)
    )
    assert len(pairs) == 30
    after = float(loss(*data))
    assert np.isfinite(after)
    assert after < ratio * before, (before, after)
    train, valid = pairs[-1]
    expected = ["loss", "err"] + (["acc"] if model == "classifier" else [])
    assert list(train) == list(valid) == expected
    assert all(np.isfinite(v) for v in train.values())
    # The first validation is of the initial parameters.
    assert pairs[0][1]["loss"] == pytest.approx(before, rel=1e-5)


def test_algorithm_name_any_case(monkeypatch):
    built = _record_builds(monkeypatch)
    net, data = _regressor()
    net.train(data, algo="ADAM", max_updates=1)
    assert built == ["adam"]


def test_downhill_trainer_reuses_the_optimizer_of_the_same_settings(monkeypatch):
    # Fresh optimizer state per call is tested in test_reuse.py.
    built = _record_builds(monkeypatch)
    net, data = _regressor()
    first = net.train(data, algo="sgd", learning_rate=0.05, max_updates=3, validate_every=1)
    second = net.train(data, algo="sgd", learning_rate=0.05, max_updates=3, validate_every=1)
    assert built == ["sgd"]
    net.train(data, algo="sgd", learning_rate=0.01, max_updates=1)  # a shared variable
    assert built == ["sgd"]
    net.train(data, algo="sgd", learning_rate=0.01, momentum=0.5, max_updates=1)
    assert built == ["sgd", "sgd"]
    # The second call starts from where the first ended.
    assert second[1]["loss"] < first[1]["loss"]


def _record_builds(monkeypatch):
    """Record the algorithm names given to downhill.build."""
    built = []
    real = downhill.build

    def build(algo, *args, **kwargs):
        built.append(algo)
        return real(algo, *args, **kwargs)

    monkeypatch.setattr(downhill, "build", build)
    return built


def test_unknown_algo_raises_key_error_listing_choices():
    net, data = _regressor()
    with pytest.raises(
        KeyError,
        match=r"unknown training algorithm 'adamm'; perhaps you "
        r"meant 'adam'; valid choices are: adadelta, adagrad, "
        r"adam, esgd, layerwise, nag, pretrain, rmsprop, rprop, "
        r"sample, sgd",
    ):
        net.train(data, algo="adamm")
    with pytest.raises(
        util.UnknownNameError,
        match="unknown subalgo.*'rmsprp'.*perhaps you "
        "meant 'rmsprop'; valid choices are: "
        "adadelta, .*, sgd$",
    ):
        net.train(data, algo="layerwise", subalgo="rmsprp")


def test_unknown_algo_fails_before_data_checks_and_compiling(monkeypatch):
    monkeypatch.setattr(pytensor, "function", _no_compiling)
    net, _ = _regressor()
    with pytest.raises(KeyError, match="unknown training algorithm"):
        net.train([X], algo="nope")


def test_abstract_optimizer_is_not_an_algo(monkeypatch):
    monkeypatch.setattr(pytensor, "function", _no_compiling)
    net, data = _regressor()
    with pytest.raises(
        util.UnknownNameError,
        match=r"unknown training algorithm 'optimizer'; valid choices are: "
        r"adadelta, .*sgd",
    ):
        net.train(data, algo="optimizer")
    with pytest.raises(util.UnknownNameError, match=r"unknown subalgo .*'Optimizer'"):
        net.train(data, algo="layerwise", subalgo="Optimizer")


def _no_compiling(*args, **kwargs):
    raise AssertionError("nothing may be compiled")


def test_non_trainer_algo_raises():
    net, data = _regressor()
    with pytest.raises(
        util.ConfigurationError,
        match=r"algo must be an algorithm name \(adadelta, .*, pretrain\) or a "
        r"trainer object with an itertrain method, not None",
    ):
        net.train(data, algo=None)


def test_deprecated_algorithm_keyword(monkeypatch):
    built = _record_builds(monkeypatch)
    net, data = _regressor()
    with pytest.warns(DeprecationWarning, match="please use algo= instead of algorithm="):
        net.train(data, algorithm="sgd", max_updates=1)
    with pytest.warns(DeprecationWarning):
        net.train(data, algorithm=["nag", "sgd"], momentum=0.5, max_updates=1)
    # algorithm= overrides algo=
    with pytest.warns(DeprecationWarning):
        net.train(data, algo="adam", algorithm=("adagrad",), max_updates=1)
    assert built == ["sgd", "nag", "adagrad"]


class _CountingTrainer:
    """A user trainer object: yields three fixed pairs and records its call."""

    def __init__(self):
        self.calls = []

    def itertrain(self, train, valid=None, **kwargs):
        self.calls.append((train, valid, kwargs))
        for i in range(3):
            yield dict(loss=float(i)), dict(loss=-float(i))


def test_trainer_object_as_algo():
    net, data = _regressor()
    user = _CountingTrainer()
    pairs = list(net.itertrain(data, algo=user, batch_size=8, anything=5))
    assert pairs == [(dict(loss=i), dict(loss=-i)) for i in (0.0, 1.0, 2.0)]
    ((train, valid, kwargs),) = user.calls
    assert isinstance(train, downhill.Dataset) and isinstance(valid, downhill.Dataset)
    assert (train.name, valid.name) == ("train", "valid")
    assert train.batch_size == 8 and train.iteration_size == 8
    assert kwargs["anything"] == 5 and kwargs["batch_size"] == 8 and kwargs["rng"] == 13


def test_downhill_trainer_object_as_algo():
    net, data = _regressor()
    before = _loss_fn(net)(*data)
    net.train(
        data,
        algo=trainer.DownhillTrainer("adam", net),
        learning_rate=0.01,
        max_updates=10,
        validate_every=1,
    )
    assert _loss_fn(net)(*data) < before


# ----- sample -----------------------------------------------------------------


def _unit_rows(a):
    a = a.astype("float64")
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def _assert_rows_from(rows, data):
    """Every row of ``rows`` is a unit-norm row of ``data``; no row twice."""
    candidates = _unit_rows(data)
    np.testing.assert_allclose(np.linalg.norm(rows, axis=1), 1, rtol=1e-5)
    found = []
    for row in rows.astype("float64"):
        dist = np.abs(candidates - row).max(axis=1)
        assert dist.min() < 1e-5, "row {} is not a normalized data row".format(row)
        found.append(int(dist.argmin()))
    assert len(set(found)) == len(found)


def test_sample_regressor():
    net, data = _regressor()
    before = _values(net)
    pairs = list(net.itertrain(data, algo="sample"))
    assert pairs == [(dict(loss=0), dict(loss=0))]
    after = _values(net)
    assert after["out.w"].shape == (8, 3)
    _assert_rows_from(after["out.w"], Y)  # unit-norm target rows
    _assert_rows_from(after["hid1.w"].T, X)  # columns are unit-norm input rows
    for name in ("hid1.b", "out.b"):
        np.testing.assert_array_equal(after[name], before[name])
    assert all(after[k].dtype == before[k].dtype for k in before)


def test_sample_autoencoder():
    net, data = _autoencoder()
    net.train(data, algo="sample")
    _assert_rows_from(net.find("out", "w").get_value(), X)
    _assert_rows_from(net.find("hid1", "w").get_value().T, X)


def test_sample_classifier_leaves_output_weights_alone():
    # Integer labels are no samples; the output weights keep their values.
    net, data = _classifier()
    out = net.find("out", "w").get_value().copy()
    net.train(data, algo="sample", batch_size=3)  # batches as long as the classes
    np.testing.assert_array_equal(net.find("out", "w").get_value(), out)
    _assert_rows_from(net.find("hid1", "w").get_value().T, X)


def test_sample_weighted_regressor_samples_targets_not_weights():
    net = theanets.Regressor([4, 8, 3], weighted=True)
    weights = np.full_like(Y, 7.0)
    net.train([X, Y, weights], algo="sample")
    _assert_rows_from(net.find("out", "w").get_value(), Y)


def test_sample_with_fewer_samples_than_units():
    net = theanets.Regressor([4, 10, 3])
    few = X[:6]
    net.train([few, Y[:6]], algo="sample", batch_size=100)
    w = net.find("hid1", "w").get_value().T.astype("float64")
    np.testing.assert_allclose(np.linalg.norm(w, axis=1), 1, rtol=1e-5)
    # The first six are the samples themselves, the rest jittered copies.
    _assert_rows_from(w[:6], few)
    assert np.all(np.isfinite(w))


def test_sample_skips_zero_rows():
    data = X.copy()
    data[::2] = 0
    net = theanets.Autoencoder([4, 3, 4])
    net.train([data], algo="sample")
    _assert_rows_from(net.find("hid1", "w").get_value().T, data[1::2])
    with pytest.raises(util.DataError, match="no non-zero samples"):
        theanets.Autoencoder([4, 3, 4]).train([np.zeros_like(X)], algo="sample")


def test_sample_is_seeded_by_rng():
    a, b, c = (theanets.Regressor([4, 8, 3]) for _ in range(3))
    big_x = np.random.RandomState(1).randn(500, 4).astype(FLOAT)
    big_y = np.random.RandomState(2).randn(500, 3).astype(FLOAT)
    a.train([big_x, big_y], algo="sample", rng=5)
    b.train([big_x, big_y], algo="sample", rng=5)
    c.train([big_x, big_y], algo="sample", rng=6)
    np.testing.assert_array_equal(a.find("hid1", "w").get_value(), b.find("hid1", "w").get_value())
    assert not np.array_equal(a.find("hid1", "w").get_value(), c.find("hid1", "w").get_value())
    # A numpy RandomState works too (it also shuffles the batches).
    d = theanets.Regressor([4, 8, 3])
    d.train([big_x, big_y], algo="sample", rng=np.random.RandomState(5))
    _assert_rows_from(d.find("hid1", "w").get_value().T, big_x)
    _assert_rows_from(d.find("out", "w").get_value(), big_y)


def test_reservoir_static_method():
    rng = np.random.RandomState(3)
    xs = np.arange(1, 41, dtype="float64").reshape((20, 2))
    pool = trainer.SampleTrainer.reservoir(iter(xs), 5, rng)
    assert pool.shape == (5, 2)
    _assert_rows_from(pool, xs)


# ----- layerwise ----------------------------------------------------------------


def _stages(net, pairs_iter, limit=None):
    """Run ``pairs_iter``, recording the layer names of the network at each yield."""
    names = []
    for i, _ in enumerate(pairs_iter):
        names.append(tuple(layer.name for layer in net.layers))
        if limit is not None and i + 1 >= limit:
            break
    return names


def _distinct(seq):
    out = []
    for item in seq:
        if not out or out[-1] != item:
            out.append(item)
    return out


def test_layerwise_untied_stages_in_order():
    net = theanets.Regressor([4, 5, 6, 3])
    original = list(net.layers)
    before = _values(net)
    names = _stages(
        net,
        net.itertrain(
            [X, Y], algo="layerwise", max_updates=2, learning_rate=0.01, validate_every=1
        ),
    )
    assert names == [("in", "hid1", "lwout")] * 2 + [("in", "hid1", "hid2", "out")] * 2
    assert net.layers == original and all(a is b for a, b in zip(net.layers, original, strict=True))
    assert net.losses[0].output_name == "out:out"
    after = _values(net)
    assert sorted(after) == ["hid1.b", "hid1.w", "hid2.b", "hid2.w", "out.b", "out.w"]
    assert all(not np.array_equal(before[k], after[k]) for k in after)
    assert net.predict(X).shape == (N, 3)


def test_layerwise_first_stage_trains_hid1_and_temporary_output_only():
    net = theanets.Regressor([4, 5, 6, 3])
    original = list(net.layers)
    before = _values(net)
    seen = []
    for _ in net.itertrain([X, Y], algo="layerwise", max_updates=3, learning_rate=0.01):
        seen.append(net.layers[-1])
        if len(seen) == 3:
            lwout = net.layers[-1]
            assert lwout.name == "lwout" and lwout.output_size == 3
            assert lwout.kwargs["activation"] == "linear"
            assert [p.name for p in lwout.params] == ["lwout.w", "lwout.b"]
            assert [p.name for p in net.params] == ["hid1.w", "hid1.b", "lwout.w", "lwout.b"]
            assert net.losses[0].output_name == "lwout:out"
            now = {p.name: p.get_value() for layer in original for p in layer.params}
            assert not np.array_equal(now["hid1.w"], before["hid1.w"])
            for name in ("hid2.w", "hid2.b", "out.w", "out.b"):
                np.testing.assert_array_equal(now[name], before[name])
    assert len(seen) == 6


def test_layerwise_classifier_temporary_output_is_softmax():
    net = theanets.Classifier([4, 5, 6, 3])
    for train, valid in net.itertrain([X, LABELS], algo="layerwise", max_updates=1):
        assert net.layers[-1].kwargs["activation"] == "softmax"
        assert list(train) == ["loss", "err", "acc"]
        break
    assert [l.name for l in net.layers] == ["in", "hid1", "hid2", "out"]


def test_layerwise_single_hidden_layer_is_one_stage():
    net = theanets.Regressor([4, 5, 3])
    names = _stages(net, net.itertrain([X, Y], algo="layerwise", max_updates=2))
    assert names == [("in", "hid1", "out")] * 2


def _tied_names(names):
    """Layer names with the global counter of tied layers replaced by '#'."""
    return tuple("tied#" if n.startswith("tied") and n[4:].isdigit() else n for n in names)


def test_layerwise_deep_tied_autoencoder():
    net = theanets.Autoencoder([4, 5, 3, ("tied", 5), ("tied", 4)])
    original = list(net.layers)
    partners = []
    names = []
    for _ in net.itertrain([X], algo="layerwise", max_updates=1):
        names.append(_tied_names(l.name for l in net.layers))
        partners.append(
            [l.partner.name if isinstance(l, layers.Tied) else None for l in net.layers]
        )
    assert names == [("in", "hid1", "tied#"), ("in", "hid1", "hid2", "hid3", "out")]
    assert partners[0] == [None, None, "hid1"]
    assert partners[1] == [None, None, None, "hid2", "hid1"]
    assert net.layers == original and net.losses[0].output_name == "out:out"


def test_layerwise_deeper_tied_autoencoder():
    net = theanets.Autoencoder([4, 6, 5, 3, ("tied", 5), ("tied", 6), ("tied", 4)])
    names, partners = [], []
    for _ in net.itertrain([X], algo="layerwise", max_updates=1):
        names.append(_tied_names(l.name for l in net.layers))
        partners.append([l.partner.name for l in net.layers if isinstance(l, layers.Tied)])
    assert names == [
        ("in", "hid1", "tied#"),
        ("in", "hid1", "hid2", "tied#", "tied#"),
        ("in", "hid1", "hid2", "hid3", "hid4", "hid5", "out"),
    ]
    assert partners == [["hid1"], ["hid2", "hid1"], ["hid3", "hid2", "hid1"]]


def test_layerwise_restores_layers_when_consumer_stops_early():
    net = theanets.Regressor([4, 5, 6, 3])
    original = list(net.layers)
    gen = net.itertrain([X, Y], algo="layerwise", max_updates=5)
    next(gen)
    assert [l.name for l in net.layers] == ["in", "hid1", "lwout"]
    gen.close()
    assert net.layers == original
    assert net.losses[0].output_name == "out:out"
    # Breaking out of a for loop closes the generator too.
    for _ in net.itertrain([X, Y], algo="layerwise", max_updates=5):
        break
    assert net.layers == original
    # The network still works and trains normally.
    assert net.predict(X).shape == (N, 3)
    names = _stages(net, net.itertrain([X, Y], algo="sgd", max_updates=1))
    assert names == [("in", "hid1", "hid2", "out")]


def test_layerwise_restores_layers_when_a_stage_fails(monkeypatch):
    net = theanets.Regressor([4, 5, 6, 3])
    original = list(net.layers)

    class Boom(Exception):
        pass

    def build(*args, **kwargs):
        raise Boom()

    monkeypatch.setattr(downhill, "build", build)
    with pytest.raises(Boom):
        net.train([X, Y], algo="layerwise")
    assert net.layers == original and net.losses[0].output_name == "out:out"


def test_layerwise_twice_on_one_network():
    # The second run's temporary 'lwout' layer is a new layer with new
    # parameters; no graph of the first run may be reused for it.
    net = theanets.Regressor([4, 5, 6, 3])
    for _ in range(2):
        names = _stages(
            net, net.itertrain([X, Y], algo="layerwise", max_updates=2, validate_every=1)
        )
        assert names == [("in", "hid1", "lwout")] * 2 + [("in", "hid1", "hid2", "out")] * 2
    # Stopped early, then run again.
    _stages(net, net.itertrain([X, Y], algo="layerwise", max_updates=2), limit=1)
    assert len(_stages(net, net.itertrain([X, Y], algo="layerwise", max_updates=2))) == 4


def test_layerwise_subalgo(monkeypatch):
    built = _record_builds(monkeypatch)
    net = theanets.Regressor([4, 5, 6, 3])
    net.train([X, Y], algo="layerwise", subalgo="SGD", max_updates=1)
    net.train([X, Y], algo="supervised", max_updates=1)
    assert built == ["sgd", "sgd", "rmsprop", "rmsprop"]


def test_layerwise_logs_stages(caplog):
    net = theanets.Regressor([4, 5, 6, 3])
    with caplog.at_level(logging.INFO, logger="theanets"):
        net.train([X, Y], algo="layerwise", max_updates=1)
    stages = [r.getMessage() for r in caplog.records if "layerwise stage" in r.getMessage()]
    assert stages == [
        "layerwise stage 1/2: in -> hid1 -> lwout",
        "layerwise stage 2/2: in -> hid1 -> hid2 -> out",
    ]


# ----- pretrain -----------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: theanets.Classifier([4, 5, 6, 3]),
        lambda: theanets.Regressor([4, 5, 6, 3]),
    ],
)
def test_pretrain_copies_hidden_params_and_leaves_output(make, caplog):
    net = make()
    before = _values(net)
    with caplog.at_level(logging.INFO, logger="theanets"):
        pairs = list(
            net.itertrain([X], algo="pretrain", max_updates=2, learning_rate=0.01, validate_every=1)
        )
    assert len(pairs) == 4  # two stages of two updates
    assert all(list(t) == ["loss", "err"] for t, _ in pairs)  # an autoencoder's monitors
    stages = [r.getMessage() for r in caplog.records if "layerwise stage" in r.getMessage()]
    assert [_tied_names(s.split(": ")[1].split(" -> ")) for s in stages] == [
        ("in", "hid1", "tied#"),
        ("in", "hid1", "hid2", "hid3", "out"),
    ]
    copied = sorted(
        r.getMessage().split()[-1] for r in caplog.records if "copying pretrained" in r.getMessage()
    )
    assert copied == ["hid1.b", "hid1.w", "hid2.b", "hid2.w"]
    after = _values(net)
    for name in ("hid1.w", "hid1.b", "hid2.w", "hid2.b"):
        assert not np.array_equal(after[name], before[name]), name
    for name in ("out.w", "out.b"):
        np.testing.assert_array_equal(after[name], before[name])
    assert [l.name for l in net.layers] == ["in", "hid1", "hid2", "out"]


def test_pretrain_params_are_the_trained_shadow_params(monkeypatch):
    # Capture the shadow autoencoder and compare its final params with ours.
    shadows = []
    real = trainer.SupervisedPretrainer.__init__

    def init(self, algo, network):
        shadows.append(network)
        real(self, algo, network)

    monkeypatch.setattr(trainer.SupervisedPretrainer, "__init__", init)
    net = theanets.Regressor([4, 5, 3])
    net.train([X], algo="unsupervised", max_updates=2, validate_every=1)
    (shadow,) = shadows
    assert isinstance(shadow, theanets.Autoencoder) and shadow is not net
    assert [l.name for l in shadow.layers] == ["in", "hid1", "out"]
    assert isinstance(shadow.layers[-1], layers.Tied)
    assert shadow.layers[-1].kwargs["activation"] == "linear"
    for name in ("w", "b"):
        np.testing.assert_array_equal(
            net.find("hid1", name).get_value(), shadow.find("hid1", name).get_value()
        )


def test_pretrain_rejects_labels_before_compiling(monkeypatch):
    monkeypatch.setattr(pytensor, "function", _no_compiling)
    net = theanets.Classifier([4, 5, 3])
    with pytest.raises(
        util.DataError,
        match=r"algo='pretrain' trains on the inputs alone\) "
        r"takes 1 array\(s\) \(in\), but 2 were given",
    ):
        net.train([X, LABELS], algo="pretrain")


def test_pretrain_needs_a_hidden_layer():
    net = theanets.Regressor([4, 3])
    with pytest.raises(util.ConfigurationError, match="pretrain needs at least one hidden layer"):
        net.train([X], algo="pretrain")


def test_pretrain_subalgo(monkeypatch):
    built = _record_builds(monkeypatch)
    net = theanets.Regressor([4, 5, 6, 3])
    net.train([X], algo="pretrain", subalgo="adagrad", max_updates=1)
    assert built == ["adagrad", "adagrad"]


# ----- issue 15: each call's rng, and updates dropped without a word ------------


def _noisy_twice(first, second):
    x = np.random.RandomState(3).randn(20, 4).astype("float32")
    net = theanets.Autoencoder([4, (3, "relu"), 4], rng=5)
    for seed in (first, second):
        net.train(
            [x],
            algo="sgd",
            max_updates=3,
            validate_every=1,
            input_noise=0.5,
            learning_rate=0.1,
            rng=seed,
            batch_size=20,
            patience=100,
        )
    return [p.get_value() for p in net.params]


def test_each_train_call_draws_noise_from_its_own_rng():
    again = _noisy_twice(1, 1)
    np.testing.assert_allclose(_noisy_twice(1, 1)[0], again[0])  # the same seeds: the same
    other = _noisy_twice(1, 7)
    assert not np.allclose(other[0], again[0]), "the second rng did not change the noise"


def test_updates_after_the_last_validation_are_dropped_with_a_warning(caplog):
    x = np.random.RandomState(3).randn(20, 4).astype("float32")
    net = theanets.Autoencoder([4, 3, 4])
    before = [p.get_value().copy() for p in net.params]
    with caplog.at_level(logging.WARNING, logger="theanets"):
        net.train([x], max_updates=5, batch_size=20)  # validate_every=10
    # the original's numbers: the best validated parameters are the initial ones
    for value, old in zip([p.get_value() for p in net.params], before, strict=True):
        np.testing.assert_allclose(value, old)
    assert re.search(
        r"the last 5 of 5 updates came after the last validation \(at update 0\) "
        r"and are dropped.*no update was validated: validate_every=10",
        caplog.text,
    ), caplog.text


def test_batches_from_a_callable_are_checked():
    net = theanets.Regressor([3, 4, 2])
    batch = [np.zeros((5, 4), "float32"), np.zeros((5, 2), "float32")]

    def wrong_width():
        return batch

    with pytest.raises(
        util.DataError,
        match=r"Regressor.train \(valid data\), a batch from "
        r"wrong_width: .*in.*\(5, 4\)",
    ):
        net.train(wrong_width, max_updates=1)


def test_sequences_of_different_lengths_are_refused():
    net = theanets.recurrent.Regressor([3, (4, "rnn"), 2])
    x, y = np.zeros((2, 5, 3), "float32"), np.zeros((2, 4, 2), "float32")
    with pytest.raises(
        util.DataError,
        match=r"sequences must have the same number of time "
        r"steps \(axis 1\), but in has 5, target has 4",
    ):
        net.train([x, y], max_updates=1)
    # from a callable too
    with pytest.raises(util.DataError, match=r"a batch from <lambda>: sequences must have"):
        net.train(lambda: [x, y], max_updates=1)


@contextlib.contextmanager
def _sigint(handler):
    """SIGINT handled by ``handler`` for the test, as before afterwards.

    A process started in the background by a non-interactive shell (``cmd &``,
    as a CI script may start the suite) inherits SIGINT ignored, and Python
    then keeps it ignored: the Ctrl-C test must set up the terminal's case
    itself.
    """
    import signal

    before = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


def _train_and_press_ctrl_c_at_step(step):
    import signal

    x = np.random.RandomState(0).randn(16, 3).astype("float32")
    net = theanets.Regressor([3, 2])
    steps = 0
    for _ in net.itertrain([x, x[:, :2]], max_updates=50, validate_every=1, batch_size=16):
        steps += 1
        if steps == step:
            # delivered to this (the main) thread before raise_signal returns
            signal.raise_signal(signal.SIGINT)
    return steps


def test_ctrl_c_stops_after_the_current_step_and_is_never_lost():
    import signal

    with _sigint(signal.default_int_handler):
        steps = _train_and_press_ctrl_c_at_step(3)
        assert steps == 3  # stopped before the next step, no KeyboardInterrupt escaped
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored


def test_training_leaves_an_ignored_or_own_sigint_handler_alone():
    import signal

    with _sigint(signal.SIG_IGN):
        assert _train_and_press_ctrl_c_at_step(3) == 50  # ignored, as the program asked
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    seen = []

    def own(signum, frame):
        seen.append(signum)

    with _sigint(own):
        assert _train_and_press_ctrl_c_at_step(3) == 50
        assert seen == [signal.SIGINT]  # the program's handler got it
        assert signal.getsignal(signal.SIGINT) is own


def test_pretrain_copies_the_parameters_of_layers_with_dots_in_their_names(caplog):
    net = theanets.Regressor([4, dict(size=5, name="enc.1"), dict(size=6, name="enc"), 3])
    before = _values(net)
    with caplog.at_level(logging.INFO, logger="theanets"):
        net.train([X], algo="pretrain", max_updates=2, learning_rate=0.01, validate_every=1)
    copied = sorted(
        r.getMessage().split()[-1] for r in caplog.records if "copying pretrained" in r.getMessage()
    )
    assert copied == ["enc.1.b", "enc.1.w", "enc.b", "enc.w"]
    after = _values(net)
    for name in ("enc.1.w", "enc.w"):
        assert not np.array_equal(after[name], before[name]), name
