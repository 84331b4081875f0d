"""Counts of the real calls into the compilers, for tests and benchmarks.

``graph``: a PyTensor function compiled (graph rewritten and linked);
``disk``: of those, the ones whose rewritten graph was read from the disk,
where an earlier process kept it (:mod:`theanets._jax.rewritten`), instead
of rewritten;
``copy``: a compiled function copied for another model's shared variables
(nothing rewritten; under JAX the traced program is reused);
``shape``: under JAX, a program traced and compiled by XLA for a new
signature of input shapes;
``kernels``: under JAX, a program traced again to call the fused
recurrences' kernels, which a background process compiled while it ran
without them (:mod:`theanets.ops.compile_kernels`).

Examples
--------
>>> before = counts()
>>> note("graph")
>>> (counts() - before)["graph"]
1
"""

from __future__ import annotations

from collections import Counter

__all__ = ["counts", "note"]

_COUNTS: Counter[str] = Counter()


def note(kind: str) -> None:
    """Count one compilation of ``kind`` (one of those above)."""
    _COUNTS[kind] += 1


def counts() -> Counter[str]:
    """A copy of the counts so far in this process (subtract two to count a span).

    Returns
    -------
    collections.Counter
        Kind -> number of compilations.
    """
    return Counter(_COUNTS)
