"""The fused GRU's compiled kernels (Numba): the recurrence and its gradient.

The loops that :mod:`theanets.ops.gru` runs for
:class:`~theanets.ops.gru.GRUSequence` in every compile mode, and that
:mod:`theanets.ops.gru_ffi` hands XLA as foreign functions. Per step
forwards: one product of the previous output with ``[hr | hz]`` (the two
gates at once), one pass over the units for the gates, one product of the
reset output ``r h`` with ``hh`` and one pass for the activation and the
blend. Backwards, one pass back in time with the two products transposed;
the gradients of the weights are products over all steps at the end. The
matrix products are BLAS's, cut into blocks as the LSTM's
(:mod:`theanets.ops.lstm_kernels`, whose helpers these kernels share).
Each kernel takes a range of the batch's examples, which are independent:
disjoint ranges may run at once.

The activation is one of :data:`ACTIVATIONS`, passed as its index: the
elementwise functions whose derivative follows from their input and output.
"""

import math

import numba
import numpy as np
from numba.extending import overload

from .lstm_kernels import (
    _JIT,
    _bounds,
    _float_type,
    _matmul,
    _matmul_by_columns,
    _matmul_by_terms,
    _matmul_tn,
    _sigmoid,
    _sigmoid_slope,
    _tanh,
    column_blocks,
    input_products,
)

__all__ = [
    "ACTIVATIONS",
    "backward_in_parts",
    "backward_in_place",
    "forward_in_parts",
    "forward_in_place",
]

#: The activations the kernels compute, by index (``rect:max`` is ``relu``,
#: ``sigmoid`` is ``logistic``: see :func:`theanets.ops.gru.activation_index`).
ACTIVATIONS = ("linear", "logistic", "tanh", "softplus", "relu", "rect:min", "rect:minmax")
LINEAR, LOGISTIC, TANH, SOFTPLUS, RELU, RECT_MIN, RECT_MINMAX = range(len(ACTIVATIONS))


def _activate(kind, pre, hid):
    """``hid = g(pre)`` over a row, ``g`` the activation ``kind``."""


def _times_slope(kind, pre, hid, d):
    """``d *= g'(pre)`` over a row, from ``pre`` and ``hid = g(pre)``."""


# Each branch is its own loop (the branch taken once a row, each loop
# vectorized); constants are of the arrays' float type, as in lstm_kernels.


@overload(_activate, jit_options=dict(error_model="numpy"))
def _activate_impl(kind, pre, hid):
    dtype = _float_type(pre.dtype)
    zero, one = dtype(0), dtype(1)

    def activate(kind, pre, hid):
        n = pre.shape[0]
        if kind == LINEAR:
            for j in range(n):
                hid[j] = pre[j]
        elif kind == LOGISTIC:
            for j in range(n):
                hid[j] = _sigmoid(pre[j])
        elif kind == TANH:
            for j in range(n):
                hid[j] = _tanh(pre[j])
        elif kind == SOFTPLUS:
            # log(1 + e^x) = max(x, 0) + log(1 + e^-|x|): no overflow
            for j in range(n):
                hid[j] = max(pre[j], zero) + math.log1p(math.exp(-abs(pre[j])))
        elif kind == RELU:
            for j in range(n):
                hid[j] = max(pre[j], zero)
        elif kind == RECT_MIN:
            for j in range(n):
                hid[j] = min(pre[j], one)
        else:
            for j in range(n):
                hid[j] = min(max(pre[j], zero), one)

    return activate


