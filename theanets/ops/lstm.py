"""A fused LSTM: the loop over time steps as one node, with its gradient.

:class:`theanets.layers.LSTM` written as a ``scan`` runs a dozen small
operations per time step, forwards and backwards, each dispatched on its own;
PyTorch runs one fused kernel per step. :func:`lstm_sequence` computes the
same recurrence (with its peephole connections) as one operation whose
implementation is a compiled loop (Numba): per step one matrix product by BLAS
and one pass over the cells, and for the gradient one pass back in time, with
the gradient of the recurrent weights as a single matrix product at the end.

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
from typing import Any

import numba
import numpy as np
import pytensor
import pytensor.tensor as TT
from numba.extending import overload
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op

from .._backend import jacobian_vector, scan
from ._dispatch import after_import
from ._gradient import disconnected

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


# The per-cell loops below each write one array and read at most three: a
# loop over more arrays is not vectorized (the compiler cannot rule out that
# they overlap).


@numba.njit(inline="always", **_JIT)
def _cell_forward(x, z, c, ci, cf, co, gate, c_new, h_new):
    """One example at one step: gates ``[i, f, g, o]``, the new cell and output."""
    n = c.shape[0]
    i, f, g, o = gate[:n], gate[n : 2 * n], gate[2 * n : 3 * n], gate[3 * n :]
    for j in range(n):
        i[j] = _sigmoid(x[j] + z[j] + c[j] * ci[j])
    for j in range(n):
        f[j] = _sigmoid(x[n + j] + z[n + j] + c[j] * cf[j])
    for j in range(n):
        g[j] = _tanh(x[2 * n + j] + z[2 * n + j])
    for j in range(n):
        c_new[j] = f[j] * c[j] + i[j] * g[j]
    for j in range(n):
        o[j] = _sigmoid(x[3 * n + j] + z[3 * n + j] + c_new[j] * co[j])
    for j in range(n):
        h_new[j] = o[j] * _tanh(c_new[j])


@numba.njit(**_JIT)
def forward_kernel(xs, h0, c0, hh, ci, cf, co):
    """The recurrence over ``xs`` (time, batch, 4 size), from ``h0``, ``c0``.

    Returns ``hs``, ``cs`` (time, batch, size) and the activated gates
    ``[i, f, g, o]`` (time, batch, 4 size), kept for the gradient.
    """
    steps, batch, n4 = xs.shape
    n = n4 // 4
    hs = np.empty((steps, batch, n), xs.dtype)
    cs = np.empty((steps, batch, n), xs.dtype)
    gates = np.empty((steps, batch, n4), xs.dtype)
    hh = np.ascontiguousarray(hh)
    h = np.ascontiguousarray(h0)
    c = np.ascontiguousarray(c0)
    for t in range(steps):
        z = np.dot(h, hh)
        for b in range(batch):
            _cell_forward(xs[t, b], z[b], c[b], ci, cf, co, gates[t, b], cs[t, b], hs[t, b])
        h = hs[t]
        c = cs[t]
    return hs, cs, gates


@numba.njit(inline="always", **_JIT)
def _cell_backward(gate, c, c_prev, dh_out, dc_out, dh, dc, ci, cf, co, dz, dh_total, dc_total):
    """One example at one step, backwards: ``dz`` (the pre-activations'
    gradient ``[i, f, g, o]``) and the cell gradient passed back in ``dc``."""
    n = c.shape[0]
    i, f, g, o = gate[:n], gate[n : 2 * n], gate[2 * n : 3 * n], gate[3 * n :]
    dzi, dzf, dzg, dzo = dz[:n], dz[n : 2 * n], dz[2 * n : 3 * n], dz[3 * n :]
    for j in range(n):
        dh_total[j] = dh_out[j] + dh[j]
    for j in range(n):
        dzo[j] = dh_total[j] * _tanh(c[j]) * _sigmoid_slope(o[j])
    for j in range(n):
        dc_total[j] = dc_out[j] + dc[j]
    for j in range(n):
        dc_total[j] += dh_total[j] * o[j] * _tanh_slope(_tanh(c[j]))
    for j in range(n):
        dc_total[j] += dzo[j] * co[j]
    for j in range(n):
        dzi[j] = dc_total[j] * g[j] * _sigmoid_slope(i[j])
    for j in range(n):
        dzf[j] = dc_total[j] * c_prev[j] * _sigmoid_slope(f[j])
    for j in range(n):
        dzg[j] = dc_total[j] * i[j] * _tanh_slope(g[j])
    for j in range(n):
        dc[j] = dc_total[j] * f[j]
    for j in range(n):
        dc[j] += dzi[j] * ci[j]
    for j in range(n):
        dc[j] += dzf[j] * cf[j]


@numba.njit(**_JIT)
def backward_kernel(h0, c0, hh, ci, cf, co, hs, cs, gates, dhs, dcs):
    """Gradients of :func:`forward_kernel`'s inputs, given those of ``hs``, ``cs``.

    Returns the gradients of ``xs, h0, c0, hh, ci, cf, co``.
    """
    steps, batch, n = hs.shape
    dxs = np.empty((steps, batch, 4 * n), hs.dtype)
    dh = np.zeros((batch, n), hs.dtype)
    dc = np.zeros((batch, n), hs.dtype)
    dh_total = np.empty(n, hs.dtype)
    dc_total = np.empty(n, hs.dtype)
    hh_t = np.ascontiguousarray(hh.T)
    c0 = np.ascontiguousarray(c0)
    for t in range(steps - 1, -1, -1):
        c_prev = cs[t - 1] if t > 0 else c0
        for b in range(batch):
            _cell_backward(
                gates[t, b],
                cs[t, b],
                c_prev[b],
                dhs[t, b],
                dcs[t, b],
                dh[b],
                dc[b],
                ci,
                cf,
                co,
                dxs[t, b],
                dh_total,
                dc_total,
            )
        dh = np.dot(dxs[t], hh_t)
    dci = np.zeros(n, hs.dtype)
    dcf = np.zeros(n, hs.dtype)
    dco = np.zeros(n, hs.dtype)
    for t in range(steps):
        c_prev = cs[t - 1] if t > 0 else c0
        for b in range(batch):
            dz, cp, cn = dxs[t, b], c_prev[b], cs[t, b]
            for j in range(n):
                dci[j] += dz[j] * cp[j]
            for j in range(n):
                dcf[j] += dz[n + j] * cp[j]
            for j in range(n):
                dco[j] += dz[3 * n + j] * cn[j]
    h_prev = np.empty((steps, batch, n), hs.dtype)
    h_prev[0] = h0
    h_prev[1:] = hs[:-1]
    dhh = np.dot(
        np.ascontiguousarray(h_prev.reshape(steps * batch, n).T), dxs.reshape(steps * batch, 4 * n)
    )
    return dxs, dh, dc, dhh, dci, dcf, dco


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
        # (fgraph, node, shapes) before PyTensor 3.3, (node, shapes) from it
        node, shapes = args[-2:]
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
        # (fgraph, node, shapes) before PyTensor 3.3, (node, shapes) from it
        node, shapes = args[-2:]
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


_BLAS: list[Any] = []  # the BLAS libraries, selected once


def _one_blas_thread():
    """A context running the BLAS libraries on one thread.

    The kernels make many small products (one per step): on several BLAS
    threads they wait for each other more than they compute, and more so when
    called back from XLA's own threads (measured with the benchmarks' LSTM on
    two cores: 59 ms a step against 20 ms on one BLAS thread).
    """
    if not _BLAS:
        import scipy.linalg.cython_blas  # noqa: F401 (the BLAS Numba's products call)
        import threadpoolctl

        _BLAS.append(threadpoolctl.ThreadpoolController().select(user_api="blas"))
    return _BLAS[0].limit(limits=1)


def _forward(x, h0, c0, xh, b, hh, ci, cf, co):
    """The forward kernel, with the input products of all steps by numpy's BLAS."""
    steps, batch, m = x.shape
    with _one_blas_thread():
        xs = np.dot(x.reshape(steps * batch, m), xh)
        xs += b
        return forward_kernel(*_kernel_args([xs.reshape(steps, batch, -1), h0, c0, hh, ci, cf, co]))


