"""Choosing the compile mode: the user's choice wins, else JAX where installed, else Numba."""

import os

import numpy as np
import pytensor
import pytensor.sparse
import pytensor.tensor as TT
import pytest
from pytensor.link.numba.linker import NumbaLinker

from theanets import _mode


@pytest.fixture
def no_user_mode(monkeypatch):
    """A process where the user named no mode: PyTensor's defaults."""
    monkeypatch.setenv("PYTENSOR_FLAGS", "floatX={}".format(pytensor.config.floatX))
    with pytensor.config.change_flags(mode="Mode", linker="auto"):
        yield


def test_user_mode_from_the_flags():
    # the test set-up (conftest.py) names FAST_COMPILE unless the user set
    # PYTENSOR_FLAGS; either way a mode named there is the user's choice
    if "mode=" not in os.environ.get("PYTENSOR_FLAGS", "").lower():
        pytest.skip("PYTENSOR_FLAGS names no mode in this run")
    assert _mode.user_mode() is not None
    assert _mode.default_mode() is _mode.user_mode()


@pytest.mark.parametrize("mode", ["FAST_COMPILE", "NUMBA", "CVM"])
def test_an_explicit_mode_always_wins(no_user_mode, mode):
    with pytensor.config.change_flags(mode=mode):
        assert _mode.user_mode() is pytensor.compile.mode.get_mode(mode)
        assert _mode.default_mode() is pytensor.compile.mode.get_mode(mode)


def test_mode_named_in_the_environment_wins(no_user_mode, monkeypatch):
    # PYTENSOR_FLAGS=mode=Mode (or linker=...) is a choice, even of the default
    monkeypatch.setenv("PYTENSOR_FLAGS", "mode=Mode")
    assert _mode.user_mode() is not None


def test_an_explicit_linker_wins(no_user_mode):
    with pytensor.config.change_flags(linker="cvm"):
        assert _mode.user_mode() is not None
        assert not isinstance(_mode.default_mode().linker, NumbaLinker)


def test_without_jax_the_default_is_numba(no_user_mode, monkeypatch):
    monkeypatch.setattr(_mode, "jax_available", lambda: False)
    assert _mode.user_mode() is None
    assert isinstance(_mode.default_mode().linker, NumbaLinker)


def test_with_jax_the_default_is_jax(no_user_mode):
    pytest.importorskip("jax")
    x = TT.matrix("x")
    mode = _mode.default_mode([x], [2 * x])
    assert type(mode.linker).__name__ == "StaticShapeJAXLinker"
    f = pytensor.function([x], 2 * x, mode=mode)
    np.testing.assert_allclose(np.asarray(f(np.ones((2, 3), pytensor.config.floatX))), 2)


def test_scan_graphs_get_fewer_rewrites_in_jax(no_user_mode):
    pytest.importorskip("jax")
    from theanets import _backend

    x = TT.tensor3("x")
    (h,), _ = _backend.scan(
        lambda x_t, h: TT.tanh(x_t + h), sequences=[x], outputs_info=[TT.zeros_like(x[0])]
    )
    scan_mode = _mode.default_mode([x], [h])
    assert list(scan_mode.provided_optimizer.include) == list(_mode.SCAN_REWRITES)
    plain_mode = _mode.default_mode([x], [2 * x])
    assert plain_mode is _mode.jax_mode()
    assert scan_mode is not plain_mode


def test_sparse_graphs_are_not_compiled_in_jax(no_user_mode, monkeypatch):
    monkeypatch.setattr(_mode, "jax_available", lambda: True)
    x = pytensor.sparse.csr_matrix("x", dtype=pytensor.config.floatX)
    w = TT.matrix("w")
    y = pytensor.sparse.structured_dot(x, w)
    assert isinstance(_mode.default_mode([x, w], [y]).linker, NumbaLinker)
    # and the updates are looked at as well
    s = pytensor.shared(np.zeros((2, 2), pytensor.config.floatX))
    assert isinstance(_mode.default_mode([w], [], [(s, s + y)]).linker, NumbaLinker)


def _noisy(seed=13):
    from theanets import _backend

    x = TT.matrix("x")
    source = _backend.RandomSource(seed)
    y = x * source.normal(0, 1, x.shape) * source.binomial(1, 0.5, x.shape)
    return x, y, source.updates()


def test_random_draws_compile_in_jax_with_its_generator(no_user_mode, monkeypatch):
    pytest.importorskip("jax")
    monkeypatch.delenv("THEANETS_DRAWS", raising=False)
    x, y, updates = _noisy()
    choice = _mode.choose([x], [y], updates)
    assert choice.mode is _mode.jax_mode()
    assert choice.describe() == "JAX: noise and dropout drawn by JAX's generator"
    f = pytensor.function([x], y, updates=updates, mode=choice.mode)
    ones = np.ones((40, 50), pytensor.config.floatX)
    first, second = np.asarray(f(ones)), np.asarray(f(ones))
    # each call draws anew; about half of the binomial mask is zero
    assert not np.array_equal(first, second)
    assert 0.35 < np.mean(first == 0) < 0.65
    # the same seed gives the same draws in a new function
    x2, y2, updates2 = _noisy()
    g = pytensor.function([x2], y2, updates=updates2, mode=_mode.default_mode([x2], [y2], updates2))
    np.testing.assert_array_equal(np.asarray(g(ones)), first)


