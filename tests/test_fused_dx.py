"""The fused recurrences' gradient ops skip the input sequence's gradient
where nothing reads it (theanets.ops._fused.skip_unused_dx).

In a first recurrent layer the input is the data: its gradient, a product as
large as the input products, is thrown away. A rewrite (in every compile
mode's rewrites) turns it off there, and must leave every gradient that is
read as it was, in every path the kernels run in.
"""

import numpy as np
import pytensor
import pytensor.tensor as TT
import pytest

from theanets import _mode
from theanets.ops import gru, lstm, xla_lstm

STEPS, BATCH, INPUTS, SIZE = 5, 3, 2, 4


def _inputs(form, rng):
    """Symbolic inputs of the fused op of ``form`` and values for them."""
    if form == "lstm":
        shapes = [(STEPS, BATCH, INPUTS), (BATCH, SIZE), (BATCH, SIZE), (INPUTS, 4 * SIZE)]
        shapes += [(4 * SIZE,), (SIZE, 4 * SIZE), (SIZE,), (SIZE,), (SIZE,)]
    else:
        shapes = [(STEPS, BATCH, INPUTS), (BATCH, SIZE), (INPUTS, 3 * SIZE), (3 * SIZE,)]
        shapes += [(SIZE, SIZE)] * 3
    values = [(0.5 * rng.randn(*shape)).astype("float32") for shape in shapes]
    symbols = [TT.tensor(dtype="float32", shape=(None,) * len(shape)) for shape in shapes]
    return symbols, values


def _output(form, symbols):
    if form == "lstm":
        return lstm.lstm_sequence(*symbols)[0]
    return gru.gru_sequence(*symbols)[3]


def _grad_ops(function):
    return [n.op for n in function.maker.fgraph.apply_nodes if type(n.op).__name__.endswith("Grad")]


MODES = [("FAST_COMPILE", None), ("NUMBA", None)] + [
    ("JAX", path) for path in ("ffi", "callback", "xla")
]


@pytest.mark.parametrize("mode, path", MODES)
@pytest.mark.parametrize("form", ["lstm", "gru"])
def test_the_input_gradient_is_computed_only_where_read(monkeypatch, form, mode, path):
    if mode == "JAX":
        pytest.importorskip("jax")
        monkeypatch.setenv(xla_lstm.ENV_VAR, path)
        mode = _mode.jax_mode()
    symbols, values = _inputs(form, np.random.RandomState(3))
    out = _output(form, symbols)
    weights = np.random.RandomState(4).randn(STEPS, BATCH, SIZE).astype("float32")
    cost = (out * weights).sum()
    every = pytensor.function(symbols, pytensor.grad(cost, symbols), mode=mode)
    # all but the sequence's: h0's gradient and the weights' still read
    some = pytensor.function(symbols, pytensor.grad(cost, symbols[1:]), mode=mode)
    assert [op.dx for op in _grad_ops(every)] == [True]
    assert [op.dx for op in _grad_ops(some)] == [False]
    all_grads, some_grads = every(*values), some(*values)
    assert np.any(all_grads[0])
    for a, b in zip(all_grads[1:], some_grads, strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_read_input_gradient_is_kept_through_a_second_layer():
    # the second layer's input is the first's output: its gradient is read
    symbols, values = _inputs("gru", np.random.RandomState(5))
    first = gru.gru_sequence(*symbols)[3]
    rng = np.random.RandomState(6)
    w2 = TT.constant((0.5 * rng.randn(SIZE, 3 * SIZE)).astype("float32"))
    b2 = TT.constant(np.zeros(3 * SIZE, "float32"))
    square = TT.constant((0.5 * rng.randn(SIZE, SIZE)).astype("float32"))
    second = gru.gru_sequence(first, symbols[1], w2, b2, square, square, square)[3]
    f = pytensor.function(symbols, pytensor.grad(second.sum(), symbols[2]))
    assert sorted(op.dx for op in _grad_ops(f)) == [False, True]
    reference = gru.reference(*symbols)[3]
    second_ref = gru.reference(reference, symbols[1], w2, b2, square, square, square)[3]
    want = pytensor.function(symbols, pytensor.grad(second_ref.sum(), symbols[2]))(*values)
    np.testing.assert_allclose(f(*values), want, rtol=2e-5, atol=2e-5)
