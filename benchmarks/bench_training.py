#!/usr/bin/env python
'''Training speed: theanets against a hand-written numpy step and PyTorch.

One Adam update of a 784-256-64-256-784 relu autoencoder (mse loss, batch
128, float32), on one CPU thread. Every contender runs the same number of
steps on the same data; compile and warm-up steps are excluded. Printed:
steps per second for each, and the ratios against the numpy baseline
measured in the same run (and against PyTorch, when it is installed).

Usage::

    python benchmarks/bench_training.py [--steps 300] [--mode NUMBA|CVM|FAST_RUN]

Machines here are shared and noisy: compare ratios from one run, not
absolute numbers across runs.
'''

import os

for _var in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS', 'NUMBA_NUM_THREADS'):
    os.environ.setdefault(_var, '1')
os.environ.setdefault('PYTENSOR_FLAGS', 'floatX=float32')

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

SIZES = [784, 256, 64, 256, 784]
BATCH = 128
LR = 1e-3
BETA1, BETA2, EPS = 0.9, 0.999, 1e-8


def make_data(steps, seed=0):
    rng = np.random.RandomState(seed)
    return rng.rand(BATCH * steps, SIZES[0]).astype('float32')


def initial_params(seed=0):
    rng = np.random.RandomState(seed)
    params = []
    for nin, nout in zip(SIZES[:-1], SIZES[1:]):
        params.append((rng.randn(nin, nout) / np.sqrt(nin + nout)).astype('float32'))
        params.append(np.zeros(nout, 'float32'))
    return params


def timed(run, steps, warmup):
    '''Steps per second of ``run(i)`` over ``steps`` calls after ``warmup``.'''
    for i in range(warmup):
        run(i)
    start = time.perf_counter()
    for i in range(steps):
        run(i)
    return steps / (time.perf_counter() - start)


def bench_theanets(data, steps, warmup, mode):
    import pytensor
    import theanets
    model = theanets.Autoencoder(
        [SIZES[0]] + [(n, 'relu') for n in SIZES[1:-1]] + [(SIZES[-1], 'linear')])
    for param, value in zip(model.params, initial_params()):
        param.set_value(value)
    with pytensor.config.change_flags(mode=mode):
        # One training "update" is one mini-batch here (iteration_size=1), so
        # each yield of itertrain is exactly one Adam step.
        steps_iter = model.itertrain(
            [data], algo='adam', learning_rate=LR, batch_size=BATCH, iteration_size=1,
            validate_every=10 ** 9, patience=10 ** 9, max_updates=steps + warmup + 1, rng=0)
        return timed(lambda i: next(steps_iter), steps, warmup)


def bench_numpy(data, steps, warmup):
    params = initial_params()
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    t = [0]

    def step(i):
        x = data[(i % (len(data) // BATCH)) * BATCH:][:BATCH]
        acts, pres = [x], []
        for k in range(0, len(params), 2):
            pre = acts[-1] @ params[k] + params[k + 1]
            pres.append(pre)
            acts.append(np.maximum(pre, 0) if k < len(params) - 2 else pre)
        delta = 2 * (acts[-1] - x) / x.size
        grads = [None] * len(params)
        for k in range(len(params) - 2, -1, -2):
            if k < len(params) - 2:
                delta = delta * (pres[k // 2] > 0)
            grads[k] = acts[k // 2].T @ delta
            grads[k + 1] = delta.sum(axis=0)
            if k:
                delta = delta @ params[k].T
        t[0] += 1
        for p, g, mm, vv in zip(params, grads, m, v):
            mm *= BETA1
            mm += (1 - BETA1) * g
            vv *= BETA2
            vv += (1 - BETA2) * g * g
            p -= LR * (mm / (1 - BETA1 ** t[0])) / (np.sqrt(vv / (1 - BETA2 ** t[0])) + EPS)

    return timed(step, steps, warmup)


def bench_torch(data, steps, warmup):
    import torch
    torch.set_num_threads(1)
    layers = []
    values = initial_params()
    for k, (nin, nout) in enumerate(zip(SIZES[:-1], SIZES[1:])):
        lin = torch.nn.Linear(nin, nout)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(values[2 * k].T.copy()))
            lin.bias.copy_(torch.from_numpy(values[2 * k + 1]))
        layers.append(lin)
        if k < len(SIZES) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.Adam(model.parameters(), lr=LR, betas=(BETA1, BETA2), eps=EPS)
    tensor = torch.from_numpy(data)

    def step(i):
        x = tensor[(i % (len(data) // BATCH)) * BATCH:][:BATCH]
        opt.zero_grad()
        loss = ((model(x) - x) ** 2).mean()
        loss.backward()
        opt.step()

    return timed(step, steps, warmup)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--steps', type=int, default=300)
    parser.add_argument('--warmup', type=int, default=20)
    parser.add_argument('--mode', default='FAST_RUN',
                        help='PyTensor compile mode for theanets (FAST_RUN = Numba in PyTensor 3)')
    args = parser.parse_args()
    data = make_data(args.steps + args.warmup + 2)

    results = {'numpy by hand': bench_numpy(data, args.steps, args.warmup)}
    try:
        results['pytorch'] = bench_torch(data, args.steps, args.warmup)
    except ImportError:
        print('(PyTorch is not installed: pip install torch to compare against it)')
    results['theanets ({})'.format(args.mode)] = bench_theanets(
        data, args.steps, args.warmup, args.mode)

    print('Adam steps/s, autoencoder {} batch {} float32, one thread:'.format(SIZES, BATCH))
    base = results['numpy by hand']
    for name, rate in results.items():
        line = '  {:<24} {:8.1f} steps/s   {:5.2f}x numpy'.format(name, rate, rate / base)
        if 'pytorch' in results:
            line += '   {:5.2f}x pytorch'.format(rate / results['pytorch'])
        print(line)


if __name__ == '__main__':
    main()
