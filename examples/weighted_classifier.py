#!/usr/bin/env python
"""A weighted classifier for imbalanced classes.

scikit-learn's ``make_classification`` draws three classes in proportions
90 : 7 : 3. A plain classifier learns to favour the common class; a classifier
built with ``weighted=True`` takes a weight per example (here the inverse of
its class frequency) as a third array ``[inputs, labels, weights]``, so each
class counts as much in the loss. The script prints, for both, the accuracy and
the balanced accuracy (the mean over classes of the fraction recognised) on
held-out data, and draws both confusion matrices into
``DIR/weighted_classifier.png``.

Result (full mode, measured): balanced accuracy 0.911 weighted against
0.879 unweighted (plain accuracy 0.935 against 0.985).

Usage::

    python examples/weighted_classifier.py [--fast] [--out DIR]
"""

import argparse
import os

import numpy as np
from matplotlib.figure import Figure
from sklearn.datasets import make_classification

import theanets

PROPORTIONS = [0.90, 0.07, 0.03]


def load():
    """Imbalanced 3-class data (float32, int32), split 3000/1000/2000."""
    x, y = make_classification(
        n_samples=6000,
        n_features=10,
        n_informative=4,
        n_redundant=2,
        n_classes=3,
        n_clusters_per_class=1,
        weights=PROPORTIONS,
        class_sep=0.5,
        flip_y=0,
        random_state=2,
    )
    x, y = x.astype("float32"), y.astype("int32")
    return (x[:3000], y[:3000]), (x[3000:4000], y[3000:4000]), (x[4000:], y[4000:])


def balancing_weights(y, classes):
    """Weight of each example: 1 / (its class's frequency * classes), float32."""
    counts = np.bincount(y, minlength=classes)
    return (len(y) / (classes * counts[y])).astype("float32")


def confusion(truth, predicted, classes):
    """counts[i, j] = how many examples of class i were predicted as j."""
    counts = np.zeros((classes, classes), int)
    np.add.at(counts, (truth, predicted), 1)
    return counts


def balanced_accuracy(counts):
    """Mean over classes of the fraction of the class predicted right."""
    return float(np.mean(np.diag(counts) / counts.sum(axis=1)))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fast", action="store_true", help="a few updates only (for tests)")
    parser.add_argument(
        "--out",
        default="weighted_classifier-out",
        help="folder for the pictures (default %(default)s)",
    )
    args = parser.parse_args(argv)

    (train_x, train_y), (valid_x, valid_y), (test_x, test_y) = load()
    if args.fast:  # fewer examples too, for the test suite
        (train_x, train_y), (valid_x, valid_y) = (
            (train_x[:600], train_y[:600]),
            (valid_x[:200], valid_y[:200]),
        )
    schedule = (
        dict(max_updates=5, validate_every=1)
        if args.fast
        else dict(max_updates=200, validate_every=5)
    )
    options = dict(algo="adam", learning_rate=3e-3, batch_size=64, patience=5, **schedule)
    layers = [10, (32, "relu"), 3]

    results = {}
    plain = theanets.Classifier(layers)
    plain.train([train_x, train_y], [valid_x, valid_y], **options)
    results["unweighted"] = confusion(test_y, plain.predict(test_x), 3)

    weighted = theanets.Classifier(layers, weighted=True)
    weighted.train(
        [train_x, train_y, balancing_weights(train_y, 3)],
        [valid_x, valid_y, balancing_weights(valid_y, 3)],
        **options,
    )
    results["weighted"] = confusion(test_y, weighted.predict(test_x), 3)

    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "weighted_classifier.png")
    fig = Figure(figsize=(8, 3.8))
    for i, (how, counts) in enumerate(results.items()):
        ax = fig.add_subplot(1, 2, i + 1)
        ax.imshow(counts / counts.sum(axis=1, keepdims=True), cmap="Blues", vmin=0, vmax=1)
        for (r, c), n in np.ndenumerate(counts):
            ax.text(c, r, str(n), ha="center", va="center")
        ax.set_xticks(range(3))
        ax.set_yticks(range(3))
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title("{}: balanced accuracy {:.3f}".format(how, balanced_accuracy(counts)))
    fig.tight_layout()
    fig.savefig(path, dpi=80)

    print("held-out class sizes: {}".format(np.bincount(test_y, minlength=3).tolist()))
    for how, counts in results.items():
        print(
            "{:>10} classifier: accuracy = {:.3f}, balanced accuracy = {:.3f}".format(
                how, np.trace(counts) / counts.sum(), balanced_accuracy(counts)
            )
        )
    print("picture: {}".format(path))
    return balanced_accuracy(results["weighted"]), balanced_accuracy(results["unweighted"])


if __name__ == "__main__":
    main()
