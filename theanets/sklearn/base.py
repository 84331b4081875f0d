"""What the estimators of :mod:`theanets.sklearn` share: parameter checks,
building the layer list, training with early stopping, quiet logging."""

import contextlib
import dataclasses
import logging
import math
import numbers
import sys
import threading

import numpy as np
import scipy.sparse

try:
    from sklearn.base import BaseEstimator
    from sklearn.model_selection import train_test_split
    from sklearn.utils._param_validation import Interval, StrOptions
    from sklearn.utils.validation import (
        _check_sample_weight,
        check_is_fitted,
        check_random_state,
        validate_data,
    )
except ImportError as _err:  # pragma: no cover - depends on the environment
    raise ImportError(
        'theanets.sklearn needs scikit-learn 1.6 or later (pip install "scikit-learn>=1.6"); '
        "importing it failed: {}".format(_err)
    ) from _err

from .. import checks as _checks
from .. import downhill as _downhill
from .. import layers as _layers
from .. import losses as _losses
from .. import options as _options
from .. import trainer as _trainer
from .. import util as _util
from ..downhill.hypers import Int, Real

#: Regularizer parameters of every estimator, passed to ``train`` when not 0.
REGULARIZERS = (
    "weight_l1",
    "weight_l2",
    "hidden_l1",
    "input_noise",
    "hidden_noise",
    "input_dropout",
    "hidden_dropout",
)

#: Most rows of one validation batch in ``fit``.
VALID_ROWS = 4096

#: ``batch_size='auto'``: mini-batches of ``min(AUTO_BATCH, rows)``, as
#: scikit-learn's ``MLPClassifier`` and ``MLPRegressor``.
AUTO_BATCH = 200

_DTYPES = (np.float64, np.float32)
# Prediction pads its input to a multiple of this many rows: BLAS rounds the
# rows of a float32 matrix product differently for different row counts, and
# a sample's prediction must not depend on the other samples in the call.
_ROWS = 64
_LOGGER = logging.getLogger("theanets")
_QUIET_LOCK = threading.Lock()
_QUIET = {"depth": 0, "level": logging.NOTSET}


def expected_failed_checks(estimator):
    """The scikit-learn estimator checks that cannot pass, with the reasons.

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
    >>> from theanets.sklearn import NetworkRegressor
    >>> sorted(expected_failed_checks(NetworkRegressor()))  # doctest: +NORMALIZE_WHITESPACE
    ['check_sample_weight_equivalence_on_dense_data',
     'check_sample_weight_equivalence_on_sparse_data']
    """
    reason = (
        "training is stochastic gradient descent: a sample of weight 2 and two copies of "
        "it fall into different mini-batches, and even in one batch the weighted and the "
        "repeated loss round differently in float32, so the models differ slightly"
    )
    return {
        "check_sample_weight_equivalence_on_dense_data": reason,
        "check_sample_weight_equivalence_on_sparse_data": reason,
    }


@contextlib.contextmanager
def _logging(verbose):
    """Silence the ``theanets`` logger (``verbose`` false) or show its INFO
    records on stderr (``verbose`` true) while training.

    Quiet sections may overlap (threads of a grid search): the level is set
    by the first one to enter and restored by the last one to leave.
    """
    if verbose:
        handler = None
        if not _LOGGER.hasHandlers():
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
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
        if _QUIET["depth"] == 0:
            _QUIET["level"] = _LOGGER.level
            _LOGGER.setLevel(max(logging.WARNING, _LOGGER.getEffectiveLevel()))
        _QUIET["depth"] += 1
    try:
        yield
    finally:
        with _QUIET_LOCK:
            _QUIET["depth"] -= 1
            if _QUIET["depth"] == 0:
                _LOGGER.setLevel(_QUIET["level"])


def _narrowed(name, **changes):
    """The constraint of training option ``name`` in the options table, with
    ``changes``: where an estimator accepts less than ``train``."""
    return dataclasses.replace(_options.option(name).constraint, **changes)


