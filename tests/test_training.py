"""Tests of Network.itertrain / Network.train: data, monitors, checkpoints.

Also the reliability guarantees of training: a diverging model stops with a
warning and keeps its best finite parameters; a KeyboardInterrupt stops
training cleanly with the best parameters; a checkpoint save that fails
leaves the previous checkpoint intact.
"""

import io
import logging
import os
import pickle
import re

import numpy as np
import pandas as pd
import pytensor
import pytensor.tensor as TT
import pytest

import theanets
from theanets import downhill, graph, options, trainer, util

FLOAT = pytensor.config.floatX
#: Float32 tolerances (monitor values are float32 means kept as floats).
TOL = dict(rtol=1e-5, atol=1e-6)
APPROX = dict(rel=1e-5, abs=1e-6)

N = 48
_rs = np.random.RandomState(3)
X = _rs.randn(N, 4).astype(FLOAT)
Y = _rs.randn(N, 3).astype(FLOAT)
LABELS = _rs.randint(0, 3, N).astype("int32")


def _snapshot(net):
    return [p.get_value().copy() for p in net.params]


def _same(a, b):
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def _no_compiling(*args, **kwargs):
    raise AssertionError("nothing may be compiled before the data is checked")


def _loss(net, data):
    return float(pytensor.function(net.variables, net.loss())(*data))


# ----- monitors -----------------------------------------------------------------


@pytest.mark.parametrize(
    "make, data, keys",
    [
        (lambda: theanets.Regressor([4, 5, 3]), [X, Y], ["loss", "err"]),
        (lambda: theanets.Autoencoder([4, 3, 4]), [X], ["loss", "err"]),
        (lambda: theanets.Classifier([4, 5, 3]), [X, LABELS], ["loss", "err", "acc"]),
    ],
)
def test_monitor_keys_and_types(make, data, keys):
    net = make()
    pairs = list(net.itertrain(data, max_updates=3))
    assert len(pairs) == 3
    for train, valid in pairs:
        assert list(train) == list(valid) == keys
        assert all(type(v) is float and np.isfinite(v) for v in train.values())
        assert train["loss"] == pytest.approx(train["err"], **APPROX)


def test_first_validation_is_of_the_initial_parameters_and_is_reused():
    net = theanets.Regressor([4, 5, 3])
    initial = _loss(net, [X, Y])
    pairs = list(
        net.itertrain(
            [X, Y], algo="sgd", learning_rate=0.01, batch_size=N, max_updates=5, validate_every=2
        )
    )
    valids = [v for _, v in pairs]
    assert valids[0]["loss"] == pytest.approx(initial, **APPROX)
    assert valids[0] is valids[1] and valids[2] is valids[3] and valids[0] is not valids[2]
    assert pairs[0][0]["loss"] == pytest.approx(initial, **APPROX)  # before the update
    assert valids[2]["loss"] < valids[0]["loss"]


def test_train_returns_the_last_pair():
    net = theanets.Regressor([4, 5, 3])
    last = None
    for last in theanets.Regressor([4, 5, 3]).itertrain([X, Y], max_updates=4):
        pass
    result = net.train([X, Y], max_updates=4)
    assert isinstance(result, tuple) and len(result) == 2
    assert result[0] == pytest.approx(last[0], **APPROX)
    assert net.train([X, Y], max_updates=0) is None


def test_loss_includes_regularizers_err_does_not():
    net = theanets.Regressor([4, 5, 3])
    l2 = np.mean(
        [np.mean(net.find(n, "w").get_value().astype("float64") ** 2) for n in ("hid1", "out")]
    )
    _, valid = net.train([X, Y], batch_size=N, max_updates=1, weight_l2=0.5)
    assert valid["loss"] - valid["err"] == pytest.approx(0.5 * l2, rel=1e-4)


def test_custom_monitors():
    net = theanets.Classifier([4, 5, 3])
    outs = net.feed_forward(X)
    w = net.find("out", "w").get_value()
    monitors = {
        "hid1:out": [0.1, 0.5],
        "out.w": {"absmean": lambda e: abs(e).mean()},
        "nothing*": 0.3,
    }
    train, valid = net.train([X, LABELS], batch_size=N, max_updates=1, monitors=monitors)
    assert list(valid) == ["loss", "err", "hid1:out<0.1", "hid1:out<0.5", "out.w:absmean", "acc"]
    assert valid["hid1:out<0.1"] == pytest.approx(np.mean(outs["hid1:out"] < 0.1), **APPROX)
    assert valid["hid1:out<0.5"] == pytest.approx(np.mean(outs["hid1:out"] < 0.5), **APPROX)
    assert valid["out.w:absmean"] == pytest.approx(np.abs(w).mean(), **APPROX)
    assert valid["acc"] == pytest.approx(
        np.mean(outs["out:out"].argmax(axis=1) == LABELS), **APPROX
    )
    # A list of pairs works the same; a pattern may match several outputs.
    _, valid = theanets.Classifier([4, 5, 3]).train(
        [X, LABELS], max_updates=1, monitors=[("hid1:*", 0.0), ("*.b", [("n", TT.max)])]
    )
    assert list(valid) == [
        "loss",
        "err",
        "hid1:out<0.0",
        "hid1:pre<0.0",
        "hid1.b:n",
        "out.b:n",
        "acc",
    ]


def test_bad_monitor_levels_raise():
    net = theanets.Regressor([4, 5, 3])
    with pytest.raises(util.ConfigurationError, match="monitor levels for 'hid1:out'"):
        net.train([X, Y], max_updates=1, monitors={"hid1:out": ["x"]})


