"""The fused GRU in XLA operations only: the JAX path without a host callback.

As :mod:`theanets.ops.xla_lstm` for the LSTM: where
:func:`~theanets.ops.xla_lstm.jax_path` is ``'xla'`` (an accelerator, or
``THEANETS_JAX_RECURRENCE=xla``), :class:`~theanets.ops.gru.GRUSequence`
compiles to a ``jax.lax.scan`` of the same equations, and its gradient to the
``jax.vjp`` of that scan.
"""

from __future__ import annotations

__all__ = ["backward", "forward"]


def _activation(name):
    """The JAX function of the activation ``name`` (of ``gru_kernels.ACTIVATIONS``)."""
    import jax
    import jax.numpy as jnp

    return {
        "linear": lambda x: x,
        "logistic": jax.nn.sigmoid,
        "tanh": jnp.tanh,
        "softplus": jax.nn.softplus,
        "relu": lambda x: jnp.maximum(x, 0),
        "rect:min": lambda x: jnp.minimum(x, 1),
        "rect:minmax": lambda x: jnp.clip(x, 0, 1),
    }[name]


def _sequence(activation, x, h0, w, b, hh, hr, hz):
    """``(pre, hid, rate, out, reset)`` of the GRU over time-major ``x``."""
    import jax
    import jax.numpy as jnp

    n = hh.shape[0]
    g = _activation(activation)
    xs = jnp.einsum("tbm,mk->tbk", x, w) + b

    def cell(h, xw):
        r = jax.nn.sigmoid(xw[:, n : 2 * n] + h @ hr)
        z = jax.nn.sigmoid(xw[:, 2 * n :] + h @ hz)
        pre = xw[:, :n] + (r * h) @ hh
        hid = g(pre)
        out = (1 - z) * h + z * hid
        return out, (pre, hid, z, out, r)

    _, values = jax.lax.scan(cell, h0, xs)
    return values


def forward(activation):
    """The function of ``GRUSequence(activation)`` in XLA operations.

    Returns
    -------
    function : callable
        ``(x, h0, w, b, hh, hr, hz) -> (pre, hid, rate, out, reset)`` on jax arrays.
    """
    return lambda *inputs: _sequence(activation, *inputs)


def backward(activation):
    """The function of ``GRUSequenceGrad(activation)`` in XLA operations.

    Returns
    -------
    function : callable
        From the forward inputs, the forward outputs (unused: recomputed
        inside the ``vjp``, which XLA fuses with the backward pass) and the
        gradients of ``pre``, ``hid``, ``rate`` and ``out``, the gradient of
        each forward input, in their order.
    """
    import jax

    def function(x, h0, w, b, hh, hr, hz, pre, hid, rate, out, reset, *grads):
        def outputs(*inputs):
            return _sequence(activation, *inputs)[:4]

        _, pullback = jax.vjp(outputs, x, h0, w, b, hh, hr, hz)
        return pullback(tuple(grads))

    return function
