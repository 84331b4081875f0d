"""Tests of the checks at the entry points (issue 15): specs the original
misread get a SpecWarning and still build as they did; input the original
computed garbage with (or failed on deep inside) gets a clear error naming
the layer or input, the expected and the actual."""

import warnings

import numpy as np
import pytensor
import pytest

import theanets
from theanets import checks, layers, options, regularizers, util

FLOAT = pytensor.config.floatX
_rs = np.random.RandomState(3)
X = _rs.randn(12, 3).astype(FLOAT)
Y = _rs.randn(12, 2).astype(FLOAT)
W = np.ones_like(Y)


def _no_warnings(build):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return build()


# ----- unknown layer options: a warning, the layer built as in the original --


def test_unknown_layer_option_warns_and_is_ignored():
    with pytest.warns(
        util.SpecWarning,
        match=r"layer 'hid1' \(Feedforward\): unknown option 'actvation' is "
        r"ignored; perhaps you meant 'activation' \(the options of "
        r"Feedforward are: activation, .*size.*std, and "
        r"<mean\|std\|sparsity\|diagonal\|radius>_<parameter>\)",
    ):
        net = theanets.Regressor([3, dict(size=20, actvation="tanh"), 2])
    assert net.layers[1].activate.name == "relu"  # the original's default
    assert net.layers[1].to_spec()["actvation"] == "tanh"  # kept, as the original kept it


def test_unknown_option_close_to_no_option_is_kept_as_a_note():
    # The original kept every keyword; to_spec returns them (charrnn keeps
    # its alphabet so).
    net = _no_warnings(
        lambda: theanets.Regressor([dict(size=3, alphabet="abc"), dict(size=2, note=[1, 2])])
    )
    assert net.layers[0].to_spec()["alphabet"] == "abc"
    assert net.layers[1].to_spec()["note"] == [1, 2]


def test_unknown_option_of_a_directly_built_layer_warns_when_bound():
    layer = layers.Feedforward(inputs="in", size=4, sise=3, name="l")
    with pytest.warns(
        util.SpecWarning,
        match=r"layer 'l' \(Feedforward\): unknown option "
        r"'sise' is ignored; perhaps you meant 'size'",
    ):
        layer.bind(theanets.Network([3]))
    layer.bind(theanets.Network([3]))  # once per layer


@pytest.mark.parametrize(
    "model, spec",
    [
        (
            theanets.Regressor,
            [
                3,
                dict(
                    size=4,
                    std_w=0.1,
                    mean_b=1,
                    sparsity_w=0.5,
                    std=0.2,
                    mean=0,
                    sparsity=0.1,
                    diagonal=0,
                    radius=0,
                    rng=3,
                    nrng=3,
                    name="h",
                    activation="tanh",
                    form="ff",
                    inputs="in",
                ),
                2,
            ],
        ),
        (theanets.Regressor, [dict(size=3, name="in", form="input", ndim=2, sparse="csr"), 2]),
        (theanets.Regressor, [dict(shape=(3,)), dict(size=2, diagonal_w=1)]),
        (theanets.Autoencoder, [3, 4, dict(form="tied", partner="hid1", size=3)]),
        (
            theanets.recurrent.Regressor,
            [
                3,
                dict(
                    form="rnn",
                    size=4,
                    radius=1.1,
                    std_xh=0.1,
                    diagonal_hh=0.9,
                    direction="backward",
                    bptt_limit=3,
                    h_0=None,
                ),
                2,
            ],
        ),
        (
            theanets.recurrent.Regressor,
            [3, dict(form="lstm", size=4, c_0=None, radius_hh=1.0, sparsity_xh=0.2), 2],
        ),
        (
            theanets.recurrent.Regressor,
            [3, dict(form="bidirectional", worker="lstm", size=4, c_0=None), 2],
        ),
        (
            theanets.recurrent.Regressor,
            [3, dict(form="scrn", size=4, rate="uniform", context_size=2, s_0=None), 2],
        ),
        (theanets.recurrent.Regressor, [3, dict(form="clockwork", size=4, periods=(1, 2)), 2]),
        (theanets.recurrent.Regressor, [3, dict(form="mrnn", size=4, factors=2), 2]),
        (
            theanets.convolution.Regressor,
            [
                (5, 5, 1),
                dict(form="conv2", size=2, filter_size=(2, 2), stride=(1, 1), border_mode="valid"),
                "flat",
                2,
            ],
        ),
    ],
)
def test_options_the_original_honoured_do_not_warn(model, spec):
    _no_warnings(lambda: model(spec))


