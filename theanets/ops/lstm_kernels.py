"""The fused LSTM's compiled kernels (Numba): the recurrence and its gradient.

The loops that :mod:`theanets.ops.lstm` runs for
:class:`~theanets.ops.lstm.LSTMSequence` in every compile mode, and that
:mod:`theanets.ops.lstm_ffi` hands XLA as foreign functions: per step one
matrix product by BLAS (called directly, in blocks small enough to skip
BLAS's packing) and one pass over the cells, and for the gradient one pass
back in time, with the gradients of the weights as matrix products over all
steps at the end (:func:`forward_in_place`, :func:`backward_in_place`).
Each kernel takes a range of the batch's examples, which are independent:
disjoint ranges may run at once.

In float32, ``tanh`` (and the logistic sigmoid, as ``(1 + tanh(x / 2)) / 2``)
use a rational approximation that is accurate to float32 rounding and that
the compiler can vectorize; float64 uses the exact function.
"""

import math

import numba
import numpy as np
from numba.extending import overload

from . import _numba_cache

# before any kernel is compiled or read back: their cache keeps track of
# every kernel source, not only of each function's own file
_numba_cache.install()

__all__ = [
    "BLOCK",
    "backward_in_parts",
    "backward_in_place",
    "backward_kernel",
    "column_blocks",
    "forward_in_parts",
    "forward_in_place",
    "forward_kernel",
    "input_products",
]

# Numba compiles with these flags: no ZeroDivisionError checks (they stop the
# loops from being vectorized), and the floating-point contractions that keep
# NaN and infinity semantics (no 'nnan'/'ninf': a diverging model must show
# NaN, not garbage).
_JIT = dict(
    cache=_numba_cache.caching(),  # False where no cache directory is writable
    nogil=True,
    error_model="numpy",
    fastmath={"contract", "arcp", "afn", "reassoc", "nsz"},
)

# tanh(x) = x P(x^2) / Q(x^2) on [-T, T] and +-1 beyond: the rational
# approximation of Eigen and XLA, accurate to float32 rounding.
_TANH_CLIP = 7.90531110763549805
_TANH_P = (
    -2.76076847742355e-16,
    2.00018790482477e-13,
    -8.60467152213735e-11,
    5.12229709037114e-08,
    1.48572235717979e-05,
    6.37261928875436e-04,
    4.89352455891786e-03,
)
_TANH_Q = (1.19825839466702e-06, 1.18534705686654e-04, 2.26843463243900e-03, 4.89352518554385e-03)


def _tanh(x):
    """tanh in a kernel: fast float32 approximation, exact in float64."""
    return math.tanh(x)


def _sigmoid(x):
    """The logistic sigmoid in a kernel, as ``(1 + tanh(x / 2)) / 2``."""
    return 0.5 + 0.5 * math.tanh(0.5 * x)


def _sigmoid_slope(y):
    """The sigmoid's derivative from its value ``y``: ``y (1 - y)``."""
    return y * (1 - y)


def _tanh_slope(y):
    """tanh's derivative from its value ``y``: ``1 - y^2``."""
    return 1 - y * y


# Each helper is compiled for the argument's float type, with constants of
# that type: a float64 constant would turn float32 arithmetic into float64.


def _float_type(x):
    if x not in (numba.types.float32, numba.types.float64):
        raise numba.errors.TypingError("LSTM kernels need float32 or float64, not {}".format(x))
    return np.float32 if x == numba.types.float32 else np.float64


@overload(_tanh, jit_options=dict(error_model="numpy"))
def _tanh_impl(x):
    if _float_type(x) is np.float64:
        return lambda x: math.tanh(x)
    clip = np.float32(_TANH_CLIP)
    p0, p1, p2, p3, p4, p5, p6 = [np.float32(c) for c in _TANH_P]
    q0, q1, q2, q3 = [np.float32(c) for c in _TANH_Q]

    def tanh32(x):
        x = min(max(x, -clip), clip)
        x2 = x * x
        p = ((((((p0 * x2 + p1) * x2 + p2) * x2 + p3) * x2 + p4) * x2 + p5) * x2 + p6) * x
        q = ((q0 * x2 + q1) * x2 + q2) * x2 + q3
        return p / q

    return tanh32