def test_gradient_monitors():
    # A linear model: the gradient of the MSE is 2 X^T (XW + b - Y) / (N * 3).
    net = theanets.Regressor([4, (3, "linear")])
    w = net.find("out", "w").get_value().astype("float64")
    b = net.find("out", "b").get_value().astype("float64")
    r = X.astype("float64").dot(w) + b - Y
    gw, gb = 2 * X.T.dot(r) / r.size, 2 * r.sum(axis=0) / r.size
    _, valid = net.train([X, Y], batch_size=N, max_updates=1, monitor_gradients=True)
    assert list(valid) == ["loss", "err", "grad(out.w)", "grad(out.b)"]
    assert valid["grad(out.w)"] == pytest.approx((gw**2).sum(), rel=1e-4)
    assert valid["grad(out.b)"] == pytest.approx((gb**2).sum(), rel=1e-4)
    train, _ = net.train([X, Y], max_updates=1)
    assert "grad(out.w)" not in train


# ----- datasets -------------------------------------------------------------------


class _RecordingDataset(downhill.Dataset):
    """A Dataset that records itself and counts the mini-batches it gives out."""

    made = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.given = []
        _RecordingDataset.made.append(self)

    def iterate(self, shuffle=True):
        for batch in super().iterate(shuffle):
            self.given.append(len(batch[0]))
            yield batch


@pytest.fixture
def datasets(monkeypatch):
    _RecordingDataset.made = []
    monkeypatch.setattr(downhill, "Dataset", _RecordingDataset)
    return _RecordingDataset.made


def _by_name(made):
    return {ds.name: ds for ds in made}


def test_batch_size_default_and_given(datasets):
    net = theanets.Regressor([4, 5, 3])
    net.train([X, Y], max_updates=2, validate_every=1)
    ds = _by_name(datasets)
    assert sorted(ds) == ["train", "valid"]
    assert ds["train"].batch_size == 32 and ds["train"].iteration_size == 2
    assert sorted(ds["train"].given) == [16, 16, 32, 32]  # two passes of 48 = 32 + 16
    assert sorted(ds["valid"].given) == [16, 16, 32, 32]
    del datasets[:]
    net.train([X, Y], max_updates=2, validate_every=1, batch_size=10, axis=0)
    ds = _by_name(datasets)
    assert ds["train"].given.count(10) == 8 and ds["train"].given.count(8) == 2
    assert ds["train"].iteration_size == 5 and ds["train"].rng is not ds["valid"].rng


def test_train_batches_valid_batches_and_iteration_size(datasets):
    net = theanets.Regressor([4, 5, 3])
    net.train(
        [X, Y], max_updates=3, validate_every=1, batch_size=8, train_batches=2, valid_batches=4
    )
    ds = _by_name(datasets)
    assert (ds["train"].iteration_size, ds["valid"].iteration_size) == (2, 4)
    assert len(ds["train"].given) == 3 * 2 and len(ds["valid"].given) == 3 * 4
    del datasets[:]
    net.train(
        [X, Y],
        max_updates=3,
        validate_every=1,
        batch_size=8,
        train_batches=2,
        valid_batches=4,
        iteration_size=1,
    )
    ds = _by_name(datasets)
    assert len(ds["train"].given) == 3 and len(ds["valid"].given) == 3


@pytest.mark.parametrize(
    "option, value",
    [("train_batches", -1), ("valid_batches", 2.5), ("iteration_size", 0), ("axis", "x")],
)
def test_bad_dataset_options_are_named_as_given(option, value):
    # train_batches and valid_batches reach the dataset as its
    # iteration_size: the message names the option the user wrote
    net = theanets.Regressor([4, 5, 3])
    with pytest.raises(util.ConfigurationError, match=r"^{}=".format(option)):
        net.train([X, Y], max_updates=1, **{option: value})


def test_separate_validation_data(datasets):
    net = theanets.Regressor([4, 5, 3])
    valid_x, valid_y = X[:10] * 2, Y[:10]
    _, valid = net.train([X, Y], [valid_x, valid_y], batch_size=N, max_updates=1)
    assert valid["loss"] == pytest.approx(
        _loss(theanets.Regressor([4, 5, 3]), [valid_x, valid_y]), **APPROX
    )
    assert _by_name(datasets)["valid"].given == [10]


def test_dataset_instances_as_data():
    net = theanets.Regressor([4, 5, 3])
    train = downhill.Dataset([X, Y], name="mine", batch_size=12)
    valid = downhill.Dataset([X[:8], Y[:8]], batch_size=4)
    before = _loss(net, [X, Y])
    pairs = list(
        net.itertrain(train, valid, algo="sgd", learning_rate=0.05, max_updates=5, validate_every=1)
    )
    assert len(pairs) == 5 and _loss(net, [X, Y]) < before
    # A Dataset alone is also the validation set.
    assert len(list(theanets.Regressor([4, 5, 3]).itertrain(train, max_updates=2))) == 2


class _Batches:
    """A callable giving random mini-batches, with a length (batches per epoch)."""

    def __init__(self, size=16, count=3, fail_at=None):
        self.rng = np.random.RandomState(5)
        self.size, self.count, self.calls, self.fail_at = size, count, 0, fail_at

    def __len__(self):
        return self.count

    def __call__(self):
        self.calls += 1
        if self.calls == self.fail_at:
            raise KeyboardInterrupt()
        idx = self.rng.randint(0, N, self.size)
        return [X[idx], Y[idx]]


def test_callables_as_data():
    net = theanets.Regressor([4, 5, 3])
    before = _loss(net, [X, Y])
    batches = _Batches()
    pairs = list(
        net.itertrain(batches, algo="sgd", learning_rate=0.05, max_updates=4, validate_every=1)
    )
    assert len(pairs) == 4
    assert batches.calls == 2 * 4 * 3  # train and validation, 3 batches each
    assert _loss(net, [X, Y]) < before
    # A plain function: train_batches says how many calls make an epoch.
    calls = []

    def batch():
        calls.append(1)
        return [X[:8], Y[:8]]

    theanets.Regressor([4, 5, 3]).train(batch, [X, Y], max_updates=2, train_batches=3)
    assert len(calls) == 6


