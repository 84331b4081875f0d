"""The fused GRU operation (theanets.ops.gru) against its scan definition.

Values and first-order gradients come from the Numba kernels, in every path
that runs them (``perform``, the Numba mode, XLA foreign functions on one
thread or several, the host callback) and from XLA operations (the
accelerator's path); R-operators and second derivatives from the scan
reference. The gru layer uses the fused operation unless ``bptt_limit`` asks
for truncated backpropagation, or its activation is not an elementwise one
the kernels compute (both scan).
"""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytensor
import pytensor.tensor as TT
import pytest

import theanets
from theanets import _mode
from theanets._backend import jacobian_vector
from theanets.ops import ffi_targets, gru_ffi, xla_lstm
from theanets.ops import gru as fused
from theanets.ops import gru_kernels as kernels
from theanets.ops.lstm_kernels import BLOCK

STEPS, BATCH, INPUTS, SIZE = 6, 3, 2, 4
NAMES = list(fused.OUTPUTS[:4]) + ["d" + n for n in fused._NAMES]


def gru_inputs(dtype, seed=0, batch=None, size=None):
    """Symbolic inputs of gru_sequence and values for them (a non-zero state)."""
    batch, size = batch or BATCH, size or SIZE
    rng = np.random.RandomState(seed)
    shapes = [
        (STEPS, batch, INPUTS),
        (batch, size),
        (INPUTS, 3 * size),
        (3 * size,),
        (size, size),
        (size, size),
        (size, size),
    ]
    values = [(0.5 * rng.randn(*shape)).astype(dtype) for shape in shapes]
    symbols = [
        TT.tensor(dtype=dtype, shape=(None,) * len(shape), name=name)
        for shape, name in zip(shapes, fused._NAMES, strict=True)
    ]
    return symbols, values


def weighted_cost(outputs, dtype, seed=1):
    """A cost that reads every one of the four outputs, each with its own weights."""
    rng = np.random.RandomState(seed)
    shape = (STEPS, BATCH, SIZE)
    return sum((out * rng.randn(*shape).astype(dtype)).sum() for out in outputs)


def _graph(symbols, dtype, activation, shape, reference=False):
    """The four outputs and the gradients of a weighted cost of them."""
    if reference:
        outputs = fused.reference(*symbols, activation)[:4]
    else:
        outputs = fused.gru_sequence(*symbols, activation=activation)
    rng = np.random.RandomState(1)
    cost = sum((out * rng.randn(*shape).astype(dtype)).sum() for out in outputs)
    return list(outputs) + pytensor.grad(cost, symbols)


def _compare(got, want, tol):
    for name, a, b in zip(NAMES, got, want, strict=True):
        assert np.asarray(a).dtype == np.asarray(b).dtype, name
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol, err_msg=name)


def _run(mode, dtype, activation, seed=0, batch=None, size=None, tol=None):
    """The fused graph in ``mode`` against the scan definition in FAST_COMPILE."""
    symbols, values = gru_inputs(dtype, seed, batch, size)
    shape = (STEPS, batch or BATCH, size or SIZE)
    got = pytensor.function(symbols, _graph(symbols, dtype, activation, shape), mode=mode)(*values)
    definition = _graph(symbols, dtype, activation, shape, reference=True)
    want = pytensor.function(symbols, definition, mode="FAST_COMPILE")(*values)
    _compare(got, want, tol or (2e-5 if dtype == "float32" else 1e-11))
    return got