def test_every_layer_spec_round_trips_without_warnings():
    net = theanets.recurrent.Regressor(
        [
            3,
            dict(form="bidirectional", worker="rrnn", rate="uniform", size=4),
            dict(form="gru", size=3),
            dict(form="lstm", size=2),
        ]
    )
    specs = [layer.to_spec() for layer in net.layers]
    fresh = _no_warnings(lambda: theanets.recurrent.Regressor(specs))
    assert [type(l) for l in fresh.layers] == [type(l) for l in net.layers]


def test_a_user_layer_declares_what_it_reads():
    class Scaled(layers.Feedforward):
        OPTIONS = ("scale",)

        def __init__(self, offset=0, **kwargs):
            super().__init__(**kwargs)

    assert {"scale", "offset", "size", "activation"} <= set(Scaled.option_names())
    _no_warnings(lambda: theanets.Regressor([3, dict(form="scaled", size=4, scale=2, offset=1), 2]))
    with pytest.warns(
        util.SpecWarning,
        match=r"unknown option 'scal' is ignored; perhaps you "
        r"meant 'scale' \(the options of Scaled are: "
        r".*offset",
    ):
        theanets.Regressor([3, dict(form="scaled", size=4, scal=2), 2])


# ----- tuple specs and positional sizes ---------------------------------------


def test_tuple_naming_two_activations_warns_and_keeps_the_last():
    with pytest.warns(
        util.SpecWarning,
        match=r"layer 'hid1': spec \(20, 'tanh', 'relu'\) names two activations, "
        r"'tanh' and 'relu'; only the last, 'relu', is used \(to apply "
        r"both, write 'tanh\+relu'\)",
    ):
        net = theanets.Regressor([3, (20, "tanh", "relu"), 2])
    assert net.layers[1].activate.name == "relu"


def test_tuple_naming_two_forms_warns_and_keeps_the_last():
    with pytest.warns(
        util.SpecWarning,
        match=r"layer 'out': spec \(3, 'ff', 'tied'\) names two forms, 'ff' and "
        r"'tied'; only the last, 'tied', is used$",
    ):
        net = theanets.Autoencoder([3, 4, (3, "ff", "tied")])
    assert isinstance(net.layers[2], layers.Tied)


# ----- tied layers ----------------------------------------------------------


def test_tied_size_that_disagrees_with_its_partner_warns():
    with pytest.warns(
        util.SpecWarning,
        match=r"layer 'out' \(Tied\): size=4 is ignored: a tied layer outputs the "
        r"shape \(3,\) of input 'in:out' of its partner 'hid1' \(give "
        r"size=3 or leave it out\)",
    ):
        net = theanets.Autoencoder([3, 5, (4, "tied")])
    assert net.layers[-1].output_shape == (3,)  # as in the original
    with pytest.warns(
        util.SpecWarning,
        match=r"shape=\(7,\) is ignored: .* \(give "
        r"shape=\(3,\) or leave it out\)",
    ):
        theanets.Autoencoder([3, 5, dict(form="tied", shape=(7,))])
    _no_warnings(lambda: theanets.Autoencoder([3, 5, (3, "tied")]))


# ----- layer names ----------------------------------------------------------


@pytest.mark.parametrize("name, bad", [("hid:1", "':'"), ("a\0b", r"'\\x00'")])
def test_layer_names_without_colon_or_nul(name, bad):
    with pytest.raises(
        util.ConfigurationError, match=r"layer '.*': a layer name may not contain " + bad
    ):
        theanets.Regressor([3, dict(size=4, name=name), 2])


def test_layer_names_may_hold_dots():
    net = theanets.Regressor([3, dict(size=4, name="enc.1"), 2])
    assert [p.name for p in net.params][:2] == ["enc.1.w", "enc.1.b"]
    assert net.predict(X).shape == (12, 2)


