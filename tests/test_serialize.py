"""Tests of theanets.serialize (the safe format) and Network.save/load."""

import builtins
import gzip
import io
import json
import os
import pickle
import re
import subprocess
import sys
import types

import numpy as np
import pytensor
import pytensor.tensor as TT
import pytest
import scipy.sparse

import theanets
from theanets import convolution, recurrent, serialize, util

#: Float32 tolerance for predictions of a model and its reloaded copy.
TOL = dict(rtol=1e-5, atol=1e-6)

N = 12  # examples in test data


# ----- helpers ------------------------------------------------------------


def _forward(model, xs):
    """The last layer's output for inputs ``xs`` (works for several inputs)."""
    outputs, _ = model.build_graph()
    fn = pytensor.function(
        model.inputs, outputs[model.layers[-1].output_name], on_unused_input="ignore"
    )
    return fn(*xs)


def _without_rng(meta):
    """A description without seeds (a RandomState is not saved; 13 is used)."""
    meta = dict(meta, rng=None)
    meta["layers"] = [{k: v for k, v in spec.items() if k != "rng"} for spec in meta["layers"]]
    return meta


def _data(rng, *shape):
    return rng.randn(*shape).astype("float32")


def _labels(rng, classes, *shape):
    return rng.randint(0, classes, size=shape).astype("int32")


def _ae_plain(rng):
    x = _data(rng, N, 6)
    return theanets.Autoencoder([6, 4, 6]), [x], [x]


def _ae_tied(rng):
    x = _data(rng, N, 6)
    return theanets.Autoencoder([6, (4, "linear"), (6, "tied")]), [x], [x]


def _ae_deep_tied(rng):
    x = _data(rng, N, 7)
    return theanets.Autoencoder([7, 8, 5, ("tied", 8), ("tied", 7)]), [x], [x]


def _ae_weighted(rng):
    x = _data(rng, N, 6)
    w = rng.rand(N, 6).astype("float32")
    return theanets.Autoencoder([6, 4, 6], weighted=True), [x], [x, w]


def _reg_multi(rng):
    model = theanets.Regressor(
        [
            dict(size=3, name="a"),
            dict(form="input", size=3, name="b"),
            dict(size=4, inputs=["a", "b"], name="h", activation="prelu"),
            dict(form="prod", inputs=["a", "b"], name="p"),
            dict(form="concat", inputs=["h", "p"], name="c"),
            (5, "lgrelu"),
            (4, "relu+norm:z"),
            dict(size=3, activation="maxout:3", name="m"),
            (2, "elu"),
        ],
        rng=np.random.RandomState(3),
    )
    a, b, y = _data(rng, N, 3), _data(rng, N, 3), _data(rng, N, 2)
    return model, [a, b], [a, b, y]


def _reg_sparse(rng):
    dense = _data(rng, N, 5) * (rng.rand(N, 5) > 0.5)
    x = scipy.sparse.csr_matrix(dense.astype("float32"))
    y = _data(rng, N, 2)
    return theanets.Regressor([dict(size=5, sparse="csr"), 4, 2]), [x], [x, y]


def _clf_weighted(rng):
    x = _data(rng, N, 4)
    labels = _labels(rng, 3, N)
    w = rng.rand(N).astype("float32")
    return theanets.Classifier([4, 8, 3], weighted=True), [x], [x, labels, w]


def _two_losses_ae(rng):
    x = _data(rng, N, 6)
    model = theanets.Autoencoder([6, 4, 6])
    model.add_loss("mae", weight=0.1, target=model.inputs[0])
    return model, [x], [x]


def _two_losses_shared_target(rng):
    x, y = _data(rng, N, 4), _data(rng, N, 2)
    model = theanets.Regressor([4, (5, "tanh"), 2])
    model.add_loss("mae", weight=0.5, target=model.losses[0].variables[0])
    return model, [x], [x, y]


def _conv(rng):
    x, y = _data(rng, N, 6, 5, 3), _data(rng, N, 2)
    return convolution.Regressor([(6, 5, 3), "flat", 2]), [x], [x, y]


def _recurrent(rng):
    x, y = _data(rng, N, 5, 3), _data(rng, N, 5, 2)
    return recurrent.Regressor([3, 4, 2]), [x], [x, y]


def _gll_mmd(rng):
    model = theanets.Regressor(
        [
            dict(size=3, name="in"),
            dict(size=4, name="h"),
            dict(size=2, name="mean", inputs="h", activation="linear"),
            dict(size=2, name="covar", inputs="h", activation="softplus"),
        ],
        loss=None,
    )
    model.add_loss("gll", target=2, mean_name="mean", covar_name="covar", covar_eps=0.01)
    model.add_loss(
        "mmd", kernel=0.5, weight=0.2, output_name="mean", target=model.losses[0].variables[0]
    )
    x, y = _data(rng, N, 3), _data(rng, N, 2)
    return model, [x], [x, y]


CASES = [
    _ae_plain,
    _ae_tied,
    _ae_deep_tied,
    _ae_weighted,
    _reg_multi,
    _reg_sparse,
    _clf_weighted,
    _two_losses_ae,
    _two_losses_shared_target,
    _conv,
    _recurrent,
    _gll_mmd,
]


def _write_npz(path, meta, arrays=None, raw_meta=None):
    """Write an npz with a hand-made description (``meta``, JSON-encoded)."""
    entries = dict(arrays or {})
    entries["__theanets__"] = raw_meta if raw_meta is not None else np.array(json.dumps(meta))
    np.savez(path, **entries)


def _good_meta(tmp_path):
    """The description and arrays of a small saved Regressor."""
    model = theanets.Regressor([3, 4, 2])
    path = str(tmp_path / "good.npz")
    model.save(path)
    with np.load(path, allow_pickle=False) as archive:
        arrays = {k: archive[k] for k in archive.files if k != "__theanets__"}
        meta = json.loads(str(archive["__theanets__"]))
    return meta, arrays


@pytest.fixture
def saved(tmp_path):
    """A path to a good safe file and the model saved in it."""
    model = theanets.Regressor([3, 4, 2])
    path = str(tmp_path / "model.npz")
    model.save(path)
    return path, model


# ----- round trips --------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[c.__name__.lstrip("_") for c in CASES])
def test_safe_round_trip(case, tmp_path, rng):
    model, inputs, train = case(rng)
    path = str(tmp_path / "model.npz")
    model.save(path)
    loaded = theanets.Network.load(path, allow_pickle=False)

    assert type(loaded) is type(model)
    assert [p.name for p in loaded.params] == [p.name for p in model.params]
    for a, b in zip(model.params, loaded.params, strict=True):
        np.testing.assert_array_equal(a.get_value(), b.get_value())
    assert _without_rng(serialize.describe(loaded)) == _without_rng(serialize.describe(model))
    np.testing.assert_allclose(_forward(loaded, inputs), _forward(model, inputs), **TOL)

    steps = [
        monitors
        for monitors, _ in loaded.itertrain(
            train, algo="sgd", max_updates=2, batch_size=4, learning_rate=0.1
        )
    ]
    assert len(steps) == 2 and all(np.isfinite(s["loss"]) for s in steps)
    assert steps[0]["loss"] != steps[1]["loss"]  # the first step changed the parameters