@overload(_times_slope, jit_options=dict(error_model="numpy"))
def _times_slope_impl(kind, pre, hid, d):
    dtype = _float_type(pre.dtype)
    zero, one = dtype(0), dtype(1)

    # the slopes at the kinks are PyTensor's: maximum and minimum pass the
    # gradient where the output equals the input, clip inside its closed range
    def times_slope(kind, pre, hid, d):
        n = pre.shape[0]
        if kind == LINEAR:
            return
        if kind == LOGISTIC:
            for j in range(n):
                d[j] *= _sigmoid_slope(hid[j])
        elif kind == TANH:
            for j in range(n):
                d[j] *= one - hid[j] * hid[j]
        elif kind == SOFTPLUS:
            for j in range(n):
                d[j] *= _sigmoid(pre[j])
        elif kind == RELU:
            for j in range(n):
                d[j] = d[j] if pre[j] >= zero else zero
        elif kind == RECT_MIN:
            for j in range(n):
                d[j] = d[j] if pre[j] <= one else zero
        else:
            for j in range(n):
                d[j] = d[j] if zero <= pre[j] <= one else zero

    return times_slope


@numba.njit(inline="always", **_JIT)
def _gates(grz, h, rate, reset, rh):
    """One example at one step: the reset and update gates from their
    pre-activations ``grz`` (``[r | z]``), and the reset output ``r h``."""
    n = h.shape[0]
    for j in range(n):
        reset[j] = _sigmoid(grz[j])
    for j in range(n):
        rate[j] = _sigmoid(grz[n + j])
    for j in range(n):
        rh[j] = reset[j] * h[j]


@numba.njit(inline="always", **_JIT)
def _blend(kind, h, rate, pre, hid, out):
    """One example at one step: ``hid = g(pre)``, ``out = (1 - z) h + z hid``."""
    _activate(kind, pre, hid)
    for j in range(h.shape[0]):
        out[j] = h[j] + rate[j] * (hid[j] - h[j])


@numba.njit(**_JIT)
def _step_forward(g, h, hh_blocks, rz_blocks, kind, pre, hid, rate, out, reset, rh):
    """One step of some examples: ``g`` holds their input products ``[x_h |
    x_r | x_z]`` (the gates' columns receive the recurrent products), ``h``
    their previous outputs; ``rh`` is scratch."""
    n = h.shape[1]
    _matmul_by_columns(h, rz_blocks, 2 * n, g[:, n:])
    for b in range(g.shape[0]):
        _gates(g[b, n:], h[b], rate[b], reset[b], rh[b])
    for b in range(g.shape[0]):
        pre[b] = g[b, :n]
    _matmul_by_columns(rh, hh_blocks, n, pre)
    for b in range(g.shape[0]):
        _blend(kind, h[b], rate[b], pre[b], hid[b], out[b])


@numba.njit(**_JIT)
def forward_kernel(g, h0, hh_blocks, rz_blocks, kind, pre, hid, rate, out, reset, rh, lo, hi):
    """The recurrence of the examples ``lo:hi`` of the batch, from ``h0``.

    ``g`` (time, batch, 3 size) holds the input products and bias and is
    overwritten; ``hh_blocks`` and ``rz_blocks`` are ``hh`` and ``[hr | hz]``
    as :func:`~theanets.ops.lstm_kernels.column_blocks`; ``pre``, ``hid``,
    ``rate``, ``out`` and ``reset`` (time, batch, size) receive the outputs;
    ``rh`` (batch, size) is scratch.
    """
    if g.shape[0] == 0 or hi <= lo:
        return
    _step_forward(
        g[0, lo:hi], h0[lo:hi], hh_blocks, rz_blocks, kind,
        pre[0, lo:hi], hid[0, lo:hi], rate[0, lo:hi], out[0, lo:hi], reset[0, lo:hi], rh[lo:hi],
    )  # fmt: skip
    for t in range(1, g.shape[0]):
        _step_forward(
            g[t, lo:hi], out[t - 1, lo:hi], hh_blocks, rz_blocks, kind, pre[t, lo:hi],
            hid[t, lo:hi], rate[t, lo:hi], out[t, lo:hi], reset[t, lo:hi], rh[lo:hi],
        )  # fmt: skip


