"""Tests of theanets.losses against numpy formulas, in models, and their gradients."""

import logging
import pickle

import numpy as np
import pytensor
import pytensor.tensor as TT
import pytest
from pytensor.gradient import verify_grad

import theanets
from theanets import losses, util

TOL = dict(rtol=1e-5, atol=1e-6)  # float32 values

RNG = np.random.RandomState(21)
X = RNG.uniform(0.05, 0.95, size=(6, 4)).astype("float32")  # outputs (probabilities)
T = RNG.uniform(0.05, 0.95, size=(6, 4)).astype("float32")  # targets
W = RNG.uniform(0.1, 2.0, size=(6, 4)).astype("float32")  # weights
LABELS = np.array([0, 3, 1, -1, 2, -4], dtype="int32")  # negative: from the end
LW = RNG.uniform(0.1, 2.0, size=6).astype("float32")


def _value(loss, outputs, *data):
    """Evaluate ``loss`` with outputs {name: array} and its variables' data."""
    syms = {name: TT.matrix(name) for name in outputs}
    fn = pytensor.function(list(syms.values()) + loss.variables, loss(syms))
    return float(fn(*(list(outputs.values()) + list(data))))


def _kl(t, x):
    t = np.clip(t, 1e-8, 1 - 1e-8)
    return t * np.log(t / np.clip(x, 1e-8, 1 - 1e-8))


def _picked(x, labels):
    return x[np.arange(len(labels)), labels]


NUMPY = {
    "mse": (
        lambda x, t: np.mean((x - t) ** 2),
        lambda x, t, w: np.sum(w * (x - t) ** 2) / np.sum(w),
    ),
    "mae": (
        lambda x, t: np.mean(np.abs(x - t)),
        lambda x, t, w: np.sum(np.abs(w * (x - t))) / np.sum(w),
    ),
    "kl": (
        lambda x, t: np.mean(np.abs(_kl(t, x))),
        lambda x, t, w: np.sum(np.abs(w * _kl(t, x))) / np.sum(w),
    ),
}


@pytest.mark.parametrize("form", sorted(NUMPY))
def test_float_losses_plain(form):
    loss = losses.Loss.build(form, target=2)
    np.testing.assert_allclose(_value(loss, {"out:out": X}, T), NUMPY[form][0](X, T), **TOL)


@pytest.mark.parametrize("form", sorted(NUMPY))
def test_float_losses_weighted(form):
    loss = losses.Loss.build(form, target=2, weighted=True)
    np.testing.assert_allclose(_value(loss, {"out:out": X}, T, W), NUMPY[form][1](X, T, W), **TOL)


@pytest.mark.parametrize(
    "alias,cls",
    [
        ("mse", losses.MeanSquaredError),
        ("mae", losses.MeanAbsoluteError),
        ("gll", losses.GaussianLogLikelihood),
        ("mmd", losses.MaximumMeanDiscrepancy),
        ("kl", losses.KullbackLeiblerDivergence),
        ("kld", losses.KullbackLeiblerDivergence),
        ("xe", losses.CrossEntropy),
        ("hinge", losses.Hinge),
        ("MeanSquaredError", losses.MeanSquaredError),
    ],
)
def test_aliases(alias, cls):
    assert losses.Loss.get_class(alias) is cls


def _xe(x, labels):
    return -np.log(np.clip(_picked(x, labels), 1e-8, 1))


def _hinge(x, labels):
    return np.maximum(0, (x - _picked(x, labels)[:, None]).max(axis=-1))


@pytest.mark.parametrize("form,per_row", [("xe", _xe), ("hinge", _hinge)])
def test_label_losses_with_negative_labels(form, per_row):
    loss = losses.Loss.build(form, target=1)
    assert loss.variables[0].dtype == "int32"
    np.testing.assert_allclose(
        _value(loss, {"out:out": X}, LABELS), per_row(X, LABELS).mean(), **TOL
    )
    weighted = losses.Loss.build(form, target=1, weighted=True)
    np.testing.assert_allclose(
        _value(weighted, {"out:out": X}, LABELS, LW),
        np.sum(LW * per_row(X, LABELS)) / LW.sum(),
        **TOL,
    )


def test_crossentropy_clips_zero_probabilities():
    probs = np.array([[0.0, 1.0], [0.5, 0.5]], "float32")
    loss = losses.Loss.build("xe", target=1)
    value = _value(loss, {"out:out": probs}, np.array([0, 1], "int32"))
    np.testing.assert_allclose(value, (-np.log(1e-8) - np.log(0.5)) / 2, rtol=1e-5)


