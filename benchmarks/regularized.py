#!/usr/bin/env python
"""What noise and dropout cost: each case with and without its regularizer.

Issue 17 asks that a model with noise or dropout train at ≥ 0.8× the steps
per second of the same model without it, with a first training call within
2× of it. Two cases of ``run.py``, with the regularizer added:

- ``lstm`` (32-(128 lstm)-4, 50 steps, batch 64, Adam) with ``hidden_dropout=0.1``;
- ``autoencoder`` (784-256-64-256-784, batch 128, Adam) with ``input_noise=0.1``.

Each measurement runs in its own process, pinned to one core, the plain and
the regularized model taking turns (``--rounds``). The first round of each
starts with an empty compile cache (a fresh ``base_compiledir``: "cold"),
the later rounds find what it left ("warm"). Printed per case: steps per
second of both and their ratio, the first training call (model built to the
end of the first update) cold and warm, and the mode each compiled in with
the reason. ``--draws numpy`` measures the regularized models with
``THEANETS_DRAWS=numpy`` (numpy's draws, compiled by Numba) instead::

    python benchmarks/regularized.py
    python benchmarks/regularized.py --cases lstm --rounds 2 --draws numpy
"""

import argparse
import os
import shutil
import statistics
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import cases  # noqa: E402
import run  # noqa: E402

REGULARIZED = {
    "lstm": {"hidden_dropout": 0.1},
    "autoencoder": {"input_noise": 0.1},
}


def measure(case, extra, draws, compiledir, args):
    spec = dict(
        lib="theanets",
        case=case,
        steps=max(1, run.STEPS[case] // (4 if args.quick else 1)),
        reps=args.reps,
        warmup=2,
        threads=1,
        extra=extra,
    )
    env = run.child_env(1, "default", args.keep_coretype, compiledir)
    if extra:
        env["THEANETS_DRAWS"] = draws
    return run.run_worker(spec, env, args.timeout)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", default="lstm,autoencoder")
    parser.add_argument("--rounds", type=int, default=3, help="turns of each model (first cold)")
    parser.add_argument("--reps", type=int, default=3, help="timed repetitions per process")
    parser.add_argument("--draws", default="jax", choices=("jax", "numpy"))
    parser.add_argument("--quick", action="store_true", help="fewer steps per repetition")
    parser.add_argument("--keep-coretype", action="store_true")
    parser.add_argument("--timeout", type=float, default=900)
    args = parser.parse_args(argv)
    for case in args.cases.split(","):
        extra = REGULARIZED[case]
        results = {"plain": [], "regularized": []}
        dirs = {key: tempfile.mkdtemp(prefix="theanets-reg-") for key in results}
        try:
            for _ in range(args.rounds):
                for key in results:
                    chosen = extra if key == "regularized" else None
                    results[key].append(measure(case, chosen, args.draws, dirs[key], args))
        finally:
            for d in dirs.values():
                shutil.rmtree(d, ignore_errors=True)
        summary = {}
        for key, rounds in results.items():
            failed = [r for r in rounds if "error" in r]
            if failed:
                print("{} {}: FAILED ({})".format(case, key, failed[0]["error"][:100]))
                continue
            summary[key] = dict(
                rate=statistics.median(rate for r in rounds for rate in r["rates"]),
                cold=rounds[0]["first"],
                warm=statistics.median(r["first"] for r in rounds[1:]) if len(rounds) > 1 else None,
                engine=rounds[0]["engine"],
            )
        print("== {} + {}".format(cases.CASES[case]["title"], extra))
        for key, s in summary.items():
            warm = "{:.2f} s".format(s["warm"]) if s["warm"] is not None else "-"
            print(
                "  {:<12} {:8.2f} steps/s   first train: cold {:.2f} s, warm {}   [{}]".format(
                    key, s["rate"], s["cold"], warm, s["engine"]
                )
            )
        if len(summary) == 2:
            plain, reg = summary["plain"], summary["regularized"]
            speed, cold = reg["rate"] / plain["rate"], reg["cold"] / plain["cold"]
            print(
                "  ratio regularized/plain: steps/s {:.2f}x (target >= 0.8), first train cold "
                "{:.2f}x (target <= 2)".format(speed, cold)
                + (
                    ", warm {:.2f}x".format(reg["warm"] / plain["warm"])
                    if reg["warm"] and plain["warm"]
                    else ""
                ),
                flush=True,
            )


if __name__ == "__main__":
    main()
