"""Data-parallel training over several JAX devices (``train(devices=...)``).

JAX fixes its device count when it starts, so each device count runs in a
subprocess with ``XLA_FLAGS=--xla_force_host_platform_device_count=N`` and
the default (JAX) mode: it trains each model once on one device and once
split over N, and prints how far apart the results are.
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import theanets
from theanets import parallel, util

_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import jax
    import theanets
    from theanets import parallel

    n = int(sys.argv[1])
    assert len(jax.devices()) == n, jax.devices()
    rng = np.random.RandomState(0)
    x = rng.randn(240, 6).astype('float32')
    y = rng.randn(240, 2).astype('float32')
    labels = rng.randint(0, 3, size=240).astype('int32')
    seq = rng.randn(48, 5, 3).astype('float32')
    seq_y = rng.randn(48, 5, 2).astype('float32')

    CASES = {
        'regressor': (lambda: theanets.Regressor([6, (8, 'relu'), 2], rng=7), [x, y], {}),
        'classifier': (lambda: theanets.Classifier([6, (8, 'tanh'), 3], rng=7), [x, labels], {}),
        'tied autoencoder': (
            lambda: theanets.Autoencoder([6, (4, 'relu'), ('tied', 'linear')], rng=7), [x], {}),
        'weight decay, momentum': (
            lambda: theanets.Regressor([6, (8, 'relu'), 2], rng=7), [x, y],
            dict(algo='nag', momentum=0.9, weight_l2=1e-3, hidden_l1=1e-3)),
        'short last batch': (  # 240 = 3 * 72 + 24: 24 is not split over 5 devices
            lambda: theanets.Regressor([6, (8, 'relu'), 2], rng=7), [x, y], dict(batch_size=72)),
        'gru': (lambda: theanets.recurrent.Regressor([3, (6, 'gru'), 2], rng=7), [seq, seq_y],
                dict(batch_size=16)),
        'lstm': (lambda: theanets.recurrent.Regressor([3, (6, 'lstm'), 2], rng=7), [seq, seq_y],
                 dict(batch_size=16)),
    }

    for name, (make, data, extra) in CASES.items():
        def run(devices, splits):
            net = make()
            kwargs = dict(algo='adam', batch_size=48, max_updates=12, validate_every=4, rng=3)
            kwargs.update(extra)
            for _ in net.itertrain(data, devices=devices, **kwargs):
                setting = parallel.active()
                if setting is not None:
                    splits.append(setting.splits)
            return net
        splits = []
        one, many = run(None, []), run(n, splits)
        diff = max(float(np.abs(a.get_value() - b.get_value()).max())
                   for a, b in zip(one.params, many.params))
        pred = float(np.abs(one.predict(data[0]) - many.predict(data[0])).max())
        scale = max(float(np.abs(p.get_value()).max()) for p in one.params)
        print(json.dumps(dict(case=name, params=diff, predict=pred, scale=scale,
                              split=max(splits) if splits else 0)), flush=True)
    """
)


@pytest.mark.parametrize("devices", [2, 4])
def test_training_split_over_devices_matches_one_device(devices):
    env = {k: v for k, v in os.environ.items() if k != "PYTENSOR_FLAGS"}
    env["XLA_FLAGS"] = "--xla_force_host_platform_device_count={}".format(devices)
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(devices)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    results = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert [r["case"] for r in results] == [
        "regressor",
        "classifier",
        "tied autoencoder",
        "weight decay, momentum",
        "short last batch",
        "gru",
        "lstm",
    ]
    for r in results:
        # float32 sums in another order: a few units in the last place
        assert r["params"] <= 1e-5 * max(1.0, r["scale"]), r
        assert r["predict"] <= 1e-5, r
        assert r["split"] > 0, r  # the data really was split over the devices


_PROCESS_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import jax

    role, port = sys.argv[1], sys.argv[2]
    if role != 'one':
        jax.config.update('jax_cpu_collectives_implementation', 'gloo')
        jax.distributed.initialize(coordinator_address='127.0.0.1:' + port,
                                   num_processes=2, process_id=int(role))
    import theanets

    rng = np.random.RandomState(0)
    x = rng.randn(192, 6).astype('float32')
    y = rng.randn(192, 2).astype('float32')
    local = 16  # each process's rows of a global batch of 32
    if role != 'one':  # this process's half of every global batch
        rows = np.arange(len(x)).reshape(-1, 2, local)[:, int(role)].ravel()
        x, y = x[rows], y[rows]
    net = theanets.Regressor([6, (8, 'relu'), 2], rng=7)
    net.train([x, y], algo='adam', batch_size=local if role != 'one' else 2 * local,
              max_updates=12, validate_every=4, rng=3,
              devices=None if role == 'one' else jax.devices())
    print(json.dumps([p.get_value().tolist() for p in net.params]), flush=True)
    """
)


def test_training_over_two_processes_matches_one(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = str(s.getsockname()[1])
    env = {k: v for k, v in os.environ.items() if k not in ("PYTENSOR_FLAGS", "XLA_FLAGS")}
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", _PROCESS_SCRIPT, role, port],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for role in ("0", "1", "one")
    ]
    results = []
    for run in runs:
        out, err = run.communicate(timeout=600)
        assert run.returncode == 0, err[-4000:]
        results.append([np.array(p) for p in json.loads(out.strip().splitlines()[-1])])
    first, second, alone = results
    for a, b, c in zip(first, second, alone, strict=True):
        np.testing.assert_array_equal(a, b)  # the processes agree exactly
        np.testing.assert_allclose(a, c, rtol=1e-5, atol=1e-6)  # and match one process


def test_bad_device_settings_are_refused():
    import jax

    count = len(jax.devices())
    for bad in (0, count + 1, -1):
        with pytest.raises(util.ConfigurationError, match="is not a count of the"):
            parallel.DataParallel(bad)
    for bad in ("cpu", [], [0, 1], True, 2.0):
        with pytest.raises(util.ConfigurationError, match="devices= takes a count"):
            parallel.DataParallel(bad)


def test_devices_with_a_model_not_compiled_by_jax_is_refused():
    # FAST_COMPILE (this suite's mode) is not JAX: nothing would run on the devices
    x = np.random.RandomState(0).randn(40, 4).astype("float32")
    net = theanets.Autoencoder([4, (3, "relu"), 4])
    with pytest.raises(util.ConfigurationError, match="data-parallel training needs the JAX"):
        net.train([x], devices=1, max_updates=2)
    assert parallel.active() is None
