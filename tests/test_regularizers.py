"""Tests of theanets.regularizers: from_kwargs, penalties, noise and dropout.

Penalties are compiled from real PyTensor graphs and compared with the same
quantity computed in numpy from the parameter values and the network's own
(unregularized) outputs. Noise and dropout are checked statistically on many
values, with bounds of several standard errors, so they hold for any seed.
"""

import numpy as np
import pytensor
import pytensor.tensor as TT
import pytest

import theanets
from theanets import regularizers, util
from theanets.regularizers import from_kwargs

FLOAT = pytensor.config.floatX
#: Tolerances for float32 graph values against float64 numpy.
TOL = dict(rtol=1e-4, atol=1e-6) if FLOAT == "float32" else dict(rtol=1e-9, atol=1e-12)
#: The same, for pytest.approx.
APPROX = dict(rel=TOL["rtol"], abs=TOL["atol"])


class OutputSquare(theanets.Regularizer):
    """A user regularizer: mean square of matching outputs (default: the output)."""

    def __init__(self, pattern="out:out", weight=0.0):
        super().__init__(pattern=pattern, weight=weight)

    def loss(self, layers, outputs):
        return sum(TT.sqr(expr).mean() for _, expr in util.outputs_matching(outputs, self.pattern))


# ----- helpers ------------------------------------------------------------


def _data(rng, *shape):
    return rng.randn(*shape).astype(FLOAT)


def _value(net, regs, x, which=0):
    """The compiled penalty of ``regs[which]`` on input ``x``."""
    outputs, _ = net.build_graph(regs)
    expr = regs[which].loss(net.layers, outputs)
    return float(pytensor.function(net.inputs, expr, on_unused_input="ignore")(x))


def _param(net, name):
    return net.find(*name.split(".")).get_value().astype("float64")


def _outputs(net, x):
    """Unregularized outputs, as float64."""
    return {k: v.astype("float64") for k, v in net.feed_forward(x).items()}


def _one(net, **kwargs):
    regs = from_kwargs(net, **kwargs)
    assert len(regs) == 1, regs
    return regs


@pytest.fixture
def net():
    return theanets.Regressor([4, 5, 6, 3])


@pytest.fixture
def x(rng):
    return _data(rng, 20, 4)


# ----- from_kwargs ----------------------------------------------------------


def test_from_kwargs_verified_example(net):
    # The example verified against the original library (spec 2.9).
    regs = from_kwargs(
        theanets.Regressor([4, 5, 3]),
        hidden_dropout=0.5,
        input_noise=0.1,
        weight_l2=0.0,
        dropout={"out:out": 0.2},
    )
    assert [type(r).__name__ for r in regs] == [
        "BernoulliDropout",
        "BernoulliDropout",
        "GaussianNoise",
        "WeightL2",
    ]
    assert [r.pattern for r in regs] == [("hid1:out",), "out:out", ("in:out",), "*"]
    assert [r.weight for r in regs] == [0.5, 0.2, 0.1, 0.0]


def test_from_kwargs_patterns_for_inputs_hiddens_outputs(net):
    regs = from_kwargs(
        net,
        input_dropout=0.1,
        hidden_dropout=0.2,
        output_dropout=0.3,
        input_noise=0.4,
        hidden_noise=0.5,
        output_noise=0.6,
    )
    assert [(type(r).__name__, r.pattern, r.weight) for r in regs] == [
        ("BernoulliDropout", ("in:out",), 0.1),
        ("BernoulliDropout", ("hid1:out", "hid2:out"), 0.2),
        ("BernoulliDropout", ("out:out",), 0.3),
        ("GaussianNoise", ("in:out",), 0.4),
        ("GaussianNoise", ("hid1:out", "hid2:out"), 0.5),
        ("GaussianNoise", ("out:out",), 0.6),
    ]


def test_from_kwargs_nothing_and_unknown_keys(net):
    assert from_kwargs(net) == []
    assert from_kwargs(net, learning_rate=0.1, batch_size=3, hidden_dropout=0) == []


