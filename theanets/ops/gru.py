"""A fused GRU: the loop over time steps as one node, with its gradient.

:class:`theanets.layers.GRU` written as a ``scan`` runs about a dozen small
operations per time step, forwards and backwards, each dispatched on its own.
:func:`gru_sequence` computes the same recurrence as one operation whose
implementation is a compiled loop (Numba, :mod:`theanets.ops.gru_kernels`):
per step two matrix products by BLAS (the previous output with both gates'
weights at once, then the reset output with ``hh``) and two passes over the
units, and for the gradient one pass back in time, with the gradients of the
weights as matrix products over all steps at the end.

It runs as the fused LSTM does (:mod:`theanets.ops.lstm`): ``perform`` and
the Numba mode call the kernels on one thread; the JAX mode has XLA call
them on the CPU as foreign functions (:mod:`theanets.ops.gru_ffi`), the
batch split over threads as the LSTM's, and on an accelerator compiles the
op to XLA operations only (:mod:`theanets.ops.xla_gru`). Second-order
derivatives and R-operators go through the equivalent ``scan``
(:func:`reference`).

The activation of the candidate state is one of the elementwise functions
of :data:`~theanets.ops.gru_kernels.ACTIVATIONS`; :func:`activation_index`
says whether a name is one (the layer keeps its ``scan`` for the others).
"""

import numba
import numpy as np
import pytensor
import pytensor.tensor as TT
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op

from .. import activations
from .._backend import scan
from .._compat import node_and_shapes
from . import _fused
from ._dispatch import after_import
from ._gradient import disconnected
from .gru_kernels import (
    ACTIVATIONS,
    backward_in_place,
    forward_in_place,
)

__all__ = ["activation_index", "gru_sequence", "reference", "GRUSequence", "GRUSequenceGrad"]

_NAMES = ("x", "h0", "w", "b", "hh", "hr", "hz")
_NDIMS = (3, 2, 2, 1, 2, 2, 2)
_FORWARD = len(_NAMES)
#: The op's outputs: the layer's four, then the reset gate (for the gradient).
OUTPUTS = ("pre", "hid", "rate", "out", "reset")
_ALIASES = {"sigmoid": "logistic", "rect:max": "relu"}


def activation_index(name):
    """The kernels' index of the activation called ``name``, or None where
    the fused op does not compute it (a parametric or composed activation,
    or one over a whole row such as softmax)."""
    name = _ALIASES.get(name, name)
    return ACTIVATIONS.index(name) if name in ACTIVATIONS else None


def reference(x, h0, w, b, hh, hr, hz, activation="tanh"):
    """The recurrence of :func:`gru_sequence` as a PyTensor ``scan``.

    Used for what the fused operation does not compute itself (R-operators,
    second derivatives), and by the tests as the definition.

    Returns
    -------
    pre, hid, rate, out, reset : symbolic tensors, as :class:`GRUSequence`'s outputs.
    """
    n = hh.shape[0]
    g = activations.COMMON[activation]

    def step(xw_t, h_tm1, hh, hr, hz):
        r = TT.sigmoid(xw_t[:, n : 2 * n] + TT.dot(h_tm1, hr))
        z = TT.sigmoid(xw_t[:, 2 * n :] + TT.dot(h_tm1, hz))
        pre = xw_t[:, :n] + TT.dot(r * h_tm1, hh)
        hid = g(pre)
        return [pre, hid, z, (1 - z) * h_tm1 + z * hid, r]

    values, _ = scan(
        step,
        sequences=[TT.dot(x, w) + b],
        outputs_info=[None, None, None, h0, None],
        non_sequences=[hh, hr, hz],
        name="gru_reference",
    )
    return values