@numba.njit(inline="always", **_JIT)
def _cell_backward(kind, h, pre, hid, z, r, dpre_out, dhid_out, drate_out, dout, dg, rh, dh):
    """One example at one step, backwards, before the products.

    ``dh`` comes in as the gradient of this step's output from the next
    step; ``dg`` (3 size) receives the gradients of ``pre`` and of the
    update gate's pre-activation (``[dpre | . | da_z]``; the reset gate's
    needs ``dpre . hh^T``), ``rh`` the reset output, and ``dh`` leaves as
    the gradient of ``h`` through the blend only.
    """
    n = h.shape[0]
    dpre, daz = dg[:n], dg[2 * n :]
    for j in range(n):
        dh[j] += dout[j]
    for j in range(n):
        dpre[j] = dh[j] * z[j] + dhid_out[j]
    _times_slope(kind, pre, hid, dpre)
    for j in range(n):
        dpre[j] += dpre_out[j]
    for j in range(n):
        daz[j] = (dh[j] * (hid[j] - h[j]) + drate_out[j]) * _sigmoid_slope(z[j])
    for j in range(n):
        rh[j] = r[j] * h[j]
    for j in range(n):
        dh[j] -= dh[j] * z[j]


@numba.njit(inline="always", **_JIT)
def _reset_backward(h, r, drh, dg, dh):
    """One example at one step: the reset gate's pre-activation gradient
    from that of the reset output ``drh``, and its share of ``dh``."""
    n = h.shape[0]
    dar = dg[n : 2 * n]
    for j in range(n):
        dar[j] = drh[j] * h[j] * _sigmoid_slope(r[j])
    for j in range(n):
        dh[j] += drh[j] * r[j]


@numba.njit(**_JIT)
def _step_backward(
    kind, h, pre, hid, z, r, dpre_out, dhid_out, drate_out, dout, hh_t, rz_t, dg, rh, dh, drh
):
    """One step of some examples backwards; ``dh`` becomes the gradient of
    their previous outputs, ``drh`` is scratch."""
    n = h.shape[1]
    for b in range(h.shape[0]):
        _cell_backward(
            kind, h[b], pre[b], hid[b], z[b], r[b], dpre_out[b], dhid_out[b], drate_out[b],
            dout[b], dg[b], rh[b], dh[b],
        )  # fmt: skip
    _matmul_by_terms(dg[:, :n], hh_t, drh, 0.0)
    for b in range(h.shape[0]):
        _reset_backward(h[b], r[b], drh[b], dg[b], dh[b])
    _matmul_by_terms(dg[:, n:], rz_t, dh, 1.0)


@numba.njit(**_JIT)
def backward_kernel(
    kind, h0, hh_t, rz_t, pre, hid, rate, out, reset,
    dpres, dhids, drates, douts, dg, rhs, dh, drh, lo, hi,
):  # fmt: skip
    """The gradient of :func:`forward_kernel` for the examples ``lo:hi``.

    ``hh_t`` and ``rz_t`` are ``hh`` and ``[hr | hz]`` transposed,
    C-contiguous. Given the gradients ``dpres``, ``dhids``, ``drates``,
    ``douts`` of the four outputs: ``dg`` (time, batch, 3 size) receives the
    gradient of the input products ``[x_h | x_r | x_z]``, ``rhs`` (time,
    batch, size) the reset outputs (for the gradient of ``hh``), ``dh``
    (batch, size), zeros on entry, that of ``h0``; ``drh`` (batch, size) is
    scratch.
    """
    if pre.shape[0] == 0 or hi <= lo:
        return
    for t in range(pre.shape[0] - 1, 0, -1):
        _step_backward(
            kind, out[t - 1, lo:hi], pre[t, lo:hi], hid[t, lo:hi], rate[t, lo:hi],
            reset[t, lo:hi], dpres[t, lo:hi], dhids[t, lo:hi], drates[t, lo:hi], douts[t, lo:hi],
            hh_t, rz_t, dg[t, lo:hi], rhs[t, lo:hi], dh[lo:hi], drh[lo:hi],
        )  # fmt: skip
    _step_backward(
        kind, h0[lo:hi], pre[0, lo:hi], hid[0, lo:hi], rate[0, lo:hi], reset[0, lo:hi],
        dpres[0, lo:hi], dhids[0, lo:hi], drates[0, lo:hi], douts[0, lo:hi],
        hh_t, rz_t, dg[0, lo:hi], rhs[0, lo:hi], dh[lo:hi], drh[lo:hi],
    )  # fmt: skip