def test_from_kwargs_registered_names_any_case_and_aliases(net):
    regs = from_kwargs(
        net,
        Weight_L2=0.1,
        weight_decay=0.2,
        weight_sparsity=0.3,
        HIDDEN_SPARSITY=0.4,
        recurrent_state=0.5,
    )
    assert [(type(r).__name__, r.weight) for r in regs] == [
        ("WeightL2", 0.1),
        ("WeightL2", 0.2),
        ("WeightL1", 0.3),
        ("HiddenL1", 0.4),
        ("RecurrentState", 0.5),
    ]


def test_from_kwargs_dict_value_gives_constructor_arguments(net):
    (reg,) = from_kwargs(net, weight_l1=dict(weight=0.5, pattern="hid1.*"))
    assert isinstance(reg, regularizers.WeightL1)
    assert (reg.pattern, reg.weight) == ("hid1.*", 0.5)


def test_from_kwargs_regularizers_list_is_returned_as_is(net):
    given = [regularizers.WeightL2(weight=0.1), regularizers.HiddenL1(weight=0.2)]
    regs = from_kwargs(net, regularizers=given, hidden_dropout=0.5, weight_l1=0.3)
    assert regs == given
    assert all(a is b for a, b in zip(regs, given, strict=True))
    assert from_kwargs(net, regularizers=tuple(given)) == given


def test_from_kwargs_regularizers_dict_is_merged(net):
    regs = from_kwargs(net, regularizers=dict(weight_l2=0.1, hidden_dropout=0.5), hidden_l1=0.2)
    assert [(type(r).__name__, r.weight) for r in regs] == [
        ("BernoulliDropout", 0.5),
        ("HiddenL1", 0.2),
        ("WeightL2", 0.1),
    ]


def test_regularizer_repr_and_log(net):
    reg = regularizers.WeightL2("hid1.*", 0.25)
    assert repr(reg) == "WeightL2('hid1.*', 0.25)"
    reg.log()  # must not raise
    base = theanets.Regularizer()
    assert (base.pattern, base.weight) == ("*", 0.0)
    assert base.loss(net.layers, {}) == 0
    assert base.updates() == []


def test_registry_keys():
    for key in (
        "weightl2",
        "weight_l2",
        "weight_decay",
        "weightl1",
        "weight_l1",
        "weight_sparsity",
        "hiddenl1",
        "hidden_l1",
        "hidden_sparsity",
        "recurrentnorm",
        "recurrent_norm",
        "recurrentstate",
        "recurrent_state",
        "contractive",
        "gaussiannoise",
        "bernoullidropout",
        "outputsquare",
    ):
        assert theanets.Regularizer.is_registered(key), key
    with pytest.raises(KeyError, match="valid choices are:.*weight_l2"):
        theanets.Regularizer.build("weight_l3")


# ----- loss regularizers against numpy --------------------------------------


@pytest.mark.parametrize(
    "key, fn",
    [
        ("weight_l2", lambda w: np.mean(w**2)),
        ("weight_decay", lambda w: np.mean(w**2)),
        ("weight_l1", lambda w: np.mean(np.abs(w))),
        ("weight_sparsity", lambda w: np.mean(np.abs(w))),
    ],
)
def test_weight_penalties(net, x, key, fn):
    expect = np.mean([fn(_param(net, n)) for n in ("hid1.w", "hid2.w", "out.w")])
    assert _value(net, _one(net, **{key: 1.0}), x) == pytest.approx(expect, **APPROX)
    # A pattern restricts the parameters; biases (1-D) never count.
    regs = _one(net, **{key: dict(pattern="hid2.*", weight=1.0)})
    assert _value(net, regs, x) == pytest.approx(fn(_param(net, "hid2.w")), **APPROX)
    regs = _one(net, **{key: dict(pattern=("hid1.w", "out.b", "out.w"), weight=1.0)})
    expect = np.mean([fn(_param(net, n)) for n in ("hid1.w", "out.w")])
    assert _value(net, regs, x) == pytest.approx(expect, **APPROX)
    # Nothing matching: no penalty.
    (reg,) = _one(net, **{key: dict(pattern="*.b", weight=1.0)})
    assert reg.loss(net.layers, net.build_graph([reg])[0]) == 0


