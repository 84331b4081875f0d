"""Gradient plumbing shared by the native operations, which implement
PyTensor's ``pullback`` (vector-Jacobian product) and ``pushforward``
(Jacobian-vector product)."""

from pytensor.gradient import DisconnectedType, disconnected_type

__all__ = ["disconnected", "bilinear_pushforward"]


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
