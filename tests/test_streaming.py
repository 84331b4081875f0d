"""Data larger than memory: memmaps, iterables of batches, prediction in batches.

The memory test trains and predicts over a file four times larger than the
memory it allows itself, in a subprocess whose peak resident memory it
reads from the kernel (``VmHWM`` after resetting it, Linux).
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import theanets
from theanets import streaming, util


def _memmap(tmp_path, array, mode="r", name="x.dat"):
    path = os.path.join(str(tmp_path), name)
    out = np.memmap(path, dtype=array.dtype, mode="w+", shape=array.shape)
    out[:] = array
    out.flush()
    del out
    return np.memmap(path, dtype=array.dtype, mode=mode, shape=array.shape)


@pytest.fixture
def data():
    rng = np.random.RandomState(13)
    return rng.randn(300, 6).astype("float32"), rng.randn(300, 2).astype("float32")


def _train(net, train, **kwargs):
    defaults = dict(algo="sgd", batch_size=32, max_updates=12, validate_every=4, rng=5)
    kwargs = dict(defaults, **kwargs)
    net.train(train, **kwargs)
    return [p.get_value() for p in net.params]


def test_memmap_trains_as_the_same_array_in_memory(tmp_path, data):
    x, y = data
    mx, my = _memmap(tmp_path, x, name="x.dat"), _memmap(tmp_path, y, name="y.dat")
    a = _train(theanets.Regressor([6, (4, "tanh"), 2], rng=3), [x, y])
    b = _train(theanets.Regressor([6, (4, "tanh"), 2], rng=3), [mx, my])
    for pa, pb in zip(a, b, strict=True):
        np.testing.assert_array_equal(pa, pb)


def test_memmap_of_another_dtype_is_cast_a_batch_at_a_time(tmp_path, data):
    x, y = data
    mx = _memmap(tmp_path, x.astype("float64"))
    net = theanets.Regressor([6, (4, "tanh"), 2], rng=3)
    prepared = theanets.checks.prepare("t", net._expected_variables(), [mx, y])
    assert isinstance(prepared[0], streaming.CastArray)
    assert prepared[0].shape == x.shape and prepared[0][:3].dtype == np.float32
    a = _train(theanets.Regressor([6, (4, "tanh"), 2], rng=3), [x, y])
    b = _train(net, [mx, y])
    for pa, pb in zip(a, b, strict=True):
        np.testing.assert_array_equal(pa, pb)


def test_memmap_labels_are_checked_and_cast(tmp_path):
    rng = np.random.RandomState(2)
    x = rng.randn(90, 4).astype("float32")
    labels = _memmap(tmp_path, rng.randint(0, 3, size=90).astype("int64"))
    net = theanets.Classifier([4, 3], rng=1)
    _train(net, [x, labels], max_updates=3)
    bad = _memmap(tmp_path, np.where(np.arange(90) == 80, 7, 0).astype("int64"), name="bad.dat")
    with pytest.raises(util.DataError, match="labels from 0 to 7, but the model has 3 classes"):
        net.train([x, bad], max_updates=1)


def test_a_bad_value_in_a_late_chunk_of_a_memmap_is_found(tmp_path, data, monkeypatch):
    x, y = data
    x = x.copy()
    x[290, 3] = np.nan
    monkeypatch.setattr(streaming, "CHUNK_BYTES", 6 * 4 * 16)  # 16 rows a chunk: 19 chunks
    assert len(list(streaming.row_chunks(x))) == 19
    net = theanets.Regressor([6, 2])
    with pytest.raises(util.DataError, match=": in contains 1 NaN or infinite"):
        net.train([_memmap(tmp_path, x), y], max_updates=1)
    with pytest.raises(util.DataError, match=": in contains 1 NaN or infinite"):
        net.predict(_memmap(tmp_path, x, name="p.dat"), batch_size=50)


def test_release_keeps_the_data_and_spares_copy_on_write_maps(tmp_path, data):
    x, _ = data
    shared = _memmap(tmp_path, x, mode="r+")
    shared[5] = 7.0
    streaming.release(shared[:100])  # a shared map: the change is in the file
    np.testing.assert_array_equal(shared[5], np.full(6, 7.0, dtype="float32"))
    private = _memmap(tmp_path, x, mode="c", name="c.dat")
    private[6] = 9.0
    streaming.release(private)  # copy-on-write: releasing would lose the change
    np.testing.assert_array_equal(private[6], np.full(6, 9.0, dtype="float32"))
    streaming.release(np.ones(3))  # in memory: nothing to do
    np.testing.assert_array_equal(streaming.read(shared, slice(4, 6))[1], shared[5])


@pytest.mark.parametrize("batch_size", [1, 7, 64, 1000])
def test_predict_in_batches_equals_one_call(tmp_path, data, batch_size):
    x, _ = data
    net = theanets.Regressor([6, (5, "relu"), 2], rng=4)
    whole = net.predict(x)
    np.testing.assert_allclose(net.predict(x, batch_size=batch_size), whole, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(
        net.predict(_memmap(tmp_path, x), batch_size=batch_size), whole, rtol=1e-6, atol=1e-6
    )


def test_every_prediction_takes_batch_size(data):
    x, _ = data
    labels = np.arange(len(x)) % 3
    net = theanets.Classifier([6, (5, "relu"), 3], rng=4)
    np.testing.assert_allclose(net.predict_proba(x, batch_size=40), net.predict_proba(x), atol=1e-6)
    np.testing.assert_array_equal(net.predict(x, batch_size=40), net.predict(x))
    assert net.score(x, labels, batch_size=40) == net.score(x, labels)
    outputs = net.feed_forward(x, batch_size=40)
    assert sorted(outputs) == sorted(net.feed_forward(x))
    ae = theanets.Autoencoder([6, (3, "relu"), 6], rng=2)
    np.testing.assert_allclose(ae.predict(x, batch_size=33), ae.predict(x), atol=1e-6)
    np.testing.assert_allclose(ae.encode(x, batch_size=33), ae.encode(x), atol=1e-6)
    np.testing.assert_allclose(net.predict_logit(x, batch_size=7), net.predict_logit(x), atol=1e-5)
    assert abs(ae.score(x, batch_size=33) - ae.score(x)) < 1e-6


def test_recurrent_prediction_in_batches(tmp_path):
    x = np.random.RandomState(1).randn(20, 7, 3).astype("float32")
    net = theanets.recurrent.Regressor([3, (4, "gru"), 2], rng=2)
    np.testing.assert_allclose(
        net.predict(_memmap(tmp_path, x), batch_size=6), net.predict(x), atol=1e-6
    )
    with pytest.raises(util.ConfigurationError, match="batch_size= computes independent slices"):
        net.predict(x, batch_size=6, return_state=True)


@pytest.mark.parametrize("bad", [0, -3, 2.5, "8"])
def test_a_bad_batch_size_is_refused(data, bad):
    net = theanets.Regressor([6, 2])
    with pytest.raises(util.ConfigurationError, match="batch_size"):
        net.predict(data[0], batch_size=bad)


def test_training_from_a_generator_and_a_reiterable(data):
    x, y = data

    def stream():
        rng = np.random.RandomState(0)
        while True:
            rows = rng.randint(0, len(x), size=16)
            yield [x[rows], y[rows]]

    net = theanets.Regressor([6, (4, "tanh"), 2], rng=3)
    before = net.score(x, y)
    net.train(stream(), valid=[x, y], algo="adam", max_updates=60, train_batches=5)
    assert net.score(x, y) > before

    class Passes:
        def __init__(self):
            self.passes = 0

        def __iter__(self):
            self.passes += 1
            for start in range(0, len(x), 100):
                yield [x[start : start + 100], y[start : start + 100]]

        def __len__(self):
            return 3

    passes = Passes()
    net.train(passes, valid=[x, y], max_updates=4, train_batches=5)
    assert passes.passes >= 2  # 5 batches a training iteration: a new pass after 3


def test_an_iterator_that_runs_out_says_so(data):
    x, y = data
    batches = iter([[x[:10], y[:10]], [x[10:20], y[10:20]]])
    net = theanets.Regressor([6, 2])
    with pytest.raises(util.DataError, match="iterator of batches ran out after 2 batch"):
        net.train(batches, valid=[x, y], max_updates=5, train_batches=3)


def test_a_bad_batch_from_an_iterable_names_the_array(data):
    x, y = data
    net = theanets.Regressor([6, 2])
    with pytest.raises(util.DataError, match="a batch from generator: in must be a float array"):
        net.train(([x[:10, :5], y[:10]] for _ in range(5)), valid=[x, y], max_updates=1)


def test_lists_and_arrays_are_not_taken_for_iterables_of_batches(data):
    x, y = data
    assert not streaming.is_batch_iterable([x, y])
    assert not streaming.is_batch_iterable((x, y))
    assert not streaming.is_batch_iterable(x)
    assert not streaming.is_batch_iterable(lambda: [x, y])
    assert streaming.is_batch_iterable(iter([[x, y]]))


_MEMORY_SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    import numpy as np
    import theanets

    path, rows, cols = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])

    def status(field):
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith(field + ':'):
                    return int(line.split()[1]) * 1024

    small = np.random.RandomState(0).randn(4096, cols).astype('float32')
    target = np.random.RandomState(1).randn(4096, 4).astype('float32')
    net = theanets.Regressor([cols, (8, 'relu'), 4], rng=1)
    # compile everything first, on data in memory of the same shapes: a
    # compile's own memory is not what this test measures
    net.train([small, target], max_updates=2, batch_size=1024, validate_every=1)
    net.predict(small, batch_size=1024)
    # the validation set in the model's dtype already: casting an array in
    # memory copies it, and that copy is not the file's memory measured here
    import pytensor
    small, target = (a.astype(pytensor.config.floatX) for a in (small, target))
    x = np.memmap(path, dtype='float32', mode='r', shape=(rows, cols))
    y = np.memmap(path, dtype='float32', mode='r', shape=(rows * cols // 4, 4))[:rows]
    with open('/proc/self/clear_refs', 'w') as f:
        f.write('5')  # resets VmHWM, the peak resident memory, to now
    base = status('VmRSS')
    net.train([x, y], valid=[small, target], max_updates=rows // 1024,
              batch_size=1024, validate_every=50)
    out = net.predict(x, batch_size=1024)
    print(json.dumps({'base': base, 'peak': status('VmHWM'), 'file': os.path.getsize(path),
                      'finite': bool(np.isfinite(out).all()), 'rows': len(out)}))
    """
)


@pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"), reason="needs Linux /proc")
def test_training_over_a_file_larger_than_the_memory_it_may_use(tmp_path):
    rows, cols = 65536, 1024  # 256 MiB of float32
    path = os.path.join(str(tmp_path), "big.dat")
    rng = np.random.RandomState(0)
    with open(path, "wb") as f:  # written without mapping it: no pages of it here
        for _ in range(rows // 4096):
            f.write(rng.randn(4096, cols).astype("float32").tobytes())
    allowance = 64 << 20  # a quarter of the file
    # the mode a user gets (no PYTENSOR_FLAGS): JAX, floatX float64, so that
    # every float32 batch is also cast as it is read
    env = {k: v for k, v in os.environ.items() if k != "PYTENSOR_FLAGS"}
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    # glibc maps blocks of 1 MiB and more and unmaps them when freed: its
    # default threshold grows with the blocks freed, which it then keeps in
    # per-thread arenas, so that under load (XLA's threads freeing batches)
    # the peak counted those freed batches too: 67-171 MiB of a 256 MiB file
    # in 1 of 8 runs on a loaded machine, 8-25 MiB otherwise
    env["MALLOC_MMAP_THRESHOLD_"] = str(1 << 20)
    done = subprocess.run(
        [sys.executable, "-c", _MEMORY_SCRIPT, path, str(rows), str(cols)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["finite"] and result["rows"] == rows
    assert result["file"] == rows * cols * 4
    grew = result["peak"] - result["base"]
    assert grew < allowance, "peak memory grew by {:.0f} MiB over a {:.0f} MiB file".format(
        grew / 2**20, result["file"] / 2**20
    )
