"""Tests of the recurrent layers (theanets.layers.recurrent).

Each layer's outputs are checked against a plain numpy implementation of its
update rule, with non-zero initial states; then direction, truncated
back-propagation, gradients, training, initialisation and every
configuration error. (Names and shapes of outputs and parameters, to_spec and
pickling go through the shared check of tests/test_layers.py; the original
library's numbers through tests/test_reference.py.)

Shapes are tiny and each test compiles at most a few functions: scan graphs
are the slowest to compile.
"""

import numpy as np
import pytensor
import pytensor.tensor as TT
import pytest
from pytensor.graph import clone_replace

import theanets
from theanets import util
from theanets.layers import recurrent as R

TOL = dict(rtol=1e-5, atol=1e-5)  # float32 values after a few steps
N, T, D, H = 2, 4, 3, 4  # examples, time steps, input features, units


def _sig(x):
    return 1 / (1 + np.exp(-x))


def _x(seed=1, steps=T):
    return np.random.RandomState(seed).randn(N, steps, D).astype("float32")


def _state(seed):
    return np.random.RandomState(seed).randn(N, H).astype("float32")


def _build(spec, states=()):
    """A recurrent Regressor: an Input per initial state, the input, layer "rec", out."""
    layers = [dict(form="input", name=s[0] + "0", ndim=2, size=H) for s in states]
    layers += [
        dict(form="input", name="in", size=D),
        dict(spec, name="rec", size=H, **{s: s[0] + "0" for s in states}),
        dict(form="ff", name="out", size=2),
    ]
    return theanets.recurrent.Regressor(layers)


def _run(net, names, x, states=()):
    """Values of outputs ``rec:<name>`` for input ``x`` and initial states."""
    outputs, _ = net.build_graph()
    fn = pytensor.function(net.inputs, [outputs["rec:" + n] for n in names])
    return dict(zip(names, fn(*list(states) + [x]), strict=True))


def _p(layer, *names):
    return [layer.find(n).get_value() for n in names]


# ----- numpy references: (layer, x, initial states) -> dict of outputs ------


def _steps(x, backward=False):
    order = range(x.shape[1])
    return list(reversed(order)) if backward else list(order)


def _stack(values):
    return np.stack(values, axis=1)


def _np_rnn(layer, x, h, backward=False):
    xh, hh, b = _p(layer, "xh", "hh", "b")
    pre, out = [], []
    for t in _steps(x, backward):
        p = x[:, t] @ xh + b + h @ hh
        h = np.tanh(p)
        pre.append(p)
        out.append(h)
    return dict(pre=_stack(pre), out=_stack(out))


def _np_bcrnn(layer, x, h):
    xh, hh, b = _p(layer, "xh", "hh", "b")
    # 2 modules of 2 units: module 1 hears module 0, not the reverse
    mask = np.array([[1, 1, 0, 0], [1, 1, 0, 0], [1, 1, 1, 1], [1, 1, 1, 1]])
    r = np.repeat(1 - 10 ** np.array([-1e-4, -6]), 2)
    p = np.zeros_like(h)
    pre, out = [], []
    for t in _steps(x):
        p = r * p + (1 - r) * (x[:, t] @ xh + b + h @ (hh * mask))
        h = np.tanh(p)
        pre.append(p)
        out.append(h)
    return dict(pre=_stack(pre), out=_stack(out))


def _np_rrnn(layer, x, h):
    xh, hh, b = _p(layer, "xh", "hh", "b")
    pre, hid, out, rates = [], [], [], []
    for t in _steps(x):
        if layer.rate == "matrix":
            r = _sig(x[:, t] @ layer.find("xr").get_value() + layer.find("r").get_value())
            rates.append(r)
        elif layer.rate == "vector":
            r = _sig(layer.find("r").get_value())
        else:
            r = layer._rates.get_value()
        p = x[:, t] @ xh + b + h @ hh
        h = (1 - r) * h + r * np.tanh(p)
        pre.append(p)
        hid.append(np.tanh(p))
        out.append(h)
    return dict(
        pre=_stack(pre), hid=_stack(hid), out=_stack(out), rate=np.stack(rates) if rates else r
    )  # time-major for 'matrix'