def test_crossentropy_on_sequences():
    """A 3-D output (N, T, K) against 2-D labels (N, T)."""
    out = RNG.uniform(0.05, 0.95, size=(2, 3, 4)).astype("float32")
    labels = np.array([[0, 1, 3], [2, -1, 1]], "int32")
    loss = losses.Loss.build("xe", target=2)
    x = TT.tensor3("x")
    fn = pytensor.function(
        [x] + loss.variables, [loss({"out:out": x}), loss.accuracy({"out:out": x})]
    )
    value, acc = fn(out, labels)
    flat, flat_labels = out.reshape(-1, 4), labels.reshape(-1)
    np.testing.assert_allclose(value, _xe(flat, flat_labels).mean(), **TOL)
    np.testing.assert_allclose(acc, np.mean(flat.argmax(-1) == flat_labels), **TOL)


def test_accuracy_plain_and_weighted():
    x = TT.matrix("x")
    plain = losses.Loss.build("xe", target=1)
    labels = X.argmax(-1).astype("int32")
    labels[:2] = (labels[:2] + 1) % 4  # two wrong
    fn = pytensor.function([x] + plain.variables, plain.accuracy({"out:out": x}))
    np.testing.assert_allclose(fn(X, labels), 4 / 6, **TOL)
    weighted = losses.Loss.build("hinge", target=1, weighted=True)
    fn = pytensor.function([x] + weighted.variables, weighted.accuracy({"out:out": x}))
    np.testing.assert_allclose(fn(X, labels, LW), LW[2:].sum() / LW.sum(), **TOL)


def test_accuracy_counts_negative_labels_as_wrong_matches():
    """accuracy compares argmax with the label as given (a -1 label never matches)."""
    x = TT.matrix("x")
    loss = losses.Loss.build("xe", target=1)
    fn = pytensor.function([x] + loss.variables, loss.accuracy({"out:out": x}))
    probs = np.array([[0.1, 0.9], [0.8, 0.2]], "float32")
    np.testing.assert_allclose(fn(probs, np.array([1, -2], "int32")), 0.5, **TOL)


def _gll(mean, covar, t, eps=1e-3):
    prec = 1 / (np.abs(covar) + eps)
    eta = mean * prec
    d = mean.shape[-1]
    const = d * np.log(2 * np.pi) - np.log(prec.sum(-1)) + (eta * prec * eta).sum(-1)
    return (0.5 * (const + (t * prec * t).sum(-1)) - (eta * t).sum(-1)).mean()


def test_gaussian_log_likelihood():
    covar = RNG.uniform(-1, 1, size=(6, 4)).astype("float32")
    loss = losses.Loss.build("gll", target=2)
    assert loss.output_name == "mean:out"
    assert (loss.mean_name, loss.covar_name) == ("mean:out", "covar:out")
    value = _value(loss, {"mean:out": X, "covar:out": covar}, T)
    np.testing.assert_allclose(value, _gll(X.astype("f8"), covar.astype("f8"), T), rtol=1e-5)
    custom = losses.Loss.build("gll", target=2, mean_name="m", covar_name="c:out", covar_eps=0.5)
    value = _value(custom, {"m:out": X, "c:out": covar}, T)
    np.testing.assert_allclose(value, _gll(X.astype("f8"), covar.astype("f8"), T, 0.5), rtol=1e-5)


def test_gaussian_log_likelihood_in_a_network():
    net = theanets.Regressor(
        [
            3,
            dict(name="hid", size=4),
            dict(name="covar", activation="relu", inputs="hid", size=2),
            dict(name="mean", activation="linear", inputs="hid", size=2),
        ],
        loss="gll",
    )
    assert isinstance(net.losses[0], losses.GaussianLogLikelihood)
    x = RNG.randn(5, 3).astype("float32")
    y = RNG.randn(5, 2).astype("float32")
    fn = pytensor.function(net.variables, net.loss())
    outs = net.feed_forward(x)
    np.testing.assert_allclose(
        fn(x, y), _gll(outs["mean:out"].astype("f8"), outs["covar:out"].astype("f8"), y), rtol=1e-4
    )


def _mmd(x, t, bw):
    def k(a, b):
        return np.exp(-((a[:, None, :] - b[None, :, :]) ** 2).sum(-1) / bw)

    return k(t, t).mean() - 2 * k(t, x).mean() + k(x, x).mean()


