#!/usr/bin/env python
"""Every recurrent form of theanets against a hand-written JAX program of its equations.

For each recurrent form theanets registers (``Layer.names`` of the classes
that read sequences: the nine recurrent layers and ``bidirectional``, here
with LSTM workers), and ``lstm-scan`` (the LSTM's equations through
``scan``, the path a ``bptt_limit`` takes, instead of the fused
operation), at one thread, pinned, each measurement in its own
process (``run.py``'s ``child_env``, ``pinned`` and ``run_worker``):

(a) training steps per second of a regressor 32-(128 form)-4 (50 steps,
    batch 64, MSE, Adam) in theanets' default mode, and of a hand-written
    JAX program of the same equations (``jax.lax.scan`` over the cell,
    ``optax.adam`` with the same constants, one ``jax.jit`` step donating
    its parameter and optimizer-state buffers, parameters of the same
    shapes drawn as theanets draws them); theanets and JAX take turns over
    ``--rounds``; the ratio theanets / JAX has the target >= 0.8;
(b) the first training call of a small model 3-(16 form)-2 (20 steps,
    batch 8): the time from building the model to the end of its first
    update (``train(..., max_updates=1)``; the import of theanets not
    counted, the modules it imports on first use, jax among them, counted),
    "cold" with a fresh PyTensor ``base_compiledir`` (where theanets also
    keeps JAX's persistent cache and its rewritten graphs; theanets' own
    Numba kernels are pointed there too with ``NUMBA_CACHE_DIR``) and "warm"
    in a second process with the same directory; targets <= 3 s cold, <= 1 s
    warm. Where that time went is printed after the table (the first-use
    imports, PyTensor's rewriting and linking, the first calls, where XLA
    compiles or reads its cache, and the rest).

``bidirectional`` has 128 (16) units each way, as the ``bilstm`` case of
``run.py``; ``bcrnn`` has 4 modules and ``clockwork`` the periods (1, 2, 4,
8). The hand-written cells follow each layer's ``transform``/``step`` code
(``theanets/layers/recurrent/``): a backward worker reads its input
reversed and its outputs stay reversed, as in theanets. ``--check``
verifies them first: for each form, the JAX forward pass given the small
theanets model's own parameters must give theanets' predictions.

Usage::

    python benchmarks/forms.py                   # all, 3 rounds
    python benchmarks/forms.py --rounds 1 --forms lstm,gru --check
"""

import argparse
import json
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import cases  # noqa: E402
import run  # noqa: E402

# (inputs, units, outputs), time steps, batch
SPEED = dict(sizes=(32, 128, 4), steps=50, batch=64)
SMALL = dict(sizes=(3, 16, 2), steps=20, batch=8)

#: The options each form needs (others: none).
OPTIONS = {
    "bcrnn": dict(num_modules=4),
    "clockwork": dict(periods=(1, 2, 4, 8)),
    "bidirectional": dict(worker="lstm"),
}

#: Rows beside the registered forms: another code path of a form, with the
#: same equations. ``lstm-scan``: the LSTM through ``scan`` (the path a
#: ``bptt_limit`` takes, here as long as the sequences, so nothing is
#: truncated) instead of the fused operation.
VARIANTS = {"lstm-scan": ("lstm", dict(bptt_limit="steps"))}

TARGET_SPEED, TARGET_COLD, TARGET_WARM = 0.8, 3.0, 1.0


def recurrent_forms():
    """The registered forms of the layers that read sequences, sorted."""
    from theanets.layers import Layer
    from theanets.layers.recurrent import Recurrent

    return Layer.names(
        where=lambda cls: cls is not Recurrent and getattr(cls, "READS_SEQUENCES", False)
    )


def layer_spec(form, shape):
    """The theanets spec of ``form``'s layer for ``shape``."""
    form, extra = VARIANTS.get(form, (form, {}))
    units = shape["sizes"][1]
    spec = dict(form=form, size=units, activation="tanh", **OPTIONS.get(form, {}))
    spec.update({k: shape[v] if v == "steps" else v for k, v in extra.items()})
    if form == "bidirectional":
        spec["size"] = 2 * units  # each worker gets half
    return spec


