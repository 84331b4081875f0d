"""Every difference between the PyTensor versions theanets runs on, settled
once, at import (the one module that asks which version it has).

theanets needs PyTensor 3.0 or newer (``pyproject.toml``); within that range
only the conditional moved: ``ifelse`` and ``IfElse`` live in
``pytensor.conditional.op`` from 3.3 (importing them from ``pytensor.ifelse``
is deprecated there), which also rewrites an ``IfElse`` into a
``LazyIfElse`` holding each branch's computation as an inner graph (None
before 3.3).
"""

from __future__ import annotations

try:  # PyTensor >= 3.3
    from pytensor.conditional.op import IfElse, LazyIfElse, ifelse
except ImportError:
    from pytensor.ifelse import IfElse, ifelse

    LazyIfElse = None

__all__ = ["IfElse", "LazyIfElse", "ifelse"]
