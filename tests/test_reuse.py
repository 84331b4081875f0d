"""Compiled functions are reused: a second train call, predict, score, encode,
decode and the pretrainers' stages compile nothing new when the graph and the
settings are the same; a changed setting compiles again. Each train call
still starts with fresh optimizer state, as when the original built a new
optimizer per call.

Compilations are counted by wrapping ``pytensor.function``, the one function
through which theanets compiles.
"""

import numpy as np
import pytensor
import pytest

import theanets

FLOAT = pytensor.config.floatX

_rs = np.random.RandomState(3)
X = _rs.randn(40, 6).astype(FLOAT)
Y = _rs.randn(40, 2).astype(FLOAT)
LABELS = _rs.randint(0, 3, size=40).astype("int32")

FAST = dict(max_updates=3, validate_every=2, batch_size=10)


@pytest.fixture
def compiles(monkeypatch):
    """The names of the functions compiled while the test runs (by this
    test's models: the process's cache of functions shared between models
    of the same structure is emptied first)."""
    theanets._cache.CACHES.clear()
    calls = []
    real = pytensor.function

    def counting(*args, **kwargs):
        calls.append(kwargs.get("name") or "function")
        return real(*args, **kwargs)

    monkeypatch.setattr(pytensor, "function", counting)
    return calls


def _ae():
    return theanets.Autoencoder([6, (4, "tanh"), 6])


def test_second_train_call_compiles_nothing(compiles):
    net = _ae()
    net.train([X], **FAST)
    assert compiles == ["rmsprop_eval", "rmsprop_step"]
    net.train([X], **FAST)
    list(net.itertrain([X], **FAST))
    assert compiles == ["rmsprop_eval", "rmsprop_step"]


def test_options_that_only_steer_the_loop_compile_nothing(compiles):
    net = _ae()
    net.train([X], **FAST)
    count = len(compiles)
    net.train(
        [X],
        max_updates=2,
        validate_every=1,
        patience=1,
        batch_size=7,
        min_improvement=0.1,
        iteration_size=2,
        rng=5,
    )
    assert len(compiles) == count


def test_predict_score_encode_decode_compile_once(compiles):
    net = _ae()
    net.train([X], **FAST)
    first = len(compiles)
    for _ in range(3):
        net.predict(X)
        net.score(X)
        net.decode(net.encode(X))
        net.train([X], **FAST)
    # feed_forward (predict, score, encode) and decode: one function each.
    assert len(compiles) == first + 2


def test_classifier_predict_and_score_reuse(compiles):
    net = theanets.Classifier([6, 5, 3])
    net.train([X, LABELS], **FAST)
    net.predict(X)
    count = len(compiles)
    net.score(X, LABELS)
    net.predict_proba(X)
    net.train([X, LABELS], **FAST)
    net.predict(X)
    assert len(compiles) == count


@pytest.mark.parametrize(
    "change",
    [
        dict(hidden_l1=0.1),
        dict(weight_l2=0.01),
        dict(hidden_dropout=0.2),
        dict(algo="adam"),
        dict(algo="sgd", momentum=0.5),
        dict(monitors={"hid1:out": 0.1}),
        dict(monitor_gradients=True),
        dict(algo="nag", momentum=0.5),
        dict(algo="rprop", learning_rate=0.01),
        dict(rms_halflife=7),
        dict(max_gradient_norm=1),
    ],
)
def test_a_changed_setting_compiles_again_and_only_then(compiles, change):
    net = _ae()
    net.train([X], **FAST)
    count = len(compiles)
    net.train([X], **dict(FAST, **change))
    assert len(compiles) == count + 2  # the evaluation and the step function
    count = len(compiles)
    net.train([X], **dict(FAST, **change))
    net.train([X], **FAST)  # the first settings again: still cached
    assert len(compiles) == count


def test_a_changed_loss_compiles_again(compiles):
    net = theanets.Regressor([6, 4, 2])
    net.train([X, Y], **FAST)
    count = len(compiles)
    net.set_loss("mae")
    net.train([X, Y], **FAST)
    assert len(compiles) == count + 2
    net.losses[0].weight = 2
    net.train([X, Y], **FAST)
    assert len(compiles) == count + 4


@pytest.mark.parametrize("algo", ["sgd", "rmsprop", "adam", "adagrad", "esgd"])
def test_a_new_learning_rate_compiles_nothing(compiles, algo):
    # The learning rate is a shared variable of the step (not for rprop,
    # where it is the initial step size, nor with Nesterov momentum).
    net = _ae()
    net.train([X], algo=algo, learning_rate=0.01, **FAST)
    count = len(compiles)
    net.train([X], algo=algo, learning_rate=0.002, **FAST)
    assert len(compiles) == count


