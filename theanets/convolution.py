'''Convolution models: feedforward models whose input is a batch of images.

Inputs are 4-D arrays ``(examples, width, height, channels)``; outputs stay
2-D (regression) or 1-D labels (classification), so a ``'flat'`` layer is
needed before the dense output layer.

Note: the convolution and pooling *layers* (``conv1``, ``conv2``) are not
yet part of this release; these model classes work with the structural and
feedforward layers (e.g. ``[(6, 5, 3), 'flat', 2]``).
'''

from . import feedforward

__all__ = ['Regressor', 'Classifier']


class Regressor(feedforward.Regressor):
    '''A regressor whose input is 4-D (examples, width, height, channels).'''

    INPUT_NDIM = 4


class Classifier(feedforward.Classifier):
    '''A classifier whose input is 4-D (examples, width, height, channels).'''

    INPUT_NDIM = 4
