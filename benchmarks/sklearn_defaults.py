#!/usr/bin/env python
"""The scikit-learn estimators with default settings, beside scikit-learn's own.

Quality, not speed (``benchmarks/reuse.py`` times the fits): in one run,

- a 5-fold ``GridSearchCV`` of ``StandardScaler`` + ``NetworkClassifier``
  over ``hidden_l1`` on iris, and the same grid of ``MLPClassifier`` over
  ``alpha``: best mean CV accuracy of each;
- 3-fold ``cross_val_score`` R^2 on the diabetes data (unscaled targets) of
  ``StandardScaler`` + ``NetworkRegressor``, + ``MLPRegressor``, and of
  ``DummyRegressor``.

Each neural estimator runs with ``random_state`` 0 to ``--seeds`` - 1 and
prints the mean and the range of its scores: on data this small one seed
moves a grid's best score by a few hundredths (iris, seeds 0-4:
NetworkClassifier 0.933-0.953, MLPClassifier 0.940-0.953), so a single
seed would compare the luck of two initializations.

::

    python benchmarks/sklearn_defaults.py [--seeds 5]
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.datasets import load_diabetes, load_iris
from sklearn.dummy import DummyRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from theanets.sklearn import NetworkClassifier, NetworkRegressor


def timed(label, run, seeds):
    """Print the mean and range of ``run(seed)`` over ``seeds``, and the time."""
    start = time.perf_counter()
    values = np.array([run(seed) for seed in seeds])
    print(
        "{:<40} {:>7.3f}   ({:.3f} to {:.3f}; {:.1f} s)".format(
            label, values.mean(), values.min(), values.max(), time.perf_counter() - start
        )
    )
    return values


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5, help="random_state 0 .. seeds-1")
    seeds = range(parser.parse_args(argv).seeds)
    warnings.simplefilter("ignore", ConvergenceWarning)  # MLP's 200 passes on iris
    X, y = load_iris(return_X_y=True)
    print("iris, 5-fold grid search, best mean CV accuracy (mean over seeds, range):")
    for label, make, grid in [
        (
            "  StandardScaler + NetworkClassifier()",
            NetworkClassifier,
            {"net__hidden_l1": [0.0, 1e-3]},
        ),
        ("  StandardScaler + MLPClassifier()", MLPClassifier, {"net__alpha": [1e-4, 1e-3]}),
    ]:

        def best(seed, make=make, grid=grid):
            pipe = Pipeline([("scale", StandardScaler()), ("net", make(random_state=seed))])
            return GridSearchCV(pipe, grid, cv=5).fit(X, y).best_score_

        timed(label, best, seeds)

    X, y = load_diabetes(return_X_y=True)
    print("diabetes, 3-fold cross_val_score, mean R^2 (mean over seeds, range):")
    for label, make in [
        ("  StandardScaler + NetworkRegressor()", NetworkRegressor),
        ("  StandardScaler + MLPRegressor()", MLPRegressor),
    ]:

        def r2(seed, make=make):
            pipe = Pipeline([("scale", StandardScaler()), ("net", make(random_state=seed))])
            return cross_val_score(pipe, X, y, cv=3).mean()

        timed(label, r2, seeds)
    timed(
        "  DummyRegressor()", lambda seed: cross_val_score(DummyRegressor(), X, y, cv=3).mean(), [0]
    )


if __name__ == "__main__":
    main()
