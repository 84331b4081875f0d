"""Recurrent layers: sequences in, sequences out.

Every layer here takes 3-D data ``(batch, time, features)`` (use the models
of :mod:`theanets.recurrent`) and runs ``pytensor.scan`` over the time axis,
time-major inside. What they share -- initial states (``h_0``, ``c_0``,
``s_0``), the direction of the scan, truncated back-propagation, the
block-wise initialisation of weights and the shuffling between batch-major and
time-major layouts -- lives once, in :class:`Recurrent`; each layer adds its
parameters, a step function and its outputs.

Common keyword arguments (besides those of :class:`~theanets.layers.Layer`):

``h_0``
    Name of a graph output ``(batch, size)`` holding the initial hidden state,
    e.g. an ``Input`` layer made with ``ndim=2``; zeros by default.
``direction``
    A string containing ``'back'`` runs the scan from the last time step to
    the first. As in the original library, the outputs are then in reversed
    time order: they are **not** flipped back.
``bptt_limit``
    Back-propagate gradients through at most this many time steps
    (``truncate_gradient`` of scan); -1 (default) means all.
``radius``, ``radius_<p>``
    Rescale the square blocks of weight matrices to this spectral radius.
"""

from .base import Recurrent
from .bidirectional import Bidirectional
from .gated import GRU, LSTM, MUT1, SCRN
from .simple import BCRNN, MRNN, RNN, RRNN, Clockwork

__all__ = [
    "Recurrent",
    "RNN",
    "BCRNN",
    "RRNN",
    "MRNN",
    "LSTM",
    "GRU",
    "Clockwork",
    "MUT1",
    "SCRN",
    "Bidirectional",
]