@overload(_sigmoid, jit_options=dict(error_model="numpy"))
def _sigmoid_impl(x):
    half = _float_type(x)(0.5)
    return lambda x: half + half * _tanh(half * x)


@overload(_sigmoid_slope)
def _sigmoid_slope_impl(y):
    one = _float_type(y)(1)
    return lambda y: y * (one - y)


@overload(_tanh_slope)
def _tanh_slope_impl(y):
    one = _float_type(y)(1)
    return lambda y: one - y * y


# The products inside the kernels call BLAS's gemm directly (the wrapper
# Numba's own np.dot calls, by its exported symbol, so that cached kernels
# keep working): np.dot would allocate its result at every step, copy any
# operand that is a block of a larger array, and could not add to an array.


def _gemm_type(dtype):
    pointer = numba.types.CPointer(dtype)
    size = numba.types.intp
    char = numba.types.char
    signature = numba.types.intc(
        char,
        char,
        char,
        size,
        size,
        size,
        pointer,
        pointer,
        size,
        pointer,
        size,
        pointer,
        pointer,
        size,
    )
    return numba.types.ExternalFunction("numba_xxgemm", signature)


_GEMM = {np.float32: _gemm_type(numba.types.float32), np.float64: _gemm_type(numba.types.float64)}


@numba.njit(inline="always", **_JIT)
def _empty_product(c, beta):
    """``c = a . b + beta c`` where ``a`` or ``b`` is empty: BLAS refuses the
    leading dimensions of empty matrices (and some builds then corrupt memory)."""
    for i in range(c.shape[0]):
        for j in range(c.shape[1]):
            c[i, j] = 0 if beta == 0 else beta * c[i, j]


def _matmul(a, b, c, beta):
    """``c = a . b + beta c`` in a kernel, on matrices whose rows are contiguous."""
    c[...] = np.dot(a, b) + beta * c


def _matmul_tn(a, b, c, beta):
    """``c = a^T . b + beta c`` in a kernel, on matrices whose rows are contiguous."""
    c[...] = np.dot(a.T, b) + beta * c


def _gemm_of(a, transposed):
    """The kernel of ``c = op(a) . b + beta c``, ``op(a)`` being ``a^T`` if
    ``transposed``, for the float type of ``a``."""
    dtype = _float_type(a.dtype)
    gemm = _GEMM[dtype]
    kind = ord("s") if dtype is np.float32 else ord("d")
    size = np.dtype(dtype).itemsize
    no = ord("N")
    op_a = ord("T") if transposed else no

    def matmul(a, b, c, beta):
        if transposed:
            inner, m = a.shape
        else:
            m, inner = a.shape
        n = b.shape[1]
        if m == 0 or n == 0 or inner == 0:
            _empty_product(c, beta)
            return
        coefficients = np.empty(2, dtype)
        coefficients[0] = 1
        coefficients[1] = beta
        # BLAS is column-major: a row-major matrix is its transpose there,
        # so c^T = b^T op(a)^T is computed, b as it is and a transposed or
        # not (the leading dimension: the row stride)
        gemm(
            kind,
            no,
            op_a,
            n,
            m,
            inner,
            coefficients[0:].ctypes,
            b.ctypes,
            b.strides[0] // size,
            a.ctypes,
            a.strides[0] // size,
            coefficients[1:].ctypes,
            c.ctypes,
            c.strides[0] // size,
        )

    return matmul


@overload(_matmul)
def _matmul_impl(a, b, c, beta):
    return _gemm_of(a, transposed=False)


@overload(_matmul_tn)
def _matmul_tn_impl(a, b, c, beta):
    return _gemm_of(a, transposed=True)


