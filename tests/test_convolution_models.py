"""Tests of theanets.convolution models: convolution and pooling layers inside
trained models, and their round trip through saving."""

import numpy as np
import pytensor
import pytest
from sklearn.datasets import load_digits

import theanets

TOL = dict(rtol=1e-5, atol=1e-5)


def _digits():
    """scikit-learn's 8x8 digits as (examples, 8, 8, 1) images in [0, 1]."""
    digits = load_digits()
    order = np.random.RandomState(0).permutation(len(digits.images))
    x = (digits.images[order] / 16).astype("float32")[..., None]
    return x, digits.target[order].astype("int32")


@pytest.mark.slow  # ~15 s with a warm compile cache; minutes for a cold one
def test_conv2_pool2_classifier_on_digits():
    # Same-border 3x3 convolution keeps the 8x8 images; 2x2 pooling -> 4x4x16.
    x, y = _digits()
    train, valid, test = slice(0, 1200), slice(1200, 1500), slice(1500, None)
    net = theanets.convolution.Classifier(
        [
            (8, 8, 1),
            dict(form="conv2", size=16, filter_size=(3, 3), border_mode="same"),
            dict(form="pool2", pool_size=(2, 2)),
            "flat",
            10,
        ]
    )
    assert [layer.output_shape for layer in net.layers] == [
        (8, 8, 1),
        (8, 8, 16),
        (4, 4, 16),
        (256,),
        (10,),
    ]
    # Hundreds of mini-batches: the default (compiled) mode is much faster
    # here than the FAST_COMPILE mode of the semantics tests.
    with pytensor.config.change_flags(mode="FAST_RUN"):
        net.train(
            [x[train], y[train]],
            [x[valid], y[valid]],
            algo="adam",
            learning_rate=1e-2,
            batch_size=32,
            patience=5,
            max_updates=60,
            progress=False,
        )
        accuracy = net.score(x[test], y[test])
    assert accuracy >= 0.97, accuracy


def test_same_conv_and_strided_pool_model_trains_and_round_trips(tmp_path, rng):
    # A small classifier: bright left half (class 1) or not (class 0).
    x = rng.rand(40, 6, 6, 1).astype("float32")
    labels = rng.randint(0, 2, size=40).astype("int32")
    x[labels == 1, :, :3] += 1
    net = theanets.convolution.Classifier(
        [
            (6, 6, 1),
            dict(form="conv2", size=3, filter_size=(2, 2), border_mode="same"),
            dict(form="pool2", pool_size=(3, 3), stride=(1, 1)),
            "flat",
            2,
        ]
    )
    assert net.layers[1].output_shape == (6, 6, 3)
    assert net.layers[2].output_shape == (4, 4, 3)
    losses = [
        train["loss"]
        for train, _ in net.itertrain(
            [x, labels],
            algo="sgd",
            learning_rate=0.1,
            momentum=0.5,
            batch_size=40,
            max_updates=30,
            patience=100,
            progress=False,
        )
    ]
    assert losses[-1] < 0.8 * losses[0]
    assert net.score(x, labels) > 0.8

    for name in ("conv.pkl", "conv.npz"):
        net.save(str(tmp_path / name))
        copy = theanets.graph.Network.load(str(tmp_path / name))
        conv, pool = copy.layers[1], copy.layers[2]
        assert (conv.border_mode, conv.filter_size) == ("same", (2, 2))
        assert (pool.pool_size, pool.stride) == ((3, 3), (1, 1))
        np.testing.assert_allclose(copy.predict_proba(x), net.predict_proba(x), **TOL)


def test_conv1_same_and_pool1_stride_over_time(rng):
    # (examples, time, channels) data in a feedforward model: the time length
    # is kept by 'same' and reduced by overlapping pooling windows.
    net = theanets.Regressor(
        [
            (9, 2),
            dict(form="conv1", size=3, filter_size=4, border_mode="same"),
            dict(form="pool1", pool_size=3, stride=2, mode="mean"),
            "flat",
            1,
        ]
    )
    assert [layer.output_shape for layer in net.layers[1:3]] == [(9, 3), (4, 3)]
    x = rng.randn(5, 9, 2).astype("float32")
    outputs = net.feed_forward(x)
    assert outputs["hid1:out"].shape == (5, 9, 3)
    pooled = outputs["hid2:out"]
    conv = outputs["hid1:out"]
    expect = np.stack([conv[:, s : s + 3].mean(axis=1) for s in range(0, 7, 2)], axis=1)
    np.testing.assert_allclose(pooled, expect, **TOL)