def test_weight_penalty_enters_the_training_loss_with_its_weight(rng):
    net = theanets.Regressor([4, 5, 3])
    x, y = _data(rng, 10, 4), _data(rng, 10, 3)
    plain = pytensor.function(net.variables, net.loss())(x, y)
    fn = pytensor.function(net.variables, net.loss(weight_l2=0.3, weight_l1=0.2))
    l2 = np.mean([np.mean(_param(net, n) ** 2) for n in ("hid1.w", "out.w")])
    l1 = np.mean([np.mean(np.abs(_param(net, n))) for n in ("hid1.w", "out.w")])
    assert fn(x, y) == pytest.approx(plain + 0.3 * l2 + 0.2 * l1, **APPROX)


def test_hidden_l1_default_pattern_is_the_hidden_layers(net, x):
    outs = _outputs(net, x)
    expect = np.mean([np.abs(outs["hid1:out"]).mean(), np.abs(outs["hid2:out"]).mean()])
    for key in ("hidden_l1", "hidden_sparsity"):
        assert _value(net, _one(net, **{key: 1.0}), x) == pytest.approx(expect, **APPROX)
    # An explicit pattern applies to whatever it matches (here the output).
    regs = _one(net, hidden_l1=dict(pattern="out:out", weight=1.0))
    assert _value(net, regs, x) == pytest.approx(np.abs(outs["out:out"]).mean(), **APPROX)
    regs = _one(net, hidden_l1=dict(pattern="hid2:*", weight=1.0))
    expect = np.mean([np.abs(outs["hid2:out"]).mean(), np.abs(outs["hid2:pre"]).mean()])
    assert _value(net, regs, x) == pytest.approx(expect, **APPROX)


def _linear_net():
    return theanets.Regressor([4, (5, "linear"), (3, "linear"), 2])


def test_contractive_default_pattern(rng):
    # Linear hidden layers: the gradient of mean(h) with respect to the input
    # is the same for every example, (W.sum(axis=1)) / (N * H).
    net, n = _linear_net(), 7
    x = _data(rng, n, 4)
    w1, w2 = _param(net, "hid1.w"), _param(net, "hid2.w")
    g1 = np.tile(w1.sum(axis=1) / (n * 5), (n, 1))
    g2 = np.tile(w1.dot(w2).sum(axis=1) / (n * 3), (n, 1))
    expect = np.mean([np.mean(g1**2), np.mean(g2**2)])
    for regs in (
        _one(net, contractive=1.0),
        _one(net, contractive=dict(weight=1.0, pattern="*")),
        [regularizers.Contractive(weight=1.0)],
    ):
        assert _value(net, regs, x) == pytest.approx(expect, **APPROX)
    regs = _one(net, contractive=dict(weight=1.0, pattern="hid2:out"))
    assert _value(net, regs, x) == pytest.approx(np.mean(g2**2), **APPROX)


def test_contractive_with_relu_hidden_layer(rng):
    net, n = theanets.Regressor([3, 6, 2]), 9
    x = _data(rng, n, 3)
    w, b = _param(net, "hid1.w"), _param(net, "hid1.b")
    active = (x.astype("float64").dot(w) + b) > 0
    grad = active.dot(w.T) / (n * 6)
    assert _value(net, _one(net, contractive=1.0), x) == pytest.approx(np.mean(grad**2), **APPROX)