class GRUSequence(Op):
    """The GRU recurrence over a whole sequence, as one operation.

    Inputs ``x`` (time, batch, inputs), ``h0`` (batch, size), ``w`` (inputs,
    3 size), ``b`` (3 size), ``hh``, ``hr``, ``hz`` (size, size). Outputs
    ``pre``, ``hid``, ``rate``, ``out`` and ``reset`` (time, batch, size),
    the last only for the gradient. See :func:`gru_sequence`.
    """

    __props__ = ("activation",)

    def __init__(self, activation="tanh"):
        if activation_index(activation) is None:
            raise ValueError(
                "GRUSequence: activation must be one of {}, not {!r}".format(
                    ", ".join(ACTIVATIONS), activation
                )
            )
        self.activation = _ALIASES.get(activation, activation)

    @property
    def kind(self):
        """The kernels' index of the activation."""
        return ACTIVATIONS.index(self.activation)

    def make_node(self, *inputs):
        inputs = _checked_inputs("GRUSequence", inputs)
        x, h0, hh = inputs[0], inputs[1], inputs[4]
        steps, batch = x.type.shape[0], x.type.shape[1]
        if batch is None:
            batch = h0.type.shape[0]
        n = hh.type.shape[0]
        outputs = [TT.tensor(dtype=x.dtype, shape=(steps, batch, n)) for _ in OUTPUTS]
        return Apply(self, inputs, outputs)

    def perform(self, node, inputs, output_storage):
        _fused.store(output_storage, _forward(self.kind, *inputs))

    def infer_shape(self, *args):
        node, shapes = node_and_shapes(args)
        x, hh = shapes[0], shapes[4]
        return [(x[0], x[1], hh[0])] * len(OUTPUTS)

    def pullback(self, inputs, outputs, output_grads):
        grads = [
            _fused.zeros_if_disconnected(g, v) for g, v in zip(output_grads, outputs, strict=True)
        ]
        if not disconnected(output_grads[-1]):
            # only the gradient reads the reset gate; a derivative through it
            # (as a pushforward of the gradient takes) is the reference's
            known = dict(zip(reference(*inputs, self.activation), grads, strict=True))
            return pytensor.gradient.grad(
                None,
                list(inputs),
                known_grads=known,
                disconnected_inputs="ignore",
                return_disconnected="zero",
            )
        return GRUSequenceGrad(self.activation)(*inputs, *outputs, *grads[:-1])

    def pushforward(self, inputs, outputs, tangents):
        return _fused.pushforward(reference(*inputs, self.activation), inputs, tangents)


class GRUSequenceGrad(Op):
    """The gradient of :class:`GRUSequence` (vector-Jacobian product).

    Inputs: the forward inputs, its five outputs and the gradients of the
    first four. Outputs: the gradients of the forward inputs; that of ``x``
    is empty where ``dx`` is False (a rewrite of the graph turns it
    off where nothing reads it).
    """

    __props__ = ("activation", "dx")

    def __init__(self, activation="tanh", dx=True):
        self.activation = GRUSequence(activation).activation
        self.dx = bool(dx)

    @property
    def kind(self):
        """The kernels' index of the activation."""
        return ACTIVATIONS.index(self.activation)

    def make_node(self, *inputs):
        inputs = [TT.as_tensor_variable(v) for v in inputs]
        count = _FORWARD + len(OUTPUTS) + 4
        if len(inputs) != count:
            raise TypeError(
                "GRUSequenceGrad: expected {} inputs, not {}".format(count, len(inputs))
            )
        return Apply(self, inputs, _fused.gradient_outputs(self, inputs[:_FORWARD]))

    def perform(self, node, inputs, output_storage):
        _fused.store(output_storage, _backward(self.kind, *inputs, dx=self.dx))

    def infer_shape(self, *args):
        node, shapes = node_and_shapes(args)
        return _fused.gradient_shapes(self, shapes[:_FORWARD])

    @staticmethod
    def _differentiable(inputs):
        """The inputs of which this op's outputs are a function: the forward
        inputs and the output gradients (the forward outputs are functions
        of the forward inputs)."""
        return list(inputs[:_FORWARD]) + list(inputs[_FORWARD + len(OUTPUTS) :])

    def _reference_grads(self, inputs):
        """This op's outputs as a graph of the ``scan`` reference (for higher orders)."""
        forward, output_grads = inputs[:_FORWARD], inputs[_FORWARD + len(OUTPUTS) :]
        values = reference(*forward, self.activation)
        known = dict(zip(values[:4], output_grads, strict=True))
        return pytensor.gradient.grad(
            None, list(forward), known_grads=known, return_disconnected="zero"
        )

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
        # the forward outputs are functions of the forward inputs, which the
        # reference recomputes: their own contribution is in ``through``
        return (
            list(through[:_FORWARD])
            + [v.zeros_like() for v in inputs[_FORWARD : _FORWARD + len(OUTPUTS)]]
            + list(through[_FORWARD:])
        )

    def pushforward(self, inputs, outputs, tangents):
        return _fused.pushforward(
            self._reference_grads(inputs),
            self._differentiable(inputs),
            self._differentiable(tangents),
        )


