"""Tests for theanets.downhill: update rules, the training loop, errors.

Every update rule is checked against a step derived by hand in numpy from the
formulas of the downhill documentation, on a small float32 linear regression
with two parameters (a weight vector ``w`` and a scalar bias ``b``).
"""

import collections
import logging
import warnings

import numpy as np
import pytensor
import pytensor.tensor as TT
import pytest

from theanets import _backend, downhill, util
from theanets.downhill import Dataset, hypers

FLOAT = pytensor.config.floatX
RTOL, ATOL = (1e-3, 1e-6) if FLOAT == "float32" else (1e-7, 1e-10)
ALGOS = ["sgd", "nag", "rprop", "rmsprop", "adagrad", "adadelta", "esgd", "adam"]


# -- a small regression problem and its derivatives, in numpy --------------

N, D = 16, 3
_rs = np.random.RandomState(13)
X = _rs.randn(N, D).astype(FLOAT)
Y = (X.dot([1.0, -2.0, 0.5]) + 0.3 + 0.1 * _rs.randn(N)).astype(FLOAT)
W0 = np.array([0.5, -0.3, 0.1], dtype=FLOAT)
B0 = np.array(0.2, dtype=FLOAT)


def np_loss(w, b):
    return np.mean((X.astype("f8").dot(w) + b - Y) ** 2)


def np_grads(w, b):
    r = X.astype("f8").dot(w) + b - Y
    return [2 * X.T.dot(r) / N, 2 * r.mean()]


def np_hessian_vector(i, v):
    """Diagonal Hessian block of parameter i times v."""
    return 2 * X.T.dot(X).dot(v) / N if i == 0 else 2 * v


class Regression:
    """Symbolic version of the problem: fresh shared variables each time."""

    def __init__(self):
        self.x = TT.matrix("x")
        self.y = TT.vector("y")
        self.w = pytensor.shared(W0.copy(), name="w")
        self.b = pytensor.shared(B0.copy(), name="b")
        self.err = TT.sqr(TT.dot(self.x, self.w) + self.b - self.y).mean()
        self.loss = self.err

    def build(self, algo, **kwargs):
        return downhill.build(
            algo, self.loss, params=[self.w, self.b], inputs=[self.x, self.y], **kwargs
        )

    def values(self):
        return [self.w.get_value().copy(), self.b.get_value().copy()]


def full_batch():
    return Dataset([X, Y], batch_size=0, name="full")


def run_steps(opt, n, **kwargs):
    """Parameter values after each of n full-batch steps."""
    kwargs.setdefault("validate_every", 1000)
    problem_values = []
    for _ in opt.iterate(full_batch(), max_updates=n, **kwargs):
        problem_values.append([p.get_value().copy() for p in opt._params])
    return problem_values


# -- reference update rules (step = amount subtracted) ----------------------


def ref_sgd(s, g, t, i, lr, hp):
    return lr * g


def ref_rprop(s, g, t, i, lr, hp):
    inc, dec = hp.get("rprop_increase", 1.01), hp.get("rprop_decrease", 0.99)
    lo, hi = hp.get("rprop_min_step", 0), hp.get("rprop_max_step", 100)
    g_prev = s.get("grad", np.zeros_like(g))
    size = s.get("step", np.full_like(g, lr))
    test = g * g_prev
    size = np.clip(np.where(test > 0, size * inc, np.where(test < 0, size * dec, size)), lo, hi)
    g = np.where(test < 0, 0, g)
    s["grad"], s["step"] = g, size
    return np.sign(g) * size


def ref_adagrad(s, g, t, i, lr, hp):
    s["acc"] = s.get("acc", 0) + g * g
    return lr * g / np.sqrt(s["acc"] + hp.get("rms_regularizer", 1e-8))


def _gamma(hp, key="rms_halflife", default=14):
    return np.exp(-np.log(2) / hp.get(key, default))


def ref_rmsprop(s, g, t, i, lr, hp):
    gam, eps = _gamma(hp), hp.get("rms_regularizer", 1e-8)
    s["f"] = gam * s.get("f", 0) + (1 - gam) * g
    s["s"] = gam * s.get("s", 0) + (1 - gam) * g * g
    return lr * g / np.sqrt(s["s"] - s["f"] ** 2 + eps)


def ref_adadelta(s, g, t, i, lr, hp):
    gam, eps = _gamma(hp), hp.get("rms_regularizer", 1e-8)
    s["s"] = gam * s.get("s", 0) + (1 - gam) * g * g
    x = s.get("x", 0)
    delta = g * np.sqrt(x + eps) / np.sqrt(s["s"] + eps)
    s["x"] = gam * x + (1 - gam) * delta**2
    return delta


def ref_esgd(s, g, t, i, lr, hp):
    gam, eps = _gamma(hp), hp.get("rms_regularizer", 1e-8)
    v = hp["generators"][i].normal(size=np.shape(g)).astype(FLOAT)
    hv = np_hessian_vector(i, v)
    s["D"] = gam * s.get("D", 0) + (1 - gam) * hv * hv
    return lr * g / (np.sqrt(s["D"]) + eps)


