"""Memory stays bounded: repeating train, itertrain, predict, score, encode
and decode on one network allocates nothing that lasts after the first round.

Measured with tracemalloc (Python allocations: graphs, compiled functions,
cached optimizers, and the Numba linker's dispatchers); the threshold is
loose. The original grew by about 3 MiB a round in PyTensor's default (Numba)
mode and not at all in FAST_COMPILE, where the fast tests run; the Numba
test compiles for seconds, so it is marked slow.
"""

import gc
import tracemalloc

import numpy as np
import pytensor
import pytest

import theanets

FLOAT = pytensor.config.floatX
X = np.random.RandomState(0).randn(60, 20).astype(FLOAT)
Y = np.random.RandomState(1).randn(60, 3).astype(FLOAT)

#: Growth allowed over the measured rounds, in bytes (one round of the
#: original, compiling everything again, left about 5 MiB behind).
SLACK = 512 * 1024


def _growth(round_, rounds=5):
    """Traced bytes gained over ``rounds`` rounds after two warm-up rounds."""
    round_()
    round_()
    gc.collect()
    tracemalloc.start()
    try:
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(rounds):
            round_()
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


def _autoencoder_round():
    net = theanets.Autoencoder([20, 10, 20])

    def round_():
        net.train([X], max_updates=5, batch_size=20)
        for _ in net.itertrain([X], max_updates=5, batch_size=20):
            pass
        net.predict(X)
        net.score(X)
        net.decode(net.encode(X))

    return round_


def test_autoencoder_rounds_do_not_grow():
    assert _growth(_autoencoder_round()) < SLACK


@pytest.mark.slow
def test_autoencoder_rounds_do_not_grow_with_numba():
    with pytensor.config.change_flags(mode="NUMBA"):
        assert _growth(_autoencoder_round(), rounds=4) < SLACK


@pytest.mark.parametrize("algo", ["layerwise", "pretrain"])
def test_pretrainer_rounds_do_not_grow(algo):
    net = theanets.Regressor([20, 8, 6, 3])
    data = [X] if algo == "pretrain" else [X, Y]

    def round_():
        net.train(data, algo=algo, max_updates=2, batch_size=20)
        net.predict(X)

    assert _growth(round_, rounds=3) < SLACK