def test_safe_file_layout(saved):
    path, model = saved
    with np.load(path, allow_pickle=False) as archive:
        assert sorted(archive.files) == sorted([p.name for p in model.params] + ["__theanets__"])
        meta = archive["__theanets__"]
        assert meta.shape == () and meta.dtype.kind == "U"
        meta = json.loads(str(meta))
    assert meta["format"] == "theanets-safe/1"
    assert meta["model"] == "theanets.feedforward.Regressor"
    assert [l["form"] for l in meta["layers"]] == ["input", "feedforward", "feedforward"]
    assert meta["layers"][0]["shape"] == [3]
    assert meta["losses"] == [
        dict(form="meansquarederror", weight=1.0, weighted=False, output_name="out:out", target=2)
    ]
    assert meta["params"][0] == dict(name="hid1.w", shape=[3, 4], dtype="float32")


def test_autoencoder_target_is_input_reference(tmp_path):
    model = theanets.Autoencoder([5, 3, 5])
    meta = serialize.describe(model)
    assert meta["losses"][0]["target"] == {"input": "in"}
    model.save(str(tmp_path / "ae.npz"))
    loaded = theanets.Network.load(str(tmp_path / "ae.npz"))
    assert loaded.losses[0].variables[0] is loaded.inputs[0]
    assert loaded.variables == loaded.inputs


def test_random_state_rng_is_dropped_and_int_rng_kept():
    model = theanets.Regressor([3, 4, 2], rng=np.random.RandomState(1))
    meta = serialize.describe(model)
    assert all("rng" not in spec for spec in meta["layers"])
    assert meta["rng"] is None
    assert serialize.describe(theanets.Regressor([3, 4, 2], rng=5))["rng"] == 5


def test_layer_given_as_input_reference_is_saved_by_name(tmp_path):
    model = theanets.Regressor([3, 4, 2])
    model.add_layer(dict(size=2, inputs=[model.layers[1]], name="out2"))
    model.layers[-1].bind(model)
    assert serialize.describe(model)["layers"][-1]["inputs"] == ["hid1:out"]


def test_numpy_values_are_saved_as_json():
    model = theanets.Regressor(
        [3, dict(size=np.int64(4), std=np.float32(0.5), extra=np.array([[1, 2]])), 2]
    )
    spec = serialize.describe(model)["layers"][1]
    assert spec["size"] == 4 and type(spec["size"]) is int
    assert spec["std"] == 0.5 and type(spec["std"]) is float
    assert spec["extra"] == [[1, 2]]


def test_loss_to_spec():
    mse = theanets.losses.Loss.build("mse", target=2, weight=0.5, weighted=True)
    assert mse.to_spec() == dict(
        form="meansquarederror", weight=0.5, weighted=True, output_name="out:out", target=2
    )
    xe = theanets.losses.Loss.build("xe", target=1)
    assert xe.to_spec()["target"] == 1
    own = TT.matrix("y")
    assert theanets.losses.Loss.build("mse", target=own).to_spec()["target"] is own
    gll = theanets.losses.Loss.build("gll", target=2, covar_eps=0.1)
    assert gll.to_spec()["mean_name"] == "mean:out"
    assert gll.to_spec()["covar_eps"] == 0.1
    assert theanets.losses.Loss.build("mmd", target=2, kernel=3).to_spec()["kernel"] == 3


@pytest.mark.parametrize("name", ["model.npz", "MODEL.NPZ"])
def test_npz_suffix_selects_safe_format(name, tmp_path):
    path = str(tmp_path / name)
    theanets.Regressor([3, 4, 2]).save(path)
    with open(path, "rb") as handle:
        assert handle.read(4) == b"PK\x03\x04"


def test_explicit_formats(tmp_path):
    model = theanets.Regressor([3, 4, 2])
    safe = str(tmp_path / "model.bin")
    model.save(safe, format="safe")
    assert theanets.Network.load(safe, allow_pickle=False).params[0].name == "hid1.w"
    pickled = str(tmp_path / "model.npz")
    model.save(pickled, format="pickle")
    with pytest.raises(util.Error, match="loading a pickle runs code"):
        theanets.Network.load(pickled, allow_pickle=False)
    assert type(theanets.Network.load(pickled)) is theanets.Regressor


def test_unknown_format_is_refused(tmp_path):
    with pytest.raises(util.ConfigurationError, match="format must be 'pickle' or 'safe'.*'json'"):
        theanets.Regressor([3, 4, 2]).save(str(tmp_path / "m"), format="json")
    assert os.listdir(str(tmp_path)) == []


def test_safe_format_through_handles(rng):
    model, inputs, _ = _ae_plain(rng)
    buffer = io.BytesIO()
    model.save(buffer, format="safe")
    buffer.seek(0)
    loaded = theanets.Network.load(buffer, allow_pickle=False)
    np.testing.assert_allclose(loaded.predict(inputs[0]), model.predict(inputs[0]), **TOL)


def test_handle_named_npz_selects_safe_format(tmp_path):
    path = str(tmp_path / "model.npz")
    with open(path, "wb") as handle:
        theanets.Regressor([3, 4, 2]).save(handle)
    with open(path, "rb") as handle:
        assert handle.read(4) == b"PK\x03\x04"
        handle.seek(0)
        assert type(theanets.Network.load(handle, allow_pickle=False)) is theanets.Regressor


class _Unseekable(io.RawIOBase):
    """A readable stream that cannot seek (like a pipe)."""

    def __init__(self, data):
        self._data = io.BytesIO(data)

    def readable(self):
        return True

    def seekable(self):
        return False

    def readinto(self, buffer):
        chunk = self._data.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


@pytest.mark.parametrize("fmt", ["safe", "pickle"])
def test_load_from_unseekable_handle(fmt):
    buffer = io.BytesIO()
    theanets.Regressor([3, 4, 2]).save(buffer, format=fmt)
    loaded = theanets.Network.load(_Unseekable(buffer.getvalue()))
    assert [p.name for p in loaded.params] == ["hid1.w", "hid1.b", "out.w", "out.b"]
    stream = _Unseekable(buffer.getvalue()[:-30])
    stream.name = "the-pipe"
    with pytest.raises(util.Error, match="^the-pipe .*truncated or corrupt"):
        theanets.Network.load(stream)


# ----- pickle still works -------------------------------------------------


@pytest.mark.parametrize("name", ["model.pkl", "model.pkl.gz", None])
def test_pickle_round_trip(name, tmp_path, rng):
    model, inputs, train = _ae_tied(rng)
    if name is None:
        target = io.BytesIO()
        model.save(target)
        target.seek(0)
        assert target.read(4) != b"PK\x03\x04"
        target.seek(0)
    else:
        target = str(tmp_path / name)
        model.save(target)
        if name.endswith(".gz"):
            with gzip.open(target, "rb") as handle:
                pickle.load(handle)  # really gzip, then pickle
    loaded = theanets.Network.load(target)
    assert type(loaded) is theanets.Autoencoder
    np.testing.assert_allclose(loaded.predict(inputs[0]), model.predict(inputs[0]), **TOL)
    result = loaded.train(train, algo="sgd", max_updates=2, batch_size=4)  # no rng= needed
    assert np.isfinite(result[0]["loss"])


