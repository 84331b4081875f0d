"""Stateful prediction of recurrent models: predict(x, state=..., return_state=True)."""

import numpy as np
import pytest

import theanets
from theanets import util
from theanets.recurrent import State

# Every recurrent form (and rate variant) that can carry its state.
FORMS = {
    "rnn": dict(form="rnn", activation="tanh"),
    "bcrnn": dict(form="bcrnn", num_modules=2, activation="tanh"),
    "rrnn-matrix": dict(form="rrnn", rate="matrix", activation="tanh"),
    "rrnn-vector": dict(form="rrnn", rate="vector", activation="tanh"),
    "rrnn-uniform": dict(form="rrnn", rate="uniform", activation="tanh"),
    "rrnn-log": dict(form="rrnn", rate="log", activation="tanh"),
    "mrnn": dict(form="mrnn", activation="tanh"),
    "lstm": dict(form="lstm"),
    "gru": dict(form="gru", activation="tanh"),
    "clockwork": dict(form="clockwork", periods=(1, 2, 3), activation="tanh"),
    "mut1": dict(form="mut1"),
    "scrn-vector": dict(form="scrn", rate="vector", activation="tanh"),
    "scrn-uniform": dict(form="scrn", rate="uniform", activation="tanh"),
}

BATCH, TIME, NIN = 3, 11, 2


def _model(spec, cls=theanets.recurrent.Regressor, nout=2, size=6):
    np.random.seed(0)  # fixed rates come from the global random state
    return cls([NIN, dict(spec, size=size), nout])


def _data(batch=BATCH, time=TIME):
    return np.random.RandomState(5).randn(batch, time, NIN).astype("float32")


def _chunked(net, x, bounds, method="feed_forward"):
    state, parts = None, []
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        out, state = getattr(net, method)(x[:, lo:hi], state=state, return_state=True)
        parts.append(out)
    return parts, state


@pytest.mark.parametrize("key", sorted(FORMS))
def test_chunked_prediction_equals_whole_sequence(key):
    net = _model(FORMS[key])
    x = _data()
    whole = net.feed_forward(x)
    bounds = [0, 4, 5, 9, TIME]  # chunks of 4, 1, 4, 2 steps: not aligned to the periods
    parts, state = _chunked(net, x, bounds)
    assert isinstance(state, State)
    compared = 0
    for name, value in whole.items():
        if value.ndim == 3 and value.shape[:2] == (BATCH, TIME):  # batch-major
            got = np.concatenate([p[name] for p in parts], axis=1)
        elif value.ndim == 3 and value.shape[:2] == (TIME, BATCH):  # time-major (rate, factors)
            got = np.concatenate([p[name] for p in parts], axis=0)
        else:
            continue
        np.testing.assert_allclose(got, value, rtol=1e-5, atol=1e-6, err_msg=name)
        compared += 1
    assert compared >= 3  # input, the recurrent layer's outputs, the output layer
    # predict continues the same way
    ys, _ = _chunked(net, x, bounds, method="predict")
    np.testing.assert_allclose(np.concatenate(ys, axis=1), net.predict(x), rtol=1e-5, atol=1e-6)


def test_lstm_cell_and_final_state_match_the_last_step():
    net = _model(FORMS["lstm"])
    x = _data()
    outputs, state = net.feed_forward(x, return_state=True)
    assert sorted(state) == ["hid1.c", "hid1.h"]
    np.testing.assert_allclose(state["hid1.h"], outputs["hid1:out"][:, -1], rtol=1e-6)
    np.testing.assert_allclose(state["hid1.c"], outputs["hid1:cell"][:, -1], rtol=1e-6)


def test_clockwork_counter_continues():
    net = _model(FORMS["clockwork"])
    _, state = net.feed_forward(_data(time=5), return_state=True)
    assert sorted(state) == ["hid1.h", "hid1.p", "hid1.t"]
    assert state["hid1.t"].tolist() == [5] * BATCH
    _, state = net.feed_forward(_data(time=3), state=state, return_state=True)
    assert state["hid1.t"].tolist() == [8] * BATCH


def test_classifier_stateful_methods():
    net = _model(FORMS["gru"], cls=theanets.recurrent.Classifier, nout=4)
    x = _data()
    bounds = [0, 6, TIME]
    for method in ("predict", "predict_proba", "predict_logit"):
        parts, _ = _chunked(net, x, bounds, method=method)
        np.testing.assert_allclose(
            np.concatenate(parts, axis=1),
            getattr(net, method)(x),
            rtol=1e-5,
            atol=1e-6,
            err_msg=method,
        )
    # state without return_state gives the outputs alone
    _, state = net.predict_proba(x[:, :6], return_state=True)
    proba = net.predict_proba(x[:, 6:], state=state)
    np.testing.assert_allclose(proba, net.predict_proba(x)[:, 6:], rtol=1e-5, atol=1e-6)