# ----- rng ------------------------------------------------------------------


@pytest.mark.parametrize(
    "rng, hint",
    [
        (-1, r"-1 \(int seeds are 0 to 2\*\*32 - 1\)"),
        (2**32, r"4294967296 \(int seeds are 0 to 2\*\*32 - 1\)"),
        ("seed", "'seed'"),
        (1.5, "1.5"),
        (
            np.random.default_rng(0),
            r"Generator.*\(a numpy Generator draws other numbers: pass "
            r"np\.random\.RandomState\(seed\)\)",
        ),
    ],
)
def test_network_rng(rng, hint):
    with pytest.raises(
        util.ConfigurationError,
        match=r"^Regressor: rng must be None, an int seed or a numpy "
        r"RandomState, not " + hint,
    ):
        theanets.Regressor([3, 2], rng=rng)
    with pytest.raises(
        util.ConfigurationError,
        match=r"^Regressor: rng must be None, an int seed or a numpy "
        r"RandomState, not " + hint,
    ):
        theanets.Regressor([], rng=rng)  # checked even with no layer to use it


def test_good_rngs():
    for rng in (0, 2**32 - 1, np.int64(5), None, np.random.RandomState(2)):
        assert theanets.Regressor([3, 2], rng=rng).predict(X).shape == (12, 2)


def test_train_rng():
    net = theanets.Regressor([3, 2])
    with pytest.raises(
        util.ConfigurationError,
        match=r"^Regressor\.train: rng must be None, an int seed or a numpy "
        r"RandomState, not -3 \(int seeds",
    ):
        net.train([X, Y], rng=-3, max_updates=1)
    with pytest.raises(
        util.ConfigurationError,
        match=r"^Regressor\.train: rng must be None.*"
        r"not 'x'",
    ):
        next(iter(net.itertrain([X, Y], rng="x")))


def test_predict_rng():
    net = theanets.Regressor([3, 4, 2])
    with pytest.raises(
        util.ConfigurationError,
        match=r"^rng must be None, an int seed or a numpy RandomState, not "
        r"-5 \(int seeds",
    ):
        net.predict(X, rng=-5, hidden_dropout=0.5)


# ----- training options -----------------------------------------------------


@pytest.mark.parametrize(
    "value, pattern",
    [
        (
            5,
            r"Regressor\.train: regularizers=5 is not allowed: expected None, a dict of "
            r"regularizer options \(e\.g\. \{'weight_l2': 1e-4\}\) or a list of Regularizer "
            r"instances",
        ),
        (
            ["weight_l2"],
            r"Regressor\.train: regularizers holds 'weight_l2', which is not a "
            r"Regularizer: expected .*\(build one with "
            r"theanets\.Regularizer\.build\('weight_l2', \.\.\.\)\)",
        ),
    ],
)
def test_regularizers_option(value, pattern):
    net = theanets.Regressor([3, 2])
    with pytest.raises(util.ConfigurationError, match=pattern):
        net.train([X, Y], regularizers=value, max_updates=1)
    with pytest.raises(
        util.ConfigurationError, match=pattern.replace(r"Regressor\.train", r"regularizers")
    ):
        net.predict(X, regularizers=value)


def test_good_regularizers_options():
    net = theanets.Regressor([3, 4, 2])
    reg = theanets.Regularizer.build("weight_l2", weight=0.1)
    assert regularizers.from_kwargs(net, regularizers=[reg]) == [reg]
    assert [
        type(r).__name__ for r in regularizers.from_kwargs(net, regularizers=dict(hidden_l1=0.1))
    ] == ["HiddenL1"]
    assert regularizers.from_kwargs(net, regularizers=None) == []
    options.check_values(net, dict(regularizers=None, rng=None), save_every=1.5)