# ----- the safe loader runs nothing from the file ------------------------


def _watch_imports(monkeypatch):
    """Record every module name imported through ``__import__`` from now on."""
    seen = []
    real = builtins.__import__

    def recording(name, *args, **kwargs):
        seen.append(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", recording)
    return seen


@pytest.mark.parametrize(
    "model_name", ["os.system", "evil_serialize_pkg.Model", "theanets.graph.Network.__init__"]
)
def test_unknown_model_class_is_not_imported(model_name, tmp_path, monkeypatch):
    meta, arrays = _good_meta(tmp_path)
    meta["model"] = model_name
    path = str(tmp_path / "evil.npz")
    _write_npz(path, meta, arrays)
    modules = set(sys.modules)
    seen = _watch_imports(monkeypatch)
    with pytest.raises(
        util.Error,
        match=re.escape(path)
        + ".*unknown model class "
        + re.escape(repr(model_name))
        + ".*theanets.feedforward.Regressor",
    ):
        theanets.Network.load(path, allow_pickle=False)
    monkeypatch.undo()
    assert set(sys.modules) == modules
    assert not any(name.split(".")[0] in ("os", "evil_serialize_pkg") for name in seen)
    assert "evil_serialize_pkg" not in sys.modules


@pytest.mark.parametrize(
    "where, value, message",
    [
        (
            "layer",
            "subprocess.Popen",
            "cannot rebuild layer 1.*unknown layer form 'subprocess.Popen'",
        ),
        ("layer", "evil_serialize_pkg.Layer", "cannot rebuild layer 1.*unknown layer form"),
        ("activation", "os.system", "cannot connect layer 'hid1'.*unknown activation 'os.system'"),
        ("loss", "subprocess.Popen", "cannot rebuild loss 0: unknown loss 'subprocess.Popen'"),
    ],
)
def test_unknown_forms_are_not_imported(where, value, message, tmp_path, monkeypatch):
    meta, arrays = _good_meta(tmp_path)
    if where == "layer":
        meta["layers"][1]["form"] = value
    elif where == "activation":
        meta["layers"][1]["activation"] = value
    else:
        meta["losses"][0]["form"] = value
    path = str(tmp_path / "evil.npz")
    _write_npz(path, meta, arrays)
    modules = set(sys.modules)
    seen = _watch_imports(monkeypatch)
    with pytest.raises(util.Error, match=re.escape(path) + ".*" + message):
        theanets.Network.load(path, allow_pickle=False)
    monkeypatch.undo()
    assert set(sys.modules) == modules
    assert not any(
        name.split(".")[0] in ("os", "subprocess", "evil_serialize_pkg") for name in seen
    )


_TRIPPED = []


def _trip():
    _TRIPPED.append(True)
    return "tripped"


class _Trap:
    """An object that records a call if it is ever unpickled."""

    def __reduce__(self):
        return _trip, ()


def test_object_arrays_are_never_unpickled(tmp_path, monkeypatch):
    meta, arrays = _good_meta(tmp_path)
    trap = np.empty(arrays["hid1.w"].shape, dtype=object)
    trap[...] = _Trap()
    arrays["hid1.w"] = trap
    path = str(tmp_path / "trap.npz")
    entries = dict(arrays, __theanets__=np.array(json.dumps(meta)))
    np.savez(path, allow_pickle=True, **entries)

    calls = []
    real_load = np.load

    def recording_load(*args, **kwargs):
        calls.append(kwargs.get("allow_pickle"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(np, "load", recording_load)
    with pytest.raises(
        util.Error,
        match=re.escape(path) + ".*truncated or corrupt.*entry "
        "'hid1.w.npy' holds object values, not numbers",
    ):
        theanets.Network.load(path)
    assert calls == []  # the safe loader parses .npy headers itself
    assert _TRIPPED == []


def test_object_description_is_never_unpickled(tmp_path):
    path = str(tmp_path / "trap.npz")
    np.savez(path, allow_pickle=True, __theanets__=np.array([_Trap()], dtype=object))
    with pytest.raises(util.Error, match=re.escape(path) + ".*truncated or corrupt"):
        theanets.Network.load(path)
    assert _TRIPPED == []


# ----- atomic saving ------------------------------------------------------


def _failing_writer(real_name):
    def fail(*args, **kwargs):
        target = args[0] if real_name == "savez" else args[1]
        target.write(b"half a model")
        raise OSError("disk full")

    return fail


@pytest.mark.parametrize(
    "name, module, function",
    [
        ("model.pkl", pickle, "dump"),
        ("model.pkl.gz", pickle, "dump"),
        ("model.npz", np, "savez"),
    ],
)
def test_failed_save_keeps_previous_file(name, module, function, tmp_path, monkeypatch):
    path = str(tmp_path / name)
    model = theanets.Regressor([3, 4, 2])
    model.save(path)
    with open(path, "rb") as handle:
        good = handle.read()
    monkeypatch.setattr(module, function, _failing_writer(function))
    with pytest.raises(OSError, match="disk full"):
        model.save(path)
    monkeypatch.undo()
    assert os.listdir(str(tmp_path)) == [name]
    with open(path, "rb") as handle:
        assert handle.read() == good
    assert [p.name for p in theanets.Network.load(path).params] == [
        "hid1.w",
        "hid1.b",
        "out.w",
        "out.b",
    ]


def test_atomic_write_cleans_up(tmp_path):
    def write(handle):
        handle.write(b"x")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        serialize.atomic_write(str(tmp_path / "f"), write)
    assert os.listdir(str(tmp_path)) == []


def _dead_pid():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.mark.parametrize("name", ["model.npz", "model.pkl", "model.pkl.gz"])
def test_save_clears_stale_temporaries_of_its_path_only(name, tmp_path):
    # a save killed with SIGKILL leaves its hidden temporary behind
    dead, host = _dead_pid(), serialize.files._HOST
    stale = tmp_path / ".{}.tmp-{}-{}-abc_12".format(name, host, dead)
    live = tmp_path / ".{}.tmp-{}-{}-def_34".format(name, host, os.getppid())
    mine = tmp_path / ".{}.tmp-{}-{}-ghi_56".format(name, host, os.getpid())
    other_host = tmp_path / ".{}.tmp-{}-{}-jkl_78".format(name, "f" * 8, dead)
    other_path = tmp_path / ".other-{}.tmp-{}-{}-mno_90".format(name, host, dead)
    longer = tmp_path / ".{}.tmp-{}-{}-pqr_12".format(name + ".x", host, dead)
    for path in (stale, live, mine, other_host, other_path, longer):
        path.write_bytes(b"partial")
    theanets.Regressor([3, 4, 2]).save(str(tmp_path / name))
    assert sorted(os.listdir(str(tmp_path))) == sorted(
        [name, live.name, mine.name, other_host.name, other_path.name, longer.name]
    )
    assert type(theanets.Network.load(str(tmp_path / name))) is theanets.Regressor


def test_temporaries_are_named_for_clearing(tmp_path):
    seen = []

    def write(handle):
        seen.append(os.listdir(str(tmp_path)))
        handle.write(b"x")

    serialize.atomic_write(str(tmp_path / "f.bin"), write)
    [[temp]] = seen
    assert re.match(r"\.f\.bin\.tmp-{}-{}-\w+$".format(serialize.files._HOST, os.getpid()), temp)


# ----- errors catchable as the original's ---------------------------------


@pytest.mark.parametrize(
    "original", [pickle.UnpicklingError, EOFError, ValueError, OSError, util.Error]
)
@pytest.mark.parametrize(
    "data", [b"", b"\x80\x04\x95\x05", b"\x1f\x8b\x08\x00garbage", b"PK\x03\x04broken"]
)
def test_load_errors_are_catchable_as_the_originals(original, data, tmp_path):
    path = str(tmp_path / "bad.pkl.gz")
    with open(path, "wb") as handle:
        handle.write(data)
    try:
        theanets.Network.load(path)
    except original as err:
        assert isinstance(err, util.LoadError)
        assert path in str(err)
    else:
        raise AssertionError("no error")


def test_missing_file_is_a_plain_file_not_found_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        theanets.Network.load(str(tmp_path / "nothing.pkl"))


# ----- what the pickle loader uses ----------------------------------------


class _Runs:
    """Unpickles to a call of ``function(*args)``."""

    def __init__(self, function, *args):
        self.function, self.args = function, args

    def __reduce__(self):
        return self.function, self.args


def test_pickle_naming_other_functions_runs_nothing(tmp_path, monkeypatch):
    path = str(tmp_path / "evil.pkl")
    with open(path, "wb") as handle:
        pickle.dump(_Runs(os.system, "echo hi"), handle)
    calls = []
    monkeypatch.setattr(os, "system", lambda command: calls.append(command))
    with pytest.raises(
        util.LoadError,
        match=re.escape(path) + r" is refused: it refers to "
        r"(os|posix).system, which is not among the globals a theanets model "
        r"pickle uses.*trusted=True",
    ):
        theanets.Network.load(path)
    assert calls == []


def test_pickle_loader_imports_nothing_new(tmp_path):
    path = str(tmp_path / "import.pkl")
    with open(path, "wb") as handle:
        handle.write(b"\x80\x02cantigravity\nfly\nq\x00.")
    with pytest.raises(util.LoadError, match=r"refers to antigravity.fly"):
        theanets.Network.load(path)
    assert "antigravity" not in sys.modules


def test_trusted_opt_in(tmp_path):
    model = theanets.Regressor([3, 4, 2])
    model.layers[1].kwargs["note"] = note = types.SimpleNamespace(a=1)
    path = str(tmp_path / "note.pkl")
    model.save(path)
    with pytest.raises(util.LoadError, match=r"refers to types.SimpleNamespace"):
        theanets.Network.load(path)
    assert theanets.Network.load(path, trusted=True).layers[1].kwargs["note"] == note
    assert serialize.load(theanets.Network, path, trusted=True).layers[1].kwargs["note"] == note


def test_user_classes_load_from_imported_modules_only(tmp_path):
    module = types.ModuleType("user_layers_for_test")
    sys.modules[module.__name__] = module
    try:
        Twice = type("Twice", (theanets.layers.Feedforward,), {"__module__": module.__name__})
        module.Twice = Twice
        model = theanets.Regressor([3, dict(form="twice", size=4), 2])
        path = str(tmp_path / "user.pkl")
        model.save(path)
        assert type(theanets.Network.load(path).layers[1]) is Twice
    finally:
        del sys.modules[module.__name__]
        theanets.layers.Layer._registry.pop("twice")
    with pytest.raises(
        util.LoadError,
        match=r"refers to user_layers_for_test.Twice.*import the "
        r"module that defines it",
    ):
        theanets.Network.load(path)


def test_pickle_of_something_else(tmp_path):
    path = str(tmp_path / "list.pkl")
    with open(path, "wb") as handle:
        pickle.dump([1, 2, 3], handle)
    with pytest.raises(
        util.LoadError,
        match=re.escape(path) + r" does not hold a theanets "
        r"model: it unpickles to a list, not a Network",
    ):
        theanets.Network.load(path)


def test_gzip_that_inflates_beyond_deflate_limits(tmp_path, monkeypatch):
    monkeypatch.setattr(serialize.limits, "MAX_COMPRESSION_RATIO", 2)
    path = str(tmp_path / "zeros.pkl.gz")
    with open(path, "wb") as handle:
        handle.write(gzip.compress(pickle.dumps(b"\0" * (3 << 20))))
    with pytest.raises(util.LoadError, match=re.escape(path) + r".*decompresses to more than"):
        theanets.Network.load(path)


# ----- what the safe format cannot describe (nothing is written) ---------


def _mmd_callable_kernel():
    model = theanets.Regressor([3, 4, 2], loss=None)
    model.add_loss("mmd", target=2, kernel=lambda a, b: TT.dot(a, b.T))
    return model


@pytest.mark.parametrize(
    "build, message",
    [
        (
            _mmd_callable_kernel,
            r"loss 0 \(MaximumMeanDiscrepancy on 'out:out'\): the value of 'kernel' \(<function",
        ),
        (
            lambda: theanets.Regressor([3, dict(size=4, extra=object()), 2]),
            r"layer 'hid1' \(Feedforward\): the value of 'extra' \(<object",
        ),
        (
            lambda: theanets.Regressor([3, dict(size=4, extra={1: 2}), 2]),
            r"layer 'hid1' \(Feedforward\): 'extra' holds a dict with key 1",
        ),
    ],
)
def test_unsavable_values_raise_before_writing(build, message, tmp_path):
    model = build()
    with pytest.raises(util.ConfigurationError, match=message):
        model.save(str(tmp_path / "model.npz"))
    assert os.listdir(str(tmp_path)) == []
    buffer = io.BytesIO()
    with pytest.raises(util.ConfigurationError, match=message):
        model.save(buffer, format="safe")
    assert buffer.getvalue() == b""


def test_undescribable_loss_target():
    model = theanets.Regressor([3, 4, 2], loss=None)
    model.add_loss("mse", target=TT.matrix("y"))
    with pytest.raises(
        util.ConfigurationError,
        match=r"loss 0 \(MeanSquaredError on 'out:out'\): its target y is neither",
    ):
        serialize.describe(model)


@pytest.mark.parametrize("name, problem", [("hid1.w", "used twice"), ("__theanets__", "reserved")])
def test_clashing_parameter_names(name, problem):
    model = theanets.Regressor([3, 4, 2])
    model.layers[2].find("w").name = name
    with pytest.raises(util.ConfigurationError, match="the name {!r} is {}".format(name, problem)):
        serialize.describe(model)


# ----- corrupt, truncated and foreign files ------------------------------


@pytest.mark.parametrize("keep", [0, 3, 4, 40, 0.5, -22, -1])
def test_truncated_safe_file(keep, saved):
    path, _ = saved
    with open(path, "rb") as handle:
        data = handle.read()
    cut = int(len(data) * keep) if isinstance(keep, float) else keep % len(data)
    with open(path, "wb") as handle:
        handle.write(data[:cut])
    with pytest.raises(util.Error, match=re.escape(path) + ".*(truncated or corrupt|pickle)"):
        theanets.Network.load(path)


def test_every_truncation_gives_error(saved):
    path, _ = saved
    with open(path, "rb") as handle:
        data = handle.read()
    for cut in range(4, len(data), 7):
        with pytest.raises(util.Error, match="truncated or corrupt"):
            serialize.load_safe(io.BytesIO(data[:cut]), theanets.Network)


def test_corrupted_bytes_give_error(saved):
    path, _ = saved
    with open(path, "rb") as handle:
        data = bytearray(handle.read())
    for offset in range(40, len(data) - 200, 97):
        bad = bytearray(data)
        bad[offset] ^= 0xFF
        try:
            serialize.load_safe(io.BytesIO(bytes(bad)), theanets.Network)
        except util.Error:
            pass


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("prefix", [b"", b"PK\x03\x04"])
def test_random_bytes(seed, prefix, tmp_path):
    path = str(tmp_path / "noise.bin")
    with open(path, "wb") as handle:
        handle.write(prefix + np.random.RandomState(seed).bytes(300))
    with pytest.raises(util.Error, match=re.escape(path)):
        theanets.Network.load(path)
    with pytest.raises(util.Error, match=re.escape(path) + ".*(pickle|truncated or corrupt)"):
        theanets.Network.load(path, allow_pickle=False)


def _theano_pickle():
    """Bytes of a pickle that names a class of module theano.tensor.sharedvar."""
    names = ["theano", "theano.tensor", "theano.tensor.sharedvar"]
    saved = {name: sys.modules.get(name) for name in names}
    fake = {name: types.ModuleType(name) for name in names}
    cls = type("TensorSharedVariable", (), {"__module__": "theano.tensor.sharedvar"})
    fake["theano.tensor.sharedvar"].TensorSharedVariable = cls
    try:
        sys.modules.update(fake)
        return pickle.dumps({"layers": [cls()]}, protocol=2)
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def test_theano_pickle_is_explained(tmp_path):
    data = _theano_pickle()
    assert b"theano.tensor.sharedvar" in data
    assert "theano" not in sys.modules
    path = str(tmp_path / "old.pkl")
    with open(path, "wb") as handle:
        handle.write(data)
    with pytest.raises(
        util.Error, match=re.escape(path) + ".*original Theano-based theanets.*'theano'"
    ):
        theanets.Network.load(path)
    with pytest.raises(util.Error, match="loading a pickle runs code"):
        theanets.Network.load(path, allow_pickle=False)


def _pickle_with_state(state, monkeypatch):
    """A pickled Network whose saved state is ``state``."""
    monkeypatch.setattr(theanets.graph.Network, "__getstate__", lambda self: state)
    data = pickle.dumps(theanets.Regressor([3, 4, 2]), -1)
    monkeypatch.undo()
    return data


@pytest.mark.parametrize(
    "make, error",
    [
        (lambda mp: _pickle_with_state({}, mp), "KeyError"),
        (lambda mp: _pickle_with_state(5, mp), "TypeError"),
        (
            lambda mp: b"\x80\x04\x95\xff\xff\xff\xff\xff\xff\xff\xff",
            "a frame of 18446744073709551615 bytes at offset 2, but only 9 bytes follow",
        ),
        (
            lambda mp: b"\x80\x04\x8e\xff\xff\xff\xff\xff\xff\xff\x7f.",
            "ValueError: expected 9223372036854775807 bytes in a bytes8, but only 1 remain",
        ),
        (
            lambda mp: b"\x80\x04N\x94r\xff\xff\xff\x7f.",
            "memo index 2147483647, after only 4 opcodes",
        ),
    ],
)
def test_broken_pickles(make, error, tmp_path, monkeypatch):
    path = str(tmp_path / "broken.pkl")
    with open(path, "wb") as handle:
        handle.write(make(monkeypatch))
    with pytest.raises(util.Error, match=re.escape(path) + ".*truncated or corrupt.*" + error):
        theanets.Network.load(path)


def test_allow_pickle_false_refuses_pickles(tmp_path):
    for name in ("model.pkl", "model.pkl.gz"):
        path = str(tmp_path / name)
        theanets.Regressor([3, 4, 2]).save(path)
        with pytest.raises(
            util.Error,
            match=re.escape(path) + ".*is a pickle.*loading a pickle runs code.*allow_pickle=False",
        ):
            theanets.Network.load(path, allow_pickle=False)
    buffer = io.BytesIO()
    theanets.Regressor([3, 4, 2]).save(buffer)
    buffer.seek(0)
    with pytest.raises(util.Error, match="loading a pickle runs code"):
        theanets.Network.load(buffer, allow_pickle=False)


def test_load_safe_refuses_other_files(tmp_path):
    path = str(tmp_path / "model.pkl")
    theanets.Regressor([3, 4, 2]).save(path)
    with pytest.raises(util.Error, match=re.escape(path) + ".*not a theanets safe model file.*zip"):
        serialize.load_safe(path, theanets.Network)


def test_missing_description(tmp_path):
    path = str(tmp_path / "plain.npz")
    np.savez(path, a=np.zeros(3))
    with pytest.raises(util.Error, match=re.escape(path) + ".*no '__theanets__' entry.*'a'"):
        theanets.Network.load(path)


def test_description_not_a_string(tmp_path):
    path = str(tmp_path / "bad.npz")
    _write_npz(path, None, raw_meta=np.arange(3))
    with pytest.raises(util.Error, match=re.escape(path) + ".*must be a JSON string"):
        theanets.Network.load(path)


def test_description_not_json(tmp_path):
    path = str(tmp_path / "bad.npz")
    _write_npz(path, None, raw_meta=np.array('{"format": '))
    with pytest.raises(
        util.Error, match=re.escape(path) + ".*truncated or corrupt.*JSONDecodeError"
    ):
        theanets.Network.load(path)


def _edit(meta, change):
    change(meta)
    return meta


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda m: ["not", "a", "model"], "expected a JSON object, not list"),
        (
            lambda m: _edit(m, lambda d: d.update(format="theanets-safe/2")),
            "unknown format version 'theanets-safe/2'.*reads 'theanets-safe/1'",
        ),
        (lambda m: _edit(m, lambda d: d.pop("format")), "unknown format version None"),
        (lambda m: _edit(m, lambda d: d.pop("layers")), "the key 'layers' is missing"),
        (lambda m: _edit(m, lambda d: d.update(model=3)), '"model" must be a class name, not 3'),
        (lambda m: _edit(m, lambda d: d.update(rng="x")), '"rng" must be an int or null'),
        (lambda m: _edit(m, lambda d: d.update(rng=True)), '"rng" must be an int or null'),
        (lambda m: _edit(m, lambda d: d.update(losses={})), "'losses' must be a list, not dict"),
        (
            lambda m: _edit(m, lambda d: d["layers"].insert(1, 4)),
            "layers entry 1 must be an object",
        ),
        (lambda m: _edit(m, lambda d: d["layers"][1].pop("form")), 'layer 1 has no "form" string'),
        (
            lambda m: _edit(m, lambda d: d["losses"][0].update(form=None)),
            'loss 0 has no "form" string',
        ),
        (
            lambda m: _edit(m, lambda d: d["params"][0].update(shape="big")),
            'params entry 0 must have a "name" string and a "shape" list of sizes',
        ),
    ],
)
def test_invalid_description(change, message, tmp_path):
    meta, arrays = _good_meta(tmp_path)
    path = str(tmp_path / "bad.npz")
    _write_npz(path, change(meta), arrays)
    with pytest.raises(util.Error, match=re.escape(path) + ".*" + message):
        theanets.Network.load(path)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d["layers"][1].update(size=-1), "cannot connect layer 'hid1': "),
        (lambda d: d["layers"][1].update(key=1), r"cannot rebuild layer 1 \('hid1'\)"),
        (
            lambda d: d["layers"][2].update(inputs="nope"),
            r"cannot connect layer 'out'.*unknown input layer 'nope'",
        ),
        (
            lambda d: d["losses"][0].update(target=9),
            r"cannot rebuild loss 0 \(meansquarederror\).*target must have 0 to 4 dimensions",
        ),
        (
            lambda d: d["losses"][0].update(target={"input": "x"}),
            "loss 0 targets input 'x': unknown input layer 'x'; valid choices are: in",
        ),
        (
            lambda d: d["losses"][0].update(target={"loss": 0}),
            r"loss 0 has target \{'loss': 0\}; expected a number of dimensions",
        ),
        (
            lambda d: d["losses"][0].update(target="os.system"),
            "loss 0 has target 'os.system'; expected",
        ),
        (
            lambda d: d["params"].pop(),
            r"the file holds arrays \['out.b'\] that are not parameters "
            r"of the model \(parameters: \['hid1.w', 'hid1.b', 'out.w'\]\)",
        ),
        (
            lambda d: d["params"][0].update(shape=[3, 5]),
            r"parameter 'hid1.w' has shape \(3, 4\) in the file \(array\), but the description "
            r"says \(3, 5\)",
        ),
    ],
)
def test_description_that_does_not_build(change, message, tmp_path):
    meta, arrays = _good_meta(tmp_path)
    change(meta)
    path = str(tmp_path / "bad.npz")
    _write_npz(path, meta, arrays)
    with pytest.raises(util.Error, match=re.escape(path) + ".*(" + message + ")"):
        theanets.Network.load(path)