def ref_adam(s, g, t, i, lr, hp):
    b1 = _gamma(hp, "beta1_halflife", 7)
    b2 = _gamma(hp, "beta2_halflife", 69)
    eps = hp.get("rms_regularizer", 1e-8)
    s["m"] = b1 * s.get("m", 0) + (1 - b1) * g
    s["v"] = b2 * s.get("v", 0) + (1 - b2) * g * g
    return lr * (s["m"] / (1 - b1**t)) / (np.sqrt(s["v"] / (1 - b2**t)) + eps)


REFERENCE = dict(
    sgd=ref_sgd,
    nag=ref_sgd,
    rprop=ref_rprop,
    rmsprop=ref_rmsprop,
    adagrad=ref_adagrad,
    adadelta=ref_adadelta,
    esgd=ref_esgd,
    adam=ref_adam,
)


def reference(
    algo,
    n,
    learning_rate=1e-4,
    momentum=0,
    nesterov=False,
    max_gradient_norm=0,
    max_gradient_elem=0,
    **hp,
):
    """Parameter values after each of n steps, computed in float64 numpy."""
    if algo == "nag":
        nesterov = True
    if algo == "esgd":
        children = np.random.SeedSequence(12345).spawn(2)
        hp["generators"] = [np.random.default_rng(c) for c in children]
    params = [W0.astype("f8"), B0.astype("f8")]
    states = [{}, {}]
    history = []
    for t in range(1, n + 1):
        grads = np_grads(*params)
        new = []
        for i, (p, g, s) in enumerate(zip(params, grads, states, strict=True)):
            if max_gradient_elem > 0:
                g = np.clip(g, -max_gradient_elem, max_gradient_elem)
            elif max_gradient_norm > 0:
                g = g * min(1, max_gradient_norm / np.sqrt(np.sum(g * g)))
            step = REFERENCE[algo](s, g, t, i, learning_rate, hp)
            if momentum:
                v = s.get("vel", 0)
                if nesterov:
                    v = momentum**2 * v - (1 + momentum) * step
                else:
                    v = momentum * v - step
                s["vel"] = v
                new.append(p + v)
            else:
                new.append(p - step)
        params = new
        history.append(params)
    return history


def assert_same_steps(actual, expected):
    """Compare parameter changes from the initial values, step by step."""
    initial = [W0, B0]
    for got, want in zip(actual, expected, strict=True):
        for g, w, p0 in zip(got, want, initial, strict=True):
            np.testing.assert_allclose(g - p0, w - p0, rtol=RTOL, atol=ATOL)


HYPER = dict(
    sgd=dict(learning_rate=0.05),
    nag=dict(learning_rate=0.05, momentum=0.5),
    rprop=dict(learning_rate=0.01, rprop_increase=1.2, rprop_decrease=0.5),
    rmsprop=dict(learning_rate=0.01, rms_halflife=3),
    adagrad=dict(learning_rate=0.1),
    adadelta=dict(rms_halflife=3, rms_regularizer=1e-4),
    esgd=dict(learning_rate=0.01, rms_halflife=3),
    adam=dict(learning_rate=0.01, beta1_halflife=2, beta2_halflife=5),
)


# -- update rules -------------------------------------------------------------


@pytest.mark.parametrize("algo", ALGOS)
def test_first_steps_match_hand_derived(algo):
    opt = Regression().build(algo)
    actual = run_steps(opt, 3, **HYPER[algo])
    assert len(actual) == 3
    assert_same_steps(actual, reference(algo, 3, **HYPER[algo]))


def test_rprop_sign_change_zeroes_gradient():
    # a large step overshoots on the first update, so signs flip.
    hp = dict(learning_rate=2.0, rprop_increase=1.5, rprop_decrease=0.25)
    actual = run_steps(Regression().build("rprop"), 4, **hp)
    expected = reference("rprop", 4, **hp)
    assert_same_steps(actual, expected)


def test_rprop_step_clipped_to_bounds():
    hp = dict(learning_rate=0.01, rprop_increase=3.0, rprop_max_step=0.02, rprop_min_step=0.005)
    assert_same_steps(run_steps(Regression().build("rprop"), 3, **hp), reference("rprop", 3, **hp))


@pytest.mark.parametrize("nesterov", [False, True])
def test_momentum(nesterov):
    hp = dict(learning_rate=0.05, momentum=0.9, nesterov=nesterov)
    assert_same_steps(run_steps(Regression().build("sgd"), 3, **hp), reference("sgd", 3, **hp))


def test_momentum_with_adaptive_step():
    hp = dict(learning_rate=0.01, momentum=0.5, nesterov=True)
    assert_same_steps(run_steps(Regression().build("adam"), 3, **hp), reference("adam", 3, **hp))


def test_nag_forces_nesterov():
    hp = dict(learning_rate=0.05, momentum=0.5)
    actual = run_steps(Regression().build("nag"), 2, nesterov=False, **hp)
    assert_same_steps(actual, reference("sgd", 2, nesterov=True, **hp))


def test_velocity_variable_named_after_param():
    problem = Regression()
    names = [v.name for v, _ in problem.build("sgd").get_updates(momentum=0.5)]
    assert names == ["w_vel", "w", "b_vel", "b"]


