"""Fused kernels compiled by a background process (theanets.ops.compile_kernels).

Where Numba's cache lacks a fused recurrence's handlers, a program traced
in the default mode computes the recurrence in XLA operations while a
background process compiles them, and is traced again (to the FFI path)
at its first call after the process is done. These tests run that in
processes of their own with an empty cache (the suite itself compiles the
kernels in process: ``THEANETS_KERNELS=wait`` in conftest.py), check the
values on both sides of the switch against the path a warm process takes,
and check the parts: the re-trace of a jitted program, the markers, the
lock, a failing process and the settings.
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from theanets import _compiles
from theanets.ops import compile_kernels

jax = pytest.importorskip("jax")

# Predicts with two models of one structure (the second shares the first's
# programs) and trains, before and after the background process is done;
# prints what it saw as JSON.
_CHILD = textwrap.dedent(
    """
    import json
    import numpy as np
    import theanets
    from theanets import _compiles
    from theanets.ops import compile_kernels, lstm_ffi

    rng = np.random.RandomState(0)
    x = rng.randn(8, 5, 3).astype("float32")
    y = rng.randn(8, 5, 2).astype("float32")
    net = theanets.recurrent.Regressor([3, (6, "lstm"), 2])
    other = theanets.recurrent.Regressor([3, (6, "lstm"), 2])
    out = dict(first=net.predict(x).tolist(), other_first=other.predict(x).tolist())
    net.train([x, y], algo="sgd", learning_rate=0.05, max_updates=2, batch_size=8, validate_every=1)
    out["trained"] = net.predict(x).tolist()
    out["jobs"] = [[j.family, j.dtype, j.threaded] for j in compile_kernels._STARTED]
    out["registered_before"] = sorted(map(list, lstm_ffi.PAIR._names))
    out["kernels_before"] = _compiles.counts()["kernels"]
    out["joined"] = compile_kernels.join(timeout=600)
    out["returncodes"] = [j.returncode for j in compile_kernels._STARTED]
    out["trained_after"] = net.predict(x).tolist()
    out["other_after"] = other.predict(x).tolist()
    net.train([x, y], algo="sgd", learning_rate=0.05, max_updates=2, batch_size=8, validate_every=1)
    out["trained_more"] = net.predict(x).tolist()
    out["registered_after"] = sorted(map(list, lstm_ffi.PAIR._names))
    out["kernels_after"] = _compiles.counts()["kernels"]
    out["cached"] = compile_kernels.cached("lstm", "float32", False)
    print("RESULT " + json.dumps(out))
    """
)


def _child(tmp_path, kernels):
    env = dict(
        os.environ,
        NUMBA_CACHE_DIR=str(tmp_path / "numba"),
        PYTENSOR_FLAGS="floatX=float32,base_compiledir={}".format(tmp_path / "pytensor"),
        THEANETS_KERNELS=kernels,
        OMP_NUM_THREADS="1",
        OPENBLAS_NUM_THREADS="1",
    )
    env.pop("THEANETS_JAX_RECURRENCE", None)
    return _run(_CHILD, env)


def _run(code, env, cwd=None):
    """Run ``code`` in a Python process; the JSON it printed after
    ``RESULT``, and its standard error."""
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=900
    )
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")]
    assert done.returncode == 0 and lines, done.stderr[-3000:]
    return json.loads(lines[-1][len("RESULT ") :]), done.stderr


def test_a_cold_cache_computes_on_xla_then_switches_to_the_kernels(tmp_path):
    cold, said = _child(tmp_path, "background")
    # the first calls: one background process, no handler loaded, XLA's loop
    assert cold["jobs"] == [["lstm", "float32", False]]
    assert cold["registered_before"] == []
    assert cold["kernels_before"] == 0
    assert "compiling the fused LSTM kernels (float32) in a background process" in said
    # then the process is done, the handlers are cached and loaded, and the
    # programs (prediction, training, validation) are traced again
    assert cold["joined"] and cold["returncodes"] == [0]
    assert cold["cached"]
    assert cold["registered_after"] == [["float32", False]]
    assert cold["kernels_after"] >= 2
    assert "the fused LSTM kernels (float32) are compiled" in said
    # the same parameters give the same predictions on both paths, for the
    # model whose program switched and for the one sharing it
    np.testing.assert_allclose(cold["trained_after"], cold["trained"], rtol=0, atol=2e-6)
    np.testing.assert_allclose(cold["other_after"], cold["other_first"], rtol=0, atol=2e-6)
    assert cold["trained_more"] != cold["trained_after"]  # training goes on

    # a second process finds them cached: no process, the FFI path at once;
    # its predictions are the very bits the first made after its switch
    warm, said = _child(tmp_path, "background")
    assert warm["jobs"] == [] and warm["kernels_after"] == 0
    assert warm["registered_before"] == [["float32", False]]
    assert "background" not in said and "kernels" not in said
    assert warm["other_first"] == cold["other_after"]
    np.testing.assert_allclose(warm["first"], cold["first"], rtol=0, atol=2e-6)
    # (the first process's first updates ran on XLA's loop: its trained
    # parameters differ from the warm process's in the last bits only)
    np.testing.assert_allclose(warm["trained_more"], cold["trained_more"], rtol=0, atol=1e-5)


class _Flag:
    def __init__(self):
        self.value = False

    def __call__(self):
        return self.value


def test_a_program_is_traced_again_once_what_it_waited_for_is_ready():
    from theanets._jax import linker

    flag = _Flag()
    traces = []

    def fn(x):
        traces.append(len(traces))
        program = linker.tracing()
        if not flag():
            program.wait_for(flag)
            return x + 1
        return x + 2

    program = linker._Counted(fn, "fn", jax.jit)
    before = _compiles.counts()
    assert float(program(np.float32(1))) == 2
    assert float(program(np.float32(1))) == 2  # waiting: the same trace
    assert len(traces) == 1 and program.waiting == [flag]
    flag.value = True
    assert float(program(np.float32(1))) == 3  # traced again
    assert float(program(np.float32(1))) == 3
    assert len(traces) == 2 and program.waiting == []
    assert (_compiles.counts() - before)["kernels"] == 1
    assert linker.tracing() is None


def test_a_trace_outside_a_counted_program_sees_no_program():
    from theanets._jax import linker

    seen = []

    def fn(x):
        seen.append(linker.tracing())
        return x

    jax.jit(fn)(np.float32(1))
    assert seen == [None]


def test_a_failed_process_is_said_with_its_output(tmp_path, caplog):
    log = tmp_path / "job.log"
    with open(log, "w") as output:
        process = subprocess.Popen(
            [sys.executable, "-c", "import sys; print('the reason'); sys.exit(3)"],
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    job = compile_kernels.Job("lstm", "float32", False, process, str(log))
    with caplog.at_level("WARNING", logger="theanets.ops"):
        assert job.wait(60)
        assert job.returncode == 3
        assert job.ready()
    [record] = caplog.records  # said once
    assert record.levelname == "WARNING"
    assert "failed (exit code 3)" in record.message and "the reason" in record.message


def test_markers_are_per_pair_and_in_the_stamped_cache_directory():
    path = compile_kernels.directory()
    assert path is not None
    from theanets.ops import _numba_cache

    assert os.path.basename(path) == _numba_cache.directory_name()
    marker = compile_kernels._marker("gru", "float64", True)
    assert os.path.dirname(marker) == path
    assert os.path.basename(marker).startswith("gru-float64-threaded-")
    assert compile_kernels._marker("gru", "float64", False) != marker


def test_the_settings(monkeypatch):
    monkeypatch.setenv("THEANETS_KERNELS", "")
    monkeypatch.delenv("THEANETS_JAX_RECURRENCE", raising=False)
    assert compile_kernels.mode() == "background" and compile_kernels.in_background()
    monkeypatch.setenv("THEANETS_JAX_RECURRENCE", "ffi")  # forces the kernels: waits
    assert not compile_kernels.in_background()
    monkeypatch.setenv("THEANETS_JAX_RECURRENCE", "auto")
    monkeypatch.setenv("THEANETS_KERNELS", " Wait ")
    assert compile_kernels.mode() == "wait" and not compile_kernels.in_background()
    monkeypatch.setenv("THEANETS_KERNELS", "later")
    with pytest.raises(
        ValueError, match="THEANETS_KERNELS must be one of background, wait.*'later'"
    ):
        compile_kernels.mode()


@pytest.mark.parametrize(
    "argv", [["lstm"], ["rnn", "float32"], ["lstm", "float16"], ["gru", "float32", "twice"]]
)
def test_the_command_line_refuses_what_it_cannot_compile(argv, capsys):
    assert compile_kernels.main(argv) == 2
    assert "usage: python -m theanets.ops.compile_kernels [{lstm,gru}" in capsys.readouterr().err


def test_processes_started_at_once_compile_once(tmp_path):
    """Two processes for one pair (two workers of a grid search, each
    starting its background process): the lock has the second find the
    handlers made by the first."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path), THEANETS_KERNELS="wait")
    command = [sys.executable, "-m", "theanets.ops.compile_kernels", "lstm", "float32"]
    processes = [
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    results = [[b.decode() for b in p.communicate(timeout=900)] for p in processes]
    assert [p.returncode for p in processes] == [0, 0], results
    said = sorted(out.split(":")[1].split()[0] for out, _ in results)
    assert said == ["cached", "compiled"], results
    [stamped] = os.listdir(tmp_path)
    [ours] = os.listdir(tmp_path / stamped)
    files = os.listdir(tmp_path / stamped / ours)
    assert sum(f.startswith("lstm-float32-single-") and f.endswith(".ready") for f in files) == 1
    assert "compile.lock" in files
    # and a third, with the pair cached, compiles nothing either
    out = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300).stdout
    assert out.startswith("lstm float32 single: cached")