@pytest.mark.parametrize(
    "change, message",
    [
        (
            lambda a: a.update(extra=np.zeros(2, "float32")),
            r"holds arrays \['extra'\] that are not parameters",
        ),
        (lambda a: a.pop("out.b"), "parameter 'out.b' is listed but its array is missing"),
        (
            lambda a: a.update({"hid1.w": np.zeros((4, 4), "float32")}),
            r"parameter 'hid1.w' has shape \(4, 4\) in the file \(array\), but the description "
            r"says \(3, 4\)",
        ),
        (
            lambda a: a.update({"out.b": np.array(["a", "b"])}),
            "parameter 'out.b' holds <U1 values, not numbers",
        ),
    ],
)
def test_arrays_that_do_not_match(change, message, tmp_path):
    meta, arrays = _good_meta(tmp_path)
    change(arrays)
    path = str(tmp_path / "bad.npz")
    _write_npz(path, meta, arrays)
    with pytest.raises(util.Error, match=re.escape(path) + ".*" + message):
        theanets.Network.load(path)


def test_float64_arrays_are_cast_to_floatx(tmp_path):
    meta, arrays = _good_meta(tmp_path)
    arrays = {k: v.astype("float64") for k, v in arrays.items()}
    path = str(tmp_path / "f64.npz")
    _write_npz(path, meta, arrays)
    loaded = theanets.Network.load(path)
    assert all(p.get_value().dtype == pytensor.config.floatX for p in loaded.params)
    np.testing.assert_allclose(loaded.params[0].get_value(), arrays["hid1.w"], **TOL)


