"""Training recurrent models with carried state (truncated BPTT): carry_state=..."""

import numpy as np
import pytest

import theanets
from theanets import util
from theanets.recurrent import StreamBatches, Text, stream_batches

STREAMS, TIME, STEPS, NIN = 2, 12, 4, 2


def _data():
    rng = np.random.RandomState(3)
    x = rng.randn(STREAMS, TIME, NIN).astype("float32")
    y = np.cumsum(x, axis=1)[:, :, :1].astype("float32")  # needs memory across batches
    return x, y


def _model(form="lstm", **kwargs):
    return theanets.recurrent.Regressor([NIN, dict(form=form, size=5, **kwargs), 1])


def _mse_of_chunks(net, x, y, carry):
    """Mean over the batches of a pass of the mse of each batch."""
    losses, state = [], None
    for lo in range(0, TIME, STEPS):
        if carry:
            yhat, state = net.predict(x[:, lo : lo + STEPS], state=state, return_state=True)
        else:
            yhat = net.predict(x[:, lo : lo + STEPS])
        losses.append(((yhat - y[:, lo : lo + STEPS]) ** 2).mean())
    return np.mean(losses)


@pytest.mark.parametrize("carry", [True, False])
def test_batches_start_from_the_carried_state(carry):
    """With a zero learning rate the training loss of every pass is the loss of
    chunked stateful prediction: each pass starts from the initial state, each
    batch of a pass from where the previous one ended."""
    net = _model()
    x, y = _data()
    feed = stream_batches([x, y], steps=STEPS)
    expected = _mse_of_chunks(net, x, y, carry)
    other = _mse_of_chunks(net, x, y, not carry)
    assert abs(expected - other) > 1e-4  # the carried state matters here
    seen = [
        t["loss"]
        for t, _ in net.itertrain(
            feed, algo="sgd", learning_rate=0, max_updates=3, carry_state=carry
        )
    ]
    np.testing.assert_allclose(seen, [expected] * 3, rtol=1e-5)


@pytest.mark.parametrize(
    "spec",
    [
        dict(form="clockwork", periods=(1, 3, 2, 4, 5)),
        dict(form="bcrnn", num_modules=5),
        dict(form="scrn"),
    ],
)
def test_carried_state_for_layers_with_more_states(spec):
    net = _model(activation="tanh", **spec)
    x, y = _data()
    expected = _mse_of_chunks(net, x, y, True)
    train, _ = net.train(
        stream_batches([x, y], steps=STEPS),
        algo="sgd",
        learning_rate=0,
        max_updates=1,
        carry_state=True,
    )
    np.testing.assert_allclose(train["loss"], expected, rtol=1e-5)


def test_training_with_and_without_carry_on_one_model():
    """Each call of train builds the step it needs (no step is reused across calls)."""
    net = _model("rnn", activation="tanh")
    x, y = _data()
    for carry in (False, True, False):
        train, _ = net.train(
            stream_batches([x, y], steps=STEPS),
            algo="sgd",
            learning_rate=0,
            max_updates=1,
            carry_state=carry,
        )
        np.testing.assert_allclose(
            train["loss"], _mse_of_chunks(net, x, y, carry), rtol=1e-5, err_msg=str(carry)
        )


def test_first_batch_of_each_pass_starts_from_the_initial_state():
    net = _model("gru")
    x, y = _data()
    feed = stream_batches([x, y], steps=STEPS)
    log = []

    class Watch:
        def __len__(self):
            return len(feed)

        def __call__(self):
            carried = net._carrier.shared["hid1.h"].get_value()
            log.append((feed.position, carried.shape[0]))
            return feed()

    net.train(Watch(), feed.copy(), algo="sgd", learning_rate=0.01, max_updates=2, carry_state=True)
    # position 0: nothing carried yet (0 rows: the usual initial state is used)
    assert log == [(0, 0), (1, STREAMS), (2, STREAMS)] * 2


def test_validation_carries_a_state_of_its_own():
    net = _model("rnn", activation="tanh")
    x, y = _data()
    feed = stream_batches([x, y], steps=STEPS)
    expected = _mse_of_chunks(net, x, y, True)
    _, valid = net.train(feed, algo="sgd", learning_rate=0, max_updates=2, carry_state=True)
    np.testing.assert_allclose(valid["loss"], expected, rtol=1e-5)


def test_carried_training_learns_and_leaves_prediction_alone():
    net = _model("lstm")
    x, y = _data()
    feed = stream_batches([x, y], steps=STEPS)
    before = _mse_of_chunks(net, x, y, True)
    net.train(feed, algo="adam", learning_rate=0.05, max_updates=30, carry_state=True)
    assert _mse_of_chunks(net, x, y, True) < before
    # prediction afterwards uses no carried state
    np.testing.assert_allclose(net.predict(x[:, :3]), net.predict(x)[:, :3], rtol=1e-5, atol=1e-6)
    assert "_carrier" not in net.__dict__


