"""theanets: neural networks in Python, built on PyTensor.

A drop-in successor of the original Theano-based ``theanets``::

    import theanets
    model = theanets.Autoencoder([784, (64, 'relu'), (784, 'tied')])
    model.train([X], algo='rmsprop', hidden_l1=0.1, patience=5)
"""

import os as _os

# Old command lines set THEANO_FLAGS (e.g. floatX=float32); honour them when
# PYTENSOR_FLAGS is not set. This must happen before PyTensor is imported.
if "THEANO_FLAGS" in _os.environ and "PYTENSOR_FLAGS" not in _os.environ:
    _os.environ["PYTENSOR_FLAGS"] = _os.environ["THEANO_FLAGS"]

from . import (
    activations,
    convolution,
    data,
    downhill,
    feedforward,
    graph,
    layers,
    losses,
    main,
    recurrent,
    regularizers,
    trainer,
    util,
)
from .activations import Activation
from .feedforward import Autoencoder, Classifier, Regressor
from .graph import Network
from .layers import Layer
from .losses import Loss
from .main import Experiment
from .regularizers import Regularizer
from .util import log

__version__ = "0.8.0"

__all__ = [
    "Activation",
    "Autoencoder",
    "Classifier",
    "Experiment",
    "Layer",
    "Loss",
    "Network",
    "Regressor",
    "Regularizer",
    "log",
]