def _np_mrnn(layer, x, h):
    xh, xf, hf, fh, b = _p(layer, "xh", "xf", "hf", "fh", "b")
    pre, out = [], []
    for t in _steps(x):
        p = x[:, t] @ xh + b + ((x[:, t] @ xf) * (h @ hf)) @ fh
        h = np.tanh(p)
        pre.append(p)
        out.append(h)
    return dict(pre=_stack(pre), out=_stack(out), factors=np.einsum("ntd,df->tnf", x, xf))


def _np_lstm(layer, x, h, c):
    xh, hh, b, ci, cf, co = _p(layer, "xh", "hh", "b", "ci", "cf", "co")
    out, cell = [], []
    for t in _steps(x):
        z = x[:, t] @ xh + b + h @ hh
        zi, zf, zc, zo = np.split(z, 4, axis=1)
        i = _sig(zi + c * ci)
        f = _sig(zf + c * cf)
        c = f * c + i * np.tanh(zc)
        h = _sig(zo + c * co) * np.tanh(c)
        out.append(h)
        cell.append(c)
    return dict(out=_stack(out), cell=_stack(cell))


def _np_gru(layer, x, h):
    hh, hr, hz, w, b = _p(layer, "hh", "hr", "hz", "w", "b")
    pre, hid, rate, out = [], [], [], []
    for t in _steps(x):
        xh, xr, xz = np.split(x[:, t] @ w + b, 3, axis=1)
        r = _sig(xr + h @ hr)
        z = _sig(xz + h @ hz)
        p = xh + (r * h) @ hh
        h = (1 - z) * h + z * np.tanh(p)
        pre.append(p)
        hid.append(np.tanh(p))
        rate.append(z)
        out.append(h)
    return dict(pre=_stack(pre), hid=_stack(hid), rate=_stack(rate), out=_stack(out))


def _np_clockwork(layer, x, h, backward=False):
    xh, hh, b = _p(layer, "xh", "hh", "b")
    # periods (1, 2): units 0-1 every step, 2-3 every other step; the fast
    # module hears both, the slow one only itself
    mask = np.array([[1, 1, 0, 0], [1, 1, 0, 0], [1, 1, 1, 1], [1, 1, 1, 1]])
    period = np.array([1, 1, 2, 2])
    p = np.zeros_like(h)
    pre, out = [], []
    for t in _steps(x, backward):  # t: the time index, also backwards
        p = np.where(t % period == 0, x[:, t] @ xh + b + h @ (hh * mask), p)
        h = np.tanh(p)
        pre.append(p)
        out.append(h)
    return dict(pre=_stack(pre), out=_stack(out))


def _np_mut1(layer, x, h):
    xh, xr, xz, hh, hr, bh, br, bz = _p(layer, "xh", "xr", "xz", "hh", "hr", "bh", "br", "bz")
    pre, hid, rate, out = [], [], [], []
    for t in _steps(x):
        z = _sig(x[:, t] @ xz + bz)
        r = _sig(x[:, t] @ xr + br + h @ hr)
        p = np.tanh(x[:, t] @ xh + bh) + (r * h) @ hh
        h = (1 - z) * h + z * np.tanh(p)
        pre.append(p)
        hid.append(np.tanh(p))
        rate.append(z)
        out.append(h)
    return dict(pre=_stack(pre), hid=_stack(hid), rate=_stack(rate), out=_stack(out))


def _np_scrn(layer, x, h, s):
    w, sh, hh, ho, so, b = _p(layer, "w", "sh", "hh", "ho", "so", "b")
    r = _sig(layer.find("r").get_value()) if layer.rate == "vector" else layer._rates.get_value()
    hid, state, out = [], [], []
    for t in _steps(x):
        xh, xs = np.split(x[:, t] @ w, 2, axis=1)
        s = (1 - r) * s + r * xs
        h = np.tanh(xh + h @ hh + s @ sh)
        hid.append(h)
        state.append(s)
        out.append(h @ ho + s @ so + b)
    return dict(hid=_stack(hid), state=_stack(state), out=_stack(out), rate=r)


