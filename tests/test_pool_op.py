"""Tests of theanets.ops.pool: native pooling and its gradients.

Values are checked against numpy's sliding windows and against the
formulation that ``_backend.pool`` used before (a reshape and a reduction,
or one strided slice per window position, written again here as the
reference), gradients against finite differences in float64 and against the
old formulation (ties included: every element equal to a window's maximum
gets its gradient), and the JAX and Numba implementations against numpy.
"""

import warnings

import numpy as np
import pytensor
import pytensor.tensor as TT
import pytest
from numpy.lib.stride_tricks import sliding_window_view
from pytensor.gradient import verify_grad

from theanets import _backend
from theanets.ops import pool as pool_op
from theanets.ops.pool import Pool2d, Pool2dGrad, Pool2dMaskedSum

SETTINGS = [((2, 2), None), ((3, 2), (1, 2)), ((2, 3), (3, 2)), ((1, 3), (1, 1)), ((3, 3), (2, 2))]


def _x(shape, seed=0):
    return np.random.RandomState(seed).randn(*shape)


def _old_pool(x, pool_size, mode="max", stride=None):
    """The formulation of ``_backend.pool`` before the native op."""
    k = len(pool_size)
    if stride is None or tuple(stride) == tuple(pool_size):
        counts = [x.shape[1 + i] // p for i, p in enumerate(pool_size)]
        x = x[
            (slice(None),) + tuple(slice(0, n * p) for n, p in zip(counts, pool_size, strict=True))
        ]
        split = [x.shape[0]]
        for n, p in zip(counts, pool_size, strict=True):
            split += [n, p]
        x = x.reshape(split + [x.shape[k + 1]], ndim=2 * k + 2)
        axes = tuple(2 + 2 * i for i in range(k))
        return x.max(axis=axes) if mode == "max" else x.mean(axis=axes)
    counts = [
        (x.shape[1 + i] - p) // s + 1
        for i, (p, s) in enumerate(zip(pool_size, stride, strict=True))
    ]
    offsets = [()]
    for p in pool_size:
        offsets = [o + (u,) for o in offsets for u in range(p)]
    taps = [
        x[
            (slice(None),)
            + tuple(
                slice(u, u + (n - 1) * s + 1, s)
                for u, n, s in zip(offset, counts, stride, strict=True)
            )
        ]
        for offset in offsets
    ]
    stacked = TT.stack(taps)
    return stacked.max(axis=0) if mode == "max" else stacked.mean(axis=0)


def _windows(x, pool_size, stride, mode):
    view = sliding_window_view(x, pool_size, axis=(1, 2))[:, :: stride[0], :: stride[1]]
    return (np.max if mode == "max" else np.mean)(view, axis=(-2, -1))


@pytest.mark.parametrize("mode", ["max", "mean"])
@pytest.mark.parametrize("pool_size,stride", SETTINGS)
def test_values_and_gradients_match_the_old_formulation(mode, pool_size, stride):
    x = TT.tensor4("x", dtype="float64")
    values = _x((2, 7, 8, 3)).round(1)  # with ties
    new = pool_op.pool(x, pool_size, mode, stride)
    old = _old_pool(x, pool_size, mode, stride)
    weights = TT.as_tensor(_x(new.eval({x: values}).shape, seed=1))
    outputs = [new, old, TT.grad((new * weights).sum(), x), TT.grad((old * weights).sum(), x)]
    got, expect, grad, grad_expect = pytensor.function([x], outputs)(values)
    np.testing.assert_allclose(got, _windows(values, pool_size, stride or pool_size, mode))
    np.testing.assert_allclose(got, expect)
    np.testing.assert_allclose(grad, grad_expect, rtol=1e-12, atol=1e-12)


def test_ties_all_get_the_gradient():
    x = TT.tensor4("x", dtype="float64")
    y = pool_op.pool(x, (2, 2))
    grad = TT.grad(y.sum(), x).eval({x: np.ones((1, 2, 2, 1))})
    assert grad.ravel().tolist() == [1.0, 1.0, 1.0, 1.0]


def test_pool1_goes_through_the_same_op():
    x = TT.tensor3("x", dtype="float64")
    values = _x((2, 9, 3))
    y = pool_op.pool(x, (3,), "max", (2,))
    assert isinstance(y.owner.inputs[0].owner.op, Pool2d)
    got = y.eval({x: values})
    expect = sliding_window_view(values, 3, axis=1)[:, ::2].max(axis=-1)
    np.testing.assert_allclose(got, expect)


def test_static_and_inferred_shapes():
    x = TT.tensor4("x", shape=(None, 7, 8, 3))
    assert Pool2d((2, 2))(x).type.shape == (None, 3, 4, 3)
    assert Pool2d((3, 2), (1, 2))(x).type.shape == (None, 5, 4, 3)
    xs = TT.tensor4("x", dtype="float64")
    y = Pool2d((3, 2), (2, 3), "max")(xs)
    gx = TT.grad(y.sum(), xs)
    f = pytensor.function([xs], [y.shape, gx.shape], mode="FAST_RUN")
    assert not any(isinstance(n.op, (Pool2d, Pool2dGrad)) for n in f.maker.fgraph.apply_nodes)
    assert [tuple(s) for s in f(_x((2, 7, 8, 3)))] == [(2, 3, 3, 3), (2, 7, 8, 3)]


@pytest.mark.parametrize("mode", ["max", "mean"])
@pytest.mark.parametrize("pool_size,stride", [((2, 2), None), ((3, 2), (1, 2)), ((2, 3), (3, 2))])
def test_verify_grad(mode, pool_size, stride):
    rng = np.random.RandomState(2)
    x = _x((2, 7, 8, 2))  # no ties
    op = Pool2d(pool_size, stride, mode)
    verify_grad(op, [x], rng=rng, eps=1e-7)
    out = op(TT.as_tensor(x))
    g = _x(out.eval().shape, seed=3)
    grad = Pool2dGrad(pool_size, stride, mode)
    verify_grad(lambda g: grad(TT.as_tensor(x), out, g), [g], rng=rng, eps=1e-7)
    if mode == "max":
        masked_sum = Pool2dMaskedSum(pool_size, stride, mode)
        verify_grad(lambda h: masked_sum(TT.as_tensor(x), out, h), [x], rng=rng, eps=1e-7)


@pytest.mark.parametrize("mode", ["max", "mean"])
def test_second_derivatives(mode):
    # a Hessian-vector product through pooling, in both ways, against
    # finite differences of the gradient
    x = TT.tensor4("x", dtype="float64")
    values, v = _x((2, 6, 7, 2)), _x((2, 6, 7, 2), seed=1)
    y = pool_op.pool(TT.tanh(x), (3, 2), mode, (2, 2))
    grad = TT.grad((y**2).sum(), x)
    vs = TT.tensor4("v", dtype="float64")
    hv_r = _backend.jacobian_vector(grad, x, vs)
    hv_l = TT.grad((grad * vs).sum(), x)
    got = pytensor.function([x, vs], [hv_r, hv_l])(values, v)
    g = pytensor.function([x], grad)
    eps = 1e-6
    fd = (g(values + eps * v) - g(values - eps * v)) / (2 * eps)
    for value in got:
        np.testing.assert_allclose(value, fd, rtol=1e-5, atol=1e-6)


def test_pushforward_of_max_pooling():
    x = TT.tensor4("x", dtype="float64")
    values, t = _x((2, 6, 7, 2)), _x((2, 6, 7, 2), seed=1)
    y = pool_op.pool(x, (2, 3), "max", (1, 2))
    ts = TT.tensor4("t", dtype="float64")
    got = pytensor.function([x, ts], _backend.jacobian_vector(y, x, ts))(values, t)
    f = pytensor.function([x], y)
    eps = 1e-7
    np.testing.assert_allclose(
        got, (f(values + eps * t) - f(values - eps * t)) / (2 * eps), rtol=1e-6, atol=1e-6
    )


# ----- errors ----------------------------------------------------------------


def test_bad_settings():
    with pytest.raises(ValueError, match="mode must be one of 'max', 'mean', not 'sum'"):
        Pool2d((2, 2), mode="sum")
    with pytest.raises(ValueError, match="pool_size must be two positive ints"):
        Pool2d((2, 0))
    with pytest.raises(ValueError, match="stride must be two positive ints"):
        Pool2d((2, 2), (2,))
    with pytest.raises(
        ValueError,
        match=r"pooling over 1 or 2 axes, not 3 \(pool_size "
        r"\(2, 2, 2\)\)",
    ):
        pool_op.pool(TT.tensor5("x"), (2, 2, 2))


def test_bad_inputs():
    with pytest.raises(TypeError, match="the images must be a 4-D tensor, not 3-D"):
        Pool2d((2, 2))(TT.tensor3("x"))
    with pytest.raises(TypeError, match="the images must be floats, not int32"):
        Pool2d((2, 2))(TT.itensor4("x"))
    with pytest.raises(
        ValueError,
        match=r"images of shape \(None, 1, 5, 2\) are smaller than "
        r"the pool size \(2, 2\)",
    ):
        Pool2d((2, 2))(TT.tensor4("x", shape=(None, 1, 5, 2)))
    x = TT.tensor4("x", dtype="float64")
    with pytest.raises(ValueError, match=r"images of shape \(1, 1, 5, 2\) are smaller"):
        Pool2d((2, 2))(x).eval({x: np.zeros((1, 1, 5, 2))})


# ----- JAX and Numba ---------------------------------------------------------


def _compare_modes(compile_mode, cases, dtype):
    x, g, h = (TT.tensor4(name, dtype=dtype) for name in "xgh")
    rng = np.random.RandomState(4)
    for mode, pool_size, stride in cases:
        y = Pool2d(pool_size, stride, mode)(x)
        gx = TT.grad((y * g).sum(), x)
        outputs = [y, gx, TT.grad((gx * h).sum(), g), _backend.jacobian_vector(y, x, h)]
        values = rng.randn(2, 7, 8, 3).round(1).astype(dtype)  # with ties
        shape = pytensor.function([x], y, mode="FAST_COMPILE")(values).shape
        args = [values, rng.randn(*shape).astype(dtype), rng.randn(*values.shape).astype(dtype)]
        expect = pytensor.function([x, g, h], outputs, mode="FAST_COMPILE")(*args)
        got = pytensor.function([x, g, h], outputs, mode=compile_mode)(*args)
        for a, b in zip(got, expect, strict=True):
            assert a.shape == b.shape
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_jax_matches_numpy():
    pytest.importorskip("jax")
    from theanets import _mode

    cases = [(mode, p, s) for mode in ("max", "mean") for p, s in SETTINGS[:3]]
    _compare_modes(_mode.jax_mode(), cases, "float32")


def test_numba_matches_numpy():
    pytest.importorskip("numba")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no object-mode fallback
        _compare_modes("NUMBA", [("max", (3, 2), (1, 2))], "float64")
