"""The fused LSTM in XLA operations only: the JAX path without a host callback.

Under JAX, :class:`~theanets.ops.lstm.LSTMSequence` and its gradient run the
Numba kernels through a host callback on the CPU (faster there than XLA's
loop). On a GPU or TPU a host callback would move every array across the bus
and run the recurrence on the host, so there they compile to the functions
of this module instead: the same recurrence as a ``jax.lax.scan`` forwards,
and its gradient as the ``jax.vjp`` of that scan (one pass back in time).

The path is chosen when a function is compiled, by :func:`jax_path`:
the environment variable ``THEANETS_JAX_RECURRENCE`` set to ``xla``,
``ffi`` or ``callback`` forces one (``xla`` runs on every backend, the CPU
included, which the tests use to compare them); unset or ``auto``, it is
``ffi`` on the CPU (the kernels as XLA foreign functions on XLA's buffers,
:mod:`theanets.ops.lstm_ffi`), ``callback`` there where XLA refuses those
(a Python host callback, which copies the arrays), and ``xla`` elsewhere
(and where the installed jax lacks the callback lowering).
"""

from __future__ import annotations

from .. import util

__all__ = ["ENV_VAR", "PATHS", "jax_path", "requested", "forward", "backward"]

#: The environment variable choosing the JAX path of the fused recurrences.
ENV_VAR = "THEANETS_JAX_RECURRENCE"
#: Its values.
PATHS = ("auto", "xla", "ffi", "callback")


def _has_host_callback() -> bool:
    try:
        from jax._src.callback import emit_python_callback  # noqa: F401
    except ImportError:
        return False
    return True


def requested() -> str:
    """``THEANETS_JAX_RECURRENCE``: one of :data:`PATHS` (``'auto'`` where unset).

    Raises
    ------
    ValueError
        For another value.
    """
    return util.env_choice(ENV_VAR, PATHS)


def jax_path() -> str:
    """The JAX implementation of the fused recurrences: ``'xla'``, ``'ffi'`` or ``'callback'``.

    Returns
    -------
    path : str
        ``'ffi'`` (the Numba kernels called by XLA on its buffers, on the
        CPU), ``'callback'`` (the kernels called back from XLA through
        Python, with copies) or ``'xla'`` (XLA operations only), as
        ``THEANETS_JAX_RECURRENCE`` asks, or by default as JAX's default
        backend suits. ``'ffi'`` is a request: where XLA refuses the
        foreign functions the op takes the callback (see
        :func:`theanets.ops.lstm_ffi.targets`).

    Raises
    ------
    ValueError
        If ``THEANETS_JAX_RECURRENCE`` has another value than ``auto``,
        ``xla`` or ``callback``.
    """
    value = requested()
    if value != "auto":
        return value
    import jax

    if jax.default_backend() != "cpu" or not _has_host_callback():
        return "xla"
    return "ffi"


def _sequence(x, h0, c0, xh, b, hh, ci, cf, co):
    """``(hs, cs, gates)`` of the LSTM with peepholes over time-major ``x``."""
    import jax
    import jax.numpy as jnp

    n = hh.shape[0]
    xs = jnp.einsum("tbm,mk->tbk", x, xh) + b

    def cell(carry, z_x):
        h, c = carry
        z = z_x + h @ hh
        i = jax.nn.sigmoid(z[:, :n] + c * ci)
        f = jax.nn.sigmoid(z[:, n : 2 * n] + c * cf)
        g = jnp.tanh(z[:, 2 * n : 3 * n])
        c = f * c + i * g
        o = jax.nn.sigmoid(z[:, 3 * n :] + c * co)
        h = o * jnp.tanh(c)
        return (h, c), (h, c, jnp.concatenate([i, f, g, o], axis=1))

    _, (hs, cs, gates) = jax.lax.scan(cell, (h0, c0), xs)
    return hs, cs, gates


def forward(x, h0, c0, xh, b, hh, ci, cf, co):
    """The outputs of ``LSTMSequence`` (``hs, cs, gates``) in XLA operations.

    Parameters
    ----------
    x : jax array (time, batch, inputs)
    h0, c0 : jax arrays (batch, size)
    xh, b, hh, ci, cf, co : jax arrays, the weights (see ``lstm_sequence``)

    Returns
    -------
    hs, cs, gates : jax arrays (time, batch, size), (time, batch, 4 size)
    """
    return _sequence(x, h0, c0, xh, b, hh, ci, cf, co)


def backward(x, h0, c0, xh, b, hh, ci, cf, co, hs, cs, gates, dhs, dcs):
    """The outputs of ``LSTMSequenceGrad`` in XLA operations.

    Parameters
    ----------
    x, h0, c0, xh, b, hh, ci, cf, co : jax arrays, the forward inputs
    hs, cs, gates : jax arrays, the forward outputs (unused: recomputed
        inside the ``vjp``, which XLA fuses with the backward pass)
    dhs, dcs : jax arrays (time, batch, size), the gradients of ``hs``, ``cs``

    Returns
    -------
    grads : tuple of jax arrays
        The gradient of each forward input, in their order.
    """
    import jax

    def states(*inputs):
        hs_, cs_, _ = _sequence(*inputs)
        return hs_, cs_

    _, pullback = jax.vjp(states, x, h0, c0, xh, b, hh, ci, cf, co)
    return pullback((dhs, dcs))