#: form, extra spec, initial states, numpy reference
VALUE_CASES = {
    "rnn": ({}, ("h_0",), _np_rnn),
    "rnn-backward": (
        dict(form="rnn", direction="backward"),
        ("h_0",),
        lambda l, x, h: _np_rnn(l, x, h, backward=True),
    ),
    "bcrnn": (dict(num_modules=2), ("h_0",), _np_bcrnn),
    "rrnn-matrix": (dict(form="rrnn"), ("h_0",), _np_rrnn),
    "rrnn-vector": (dict(form="rrnn", rate="vector"), (), _np_rrnn),
    "rrnn-log": (dict(form="rrnn", rate="log"), (), _np_rrnn),
    "mrnn": ({}, ("h_0",), _np_mrnn),
    "lstm": ({}, ("h_0", "c_0"), _np_lstm),
    "gru": ({}, ("h_0",), _np_gru),
    "clockwork": (dict(periods=(2, 1)), ("h_0",), _np_clockwork),
    "clockwork-backward": (
        dict(form="clockwork", periods=(1, 2), direction="back"),
        (),
        lambda l, x, h: _np_clockwork(l, x, h, backward=True),
    ),
    "mut1": ({}, ("h_0",), _np_mut1),
    "scrn": ({}, ("h_0", "s_0"), _np_scrn),
    "scrn-uniform": (dict(form="scrn", rate="uniform"), (), _np_scrn),
}


@pytest.mark.parametrize("key", sorted(VALUE_CASES))
def test_outputs_match_numpy(key):
    extra, states, reference = VALUE_CASES[key]
    spec = dict(dict(form=key, activation="tanh"), **extra)
    net = _build(spec, states)
    layer = net.layers[len(states) + 1]
    x = _x()
    initial = [_state(10 + i) for i in range(len(states))]
    zeros = [np.zeros((N, H), "float32")] * len(layer.STATES)
    expect = reference(layer, x, *(initial or zeros))
    got = _run(net, sorted(expect), x, initial)
    for name in sorted(expect):
        np.testing.assert_allclose(got[name], expect[name], err_msg=name, **TOL)


def test_initial_states_are_optional_and_default_to_zeros():
    net = _build(dict(form="lstm"))
    layer = net.layers[1]
    assert layer._states == {} and layer.h_0 is None and layer.c_0 is None
    zeros = np.zeros((N, H), "float32")
    np.testing.assert_allclose(
        net.feed_forward(_x())["rec:cell"], _np_lstm(layer, _x(), zeros, zeros)["cell"], **TOL
    )


def test_initial_state_names_resolve_like_inputs():
    net = _build(dict(form="lstm"), ("h_0", "c_0"))
    layer = net.layers[3]
    assert layer._states == {"h_0": ("h0:out", (H,)), "c_0": ("c0:out", (H,))}
    assert (layer.to_spec()["h_0"], layer.to_spec()["c_0"]) == ("h0", "c0")
    assert [v.name for v in net.inputs] == ["h0", "c0", "in"]