def test_user_model_and_layer_classes_load_when_imported(tmp_path):
    class Doubling(theanets.layers.Layer):
        def transform(self, inputs):
            return 2 * self._only_input(inputs), []

    class MyRegressor(theanets.Regressor):
        pass

    try:
        model = MyRegressor([3, dict(form="doubling", size=3), 2])
        path = str(tmp_path / "mine.npz")
        model.save(path)
        loaded = theanets.Network.load(path, allow_pickle=False)
    finally:
        theanets.layers.Layer._registry.pop("doubling")
    assert type(loaded) is MyRegressor
    assert type(loaded.layers[1]) is Doubling
    x = np.ones((2, 3), "float32")
    np.testing.assert_allclose(loaded.predict(x), model.predict(x), **TOL)


# ----- every registered form, in every format (issue 16) -----------------


def _rec(form, **kwargs):
    return recurrent.Regressor, [3, dict(form=form, size=4, activation="tanh", **kwargs), 2]


#: A small model holding each registered layer form: (model class, layers).
FORM_MODELS = {
    "input": (theanets.Regressor, [dict(form="input", size=3), 2]),
    "feedforward": (theanets.Regressor, [3, dict(form="feedforward", size=4), 2]),
    "classifier": (theanets.Classifier, [3, dict(form="classifier", size=3)]),
    "tied": (theanets.Autoencoder, [3, 4, "tied"]),
    "flatten": (convolution.Regressor, [(4, 3, 2), "flatten", 2]),
    "concatenate": (
        theanets.Regressor,
        [
            dict(size=3, name="a"),
            dict(size=2, name="h1"),
            dict(size=2, inputs="a", name="h2"),
            dict(form="concatenate", inputs=["h1", "h2"]),
            2,
        ],
    ),
    "product": (
        theanets.Regressor,
        [
            dict(size=3, name="a"),
            dict(size=2, name="h1"),
            dict(size=2, inputs="a", name="h2"),
            dict(form="product", inputs=["h1", "h2"]),
            2,
        ],
    ),
    "reshape": (theanets.Regressor, [6, dict(form="reshape", shape=(2, 3)), "flat", 2]),
    "conv1": (theanets.Regressor, [(6, 3), dict(form="conv1", size=4, filter_size=2), "flat", 2]),
    "conv2": (
        convolution.Regressor,
        [(6, 5, 3), dict(form="conv2", size=4, filter_size=(3, 2)), "flat", 2],
    ),
    "pool1": (theanets.Regressor, [(7, 3), dict(form="pool1", pool_size=3), "flat", 2]),
    "pool2": (convolution.Regressor, [(6, 5, 3), dict(form="pool2", pool_size=(2, 2)), "flat", 2]),
    "rnn": _rec("rnn"),
    "bcrnn": _rec("bcrnn", num_modules=2),
    "rrnn": _rec("rrnn"),
    "mrnn": _rec("mrnn"),
    "lstm": _rec("lstm"),
    "gru": _rec("gru"),
    "clockwork": _rec("clockwork", periods=(1, 2)),
    "mut1": _rec("mut1"),
    "scrn": _rec("scrn"),
    "bidirectional": (recurrent.Regressor, [3, dict(form="bidirectional", size=4), 2]),
}

