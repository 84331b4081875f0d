"""Tests of the model classes (Autoencoder, Regressor, Classifier), Experiment,
and casting of data in other dtypes to floatX."""

import pickle
import warnings

import numpy as np
import pytest

import theanets
from theanets import util

TOL = dict(rtol=1e-5, atol=1e-6)  # float32 values


def _x(n=8, d=5, seed=0):
    return np.random.RandomState(seed).randn(n, d).astype("float32")


@pytest.fixture(scope="module")
def ae():
    return theanets.Autoencoder([5, (4, "tanh"), (3, "logistic"), 5])


@pytest.fixture(scope="module")
def clf():
    return theanets.Classifier([5, 4, 3])


# ----- Autoencoder --------------------------------------------------------


def test_autoencoder_loss_targets_the_input(ae):
    assert ae.losses[0].variables[0] is ae.inputs[0]
    assert [v.name for v in ae.variables] == ["in"]


def test_encode_default_is_middle_layer(ae):
    x = _x()
    out = ae.feed_forward(x)
    np.testing.assert_allclose(ae.encode(x), out["hid2:out"], **TOL)
    three = theanets.Autoencoder([5, 4, 5])
    np.testing.assert_allclose(three.encode(x), three.feed_forward(x)["hid1:out"], **TOL)


@pytest.mark.parametrize(
    "which,key",
    [
        (1, "hid1:out"),
        (-2, "hid2:out"),
        ("hid1", "hid1:out"),
        ("hid1:pre", "hid1:pre"),
        ("out", "out:out"),
    ],
)
def test_encode_layer_choices(ae, which, key):
    x = _x()
    np.testing.assert_allclose(ae.encode(x, layer=which), ae.feed_forward(x)[key], **TOL)


def test_encode_layer_instance(ae):
    x = _x()
    np.testing.assert_allclose(
        ae.encode(x, layer=ae.layers[1]), ae.feed_forward(x)["hid1:out"], **TOL
    )


def test_encode_unknown_layer(ae):
    with pytest.raises(KeyError, match=r"unknown output 'nope'; valid choices are: hid1:out"):
        ae.encode(_x(), layer="nope")
    with pytest.raises(KeyError, match=r"no layer 9 in a network of 4 layers"):
        ae.encode(_x(), layer=9)


def test_encode_sample(ae):
    x = _x()
    np.random.seed(4)
    sample = ae.encode(x, sample=True)
    assert sample.dtype == np.uint8 and sample.shape == (8, 3)
    assert set(np.unique(sample)) <= {0, 1}
    np.random.seed(4)
    expect = np.random.binomial(n=1, p=ae.encode(x)).astype(np.uint8)
    np.testing.assert_array_equal(sample, expect)


def test_encode_sample_needs_probabilities(ae):
    with pytest.raises(
        util.DataError,
        match=r"Autoencoder.encode\(sample=True\) draws 0/1 samples .* "
        r"'hid1:out' has values from .* outside \[0, 1\]",
    ):
        ae.encode(_x() * 10, layer="hid1", sample=True)


def test_decode_inverts_encode(ae):
    x = _x()
    np.testing.assert_allclose(ae.decode(ae.encode(x)), ae.predict(x), **TOL)
    np.testing.assert_allclose(ae.decode(ae.encode(x, layer=1), layer=1), ae.predict(x), **TOL)
    pre = ae.encode(x, layer="hid1:pre")
    np.testing.assert_allclose(ae.decode(pre, layer="hid1:pre"), ae.predict(x), **TOL)
    assert ("decode", "hid2:out") in ae._caches["functions"]


def test_decode_codes_of_wrong_width(ae):
    with pytest.raises(
        util.DataError,
        match=r"Autoencoder.decode: z must be a float array of shape \(N, 3\), "
        r"but has shape \(8, 4\)",
    ):
        ae.decode(np.zeros((8, 4)))
    with pytest.raises(util.DataError, match=r"z must be a float array of shape \(N, 4\)"):
        ae.decode(np.zeros((8, 3)), layer="hid1:pre")


