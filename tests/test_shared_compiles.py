"""Compiled functions shared between models of the same structure, bounded
named caches, the structure key, and inputs padded to a few shapes: each
checked by counting the real calls into the compiler (theanets._compiles).

The in-process tests compile in the FAST_COMPILE mode of the test suite;
``test_default_mode_counts`` runs the same checks in a subprocess with no
compile flags (JAX), where new shapes are what costs compiles.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytensor
import pytensor.tensor as TT
import pytest

import theanets
from theanets import _buckets, _cache, _compiles

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RS = np.random.RandomState(0)
X = RS.randn(40, 4).astype("float32")
Y = RS.randint(0, 3, 40).astype("int32")
TRAIN = dict(max_updates=3, batch_size=8, progress=False)


def _counted(fn):
    before = _compiles.counts()
    result = fn()
    return result, _compiles.counts() - before


def _params(net):
    return [p.get_value() for p in net.params]


def _fresh(make):
    """A model made by ``make`` with nothing compiled before in this process."""
    _cache.CACHES.clear()
    return make()


# ----- the structure key ----------------------------------------------------


def test_structure_key_ignores_seeds_and_values_but_not_structure():
    a = theanets.Classifier([4, (8, "relu"), 3], rng=1)
    b = theanets.Classifier([4, (8, "relu"), 3], rng=2)
    b.find("hid1", "w").set_value(b.find("hid1", "w").get_value() * 2)
    assert a.structure_key() == b.structure_key()
    others = [
        theanets.Classifier([4, (9, "relu"), 3]),
        theanets.Classifier([4, (8, "tanh"), 3]),
        theanets.Classifier([4, (8, "relu"), 3], weighted=True),
        theanets.Regressor([4, (8, "relu"), 3]),
    ]
    keys = {a.structure_key()} | {n.structure_key() for n in others}
    assert len(keys) == 1 + len(others)
    regs = theanets.regularizers.from_kwargs(a, hidden_dropout=0.5)
    assert a.structure_key(regs) != a.structure_key()
    assert a.structure_key(regs) == b.structure_key(
        theanets.regularizers.from_kwargs(b, hidden_dropout=0.5)
    )


# ----- named caches -----------------------------------------------------------


def test_named_cache_keeps_the_most_recently_used():
    cache = _cache.NamedCache("demo", size=3)
    for key in "abcd":
        cache.put(key, key.upper())
    assert cache.keys() == ["b", "c", "d"]
    assert cache.get("b") == "B"  # now the most recently used
    cache.put("e", "E")
    assert cache.keys() == ["d", "b", "e"]
    assert (cache.hits, cache.misses) == (1, 0)
    assert cache.get("a", "gone") == "gone" and cache.misses == 1


def test_named_caches_refuse_unknown_names_and_bad_sizes():
    caches = _cache.NamedCaches(functions=2)
    with pytest.raises(KeyError, match=r"no cache named 'graphs'; expected one of \['functions'\]"):
        caches["graphs"]
    with pytest.raises(ValueError, match="cache 'x': size must be at least 1, not 0"):
        _cache.NamedCache("x", 0)


def test_a_models_caches_are_bounded():
    net = theanets.Regressor([3, 4, 2])
    x = RS.randn(5, 3).astype("float32")
    size = net.CACHE_SIZES["functions"]
    for i in range(size + 4):
        net.predict(x, input_noise=0.1, rng=i)
    assert len(net._caches["functions"]) == size
    assert set(net._caches.stats()) >= {"functions"}


# ----- sharing between models -------------------------------------------------


def _classifier(seed=3):
    return theanets.Classifier([4, (8, "relu"), 3], rng=seed)


def test_a_second_model_of_the_same_structure_compiles_nothing():
    first = _fresh(_classifier)
    (_, counts) = _counted(lambda: (first.predict(X), first.train([X, Y], **TRAIN)))
    assert counts["graph"] == 3  # prediction, evaluation, training step
    second = _classifier(seed=4)
    (_, counts) = _counted(lambda: (second.predict(X), second.train([X, Y], **TRAIN)))
    assert counts["graph"] == 0
    assert counts["copy"] == 3


def _stateful_regressor(seed):
    return theanets.recurrent.Regressor([4, (6, "lstm"), 2], rng=seed)


def test_stateful_prediction_is_shared_between_models_of_a_structure():
    seqs = RS.randn(3, 5, 4).astype("float32")
    first = _fresh(lambda: _stateful_regressor(1))
    (out, state), counts = _counted(lambda: first.predict(seqs, return_state=True))
    _, counts_given = _counted(lambda: first.predict(seqs, state=state, return_state=True))
    assert counts["graph"] == 1 and counts_given["graph"] == 1  # from zeros; from a state
    second = _stateful_regressor(2)
    (out2, state2), counts = _counted(lambda: second.predict(seqs, return_state=True))
    (more2, _), counts_given = _counted(
        lambda: second.predict(seqs, state=state2, return_state=True)
    )
    assert counts["graph"] == 0 and counts["copy"] == 1
    assert counts_given["graph"] == 0 and counts_given["copy"] == 1
    # the copies compute with the second model's parameters and state
    fresh = _fresh(lambda: _stateful_regressor(2))
    (expect, expect_state) = fresh.predict(seqs, return_state=True)
    np.testing.assert_allclose(out2, expect, rtol=1e-6)
    assert not np.allclose(out2, out)
    (expect_more, _) = fresh.predict(seqs, state=expect_state, return_state=True)
    np.testing.assert_allclose(more2, expect_more, rtol=1e-6)


def test_shared_functions_give_what_compiling_afresh_gives():
    first = _fresh(_classifier)
    first.train([X, Y], **TRAIN)
    copied = _classifier(seed=5)
    # parameters changed after the model was made, before its copies are made
    copied.find("hid1", "b").set_value(np.full(8, 0.25, "float32"))
    start = _params(copied)
    (_, counts) = _counted(lambda: copied.train([X, Y], **TRAIN))
    assert counts["graph"] == 0
    fresh = _fresh(lambda: _classifier(seed=5))
    for param, value in zip(fresh.params, start, strict=True):
        param.set_value(value)
    fresh.train([X, Y], **TRAIN)
    for a, b in zip(_params(copied), _params(fresh), strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(copied.predict_proba(X), fresh.predict_proba(X))
    # and the copies keep to their own model: changing one changes nothing else
    copied.find("out", "b").set_value(np.full(3, 9.0, "float32"))
    assert not np.array_equal(copied.predict_proba(X), fresh.predict_proba(X))
    np.testing.assert_array_equal(first.predict_proba(X), first.predict_proba(X))


def test_each_model_keeps_its_own_optimizer_state():
    a = _fresh(_classifier)
    b = _classifier(seed=3)
    kwargs = dict(TRAIN, algo="adam", learning_rate=0.01)
    a.train([X, Y], **kwargs)
    b.train([X, Y], **kwargs)  # a copy of a's step, with b's Adam accumulators
    for p, q in zip(_params(a), _params(b), strict=True):
        np.testing.assert_array_equal(p, q)  # same seed: b starts as a started
    a.train([X, Y], **kwargs)
    fresh = _fresh(lambda: _classifier(seed=3))
    fresh.train([X, Y], **kwargs)
    fresh.train([X, Y], **kwargs)
    for p, q in zip(_params(a), _params(fresh), strict=True):
        np.testing.assert_array_equal(p, q)


class _StepGraphs:
    """Counts the training graphs optimizers build (the gradient and the
    updates: :meth:`theanets.downhill.Optimizer._step_updates`)."""

    def __init__(self, monkeypatch):
        self.count = 0
        real = theanets.downhill.Optimizer._step_updates

        def counted(opt):
            self.count += 1
            return real(opt)

        monkeypatch.setattr(theanets.downhill.Optimizer, "_step_updates", counted)


@pytest.mark.parametrize(
    "algo, options",
    [
        ("sgd", dict(momentum=0.5)),
        ("sgd", dict(momentum=0.5, nesterov=True)),
        ("nag", dict(momentum=0.5)),
        ("rprop", {}),
        ("rmsprop", {}),
        ("adagrad", {}),
        ("adadelta", {}),
        ("esgd", {}),
        ("adam", dict(max_gradient_norm=1)),
    ],
)
def test_a_copied_step_trains_as_its_own_compile(monkeypatch, algo, options):
    # the second model builds no training graph: it copies the first's
    # compiled step with its parameters, accumulators, step counts and
    # random generators (ESGD) swapped in; its training is bit for bit what
    # compiling its own step gives
    kwargs = dict(TRAIN, algo=algo, learning_rate=0.01, **options)
    graphs = _StepGraphs(monkeypatch)
    _fresh(_classifier).train([X, Y], **kwargs)
    assert graphs.count == 1
    copied = _classifier(seed=5)
    copied.train([X, Y], **kwargs)
    copied.train([X, Y], **kwargs)  # again: the optimizer state starts afresh
    assert graphs.count == 1
    fresh = _fresh(lambda: _classifier(seed=5))
    fresh.train([X, Y], **kwargs)
    fresh.train([X, Y], **kwargs)
    assert graphs.count == 2
    for a, b in zip(_params(copied), _params(fresh), strict=True):
        np.testing.assert_array_equal(a, b)


def test_a_step_is_copied_only_for_the_same_graph_and_mode_setting(monkeypatch):
    from theanets import downhill

    graphs = _StepGraphs(monkeypatch)
    _cache.CACHES.clear()

    def optimizer(scale):
        x = pytensor.shared(np.float32([3, -2]), name="x")
        opt = downhill.build("adam", loss=TT.sqr(scale * x - 1).sum())
        opt.share_key = ("hand-made", "the same key for different graphs")
        return opt, x

    first, _ = optimizer(1)
    first.minimize(learning_rate=0.1, max_updates=3)
    assert graphs.count == 1
    # the same key, another graph (a constant differs): built, not copied
    second, x = optimizer(2)
    second.minimize(learning_rate=0.1, max_updates=3)
    assert graphs.count == 2
    expect, y = optimizer(2)
    del expect.share_key
    expect.minimize(learning_rate=0.1, max_updates=3)
    np.testing.assert_array_equal(x.get_value(), y.get_value())
    # the same graph: copied
    third, _ = optimizer(2)
    third.minimize(learning_rate=0.1, max_updates=3)
    assert graphs.count == 3  # the unshared one built its own
    # another mode setting: built again
    monkeypatch.setenv("THEANETS_DRAWS", "numpy")
    optimizer(2)[0].minimize(learning_rate=0.1, max_updates=3)
    assert graphs.count == 4


def test_a_different_compiled_option_compiles_once():
    net = _fresh(_classifier)
    net.train([X, Y], algo="rmsprop", **TRAIN)
    other = _classifier(seed=6)
    (_, counts) = _counted(lambda: other.train([X, Y], algo="rmsprop", rms_halflife=3, **TRAIN))
    assert counts["graph"] == 2  # its evaluation and its training step, once
    (_, counts) = _counted(lambda: _classifier(7).train([X, Y], rms_halflife=3, **TRAIN))
    assert counts["graph"] == 0
    # an option that only steers the loop compiles nothing
    (_, counts) = _counted(lambda: _classifier(8).train([X, Y], **dict(TRAIN, max_updates=5)))
    assert counts["graph"] == 0


def test_a_different_structure_compiles():
    _fresh(_classifier).predict(X)
    (_, counts) = _counted(lambda: theanets.Classifier([4, (9, "relu"), 3]).predict(X))
    assert counts["graph"] == 1 and counts["copy"] == 0


def test_pickled_and_loaded_models_share_too(tmp_path):
    net = _fresh(_classifier)
    expected = net.predict_proba(X)
    net.save(str(tmp_path / "net.pkl"))
    loaded = theanets.Classifier.load(str(tmp_path / "net.pkl"))
    (got, counts) = _counted(lambda: loaded.predict_proba(X))
    assert counts["graph"] == 0
    np.testing.assert_array_equal(got, expected)


# ----- padding to a few shapes -----------------------------------------------


def test_buckets_are_few():
    sizes = {_buckets.bucket(n) for n in range(1, 501)}
    assert sizes == {16, 32, 64, 128, 256, 512}
    assert _buckets.bucket(1500) == 2048 and _buckets.bucket(5000) == 5120
    assert all(_buckets.bucket(n) >= n for n in range(1, 5000, 7))


def _direct(net):
    outputs, _ = net.build_graph()
    labels = sorted(outputs)
    fn = pytensor.function(net.inputs, [outputs[l] for l in labels], on_unused_input="ignore")
    return fn


@pytest.mark.parametrize(
    "layers,steps",
    [
        ([(5, "lstm")], "end"),
        ([dict(form="gru", size=5, direction="backward")], "length"),
        ([dict(form="bidirectional", worker="rnn", size=4)], "length"),
        (
            [
                dict(form="bidirectional", worker="lstm", size=6),
                (4, "rnn"),
                dict(form="clockwork", size=4, periods=(1, 2), direction="backward"),
            ],
            "length",
        ),
    ],
)
def test_padded_sequences_give_the_unpadded_outputs(layers, steps):
    # backward layers reverse the real steps only (the padding stays at the
    # end): their outputs, in their reading order, are the unpadded ones
    net = theanets.recurrent.Regressor([3] + layers + [2])
    rows, where = _buckets.padding_of(net)
    assert rows is True and where == steps
    fn = _direct(net)
    labels = sorted(net.build_graph()[0])
    padded_fn = net._lengths_function(net._hash(()), labels) if where == "length" else fn
    for n, t in [(1, 1), (3, 7), (17, 20), (2, 33)]:
        x = RS.randn(n, t, 3).astype("float32")
        padded = _buckets.call_padded(padded_fn, x, rows, where)
        assert padded[0].shape[:2] == (n, t)
        for got, want in zip(padded, fn(x), strict=True):
            assert got.shape == want.shape
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_padded_rows_give_the_unpadded_outputs():
    net = theanets.Classifier([4, (8, "relu"), (6, "tanh"), 3])
    assert _buckets.padding_of(net) == (True, None)
    fn = _direct(net)
    for n in (1, 15, 16, 17, 40):
        padded = _buckets.call_padded(fn, X[:n], True, None)
        for got, want in zip(padded, fn(X[:n]), strict=True):
            assert got.shape == want.shape
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


def test_layers_that_mix_examples_or_steps_are_not_padded():
    class Mixing(theanets.layers.Feedforward):
        """A user's layer: it might mix examples."""

        __extra_registration__ = False

    net = theanets.Regressor([3, 4, 2])
    net.layers[1].__class__ = Mixing
    assert _buckets.padding_of(net) == (False, None)
    x = TT.matrix("x")
    fn = pytensor.function([x], [x.sum(axis=0, keepdims=True) + 0 * x])
    assert len(_buckets.call_padded(fn, X[:3], False, None)[0]) == 3