@pytest.mark.parametrize(
    "algo, names",
    [
        ("rprop", ["w", "w_grad", "w_step"]),
        ("adagrad", ["w_g2_acc", "w"]),
        ("rmsprop", ["w_g1_ewma", "w_g2_ewma", "w"]),
        ("adadelta", ["w_g2_ewma", "w_x2_ewma", "w"]),
        ("adam", ["w_t", "w_g1_ewma", "w_g2_ewma", "w"]),
    ],
)
def test_auxiliary_variable_names(algo, names):
    updates = list(Regression().build(algo).get_updates())
    got = [v.name for v, _ in updates]
    assert got[: len(names)] == names


def test_max_gradient_norm_rescales_each_parameter():
    hp = dict(learning_rate=0.05, max_gradient_norm=0.5)
    grads = np_grads(W0.astype("f8"), B0.astype("f8"))
    assert np.sqrt(np.sum(grads[0] ** 2)) > 0.5  # w's gradient is rescaled
    assert_same_steps(run_steps(Regression().build("sgd"), 3, **hp), reference("sgd", 3, **hp))


def test_max_gradient_elem_clips():
    hp = dict(learning_rate=0.05, max_gradient_elem=0.3)
    grads = np_grads(W0.astype("f8"), B0.astype("f8"))
    assert np.abs(grads[0]).max() > 0.3
    assert_same_steps(run_steps(Regression().build("sgd"), 3, **hp), reference("sgd", 3, **hp))


def test_gradient_clip_alias_is_deprecated():
    opt = Regression().build("sgd")
    with pytest.warns(DeprecationWarning, match="max_gradient_elem"):
        list(opt.get_updates(gradient_clip=0.3))
    assert opt.max_gradient_elem == 0.3


@pytest.mark.parametrize("method", ["lop", "grad", "LOP"])
def test_esgd_hessian_vector_methods_agree(method):
    problem = Regression()
    opt = downhill.ESGD(
        problem.loss, params=[problem.w, problem.b], inputs=[problem.x, problem.y], hv_method=method
    )
    assert_same_steps(run_steps(opt, 2, **HYPER["esgd"]), reference("esgd", 2, **HYPER["esgd"]))


def test_esgd_draws_match_random_stream():
    # ESGD's normal vectors are those of RandomStream(seed), as documented.
    from pytensor.tensor.random.utils import RandomStream

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stream = RandomStream(7)
        expected = pytensor.function([], stream.normal(size=(4,), dtype=FLOAT))
        draws = [expected(), expected()]
    source = _backend.RandomSource(7)
    sample = source.normal(0, 1, (4,), dtype=FLOAT)
    f = pytensor.function([], sample, updates=source.updates())
    np.testing.assert_allclose([f(), f()], draws)


def test_esgd_unknown_hv_method():
    problem = Regression()
    with pytest.raises(
        util.ConfigurationError,
        match=r"hv_method='hessian' is not allowed: "
        r"expected one of rop, lop, grad",
    ):
        downhill.ESGD(problem.loss, hv_method="hessian")


@pytest.mark.parametrize("algo", ALGOS)
def test_step_graph_stays_float32(algo):
    if FLOAT != "float32":
        pytest.skip("floatX is not float32")
    opt = Regression().build(algo)
    opt._compile(momentum=0.5)
    dtypes = {getattr(v.type, "dtype", None) for v in opt.f_step.maker.fgraph.variables}
    assert "float64" not in dtypes


@pytest.mark.parametrize("algo", ALGOS)
def test_each_algorithm_reduces_loss(algo):
    hp = dict(HYPER[algo])
    if algo == "adadelta":
        hp["rms_regularizer"] = 1e-2
    problem = Regression()
    train = Dataset([X, Y], batch_size=4, rng=1)
    opt = problem.build(algo)
    first = last = None
    for tm, _ in opt.iterate(train, max_updates=40, validate_every=1000, **hp):
        first = first or tm["loss"]
        last = tm["loss"]
    assert last < 0.5 * first


# -- monitors -----------------------------------------------------------------


def test_monitors_and_gradient_norms():
    problem = Regression()
    unnamed = pytensor.shared(np.float32(1.0))
    loss = problem.loss + 0 * unnamed
    opt = downhill.build(
        "sgd",
        loss,
        params=[problem.w, problem.b, unnamed],
        inputs=[problem.x, problem.y],
        monitors=[("err", problem.err), ("w0", problem.w[0])],
        monitor_gradients=True,
    )
    values = opt.evaluate(full_batch())
    assert isinstance(values, collections.OrderedDict)
    assert list(values) == ["loss", "err", "w0", "grad(w)", "grad(b)", "grad(unnamed0)"]
    assert all(type(v) is float for v in values.values())
    gw, gb = np_grads(W0.astype("f8"), B0.astype("f8"))
    np.testing.assert_allclose(values["loss"], np_loss(W0, B0), rtol=1e-5)
    np.testing.assert_allclose(values["grad(w)"], np.sum(gw**2), rtol=1e-5)
    np.testing.assert_allclose(values["grad(b)"], gb**2, rtol=1e-5)
    assert values["w0"] == pytest.approx(W0[0])
    assert values["grad(unnamed0)"] == 0