def test_contractive_wrt_selects_inputs(rng):
    net = theanets.Regressor(
        [
            dict(size=3, name="a"),
            dict(form="input", size=2, name="b"),
            dict(size=4, inputs=["a", "b"], name="h", activation="linear"),
            dict(size=2, name="out"),
        ]
    )
    n = 5
    xa, xb = _data(rng, n, 3), _data(rng, n, 2)
    wa, wb = _param(net, "h.w_a:out"), _param(net, "h.w_b:out")
    ga = np.mean((wa.sum(axis=1) / (n * 4)) ** 2)
    gb = np.mean((wb.sum(axis=1) / (n * 4)) ** 2)

    def value(**kw):
        regs = [regularizers.Contractive(weight=1.0, **kw)]
        outputs, _ = net.build_graph(regs)
        expr = regs[0].loss(net.layers, outputs)
        return float(pytensor.function(net.inputs, expr, on_unused_input="ignore")(xa, xb))

    assert value(wrt="a") == pytest.approx(ga, **APPROX)
    assert value(wrt="b") == pytest.approx(gb, **APPROX)
    assert value() == pytest.approx(ga + gb, **APPROX)
    # An output that does not depend on the input has a zero gradient.
    assert value(pattern="b:out", wrt="a") == 0
    assert value(pattern=("b:out", "h:out"), wrt="a") == pytest.approx(ga / 2, **APPROX)
    with pytest.raises(
        util.ConfigurationError, match=r"wrt='c' matches no input; inputs are \['a', 'b'\]"
    ):
        value(wrt="c")


def _np_recurrent_norm(h):
    norms = (h**2).sum(axis=-1)
    return np.mean(norms[:, :-1] - norms[:, 1:])


def _np_recurrent_state(h):
    return np.mean((h[:, :-1] - h[:, 1:]) ** 2)


@pytest.mark.parametrize(
    "key, fn",
    [
        ("recurrent_norm", _np_recurrent_norm),
        ("recurrent_state", _np_recurrent_state),
    ],
)
def test_recurrent_penalties_on_hand_made_outputs(rng, key, fn):
    a, b, flat = TT.tensor3("a"), TT.tensor3("b"), TT.matrix("flat")
    outputs = {"r1:out": a, "r2:out": b, "ff:out": flat}
    va, vb = _data(rng, 3, 5, 4), _data(rng, 2, 6, 3)
    vflat = _data(rng, 3, 4)

    def value(pattern):
        reg = theanets.Regularizer.build(key, pattern=pattern, weight=1.0)
        expr = reg.loss([], outputs)
        fn_ = pytensor.function([a, b, flat], expr, on_unused_input="ignore")
        return float(fn_(va, vb, vflat))

    ea, eb = fn(va.astype("float64")), fn(vb.astype("float64"))
    assert value("r1:out") == pytest.approx(ea, **APPROX)
    # The default pattern '*' matches every output; 2-D ones are skipped.
    assert value("*") == pytest.approx((ea + eb) / 2, **APPROX)
    assert value(("r2:*", "ff:out")) == pytest.approx(eb, **APPROX)
    assert theanets.Regularizer.build(key, pattern="ff:out").loss([], outputs) == 0


def test_recurrent_norm_is_not_squared():
    # Growing norms give a negative penalty (kept from the original).
    h = TT.tensor3("h")
    reg = regularizers.RecurrentNorm(pattern="h", weight=1.0)
    fn = pytensor.function([h], reg.loss([], {"h": h}))
    ramp = np.arange(1, 4, dtype=FLOAT).reshape((1, 3, 1))
    assert float(fn(ramp)) == pytest.approx(-(3 + 5) / 2, **APPROX)


class _FakeLayer:
    def __init__(self, *params):
        self.params = list(params)


@pytest.mark.parametrize(
    "make",
    [
        lambda v: regularizers.WeightL2().loss([_FakeLayer(v)], {}),
        lambda v: regularizers.WeightL1().loss([_FakeLayer(v)], {}),
        lambda v: regularizers.HiddenL1("h").loss([], {"h": v}),
    ],
)
def test_penalty_gradients_2d(rng, make):
    def fn(v):
        v.name = "x.w"
        return make(v)

    point = rng.randn(3, 4) + 0.1  # away from the kink of abs at 0
    pytensor.gradient.verify_grad(fn, [point], rng=rng)


