"""The fused LSTM as XLA foreign functions (theanets.ops.lstm_ffi, ops._ffi).

On the CPU the JAX mode runs the Numba kernels as FFI handlers on XLA's own
buffers. These tests compare that path's values and gradients with the
host-callback path and with the scan definition, check that its programs
hold an FFI call and no callback, feed every path empty sequences and
batches (a kernel runs outside Python: a bad shape must not take the
process down),
and check the fallbacks: an XLA FFI of another major version, or an XLA that
refuses the handlers, leaves the host callback to serve.
"""

import os
import subprocess
import sys

import numpy as np
import pytensor
import pytest
import test_lstm_op
from test_lstm_op import lstm_inputs, weighted_cost

from theanets import _mode
from theanets.ops import _ffi, ffi_targets, lstm_ffi, xla_lstm
from theanets.ops import lstm as fused
from theanets.ops import lstm_kernels as kernels

pytest.importorskip("jax")


def _outputs(symbols, dtype, reference=False):
    if reference:
        hs, cs, _ = fused.reference(*symbols)
    else:
        hs, cs = fused.lstm_sequence(*symbols)
    return [hs, cs] + pytensor.grad(weighted_cost(hs, cs, dtype), symbols)


def _jax_values(symbols, values, dtype):
    return pytensor.function(symbols, _outputs(symbols, dtype), mode=_mode.jax_mode())(*values)


def _names():
    return ["hs", "cs"] + ["d" + n for n in fused._NAMES]


# 37 examples (more than a block's rows, none of the thread split's sizes)
# of 20 cells: 80 gate columns, a full block of products and a short one
@pytest.mark.parametrize("batch, size", [(3, 4), (37, 20)])
def test_ffi_path_matches_the_callback_path_and_the_definition(monkeypatch, batch, size):
    monkeypatch.setattr(test_lstm_op, "BATCH", batch)
    monkeypatch.setattr(test_lstm_op, "SIZE", size)
    dtype = "float32"
    symbols, values = lstm_inputs(dtype, seed=7)
    monkeypatch.setenv(xla_lstm.ENV_VAR, "ffi")
    got = _jax_values(symbols, values, dtype)
    assert lstm_ffi.targets(dtype) is not None
    monkeypatch.setenv(xla_lstm.ENV_VAR, "callback")
    callback = _jax_values(symbols, values, dtype)
    definition = pytensor.function(symbols, _outputs(symbols, dtype, reference=True))(*values)
    for name, a, b, c in zip(_names(), got, callback, definition, strict=True):
        assert np.asarray(a).dtype == np.asarray(b).dtype, name
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5, err_msg=name)
        np.testing.assert_allclose(a, c, rtol=5e-5, atol=5e-5, err_msg=name)


def _primitives(fn, values):
    import jax

    return {eqn.primitive.name for eqn in jax.make_jaxpr(fn)(*values).jaxpr.eqns}


def test_ffi_path_is_the_cpu_default_and_holds_no_callback(monkeypatch):
    import jax
    from pytensor.link.jax.dispatch import jax_funcify

    if jax.default_backend() != "cpu":
        pytest.skip("the FFI path is the CPU's")
    monkeypatch.delenv(xla_lstm.ENV_VAR, raising=False)
    assert xla_lstm.jax_path() == "ffi"
    symbols, values = lstm_inputs("float32")
    hs, _ = fused.lstm_sequence(*symbols)
    names = _primitives(jax_funcify(hs.owner.op), values)
    assert "ffi_call" in names, names
    assert not any("callback" in n or n.startswith("theanets_lstm") for n in names), names


_EMPTY_SCRIPT = """
import sys
import numpy as np, pytensor, pytensor.tensor as TT
from theanets import _mode
from theanets.ops import lstm as fused
mode = _mode.jax_mode() if sys.argv[1] == 'JAX' else sys.argv[1]
x, h0, c0, xh, hh = TT.tensor3(), TT.matrix(), TT.matrix(), TT.matrix(), TT.matrix()
b, ci, cf, co = TT.vector(), TT.vector(), TT.vector(), TT.vector()
inputs = [x, h0, c0, xh, b, hh, ci, cf, co]
hs, cs = fused.lstm_sequence(*inputs)
cost = hs.sum() + cs.sum() + (h0 * c0).sum()
f = pytensor.function(inputs, [hs, cs] + pytensor.grad(cost, inputs), mode=mode)
m, n = 2, 3
z = lambda *shape: np.ones(shape, 'float32')
for steps, batch in ((0, 4), (5, 0), (0, 0)):
    out = f(z(steps, batch, m), z(batch, n), z(batch, n), z(m, 4 * n), z(4 * n), z(n, 4 * n),
            z(n), z(n), z(n))
    assert out[0].shape == (steps, batch, n), out[0].shape
    assert all(np.isfinite(o).all() for o in out)
    # no steps: the states' gradients are the cost's own, the weights' zero
    for o in out[5:]:
        assert not np.any(o), o
print('ok')
"""


# each in its own process: an empty product handed to BLAS corrupted memory
# (glibc aborted) in the callback and Numba paths before the kernels checked
@pytest.mark.parametrize(
    "mode, path", [("JAX", "ffi"), ("JAX", "callback"), ("NUMBA", "auto"), ("FAST_COMPILE", "auto")]
)
def test_empty_sequences_and_batches(mode, path):
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