def test_monitors_as_dict():
    problem = Regression()
    opt = problem.build("sgd", monitors={"err": problem.err})
    assert list(opt.evaluate(full_batch())) == ["loss", "err"]


def test_bad_monitors():
    problem = Regression()
    with pytest.raises(util.ConfigurationError, match="monitors must be"):
        problem.build("sgd", monitors=[problem.err])


def test_monitor_means_over_batches():
    problem = Regression()
    opt = problem.build("sgd")
    data = Dataset([X, Y], batch_size=4)
    batch_losses = [
        np.mean((X[i : i + 4].astype("f8").dot(W0) + B0 - Y[i : i + 4]) ** 2)
        for i in range(0, N, 4)
    ]
    assert opt.evaluate(data)["loss"] == pytest.approx(np.mean(batch_losses), rel=1e-5)


def test_step_monitors_use_parameters_before_update():
    opt = Regression().build("sgd")
    ((train, valid),) = list(opt.iterate(full_batch(), max_updates=1, learning_rate=0.1))
    assert train["loss"] == pytest.approx(np_loss(W0, B0), rel=1e-5)
    assert valid["loss"] == pytest.approx(np_loss(W0, B0), rel=1e-5)


def test_evaluate_without_dataset():
    x = pytensor.shared(np.array([3, -2], dtype=FLOAT), name="x")
    opt = downhill.build("sgd", TT.sqr(x).sum())
    assert opt.evaluate(None)["loss"] == pytest.approx(13)


def test_float64_data_is_cast():
    problem = Regression()
    train, _ = downhill.minimize(
        problem.loss,
        [X.astype("f8"), Y.astype("f8")],
        params=[problem.w, problem.b],
        inputs=[problem.x, problem.y],
        algo="sgd",
        learning_rate=0.01,
        max_updates=2,
    )
    assert np.isfinite(train["loss"])


# -- the training loop --------------------------------------------------------


def quadratic(start=(3.0, -2.0)):
    x = pytensor.shared(np.array(start, dtype=FLOAT), name="x")
    return x, TT.sqr(x).sum()


def target_problem():
    """Loss sum((x - t)**2) with an input t: train and valid can disagree."""
    t = TT.vector("t")
    x = pytensor.shared(np.zeros(2, dtype=FLOAT), name="x")
    return x, t, TT.sqr(x - t).sum()


def test_first_yield_validates_initial_params_and_dict_is_reused():
    opt = Regression().build("sgd")
    pairs = list(opt.iterate(full_batch(), max_updates=4, validate_every=3, learning_rate=0.05))
    assert len(pairs) == 4
    valids = [v for _, v in pairs]
    assert valids[0]["loss"] == pytest.approx(np_loss(W0, B0), rel=1e-5)
    assert valids[0] is valids[1] is valids[2]
    assert valids[3] is not valids[2]
    assert valids[3]["loss"] < valids[0]["loss"]
    assert pairs[1][0]["loss"] < valids[0]["loss"]


def test_patience_counts_validations_without_improvement():
    opt = Regression().build("sgd")
    pairs = list(opt.iterate(full_batch(), learning_rate=0, patience=2, validate_every=1))
    assert len(pairs) == 3


def test_patience_zero_with_validate_every():
    opt = Regression().build("sgd")
    pairs = list(opt.iterate(full_batch(), learning_rate=0, patience=0, validate_every=3))
    assert len(pairs) == 3
    assert pairs[0][1] is pairs[2][1]


def test_max_updates_stops():
    opt = Regression().build("sgd")
    assert len(list(opt.iterate(full_batch(), max_updates=5, learning_rate=0.01))) == 5
    assert list(Regression().build("sgd").iterate(full_batch(), max_updates=0)) == []


def test_min_improvement_is_relative():
    # each step multiplies the loss by 0.9604: 4% < 10% is no improvement.
    x, loss = quadratic()
    opt = downhill.build("sgd", loss)
    pairs = list(
        opt.iterate(
            None,
            learning_rate=0.01,
            validate_every=1,
            patience=1,
            min_improvement=0.1,
            max_updates=50,
        )
    )
    assert len(pairs) == 2
    np.testing.assert_allclose(x.get_value(), [3, -2])  # best = initial
    x, loss = quadratic()
    pairs = list(
        downhill.build("sgd", loss).iterate(
            None,
            learning_rate=0.01,
            validate_every=1,
            patience=1,
            min_improvement=0.01,
            max_updates=50,
        )
    )
    assert len(pairs) == 50


def test_best_params_restored_at_end():
    x, t, loss = target_problem()
    opt = downhill.build("sgd", loss, params=[x], inputs=[t])
    train = Dataset([np.ones(2, FLOAT)], batch_size=0)  # pulls x to 1
    valid = Dataset([np.full(2, 0.5, FLOAT)], batch_size=0)  # best at 0.5
    after = [x.get_value().copy()]
    losses = []
    for _, v in opt.iterate(train, valid, learning_rate=0.05, validate_every=1, patience=3):
        losses.append(v["loss"])
        after.append(x.get_value().copy())
    best = int(np.argmin(losses))  # validation k saw the params after k updates
    assert 0 < best < len(losses) - 1
    np.testing.assert_allclose(x.get_value(), after[best])
    assert not np.allclose(after[-1], after[best])
    assert len(losses) == best + 4  # patience 3, then the check before stepping