def make_data(shape, batches=cases.BATCHES, seed=0):
    import numpy as np

    rng = np.random.RandomState(seed)
    m, _, k = shape["sizes"]
    n = shape["batch"] * batches
    return [
        rng.randn(n, shape["steps"], m).astype("float32"),
        rng.randn(n, shape["steps"], k).astype("float32"),
    ]


def train_kwargs(shape):
    return dict(cases.theanets_train_kwargs("lstm"), batch_size=shape["batch"])


# -- the hand-written JAX programs ---------------------------------------------

#: forms whose equations the JAX programs below reproduce
PEERS = (
    "lstm-scan",
    "rnn",
    "bcrnn",
    "rrnn",
    "mrnn",
    "lstm",
    "gru",
    "clockwork",
    "mut1",
    "scrn",
    "bidirectional",
)


def _weights(rng, nin, nout):
    """As Recurrent.add_weights draws them: N(0, 1 / sqrt(nin + nout))."""
    import numpy as np

    return (rng.randn(nin, nout) / np.sqrt(nin + nout)).astype("float32")


def _bias(rng, size, mean=0.0):
    """As Layer.add_bias: N(mean, 1)."""
    return (mean + rng.randn(size)).astype("float32")


def peer_params(form, m, n, k, rng):
    """The parameters of ``form``, named as theanets names them (without the
    layer's name): ``dict(layer=..., out=...)``."""
    import numpy as np

    form = VARIANTS.get(form, (form,))[0]

    def one(form):
        if form in ("rnn", "bcrnn", "clockwork"):
            return dict(xh=_weights(rng, m, n), hh=_weights(rng, n, n), b=_bias(rng, n))
        if form == "rrnn":  # rate='matrix'
            return dict(
                xh=_weights(rng, m, n),
                hh=_weights(rng, n, n),
                b=_bias(rng, n),
                r=_bias(rng, n),
                xr=_weights(rng, m, n),
            )
        if form == "mrnn":
            f = int(np.ceil(np.sqrt(n)))
            return dict(
                xh=_weights(rng, m, n),
                xf=_weights(rng, m, f),
                hf=_weights(rng, n, f),
                fh=_weights(rng, f, n),
                b=_bias(rng, n),
            )
        if form == "lstm":
            return dict(
                xh=_weights(rng, m, 4 * n),
                hh=_weights(rng, n, 4 * n),
                b=_bias(rng, 4 * n, mean=2),
                ci=_bias(rng, n),
                cf=_bias(rng, n),
                co=_bias(rng, n),
            )
        if form == "gru":
            return dict(
                hh=_weights(rng, n, n),
                hr=_weights(rng, n, n),
                hz=_weights(rng, n, n),
                w=_weights(rng, m, 3 * n),
                b=_bias(rng, 3 * n),
            )
        if form == "mut1":
            p = {name: _weights(rng, m, n) for name in ("xh", "xr", "xz")}
            p.update(hh=_weights(rng, n, n), hr=_weights(rng, n, n))
            p.update({name: _bias(rng, n) for name in ("bh", "br", "bz")})
            return p
        if form == "scrn":  # rate='vector'
            p = dict(w=_weights(rng, m, 2 * n))
            p.update({name: _weights(rng, n, n) for name in ("sh", "hh", "ho", "so")})
            p.update(b=_bias(rng, n), r=_bias(rng, n))
            return p
        raise ValueError("no hand-written program for {!r}".format(form))

    if form == "bidirectional":
        layer, width = dict(fw=one("lstm"), bw=one("lstm")), 2 * n
    else:
        layer, width = one(form), n
    return dict(layer=layer, out=dict(w=_weights(rng, width, k), b=_bias(rng, k)))