def test_the_background_command_runs_this_theanets(tmp_path):
    """The background process runs this very module, wherever it is started
    (a script's directory elsewhere, no ``PYTHONPATH``)."""
    command = compile_kernels._command("lstm", "float16", False)  # refused: no compile
    code = command[-1].replace(
        "from theanets.ops.compile_kernels import main; ",
        "import theanets.ops.compile_kernels as m; print(m.__file__); main = m.main; ",
    )
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    done = subprocess.run(
        command[:-1] + [code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 2, done.stderr
    assert done.stdout.strip() == compile_kernels.__file__
    assert "usage: python -m theanets.ops.compile_kernels" in done.stderr


# Trains and predicts with a fused LSTM; prints what was compiled and where.
_NO_CACHE_CHILD = textwrap.dedent(
    """
    import json
    import numpy as np
    import theanets
    from theanets.ops import _numba_cache, compile_kernels, lstm_ffi

    rng = np.random.RandomState(0)
    x = rng.randn(8, 5, 3).astype("float32")
    y = rng.randn(8, 5, 2).astype("float32")
    net = theanets.recurrent.Regressor([3, (6, "lstm"), 2])
    net.train([x, y], algo="sgd", learning_rate=0.05, max_updates=2, batch_size=8, validate_every=1)
    print("RESULT " + json.dumps(dict(
        file=theanets.__file__,
        caching=_numba_cache.caching(),
        directory=compile_kernels.directory(),
        jobs=len(compile_kernels._STARTED),
        registered={"/".join(map(str, k)): v for k, v in lstm_ffi.PAIR._names.items()},
        predicted=net.predict(x).tolist(),
    )))
    """
)


def test_without_a_writable_numba_cache_the_kernels_compile_in_process(tmp_path):
    """Where Numba can write its cache nowhere (a read-only install, home
    and NUMBA_CACHE_DIR), it refuses ``cache=True`` functions at their
    definition ("no locator available"), which made every LSTM and GRU
    unusable. Now the kernels compile uncached, a warning says why and how
    to keep them, and no background process is started (it could keep
    nothing for this one)."""
    import shutil

    import theanets

    # a copy of the package whose ops/__pycache__ is a file (so Numba's
    # in-tree cache cannot be made, even by root), and the other cache
    # directories under a file too
    src = tmp_path / "src"
    shutil.copytree(
        os.path.dirname(theanets.__file__),
        src / "theanets",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    (src / "theanets" / "ops" / "__pycache__").write_text("not a directory\n")
    blocker = tmp_path / "blocker"
    blocker.write_text("not a directory\n")
    env = dict(
        os.environ,
        PYTHONPATH=str(src),
        HOME=str(blocker / "home"),
        XDG_CACHE_HOME=str(blocker / "cache"),
        NUMBA_CACHE_DIR=str(blocker / "numba"),
        PYTENSOR_FLAGS="floatX=float32,base_compiledir={}".format(tmp_path / "pytensor"),
        THEANETS_KERNELS="background",
        OMP_NUM_THREADS="1",
        OPENBLAS_NUM_THREADS="1",
    )
    env.pop("THEANETS_JAX_RECURRENCE", None)
    got, said = _run(_NO_CACHE_CHILD, env, cwd=str(tmp_path))
    assert got["file"].startswith(str(src))  # the copy ran
    assert not got["caching"] and got["directory"] is None
    # the FFI path, compiled here; no background process, no marker
    assert got["jobs"] == 0
    assert got["registered"]["float32/False"] is not None
    assert "background" not in said
    # what the first call waits for is said, and when it is done
    assert (
        "compiling the fused LSTM kernels (float32) in this process (13-26 s, in every "
        "process: Numba can keep nothing here)" in said
    )
    assert "compiled the fused LSTM kernels (float32) in " in said
    # the warning said once, with the way out
    assert said.count("Numba has no writable directory") == 1
    assert "set NUMBA_CACHE_DIR to a writable directory" in said
    # and it computes what the scan definition computes
    net = theanets.recurrent.Regressor([3, (6, "lstm"), 2])
    rng = np.random.RandomState(0)
    x = rng.randn(8, 5, 3).astype("float32")
    y = rng.randn(8, 5, 2).astype("float32")
    net.train([x, y], algo="sgd", learning_rate=0.05, max_updates=2, batch_size=8, validate_every=1)
    np.testing.assert_allclose(got["predicted"], net.predict(x), rtol=0, atol=1e-4)