def test_bidirectional_joins_a_forward_and_a_backward_worker():
    net = theanets.recurrent.Regressor(
        [D, dict(form="bidirectional", size=H, activation="tanh", name="rec"), 2]
    )
    layer = net.layers[1]
    assert (layer.forward.name, layer.backward.name) == ("rec_fw", "rec_bw")
    assert layer.forward.kwargs["direction"] == "forward"
    assert layer.backward.kwargs["direction"] == "backward"
    outputs, _ = net.build_graph()
    names = ["out", "pre", "fw_out", "bw_out", "fw_pre", "bw_pre"]
    fn = pytensor.function(net.inputs, [outputs["rec:" + n] for n in names])
    x = np.zeros((N, T, D), "float32")
    x[:, 0] = _x()[:, 0]  # input only at the first time step
    got = dict(zip(names, fn(x), strict=True))
    zeros = np.zeros((N, H // 2), "float32")
    fw = _np_rnn(layer.forward, x, zeros)
    bw = _np_rnn(layer.backward, x, zeros, backward=True)
    for key in ("out", "pre"):
        np.testing.assert_allclose(got["fw_" + key], fw[key], **TOL)
        np.testing.assert_allclose(got["bw_" + key], bw[key], **TOL)
        np.testing.assert_allclose(got[key], np.concatenate([fw[key], bw[key]], axis=-1), **TOL)
    # not flipped back: the input at time 0 changes only the backward
    # worker's last output, and all the forward worker's outputs
    silent = dict(zip(names, fn(np.zeros_like(x)), strict=True))
    changed = lambda k: ~np.isclose(got[k], silent[k]).all(axis=(0, 2))  # noqa: E731
    assert changed("bw_out").tolist() == [False] * (T - 1) + [True]
    assert changed("fw_out").all()


def test_one_unit_layers():
    # zeros of shape (batch, 1) have a broadcastable static shape; the
    # states fed back through scan must keep it
    net = theanets.recurrent.Regressor([D, (1, "rnn"), (1, "lstm"), (2, "bidirectional"), 1])
    assert net.predict(_x()).shape == (N, T, 1)


def test_bptt_limit_truncates_gradients():
    x = TT.tensor3("x")
    grads = {}
    for limit in (-1, 2):
        net = theanets.recurrent.Regressor([D, dict(form="rnn", size=H, bptt_limit=limit), 2])
        layer = net.layers[1]
        assert layer.kwargs["bptt_limit"] == limit
        out = layer.connect({"in:out": x})[0]["hid1:out"]
        grads[limit] = TT.grad(out[:, -1].sum(), x)
    fn = pytensor.function([x], [grads[-1], grads[2]])
    full, limited = fn(_x(steps=5) * 0.3)
    per_step = lambda g: np.abs(g).sum(axis=(0, 2))  # noqa: E731
    assert (per_step(full) > 0).all()
    assert (per_step(limited)[:3] == 0).all() and (per_step(limited)[3:] > 0).all()
    np.testing.assert_allclose(limited[:, 3:], full[:, 3:], **TOL)


@pytest.mark.parametrize("form", ["rnn", "lstm"])
def test_gradients_match_finite_differences(form):
    with pytensor.config.change_flags(floatX="float64"):
        net = theanets.recurrent.Regressor([2, dict(form=form, size=2, activation="tanh"), 1])
        layer = net.layers[1]
        params = layer.params
        x = TT.tensor3("x")
        out = layer.connect({"in:out": x})[0]["hid1:out"]
        assert out.dtype == "float64"

        def cost(xv, *values):
            replaced = clone_replace(out, dict(zip([x] + params, [xv] + list(values), strict=True)))
            return (replaced * np.arange(1, 3)).sum()

        rng = np.random.RandomState(3)
        point = [rng.randn(2, 3, 2)] + [p.get_value() for p in params]
        pytensor.gradient.verify_grad(cost, point, rng=rng, eps=1e-6, abs_tol=1e-6, rel_tol=1e-5)


def _train_losses(net, data, **kwargs):
    losses = [t["loss"] for t, _ in net.itertrain(data, **kwargs)]
    return losses[0], losses[-1]


def test_training_a_recurrent_regressor_reduces_the_loss():
    rng = np.random.RandomState(5)
    x = rng.randn(6, 5, D).astype("float32")
    y = np.cumsum(x[:, :, :2], axis=1).astype("float32") * 0.3  # needs memory
    net = theanets.recurrent.Regressor([D, (H, "gru"), 2])
    first, last = _train_losses(
        net, [x, y], algo="adam", learning_rate=0.05, max_updates=30, batch_size=6, patience=100
    )
    assert last < 0.7 * first


def test_training_a_recurrent_classifier_reduces_the_loss():
    rng = np.random.RandomState(6)
    x = rng.randn(6, 5, D).astype("float32")
    labels = (x[:, :, 0] > 0).astype("int32")
    net = theanets.recurrent.Classifier([D, (H, "lstm"), 2])
    first, last = _train_losses(
        net,
        [x, labels],
        algo="adam",
        learning_rate=0.05,
        max_updates=30,
        batch_size=6,
        patience=100,
    )
    assert last < 0.7 * first


# ----- initialisation ------------------------------------------------------


def test_square_blocks_honour_radius_and_diagonal():
    net = theanets.recurrent.Regressor(
        [
            H,
            dict(form="lstm", size=H, radius=1.5, name="a"),
            dict(form="rnn", size=H, diagonal=0.5, name="b"),
            2,
        ]
    )
    a, b = net.layers[1], net.layers[2]
    for weights in ("xh", "hh"):  # input size == size: blocks here too
        blocks = np.split(a.find(weights).get_value(), 4, axis=1)
        for block in blocks:
            np.testing.assert_allclose(np.linalg.svd(block, compute_uv=False)[0], 1.5, rtol=1e-5)
        assert not np.allclose(blocks[0], blocks[1])
    np.testing.assert_allclose(b.find("hh").get_value(), 0.5 * np.eye(H))
    net = theanets.recurrent.Regressor([D, dict(form="rnn", size=H, radius=1.5, diagonal=2), 2])
    xh = net.layers[1].find("xh").get_value()  # (3, 4): one matrix, radius ignored
    assert not np.allclose(np.linalg.svd(xh, compute_uv=False)[0], 1.5)
    assert not np.allclose(xh, 2 * np.eye(D, H))


def test_fixed_rates_come_from_the_global_rng():
    np.random.seed(4)
    uniform = np.random.uniform(1e-4, 1 - 1e-4, size=H).astype("float32")
    log = np.exp(np.random.uniform(-6, -1e-4, size=H).astype("float32"))
    np.random.seed(4)
    net = theanets.recurrent.Regressor(
        [
            D,
            dict(form="rrnn", size=H, rate="uniform", name="u"),
            dict(form="scrn", size=H, rate="log", name="l"),
            2,
        ]
    )
    u, l = net.layers[1], net.layers[2]
    np.testing.assert_allclose(u._rates.get_value(), uniform)
    np.testing.assert_allclose(l._rates.get_value(), log, rtol=1e-6)
    assert u._rates.name == "u.rate" and u._rates not in net.params
    assert [p.name for p in u.params] == ["u.xh", "u.hh", "u.b"]
    assert "l.r" not in [p.name for p in l.params]


def test_fixed_rates_survive_to_spec_and_the_safe_format(tmp_path):
    net = theanets.recurrent.Regressor([D, dict(form="rrnn", size=H, rate="log"), 2])
    rates = net.layers[1]._rates.get_value()
    spec = net.layers[1].to_spec()
    assert spec["rate"] == "log" and np.allclose(spec["rates"], rates)
    net.save(str(tmp_path / "model.npz"))
    before = np.random.get_state()[1].copy()
    loaded = theanets.graph.Network.load(str(tmp_path / "model.npz"))
    np.testing.assert_array_equal(loaded.layers[1]._rates.get_value(), rates)
    np.testing.assert_array_equal(np.random.get_state()[1], before)  # nothing drawn


@pytest.mark.parametrize(
    "given,size,expected",
    [(None, 4, 3), (None, 16, 5), (None, 10, 4), (0.5, 10, 5), (0.25, 6, 1), (7, 10, 7)],
)
def test_scrn_context_size_is_resolved_in_the_spec(given, size, expected):
    net = theanets.recurrent.Regressor([D, dict(form="scrn", size=size, context_size=given), 2])
    assert net.layers[1].to_spec()["context_size"] == expected
    rebuilt = theanets.recurrent.Regressor([D, net.layers[1].to_spec(), 2])
    assert rebuilt.layers[1].to_spec()["context_size"] == expected


@pytest.mark.parametrize(
    "worker,rate", [("rrnn", "uniform"), ("rrnn", "log"), ("scrn", "uniform"), ("scrn", "log")]
)
def test_bidirectional_keeps_fixed_worker_rates_in_the_safe_format(tmp_path, worker, rate):
    np.random.seed(3)
    net = theanets.recurrent.Regressor(
        [D, dict(form="bidirectional", size=2 * H, worker=worker, rate=rate), 2]
    )
    layer = net.layers[1]
    fw, bw = layer.forward._rates.get_value(), layer.backward._rates.get_value()
    assert not np.allclose(fw, bw)  # each worker drew its own
    spec = layer.to_spec()
    np.testing.assert_allclose(spec["fw_rates"], fw)
    np.testing.assert_allclose(spec["bw_rates"], bw)
    path = str(tmp_path / "bi.npz")
    net.save(path)
    np.random.seed(99)  # a reload must not draw new rates
    loaded = theanets.graph.Network.load(path, allow_pickle=False)
    np.testing.assert_array_equal(loaded.layers[1].forward._rates.get_value(), fw)
    np.testing.assert_array_equal(loaded.layers[1].backward._rates.get_value(), bw)
    x = np.random.RandomState(1).randn(2, 5, D).astype("float32")
    np.testing.assert_allclose(loaded.predict(x), net.predict(x), rtol=1e-6)


def test_layer_specs():
    net = theanets.recurrent.Regressor(
        [
            D,
            dict(form="bcrnn", size=H, num_modules=2),
            dict(form="mrnn", size=H, factors=3),
            dict(form="clockwork", size=H, periods=[3, 1]),
            dict(form="scrn", size=H),
            dict(form="rrnn", size=H, rate="log"),
            dict(form="bidirectional", size=H, worker="gru"),
            2,
        ]
    )
    specs = [l.to_spec() for l in net.layers[1:-1]]
    assert [s["form"] for s in specs] == [
        "bcrnn",
        "mrnn",
        "clockwork",
        "scrn",
        "rrnn",
        "bidirectional",
    ]
    assert all(s["h_0"] is None for s in specs[:-1]) and "h_0" not in specs[-1]
    assert (specs[0]["num_modules"], specs[1]["factors"], specs[2]["periods"]) == (2, 3, (1, 3))
    # the resolved context size, as the original reported it: int(1 + sqrt(size))
    assert (specs[3]["s_0"], specs[3]["context_size"], specs[3]["rate"]) == (
        None,
        int(1 + np.sqrt(H)),
        "vector",
    )
    assert (specs[4]["rate"], specs[5]["worker"]) == ("log", "gru")
    assert theanets.recurrent.Regressor([D, dict(form="mrnn", size=9), 2]).layers[1].factors == 3


def test_exports_and_registry():
    for name in (
        "RNN",
        "RRNN",
        "MRNN",
        "LSTM",
        "GRU",
        "Clockwork",
        "MUT1",
        "SCRN",
        "Bidirectional",
    ):
        assert name in theanets.layers.__all__
        assert getattr(theanets.layers, name) is getattr(R, name)
    assert "BCRNN" not in theanets.layers.__all__
    for key in (
        "recurrent",
        "rnn",
        "bcrnn",
        "rrnn",
        "mrnn",
        "lstm",
        "gru",
        "clockwork",
        "mut1",
        "scrn",
        "bidirectional",
    ):
        assert theanets.layers.Layer.is_registered(key)


def test_transform_returns_no_updates():
    net = theanets.recurrent.Regressor([D, (H, "gru"), 2])
    outputs, updates = net.layers[1].connect({"in:out": TT.tensor3()})
    assert updates == []
    assert sorted(outputs) == ["hid1:hid", "hid1:out", "hid1:pre", "hid1:rate"]


# ----- configuration errors ------------------------------------------------


def _reg(*specs):
    return theanets.recurrent.Regressor([D] + list(specs) + [2])


CONFIG_ERRORS = [
    (
        lambda: _reg(dict(form="bcrnn", size=5, num_modules=2)),
        r"layer 'hid1' \(BCRNN\): size 5 is not a multiple of num_modules 2",
    ),
    (
        lambda: _reg(dict(form="bcrnn", size=4, num_modules=0)),
        r"layer 'hid1' \(BCRNN\): num_modules must be a positive whole number, not 0",
    ),
    (
        lambda: _reg(dict(form="clockwork", size=5, periods=(1, 2))),
        r"layer 'hid1' \(Clockwork\): size 5 is not a multiple of the number of periods 2 "
        r"\(periods \(1, 2\)\)",
    ),
    (
        lambda: _reg(dict(form="clockwork", size=4, periods=())),
        r"layer 'hid1' \(Clockwork\): periods must be a non-empty sequence of positive whole "
        r"numbers, not \(\)",
    ),
    (
        lambda: _reg(dict(form="rrnn", size=4, rate="fast")),
        r"layer 'hid1' \(RRNN\): unknown rate 'fast'; valid choices are: log, matrix, uniform, "
        r"vector",
    ),
    (
        lambda: _reg(dict(form="scrn", size=4, rate="matrix")),
        r"layer 'hid1' \(SCRN\): unknown rate 'matrix'; valid choices are: log, uniform, vector",
    ),
    (
        lambda: _reg(dict(form="rrnn", size=4, rate="uniform", rates=[0.5, 2, 0.5, 0.5])),
        r"layer 'hid1' \(RRNN\): rates must be 4 numbers in \(0, 1\], not \[0.5, 2, 0.5, 0.5\]",
    ),
    (
        lambda: _reg(dict(form="scrn", size=4, rate="log", rates="fast")),
        r"layer 'hid1' \(SCRN\): rates must be 4 numbers in \(0, 1\], not 'fast'",
    ),
    (
        lambda: _reg(dict(form="scrn", size=4, context_size=0)),
        r"layer 'hid1' \(SCRN\): context_size must be a positive number, not 0",
    ),
    (
        lambda: _reg(dict(form="bidirectional", size=4, worker="ff")),
        r"layer 'hid1' \(Bidirectional\): unknown worker 'ff'; valid choices are: bcrnn, "
        r"clockwork, gru, lstm, mrnn, mut1, rnn, rrnn, scrn",
    ),
    (
        lambda: _reg(dict(form="bidirectional", size=5)),
        r"layer 'hid1' \(Bidirectional\): size must be an even whole number \(each direction "
        r"gets half\), not 5",
    ),
    (
        lambda: theanets.layers.MRNN(name="m"),
        r"layer 'm' \(MRNN\): give size=\.\.\. \(or factors=\.\.\.\): the number of factors "
        r"defaults to ceil\(sqrt\(size\)\)",
    ),
    (
        lambda: _reg(dict(form="mrnn", size=4, factors=0)),
        r"layer 'hid1' \(MRNN\): factors must be a positive whole number, not 0",
    ),
    (
        lambda: theanets.Regressor([D, (H, "rnn"), 2]),
        r"layer 'hid1' \(RNN\): input 'in:out' has 2-D data \(batch \+ \(3,\)\), but a recurrent "
        r"layer needs 3-D sequences \(batch, time, features\); use a model from "
        r"theanets.recurrent",
    ),
    (
        lambda: theanets.Regressor([D, dict(form="bidirectional", size=4), 2]),
        r"layer 'hid1' \(Bidirectional\): input 'in:out' has 2-D data",
    ),
    (
        lambda: _reg(dict(form="rnn", size=4, direction=1)),
        r"layer 'hid1' \(RNN\): direction must be a string \(\"forward\" or \"backward\"\), "
        r"not 1",
    ),
    (
        lambda: _reg(dict(form="rnn", size=4, bptt_limit=0)),
        r"layer 'hid1' \(RNN\): bptt_limit must be a positive whole number of time steps, or -1 "
        r"for no limit, not 0",
    ),
    (
        lambda: theanets.recurrent.Regressor(
            [
                dict(form="input", name="h0", ndim=2, size=3),
                dict(form="input", name="in", size=D),
                dict(form="rnn", size=4, h_0="h0"),
                2,
            ]
        ),
        r"layer 'hid2' \(RNN\): h_0='h0:out' has shape \(3,\) per example, but the initial state "
        r"must be \(4,\): 2-D data \(batch, 4\)",
    ),
    (
        lambda: _reg(dict(form="lstm", size=4, c_0="nowhere")),
        r"layer 'hid1' \(LSTM\): c_0='nowhere' names no output of an earlier layer; known "
        r"outputs are \['in:out'\]",
    ),
    (
        lambda: _reg(dict(form="recurrent", size=4)),
        r"layer 'hid1' \(Recurrent\): Recurrent is the base class of the recurrent layers; use "
        r"one of bcrnn, bidirectional, clockwork, gru, lstm, mrnn, mut1, rnn, rrnn, scrn",
    ),
]


@pytest.mark.parametrize("make,pattern", CONFIG_ERRORS, ids=range(len(CONFIG_ERRORS)))
def test_configuration_errors(make, pattern):
    with pytest.raises(util.ConfigurationError, match=pattern):
        make()


def test_unknown_rate_is_also_a_key_error():
    with pytest.raises(KeyError):
        theanets.layers.RRNN(size=4, rate="fast")


def test_predict_sequence_refuses_more_streams_than_seed_labels():
    net = theanets.recurrent.Classifier([3, (4, "rnn"), 3])
    with pytest.raises(
        IndexError,
        match=r"predict_sequence: with streams=3 the seed needs at "
        r"least 3 labels, not 2",
    ):
        list(net.predict_sequence([0, 1], 3, streams=3, rng=13))