@pytest.mark.parametrize("cls", [regularizers.RecurrentNorm, regularizers.RecurrentState])
def test_penalty_gradients_3d(rng, cls):
    def fn(h):
        return cls("h").loss([], {"h": h})

    pytensor.gradient.verify_grad(fn, [rng.randn(2, 4, 3)], rng=rng)


# ----- noise and dropout ----------------------------------------------------


def test_gaussian_noise_statistics(rng):
    net = theanets.Regressor([50, 3])
    x = np.abs(_data(rng, 400, 50)) + 1
    outs = net.feed_forward(x, input_noise=0.25)
    assert np.array_equal(outs["in:out-prenoise"], x)
    noise = (outs["in:out"] - x).astype("float64")
    n = noise.size  # 20000 values
    assert abs(noise.mean()) < 5 * 0.25 / np.sqrt(n)
    assert noise.std() == pytest.approx(0.25, rel=0.03)
    assert outs["in:out"].dtype == FLOAT


def test_gaussian_noise_on_hidden_layers_feeds_later_layers(net, x):
    outs = net.feed_forward(x, hidden_noise=0.5)
    assert sorted(outs) == [
        "hid1:out",
        "hid1:out-prenoise",
        "hid1:pre",
        "hid2:out",
        "hid2:out-prenoise",
        "hid2:pre",
        "in:out",
        "out:out",
        "out:pre",
    ]
    assert not np.allclose(outs["hid1:out"], outs["hid1:out-prenoise"])
    # hid2 is computed from the noisy hid1.
    w, b = _param(net, "hid2.w"), _param(net, "hid2.b")
    pre = outs["hid1:out"].astype("float64").dot(w) + b
    np.testing.assert_allclose(outs["hid2:pre"], pre, **TOL)
    np.testing.assert_allclose(outs["hid2:out-prenoise"], np.maximum(pre, 0), **TOL)


def test_output_noise_and_noise_dict(net, x):
    clean = net.predict(x)
    outs = net.feed_forward(x, noise={"out:out": 0.5})
    np.testing.assert_allclose(outs["out:out-prenoise"], clean, **TOL)
    assert not np.allclose(outs["out:out"], clean)
    assert "hid1:out-prenoise" not in outs


@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
def test_inverted_dropout_statistics(rng, p):
    net = theanets.Regressor([50, 3])
    x = np.abs(_data(rng, 400, 50)) + 1  # no zeros before dropout
    outs = net.feed_forward(x, input_dropout=p)
    assert np.array_equal(outs["in:out-predrop"], x)
    dropped = outs["in:out"]
    zero = dropped == 0
    n = x.size
    assert abs(zero.mean() - p) < 5 * np.sqrt(p * (1 - p) / n)
    # Kept values are scaled by 1 / (1 - p): the expected value is unchanged.
    np.testing.assert_allclose(dropped[~zero], x[~zero] / (1 - p), rtol=1e-6)
    ratio = dropped.astype("float64") / x
    assert abs(ratio.mean() - 1) < 5 * np.sqrt(p / (1 - p) / n)


def test_dropout_dict_and_hidden_dropout(net, x):
    outs = net.feed_forward(x, dropout={"hid2:out": 0.5})
    assert "hid2:out-predrop" in outs and "hid1:out-predrop" not in outs
    outs = net.feed_forward(x, hidden_dropout=0.5)
    for name in ("hid1:out", "hid2:out"):
        before, after = outs[name + "-predrop"], outs[name]
        kept = after != 0
        np.testing.assert_allclose(after[kept], 2 * before[kept], **TOL)