#: The constraints of the estimators' numeric parameters: for those that are
#: training options, the table's (:data:`theanets.options.TABLE`), narrowed
#: where the estimator accepts less: a learning rate of 0 never trains,
#: ``batch_size`` and ``max_updates`` count from 1 (train's "one batch of
#: everything" and "no limit" make no sense for an estimator), and
#: ``min_improvement`` is a fraction. The regularizer weights, which train
#: also takes as dicts, are numbers here.
CONSTRAINTS = dict(
    learning_rate=_narrowed("learning_rate", low_open=True),
    batch_size=_narrowed("batch_size", low=1),
    max_updates=_narrowed("max_updates", low=1, allow_none=False),
    validate_every=_options.option("validate_every").constraint,
    patience=_options.option("patience").constraint,
    min_improvement=_narrowed("min_improvement", high=1, high_open=True),
    validation_fraction=Real(0, 1, high_open=True),
    **{
        name: Real(0, 1, high_open=True) if name.endswith("dropout") else Real(0)
        for name in REGULARIZERS
    },
)


def _sklearn_constraint(constraint):
    """A table constraint as scikit-learn's ``_parameter_constraints`` write it."""
    if isinstance(constraint, Int):
        return [Interval(numbers.Integral, constraint.low, None, closed="left")]
    closed = ("both", "left", "right", "neither")[2 * constraint.low_open + constraint.high_open]
    return [Interval(numbers.Real, constraint.low, constraint.high, closed=closed)]


#: ``_parameter_constraints`` of the parameters every estimator has; the
#: numeric ones are made from :data:`CONSTRAINTS`.
PARAMETER_CONSTRAINTS = dict(
    {name: _sklearn_constraint(c) for name, c in CONSTRAINTS.items()},
    batch_size=_sklearn_constraint(CONSTRAINTS["batch_size"]) + [StrOptions({"auto"})],
    layers=["array-like", numbers.Integral],
    activation=[str],
    loss=[str],
    algo=[str],
    train_options=[dict, None],
    random_state=["random_state"],
    verbose=["verbose"],
)


def _is_auto(value):
    return isinstance(value, str) and value == "auto"


