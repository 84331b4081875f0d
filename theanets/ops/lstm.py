"""A fused LSTM: the loop over time steps as one node, with its gradient.

:class:`theanets.layers.LSTM` written as a ``scan`` runs a dozen small
operations per time step, forwards and backwards, each dispatched on its own;
PyTorch runs one fused kernel per step. :func:`lstm_sequence` computes the
same recurrence (with its peephole connections) as one operation whose
implementation is a compiled loop (Numba): per step one matrix product by BLAS
and one pass over the cells, and for the gradient one pass back in time, with
the gradients of the weights as matrix products over all steps at the end.
The examples of a batch are independent, so the kernels run slices of it on
threads, as many as BLAS would have used (``OMP_NUM_THREADS``,
``OPENBLAS_NUM_THREADS``, threadpoolctl), while BLAS itself runs on one.

The same kernels run in every compile mode: ``perform`` calls them (the
Python linker of ``FAST_COMPILE``), the Numba mode calls them from its
compiled graph, and the JAX mode calls them back from XLA on the CPU; on an
accelerator the JAX mode compiles the op to XLA operations only
(:mod:`theanets.ops.xla_lstm`).
Only first-order gradients are fused: second-order derivatives (the
Hessian-vector products of ESGD) and R-operators are taken through the
equivalent ``scan`` graph (:func:`reference`), so they stay exact.

In float32, ``tanh`` (and the logistic sigmoid, as ``(1 + tanh(x / 2)) / 2``)
use a rational approximation that is accurate to float32 rounding and that
the compiler can vectorize; float64 uses the exact function.
"""

import math

import numba
import numpy as np
import pytensor
import pytensor.tensor as TT
from numba.extending import overload
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op

from .._backend import jacobian_vector, scan
from .._compat import node_and_shapes
from ._dispatch import after_import
from ._gradient import disconnected
from ._threads import one_blas_thread as _one_blas_thread
from ._threads import run as _run
from ._threads import split as _split

__all__ = ["lstm_sequence", "reference", "LSTMSequence", "LSTMSequenceGrad"]

