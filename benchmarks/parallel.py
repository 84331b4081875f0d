#!/usr/bin/env python
"""Data-parallel training: steps per second on 1, 2 and 4 JAX devices.

The autoencoder case of ``benchmarks/run.py`` (784-256-64-256-784, tanh
hidden, linear output, MSE, batch 128, Adam) trained with
``train(devices=N)``, each device count in its own process started with
``XLA_FLAGS=--xla_force_host_platform_device_count=N`` (forced CPU devices
share this machine's cores: on a 2-core machine this shows correctness and
overhead, not a speed-up). Repetitions are interleaved between device
counts; printed are the median steps per second and the ratio to one
device::

    python benchmarks/parallel.py             # 1, 2, 4 devices, 5 repetitions
    python benchmarks/parallel.py --devices 1,2 --repeats 3
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

_WORKER = """
import json, sys, time
import numpy as np
import theanets

devices, steps = int(sys.argv[1]), int(sys.argv[2])
rng = np.random.RandomState(0)
x = rng.rand(128 * 20, 784).astype('float32')
net = theanets.Autoencoder([784, (256, 'tanh'), (64, 'tanh'), (256, 'tanh'), (784, 'linear')],
                           rng=1)
kwargs = dict(algo='adam', batch_size=128, validate_every=10 ** 9, devices=devices)
# timed from the end of the first training iteration (compiled, validated
# once) to the end of the last; an iteration is one pass: 20 updates
for i, _ in enumerate(net.itertrain([x], **kwargs)):
    if i == 0:
        start = time.perf_counter()
    elif i * 20 >= steps:
        break
print(json.dumps({'steps_per_s': i * 20 / (time.perf_counter() - start)}))
"""


def measure(devices, steps):
    env = {k: v for k, v in os.environ.items() if k != "PYTENSOR_FLAGS"}
    env["XLA_FLAGS"] = "--xla_force_host_platform_device_count={}".format(devices)
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = os.pathsep.join([here, env.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, "-c", _WORKER, str(devices), str(steps)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])["steps_per_s"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--devices", default="1,2,4")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=100)
    args = parser.parse_args()
    counts = [int(n) for n in args.devices.split(",")]
    results = {n: [] for n in counts}
    for r in range(args.repeats):
        for n in counts:  # interleaved: a burst of load hits every count alike
            results[n].append(measure(n, args.steps))
        print("repetition {} of {} done".format(r + 1, args.repeats), file=sys.stderr)
    base = statistics.median(results[counts[0]])
    print("cores here: {}".format(len(os.sched_getaffinity(0))))
    print("{:>8} {:>12} {:>10}".format("devices", "steps/s", "ratio"))
    for n in counts:
        med = statistics.median(results[n])
        print("{:>8} {:>12.1f} {:>10.2f}".format(n, med, med / base))


if __name__ == "__main__":
    main()