#: Registered layer keys that are not forms of their own: aliases and abstract bases.
NOT_FORMS = {
    "ff",
    "softmax",
    "flat",
    "concat",
    "prod",
    "layer",
    "convolution",
    "pooling",
    "recurrent",
}

#: A model for each activation and loss form, and each model class.
PART_MODELS = {
    "activation " + name: (theanets.Regressor, [3, (4, name), 2])
    for name in ("prelu", "lgrelu", "elu", "maxout:2", "relu+tanh", "leaky-relu", "sigmoid")
}
PART_MODELS.update(
    {
        "loss " + name: (theanets.Regressor, [3, 4, 2], dict(loss=name))
        for name in ("mse", "mae", "kl")
    }
)
PART_MODELS.update(
    {
        "loss xe": (theanets.Classifier, [3, 4, 3], dict(loss="xe")),
        "loss hinge": (theanets.Classifier, [3, 4, 3], dict(loss="hinge")),
        "loss gll+mmd": _gll_mmd,
        "model recurrent.Autoencoder": (recurrent.Autoencoder, [3, 4, 3]),
        "model recurrent.Classifier": (recurrent.Classifier, [3, 4, 3]),
        "model convolution.Classifier": (convolution.Classifier, [(4, 3, 2), "flat", 3]),
        "model feedforward.Autoencoder (weighted)": (
            theanets.Autoencoder,
            [3, 4, 3],
            dict(weighted=True),
        ),
    }
)