def test_dropout_before_noise_on_the_same_output(rng):
    net = theanets.Regressor([30, 3])
    x = np.abs(_data(rng, 100, 30)) + 1
    outs = net.feed_forward(x, input_dropout=0.5, input_noise=0.01)
    # 'prenoise' holds the dropped-out values: dropout came first.
    dropped = outs["in:out-prenoise"]
    assert np.array_equal(outs["in:out-predrop"], x)
    assert (dropped == 0).mean() > 0.3
    assert np.abs(outs["in:out"] - dropped).max() < 0.1
    assert not np.any(outs["in:out"] == 0)


def _draws(net, x, **kwargs):
    return net.feed_forward(x, **kwargs)["in:out"]


def test_same_seed_same_draws_and_fresh_draws_per_call(rng):
    x = np.abs(_data(rng, 40, 10)) + 1
    for kwargs in (dict(input_noise=0.3), dict(input_dropout=0.5)):
        a, b = theanets.Regressor([10, 3]), theanets.Regressor([10, 3])
        first = _draws(a, x, rng=21, **kwargs)
        assert np.array_equal(first, _draws(b, x, rng=21, **kwargs))
        second = _draws(a, x, rng=21, **kwargs)
        assert not np.array_equal(first, second)  # the compiled function draws afresh
        assert np.array_equal(second, _draws(b, x, rng=21, **kwargs))
        other = _draws(theanets.Regressor([10, 3]), x, rng=22, **kwargs)
        assert not np.array_equal(first, other)
        default = _draws(theanets.Regressor([10, 3]), x, **kwargs)
        assert np.array_equal(default, _draws(theanets.Regressor([10, 3]), x, rng=13, **kwargs))


def test_numpy_random_state_as_rng(rng):
    x = np.abs(_data(rng, 40, 10)) + 1
    a = _draws(theanets.Regressor([10, 3]), x, input_dropout=0.5, rng=np.random.RandomState(5))
    b = _draws(theanets.Regressor([10, 3]), x, input_dropout=0.5, rng=np.random.RandomState(5))
    assert np.array_equal(a, b)
    assert 0.3 < (a == 0).mean() < 0.7
    noisy = _draws(theanets.Regressor([10, 3]), x, input_noise=0.5, rng=np.random.RandomState(5))
    assert 0.4 < np.std(noisy - x) < 0.6


def test_stochastic_regularizers_with_int_and_random_state_directly(rng):
    x = np.abs(_data(rng, 40, 10)) + 1
    for seed in (3, np.random.RandomState(3)):
        reg = regularizers.GaussianNoise("in:out", weight=0.2, rng=seed)
        net = theanets.Regressor([10, 3])
        outputs, updates = net.build_graph([reg])
        assert len(updates) == 1  # the generator state advances on every call
        fn = pytensor.function(net.inputs, outputs["in:out"], updates=updates)
        one, two = fn(x), fn(x)
        assert not np.array_equal(one, two)
        assert 0.15 < np.std(one - x) < 0.25


def test_dropout_and_noise_are_active_in_predict(rng):
    # Issue #100: regularizers passed to predict apply there (MC dropout).
    net = theanets.Regressor([6, 20, 2])
    x = _data(rng, 8, 6)
    clean = net.predict(x)
    np.testing.assert_allclose(net.predict(x), clean, **TOL)
    one = net.predict(x, hidden_dropout=0.5)
    two = net.predict(x, hidden_dropout=0.5)
    assert not np.allclose(one, clean)
    assert not np.allclose(one, two)
    assert not np.allclose(net.predict(x, input_noise=0.5), clean)
    # Averaging many dropout predictions comes near (not equal) to the clean one.
    mean = np.mean([net.predict(x, hidden_dropout=0.5) for _ in range(200)], axis=0)
    assert np.abs(mean - clean).mean() < np.abs(one - clean).mean()
    # Without the keyword the clean graph is used again.
    np.testing.assert_allclose(net.predict(x), clean, **TOL)