def test_numpy_draws_are_one_setting_away(no_user_mode, monkeypatch):
    monkeypatch.setattr(_mode, "jax_available", lambda: True)
    monkeypatch.setenv("THEANETS_DRAWS", "numpy")
    x, y, updates = _noisy()
    choice = _mode.choose([x], [y], updates)
    assert isinstance(choice.mode.linker, NumbaLinker)
    assert choice.describe() == "Numba: THEANETS_DRAWS=numpy keeps numpy's random draws"
    # a graph without draws still compiles with JAX
    assert _mode.choose([x], [2 * x]).name == "JAX"


def test_an_unknown_draws_setting_names_the_choices(no_user_mode, monkeypatch):
    monkeypatch.setattr(_mode, "jax_available", lambda: True)
    monkeypatch.setenv("THEANETS_DRAWS", "torch")
    x, y, updates = _noisy()
    with pytest.raises(ValueError, match="THEANETS_DRAWS must be one of jax, numpy, not 'torch'"):
        _mode.choose([x], [y], updates)


def test_every_numba_choice_says_why(no_user_mode, monkeypatch):
    x = pytensor.sparse.csr_matrix("x", dtype=pytensor.config.floatX)
    w = TT.matrix("w")
    y = pytensor.sparse.structured_dot(x, w)
    monkeypatch.setattr(_mode, "jax_available", lambda: True)
    assert _mode.choose([x, w], [y]).describe() == (
        "Numba: the model takes sparse inputs, which JAX cannot hold"
    )
    monkeypatch.setattr(_mode, "jax_available", lambda: False)
    assert _mode.choose([w], [2 * w]).describe() == "Numba: jax is not installed"
    with pytensor.config.change_flags(mode="NUMBA"):
        assert _mode.choose([w], [2 * w]).describe() == (
            "NUMBA: the mode set in PyTensor's configuration"
        )


def test_dropout_trains_under_jax_and_keeps_numpy_draws_on_request(no_user_mode, monkeypatch):
    # a real model: dropout's binomial masks compile in JAX (no NumPyro
    # needed), and with THEANETS_DRAWS=numpy the same model draws numpy's
    pytest.importorskip("jax")
    import theanets
    from theanets import _compiles

    rng = np.random.RandomState(0)
    X = rng.randn(64, 5).astype(pytensor.config.floatX)
    Y = rng.randn(64, 2).astype(pytensor.config.floatX)
    finals = {}
    for setting in ("jax", "numpy"):
        monkeypatch.setenv("THEANETS_DRAWS", setting)
        net = theanets.Regressor([5, (8, "relu"), 2], rng=3)
        before = _compiles.counts()
        net.train(
            [X, Y], algo="sgd", max_updates=3, validate_every=1, hidden_dropout=0.5, progress=False
        )
        # XLA programs are compiled (counted as "shape") in the JAX mode only
        assert ((_compiles.counts() - before)["shape"] > 0) == (setting == "jax")
        finals[setting] = net.params[0].get_value().copy()
        assert np.isfinite(finals[setting]).all()
    # the two generators give the model different masks, hence weights
    assert not np.allclose(finals["jax"], finals["numpy"])


def test_jax_mode_without_jax_says_how_to_install(monkeypatch):
    from theanets import _jax

    monkeypatch.setattr(_jax, "jax_available", lambda: False)
    with pytest.raises(ImportError, match="pip install jax"):
        _mode.jax_mode()


@pytest.mark.slow
def test_benchmark_harness_smoke():
    # the benchmark command runs end to end and prints a ratio per case
    import subprocess
    import sys

    pytest.importorskip("torch")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.run(
        [
            sys.executable,
            os.path.join(root, "benchmarks", "run.py"),
            "--quick",
            "--cases",
            "autoencoder,predict",
            "--reps",
            "1",
        ],
        capture_output=True,
        text=True,
        cwd=root,
        timeout=1800,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.count("ratio") == 2, proc.stdout
    assert "FAILED" not in proc.stdout, proc.stdout
    assert "BLAS and threads" in proc.stdout


def test_the_display_names_the_mode_and_why(no_user_mode, caplog, monkeypatch):
    # a plain script's first line while it trains a model with dropout
    pytest.importorskip("jax")
    import io
    import logging
    import sys

    import theanets

    monkeypatch.delenv("THEANETS_DRAWS", raising=False)
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # lines, not a bar
    caplog.set_level(logging.INFO, logger="theanets")
    rng = np.random.RandomState(0)
    X = rng.randn(32, 3).astype(pytensor.config.floatX)
    Y = rng.randn(32, 2).astype(pytensor.config.floatX)
    net = theanets.Regressor([3, (4, "relu"), 2])
    net.train([X, Y], algo="sgd", max_updates=2, hidden_dropout=0.1)
    messages = [r.getMessage() for r in caplog.records if r.name == "theanets.feedback"]
    assert messages[0] == (
        "compiling the training function (JAX: noise and dropout drawn by JAX's generator)..."
    )


def test_the_display_names_a_configured_mode(caplog, monkeypatch):
    import io
    import logging
    import sys

    import theanets

    monkeypatch.setattr(sys, "stderr", io.StringIO())
    caplog.set_level(logging.INFO, logger="theanets")
    X = np.ones((16, 3), pytensor.config.floatX)
    with pytensor.config.change_flags(mode="FAST_COMPILE"):
        theanets.Regressor([3, 2]).train([X, X[:, :2]], algo="sgd", max_updates=1)
    messages = [r.getMessage() for r in caplog.records if r.name == "theanets.feedback"]
    assert messages[0] == (
        "compiling the training function "
        "(FAST_COMPILE: the mode set in PyTensor's configuration)..."
    )
