"""Rewritten graphs kept on disk (theanets._jax.rewritten): a later process
reads the graph an earlier one rewrote, and computes the same bits with it.

The keys are checked in this process; the reading back in fresh processes
with no compile flags (theanets' JAX mode), each with the same new
``base_compiledir``.
"""

import json
import os
import pickle
import subprocess
import sys

import numpy as np
import pytensor
import pytensor.tensor as TT
import pytest
from test_hostile_load import _Runs  # a pickle that calls a function when loaded

from theanets import _jax
from theanets._backend import scan
from theanets._jax import rewritten

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _scan_graph(activation):
    x = TT.tensor3("x")
    w = pytensor.shared(np.ones((3, 3), "float32"), name="w")
    (h,), _ = scan(
        lambda x_t, h_tm1, w: activation(TT.dot(x_t, w) + h_tm1),
        sequences=[x],
        outputs_info=[TT.zeros((x.shape[1], 3), dtype=x.dtype)],
        non_sequences=[w],
    )
    return x, h.sum()


def _key(graph, mode=None, **kwargs):
    x, out = graph
    mode = _jax.jax_mode(_jax.scan_optimizer()) if mode is None else mode
    return rewritten.key([x], [out], [], mode, kwargs)


def test_the_key_names_the_graph_inside_scan():
    tanh, other = _key(_scan_graph(TT.tanh)), _key(_scan_graph(TT.sigmoid))
    assert tanh is not None and other is not None
    assert tanh == _key(_scan_graph(TT.tanh))  # the same graph built again
    assert tanh != other  # only the step's activation differs


def test_the_key_names_the_rewrites_and_the_call():
    graph = _scan_graph(TT.tanh)
    assert _key(graph) != _key(graph, mode=_jax.jax_mode())
    assert _key(graph) != _key(graph, name="other")


def test_a_key_only_for_rewrites_named_by_tags():
    from pytensor.compile.mode import Mode
    from pytensor.graph.rewriting.basic import MergeOptimizer

    graph, mode = _scan_graph(TT.tanh), _jax.jax_mode(_jax.scan_optimizer())
    assert _key(graph, mode=mode.excluding("fusion")) not in (None, _key(graph, mode=mode))
    assert _key(graph, mode=Mode(mode.linker, MergeOptimizer())) is None


SCRIPT = r"""
import hashlib, json, sys
import numpy as np, theanets
from theanets import _compiles

rs = np.random.RandomState(0)
x = rs.randn(16, 7, 3).astype("float32")
y = rs.randn(16, 7, 2).astype("float32")
report = {}
for form in ("gru", "lstm"):
    net = theanets.recurrent.Regressor([3, (4, form), 2], rng=3)
    net.train([x, y], max_updates=3, batch_size=8, validate_every=1, progress=False)
    values = [np.asarray(p.get_value()).tobytes() for p in net.params]
    values.append(np.asarray(net.predict(x)).tobytes())
    report[form] = hashlib.md5(b"".join(values)).hexdigest()
# noise and dropout: the random generators' states are the model's own, not
# those the linker copied when the graph was kept
net = theanets.Regressor([3, 5, 2], rng=3)
for seed in (0, 1):
    net.train([x[:, 0], y[:, 0]], max_updates=3, batch_size=8, validate_every=1,
              progress=False, input_noise=0.3, hidden_dropout=0.5, rng=seed)
report["noisy"] = hashlib.md5(b"".join(p.get_value().tobytes() for p in net.params)).hexdigest()
report["counts"] = dict(_compiles.counts())
print("REPORT" + json.dumps(report))
"""


def _run(compiledir, **env):
    env = dict(
        {k: v for k, v in os.environ.items() if k not in ("PYTENSOR_FLAGS", "THEANO_FLAGS")},
        PYTENSOR_FLAGS="floatX=float32,base_compiledir={}".format(compiledir),
        PYTHONPATH=os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p),
        **env,
    )
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        cwd=str(compiledir),
    )
    lines = [l for l in done.stdout.splitlines() if l.startswith("REPORT")]
    assert done.returncode == 0 and lines, done.stderr[-3000:]
    return json.loads(lines[-1][len("REPORT") :])