def test_classifier_predict_with_dropout(rng):
    net = theanets.Classifier([6, 20, 4])
    x = _data(rng, 30, 6)
    probs = [net.predict_proba(x, hidden_dropout=0.5) for _ in range(2)]
    assert not np.allclose(probs[0], probs[1])
    np.testing.assert_allclose(probs[0].sum(axis=1), 1, rtol=1e-5)


# ----- user regularizers ----------------------------------------------------


def test_user_regularizer_by_keyword_with_weight(rng):
    net = theanets.Regressor([4, 5, 3])
    x, y = _data(rng, 10, 4), _data(rng, 10, 3)
    regs = from_kwargs(net, outputsquare=0.5)
    assert len(regs) == 1 and isinstance(regs[0], OutputSquare)
    assert (regs[0].weight, regs[0].pattern) == (0.5, "out:out")
    plain = pytensor.function(net.variables, net.loss())(x, y)
    fn = pytensor.function(net.variables, net.loss(OutputSquare=0.5))
    square = np.mean(net.predict(x).astype("float64") ** 2)
    assert fn(x, y) == pytest.approx(plain + 0.5 * square, **APPROX)


def test_user_regularizer_by_keyword_with_dict(rng):
    net = theanets.Regressor([4, 5, 3])
    x, y = _data(rng, 10, 4), _data(rng, 10, 3)
    (reg,) = from_kwargs(net, outputsquare=dict(weight=2.0, pattern="hid1:out"))
    assert (reg.weight, reg.pattern) == (2.0, "hid1:out")
    plain = pytensor.function(net.variables, net.loss())(x, y)
    fn = pytensor.function(
        net.variables, net.loss(outputsquare=dict(weight=2.0, pattern="hid1:out"))
    )
    square = np.mean(net.feed_forward(x)["hid1:out"].astype("float64") ** 2)
    assert fn(x, y) == pytest.approx(plain + 2 * square, **APPROX)


def test_user_regularizer_in_training(rng):
    net = theanets.Regressor([4, 5, 3])
    x, y = _data(rng, 32, 4), _data(rng, 32, 3) + 5
    train, _ = net.train([x, y], algo="sgd", learning_rate=0.01, max_updates=1, outputsquare=1.0)
    # 'loss' includes the penalty, 'err' does not.
    assert train["loss"] > train["err"] + 0.01


# ----- fixes over the original ------------------------------------------


def test_each_stochastic_regularizer_draws_its_own_masks():
    net = theanets.Regressor([6, 6])
    x = np.ones((50, 6), "float32")
    outputs = net.feed_forward(x, input_dropout=0.5, output_dropout=0.5)
    in_mask = outputs["in:out"] == 0
    out_mask = outputs["out:out"] == 0
    # The original seeded both from one seed: identical masks.
    assert not np.array_equal(in_mask, out_mask)


def test_input_and_output_levels_of_a_two_layer_network_are_both_kept():
    net = theanets.Regressor([4, 3])
    regs = theanets.regularizers.from_kwargs(net, input_dropout=0.5, output_dropout=0)
    assert [(type(r).__name__, r.pattern, r.weight) for r in regs] == [
        ("BernoulliDropout", ("in:out",), 0.5)
    ]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(hidden_dropout=1.0), r"BernoulliDropout .* probability in \[0, 1\), not 1.0"),
        (dict(input_dropout=-0.1), r"BernoulliDropout .* probability in \[0, 1\), not -0.1"),
        (dict(hidden_noise=-1), r"GaussianNoise .* at least 0, not -1"),
        (dict(weight_l2="x"), r"WeightL2: weight must be a finite number, not 'x'"),
        (dict(hidden_l1=float("nan")), r"HiddenL1: weight must be a finite number, not nan"),
    ],
)
def test_bad_regularizer_levels_raise_configuration_errors(kwargs, message):
    net = theanets.Regressor([4, 5, 3])
    with pytest.raises(theanets.util.ConfigurationError, match=message):
        theanets.regularizers.from_kwargs(net, **kwargs)