@pytest.mark.parametrize("kernel", [1, 2.5])
def test_maximum_mean_discrepancy(kernel):
    loss = losses.Loss.build("mmd", target=2, kernel=kernel)
    np.testing.assert_allclose(_value(loss, {"out:out": X}, T), _mmd(X, T, kernel), **TOL)


def test_maximum_mean_discrepancy_callable_kernel():
    def linear(a, b):
        return TT.dot(a, b.T)

    loss = losses.Loss.build("mmd", target=2, kernel=linear)
    expect = (T @ T.T).mean() - 2 * (T @ X.T).mean() + (X @ X.T).mean()
    np.testing.assert_allclose(_value(loss, {"out:out": X}, T), expect, rtol=1e-4)


def test_mmd_is_zero_for_identical_samples():
    loss = losses.Loss.build("mmd", target=2)
    np.testing.assert_allclose(_value(loss, {"out:out": X}, X), 0, atol=1e-6)


# ----- construction -------------------------------------------------------


def test_variables_order_names_and_types():
    loss = losses.Loss.build("mse", target=3, weighted=True)
    target, weights = loss.variables
    assert (target.name, target.ndim, target.dtype) == ("target", 3, util.FLOAT)
    assert (weights.name, weights.ndim, weights.dtype) == ("weights", 3, util.FLOAT)
    xe = losses.Loss.build("xe", target=1, weighted=True)
    assert [(v.name, v.ndim, v.dtype) for v in xe.variables] == [
        ("target", 1, "int32"),
        ("weights", 1, util.FLOAT),
    ]
    assert len(losses.Loss.build("mae", target=2).variables) == 1


def test_symbolic_target_is_used_directly():
    x = TT.matrix("in")
    loss = losses.Loss.build("mse", target=x, weighted=True)
    assert loss.variables[0] is x
    assert loss.variables[1].ndim == 2


def test_output_name_and_weight():
    loss = losses.Loss.build("mse", target=2, output_name="hid1", weight=0.3)
    assert loss.output_name == "hid1:out" and loss.weight == 0.3
    assert losses.Loss.build("mse", target=2, output_name="hid1:pre").output_name == "hid1:pre"


@pytest.mark.parametrize("target", [-1, 5])
def test_bad_target_ndim(target):
    with pytest.raises(
        util.ConfigurationError, match=r"MeanSquaredError: target must have 0 to 4 dimensions, not"
    ):
        losses.Loss.build("mse", target=target)


def test_missing_output_names_available_outputs():
    loss = losses.Loss.build("mse", target=2, output_name="nope")
    with pytest.raises(KeyError, match=r"no output 'nope:out'; outputs are: a:out, b:out"):
        loss({"a:out": TT.matrix(), "b:out": TT.matrix()})


def test_unknown_loss():
    with pytest.raises(KeyError) as info:
        theanets.Regressor([3, 2], loss="msq")
    assert isinstance(info.value, util.ConfigurationError)
    assert "unknown loss 'msq'" in str(info.value)
    assert "valid choices are:" in str(info.value) and "hinge" in str(info.value)


def test_base_loss_not_implemented():
    with pytest.raises(NotImplementedError, match="Loss must implement"):
        losses.Loss(target=2)({"out:out": TT.matrix()})


def test_log_describes_loss(caplog):
    caplog.set_level(logging.INFO, logger="theanets")
    losses.Loss.build("mae", target=2, weight=0.5, weighted=True, output_name="h").log()
    assert "using loss: 0.5 * MeanAbsoluteError (h:out, weighted)" in caplog.text


# ----- in models ----------------------------------------------------------


def _net_loss(net, *data, **kwargs):
    return float(
        pytensor.function(net.variables, net.loss(**kwargs), on_unused_input="ignore")(*data)
    )


def test_model_default_losses():
    assert isinstance(theanets.Regressor([3, 2]).losses[0], losses.MeanSquaredError)
    assert isinstance(theanets.Autoencoder([3, 2, 3]).losses[0], losses.MeanSquaredError)
    assert isinstance(theanets.Classifier([3, 2]).losses[0], losses.CrossEntropy)
    assert isinstance(theanets.Classifier([3, 2], loss="hinge").losses[0], losses.Hinge)