# The recurrent products of one step are small (a block of the batch times
# hh: 64 x 128 by 128 x 512 in the benchmarks' LSTM), and BLAS packs both
# operands into its own layout at every call. Cut into products of at most
# BLOCK columns (forwards) or BLOCK inner terms (backwards) they stay under
# OpenBLAS's small-matrix limit, computed without packing: 20-25 % faster
# per step for 64 examples and up to 1.9x for 32, the rows one of two
# threads takes (measured with the kernels' own BLAS call, one thread).
BLOCK = 64


@numba.njit(**_JIT)
def column_blocks(hh):
    """``hh`` (size, 4 size) as contiguous blocks of BLOCK columns, (blocks,
    size, BLOCK); the last block's columns past ``hh``'s are zeros, never read."""
    n, width = hh.shape
    count = (width + BLOCK - 1) // BLOCK
    blocks = np.zeros((count, n, BLOCK), hh.dtype)
    for j in range(count):
        stop = min(width, (j + 1) * BLOCK)
        blocks[j, :, : stop - j * BLOCK] = hh[:, j * BLOCK : stop]
    return blocks


@numba.njit(**_JIT)
def _matmul_by_columns(a, blocks, width, c):
    """``c += a . hh``, ``hh`` (``width`` columns) given as :func:`column_blocks`."""
    for j in range(blocks.shape[0]):
        stop = min(width, (j + 1) * BLOCK)
        _matmul(a, blocks[j, :, : stop - j * BLOCK], c[:, j * BLOCK : stop], 1.0)


@numba.njit(**_JIT)
def _matmul_by_terms(a, b, c, beta):
    """``c = a . b + beta c``, summed over blocks of BLOCK inner terms (rows of ``b``)."""
    inner = b.shape[0]
    if inner == 0:
        _empty_product(c, beta)
    for start in range(0, inner, BLOCK):
        stop = min(inner, start + BLOCK)
        _matmul(a[:, start:stop], b[start:stop], c, beta if start == 0 else 1.0)


# The per-cell loops below each write one array and read few others: a loop
# over more arrays is not vectorized (the compiler cannot rule out that they
# overlap, and gives up checking it at run time).


@numba.njit(inline="always", **_JIT)
def _cell_forward(gate, c, ci, cf, co, c_new, h_new):
    """One example at one step: ``gate`` holds the pre-activations ``[i, f, g,
    o]`` and is overwritten with the gates; the new cell and output."""
    n = c.shape[0]
    i, f, g, o = gate[:n], gate[n : 2 * n], gate[2 * n : 3 * n], gate[3 * n :]
    for j in range(n):
        i[j] = _sigmoid(i[j] + c[j] * ci[j])
    for j in range(n):
        f[j] = _sigmoid(f[j] + c[j] * cf[j])
    for j in range(n):
        g[j] = _tanh(g[j])
    for j in range(n):
        c_new[j] = f[j] * c[j] + i[j] * g[j]
    for j in range(n):
        o[j] = _sigmoid(o[j] + c_new[j] * co[j])
    for j in range(n):
        h_new[j] = o[j] * _tanh(c_new[j])


@numba.njit(**_JIT)
def _step_forward(gates, h, c, hh_blocks, ci, cf, co, c_new, h_new):
    """One step of some examples: ``gates`` (their input products) becomes
    their gates, from their previous outputs ``h`` and cells ``c``."""
    _matmul_by_columns(h, hh_blocks, gates.shape[1], gates)
    for b in range(gates.shape[0]):
        _cell_forward(gates[b], c[b], ci, cf, co, c_new[b], h_new[b])


@numba.njit(**_JIT)
def input_products(x, xh, b, out, lo, hi):
    """Rows ``lo:hi`` of ``out = x @ xh + b`` (the products of all steps, as
    rows): the bias is copied and the product added to it, which saves the
    pass that zeroes ``out`` and the one that adds the bias."""
    for r in range(lo, hi):
        out[r] = b
    _matmul(x[lo:hi], xh, out[lo:hi], 1.0)