# ----- the same in the default (JAX) mode -------------------------------------

DEFAULT_MODE_SCRIPT = r"""
import json, numpy as np, pytensor, theanets
from theanets import _compiles

def counted(fn):
    before = _compiles.counts()
    fn()
    return dict(_compiles.counts() - before)

def close(got, want, tol):
    return bool(np.allclose(got, want, rtol=tol, atol=tol))

def direct(net):
    outputs, _ = net.build_graph()
    out = outputs[net.layers[-1].output_name]
    return pytensor.function(net.inputs, out, mode="FAST_COMPILE")

rs = np.random.RandomState(0)
x = rs.randn(500, 4).astype("float32")
y = rs.randint(0, 3, 500).astype("int32")
fit = dict(max_updates=5, batch_size=10, progress=False)
report = {}
a = theanets.Classifier([4, (16, "relu"), 3], rng=1)
report["first"] = counted(lambda: (a.predict(x[:50]), a.train([x[:50], y[:50]], **fit)))
b = theanets.Classifier([4, (16, "relu"), 3], rng=2)
report["second"] = counted(lambda: (b.predict(x[:50]), b.train([x[:50], y[:50]], **fit)))
report["rows"] = counted(lambda: [a.predict(x[:n]) for n in range(1, 501, 5)])
f = direct(a)
report["rows_close"] = all(close(a.predict_proba(x[:n]), f(x[:n]), 1e-5) for n in (1, 37, 333))
net = theanets.recurrent.Regressor([3, (5, "lstm"), 2])
seq = rs.randn(2, 500, 3).astype("float32")
report["steps"] = counted(lambda: [net.predict(seq[:, :t]) for t in range(1, 501, 5)])
f = direct(net)
report["steps_close"] = all(
    close(net.predict(seq[:, :t]), f(seq[:, :t]), 1e-4) for t in (1, 9, 130)
)
# backward-running layers: sequences padded too, with their real length
net = theanets.recurrent.Regressor(
    [3, dict(form="bidirectional", worker="lstm", size=6), dict(form="gru", size=4,
     direction="backward"), 2])
report["both"] = counted(lambda: [net.predict(seq[:, :t]) for t in range(1, 501, 5)])
f = direct(net)
report["both_close"] = all(
    close(net.predict(seq[:, :t]), f(seq[:, :t]), 1e-4) for t in (1, 9, 130)
)
print("REPORT" + json.dumps(report))
"""


