"""Tests of theanets.ops.conv: the native convolution and its gradients.

Values are checked against scipy.signal's true convolution and against the
formulation that ``_backend.conv2d`` used before (one strided slice of the
input per filter tap, a concatenate and one matrix product, written again
here as the reference), gradients against finite differences in float64
(``pytensor.gradient.verify_grad``, also for the gradient operations
themselves, which second derivatives go through), and the JAX and Numba
implementations against the numpy one.
"""

import os
import subprocess
import sys
import warnings

import numpy as np
import pytensor
import pytensor.tensor as TT
import pytest
import scipy.signal
from pytensor.gradient import verify_grad

import theanets
from theanets import _backend
from theanets.ops import conv
from theanets.ops.conv import (
    FMA_MAX_FILTERS,
    FMA_MAX_TERMS,
    Conv2d,
    Conv2dGradInputs,
    Conv2dGradWeights,
    border_pads,
)

MODES = ("valid", "full", "same")


def _x(shape, seed=0):
    return np.random.RandomState(seed).randn(*shape)


def _im2col_conv2d(x, w, filter_size, border_mode="valid", stride=(1, 1)):
    """The formulation of ``_backend.conv2d`` before the native op."""
    fw, fh = filter_size
    sw, sh = stride
    (wb, wa), (hb, ha) = border_pads(filter_size, border_mode)
    if wb or wa or hb or ha:
        padded = TT.zeros(
            (x.shape[0], x.shape[1] + wb + wa, x.shape[2] + hb + ha, x.shape[3]), dtype=x.dtype
        )
        x = TT.set_subtensor(padded[:, wb : wb + x.shape[1], hb : hb + x.shape[2], :], x)
    width = x.shape[1] - fw + 1
    height = x.shape[2] - fh + 1
    taps = [x[:, u : u + width : sw, v : v + height : sh, :] for u in range(fw) for v in range(fh)]
    patches = taps[0] if len(taps) == 1 else TT.concatenate(taps, axis=-1)
    kernel = w[:, :, ::-1, ::-1].dimshuffle(2, 3, 1, 0).reshape((-1, w.shape[0]))
    return TT.dot(patches, kernel)


def _scipy_conv2d(x, w, mode, stride):
    out = np.array(
        [
            [
                sum(
                    scipy.signal.convolve2d(img[:, :, c], w[k, c], mode=mode)
                    for c in range(img.shape[-1])
                )
                for k in range(len(w))
            ]
            for img in x
        ]
    )
    return out.transpose(0, 2, 3, 1)[:, :: stride[0], :: stride[1]]


def _symbols(dtype="float64"):
    return TT.tensor4("x", dtype=dtype), TT.tensor4("w", dtype=dtype)


CASES = [
    (mode, filt, stride)
    for mode in MODES
    for filt, stride in [
        ((3, 2), (1, 1)),
        ((2, 4), (2, 3)),
        ((1, 1), (1, 1)),
        ((3, 3), (2, 2)),
        ((4, 1), (3, 1)),
    ]
]


# ----- values ----------------------------------------------------------------