def _checked_inputs(op, inputs):
    if len(inputs) != _FORWARD:
        raise TypeError(
            "{}: expected the {} inputs {}, got {}".format(
                op, _FORWARD, ", ".join(_NAMES), len(inputs)
            )
        )
    inputs = [TT.as_tensor_variable(v) for v in inputs]
    for name, var, ndim in zip(_NAMES, inputs, _NDIMS, strict=True):
        if var.ndim != ndim:
            raise TypeError("{}: {} must be {}-D, not {}-D".format(op, name, ndim, var.ndim))
        if var.dtype not in ("float32", "float64") or var.dtype != inputs[0].dtype:
            raise TypeError(
                "{}: every input must have the dtype of x ({}); {} is {}".format(
                    op, inputs[0].dtype, name, var.dtype
                )
            )
    return inputs


def gru_sequence(x, h0, w, b, hh, hr, hz, activation="tanh"):
    """The GRU recurrence over a time-major sequence.

    ``x[t] . w + b`` is split into ``[x_h, x_r, x_z]``;
    ``r = sigmoid(x_r + h[t-1] . hr)``, ``z = sigmoid(x_z + h[t-1] . hz)``,
    ``pre = x_h + (r h[t-1]) . hh``, ``hid = g(pre)``,
    ``h[t] = (1 - z) h[t-1] + z hid``.

    Parameters
    ----------
    x : symbolic 3-D tensor (time, batch, inputs)
        The input sequence.
    h0 : symbolic matrix (batch, size)
        The initial output.
    w : symbolic matrix (inputs, 3 size)
        The input weights, ``[h | r | z]``.
    b : symbolic vector (3 size,)
        The bias.
    hh, hr, hz : symbolic matrices (size, size)
        The recurrent weights of the candidate, the reset and the update gate.
    activation : str
        ``g``, one of :data:`~theanets.ops.gru_kernels.ACTIVATIONS` (or
        ``'sigmoid'``, ``'rect:max'``).

    Returns
    -------
    pre, hid, rate, out : symbolic 3-D tensors (time, batch, size)
        The candidate's pre-activation and value, the update gate ``z`` and
        the output of every step.

    Examples
    --------
    >>> import numpy as np, pytensor, pytensor.tensor as TT
    >>> from theanets.ops.gru import gru_sequence
    >>> x, h0, w, b = TT.tensor3(), TT.matrix(), TT.matrix(), TT.vector()
    >>> hh, hr, hz = TT.matrix(), TT.matrix(), TT.matrix()
    >>> pre, hid, rate, out = gru_sequence(x, h0, w, b, hh, hr, hz)
    >>> f = pytensor.function([x, h0, w, b, hh, hr, hz], out)
    >>> m, n = 2, 3
    >>> zeros = lambda *shape: np.zeros(shape, 'float32')
    >>> f(np.ones((5, 4, m), 'float32'), zeros(4, n), zeros(m, 3 * n), zeros(3 * n),
    ...   zeros(n, n), zeros(n, n), zeros(n, n)).shape
    (5, 4, 3)
    """
    inputs = [TT.as_tensor_variable(v) for v in (x, h0, w, b, hh, hr, hz)]
    # the common type, as scan's step would compute in
    dtype = pytensor.scalar.upcast(*[v.dtype for v in inputs])
    values = GRUSequence(activation)(*[TT.cast(v, dtype) for v in inputs])
    return values[:4]


# ----- backends ---------------------------------------------------------------


def _forward(kind, x, h0, w, b, hh, hr, hz):
    """The forward kernel on one thread (``perform``, the host callback)."""
    steps, batch, _ = x.shape
    outputs = [np.empty((steps, batch, hh.shape[0]), x.dtype) for _ in OUTPUTS]
    forward_in_place(*_fused.kernel_args([x, h0, w, b, hh, hr, hz]), *outputs, kind)
    return outputs


