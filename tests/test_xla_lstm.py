"""The fused LSTM's XLA path (theanets.ops.xla_lstm) against its callback path.

On an accelerator the JAX mode compiles the fused LSTM to XLA operations only;
``THEANETS_JAX_RECURRENCE=xla`` forces that path on the CPU, which these tests
use to compare its values and gradients with the Numba kernels called back
from XLA, and to check that it holds no host callback (the CPU's default,
the kernels as XLA foreign functions, is tested in test_lstm_ffi).
"""

import numpy as np
import pytensor
import pytest
from test_lstm_op import lstm_inputs, weighted_cost

from theanets import _mode
from theanets.ops import lstm as fused
from theanets.ops import xla_lstm

pytest.importorskip("jax")


def jax_compiled(symbols, dtype):
    hs, cs = fused.lstm_sequence(*symbols)
    outputs = [hs, cs] + pytensor.grad(weighted_cost(hs, cs, dtype), symbols)
    return pytensor.function(symbols, outputs, mode=_mode.jax_mode())


# float32 only: without jax_enable_x64, JAX computes float64 in float32
@pytest.mark.parametrize("dtype, tol", [("float32", 5e-5)])
def test_xla_path_matches_the_callback_path(monkeypatch, dtype, tol):
    symbols, values = lstm_inputs(dtype)
    monkeypatch.setenv(xla_lstm.ENV_VAR, "callback")
    want = jax_compiled(symbols, dtype)(*values)
    monkeypatch.setenv(xla_lstm.ENV_VAR, "xla")
    got = jax_compiled(symbols, dtype)(*values)
    names = ["hs", "cs"] + ["d" + n for n in fused._NAMES]
    for name, a, b in zip(names, got, want, strict=True):
        assert np.asarray(a).dtype == np.asarray(b).dtype, name
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol, err_msg=name)


def _primitives(fn, values):
    import jax

    return {eqn.primitive.name for eqn in jax.make_jaxpr(fn)(*values).jaxpr.eqns}


def test_xla_path_has_no_host_callback(monkeypatch):
    from pytensor.link.jax.dispatch import jax_funcify

    symbols, values = lstm_inputs("float32")
    hs, cs = fused.lstm_sequence(*symbols)
    forward_op = hs.owner.op
    (dx,) = pytensor.grad(weighted_cost(hs, cs, "float32"), [symbols[0]])
    grad_node = next(
        v.owner
        for v in pytensor.graph.traversal.ancestors([dx])
        if v.owner is not None and isinstance(v.owner.op, fused.LSTMSequenceGrad)
    )
    outs = xla_lstm.forward(*values)
    dhs = np.ones_like(np.asarray(outs[0]))
    backward_values = values + [np.asarray(o) for o in outs] + [dhs, dhs]

    monkeypatch.setenv(xla_lstm.ENV_VAR, "xla")
    for op, args in ((forward_op, values), (grad_node.op, backward_values)):
        names = _primitives(jax_funcify(op), args)
        assert "scan" in names, names
        assert not any("theanets" in n or "callback" in n for n in names), names
    monkeypatch.setenv(xla_lstm.ENV_VAR, "callback")
    assert "theanets_lstm_forward" in _primitives(jax_funcify(forward_op), values)


def test_path_choice(monkeypatch):
    import jax

    monkeypatch.setenv(xla_lstm.ENV_VAR, "XLA")
    assert xla_lstm.jax_path() == "xla"
    monkeypatch.setenv(xla_lstm.ENV_VAR, "callback")
    assert xla_lstm.jax_path() == "callback"
    monkeypatch.setenv(xla_lstm.ENV_VAR, "ffi")
    assert xla_lstm.jax_path() == "ffi"
    monkeypatch.delenv(xla_lstm.ENV_VAR)
    assert xla_lstm.jax_path() == ("ffi" if jax.default_backend() == "cpu" else "xla")
    monkeypatch.setenv(xla_lstm.ENV_VAR, "gpu")
    with pytest.raises(
        ValueError, match="THEANETS_JAX_RECURRENCE.*auto, xla, ffi, callback.*'gpu'"
    ):
        xla_lstm.jax_path()