def _backward(x, h0, c0, xh, b, hh, ci, cf, co, hs, cs, gates, dhs, dcs):
    """The backward kernel, and the input products' gradients by numpy's BLAS."""
    steps, batch, m = x.shape
    with _one_blas_thread():
        dz, dh0, dc0, dhh, dci, dcf, dco = backward_kernel(
            *_kernel_args([h0, c0, hh, ci, cf, co, hs, cs, gates, dhs, dcs])
        )
        flat = dz.reshape(steps * batch, -1)
        dx = np.dot(flat, xh.T).reshape(x.shape)
        dxh = np.dot(x.reshape(steps * batch, m).T, flat)
    return dx, dh0, dc0, dxh, flat.sum(axis=0), dhh, dci, dcf, dco


def _store(output_storage, values):
    for storage, value in zip(output_storage, values, strict=True):
        storage[0] = value


def _register_jax():
    """Register the JAX implementations: the kernels, called back from XLA.

    On an accelerator (or with ``THEANETS_JAX_RECURRENCE=xla``) the op
    compiles to XLA operations instead (:mod:`theanets.ops.xla_lstm`), with
    no host callback.

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
        if xla_lstm.jax_path() == "xla":
            return xla_lstm.forward
        forward_p = kernels()[0]
        return lambda *inputs: tuple(forward_p.bind(*inputs))

    @jax_funcify.register(LSTMSequenceGrad)
    def _jax_backward(op, node=None, **kwargs):
        if xla_lstm.jax_path() == "xla":
            return lambda *inputs: tuple(xla_lstm.backward(*inputs))
        backward_p = kernels()[1]
        return lambda *inputs: tuple(backward_p.bind(*inputs))


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
NUMBA_VERSION = 1


def _register_numba():
    """Register the Numba implementations: the kernels, called from the graph."""
    from ._dispatch import numba_register

    @numba_register(LSTMSequence, NUMBA_VERSION)
    def _numba_forward(op, node, **kwargs):
        @numba.njit
        def forward(x, h0, c0, xh, b, hh, ci, cf, co):
            steps, batch, m = x.shape
            xs = np.dot(np.ascontiguousarray(x).reshape(steps * batch, m), xh) + b
            return forward_kernel(xs.reshape(steps, batch, xs.shape[1]), h0, c0, hh, ci, cf, co)

        return forward

    @numba_register(LSTMSequenceGrad, NUMBA_VERSION)
    def _numba_backward(op, node, **kwargs):
        @numba.njit
        def backward(x, h0, c0, xh, b, hh, ci, cf, co, hs, cs, gates, dhs, dcs):
            dz, dh0, dc0, dhh, dci, dcf, dco = backward_kernel(
                h0, c0, hh, ci, cf, co, hs, cs, gates, dhs, dcs
            )
            steps, batch, m = x.shape
            flat = dz.reshape(steps * batch, dz.shape[2])
            dx = np.dot(flat, np.ascontiguousarray(xh.T)).reshape(steps, batch, m)
            x2 = np.ascontiguousarray(np.ascontiguousarray(x).reshape(steps * batch, m).T)
            return dx, dh0, dc0, np.dot(x2, flat), flat.sum(axis=0), dhh, dci, dcf, dco

        return backward


after_import("pytensor.link.jax.dispatch", _register_jax)
after_import("pytensor.link.numba.dispatch", _register_numba)
