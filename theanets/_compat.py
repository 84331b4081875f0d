"""Every difference between the PyTensor versions theanets runs on, settled
once, at import (the one module that asks which version it has).

- graph traversal (``graph_inputs``, ``ancestors``) moved from
  ``pytensor.graph.basic`` to ``pytensor.graph.traversal`` in 2.32;
- ``scan`` takes ``return_updates`` from PyTensor 3 (2.38 always returns
  ``(outputs, updates)``);
- PyTensor 3 renames ``Rop``/``Lop`` to ``pushforward``/``pullback`` and
  asks operations for ``pullback``/``pushforward`` instead of
  ``L_op``/``R_op``;
- Numba conversions are cached on disk under a versioned key from 2.36;
- ``ifelse`` and ``IfElse`` moved to ``pytensor.conditional.op`` in 3.3
  (importing them from ``pytensor.ifelse`` is deprecated there), which also
  rewrites an ``IfElse`` into a ``LazyIfElse`` holding each branch's
  computation as an inner graph (None before 3.3).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pytensor
import pytensor.gradient
from pytensor.graph.op import Op

try:
    from pytensor.graph.traversal import ancestors, graph_inputs
except ImportError:  # PyTensor < 2.32
    from pytensor.graph.basic import ancestors, graph_inputs  # type: ignore[no-redef]

try:  # PyTensor >= 3.3
    from pytensor.conditional.op import IfElse, LazyIfElse, ifelse
except ImportError:
    from pytensor.ifelse import IfElse, ifelse

    LazyIfElse = None

__all__ = [
    "IfElse",
    "LazyIfElse",
    "OPS_HAVE_PULLBACK",
    "PULLBACK",
    "PUSHFORWARD",
    "SCAN_HAS_RETURN_UPDATES",
    "ancestors",
    "graph_inputs",
    "ifelse",
    "numba_cached_register",
]

#: Whether ``scan`` takes ``return_updates`` (PyTensor 3).
SCAN_HAS_RETURN_UPDATES = "return_updates" in inspect.signature(pytensor.scan).parameters

#: The Jacobian-vector and vector-Jacobian products (``Rop``/``Lop`` before PyTensor 3).
PUSHFORWARD = getattr(pytensor.gradient, "pushforward", None) or pytensor.gradient.Rop
PULLBACK = getattr(pytensor.gradient, "pullback", None) or pytensor.gradient.Lop

#: Whether PyTensor asks operations for ``pullback``/``pushforward`` (PyTensor 3).
OPS_HAVE_PULLBACK = hasattr(Op, "pullback")


def numba_cached_register() -> Callable[..., Any] | None:
    """PyTensor's registration of a Numba conversion cached on disk under a
    versioned key, or None before PyTensor 2.36 (no disk cache of these).
    Imports ``pytensor.link.numba.dispatch`` (and numba)."""
    from pytensor.link.numba.dispatch import basic

    return getattr(basic, "register_funcify_default_op_cache_key", None)