# ----- the contract every registered regularizer meets ----------------------

#: The family's abstract bases: registered (for now) but not usable by name.
ABSTRACT_REGULARIZERS = {theanets.Regularizer, regularizers._Stochastic}


def _ff():
    rng = np.random.RandomState(3)
    return theanets.Regressor([4, 5, 3]), [_data(rng, 6, 4), _data(rng, 6, 3)]


def _rnn():
    rng = np.random.RandomState(3)
    net = theanets.recurrent.Regressor([4, dict(form="rnn", size=5), 3])
    return net, [_data(rng, 2, 6, 4), _data(rng, 2, 6, 3)]


#: One case per concrete regularizer class: a model and data, and the
#: keyword arguments of train/loss that select it.
REGULARIZER_CASES = {
    "weightl2": (_ff, dict(weight_l2=0.1)),
    "weightl1": (_ff, dict(weight_l1=0.1)),
    "hiddenl1": (_ff, dict(hidden_l1=0.1)),
    "contractive": (_ff, dict(contractive=0.1)),
    "recurrentnorm": (_rnn, dict(recurrent_norm=dict(pattern="hid1:out", weight=0.1))),
    "recurrentstate": (_rnn, dict(recurrent_state=dict(pattern="hid1:out", weight=0.1))),
    "gaussiannoise": (_ff, dict(hidden_noise=0.5)),
    "bernoullidropout": (_ff, dict(hidden_dropout=0.5)),
}


def _concrete_regularizers():
    return sorted(
        {
            cls
            for cls in theanets.Regularizer._registry.values()
            if cls.__module__.startswith("theanets.") and cls not in ABSTRACT_REGULARIZERS
        },
        key=lambda cls: cls.__name__,
    )


def check_regularizer(cls, build, kwargs):
    """Select the regularizer by keyword; check the loss, its gradient and the graph."""
    net, data = build()
    regs = from_kwargs(net, **kwargs)
    assert [type(r) for r in regs] == [cls]
    reg = regs[0]
    assert theanets.Regularizer.get_class(type(reg).__name__.lower()) is cls
    plain = pytensor.function(net.variables, net.loss())(*data)
    expr = net.loss(**kwargs)
    value = pytensor.function(net.variables, expr)(*data)
    assert np.isfinite(value) and value != plain, (plain, value)
    grads = pytensor.function(net.variables, TT.grad(expr, net.params))(*data)
    assert all(np.all(np.isfinite(g)) for g in grads)
    outputs, _ = net.build_graph(regs)
    if isinstance(reg, regularizers._Stochastic):
        # outputs change at random; the unchanged values stay available
        assert reg.weight > 0 and reg.loss(net.layers, outputs) == 0
        before = net.feed_forward(data[0])
        after = net.feed_forward(data[0], **kwargs)
        kept = [k for k in after if k.endswith(reg.SUFFIX)]
        assert kept, sorted(after)
        for key in kept:
            np.testing.assert_allclose(after[key], before[key[: -len(reg.SUFFIX)]], **TOL)
            assert not np.allclose(after[key[: -len(reg.SUFFIX)]], after[key])
    else:
        penalty = pytensor.function(
            net.inputs, reg.loss(net.layers, outputs), on_unused_input="ignore"
        )(data[0])
        assert value == pytest.approx(plain + reg.weight * penalty, **APPROX)


@pytest.mark.parametrize("cls", _concrete_regularizers(), ids=lambda cls: cls.__name__)
def test_every_registered_regularizer(cls):
    key = cls.__name__.lower()
    assert key in REGULARIZER_CASES, (
        "regularizer {} is registered but has no entry in REGULARIZER_CASES of "
        "tests/test_regularizers.py; add one".format(cls.__name__)
    )
    check_regularizer(cls, *REGULARIZER_CASES[key])


def test_regularizer_cases_are_registered():
    assert set(REGULARIZER_CASES) <= set(theanets.Regularizer._registry)
