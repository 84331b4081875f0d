"""``theanets-char-rnn``: train character models on text, and sample from them.

A character model is a :class:`theanets.recurrent.Classifier` whose inputs
are one-hot characters and whose outputs are the probabilities of the next
character. Its input layer keeps the alphabet (the ``alphabet`` keyword of
its spec), so the model file alone is enough to sample from it.

Command line::

    theanets-char-rnn train [TEXT_FILE] --model char.npz --size 128 --updates 500
    theanets-char-rnn sample char.npz --seed "We hold " --length 300 --temperature 0.8

Without a text file, ``train`` uses the text shipped as
``theanets.data.text('declaration')``. By default training carries the
hidden state from one batch of a stream to the next (truncated
back-propagation through time); ``--no-carry`` starts every batch from zeros.
The last ``--holdout`` fraction of the text is held out: training validates on
it, and reports the per-character cross-entropy of the model on it next to
that of a unigram model of the training text.

The functions used by the program are public, for scripts (see
``benchmarks/char_state.py``).
"""

import math
import os
import time

import click
import numpy as np

from . import data, recurrent, serialize, util
from .graph import Network

__all__ = [
    "build_model",
    "alphabet_of",
    "split_text",
    "train_model",
    "cross_entropy",
    "unigram_cross_entropy",
    "sample",
    "main",
]


def build_model(alphabet, size=128, form="lstm", layers=1, rng=13):
    """A character model for ``alphabet`` (a string of distinct characters).

    Code 0 stands for characters outside the alphabet (as in
    :class:`theanets.recurrent.Text`), so the input and output width is
    ``1 + len(alphabet)``.

    Examples
    --------
    >>> net = build_model('abc', size=8, form='gru')
    >>> alphabet_of(net), net.layers[0].output_size, net.layers[-1].output_size
    ('abc', 4, 4)
    """
    width = 1 + len(alphabet)
    specs = [dict(form="input", size=width, name="in", alphabet=alphabet)]
    specs += [dict(form=form, size=size, activation="tanh") for _ in range(layers)]
    specs.append(width)
    return recurrent.Classifier(specs, rng=rng)


def alphabet_of(model):
    """The alphabet of a character model; ``util.Error`` if it is not one."""
    first = model.layers[0] if getattr(model, "layers", None) else None
    alphabet = first.kwargs.get("alphabet") if first is not None else None
    if not isinstance(model, recurrent.Classifier) or not isinstance(alphabet, str) or not alphabet:
        raise util.Error(
            "not a character model: expected a recurrent Classifier saved by "
            "theanets-char-rnn (its input layer names the alphabet), got a {}".format(
                type(model).__name__
            )
        )
    width = 1 + len(alphabet)
    if first.output_size != width or model.layers[-1].output_size != width:
        raise util.Error(
            "not a character model: the alphabet has {} characters, so inputs "
            "and outputs must be {} wide, but they are {} and {}".format(
                len(alphabet), width, first.output_size, model.layers[-1].output_size
            )
        )
    return alphabet


def split_text(text, holdout=0.1):
    """``(train, held_out)``: the last ``holdout`` fraction of ``text`` is held out."""
    if not 0 <= holdout < 1:
        raise util.ConfigurationError(
            "holdout must be a fraction in [0, 1), not {!r}".format(holdout)
        )
    cut = len(text) - int(round(len(text) * holdout))
    return text[:cut], text[cut:]