@pytest.mark.parametrize("activation", kernels.ACTIVATIONS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_values_and_gradients_match_the_scan_definition(dtype, activation):
    _run("FAST_COMPILE", dtype, activation)


def test_aliases_are_their_activations():
    assert fused.GRUSequence("sigmoid") == fused.GRUSequence("logistic")
    assert fused.GRUSequence("rect:max") == fused.GRUSequence("relu")
    for name in ("softmax", "prelu", "relu+tanh", "norm:z", "elu"):
        assert fused.activation_index(name) is None
        with pytest.raises(ValueError, match="activation must be one of"):
            fused.GRUSequence(name)


@pytest.mark.parametrize("mode", ["FAST_COMPILE", "NUMBA"])
def test_recurrent_products_in_blocks_match_the_scan_definition(mode):
    # 40 units: the gates' 80 columns are a full block and a short one,
    # forwards; 40 and 80 inner terms backwards, one block and two
    assert 2 * 40 > BLOCK > 40
    _run(mode, "float64", "tanh", seed=5, batch=5, size=40)


def test_units_at_the_activations_kinks_take_pytensors_slope():
    # relu and the clips at exactly 0 and 1: the slopes PyTensor's gradient
    # gives there (maximum and minimum pass it where the output is the input)
    symbols, values = gru_inputs("float64")
    values[2][...] = 0
    values[4][...] = 0
    values[3][:SIZE] = np.tile([0.0, 1.0, -0.5, 1.5], SIZE // 4)
    for activation in ("relu", "rect:min", "rect:minmax"):
        shape = (STEPS, BATCH, SIZE)
        got = pytensor.function(symbols, _graph(symbols, "float64", activation, shape))(*values)
        reference = _graph(symbols, "float64", activation, shape, reference=True)
        want = pytensor.function(symbols, reference)(*values)
        _compare(got, want, 1e-12)


def test_gradients_match_finite_differences():
    _, values = gru_inputs("float64")

    def cost(*inputs):
        return weighted_cost(fused.gru_sequence(*inputs, activation="tanh"), "float64")

    pytensor.gradient.verify_grad(cost, values, rng=np.random.RandomState(2), eps=1e-6)


@pytest.mark.parametrize("index", range(len(fused.OUTPUTS)))
def test_gradient_of_one_output_alone(index):
    # the other outputs unused (disconnected); a cost of the reset gate
    # (only the gradient op reads it) goes through the reference. Where the
    # fed-back output is disconnected, PyTensor's scan gradient (the
    # reference) computes partly in floatX (float32 in this suite): 1e-7
    # off central differences, where the fused gradient is within 2e-10
    symbols, values = gru_inputs("float64")
    outputs = fused.GRUSequence("tanh")(*symbols)
    reference = fused.reference(*symbols, "tanh")
    tol = 1e-12 if index == 3 else 1e-6
    got = pytensor.function(symbols, pytensor.grad(outputs[index].sum(), symbols))(*values)
    want = pytensor.function(symbols, pytensor.grad(reference[index].sum(), symbols))(*values)
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def test_second_derivatives_go_through_the_reference():
    # the gradient of (gradient . v), as ESGD's hv_method='grad' takes, and
    # an R-operator (Hessian-vector products by 'rop')
    symbols, values = gru_inputs("float64")
    hh = symbols[4]
    v = np.random.RandomState(3).randn(SIZE, SIZE)

    def hessian_vector(outputs):
        cost = weighted_cost(outputs, "float64")
        (g,) = pytensor.grad(cost, [hh])
        return pytensor.grad((g * v).sum(), hh)

    got = pytensor.function(symbols, hessian_vector(fused.gru_sequence(*symbols)))(*values)
    want = pytensor.function(symbols, hessian_vector(fused.reference(*symbols)[:4]))(*values)
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)
    out = fused.gru_sequence(*symbols)[3]
    rop = pytensor.function(symbols, jacobian_vector(out, [hh], [TT.constant(v)]))(*values)
    ref = fused.reference(*symbols)[3]
    expected = pytensor.function(symbols, jacobian_vector(ref, [hh], [TT.constant(v)]))(*values)
    np.testing.assert_allclose(rop, expected, rtol=1e-10, atol=1e-10)


def test_inputs_are_checked():
    symbols, _ = gru_inputs("float32")
    with pytest.raises(TypeError, match="expected the 7 inputs"):
        fused.GRUSequence()(*symbols[:6])
    with pytest.raises(TypeError, match="hh must be 2-D, not 1-D"):
        fused.GRUSequence()(*symbols[:4], TT.vector(dtype="float32"), *symbols[5:])
    with pytest.raises(TypeError, match="dtype of x"):
        fused.GRUSequence()(*symbols[:4], TT.matrix(dtype="float64"), *symbols[5:])


def test_mixed_dtypes_compute_in_the_common_type():
    symbols, values = gru_inputs("float32")
    symbols[2] = TT.matrix(dtype="float64")
    values[2] = values[2].astype("float64")
    out = fused.gru_sequence(*symbols)[3]
    assert out.dtype == "float64"
    got = pytensor.function(symbols, out)(*values)
    upcast = [TT.cast(v, "float64") for v in symbols]
    want = pytensor.function(symbols, fused.reference(*upcast)[3])(*values)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


# ----- the JAX paths ------------------------------------------------------

needs_jax = pytest.mark.skipif(
    __import__("importlib").util.find_spec("jax") is None, reason="needs jax"
)


@needs_jax
@pytest.mark.parametrize("path", ["ffi", "callback", "xla"])
@pytest.mark.parametrize("activation", ["tanh", "relu", "softplus"])
def test_jax_paths_match_the_scan_definition(monkeypatch, path, activation):
    # 37 examples of 20 units: more rows than the thread split's sizes, a
    # full block of gate columns and a short one
    monkeypatch.setenv(xla_lstm.ENV_VAR, path)
    _run(_mode.jax_mode(), "float32", activation, seed=7, batch=37, size=20, tol=5e-5)
    if path == "ffi":
        assert gru_ffi.targets("float32") is not None


@needs_jax
@pytest.mark.parametrize("parts", [2, 3])
def test_handlers_on_several_threads_match_one_thread(monkeypatch, parts):
    # the batch in slices for the recurrence and the steps in ranges for the
    # products, one part a thread of Numba's (where its layer allows)
    if not ffi_targets._threadsafe_numba():
        pytest.skip("Numba's threading layer here is not thread-safe")
    monkeypatch.setenv(xla_lstm.ENV_VAR, "ffi")
    monkeypatch.setattr(ffi_targets, "parts", lambda batch: 1)
    one = _run(_mode.jax_mode(), "float32", "tanh", seed=9, batch=37, size=20, tol=5e-5)
    monkeypatch.setattr(ffi_targets, "parts", lambda batch: parts)
    several = _run(_mode.jax_mode(), "float32", "tanh", seed=9, batch=37, size=20, tol=5e-5)
    assert gru_ffi.targets("float32", threaded=True) is not None
    for name, a, b in zip(NAMES, several, one, strict=True):
        # the forward pass is the same bits; sums over parts may round otherwise
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5, err_msg=name)
    np.testing.assert_array_equal(several[3], one[3])


