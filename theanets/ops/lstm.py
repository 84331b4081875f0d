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
compiled graph, and the JAX mode has XLA call them on the CPU, as foreign
functions (:mod:`theanets.ops.lstm_ffi`); on an accelerator the JAX mode
compiles the op to XLA operations only (:mod:`theanets.ops.xla_lstm`).
Only first-order gradients are fused: second-order derivatives (the
Hessian-vector products of ESGD) and R-operators are taken through the
equivalent ``scan`` graph (:func:`reference`), so they stay exact.

The kernels themselves are in :mod:`theanets.ops.lstm_kernels`.
"""

import functools

import numba
import numpy as np
import pytensor
import pytensor.tensor as TT
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op

from .._backend import scan
from .._compat import node_and_shapes
from . import _fused
from ._dispatch import after_import
from ._gradient import disconnected
from ._threads import one_blas_thread as _one_blas_thread
from ._threads import run as _run
from ._threads import split as _split
from .lstm_kernels import (
    backward_in_place,
    backward_kernel,
    column_blocks,
    forward_in_place,
    forward_kernel,
    input_products,
)

__all__ = ["lstm_sequence", "reference", "LSTMSequence", "LSTMSequenceGrad"]

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
        _fused.store(output_storage, _forward(*inputs))

    def infer_shape(self, *args):
        node, shapes = node_and_shapes(args)
        x, xh, hh = shapes[0], shapes[3], shapes[5]
        return [(x[0], x[1], hh[0]), (x[0], x[1], hh[0]), (x[0], x[1], xh[1])]

    def pullback(self, inputs, outputs, output_grads):
        hs, cs, gates = outputs
        dhs = _fused.zeros_if_disconnected(output_grads[0], hs)
        dcs = _fused.zeros_if_disconnected(output_grads[1], cs)
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
        return _fused.pushforward(reference(*inputs), inputs, tangents)


class LSTMSequenceGrad(Op):
    """The gradient of :class:`LSTMSequence` (vector-Jacobian product).

    Inputs: the forward inputs, its outputs ``hs``, ``cs``, ``gates`` and the
    gradients of ``hs`` and ``cs``. Outputs: the gradients of the forward
    inputs; that of ``x`` is empty where ``dx`` is False (a rewrite of the graph turns
    it off where nothing reads it).
    """

    __props__ = ("dx",)

    def __init__(self, dx=True):
        self.dx = bool(dx)

    def make_node(self, *inputs):
        inputs = [TT.as_tensor_variable(v) for v in inputs]
        if len(inputs) != _FORWARD + 5:
            raise TypeError(
                "LSTMSequenceGrad: expected {} inputs, not {}".format(_FORWARD + 5, len(inputs))
            )
        return Apply(self, inputs, _fused.gradient_outputs(self, inputs[:_FORWARD]))

    def perform(self, node, inputs, output_storage):
        _fused.store(output_storage, _backward(*inputs, dx=self.dx))

    def infer_shape(self, *args):
        node, shapes = node_and_shapes(args)
        return _fused.gradient_shapes(self, shapes[:_FORWARD])

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
        return _fused.pushforward(
            self._reference_grads(inputs),
            self._differentiable(inputs),
            self._differentiable(tangents),
        )


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
        h0, c0, hh, ci, cf, co, flat, xh, b = _fused.kernel_args(
            [h0, c0, hh, ci, cf, co, flat, xh, b]
        )
        (blocks,) = _fused.kernel_args([column_blocks(hh)])
        args = [h0, c0, blocks, ci, cf, co]

        def inputs(lo, hi):
            input_products(flat, xh, b, flat_gates, lo, hi)

        def recurrence(lo, hi):
            forward_kernel(gates, *args, hs, cs, lo, hi)

        _run([lambda r=r: inputs(*r) for r in _split(steps * batch, threads, batch)])
        _run([lambda r=r: recurrence(*r) for r in _chunks(batch, threads)])
    return hs, cs, gates


def _backward(x, h0, c0, xh, b, hh, ci, cf, co, hs, cs, gates, dhs, dcs, dx=True):
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
        args = _fused.kernel_args([c0, np.transpose(hh), ci, cf, co, cs, gates, dhs, dcs])

        def recurrence(k, lo, hi):
            backward_kernel(*args, dz, dh, dc, sums[k], lo, hi)

        _run([lambda k=k, r=r: recurrence(k, *r) for k, r in enumerate(chunks)])

        # the products over all steps, in ranges of steps: h[t - 1] is
        # hs[t - 1] but at t = 0 (h0)
        flat_x = x.reshape(steps * batch, m)
        flat_dz = dz.reshape(steps * batch, 4 * n)
        flat_hs = hs.reshape(steps * batch, n)
        with_dx, dx = dx, np.empty((steps * batch, m) if dx else (0, m), x.dtype)
        ranges = _split(steps, threads)
        dxh = np.empty((len(ranges), m, 4 * n), x.dtype)
        dhh = np.empty((len(ranges), n, 4 * n), x.dtype)

        def products(k, t0, t1):
            lo, hi = t0 * batch, t1 * batch
            if with_dx:
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
        dx.reshape(x.shape if with_dx else _fused.NO_DX),
        dh,
        dc,
        dxh.sum(axis=0),
        total[: 4 * n],
        dhh.sum(axis=0),
        total[4 * n : 5 * n],
        total[5 * n : 6 * n],
        total[6 * n :],
    )


def _register_jax():
    """Register the JAX implementations (see :func:`theanets.ops._fused.register_jax`)."""
    from . import lstm_ffi, xla_lstm

    _fused.register_jax(
        LSTMSequence, "theanets_lstm_forward", 0, lambda op: xla_lstm.forward,
        lambda op: _forward, _forward_shapes, lstm_ffi.choose,
    )  # fmt: skip
    _fused.register_jax(
        LSTMSequenceGrad, "theanets_lstm_backward", 1, lambda op: xla_lstm.backward,
        lambda op: functools.partial(_backward, dx=op.dx), _backward_shapes, lstm_ffi.choose,
    )  # fmt: skip


def _forward_shapes(op, x, h0, c0, xh, b, hh, *_):
    steps, batch, _ = x.shape
    hidden = (steps, batch, hh.shape[0])
    return [(hidden, x.dtype), (hidden, x.dtype), ((steps, batch, xh.shape[1]), x.dtype)]


def _backward_shapes(op, *inputs):
    shapes = _fused.gradient_shapes(op, [v.shape for v in inputs[:_FORWARD]])
    return [(shape, v.dtype) for shape, v in zip(shapes, inputs, strict=False)]


# Added to PyTensor's disk-cache key of the compiled Numba graphs: change it
# when the kernels change.
NUMBA_VERSION = 6


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
        with_dx = op.dx

        @numba.njit
        def backward(x, h0, c0, xh, b, hh, ci, cf, co, hs, cs, gates, dhs, dcs):
            dx = np.empty_like(x) if with_dx else np.empty((0, 0, 0), x.dtype)
            grads = (
                dx, np.empty_like(h0), np.empty_like(c0), np.empty_like(xh), np.empty_like(b),
                np.empty_like(hh), np.empty_like(ci), np.empty_like(cf), np.empty_like(co),
            )  # fmt: skip
            c = np.ascontiguousarray
            backward_in_place(
                c(x), c(h0), c(c0), c(xh), c(b), c(hh), c(ci), c(cf), c(co),
                c(hs), c(cs), c(gates), c(dhs), c(dcs), *grads,
            )  # fmt: skip
            return grads

        return backward


_fused.skip_unused_dx(LSTMSequenceGrad)
after_import("pytensor.link.jax.dispatch", _register_jax)
after_import("pytensor.link.numba.dispatch", _register_numba)