@pytest.mark.skipif(not _jax.jax_available(), reason="needs jax")
def test_a_later_process_reads_the_rewritten_graphs(tmp_path):
    first = _run(tmp_path)
    kept = os.listdir(tmp_path / "theanets-graphs")
    # the directory is made for this user alone, and so is every entry
    assert (tmp_path / "theanets-graphs").stat().st_mode & 0o077 == 0
    assert all((tmp_path / "theanets-graphs" / n).stat().st_mode & 0o077 == 0 for n in kept)
    # the second noisy training reads the graphs of the first (other seeds)
    assert first["counts"]["graph"] - first["counts"]["disk"] == len(kept)
    second = _run(tmp_path)
    assert second["counts"]["disk"] == second["counts"]["graph"] == first["counts"]["graph"]
    assert all(second[k] == first[k] for k in ("gru", "lstm", "noisy"))
    # a damaged entry is rewritten anew, with the same results
    for name in kept:
        (tmp_path / "theanets-graphs" / name).write_bytes(b"not a graph")
    third = _run(tmp_path)
    assert third["counts"]["disk"] == first["counts"]["disk"]
    assert all(third[k] == first[k] for k in ("gru", "lstm", "noisy"))
    # hostile entries are refused before they run anything, and entries
    # that others may write are not read: all rewritten anew, same results
    marker = tmp_path / "ran"
    for k, name in enumerate(sorted(kept)):
        path = tmp_path / "theanets-graphs" / name
        if k % 2:
            path.chmod(0o666)
        else:
            path.write_bytes(_hostile(marker)["os.system" if k % 4 else "protocol 0"])
    fourth = _run(tmp_path)
    assert not marker.exists()
    assert fourth["counts"]["disk"] == first["counts"]["disk"]
    assert all(fourth[k] == first[k] for k in ("gru", "lstm", "noisy"))


@pytest.mark.skipif(not _jax.jax_available(), reason="needs jax")
def test_the_cache_can_be_turned_off(tmp_path):
    report = _run(tmp_path, THEANETS_GRAPH_CACHE="0")
    assert report["counts"].get("disk", 0) == 0
    assert not (tmp_path / "theanets-graphs").exists()


def _hostile(marker):
    import builtins

    command = "touch {}".format(marker)
    return {
        "os.system": pickle.dumps(_Runs(os.system, command)),
        "builtins.exec": pickle.dumps(_Runs(builtins.exec, "open({!r}, 'w')".format(str(marker)))),
        "subprocess.Popen": pickle.dumps(_Runs(subprocess.Popen, ["touch", str(marker)])),
        "numpy.memmap": pickle.dumps(_Runs(np.memmap, str(marker), "float32", "w+", 0, (4,))),
        "pytensor.utils": pickle.dumps(
            _Runs(pytensor.utils.call_subprocess_Popen, ["touch", str(marker)])
        ),
        # protocol 0, written by hand: os.system('touch ...')
        "protocol 0": "cos\nsystem\n(S'{}'\ntR.".format(command).encode(),
        # a graph class's rebuilder around a refused call
        "nested": pickle.dumps([pytensor.tensor.type.TensorType, _Runs(os.system, command)]),
    }


@pytest.mark.parametrize("payload", sorted(_hostile("m")))
def test_a_hostile_entry_is_refused_before_it_runs_anything(tmp_path, payload):
    marker = tmp_path / "ran"
    with pytest.raises(pickle.UnpicklingError, match="a rewritten graph may not name"):
        rewritten._loads(_hostile(marker)[payload], [], [])
    assert not marker.exists()


def test_entries_others_may_write_are_not_read(tmp_path, monkeypatch):
    folder = tmp_path / "theanets-graphs"
    monkeypatch.setattr(rewritten, "_directory", lambda: str(folder))
    folder.mkdir(mode=0o700)
    entry = folder / "entry"
    entry.write_bytes(b"")
    entry.chmod(0o600)
    assert rewritten._private(str(folder)) and rewritten._private(str(entry))
    for path, mode in ((entry, 0o666), (entry, 0o620), (folder, 0o777)):
        path.chmod(mode)
        assert rewritten.load("entry", [], [], None) is None
        assert not rewritten._private(str(path))
        path.chmod(0o700 if path == folder else 0o600)
    # files of another user (this process seen as someone else) are not read
    uid = os.getuid()
    monkeypatch.setattr(rewritten.os, "getuid", lambda: uid + 1)
    assert not rewritten._private(str(entry)) and not rewritten._private(str(folder))