def test_autoencoder_stateful_predict():
    np.random.seed(0)
    net = theanets.recurrent.Autoencoder([NIN, (5, "rnn", "tanh"), NIN])
    x = _data()
    parts, _ = _chunked(net, x, [0, 3, TIME], method="predict")
    np.testing.assert_allclose(np.concatenate(parts, axis=1), net.predict(x), rtol=1e-5, atol=1e-6)


def test_state_none_with_return_state_starts_from_the_usual_state():
    net = _model(FORMS["rnn"])
    x = _data()
    y, state = net.predict(x, return_state=True)
    np.testing.assert_allclose(y, net.predict(x), rtol=1e-6)
    np.testing.assert_allclose(state["hid1.h"], net.feed_forward(x)["hid1:out"][:, -1], rtol=1e-6)


def test_named_initial_state_input_is_the_usual_state():
    net = theanets.recurrent.Regressor(
        [
            dict(form="input", name="h0", ndim=2, size=4),
            dict(form="input", name="in", size=3),
            dict(form="rnn", size=4, h_0="h0", name="rnn"),
            2,
        ]
    )
    # two inputs: predict refuses, as before, with and without state
    with pytest.raises(util.DataError, match="takes one input array"):
        net.predict(np.zeros((2, 3, 3), "float32"), return_state=True)


def test_functions_are_compiled_once_per_configuration():
    net = _model(FORMS["rnn"])
    x = _data()
    _, state = net.predict(x, return_state=True)
    net.predict(x, state=state, return_state=True)
    net.predict(x, state=state)
    net.predict(x, return_state=True)
    assert len(net._stateful_cache) == 2  # from the usual state, from a given state
    net.predict(x, state=state, hidden_noise=0.1)
    assert len(net._stateful_cache) == 3


def test_calls_without_state_are_unchanged():
    net = _model(FORMS["lstm"])
    x = _data()
    before = net.feed_forward(x)
    net.predict(x, return_state=True)
    after = net.feed_forward(x)
    assert sorted(before) == sorted(after)
    for name in before:
        np.testing.assert_array_equal(before[name], after[name])


def test_batch_size_one_predicts_for_every_form():
    for key in sorted(FORMS):
        net = _model(FORMS[key])
        x = _data(batch=1)
        y = net.predict(x)
        assert y.shape == (1, TIME, 2), key
        (a, state), b = net.predict(x[:, :4], return_state=True), net.predict(x[:, 4:])
        assert state["hid1.h"].shape == (1, 6), key
        np.testing.assert_allclose(a, y[:, :4], rtol=1e-5, atol=1e-6, err_msg=key)
        np.testing.assert_allclose(
            net.predict(x[:, 4:], state=state), y[:, 4:], rtol=1e-5, atol=1e-6, err_msg=key
        )
        assert b.shape == (1, TIME - 4, 2)


# ----- errors -------------------------------------------------------------


def test_bidirectional_refuses_state():
    net = theanets.recurrent.Regressor([NIN, dict(form="bidirectional", size=4), 2])
    x = _data()
    with pytest.raises(
        util.ConfigurationError,
        match=r"layer 'hid1' \(Bidirectional\): a bidirectional layer cannot "
        r"carry its state .* backward half",
    ):
        net.predict(x, return_state=True)
    net.predict(x)  # without the keywords, as before


def test_backward_layer_refuses_state():
    net = theanets.recurrent.Regressor([NIN, dict(form="rnn", size=4, direction="backward"), 2])
    with pytest.raises(
        util.ConfigurationError,
        match=r"layer 'hid1' \(RNN\): a layer running backwards in time "
        r"\(direction='backward'\) cannot carry its state",
    ):
        net.predict(_data(), return_state=True)


def test_state_from_another_model_is_refused():
    a, b = _model(FORMS["rnn"]), _model(FORMS["rnn"])
    x = _data()
    _, state = a.predict(x, return_state=True)
    with pytest.raises(util.DataError, match="this state was returned by another model"):
        b.predict(x, state=state)
    # the values themselves may be moved on purpose
    b.predict(x, state=dict(state))


def test_state_for_another_batch_size_is_refused():
    net = _model(FORMS["lstm"])
    _, state = net.predict(_data(batch=3), return_state=True)
    with pytest.raises(
        util.DataError,
        match=r"Regressor.feed_forward: state 'hid1.h' of layer 'hid1' \(LSTM\) "
        r"has shape \(3, 6\), but a batch of 2 needs \(2, 6\)",
    ):
        net.predict(_data(batch=2), state=state)


def test_state_for_another_width_is_refused():
    small, big = _model(FORMS["gru"], size=4), _model(FORMS["gru"], size=6)
    _, state = small.predict(_data(), return_state=True)
    with pytest.raises(
        util.DataError,
        match=r"state 'hid1.h' of layer 'hid1' \(GRU\) has shape \(3, 4\), "
        r"but a batch of 3 needs \(3, 6\)",
    ):
        big.predict(_data(), state=dict(state))


