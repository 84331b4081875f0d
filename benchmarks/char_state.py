"""Does carrying the hidden state across batches help a character model?

Trains two character models of the same size for the same number of gradient
steps on the shipped text (``theanets.data.text('declaration')``, last 10%
held out), one with ``carry_state=True`` (truncated back-propagation through
time: each batch of a stream starts from where the previous one ended) and one
without (each batch starts from zeros), and prints the per-character
cross-entropy on the held-out text of each, and of a unigram model of the
training text. Each model is scored two ways: reading the held-out text as
one stream (stateful prediction from the initial state) and in independent
windows of ``--steps`` characters (each from the initial state, as the model
without carried state was trained).

Usage::

    PYTENSOR_FLAGS=floatX=float32 python benchmarks/char_state.py [--size 96] [--updates 400]

With the defaults it took 5.3 minutes of CPU time (23 minutes of wall time on
a busy shared 2-core machine, most of it waiting, plus first-time Numba
compilation); ``--fast`` runs a tiny version (a few minutes, mostly
compilation of the new graphs).
"""

import argparse
import json
import math
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import theanets
from theanets import charrnn


def run(carry, args, train_text, held_out, alphabet):
    model = charrnn.build_model(alphabet, size=args.size, form=args.form, rng=args.rng)
    started = time.time()

    def report(update, train, valid):
        if update % args.validate_every == 0 or update == args.updates:
            print(
                "  carry={} update {}/{}: train {:.4f} valid {:.4f} ({:.0f} s)".format(
                    carry, update, args.updates, train["loss"], valid["loss"], time.time() - started
                ),
                flush=True,
            )

    charrnn.train_model(
        model,
        train_text,
        steps=args.steps,
        streams=args.streams,
        updates=args.updates,
        carry=carry,
        valid_text=held_out,
        learning_rate=args.learning_rate,
        validate_every=args.validate_every,
        callback=report,
        rng=args.rng,
    )
    seconds = time.time() - started
    return model, dict(
        carry=carry,
        seconds=round(seconds, 1),
        stream_xe=charrnn.cross_entropy(model, held_out),
        window_xe=charrnn.cross_entropy(model, held_out, steps=args.steps),
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--form", default="lstm")
    parser.add_argument("--updates", type=int, default=400)
    parser.add_argument("--steps", type=int, default=32)
    parser.add_argument("--streams", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=0.005)
    parser.add_argument("--validate-every", type=int, default=50)
    parser.add_argument("--rng", type=int, default=13)
    parser.add_argument("--save", default=None, help="Save the carried-state model here (.npz).")
    parser.add_argument("--fast", action="store_true", help="A tiny run, for testing.")
    args = parser.parse_args(argv)
    if args.fast:
        args.size, args.updates, args.validate_every = 8, 4, 2

    text = theanets.data.text("declaration")
    train_text, held_out = charrnn.split_text(text, 0.1)
    alphabet = "".join(sorted(set(train_text)))
    print(
        "text: {} characters for training, {} held out; alphabet of {}; {} {} units, "
        "{} updates of {} streams x {} steps".format(
            len(train_text),
            len(held_out),
            len(alphabet),
            args.form,
            args.size,
            args.updates,
            args.streams,
            args.steps,
        ),
        flush=True,
    )
    results = []
    for carry in (True, False):
        model, result = run(carry, args, train_text, held_out, alphabet)
        results.append(result)
        if carry and args.save:
            model.save(args.save)
    unigram = charrnn.unigram_cross_entropy(train_text, held_out, alphabet)
    print("\nheld-out cross-entropy, nats per character (bits in brackets):")
    print(
        "  unigram model of the training text: {:.4f} ({:.3f})".format(
            unigram, unigram / math.log(2)
        )
    )
    for r in results:
        print(
            "  {:<22} stream {:.4f} ({:.3f}), {}-char windows {:.4f} ({:.3f}); "
            "trained in {:.0f} s".format(
                "carried state:" if r["carry"] else "no carried state:",
                r["stream_xe"],
                r["stream_xe"] / math.log(2),
                args.steps,
                r["window_xe"],
                r["window_xe"] / math.log(2),
                r["seconds"],
            )
        )
    summary = dict(unigram=unigram, results=results, args=vars(args))
    print(json.dumps(summary, sort_keys=True))
    return summary


if __name__ == "__main__":
    main()