def test_monitors_given_a_function():
    net = theanets.Regressor([3, 4, 2])
    with pytest.raises(
        util.ConfigurationError,
        match=r"^monitors must be a dict of output or parameter glob patterns -> "
        r"levels, or a list of \(pattern, levels\) pairs \(e\.g\. "
        r"monitors=\{'hid1:out': \[0\.1, 0\.5\]\}.*\), not <function",
    ):
        net.train([X, Y], monitors=np.mean, max_updates=1)
    with pytest.raises(
        util.ConfigurationError,
        match=r"^monitor levels for 'hid1:out' must be a number, a list of "
        r"numbers or a dict of \{label: callable\}, not <function .*> \(to "
        r"report f\(value\), give \{'label': f\}\)",
    ):
        net.monitors(monitors={"hid1:out": np.mean})
    with pytest.raises(
        util.ConfigurationError,
        match=r"^monitors given as a list must hold \(pattern, levels\) pairs "
        r"\(.*\), not 'hid1:out'",
    ):
        net.monitors(monitors=["hid1:out"])


def test_monitor_naming_nothing_is_logged(caplog):
    net = theanets.Regressor([3, 4, 2])
    with caplog.at_level("WARNING", logger="theanets"):
        names = [n for n, _ in net.monitors(monitors={"hid:out": 0.5})]
    assert names == ["err"]
    assert (
        "Regressor: monitor pattern 'hid:out' matches no output or parameter, so it "
        "reports nothing; perhaps you meant 'hid1:out'" in caplog.text
    )


# ----- data -----------------------------------------------------------------


def _weighted():
    return theanets.Regressor([3, 2], weighted=True)


def test_negative_weights():
    w = W.copy()
    w[2, 1] = -0.5
    w[4, 0] = -2
    with pytest.raises(
        util.DataError,
        match=r"^Regressor\.train \(train data\): weights holds 2 negative "
        r"weight\(s\) \(smallest -2\); weights must be >= 0",
    ):
        _weighted().train([X, Y, w], max_updates=1)
    with pytest.raises(
        util.DataError,
        match=r"^Regressor\.train \(valid data\): weights holds "
        r"2 negative weight",
    ):
        _weighted().train([X, Y, W], [X, Y, w], max_updates=1)
    with pytest.raises(util.DataError, match=r"^Regressor\.score: w holds 2 negative weight"):
        theanets.Regressor([3, 2]).score(X, Y, w)


def test_all_zero_weights():
    with pytest.raises(
        util.DataError,
        match=r"^Regressor\.train \(train data\): weights is all zeros: at least "
        r"one weight must be positive",
    ):
        _weighted().train([X, Y, np.zeros_like(W)], max_updates=1)
    with pytest.raises(util.DataError, match=r"^Classifier\.score: w is all zeros"):
        theanets.Classifier([3, 2]).score(X, np.zeros(12, "int32"), np.zeros(12))
    autoencoder = theanets.Autoencoder([3, 2, 3], weighted=True)
    with pytest.raises(
        util.DataError,
        match=r"^Autoencoder\.train \(train data\): weights is "
        r"all zeros",
    ):
        autoencoder.train([X, np.zeros_like(X)], max_updates=1)


def test_a_mini_batch_with_all_zero_weights_adds_nothing():
    # The original divided 0 by 0 for such a batch and stopped as if diverged
    # (a RuntimeWarning, an error in this suite).
    w = W.copy()
    w[:6] = 0
    net = _weighted()
    loss = net.loss()
    fn = pytensor.function(net.variables, loss)
    assert fn(X[:6], Y[:6], w[:6]) == 0
    assert fn(X, Y, w) > 0
    train, valid = net.train([X, Y, w], batch_size=6, max_updates=3, validate_every=1)
    assert np.isfinite(train["loss"]) and np.isfinite(valid["loss"])


def test_zero_time_steps():
    net = theanets.recurrent.Regressor([3, dict(form="rnn", size=4), 2])
    x = np.zeros((4, 0, 3), FLOAT)
    with pytest.raises(
        util.DataError,
        match=r"^Regressor\.feed_forward: in has no time steps \(shape "
        r"\(4, 0, 3\)\); at least one is needed in a float array of "
        r"shape \(N, \?, 3\)",
    ):
        net.predict(x)
    with pytest.raises(
        util.DataError,
        match=r"^Regressor\.train \(train data\): in has no "
        r"time steps \(shape \(4, 0, 3\)\)",
    ):
        net.train([x, np.zeros((4, 0, 2), FLOAT)], max_updates=1)


