#!/usr/bin/env python
"""The scikit-learn estimators with default settings, beside scikit-learn's own.

Quality, not speed (``benchmarks/reuse.py`` times the fits): in one run,

- a 5-fold ``GridSearchCV`` of ``StandardScaler`` + ``NetworkClassifier``
  over ``hidden_l1`` on iris, and the same grid of ``MLPClassifier`` over
  ``alpha``: best mean CV accuracy of each;
- 3-fold ``cross_val_score`` R^2 on the diabetes data (unscaled targets) of
  ``StandardScaler`` + ``NetworkRegressor``, + ``MLPRegressor``, and of
  ``DummyRegressor``.

::

    python benchmarks/sklearn_defaults.py
"""

import time
import warnings

from sklearn.datasets import load_diabetes, load_iris
from sklearn.dummy import DummyRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from theanets.sklearn import NetworkClassifier, NetworkRegressor


def timed(label, run, *args):
    start = time.perf_counter()
    value = run(*args)
    print("{:<44} {:>7.3f}   ({:.1f} s)".format(label, value, time.perf_counter() - start))
    return value


def main():
    warnings.simplefilter("ignore", ConvergenceWarning)  # MLP's 200 passes on iris
    X, y = load_iris(return_X_y=True)
    print("iris, 5-fold grid search, best mean CV accuracy:")
    for label, estimator, grid in [
        (
            "  StandardScaler + NetworkClassifier()",
            NetworkClassifier(random_state=0),
            {"net__hidden_l1": [0.0, 1e-3]},
        ),
        (
            "  StandardScaler + MLPClassifier()",
            MLPClassifier(random_state=0),
            {"net__alpha": [1e-4, 1e-3]},
        ),
    ]:
        pipe = Pipeline([("scale", StandardScaler()), ("net", estimator)])
        timed(label, lambda p, g: GridSearchCV(p, g, cv=5).fit(X, y).best_score_, pipe, grid)

    X, y = load_diabetes(return_X_y=True)
    print("diabetes, 3-fold cross_val_score, mean R^2:")
    for label, estimator in [
        ("  StandardScaler + NetworkRegressor()", NetworkRegressor(random_state=0)),
        ("  StandardScaler + MLPRegressor()", MLPRegressor(random_state=0)),
    ]:
        pipe = Pipeline([("scale", StandardScaler()), ("net", estimator)])
        timed(label, lambda p: cross_val_score(p, X, y, cv=3).mean(), pipe)
    timed("  DummyRegressor()", lambda: cross_val_score(DummyRegressor(), X, y, cv=3).mean())


if __name__ == "__main__":
    main()