@numba.njit(**_JIT)
def forward_kernel(gates, h0, c0, hh_blocks, ci, cf, co, hs, cs, lo, hi):
    """The recurrence of the examples ``lo:hi`` of the batch, from ``h0``, ``c0``.

    ``hh_blocks`` is ``hh`` as :func:`column_blocks`. ``gates`` (time,
    batch, 4 size) holds the input products and bias and is
    overwritten with the activated gates ``[i, f, g, o]``, kept for the
    gradient; ``hs``, ``cs`` (time, batch, size) receive the outputs and
    cells. The examples are independent: disjoint ranges can run at once.
    """
    if gates.shape[0] == 0 or hi <= lo:
        return
    _step_forward(
        gates[0, lo:hi], h0[lo:hi], c0[lo:hi], hh_blocks, ci, cf, co, cs[0, lo:hi], hs[0, lo:hi]
    )
    for t in range(1, gates.shape[0]):
        _step_forward(
            gates[t, lo:hi],
            hs[t - 1, lo:hi],
            cs[t - 1, lo:hi],
            hh_blocks,
            ci,
            cf,
            co,
            cs[t, lo:hi],
            hs[t, lo:hi],
        )


@numba.njit(inline="always", **_JIT)
def _cell_backward(gate, c, c_prev, dh_out, dc_out, dh, dc, ci, cf, co, dz, sums):
    """One example at one step, backwards.

    ``dh``, ``dc`` come in as the gradients from the next step; ``dz``
    receives the pre-activations' gradient ``[i, f, g, o]``, ``dc`` the
    gradient of the previous cell (``dh`` is left as the output's whole
    gradient), and ``sums`` (7 size) accumulates the gradients of the bias
    and of ``ci``, ``cf``, ``co``.
    """
    n = c.shape[0]
    i, f, g, o = gate[:n], gate[n : 2 * n], gate[2 * n : 3 * n], gate[3 * n :]
    dzi, dzf, dzg, dzo = dz[:n], dz[n : 2 * n], dz[2 * n : 3 * n], dz[3 * n :]
    db, dci, dcf, dco = sums[: 4 * n], sums[4 * n : 5 * n], sums[5 * n : 6 * n], sums[6 * n :]
    for j in range(n):
        dh[j] += dh_out[j]
    for j in range(n):
        dzo[j] = dh[j] * _tanh(c[j]) * _sigmoid_slope(o[j])
    for j in range(n):
        dc[j] += dc_out[j]
    for j in range(n):
        dc[j] += dh[j] * o[j] * _tanh_slope(_tanh(c[j]))
    for j in range(n):
        dc[j] += dzo[j] * co[j]
    for j in range(n):
        dzi[j] = dc[j] * g[j] * _sigmoid_slope(i[j])
    for j in range(n):
        dzf[j] = dc[j] * c_prev[j] * _sigmoid_slope(f[j])
    for j in range(n):
        dzg[j] = dc[j] * i[j] * _tanh_slope(g[j])
    for j in range(n):
        dc[j] *= f[j]
    for j in range(n):
        dc[j] += dzi[j] * ci[j]
    for j in range(n):
        dc[j] += dzf[j] * cf[j]
    for j in range(4 * n):
        db[j] += dz[j]
    for j in range(n):
        dci[j] += dzi[j] * c_prev[j]
    for j in range(n):
        dcf[j] += dzf[j] * c_prev[j]
    for j in range(n):
        dco[j] += dzo[j] * c[j]


@numba.njit(**_JIT)
def _step_backward(gates, c, c_prev, dh_out, dc_out, dh, dc, hh_t, ci, cf, co, dz, sums):
    """One step of some examples backwards; ``dh`` becomes the gradient of
    their previous outputs (``dz . hh^T``)."""
    for b in range(gates.shape[0]):
        _cell_backward(
            gates[b], c[b], c_prev[b], dh_out[b], dc_out[b], dh[b], dc[b], ci, cf, co, dz[b], sums
        )
    _matmul_by_terms(dz, hh_t, dh, 0.0)


