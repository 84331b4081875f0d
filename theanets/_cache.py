"""Named caches of bounded size, all owned by one object (:data:`CACHES`).

Each cache keeps its most recently used entries up to its size and drops
the least recently used beyond it. The caches of one process:

``functions``
    Compiled PyTensor functions keyed by a graph's structure: a model of
    the same structure as an earlier one gets a copy of the earlier
    function with its own shared variables swapped in
    (see :func:`theanets._mode.function`).

A model keeps its own per-model entries (optimizers, layerwise tails,
pretraining shadows, prediction functions) in a :class:`NamedCaches` of its
own, one named cache for each kind.

Examples
--------
>>> cache = NamedCache("demo", size=2)
>>> cache.put("a", 1); cache.put("b", 2); cache.put("c", 3)
>>> sorted(cache.keys())
['b', 'c']
>>> cache.get("a") is None
True
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Hashable, Iterator
from typing import Any

import numpy as np
from pytensor.graph.basic import Constant
from pytensor.graph.traversal import ancestors
from pytensor.tensor.sharedvar import SharedVariable

__all__ = ["CACHES", "NamedCache", "NamedCaches", "graph_signature", "shared_variables"]


class NamedCache:
    """A mapping of bounded size that forgets its least recently used entries.

    Parameters
    ----------
    name : str
        What it holds (for messages and :meth:`NamedCaches.stats`).
    size : int
        The most entries kept.
    """

    def __init__(self, name: str, size: int) -> None:
        if int(size) < 1:
            raise ValueError("cache {!r}: size must be at least 1, not {!r}".format(name, size))
        self.name = name
        self.size = int(size)
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable, default: Any = None) -> Any:
        """The entry of ``key`` (now the most recently used), or ``default``."""
        if key in self._entries:
            self.hits += 1
            self._entries.move_to_end(key)
            return self._entries[key]
        self.misses += 1
        return default

    def put(self, key: Hashable, value: Any) -> None:
        """Keep ``value`` under ``key``, dropping the oldest entries beyond the size."""
        self._entries[key] = value
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def pop(self, key: Hashable, default: Any = None) -> Any:
        """Remove and return the entry of ``key`` (``default`` if there is none)."""
        return self._entries.pop(key, default)

    def keys(self) -> list[Hashable]:
        """The keys, least recently used first."""
        return list(self._entries)

    def clear(self) -> None:
        """Forget every entry."""
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries


class NamedCaches:
    """A set of :class:`NamedCache`, one per name, made on first use.

    Parameters
    ----------
    sizes : dict
        Name -> size of the caches this object may hold.
    """

    def __init__(self, **sizes: int) -> None:
        self.sizes = dict(sizes)
        self._caches: dict[str, NamedCache] = {}

    def __getitem__(self, name: str) -> NamedCache:
        cache = self._caches.get(name)
        if cache is None:
            if name not in self.sizes:
                raise KeyError(
                    "no cache named {!r}; expected one of {}".format(name, sorted(self.sizes))
                )
            cache = self._caches[name] = NamedCache(name, self.sizes[name])
        return cache

    def __iter__(self) -> Iterator[NamedCache]:
        return iter(list(self._caches.values()))

    def clear(self) -> None:
        """Forget the entries of every cache."""
        for cache in self._caches.values():
            cache.clear()

    def stats(self) -> dict[str, tuple[int, int, int]]:
        """Name -> (entries, hits, misses) of each cache made so far."""
        return {c.name: (len(c), c.hits, c.misses) for c in self._caches.values()}


#: The process's caches shared between models.
CACHES = NamedCaches(functions=64, steps=32)


def shared_variables(variables: list[Any]) -> list[SharedVariable]:
    """The shared variables of the graph of ``variables``, in the order of a walk
    from them (the same for two graphs built the same way)."""
    seen: set[int] = set()
    result = []
    for var in ancestors(variables):
        if isinstance(var, SharedVariable) and id(var) not in seen:
            seen.add(id(var))
            result.append(var)
    return result


def _describe(var: Any, index: dict[int, int]) -> tuple[Any, ...]:
    if var.owner is None:
        if isinstance(var, Constant):
            data = np.asarray(var.data)
            return ("constant", str(var.type), hashlib.md5(data.tobytes()).hexdigest())
        if isinstance(var, SharedVariable):
            return ("shared", str(var.type), var.name)
        return ("input", str(var.type), var.name)
    node = var.owner
    return (
        "node",
        type(node.op).__name__,
        str(node.op),
        repr(getattr(node.op, "_props_dict", dict)()),
        node.outputs.index(var),
        str(var.type),
        tuple(index.get(id(i), -1) for i in node.inputs),
    )


def graph_signature(variables: list[Any]) -> str:
    """A digest of the structure of the graph of ``variables``: every operation,
    type, constant and the names of inputs and shared variables (not their values).

    Two graphs built the same way from models of the same structure have the
    same signature, whatever their parameters hold.
    """
    index: dict[int, int] = {}
    parts = []
    for var in ancestors(variables):
        index.setdefault(id(var), len(index))
    for var in ancestors(variables):
        parts.append(_describe(var, index))
    parts.append(tuple(index[id(v)] for v in variables))
    return hashlib.md5(repr(parts).encode("utf8")).hexdigest()