def test_abandoned_generator_does_not_restore():
    x, loss = quadratic()
    opt = downhill.build("sgd", loss)
    gen = opt.iterate(None, learning_rate=0.1)
    next(gen)
    next(gen)
    gen.close()
    np.testing.assert_allclose(x.get_value(), np.array([3, -2]) * 0.8**2, rtol=1e-6)


def test_keyboard_interrupt_stops_cleanly():
    calls = []

    def batches():
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return [X, Y]

    problem = Regression()
    opt = problem.build("sgd")
    train = Dataset(batches, iteration_size=1)
    pairs = list(opt.iterate(train, full_batch(), learning_rate=0.05))
    assert len(pairs) == 2
    # validated only before the first step: the initial values are the best.
    np.testing.assert_allclose(problem.w.get_value(), W0)
    np.testing.assert_allclose(problem.b.get_value(), B0)


def test_keyboard_interrupt_in_validation():
    def batches():
        raise KeyboardInterrupt

    opt = Regression().build("sgd")
    assert list(opt.iterate(full_batch(), Dataset(batches))) == []


def test_divergence_in_training_warns_and_restores():
    x, loss = quadratic()
    opt = downhill.build("sgd", loss)
    with pytest.warns(RuntimeWarning) as record:
        pairs = list(opt.iterate(None, learning_rate=1e3, patience=1000))
    message = str(record[0].message)
    assert (
        "SGD: training diverged: the training loss of update {} is".format(len(pairs) + 1)
        in message
    )
    assert "restored the best parameters (from update 0, validation loss 13)" in message
    assert all(np.isfinite(t["loss"]) for t, _ in pairs)
    np.testing.assert_allclose(x.get_value(), [3, -2])


def test_divergence_in_validation_warns():
    x, loss = quadratic()
    opt = downhill.build("sgd", loss)
    with pytest.warns(RuntimeWarning, match=r"the validation loss after update \d+ is (inf|nan)"):
        pairs = list(opt.iterate(None, learning_rate=10.0, validate_every=1, patience=1000))
    assert len(pairs) > 5
    assert np.all(np.isfinite(x.get_value()))
    np.testing.assert_allclose(x.get_value(), [3, -2])


def test_divergence_before_any_finite_validation():
    x = pytensor.shared(np.array([np.inf], dtype=FLOAT), name="x")
    opt = downhill.build("sgd", TT.sqr(x).sum())
    with pytest.warns(RuntimeWarning, match="restored the initial parameters"):
        assert list(opt.iterate(None)) == []


def test_minimize_returns_final_pair():
    problem = Regression()
    train, valid = downhill.minimize(
        problem.loss,
        [X, Y],
        valid=[X, Y],
        params=[problem.w, problem.b],
        inputs=[problem.x, problem.y],
        algo="adam",
        batch_size=8,
        learning_rate=0.05,
        max_updates=30,
        validate_every=5,
    )
    assert list(train) == ["loss"] and list(valid) == ["loss"]
    assert train["loss"] < np_loss(W0, B0)
    # parameters are restored to the best validated ones (after update 25)
    assert np_loss(*problem.values()) == pytest.approx(valid["loss"], rel=1e-5)


def test_minimize_wraps_data_in_named_datasets(caplog):
    problem = Regression()
    with caplog.at_level(logging.INFO, logger="theanets.downhill"):
        downhill.minimize(
            problem.loss,
            [X, Y],
            params=[problem.w, problem.b],
            inputs=[problem.x, problem.y],
            algo="sgd",
            batch_size=4,
            train_batches=2,
            max_updates=1,
        )
    messages = [r.getMessage() for r in caplog.records]
    assert "train: 2 of 4 mini-batches from (16, 3), (16,)" in messages


def test_minimize_with_no_steps():
    x, loss = quadratic()
    assert downhill.minimize(loss, None, max_updates=0) == (None, None)


def test_logging(caplog):
    problem = Regression()
    opt = problem.build("sgd", monitors=[("err", problem.err)])
    with caplog.at_level(logging.INFO, logger="theanets.downhill"):
        list(opt.iterate(full_batch(), max_updates=2, learning_rate=0.05))
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("validation 0 loss=") and m.endswith(" *") for m in messages)
    assert any(m.startswith("SGD 1 loss=") and " err=" in m for m in messages)
    assert "learning_rate = 0.05" in messages
    assert not logging.getLogger().handlers or all(
        r.name.startswith("theanets") for r in caplog.records
    )


def test_set_params():
    problem = Regression()
    opt = problem.build("sgd")
    opt.set_params([np.zeros(3, FLOAT), np.float32(1)])
    np.testing.assert_allclose(problem.w.get_value(), 0)
    opt.set_params("best")
    np.testing.assert_allclose(problem.w.get_value(), W0)
    with pytest.raises(util.ConfigurationError, match="got 1 values for 2 parameters"):
        opt.set_params([np.zeros(3)])