@numba.njit(**_JIT)
def backward_kernel(c0, hh_t, ci, cf, co, cs, gates, dhs, dcs, dz, dh, dc, sums, lo, hi):
    """The gradient of :func:`forward_kernel` for the examples ``lo:hi``.

    ``hh_t`` is ``hh`` transposed (4 size, size), C-contiguous. Given the
    gradients ``dhs``, ``dcs`` of ``hs``, ``cs``: ``dz`` (time, batch,
    4 size) receives the gradient of the pre-activations; ``dh``, ``dc``
    (batch, size), zeros on entry, those of ``h0``, ``c0``; ``sums``
    (7 size) accumulates those of the bias and of ``ci``, ``cf``, ``co``.
    The gradients of the weights are products of ``dz`` (see ``_backward``).
    """
    if gates.shape[0] == 0 or hi <= lo:
        return
    for t in range(gates.shape[0] - 1, 0, -1):
        _step_backward(
            gates[t, lo:hi],
            cs[t, lo:hi],
            cs[t - 1, lo:hi],
            dhs[t, lo:hi],
            dcs[t, lo:hi],
            dh[lo:hi],
            dc[lo:hi],
            hh_t,
            ci,
            cf,
            co,
            dz[t, lo:hi],
            sums,
        )
    _step_backward(
        gates[0, lo:hi],
        cs[0, lo:hi],
        c0[lo:hi],
        dhs[0, lo:hi],
        dcs[0, lo:hi],
        dh[lo:hi],
        dc[lo:hi],
        hh_t,
        ci,
        cf,
        co,
        dz[0, lo:hi],
        sums,
    )


@numba.njit(**_JIT)
def forward_in_place(x, h0, c0, xh, b, hh, ci, cf, co, hs, cs, gates):
    """:class:`~theanets.ops.lstm.LSTMSequence` into ``hs``, ``cs``, ``gates``."""
    steps, batch, m = x.shape
    n = hh.shape[0]
    rows = steps * batch
    input_products(x.reshape(rows, m), xh, b, gates.reshape(rows, 4 * n), 0, rows)
    forward_kernel(gates, h0, c0, column_blocks(hh), ci, cf, co, hs, cs, 0, batch)


@numba.njit(**_JIT)
def backward_in_place(
    x, h0, c0, xh, b, hh, ci, cf, co, hs, cs, gates, dhs, dcs,
    dx, dh0, dc0, dxh, db, dhh, dci, dcf, dco,
):  # fmt: skip
    """:class:`~theanets.ops.lstm.LSTMSequenceGrad` into the gradients of its
    forward inputs (``dx`` to ``dco``)."""
    steps, batch, m = x.shape
    n = hh.shape[0]
    dh0[...] = 0
    dc0[...] = 0
    rows = steps * batch
    dz = np.empty((steps, batch, 4 * n), x.dtype)
    sums = np.zeros(7 * n, x.dtype)
    hh_t = np.ascontiguousarray(hh.T)
    backward_kernel(c0, hh_t, ci, cf, co, cs, gates, dhs, dcs, dz, dh0, dc0, sums, 0, batch)
    flat_dz = dz.reshape(rows, 4 * n)
    if dx.size == x.size:  # else not asked for (see theanets.ops._fused)
        _matmul(flat_dz, np.ascontiguousarray(xh.T), dx.reshape(rows, m), 0.0)
    _matmul_tn(x.reshape(rows, m), flat_dz, dxh, 0.0)
    # h[t - 1] is h0 at t = 0, else hs[t - 1]
    if steps == 0:
        dhh[...] = 0
    else:
        _matmul_tn(h0, flat_dz[:batch], dhh, 0.0)
    if steps > 1:
        _matmul_tn(hs.reshape(rows, n)[: rows - batch], flat_dz[batch:], dhh, 1.0)
    db[:] = sums[: 4 * n]
    dci[:] = sums[4 * n : 5 * n]
    dcf[:] = sums[5 * n : 6 * n]
    dco[:] = sums[6 * n :]


# The same, on ``parts`` threads (Numba's, ``prange``): the batch cut into
# slices for the recurrence, the steps into ranges for the products over all
# steps. Called only where Numba's threading layer may be entered from
# several threads at once (OpenMP or TBB; see theanets.ops.lstm_ffi) and BLAS
# runs on one thread, each part's products on their own.


