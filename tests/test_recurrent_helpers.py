"""Tests of the sequence data helpers of theanets.recurrent: batches() and Text."""

import numpy as np
import pytest

import theanets
from theanets import util
from theanets.recurrent import Text, batches

# ----- batches ------------------------------------------------------------


def _series(length=30):
    x = np.arange(length * 2, dtype="float32").reshape(length, 2)
    y = (np.arange(length, dtype="float64") * 10).reshape(length, 1)
    return x, y


def test_batches_shapes_and_dtypes():
    x, y = _series()
    sample = batches([x, y], steps=5, batch_size=4, rng=0)
    assert callable(sample)
    bx, by = sample()
    assert bx.shape == (4, 5, 2) and bx.dtype == np.float32
    assert by.shape == (4, 5, 1) and by.dtype == np.float64


def test_batches_of_one_sequence():
    x, y = _series()
    bx, by = batches([x, y], steps=5, batch_size=1, rng=0)()
    assert bx.shape == (1, 5, 2) and by.shape == (1, 5, 1)


def test_batches_windows_are_contiguous_and_share_offsets():
    x, y = _series()
    bx, by = batches((x, y), steps=6, batch_size=5, rng=3)()
    for i in range(5):
        start = int(bx[i, 0, 0]) // 2
        np.testing.assert_allclose(bx[i], x[start : start + 6])
        np.testing.assert_allclose(by[i], y[start : start + 6])


def test_batches_offsets_follow_rng():
    x, _ = _series()
    got = batches([x], steps=4, batch_size=3, rng=np.random.RandomState(8))()[0]
    ref = np.random.RandomState(8)
    offsets = [ref.randint(30 - 4) for _ in range(3)]
    np.testing.assert_allclose(got, np.stack([x[o : o + 4] for o in offsets]))
    # an int seed gives the same draws; later calls draw new windows
    sample = batches([x], steps=4, batch_size=3, rng=8)
    first, second = sample()[0], sample()[0]
    np.testing.assert_allclose(first, got)
    assert not np.allclose(first, second)


@pytest.mark.parametrize(
    "arrays,pattern",
    [
        (np.zeros((20, 2)), r"batches: arrays must be a non-empty list of arrays, not ndarray"),
        ([], r"batches: arrays must be a non-empty list of arrays, not \[\]"),
        ([np.zeros(20)], r"batches: array 0 must be 2-D \(time, features\), but has shape \(20,\)"),
        (
            [np.zeros((20, 2)), np.zeros((15, 2))],
            r"batches: arrays must have the same number of time steps, but have \[20, 15\]",
        ),
        ([np.zeros((5, 2))], r"batches: arrays have 5 time steps, fewer than steps=5 \+ 1"),
    ],
)
def test_batches_bad_data(arrays, pattern):
    with pytest.raises(util.DataError, match=pattern):
        batches(arrays, steps=5, batch_size=2)


@pytest.mark.parametrize(
    "kwargs,pattern",
    [
        (dict(batch_size=0), r"batches: batch_size must be a positive whole number, not 0"),
        (dict(batch_size=2.5), r"batches: batch_size must be a positive whole number, not 2.5"),
        (dict(steps=0), r"batches: steps must be a positive whole number, not 0"),
        (dict(steps=2.5), r"batches: steps must be a positive whole number, not 2.5"),
    ],
)
def test_batches_bad_options(kwargs, pattern):
    with pytest.raises(util.ConfigurationError, match=pattern):
        batches([np.zeros((20, 2))], **kwargs)


# ----- Text ---------------------------------------------------------------


def test_text_alphabet_and_unknowns():
    t = Text("hello world hello")
    assert t.alpha == " ehlo"
    assert t.text == "hello \0o\0l\0 hello"
    assert t.encode("hole") == [3, 5, 4, 2]
    assert t.encode("hwx") == [3, 0, 0]
    assert t.decode([3, 5, 4, 2, 0]) == "hole\0"
    assert t.decode(t.encode("hello")) == "hello"


def test_text_min_count_and_given_alphabet():
    assert Text("aabbbc", min_count=3).alpha == "b"
    assert Text("aabbbc", min_count=1).alpha == "abc"
    t = Text("abcabc", alpha="ca", unknown="?")
    assert t.alpha == "ca" and t.text == "a?ca?c"
    assert t.encode("abc") == [2, 0, 1]
    assert t.decode([0, 1]) == "?c"


def test_text_unknown_char_is_not_in_alphabet():
    assert Text("aa\0\0bb").alpha == "ab"


def test_classifier_batches():
    t = Text("abcabcabcabcabc", min_count=1)
    sample = t.classifier_batches(steps=4, batch_size=3, rng=1)
    inputs, labels = sample()
    assert inputs.shape == (3, 4, 4) and inputs.dtype == np.float32
    assert labels.shape == (3, 4) and labels.dtype == np.int32
    np.testing.assert_allclose(inputs.sum(axis=-1), 1)
    current = inputs.argmax(axis=-1)
    # each label is the code of the character after the current one
    np.testing.assert_array_equal(labels[:, :-1], current[:, 1:])
    for cur, nxt in zip(current.ravel(), labels.ravel(), strict=True):
        assert t.decode([nxt]) == {"a": "b", "b": "c", "c": "a"}[t.decode([cur])]


def test_classifier_batches_train_a_sequence_model_shape():
    t = Text("abcabcabcabc", min_count=1)
    inputs, labels = t.classifier_batches(steps=3, batch_size=2, rng=0)()
    net = theanets.recurrent.Classifier([1 + len(t.alpha), 5, 1 + len(t.alpha)])
    assert net.predict(inputs).shape == labels.shape
    score = net.score(inputs, labels)
    np.testing.assert_allclose(score, np.mean(net.predict(inputs) == labels))


def test_classifier_batches_bad_options():
    with pytest.raises(
        util.DataError,
        match=r"Text.classifier_batches: the text has 6 characters; steps=5 "
        r"needs at least 7",
    ):
        Text("aabbcc").classifier_batches(steps=5, batch_size=2)
    with pytest.raises(
        util.ConfigurationError,
        match=r"Text.classifier_batches: steps must be a positive whole number",
    ):
        Text("aabbcc").classifier_batches(steps=0, batch_size=2)