def test_inputs_and_params_found_from_graph():
    problem = Regression()
    opt = downhill.build("sgd", problem.loss)
    assert set(opt._inputs) == {problem.x, problem.y}
    assert set(opt._params) == {problem.w, problem.b}


def test_no_params():
    x = TT.vector("x")
    with pytest.raises(util.ConfigurationError, match="no parameters"):
        downhill.build("sgd", x.sum())


def test_param_must_be_shared():
    problem = Regression()
    with pytest.raises(util.ConfigurationError, match="expected a shared variable"):
        downhill.build("sgd", problem.loss, params=[problem.x])


# -- hyper-parameters ---------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            dict(learning_rate=-1),
            r"learning_rate=-1 is not allowed: expected a finite real number >= 0",
        ),
        (dict(learning_rate="fast"), r"learning_rate='fast' is not allowed"),
        (dict(learning_rate=float("nan")), r"learning_rate=nan is not allowed"),
        (dict(momentum=1), r"momentum=1 is not allowed: expected a real number in \[0, 1\)"),
        (dict(momentum=-0.5), r"momentum=-0.5 is not allowed"),
        (dict(patience=-1), r"patience=-1 is not allowed: expected a real number >= 0"),
        (dict(validate_every=0), r"validate_every=0 is not allowed: expected an integer >= 1"),
        (dict(validate_every=2.5), r"validate_every=2.5 is not allowed"),
        (dict(min_improvement=-0.1), r"min_improvement=-0.1 is not allowed"),
        (dict(max_gradient_norm=-1), r"max_gradient_norm=-1 is not allowed"),
        (dict(max_gradient_elem=-1), r"max_gradient_elem=-1 is not allowed"),
        (dict(max_updates=-1), r"max_updates=-1 is not allowed: expected an integer >= 0 or None"),
        (dict(max_updates=2.0), r"max_updates=2.0 is not allowed"),
    ],
)
def test_bad_common_hyperparameters(kwargs, message):
    opt = Regression().build("sgd")
    with pytest.raises(util.ConfigurationError, match=message):
        opt.minimize(full_batch(), **kwargs)


@pytest.mark.parametrize(
    "algo, kwargs, message",
    [
        (
            "rmsprop",
            dict(rms_halflife=0),
            r"rms_halflife=0 is not allowed: expected a finite real number > 0",
        ),
        ("adagrad", dict(rms_regularizer=-1), r"rms_regularizer=-1 is not allowed"),
        ("rprop", dict(rprop_increase=0.5), r"rprop_increase=0.5 is not allowed"),
        (
            "rprop",
            dict(rprop_decrease=0),
            r"rprop_decrease=0 is not allowed: expected a real number in \(0, 1\]",
        ),
        (
            "rprop",
            dict(rprop_min_step=1, rprop_max_step=0.5),
            r"rprop_max_step=0.5 is not allowed: expected a real number >= 1",
        ),
        ("adam", dict(beta1_halflife=-7), r"beta1_halflife=-7 is not allowed"),
    ],
)
def test_bad_algorithm_hyperparameters(algo, kwargs, message):
    opt = Regression().build(algo)
    with pytest.raises(util.ConfigurationError, match=message):
        list(opt.get_updates(**kwargs))


def test_any_real_number_accepted_and_unknown_kwargs_ignored():
    opt = Regression().build("sgd")
    list(
        opt.get_updates(
            learning_rate=np.float64(0.1),
            momentum=0,
            patience=np.int64(3),
            validate_every=np.int32(2),
            hidden_l1=0.5,
            algo="sgd",
            batch_size=3,
        )
    )
    assert opt.learning_rate == 0.1 and type(opt.learning_rate) is float
    assert opt.momentum == 0 and opt.validate_every == 2


def test_defaults():
    opt = Regression().build("adam")
    list(opt.get_updates())
    assert (
        opt.learning_rate,
        opt.momentum,
        opt.nesterov,
        opt.patience,
        opt.validate_every,
        opt.min_improvement,
        opt.max_gradient_norm,
        opt.max_gradient_elem,
    ) == (1e-4, 0, False, 5, 10, 0, 0, 0)
    assert opt.beta1 == pytest.approx(0.9057, abs=1e-4)
    assert opt.beta2 == pytest.approx(0.9900, abs=1e-4)
    assert opt.epsilon == 1e-8


# -- the registry -------------------------------------------------------------


def test_registry_keys():
    registry = downhill.Optimizer._registry
    ours = {k for k, c in registry.items() if c.__module__.startswith("theanets.downhill")}
    assert ours == {
        "optimizer",
        "sgd",
        "nag",
        "rprop",
        "rmsprop",
        "adagrad",
        "adadelta",
        "esgd",
        "adam",
    }


@pytest.mark.parametrize("name", ["SGD", "Adam", "rmsProp", "esgd"])
def test_build_is_case_insensitive(name):
    opt = Regression().build(name)
    assert type(opt).__name__.lower() == name.lower()