@numba.njit(**_JIT)
def _side_by_side(a, b):
    """``[a | b]``, C-contiguous."""
    n, k = a.shape
    ab = np.empty((n, k + b.shape[1]), a.dtype)
    ab[:, :k] = a
    ab[:, k:] = b
    return ab


@numba.njit(**_JIT)
def _weight_products(x, h0, w_t, out, dg, rhs, dx, dw, db, dhh, dhr, dhz, t0, t1):
    """The gradients of the inputs (steps ``t0:t1``, into ``dx``) and the
    shares of those steps in the gradients of the weights (set, not added)."""
    steps, batch, m = x.shape
    n = h0.shape[1]
    lo, hi = t0 * batch, t1 * batch
    rows = steps * batch
    flat_dg = dg.reshape(rows, 3 * n)[lo:hi]
    if dx.size == x.size:  # else not asked for (see theanets.ops._fused)
        _matmul(flat_dg, w_t, dx.reshape(rows, m)[lo:hi], 0.0)
    _matmul_tn(x.reshape(rows, m)[lo:hi], flat_dg, dw, 0.0)
    for j in range(3 * n):
        db[j] = 0
    for r in range(hi - lo):
        for j in range(3 * n):
            db[j] += flat_dg[r, j]
    _matmul_tn(rhs.reshape(rows, n)[lo:hi], flat_dg[:, :n], dhh, 0.0)
    # the previous outputs: h0 at t = 0, else out[t - 1]
    flat_out = out.reshape(rows, n)
    if t0 == 0:
        _matmul_tn(h0, flat_dg[:batch, n : 2 * n], dhr, 0.0)
        _matmul_tn(h0, flat_dg[:batch, 2 * n :], dhz, 0.0)
        if hi > batch:
            _matmul_tn(flat_out[: hi - batch], flat_dg[batch:, n : 2 * n], dhr, 1.0)
            _matmul_tn(flat_out[: hi - batch], flat_dg[batch:, 2 * n :], dhz, 1.0)
    else:
        _matmul_tn(flat_out[lo - batch : hi - batch], flat_dg[:, n : 2 * n], dhr, 0.0)
        _matmul_tn(flat_out[lo - batch : hi - batch], flat_dg[:, 2 * n :], dhz, 0.0)


@numba.njit(**_JIT)
def forward_in_place(x, h0, w, b, hh, hr, hz, pre, hid, rate, out, reset, kind):
    """:class:`~theanets.ops.gru.GRUSequence` into ``pre`` to ``reset``, with
    the activation of index ``kind``."""
    steps, batch, m = x.shape
    n = hh.shape[0]
    rows = steps * batch
    g = np.empty((steps, batch, 3 * n), x.dtype)
    input_products(x.reshape(rows, m), w, b, g.reshape(rows, 3 * n), 0, rows)
    rh = np.empty((batch, n), x.dtype)
    hh_blocks, rz_blocks = column_blocks(hh), column_blocks(_side_by_side(hr, hz))
    forward_kernel(g, h0, hh_blocks, rz_blocks, kind, pre, hid, rate, out, reset, rh, 0, batch)


@numba.njit(**_JIT)
def backward_in_place(
    x, h0, w, b, hh, hr, hz, pre, hid, rate, out, reset,
    dpres, dhids, drates, douts, dx, dh0, dw, db, dhh, dhr, dhz, kind,
):  # fmt: skip
    """:class:`~theanets.ops.gru.GRUSequenceGrad` into the gradients of its
    forward inputs (``dx`` to ``dhz``)."""
    steps, batch, m = x.shape
    n = hh.shape[0]
    dh0[...] = 0
    dg = np.empty((steps, batch, 3 * n), x.dtype)
    rhs = np.empty((steps, batch, n), x.dtype)
    drh = np.empty((batch, n), x.dtype)
    hh_t = np.ascontiguousarray(hh.T)
    rz_t = np.ascontiguousarray(_side_by_side(hr, hz).T)
    backward_kernel(
        kind, h0, hh_t, rz_t, pre, hid, rate, out, reset,
        dpres, dhids, drates, douts, dg, rhs, dh0, drh, 0, batch,
    )  # fmt: skip
    if steps == 0:
        dw[...] = 0
        db[...] = 0
        dhh[...] = 0
        dhr[...] = 0
        dhz[...] = 0
        return
    w_t = np.ascontiguousarray(w.T)
    _weight_products(x, h0, w_t, out, dg, rhs, dx, dw, db, dhh, dhr, dhz, 0, steps)