# Numba compiles with these flags: no ZeroDivisionError checks (they stop the
# loops from being vectorized), and the floating-point contractions that keep
# NaN and infinity semantics (no 'nnan'/'ninf': a diverging model must show
# NaN, not garbage).
_JIT = dict(
    cache=True,
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


@overload(_matmul)
def _matmul_impl(a, b, c, beta):
    dtype = _float_type(a.dtype)
    gemm = _GEMM[dtype]
    kind = ord("s") if dtype is np.float32 else ord("d")
    size = np.dtype(dtype).itemsize
    no = ord("N")

    def matmul(a, b, c, beta):
        m, k = a.shape
        n = b.shape[1]
        if m == 0 or n == 0 or k == 0:
            _empty_product(c, beta)
            return
        coefficients = np.empty(2, dtype)
        coefficients[0] = 1
        coefficients[1] = beta
        # BLAS is column-major: a row-major matrix is its transpose there,
        # so c^T = b^T a^T is computed (the leading dimension: the row stride)
        gemm(
            kind,
            no,
            no,
            n,
            m,
            k,
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


def _matmul_tn(a, b, c, beta):
    """``c = a^T . b + beta c`` in a kernel, on matrices whose rows are contiguous."""
    c[...] = np.dot(a.T, b) + beta * c


@overload(_matmul_tn)
def _matmul_tn_impl(a, b, c, beta):
    dtype = _float_type(a.dtype)
    gemm = _GEMM[dtype]
    kind = ord("s") if dtype is np.float32 else ord("d")
    size = np.dtype(dtype).itemsize
    no, yes = ord("N"), ord("T")

    def matmul_tn(a, b, c, beta):
        inner, m = a.shape
        n = b.shape[1]
        if m == 0 or n == 0 or inner == 0:
            _empty_product(c, beta)
            return
        coefficients = np.empty(2, dtype)
        coefficients[0] = 1
        coefficients[1] = beta
        # column-major, c^T = b^T a: b as it is, a transposed
        gemm(
            kind,
            no,
            yes,
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

    return matmul_tn


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
def _matmul_by_terms(a, b, c):
    """``c = a . b``, summed over blocks of BLOCK inner terms (rows of ``b``)."""
    inner = b.shape[0]
    for start in range(0, inner, BLOCK):
        stop = min(inner, start + BLOCK)
        _matmul(a[:, start:stop], b[start:stop], c, 0.0 if start == 0 else 1.0)


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
    """Rows ``lo:hi`` of ``out = x . xh + b`` (the products of all steps, as
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
    _matmul_by_terms(dz, hh_t, dh)


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
    """:class:`~theanets.ops.lstm.LSTMSequenceGrad` into the gradients ``dx`` ... ``dco``."""
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


# ----- the reference: the same recurrence as a scan -----------------------

_NAMES = ("x", "h0", "c0", "xh", "b", "hh", "ci", "cf", "co")
_NDIMS = (3, 2, 2, 2, 1, 2, 1, 1, 1)
_FORWARD = len(_NAMES)


def reference(x, h0, c0, xh, b, hh, ci, cf, co):
    """The recurrence of :func:`lstm_sequence` as a PyTensor ``scan``.

    Used for what the fused operation does not compute itself (R-operators,
    second derivatives), and by the tests as the definition.

    Returns
    -------
    hs, cs, gates : symbolic tensors, as :class:`LSTMSequence`'s outputs.
    """
    n = hh.shape[0]

    def step(x_t, h_tm1, c_tm1, hh, ci, cf, co):
        z = x_t + TT.dot(h_tm1, hh)
        i = TT.sigmoid(z[:, :n] + c_tm1 * ci)
        f = TT.sigmoid(z[:, n : 2 * n] + c_tm1 * cf)
        g = TT.tanh(z[:, 2 * n : 3 * n])
        c = f * c_tm1 + i * g
        o = TT.sigmoid(z[:, 3 * n :] + c * co)
        h = o * TT.tanh(c)
        return [h, c, TT.concatenate([i, f, g, o], axis=1)]

    values, _ = scan(
        step,
        sequences=[TT.dot(x, xh) + b],
        outputs_info=[h0, c0, None],
        non_sequences=[hh, ci, cf, co],
        name="lstm_reference",
    )
    return values


def _zeros_if_disconnected(grad, like):
    return like.zeros_like() if disconnected(grad) else grad


class LSTMSequence(Op):
    """The LSTM recurrence over a whole sequence, as one operation.

    Inputs ``x`` (time, batch, inputs), ``h0``, ``c0`` (batch, size), ``xh``
    (inputs, 4 size), ``b`` (4 size), ``hh`` (size, 4 size), ``ci``, ``cf``,
    ``co`` (size,). Outputs ``hs``, ``cs`` (time, batch, size) and ``gates``
    (time, batch, 4 size), which only the gradient uses. See
    :func:`lstm_sequence`.
    """

    __props__ = ()

    def make_node(self, *inputs):
        inputs = _checked_inputs(inputs)
        x, h0, xh = inputs[0], inputs[1], inputs[3]
        steps, batch = x.type.shape[0], x.type.shape[1]
        if batch is None:
            batch = h0.type.shape[0]
        n4 = xh.type.shape[1]
        n = inputs[5].type.shape[0]
        if n is None and n4 is not None:
            n = n4 // 4
        outputs = [
            TT.tensor(dtype=x.dtype, shape=(steps, batch, n)),
            TT.tensor(dtype=x.dtype, shape=(steps, batch, n)),
            TT.tensor(dtype=x.dtype, shape=(steps, batch, n4)),
        ]
        return Apply(self, inputs, outputs)

    def perform(self, node, inputs, output_storage):
        _store(output_storage, _forward(*inputs))

    def infer_shape(self, *args):
        node, shapes = node_and_shapes(args)
        x, xh, hh = shapes[0], shapes[3], shapes[5]
        return [(x[0], x[1], hh[0]), (x[0], x[1], hh[0]), (x[0], x[1], xh[1])]

    def pullback(self, inputs, outputs, output_grads):
        hs, cs, gates = outputs
        dhs = _zeros_if_disconnected(output_grads[0], hs)
        dcs = _zeros_if_disconnected(output_grads[1], cs)
        if not disconnected(output_grads[2]):
            # only the gradient reads the gates; a derivative through them
            # (as a pushforward of the gradient takes) is the reference's
            reference_outputs = reference(*inputs)
            known = dict(zip(reference_outputs, [dhs, dcs, output_grads[2]], strict=True))
            return pytensor.gradient.grad(
                None,
                list(inputs),
                known_grads=known,
                disconnected_inputs="ignore",
                return_disconnected="zero",
            )
        return LSTMSequenceGrad()(*inputs, hs, cs, gates, dhs, dcs)

    def pushforward(self, inputs, outputs, tangents):
        return _pushforward(reference(*inputs), inputs, tangents)


class LSTMSequenceGrad(Op):
    """The gradient of :class:`LSTMSequence` (vector-Jacobian product).

    Inputs: the forward inputs, its outputs ``hs``, ``cs``, ``gates`` and the
    gradients of ``hs`` and ``cs``. Outputs: the gradients of the forward
    inputs.
    """

    __props__ = ()

    def make_node(self, *inputs):
        inputs = [TT.as_tensor_variable(v) for v in inputs]
        if len(inputs) != _FORWARD + 5:
            raise TypeError(
                "LSTMSequenceGrad: expected {} inputs, not {}".format(_FORWARD + 5, len(inputs))
            )
        outputs = [v.type() for v in inputs[:_FORWARD]]
        return Apply(self, inputs, outputs)

    def perform(self, node, inputs, output_storage):
        _store(output_storage, _backward(*inputs))

    def infer_shape(self, *args):
        node, shapes = node_and_shapes(args)
        return shapes[:_FORWARD]

    @staticmethod
    def _differentiable(inputs):
        """The inputs of which this op's outputs are a function: the forward
        inputs and the output gradients (``hs``, ``cs`` and ``gates`` are
        functions of the forward inputs)."""
        return list(inputs[:_FORWARD]) + list(inputs[_FORWARD + 3 :])

    def _reference_grads(self, inputs):
        """This op's outputs as a graph of the ``scan`` reference (for higher orders)."""
        forward, (dhs, dcs) = inputs[:_FORWARD], inputs[_FORWARD + 3 :]
        hs, cs, _ = reference(*forward)
        return pytensor.gradient.grad(None, list(forward), known_grads={hs: dhs, cs: dcs})

    def pullback(self, inputs, outputs, output_grads):
        grads = self._reference_grads(inputs)
        known = {g: d for g, d in zip(grads, output_grads, strict=True) if not disconnected(d)}
        through = pytensor.gradient.grad(
            None,
            self._differentiable(inputs),
            known_grads=known,
            disconnected_inputs="ignore",
            return_disconnected="zero",
        )
        # hs, cs and gates are functions of the forward inputs, which the
        # reference recomputes: their own contribution is in ``through``.
        return (
            list(through[:_FORWARD])
            + [v.zeros_like() for v in inputs[_FORWARD : _FORWARD + 3]]
            + list(through[_FORWARD:])
        )

    def pushforward(self, inputs, outputs, tangents):
        return _pushforward(
            self._reference_grads(inputs),
            self._differentiable(inputs),
            self._differentiable(tangents),
        )


def _pushforward(outputs, inputs, tangents):
    """Jacobian-vector products of ``outputs`` (a graph of ``inputs``)."""
    pairs = [(i, t) for i, t in zip(inputs, tangents, strict=True) if not disconnected(t)]
    if not pairs:
        return [out.zeros_like() for out in outputs]
    wrt, points = zip(*pairs, strict=True)
    return [jacobian_vector(out, list(wrt), list(points)) for out in outputs]


def _checked_inputs(inputs):
    if len(inputs) != _FORWARD:
        raise TypeError(
            "LSTMSequence: expected the {} inputs {}, got {}".format(
                _FORWARD, ", ".join(_NAMES), len(inputs)
            )
        )
    inputs = [TT.as_tensor_variable(v) for v in inputs]
    for name, var, ndim in zip(_NAMES, inputs, _NDIMS, strict=True):
        if var.ndim != ndim:
            raise TypeError("LSTMSequence: {} must be {}-D, not {}-D".format(name, ndim, var.ndim))
        if var.dtype not in ("float32", "float64") or var.dtype != inputs[0].dtype:
            raise TypeError(
                "LSTMSequence: every input must have the dtype of x ({}); {} is {}".format(
                    inputs[0].dtype, name, var.dtype
                )
            )
    return inputs


def lstm_sequence(x, h0, c0, xh, b, hh, ci, cf, co):
    """The LSTM recurrence with peepholes over a time-major sequence.

    ``z = x[t] . xh + b + h[t-1] . hh`` is split into ``[i, f, g, o]``;
    ``i = sigmoid(z_i + c[t-1] ci)``, ``f = sigmoid(z_f + c[t-1] cf)``,
    ``c[t] = f c[t-1] + i tanh(z_g)``, ``o = sigmoid(z_o + c[t] co)``,
    ``h[t] = o tanh(c[t])``.

    Parameters
    ----------
    x : symbolic 3-D tensor (time, batch, inputs)
        The input sequence.
    h0, c0 : symbolic matrices (batch, size)
        The initial output and cell.
    xh : symbolic matrix (inputs, 4 size)
        The input weights.
    b : symbolic vector (4 size,)
        The bias.
    hh : symbolic matrix (size, 4 size)
        The recurrent weights.
    ci, cf, co : symbolic vectors (size,)
        The peephole weights.

    Returns
    -------
    hs, cs : symbolic 3-D tensors (time, batch, size)
        The outputs and cells of every step.

    Examples
    --------
    >>> import numpy as np, pytensor, pytensor.tensor as TT
    >>> from theanets.ops.lstm import lstm_sequence
    >>> x, h0, c0, xh, hh = TT.tensor3(), TT.matrix(), TT.matrix(), TT.matrix(), TT.matrix()
    >>> b, ci, cf, co = TT.vector(), TT.vector(), TT.vector(), TT.vector()
    >>> hs, cs = lstm_sequence(x, h0, c0, xh, b, hh, ci, cf, co)
    >>> f = pytensor.function([x, h0, c0, xh, b, hh, ci, cf, co], hs)
    >>> m, n = 2, 3
    >>> zeros = lambda *shape: np.zeros(shape, 'float32')
    >>> out = f(np.ones((5, 4, m), 'float32'), zeros(4, n), zeros(4, n), zeros(m, 4 * n),
    ...         zeros(4 * n), zeros(n, 4 * n), zeros(n), zeros(n), zeros(n))
    >>> out.shape
    (5, 4, 3)
    """
    inputs = [TT.as_tensor_variable(v) for v in (x, h0, c0, xh, b, hh, ci, cf, co)]
    # the common type, as scan's step would compute in
    dtype = pytensor.scalar.upcast(*[v.dtype for v in inputs])
    hs, cs, _ = LSTMSequence()(*[TT.cast(v, dtype) for v in inputs])
    return hs, cs


# ----- backends ---------------------------------------------------------------


def _kernel_args(arrays):
    """Arrays as the kernels are compiled for: C-contiguous and read-only.

    One array type per dtype (XLA hands callbacks read-only arrays), so that
    Numba compiles each kernel once.
    """
    out = []
    for a in arrays:
        a = np.ascontiguousarray(a)
        if a.flags.writeable:
            a = a.view()
            a.flags.writeable = False
        out.append(a)
    return out


# rows of the batch each thread takes at least: fewer make the per-step
# products too small for BLAS to run at speed
_MIN_ROWS = 16


def _chunks(batch, threads):
    return _split(batch, max(1, min(threads, batch // _MIN_ROWS)))


def _forward(x, h0, c0, xh, b, hh, ci, cf, co):
    """The forward kernel on slices of the batch, one a thread, after the
    input products of all steps (numpy's BLAS, by rows in each thread)."""
    steps, batch, m = x.shape
    n = hh.shape[0]
    with _one_blas_thread() as threads:
        flat = x.reshape(steps * batch, m)
        gates = np.empty((steps, batch, 4 * n), x.dtype)
        flat_gates = gates.reshape(steps * batch, 4 * n)
        hs = np.empty((steps, batch, n), x.dtype)
        cs = np.empty((steps, batch, n), x.dtype)
        h0, c0, hh, ci, cf, co, flat, xh, b = _kernel_args([h0, c0, hh, ci, cf, co, flat, xh, b])
        (blocks,) = _kernel_args([column_blocks(hh)])
        args = [h0, c0, blocks, ci, cf, co]

        def inputs(lo, hi):
            input_products(flat, xh, b, flat_gates, lo, hi)

        def recurrence(lo, hi):
            forward_kernel(gates, *args, hs, cs, lo, hi)

        _run([lambda r=r: inputs(*r) for r in _split(steps * batch, threads, batch)])
        _run([lambda r=r: recurrence(*r) for r in _chunks(batch, threads)])
    return hs, cs, gates


def _backward(x, h0, c0, xh, b, hh, ci, cf, co, hs, cs, gates, dhs, dcs):
    """The backward kernel on slices of the batch, one a thread, then the
    gradients of the weights and inputs as products over all steps (numpy's
    BLAS, by steps in each thread, summed)."""
    steps, batch, m = x.shape
    n = hh.shape[0]
    with _one_blas_thread() as threads:
        dz = np.empty((steps, batch, 4 * n), x.dtype)
        dh = np.zeros((batch, n), x.dtype)
        dc = np.zeros((batch, n), x.dtype)
        chunks = _chunks(batch, threads)
        sums = np.zeros((len(chunks), 7 * n), x.dtype)
        args = _kernel_args([c0, np.transpose(hh), ci, cf, co, cs, gates, dhs, dcs])

        def recurrence(k, lo, hi):
            backward_kernel(*args, dz, dh, dc, sums[k], lo, hi)

        _run([lambda k=k, r=r: recurrence(k, *r) for k, r in enumerate(chunks)])

        # the products over all steps, in ranges of steps: h[t - 1] is
        # hs[t - 1] but at t = 0 (h0)
        flat_x = x.reshape(steps * batch, m)
        flat_dz = dz.reshape(steps * batch, 4 * n)
        flat_hs = hs.reshape(steps * batch, n)
        dx = np.empty((steps * batch, m), x.dtype)
        ranges = _split(steps, threads)
        dxh = np.empty((len(ranges), m, 4 * n), x.dtype)
        dhh = np.empty((len(ranges), n, 4 * n), x.dtype)

        def products(k, t0, t1):
            lo, hi = t0 * batch, t1 * batch
            np.dot(flat_dz[lo:hi], xh.T, out=dx[lo:hi])
            np.dot(flat_x[lo:hi].T, flat_dz[lo:hi], out=dxh[k])
            if t0 == 0:
                np.dot(h0.T, flat_dz[:batch], out=dhh[k])
                if hi > batch:
                    dhh[k] += np.dot(flat_hs[: hi - batch].T, flat_dz[batch:hi])
            else:
                np.dot(flat_hs[lo - batch : hi - batch].T, flat_dz[lo:hi], out=dhh[k])

        _run([lambda k=k, r=r: products(k, *r) for k, r in enumerate(ranges)])
    total = sums.sum(axis=0)
    return (
        dx.reshape(x.shape),
        dh,
        dc,
        dxh.sum(axis=0),
        total[: 4 * n],
        dhh.sum(axis=0),
        total[4 * n : 5 * n],
        total[5 * n : 6 * n],
        total[6 * n :],
    )


def _store(output_storage, values):
    for storage, value in zip(output_storage, values, strict=True):
        storage[0] = value


def _register_jax():
    """Register the JAX implementations, by :func:`~theanets.ops.xla_lstm.jax_path`.

    On the CPU the kernels run as XLA foreign functions on XLA's buffers
    (:mod:`theanets.ops.lstm_ffi`); where XLA refuses those (or with
    ``THEANETS_JAX_RECURRENCE=callback``) they are called back from XLA
    through Python, described below. On an accelerator (or with
    ``THEANETS_JAX_RECURRENCE=xla``) the op compiles to XLA operations
    instead (:mod:`theanets.ops.xla_lstm`), with no host callback.

    ``jax.pure_callback`` hands its callback ``jax.Array`` values, whose
    conversion to numpy waits for XLA's CPU thread pool, which the calling
    program occupies: on a single core it never returns. So the kernels get
    their own primitives, lowered to a host callback that receives XLA's
    buffers as numpy arrays directly (``jax._src.callback.emit_python_callback``,
    the lowering ``pure_callback`` itself uses). With jax 0.10.2,
    ``jax.pure_callback`` still hangs on one pinned core (the benchmarks'
    LSTM case under ``taskset -c 0``), so the private lowering stays; where
    an installed jax lacks it, the XLA path is taken.
    """
    from pytensor.link.jax.dispatch import jax_funcify

    from . import xla_lstm

    primitives = []

    def kernels():
        # made at the first compilation on the callback path only
        if not primitives:
            primitives.append(_jax_primitive("theanets_lstm_forward", _forward, _forward_shapes))
            primitives.append(_jax_primitive("theanets_lstm_backward", _backward, _backward_shapes))
        return primitives

    @jax_funcify.register(LSTMSequence)
    def _jax_forward(op, node=None, **kwargs):
        path = xla_lstm.jax_path()
        if path == "xla":
            return xla_lstm.forward

        def forward(*inputs):
            target = _foreign(path, inputs, 0)
            if target is not None:
                return tuple(_ffi_call(target, _forward_shapes, inputs))
            return tuple(kernels()[0].bind(*inputs))

        return forward

    @jax_funcify.register(LSTMSequenceGrad)
    def _jax_backward(op, node=None, **kwargs):
        path = xla_lstm.jax_path()
        if path == "xla":
            return lambda *inputs: tuple(xla_lstm.backward(*inputs))

        def backward(*inputs):
            target = _foreign(path, inputs, 1)
            if target is not None:
                return tuple(_ffi_call(target, _backward_shapes, inputs))
            return tuple(kernels()[1].bind(*inputs))

        return backward


def _foreign(path, inputs, part):
    """The FFI target ``part`` (0 forwards, 1 backwards) for ``inputs``
    (traced: their dtype is the one JAX computes in) on the ``'ffi'`` path
    where XLA accepts it, else None (the host callback serves)."""
    if path != "ffi":
        return None
    from . import lstm_ffi

    names = lstm_ffi.targets(inputs[0].dtype)
    return None if names is None else names[part]


def _ffi_call(target, shapes, inputs):
    """XLA's custom call of FFI ``target`` on ``inputs``, results of ``shapes(*inputs)``."""
    import jax

    results = [jax.ShapeDtypeStruct(shape, dtype) for shape, dtype in shapes(*inputs)]
    return jax.ffi.ffi_call(target, results)(*inputs)


def _forward_shapes(x, h0, c0, xh, b, hh, *_):
    steps, batch, _ = x.shape
    hidden = (steps, batch, hh.shape[0])
    return [(hidden, x.dtype), (hidden, x.dtype), ((steps, batch, xh.shape[1]), x.dtype)]


def _backward_shapes(*inputs):
    return [(v.shape, v.dtype) for v in inputs[:_FORWARD]]


def _jax_primitive(name, kernel, shapes):
    """A JAX primitive computing ``kernel`` on the host, with numpy arguments."""
    from jax._src.callback import emit_python_callback
    from jax.core import ShapedArray
    from jax.extend.core import Primitive
    from jax.interpreters import mlir

    primitive = Primitive(name)
    primitive.multiple_results = True
    primitive.def_impl(lambda *args: kernel(*[np.asarray(a) for a in args]))
    primitive.def_abstract_eval(
        lambda *avals: [ShapedArray(shape, dtype) for shape, dtype in shapes(*avals)]
    )

    def lowering(ctx, *operands):
        results, _, _ = emit_python_callback(
            ctx,
            lambda *args: tuple(kernel(*args)),
            None,
            list(operands),
            ctx.avals_in,
            ctx.avals_out,
            has_side_effect=False,
            returns_token=False,
        )
        return results

    # every platform (reached only where THEANETS_JAX_RECURRENCE=callback
    # forces it off the CPU: the buffers then go through the host)
    mlir.register_lowering(primitive, lowering, cacheable=False)
    return primitive


# Added to PyTensor's disk-cache key of the compiled Numba graphs: change it
# when the kernels change.
NUMBA_VERSION = 5


def _register_numba():
    """Register the Numba implementations: the kernels, called from the graph."""
    from ._dispatch import numba_register

    @numba_register(LSTMSequence, NUMBA_VERSION)
    def _numba_forward(op, node, **kwargs):
        @numba.njit
        def forward(x, h0, c0, xh, b, hh, ci, cf, co):
            steps, batch, _ = x.shape
            n = hh.shape[0]
            hs = np.empty((steps, batch, n), x.dtype)
            cs = np.empty((steps, batch, n), x.dtype)
            gates = np.empty((steps, batch, 4 * n), x.dtype)
            # the kernels read rows as contiguous blocks
            forward_in_place(
                np.ascontiguousarray(x), np.ascontiguousarray(h0), np.ascontiguousarray(c0),
                np.ascontiguousarray(xh), np.ascontiguousarray(b), np.ascontiguousarray(hh),
                np.ascontiguousarray(ci), np.ascontiguousarray(cf), np.ascontiguousarray(co),
                hs, cs, gates,
            )  # fmt: skip
            return hs, cs, gates

        return forward

    @numba_register(LSTMSequenceGrad, NUMBA_VERSION)
    def _numba_backward(op, node, **kwargs):
        @numba.njit
        def backward(x, h0, c0, xh, b, hh, ci, cf, co, hs, cs, gates, dhs, dcs):
            grads = (
                np.empty_like(x), np.empty_like(h0), np.empty_like(c0), np.empty_like(xh),
                np.empty_like(b), np.empty_like(hh), np.empty_like(ci), np.empty_like(cf),
                np.empty_like(co),
            )  # fmt: skip
            c = np.ascontiguousarray
            backward_in_place(
                c(x), c(h0), c(c0), c(xh), c(b), c(hh), c(ci), c(cf), c(co),
                c(hs), c(cs), c(gates), c(dhs), c(dcs), *grads,
            )  # fmt: skip
            return grads

        return backward


after_import("pytensor.link.jax.dispatch", _register_jax)
after_import("pytensor.link.numba.dispatch", _register_numba)