@pytest.mark.parametrize(
    "make, data",
    [
        (lambda: theanets.Regressor([4, 5, 3]), [X.astype("float64"), Y.astype("float64")]),
        (lambda: theanets.Regressor([4, 5, 3]), [_rs.randint(-3, 4, (N, 4)), Y]),
        (lambda: theanets.Autoencoder([4, 3, 4]), [X.astype("float64")]),
        (lambda: theanets.Autoencoder([4, 3, 4]), X.astype("float64")),  # a bare array
        (lambda: theanets.Classifier([4, 5, 3]), [X.astype("float64"), LABELS.astype("int64")]),
        (lambda: theanets.Classifier([4, 5, 3]), [X, LABELS.astype("float64")]),
        (lambda: theanets.Classifier([4, 5, 3]), [X, LABELS.astype("uint8")]),
        (
            lambda: theanets.Regressor([4, 5, 3]),
            [pd.DataFrame(X.astype("float64")), pd.DataFrame(Y)],
        ),
    ],
)
def test_other_dtypes_are_cast(make, data):
    net = make()
    train, valid = net.train(data, max_updates=2, validate_every=1)
    assert np.isfinite(train["loss"]) and np.isfinite(valid["loss"])
    assert all(p.get_value().dtype == FLOAT for p in net.params)


_NAN = X.copy()
_NAN[5, 1] = np.nan
_INF = Y.copy()
_INF[0, 0] = np.inf


@pytest.mark.parametrize(
    "make, train, valid, message",
    [
        (
            "regressor",
            [X],
            None,
            r"Regressor.train \(train data\) takes 2 array\(s\) \(in, target\), but 1 were given",
        ),
        ("regressor", [X, Y, Y], None, r"takes 2 array\(s\) \(in, target\), but 3 were given"),
        (
            "regressor",
            [X[:, :3], Y],
            None,
            r"\(train data\): in must be a float array of shape \(N, 4\), but has shape \(48, 3\)",
        ),
        ("regressor", [X, Y[:, :2]], None, r"target must be a float array of shape \(N, 3\)"),
        ("regressor", [X[:, :, None], Y], None, r"in must be .* but has 3 dimension\(s\)"),
        (
            "regressor",
            [X[:40], Y],
            None,
            r"arrays must have the same number of examples, but in has 40, target has 48",
        ),
        ("regressor", [_NAN, Y], None, r"in contains 1 NaN or infinite value\(s\)"),
        ("regressor", [X, _INF], None, r"target contains 1 NaN or infinite value\(s\)"),
        ("regressor", [X, Y], [X[:, :2], Y], r"\(valid data\): in must be a float array"),
        ("regressor", [X, Y], [X], r"\(valid data\) takes 2 array"),
        (
            "classifier",
            [X, LABELS + 1],
            None,
            r"target holds labels from 1 to 3, but the model has 3 classes \(labels 0 to 2\)",
        ),
        ("classifier", [X, LABELS - 4], None, r"target holds labels from -4 to -2"),
        ("classifier", [X, LABELS + 0.5], None, r"must hold integer class labels"),
        ("classifier", [X, Y], None, r"target must be an integer array of shape \(N,\)"),
        ("autoencoder", [X, X], None, r"takes 1 array\(s\) \(in\), but 2 were given"),
        ("autoencoder", [np.array([["a"] * 4] * 3)], None, r"in must hold numbers"),
    ],
)
def test_bad_data_raises_before_compiling(monkeypatch, make, train, valid, message):
    net = dict(
        regressor=lambda: theanets.Regressor([4, 5, 3]),
        classifier=lambda: theanets.Classifier([4, 5, 3]),
        autoencoder=lambda: theanets.Autoencoder([4, 3, 4]),
    )[make]()
    monkeypatch.setattr(pytensor, "function", _no_compiling)
    with pytest.raises(util.DataError, match=message):
        net.train(train, valid)
    with pytest.raises(ValueError):  # DataError is a ValueError too
        next(net.itertrain(train, valid))


# ----- checkpoints ----------------------------------------------------------------