class _NetworkEstimator(BaseEstimator):
    """What the three estimators share: checking parameters, building the
    layer list, training, and converting input for prediction."""

    # ----- parameters -----------------------------------------------------

    _parameter_constraints: dict = PARAMETER_CONSTRAINTS

    def _fail(self, name, expected, value):
        raise ValueError(
            "{}: {} must be {}, not {!r}".format(type(self).__name__, name, expected, value)
        )

    def _check_params(self):
        """Check every constructor argument (scikit-learn checks them in fit,
        not in the constructor); raise ValueError naming the parameter."""
        name = type(self).__name__
        if not isinstance(self.algo, str) or self.algo.lower() not in _trainer.algo_names():
            self._fail("algo", "one of {}".format(", ".join(_trainer.algo_names())), self.algo)
        self._check_loss()
        if not isinstance(self.activation, str):
            self._fail("activation", 'the name of an activation (e.g. "relu")', self.activation)
        for param, constraint in CONSTRAINTS.items():
            if param == "batch_size" and _is_auto(self.batch_size):
                continue
            try:
                constraint.check(param, getattr(self, param))
            except _util.ConfigurationError as err:
                also = " or 'auto'" if param == "batch_size" else ""
                raise ValueError("{}: {}{}".format(name, err, also)) from None
        if self.validate_every > self.max_updates:
            raise ValueError(
                "{}: validate_every={} exceeds max_updates={}: no update would be validated, "
                "so training would keep the initial parameters".format(
                    name, self.validate_every, self.max_updates
                )
            )
        if self.train_options is not None and not isinstance(self.train_options, dict):
            self._fail(
                "train_options", "None or a dict of further train() keywords", self.train_options
            )
        reserved = set(self._train_kwargs(0, with_options=False)) | {"max_updates"}
        clash = sorted(reserved & set(self.train_options or {}))
        if clash:
            raise ValueError(
                "{}: train_options must not set {} (they are parameters of the "
                "estimator: set them directly)".format(name, ", ".join(clash))
            )
        self._hidden_specs()

    def _check_loss(self):
        choices = _losses.Loss.names(where=self._loss_fits)
        if not isinstance(self.loss, str) or self.loss.lower() not in choices:
            self._fail("loss", "one of {}".format(", ".join(choices)), self.loss)

    @staticmethod
    def _loss_fits(cls):
        """Whether a loss class suits the estimator (its targets' kind)."""
        return not issubclass(cls, _losses.CrossEntropy)

    def _hidden_specs(self):
        """The hidden-layer specs of ``layers``, with ``activation`` filled in.

        An int is a layer of that many units; a tuple or dict is a theanets
        layer spec (see :meth:`theanets.Network.add_layer`) and takes
        ``activation`` unless it names one.
        """
        specs = self.layers
        if _checks.is_count(specs):
            specs = (specs,)
        if not isinstance(specs, (list, tuple)):
            self._fail("layers", "a sequence of hidden-layer specs such as (64, 32)", specs)
        result = []
        for spec in specs:
            if _checks.is_count(spec):
                if spec < 1:
                    self._fail("layers", "a sequence of positive sizes or layer specs", specs)
                result.append(dict(size=int(spec), activation=self.activation))
            elif isinstance(spec, (tuple, list)):
                named = any(
                    isinstance(item, str) and not _layers.Layer.is_registered(item) for item in spec
                )
                result.append(tuple(spec) if named else tuple(spec) + (self.activation,))
            elif isinstance(spec, dict):
                result.append(dict({"activation": self.activation}, **spec))
            elif isinstance(spec, str):
                result.append(spec)
            else:
                self._fail(
                    "layers",
                    "a sequence of ints, tuples or dicts (a theanets Layer "
                    "instance cannot be reused: every fit builds a new model)",
                    specs,
                )
        return result

    def _batch_size(self, rows):
        """The mini-batch size for ``rows`` training rows: ``batch_size``, or
        ``min(200, rows)`` for ``'auto'``."""
        return min(AUTO_BATCH, max(1, rows)) if _is_auto(self.batch_size) else self.batch_size

    def _train_kwargs(self, seed, rows=AUTO_BATCH, with_options=True):
        kwargs = dict(
            algo=self.algo,
            learning_rate=self.learning_rate,
            batch_size=self._batch_size(rows),
            patience=self.patience,
            min_improvement=self.min_improvement,
            validate_every=self.validate_every,
            rng=seed,
            progress=bool(self.verbose),
        )
        for reg in REGULARIZERS:
            if getattr(self, reg):
                kwargs[reg] = getattr(self, reg)
        if with_options:
            kwargs.update(self.train_options or {})
        return kwargs

    # ----- data -----------------------------------------------------------

    def _input_spec(self, X):
        if scipy.sparse.issparse(X):
            return dict(size=X.shape[1], sparse="csr")
        return X.shape[1]

    def _model_input(self, X):
        """``X`` in the form the model's input layer takes (dense or csr)."""
        sparse = getattr(self.model_.layers[0], "sparse", False)
        if sparse and not scipy.sparse.issparse(X):
            return scipy.sparse.csr_matrix(X)
        if not sparse and scipy.sparse.issparse(X):
            return X.toarray()
        return X

    def _padded(self, function, X, **kwargs):
        """``function(X)`` computed on X padded with zero rows to a multiple of
        ``_ROWS`` rows, so that each row's result is the same in any batch."""
        n = X.shape[0]
        extra = -n % _ROWS
        if extra:
            if scipy.sparse.issparse(X):
                X = scipy.sparse.vstack(
                    [X, scipy.sparse.csr_matrix((extra, X.shape[1]), dtype=X.dtype)], format="csr"
                )
            else:
                X = np.concatenate([X, np.zeros((extra,) + X.shape[1:], X.dtype)])
        with _logging(self.verbose):  # theanets logs when it builds a graph
            return function(X, **kwargs)[:n]

    def _check_X(self, X):
        """Check ``X`` for prediction (fitted estimator, right feature count)."""
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse="csr", dtype=_DTYPES, reset=False)
        return self._model_input(X)

    @staticmethod
    def _weights(sample_weight, X):
        """Checked sample weights (ones if None); samples of weight zero are
        dropped by the caller, so no mini-batch has weights that sum to 0."""
        if sample_weight is None:
            return np.ones(X.shape[0])
        return _check_sample_weight(sample_weight, X, dtype=np.float64, ensure_non_negative=True)

    # ----- training -------------------------------------------------------

    def _split(self, n, stratify=None):
        """Indices of the training and validation samples."""
        if not self.validation_fraction:
            return np.arange(n), None
        n_valid = int(math.ceil(self.validation_fraction * n))
        if n_valid < 1 or n - n_valid < 1:
            raise ValueError(
                "{}: validation_fraction={} of {} samples leaves {} for training and {} for "
                "validation; each needs at least one sample (use validation_fraction=0 to "
                "validate on the training data)".format(
                    type(self).__name__, self.validation_fraction, n, n - n_valid, n_valid
                )
            )
        indices = np.arange(n)
        try:
            return train_test_split(
                indices, test_size=n_valid, random_state=self._seed, stratify=stratify
            )
        except ValueError:
            if stratify is None:
                raise
            # Too few samples of some class to stratify: split at random.
            return train_test_split(indices, test_size=n_valid, random_state=self._seed)

    def _fit(self, arrays, stratify=None):
        """Split, then train ``self.model_`` on ``arrays`` (input first, weights
        last) with early stopping; record the learning curves."""
        # Samples of weight 0 are left out, so that no mini-batch has weights
        # summing to 0 (sklearn's check refuses weights that are all 0).
        keep = arrays[-1].reshape(arrays[-1].shape[0], -1)[:, 0] > 0
        if not keep.all():
            arrays = [a[keep] for a in arrays]
            stratify = stratify[keep] if stratify is not None else None
        train_idx, valid_idx = self._split(arrays[0].shape[0], stratify)
        train = [a[train_idx] for a in arrays]
        valid = [a[valid_idx] for a in arrays] if valid_idx is not None else train
        kwargs = self._train_kwargs(self._seed, rows=train[0].shape[0])
        # theanets keeps the parameters of the best validation, and a
        # validation runs *before* each validate_every-th update: run one
        # more update, so that the state after the last one is validated too.
        limit = self.max_updates
        if limit % self.validate_every == 0:
            limit += 1
        self.loss_curve_ = []
        self.validation_loss_curve_ = []
        with _logging(self.verbose):
            valid = self._validation_set(valid, kwargs)
            for i, (train_monitors, valid_monitors) in enumerate(
                self.model_.itertrain(train, valid, max_updates=limit, **kwargs)
            ):
                if i % self.validate_every == 0:
                    self.validation_loss_curve_.append(valid_monitors["loss"])
                if i < self.max_updates:
                    self.loss_curve_.append(train_monitors["loss"])
        self.n_updates_ = len(self.loss_curve_)
        self.best_validation_loss_ = (
            min(self.validation_loss_curve_) if self.validation_loss_curve_ else None
        )
        return self

    def _validation_set(self, arrays, kwargs):
        """The validation data as one Dataset of large batches.

        ``train`` would validate in mini-batches of ``batch_size``: one
        compiled call per mini-batch at every validation, which was half the
        calls of a fit on small data (iris: 1005 of 2010). The loss of a
        batch of all rows (up to :data:`VALID_ROWS`) is the mean over the
        rows, where the mini-batches' mean weighted the last, smaller batch
        as much as the others.
        """
        name = "{}.fit (validation data)".format(type(self).__name__)
        prepared = _checks.prepare(name, self.model_._expected_variables(), arrays)
        rows = prepared[0].shape[0]
        return _downhill.Dataset(
            prepared,
            name="valid",
            batch_size=min(rows, max(kwargs["batch_size"], VALID_ROWS)),
            rng=kwargs["rng"],
        )

    def _partial_fit(self, arrays, updates):
        """Train ``updates`` more updates on ``arrays``, keeping the last
        parameters (no early stopping)."""
        keep = arrays[-1].reshape(arrays[-1].shape[0], -1)[:, 0] > 0
        if not keep.all():
            arrays = [a[keep] for a in arrays]
        kwargs = self._train_kwargs((self._seed + self.n_updates_) % 2**31, rows=arrays[0].shape[0])
        kwargs["patience"] = math.inf
        with _logging(self.verbose):
            steps = self.model_.itertrain(arrays, **kwargs)
            try:
                for i, (train_monitors, _) in enumerate(steps):
                    self.loss_curve_.append(train_monitors["loss"])
                    if i + 1 >= updates:
                        break
            finally:
                # Closing the generator keeps the current parameters
                # (training to the end would restore the best validated ones).
                steps.close()
        self.n_updates_ = len(self.loss_curve_)
        return self

    def _start(self):
        """Check the parameters and draw the seed of a new model."""
        self._check_params()
        self._seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


