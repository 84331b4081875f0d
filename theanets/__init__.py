'''theanets: neural networks in Python, built on PyTensor.

A drop-in successor of the original Theano-based ``theanets``::

    import theanets
    model = theanets.Autoencoder([784, (64, 'relu'), (784, 'tied')])
    model.train([X], algo='rmsprop', hidden_l1=0.1, patience=5)
'''

import os as _os

# Old command lines set THEANO_FLAGS (e.g. floatX=float32); honour them when
# PYTENSOR_FLAGS is not set. This must happen before PyTensor is imported.
if 'THEANO_FLAGS' in _os.environ and 'PYTENSOR_FLAGS' not in _os.environ:
    _os.environ['PYTENSOR_FLAGS'] = _os.environ['THEANO_FLAGS']

from . import util  # noqa: E402
from . import activations  # noqa: E402
from . import layers  # noqa: E402
from . import losses  # noqa: E402
from . import regularizers  # noqa: E402
from . import graph  # noqa: E402
from . import feedforward  # noqa: E402
from . import downhill  # noqa: E402
from . import trainer  # noqa: E402
from . import main  # noqa: E402
from . import recurrent  # noqa: E402
from . import convolution  # noqa: E402
from . import data  # noqa: E402

from .activations import Activation  # noqa: E402
from .feedforward import Autoencoder, Regressor, Classifier  # noqa: E402
from .graph import Network  # noqa: E402
from .layers import Layer  # noqa: E402
from .losses import Loss  # noqa: E402
from .main import Experiment  # noqa: E402
from .regularizers import Regularizer  # noqa: E402
from .util import log  # noqa: E402

__version__ = '0.8.0'

__all__ = ['Activation', 'Autoencoder', 'Classifier', 'Experiment', 'Layer', 'Loss',
           'Network', 'Regressor', 'Regularizer', 'log']
