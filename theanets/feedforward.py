'''Feedforward models: Autoencoder, Regressor and Classifier.'''

import warnings

import numpy as np

from . import checks
from . import graph
from . import layers
from . import regularizers
from . import util

__all__ = ['Autoencoder', 'Regressor', 'Classifier']


def _shadow_autoencoder(model, specs):
    '''The shadow model of ``algo='pretrain'``: an :class:`Autoencoder`.'''
    return Autoencoder(layers=specs, rng=getattr(model, '_rng', 13))


class Autoencoder(graph.Network):
    '''A network trained to reproduce its input at its output.

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

    Raises
    ------
    ConfigurationError
        If the output layer's shape differs from the input layer's (the
        original library accepted such a model and failed when training).

    Examples
    --------
    A model with 10 inputs, a 20-unit hidden layer and 10 outputs:

    >>> import numpy as np
    >>> import theanets
    >>> model = theanets.Autoencoder([10, 20, 10])

    A tied autoencoder reuses the transposed encoding weights to decode; and
    with a linear hidden layer it learns the principal subspace (PCA):

    >>> tied = theanets.Autoencoder([10, 20, (10, 'tied')])
    >>> pca = theanets.Autoencoder([10, (5, 'linear'), (10, 'tied')])

    Predict, encode and decode:

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

    >>> inputs = np.random.RandomState(1).randn(64, 10).astype('float32')
    >>> train, valid = model.train([inputs], max_updates=10, validate_every=5)
    >>> sorted(train)
    ['err', 'loss']

    An ICA-like model: a sparsity penalty on the hidden layer.

    >>> ica = theanets.Autoencoder([10, (5, 'linear'), (10, 'tied')])
    >>> before = ica.score(inputs)
    >>> _ = ica.train([inputs], hidden_l1=0.1, max_updates=10, validate_every=5,
    ...               learning_rate=1e-2)
    >>> bool(ica.score(inputs) > before)
    True
    '''

    def __init__(self, layers=(), loss='mse', weighted=False, rng=13):
        super().__init__(layers=layers, loss=loss, weighted=weighted, rng=rng)
        if self.layers and loss:
            if not self.inputs:
                raise util.ConfigurationError(
                    'Autoencoder: the first layer must be an input layer')
            self._check_reconstruction()
            self.set_loss(loss, target=self.inputs[0], weighted=weighted)

    def _check_reconstruction(self):
        '''The output must have the input's shape: it is compared with the input.'''
        first, last = self.layers[0], self.layers[-1]
        a, b = first.output_shape, last.output_shape
        if len(a) != len(b) or any(x is not None and y is not None and x != y
                                   for x, y in zip(a, b)):
            raise util.ConfigurationError(
                'Autoencoder: output layer {!r} has shape {}, but input layer {!r} has shape '
                '{}; an autoencoder reproduces its input, so they must be equal'.format(
                    last.name, b, first.name, a))

    def _find_output(self, layer):
        '''Full output name for ``layer``: None (middle layer), index, name,
        output name or Layer.'''
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
        '''The graph's ``(outputs, updates)``; UnknownNameError unless it has ``key``.'''
        outputs, updates = self.build_graph(regularizers.from_kwargs(self, **kwargs))
        if key not in outputs:
            raise util.unknown_name('output', key, outputs)
        return outputs, updates

    def encode(self, x, layer=None, sample=False, **kwargs):
        '''Encode ``x``: the activations of an intermediate layer.

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

        Returns
        -------
        ndarray of encodings (uint8 samples if ``sample``).
        '''
        key = self._find_output(layer)
        self._graph(key, **kwargs)
        enc = self.feed_forward(x, **kwargs)[key]
        if sample:
            if enc.size and (enc.min() < 0 or enc.max() > 1):
                raise util.DataError(
                    '{}.encode(sample=True) draws 0/1 samples with the encodings as '
                    'probabilities, but {!r} has values from {:g} to {:g}, outside [0, 1] '
                    '(use a logistic layer)'.format(
                        type(self).__name__, key, float(enc.min()), float(enc.max())))
            return np.random.binomial(n=1, p=enc).astype(np.uint8)
        return enc

    def decode(self, z, layer=None, **kwargs):
        '''Decode codes ``z`` taken from ``layer`` (as in :meth:`encode`) to outputs.

        The decoding function is compiled once per layer; regularizer
        keyword arguments take effect only on that first compilation.
        '''
        key = self._find_output(layer)
        outputs, updates = self._graph(key, **kwargs)
        code = outputs[key]
        # A layer's 'pre' values (before the activation) have the shape of its 'out'.
        prefix, _, suffix = key.partition(':')
        source = [l for l in self.layers if l.name == prefix]
        shape = source[0].output_shape if len(source) == 1 and suffix in ('out', 'pre') \
            else None
        z = checks.prepare_one('{}.decode'.format(type(self).__name__),
                               checks.Expected('z', code.ndim, shape), z)
        fn = self._compile(('decode', key), [code], [outputs[self.layers[-1].output_name]],
                           updates)
        return fn(z)[0]

    _pretraining_model = _shadow_autoencoder

    def score(self, x, w=None, **kwargs):
        '''R^2 of reconstructing ``x``; the second argument is the weight array.'''
        return super().score(x, x, w=w, **kwargs)


class Regressor(graph.Network):
    '''A network that maps inputs to real-valued targets (default loss mse).

    Training data is ``[X, Y]`` (or ``[X, Y, W]`` with ``weighted=True``).

    Examples
    --------
    >>> import numpy as np
    >>> import theanets
    >>> net = theanets.Regressor([4, (8, 'tanh'), 2])
    >>> net.predict(np.zeros((5, 4), 'float32')).shape
    (5, 2)
    '''

    _pretraining_model = _shadow_autoencoder


class Classifier(graph.Network):
    '''A network that assigns one of K classes to each input (softmax output).

    Training data is ``[X, labels]`` with integer labels (or
    ``[X, labels, W]`` with ``weighted=True``); default loss ``'xe'``.

    Examples
    --------
    >>> import numpy as np
    >>> import theanets
    >>> net = theanets.Classifier([4, 8, 3])
    >>> x = np.random.RandomState(0).randn(5, 4).astype('float32')
    >>> net.predict(x).shape, net.predict_proba(x).shape
    ((5,), (5, 3))
    '''

    DEFAULT_OUTPUT_ACTIVATION = 'softmax'
    OUTPUT_NDIM = 1

    _pretraining_model = _shadow_autoencoder

    def __init__(self, layers=(), loss='xe', weighted=False, rng=13):
        super().__init__(layers=layers, loss=loss, weighted=weighted, rng=rng)

    def monitors(self, **kwargs):
        '''As :meth:`Network.monitors`, plus ``'acc'`` (accuracy of the first loss).'''
        result = super().monitors(**kwargs)
        if hasattr(self.losses[0], 'accuracy'):
            outputs, _ = self.build_graph(regularizers.from_kwargs(self, **kwargs))
            result.append(('acc', self.losses[0].accuracy(outputs)))
        return result

    def predict(self, x, **kwargs):
        '''The most probable class of each example (argmax of the output).'''
        return self.predict_proba(x, **kwargs).argmax(axis=-1)

    def predict_proba(self, x, **kwargs):
        '''Class probabilities: the output layer's values.'''
        return self.feed_forward(x, **kwargs)[self.layers[-1].output_name]

    def predict_logit(self, x, **kwargs):
        '''Values of the output layer before the softmax (its ``pre`` output).'''
        return self.feed_forward(x, **kwargs)[self.layers[-1].full_name('pre')]

    def classify(self, x, **kwargs):
        '''Deprecated alias of :meth:`predict`.'''
        warnings.warn('please use predict() instead of classify()', DeprecationWarning,
                      stacklevel=2)
        return self.predict(x, **kwargs)

    def score(self, x, y, w=None, **kwargs):
        '''Accuracy of predicting labels ``y``, weighted by ``w`` if given.'''
        caller = '{}.score'.format(type(self).__name__)
        predicted = self.predict(x, **kwargs)
        y, w = checks.prepare_scored(caller, predicted, y, w, dtype='int',
                                     classes=self.layers[-1].output_size)
        correct = y == predicted
        if w is not None:
            return (w * correct).sum() / w.sum()
        return correct.mean()
