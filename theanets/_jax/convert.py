"""Conversions registered in PyTensor's ``jax_funcify`` that keep shape
arithmetic concrete while JAX traces a graph (see the notes of
:func:`concrete_shape_arithmetic`)."""

from __future__ import annotations

import numpy as np

__all__ = ["concrete_shape_arithmetic"]

_SHAPE_OPS_PATCHED: list[bool] = []


def concrete_shape_arithmetic() -> None:
    """Make PyTensor's JAX conversion compute integer scalars eagerly.

    Integer (and boolean) scalars and vectors are shape arithmetic: under
    ``jax.jit`` they would become traced values even when all their inputs
    are concrete (an input's shape, a constant), and JAX refuses a traced
    value as an array shape. Converted here under
    ``jax.ensure_compile_time_eval()``, they stay concrete whenever their
    inputs are; operations on traced data are traced as before. When all
    their inputs are known they are computed with numpy (their ``perform``):
    JAX would compile a small program for each of them, which took 0.45 s of
    a convolution model's first training call. This applies
    to the graphs inside ``scan`` too.

    ``arange`` is converted anew: PyTensor's version fails on a narrow
    integer constant (``int8`` 0 to 128 overflows in numpy 2's arithmetic)
    and refuses bounds computed from shapes, which are concrete here.

    The conversions are registered in PyTensor's ``jax_funcify`` when the
    first JAX mode is made, so they hold for every JAX function of the
    process from then on (they only keep concrete what JAX would trace).
    """
    if _SHAPE_OPS_PATCHED:
        return
    import jax
    import jax.numpy as jnp
    from pytensor.graph.basic import Constant
    from pytensor.link.jax.dispatch import jax_funcify
    from pytensor.tensor.basic import ARange, MakeVector, ScalarFromTensor, Split, TensorFromScalar
    from pytensor.tensor.elemwise import DimShuffle, Elemwise
    from pytensor.tensor.shape import Shape, Shape_i
    from pytensor.tensor.subtensor import Subtensor

    from .._compat import IfElse, LazyIfElse, split_axis_and_sizes

    def is_shape_arithmetic(node):
        return node is not None and all(
            getattr(out.type, "ndim", 2) <= 1
            and str(getattr(out.type, "dtype", "")).startswith(("int", "uint", "bool"))
            for out in node.outputs
        )

    def _to_numpy(value):
        if isinstance(value, jax.Array) and not isinstance(value, jax.core.Tracer):
            return np.asarray(value)
        return value

    def _perform(node, args):
        args = [
            np.asarray(a, dtype=getattr(inp.type, "dtype", None))
            for a, inp in zip(args, node.inputs, strict=True)
        ]
        storage = [[None] for _ in node.outputs]
        node.op.perform(node, args, storage)
        return storage[0][0] if len(storage) == 1 else [s[0] for s in storage]

    def wrap(original):
        def convert(op, node=None, **kwargs):
            fn = original(op, node=node, **kwargs)
            if not is_shape_arithmetic(node):
                return fn
            node.op.prepare_node(node, None, None, "py")

            def concrete(*args):
                if not any(isinstance(a, jax.core.Tracer) for a in args):
                    # all known: numpy, not a small XLA program per operation
                    return _perform(node, args)
                with jax.ensure_compile_time_eval():
                    out = fn(*args)
                # a concrete JAX array used later outside this context (in
                # a comparison, say) would be traced again: hand on numpy
                if isinstance(out, (list, tuple)):
                    return type(out)(_to_numpy(o) for o in out)
                return _to_numpy(out)

            return concrete

        return convert

    for cls in (
        Elemwise,
        ScalarFromTensor,
        TensorFromScalar,
        Subtensor,
        Shape,
        Shape_i,
        MakeVector,
        DimShuffle,
    ):
        jax_funcify.register(cls)(wrap(jax_funcify.dispatch(cls)))

    @jax_funcify.register(Split)
    def convert_split(op, node=None, **kwargs):
        # PyTensor's version sums split sizes it cannot read from constants
        # with jnp.cumsum, which is traced: the gradient of a join (the
        # concatenate layer, a bidirectional layer) then failed with
        # "Abstract tracer value ... in jax.numpy.split". The sizes come
        # from shapes, concrete here, so they are summed with numpy.
        def split(x, *rest):
            axis, splits = split_axis_and_sizes(op, rest)
            if isinstance(axis, jax.core.Tracer) or isinstance(splits, jax.core.Tracer):
                raise NotImplementedError(
                    "theanets: a join or split along a position known only at run time "
                    "cannot be compiled by JAX; use mode=NUMBA"
                )
            splits = np.asarray(splits)
            if len(splits) != op.len_splits or (splits < 0).any():
                raise ValueError(
                    "split sizes {} do not fit {} parts".format(splits.tolist(), op.len_splits)
                )
            return jnp.split(x, np.cumsum(splits[:-1]), axis=int(axis))

        return split

    traced_ifelse = jax_funcify.dispatch(IfElse)

    @jax_funcify.register(IfElse)
    def convert_ifelse(op, node=None, **kwargs):
        # A condition known while tracing (one computed from shapes, as
        # carried-state training's "does the carried state fit this batch")
        # picks its branch then: lax.cond would need both branches to have
        # the same shapes, which such a choice exists to avoid.
        traced = traced_ifelse(op, node=node, **kwargs)
        n_outs = op.n_outs

        def ifelse(cond, *args):
            if isinstance(cond, jax.core.Tracer):
                return traced(cond, *args)
            chosen = args[:n_outs] if bool(np.asarray(cond)) else args[n_outs:]
            return chosen if n_outs > 1 else chosen[0]

        return ifelse

    if LazyIfElse is not None:
        traced_lazy_ifelse = jax_funcify.dispatch(LazyIfElse)

        @jax_funcify.register(LazyIfElse)
        def convert_lazy_ifelse(op, node=None, **kwargs):
            # PyTensor >= 3.3 moves the branches' computations into the
            # condition (each an inner graph): the same choice while tracing
            # as above, by calling the chosen branch.
            traced = traced_lazy_ifelse(op, node=node, **kwargs)
            branches = jax_funcify(op.true_branch, **kwargs), jax_funcify(op.false_branch, **kwargs)

            def lazy_ifelse(cond, *args):
                if isinstance(cond, jax.core.Tracer):
                    return traced(cond, *args)
                return branches[0 if bool(np.asarray(cond)) else 1](*args)

            return lazy_ifelse

    @jax_funcify.register(ARange)
    def convert_arange(op, node=None, **kwargs):
        constants = [inp.data.item() if isinstance(inp, Constant) else None for inp in node.inputs]

        def arange(*args):
            args = [a if c is None else c for a, c in zip(args, constants, strict=True)]
            with jax.ensure_compile_time_eval():
                return jnp.arange(*args, dtype=op.dtype)

        return arange

    _SHAPE_OPS_PATCHED.append(True)