# The same, on ``parts`` threads (Numba's, ``prange``), as the LSTM's: the
# batch cut into slices for the recurrence, the steps into ranges for the
# products over all steps (see theanets.ops.lstm_kernels).


@numba.njit(parallel=True, **_JIT)
def forward_in_parts(x, h0, w, b, hh, hr, hz, pre, hid, rate, out, reset, kind, parts):
    """:func:`forward_in_place` on ``parts`` threads."""
    steps, batch, m = x.shape
    n = hh.shape[0]
    flat_x = x.reshape(steps * batch, m)
    g = np.empty((steps, batch, 3 * n), x.dtype)
    flat_g = g.reshape(steps * batch, 3 * n)
    step_ends = _bounds(steps, parts)
    for k in numba.prange(parts):
        input_products(flat_x, w, b, flat_g, step_ends[k] * batch, step_ends[k + 1] * batch)
    rh = np.empty((batch, n), x.dtype)
    hh_blocks, rz_blocks = column_blocks(hh), column_blocks(_side_by_side(hr, hz))
    ends = _bounds(batch, parts)
    for k in numba.prange(parts):
        forward_kernel(
            g, h0, hh_blocks, rz_blocks, kind, pre, hid, rate, out, reset, rh, ends[k], ends[k + 1]
        )


@numba.njit(parallel=True, **_JIT)
def backward_in_parts(
    x, h0, w, b, hh, hr, hz, pre, hid, rate, out, reset,
    dpres, dhids, drates, douts, dx, dh0, dw, db, dhh, dhr, dhz, kind, parts,
):  # fmt: skip
    """:func:`backward_in_place` on ``parts`` threads."""
    steps, batch, m = x.shape
    n = hh.shape[0]
    dh0[...] = 0
    dg = np.empty((steps, batch, 3 * n), x.dtype)
    rhs = np.empty((steps, batch, n), x.dtype)
    drh = np.empty((batch, n), x.dtype)
    hh_t = np.ascontiguousarray(hh.T)
    rz_t = np.ascontiguousarray(_side_by_side(hr, hz).T)
    ends = _bounds(batch, parts)
    for k in numba.prange(parts):
        backward_kernel(
            kind, h0, hh_t, rz_t, pre, hid, rate, out, reset,
            dpres, dhids, drates, douts, dg, rhs, dh0, drh, ends[k], ends[k + 1],
        )  # fmt: skip
    w_t = np.ascontiguousarray(w.T)
    part_dw = np.zeros((parts, m, 3 * n), x.dtype)
    part_db = np.zeros((parts, 3 * n), x.dtype)
    part_dhh = np.zeros((parts, n, n), x.dtype)
    part_dhr = np.zeros((parts, n, n), x.dtype)
    part_dhz = np.zeros((parts, n, n), x.dtype)
    step_ends = _bounds(steps, parts)
    for k in numba.prange(parts):
        if step_ends[k + 1] > step_ends[k]:
            _weight_products(
                x, h0, w_t, out, dg, rhs, dx, part_dw[k], part_db[k], part_dhh[k], part_dhr[k],
                part_dhz[k], step_ends[k], step_ends[k + 1],
            )  # fmt: skip
    dw[...] = part_dw.sum(axis=0)
    db[...] = part_db.sum(axis=0)
    dhh[...] = part_dhh.sum(axis=0)
    dhr[...] = part_dhr.sum(axis=0)
    dhz[...] = part_dhz.sum(axis=0)
