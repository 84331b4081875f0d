"""Gradient plumbing shared by the native operations.

PyTensor 3 asks an operation for ``pullback`` (vector-Jacobian product) and
``pushforward`` (Jacobian-vector product); earlier versions call ``L_op`` and
``R_op``. The operations here implement the new names, and
:func:`add_legacy_gradient_methods` gives them the old ones where needed.
"""

from pytensor.gradient import DisconnectedType, disconnected_type

from .._compat import OPS_HAVE_PULLBACK

__all__ = ["disconnected", "bilinear_pushforward", "add_legacy_gradient_methods"]


def disconnected(value):
    """Whether a (co)tangent is absent: None or of PyTensor's disconnected type."""
    return value is None or isinstance(value.type, DisconnectedType)


def bilinear_pushforward(op, a, b, ta, tb, rest=()):
    """The pushforward of ``op(a, b, *rest)``, bilinear in ``a`` and ``b``:
    ``op(ta, b) + op(a, tb)``, leaving out absent tangents.

    Returns
    -------
    list
        One tangent, or PyTensor's disconnected type if both are absent.
    """
    terms = []
    if not disconnected(ta):
        terms.append(op(ta, b, *rest))
    if not disconnected(tb):
        terms.append(op(a, tb, *rest))
    return [sum(terms[1:], terms[0]) if terms else disconnected_type()]


def add_legacy_gradient_methods(*op_classes):
    """Give ``op_classes`` PyTensor 2's ``L_op`` and ``R_op`` (PyTensor < 3 only)."""
    if OPS_HAVE_PULLBACK:
        return

    def L_op(self, inputs, outputs, cotangents):
        return self.pullback(inputs, outputs, cotangents)

    def R_op(self, inputs, eval_points):
        tangents = [disconnected_type() if e is None else e for e in eval_points]
        result = self.pushforward(inputs, self.make_node(*inputs).outputs, tangents)
        return [None if disconnected(r) else r for r in result]

    for op_class in op_classes:
        op_class.L_op = L_op
        op_class.R_op = R_op