def test_build_unknown_name_lists_choices():
    with pytest.raises(KeyError) as info:
        Regression().build("adamw")
    assert isinstance(info.value, util.UnknownNameError)
    message = str(info.value)
    assert "unknown optimizer 'adamw'" in message
    assert "perhaps you meant" in message
    assert "valid choices are: adadelta, adagrad, adam" in message


def test_user_subclass_registers():
    class HalfSGD(downhill.SGD):
        def _get_updates_for(self, param, grad):
            yield param, 0.5 * self.learning_rate * grad

    try:
        opt = Regression().build("halfsgd")
        assert isinstance(opt, HalfSGD)
        hp = dict(learning_rate=0.1)
        assert_same_steps(run_steps(opt, 2, **hp), reference("sgd", 2, learning_rate=0.05))
    finally:
        del downhill.Optimizer._registry["halfsgd"]


def test_base_optimizer_is_not_buildable_by_name():
    with pytest.raises(
        util.UnknownNameError,
        match=r"unknown optimizer 'optimizer'; valid choices are: adadelta, "
        r"adagrad, adam, esgd, nag, rmsprop, rprop, sgd$",
    ):
        Regression().build("optimizer")


def test_base_optimizer_has_no_rule():
    reg = Regression()
    opt = downhill.Optimizer(reg.loss, params=[reg.w, reg.b], inputs=[reg.x, reg.y])
    with pytest.raises(NotImplementedError):
        list(opt.get_updates())


def test_learning_rate_is_shared_and_a_new_value_needs_no_compile():
    opt = Regression().build("sgd", monitors=[])
    run_steps(opt, 1, learning_rate=0.1)  # ends with the best (initial) parameters
    step = opt.f_step
    after = run_steps(opt, 2, learning_rate=0.05)
    assert opt.f_step is step  # reused
    expected = run_steps(Regression().build("sgd"), 2, learning_rate=0.05)
    for got, want in zip(after, expected, strict=True):
        for g, w in zip(got, want, strict=True):
            np.testing.assert_array_equal(g, w)


