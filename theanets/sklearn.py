'''scikit-learn estimators that build and train theanets models.

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
'''

import contextlib
import logging
import math
import numbers
import sys
import threading

import numpy as np
import scipy.sparse
import scipy.special

try:
    from sklearn.base import (BaseEstimator, ClassifierMixin, ClassNamePrefixFeaturesOutMixin,
                              RegressorMixin, TransformerMixin)
    from sklearn.metrics import r2_score
    from sklearn.model_selection import train_test_split
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import (_check_sample_weight, check_array, check_is_fitted,
                                          check_random_state, validate_data)
except ImportError as _err:  # pragma: no cover - depends on the environment
    raise ImportError(
        'theanets.sklearn needs scikit-learn 1.6 or later (pip install "scikit-learn>=1.6"); '
        'importing it failed: {}'.format(_err)) from _err

from . import feedforward
from . import layers as _layers
from . import losses as _losses
from . import trainer as _trainer

__all__ = ['NetworkClassifier', 'NetworkRegressor', 'AutoencoderTransformer',
           'expected_failed_checks']

#: Regularizer parameters of every estimator, passed to ``train`` when not 0.
REGULARIZERS = ('weight_l1', 'weight_l2', 'hidden_l1', 'input_noise', 'hidden_noise',
                'input_dropout', 'hidden_dropout')

_DTYPES = (np.float64, np.float32)
# Prediction pads its input to a multiple of this many rows: BLAS rounds the
# rows of a float32 matrix product differently for different row counts, and
# a sample's prediction must not depend on the other samples in the call.
_ROWS = 64
_LOGGER = logging.getLogger('theanets')
_QUIET_LOCK = threading.Lock()
_QUIET = {'depth': 0, 'level': logging.NOTSET}


def expected_failed_checks(estimator):
    '''The scikit-learn estimator checks that cannot pass, with the reasons.

    For ``sklearn.utils.estimator_checks.check_estimator`` and
    ``parametrize_with_checks`` (their ``expected_failed_checks`` argument).

    Parameters
    ----------
    estimator : NetworkClassifier, NetworkRegressor or AutoencoderTransformer

    Returns
    -------
    dict
        Check name -> why it fails.

    Examples
    --------
    >>> sorted(expected_failed_checks(NetworkRegressor()))  # doctest: +NORMALIZE_WHITESPACE
    ['check_sample_weight_equivalence_on_dense_data',
     'check_sample_weight_equivalence_on_sparse_data']
    '''
    reason = ('training is stochastic gradient descent: a sample of weight 2 and two copies of '
              'it fall into different mini-batches, and even in one batch the weighted and the '
              'repeated loss round differently in float32, so the models differ slightly')
    return {'check_sample_weight_equivalence_on_dense_data': reason,
            'check_sample_weight_equivalence_on_sparse_data': reason}


@contextlib.contextmanager
def _logging(verbose):
    '''Silence the ``theanets`` logger (``verbose`` false) or show its INFO
    records on stderr (``verbose`` true) while training.

    Quiet sections may overlap (threads of a grid search): the level is set
    by the first one to enter and restored by the last one to leave.
    '''
    if verbose:
        handler = None
        if not _LOGGER.hasHandlers():
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter('%(asctime)s %(message)s', '%H:%M:%S'))
            _LOGGER.addHandler(handler)
        level = _LOGGER.level
        _LOGGER.setLevel(logging.INFO)
        try:
            yield
        finally:
            _LOGGER.setLevel(level)
            if handler is not None:
                _LOGGER.removeHandler(handler)
        return
    with _QUIET_LOCK:
        if _QUIET['depth'] == 0:
            _QUIET['level'] = _LOGGER.level
            _LOGGER.setLevel(logging.WARNING)
        _QUIET['depth'] += 1
    try:
        yield
    finally:
        with _QUIET_LOCK:
            _QUIET['depth'] -= 1
            if _QUIET['depth'] == 0:
                _LOGGER.setLevel(_QUIET['level'])


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value):
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