def test_autoencoder_score_second_argument_is_weight(ae):
    x = _x()
    w = np.random.RandomState(3).uniform(0, 1, x.shape).astype("float32")
    yhat = ae.predict(x)
    expect = 1 - (w * (x - yhat) ** 2).sum() / (w * (x - x.mean()) ** 2).sum()
    np.testing.assert_allclose(ae.score(x, w), expect, rtol=1e-5)
    plain = 1 - ((x - yhat) ** 2).sum() / ((x - x.mean()) ** 2).sum()
    np.testing.assert_allclose(ae.score(x), plain, rtol=1e-5)


def test_tied_autoencoder():
    net = theanets.Autoencoder([5, (3, "linear"), ("tied", "linear")], weighted=True)
    x = _x()
    assert net.predict(x).shape == x.shape
    assert [v.name for v in net.variables] == ["in", "weights"]


def test_autoencoder_output_must_match_input():
    with pytest.raises(
        util.ConfigurationError,
        match=r"Autoencoder: output layer 'out' has shape \(4,\), but input "
        r"layer 'in' has shape \(5,\)",
    ):
        theanets.Autoencoder([5, 3, 4])


# ----- Regressor ----------------------------------------------------------


def test_regressor():
    net = theanets.Regressor([5, 4, 2], weighted=True)
    assert [v.name for v in net.variables] == ["in", "target", "weights"]
    assert net.predict(_x()).shape == (8, 2)
    assert net.losses[0].variables[0].ndim == 2


def test_regressor_loss_options():
    net = theanets.Regressor([5, 2], loss="mae", rng=np.random.RandomState(3))
    assert isinstance(net.losses[0], theanets.losses.MeanAbsoluteError)
    ref = np.random.RandomState(3)
    np.testing.assert_allclose(
        net.find("out", "w").get_value(), ref.randn(5, 2) / np.sqrt(7), rtol=1e-5
    )


# ----- Classifier ---------------------------------------------------------


def test_classifier_predictions(clf):
    x = _x()
    proba = clf.predict_proba(x)
    assert proba.shape == (8, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    np.testing.assert_array_equal(clf.predict(x), proba.argmax(axis=1))
    logit = clf.predict_logit(x)
    np.testing.assert_allclose(logit, clf.feed_forward(x)["out:pre"], **TOL)
    soft = np.exp(logit - logit.max(1, keepdims=True))
    np.testing.assert_allclose(soft / soft.sum(1, keepdims=True), proba, **TOL)


def test_classify_is_deprecated(clf):
    x = _x()
    with pytest.warns(DeprecationWarning, match="please use predict"):
        labels = clf.classify(x)
    np.testing.assert_array_equal(labels, clf.predict(x))


def test_classifier_score(clf):
    x = _x()
    pred = clf.predict(x)
    y = pred.copy()
    y[:3] = (y[:3] + 1) % 3
    np.testing.assert_allclose(clf.score(x, y), 5 / 8, **TOL)
    w = np.arange(1, 9, dtype="float32")
    np.testing.assert_allclose(clf.score(x, y, w), w[3:].sum() / w.sum(), **TOL)
    np.testing.assert_allclose(clf.score(x, y.astype("float64")), 5 / 8, **TOL)


def test_classifier_monitors_add_accuracy(clf):
    names = [n for n, _ in clf.monitors()]
    assert names == ["err", "acc"]
    mse = theanets.Classifier([5, 3], loss="mse")
    assert [n for n, _ in mse.monitors()] == ["err"]


def test_classifier_weighted_variables():
    net = theanets.Classifier([5, 3], weighted=True)
    assert [(v.name, v.dtype) for v in net.variables] == [
        ("in", "float32"),
        ("target", "int32"),
        ("weights", "float32"),
    ]


def test_recurrent_classifier_predicts_per_step():
    net = theanets.recurrent.Classifier([3, 4, 2])
    x = np.random.RandomState(0).randn(2, 5, 3).astype("float32")
    assert net.predict(x).shape == (2, 5)
    assert net.predict_proba(x).shape == (2, 5, 2)
    assert net.losses[0].variables[0].ndim == 2


# ----- pickling -----------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: theanets.Autoencoder([5, (3, "prelu"), "tied"]),
        lambda: theanets.Regressor([5, (4, "relu+norm:z"), 2]),
        lambda: theanets.Classifier([5, (4, "maxout:2"), 3], weighted=True),
    ],
)
def test_pickle_round_trip(make):
    net = make()
    x = _x()
    copy = pickle.loads(pickle.dumps(net, -1))
    assert type(copy) is type(net)
    assert [p.name for p in copy.params] == [p.name for p in net.params]
    assert [v.name for v in copy.variables] == [v.name for v in net.variables]
    np.testing.assert_allclose(copy.predict(x), net.predict(x), **TOL)


