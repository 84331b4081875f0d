"""The fused LSTM operation (theanets.ops.lstm) against its scan definition.

Values and first-order gradients come from the Numba kernels; R-operators and
second derivatives from the scan reference. The lstm layer uses the fused
operation unless ``bptt_limit`` asks for truncated backpropagation (scan).
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
from theanets.ops import lstm as fused
from theanets.ops import lstm_kernels as kernels

STEPS, BATCH, INPUTS, SIZE = 6, 3, 2, 4


def compiled(inputs, outputs):
    # in the tests' mode (FAST_COMPILE: the fused op's perform)
    return pytensor.function(inputs, outputs)


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def lstm_inputs(dtype, seed=0):
    """Symbolic inputs of lstm_sequence and values for them (non-zero states)."""
    rng = np.random.RandomState(seed)
    shapes = [
        (STEPS, BATCH, INPUTS),
        (BATCH, SIZE),
        (BATCH, SIZE),
        (INPUTS, 4 * SIZE),
        (4 * SIZE,),
        (SIZE, 4 * SIZE),
        (SIZE,),
        (SIZE,),
        (SIZE,),
    ]
    values = [(0.5 * rng.randn(*shape)).astype(dtype) for shape in shapes]
    symbols = [
        TT.tensor(dtype=dtype, shape=(None,) * len(shape), name=name)
        for shape, name in zip(shapes, fused._NAMES, strict=True)
    ]
    return symbols, values


def weighted_cost(hs, cs, dtype):
    rng = np.random.RandomState(1)
    w_h = rng.randn(STEPS, BATCH, SIZE).astype(dtype)
    w_c = rng.randn(STEPS, BATCH, SIZE).astype(dtype)
    return (hs * w_h).sum() + (cs * w_c).sum()


@pytest.mark.parametrize("dtype, tol", [("float32", 2e-6), ("float64", 1e-12)])
def test_values_and_gradients_match_the_scan_definition(dtype, tol):
    symbols, values = lstm_inputs(dtype)
    hs, cs = fused.lstm_sequence(*symbols)
    ref_hs, ref_cs, _ = fused.reference(*symbols)
    outputs = [hs, cs] + pytensor.grad(weighted_cost(hs, cs, dtype), symbols)
    expected = [ref_hs, ref_cs] + pytensor.grad(weighted_cost(ref_hs, ref_cs, dtype), symbols)
    got = compiled(symbols, outputs)(*values)
    want = compiled(symbols, expected)(*values)
    for name, a, b in zip(["hs", "cs"] + ["d" + n for n in fused._NAMES], got, want, strict=True):
        assert a.dtype == b.dtype, name
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol, err_msg=name)


@pytest.mark.parametrize("size", [20, 32])
@pytest.mark.parametrize("mode", ["FAST_COMPILE", "NUMBA"])
def test_recurrent_products_in_blocks_match_the_scan_definition(monkeypatch, size, mode):
    # the per-step products are cut into blocks of BLOCK columns (forwards)
    # and BLOCK inner terms (backwards): 4 x 20 = 80 gate columns are a full
    # block and a short one, 4 x 32 = 128 two full blocks; in the Python
    # kernels (perform) and in the Numba mode's compiled graph
    assert 4 * 20 % kernels.BLOCK and 4 * 20 > kernels.BLOCK and 4 * 32 % kernels.BLOCK == 0
    monkeypatch.setattr(sys.modules[__name__], "SIZE", size)
    symbols, values = lstm_inputs("float64", seed=5)
    hs, cs = fused.lstm_sequence(*symbols)
    ref_hs, ref_cs, _ = fused.reference(*symbols)
    outputs = [hs, cs] + pytensor.grad(weighted_cost(hs, cs, "float64"), symbols)
    expected = [ref_hs, ref_cs] + pytensor.grad(weighted_cost(ref_hs, ref_cs, "float64"), symbols)
    got = pytensor.function(symbols, outputs, mode=mode)(*values)
    want = compiled(symbols, expected)(*values)
    for name, a, b in zip(["hs", "cs"] + ["d" + n for n in fused._NAMES], got, want, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-11, err_msg=name)


def test_column_blocks_hold_the_matrix():
    hh = np.arange(3 * 80, dtype="float32").reshape(3, 80)
    blocks = kernels.column_blocks(hh)
    assert blocks.shape == (2, 3, kernels.BLOCK)
    np.testing.assert_array_equal(blocks[0], hh[:, : kernels.BLOCK])
    np.testing.assert_array_equal(blocks[1, :, : 80 - kernels.BLOCK], hh[:, kernels.BLOCK :])


def test_gradients_match_finite_differences():
    symbols, values = lstm_inputs("float64")

    def cost(*inputs):
        hs, cs = fused.lstm_sequence(*inputs)
        return weighted_cost(hs, cs, "float64")

    pytensor.gradient.verify_grad(cost, values, rng=np.random.RandomState(2), eps=1e-6)


def test_gradient_of_the_outputs_alone():
    # the cell sequence unused: its gradient is disconnected
    symbols, values = lstm_inputs("float64")
    hs, _ = fused.lstm_sequence(*symbols)
    ref_hs, _, _ = fused.reference(*symbols)
    got = compiled(symbols, pytensor.grad(hs.sum(), symbols[5]))(*values)
    want = compiled(symbols, pytensor.grad(ref_hs.sum(), symbols[5]))(*values)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.slow
def test_second_derivatives_go_through_the_reference():
    # the gradient of (gradient . v), as ESGD's hv_method='grad' takes
    symbols, values = lstm_inputs("float64")
    hh = symbols[5]
    v = np.random.RandomState(3).randn(SIZE, 4 * SIZE)

    def hessian_vector(hs, cs):
        grad = pytensor.grad(weighted_cost(hs, cs, "float64"), hh)
        return pytensor.grad((grad * v).sum(), hh)

    got = hessian_vector(*fused.lstm_sequence(*symbols))
    want = hessian_vector(*fused.reference(*symbols)[:2])
    np.testing.assert_allclose(
        compiled(symbols, got)(*values), compiled(symbols, want)(*values), rtol=1e-9, atol=1e-9
    )


def test_inputs_are_checked():
    symbols, _ = lstm_inputs("float32")
    with pytest.raises(TypeError, match="hh must be 2-D, not 1-D"):
        fused.LSTMSequence()(*symbols[:5], TT.vector(dtype="float32"), *symbols[6:])
    with pytest.raises(TypeError, match="expected the 9 inputs"):
        fused.LSTMSequence()(*symbols[:3])


def test_mixed_dtypes_compute_in_the_common_type():
    symbols, values = lstm_inputs("float32")
    x = TT.tensor3("x", dtype="float64")
    hs, _ = fused.lstm_sequence(x, *symbols[1:])
    assert hs.dtype == "float64"
    out = compiled([x] + symbols[1:], hs)(values[0].astype("float64"), *values[1:])
    assert out.shape == (STEPS, BATCH, SIZE)


def make_pair(**kwargs):
    """The same lstm model, fused and as a scan (a bptt_limit beyond the length)."""

    def make(**extra):
        layer = dict(form="lstm", size=SIZE, **kwargs, **extra)
        return theanets.recurrent.Regressor([INPUTS, layer, 2], rng=5)

    return make(), make(bptt_limit=100)


@pytest.mark.parametrize("direction", ["forward", "backward"])
def test_layer_matches_its_scan_form(direction):
    fused_net, scan_net = make_pair(direction=direction)

    def graph_ops(net):
        outputs = list(net.build_graph()[0].values())
        return {
            type(v.owner.op).__name__
            for v in pytensor.graph.traversal.ancestors(outputs)
            if v.owner is not None
        }

    assert "LSTMSequence" in graph_ops(fused_net)
    assert "LSTMSequence" not in graph_ops(scan_net)
    rng = np.random.RandomState(4)
    x = rng.randn(BATCH, STEPS, INPUTS).astype("float32")
    y = rng.randn(BATCH, STEPS, 2).astype("float32")
    np.testing.assert_allclose(fused_net.predict(x), scan_net.predict(x), rtol=1e-5, atol=1e-6)
    for net in (fused_net, scan_net):
        net.train(
            [x, y], algo="sgd", learning_rate=0.1, max_updates=3, batch_size=BATCH, progress=False
        )
    for a, b in zip(fused_net.params, scan_net.params, strict=True):
        np.testing.assert_allclose(
            a.get_value(), b.get_value(), rtol=1e-4, atol=1e-5, err_msg=a.name
        )


def test_default_mode_trains_on_one_core():
    # XLA calls the kernels back on its own thread pool: this must not wait
    # on that pool (jax.pure_callback's jax.Array arguments do, and hang
    # forever on a single core)
    script = textwrap.dedent("""
        import os
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
        import numpy as np, theanets
        net = theanets.recurrent.Regressor([2, (4, 'lstm'), 2])
        x = np.random.randn(8, 5, 2).astype('float32')
        y = np.random.randn(8, 5, 2).astype('float32')
        train, _ = net.train([x, y], max_updates=2, batch_size=4, progress=False)
        print('ok', np.isfinite(train['loss']))
    """)
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([ROOT, os.environ.get("PYTHONPATH", "")]),
        PYTENSOR_FLAGS="floatX=float32",
    )
    if not hasattr(os, "sched_setaffinity"):
        pytest.skip("needs os.sched_setaffinity to pin the process")
    proc = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "ok True" in proc.stdout


@pytest.mark.parametrize("dtype, tol", [("float32", 3e-6), ("float64", 1e-12)])
def test_the_batch_split_over_threads_gives_one_threads_values(monkeypatch, dtype, tol):
    # the kernels run on slices of the batch, one a thread (and the weight
    # products on ranges of steps): 37 rows over 1, 2 and 3 threads, slices
    # of unequal sizes, the values and gradients of the scan definition
    import contextlib

    monkeypatch.setattr(sys.modules[__name__], "BATCH", 37)
    monkeypatch.setattr(fused, "_MIN_ROWS", 1)
    real = fused._one_blas_thread
    symbols, values = lstm_inputs(dtype, seed=4)
    hs, cs = fused.lstm_sequence(*symbols)
    ref_hs, ref_cs, _ = fused.reference(*symbols)
    outputs = [hs, cs] + pytensor.grad(weighted_cost(hs, cs, dtype), symbols)
    expected = [ref_hs, ref_cs] + pytensor.grad(weighted_cost(ref_hs, ref_cs, dtype), symbols)
    want = compiled(symbols, expected)(*values)
    fn = compiled(symbols, outputs)
    results = {}
    for threads in (1, 2, 3):

        @contextlib.contextmanager
        def limited(threads=threads):
            with real():
                yield threads

        monkeypatch.setattr(fused, "_one_blas_thread", limited)
        assert len(fused._chunks(37, threads)) == threads
        results[threads] = fn(*values)
        for a, b in zip(results[threads], want, strict=True):
            np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
    # the forward pass is the same bits whatever the split
    for threads in (2, 3):
        np.testing.assert_array_equal(results[threads][0], results[1][0])
