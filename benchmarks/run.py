#!/usr/bin/env python
"""theanets against its peers on the CPU: training and prediction speed, start-up.

One command runs every case in theanets, PyTorch, Keras 3 on its JAX backend
and a hand-written JAX + optax step (``peers.py``: ``jax.lax.scan`` over the
cell, one ``jax.jit`` step donating its buffers), on the same data, float32,
with the same batch size and thread count, in the same run, the libraries
taking turns (``--rounds``) so that load from elsewhere falls on all::

    python benchmarks/run.py            # everything, 1 and 2 threads
    python benchmarks/run.py --quick    # a short smoke run (1 thread)
    python benchmarks/run.py --cases autoencoder,lstm --threads 1 --modes default,NUMBA

Cases:

1. ``autoencoder``: 784-256-64-256-784, tanh hidden, linear output, MSE,
   batch 128, Adam;
2. ``classifier``: 784-512-512-10, relu, softmax cross-entropy, batch 128,
   RMSProp;
3. ``lstm``: LSTM regressor, 32 inputs, 128 units, 50 steps, batch 64, Adam;
   ``gru`` the same with a GRU, ``bilstm`` with a bidirectional LSTM (128
   units each way); ``char`` a character model step (``theanets-char-rnn``'s
   model on the shipped text: one-hot characters, LSTM of 96 units,
   softmax over the next character, 32 steps, 16 streams, Adam), carrying
   the state from one batch of a stream to the next with gradients cut at
   the boundary (theanets ``carry_state=True``; PyTorch and JAX pass the
   last state, detached, to the next step), from zeros at the start of
   each pass over the 8 batches; Keras has a stateful LSTM, but Keras 3
   on JAX does not carry its state through ``train_on_batch`` (see
   ``peers.py``), so each of its steps starts from zeros;
4. ``conv``: conv2 (16 5x5 filters, relu) + 2x2 max-pool + dense softmax on
   28x28 images, batch 64, Adam;
5. ``predict``: prediction throughput of (1) on 10,000 rows;
6. ``startup``: time from building each of (1)-(4) to the end of its first
   training call, with an empty compile cache ("cold": a fresh
   ``base_compiledir``) and with the cache it left ("warm").

Each measurement runs in its own process, pinned (``sched_setaffinity``) to
as many cores as it has threads, with ``OMP/OPENBLAS/MKL/NUMBA`` thread
variables set to that number (and ``torch.set_num_threads``). After the
warm-up, the steps are timed in several repetitions; printed are the median
steps (or rows) per second of each library, their ratio (theanets /
PyTorch, > 1 means theanets is faster), and the BLAS libraries in use with
their kernels and thread counts (threadpoolctl).

This machine's environment may set ``OPENBLAS_CORETYPE`` (forcing an older
kernel on OpenBLAS, which numpy, scipy and so PyTensor's Numba mode use);
the benchmark unsets it in its processes, says so, and prints the kernel
that runs. ``--keep-coretype`` keeps it.

theanets is measured in its default mode (``theanets._mode.default_mode``:
JAX when jax is installed, else Numba); ``--modes`` adds others (PyTensor
mode names). On a shared machine, compare ratios from one run.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# Steps per repetition (full run); --quick divides them.
STEPS = {
    "autoencoder": 40,
    "classifier": 30,
    "lstm": 4,
    "gru": 4,
    "bilstm": 2,
    "char": 16,
    "conv": 15,
}
TRAIN_CASES = ("autoencoder", "classifier", "lstm", "gru", "bilstm", "char", "conv")
# the peers, each measured in its own process, beside theanets
PEERS = ("torch", "keras", "jax")
PREDICT_ROWS = 10000
THREAD_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMBA_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)


# -- in the measured process ---------------------------------------------------


def blas_info():
    """The BLAS/OpenMP libraries loaded in this process, as short strings."""
    try:
        import threadpoolctl
    except ImportError:
        return ["(threadpoolctl not installed)"]
    out = []
    for info in threadpoolctl.threadpool_info():
        out.append(
            "{} {} {} {} threads".format(
                os.path.basename(info.get("filepath", "?")).split("-")[0],
                info.get("internal_api", "?"),
                info.get("architecture", "") or "",
                info.get("num_threads", "?"),
            )
        )
    return sorted(set(out))


def _rates(step, steps, reps, warmup, unit=1):
    for i in range(warmup):
        step(i)
    rates = []
    k = warmup
    for _ in range(reps):
        start = time.perf_counter()
        for _ in range(steps):
            step(k)
            k += 1
        rates.append(steps * unit / (time.perf_counter() - start))
    return rates


def measure_theanets(case, steps, reps, warmup, extra=None):
    """Steps per second of theanets on ``case``, one per repetition.

    ``extra``: more keywords of ``itertrain`` (a regularizer, say)."""
    import cases
    import numpy as np
    import pytensor

    import theanets._mode

    cases.use_default_mode()
    start = time.perf_counter()
    if case == "predict":
        model = cases.theanets_model("autoencoder")
        x = cases.make_data("autoencoder", 1 + PREDICT_ROWS // 128)[0][:PREDICT_ROWS]
        first = [None]

        def step(i):
            # JAX returns its arrays before it has computed them: wait
            np.asarray(model.predict(x))
            if first[0] is None:
                first[0] = time.perf_counter() - start

        rates = _rates(step, steps, reps, warmup, unit=len(x))
    else:
        data = cases.theanets_data(case, cases.make_data(case, cases.BATCHES))
        model = cases.theanets_model(case)
        kwargs = dict(cases.theanets_train_kwargs(case), **(extra or {}))
        it = model.itertrain(data, max_updates=warmup + steps * reps + 2, **kwargs)
        first = [None]

        def step(i):
            next(it)
            if first[0] is None:
                first[0] = time.perf_counter() - start

        rates = _rates(step, steps, reps, warmup)
    linker = type(theanets._mode.default_mode().linker).__name__.replace("Linker", "")
    if extra:  # the mode a regularized model compiles in, and why
        linker = theanets._mode.choose([], [model.loss(**extra)]).describe()
    return dict(
        rates=rates,
        first=first[0],
        blas=blas_info(),
        engine="theanets {} ({})".format(linker, pytensor.config.floatX),
    )


def measure_torch(case, steps, reps, warmup, threads):
    """Steps per second of PyTorch on ``case``, one per repetition."""
    import cases
    import torch

    torch.set_num_threads(threads)
    start = time.perf_counter()
    if case == "predict":
        module, _, _ = cases.torch_model("autoencoder")
        x = cases.torch_data(
            "autoencoder",
            [cases.make_data("autoencoder", 1 + PREDICT_ROWS // 128)[0][:PREDICT_ROWS]],
        )[0]
        first = [None]

        def step(i):
            with torch.no_grad():
                module(x).numpy()
            if first[0] is None:
                first[0] = time.perf_counter() - start

        rates = _rates(step, steps, reps, warmup, unit=len(x))
    else:
        batch = cases.CASES[case]["batch"]
        data = cases.torch_data(case, cases.make_data(case, cases.BATCHES))
        module, loss_fn, opt = cases.torch_model(case)
        first = [None]

        def step(i):
            j = (i % cases.BATCHES) * batch
            x = data[0][j : j + batch]
            target = x if len(data) == 1 else data[1][j : j + batch]
            opt.zero_grad()
            loss = loss_fn(module(x), target)
            loss.backward()
            opt.step()
            loss.item()
            if first[0] is None:
                first[0] = time.perf_counter() - start

        rates = _rates(step, steps, reps, warmup)
    return dict(
        rates=rates,
        first=first[0],
        blas=blas_info(),
        engine="pytorch {} ({} threads)".format(torch.__version__, torch.get_num_threads()),
    )


def measure_peer(lib, case, steps, reps, warmup):
    """Steps per second of Keras 3 (JAX) or hand-written JAX + optax on ``case``."""
    import cases
    import peers

    start = time.perf_counter()
    step_fn = peers.keras_step(case) if lib == "keras" else peers.jax_step(case)
    batch = cases.CASES[case]["batch"]
    data = cases.make_data(case, cases.BATCHES)
    first = [None]

    def step(i):
        j = (i % cases.BATCHES) * batch
        step_fn(*[a[j : j + batch] for a in data] + [None] * (2 - len(data)))
        if first[0] is None:
            first[0] = time.perf_counter() - start

    rates = _rates(step, steps, reps, warmup)
    import jax

    if lib == "keras":
        import keras

        engine = "keras {} (jax {})".format(keras.__version__, jax.__version__)
    else:
        import optax

        engine = "jax {} + optax {}".format(jax.__version__, optax.__version__)
    return dict(rates=rates, first=first[0], blas=blas_info(), engine=engine)


def worker(spec):
    """Entry point of a measuring process: prints one JSON line."""
    sys.path.insert(0, HERE)
    if spec["lib"] == "theanets":
        result = measure_theanets(
            spec["case"], spec["steps"], spec["reps"], spec["warmup"], spec.get("extra")
        )
    elif spec["lib"] in ("keras", "jax"):
        result = measure_peer(
            spec["lib"], spec["case"], spec["steps"], spec["reps"], spec["warmup"]
        )
    else:
        result = measure_torch(
            spec["case"], spec["steps"], spec["reps"], spec["warmup"], spec["threads"]
        )
    print("RESULT " + json.dumps(result), flush=True)


# -- in the parent -------------------------------------------------------------


def child_env(threads, mode, keep_coretype, compiledir=None):
    env = dict(os.environ)
    for var in THREAD_VARS:
        env[var] = str(threads)
    if not keep_coretype:
        env.pop("OPENBLAS_CORETYPE", None)
    flags = ["floatX=float32"]
    if mode != "default":
        flags.append("mode=" + mode)
    if compiledir:
        flags.append("base_compiledir=" + compiledir)
    env["PYTENSOR_FLAGS"] = ",".join(flags)
    env.pop("THEANO_FLAGS", None)
    env["PYTHONPATH"] = os.pathsep.join([ROOT, HERE, env.get("PYTHONPATH", "")])
    # fused kernels missing from Numba's cache compiled before the first
    # update, not by a background process while the steps are timed (a
    # first call measured as users get it drops this: see forms.py)
    env["THEANETS_KERNELS"] = "wait"
    return env


def pinned(threads):
    """A preexec function pinning the child to ``threads`` cores."""
    allowed = sorted(os.sched_getaffinity(0))
    cores = set(allowed[:threads])

    def pin():
        os.sched_setaffinity(0, cores)

    return pin


def run_worker(spec, env, timeout, script=None):
    """Run ``script --worker SPEC`` (this file by default) pinned to
    ``spec['threads']`` cores; the JSON it prints after ``RESULT``, or
    ``dict(error=...)``."""
    cmd = [sys.executable, script or os.path.abspath(__file__), "--worker", json.dumps(spec)]
    try:
        proc = subprocess.run(
            cmd,
            env=env,
            capture_output=True,
            text=True,
            cwd=ROOT,
            preexec_fn=pinned(spec["threads"]),
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return dict(error="timed out after {} s".format(timeout))
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    lines = (proc.stderr or proc.stdout or "no output").strip().splitlines()
    return dict(error=lines[-1] if lines else "exit status {}".format(proc.returncode))


def fmt_rate(result, unit):
    if "error" in result:
        return "FAILED ({})".format(result["error"][:70])
    return "{:9.1f} {}/s".format(statistics.median(result["rates"]), unit)


def _merge(results):
    """One result from the rounds of one library: all rates, the first error."""
    errors = [r for r in results if "error" in r]
    if errors:
        return errors[0]
    merged = dict(results[0])
    merged["rates"] = [rate for r in results for rate in r["rates"]]
    return merged


def _median(result):
    return statistics.median(result["rates"]) if "error" not in result else None


def speed_table(args, threads_list, modes):
    """Cases 1-5: steps (rows) per second of each library, and their ratios.

    Each library runs ``--rounds`` times in turn (a fresh process each
    time, ``reps`` repetitions each), so that a burst of load from elsewhere
    falls on all of them; the median is over all repetitions of all rounds.
    """
    divisor = 4 if args.quick else 1
    reps = 3 if args.quick else args.reps
    rounds = 1 if args.quick else args.rounds
    warmup = 2 if args.quick else 5
    cases_ = [c for c in args.cases.split(",") if c in TRAIN_CASES + ("predict",)]
    peers = [p for p in args.peers.split(",") if p]
    rows, blas_seen = [], {}
    for threads in threads_list:
        for case in cases_:
            if case == "predict":
                steps, unit = (1 if args.quick else 3), "rows"
                libs = [("torch", "default")] if "torch" in peers else []
            else:
                steps, unit = max(1, STEPS[case] // divisor), "steps"
                libs = [(p, "default") for p in peers]
            libs += [("theanets", mode) for mode in modes]
            spec = dict(case=case, threads=threads, steps=steps, reps=reps, warmup=warmup)
            runs = {lib: [] for lib in libs}
            for _ in range(rounds):
                for lib, mode in libs:
                    runs[lib, mode].append(
                        run_worker(
                            dict(spec, lib=lib),
                            child_env(threads, mode, args.keep_coretype),
                            args.timeout,
                        )
                    )
            results = {lib: _merge(r) for lib, r in runs.items()}
            for (lib, mode), result in results.items():
                name = result.get("engine", "{} {}".format(lib, mode))
                line = "{:<12} {:>2} thr  {:<34} {:<18}".format(
                    case, threads, name[:34], fmt_rate(result, unit)
                )
                if lib == "theanets":
                    for peer in peers:
                        other = results.get((peer, "default"))
                        if other and _median(result) and _median(other):
                            line += " {} {:5.2f}x".format(peer, _median(result) / _median(other))
                print(line, flush=True)
                if "engine" in result:
                    blas_seen.setdefault((result["engine"].split(" (")[0], threads), result["blas"])
            rows.append(
                dict(
                    case=case,
                    threads=threads,
                    results={"{} {}".format(*k): v for k, v in results.items()},
                )
            )
    print("\nBLAS and threads seen in the measuring processes:")
    for (engine, threads), blas in sorted(blas_seen.items()):
        print("  {} thread(s), {}: {}".format(threads, engine, "; ".join(blas or [])))
    return rows


def startup_table(args, modes):
    """Case 6: building a model to the end of its first train call, cold and warm."""
    import shutil

    import profile_compile

    cases_ = [c for c in args.cases.split(",") if c in TRAIN_CASES]
    rows = []
    for case in cases_:
        for mode in modes:
            tmp = tempfile.mkdtemp(prefix="theanets-bench-")
            try:
                times = {}
                for state in ("cold", "warm"):
                    r = profile_compile.run_child(case, mode, tmp, predict=False)
                    times[state] = r.get("train1", {}).get("total") if "error" not in r else None
                    times[state + "_detail"] = r
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            name = times["cold_detail"].get("compiled_in", mode).replace("Linker", "")
            print(
                "{:<12} theanets {:<10} first train: cold {}  warm {}".format(
                    case, name, _secs(times["cold"]), _secs(times["warm"])
                ),
                flush=True,
            )
            rows.append(dict(case=case, mode=mode, cold=times["cold"], warm=times["warm"]))
    return rows


def _secs(value):
    return "{:6.2f} s".format(value) if value is not None else "FAILED"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--cases", default="autoencoder,classifier,lstm,conv,predict,startup")
    parser.add_argument("--threads", default=None, help="thread counts (default 1,2; quick 1)")
    parser.add_argument(
        "--modes", default="default", help="theanets modes: 'default' and/or PyTensor mode names"
    )
    parser.add_argument(
        "--reps", type=int, default=3, help="timed repetitions per round (median taken)"
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="rounds: each library in turn, once per round"
    )
    parser.add_argument(
        "--peers", default=",".join(PEERS), help="peers measured beside theanets: torch,keras,jax"
    )
    parser.add_argument("--timeout", type=int, default=900, help="seconds per process")
    parser.add_argument(
        "--keep-coretype", action="store_true", help="keep OPENBLAS_CORETYPE from the environment"
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(json.loads(args.worker))
        return None
    threads_list = [int(t) for t in (args.threads or ("1" if args.quick else "1,2")).split(",")]
    modes = args.modes.split(",")
    available = len(os.sched_getaffinity(0))
    print(
        "theanets vs {}, float32, CPU; {} core(s) available to this process".format(
            args.peers, available
        )
    )
    if any(t > available for t in threads_list):
        print("warning: fewer cores than threads; such runs share cores")
    if "OPENBLAS_CORETYPE" in os.environ:
        print(
            "OPENBLAS_CORETYPE={} is {} in the measuring processes".format(
                os.environ["OPENBLAS_CORETYPE"], "kept" if args.keep_coretype else "unset"
            )
        )
    sys.path.insert(0, HERE)
    result = dict(speed=speed_table(args, threads_list, modes))
    if "startup" in args.cases.split(",") and not args.quick:
        print(
            "\nTime from building a model to the end of its first train call "
            "(max_updates=1), 1 thread:"
        )
        result["startup"] = startup_table(args, modes)
    return result


if __name__ == "__main__":
    main()
