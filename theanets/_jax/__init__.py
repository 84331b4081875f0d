"""JAX as theanets compiles for it: PyTensor's JAX mode with a linker that
keeps shapes static (:mod:`.linker`, :mod:`.convert`) and the process
settings made before JAX starts (:mod:`.process`).

Under JAX, ``scan`` needs static shapes: a recurrent layer's initial state
``zeros((batch, size))`` and the scan's buffers are sized from the input's
shape through a few integer operations, which JAX would otherwise stage as
traced values ("Shapes must be 1D sequences of concrete values"). The
conversions of :mod:`.convert` compute arithmetic on concrete values
(shapes and constants) while tracing, so shapes stay concrete; operations
on the data are traced as usual. JAX's compiled programs are kept in a
persistent cache beside PyTensor's (``<base_compiledir>/jax``) unless the
user configured one.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from pytensor.compile.mode import Mode

from . import draws as _draws
from . import rewritten
from .convert import concrete_shape_arithmetic
from .linker import make_linker, reusing
from .process import ForkedJAXError, prepare_process

__all__ = [
    "SCAN_REWRITES",
    "ForkedJAXError",
    "is_plain_jax",
    "jax_available",
    "jax_mode",
    "own_mode",
    "reusing",
    "rewritten",
    "scan_optimizer",
]

_JAX_MODES: dict[Any, Any] = {}


def jax_available() -> bool:
    """True if ``jax`` can be imported (without importing it).

    Examples
    --------
    >>> import theanets._jax
    >>> theanets._jax.jax_available() in (True, False)
    True
    """
    return importlib.util.find_spec("jax") is not None


# Rewrites for graphs holding a ``scan`` (recurrent models) under JAX: the
# fast_compile set plus numerical stabilization. Measured on the LSTM
# regressor of the benchmarks, the full fast_run set spends 2-3 times longer
# rewriting the gradient of the scan (4.3 s against 1.6 s) for the same step
# time (75 against 73 ms): XLA optimizes the traced program itself. For
# feedforward graphs the full set gives faster steps (a 784-512-512-10
# classifier: 4.0 against 4.7 ms) for a few tenths of a second, so they keep it.
SCAN_REWRITES = ("fast_compile", "stabilize", "jax")


def scan_optimizer() -> Any:
    from pytensor.graph.rewriting.db import RewriteDatabaseQuery

    if "scan" not in _JAX_MODES:
        _JAX_MODES["scan"] = RewriteDatabaseQuery(include=list(SCAN_REWRITES))
    return _JAX_MODES["scan"]


def jax_mode(optimizer: Any = None) -> Mode:
    """PyTensor's JAX mode, with the static-shape fix (see the module notes).

    Parameters
    ----------
    optimizer : optional
        The graph rewrites to apply; PyTensor's JAX mode's by default.

    Returns
    -------
    pytensor.compile.mode.Mode

    Raises
    ------
    ImportError
        If jax is not installed.
    """
    if not jax_available():
        raise ImportError(
            "the JAX mode needs jax, a dependency of theanets that is not "
            "installed here: pip install jax"
        )
    key = id(optimizer) if optimizer is not None else None
    if key not in _JAX_MODES:
        from pytensor.compile.mode import JAX

        prepare_process()
        concrete_shape_arithmetic()
        _draws.register()
        linker = make_linker()()
        _JAX_MODES[key] = Mode(linker, JAX.provided_optimizer if optimizer is None else optimizer)
    return _JAX_MODES[key]


def own_mode(mode: Any) -> bool:
    """Whether ``mode`` is one that :func:`jax_mode` made."""
    return any(mode is made for made in _JAX_MODES.values() if isinstance(made, Mode))


def is_plain_jax(mode: Any) -> bool:
    from pytensor.link.jax.linker import JAXLinker

    linker = getattr(mode, "linker", None)
    return isinstance(linker, JAXLinker) and not type(linker).__name__.startswith("Static")
