#!/usr/bin/env python
"""A sparse (ICA-like) autoencoder with a custom regularizer.

Four independent, sparse (Laplace-distributed) sources are mixed by a random
4x4 matrix, and the mixtures are whitened. Whitening leaves the sources known
only up to a rotation; independent component analysis finds the rotation
that makes the codes sparse. Here a linear tied autoencoder does it, with a
regularizer written for this script: ``LogCosh``, a subclass of
``theanets.Regularizer`` whose penalty is the mean of log(cosh(h)) over the
hidden codes (a smooth L1). Passing ``logcosh=0.5`` to ``train`` turns it on,
as for a built-in regularizer (reconstruction ICA, Le et al. 2011).

The script prints, for each source, its best absolute correlation with a code
unit, for the autoencoder and for the whitened data it starts from, and draws
both correlation matrices into ``DIR/sparse_autoencoder.png``.

Result (full mode, measured): mean best |correlation| 1.000 with the sources
(whitened mixtures: 0.747).

Usage::

    python examples/sparse_autoencoder.py [--fast] [--out DIR]
"""

import argparse
import os

import numpy as np
import pytensor.tensor as TT
from matplotlib.figure import Figure

import theanets


class LogCosh(theanets.Regularizer):
    """Penalize mean(log(cosh(h))) of the hidden layers' outputs (a smooth L1).

    Used by passing ``logcosh=0.5weight`` (or ``logcosh=dict(pattern=..., weight=...)``)
    to ``train``. The default pattern ``'*'`` stands for every hidden layer.
    """

    def loss(self, layers, outputs):
        pattern = self.pattern
        if pattern == "*":
            pattern = [layer.output_name for layer in layers[1:-1]]
        terms = [
            TT.log(TT.cosh(h)).mean() for _, h in theanets.util.outputs_matching(outputs, pattern)
        ]
        return sum(terms) / len(terms)


def load(samples, sources=4, seed=0):
    """Whitened mixtures (float32) of Laplace sources, and the sources."""
    rng = np.random.RandomState(seed)
    mixing = rng.randn(sources, sources)
    s = rng.laplace(size=(samples, sources))
    x = s @ mixing
    x -= x.mean(axis=0)
    values, vectors = np.linalg.eigh(np.cov(x.T))
    white = x @ vectors / np.sqrt(values)
    return white.astype("float32"), s


def correlations(codes, sources):
    """|correlation| of every source (rows) with every code unit (columns)."""
    n = sources.shape[1]
    return np.abs(np.corrcoef(sources.T, codes.T)[:n, n:])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fast", action="store_true", help="a few updates only (for tests)")
    parser.add_argument(
        "--out",
        default="sparse_autoencoder-out",
        help="folder for the pictures (default %(default)s)",
    )
    args = parser.parse_args(argv)

    x, s = load(500 if args.fast else 10000)
    model = theanets.Autoencoder([4, (4, "linear"), (4, "tied")])
    model.train(
        [x],
        algo="adam",
        learning_rate=1e-2,
        batch_size=100,
        logcosh=0.5,
        max_updates=3 if args.fast else 300,
        validate_every=5,
        patience=5,
        min_improvement=0.001,
    )

    found = correlations(model.encode(x), s)
    baseline = correlations(x, s)
    score, base = found.max(axis=1).mean(), baseline.max(axis=1).mean()

    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "sparse_autoencoder.png")
    fig = Figure(figsize=(8, 3.8))
    for i, (title, matrix) in enumerate(
        [("whitened mixtures", baseline), ("autoencoder codes (log cosh)", found)]
    ):
        ax = fig.add_subplot(1, 2, i + 1)
        ax.imshow(matrix, cmap="Greys", vmin=0, vmax=1)
        for (r, c), v in np.ndenumerate(matrix):
            ax.text(
                c,
                r,
                "{:.2f}".format(v),
                ha="center",
                va="center",
                color="white" if v > 0.5 else "black",
            )
        ax.set_xticks(range(matrix.shape[1]))
        ax.set_yticks(range(matrix.shape[0]))
        ax.set_xlabel("code unit")
        ax.set_ylabel("source")
        ax.set_title("{}\nmean best |corr| {:.3f}".format(title, matrix.max(axis=1).mean()))
    fig.tight_layout()
    fig.savefig(path, dpi=80)

    print(
        "best |correlation| of each source with a code unit: {}".format(
            np.round(found.max(axis=1), 3).tolist()
        )
    )
    print(
        "sparse autoencoder (LogCosh regularizer): mean best |correlation| with the sources "
        "= {:.3f} (whitened mixtures: {:.3f})".format(score, base)
    )
    print("picture: {}".format(path))
    return score, base


if __name__ == "__main__":
    main()
