#!/usr/bin/env python
"""Where the time to the first training step goes, per model and compile mode.

For each case and mode, a fresh process builds the model and trains it for
one update (``max_updates=1``), then predicts once and trains once more. The
time of the first ``train`` call is split into:

- ``graph``: building the theanets and optimizer graphs, gradients, data
  checks (everything that is not one of the four below);
- ``imports``: modules imported on first use (jax and PyTensor's JAX
  conversions, when theanets first compiles for JAX);
- ``rewrite``: PyTensor's graph rewriting (``FunctionMaker``);
- ``link``: the linker making the thunks (C compilation and loading for
  CVM; generating the Numba/JAX source for NUMBA/JAX);
- ``first call``: the first call of each compiled function (Numba's and
  JAX's JIT compilation happen there, and its disk cache is read there).

"cold" runs with an empty ``base_compiledir`` (PyTensor keeps its C modules
and its Numba cache there); "warm" runs again with the cache the cold run
left. Usage::

    python benchmarks/profile_compile.py [--cases autoencoder,lstm] \\
        [--modes default,NUMBA,CVM,JAX] [--repeat 1]

Cases and modes are interleaved, so that a noisy machine slows all of them
alike; compare the numbers of one run.
"""

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


@contextlib.contextmanager
def first_calls():
    """Time the first call of each compiled PyTensor function made inside.

    Yields the list the seconds of each first call are appended to (where
    Numba and JAX compile, or read their disk caches); later calls of the
    same function are not timed.
    """
    from pytensor.compile import executor

    calls, seen = [], set()
    original = executor.Function.__call__

    def timed(self, *args, **kwargs):
        if id(self) in seen:
            return original(self, *args, **kwargs)
        seen.add(id(self))
        start = time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            calls.append(time.perf_counter() - start)

    executor.Function.__call__ = timed
    try:
        yield calls
    finally:
        executor.Function.__call__ = original


@contextlib.contextmanager
def first_imports():
    """Time the imports of modules made inside (the outermost of nested ones).

    Yields the list the seconds of each import are appended to: the
    modules imported on first use (jax, PyTensor's JAX conversions), whose
    time is part of a first call but is no graph work. The interpreter
    looks ``_find_and_load`` up on its import module at every import of a
    module not yet loaded, so wrapping it sees all of them.
    """
    bootstrap = sys.modules["_frozen_importlib"]
    times, depth = [], [0]
    original = bootstrap._find_and_load

    def timed(*args, **kwargs):
        if depth[0]:
            return original(*args, **kwargs)
        depth[0] += 1
        start = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            depth[0] -= 1
            times.append(time.perf_counter() - start)

    bootstrap._find_and_load = timed
    try:
        yield times
    finally:
        bootstrap._find_and_load = original


def phases(fn, calls):
    """Run ``fn`` and split its time (see the module): ``calls`` is the list
    of :func:`first_calls` in force."""
    from pytensor.compile.debug import profiling

    r0, l0, n0 = profiling.total_graph_rewrite_time, profiling.total_time_linker, len(calls)
    with first_imports() as imports:
        start = time.perf_counter()
        fn()
        total = time.perf_counter() - start
    rewrite = profiling.total_graph_rewrite_time - r0
    link = profiling.total_time_linker - l0
    call = sum(calls[n0:])
    return dict(
        total=total,
        rewrite=rewrite,
        link=link,
        first_call=call,
        imports=sum(imports),
        graph=total - rewrite - link - call - sum(imports),
        functions=len(calls) - n0,
    )


def child(case, predict):
    """Runs in the measured process: prints one JSON line of timings."""
    t_start = time.perf_counter()
    import pytensor

    import theanets
    import theanets._mode

    sys.path.insert(0, HERE)
    import cases

    cases.use_default_mode()
    t_import = time.perf_counter()

    data = cases.theanets_data(case, cases.make_data(case, 4))
    kwargs = cases.theanets_train_kwargs(case)

    model = [None]

    def build_and_train():
        model[0] = cases.theanets_model(case)
        model[0].train(data, max_updates=1, **kwargs)

    out = dict(case=case, mode=str(pytensor.config.mode), import_s=t_import - t_start)
    out["compiled_in"] = type(theanets._mode.default_mode().linker).__name__
    with first_calls() as calls:
        out["train1"] = phases(build_and_train, calls)
        if predict:
            out["predict1"] = phases(lambda: model[0].predict(data[0][:64]), calls)
        out["train2"] = phases(lambda: model[0].train(data, max_updates=1, **kwargs), calls)
    print("RESULT " + json.dumps(out), flush=True)
    # fused kernels compiled in the background are cached before the
    # parent removes (or reuses) the directory
    from theanets.ops import compile_kernels

    compile_kernels.join()


def run_child(case, mode, compiledir, predict, extra_flags=""):
    flags = "floatX=float32,base_compiledir={}".format(compiledir)
    if mode != "default":
        flags += ",mode=" + mode
    if extra_flags:
        flags += "," + extra_flags
    env = dict(
        os.environ,
        PYTENSOR_FLAGS=flags,
        OMP_NUM_THREADS="1",
        OPENBLAS_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        NUMBA_NUM_THREADS="1",
        PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
        # theanets' own Numba kernels (the fused LSTM) cache beside
        # PyTensor's, so that a fresh compiledir is cold for them too
        NUMBA_CACHE_DIR=os.path.join(compiledir, "numba"),
    )
    env.pop("THEANO_FLAGS", None)
    cmd = [sys.executable, os.path.abspath(__file__), "--child", case]
    if predict:
        cmd.append("--predict")
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    return dict(case=case, mode=mode, error=(proc.stderr or proc.stdout).strip()[-600:])


def show(label, result):
    if "error" in result:
        print("{:<34} FAILED: {}".format(label, result["error"].splitlines()[-1]))
        return
    parts = []
    for key in ("train1", "predict1", "train2"):
        if key in result:
            p = result[key]
            parts.append(
                "{} {:6.2f}s (imports {:.2f} graph {:.2f} rewrite {:.2f} link {:.2f} call {:.2f}, "
                "{} fn)".format(
                    key,
                    p["total"],
                    p["imports"],
                    p["graph"],
                    p["rewrite"],
                    p["link"],
                    p["first_call"],
                    p["functions"],
                )
            )
    label += " ({})".format(result.get("compiled_in", "?").replace("Linker", ""))
    print("{:<44} {}".format(label, "\n{:<44} ".format("").join(parts)), flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", default="autoencoder,classifier,conv,lstm")
    parser.add_argument(
        "--modes",
        default="default,NUMBA,CVM",
        help="'default' is theanets' choice (theanets._mode.default_mode)",
    )
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--no-predict", action="store_true")
    parser.add_argument("--flags", default="", help="more PYTENSOR_FLAGS for every run")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--predict", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.predict)
        return None
    results = []
    for rep in range(args.repeat):
        for case in args.cases.split(","):
            for mode in args.modes.split(","):
                tmp = tempfile.mkdtemp(prefix="theanets-profile-")
                try:
                    for state in ("cold", "warm"):
                        r = run_child(case, mode, tmp, not args.no_predict, args.flags)
                        r["state"] = state
                        results.append(r)
                        show("{} {} {}".format(case, mode, state), r)
                finally:
                    shutil.rmtree(tmp, ignore_errors=True)
    return results


if __name__ == "__main__":
    main()