class _NetworkEstimator(BaseEstimator):
    '''What the three estimators share: checking parameters, building the
    layer list, training, and converting input for prediction.'''

    # ----- parameters -----------------------------------------------------

    def _fail(self, name, expected, value):
        raise ValueError('{}: {} must be {}, not {!r}'.format(
            type(self).__name__, name, expected, value))

    def _check_params(self):
        '''Check every constructor argument (scikit-learn checks them in fit,
        not in the constructor); raise ValueError naming the parameter.'''
        name = type(self).__name__
        if not isinstance(self.algo, str) or self.algo.lower() not in _trainer.algo_names():
            self._fail('algo', 'one of {}'.format(', '.join(_trainer.algo_names())), self.algo)
        self._check_loss()
        if not isinstance(self.activation, str):
            self._fail('activation', 'the name of an activation (e.g. "relu")', self.activation)
        if not _is_real(self.learning_rate) or not self.learning_rate > 0 or \
                not math.isfinite(self.learning_rate):
            self._fail('learning_rate', 'a positive number', self.learning_rate)
        if not _is_int(self.batch_size) or self.batch_size < 1:
            self._fail('batch_size', 'a positive int', self.batch_size)
        if not _is_int(self.max_updates) or self.max_updates < 1:
            self._fail('max_updates', 'a positive int', self.max_updates)
        if not _is_int(self.validate_every) or self.validate_every < 1:
            self._fail('validate_every', 'a positive int', self.validate_every)
        if not _is_real(self.patience) or not self.patience >= 0:
            self._fail('patience', 'a number >= 0 (validations without improvement)',
                       self.patience)
        if not _is_real(self.min_improvement) or not 0 <= self.min_improvement < 1:
            self._fail('min_improvement', 'a number in [0, 1) (relative improvement)',
                       self.min_improvement)
        if not _is_real(self.validation_fraction) or not 0 <= self.validation_fraction < 1:
            self._fail('validation_fraction', 'a number in [0, 1)', self.validation_fraction)
        for reg in REGULARIZERS:
            value = getattr(self, reg)
            limit = 1 if reg.endswith('dropout') else math.inf
            if not _is_real(value) or not 0 <= value < limit:
                self._fail(reg, 'a number in [0, 1)' if limit == 1 else 'a number >= 0', value)
        if self.train_options is not None and not isinstance(self.train_options, dict):
            self._fail('train_options', 'None or a dict of further train() keywords',
                       self.train_options)
        reserved = set(self._train_kwargs(0, with_options=False)) | {'max_updates'}
        clash = sorted(reserved & set(self.train_options or {}))
        if clash:
            raise ValueError('{}: train_options must not set {} (they are parameters of the '
                             'estimator: set them directly)'.format(name, ', '.join(clash)))
        self._hidden_specs()

    def _check_loss(self):
        choices = sorted(k for k, c in _losses.Loss._registry.items()
                         if c is not _losses.Loss and self._loss_fits(c))
        if not isinstance(self.loss, str) or self.loss.lower() not in choices:
            self._fail('loss', 'one of {}'.format(', '.join(choices)), self.loss)

    @staticmethod
    def _loss_fits(cls):
        '''Whether a loss class suits the estimator (its targets' kind).'''
        return not issubclass(cls, _losses.CrossEntropy)

    def _hidden_specs(self):
        '''The hidden-layer specs of ``layers``, with ``activation`` filled in.

        An int is a layer of that many units; a tuple or dict is a theanets
        layer spec (see :meth:`theanets.Network.add_layer`) and takes
        ``activation`` unless it names one.
        '''
        specs = self.layers
        if _is_int(specs):
            specs = (specs,)
        if not isinstance(specs, (list, tuple)):
            self._fail('layers', 'a sequence of hidden-layer specs such as (64, 32)', specs)
        result = []
        for spec in specs:
            if _is_int(spec):
                if spec < 1:
                    self._fail('layers', 'a sequence of positive sizes or layer specs', specs)
                result.append(dict(size=int(spec), activation=self.activation))
            elif isinstance(spec, (tuple, list)):
                named = any(isinstance(item, str) and not _layers.Layer.is_registered(item)
                            for item in spec)
                result.append(tuple(spec) if named else tuple(spec) + (self.activation,))
            elif isinstance(spec, dict):
                result.append(dict({'activation': self.activation}, **spec))
            elif isinstance(spec, str):
                result.append(spec)
            else:
                self._fail('layers', 'a sequence of ints, tuples or dicts (a theanets Layer '
                           'instance cannot be reused: every fit builds a new model)', specs)
        return result

    def _train_kwargs(self, seed, with_options=True):
        kwargs = dict(algo=self.algo, learning_rate=self.learning_rate,
                      batch_size=self.batch_size, patience=self.patience,
                      min_improvement=self.min_improvement,
                      validate_every=self.validate_every, rng=seed)
        for reg in REGULARIZERS:
            if getattr(self, reg):
                kwargs[reg] = getattr(self, reg)
        if with_options:
            kwargs.update(self.train_options or {})
        return kwargs

    # ----- data -----------------------------------------------------------

    def _input_spec(self, X):
        if scipy.sparse.issparse(X):
            return dict(size=X.shape[1], sparse='csr')
        return X.shape[1]

    def _model_input(self, X):
        '''``X`` in the form the model's input layer takes (dense or csr).'''
        sparse = getattr(self.model_.layers[0], 'sparse', False)
        if sparse and not scipy.sparse.issparse(X):
            return scipy.sparse.csr_matrix(X)
        if not sparse and scipy.sparse.issparse(X):
            return X.toarray()
        return X

    def _padded(self, function, X, **kwargs):
        '''``function(X)`` computed on X padded with zero rows to a multiple of
        ``_ROWS`` rows, so that each row's result is the same in any batch.'''
        n = X.shape[0]
        extra = -n % _ROWS
        if extra:
            if scipy.sparse.issparse(X):
                X = scipy.sparse.vstack([X, scipy.sparse.csr_matrix((extra, X.shape[1]),
                                                                    dtype=X.dtype)], format='csr')
            else:
                X = np.concatenate([X, np.zeros((extra,) + X.shape[1:], X.dtype)])
        with _logging(self.verbose):  # theanets logs when it builds a graph
            return function(X, **kwargs)[:n]

    def _check_X(self, X):
        '''Check ``X`` for prediction (fitted estimator, right feature count).'''
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse='csr', dtype=_DTYPES, reset=False)
        return self._model_input(X)

    @staticmethod
    def _weights(sample_weight, X):
        '''Checked sample weights (ones if None); samples of weight zero are
        dropped by the caller, so no mini-batch has weights that sum to 0.'''
        if sample_weight is None:
            return np.ones(X.shape[0])
        return _check_sample_weight(sample_weight, X, dtype=np.float64,
                                    ensure_non_negative=True)

    # ----- training -------------------------------------------------------

    def _split(self, n, stratify=None):
        '''Indices of the training and validation samples.'''
        if not self.validation_fraction:
            return np.arange(n), None
        n_valid = int(math.ceil(self.validation_fraction * n))
        if n_valid < 1 or n - n_valid < 1:
            raise ValueError(
                '{}: validation_fraction={} of {} samples leaves {} for training and {} for '
                'validation; each needs at least one sample (use validation_fraction=0 to '
                'validate on the training data)'.format(
                    type(self).__name__, self.validation_fraction, n, n - n_valid, n_valid))
        indices = np.arange(n)
        try:
            return train_test_split(indices, test_size=n_valid, random_state=self._seed,
                                    stratify=stratify)
        except ValueError:
            if stratify is None:
                raise
            # Too few samples of some class to stratify: split at random.
            return train_test_split(indices, test_size=n_valid, random_state=self._seed)

    def _fit(self, arrays, stratify=None):
        '''Split, then train ``self.model_`` on ``arrays`` (input first, weights
        last) with early stopping; record the learning curves.'''
        # Samples of weight 0 are left out, so that no mini-batch has weights
        # summing to 0 (sklearn's check refuses weights that are all 0).
        keep = arrays[-1].reshape(arrays[-1].shape[0], -1)[:, 0] > 0
        if not keep.all():
            arrays = [a[keep] for a in arrays]
            stratify = stratify[keep] if stratify is not None else None
        train_idx, valid_idx = self._split(arrays[0].shape[0], stratify)
        train = [a[train_idx] for a in arrays]
        valid = [a[valid_idx] for a in arrays] if valid_idx is not None else None
        kwargs = self._train_kwargs(self._seed)
        # theanets keeps the parameters of the best validation, and a
        # validation runs *before* each validate_every-th update: run one
        # more update, so that the state after the last one is validated too.
        limit = self.max_updates
        if limit % self.validate_every == 0:
            limit += 1
        self.loss_curve_ = []
        self.validation_loss_curve_ = []
        with _logging(self.verbose):
            for i, (train_monitors, valid_monitors) in enumerate(
                    self.model_.itertrain(train, valid, max_updates=limit, **kwargs)):
                if i % self.validate_every == 0:
                    self.validation_loss_curve_.append(valid_monitors['loss'])
                if i < self.max_updates:
                    self.loss_curve_.append(train_monitors['loss'])
        self.n_updates_ = len(self.loss_curve_)
        self.best_validation_loss_ = min(self.validation_loss_curve_) \
            if self.validation_loss_curve_ else None
        return self

    def _partial_fit(self, arrays, updates):
        '''Train ``updates`` more updates on ``arrays``, keeping the last
        parameters (no early stopping).'''
        keep = arrays[-1].reshape(arrays[-1].shape[0], -1)[:, 0] > 0
        if not keep.all():
            arrays = [a[keep] for a in arrays]
        kwargs = self._train_kwargs(self._seed + self.n_updates_)
        kwargs['patience'] = math.inf
        with _logging(self.verbose):
            steps = self.model_.itertrain(arrays, **kwargs)
            try:
                for i, (train_monitors, _) in enumerate(steps):
                    self.loss_curve_.append(train_monitors['loss'])
                    if i + 1 >= updates:
                        break
            finally:
                # Closing the generator keeps the current parameters
                # (training to the end would restore the best validated ones).
                steps.close()
        self.n_updates_ = len(self.loss_curve_)
        return self

    def _start(self):
        '''Check the parameters and draw the seed of a new model.'''
        self._check_params()
        self._seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