@numba.njit(inline="always")
def _bounds(size, parts):
    """``parts + 1`` ends of nearly equal ranges covering ``range(size)``."""
    ends = np.empty(parts + 1, np.int64)
    for k in range(parts + 1):
        ends[k] = size * k // parts
    return ends


@numba.njit(parallel=True, **_JIT)
def forward_in_parts(x, h0, c0, xh, b, hh, ci, cf, co, hs, cs, gates, parts):
    """:func:`forward_in_place` on ``parts`` threads."""
    steps, batch, m = x.shape
    n = hh.shape[0]
    flat_x = x.reshape(steps * batch, m)
    flat_gates = gates.reshape(steps * batch, 4 * n)
    step_ends = _bounds(steps, parts)
    for k in numba.prange(parts):
        input_products(flat_x, xh, b, flat_gates, step_ends[k] * batch, step_ends[k + 1] * batch)
    blocks = column_blocks(hh)
    ends = _bounds(batch, parts)
    for k in numba.prange(parts):
        forward_kernel(gates, h0, c0, blocks, ci, cf, co, hs, cs, ends[k], ends[k + 1])


@numba.njit(parallel=True, **_JIT)
def backward_in_parts(
    x, h0, c0, xh, b, hh, ci, cf, co, hs, cs, gates, dhs, dcs,
    dx, dh0, dc0, dxh, db, dhh, dci, dcf, dco, parts,
):  # fmt: skip
    """:func:`backward_in_place` on ``parts`` threads."""
    steps, batch, m = x.shape
    n = hh.shape[0]
    dh0[...] = 0
    dc0[...] = 0
    dz = np.empty((steps, batch, 4 * n), x.dtype)
    sums = np.zeros((parts, 7 * n), x.dtype)
    hh_t = np.ascontiguousarray(hh.T)
    ends = _bounds(batch, parts)
    for k in numba.prange(parts):
        backward_kernel(
            c0, hh_t, ci, cf, co, cs, gates, dhs, dcs, dz, dh0, dc0, sums[k], ends[k], ends[k + 1]
        )
    rows = steps * batch
    flat_dz = dz.reshape(rows, 4 * n)
    flat_x = x.reshape(rows, m)
    with_dx = dx.size == x.size  # else not asked for (see theanets.ops._fused)
    flat_dx = dx.reshape(rows, m) if with_dx else np.empty((0, m), x.dtype)
    flat_hs = hs.reshape(rows, n)
    xh_t = np.ascontiguousarray(xh.T)
    part_dxh = np.zeros((parts, m, 4 * n), x.dtype)
    part_dhh = np.zeros((parts, n, 4 * n), x.dtype)
    step_ends = _bounds(steps, parts)
    for k in numba.prange(parts):
        lo, hi = step_ends[k] * batch, step_ends[k + 1] * batch
        if hi > lo:
            if with_dx:
                _matmul(flat_dz[lo:hi], xh_t, flat_dx[lo:hi], 0.0)
            _matmul_tn(flat_x[lo:hi], flat_dz[lo:hi], part_dxh[k], 0.0)
            # h[t - 1] is h0 at t = 0, else hs[t - 1]
            if lo == 0:
                _matmul_tn(h0, flat_dz[:batch], part_dhh[k], 0.0)
                if hi > batch:
                    _matmul_tn(flat_hs[: hi - batch], flat_dz[batch:hi], part_dhh[k], 1.0)
            else:
                _matmul_tn(flat_hs[lo - batch : hi - batch], flat_dz[lo:hi], part_dhh[k], 0.0)
    dxh[...] = part_dxh.sum(axis=0)
    dhh[...] = part_dhh.sum(axis=0)
    total = sums.sum(axis=0)
    db[:] = total[: 4 * n]
    dci[:] = total[4 * n : 5 * n]
    dcf[:] = total[5 * n : 6 * n]
    dco[:] = total[6 * n :]
