"""What a new model of a known structure costs, against scikit-learn.

Not a test: it prints times and ratios measured in one run, with the
repetitions of the compared estimators interleaved.

1. In one process, ``Classifier([4, (32, 'relu'), 3])`` trained on iris
   (50 updates): the first model, then new models of the same structure.
   A new model's overhead is its train time less the time of the same
   training run again on that model (which builds and compiles nothing).
2. ``theanets.sklearn.NetworkClassifier().fit`` against
   ``sklearn.neural_network.MLPClassifier().fit`` on iris, per fit after
   the first (defaults of both, as they are on this branch).
3. A 3-fold x 2-setting ``GridSearchCV`` on iris of each, ``n_jobs=1`` and
   ``n_jobs=2``.

Run: ``PYTHONPATH=. python benchmarks/reuse.py`` (no compile flags: the
default mode; ``--repeats N`` for more repetitions).
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from sklearn.datasets import load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.neural_network import MLPClassifier

import theanets
import theanets.sklearn
from theanets import _compiles


def _timed(fn, *args):
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def new_models(x, y, repeats):
    """(first model's train time, [overheads of later new models], counts of those)."""
    fit = dict(max_updates=50, batch_size=32, progress=False)

    def train(net):
        return _timed(lambda: net.train([x, y], **fit))

    first = train(theanets.Classifier([4, (32, "relu"), 3], rng=0))
    overheads = []
    before = _compiles.counts()
    for seed in range(1, repeats + 1):
        net = theanets.Classifier([4, (32, "relu"), 3], rng=seed)
        new = train(net)
        again = train(net)  # the same run again: updates only
        overheads.append(new - again)
    return first, overheads, dict(_compiles.counts() - before)


def estimator_fits(x, y, repeats):
    """Per-fit times after the first, interleaved: (theanets, scikit-learn)."""
    ours, theirs = [], []
    theanets.sklearn.NetworkClassifier(random_state=0).fit(x, y)
    MLPClassifier(random_state=0).fit(x, y)
    for seed in range(1, repeats + 1):
        ours.append(_timed(theanets.sklearn.NetworkClassifier(random_state=seed).fit, x, y))
        theirs.append(_timed(MLPClassifier(random_state=seed).fit, x, y))
    return ours, theirs


def _grid(estimator, sizes, n_jobs):
    return GridSearchCV(estimator(random_state=0), {sizes: [(16,), (32,)]}, cv=3, n_jobs=n_jobs)


def grids(x, y, repeats):
    """{n_jobs: ([theanets times], [scikit-learn times])} of 3-fold x 2-setting grids."""
    result = {}
    for n_jobs in (1, 2):
        ours, theirs = [], []
        for _ in range(repeats):
            ours.append(
                _timed(_grid(theanets.sklearn.NetworkClassifier, "layers", n_jobs).fit, x, y)
            )
            theirs.append(_timed(_grid(MLPClassifier, "hidden_layer_sizes", n_jobs).fit, x, y))
        result[n_jobs] = ours, theirs
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    warnings.simplefilter("ignore", ConvergenceWarning)
    data = load_iris()
    x = ((data.data - data.data.mean(0)) / data.data.std(0)).astype("float32")
    y = data.target.astype("int32")

    first, overheads, counts = new_models(x, y, args.repeats)
    print("1. Classifier([4, (32, 'relu'), 3]), 50 updates on iris, one process")
    print("   first model: {:.2f} s to train".format(first))
    print(
        "   later new models: overhead over their updates {} s".format(
            ", ".join("{:.3f}".format(o) for o in overheads)
        )
        + " (max {:.3f} s; target <= 0.1)".format(max(overheads))
    )
    print("   compiles for them: {}".format(counts))

    ours, theirs = estimator_fits(x, y, args.repeats)
    print("2. fit on iris, per fit after the first (median of {})".format(args.repeats))
    print(
        "   NetworkClassifier {:.3f} s, MLPClassifier {:.3f} s: ratio {:.2f} (target <= 3)".format(
            np.median(ours), np.median(theirs), np.median(ours) / np.median(theirs)
        )
    )

    print("3. GridSearchCV, 3 folds x 2 settings, iris (median of {})".format(args.repeats))
    for n_jobs, (ours, theirs) in grids(x, y, args.repeats).items():
        print(
            "   n_jobs={}: NetworkClassifier {:.2f} s, MLPClassifier {:.2f} s: "
            "ratio {:.2f} (target <= 5); all theanets runs {}".format(
                n_jobs,
                np.median(ours),
                np.median(theirs),
                np.median(ours) / np.median(theirs),
                ", ".join("{:.2f}".format(t) for t in ours),
            )
        )


if __name__ == "__main__":
    main()