def test_state_with_other_names_is_refused():
    lstm = _model(FORMS["lstm"])
    _, state = _model(FORMS["gru"]).predict(_data(), return_state=True)
    with pytest.raises(
        util.DataError,
        match=r"the state does not fit this model: it needs the states "
        r"\['hid1.h', 'hid1.c'\]; missing \['hid1.c'\]",
    ):
        lstm.predict(_data(), state=dict(state))
    with pytest.raises(util.DataError, match=r"\['other.h'\] are not states of its layers"):
        lstm.predict(
            _data(), state=dict(state, **{"hid1.c": state["hid1.h"], "other.h": state["hid1.h"]})
        )


def test_state_of_the_wrong_type_is_refused():
    net = _model(FORMS["rnn"])
    with pytest.raises(
        util.DataError,
        match=r"state must be what an earlier call with "
        r"return_state=True returned .* not list",
    ):
        net.predict(_data(), state=[np.zeros((3, 6))])
    with pytest.raises(
        util.DataError,
        match=r"state 'hid1.h' of layer 'hid1' \(RNN\) must "
        r"hold numbers, not <U1",
    ):
        net.predict(_data(), state={"hid1.h": np.full((3, 6), "a")})


# ----- predict_sequence on the stateful step -----------------------------


def _prefix_sampler(net, labels, steps, streams, seed, temperature=1):
    """The same draws as predict_sequence(stateful=True), re-running the whole prefix."""
    rng = np.random.RandomState(seed)
    width = net.layers[0].output_size
    seqs = [list(labels) for _ in range(streams)]
    result = []
    for _ in range(steps):
        x = np.zeros((streams, len(seqs[0]), width), "float32")
        for i, seq in enumerate(seqs):
            x[i, np.arange(len(seq)), seq] = 1
        chosen = []
        for pdf in net.predict_proba(x)[:, -1]:
            pdf = pdf.astype("float64") ** (1 / temperature)
            chosen.append(int(rng.multinomial(1, pdf / pdf.sum()).argmax()))
        for seq, c in zip(seqs, chosen, strict=True):
            seq.append(c)
        result.append(chosen[0] if streams == 1 else chosen)
    return result


@pytest.mark.parametrize("streams,temperature", [(1, 1), (3, 1), (2, 0.5)])
def test_stateful_predict_sequence_equals_rerunning_the_prefix(streams, temperature):
    net = theanets.recurrent.Classifier([5, (8, "lstm"), 5])
    got = list(
        net.predict_sequence(
            [1, 3, 2], 6, streams=streams, rng=4, stateful=True, temperature=temperature
        )
    )
    assert got == _prefix_sampler(net, [1, 3, 2], 6, streams, 4, temperature)


def test_stateful_predict_sequence_without_seed_and_errors():
    net = theanets.recurrent.Classifier([4, (6, "rnn", "tanh"), 4])
    assert len(list(net.predict_sequence([], 3, rng=0, stateful=True))) == 3
    with pytest.raises(util.DataError, match=r"seed labels must be in \[0, 4\), not \[7\]"):
        list(net.predict_sequence([1, 7], 3, stateful=True))
    with pytest.raises(util.ConfigurationError, match="temperature must be a positive number"):
        list(net.predict_sequence([1], 3, temperature=0))
    with pytest.raises(util.ConfigurationError, match="streams must be a positive whole number"):
        list(net.predict_sequence([1], 3, streams=0, stateful=True))


def test_default_predict_sequence_keeps_the_original_draws():
    # the reference replay checks the numbers; here: temperature 1 changes nothing
    net = theanets.recurrent.Classifier([5, (8, "rnn"), 5])
    assert list(net.predict_sequence([0, 1, 2], 4, rng=13)) == list(
        net.predict_sequence([0, 1, 2], 4, rng=13, temperature=1)
    )


# ----- batch size 1 (upstream issue #40) ------------------------------------


@pytest.mark.parametrize("key", sorted(FORMS) + ["bidirectional"])
def test_batch_size_one_trains_and_predicts(key):
    spec = FORMS.get(key, dict(form="bidirectional", worker="lstm"))
    net = _model(spec)
    x = _data(batch=4)
    y = np.cumsum(x, axis=1).astype("float32")
    train, valid = net.train([x, y], algo="sgd", learning_rate=0.01, batch_size=1, max_updates=1)
    assert np.isfinite(train["loss"]) and np.isfinite(valid["loss"])
    one = net.predict(x[:1])
    assert one.shape == (1, TIME, 2)
    # one sequence alone gives what it gives within a batch
    np.testing.assert_allclose(one, net.predict(x)[:1], rtol=1e-5, atol=1e-6)


def test_batch_size_one_classifier_from_batches():
    clf = _model(FORMS["gru"], cls=theanets.recurrent.Classifier, nout=3)
    x = _data(batch=1)[0]
    labels = np.random.RandomState(2).randint(3, size=(TIME, 1)).astype("int32")
    sample_x, sample_y = theanets.recurrent.batches([x, labels], steps=5, batch_size=1, rng=1)()
    train, _ = clf.train(
        [sample_x, sample_y[:, :, 0]], algo="sgd", learning_rate=0.01, batch_size=1, max_updates=1
    )
    assert np.isfinite(train["loss"])
    assert clf.predict(sample_x).shape == (1, 5)