_PARAMS_DOC = '''
    layers : sequence of int, tuple or dict
        The hidden layers, input side first: an int is a layer of that many
        units; a tuple or dict is a theanets layer spec (e.g. ``(64,
        'tanh')`` or ``dict(size=64, activation='tanh')``, see
        :meth:`theanets.Network.add_layer`). The input and output layers are
        sized from the data. Default ``(32,)``.
    activation : str
        The activation of hidden layers whose spec names none (default
        ``'relu'``; see :mod:`theanets.activations`).
    algo : str
        The optimizer (default ``'adam'``; see :func:`theanets.trainer.algo_names`).
    learning_rate : float
        Step size of the optimizer (default 1e-3).
    batch_size : int
        Samples per mini-batch (default 32).
    max_updates : int
        Most passes over the training data (default 100). One update of
        theanets is one pass (epoch) over the mini-batches.
    patience : int or float
        Validations without improvement before training stops (default 5).
    min_improvement : float
        Relative improvement of the validation loss that counts (default 0).
    validate_every : int
        Updates between validations (default 1). The parameters kept at the
        end are those of the best validation.
    validation_fraction : float
        Fraction of the training samples held out for validation (stratified
        for a classifier where possible). 0 (the default) validates on the
        training data itself.
    weight_l1, weight_l2 : float
        Weights of L1 and L2 penalties on the weights (default 0).
    hidden_l1 : float
        Weight of an L1 penalty on hidden activations (sparsity; default 0).
    input_noise, hidden_noise : float
        Standard deviations of Gaussian noise added in training (default 0).
    input_dropout, hidden_dropout : float
        Dropout rates in training, in [0, 1) (default 0).
    train_options : dict, optional
        Further keywords of :meth:`theanets.Network.train` (``momentum``,
        ``max_gradient_norm``, ...); not those set by the parameters above.
    random_state : int, RandomState or None
        Seeds the initial parameters, the mini-batch order, noise, dropout and
        the validation split: the same seed gives the same model.
    verbose : int
        0 (default): the ``theanets`` logger is silenced while training; more:
        its progress messages go to stderr.'''

