"""What the fused recurrences (:mod:`theanets.ops.lstm`, :mod:`theanets.ops.gru`) share.

Each is a pair of operations, the recurrence over a whole sequence and its
gradient, computed by Numba kernels; higher orders go through a ``scan``
reference. This module holds their common parts: the gradients' helpers,
the arrays handed to the kernels, and the JAX implementation, which runs the
kernels as XLA foreign functions (or through a host callback) on the CPU and
as XLA operations only on an accelerator (see
:func:`theanets.ops.xla_lstm.jax_path`).
"""

from __future__ import annotations

import numpy as np
import pytensor.tensor as TT

from .._backend import jacobian_vector
from ._gradient import disconnected

__all__ = [
    "NO_DX",
    "gradient_outputs",
    "gradient_shapes",
    "kernel_args",
    "pushforward",
    "register_jax",
    "skip_unused_dx",
    "store",
    "zeros_if_disconnected",
]

#: The shape of the gradient ops' first output, the input sequence's
#: gradient, where they do not compute it (``op.dx`` False).
NO_DX = (0, 0, 0)


def zeros_if_disconnected(grad, like):
    """``grad``, or zeros like ``like`` where it is disconnected."""
    return like.zeros_like() if disconnected(grad) else grad


def pushforward(outputs, inputs, tangents):
    """Jacobian-vector products of ``outputs`` (a graph of ``inputs``)."""
    pairs = [(i, t) for i, t in zip(inputs, tangents, strict=True) if not disconnected(t)]
    if not pairs:
        return [out.zeros_like() for out in outputs]
    wrt, points = zip(*pairs, strict=True)
    return [jacobian_vector(out, list(wrt), list(points)) for out in outputs]


# The gradient of the input sequence (``dx``, a product as large as the input
# products) is what nothing reads where the sequence is the model's input,
# as in a first recurrent layer: a rewrite (skip_unused_dx) turns it off
# there, and the kernels skip a ``dx`` whose buffer is empty.


def gradient_outputs(op, forward_inputs):
    """The output variables of a gradient op: one gradient per forward input,
    the first empty (:data:`NO_DX`) where ``op.dx`` is False."""
    outputs = [v.type() for v in forward_inputs]
    if not op.dx:
        outputs[0] = TT.tensor(dtype=forward_inputs[0].dtype, shape=NO_DX)
    return outputs


def gradient_shapes(op, shapes):
    """``shapes`` of the forward inputs as the gradient op's output shapes."""
    shapes = list(shapes)
    if not op.dx:
        shapes[0] = NO_DX
    return shapes


def skip_unused_dx(grad_class):
    """Register the rewrite that turns ``dx`` off in the ``grad_class`` nodes
    whose first output nothing reads (every compile mode's rewrites run it)."""
    from pytensor.graph.rewriting.basic import node_rewriter
    from pytensor.tensor.rewriting.basic import register_canonicalize

    @node_rewriter([grad_class])
    def without_dx(fgraph, node):
        if not node.op.dx or fgraph.clients[node.outputs[0]]:
            return None
        op = type(node.op)(**dict(node.op._props_dict(), dx=False))
        new = op.make_node(*node.inputs).outputs
        return {
            old: out
            for old, out in zip(node.outputs[1:], new[1:], strict=True)
            if fgraph.clients[old]
        }

    register_canonicalize(without_dx, name="theanets_{}_without_dx".format(grad_class.__name__))


def kernel_args(arrays):
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


def store(output_storage, values):
    """Put ``values`` in an op's ``output_storage`` (``perform``'s)."""
    for storage, value in zip(output_storage, values, strict=True):
        storage[0] = value


def register_jax(op_class, name, part, xla, host, shapes, choose, attributes=None):
    """Register the JAX implementation of ``op_class``, by
    :func:`~theanets.ops.xla_lstm.jax_path`.

    Parameters
    ----------
    op_class : type
        The operation (the recurrence, or its gradient).
    name : str
        A name for its host-callback primitive.
    part : int
        Which FFI target of a pair runs it: 0 forwards, 1 backwards.
    xla : callable
        ``xla(op)``: the op's function in XLA operations.
    host : callable
        ``host(op)``: the op's function on numpy arrays, for the callback.
    shapes : callable
        ``shapes(op, *inputs)``: the ``(shape, dtype)`` of each output.
    choose : callable
        ``choose(dtype, batch)``: the names of the FFI pair for ``dtype`` and
        the number of threads they run on, or ``(None, 1)``.
    attributes : callable, optional
        ``attributes(op)``: the int64 attributes the FFI handlers read
        (beside ``parts``).

    On the CPU the kernels run as XLA foreign functions on XLA's buffers
    (while a background process compiles them, the program being traced
    computes in XLA operations and is traced again once they are ready:
    see :mod:`theanets.ops.compile_kernels`); where XLA refuses those (or
    with ``THEANETS_JAX_RECURRENCE=callback``) they are called back from
    XLA through Python, described below. On an accelerator (or with
    ``THEANETS_JAX_RECURRENCE=xla``) the op compiles to XLA operations
    instead, with no host callback.

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

    from .._jax import linker
    from . import compile_kernels, xla_lstm

    primitives: dict = {}

    def primitive(op):
        # made at the first compilation on the callback path only
        if op not in primitives:
            values = attributes(op).values() if attributes else ()
            label = "_".join([name] + [str(v) for v in values])
            primitives[op] = _jax_primitive(label, host(op), lambda *a: shapes(op, *a))
        return primitives[op]

    @jax_funcify.register(op_class)
    def funcify(op, node=None, **kwargs):
        path = xla_lstm.jax_path()
        if path == "xla":
            return _xla_function(op, xla)
        attrs = attributes(op) if attributes else {}

        def run(*inputs):
            if path == "ffi":
                # traced: the dtype is the one JAX computes in, the batch known
                program = linker.tracing()
                wait = program is None or not compile_kernels.in_background()
                names, parts = choose(inputs[0].dtype, inputs[0].shape[1], wait=wait)
                if isinstance(names, compile_kernels.Job):
                    # compiled elsewhere: XLA's loop until the program is traced again
                    program.wait_for(names.ready)
                    return _xla_function(op, xla)(*inputs)
                if names is not None:
                    results = shapes(op, *inputs)
                    return tuple(_ffi_call(names[part], parts, attrs, results, inputs))
            return tuple(primitive(op).bind(*inputs))

        return run


def _xla_function(op, xla):
    """The op's JAX function in XLA operations only (``xla(op)``), with an
    empty first output where the gradient op does not compute ``dx``."""
    function = xla(op)
    if getattr(op, "dx", True):
        return lambda *inputs: tuple(function(*inputs))

    def without_dx(*inputs):
        import jax.numpy as jnp

        values = tuple(function(*inputs))
        return (jnp.zeros(NO_DX, values[0].dtype),) + values[1:]

    return without_dx


def _ffi_call(target, parts, attrs, shapes, inputs):
    """XLA's custom call of FFI ``target`` on ``inputs``, results of the
    ``(shape, dtype)`` pairs ``shapes``, with the int64 attributes ``parts``
    and ``attrs``."""
    import jax

    results = [jax.ShapeDtypeStruct(shape, dtype) for shape, dtype in shapes]
    values = {key: np.int64(value) for key, value in attrs.items()}
    return jax.ffi.ffi_call(target, results)(*inputs, parts=np.int64(parts), **values)


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