@needs_jax
def test_ffi_path_holds_no_callback_and_the_xla_path_no_foreign_call(monkeypatch):
    import jax
    from pytensor.link.jax.dispatch import jax_funcify

    symbols, values = gru_inputs("float32")
    out = fused.gru_sequence(*symbols)[3]
    for path, present, absent in (("ffi", "ffi_call", "callback"), ("xla", "scan", "ffi_call")):
        monkeypatch.setenv(xla_lstm.ENV_VAR, path)
        jaxpr = jax.make_jaxpr(jax_funcify(out.owner.op))(*values)
        names = {eqn.primitive.name for eqn in jaxpr.jaxpr.eqns}
        assert present in names, names
        assert not any(absent in n or n.startswith("theanets_gru") for n in names), names


_EMPTY_SCRIPT = """
import sys
import numpy as np, pytensor, pytensor.tensor as TT
from theanets import _mode
from theanets._backend import jacobian_vector
from theanets.ops import gru as fused
mode = _mode.jax_mode() if sys.argv[1] == 'JAX' else sys.argv[1]
x, h0, w, b = TT.tensor3(), TT.matrix(), TT.matrix(), TT.vector()
hh, hr, hz = TT.matrix(), TT.matrix(), TT.matrix()
inputs = [x, h0, w, b, hh, hr, hz]
outputs = fused.gru_sequence(*inputs)
cost = sum(o.sum() for o in outputs) + (h0 * h0).sum()
f = pytensor.function(inputs, list(outputs) + pytensor.grad(cost, inputs), mode=mode)
m, n = 2, 3
z = lambda *shape: np.ones(shape, 'float32')
for steps, batch in ((0, 4), (5, 0), (0, 0)):
    out = f(z(steps, batch, m), z(batch, n), z(m, 3 * n), z(3 * n), z(n, n), z(n, n), z(n, n))
    assert out[3].shape == (steps, batch, n), out[3].shape
    assert all(np.isfinite(o).all() for o in out)
    # no steps or no examples: the weights' gradients are zero
    for o in out[6:]:
        assert not np.any(o), o
    np.testing.assert_array_equal(out[5], 2 * z(batch, n) if steps == 0 else out[5])
print('ok')
"""