_ATTRIBUTES_DOC = '''
    model_ : theanets.Network
        The trained theanets model (always ``weighted=True``: training data is
        ``[X, y, w]``).
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of str
        Feature names seen in ``fit`` (only when X had string column names).
    n_updates_ : int
        Updates run (passes over the training data).
    loss_curve_ : list of float
        Training loss of each update.
    validation_loss_curve_ : list of float
        Validation loss of each validation (the first before any update).
    best_validation_loss_ : float
        The lowest validation loss (its parameters are the ones kept).'''


class NetworkClassifier(ClassifierMixin, _NetworkEstimator):
    __doc__ = '''A neural-network classifier: a :class:`theanets.Classifier`
    trained with theanets, as a scikit-learn estimator.

    The output layer has one softmax unit per class; labels may be of any
    type scikit-learn accepts (ints, strings, ...).

    Parameters
    ----------
    ''' + _PARAMS_DOC.strip() + '''
    loss : str
        ``'xe'`` (cross-entropy, the default) or ``'hinge'``.

    Attributes
    ----------
    classes_ : ndarray
        The class labels, sorted.''' + _ATTRIBUTES_DOC + '''

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
    '''


    def __init__(self, layers=(32,), activation='relu', loss='xe', algo='adam',
                 learning_rate=1e-3, batch_size=32, max_updates=100, patience=5,
                 min_improvement=0.0, validate_every=1, validation_fraction=0.0,
                 weight_l1=0.0, weight_l2=0.0, hidden_l1=0.0, input_noise=0.0,
                 hidden_noise=0.0, input_dropout=0.0, hidden_dropout=0.0,
                 train_options=None, random_state=None, verbose=0):
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
        '''Indices of the labels ``y`` in ``classes_`` (ValueError for others).'''
        index = np.searchsorted(self.classes_, y)
        index[index >= len(self.classes_)] = 0
        unknown = self.classes_[index] != y
        if unknown.any():
            raise ValueError('{}: y holds labels {} that are not among classes_ {}'.format(
                type(self).__name__, np.unique(y[unknown]).tolist(), self.classes_.tolist()))
        return index.astype('int32')

    def _build(self, X, classes):
        classes = np.unique(classes)
        if len(classes) < 2:
            raise ValueError(
                '{} needs samples of at least 2 classes to learn, but y has 1 class ({!r})'
                .format(type(self).__name__, classes.tolist()[0] if len(classes) else None))
        self.classes_ = classes
        specs = [self._input_spec(X)] + self._hidden_specs() + [len(classes)]
        with _logging(self.verbose):  # theanets logs each layer
            self.model_ = feedforward.Classifier(specs, loss=self.loss.lower(), weighted=True,
                                                 rng=self._seed)

    def fit(self, X, y, sample_weight=None):
        '''Build a new classifier for ``X`` and the labels ``y`` and train it.

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
        '''
        self._start()
        X, y = validate_data(self, X, y, accept_sparse='csr', dtype=_DTYPES)
        check_classification_targets(y)
        weights = self._weights(sample_weight, X)
        self._build(X, y)
        labels = self._labels(y)
        return self._fit([X, labels, weights], stratify=labels)

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        '''Train one more update (pass) on ``X`` and ``y``.

        The first call (or the first after :meth:`fit` was never called)
        builds the model; ``classes`` then lists every label that will ever
        be seen (default: those in ``y``). Later calls keep training the
        same model, with no early stopping.

        Returns
        -------
        self
        '''
        first = not hasattr(self, 'model_')
        if first:
            self._start()
        else:
            self._check_params()
        X, y = validate_data(self, X, y, accept_sparse='csr', dtype=_DTYPES, reset=first)
        check_classification_targets(y)
        weights = self._weights(sample_weight, X)
        if first:
            self._build(X, y if classes is None else classes)
            self.loss_curve_, self.validation_loss_curve_ = [], []
            self.best_validation_loss_ = None
            self.n_updates_ = 0
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError('{}: classes={} differs from classes_ {} of the first partial_fit '
                             'call'.format(type(self).__name__, list(classes),
                                           self.classes_.tolist()))
        X = self._model_input(X)
        return self._partial_fit([X, self._labels(y), weights], 1)

    def decision_function(self, X):
        '''Confidence scores: the output layer's values before the softmax.

        Returns
        -------
        ndarray of shape (n_samples, n_classes), float64; for two classes,
        shape (n_samples,): the score of ``classes_[1]`` minus that of
        ``classes_[0]`` (positive means ``classes_[1]``).
        '''
        logits = self._logits(X)
        if len(self.classes_) == 2:
            return logits[:, 1] - logits[:, 0]
        return logits

    def _logits(self, X):
        X = self._check_X(X)
        return self._padded(self.model_.predict_logit, X).astype(np.float64)

    def predict_proba(self, X):
        '''Class probabilities, shape (n_samples, n_classes), in the order of ``classes_``.'''
        return scipy.special.softmax(self._logits(X), axis=1)

    def predict_log_proba(self, X):
        '''Logarithms of :meth:`predict_proba`.'''
        return scipy.special.log_softmax(self._logits(X), axis=1)

    def predict(self, X):
        '''The most probable class of each sample (labels of ``classes_``).'''
        index = self._logits(X).argmax(axis=1)
        return self.classes_[index]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = False
        return tags