def _backward(kind, *inputs, dx=True):
    """The backward kernel on one thread (``perform``, the host callback)."""
    shapes = [v.shape for v in inputs[:_FORWARD]]
    if not dx:
        shapes[0] = _fused.NO_DX
    grads = [np.empty(shape, v.dtype) for shape, v in zip(shapes, inputs, strict=False)]
    backward_in_place(*_fused.kernel_args(inputs), *grads, kind)
    return grads


def _forward_shapes(op, x, h0, w, b, hh, *_):
    steps, batch, _ = x.shape
    return [((steps, batch, hh.shape[0]), x.dtype)] * len(OUTPUTS)


def _backward_shapes(op, *inputs):
    shapes = _fused.gradient_shapes(op, [v.shape for v in inputs[:_FORWARD]])
    return [(shape, v.dtype) for shape, v in zip(shapes, inputs, strict=False)]


def _register_jax():
    """Register the JAX implementations (see :func:`theanets.ops._fused.register_jax`)."""
    from . import gru_ffi, xla_gru

    def host_forward(op):
        return lambda *inputs: _forward(op.kind, *inputs)

    def host_backward(op):
        return lambda *inputs: _backward(op.kind, *inputs, dx=op.dx)

    def attributes(op):
        return {"activation": op.kind}

    _fused.register_jax(
        GRUSequence, "theanets_gru_forward", 0, lambda op: xla_gru.forward(op.activation),
        host_forward, _forward_shapes, gru_ffi.choose, attributes,
    )  # fmt: skip
    _fused.register_jax(
        GRUSequenceGrad, "theanets_gru_backward", 1, lambda op: xla_gru.backward(op.activation),
        host_backward, _backward_shapes, gru_ffi.choose, attributes,
    )  # fmt: skip


# Added to PyTensor's disk-cache key of the compiled Numba graphs: change it
# when the kernels change.
NUMBA_VERSION = 2


def _register_numba():
    """Register the Numba implementations: the kernels, called from the graph."""
    from ._dispatch import numba_register

    @numba_register(GRUSequence, NUMBA_VERSION)
    def _numba_forward(op, node, **kwargs):
        kind = op.kind

        @numba.njit
        def forward(x, h0, w, b, hh, hr, hz):
            shape = (x.shape[0], x.shape[1], hh.shape[0])
            pre, hid, rate = (
                np.empty(shape, x.dtype),
                np.empty(shape, x.dtype),
                np.empty(shape, x.dtype),
            )
            out, reset = np.empty(shape, x.dtype), np.empty(shape, x.dtype)
            c = np.ascontiguousarray
            # the kernels read rows as contiguous blocks
            forward_in_place(
                c(x), c(h0), c(w), c(b), c(hh), c(hr), c(hz), pre, hid, rate, out, reset, kind
            )
            return pre, hid, rate, out, reset

        return forward

    @numba_register(GRUSequenceGrad, NUMBA_VERSION)
    def _numba_backward(op, node, **kwargs):
        kind, with_dx = op.kind, op.dx

        @numba.njit
        def backward(x, h0, w, b, hh, hr, hz, pre, hid, rate, out, reset, dp, dhid, dr, do):
            dx = np.empty_like(x) if with_dx else np.empty((0, 0, 0), x.dtype)
            dh0, dw, db = np.empty_like(h0), np.empty_like(w), np.empty_like(b)
            dhh, dhr, dhz = np.empty_like(hh), np.empty_like(hr), np.empty_like(hz)
            c = np.ascontiguousarray
            backward_in_place(
                c(x), c(h0), c(w), c(b), c(hh), c(hr), c(hz), c(pre), c(hid), c(rate), c(out),
                c(reset), c(dp), c(dhid), c(dr), c(do), dx, dh0, dw, db, dhh, dhr, dhz, kind,
            )  # fmt: skip
            return dx, dh0, dw, db, dhh, dhr, dhz

        return backward


_fused.skip_unused_dx(GRUSequenceGrad)
after_import("pytensor.link.jax.dispatch", _register_jax)
after_import("pytensor.link.numba.dispatch", _register_numba)