def _header(tmp_path, major, minor):
    folder = tmp_path / "xla" / "ffi" / "api"
    folder.mkdir(parents=True)
    (folder / "c_api.h").write_text(
        "#define XLA_FFI_API_MAJOR {}\n#define XLA_FFI_API_MINOR {}\n".format(major, minor)
    )
    return str(tmp_path)


def test_api_version_reads_the_installed_header(monkeypatch, tmp_path):
    import jax.ffi

    major, minor = _ffi.api_version()
    assert major == 0 and minor >= 0
    monkeypatch.setattr(jax.ffi, "include_dir", lambda: _header(tmp_path / "one", 1, 0))
    assert _ffi.api_version() is None  # another layout: nothing registered
    monkeypatch.setattr(jax.ffi, "include_dir", lambda: _header(tmp_path / "zero", 0, 7))
    assert _ffi.api_version() == (0, 7)
    monkeypatch.setattr(jax.ffi, "include_dir", lambda: str(tmp_path / "missing"))
    assert _ffi.api_version() is None


def test_refused_handlers_leave_the_callback_to_serve(monkeypatch):
    def refuse(name, handler):
        raise RuntimeError("refused")

    monkeypatch.setattr(lstm_ffi.PAIR, "_names", {})
    monkeypatch.setattr(_ffi, "register", refuse)
    monkeypatch.setenv(xla_lstm.ENV_VAR, "ffi")
    symbols, values = lstm_inputs("float32", seed=2)
    got = _jax_values(symbols, values, "float32")
    assert lstm_ffi.targets("float32") is None
    definition = pytensor.function(symbols, _outputs(symbols, "float32", reference=True))(*values)
    for name, a, b in zip(_names(), got, definition, strict=True):
        np.testing.assert_allclose(a, b, rtol=5e-5, atol=5e-5, err_msg=name)


def test_the_kernels_cache_is_stamped_with_every_kernel_source():
    # the FFI handlers compile in kernels of other files: Numba's own stamp
    # (the defining file's) would keep stale code after those change
    import inspect

    from numba.core import caching

    from theanets.ops import _numba_cache

    assert _numba_cache.install()
    impl = getattr(caching, "CacheImpl", None) or caching._CacheImpl

    def locator(py_func):  # the first that takes it, as Numba's cache asks them
        source = inspect.getfile(py_func)
        return next(
            found
            for found in (c.from_function(py_func, source) for c in impl._locator_classes)
            if found is not None
        )

    stamp = locator(kernels.forward_kernel.py_func).get_source_stamp()
    assert stamp[1] == _numba_cache.sources_stamp()
    assert {"lstm.py", "lstm_ffi.py", "_ffi.py", "gru_kernels.py"} <= {
        name for name, _, _ in stamp[1]
    }

    def elsewhere(x):  # a function outside theanets.ops keeps Numba's locator
        return x

    assert not type(locator(elsewhere)).__name__.startswith("TheanetsOps")


@pytest.mark.parametrize("parts", [2, 3])
def test_handlers_on_several_threads_match_one_thread(monkeypatch, parts):
    # the batch in slices for the recurrence and the steps in ranges for the
    # products, one part a thread of Numba's (where its layer allows): 37
    # examples, 6 steps, slices and ranges of unequal sizes
    if not ffi_targets._threadsafe_numba():
        pytest.skip("Numba's threading layer here is not thread-safe")
    monkeypatch.setattr(test_lstm_op, "BATCH", 37)
    monkeypatch.setattr(test_lstm_op, "SIZE", 20)
    monkeypatch.setenv(xla_lstm.ENV_VAR, "ffi")
    symbols, values = lstm_inputs("float32", seed=9)
    monkeypatch.setattr(ffi_targets, "parts", lambda batch: 1)
    one = _jax_values(symbols, values, "float32")
    monkeypatch.setattr(ffi_targets, "parts", lambda batch: parts)
    several = _jax_values(symbols, values, "float32")
    assert lstm_ffi.targets("float32", threaded=True) is not None
    for name, a, b in zip(_names(), several, one, strict=True):
        # the forward pass is the same bits; sums over parts may round otherwise
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5, err_msg=name)
    np.testing.assert_array_equal(several[0], one[0])


def test_parts_follow_the_threads_and_the_batch(monkeypatch):
    from theanets.ops import _threads

    monkeypatch.setattr(ffi_targets, "_threadsafe_numba", lambda: True)
    monkeypatch.setattr(_threads, "blas_threads", lambda: 4)
    monkeypatch.setattr(ffi_targets.numba, "get_num_threads", lambda: 3)
    assert ffi_targets.parts(64) == 3  # at most Numba's threads
    assert ffi_targets.parts(40) == 2  # at least MIN_ROWS examples each
    assert ffi_targets.parts(31) == 1
    monkeypatch.setattr(ffi_targets, "_threadsafe_numba", lambda: False)
    assert ffi_targets.parts(64) == 1  # a layer that may not be entered at once


def test_contexts_around_calls_last_until_the_program_is_done(monkeypatch):
    import contextlib

    import pytensor.tensor as TT

    from theanets._jax import linker

    monkeypatch.setattr(linker, "_AROUND_CALLS", [])
    seen = []

    @contextlib.contextmanager
    def recording():
        seen.append("enter")
        yield
        seen.append("exit")

    x = TT.matrix("x", dtype="float32")
    f = pytensor.function([x], (x @ x.T).sum(), mode=_mode.jax_mode())
    linker.around_calls(recording)
    linker.around_calls(recording)  # once only
    value = f(np.ones((3, 4), "float32"))
    assert float(value) == 36.0
    assert seen == ["enter", "exit"]
