"""Recurrent models and helpers for sequence data.

Sequence data is 3-D: ``(examples, time steps, features)``; class labels are
2-D ``(examples, time steps)``.

The recurrent *layers* (``rnn``, ``lstm``, ``gru``, ...) that these models
hold are in :mod:`theanets.layers.recurrent`.

Stateful prediction
    ``y, state = model.predict(x, return_state=True)`` also returns the
    state every recurrent layer reached at the last time step, and
    ``model.predict(x2, state=state)`` continues from it: a sequence fed in
    chunks gives the outputs of one call on the whole sequence. The same
    keywords work for ``feed_forward``, ``predict_proba`` and
    ``predict_logit``.
Training with carried state
    ``model.train(stream_batches(...), carry_state=True)`` starts each batch
    from the state the previous batch of the same stream ended in (truncated
    back-propagation through time): see :func:`stream_batches`.
"""

from .data import StreamBatches, Text, batches, stream_batches
from .models import Autoencoder, Classifier, Regressor
from .state import State

__all__ = [
    "Autoencoder",
    "Regressor",
    "Classifier",
    "batches",
    "Text",
    "State",
    "StreamBatches",
    "stream_batches",
]

# The public classes keep the module path of the original (theanets.recurrent),
# which pickles and the safe format record.
for _cls in (Autoencoder, Regressor, Classifier, State, StreamBatches, Text):
    _cls.__module__ = __name__
del _cls