# ----- dtype casting (upstream issue #15) ---------------------------------


@pytest.mark.parametrize("dtype", ["float64", "float16", "int64", "int8", "uint8", "bool"])
def test_other_dtypes_are_cast(dtype, ae, clf):
    x = np.random.RandomState(0).randn(8, 5) * 3
    x = (x > 0) if dtype == "bool" else x.astype(dtype)
    x32 = x.astype("float32")
    np.testing.assert_allclose(ae.predict(x), ae.predict(x32), **TOL)
    assert ae.predict(x).dtype == np.float32
    np.testing.assert_allclose(ae.encode(x), ae.encode(x32), **TOL)
    np.testing.assert_allclose(ae.score(x), ae.score(x32), rtol=1e-5)
    np.testing.assert_allclose(ae.decode(ae.encode(x).astype("float64")), ae.predict(x32), **TOL)
    np.testing.assert_array_equal(clf.predict(x), clf.predict(x32))
    labels = clf.predict(x32)
    np.testing.assert_allclose(clf.score(x, labels.astype("int64")), 1, **TOL)
    reg = theanets.Regressor([5, 2])
    y = np.random.RandomState(1).randn(8, 2)
    np.testing.assert_allclose(reg.score(x, y), reg.score(x32, y.astype("float32")), rtol=1e-5)


def test_lists_are_accepted(clf):
    x = _x()
    np.testing.assert_allclose(clf.predict_proba(x.tolist()), clf.predict_proba(x), **TOL)


# ----- Experiment ---------------------------------------------------------


def test_experiment_with_class():
    exp = theanets.Experiment(theanets.Regressor, [5, 2], loss="mae")
    assert type(exp.network) is theanets.Regressor
    assert isinstance(exp.network.losses[0], theanets.losses.MeanAbsoluteError)


def test_experiment_with_instance():
    net = theanets.Classifier([5, 3])
    assert theanets.Experiment(net).network is net


def test_experiment_with_saved_path(tmp_path):
    net = theanets.Autoencoder([5, 3, 5])
    path = tmp_path / "model.pkl"
    theanets.Experiment(net).save(str(path))
    exp = theanets.Experiment(str(path))
    assert type(exp.network) is theanets.Autoencoder
    np.testing.assert_allclose(exp.network.predict(_x()), net.predict(_x()), **TOL)
    again = exp.load(str(path))
    assert again is exp.network and again is not net


@pytest.mark.parametrize("bad", [theanets.graph.Network, "no/such/file.pkl", 3, dict])
def test_experiment_rejects(bad):
    with pytest.raises(
        util.ConfigurationError,
        match=r"Experiment needs a model class \(e.g. theanets.Regressor\), a "
        r"network, or the path of a saved model; got",
    ):
        theanets.Experiment(bad)


def test_no_warnings_on_plain_use(clf):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf.predict(_x())
        clf.score(_x(), np.zeros(8, "int32"))