@pytest.mark.parametrize(
    "algo,kwargs",
    [
        ("sgd", dict(momentum=0.9)),
        ("nag", dict(momentum=0.9)),
        ("rprop", {}),
        ("rmsprop", {}),
        ("adagrad", {}),
        ("esgd", {}),
        ("adam", {}),
    ],
)
def test_a_new_learning_rate_gives_what_a_new_compilation_gives(algo, kwargs):
    reused, rebuilt = _ae(), _ae()
    for lr in (0.01, 0.003, 0.02):
        rebuilt._caches.clear()
        assert _run(reused, algo, dict(kwargs, learning_rate=lr)) == _run(
            rebuilt, algo, dict(kwargs, learning_rate=lr)
        )
        for a, b in zip(reused.params, rebuilt.params, strict=True):
            np.testing.assert_array_equal(a.get_value(), b.get_value())


@pytest.mark.parametrize("algo", ["layerwise", "pretrain"])
def test_pretrainer_stages_compile_once(compiles, algo):
    net = theanets.Regressor([6, 5, 4, 2])
    data = [X] if algo == "pretrain" else [X, Y]
    net.train(data, algo=algo, **FAST)
    count = len(compiles)
    assert count == 4  # two stages, each an evaluation and a step function
    net.train(data, algo=algo, **FAST)
    assert len(compiles) == count


# ----- fresh optimizer state per call ----------------------------------------

STATEFUL = [
    ("sgd", dict(momentum=0.9, learning_rate=0.01)),
    ("nag", dict(momentum=0.9, learning_rate=0.01)),
    ("rprop", dict(learning_rate=0.01)),
    ("rmsprop", dict(learning_rate=0.01)),
    ("adagrad", dict(learning_rate=0.1)),
    ("adadelta", dict()),
    ("esgd", dict(learning_rate=0.01)),
    ("adam", dict(learning_rate=0.01)),
]


def _run(net, algo, kwargs):
    return [
        (dict(t), dict(v))
        for t, v in net.itertrain(
            [X], algo=algo, max_updates=4, validate_every=2, batch_size=10, **kwargs
        )
    ]


@pytest.mark.parametrize("algo,kwargs", STATEFUL)
def test_second_call_starts_with_fresh_optimizer_state(algo, kwargs):
    # A network whose optimizer is reused, and one whose cache is emptied
    # between the calls (so a new optimizer is built, as the original did
    # for every call): the same monitors and the same parameters, exactly.
    reused, rebuilt = _ae(), _ae()
    for i in range(3):
        if i:
            rebuilt._caches.clear()
        assert _run(reused, algo, kwargs) == _run(rebuilt, algo, kwargs)
        for a, b in zip(reused.params, rebuilt.params, strict=True):
            np.testing.assert_array_equal(a.get_value(), b.get_value())


def test_second_call_starts_with_fresh_early_stopping_state():
    # After a first call validated a low loss, the second call's first
    # validation is its best so far (the original had a fresh optimizer).
    net = _ae()
    net.train([X], algo="sgd", learning_rate=0.05, max_updates=6, validate_every=2)
    net.find("hid1", "w").set_value(net.find("hid1", "w").get_value() * 3)
    start = [p.get_value() for p in net.params]
    # patience=0: the second validation is worse than the first, so training
    # stops there and restores the parameters of the first validation: the
    # ones this call started with, not the first call's best.
    net.train([X], algo="sgd", learning_rate=10.0, max_updates=6, validate_every=1, patience=0)
    for a, b in zip(start, net.params, strict=True):
        np.testing.assert_array_equal(a, b.get_value())


@pytest.mark.parametrize("algo", ["layerwise", "pretrain"])
def test_pretrainer_reuse_equals_a_fresh_run(algo):
    data = [X] if algo == "pretrain" else [X, Y]
    reused = theanets.Regressor([6, 5, 4, 2])
    rebuilt = theanets.Regressor([6, 5, 4, 2])
    for i in range(2):
        if i:
            rebuilt._caches.clear()
        a = [(dict(t), dict(v)) for t, v in reused.itertrain(data, algo=algo, **FAST)]
        b = [(dict(t), dict(v)) for t, v in rebuilt.itertrain(data, algo=algo, **FAST)]
        assert a == b
        for p, q in zip(reused.params, rebuilt.params, strict=True):
            np.testing.assert_array_equal(p.get_value(), q.get_value())


def test_the_cache_of_optimizers_is_bounded():
    net = _ae()
    for i in range(theanets.trainer.CACHED_OPTIMIZERS + 3):
        net.train([X], rms_halflife=i + 1, max_updates=1)
    assert len(net._caches["optimizers"]) == theanets.trainer.CACHED_OPTIMIZERS
