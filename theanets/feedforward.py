"""Feedforward models: Autoencoder, Regressor and Classifier."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import checks, graph, layers, regularizers, util
from ._typing import Array, NDArray, Rng, Symbolic

__all__ = ["Autoencoder", "Regressor", "Classifier"]


def _shadow_autoencoder(model, specs):
    """The shadow model of ``algo='pretrain'``: an :class:`Autoencoder`."""
    return Autoencoder(layers=specs, rng=getattr(model, "_rng", 13))


class Autoencoder(graph.Network):
    """A network trained to reproduce its input at its output.

    The loss compares the output with the input itself, so training data is
    ``[X]`` (or ``[X, W]`` with ``weighted=True``, W shaped like X).

    Parameters
    ----------
    layers : sequence of layer specs
        As for :class:`theanets.graph.Network`; the output layer must have
        as many units as the input.
    loss : str
        The loss (default ``'mse'``).
    weighted : bool
        If True, training data includes per-value weights.
    rng : int or numpy.random.RandomState
        Seed of the initial parameters.

    Attributes
    ----------
    DEFAULT_OUTPUT_ACTIVATION : str
        ``'linear'``: the activation of the output layer when its spec names
        none (hidden layers default to ``'relu'``).
    INPUT_NDIM : int
        2: input data is a matrix, ``(examples, features)``.
    OUTPUT_NDIM : int
        2: the output (and so the reconstructed target, the input itself) is
        a matrix of the same shape.
    inputs : list
        Symbolic input variables, one per Input layer, in layer order.
    num_params : int
        Total number of parameter values.
    params : list
        All parameters (shared variables), in layer order.
    variables : list
        All symbolic data the training loss needs: the input, then the
        weights if ``weighted``.

    Raises
    ------
    ConfigurationError
        If the output layer's shape differs from the input layer's (the
        original library accepted such a model and failed when training).

    Notes
    -----
    An autoencoder has two stages. The *encoding* stage, the layers from the
    input up to a hidden "code" layer, maps an input ``x`` to a code
    ``z = f(x)``; the *decoding* stage, the layers after it, maps the code
    back to a reconstruction ``x_hat = g(z)``. Training makes ``x_hat``
    close to ``x`` (in mean squared error by default), and regularizers
    shape the code: a code layer smaller than the input forces a
    compression, a sparsity penalty (``hidden_l1``) makes few code values
    large. :meth:`encode` computes ``f``, :meth:`decode` computes ``g``, and
    :meth:`predict` both. With ``'tied'`` decoding layers the
    decoder reuses the encoder's weights, transposed, so the model has half
    the weights; ``[784, 256, 64, (256, 'tied'), (784, 'tied')]`` pairs each
    tied layer with its encoder partner.

    Two classical methods are linear autoencoders of this kind:

    - *PCA* (principal component analysis): a linear code layer with a tied
      decoder, ``Autoencoder([10, (5, 'linear'), (10, 'tied')])``, trained
      on the squared error, learns the subspace of the first 5 principal
      components of its input;
    - *ICA* (independent component analysis): the same model trained with a
      sparsity penalty on the code (``hidden_l1``) learns, among the
      rotations of that subspace, the one whose codes are sparse: for
      whitened mixtures of independent, sparse sources, the sources
      themselves (reconstruction ICA, Le et al. 2011).

    Examples
    --------
    A model with 10 inputs, a 20-unit hidden layer and 10 outputs:

    >>> import numpy as np
    >>> import theanets
    >>> model = theanets.Autoencoder([10, 20, 10])

    Predict, encode and decode (the code is the middle layer's output):

    >>> test = np.random.RandomState(0).rand(3, 10).astype('float32')
    >>> model.predict(test).shape
    (3, 10)
    >>> enc = model.encode(test)
    >>> enc.shape
    (3, 20)
    >>> model.decode(enc).shape
    (3, 10)

    Train it; ``train`` returns the monitor values of the last update. (By
    default training runs until the validation loss stops improving; here
    ``max_updates`` keeps the example short. Early stopping restores the
    best *validated* parameters, so validate often when updates are few.)

    >>> inputs = np.random.RandomState(1).randn(64, 10)
    >>> inputs = inputs.astype('float32')
    >>> train, valid = model.train([inputs], max_updates=10,
    ...                            validate_every=5)
    >>> sorted(train)
    ['err', 'loss']

    PCA: data near a 5-dimensional subspace of 10 dimensions. The linear
    tied autoencoder reconstructs it as well as its first 5 principal
    components do:

    >>> rng = np.random.RandomState(0)
    >>> x = rng.randn(300, 5) @ rng.randn(5, 10)
    >>> x = (x + 0.1 * rng.randn(300, 10)).astype('float32')
    >>> pca = theanets.Autoencoder([10, (5, 'linear'), (10, 'tied')])
    >>> _ = pca.train([x], algo='adam', learning_rate=3e-2,
    ...               batch_size=50, max_updates=30, validate_every=10)
    >>> centered = x - x.mean(axis=0)
    >>> values = np.linalg.svd(centered, compute_uv=False) ** 2
    >>> explained = values[:5].sum() / values.sum()  # best 5-D R^2
    >>> bool(abs(pca.score(x) - explained) < 0.01)
    True

    ICA: two independent, sparse (Laplace) sources, rotated. Trained with
    ``hidden_l1``, the same kind of model finds the sources: each code unit
    matches one of them (best absolute correlation 1), where the mixtures
    matched them at 0.8:

    >>> sources = rng.laplace(size=(500, 2))
    >>> turn = [[0.8, -0.6], [0.6, 0.8]]  # a rotation
    >>> mixed = (sources @ turn).astype('float32')
    >>> ica = theanets.Autoencoder([2, (2, 'linear'), (2, 'tied')])
    >>> _ = ica.train([mixed], algo='adam', learning_rate=3e-2,
    ...               hidden_l1=0.5, batch_size=50, max_updates=30,
    ...               validate_every=10)
    >>> def match(codes):  # best |corr| of each source with a code
    ...     r = np.corrcoef(sources.T, codes.T)[:2, 2:]
    ...     return np.abs(r).max(axis=1).round(1)
    >>> match(mixed)
    array([0.8, 0.8])
    >>> match(ica.encode(mixed))
    array([1., 1.])
    """

    def __init__(
        self, layers: Sequence[Any] = (), loss: str = "mse", weighted: bool = False, rng: Rng = 13
    ) -> None:
        super().__init__(layers=layers, loss=loss, weighted=weighted, rng=rng)
        if self.layers and loss:
            if not self.inputs:
                raise util.ConfigurationError("Autoencoder: the first layer must be an input layer")
            self._check_reconstruction()
            self.set_loss(loss, target=self.inputs[0], weighted=weighted)

    def _check_reconstruction(self):
        """The output must have the input's shape: it is compared with the input."""
        first, last = self.layers[0], self.layers[-1]
        a, b = first.output_shape, last.output_shape
        if len(a) != len(b) or any(
            x is not None and y is not None and x != y for x, y in zip(a, b, strict=True)
        ):
            raise util.ConfigurationError(
                "Autoencoder: output layer {!r} has shape {}, but input layer {!r} has shape "
                "{}; an autoencoder reproduces its input, so they must be equal".format(
                    last.name, b, first.name, a
                )
            )

    def _find_output(self, layer):
        """Full output name for ``layer``: None (middle layer), index, name,
        output name or Layer."""
        if layer is None:
            return self.layers[len(self.layers) // 2].output_name
        if checks.is_count(layer):
            return checks.find_layer(self.layers, layer).output_name
        if isinstance(layer, layers.Layer):
            return layer.output_name
        for candidate in self.layers:
            if candidate.name == layer:
                return candidate.output_name
        return layer

    def _graph(self, key, **kwargs):
        """The graph's ``(outputs, updates)``; UnknownNameError unless it has ``key``."""
        outputs, updates = self.build_graph(regularizers.from_kwargs(self, **kwargs))
        if key not in outputs:
            raise util.unknown_name("output", key, outputs)
        return outputs, updates

    def encode(
        self, x: Array, layer: str | int | None = None, sample: bool = False, **kwargs: Any
    ) -> NDArray:
        """Encode ``x``: the activations of an intermediate layer.

        Parameters
        ----------
        x : ndarray
            Input data.
        layer : None, int, str or Layer
            Which output: the middle layer by default, a layer index, a layer
            name, or a full output name such as ``'hid1:pre'``.
        sample : bool
            If True, draw binary samples with the encodings as probabilities
            (uses numpy's global random state; values must lie in [0, 1]).
        **kwargs
            Regularizers (``hidden_dropout=0.5``, ...) applied while
            encoding; see :func:`theanets.regularizers.from_kwargs`.

        Returns
        -------
        ndarray
            The encodings, one row per example (uint8 samples of 0 and 1 if
            ``sample``).

        Raises
        ------
        DataError
            If ``sample`` is True and an encoding lies outside [0, 1].
        UnknownNameError
            If ``layer`` names no output of the model.
        """
        key = self._find_output(layer)
        self._graph(key, **kwargs)
        enc = self._output(x, key, **kwargs)
        if sample:
            if enc.size and (enc.min() < 0 or enc.max() > 1):
                raise util.DataError(
                    "{}.encode(sample=True) draws 0/1 samples with the encodings as "
                    "probabilities, but {!r} has values from {:g} to {:g}, outside [0, 1] "
                    "(use a logistic layer)".format(
                        type(self).__name__, key, float(enc.min()), float(enc.max())
                    )
                )
            return np.random.binomial(n=1, p=enc).astype(np.uint8)
        return enc

    def decode(self, z: Array, layer: str | int | None = None, **kwargs: Any) -> NDArray:
        """Decode codes ``z`` taken from ``layer`` (as in :meth:`encode`) to outputs.

        The decoding function is compiled once per layer; regularizer
        keyword arguments take effect only on that first compilation.

        Parameters
        ----------
        z : ndarray
            Codes, one row per example, shaped like the output of
            ``encode(x, layer)``.
        layer : None, int, str or Layer
            Which output the codes stand for, as in :meth:`encode`: the
            middle layer by default.
        **kwargs
            Regularizers applied in the decoding stage; see
            :func:`theanets.regularizers.from_kwargs`.

        Returns
        -------
        ndarray
            The reconstructions: the output layer's values, one row per
            example.

        Raises
        ------
        UnknownNameError
            If ``layer`` names no output of the model.
        """
        key = self._find_output(layer)
        outputs, updates = self._graph(key, **kwargs)
        code = outputs[key]
        # A layer's 'pre' values (before the activation) have the shape of its 'out'.
        prefix, _, suffix = key.partition(":")
        source = [l for l in self.layers if l.name == prefix]
        shape = source[0].output_shape if len(source) == 1 and suffix in ("out", "pre") else None
        z = checks.prepare_one(
            "{}.decode".format(type(self).__name__), checks.Expected("z", code.ndim, shape), z
        )
        fn = self._compile(("decode", key), [code], [outputs[self.layers[-1].output_name]], updates)
        return fn(z)[0]

    _pretraining_model = _shadow_autoencoder

    def predict(self, x: Array, **kwargs: Any) -> NDArray:
        """Reconstruct ``x``: encode it and decode the codes.

        Parameters
        ----------
        x : ndarray (or scipy.sparse matrix for a sparse input)
            Input data, one row per example.
        **kwargs
            Regularizers (``hidden_dropout=0.5``, ``input_noise=0.1``, ...)
            applied while computing; see
            :func:`theanets.regularizers.from_kwargs`.

        Returns
        -------
        ndarray
            The reconstructions (the output layer's values), shaped like
            ``x``.
        """
        return super().predict(x, **kwargs)

    # The original's signature: the second argument is the weights, not targets.
    def score(  # type: ignore[override]
        self, x: Array, w: Array | None = None, **kwargs: Any
    ) -> float:
        """R^2 of reconstructing ``x``; the second argument is the weight array.

        ``1 - sum(w (x - xhat)^2) / sum(w (x - mean(x))^2)``, where ``xhat``
        is :meth:`predict` of ``x`` and ``mean(x)`` the mean of all its
        values. (As in the original library, the second positional argument
        is the weight array: ``score(x, labels)`` would weight by the labels.)

        Parameters
        ----------
        x : ndarray
            Input data, one row per example; also the target.
        w : ndarray, optional
            Weights shaped like ``x``; ones by default.
        **kwargs
            Regularizers applied while predicting; see
            :func:`theanets.regularizers.from_kwargs`.

        Returns
        -------
        float
            The weighted coefficient of determination: 1 for a perfect
            reconstruction, 0 for one no better than the mean value.
        """
        return super().score(x, x, w=w, **kwargs)


class Regressor(graph.Network):
    """A network that maps inputs to real-valued targets (default loss mse).

    Training data is ``[X, Y]`` (or ``[X, Y, W]`` with ``weighted=True``).

    Parameters
    ----------
    layers : sequence of layer specs
        As for :class:`theanets.graph.Network`: the input size first, the
        output size last.
    loss : str
        The loss (default ``'mse'``).
    weighted : bool
        If True, training data includes per-value weights shaped like Y.
    rng : int or numpy.random.RandomState
        Seed of the initial parameters.

    Attributes
    ----------
    DEFAULT_OUTPUT_ACTIVATION : str
        ``'linear'``: the activation of the output layer when its spec names
        none (hidden layers default to ``'relu'``).
    INPUT_NDIM : int
        2: input data is a matrix, ``(examples, features)``.
    OUTPUT_NDIM : int
        2: targets are a matrix, ``(examples, outputs)``.
    inputs : list
        Symbolic input variables, one per Input layer, in layer order.
    num_params : int
        Total number of parameter values.
    params : list
        All parameters (shared variables), in layer order.
    variables : list
        All symbolic data the training loss needs: inputs, targets, weights.

    Examples
    --------
    >>> import numpy as np
    >>> import theanets
    >>> net = theanets.Regressor([4, (8, 'tanh'), 2])
    >>> net.predict(np.zeros((5, 4), 'float32')).shape
    (5, 2)
    """

    _pretraining_model = _shadow_autoencoder


class Classifier(graph.Network):
    """A network that assigns one of K classes to each input (softmax output).

    Training data is ``[X, labels]`` with integer labels (or
    ``[X, labels, W]`` with ``weighted=True``); default loss ``'xe'``.

    Parameters
    ----------
    layers : sequence of layer specs
        As for :class:`theanets.graph.Network`: the input size first, the
        number of classes last.
    loss : str
        The loss (default ``'xe'``, cross-entropy).
    weighted : bool
        If True, training data includes a weight per example.
    rng : int or numpy.random.RandomState
        Seed of the initial parameters.

    Attributes
    ----------
    DEFAULT_OUTPUT_ACTIVATION : str
        ``'softmax'``: the activation of the output layer when its spec
        names none, so that outputs are class probabilities.
    INPUT_NDIM : int
        2: input data is a matrix, ``(examples, features)``.
    OUTPUT_NDIM : int
        1: labels are a vector of integer classes, one per example.
    inputs : list
        Symbolic input variables, one per Input layer, in layer order.
    num_params : int
        Total number of parameter values.
    params : list
        All parameters (shared variables), in layer order.
    variables : list
        All symbolic data the training loss needs: inputs, labels, weights.

    Examples
    --------
    >>> import numpy as np
    >>> import theanets
    >>> net = theanets.Classifier([4, 8, 3])
    >>> x = np.random.RandomState(0).randn(5, 4).astype('float32')
    >>> net.predict(x).shape, net.predict_proba(x).shape
    ((5,), (5, 3))
    """

    DEFAULT_OUTPUT_ACTIVATION = "softmax"
    OUTPUT_NDIM = 1

    _pretraining_model = _shadow_autoencoder

    def __init__(
        self, layers: Sequence[Any] = (), loss: str = "xe", weighted: bool = False, rng: Rng = 13
    ) -> None:
        super().__init__(layers=layers, loss=loss, weighted=weighted, rng=rng)

    def monitors(self, **kwargs: Any) -> list[tuple[str, Symbolic]]:
        """As :meth:`Network.monitors`, plus ``'acc'`` (accuracy of the first loss).

        Parameters
        ----------
        **kwargs
            Training options: ``monitors`` (glob patterns of output or
            parameter names mapped to levels) and regularizers, as for
            :meth:`train`.

        Returns
        -------
        list of (str, symbolic scalar)
            The named monitor expressions: those of
            :meth:`theanets.graph.Network.monitors`, then ``('acc',
            accuracy)`` when the first loss has an accuracy (cross-entropy
            and hinge losses).
        """
        result = super().monitors(**kwargs)
        if hasattr(self.losses[0], "accuracy"):
            outputs, _ = self.build_graph(regularizers.from_kwargs(self, **kwargs))
            result.append(("acc", self.losses[0].accuracy(outputs)))
        return result

    def predict(self, x: Array, **kwargs: Any) -> NDArray:
        """The most probable class of each example (argmax of the output).

        Parameters
        ----------
        x : ndarray (or scipy.sparse matrix for a sparse input)
            Input data, one row per example.
        **kwargs
            Regularizers applied while computing; see
            :func:`theanets.regularizers.from_kwargs`.

        Returns
        -------
        ndarray of int
            The class of each example, shape ``(examples,)``.
        """
        return self.predict_proba(x, **kwargs).argmax(axis=-1)

    def predict_proba(self, x: Array, **kwargs: Any) -> NDArray:
        """Class probabilities: the output layer's values.

        Parameters
        ----------
        x : ndarray (or scipy.sparse matrix for a sparse input)
            Input data, one row per example.
        **kwargs
            Regularizers applied while computing; see
            :func:`theanets.regularizers.from_kwargs`.

        Returns
        -------
        ndarray
            The probability of each class for each example, shape
            ``(examples, classes)``; each row sums to 1.
        """
        return self._output(x, self.layers[-1].output_name, **kwargs)

    def predict_logit(self, x: Array, **kwargs: Any) -> NDArray:
        """Values of the output layer before the softmax (its ``pre`` output).

        Parameters
        ----------
        x : ndarray (or scipy.sparse matrix for a sparse input)
            Input data, one row per example.
        **kwargs
            Regularizers applied while computing; see
            :func:`theanets.regularizers.from_kwargs`.

        Returns
        -------
        ndarray
            The logits of each class for each example, shape
            ``(examples, classes)``; their softmax is :meth:`predict_proba`.
        """
        return self._output(x, self.layers[-1].full_name("pre"), **kwargs)

    def classify(self, x: Array, **kwargs: Any) -> NDArray:
        """Deprecated alias of :meth:`predict`.

        Parameters
        ----------
        x : ndarray (or scipy.sparse matrix for a sparse input)
            Input data, one row per example.
        **kwargs
            As for :meth:`predict`.

        Returns
        -------
        ndarray of int
            The class of each example, as :meth:`predict` returns it (with a
            DeprecationWarning).
        """
        warnings.warn(
            "please use predict() instead of classify()", DeprecationWarning, stacklevel=2
        )
        return self.predict(x, **kwargs)

    def score(self, x: Array, y: Array, w: Array | None = None, **kwargs: Any) -> float:
        """Accuracy of predicting labels ``y``, weighted by ``w`` if given.

        Parameters
        ----------
        x : ndarray (or scipy.sparse matrix for a sparse input)
            Input data, one row per example.
        y : ndarray of int
            The true class of each example.
        w : ndarray, optional
            A weight per example; without it each example counts the same.
        **kwargs
            Regularizers applied while predicting; see
            :func:`theanets.regularizers.from_kwargs`.

        Returns
        -------
        float
            The fraction of examples whose class :meth:`predict` gets right
            (weighted: ``sum(w * correct) / sum(w)``).
        """
        caller = "{}.score".format(type(self).__name__)
        predicted = self.predict(x, **kwargs)
        labels, weights = checks.prepare_scored(
            caller, predicted, y, w, dtype="int", classes=self.layers[-1].output_size
        )
        correct = labels == predicted
        if weights is not None:
            return (weights * correct).sum() / weights.sum()
        return correct.mean()