def _build(entry, rng):
    if callable(entry):
        return entry(rng)[0]
    cls, spec = entry[:2]
    return cls(spec, **(entry[2] if len(entry) > 2 else {}))


def _inputs(model, rng):
    return [
        _data(rng, *((4,) + tuple(5 if d is None else d for d in layer.output_shape)))
        for layer in model.layers
        if isinstance(layer, theanets.layers.Input)
    ]


def _ours(cls):
    """True for the library's classes (other tests register classes of their own)."""
    return cls.__module__.split(".")[0] == "theanets"


def test_form_models_cover_the_registry():
    forms = {key for key, cls in theanets.layers.Layer._registry.items() if _ours(cls)}
    assert set(FORM_MODELS) | NOT_FORMS == forms
    built = {type(_build(entry, np.random.RandomState(0))) for entry in PART_MODELS.values()}
    built |= {entry[0] for entry in FORM_MODELS.values()}
    from theanets.serialize.allowlist import _subclasses

    ours = {cls for cls in _subclasses(theanets.Network).values() if _ours(cls)}
    assert ours - {theanets.Network} <= built


@pytest.mark.parametrize("fmt", ["pickle", "gzip", "safe"])
@pytest.mark.parametrize("key", sorted(FORM_MODELS) + sorted(PART_MODELS))
def test_every_form_loads_with_the_same_predictions(key, fmt, tmp_path, rng):
    model = _build(FORM_MODELS.get(key) or PART_MODELS[key], rng)
    path = str(tmp_path / {"pickle": "m.pkl", "gzip": "m.pkl.gz", "safe": "m.npz"}[fmt])
    model.save(path)
    if fmt != "safe":  # the allowlist holds every global the pickle names
        with open(path, "rb") as handle:
            data = handle.read()
        data = gzip.decompress(data) if fmt == "gzip" else data
        serialize.scan.check(data, serialize.allowlist.Allowlist(theanets.Network))
    loaded = theanets.Network.load(path, allow_pickle=fmt != "safe")
    assert type(loaded) is type(model)
    for a, b in zip(model.params, loaded.params, strict=True):
        assert a.name == b.name
        np.testing.assert_array_equal(a.get_value(), b.get_value())
    xs = _inputs(model, rng)
    np.testing.assert_allclose(_forward(loaded, xs), _forward(model, xs), **TOL)


#: A train() keyword for each regularizer form (regularizers are not saved).
REGULARIZER_KEYWORDS = [
    "weight_l1",
    "weight_l2",
    "hidden_l1",
    "contractive",
    "input_noise",
    "input_dropout",
    "hidden_noise",
    "hidden_dropout",
]


@pytest.mark.parametrize("key", REGULARIZER_KEYWORDS)
def test_models_trained_with_each_regularizer_still_load(key, tmp_path, rng):
    model = theanets.Autoencoder([3, 4, 3])
    x = _data(rng, N, 3)
    model.train([x], algo="sgd", max_updates=1, batch_size=4, **{key: 0.1})
    path = str(tmp_path / "reg.pkl")
    model.save(path)
    loaded = theanets.Network.load(path)
    np.testing.assert_allclose(loaded.predict(x), model.predict(x), **TOL)


# ----- saving writes only over regular files (issue 16) -------------------


def _saved_bytes(path):
    with open(path, "rb") as handle:
        return handle.read()


def test_save_follows_a_symlink_to_its_target(tmp_path):
    target = tmp_path / "real.pkl"
    link = tmp_path / "link.pkl"
    theanets.Regressor([3, 4, 2]).save(str(target))
    os.symlink(str(target), str(link))
    model = theanets.Regressor([3, 5, 2])
    model.save(str(link))
    assert os.path.islink(str(link))
    assert [p.get_value().shape for p in theanets.Network.load(str(target)).params][0] == (3, 5)


def test_save_refuses_what_is_not_a_regular_file(tmp_path):
    fifo = str(tmp_path / "fifo.pkl")
    os.mkfifo(fifo)
    model = theanets.Regressor([3, 4, 2])
    with pytest.raises(
        OSError,
        match=re.escape(repr(fifo)) + r": it is a FIFO \(named pipe\), "
        r"not a regular file",
    ):
        model.save(fifo)
    assert os.path.exists(fifo) and not os.path.isfile(fifo)
    with pytest.raises(OSError, match=r"cannot save to '/dev/null': it is a character device"):
        model.save("/dev/null")
    with pytest.raises(
        IsADirectoryError, match=re.escape(repr(str(tmp_path))) + ": it is a directory"
    ):
        model.save(str(tmp_path))
    assert sorted(os.listdir(str(tmp_path))) == ["fifo.pkl"]


