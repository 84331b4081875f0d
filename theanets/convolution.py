"""Convolution models: feedforward models whose input is a batch of images.

Inputs are 4-D arrays ``(examples, width, height, channels)``; outputs stay
2-D (regression) or 1-D labels (classification), so a ``'flat'`` layer is
needed before the dense output layer.

The convolution and pooling layers (``conv2``, ``pool2``; ``conv1`` and
``pool1`` for ``(examples, time, channels)`` data) are in
:mod:`theanets.layers.convolution`.

Examples
--------
>>> import numpy as np
>>> import theanets
>>> net = theanets.convolution.Classifier([
...     (6, 5, 3), dict(form='conv2', size=4, filter_size=(3, 2)), 'pool2', 'flat', 3])
>>> [layer.output_shape for layer in net.layers]
[(6, 5, 3), (4, 4, 4), (2, 2, 4), (16,), (3,)]
>>> net.predict(np.zeros((2, 6, 5, 3), dtype='float32')).shape
(2,)
"""

from . import feedforward

__all__ = ["Regressor", "Classifier"]


class Regressor(feedforward.Regressor):
    """A regressor whose input is 4-D (examples, width, height, channels)."""

    INPUT_NDIM = 4


class Classifier(feedforward.Classifier):
    """A classifier whose input is 4-D (examples, width, height, channels)."""

    INPUT_NDIM = 4