_PARAMS_DOC = """
    layers : sequence of int, tuple or dict
        The hidden layers, input side first: an int is a layer of that many
        units; a tuple or dict is a theanets layer spec (e.g. ``(64,
        'tanh')`` or ``dict(size=64, activation='tanh')``, see
        :meth:`theanets.Network.add_layer`). The input and output layers are
        sized from the data. Default ``(100,)`` (as scikit-learn's
        ``MLPClassifier``; ``AutoencoderTransformer``: ``(32,)``).
    activation : str
        The activation of hidden layers whose spec names none (default
        ``'relu'``; see :mod:`theanets.activations`).
    algo : str
        The optimizer (default ``'adam'``; see :func:`theanets.trainer.algo_names`).
    learning_rate : float
        Step size of the optimizer (default 1e-3).
    batch_size : int or 'auto'
        Samples per mini-batch. ``'auto'`` (the default, as scikit-learn's
        ``MLPClassifier``) is ``min(200, n_samples)``.
    max_updates : int
        Most passes over the training data (default 200, as
        ``MLPClassifier``'s ``max_iter``). One update of theanets is one
        pass (epoch) over the mini-batches.
    patience : int or float
        Validations without improvement before training stops (default 10,
        as ``MLPClassifier``'s ``n_iter_no_change``).
    min_improvement : float
        Relative improvement of the validation loss that counts (default 0).
    validate_every : int
        Updates between validations (default 1); at most ``max_updates``.
        The parameters kept at the end are those of the best validation: the
        state after the last update is validated if ``max_updates`` is a
        multiple of ``validate_every``, else the updates after the last
        validation are dropped (as theanets' ``train`` does).
    validation_fraction : float
        Fraction of the training samples held out for validation (stratified
        for a classifier where possible). 0 (the default) validates on the
        training data itself.
    weight_l1, weight_l2 : float
        Weights of L1 and L2 penalties on the weights (default 0). As in
        theanets, the penalty is the *mean* over weight matrices of the mean
        absolute (or squared) weight, so useful values are larger than
        scikit-learn's ``alpha``: 0.01 to 1.
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
        its progress messages go to stderr."""

_ATTRIBUTES_DOC = """
    model_ : theanets.Network
        The trained theanets model. It is built with ``weighted=True``, so
        its training data ends with an array of weights.
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
        The lowest validation loss (its parameters are the ones kept)."""