def _block_mask(n, modules):
    """As theanets' _block_mask: 1 where the row's module >= the column's."""
    import numpy as np

    block = np.arange(n) // (n // modules)
    return (block[:, None] >= block[None, :]).astype("float32")


def _sequence(form, p, x):
    """The layer's ``out`` over time-major ``x`` (time, batch, inputs)."""
    import jax
    import jax.numpy as jnp
    import numpy as np
    import peers

    form = VARIANTS.get(form, (form,))[0]
    sig, tanh, scan = jax.nn.sigmoid, jnp.tanh, jax.lax.scan
    opts = OPTIONS.get(form, {})
    batch = x.shape[1]

    def zeros(n):
        return jnp.zeros((batch, n), x.dtype)

    if form == "lstm":
        return peers._lstm_seq(p, x)
    if form == "gru":
        return peers._gru_seq(p, x)
    if form == "bidirectional":
        # the backward worker reads the input reversed; its outputs stay reversed
        return jnp.concatenate([peers._lstm_seq(p["fw"], x), peers._lstm_seq(p["bw"], x[::-1])], -1)
    n = p["hh"].shape[0] if "hh" in p else p["xh"].shape[1]  # mrnn has no hh
    if form == "rnn":

        def cell(h, xs_t):
            h = tanh(xs_t + h @ p["hh"])
            return h, h

        return scan(cell, zeros(n), x @ p["xh"] + p["b"])[1]
    if form == "bcrnn":
        modules = opts["num_modules"]
        rates = np.repeat(1 - np.logspace(-1e-4, -6, modules), n // modules).astype("float32")
        hh = p["hh"] * _block_mask(n, modules)

        def cell(carry, xs_t):
            pre, h = carry
            pre = rates * pre + (1 - rates) * (xs_t + h @ hh)
            h = tanh(pre)
            return (pre, h), h

        return scan(cell, (zeros(n), zeros(n)), x @ p["xh"] + p["b"])[1]
    if form == "rrnn":
        rate = sig(x @ p["xr"] + p["r"])

        def cell(h, seq):
            xs_t, r_t = seq
            hid = tanh(xs_t + h @ p["hh"])
            h = (1 - r_t) * h + r_t * hid
            return h, h

        return scan(cell, zeros(n), (x @ p["xh"] + p["b"], rate))[1]
    if form == "mrnn":
        factors = x @ p["xf"]

        def cell(h, seq):
            xs_t, f_t = seq
            h = tanh(xs_t + (f_t * (h @ p["hf"])) @ p["fh"])
            return h, h

        return scan(cell, zeros(n), (x @ p["xh"] + p["b"], factors))[1]
    if form == "clockwork":
        periods = opts["periods"]
        unit_periods = np.repeat(sorted(periods), n // len(periods))
        hh = p["hh"] * _block_mask(n, len(periods))
        # which units update at each step t: t % period == 0
        due = (np.arange(x.shape[0])[:, None] % unit_periods[None, :]) == 0

        def cell(carry, seq):
            pre, h = carry
            xs_t, due_t = seq
            pre = jnp.where(due_t, xs_t + h @ hh, pre)
            h = tanh(pre)
            return (pre, h), h

        return scan(cell, (zeros(n), zeros(n)), (x @ p["xh"] + p["b"], jnp.asarray(due)))[1]
    if form == "mut1":

        def cell(h, seq):
            xh_t, xr_t, xz_t = seq
            z = sig(xz_t)
            r = sig(xr_t + h @ p["hr"])
            hid = tanh(tanh(xh_t) + (r * h) @ p["hh"])
            h = (1 - z) * h + z * hid
            return h, h

        seqs = tuple(x @ p["x" + k] + p["b" + k] for k in "hrz")
        return scan(cell, zeros(n), seqs)[1]
    if form == "scrn":
        rate = sig(p["r"])
        xw = x @ p["w"]

        def cell(carry, seq):
            s, h = carry
            xh_t, xs_t = seq
            s = (1 - rate) * s + rate * xs_t
            h = tanh(xh_t + h @ p["hh"] + s @ p["sh"])
            return (s, h), (s, h)

        states, hids = scan(cell, (zeros(n), zeros(n)), (xw[..., :n], xw[..., n:]))[1]
        return hids @ p["ho"] + states @ p["so"] + p["b"]
    raise ValueError("no hand-written program for {!r}".format(form))


def peer_forward(form, p, x):
    """The regressor's output (batch, time, outputs) for batch-major ``x``."""
    import jax.numpy as jnp

    h = _sequence(form, p["layer"], jnp.swapaxes(x, 0, 1))
    return jnp.swapaxes(h @ p["out"]["w"] + p["out"]["b"], 0, 1)


def jax_step(form, shape):
    """One jitted Adam step of the regressor in JAX + optax, donating its buffers."""
    import jax
    import jax.numpy as jnp
    import numpy as np
    import optax

    m, n, k = shape["sizes"]
    params = jax.tree_util.tree_map(
        jnp.asarray, peer_params(form, m, n, k, np.random.RandomState(0))
    )
    opt = optax.adam(1e-3, b1=cases.BETA1, b2=cases.BETA2, eps=cases.EPSILON)

    def loss(p, x, y):
        return jnp.mean((peer_forward(form, p, x) - y) ** 2)

    def _update(p, s, x, y):
        value, grads = jax.value_and_grad(loss)(p, x, y)
        updates, s = opt.update(grads, s, p)
        return optax.apply_updates(p, updates), s, value

    update = jax.jit(_update, donate_argnums=(0, 1))
    state = [params, opt.init(params)]

    def step(x, y):
        state[0], state[1], value = update(state[0], state[1], x, y)
        return float(value)

    return step


# -- in the measured process ---------------------------------------------------


def _theanets_model(form, shape):
    import theanets

    m, n, k = shape["sizes"]
    return theanets.recurrent.Regressor([m, layer_spec(form, shape), k])


def _mode_name():
    import theanets._mode

    return type(theanets._mode.default_mode().linker).__name__.replace("Linker", "")


def _first(form, shape, data):
    """The first training call, and where its time went (as profile_compile.py
    splits it): PyTensor's rewriting, its linker, the first call of each
    compiled function (where XLA compiles or reads its cache), the rest
    (building the graphs and gradients, checks)."""
    import profile_compile

    def train():
        _theanets_model(form, shape).train(data, max_updates=1, **train_kwargs(shape))

    with profile_compile.first_calls() as calls:
        times = profile_compile.phases(train, calls)
    split = {key: times[key] for key in ("imports", "rewrite", "link", "graph")}
    split["call"] = times["first_call"]
    return dict(first=times["total"], split=split, engine="theanets " + _mode_name())


def worker(spec):
    form, what = spec["form"], spec["what"]
    if spec["lib"] == "theanets":
        import pytensor

        import theanets  # noqa: F401  (imports are not timed)

        cases.use_default_mode()
        shape = SPEED if what == "speed" else SMALL
        data = make_data(shape)
        if what == "first":
            result = _first(form, shape, data)
            # the kernels compiled in the background are cached before the
            # warm process starts (and before the directory is removed)
            from theanets.ops import compile_kernels

            compile_kernels.join()
            return result
        model = _theanets_model(form, shape)
        total = spec["warmup"] + spec["steps"] * spec["reps"] + 2
        it = model.itertrain(data, max_updates=total, **train_kwargs(shape))
        rates = run._rates(lambda i: next(it), spec["steps"], spec["reps"], spec["warmup"])
        engine = "theanets {} ({})".format(_mode_name(), pytensor.config.floatX)
        return dict(rates=rates, engine=engine)
    data = make_data(SPEED)
    batch = SPEED["batch"]
    step_fn = jax_step(form, SPEED)

    def step(i):
        j = (i % cases.BATCHES) * batch
        step_fn(data[0][j : j + batch], data[1][j : j + batch])

    rates = run._rates(step, spec["steps"], spec["reps"], spec["warmup"])
    import jax

    return dict(rates=rates, engine="jax {}".format(jax.__version__))


def check(form):
    """Max |theanets - JAX| of the small model's predictions, JAX given
    theanets' own parameters (a check of the hand-written equations)."""
    import jax.numpy as jnp
    import numpy as np

    import theanets  # noqa: F401

    model = _theanets_model(form, SMALL)
    x = make_data(SMALL, 1)[0]
    expected = model.predict(x)
    m, n, k = SMALL["sizes"]
    params = peer_params(form, m, n, k, np.random.RandomState(0))
    layer = model.layers[1].name
    for param in model.params:
        owner, _, key = param.name.partition(".")
        if owner == layer:
            params["layer"][key] = param.get_value()
        elif owner.startswith(layer + "_"):  # a bidirectional worker
            params["layer"][owner[len(layer) + 1 :]][key] = param.get_value()
        else:
            params[owner][key] = param.get_value()
    got = np.asarray(peer_forward(form, params, jnp.asarray(x)))
    return float(np.abs(got - expected).max())


# -- in the parent -------------------------------------------------------------


def measure(spec, compiledir, args):
    env = run.child_env(1, "default", args.keep_coretype, compiledir)
    if compiledir:
        env["NUMBA_CACHE_DIR"] = os.path.join(compiledir, "numba")
    if spec["what"] == "first":
        # as users get it: fused kernels missing from the cache compiled by
        # a background process, XLA's loop computing meanwhile
        env.pop("THEANETS_KERNELS", None)
    return run.run_worker(
        dict(spec, threads=1), env, args.timeout, script=os.path.abspath(__file__)
    )


def _fmt(value, fmt, suffix=""):
    return (fmt.format(value) + suffix) if value is not None else "-"


def _met(ok):
    return "-" if ok is None else ("met" if ok else "MISSED")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--forms", default=None, help="comma-separated; default all")
    parser.add_argument(
        "--rounds", type=int, default=3, help="turns of theanets and JAX (0: no speed figures)"
    )
    parser.add_argument("--reps", type=int, default=2, help="timed repetitions per process")
    parser.add_argument("--steps", type=int, default=10, help="steps per repetition")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--check", action="store_true", help="check the JAX equations first")
    parser.add_argument("--no-first", action="store_true", help="skip the first-call figures")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per process")
    parser.add_argument("--keep-coretype", action="store_true")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--check-worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print("RESULT " + json.dumps(worker(json.loads(args.worker))), flush=True)
        return None
    if args.check_worker:
        error = check(args.check_worker)
        print("RESULT " + json.dumps(dict(rates=[error])), flush=True)
        return None
    forms = args.forms.split(",") if args.forms else recurrent_forms() + list(VARIANTS)
    print(
        "theanets (default mode) vs hand-written JAX + optax, float32, 1 thread pinned; "
        "{} round(s); {} core(s) available".format(args.rounds, len(os.sched_getaffinity(0)))
    )
    if args.check:
        print("checking the hand-written equations (predictions of 3-(16 form)-2):")
        for form in forms:
            if form not in PEERS:
                continue
            env = run.child_env(1, "FAST_COMPILE", args.keep_coretype)
            env["PYTENSOR_FLAGS"] += ",cxx="
            cmd = [sys.executable, os.path.abspath(__file__), "--check-worker", form]
            import subprocess

            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=run.ROOT)
            lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
            if lines:
                error = json.loads(lines[-1][7:])["rates"][0]
                print("  {:<14} max |theanets - jax| = {:.2e}".format(form, error), flush=True)
            else:
                tail = (proc.stderr or proc.stdout).strip().splitlines()
                print("  {:<14} FAILED ({})".format(form, tail[-1] if tail else "?"), flush=True)
    rows = []
    for form in forms:
        base = dict(form=form, steps=args.steps, reps=args.reps, warmup=args.warmup)
        libs = ["theanets"] + (["jax"] if form in PEERS else [])
        runs = {lib: [] for lib in libs}
        for _ in range(args.rounds):
            for lib in libs:
                runs[lib].append(measure(dict(base, lib=lib, what="speed"), None, args))
        row = dict(form=form)
        for lib, results in runs.items() if args.rounds > 0 else ():
            merged = run._merge(results)
            row[lib] = run._median(merged)
            row[lib + "_engine"] = merged.get("engine", merged.get("error", "?"))
            if "error" in merged:
                row[lib + "_error"] = merged["error"]
        if not args.no_first:
            tmp = tempfile.mkdtemp(prefix="theanets-forms-")
            try:
                for state in ("cold", "warm"):
                    r = measure(dict(base, lib="theanets", what="first"), tmp, args)
                    row[state] = r.get("first")
                    row[state + "_split"] = r.get("split")
                    if "error" in r:
                        row[state + "_error"] = r["error"]
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        th, jx = row.get("theanets"), row.get("jax")
        row["ratio"] = th / jx if th and jx else None
        print(
            "  {:<14} theanets {:>8} steps/s  jax {:>8}  ratio {:>6}  first cold {:>7} "
            "warm {:>7}{}".format(
                form,
                _fmt(th, "{:.2f}"),
                _fmt(jx, "{:.2f}") if form in PEERS else "no peer",
                _fmt(row["ratio"], "{:.2f}x"),
                _fmt(row.get("cold"), "{:.2f} s"),
                _fmt(row.get("warm"), "{:.2f} s"),
                "".join(
                    "  [{} failed: {}]".format(k, row[k + "_error"][:80])
                    for k in ("theanets", "jax", "cold", "warm")
                    if k + "_error" in row
                ),
            ),
            flush=True,
        )
        rows.append(row)
    print(
        "\nTraining steps/s of 32-(128 form)-4, 50 steps, batch 64, Adam (median of "
        "{} rounds x {} reps x {} steps);\nfirst training call of 3-(16 form)-2, 20 steps, "
        "batch 8 (model built to end of first update):\n".format(args.rounds, args.reps, args.steps)
    )
    header = "{:<14} {:>10} {:>10} {:>8} {:>7}   {:>8} {:>7}   {:>8} {:>7}".format(
        "form", "theanets", "jax", "ratio", ">=0.8", "cold", "<=3 s", "warm", "<=1 s"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        ratio, cold, warm = row["ratio"], row.get("cold"), row.get("warm")
        print(
            "{:<14} {:>10} {:>10} {:>8} {:>7}   {:>8} {:>7}   {:>8} {:>7}".format(
                row["form"],
                _fmt(row.get("theanets"), "{:.2f}"),
                _fmt(row.get("jax"), "{:.2f}") if row["form"] in PEERS else "no peer",
                _fmt(ratio, "{:.2f}x"),
                _met(None if ratio is None else ratio >= TARGET_SPEED),
                _fmt(cold, "{:.2f} s"),
                _met(None if cold is None else cold <= TARGET_COLD),
                _fmt(warm, "{:.2f} s"),
                _met(None if warm is None else warm <= TARGET_WARM),
            )
        )
    if not args.no_first:
        print(
            "\nWhere the first training call's time went (s): imports = modules imported on "
            "first use\n(jax, PyTensor's JAX conversions), graph = building graphs and gradients, "
            "rewrite = PyTensor's\nrewriting, link = its linker, call = first calls (XLA "
            "compiling or reading its cache):"
        )
        for row in rows:
            parts = []
            for state in ("cold", "warm"):
                split = row.get(state + "_split")
                if split:
                    parts.append(
                        "{} imports {imports:.2f} graph {graph:.2f} rewrite {rewrite:.2f} "
                        "link {link:.2f} call {call:.2f}".format(state, **split)
                    )
            print("  {:<14} {}".format(row["form"], "; ".join(parts) or "-"))
    engines = sorted({row.get("theanets_engine", "?") for row in rows})
    print("\ntheanets compiled in: {}".format("; ".join(engines)))
    return rows


if __name__ == "__main__":
    main()