# each in its own process: a kernel runs outside Python, and a bad shape
# handed to BLAS must not take the test run down
@pytest.mark.parametrize(
    "mode, path", [("JAX", "ffi"), ("JAX", "callback"), ("NUMBA", "auto"), ("FAST_COMPILE", "auto")]
)
def test_empty_sequences_and_batches(mode, path):
    if mode == "JAX":
        pytest.importorskip("jax")
    env = dict(os.environ, PYTENSOR_FLAGS="floatX=float32", **{xla_lstm.ENV_VAR: path})
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    done = subprocess.run(
        [sys.executable, "-c", _EMPTY_SCRIPT, mode],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().endswith("ok")


# ----- the layer ----------------------------------------------------------


def _layer_graph(activation, **extra):
    """A gru regressor's four named outputs and the gradients of a cost of them."""
    layer = dict(form="gru", size=5, activation=activation, **extra)
    net = theanets.recurrent.Regressor([3, layer, 2], rng=4)
    outputs = net.build_graph()[0]
    values = [outputs["hid1:" + k] for k in ("pre", "hid", "rate", "out")]
    cost = sum((v * (i + 1)).sum() for i, v in enumerate(values))
    params = net.layers[1].params
    return net, pytensor.function(net.inputs, values + pytensor.grad(cost, params))


def _ops(function):
    return {type(node.op).__name__ for node in function.maker.fgraph.apply_nodes}


@pytest.mark.parametrize("direction", ["forward", "backward"])
@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
def test_layer_matches_its_scan_form(activation, direction):
    # a bptt_limit longer than the sequences: scan, the same computation
    _, fused_f = _layer_graph(activation, direction=direction)
    _, scan_f = _layer_graph(activation, direction=direction, bptt_limit=100)
    assert "GRUSequence" in _ops(fused_f) and "GRUSequence" not in _ops(scan_f)
    x = np.random.RandomState(0).randn(4, 7, 3).astype("float32")
    for a, b in zip(fused_f(x), scan_f(x), strict=True):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-5)


@pytest.mark.parametrize("activation", ["relu+tanh", "prelu", "softmax"])
def test_layer_keeps_scan_for_other_activations(activation):
    _, f = _layer_graph(activation)
    assert "GRUSequence" not in _ops(f)
    assert all(np.isfinite(v).all() for v in f(np.ones((2, 3, 3), "float32")))


def test_default_mode_trains_on_one_core():
    # the user's path (JAX, the FFI handlers on the CPU) on a single pinned
    # core, where a callback waiting on XLA's thread pool would hang
    if not hasattr(os, "sched_setaffinity"):
        pytest.skip("needs os.sched_setaffinity to pin the process")
    pytest.importorskip("jax")
    script = textwrap.dedent("""
        import os
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
        import numpy as np, theanets
        net = theanets.recurrent.Regressor([2, (4, 'gru'), 2])
        x = np.random.randn(8, 5, 2).astype('float32')
        y = np.random.randn(8, 5, 2).astype('float32')
        before = net.score(x, y)
        net.train([x, y], algo='adam', max_updates=20, batch_size=8, progress=False)
        print('ok', net.score(x, y) > before)
    """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), PYTENSOR_FLAGS="floatX=float32")
    proc = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "ok True" in proc.stdout