class NetworkRegressor(RegressorMixin, _NetworkEstimator):
    __doc__ = '''A neural-network regressor: a :class:`theanets.Regressor`
    trained with theanets, as a scikit-learn estimator.

    One linear output unit per target column; ``y`` may have one column or
    several. Neural networks learn best when the targets are of the order of
    1: scale them, e.g. with
    :class:`sklearn.compose.TransformedTargetRegressor` and a
    :class:`~sklearn.preprocessing.StandardScaler`.

    Parameters
    ----------
    ''' + _PARAMS_DOC.strip() + '''
    loss : str
        ``'mse'`` (the default), ``'mae'``, or another theanets loss that
        compares outputs with real-valued targets.

    Attributes
    ----------''' + _ATTRIBUTES_DOC + '''
    n_outputs_ : int
        Number of target columns.

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
    '''


    def __init__(self, layers=(32,), activation='relu', loss='mse', algo='adam',
                 learning_rate=1e-3, batch_size=32, max_updates=100, patience=5,
                 min_improvement=0.0, validate_every=1, validation_fraction=0.0,
                 weight_l1=0.0, weight_l2=0.0, hidden_l1=0.0, input_noise=0.0,
                 hidden_noise=0.0, input_dropout=0.0, hidden_dropout=0.0,
                 train_options=None, random_state=None, verbose=0):
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

    def _targets(self, y, first):
        '''``y`` as a 2-d array; the first call records whether it was 1-d.'''
        if first:
            self._y_1d = y.ndim == 1
        y2 = y.reshape(-1, 1) if y.ndim == 1 else y
        if not first and y2.shape[1] != self.n_outputs_:
            raise ValueError('{}: y has {} column(s), but the model was fitted with {}'.format(
                type(self).__name__, y2.shape[1], self.n_outputs_))
        return y2

    def _build(self, X, y):
        self.n_outputs_ = y.shape[1]
        specs = [self._input_spec(X)] + self._hidden_specs() + [self.n_outputs_]
        with _logging(self.verbose):  # theanets logs each layer
            self.model_ = feedforward.Regressor(specs, loss=self.loss.lower(), weighted=True,
                                                rng=self._seed)

    def fit(self, X, y, sample_weight=None):
        '''Build a new regressor for ``X`` and the targets ``y`` and train it.

        Parameters
        ----------
        X : array-like or scipy.sparse matrix of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), optional
            Weights of the samples in the loss (weight 0 drops a sample).

        Returns
        -------
        self
        '''
        self._start()
        X, y = validate_data(self, X, y, accept_sparse='csr', dtype=_DTYPES,
                             multi_output=True, y_numeric=True)
        weights = self._weights(sample_weight, X)
        y = self._targets(y, first=True)
        self._build(X, y)
        return self._fit([X, y, np.repeat(weights[:, None], y.shape[1], axis=1)])

    def partial_fit(self, X, y, sample_weight=None):
        '''Train one more update (pass) on ``X`` and ``y``; the first call
        builds the model. No early stopping.

        Returns
        -------
        self
        '''
        first = not hasattr(self, 'model_')
        if first:
            self._start()
        else:
            self._check_params()
        X, y = validate_data(self, X, y, accept_sparse='csr', dtype=_DTYPES,
                             multi_output=True, y_numeric=True, reset=first)
        weights = self._weights(sample_weight, X)
        y = self._targets(y, first)
        if first:
            self._build(X, y)
            self.loss_curve_, self.validation_loss_curve_ = [], []
            self.best_validation_loss_ = None
            self.n_updates_ = 0
        X = self._model_input(X)
        return self._partial_fit([X, y, np.repeat(weights[:, None], y.shape[1], axis=1)], 1)

    def predict(self, X):
        '''Predicted targets: shape (n_samples,) if ``y`` was 1-d in fit, else
        (n_samples, n_outputs); float64.'''
        X = self._check_X(X)
        out = self._padded(self.model_.predict, X).astype(np.float64)
        return out[:, 0] if self._y_1d else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