def test_multiple_losses_with_weights():
    net = theanets.Regressor([3, 2])
    net.add_loss("mae", weight=0.1, target=net.losses[0].variables[0])
    x = RNG.randn(5, 3).astype("float32")
    y = RNG.randn(5, 2).astype("float32")
    yhat = net.predict(x)
    mse, mae = np.mean((yhat - y) ** 2), np.mean(np.abs(yhat - y))
    np.testing.assert_allclose(_net_loss(net, x, y), mse + 0.1 * mae, **TOL)
    net.losses[1].weight = 2
    np.testing.assert_allclose(_net_loss(net, x, y), mse + 2 * mae, **TOL)
    # the 'err' monitor is the first loss alone
    err = pytensor.function(net.variables, net.monitors()[0][1])(x, y)
    np.testing.assert_allclose(err, mse, **TOL)


def test_second_loss_needs_the_shared_target():
    net = theanets.Regressor([3, 2])
    net.add_loss("mae", weight=0.1)
    with pytest.raises(
        util.ConfigurationError,
        match=r"MeanAbsoluteError on 'out:out' needs its own 'target' array",
    ):
        net.loss()


def test_add_loss_forms():
    net = theanets.Regressor([3, 2])
    net.add_loss({"form": "MAE", "weight": 0.5, "target": net.losses[0].variables[0]})
    assert isinstance(net.losses[1], losses.MeanAbsoluteError) and net.losses[1].weight == 0.5
    instance = losses.Loss.build("mse", target=net.losses[0].variables[0])
    assert net.add_loss(instance) is instance
    net.set_loss(form="kl", target=2)
    assert len(net.losses) == 1 and isinstance(net.losses[0], losses.KullbackLeiblerDivergence)
    assert net.losses[0].output_name == "out:out"


class StepLoss(losses.Loss):
    """A user loss: fraction of outputs above their targets (weights honoured)."""

    def __call__(self, outputs):
        err = TT.cast(self._output(outputs) > self._target, "float32")
        if self._weights is not None:
            return (self._weights * err).sum() / self._weights.sum()
        return err.mean()


def test_user_loss_by_name():
    net = theanets.Regressor([3, 2], loss="steploss")
    assert isinstance(net.losses[0], StepLoss)
    x = RNG.randn(8, 3).astype("float32")
    y = RNG.randn(8, 2).astype("float32")
    np.testing.assert_allclose(_net_loss(net, x, y), np.mean(net.predict(x) > y), **TOL)
    weighted = theanets.Regressor([3, 2], loss="steploss", weighted=True)
    w = RNG.uniform(0, 1, size=(8, 2)).astype("float32")
    np.testing.assert_allclose(
        _net_loss(weighted, x, y, w), np.sum(w * (weighted.predict(x) > y)) / w.sum(), **TOL
    )


# ----- gradients (float64) ------------------------------------------------


def _verify(loss, fn_inputs, build):
    verify_grad(build, fn_inputs, rng=np.random.RandomState(3), abs_tol=1e-6, rel_tol=1e-5)


X64 = X.astype("float64")
T64 = T.astype("float64")


@pytest.mark.parametrize("form", ["mse", "mae", "kl", "mmd"])
def test_float_loss_gradients(form):
    loss = losses.Loss.build(form, target=TT.constant(T64))
    _verify(loss, [X64], lambda x: loss({"out:out": x}))


def test_weighted_mse_gradient():
    loss = losses.Loss.build("mse", target=TT.constant(T64), weighted=True)
    loss._weights = TT.constant(W.astype("float64"))
    _verify(loss, [X64], lambda x: loss({"out:out": x}))


@pytest.mark.parametrize("form", ["xe", "hinge"])
def test_label_loss_gradients(form):
    loss = losses.Loss.build(form, target=TT.constant(LABELS))
    _verify(loss, [X64], lambda x: loss({"out:out": x}))


def test_gll_gradient():
    loss = losses.Loss.build("gll", target=TT.constant(T64))
    covar = RNG.uniform(0.2, 1.0, size=(6, 4))
    _verify(loss, [X64, covar], lambda m, c: loss({"mean:out": m, "covar:out": c}))


# ----- the contract every registered loss meets ------------------------------

#: Families' abstract bases: registered (for now) but not losses one can use.
ABSTRACT_LOSSES = {losses.Loss}


def _gll_net(**kwargs):
    return theanets.Regressor(
        [
            3,
            dict(name="hid", size=4),
            dict(name="covar", activation="relu", inputs="hid", size=2),
            dict(name="mean", activation="linear", inputs="hid", size=2),
        ],
        loss="gll",
        **kwargs,
    )


