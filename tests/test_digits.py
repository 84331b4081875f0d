"""Training on real data: scikit-learn's handwritten digits."""

import numpy as np
import pytensor
from sklearn.datasets import load_digits

import theanets


def test_autoencoder_reconstructs_held_out_digits():
    digits = load_digits()
    order = np.random.RandomState(0).permutation(len(digits.data))
    x = (digits.data[order] / 16).astype("float32")
    train, valid, test = x[:1200], x[1200:1500], x[1500:]
    model = theanets.Autoencoder([64, (32, "relu"), (64, "tied")])
    # Hundreds of updates: compiled code (the default mode) is much faster
    # here than the FAST_COMPILE mode of the semantics tests.
    with pytensor.config.change_flags(mode="FAST_RUN"):
        model.train(
            [train],
            [valid],
            algo="adam",
            learning_rate=1e-2,
            batch_size=32,
            patience=5,
            max_updates=300,
        )
        assert model.score(test) >= 0.9
