"""Tests for theanets.downhill.Dataset: batching, shuffling, inputs, errors."""

import logging

import numpy as np
import pandas as pd
import pytensor
import pytest
import scipy.sparse

from theanets import util
from theanets.downhill import Dataset


def ranges(batches, k=0):
    """The sample ids of the k-th array of each batch (arrays hold ids)."""
    return [list(np.asarray(b[k]).ravel()) for b in batches]


def ids(n, width=None):
    """An array whose first column / values are 0..n-1."""
    x = np.arange(n, dtype="float32")
    return x if width is None else np.repeat(x[:, None], width, axis=1)


def expected_order(n, batch_size, seed, count):
    """Batch slices in the documented order: shuffle the list of slices with
    rng.shuffle at construction and every time the cursor wraps."""
    rng = np.random.RandomState(seed)
    slices = [slice(i, min(i + batch_size, n)) for i in range(0, n, batch_size)]
    rng.shuffle(slices)
    order, index = [], 0
    for _ in range(count):
        order.append(list(range(n))[slices[index]])
        index += 1
        if index == len(slices):
            index = 0
            rng.shuffle(slices)
    return order


def test_batch_counts_and_sizes():
    ds = Dataset([ids(10, 2), ids(10)], batch_size=3, rng=0)
    assert ds.iteration_size == 4
    batches = list(ds)
    assert len(batches) == 4
    assert sorted(len(b[0]) for b in batches) == [1, 3, 3, 3]
    assert all(len(b) == 2 for b in batches)
    assert sorted(sum(ranges(batches, 1), [])) == list(range(10))


def test_batches_are_contiguous_and_match_across_arrays():
    ds = Dataset([ids(20, 3), ids(20)], batch_size=4, rng=5)
    for x, y in ds:
        rows = list(x[:, 0])
        assert rows == list(range(int(rows[0]), int(rows[0]) + len(rows)))
        assert rows == list(y)


def test_shuffle_is_deterministic_with_a_seed():
    a = [ranges(Dataset(ids(50), batch_size=5, rng=3)) for _ in range(2)]
    assert a[0] == a[1]
    assert a[0] == expected_order(50, 5, 3, 10)
    orders = {tuple(map(tuple, ranges(Dataset(ids(50), batch_size=5, rng=s)))) for s in range(5)}
    assert len(orders) > 1


def test_rng_may_be_a_random_state():
    ds = Dataset(ids(50), batch_size=5, rng=np.random.RandomState(3))
    assert ranges(ds) == expected_order(50, 5, 3, 10)


def test_iteration_size_continues_and_wraps_with_reshuffle():
    ds = Dataset(ids(10), batch_size=2, iteration_size=3, rng=7)
    assert ds.iteration_size == 3
    seen = [ranges(ds) for _ in range(4)]
    assert all(len(s) == 3 for s in seen)
    flat = sum(seen, [])
    assert flat == expected_order(10, 2, 7, 12)
    # the first five batches cover every sample exactly once
    assert sorted(sum(flat[:5], [])) == list(range(10))


def test_iteration_size_larger_than_one_pass():
    ds = Dataset(ids(6), batch_size=2, iteration_size=7, rng=1)
    assert ranges(ds) == expected_order(6, 2, 1, 7)


def test_iterate_without_shuffle_keeps_order_on_wrap():
    ds = Dataset(ids(6), batch_size=2, iteration_size=3, rng=1)
    first = ranges(ds.iterate(shuffle=False))
    assert ranges(ds.iterate(shuffle=False)) == first


def test_shuffle_method_reorders_batches():
    ds = Dataset(ids(40), batch_size=2, rng=2)
    before = ranges(ds)
    ds.shuffle()
    after = ranges(ds)
    assert before != after
    assert sorted(before) == sorted(after)


def test_axis_1():
    ds = Dataset([ids(10, 3).T, ids(10)[None, :]], batch_size=4, axis=1, rng=0)
    batches = list(ds)
    assert sorted(b[0].shape for b in batches) == [(3, 2), (3, 4), (3, 4)]
    for x, y in batches:
        np.testing.assert_array_equal(x[0], y[0])


def test_negative_axis():
    ds = Dataset(ids(10, 3).T, batch_size=5, axis=-1)
    assert sorted(b[0].shape for b in ds) == [(3, 5), (3, 5)]


@pytest.mark.parametrize("batch_size", [0, -1])
def test_batch_size_zero_is_one_batch(batch_size):
    x = ids(7, 2)
    ds = Dataset(x, batch_size=batch_size)
    batches = list(ds)
    assert ds.iteration_size == 1 and len(batches) == 1
    np.testing.assert_array_equal(batches[0][0], x)


def test_single_array_is_wrapped():
    (batch,) = list(Dataset(ids(4), batch_size=10))
    assert isinstance(batch, list) and len(batch) == 1


def test_callable_default_iteration_size():
    calls = []

    def batches():
        calls.append(1)
        return [np.ones(2), np.zeros(2)]

    ds = Dataset(batches)
    assert ds.iteration_size == 100
    out = list(ds)
    assert len(out) == 100 and len(calls) == 100
    assert all(len(b) == 2 for b in out)