@pytest.mark.parametrize(
    "path, error, message",
    [
        ("", FileNotFoundError, r"cannot save to '': the path is empty"),
        (
            "no/such/m.npz",
            FileNotFoundError,
            r"cannot save to 'no/such/m.npz': the folder '.*no/such' "
            r"does not exist",
        ),
        ("x" * 300 + ".npz", OSError, r"the file name is longer than the file system allows"),
    ],
)
def test_save_errors_name_the_path(path, error, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(error, match=message):
        theanets.Regressor([3, 4, 2]).save(path)
    assert os.listdir(str(tmp_path)) == []


def test_save_into_an_unwritable_folder_names_the_path(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    path = str(tmp_path / "m.pkl")
    with pytest.raises(
        PermissionError, match=re.escape(repr(path)) + ": cannot create files in the folder"
    ):
        theanets.Regressor([3, 4, 2]).save(path)


def test_a_temporary_that_cannot_be_made_names_the_path(tmp_path, monkeypatch):
    def refuse(**kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(serialize.files.tempfile, "mkstemp", refuse)
    path = str(tmp_path / "m.pkl")
    with pytest.raises(
        PermissionError,
        match=re.escape(repr(path))
        + ": cannot create a temporary file beside it: Permission denied",
    ):
        theanets.Regressor([3, 4, 2]).save(path)


def test_longest_legal_name_can_be_saved(tmp_path):
    name = "m" * (os.pathconf(str(tmp_path), "PC_NAME_MAX") - 4) + ".npz"
    path = str(tmp_path / name)
    theanets.Regressor([3, 4, 2]).save(path)
    assert os.listdir(str(tmp_path)) == [name]
    assert type(theanets.Network.load(path)) is theanets.Regressor
    assert len(serialize.files._temp_prefix(path)) + 8 <= os.pathconf(str(tmp_path), "PC_NAME_MAX")


def test_save_keeps_mode_and_hard_links(tmp_path):
    path = str(tmp_path / "m.pkl")
    other = str(tmp_path / "other.pkl")
    theanets.Regressor([3, 4, 2]).save(path)
    os.chmod(path, 0o640)
    os.link(path, other)
    theanets.Regressor([3, 5, 2]).save(path)
    assert os.stat(path).st_mode & 0o777 == 0o640
    assert os.stat(path).st_ino == os.stat(other).st_ino and os.stat(path).st_nlink == 2
    assert _saved_bytes(path) == _saved_bytes(other)
    assert theanets.Network.load(other).params[0].get_value().shape == (3, 5)


def test_save_keeps_the_owner_or_refuses(tmp_path, monkeypatch):
    path = str(tmp_path / "m.pkl")
    theanets.Regressor([3, 4, 2]).save(path)
    before = _saved_bytes(path)
    info = os.stat(path)
    calls = []
    monkeypatch.setattr(os, "getuid", lambda: info.st_uid + 1)  # as if someone else saves

    def chown(target, uid, gid):
        calls.append((uid, gid))
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "chown", chown)
    with pytest.raises(
        PermissionError,
        match=re.escape(repr(path)) + ": it belongs to user "
        r"\d+ \(group \d+\), and saving would make it yours",
    ):
        theanets.Regressor([3, 5, 2]).save(path)
    assert calls == [(info.st_uid, info.st_gid)]
    assert _saved_bytes(path) == before
    assert os.listdir(str(tmp_path)) == ["m.pkl"]


@pytest.mark.parametrize("name", ["hid\x001", "hid\n1", ""])
def test_names_that_cannot_be_saved_are_refused_before_writing(name, tmp_path):
    model = theanets.Regressor([3, 4, 2])
    model.layers[1].name = name
    for suffix in (".npz", ".pkl"):
        with pytest.raises(
            util.ConfigurationError, match="cannot save a layer named " + re.escape(repr(name))
        ):
            model.save(str(tmp_path / ("m" + suffix)))
    assert os.listdir(str(tmp_path)) == []


def test_char_rnn_checks_the_model_path_before_training(tmp_path):
    from click.testing import CliRunner

    from theanets import charrnn

    result = CliRunner().invoke(
        charrnn.main, ["train", "--model", str(tmp_path / "no" / "m.npz"), "--updates", "1"]
    )
    assert result.exit_code != 0
    assert "cannot save to '{}'".format(tmp_path / "no" / "m.npz") in result.output
    assert "training" not in result.output


# ----- loader corners (issue 16) ------------------------------------------


def test_unseekable_handle_is_read_within_the_ceiling(monkeypatch):
    monkeypatch.setattr(serialize.limits, "MAX_FILE_BYTES", 100)
    stream = _Unseekable(b"\x80\x04" + b"N0" * 100 + b"N.")
    stream.name = "the-pipe"
    with pytest.raises(util.LoadError, match="^the-pipe holds more than 100 bytes"):
        theanets.Network.load(stream)


def test_file_larger_than_the_ceiling(tmp_path, monkeypatch):
    path = str(tmp_path / "m.pkl")
    theanets.Regressor([3, 4, 2]).save(path)
    monkeypatch.setattr(serialize.limits, "MAX_FILE_BYTES", 100)
    with pytest.raises(
        util.LoadError,
        match=re.escape(path) + r" holds \d+ bytes, more than "
        r"theanets.serialize.limits.MAX_FILE_BYTES \(100\)",
    ):
        theanets.Network.load(path)


@pytest.mark.parametrize(
    "limit, value, message",
    [
        ("MAX_PICKLE_OPCODES", 10, "more than 10 opcodes"),
        ("MAX_NPZ_ENTRIES", 2, "it declares 5 entries, more than 2"),
        ("MAX_DESCRIPTION_BYTES", 10, r"the '__theanets__' entry holds \d+ bytes, more than 10"),
    ],
)
def test_ceilings(limit, value, message, monkeypatch):
    buffer = io.BytesIO()
    theanets.Regressor([3, 4, 2]).save(buffer, format="pickle" if "PICKLE" in limit else "safe")
    monkeypatch.setattr(serialize.limits, limit, value)
    buffer.seek(0)
    with pytest.raises(util.LoadError, match=message):
        theanets.Network.load(buffer)


def test_gzip_that_ends_early(tmp_path):
    path = str(tmp_path / "cut.pkl.gz")
    with open(path, "wb") as handle:
        handle.write(gzip.compress(pickle.dumps(theanets.Regressor([3, 4, 2]), -1))[:-20])
    with pytest.raises(util.LoadError, match=re.escape(path) + ".*the gzip stream ends early"):
        theanets.Network.load(path)
    with open(path, "wb") as handle:
        handle.write(b"\x1f\x8b" + b"\0" * 30)
    with pytest.raises(util.LoadError, match=re.escape(path) + ".*gzip: Error"):
        theanets.Network.load(path)


def test_gzip_is_told_by_its_bytes_not_its_name(tmp_path):
    path = str(tmp_path / "model.bin")
    with open(path, "wb") as handle:
        handle.write(gzip.compress(pickle.dumps(theanets.Regressor([3, 4, 2]), -1)))
    assert type(theanets.Network.load(path)) is theanets.Regressor


@pytest.mark.parametrize("name", ["c.npz", "c.pkl"])
def test_loading_another_model_class_says_which_class_the_file_holds(tmp_path, name):
    path = str(tmp_path / name)
    theanets.Classifier([4, 3, 3]).save(path)
    with pytest.warns(
        UserWarning,
        match=r"Regressor.load: '.*c\.(npz|pkl)' holds a "
        r"theanets.feedforward.Classifier, not a Regressor; "
        r"it is returned as it was saved",
    ):
        model = theanets.Regressor.load(path)
    assert type(model) is theanets.Classifier
    assert type(theanets.Classifier.load(path)) is theanets.Classifier  # no warning
    assert type(theanets.Network.load(path)) is theanets.Classifier