# ----- memory ---------------------------------------------------------------


def test_parameter_larger_than_memory(monkeypatch):
    monkeypatch.setattr(util, "MEMORY_LIMIT", 1000)
    with pytest.raises(
        util.AllocationError,
        match=r"^layer 'hid1' \(Feedforward\): parameter 'hid1\.w' of shape "
        r"\(30, 40\) needs 4\.7 KiB of {}, more than "
        r"theanets\.util\.MEMORY_LIMIT \(1000 bytes\); use smaller "
        r"layers$".format(FLOAT)
        if FLOAT == "float32"
        else r"^layer 'hid1' \(Feedforward\): parameter 'hid1\.w'",
    ) as info:
        theanets.Regressor([30, 40, 2])
    assert isinstance(info.value, MemoryError)
    # Layers that draw through util directly get their name put in front.
    with pytest.raises(
        util.AllocationError,
        match=r"^layer 'hid1' \(RNN\): a weight matrix of "
        r"shape \(30, 40\) needs",
    ):
        theanets.recurrent.Regressor([30, dict(form="rnn", size=40), 2])


def test_machine_memory_is_the_default_ceiling():
    limit = util.memory_limit()
    assert limit is None or limit > 2**20
    with pytest.raises(
        util.AllocationError,
        match=r"^layer 'hid1' \(Feedforward\): parameter "
        r"'hid1\.w' of shape \(10000000, 10000000\) "
        r"needs .* GiB of .*, more than this machine "
        r"has",
    ):
        theanets.Regressor([10**7, 10**7, 2])


# ----- parameters are made in floatX, with the original's values --------------


def _original_matrix(rows, cols, mean=0, std=1, sparsity=0, radius=0, diagonal=0, rng=None):
    """The original's recipe: one float64 draw of the whole matrix, then a cast."""
    rng = np.random.RandomState(rng)
    arr = mean + std * rng.randn(rows, cols)
    if 1 > sparsity > 0:
        k = min(rows, cols)
        mask = rng.binomial(n=1, p=1 - sparsity, size=(rows, cols)).astype(bool)
        mask[:k, :k] |= np.eye(k, dtype=bool)
        arr *= mask
    if radius > 0:
        u, s, vT = np.linalg.svd(arr, full_matrices=False)
        arr = np.dot(np.dot(u, np.diag(radius * s / abs(s[0]))), vT)
    if diagonal != 0:
        arr = diagonal * np.eye(max(rows, cols))[:rows, :cols]
    return arr.astype(FLOAT), rng.randn()


@pytest.mark.parametrize("chunk", [7, 1 << 20])
@pytest.mark.parametrize(
    "options",
    [
        dict(),
        dict(mean=0.5, std=0.1),
        dict(sparsity=0.3),
        dict(radius=1.2),
        dict(diagonal=0.9),
        dict(sparsity=0.5, std=np.float32(0.3)),
    ],
)
def test_random_matrix_matches_the_original_draws(monkeypatch, chunk, options):
    monkeypatch.setattr(util, "_CHUNK", chunk)
    expect, after = _original_matrix(9, 5, rng=4, **options)
    rng = np.random.RandomState(4)
    actual = util.random_matrix(9, 5, rng=rng, **options)
    assert actual.dtype == FLOAT
    np.testing.assert_array_equal(actual, expect)
    assert rng.randn() == after  # the stream moved on exactly as the original's


@pytest.mark.parametrize("chunk", [3, 1 << 20])
def test_random_vector_matches_the_original_draws(monkeypatch, chunk):
    monkeypatch.setattr(util, "_CHUNK", chunk)
    expect = (1 + 0.5 * np.random.RandomState(8).randn(11)).astype(FLOAT)
    actual = util.random_vector(11, mean=1, std=0.5, rng=8)
    assert actual.dtype == FLOAT
    np.testing.assert_array_equal(actual, expect)


def test_check_rng_and_layer_name_helpers():
    assert checks.check_rng("rng", 7) == 7
    assert checks.check_layer_name("enc.1") == "enc.1"
    with pytest.raises(util.ConfigurationError, match=r"^layer names must be strings, not 3"):
        checks.check_layer_name(3)
