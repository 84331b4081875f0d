#!/usr/bin/env python
"""Train a tied autoencoder on scikit-learn's handwritten digits.

The 8x8 digit images (1797 of them, shipped with scikit-learn) are scaled to
[0, 1], split into training, validation and test sets, and compressed to 32
numbers by an autoencoder whose decoder reuses the encoder's weights. The
script shows training progress, prints how well held-out digits are
reconstructed (R^2), then how well a classifier does on the learned codes, and
draws held-out digits beside their reconstructions, the learned features and
the learning curve into ``DIR/digits_autoencoder.png``.

Result (full mode, measured): R^2 0.949 of reconstructing the 297 held-out
digits; a classifier on the 32-number codes reaches accuracy 0.976 on them
(a few seconds once PyTensor's compile cache is warm).

Usage::

    python examples/digits_autoencoder.py [--fast] [--out DIR] [--algo adam] [--hidden 32]
"""

import argparse
import os
import time

import numpy as np
from matplotlib.figure import Figure
from sklearn.datasets import load_digits

import theanets


def load(seed=0):
    """Digits scaled to [0, 1] (float32) and labels, split 1200/300/rest."""
    digits = load_digits()
    order = np.random.RandomState(seed).permutation(len(digits.data))
    x = (digits.data[order] / 16).astype("float32")
    y = digits.target[order].astype("int32")
    return (x[:1200], y[:1200]), (x[1200:1500], y[1200:1500]), (x[1500:], y[1500:])


def tile(images, columns):
    """One 2-D mosaic from 8x8 images (rows of 64 values), one pixel apart."""
    rows = -(-len(images) // columns)
    mosaic = np.full((rows * 9 + 1, columns * 9 + 1), np.nan)
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        mosaic[1 + 9 * r : 9 * (r + 1), 1 + 9 * c : 9 * (c + 1)] = image.reshape(8, 8)
    return mosaic


def train(model, *args, **kwargs):
    """Train with ``itertrain``, returning the (training, validation) loss curve."""
    curve = []
    for train_monitors, valid_monitors in model.itertrain(*args, **kwargs):
        curve.append((train_monitors["loss"], valid_monitors["loss"]))
    return np.array(curve)


def draw(path, originals, reconstructions, features, curve):
    """Reconstructions, features and the learning curve, in one PNG."""
    fig = Figure(figsize=(12, 4))
    ax = fig.add_subplot(1, 3, 1)
    ax.imshow(
        tile(np.concatenate([originals, reconstructions]), len(originals) // 2),
        cmap="gray_r",
        vmin=0,
        vmax=1,
    )
    ax.set_title("held-out digits (top) and their\nreconstructions (bottom)")
    ax.axis("off")
    ax = fig.add_subplot(1, 3, 2)
    scale = np.abs(features).max()
    ax.imshow(tile(features, 8), cmap="RdBu_r", vmin=-scale, vmax=scale)
    ax.set_title("learned features (encoder weights)")
    ax.axis("off")
    ax = fig.add_subplot(1, 3, 3)
    # The validation loss is only recomputed every few updates: mark those.
    fresh = np.r_[True, curve[1:, 1] != curve[:-1, 1]]
    ax.plot(np.arange(len(curve)), curve[:, 0], label="training")
    ax.plot(np.arange(len(curve))[fresh], curve[fresh, 1], "o-", label="validation")
    ax.set_xlabel("update")
    ax.set_ylabel("loss (mean squared error)")
    ax.set_yscale("log")
    ax.legend()
    ax.set_title("learning curve")
    fig.tight_layout()
    fig.savefig(path, dpi=80)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--algo", default="adam", help="optimizer (default adam)")
    parser.add_argument("--hidden", type=int, default=32, help="code size (default 32)")
    parser.add_argument("--fast", action="store_true", help="a few updates only (for tests)")
    parser.add_argument(
        "--out",
        default="digits_autoencoder-out",
        help="folder for the pictures (default %(default)s)",
    )
    args = parser.parse_args(argv)

    (train_x, train_y), (valid_x, valid_y), (test_x, test_y) = load()
    if args.fast:  # fewer examples too, for the test suite
        (train_x, train_y), (valid_x, valid_y) = (
            (train_x[:300], train_y[:300]),
            (valid_x[:100], valid_y[:100]),
        )
    # Early stopping keeps the best *validated* parameters, so the fast mode
    # validates after every update.
    schedule = (
        dict(max_updates=10, validate_every=1)
        if args.fast
        else dict(max_updates=300, validate_every=5)
    )

    start = time.time()
    model = theanets.Autoencoder([64, (args.hidden, "relu"), (64, "tied")])
    curve = train(
        model,
        [train_x],
        [valid_x],
        algo=args.algo,
        learning_rate=1e-2,
        batch_size=32,
        patience=5,
        **schedule,
    )
    r2 = model.score(test_x)

    clf = theanets.Classifier([args.hidden, 10])
    clf.train(
        [model.encode(train_x), train_y],
        [model.encode(valid_x), valid_y],
        algo=args.algo,
        learning_rate=1e-2,
        batch_size=32,
        patience=5,
        **schedule,
    )
    acc = clf.score(model.encode(test_x), test_y)

    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "digits_autoencoder.png")
    features = model.find("hid1", "w").get_value().T
    draw(path, test_x[:16], model.predict(test_x[:16]), features[:32], curve)

    print(
        "autoencoder {}: R^2 of reconstructing {} held-out digits = {:.3f}".format(
            [64, args.hidden, 64], len(test_x), r2
        )
    )
    print(
        "classifier on the {}-number codes: accuracy on held-out digits = {:.3f}".format(
            args.hidden, acc
        )
    )
    print("reconstructions, features and learning curve: {}".format(path))
    print("total time {:.1f} s".format(time.time() - start))
    return r2, acc


if __name__ == "__main__":
    main()