class _Clock:
    """A fake time module for theanets.trainer (checkpoints): time() returns ``now``."""

    def __init__(self, now=1000.0):
        self.now = now

    def time(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = _Clock()
    monkeypatch.setattr(trainer, "time", fake)
    return fake


def _train_recording(net, clock=None, step=0, **kwargs):
    """Train, recording params after each yield; the clock advances ``step`` s per yield."""
    snaps = []
    for _ in net.itertrain(
        [X, Y], algo="sgd", learning_rate=0.01, max_updates=7, validate_every=1, **kwargs
    ):
        snaps.append(_snapshot(net))
        if clock is not None:
            clock.now += step
    return snaps


def _loaded(path_or_handle):
    return _snapshot(theanets.Regressor.load(path_or_handle))


@pytest.mark.parametrize("every", [2, np.int64(2)])
def test_save_every_int_with_formatted_path(tmp_path, clock, every):
    net = theanets.Regressor([4, 5, 3])
    snaps = _train_recording(
        net, clock, step=1, save_every=every, save_progress=str(tmp_path / "model-{}.pkl")
    )
    # Saved after the 3rd, 5th and 7th yield (indices 2, 4, 6), at the time then.
    assert sorted(os.listdir(tmp_path)) == ["model-1003.pkl", "model-1005.pkl", "model-1007.pkl"]
    for i, name in ((2, "model-1003.pkl"), (4, "model-1005.pkl"), (6, "model-1007.pkl")):
        assert _same(_loaded(str(tmp_path / name)), snaps[i])


@pytest.mark.parametrize("every", [0.5, np.float32(0.5)])
def test_save_every_float_is_minutes(tmp_path, clock, every):
    net = theanets.Regressor([4, 5, 3])
    # 20 s per iteration, save every half minute: after 40 s, 80 s, 120 s.
    snaps = _train_recording(
        net, clock, step=20, save_every=every, save_progress=str(tmp_path / "m{}.pkl")
    )
    assert sorted(os.listdir(tmp_path)) == ["m1040.pkl", "m1080.pkl", "m1120.pkl"]
    assert _same(_loaded(str(tmp_path / "m1040.pkl")), snaps[1])
    assert _same(_loaded(str(tmp_path / "m1120.pkl")), snaps[5])


def test_save_every_one_with_fixed_path_and_pathlib(tmp_path):
    net = theanets.Regressor([4, 5, 3])
    path = tmp_path / "model.pkl"
    snaps = _train_recording(net, save_every=1, save_progress=path)
    assert os.listdir(tmp_path) == ["model.pkl"]
    assert _same(_loaded(str(path)), snaps[6])


def test_save_progress_file_handle(tmp_path):
    net = theanets.Regressor([4, 5, 3])
    buffer = io.BytesIO()
    snaps = _train_recording(net, save_every=3, save_progress=buffer)
    buffer.seek(0)
    saved = [pickle.load(buffer), pickle.load(buffer)]
    assert buffer.read() == b""
    assert _same(_snapshot(saved[0]), snaps[3]) and _same(_snapshot(saved[1]), snaps[6])
    # A real file, left open.
    with open(tmp_path / "log.pkl", "wb") as handle:
        _train_recording(theanets.Regressor([4, 5, 3]), save_every=3, save_progress=handle)
        assert not handle.closed
    with open(tmp_path / "log.pkl", "rb") as handle:
        assert _same(_snapshot(pickle.load(handle)), snaps[3])


@pytest.mark.parametrize("every", [0, 0.0])
def test_save_every_zero_saves_once_at_the_end(tmp_path, every):
    # The original raised ZeroDivisionError for save_every=0.
    net = theanets.Regressor([4, 5, 3])
    _train_recording(net, save_every=every, save_progress=str(tmp_path / "end.pkl"))
    assert os.listdir(tmp_path) == ["end.pkl"]
    assert _same(_loaded(str(tmp_path / "end.pkl")), _snapshot(net))


def test_checkpoints_in_the_safe_format(tmp_path, clock):
    net = theanets.Regressor([4, 5, 3])
    snaps = _train_recording(
        net, clock, step=1, save_every=3, save_progress=str(tmp_path / "m{}.npz")
    )
    assert sorted(os.listdir(tmp_path)) == ["m1004.npz", "m1007.npz"]
    loaded = theanets.Regressor.load(str(tmp_path / "m1004.npz"), allow_pickle=False)
    assert _same(_snapshot(loaded), snaps[3])
    # A handle named '.npz' gets the safe format too.
    with open(tmp_path / "handle.npz", "wb") as handle:
        _train_recording(theanets.Regressor([4, 5, 3]), save_every=0, save_progress=handle)
    loaded = theanets.Regressor.load(str(tmp_path / "handle.npz"), allow_pickle=False)
    assert len(loaded.params) == 4


def test_no_save_without_save_progress(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _train_recording(theanets.Regressor([4, 5, 3]), save_every=1)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    "every, text",
    [("5", "'5'"), (True, "True"), (np.nan, "nan"), (-1, "-1"), (-0.5, "-0.5"), (np.inf, "inf")],
)
def test_bad_save_every_raises(every, text):
    # A negative save_every saved after every iteration in the original (and
    # once at the end here before); it is refused, with or without save_progress.
    net = theanets.Regressor([4, 5, 3])
    for progress in (io.BytesIO(), None):
        with pytest.raises(
            util.ConfigurationError,
            match=r"Regressor\.train: save_every=" + text + r" is not allowed: "
            r"expected an int >= 0 \(save every that many iterations\) or "
            r"a float >= 0 \(every that many minutes\); 0 saves when "
            r"training ends",
        ):
            net.train([X, Y], save_every=every, save_progress=progress)


def test_loaded_pickle_trains_without_rng(tmp_path):
    net = theanets.Regressor([4, 5, 3])
    net.train([X, Y], max_updates=2)
    path = str(tmp_path / "net.pkl")
    net.save(path)
    loaded = theanets.Regressor.load(path)
    before = _loss(loaded, [X, Y])
    loaded.train(
        [X, Y], algo="sgd", learning_rate=0.05, max_updates=3, validate_every=1, hidden_dropout=0.1
    )
    assert (
        loaded.train([X, Y], algo="sgd", learning_rate=0.05, max_updates=3, validate_every=1)[0][
            "loss"
        ]
        < before
    )
    # A model unpickled from the original's state, (layers, losses), has no rng.
    old = theanets.Regressor.__new__(theanets.Regressor)
    old.__setstate__((net.layers, net.losses))
    assert len(list(old.itertrain([X, Y], max_updates=2))) == 2


def test_loaded_safe_format_trains(tmp_path):
    net = theanets.Classifier([4, 5, 3])
    path = str(tmp_path / "net.npz")
    net.save(path)
    loaded = theanets.Classifier.load(path, allow_pickle=False)
    train, _ = loaded.train([X, LABELS], max_updates=2)
    assert list(train) == ["loss", "err", "acc"]


def test_network_with_random_state_rng_trains_with_dropout():
    net = theanets.Regressor([4, 5, 3], rng=np.random.RandomState(4))
    before = _loss(net, [X, Y])
    net.train(
        [X, Y],
        algo="sgd",
        learning_rate=0.05,
        max_updates=10,
        validate_every=1,
        hidden_dropout=0.2,
        input_noise=0.05,
    )
    assert _loss(net, [X, Y]) < before


# ----- reliability: divergence --------------------------------------------------------


def _diverging_regression():
    """A linear regression that improves for a while, then diverges under SGD.

    The third feature is 3 times larger than the others. With learning rate
    0.144, SGD converges fast along the first two (and the bias) but is
    unstable along the third (the error there grows 1.6-fold per step);
    that weight starts almost right, so the loss first falls by orders of
    magnitude, then grows until it overflows.
    """
    rng = np.random.RandomState(0)
    # Uncorrelated, centred features: the Hessian is diagonal.
    q, _ = np.linalg.qr(np.column_stack([np.ones(32), rng.randn(32, 3)]))
    x = (q[:, 1:] * np.sqrt(32) * [1, 1, 3]).astype(FLOAT)
    y = x.dot([[1.0], [2.0], [0.5]]).astype(FLOAT)
    net = theanets.Regressor([3, (1, "linear")])
    net.find("out", "w").set_value(np.array([[-1.0], [-1.0], [0.5 + 1e-3]], dtype=FLOAT))
    net.find("out", "b").set_value(np.zeros(1, dtype=FLOAT))
    return net, [x, y]


def test_divergence_stops_with_warning_and_keeps_best_parameters():
    net, data = _diverging_regression()
    snaps = [_snapshot(net)]  # the parameters at each validation (validate_every=1)
    with pytest.warns(
        RuntimeWarning,
        match=r"SGD: training diverged: .* is (inf|nan); "
        r"stopped and restored the best parameters "
        r"\(from update \d+, validation loss",
    ) as rec:
        for _ in net.itertrain(
            data,
            algo="sgd",
            learning_rate=0.144,
            batch_size=32,
            validate_every=1,
            patience=1000,
            max_updates=1000,
        ):
            snaps.append(_snapshot(net))
    final = _snapshot(net)
    assert len(snaps) < 1000  # stopped early
    assert len(rec) == 1  # one warning, nothing else (no numpy overflow noise)
    loss = pytensor.function(net.variables, net.loss())
    with np.errstate(over="ignore", invalid="ignore"):
        losses = [float(loss(*data)) if _finite(s) and _set(net, s) else np.inf for s in snaps]
    best = int(np.argmin(losses))
    # It improved a lot, then really diverged.
    assert 0 < best < len(snaps) - 5 and losses[best] < losses[0] / 100
    assert not np.isfinite(losses[-1]) or losses[-1] > 1e30
    # Left at the best validated parameters: finite, and exactly those.
    assert _finite(final)
    assert _same(final, snaps[best])
    _set(net, final)
    assert np.all(np.isfinite(net.predict(data[0])))


def test_divergence_warning_as_error_still_restores_best_parameters():
    # pytest turns warnings into errors here, as `python -W error` would.
    net, data = _diverging_regression()
    snaps = [_snapshot(net)]
    with pytest.raises(RuntimeWarning, match="training diverged"):
        for _ in net.itertrain(
            data,
            algo="sgd",
            learning_rate=0.144,
            batch_size=32,
            validate_every=1,
            patience=1000,
            max_updates=1000,
        ):
            snaps.append(_snapshot(net))
    final = _snapshot(net)
    assert _finite(final)
    loss = pytensor.function(net.variables, net.loss())
    with np.errstate(over="ignore", invalid="ignore"):
        losses = [float(loss(*data)) if _finite(s) and _set(net, s) else np.inf for s in snaps]
    assert _same(final, snaps[int(np.argmin(losses))])


def _finite(snap):
    return all(np.all(np.isfinite(a)) for a in snap)


def _set(net, snap):
    for p, v in zip(net.params, snap, strict=True):
        p.set_value(v)
    return True


@pytest.mark.parametrize(
    "algo, kwargs",
    [
        ("sgd", dict(learning_rate=1e3)),
        ("rmsprop", dict(learning_rate=1e6)),
        ("nag", dict(learning_rate=10.0, momentum=0.9)),
    ],
)
def test_far_too_high_learning_rate(algo, kwargs):
    net = theanets.Regressor([4, 8, 3])
    initial = _snapshot(net)
    snaps, valids = [initial], []
    with pytest.warns(RuntimeWarning, match="training diverged"):
        for train, valid in net.itertrain(
            [X, Y * 100],
            algo=algo,
            batch_size=N,
            validate_every=1,
            max_updates=200,
            patience=1000,
            **kwargs,
        ):
            snaps.append(_snapshot(net))
            valids.append(valid["loss"])
    assert len(snaps) < 200
    assert _finite(_snapshot(net))
    # The best validation loss seen; its parameters are the ones kept.
    best = int(np.argmin(valids))
    assert _same(_snapshot(net), snaps[best])
    assert np.all(np.isfinite(net.predict(X)))


def test_divergence_in_layerwise_restores_layers():
    net = theanets.Regressor([4, 5, 6, 3])
    original = list(net.layers)
    with pytest.warns(RuntimeWarning, match="diverged"):
        net.train(
            [X, Y * 100],
            algo="layerwise",
            subalgo="sgd",
            learning_rate=1e3,
            batch_size=N,
            validate_every=1,
            max_updates=50,
        )
    assert net.layers == original
    assert _finite(_snapshot(net))


# ----- reliability: KeyboardInterrupt ---------------------------------------------------


def _best_validated(net, data, snaps):
    """Index of the snapshot with the lowest loss on ``data``."""
    current = _snapshot(net)
    fn = pytensor.function(net.variables, net.loss())
    losses = [float(fn(*data)) for s in snaps if _set(net, s)]
    _set(net, current)
    return int(np.argmin(losses)), losses


def test_keyboard_interrupt_in_training_data_stops_cleanly(caplog):
    net = theanets.Regressor([4, 5, 3])
    # Three batches per epoch; the 11th call is the second batch of the 4th step.
    batches = _Batches(count=3, fail_at=11)
    snaps = [_snapshot(net)]
    with caplog.at_level(logging.INFO):
        for _ in net.itertrain(
            batches,
            [X, Y],
            algo="sgd",
            learning_rate=0.3,
            validate_every=1,
            batch_size=N,
            max_updates=100,
        ):
            snaps.append(_snapshot(net))
    assert len(snaps) == 4  # three steps done, the 4th interrupted
    assert any("interrupted!" in r.getMessage() for r in caplog.records)
    # The interrupted step had changed the parameters half-way: they were reset
    # to the best validated ones (validations happen before each step).
    best, losses = _best_validated(net, [X, Y], snaps)
    assert _same(_snapshot(net), snaps[best])
    assert losses[best] == min(losses)


class _Tripwire:
    """A symbolic identity that raises KeyboardInterrupt on its n-th evaluation."""

    def __init__(self, at):
        self.at, self.calls = at, 0

    def __call__(self, expr):
        @pytensor.wrap_py(
            itypes=[TT.matrix(dtype=FLOAT).type], otypes=[TT.matrix(dtype=FLOAT).type]
        )
        def identity(x):
            self.calls += 1
            if self.calls == self.at:
                raise KeyboardInterrupt()
            return x

        return identity(expr).mean()


@pytest.mark.parametrize("at", [7, 8])  # in a validation, in a training step
def test_keyboard_interrupt_inside_compiled_function(at):
    # Each update evaluates the monitor twice: validation, then the step.
    net = theanets.Regressor([4, 5, 3])
    trip = _Tripwire(at)
    snaps = [_snapshot(net)]
    result = None
    for result in net.itertrain(
        [X, Y],
        algo="sgd",
        learning_rate=0.3,
        validate_every=1,
        batch_size=N,
        monitors={"hid1:out": {"trip": trip}},
        max_updates=100,
    ):
        snaps.append(_snapshot(net))
    assert trip.calls == at
    assert len(snaps) == 4
    assert "hid1:out:trip" in result[0]
    # Interrupted in the 4th validation, the last parameters were never
    # validated; interrupted in the 4th step, they were.
    validated = snaps[:3] if at == 7 else snaps
    best, _ = _best_validated(net, [X, Y], validated)
    assert _same(_snapshot(net), validated[best])


def test_keyboard_interrupt_in_train_returns_last_pair():
    net = theanets.Regressor([4, 5, 3])
    result = net.train(
        _Batches(count=2, fail_at=9), [X, Y], algo="sgd", learning_rate=0.1, max_updates=100
    )
    assert result is not None and np.isfinite(result[0]["loss"])


def test_keyboard_interrupt_in_layerwise_stage_restores_layers():
    net = theanets.Regressor([4, 5, 6, 3])
    original = list(net.layers)
    batches = _Batches(count=1, fail_at=4)
    net.train(batches, [X, Y], algo="layerwise", max_updates=3)
    assert net.layers == original and net.losses[0].output_name == "out:out"
    assert _finite(_snapshot(net))


def test_keyboard_interrupt_on_the_consumer_side():
    # An interrupt in the consumer's own code is the consumer's: it propagates,
    # and the parameters stay those of the last yield.
    net = theanets.Regressor([4, 5, 6, 3])
    original = list(net.layers)
    snap = None
    with pytest.raises(KeyboardInterrupt):
        for i, _ in enumerate(net.itertrain([X, Y], algo="layerwise", max_updates=5)):
            snap = _snapshot(net)
            if i == 1:
                raise KeyboardInterrupt()
    assert net.layers == original  # the abandoned generator was closed
    assert _same([p.get_value() for p in original[1].params], snap[:2])


# ----- reliability: failed checkpoints --------------------------------------------------


class _Exploding:
    """Pickling this fails: like a disk that fills up during a save."""

    def __reduce__(self):
        raise OSError("disk full")


@pytest.fixture
def failing_second_save(monkeypatch):
    """The second pickling of a network writes >64 KiB, then fails."""
    real = graph.Network.__getstate__
    calls = []

    def getstate(self):
        calls.append(1)
        state = real(self)
        if len(calls) == 2:
            state = dict(state, padding=np.zeros(40000), boom=_Exploding())
        return state

    monkeypatch.setattr(graph.Network, "__getstate__", getstate)
    return calls


def test_failed_save_keeps_previous_checkpoint_at_fixed_path(tmp_path, failing_second_save):
    net = theanets.Regressor([4, 5, 3])
    path = str(tmp_path / "model.pkl")
    snaps = []
    with pytest.raises(OSError, match="disk full"):
        for _ in net.itertrain(
            [X, Y],
            algo="sgd",
            learning_rate=0.01,
            max_updates=7,
            validate_every=1,
            save_every=2,
            save_progress=path,
        ):
            snaps.append(_snapshot(net))
    assert len(failing_second_save) == 2 and len(snaps) == 5
    assert os.listdir(tmp_path) == ["model.pkl"]  # no temporary file left behind
    assert _same(_loaded(path), snaps[2])


def test_failed_save_with_formatted_path_leaves_no_partial_file(
    tmp_path, clock, failing_second_save
):
    net = theanets.Regressor([4, 5, 3])
    with pytest.raises(OSError, match="disk full"):
        _train_recording(net, clock, step=1, save_every=2, save_progress=str(tmp_path / "m{}.pkl"))
    assert os.listdir(tmp_path) == ["m1003.pkl"]
    assert len(_loaded(str(tmp_path / "m1003.pkl"))) == 4


def test_failed_pickling_writes_nothing_to_a_handle(failing_second_save):
    net = theanets.Regressor([4, 5, 3])
    buffer = io.BytesIO()
    snaps = []
    with pytest.raises(OSError, match="disk full"):
        for _ in net.itertrain(
            [X, Y],
            algo="sgd",
            learning_rate=0.01,
            max_updates=7,
            validate_every=1,
            save_every=2,
            save_progress=buffer,
        ):
            snaps.append(_snapshot(net))
    buffer.seek(0)
    assert _same(_snapshot(pickle.load(buffer)), snaps[2])
    assert buffer.read() == b""


class _HalfWriter(io.BytesIO):
    """A handle whose second write stores half the bytes, then fails."""

    writes = 0

    def write(self, data):
        self.writes += 1
        if self.writes == 2:
            super().write(bytes(data)[: len(data) // 2])
            raise OSError("disk full")
        return super().write(data)


def test_failed_write_to_a_handle_is_cut_off():
    net = theanets.Regressor([4, 5, 3])
    handle = _HalfWriter()
    snaps = []
    with pytest.raises(OSError, match="disk full"):
        for _ in net.itertrain(
            [X, Y],
            algo="sgd",
            learning_rate=0.01,
            max_updates=7,
            validate_every=1,
            save_every=2,
            save_progress=handle,
        ):
            snaps.append(_snapshot(net))
    handle.seek(0)
    assert _same(_snapshot(pickle.load(handle)), snaps[2])
    assert handle.read() == b""  # the half-written second checkpoint was removed


def test_failed_final_save_keeps_previous_file(tmp_path, failing_second_save):
    path = str(tmp_path / "end.pkl")
    first = theanets.Regressor([4, 5, 3])
    first.train([X, Y], max_updates=1, save_progress=path)
    second = theanets.Regressor([4, 5, 6, 3])
    with pytest.raises(OSError, match="disk full"):
        second.train([X, Y], max_updates=1, save_progress=path)
    assert _same(_loaded(path), _snapshot(first))
    assert os.listdir(tmp_path) == ["end.pkl"]


# ----- training options ---------------------------------------------------------


def test_misspelled_option_warns_with_a_suggestion():
    net = theanets.Regressor([4, 5, 3])
    with pytest.warns(
        options.UnknownOptionWarning,
        match=r"Regressor.train: unknown option 'learningrate' is ignored; "
        r"perhaps you meant 'learning_rate'",
    ) as record:
        net.train([X, Y], learningrate=0.1, max_updates=1)
    assert record[0].filename == __file__  # it points at the caller
    with pytest.warns(
        UserWarning,
        match=r"unknown option 'hiden_l1'.*perhaps you meant "
        r"'hidden_l1'",
    ) as record:
        list(net.itertrain([X, Y], hiden_l1=0.1, max_updates=1))
    assert record[0].filename == __file__


def test_unknown_option_without_a_close_name():
    net = theanets.Regressor([4, 5, 3])
    with pytest.warns(
        options.UnknownOptionWarning,
        match=r"unknown option 'zzz' is ignored \(see help\(Regressor.train\)",
    ):
        net.train([X, Y], zzz=1, max_updates=1)


def test_known_options_do_not_warn():
    net = theanets.Regressor([4, 5, 3])
    net.train(
        [X, Y],
        algo="rprop",
        learning_rate=1e-3,
        momentum=0.5,
        nesterov=False,
        patience=2,
        validate_every=1,
        min_improvement=0.01,
        max_updates=2,
        max_gradient_norm=1,
        batch_size=16,
        iteration_size=2,
        axis=0,
        rprop_increase=1.1,
        rprop_decrease=0.9,
        rprop_min_step=0,
        rprop_max_step=10,
        weight_l2=1e-4,
        Weight_L1=0,
        hidden_l1=0.01,
        hidden_sparsity=0,
        input_noise=0.01,
        hidden_dropout=0.1,
        dropout={"out:out": 0.1},
        noise={},
        monitors={"hid1:out": 0.1},
        monitor_gradients=True,
        rng=3,
        progress=False,
        save_every=0,
        save_progress=None,
    )
    net.train(
        [X, Y],
        algo="adam",
        beta1_halflife=5,
        beta2_halflife=50,
        rms_regularizer=1e-6,
        rms_halflife=10,
        train_batches=1,
        valid_batches=1,
        max_updates=1,
    )
    net.train(
        [X, Y], algo="layerwise", subalgo="sgd", max_updates=1, regularizers=dict(weight_l2=1e-4)
    )


def test_model_train_options_are_known_and_documented():
    class Carrying(theanets.Regressor):
        TRAIN_OPTIONS = dict(
            theanets.Regressor.TRAIN_OPTIONS, carry_state=(False, "keep the recurrent state")
        )

    net = Carrying([4, 5, 3])
    net.train([X, Y], carry_state=True, max_updates=1)
    assert (
        "carry_state : option\n            keep the recurrent state (default False)."
        in Carrying.train.__doc__
    )
    assert "carry_state" in Carrying.itertrain.__doc__
    assert "carry_state" not in theanets.Regressor.train.__doc__
    with pytest.warns(options.UnknownOptionWarning, match="perhaps you meant 'carry_state'"):
        net.train([X, Y], carry_stat=True, max_updates=1)


def test_options_of_a_trainer_object():
    class Quiet:
        def itertrain(self, train, valid=None, **kwargs):
            yield dict(loss=0.0), dict(loss=0.0)

    class Declared(Quiet):
        TRAIN_OPTIONS = dict(temperature=(1.0, "how hot"))

    net = theanets.Regressor([4, 5, 3])
    net.train([X, Y], algo=Quiet(), anything=1)  # it may read anything: not checked
    net.train([X, Y], algo=Declared(), temperature=2)
    with pytest.warns(options.UnknownOptionWarning, match="perhaps you meant 'temperature'"):
        net.train([X, Y], algo=Declared(), temprature=2)


def _doc_entries(doc):
    """{name: entry text} of the numpydoc parameter entries of a docstring."""
    entries, current = {}, None
    for line in doc.splitlines():
        header = line.startswith(" " * 8) and not line.startswith(" " * 9) and " : " in line
        if header:
            current = line.strip()
            entries[current] = ""
        elif current is not None:
            entries[current] += line + "\n"
    return {
        name.strip().lstrip("*"): (head, " ".join(text.split()))
        for head, text in entries.items()
        for name in head.split(" : ")[0].split(",")
    }


def test_help_of_train_lists_every_option_with_its_default():
    net = theanets.Regressor([4, 5, 3])
    for method in (type(net).train, type(net).itertrain):
        doc = method.__doc__
        entries = _doc_entries(doc)
        class_keys = set(cls.__name__.lower() for cls in theanets.Regressor.__mro__) | set(
            cls.__name__.lower() for cls in theanets.Regularizer._registry.values()
        )
        for name in options.train_options(net):
            if name in class_keys:  # a regularizer by class name, e.g. 'weightl2'
                continue
            assert "``{}``".format(name) in doc or name in entries, name
        optimizer = options._optimizer_options()
        for name in (
            "learning_rate",
            "momentum",
            "nesterov",
            "patience",
            "validate_every",
            "min_improvement",
            "max_gradient_norm",
            "max_gradient_elem",
            "rms_halflife",
            "rms_regularizer",
            "rprop_increase",
            "rprop_min_step",
            "beta1_halflife",
            "beta2_halflife",
        ):
            head, text = entries[name]
            numbers = [float(n) for n in re.findall(r"(?<![\w.])-?\d+(?:\.\d+)?(?:e-?\d+)?", text)]
            default = optimizer[name]
            if isinstance(default, bool):
                assert "default {}".format(default) in text, name
            else:
                assert float(default) in numbers, (name, default, text)
        for name, default in (
            ("batch_size", 32),
            ("save_every", 0),
            ("weight_l2", 0),
            ("hidden_l1", 0),
            ("input_dropout", 0),
            ("input_noise", 0),
        ):
            assert "default {}".format(default) in entries[name][1], name
        for name in ("max_updates", "save_progress", "iteration_size", "monitors"):
            assert "default None" in entries[name][1], name


# ----- the table of options ---------------------------------------------------


def _table_entry_text(entry):
    return " ".join("{} (default {!r}).".format(entry.doc, entry.default).split())


@pytest.mark.parametrize(
    "cls", [theanets.Regressor, theanets.Classifier, theanets.recurrent.Regressor]
)
def test_help_of_train_lists_every_table_option_with_the_tables_default(cls):
    model_options = set(cls.TRAIN_OPTIONS)
    assert set(options.MODEL_OPTIONS) <= model_options
    # a recurrent model's itertrain documents carry_state its own way
    methods = (cls.train,) if "carry_state" in model_options else (cls.train, cls.itertrain)
    for method in methods:
        entries = _doc_entries(method.__doc__)
        for entry in options.TABLE:
            if entry.owner == "model" and entry.name not in model_options:
                assert entry.name not in entries, entry.name  # another model's
                continue
            head, text = entries[entry.name]
            assert head == "{} : {}".format(entry.name, entry.constraint.kind), head
            assert text.startswith(_table_entry_text(entry)), entry.name  # a section may follow
            for synonym in entry.synonyms:
                assert "``{}``".format(synonym) in text, synonym


def test_every_option_is_known_to_train():
    net = theanets.recurrent.Regressor([3, (4, "rnn"), 2])
    known = set(options.train_options(net))
    for entry in options.TABLE:
        assert entry.name in known and set(entry.synonyms) <= known, entry.name


def test_the_runtime_options_are_those_not_compiled():
    # the options kept out of the key of the compiled-optimizer cache
    assert trainer._RUNTIME_OPTIONS == {
        "batch_size",
        "iteration_size",
        "train_batches",
        "valid_batches",
        "axis",
        "max_updates",
        "patience",
        "validate_every",
        "min_improvement",
        "rng",
        "progress",
        "save_every",
        "listeners",
        "save_progress",
    }
    assert trainer._RUNTIME_OPTIONS == {e.name for e in options.TABLE if not e.compiled}


def test_train_signature_defaults_are_the_tables():
    import inspect

    for function in (graph.Network.train, graph.Network.itertrain, trainer.itertrain):
        parameters = inspect.signature(function).parameters
        for name in ("algo", "subalgo", "save_every", "save_progress"):
            assert parameters[name].default == options.option(name).default, (function, name)
    assert inspect.signature(downhill.minimize).parameters["algo"].default == "rmsprop"
    carry = inspect.signature(theanets.recurrent.Regressor.itertrain).parameters["carry_state"]
    assert carry.default == options.option("carry_state").default


def _algo_reading(name):
    """An algorithm whose optimizer reads hyper-parameter ``name`` (sgd if none does)."""
    for algo in trainer.algo_names(own=False):
        if name in [e.name for e in downhill.Optimizer.get_class(algo).hyper_options()]:
            return algo
    return "sgd"


_NUMERIC = (downhill.hypers.Real, downhill.hypers.Int)
_CHECKED = [e for e in options.TABLE if isinstance(e.constraint, _NUMERIC)]


@pytest.mark.parametrize("entry", _CHECKED, ids=lambda e: e.name)
def test_a_bad_value_of_each_checked_option_gets_the_one_message(entry):
    net = theanets.Regressor([4, 3])
    with pytest.raises(
        util.ConfigurationError, match=r"^{}='x' is not allowed: expected ".format(entry.name)
    ):
        net.train(
            [X, Y], algo=_algo_reading(entry.name), **dict({"max_updates": 1}, **{entry.name: "x"})
        )
