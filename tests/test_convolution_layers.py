"""Tests of theanets.layers.convolution: Conv1, Conv2, Pool1, Pool2.

Values are checked against independent implementations: scipy.signal's and
numpy's true convolutions (kernels flipped, as Theano's conv2d; ``convolve``,
not ``correlate``, whose 'same' mode even disagrees with ``convolve`` on
where to put the extra zero of an even filter), and numpy reshapes and
sliding windows for pooling. Gradients are checked against finite
differences in float64. The shared per-layer checks (names, to_spec, pickle)
are in test_layers.py.
"""

import numpy as np
import pytensor
import pytest
import scipy.signal
from numpy.lib.stride_tricks import sliding_window_view

import theanets
from theanets import util
from theanets.ops.conv import border_pads, conv2d
from theanets.ops.pool import pool

TOL = dict(rtol=1e-5, atol=1e-5)  # float32 sums of a few dozen products


def _images(shape, seed=0):
    return np.random.RandomState(seed).randn(*shape).astype("float32")


def _conv2(input_shape, **kwargs):
    kwargs.setdefault("activation", "linear")
    return theanets.convolution.Regressor([input_shape, dict(form="conv2", **kwargs), "flat", 2])


def _scipy_conv2(x, w, b, mode, stride=(1, 1)):
    """Reference: per example, filter and channel, scipy's true 2-D convolution."""
    out = np.array(
        [
            [
                sum(
                    scipy.signal.convolve2d(img[:, :, c], w[k, c], mode=mode)
                    for c in range(img.shape[-1])
                )
                + b[k]
                for k in range(len(w))
            ]
            for img in x.astype("float64")
        ]
    )
    return out.transpose(0, 2, 3, 1)[:, :: stride[0], :: stride[1]]


# ----- shapes ----------------------------------------------------------------


@pytest.mark.parametrize(
    "mode,stride,shape",
    [
        ("valid", (1, 1), (4, 4, 2)),
        ("full", (1, 1), (8, 6, 2)),
        ("same", (1, 1), (6, 5, 2)),
        ("valid", (2, 3), (2, 2, 2)),
        ("full", (3, 2), (3, 3, 2)),
        ("same", (2, 2), (3, 3, 2)),
        ("same", (4, 5), (2, 1, 2)),
    ],
)
def test_conv2_output_shapes(mode, stride, shape):
    net = _conv2((6, 5, 3), size=2, filter_size=(3, 2), border_mode=mode, stride=stride)
    conv = net.layers[1]
    assert conv.output_shape == shape
    outputs = net.feed_forward(_images((3, 6, 5, 3)))
    assert outputs["hid1:pre"].shape == outputs["hid1:out"].shape == (3,) + shape


@pytest.mark.parametrize(
    "mode,stride,length",
    [
        ("valid", 1, 8),
        ("full", 1, 12),
        ("same", 1, 10),
        ("valid", 3, 3),
        ("full", 5, 3),
        ("same", 3, 4),
    ],
)
def test_conv1_output_shapes(mode, stride, length):
    # The original inferred (10, 8, 4) for a known length of 10 (an extra axis).
    net = theanets.Regressor(
        [
            (10, 3),
            dict(form="conv1", size=4, filter_size=3, stride=stride, border_mode=mode),
            "flat",
            2,
        ]
    )
    assert net.layers[1].output_shape == (length, 4)
    assert net.feed_forward(_images((2, 10, 3)))["hid1:out"].shape == (2, length, 4)


def test_conv1_with_unknown_length():
    net = theanets.recurrent.Regressor([3, dict(form="conv1", size=4, filter_size=2), 2])
    assert net.layers[1].output_shape == (None, 4)
    assert net.predict(_images((2, 6, 3))).shape == (2, 5, 2)


def test_conv2_with_unknown_image_size():
    net = theanets.convolution.Regressor(
        [
            dict(form="input", shape=(None, None, 3)),
            dict(form="conv2", size=2, filter_size=(2, 2)),
            dict(form="pool2", name="p"),
        ]
    )
    assert net.layers[1].output_shape == (None, None, 2)
    assert net.layers[2].output_shape == (None, None, 2)
    assert net.predict(_images((1, 7, 5, 3))).shape == (1, 3, 2, 2)


# ----- values ----------------------------------------------------------------