def test_default_mode_counts(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTENSOR_FLAGS", "THEANO_FLAGS")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, env.get("PYTHONPATH")) if p)
    done = subprocess.run(
        [sys.executable, "-c", DEFAULT_MODE_SCRIPT],
        cwd=str(tmp_path),
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    lines = [l for l in done.stdout.splitlines() if l.startswith("REPORT")]
    assert done.returncode == 0 and lines, done.stderr[-3000:]
    report = json.loads(lines[-1][len("REPORT") :])
    assert report["first"].get("graph") == 3
    # the second model: copies only, no graph compiled, no program traced
    assert report["second"].get("graph", 0) == 0 and report["second"].get("shape", 0) == 0
    assert report["second"].get("copy") == 3
    # 100 row counts from 1 to 496: the six sizes 16 ... 512, one of them known
    # (and 50 rows, unpadded, when the padding was checked)
    assert report["rows"].get("graph", 0) == 0 and report["rows"].get("shape", 0) <= 6
    assert report["rows_close"]
    # 100 sequence lengths from 1 to 496: one graph, six sizes, and the
    # first length unpadded (the first padded call is checked against it)
    assert report["steps"].get("graph") == 1 and report["steps"].get("shape", 0) <= 7, report
    assert report["steps_close"]
    # the same with bidirectional and backward layers
    assert report["both"].get("graph") == 1 and report["both"].get("shape", 0) <= 7, report
    assert report["both_close"]


def test_outputs_computed_from_parameters_alone_are_not_sliced():
    net = theanets.recurrent.Regressor([3, (5, "scrn"), 2])
    outputs, _ = net.build_graph()
    labels = sorted(outputs)
    fn = pytensor.function(net.inputs, [outputs[l] for l in labels])
    x = RS.randn(3, 7, 3).astype("float32")
    ndims = [outputs[l].ndim for l in labels]
    assert 1 in ndims  # the layer's rate
    got = _buckets.call_padded(fn, x, True, "end", ndims)
    for label, g, w in zip(labels, got, fn(x), strict=True):
        assert g.shape == w.shape, label
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-6)


def test_outputs_not_along_examples_and_steps_turn_the_padding_off():
    x = TT.tensor3("x")
    # a time-major output: slicing it as (examples, steps) would be wrong
    fn = pytensor.function([x], [x * 2, x.dimshuffle(1, 0, 2) + 1])
    data = RS.randn(3, 5, 2).astype("float32")
    for _ in range(2):
        got = _buckets.call_padded(fn, data, True, "end")
        for g, w in zip(got, fn(data), strict=True):
            np.testing.assert_array_equal(g, w)
    assert _buckets._checked(fn) is False