def test_callable_with_len_and_given_iteration_size():
    class Batches:
        def __len__(self):
            return 7

        def __call__(self):
            return np.ones(3)  # a single array is wrapped

    assert Dataset(Batches()).iteration_size == 7
    ds = Dataset(Batches(), iteration_size=2, batch_size=99, axis=5)
    out = list(ds)
    assert len(out) == 2 and isinstance(out[0], list) and len(out[0]) == 1


@pytest.mark.parametrize("fmt, axis", [("csr", 0), ("csc", 1)])
def test_sparse_inputs(fmt, axis):
    dense = np.arange(30, dtype="float32").reshape((10, 3))
    if axis == 1:
        dense = dense.T
    x = scipy.sparse.csr_matrix(dense) if fmt == "csr" else scipy.sparse.csc_matrix(dense)
    ds = Dataset(x, batch_size=4, axis=axis, rng=0)
    batches = list(ds)
    assert all(scipy.sparse.issparse(b[0]) and b[0].format == fmt for b in batches)
    joined = sorted(batches, key=lambda b: b[0].toarray().ravel()[0])
    stack = scipy.sparse.vstack if axis == 0 else scipy.sparse.hstack
    np.testing.assert_array_equal(stack([b[0] for b in joined]).toarray(), dense)


def test_pandas_inputs():
    frame = pd.DataFrame({"a": ids(9), "b": ids(9) * 2}, index=np.arange(9) * 10)
    series = pd.Series(ids(9), index=np.arange(9)[::-1])
    ds = Dataset([frame, series], batch_size=4, rng=0)
    batches = list(ds)
    assert sorted(len(b[0]) for b in batches) == [1, 4, 4]
    for f, s in batches:
        assert isinstance(f, pd.DataFrame) and isinstance(s, pd.Series)
        np.testing.assert_array_equal(f["a"].values, s.values)  # positional


def test_pandas_frame_axis_1():
    frame = pd.DataFrame(np.arange(12).reshape((2, 6)))
    shapes = sorted(b[0].shape for b in Dataset(frame, batch_size=4, axis=1))
    assert shapes == [(2, 2), (2, 4)]


def test_shared_variable_input():
    x = pytensor.shared(ids(6, 2))
    ds = Dataset(x, batch_size=3, rng=0)
    batches = list(ds)
    assert all(isinstance(b[0], np.ndarray) and b[0].shape == (3, 2) for b in batches)


def test_default_names_count_up():
    a, b = Dataset(ids(3)), Dataset(ids(3))
    assert a.name.startswith("dataset") and b.name.startswith("dataset")
    assert int(b.name[7:]) == int(a.name[7:]) + 1
    assert Dataset(ids(3), name="train").name == "train"


def test_log_message(caplog):
    with caplog.at_level(logging.INFO, logger="theanets.downhill"):
        Dataset([ids(10, 2), ids(10)], name="d", batch_size=3, iteration_size=2)
    assert "d: 2 of 4 mini-batches from (10, 2), (10,)" in [r.getMessage() for r in caplog.records]


# -- errors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "inputs, message",
    [
        (
            [ids(5), ids(4)],
            r'dataset "d": array 1 has 4 samples along axis 0 \(shape \(4,\)\), but '
            r"array 0 has 5; expected 5",
        ),
        (
            [ids(5), [1, 2, 3, 4, 5]],
            r'dataset "d": array 1 is a list; expected a numpy array, a scipy.sparse '
            r"csr/csc matrix, a pandas Series/DataFrame or a pytensor shared variable",
        ),
        ([scipy.sparse.coo_matrix(np.eye(3))], r'dataset "d": array 0 is a coo_matrix; expected'),
        (
            42,
            r'dataset "d": inputs is a int; expected a numpy array, .* a list or tuple '
            r"of those, or a callable",
        ),
        ([np.zeros((0, 3))], r'dataset "d": array 0 \(shape \(0, 3\)\) is empty along axis 0'),
        ([], r'dataset "d": no arrays given'),
        ([np.float32(3)], r'dataset "d": array 0 is a float32'),
        ([np.array(3.0)], r'dataset "d": array 0 has shape \(\), which has no axis 0'),
    ],
)
def test_data_errors(inputs, message):
    with pytest.raises(util.DataError, match=message) as info:
        Dataset(inputs, name="d")
    assert isinstance(info.value, ValueError)


def test_axis_out_of_range():
    with pytest.raises(util.DataError, match=r"array 0 has shape \(4, 2\), which has no axis 2"):
        Dataset(ids(4, 2), name="d", axis=2)


def test_length_mismatch_along_axis_1():
    with pytest.raises(util.DataError, match="array 1 has 3 samples along axis 1"):
        Dataset([np.ones((2, 4)), np.ones((2, 3))], name="d", axis=1)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(batch_size=2.5), r"batch_size=2.5 is not allowed: expected an integer"),
        (dict(batch_size="32"), r"batch_size='32' is not allowed"),
        (
            dict(iteration_size=0),
            r"iteration_size=0 is not allowed: expected an integer >= 1 or None",
        ),
        (dict(axis=0.0), r"axis=0.0 is not allowed: expected an integer"),
    ],
)
def test_configuration_errors(kwargs, message):
    with pytest.raises(util.ConfigurationError, match=message):
        Dataset(ids(4), **kwargs)


def test_numpy_integer_batch_size():
    assert Dataset(ids(8), batch_size=np.int64(4)).iteration_size == 2
