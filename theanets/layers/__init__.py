"""Layers: the building blocks of a network.

``theanets.layers.Layer.build('ff', size=3, ...)`` or a string in a model's
layer spec finds a layer class by its lower-cased name or alias.
"""

from . import base, convolution, feedforward, recurrent
from .base import Concatenate, Flatten, Input, Layer, Product, Reshape
from .convolution import Conv1, Conv2, Pool1, Pool2
from .feedforward import Classifier, Feedforward, Tied
from .recurrent import GRU, LSTM, MRNN, MUT1, RNN, RRNN, SCRN, Bidirectional, Clockwork

__all__ = [
    "Layer",
    "Input",
    "Product",
    "Flatten",
    "Concatenate",
    "Reshape",
    "Feedforward",
    "Classifier",
    "Tied",
    "RNN",
    "RRNN",
    "MRNN",
    "LSTM",
    "GRU",
    "Clockwork",
    "MUT1",
    "SCRN",
    "Bidirectional",
]
__all__ += ["Conv1", "Conv2", "Pool1", "Pool2"]
