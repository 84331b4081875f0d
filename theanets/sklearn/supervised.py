"""The supervised estimators: NetworkClassifier and NetworkRegressor."""

import numpy as np
import scipy.special
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import validate_data

from .. import feedforward
from .. import losses as _losses
from .base import _ATTRIBUTES_DOC, _DTYPES, _PARAMS_DOC, _logging, _NetworkEstimator


class NetworkClassifier(ClassifierMixin, _NetworkEstimator):
    __doc__ = (
        """A neural-network classifier: a :class:`theanets.Classifier`
    trained with theanets, as a scikit-learn estimator.

    The output layer has one softmax unit per class; labels may be of any
    type scikit-learn accepts (ints, strings, ...).

    Parameters
    ----------
    """
        + _PARAMS_DOC.strip()
        + """
    loss : str
        ``'xe'`` (cross-entropy, the default) or ``'hinge'``.

    Attributes
    ----------
    classes_ : ndarray
        The class labels, sorted."""
        + _ATTRIBUTES_DOC
        + """

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from theanets.sklearn import NetworkClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = make_pipeline(StandardScaler(), NetworkClassifier(
    ...     layers=(16,), learning_rate=0.01, max_updates=30, random_state=0))
    >>> bool(clf.fit(X, y).score(X, y) > 0.9)
    True
    >>> clf.predict_proba(X[:2]).round(2).shape
    (2, 3)
    """
    )

    def __init__(
        self,
        layers=(100,),
        activation="relu",
        loss="xe",
        algo="adam",
        learning_rate=1e-3,
        batch_size="auto",
        max_updates=200,
        patience=10,
        min_improvement=0.0,
        validate_every=1,
        validation_fraction=0.0,
        weight_l1=0.0,
        weight_l2=0.0,
        hidden_l1=0.0,
        input_noise=0.0,
        hidden_noise=0.0,
        input_dropout=0.0,
        hidden_dropout=0.0,
        train_options=None,
        random_state=None,
        verbose=0,
    ):
        self.layers = layers
        self.activation = activation
        self.loss = loss
        self.algo = algo
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_updates = max_updates
        self.patience = patience
        self.min_improvement = min_improvement
        self.validate_every = validate_every
        self.validation_fraction = validation_fraction
        self.weight_l1 = weight_l1
        self.weight_l2 = weight_l2
        self.hidden_l1 = hidden_l1
        self.input_noise = input_noise
        self.hidden_noise = hidden_noise
        self.input_dropout = input_dropout
        self.hidden_dropout = hidden_dropout
        self.train_options = train_options
        self.random_state = random_state
        self.verbose = verbose

    @staticmethod
    def _loss_fits(cls):
        return issubclass(cls, _losses.CrossEntropy)

    def _labels(self, y):
        """Indices of the labels ``y`` in ``classes_`` (ValueError for others)."""
        index = np.searchsorted(self.classes_, y)
        index[index >= len(self.classes_)] = 0
        unknown = self.classes_[index] != y
        if unknown.any():
            raise ValueError(
                "{}: y holds labels {} that are not among classes_ {}".format(
                    type(self).__name__, np.unique(y[unknown]).tolist(), self.classes_.tolist()
                )
            )
        return index.astype("int32")

    def _build(self, X, classes):
        classes = np.unique(classes)
        if len(classes) < 2:
            raise ValueError(
                "{} needs samples of at least 2 classes to learn, but y has 1 class ({!r})".format(
                    type(self).__name__, classes.tolist()[0] if len(classes) else None
                )
            )
        self.classes_ = classes
        specs = [self._input_spec(X)] + self._hidden_specs() + [len(classes)]
        with _logging(self.verbose):  # theanets logs each layer
            self.model_ = feedforward.Classifier(
                specs, loss=self.loss.lower(), weighted=True, rng=self._seed
            )

    def fit(self, X, y, sample_weight=None):
        """Build a new classifier for ``X`` and the labels ``y`` and train it.

        Parameters
        ----------
        X : array-like or scipy.sparse matrix of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Class labels of any type.
        sample_weight : array-like of shape (n_samples,), optional
            Weights of the samples in the loss (weight 0 drops a sample).

        Returns
        -------
        self
        """
        self._start()
        X, y = validate_data(self, X, y, accept_sparse="csr", dtype=_DTYPES)
        check_classification_targets(y)
        weights = self._weights(sample_weight, X)
        self._build(X, y)
        labels = self._labels(y)
        return self._fit([X, labels, weights], stratify=labels)

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Train one more update (pass) on ``X`` and ``y``.

        The first call (or the first after :meth:`fit` was never called)
        builds the model; ``classes`` then lists every label that will ever
        be seen (default: those in ``y``). Later calls keep training the
        same model, with no early stopping.

        Returns
        -------
        self
        """
        first = not hasattr(self, "model_")
        if first:
            self._start()
        else:
            self._check_params()
        X, y = validate_data(self, X, y, accept_sparse="csr", dtype=_DTYPES, reset=first)
        check_classification_targets(y)
        weights = self._weights(sample_weight, X)
        if first:
            self._build(X, y if classes is None else classes)
            self.loss_curve_, self.validation_loss_curve_ = [], []
            self.best_validation_loss_ = None
            self.n_updates_ = 0
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(
                "{}: classes={} differs from classes_ {} of the first partial_fit call".format(
                    type(self).__name__, list(classes), self.classes_.tolist()
                )
            )
        X = self._model_input(X)
        return self._partial_fit([X, self._labels(y), weights], 1)

    def decision_function(self, X):
        """Confidence scores: the output layer's values before the softmax.

        Returns
        -------
        ndarray of shape (n_samples, n_classes), float64; for two classes,
        shape (n_samples,): the score of ``classes_[1]`` minus that of
        ``classes_[0]`` (positive means ``classes_[1]``).
        """
        logits = self._logits(X)
        if len(self.classes_) == 2:
            return logits[:, 1] - logits[:, 0]
        return logits

    def _logits(self, X):
        X = self._check_X(X)
        return self._padded(self.model_.predict_logit, X).astype(np.float64)

    def predict_proba(self, X):
        """Class probabilities, shape (n_samples, n_classes), in the order of ``classes_``."""
        return scipy.special.softmax(self._logits(X), axis=1)

    def predict_log_proba(self, X):
        """Logarithms of :meth:`predict_proba`."""
        return scipy.special.log_softmax(self._logits(X), axis=1)

    def predict(self, X):
        """The most probable class of each sample (labels of ``classes_``)."""
        index = self._logits(X).argmax(axis=1)
        return self.classes_[index]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = False
        return tags


class NetworkRegressor(RegressorMixin, _NetworkEstimator):
    __doc__ = (
        """A neural-network regressor: a :class:`theanets.Regressor`
    trained with theanets, as a scikit-learn estimator.

    One linear output unit per target column; ``y`` may have one column or
    several. Neural networks learn best when the targets are of the order of
    1, so by default each target column is standardised (its mean
    subtracted, divided by its standard deviation, both taken from the
    data given to ``fit`` or the first ``partial_fit``) before training, and
    predictions are mapped back: unscaled targets (prices, counts) work as
    they are. The loss curves and ``model_`` are in standardised units.

    Parameters
    ----------
    """
        + _PARAMS_DOC.strip()
        + """
    loss : str
        ``'mse'`` (the default), ``'mae'``, or another theanets loss that
        compares outputs with real-valued targets.
    standardize_targets : bool
        Train on standardised targets and map predictions back (default
        True); False trains on ``y`` as given.

    Attributes
    ----------"""
        + _ATTRIBUTES_DOC
        + """
    n_outputs_ : int
        Number of target columns.
    y_mean_, y_scale_ : ndarray of shape (n_outputs,)
        What each target column was centred and divided by (0 and 1 with
        ``standardize_targets=False``; a constant column's scale is 1).

    Examples
    --------
    >>> import numpy as np
    >>> from theanets.sklearn import NetworkRegressor
    >>> X = np.random.RandomState(0).uniform(-1, 1, size=(100, 2))
    >>> y = X[:, 0] - 2 * X[:, 1]
    >>> reg = NetworkRegressor(layers=(16,), learning_rate=0.01, max_updates=50,
    ...                        random_state=0).fit(X, y)
    >>> reg.predict(X[:3]).shape
    (3,)
    >>> bool(reg.score(X, y) > 0.9)
    True
    """
    )

    _parameter_constraints: dict = dict(
        _NetworkEstimator._parameter_constraints, standardize_targets=["boolean"]
    )

    def __init__(
        self,
        layers=(100,),
        activation="relu",
        loss="mse",
        algo="adam",
        learning_rate=1e-3,
        batch_size="auto",
        max_updates=200,
        patience=10,
        min_improvement=0.0,
        validate_every=1,
        validation_fraction=0.0,
        weight_l1=0.0,
        weight_l2=0.0,
        hidden_l1=0.0,
        input_noise=0.0,
        hidden_noise=0.0,
        input_dropout=0.0,
        hidden_dropout=0.0,
        train_options=None,
        random_state=None,
        verbose=0,
        standardize_targets=True,
    ):
        self.standardize_targets = standardize_targets
        self.layers = layers
        self.activation = activation
        self.loss = loss
        self.algo = algo
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_updates = max_updates
        self.patience = patience
        self.min_improvement = min_improvement
        self.validate_every = validate_every
        self.validation_fraction = validation_fraction
        self.weight_l1 = weight_l1
        self.weight_l2 = weight_l2
        self.hidden_l1 = hidden_l1
        self.input_noise = input_noise
        self.hidden_noise = hidden_noise
        self.input_dropout = input_dropout
        self.hidden_dropout = hidden_dropout
        self.train_options = train_options
        self.random_state = random_state
        self.verbose = verbose

    def _targets(self, y, first, weights=None):
        """``y`` as a 2-d array, standardised; the first call records whether
        it was 1-d and (with ``standardize_targets``) each column's mean and
        scale."""
        if first:
            self._y_1d = y.ndim == 1
        y2 = y.reshape(-1, 1) if y.ndim == 1 else y
        if not first and y2.shape[1] != self.n_outputs_:
            raise ValueError(
                "{}: y has {} column(s), but the model was fitted with {}".format(
                    type(self).__name__, y2.shape[1], self.n_outputs_
                )
            )
        if first:
            if self.standardize_targets:
                # weighted by the sample weights, so that a sample of weight
                # 0 counts for nothing here either (it is left out of training)
                w = np.ones(len(y2)) if weights is None else np.asarray(weights, dtype=float)
                mean = np.average(y2, axis=0, weights=w)
                scale = np.sqrt(np.average((y2 - mean) ** 2, axis=0, weights=w))
                self.y_mean_ = mean
                self.y_scale_ = np.where(scale > 0, scale, 1.0)
            else:
                self.y_mean_ = np.zeros(y2.shape[1])
                self.y_scale_ = np.ones(y2.shape[1])
        return (y2 - self.y_mean_) / self.y_scale_

    def _build(self, X, y):
        self.n_outputs_ = y.shape[1]
        specs = [self._input_spec(X)] + self._hidden_specs() + [self.n_outputs_]
        with _logging(self.verbose):  # theanets logs each layer
            self.model_ = feedforward.Regressor(
                specs, loss=self.loss.lower(), weighted=True, rng=self._seed
            )

    def fit(self, X, y, sample_weight=None):
        """Build a new regressor for ``X`` and the targets ``y`` and train it.

        Parameters
        ----------
        X : array-like or scipy.sparse matrix of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), optional
            Weights of the samples in the loss (weight 0 drops a sample).

        Returns
        -------
        self
        """
        self._start()
        X, y = validate_data(
            self, X, y, accept_sparse="csr", dtype=_DTYPES, multi_output=True, y_numeric=True
        )
        weights = self._weights(sample_weight, X)
        y = self._targets(y, True, weights)
        self._build(X, y)
        return self._fit([X, y, np.repeat(weights[:, None], y.shape[1], axis=1)])

    def partial_fit(self, X, y, sample_weight=None):
        """Train one more update (pass) on ``X`` and ``y``; the first call
        builds the model. No early stopping.

        Returns
        -------
        self
        """
        first = not hasattr(self, "model_")
        if first:
            self._start()
        else:
            self._check_params()
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse="csr",
            dtype=_DTYPES,
            multi_output=True,
            y_numeric=True,
            reset=first,
        )
        weights = self._weights(sample_weight, X)
        y = self._targets(y, first, weights)
        if first:
            self._build(X, y)
            self.loss_curve_, self.validation_loss_curve_ = [], []
            self.best_validation_loss_ = None
            self.n_updates_ = 0
        X = self._model_input(X)
        return self._partial_fit([X, y, np.repeat(weights[:, None], y.shape[1], axis=1)], 1)

    def predict(self, X):
        """Predicted targets: shape (n_samples,) if ``y`` was 1-d in fit, else
        (n_samples, n_outputs); float64."""
        X = self._check_X(X)
        out = self._padded(self.model_.predict, X).astype(np.float64)
        out = out * self.y_scale_ + self.y_mean_
        return out[:, 0] if self._y_1d else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags
