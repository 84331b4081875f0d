'''Recurrent models and helpers for sequence data.

Sequence data is 3-D: ``(examples, time steps, features)``; class labels are
2-D ``(examples, time steps)``.

The recurrent *layers* (``rnn``, ``lstm``, ``gru``, ...) that these models
hold are in :mod:`theanets.layers.recurrent`.
'''

import numpy as np

from . import feedforward
from . import util

__all__ = ['Autoencoder', 'Regressor', 'Classifier', 'batches', 'Text']


class Autoencoder(feedforward.Autoencoder):
    '''An autoencoder for sequences: 3-D inputs and outputs.'''

    INPUT_NDIM = 3
    OUTPUT_NDIM = 3


class Regressor(feedforward.Regressor):
    '''A regressor for sequences: 3-D inputs and targets.'''

    INPUT_NDIM = 3
    OUTPUT_NDIM = 3


class Classifier(feedforward.Classifier):
    '''A classifier of every time step of sequences: 3-D inputs, 2-D labels.'''

    INPUT_NDIM = 3
    OUTPUT_NDIM = 2

    def predict_sequence(self, labels, steps, streams=1, rng=None):
        '''Generate labels that continue a seed sequence, one step at a time.

        Parameters
        ----------
        labels : list of int
            The seed sequence.
        steps : int
            How many labels to generate.
        streams : int
            Number of sequences generated in parallel (1 or 2).
        rng : None, int or RandomState
            Source of the random draws.

        Yields
        ------
        The next label (or, with ``streams > 1``, a list of labels).

        Raises
        ------
        IndexError
            Where the original failed: with ``streams > 2`` and fewer seed
            labels than streams (see the notes).

        Notes
        -----
        Reproduces the original exactly, including its quirks: the model is
        shown the whole zero-padded sequences and the probabilities at the
        last time step are sampled; and at step ``i`` (counting the seed)
        only the first ``i`` of the parallel sequences are predicted (the
        original sliced the batch axis), so with ``1 < i < streams`` the
        original failed with an IndexError. That error is raised here before
        anything is generated, with a clearer message.
        '''
        if rng is None or isinstance(rng, int):
            rng = np.random.RandomState(rng)
        batch = max(2, streams)
        if any(1 < i < batch for i in range(len(labels), len(labels) + steps)):
            raise IndexError(
                'predict_sequence: with streams={} the seed needs at least {} labels, not {}: '
                'at step i only the first i sequences are predicted (kept from the original, '
                'which failed here too)'.format(streams, batch, len(labels)))
        width = self.layers[0].output_size
        inputs = np.zeros((batch, len(labels) + steps, width), util.FLOAT)
        inputs[:, np.arange(len(labels)), labels] = 1
        for i in range(len(labels), len(labels) + steps):
            chosen = []
            for pdf in self.predict_proba(inputs[:i])[:, -1]:
                try:
                    label = rng.multinomial(1, pdf).argmax(axis=-1)
                except ValueError:
                    label = pdf.argmax(axis=-1)
                chosen.append(int(label))
            inputs[np.arange(batch), i, chosen] = 1
            yield chosen[0] if streams == 1 else chosen


def batches(arrays, steps=100, batch_size=64, rng=None):
    '''Make a callable that samples batches of sequences from long arrays.

    Parameters
    ----------
    arrays : list of ndarray
        Arrays of shape ``(time, features)`` with the same length.
    steps : int
        Length of each sampled sequence.
    batch_size : int
        Sequences per batch (at least 2).
    rng : None, int or RandomState
        Source of the random offsets.

    Returns
    -------
    A zero-argument callable returning one ``(batch_size, steps, features)``
    array per input array; each example starts at one random offset shared
    across the arrays.

    Examples
    --------
    >>> x = np.arange(40, dtype='float32').reshape(20, 2)
    >>> sample = batches([x], steps=5, batch_size=3, rng=0)
    >>> [a.shape for a in sample()]
    [(3, 5, 2)]
    '''
    if not isinstance(arrays, (list, tuple)) or not arrays:
        raise util.DataError('batches: arrays must be a non-empty list of arrays, not {}'.format(
            repr(arrays) if isinstance(arrays, (list, tuple)) else type(arrays).__name__))
    if batch_size < 2:
        raise util.ConfigurationError('batches: batch_size must be at least 2, not {}'.format(
            batch_size))
    if not isinstance(steps, (int, np.integer)) or steps < 1:
        raise util.ConfigurationError('batches: steps must be a positive whole number, '
                                      'not {!r}'.format(steps))
    for i, a in enumerate(arrays):
        if np.ndim(a) != 2:
            raise util.DataError('batches: array {} must be 2-D (time, features), but has '
                                 'shape {}'.format(i, np.shape(a)))
    lengths = [len(a) for a in arrays]
    if len(set(lengths)) > 1:
        raise util.DataError('batches: arrays must have the same number of time steps, '
                             'but have {}'.format(lengths))
    if len(arrays[0]) <= steps:
        raise util.DataError('batches: arrays have {} time steps, fewer than steps={} + 1'.format(
            len(arrays[0]), steps))
    if rng is None or isinstance(rng, int):
        rng = np.random.RandomState(rng)

    def sample():
        xs = [np.zeros((batch_size, steps, a.shape[1]), a.dtype) for a in arrays]
        for i in range(batch_size):
            offset = rng.randint(len(arrays[0]) - steps)
            for x, a in zip(xs, arrays):
                x[i] = a[offset:offset + steps]
        return xs

    return sample


class Text:
    '''A body of text, encoded as integer character codes.

    Parameters
    ----------
    text : str
        The text.
    alpha : str, optional
        The alphabet; by default the sorted characters occurring at least
        ``min_count`` times.
    min_count : int
        Minimum count of a character to be in the default alphabet.
    unknown : str
        Stands in for characters outside the alphabet (code 0).

    Examples
    --------
    >>> t = Text('hello world hello')
    >>> t.alpha
    ' ehlo'
    >>> t.encode('hole')
    [3, 5, 4, 2]
    >>> t.decode(t.encode('hole'))
    'hole'
    '''

    def __init__(self, text, alpha=None, min_count=2, unknown='\0'):
        self.unknown = unknown
        self.alpha = alpha
        if self.alpha is None:
            counts = {}
            for c in text:
                counts[c] = counts.get(c, 0) + 1
            self.alpha = ''.join(sorted(c for c, n in counts.items()
                                        if n >= min_count and c != unknown))
        self._rev_index = unknown + self.alpha
        self._fwd_index = {c: i for i, c in enumerate(self._rev_index)}
        self.text = ''.join(c if c in self._fwd_index else unknown for c in text)

    def encode(self, txt):
        '''The list of codes of the characters of ``txt`` (unknown -> 0).'''
        return [self._fwd_index.get(c, 0) for c in txt]

    def decode(self, enc):
        '''The string for a list of codes.'''
        return ''.join(self._rev_index[c] for c in enc)

    def classifier_batches(self, steps, batch_size, rng=None):
        '''A callable giving ``[one-hot inputs, next-character labels]`` batches.

        Inputs are float32 ``(batch_size, steps, 1 + len(alpha))``; labels
        are int32 ``(batch_size, steps)``, each the code of the next character.
        '''
        if not isinstance(steps, (int, np.integer)) or steps < 1:
            raise util.ConfigurationError('Text.classifier_batches: steps must be a positive '
                                          'whole number, not {!r}'.format(steps))
        if len(self.text) <= steps + 1:
            raise util.DataError('Text.classifier_batches: the text has {} characters; '
                                 'steps={} needs at least {}'.format(
                                     len(self.text), steps, steps + 2))
        if rng is None or isinstance(rng, int):
            rng = np.random.RandomState(rng)
        codes = np.array(self.encode(self.text), 'int32')
        width = 1 + len(self.alpha)

        def sample():
            inputs = np.zeros((batch_size, steps, width), 'float32')
            outputs = np.zeros((batch_size, steps), 'int32')
            for b in range(batch_size):
                offset = rng.randint(len(codes) - steps - 1)
                window = codes[offset:offset + steps + 1]
                inputs[b, np.arange(steps), window[:-1]] = 1
                outputs[b] = window[1:]
            return [inputs, outputs]

        return sample