@pytest.mark.parametrize(
    "option,rows",
    [
        (1, [0] * 6),  # reset before every batch
        ("never", [0] + [STREAMS] * 5),
        ("epoch", [0, STREAMS, STREAMS] * 2),  # a callable without len: iteration_size=3
    ],
)
def test_reset_every_n_batches_and_never(option, rows):
    x, y = _data()
    net = _model("rnn", activation="tanh")
    feed = stream_batches([x, y], steps=STEPS)
    seen = []

    def watch():  # sees the state the batch starts from
        seen.append(net._carrier.shared["hid1.h"].get_value().shape[0])
        return feed()

    net.train(
        watch,
        feed.copy(),
        algo="sgd",
        learning_rate=0,
        max_updates=2,
        iteration_size=3,
        carry_state=option,
    )
    assert seen == rows


def test_classifier_on_text_streams():
    text = Text("the cat sat on the mat. " * 6)
    feed = text.classifier_streams(steps=5, streams=3)
    assert isinstance(feed, StreamBatches) and feed.streams == 3
    net = theanets.recurrent.Classifier(
        [1 + len(text.alpha), (8, "gru", "tanh"), 1 + len(text.alpha)]
    )
    train, valid = net.train(feed, algo="adam", learning_rate=0.02, max_updates=3, carry_state=True)
    assert np.isfinite(train["loss"]) and "acc" in train


def test_one_stream_trains():
    x, y = _data()
    net = _model("mut1")
    feed = stream_batches([x[0].reshape(-1, NIN), y[0].reshape(-1, 1)], steps=STEPS, streams=1)
    assert feed.streams == 1
    train, _ = net.train(feed, algo="sgd", learning_rate=0.01, max_updates=2, carry_state=True)
    assert np.isfinite(train["loss"])


def test_train_options_name_carry_state():
    for cls in (
        theanets.recurrent.Regressor,
        theanets.recurrent.Classifier,
        theanets.recurrent.Autoencoder,
    ):
        default, text = cls.TRAIN_OPTIONS["carry_state"]
        assert default is False and "stream" in text


# ----- errors -------------------------------------------------------------


def test_arrays_are_refused_with_carried_state():
    x, y = _data()
    with pytest.raises(
        util.DataError,
        match=r"carry_state: the train data must come in "
        r"stream order.*stream_batches.*not list",
    ):
        _model().train([x, y], carry_state=True)


@pytest.mark.parametrize("value", ["sometimes", 0, -2, 1.5])
def test_bad_carry_state_values(value):
    x, y = _data()
    with pytest.raises(
        util.ConfigurationError,
        match=r"carry_state must be False, True, "
        r'"epoch", "never" or a positive number',
    ):
        _model().train(stream_batches([x, y], steps=4), carry_state=value)


def test_pretrainers_refuse_carried_state():
    x, y = _data()
    with pytest.raises(
        util.ConfigurationError,
        match=r"carry_state works with the optimizers "
        r"\(.*adam.*\), not algo='layerwise'",
    ):
        _model().train(stream_batches([x, y], steps=4), algo="layerwise", carry_state=True)


def test_bidirectional_refuses_carried_state():
    x, y = _data()
    net = theanets.recurrent.Regressor([NIN, dict(form="bidirectional", size=4), 1])
    with pytest.raises(util.ConfigurationError, match="a bidirectional layer cannot carry"):
        net.train(stream_batches([x, y], steps=4), carry_state=True)


@pytest.mark.parametrize(
    "args,kwargs,error,pattern",
    [
        (
            (np.zeros(5), 2),
            {},
            util.DataError,
            r"arrays must be a non-empty list of arrays, "
            r"not ndarray",
        ),
        (
            ([np.zeros((5, 2))], 0),
            dict(streams=1),
            util.ConfigurationError,
            r"steps must be a positive whole number, not 0",
        ),
        (
            ([np.zeros((5, 2))], 2),
            dict(streams=0),
            util.ConfigurationError,
            r"streams must be a positive whole number, not 0",
        ),
        (
            ([np.zeros((5, 2)), np.zeros(4)], 2),
            dict(streams=1),
            util.DataError,
            r"arrays must have the same number of time steps, but have \[5, 4\]",
        ),
        (
            ([np.zeros((3, 2))], 2),
            dict(streams=4),
            util.DataError,
            r"3 time steps cannot make 4 streams",
        ),
        (
            ([np.zeros((3, 5, 2)), np.zeros((3, 4))], 2),
            {},
            util.DataError,
            r"each array must hold \(streams, time, ...\)",
        ),
    ],
)
def test_stream_batches_bad_input(args, kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        stream_batches(*args, **kwargs)


def test_stream_batches_cover_the_streams_in_order():
    x = np.arange(30, dtype="float32").reshape(15, 2)
    labels = np.arange(15)
    feed = stream_batches([x, labels], steps=3, streams=2)  # 7 steps per stream, 1 dropped
    assert len(feed) == 3
    got = [feed() for _ in range(4)]
    assert [b[1].tolist() for b in got[:3]] == [
        [[0, 1, 2], [7, 8, 9]],
        [[3, 4, 5], [10, 11, 12]],
        [[6], [13]],
    ]
    assert got[3][1].tolist() == got[0][1].tolist()  # a new pass
    assert [b[1].shape for b in feed] == [(2, 3), (2, 3), (2, 1)]
