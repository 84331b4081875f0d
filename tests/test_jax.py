"""The same models run unchanged in JAX mode (on the CPU), with the same numbers.

Skipped only when jax is not installed (``pip install jax``).
"""

import numpy as np
import pytest

jax = pytest.importorskip("jax")

import pytensor  # noqa: E402
import pytensor.tensor as TT  # noqa: E402

import theanets  # noqa: E402
from theanets import _backend, _mode  # noqa: E402


@pytest.fixture
def compile_in_default_mode(monkeypatch):
    """Compile every function without an explicit mode in ``default_mode``.

    theanets' own compile calls pass ``mode=_mode.default_mode(...)``; this
    makes the tests independent of how a function reaches
    ``pytensor.function``.
    """
    original = pytensor.function

    def function(inputs, outputs=None, *args, **kwargs):
        if kwargs.get("mode") is None:
            kwargs["mode"] = _mode.default_mode(inputs, outputs, kwargs.get("updates"))
        return original(inputs, outputs, *args, **kwargs)

    monkeypatch.setattr(pytensor, "function", function)


def train_and_predict(make, data, mode, **kwargs):
    model = make()
    with pytensor.config.change_flags(mode=mode):
        train, _ = model.train(data, max_updates=2, batch_size=4, iteration_size=1, rng=0, **kwargs)
        prediction = np.asarray(model.predict(data[0]))
    return train["loss"], prediction, [p.get_value() for p in model.params]


def assert_same_in_jax(make, data, **kwargs):
    loss_j, pred_j, params_j = train_and_predict(make, data, "JAX", **kwargs)
    loss_f, pred_f, params_f = train_and_predict(make, data, "FAST_COMPILE", **kwargs)
    np.testing.assert_allclose(loss_j, loss_f, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(pred_j, pred_f, rtol=1e-4, atol=1e-5)
    for a, b in zip(params_j, params_f, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_explicit_jax_mode_gets_the_static_shape_linker():
    with pytensor.config.change_flags(mode="JAX"):
        mode = _mode.default_mode()
    assert type(mode.linker).__name__ == "StaticShapeJAXLinker"
    assert mode is _mode.jax_mode(mode.provided_optimizer)


def test_autoencoder(compile_in_default_mode):
    rng = np.random.RandomState(1)
    data = [rng.rand(8, 6).astype("float32")]
    assert_same_in_jax(
        lambda: theanets.Autoencoder([6, (3, "tanh"), (6, "linear")]), data, algo="adam"
    )


def test_classifier_cross_entropy(compile_in_default_mode):
    # the loss indexes with arange(batch): PyTensor's JAX arange failed on it
    rng = np.random.RandomState(2)
    data = [rng.rand(8, 5).astype("float32"), rng.randint(0, 3, size=8).astype("int32")]
    assert_same_in_jax(lambda: theanets.Classifier([5, (4, "relu"), 3]), data, algo="rmsprop")


def test_lstm_regressor(compile_in_default_mode):
    # scan sized from the input's shape: "Shapes must be 1D sequences of
    # concrete values" in PyTensor's own JAX mode
    rng = np.random.RandomState(3)
    data = [rng.randn(8, 5, 3).astype("float32"), rng.randn(8, 5, 2).astype("float32")]
    assert_same_in_jax(lambda: theanets.recurrent.Regressor([3, (4, "lstm"), 2]), data, algo="adam")


def test_gru_classifier(compile_in_default_mode):
    rng = np.random.RandomState(4)
    data = [rng.randn(8, 5, 3).astype("float32"), rng.randint(0, 2, size=(8, 5)).astype("int32")]
    assert_same_in_jax(
        lambda: theanets.recurrent.Classifier([3, (4, "gru"), 2]),
        data,
        algo="sgd",
        learning_rate=0.1,
    )


def test_convolution_classifier(compile_in_default_mode):
    rng = np.random.RandomState(5)
    data = [rng.rand(8, 6, 5, 2).astype("float32"), rng.randint(0, 3, size=8).astype("int32")]
    assert_same_in_jax(
        lambda: theanets.convolution.Classifier(
            [(6, 5, 2), dict(form="conv2", size=3, filter_size=(3, 2)), "pool2", "flat", 3]
        ),
        data,
        algo="adam",
    )


def test_scan_sized_from_input_shape():
    # a recurrence whose initial state and buffers depend on the batch size
    x = TT.tensor3("x")
    h0 = TT.zeros((x.shape[1], x.shape[2]), dtype=x.dtype)
    (hs,), _ = _backend.scan(lambda x_t, h: TT.tanh(x_t + h), sequences=[x], outputs_info=[h0])
    f = pytensor.function([x], TT.grad(hs.sum(), x).sum(), mode=_mode.jax_mode())
    g = pytensor.function([x], TT.grad(hs.sum(), x).sum(), mode="FAST_COMPILE")
    value = np.random.RandomState(6).randn(4, 3, 2).astype(pytensor.config.floatX)
    np.testing.assert_allclose(f(value), g(value), rtol=1e-5)


def test_outputs_are_numpy_arrays(compile_in_default_mode):
    model = theanets.Regressor([3, (4, "tanh"), 2])
    x = np.random.RandomState(7).rand(5, 3).astype("float32")
    with pytensor.config.change_flags(mode="JAX"):
        prediction = model.predict(x)
    assert isinstance(prediction, np.ndarray)
    assert prediction.shape == (5, 2)


FORKED_CHILD = """
import multiprocessing, numpy as np, theanets
x = np.random.RandomState(0).randn(20, 4).astype('float32')
model = theanets.Autoencoder([4, 3, 4])
model.train([x], max_updates=2)

def work(i):
    try:
        return float(model.predict(x).sum())
    except Exception as error:
        return '{}: {}'.format(type(error).__name__, error)

if __name__ == '__main__':
    with multiprocessing.get_context('fork').Pool(1) as pool:
        print(pool.map(work, [0])[0])
"""


def test_a_forked_child_gets_an_error_instead_of_hanging(tmp_path):
    import os
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTENSOR_FLAGS", "THEANO_FLAGS")}
    env["PYTHONPATH"] = root
    script = tmp_path / "forked.py"
    script.write_text(FORKED_CHILD)
    done = subprocess.run(
        [sys.executable, "-W", "ignore", str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert "ForkedJAXError: this process was forked" in done.stdout, done.stdout + done.stderr
    assert 'get_context("spawn")' in done.stdout