class AutoencoderTransformer(ClassNamePrefixFeaturesOutMixin, TransformerMixin,
                             _NetworkEstimator):
    __doc__ = '''An autoencoder as a scikit-learn transformer: a
    :class:`theanets.Autoencoder` trained to reproduce ``X``, whose codes
    are the transformed data.

    ``transform`` gives the codes (the middle layer's activations by
    default), ``inverse_transform`` decodes codes back to the input space,
    and ``score`` is the R^2 of the reconstruction.

    Parameters
    ----------
    ''' + _PARAMS_DOC.strip() + '''
    loss : str
        ``'mse'`` (the default), ``'mae'``, or another theanets loss that
        compares outputs with real-valued targets.
    code_layer : None, int or str
        The layer whose activations are the codes: None (default) for the
        middle layer, a layer index (0 is the input layer) or a layer name
        (``'hid1'``).
    tied : bool
        If True, ``layers`` are the encoder's layers only and the decoder
        mirrors them with tied (transposed) weights; the default builds the
        decoder from ``layers`` as given (so ``(32, 8, 32)`` is a deep
        autoencoder whose codes have 8 values).

    Attributes
    ----------''' + _ATTRIBUTES_DOC + '''

    Examples
    --------
    >>> import numpy as np
    >>> from theanets.sklearn import AutoencoderTransformer
    >>> X = np.random.RandomState(0).randn(100, 6)
    >>> ae = AutoencoderTransformer(layers=(3,), activation='linear', tied=True,
    ...                             learning_rate=0.01, max_updates=20, random_state=0)
    >>> codes = ae.fit_transform(X)
    >>> codes.shape, ae.inverse_transform(codes).shape
    ((100, 3), (100, 6))
    >>> ae.get_feature_names_out().tolist()
    ['autoencodertransformer0', 'autoencodertransformer1', 'autoencodertransformer2']
    '''


    def __init__(self, layers=(32,), activation='relu', loss='mse', algo='adam',
                 learning_rate=1e-3, batch_size=32, max_updates=100, patience=5,
                 min_improvement=0.0, validate_every=1, validation_fraction=0.0,
                 weight_l1=0.0, weight_l2=0.0, hidden_l1=0.0, input_noise=0.0,
                 hidden_noise=0.0, input_dropout=0.0, hidden_dropout=0.0,
                 train_options=None, random_state=None, verbose=0, code_layer=None,
                 tied=False):
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
        self.code_layer = code_layer
        self.tied = tied

    def _check_params(self):
        super()._check_params()
        if not (self.code_layer is None or _is_int(self.code_layer) or
                isinstance(self.code_layer, str)):
            self._fail('code_layer', 'None, a layer index or a layer name', self.code_layer)
        if not isinstance(self.tied, (bool, np.bool_)):
            self._fail('tied', 'True or False', self.tied)
        if self.tied and not self._hidden_specs():
            self._fail('layers', 'at least one hidden layer when tied=True', self.layers)

    def _check_input(self, X, reset):
        X = validate_data(self, X, accept_sparse=('csr', 'csc'), dtype=_DTYPES, reset=reset)
        # The reconstruction is compared with X: the model takes dense arrays.
        return X.toarray() if scipy.sparse.issparse(X) else X

    def _build(self, X):
        n = X.shape[1]
        hidden = self._hidden_specs()
        if self.tied:
            decoder = [('tied', self.activation) for _ in hidden[:-1]] + [('tied', 'linear')]
            specs = [n] + hidden + decoder
        else:
            specs = [n] + hidden + [n]
        with _logging(self.verbose):  # theanets logs each layer
            self.model_ = feedforward.Autoencoder(specs, loss=self.loss.lower(), weighted=True,
                                                  rng=self._seed)
        try:
            self._code_key = self.model_._find_output(self.code_layer)
        except KeyError as err:
            raise ValueError('{}: code_layer={!r} is not a layer of the model (layers: {})'
                             .format(type(self).__name__, self.code_layer,
                                     [layer.name for layer in self.model_.layers])) from err
        names = [layer.output_name for layer in self.model_.layers]
        if self._code_key not in names:
            raise ValueError('{}: code_layer={!r} is not a layer of the model (layers: {})'
                             .format(type(self).__name__, self.code_layer,
                                     [layer.name for layer in self.model_.layers]))
        self._n_features_out = self.model_.layers[names.index(self._code_key)].output_size

    def fit(self, X, y=None, sample_weight=None):
        '''Build a new autoencoder for ``X`` and train it to reproduce ``X``.

        Parameters
        ----------
        X : array-like or scipy.sparse matrix of shape (n_samples, n_features)
            (a sparse matrix is made dense).
        y : ignored
        sample_weight : array-like of shape (n_samples,), optional
            Weights of the samples in the loss (weight 0 drops a sample).

        Returns
        -------
        self
        '''
        self._start()
        X = self._check_input(X, reset=True)
        weights = self._weights(sample_weight, X)
        self._build(X)
        return self._fit([X, np.repeat(weights[:, None], X.shape[1], axis=1)])

    def partial_fit(self, X, y=None, sample_weight=None):
        '''Train one more update (pass) on ``X``; the first call builds the
        model. No early stopping.

        Returns
        -------
        self
        '''
        first = not hasattr(self, 'model_')
        if first:
            self._start()
        else:
            self._check_params()
        X = self._check_input(X, reset=first)
        weights = self._weights(sample_weight, X)
        if first:
            self._build(X)
            self.loss_curve_, self.validation_loss_curve_ = [], []
            self.best_validation_loss_ = None
            self.n_updates_ = 0
        return self._partial_fit([X, np.repeat(weights[:, None], X.shape[1], axis=1)], 1)

    def transform(self, X):
        '''The codes of ``X``: shape (n_samples, n_codes), in X's float dtype.'''
        check_is_fitted(self)
        X = self._check_input(X, reset=False)
        codes = self._padded(self.model_.encode, X, layer=self._code_key)
        return codes.astype(X.dtype, copy=False)

    def inverse_transform(self, X):
        '''Decode codes ``X`` (shape (n_samples, n_codes)) to the input space.'''
        check_is_fitted(self)
        Z = check_array(X, dtype=_DTYPES)
        if Z.shape[1] != self._n_features_out:
            raise ValueError('{}.inverse_transform: X has {} features, but the codes of '
                             'layer {!r} have {}'.format(type(self).__name__, Z.shape[1],
                                                         self._code_key, self._n_features_out))
        out = self._padded(self.model_.decode, Z, layer=self._code_key)
        return out.astype(Z.dtype, copy=False)

    def score(self, X, y=None, sample_weight=None):
        '''R^2 of reconstructing ``X`` (features weighted by their variance,
        as :func:`sklearn.metrics.r2_score` with
        ``multioutput='variance_weighted'``).'''
        check_is_fitted(self)
        X = self._check_input(X, reset=False)
        out = self._padded(self.model_.predict, X).astype(np.float64)
        return r2_score(X, out, sample_weight=sample_weight, multioutput='variance_weighted')

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ['float64', 'float32']
        return tags