def train_model(
    model,
    text,
    steps=50,
    streams=16,
    updates=500,
    carry=True,
    valid_text=None,
    algo="adam",
    learning_rate=0.003,
    validate_every=50,
    callback=None,
    rng=13,
):
    """Train a character model on ``text`` for ``updates`` gradient steps.

    The text is cut into ``streams`` contiguous streams read ``steps``
    characters at a time (:meth:`theanets.recurrent.Text.classifier_streams`);
    with ``carry`` each batch starts from the state the previous one ended
    in. ``callback(update, train_monitors, valid_monitors)`` is called after
    every update. Returns the last ``(train_monitors, valid_monitors)``.
    """
    alphabet = alphabet_of(model)
    train = recurrent.Text(text, alpha=alphabet).classifier_streams(steps, streams)
    valid = None
    if valid_text is not None and len(valid_text) > 1:
        valid = recurrent.Text(valid_text, alpha=alphabet).classifier_streams(
            steps, max(1, min(streams, (len(valid_text) - 1) // steps))
        )
    result = None
    for i, result in enumerate(
        model.itertrain(
            train,
            valid,
            algo=algo,
            learning_rate=learning_rate,
            max_updates=updates,
            train_batches=1,
            validate_every=validate_every,
            patience=updates,
            max_gradient_norm=5,
            carry_state=carry,
            rng=rng,
        )
    ):
        if callback is not None:
            callback(i + 1, *result)
    return result


def cross_entropy(model, text, steps=None):
    """Mean cross-entropy of the next character in ``text``, in nats per character.

    With ``steps=None`` the text is read as one stream from the initial state,
    in chunks that carry the state (stateful prediction); with ``steps=n`` it
    is read in independent windows of ``n`` characters, each from the initial
    state.
    """
    alphabet = alphabet_of(model)
    codes = np.array(recurrent.Text(text, alpha=alphabet).encode(text), "int64")
    if len(codes) < 2:
        raise util.DataError("cross_entropy: the text needs at least 2 characters")
    onehot = np.eye(1 + len(alphabet), dtype="float32")[codes[:-1]][None]
    target = codes[1:]
    chunk = steps or 256
    total, state = 0.0, None
    for lo in range(0, len(target), chunk):
        x = onehot[:, lo : lo + chunk]
        if steps is None:
            proba, state = model.predict_proba(x, state=state, return_state=True)
        else:
            proba = model.predict_proba(x)
        picked = proba[0, np.arange(x.shape[1]), target[lo : lo + chunk]]
        total += -np.log(np.maximum(picked.astype("float64"), 1e-12)).sum()
    return total / len(target)


def unigram_cross_entropy(train_text, test_text, alphabet):
    """Cross-entropy (nats per character) on ``test_text`` of character
    frequencies counted in ``train_text`` (add-one smoothed over the codes)."""
    codec = recurrent.Text(train_text, alpha=alphabet)
    counts = np.bincount(codec.encode(train_text), minlength=1 + len(alphabet)) + 1.0
    logp = np.log(counts / counts.sum())
    test = codec.encode(test_text)[1:]  # the characters the models predict
    return float(-logp[test].mean())


def sample(model, seed, length=200, temperature=1.0, rng=None):
    """``length`` characters continuing ``seed``, drawn from a character model.

    Examples
    --------
    >>> net = build_model('ab ', size=4)
    >>> text = sample(net, 'ab', length=5, rng=0)
    >>> len(text), set(text) <= set('ab \\0')
    (5, True)
    """
    alphabet = alphabet_of(model)
    bad = sorted(set(c for c in seed if c not in alphabet))
    if bad:
        raise util.DataError(
            "seed characters {} are not in the model's alphabet {!r}".format(
                "".join(bad).encode("unicode_escape").decode("ascii"), alphabet
            )
        )
    codec = recurrent.Text("", alpha=alphabet)
    labels = model.predict_sequence(
        codec.encode(seed), length, rng=rng, stateful=True, temperature=temperature
    )
    return codec.decode(list(labels))


# ----- the command line ----------------------------------------------------


def _fail(message):
    raise click.ClickException(" ".join(str(message).split()))


def _read_text(path):
    if path is None:
        return data.text("declaration"), "the shipped text 'declaration'"
    if not os.path.isfile(path):
        _fail("no such text file: {}".format(path))
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as error:
        _fail("cannot read {}: {}".format(path, error))
    if not text.strip():
        _fail("the text file {} is empty".format(path))
    return text, path


def _load(path):
    if not os.path.isfile(path):
        _fail("no such model file: {}".format(path))
    try:
        model = Network.load(path, allow_pickle=False)
        alphabet_of(model)
    except util.Error as error:
        _fail(error)
    return model


@click.group()
def main():
    """Train character models on text, and sample text from them."""


@main.command()
@click.argument("text_file", required=False)
@click.option(
    "--model",
    "-o",
    "model_path",
    default="char-rnn.npz",
    show_default=True,
    help="Where to save the model (safe .npz format).",
)
@click.option("--form", default="lstm", show_default=True, help="Recurrent layer form.")
@click.option("--size", default=128, show_default=True, help="Units per recurrent layer.")
@click.option("--layers", default=1, show_default=True, help="Number of recurrent layers.")
@click.option(
    "--steps",
    default=50,
    show_default=True,
    help="Characters per batch (truncated back-propagation length).",
)
@click.option(
    "--streams",
    default=16,
    show_default=True,
    help="Parallel streams the text is cut into (the batch size).",
)
@click.option("--updates", default=500, show_default=True, help="Gradient steps.")
@click.option("--learning-rate", default=0.003, show_default=True)
@click.option("--algo", default="adam", show_default=True, help="Optimizer.")
@click.option(
    "--carry/--no-carry",
    default=True,
    show_default=True,
    help="Carry the hidden state from one batch of a stream to the next.",
)
@click.option(
    "--holdout",
    default=0.1,
    show_default=True,
    help="Fraction of the text, at its end, held out for validation.",
)
@click.option("--validate-every", default=50, show_default=True)
@click.option("--rng", default=13, show_default=True, help="Random seed.")
@click.option("--quiet", "-q", is_flag=True, help="No progress lines.")
def train(
    text_file,
    model_path,
    form,
    size,
    layers,
    steps,
    streams,
    updates,
    learning_rate,
    algo,
    carry,
    holdout,
    validate_every,
    rng,
    quiet,
):
    """Train a character model on TEXT_FILE (default: the shipped text)."""
    text, label = _read_text(text_file)
    try:  # before training: a path that cannot be saved to fails now, not at the end
        serialize.resolve_target(model_path)
    except OSError as error:
        _fail(error)
    try:
        train_text, held_out = split_text(text, holdout)
        if len(train_text) < 2 * streams + 1:
            _fail(
                "the text ({} characters for training) is too short for {} streams".format(
                    len(train_text), streams
                )
            )
        alphabet = "".join(sorted(set(train_text)))
        model = build_model(alphabet, size=size, form=form, layers=layers, rng=rng)
        if not quiet:
            click.echo(
                "training a {} x {} {} model on {} ({} characters, alphabet of {}, "
                "{} held out), carry={}".format(
                    layers, size, form, label, len(train_text), len(alphabet), len(held_out), carry
                )
            )
        started = time.time()

        def report(update, train_mon, valid_mon):
            if not quiet and (update % validate_every == 0 or update == updates):
                click.echo(
                    "update {}/{}: loss {:.4f}, valid {:.4f} ({:.0f} s)".format(
                        update, updates, train_mon["loss"], valid_mon["loss"], time.time() - started
                    )
                )

        train_model(
            model,
            train_text,
            steps=steps,
            streams=streams,
            updates=updates,
            carry=carry,
            valid_text=held_out if len(held_out) > 1 else None,
            algo=algo,
            learning_rate=learning_rate,
            validate_every=validate_every,
            callback=report,
            rng=rng,
        )
        model.save(model_path, format="safe")
    except util.Error as error:
        _fail(error)
    click.echo("saved {}".format(model_path))
    if len(held_out) > 1:
        xe = cross_entropy(model, held_out)
        uni = unigram_cross_entropy(train_text, held_out, alphabet)
        click.echo(
            "held-out cross-entropy: {:.4f} nats/char ({:.3f} bits); unigram {:.4f} "
            "nats/char ({:.3f} bits)".format(xe, xe / math.log(2), uni, uni / math.log(2))
        )


@main.command("sample")
@click.argument("model_file")
@click.option("--seed", "-s", default="", help="Text to start from.")
@click.option("--length", "-n", default=200, show_default=True, help="Characters to draw.")
@click.option(
    "--temperature",
    "-t",
    default=1.0,
    show_default=True,
    help="Below 1: likelier characters; above 1: more varied.",
)
@click.option("--rng", default=None, type=int, help="Random seed.")
def sample_command(model_file, seed, length, temperature, rng):
    """Print text drawn from the character model in MODEL_FILE."""
    model = _load(model_file)
    if length < 0:
        _fail("--length must not be negative, not {}".format(length))
    if not temperature > 0:
        _fail("--temperature must be positive, not {}".format(temperature))
    try:
        text = sample(model, seed, length=length, temperature=temperature, rng=rng)
    except util.Error as error:
        _fail(error)
    click.echo(seed + text.replace("\0", "?"))


if __name__ == "__main__":  # pragma: no cover
    main()