@pytest.mark.parametrize("mode", ["valid", "full", "same"])
@pytest.mark.parametrize("stride", [(1, 1), (2, 1)])
@pytest.mark.parametrize("filter_size", [(3, 2), (1, 1), (2, 4), (3, 3)])
def test_conv2_is_a_true_convolution(mode, stride, filter_size):
    net = _conv2((5, 4, 2), size=3, filter_size=filter_size, border_mode=mode, stride=stride)
    conv = net.layers[1]
    w, b = conv.find("w").get_value(), conv.find("b").get_value()
    x = _images((2, 5, 4, 2))
    got = net.feed_forward(x)["hid1:pre"]
    np.testing.assert_allclose(got, _scipy_conv2(x, w, b, mode, stride), **TOL)
    assert got.shape[1:] == conv.output_shape


@pytest.mark.parametrize("filter_size", [1, 2, 3, 4, 5, 6])
def test_same_border_matches_every_scipy_and_numpy_convolution(filter_size):
    # scipy.signal.convolve, convolve2d, fftconvolve and numpy.convolve all
    # agree on 'same' (the centre of 'full', starting at (f - 1) // 2); the
    # layer follows them, so its extra zero for even filters goes before.
    x = np.arange(1.0, 8.0)
    w = 10.0 ** np.arange(filter_size)
    expect = np.convolve(x, w, mode="same")
    full = np.convolve(x, w, mode="full")
    start = (filter_size - 1) // 2
    np.testing.assert_allclose(expect, full[start : start + len(x)])
    np.testing.assert_allclose(scipy.signal.convolve(x, w, mode="same"), expect)
    np.testing.assert_allclose(scipy.signal.convolve2d(x[None], w[None], mode="same")[0], expect)
    np.testing.assert_allclose(scipy.signal.fftconvolve(x, w, mode="same"), expect)
    (pads,) = border_pads((filter_size,), "same")
    assert pads == (filter_size // 2, (filter_size - 1) // 2)
    got = conv2d(
        pytensor.tensor.as_tensor(x.reshape(1, 7, 1, 1)),
        pytensor.tensor.as_tensor(w.reshape(1, 1, filter_size, 1)),
        (filter_size, 1),
        "same",
    ).eval()
    np.testing.assert_allclose(got.ravel(), expect)


def test_same_border_pads_an_even_filter_before_the_image():
    # Kernel [1, 10] (a true convolution): out[i] = 10 x[i - 1] + x[i], with
    # the extra zero before the image (top row): out[0] = x[0].
    x = np.array([[[[1.0], [2.0]], [[3.0], [4.0]]]], dtype="float32")  # (1, 2, 2, 1)
    net = _conv2((2, 2, 1), size=1, filter_size=(2, 1), border_mode="same")
    net.layers[1].find("w").set_value(np.array([[[[1.0], [10.0]]]], dtype="float32"))
    net.layers[1].find("b").set_value(np.zeros(1, dtype="float32"))
    out = net.feed_forward(x)["hid1:out"][0, :, :, 0]
    np.testing.assert_allclose(out, [[1.0, 2.0], [10 * 1 + 3, 10 * 2 + 4]])


def test_conv2_flips_the_kernel_on_a_tiny_example():
    # One 2x2 image, one channel, one 2x1 kernel [[1], [10]]: a true
    # convolution gives x[0] * 10 + x[1] * 1, a correlation x[0] + 10 x[1].
    x = np.array([[[[1.0], [2.0]], [[3.0], [4.0]]]], dtype="float32")  # (1, 2, 2, 1)
    net = _conv2((2, 2, 1), size=1, filter_size=(2, 1))
    net.layers[1].find("w").set_value(np.array([[[[1.0], [10.0]]]], dtype="float32"))
    net.layers[1].find("b").set_value(np.zeros(1, dtype="float32"))
    out = net.feed_forward(x)["hid1:out"]
    np.testing.assert_allclose(out[0, :, :, 0], [[1 * 10 + 3 * 1, 2 * 10 + 4 * 1]])


@pytest.mark.parametrize("mode", ["valid", "full", "same"])
@pytest.mark.parametrize("filter_size", [3, 4])
def test_conv1_is_a_true_convolution_over_time(mode, filter_size):
    net = theanets.recurrent.Regressor(
        [
            2,
            dict(
                form="conv1", size=3, filter_size=filter_size, border_mode=mode, activation="tanh"
            ),
            1,
        ]
    )
    conv = net.layers[1]
    w, b = conv.find("w").get_value(), conv.find("b").get_value()
    assert w.shape == (3, 2, 1, filter_size)
    x = _images((2, 6, 2))
    outputs = net.feed_forward(x)
    expect = (
        np.array(
            [
                [
                    [
                        sum(np.convolve(seq[:, c], w[k, c, 0], mode=mode) for c in range(2)) + b[k]
                        for k in range(3)
                    ]
                    for seq in x.astype("float64")
                ]
            ]
        )
        .squeeze(0)
        .transpose(0, 2, 1)
    )
    np.testing.assert_allclose(outputs["hid1:pre"], expect, **TOL)
    np.testing.assert_allclose(outputs["hid1:out"], np.tanh(expect), **TOL)


def test_conv_weights_drawn_tap_by_tap():
    net = _conv2((6, 5, 3), size=4, filter_size=(3, 2))
    rng = np.random.RandomState(13)
    expect = np.zeros((4, 3, 3, 2))
    for r in range(3):
        for c in range(2):
            expect[:, :, r, c] = rng.randn(4, 3) / np.sqrt(7)
    np.testing.assert_allclose(net.find("hid1", "w").get_value(), expect, rtol=1e-5)
    np.testing.assert_allclose(net.find("hid1", "b").get_value(), rng.randn(4), rtol=1e-5)


def test_conv_weight_options():
    net = _conv2((6, 5, 3), size=4, filter_size=(2, 2), mean=1.0, std_w=0.1, sparsity=0.5)
    w = net.find("hid1", "w").get_value()
    assert w.dtype == np.float32
    assert abs(w[w != 0].mean() - 1.0) < 0.1
    assert 0 < np.count_nonzero(w) < w.size
    for r in range(2):
        for c in range(2):  # each tap keeps its diagonal (util.random_matrix)
            assert np.all(np.diag(w[:, :, r, c]) != 0)


@pytest.mark.parametrize("mode", ["valid", "full", "same"])
@pytest.mark.parametrize(
    "filter_size,stride", [((2, 2), (2, 1)), ((3, 3), (1, 1)), ((1, 2), (1, 2)), ((3, 4), (2, 2))]
)
def test_conv_gradients(mode, filter_size, stride):
    # float64 inputs: finite differences are accurate (floatX does not matter here)
    x = np.random.RandomState(1).randn(2, 5, 4, 2)
    w = np.random.RandomState(2).randn(3, 2, *filter_size)
    pytensor.gradient.verify_grad(
        lambda a, b: conv2d(a, b, filter_size, mode, stride),
        [x, w],
        rng=np.random.default_rng(3),
        eps=1e-6,
    )


@pytest.mark.parametrize("mode", ["max", "mean"])
@pytest.mark.parametrize(
    "pool_size,stride", [((2, 2), None), ((2, 2), (1, 1)), ((3, 2), (2, 1)), ((1, 2), (3, 2))]
)
def test_pool_gradients(mode, pool_size, stride):
    x = np.random.RandomState(1).permutation(40).reshape(1, 5, 4, 2) / 7.0  # distinct values
    pytensor.gradient.verify_grad(
        lambda a: pool(a, pool_size, mode, stride), [x], rng=np.random.default_rng(3), eps=1e-6
    )


def _windows(x, pool_size, stride, reduce):
    """Reference pooling: every window (numpy's sliding view), strided, reduced."""
    axes = tuple(range(1, 1 + len(pool_size)))
    view = sliding_window_view(x, pool_size, axis=axes)  # (N, n_1, ..., C, p_1, ...)
    view = view[(slice(None),) + tuple(slice(None, None, s) for s in stride)]
    return reduce(view, axis=tuple(range(-len(pool_size), 0)))


@pytest.mark.parametrize("mode,reduce", [("max", np.max), ("mean", np.mean)])
@pytest.mark.parametrize(
    "pool_size,stride,shape",
    [
        ((2, 2), (1, 1), (4, 6, 2)),
        ((3, 3), (2, 2), (2, 3, 2)),
        ((2, 3), (2, 3), (2, 2, 2)),
        ((3, 2), (1, 3), (3, 2, 2)),
        ((5, 1), (4, 4), (1, 2, 2)),
    ],
)
def test_pool2_with_stride(mode, reduce, pool_size, stride, shape):
    net = theanets.convolution.Regressor(
        [(5, 7, 2), dict(form="pool2", pool_size=pool_size, stride=stride, mode=mode), "flat", 1]
    )
    assert net.layers[1].output_shape == shape
    x = _images((3, 5, 7, 2))
    got = net.feed_forward(x)["hid1:out"]
    np.testing.assert_allclose(got, _windows(x, pool_size, stride, reduce), **TOL)
    assert got.shape == (3,) + shape


@pytest.mark.parametrize("mode,reduce", [("max", np.max), ("mean", np.mean)])
@pytest.mark.parametrize("pool_size,stride", [(3, 1), (2, 1), (3, 2), (2, 3), (3, 3)])
def test_pool1_with_stride(mode, reduce, pool_size, stride):
    net = theanets.recurrent.Regressor(
        [2, dict(form="pool1", pool_size=pool_size, stride=stride, mode=mode), 1]
    )
    x = _images((2, 8, 2))
    got = net.feed_forward(x)["hid1:out"]
    np.testing.assert_allclose(got, _windows(x, (pool_size,), (stride,), reduce), **TOL)
    assert got.shape == (2, (8 - pool_size) // stride + 1, 2)
    spec = net.layers[1].to_spec()
    assert (spec["pool_size"], spec["stride"]) == (pool_size, stride)


def test_pool_stride_defaults_to_the_pool_size():
    layer = theanets.convolution.Regressor(
        [(6, 5, 3), dict(form="pool2", pool_size=(3, 2)), "flat", 1]
    ).layers[1]
    assert layer.stride == (3, 2) and layer.to_spec()["stride"] == (3, 2)
    assert layer.output_shape == (2, 2, 3)


@pytest.mark.parametrize("mode,reduce", [("max", np.max), ("mean", np.mean)])
def test_pool2_values(mode, reduce):
    net = theanets.convolution.Regressor(
        [(5, 7, 2), dict(form="pool2", pool_size=(2, 3), mode=mode), "flat", 1]
    )
    assert net.layers[1].output_shape == (2, 2, 2)
    x = _images((3, 5, 7, 2))
    expect = reduce(x[:, :4, :6].reshape(3, 2, 2, 2, 3, 2), axis=(2, 4))
    got = net.feed_forward(x)["hid1:out"]
    np.testing.assert_allclose(got, expect, **TOL)


@pytest.mark.parametrize("mode,reduce", [("max", np.max), ("mean", np.mean)])
def test_pool1_values(mode, reduce):
    net = theanets.recurrent.Regressor([2, dict(form="pool1", pool_size=3, mode=mode), 1])
    assert net.layers[1].output_shape == (None, 2)
    x = _images((2, 7, 2))
    expect = reduce(x[:, :6].reshape(2, 2, 3, 2), axis=2)
    np.testing.assert_allclose(net.feed_forward(x)["hid1:out"], expect, **TOL)


def test_pooling_applies_no_activation():
    # A network gives hidden layers relu; pooling must not clip negative values.
    net = theanets.convolution.Regressor([(2, 2, 1), "pool2", "flat", 1])
    layer = net.layers[1]
    assert layer.to_spec()["activation"] == "linear"
    assert layer.to_spec()["pool_size"] == (2, 2) and layer.to_spec()["mode"] == "max"
    x = -np.arange(1, 5, dtype="float32").reshape(1, 2, 2, 1)
    np.testing.assert_allclose(net.feed_forward(x)["hid1:out"].ravel(), [-1.0])


def test_to_spec_keeps_convolution_arguments():
    conv1 = theanets.Regressor(
        [(6, 2), dict(form="conv1", size=2, filter_size=3, stride=2), "flat", 1]
    ).layers[1]
    assert conv1.filter_size == (1, 3) and conv1.stride == (1, 2)
    spec = conv1.to_spec()
    assert (spec["filter_size"], spec["stride"], spec["border_mode"]) == (3, 2, "valid")
    conv2 = _conv2((6, 5, 3), size=2, filter_size=[3, 2], border_mode="full").layers[1]
    spec = conv2.to_spec()
    assert (spec["filter_size"], spec["stride"], spec["border_mode"]) == ((3, 2), (1, 1), "full")


def test_save_and_load_npz(tmp_path):
    net = theanets.convolution.Classifier(
        [
            (6, 5, 2),
            dict(form="conv2", size=3, filter_size=(2, 2), stride=(1, 2)),
            dict(form="pool2", pool_size=(2, 1), mode="mean"),
            "flat",
            3,
        ]
    )
    path = tmp_path / "conv.npz"
    net.save(str(path))
    copy = theanets.graph.Network.load(str(path))
    x = _images((2, 6, 5, 2))
    np.testing.assert_allclose(copy.predict_proba(x), net.predict_proba(x), **TOL)


# ----- training ---------------------------------------------------------------


def test_tiny_convolution_classifier_trains():
    rng = np.random.RandomState(4)
    x = rng.rand(32, 6, 6, 1).astype("float32")
    labels = rng.randint(0, 2, size=32).astype("int32")
    x[labels == 1, :3] += 1  # class 1: bright top half
    net = theanets.convolution.Classifier(
        [(6, 6, 1), dict(form="conv2", size=3, filter_size=(3, 3)), "pool2", "flat", 2]
    )
    losses = [
        train["loss"]
        for train, _ in net.itertrain(
            [x, labels],
            algo="sgd",
            learning_rate=0.1,
            momentum=0.5,
            batch_size=32,
            max_updates=30,
            patience=100,
        )
    ]
    assert losses[-1] < 0.8 * losses[0]
    assert net.score(x, labels) > 0.8


# ----- configuration errors ---------------------------------------------------


def _raises(spec, pattern, model=theanets.convolution.Regressor, shape=(6, 5, 3)):
    with pytest.raises(util.ConfigurationError, match=pattern):
        model([shape, spec, "flat", 2])


def test_filter_larger_than_input():
    _raises(
        dict(form="conv2", size=2, filter_size=(3, 6)),
        r"layer 'hid1' \(Conv2\): filter_size \(3, 6\) is larger than input 'in:out' of "
        r"shape \(6, 5, 3\); with border_mode='valid' filters must fit inside the input",
    )
    _raises(
        dict(form="conv1", size=2, filter_size=5),
        r"layer 'hid1' \(Conv1\): filter_size 5 is larger than input 'in:out' of shape "
        r"\(4, 3\)",
        model=theanets.Regressor,
        shape=(4, 3),
    )
    # 'full' accepts any filter
    _conv2((6, 5, 3), size=2, filter_size=(3, 6), border_mode="full")


def test_wrong_input_dimensions():
    _raises(
        dict(form="conv2", size=2, filter_size=(2, 2)),
        r"layer 'hid1' \(Conv2\): input 'in:out' has shape \(5, 3\) \(3-D data\), but this "
        r"layer needs 4-D data \(examples, width, height, channels\)",
        model=theanets.Regressor,
        shape=(5, 3),
    )
    _raises(
        dict(form="conv1", size=2, filter_size=2),
        r"layer 'hid1' \(Conv1\): input 'in:out' has shape \(6, 5, 3\) \(4-D data\), but "
        r"this layer needs 3-D data \(examples, time, channels\)",
    )
    _raises(
        dict(form="pool2"),
        r"layer 'hid1' \(Pool2\): input 'in:out' has shape \(3,\) "
        r"\(2-D data\), but this layer needs 4-D data",
        model=theanets.Regressor,
        shape=(3,),
    )
    _raises(
        dict(form="pool1"),
        r"layer 'hid1' \(Pool1\): input 'in:out' has shape \(6, 5, 3\) "
        r"\(4-D data\), but this layer needs 3-D data",
    )


def test_bad_border_mode():
    _raises(
        dict(form="conv2", size=2, filter_size=(2, 2), border_mode="half"),
        r"layer 'hid1' \(Conv2\): border_mode must be one of 'valid', 'full', 'same', "
        r"not 'half'",
    )


def test_same_border_accepts_filters_larger_than_the_input():
    net = _conv2((3, 2, 1), size=1, filter_size=(4, 5), border_mode="same")
    assert net.layers[1].output_shape == (3, 2, 1)
    conv = net.layers[1]
    x = _images((1, 3, 2, 1))
    np.testing.assert_allclose(
        net.feed_forward(x)["hid1:pre"],
        _scipy_conv2(x, conv.find("w").get_value(), conv.find("b").get_value(), "same"),
        **TOL,
    )


@pytest.mark.parametrize(
    "form,key,value,pattern",
    [
        (
            "conv2",
            "filter_size",
            (3,),
            r"filter_size must be a pair of positive whole numbers, "
            r"not \(3,\)",
        ),
        ("conv2", "filter_size", (2, 0), r"filter_size must be a pair of positive whole numbers"),
        ("conv2", "filter_size", 3, r"filter_size must be a pair of positive whole numbers, not 3"),
        ("conv2", "stride", (1, 1.5), r"stride must be a pair of positive whole numbers"),
        (
            "conv1",
            "filter_size",
            (1, 2),
            r"filter_size must be a positive whole number, "
            r"not \(1, 2\)",
        ),
        ("conv1", "stride", 0, r"stride must be a positive whole number, not 0"),
    ],
)
def test_bad_filter_size_and_stride(form, key, value, pattern):
    spec = dict(form=form, size=2, filter_size=(2, 2) if form == "conv2" else 2)
    spec[key] = value
    with pytest.raises(
        util.ConfigurationError, match=r"layer 'hid1' \({}\): ".format(form.capitalize()) + pattern
    ):
        theanets.Regressor([(6, 5, 3) if form == "conv2" else (6, 3), spec, "flat", 2])


def test_conv_needs_a_size():
    _raises(
        dict(form="conv2", filter_size=(2, 2)),
        r"layer 'hid1' \(Conv2\) does not specify a size \(the number of filters",
    )


def test_conv_shape_must_match():
    _raises(
        dict(form="conv2", filter_size=(2, 2), shape=(4, 4, 2)),
        r"layer 'hid1' \(Conv2\): shape=\(4, 4, 2\) was given, but the output of this "
        r"layer has shape \(5, 4, 2\)",
    )
    # a matching shape is accepted and gives the number of filters
    net = _conv2((6, 5, 3), filter_size=(2, 2), shape=(5, 4, 2))
    assert net.layers[1].output_shape == (5, 4, 2)


@pytest.mark.parametrize(
    "form,key,value,pattern",
    [
        (
            "pool2",
            "pool_size",
            (2,),
            r"pool_size must be a pair of positive whole numbers, "
            r"not \(2,\)",
        ),
        ("pool2", "pool_size", (2, -1), r"pool_size must be a pair of positive whole numbers"),
        ("pool1", "pool_size", (2, 2), r"pool_size must be a positive whole number, not \(2, 2\)"),
        ("pool1", "pool_size", 0, r"pool_size must be a positive whole number, not 0"),
        (
            "pool2",
            "stride",
            (1, 0),
            r"stride must be a pair of positive whole numbers, "
            r"not \(1, 0\)",
        ),
        ("pool2", "stride", 2, r"stride must be a pair of positive whole numbers, not 2"),
        ("pool1", "stride", -1, r"stride must be a positive whole number, not -1"),
        ("pool1", "stride", 1.5, r"stride must be a positive whole number, not 1.5"),
    ],
)
def test_bad_pool_size(form, key, value, pattern):
    with pytest.raises(
        util.ConfigurationError, match=r"layer 'hid1' \({}\): ".format(form.capitalize()) + pattern
    ):
        theanets.Regressor(
            [(6, 5, 3) if form == "pool2" else (6, 3), dict(form=form, **{key: value}), "flat", 2]
        )


def test_bad_pool_mode():
    _raises(
        dict(form="pool2", mode="sum"),
        r"layer 'hid1' \(Pool2\): mode must be one of 'max', 'mean', not 'sum'",
    )


def test_pool_larger_than_input():
    _raises(
        dict(form="pool2", pool_size=(7, 1)),
        r"layer 'hid1' \(Pool2\): pool_size \(7, 1\) is larger than input 'in:out' of "
        r"shape \(6, 5, 3\)",
    )
    _raises(
        dict(form="pool1", pool_size=5, stride=1),
        r"layer 'hid1' \(Pool1\): pool_size 5 is larger than input 'in:out' of "
        r"shape \(4, 3\)",
        model=theanets.Regressor,
        shape=(4, 3),
    )


def test_pool_keeps_channels():
    _raises(
        dict(form="pool2", size=4),
        r"layer 'hid1' \(Pool2\): size=4 was given, but pooling keeps the 3 channels of "
        r"input 'in:out'",
    )