def test_get_updates_graphs_keep_their_own_learning_rate():
    reg = Regression()
    opt = reg.build("sgd")
    first = dict(opt.get_updates(learning_rate=0.1))[reg.w]
    second = dict(opt.get_updates(learning_rate=0.01))[reg.w]
    f = pytensor.function([reg.x, reg.y], [first, second])
    new1, new2 = f(X, Y)
    grad = pytensor.function([reg.x, reg.y], TT.grad(reg.loss, reg.w))(X, Y)
    np.testing.assert_allclose(W0 - new1, 0.1 * grad, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(W0 - new2, 0.01 * grad, rtol=1e-5, atol=1e-7)


def test_reset_state_restores_the_initial_accumulators():
    reg = Regression()
    opt = reg.build("adam")
    run_steps(opt, 3, learning_rate=0.1)
    state = [var for var, _ in opt._initial_state]
    assert sorted(v.name for v in state) == [
        "b_g1_ewma",
        "b_g2_ewma",
        "b_t",
        "w_g1_ewma",
        "w_g2_ewma",
        "w_t",
    ]
    assert any(np.any(v.get_value() != 0) for v in state)
    opt.reset_state()
    assert all(np.all(v.get_value() == 0) for v in state)


# -- the table of hyper-parameters ---------------------------------------------


def _probe_value(entry):
    """A value that the entry's constraint refuses, and the start of the message."""
    constraint = entry.constraint
    low = constraint.low if isinstance(constraint.low, (int, float)) else None
    bad = low - 1 if low is not None else "x"
    return bad, r"^{}={!r} is not allowed: expected ".format(entry.name, bad).replace("(", r"\(")


@pytest.mark.parametrize("algo", ALGOS)
def test_effective_defaults_are_those_of_the_table(algo):
    opt = Regression().build(algo)
    list(opt.get_updates())
    names = [entry.name for entry in type(opt).hyper_options()]
    assert len(names) == len(set(names)) and {"learning_rate", "patience"} <= set(names)
    for entry in type(opt).hyper_options():
        if entry.name == "nesterov" and algo == "nag":
            continue  # nag sets it
        want = entry.check(entry.default)  # the canonical form: a float, an int
        if entry.convert is not None:
            want = entry.convert(want)
        got = getattr(opt, entry.attr or entry.name)
        assert got == want and type(got) is type(want), (entry.name, got, want)
    assert opt.nesterov is (algo == "nag")


def test_each_optimizer_reads_what_it_declares():
    read = {
        algo: [e.name for e in downhill.Optimizer.get_class(algo).hyper_options()] for algo in ALGOS
    }
    common = [e.name for e in downhill.Optimizer.hyper_options()]
    assert read["sgd"] == read["nag"] == common
    assert (
        read["rprop"]
        == ["rprop_increase", "rprop_decrease", "rprop_min_step", "rprop_max_step"] + common
    )
    assert read["adagrad"] == ["rms_regularizer"] + common
    assert (
        read["rmsprop"]
        == read["adadelta"]
        == read["esgd"]
        == ["rms_halflife", "rms_regularizer"] + common
    )
    assert (
        read["adam"]
        == ["beta1_halflife", "beta2_halflife", "rms_halflife", "rms_regularizer"] + common
    )
    # every hyper-parameter of the table is read by some optimizer
    assert {n for names in read.values() for n in names} == {e.name for e in hypers.OPTIONS}


@pytest.mark.parametrize("algo", ALGOS)
def test_every_hyper_parameter_is_logged_once_in_order(algo, caplog):
    opt = Regression().build(algo)
    with caplog.at_level(logging.INFO, logger="theanets.downhill"):
        list(opt.get_updates(learning_rate=0.05, momentum=0.5))
    logged = [r.getMessage() for r in caplog.records if " = " in r.getMessage()]
    entries = type(opt).hyper_options()
    assert [m.split(" = ")[0] for m in logged] == [e.name for e in entries]
    assert "learning_rate = 0.05" in logged and "momentum = 0.5" in logged
    assert "validate_every = 10" in logged


@pytest.mark.parametrize(
    "entry",
    [e for e in hypers.OPTIONS if not isinstance(e.constraint, hypers.Flag)],
    ids=lambda e: e.name,
)
def test_a_bad_value_of_each_hyper_parameter_gets_the_one_message(entry):
    algo = next(a for a in ALGOS if entry in downhill.Optimizer.get_class(a).hyper_options())
    bad, message = _probe_value(entry)
    with pytest.raises(util.ConfigurationError, match=message):
        list(Regression().build(algo).get_updates(**{entry.name: bad}))
    with pytest.raises(util.ConfigurationError, match=message):
        entry.check(bad)


def test_a_bound_that_names_another_option():
    entry = hypers.option("rprop_max_step")
    assert entry.check(3, {"rprop_min_step": 2.0}) == 3.0
    with pytest.raises(
        util.ConfigurationError,
        match=r"rprop_max_step=1 is not allowed: expected a real number >= 2",
    ):
        entry.check(1, {"rprop_min_step": 2.0})


def test_dataset_options_are_checked_by_the_table():
    for name in ("batch_size", "iteration_size", "axis"):
        bad, message = _probe_value(hypers.option(name))
        with pytest.raises(util.ConfigurationError, match=message):
            Dataset([X, Y], **{name: bad})


def test_signature_defaults_are_the_tables():
    import inspect

    for function, names in (
        (Dataset.__init__, ("batch_size", "iteration_size", "axis")),
        (downhill.minimize, ("batch_size", "train_batches", "valid_batches")),
        (downhill.Optimizer.iterate, ("max_updates",)),
    ):
        parameters = inspect.signature(function).parameters
        for name in names:
            assert parameters[name].default == hypers.option(name).default, (function, name)


def test_an_unknown_name_in_hypers_is_reported():
    class Odd(downhill.SGD):
        HYPERS = ("learning_rat",)

    try:
        with pytest.raises(util.UnknownNameError, match="unknown hyper-parameter 'learning_rat'"):
            Odd.hyper_options()
    finally:
        del downhill.Optimizer._registry["odd"]


def test_a_user_optimizer_with_its_own_prepare_keywords_keeps_working():
    from theanets import options

    class ScaledSGD(downhill.SGD):
        def _prepare(self, scale=0.5, **kwargs):
            self.scale = scale
            super()._prepare(**kwargs)

        def _get_updates_for(self, param, grad):
            yield param, self.scale * self.learning_rate * grad

    try:
        opt = Regression().build("scaledsgd")
        assert_same_steps(
            run_steps(opt, 2, learning_rate=0.1), reference("sgd", 2, learning_rate=0.05)
        )
        assert opt.scale == 0.5 and opt.learning_rate == 0.1
        other = Regression().build("scaledsgd")
        assert_same_steps(
            run_steps(other, 2, learning_rate=0.1, scale=0.25),
            reference("sgd", 2, learning_rate=0.025),
        )
        assert options._optimizer_options()["scale"] == 0.5  # a known training option
    finally:
        del downhill.Optimizer._registry["scaledsgd"]


def test_a_user_optimizer_may_declare_an_option_record():
    from theanets import options

    scale = hypers.Option(
        "scale_by", 0.5, hypers.Real(0, low_open=True), "optimizer", True, "a factor"
    )

    class ScaledBy(downhill.SGD):
        HYPERS = (scale,)

        def _get_updates_for(self, param, grad):
            yield param, self.scale_by * self.learning_rate * grad

    try:
        assert ScaledBy.hyper_options()[0] is scale
        opt = Regression().build("scaledby")
        assert_same_steps(
            run_steps(opt, 2, learning_rate=0.1), reference("sgd", 2, learning_rate=0.05)
        )
        with pytest.raises(
            util.ConfigurationError,
            match=r"scale_by=0 is not allowed: expected a finite real number > 0",
        ):
            list(Regression().build("scaledby").get_updates(scale_by=0))
        assert options._optimizer_options()["scale_by"] == 0.5
    finally:
        del downhill.Optimizer._registry["scaledby"]


def test_loop_and_shared_hypers_come_from_the_table():
    assert downhill.Optimizer._LOOP_PARAMS == ("patience", "validate_every", "min_improvement")
    assert downhill.Optimizer.SHARED_HYPERS == ("learning_rate",)
    assert downhill.RProp.SHARED_HYPERS == ()
