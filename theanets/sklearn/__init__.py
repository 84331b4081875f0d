"""scikit-learn estimators that build and train theanets models.

:class:`NetworkClassifier`, :class:`NetworkRegressor` and
:class:`AutoencoderTransformer` follow scikit-learn's conventions: the
constructor only stores its arguments, ``fit`` builds a new
:class:`theanets.Classifier`, :class:`theanets.Regressor` or
:class:`theanets.Autoencoder` whose input and output sizes come from the data,
and trains it; learned attributes end with ``_`` (``model_`` is the trained
theanets model). They work in pipelines, grid searches and cross-validation,
clone and pickle, and pass scikit-learn's estimator checks.

This module needs scikit-learn 1.6 or later; ``import theanets`` does not
import it.

Examples
--------
>>> import numpy as np
>>> from theanets.sklearn import NetworkClassifier
>>> rng = np.random.RandomState(0)
>>> X = rng.randn(60, 3)
>>> y = np.where(X[:, 0] > 0, 'yes', 'no')
>>> clf = NetworkClassifier(layers=(8,), learning_rate=0.05, max_updates=20,
...                         random_state=0).fit(X, y)
>>> clf.classes_.tolist()
['no', 'yes']
>>> bool(clf.score(X, y) > 0.9)
True
"""

from .autoencoder import AutoencoderTransformer
from .base import REGULARIZERS, expected_failed_checks
from .supervised import NetworkClassifier, NetworkRegressor

__all__ = [
    "NetworkClassifier",
    "NetworkRegressor",
    "AutoencoderTransformer",
    "expected_failed_checks",
    "REGULARIZERS",
]
