"""AutoencoderTransformer: an autoencoder as a scikit-learn transformer."""

import numbers

import numpy as np
import scipy.sparse
from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.metrics import r2_score
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from .. import checks, feedforward
from .base import _ATTRIBUTES_DOC, _DTYPES, _PARAMS_DOC, _logging, _NetworkEstimator


class AutoencoderTransformer(ClassNamePrefixFeaturesOutMixin, TransformerMixin, _NetworkEstimator):
    __doc__ = (
        """An autoencoder as a scikit-learn transformer: a
    :class:`theanets.Autoencoder` trained to reproduce ``X``, whose codes
    are the transformed data.

    ``transform`` gives the codes (the middle layer's activations by
    default), ``inverse_transform`` decodes codes back to the input space,
    and ``score`` is the R^2 of the reconstruction.

    Parameters
    ----------
    """
        + _PARAMS_DOC.strip()
        + """
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
    ----------"""
        + _ATTRIBUTES_DOC
        + """

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
    """
    )

    _parameter_constraints: dict = dict(
        _NetworkEstimator._parameter_constraints,
        code_layer=[None, numbers.Integral, str],
        tied=["boolean"],
    )

    def __init__(
        self,
        layers=(32,),
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
        code_layer=None,
        tied=False,
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
        self.code_layer = code_layer
        self.tied = tied

    def _check_params(self):
        super()._check_params()
        if not (
            self.code_layer is None
            or checks.is_count(self.code_layer)
            or isinstance(self.code_layer, str)
        ):
            self._fail("code_layer", "None, a layer index or a layer name", self.code_layer)
        if not isinstance(self.tied, (bool, np.bool_)):
            self._fail("tied", "True or False", self.tied)
        if self.tied and not self._hidden_specs():
            self._fail("layers", "at least one hidden layer when tied=True", self.layers)

    def _check_input(self, X, reset):
        X = validate_data(self, X, accept_sparse=("csr", "csc"), dtype=_DTYPES, reset=reset)
        # The reconstruction is compared with X: the model takes dense arrays.
        return X.toarray() if scipy.sparse.issparse(X) else X

    def _build(self, X):
        n = X.shape[1]
        hidden = self._hidden_specs()
        if self.tied:
            decoder = [("tied", self.activation) for _ in hidden[:-1]] + [("tied", "linear")]
            specs = [n] + hidden + decoder
        else:
            specs = [n] + hidden + [n]
        with _logging(self.verbose):  # theanets logs each layer
            self.model_ = feedforward.Autoencoder(
                specs, loss=self.loss.lower(), weighted=True, rng=self._seed
            )
        try:
            self._code_key = self.model_._find_output(self.code_layer)
        except KeyError as err:
            raise ValueError(
                "{}: code_layer={!r} is not a layer of the model (layers: {})".format(
                    type(self).__name__,
                    self.code_layer,
                    [layer.name for layer in self.model_.layers],
                )
            ) from err
        names = [layer.output_name for layer in self.model_.layers]
        if self._code_key not in names:
            raise ValueError(
                "{}: code_layer={!r} is not a layer of the model (layers: {})".format(
                    type(self).__name__,
                    self.code_layer,
                    [layer.name for layer in self.model_.layers],
                )
            )
        self._n_features_out = self.model_.layers[names.index(self._code_key)].output_size

    def fit(self, X, y=None, sample_weight=None):
        """Build a new autoencoder for ``X`` and train it to reproduce ``X``.

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
        """
        self._start()
        X = self._check_input(X, reset=True)
        weights = self._weights(sample_weight, X)
        self._build(X)
        return self._fit([X, np.repeat(weights[:, None], X.shape[1], axis=1)])

    def partial_fit(self, X, y=None, sample_weight=None):
        """Train one more update (pass) on ``X``; the first call builds the
        model. No early stopping.

        Returns
        -------
        self
        """
        first = not hasattr(self, "model_")
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
        """The codes of ``X``: shape (n_samples, n_codes), in X's float dtype."""
        check_is_fitted(self)
        X = self._check_input(X, reset=False)
        codes = self._padded(self.model_.encode, X, layer=self._code_key)
        return codes.astype(X.dtype, copy=False)

    def inverse_transform(self, X):
        """Decode codes ``X`` (shape (n_samples, n_codes)) to the input space."""
        check_is_fitted(self)
        Z = check_array(X, dtype=_DTYPES)
        if Z.shape[1] != self._n_features_out:
            raise ValueError(
                "{}.inverse_transform: X has {} features, but the codes of "
                "layer {!r} have {}".format(
                    type(self).__name__, Z.shape[1], self._code_key, self._n_features_out
                )
            )
        out = self._padded(self.model_.decode, Z, layer=self._code_key)
        return out.astype(Z.dtype, copy=False)

    def score(self, X, y=None, sample_weight=None):
        """R^2 of reconstructing ``X`` (features weighted by their variance,
        as :func:`sklearn.metrics.r2_score` with
        ``multioutput='variance_weighted'``)."""
        check_is_fitted(self)
        X = self._check_input(X, reset=False)
        out = self._padded(self.model_.predict, X).astype(np.float64)
        return r2_score(X, out, sample_weight=sample_weight, multioutput="variance_weighted")

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