@pytest.mark.parametrize("mode,filt,stride", CASES)
def test_values_match_scipy_and_the_old_formulation(mode, filt, stride):
    xs, ws = _symbols()
    x, w = _x((2, 7, 6, 3)), _x((4, 3) + filt, seed=1)
    new = conv.conv2d(xs, ws, filt, mode, stride)
    old = _im2col_conv2d(xs, ws, filt, mode, stride)
    got, expect = pytensor.function([xs, ws], [new, old])(x, w)
    np.testing.assert_allclose(got, _scipy_conv2d(x, w, mode, stride), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(got, expect, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("mode,filt,stride", CASES)
def test_gradients_match_the_old_formulation(mode, filt, stride):
    xs, ws = _symbols()
    x, w = _x((2, 7, 6, 3)), _x((4, 3) + filt, seed=1)
    new = conv.conv2d(xs, ws, filt, mode, stride)
    old = _im2col_conv2d(xs, ws, filt, mode, stride)
    weights = TT.as_tensor(_x((2,) + tuple(new.eval({xs: x, ws: w}).shape[1:]), seed=2))

    def grads(y):
        return TT.grad((TT.tanh(y) * weights).sum(), [xs, ws])

    got = pytensor.function([xs, ws], grads(new))(x, w)
    expect = pytensor.function([xs, ws], grads(old))(x, w)
    for a, b in zip(got, expect, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)


def test_float32_in_float32_out():
    xs, ws = _symbols("float32")
    y = conv.conv2d(xs, ws, (2, 2))
    assert y.dtype == "float32"
    assert all(g.dtype == "float32" for g in TT.grad(y.sum(), [xs, ws]))
    got = y.eval({xs: _x((1, 3, 3, 1)).astype("float32"), ws: np.ones((1, 1, 2, 2), "float32")})
    assert got.dtype == np.float32


def test_static_output_shapes():
    x = TT.tensor4("x", shape=(None, 7, 6, 3))
    w = TT.tensor4("w", shape=(5, 3, 3, 2))
    assert conv.conv2d(x, w, (3, 2)).type.shape == (None, 5, 5, 5)
    assert conv.conv2d(x, w, (3, 2), "full").type.shape == (None, 9, 7, 5)
    assert conv.conv2d(x, w, (3, 2), "same", (2, 4)).type.shape == (None, 4, 2, 5)
    y = conv.conv2d(x, w, (3, 2), "same", (2, 4))
    gx, gw = TT.grad(y.sum(), [x, w])
    assert gx.type.shape == (None, 7, 6, 3)
    assert gw.type.shape == (5, 3, 3, 2)
    unknown = conv.conv2d(TT.tensor4("x"), TT.tensor4("w"), (3, 2))
    assert unknown.type.shape == (None, None, None, None)


def test_infer_shape_without_computing():
    xs, ws = _symbols()
    y = conv.conv2d(xs, ws, (3, 2), "full", (2, 1))
    gx, gw = TT.grad(y.sum(), [xs, ws])
    f = pytensor.function([xs, ws], [y.shape, gx.shape, gw.shape], mode="FAST_RUN")
    ops = [type(node.op) for node in f.maker.fgraph.apply_nodes]
    assert not {Conv2d, Conv2dGradInputs, Conv2dGradWeights} & set(ops)
    shapes = f(_x((2, 7, 6, 3)), _x((4, 3, 3, 2)))
    assert [tuple(s) for s in shapes] == [(2, 5, 7, 4), (2, 7, 6, 3), (4, 3, 3, 2)]


def test_conv1_layers_still_convolve():
    net = theanets.recurrent.Regressor(
        [3, dict(form="conv1", size=2, filter_size=3, border_mode="same", activation="linear"), 2]
    )
    conv = net.layers[1]
    w, b = conv.find("w").get_value(), conv.find("b").get_value()
    x = _x((2, 6, 3)).astype("float32")
    got = net.feed_forward(x)["hid1:pre"]
    expect = np.array(
        [
            [
                sum(np.convolve(seq[:, c], w[k, c, 0], mode="same") for c in range(3)) + b[k]
                for k in range(2)
            ]
            for seq in x
        ]
    ).transpose(0, 2, 1)
    np.testing.assert_allclose(got, expect, rtol=1e-5, atol=1e-5)


# ----- gradients -------------------------------------------------------------


@pytest.mark.parametrize(
    "mode,filt,stride",
    [
        ("valid", (3, 2), (1, 1)),
        ("full", (2, 3), (2, 1)),
        ("same", (2, 2), (2, 3)),
        ("same", (3, 3), (1, 2)),
    ],
)
def test_verify_grad(mode, filt, stride):
    rng = np.random.RandomState(3)
    op = Conv2d(filt, border_pads(filt, mode), stride)
    x, w = _x((2, 5, 6, 2)), _x((3, 2) + filt, seed=1)
    verify_grad(op, [x, w], rng=rng, eps=1e-6)
    y = op(*[TT.as_tensor(v) for v in (x, w)]).eval()
    g = _x(y.shape, seed=2)
    # the gradient operations, through which second derivatives go
    grad_inputs = Conv2dGradInputs(filt, border_pads(filt, mode), stride)
    verify_grad(lambda g, w: grad_inputs(g, w, TT.as_tensor(x)), [g, w], rng=rng, eps=1e-6)
    grad_weights = Conv2dGradWeights(filt, border_pads(filt, mode), stride)
    verify_grad(grad_weights, [x, g], rng=rng, eps=1e-6)


def test_second_derivatives():
    # a Hessian-vector product of a loss through the convolution, against
    # finite differences of its gradient
    xs, ws = _symbols()
    x, w = _x((2, 5, 4, 2)), _x((3, 2, 3, 2), seed=1)
    v = _x(w.shape, seed=2)
    y = conv.conv2d(xs, ws, (3, 2), "same", (2, 1))
    loss = (TT.tanh(y) ** 2).sum() + (y * _x((2, 3, 4, 3), seed=3)).sum()
    gw = TT.grad(loss, ws)
    vs = TT.tensor4("v", dtype="float64")
    hv_r = _backend.jacobian_vector(gw, ws, vs)
    hv_l = TT.grad((gw * vs).sum(), ws)
    f = pytensor.function([xs, ws, vs], [hv_r, hv_l])
    g = pytensor.function([xs, ws], gw)
    eps = 1e-6
    fd = (g(x, w + eps * v) - g(x, w - eps * v)) / (2 * eps)
    for got in f(x, w, v):
        np.testing.assert_allclose(got, fd, rtol=1e-5, atol=1e-6)


def test_pushforward_of_the_convolution():
    xs, ws = _symbols()
    x, w = _x((2, 5, 4, 2)), _x((3, 2, 2, 2), seed=1)
    tx, tw = _x(x.shape, seed=2), _x(w.shape, seed=3)
    y = conv.conv2d(xs, ws, (2, 2), "full")
    txs, tws = TT.tensor4(dtype="float64"), TT.tensor4(dtype="float64")
    jv = _backend.jacobian_vector(y, [xs, ws], [txs, tws])
    got = pytensor.function([xs, ws, txs, tws], jv)(x, w, tx, tw)
    f = pytensor.function([xs, ws], y)
    expect = (f(x + tx, w + tw) - f(x - tx, w - tw)) / 2  # bilinear: exact
    np.testing.assert_allclose(got, expect, rtol=1e-10, atol=1e-10)


def test_esgd_trains_a_convolution_model():
    # ESGD preconditions with Hessian-vector products
    rng = np.random.RandomState(4)
    net = theanets.convolution.Classifier(
        [(5, 4, 2), dict(form="conv2", size=3, filter_size=(2, 2)), "flat", 3]
    )
    data = [rng.rand(8, 5, 4, 2).astype("float32"), rng.randint(0, 3, 8).astype("int32")]
    train, _ = net.train(data, algo="esgd", max_updates=2, batch_size=4, learning_rate=0.01)
    assert np.isfinite(train["loss"])


def test_a_training_step_matches_the_old_formulation(monkeypatch):
    rng = np.random.RandomState(5)
    data = [rng.rand(8, 6, 5, 2).astype("float32"), rng.randint(0, 3, 8).astype("int32")]

    def train():
        net = theanets.convolution.Classifier(
            [
                (6, 5, 2),
                dict(form="conv2", size=3, filter_size=(3, 2), border_mode="same", stride=(2, 1)),
                "pool2",
                "flat",
                3,
            ],
            rng=7,
        )
        net.train(data, algo="adam", max_updates=2, batch_size=4, iteration_size=1, rng=0)
        return [p.get_value() for p in net.params]

    new = train()
    import theanets.layers.convolution as layers

    monkeypatch.setattr(layers, "conv2d", _im2col_conv2d)
    old = train()
    for a, b in zip(new, old, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


# ----- errors ----------------------------------------------------------------


def test_unknown_border_mode():
    with pytest.raises(
        ValueError, match="border_mode must be one of 'valid', 'full', 'same', not 'half'"
    ):
        conv.conv2d(*_symbols(), (3, 3), "half")


def test_bad_settings():
    with pytest.raises(ValueError, match="filter_size must be two positive ints"):
        Conv2d((0, 3))
    with pytest.raises(ValueError, match="stride must be two positive ints"):
        Conv2d((3, 3), stride=(1,))
    with pytest.raises(ValueError, match="pads must be two pairs of ints >= 0"):
        Conv2d((3, 3), pads=((-1, 0), (0, 0)))


def test_not_4d():
    with pytest.raises(TypeError, match="the images must be a 4-D tensor, not 3-D"):
        Conv2d((2, 2))(TT.tensor3("x"), TT.tensor4("w"))


def test_images_smaller_than_the_filter():
    with pytest.raises(
        ValueError,
        match=r"images of shape \(None, 2, 5, 1\) padded by "
        r"\(\(0, 0\), \(0, 0\)\) are smaller than the filter",
    ):
        Conv2d((3, 3))(TT.tensor4("x", shape=(None, 2, 5, 1)), TT.tensor4("w"))
    xs, ws = _symbols()
    f = pytensor.function([xs, ws], Conv2d((3, 3))(xs, ws))
    with pytest.raises(ValueError, match=r"images of shape \(1, 2, 5, 1\)"):
        f(_x((1, 2, 5, 1)), _x((1, 1, 3, 3)))


def test_kernels_that_do_not_match_statically():
    x = TT.tensor4("x", shape=(None, 5, 5, 2))
    with pytest.raises(
        ValueError,
        match=r"kernels of shape \(4, 3, 3, 3\) do not match the "
        r"filter size \(3, 3\) and 2 input channels",
    ):
        Conv2d((3, 3))(x, TT.tensor4("w", shape=(4, 3, 3, 3)))
    with pytest.raises(ValueError, match=r"kernels of shape \(4, None, 2, 3\) do not match"):
        Conv2d((3, 3))(x, TT.tensor4("w", shape=(4, None, 2, 3)))


def test_kernels_that_do_not_match():
    xs, ws = _symbols()
    f = pytensor.function([xs, ws], Conv2d((3, 3))(xs, ws))
    with pytest.raises(
        ValueError,
        match=r"kernels of shape \(1, 1, 3, 2\) do not match the "
        r"filter size \(3, 3\) and 1 input channels",
    ):
        f(_x((1, 4, 4, 1)), _x((1, 1, 3, 2)))
    with pytest.raises(ValueError, match=r"kernels of shape \(1, 2, 3, 3\) do not match"):
        f(_x((1, 4, 4, 1)), _x((1, 2, 3, 3)))


# ----- JAX and Numba ---------------------------------------------------------


def _outputs_and_gradients(mode, filt, stride, dtype):
    xs, ws = _symbols(dtype)
    y = conv.conv2d(xs, ws, filt, mode, stride)
    g = TT.tensor4("g", dtype=dtype)
    return [xs, ws, g], [y] + TT.grad((y * g).sum(), [xs, ws])


def _compare_modes(compile_mode, cases, dtype="float64", rtol=1e-10, atol=1e-10):
    for mode, filt, stride, channels, filters in cases:
        inputs, outputs = _outputs_and_gradients(mode, filt, stride, dtype)
        x = _x((2, 7, 6, channels)).astype(dtype)
        w = _x((filters, channels) + filt, seed=1).astype(dtype)
        y = pytensor.function(inputs[:2], outputs[0], mode="FAST_COMPILE")(x, w)
        g = _x(y.shape, seed=2).astype(dtype)
        expect = pytensor.function(inputs, outputs, mode="FAST_COMPILE")(x, w, g)
        got = pytensor.function(inputs, outputs, mode=compile_mode)(x, w, g)
        for a, b in zip(got, expect, strict=True):
            assert a.shape == b.shape
            np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


def test_jax_matches_numpy():
    pytest.importorskip("jax")
    from theanets import _mode

    # a few channels (a sum of shifted images in JAX) and many (XLA's convolution)
    assert 2 * 2 * 9 > FMA_MAX_TERMS and 40 > FMA_MAX_FILTERS
    cases = [(mode, (3, 2), stride, 2, 3) for mode in MODES for stride in [(1, 1), (2, 3)]]
    cases += [("same", (2, 2), (1, 2), 9, 3), ("valid", (3, 3), (1, 1), 1, 40)]
    _compare_modes(_mode.jax_mode(), cases, dtype="float32", rtol=1e-4, atol=1e-4)


def test_numba_matches_numpy():
    pytest.importorskip("numba")
    # no object-mode fallback (it would warn, and warnings are errors here)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _compare_modes("NUMBA", [("same", (3, 2), (2, 1), 2, 3)])


def test_importing_theanets_imports_neither_jax_nor_numba():
    code = (
        "import sys, theanets\n"
        'assert "jax" not in sys.modules and "numba" not in sys.modules, "imported"\n'
        "from pytensor.link.jax.dispatch import jax_funcify\n"
        "from theanets.ops.conv import Conv2d\n"
        "print(jax_funcify.dispatch(Conv2d).__name__)\n"
    )
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root
    )
    assert out.stdout.strip() == "_jax_conv2d"


def test_jax_computes_known_shape_arithmetic_with_numpy(caplog):
    # theanets' JAX mode computes integer shape arithmetic on known values
    # with numpy, not with one small compiled XLA program per operation
    jax = pytest.importorskip("jax")
    from pytensor.link.jax.dispatch import jax_funcify

    from theanets import _mode

    _mode.jax_mode()
    n = TT.iscalar("n")
    half = n // 2 + 1
    node = half.owner
    fn = jax_funcify(node.op, node=node)
    inner = node.inputs[0].owner
    two, one = inner.inputs[1].data, node.inputs[1].data
    with jax.log_compiles(True):
        value = fn(jax_funcify(inner.op, node=inner)(np.int32(7), two), one)
    assert not [r for r in caplog.records if "Compiling" in r.getMessage()]
    assert type(value).__module__ == "numpy" and int(value) == 4


@pytest.mark.parametrize(
    "cores,flags,expect",
    [
        (2, "", "--xla_cpu_multi_thread_eigen=false"),
        (1, "--xla_dump_to=x", "--xla_dump_to=x --xla_cpu_multi_thread_eigen=false"),
        (2, "--xla_cpu_multi_thread_eigen=true", "--xla_cpu_multi_thread_eigen=true"),
        (8, "", ""),
    ],
)
def test_few_cores_run_xla_eigen_kernels_on_one_thread(monkeypatch, cores, flags, expect):
    from theanets._jax import process as _mode

    monkeypatch.setenv("XLA_FLAGS", flags)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)), raising=False)
    _mode._few_cores_xla_flags()
    assert os.environ["XLA_FLAGS"] == expect


def test_glibc_keeps_large_buffers(monkeypatch):
    from theanets._jax import process as _mode

    for name in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(_mode, "_MALLOC_SET", [])
    try:
        glibc = (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc")
    except (AttributeError, ValueError, OSError):  # not a glibc system
        glibc = False
    assert _mode._keep_large_buffers() is glibc
    # a user's own malloc settings are left alone
    monkeypatch.setattr(_mode, "_MALLOC_SET", [])
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "1000000")
    assert _mode._keep_large_buffers() is False