#: One case per concrete loss class: a model using it, and its data.
LOSS_CASES = {
    "meansquarederror": dict(
        build=lambda **kw: theanets.Regressor([3, 4, 2], loss="mse", **kw), target="float"
    ),
    "meanabsoluteerror": dict(
        build=lambda **kw: theanets.Regressor([3, 4, 2], loss="mae", **kw), target="float"
    ),
    "kullbackleiblerdivergence": dict(
        build=lambda **kw: theanets.Regressor(
            [3, (4, "logistic"), (2, "logistic")], loss="kl", **kw
        ),
        target="probability",
    ),
    "maximummeandiscrepancy": dict(
        build=lambda **kw: theanets.Regressor([3, 4, 2], loss=dict(form="mmd", kernel=2.0), **kw),
        target="float",
    ),
    "gaussianloglikelihood": dict(build=_gll_net, target="float"),
    "crossentropy": dict(
        build=lambda **kw: theanets.Classifier([3, 4, 3], loss="xe", **kw), target="labels"
    ),
    "hinge": dict(
        build=lambda **kw: theanets.Classifier([3, 4, 3], loss="hinge", **kw), target="labels"
    ),
}


def _concrete(family, abstract):
    """The library's registered classes of a family that are meant to be used."""
    return sorted(
        {
            cls
            for cls in family._registry.values()
            if cls.__module__.startswith("theanets.") and cls not in abstract
        },
        key=lambda cls: cls.__name__,
    )


def _loss_data(net, target, weighted):
    rng = np.random.RandomState(5)
    x = rng.randn(6, 3).astype("float32")
    if target == "labels":
        y = rng.randint(0, 3, size=6).astype("int32")
    elif target == "probability":
        y = rng.uniform(0.1, 0.9, size=(6, 2)).astype("float32")
    else:
        y = rng.randn(6, 2).astype("float32")
    data = [x, y]
    if weighted:
        data.append(rng.uniform(0.5, 1.5, size=y.shape).astype("float32"))
    return data


def check_loss(cls, case):
    """Build the loss in a model and check its value, gradient, spec and pickle."""
    key = cls.__name__.lower()
    for weighted in (False, True):
        net = case["build"](weighted=weighted)
        loss = net.losses[0]
        assert type(loss) is cls and losses.Loss.get_class(key) is cls
        assert len(loss.variables) == 1 + weighted == len(net.variables) - 1
        data = _loss_data(net, case["target"], weighted)
        expr = net.loss()
        # (gll and mmd ignore weights, as the original did)
        value = pytensor.function(net.variables, expr, on_unused_input="ignore")(*data)
        assert np.shape(value) == () and np.isfinite(value), (key, value)
        grads = pytensor.function(
            net.variables, TT.grad(expr, net.params), on_unused_input="ignore"
        )(*data)
        assert all(np.all(np.isfinite(g)) for g in grads), key

        # to_spec rebuilds an equal loss on the same target
        spec = dict(loss.to_spec())
        form = spec.pop("form")
        assert losses.Loss.get_class(form) is cls
        spec["target"] = loss.variables[0]
        rebuilt = losses.Loss.build(form, **spec)
        rebuilt._weights = loss._weights
        outputs, _ = net.build_graph()
        again = pytensor.function(net.variables, rebuilt(outputs), on_unused_input="ignore")
        np.testing.assert_allclose(again(*data), value, **TOL)

        # a pickled model computes the same loss
        copy = pickle.loads(pickle.dumps(net, -1))
        assert type(copy.losses[0]) is cls
        np.testing.assert_allclose(
            pytensor.function(copy.variables, copy.loss(), on_unused_input="ignore")(*data),
            value,
            **TOL,
        )


@pytest.mark.parametrize(
    "cls", _concrete(losses.Loss, ABSTRACT_LOSSES), ids=lambda cls: cls.__name__
)
def test_every_registered_loss(cls):
    key = cls.__name__.lower()
    assert key in LOSS_CASES, (
        "loss {} is registered but has no entry in LOSS_CASES of tests/test_losses.py; add "
        "one".format(cls.__name__)
    )
    check_loss(cls, LOSS_CASES[key])


def test_loss_cases_are_registered():
    assert set(LOSS_CASES) <= set(losses.Loss._registry)
