"""Every difference between the PyTensor versions theanets runs on, settled
once, at import (the one module that asks which version it has).

theanets needs PyTensor 3.0 or newer (``pyproject.toml``); within that range
two things changed in 3.3:

- the conditional moved: ``ifelse`` and ``IfElse`` live in
  ``pytensor.conditional.op`` (importing them from ``pytensor.ifelse`` is
  deprecated there), which also rewrites an ``IfElse`` into a
  ``LazyIfElse`` holding each branch's computation as an inner graph (None
  before 3.3);
- ``Op.infer_shape`` is called as ``(node, shapes)``, no longer as
  ``(fgraph, node, shapes)``: an operation's ``infer_shape(self, *args)``
  reads them with :func:`node_and_shapes`;
- ``Split`` holds its axis itself, no longer as an input: a conversion of
  it reads the axis and sizes with :func:`split_axis_and_sizes`.
"""

from __future__ import annotations

try:  # PyTensor >= 3.3
    from pytensor.conditional.op import IfElse, LazyIfElse, ifelse
except ImportError:
    from pytensor.ifelse import IfElse, ifelse

    LazyIfElse = None

__all__ = ["IfElse", "LazyIfElse", "ifelse", "node_and_shapes", "split_axis_and_sizes"]


def node_and_shapes(args):
    """``(node, input shapes)`` of the arguments of an ``Op.infer_shape`` call,
    on every supported PyTensor version.

    Examples
    --------
    >>> node_and_shapes(('fgraph', 'node', [(2, 3)]))  # before PyTensor 3.3
    ('node', [(2, 3)])
    >>> node_and_shapes(('node', [(2, 3)]))
    ('node', [(2, 3)])
    """
    return args[-2], args[-1]


def split_axis_and_sizes(op, inputs):
    """``(axis, sizes)`` of a ``Split`` node given its inputs after ``x``:
    ``(axis, sizes)`` before PyTensor 3.3, ``(sizes,)`` from it (the axis is
    then the op's own).

    Examples
    --------
    >>> class Op:
    ...     axis = 1
    >>> split_axis_and_sizes(Op(), (0, [2, 2])), split_axis_and_sizes(Op(), ([2, 2],))
    ((0, [2, 2]), (1, [2, 2]))
    """
    return tuple(inputs) if len(inputs) == 2 else (op.axis, inputs[0])
