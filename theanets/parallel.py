"""Data-parallel training on several JAX devices: ``train(..., devices=...)``.

While a model trains with ``devices=``, every call of a JAX-compiled
function places its arguments on a one-axis :class:`jax.sharding.Mesh` of
those devices: each mini-batch (every data argument, examples along axis 0)
is split over the devices, and the parameters, optimizer state and every
other shared value are replicated. The compiled program is the same one as
on one device; XLA partitions it and sums the gradients over the devices
(an all-reduce), so that each update is the one a single device makes, up to
the order of floating-point sums.

A batch whose example count is not a multiple of the device count (the last
short batch of a pass) is replicated instead of split: the same result, on
one device's worth of work.

Several processes (on one host or several): start each with
:func:`jax.distributed.initialize` before building a model (on CPUs, after
``jax.config.update('jax_cpu_collectives_implementation', 'gloo')``);
``jax.devices()`` then lists every process's devices, and
``devices=jax.devices()`` spans them. Each process gives ``train`` its own
part of the data: its rows of every global mini-batch, in the same batch
order (the same ``rng``); the model and its options are the same
everywhere.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from . import util

__all__ = ["DataParallel", "active", "place", "require_used", "to_numpy", "using"]

#: The data-parallel setting in force (innermost last), set by :func:`using`.
_ACTIVE: list[DataParallel] = []


class DataParallel:
    """A mesh of JAX devices, one axis (``'batch'``) long.

    Parameters
    ----------
    devices : int or sequence of jax devices
        How many of ``jax.devices()`` to use (the first ones), or the
        devices themselves.

    Raises
    ------
    theanets.util.ConfigurationError
        For a count below 1 or above the number of devices, or an empty or
        mixed list.
    """

    def __init__(self, devices: int | Sequence[Any]) -> None:
        import jax
        from jax.sharding import Mesh, NamedSharding, PartitionSpec

        available = jax.devices()
        if isinstance(devices, (int, np.integer)) and not isinstance(devices, bool):
            if not 1 <= devices <= len(available):
                raise util.ConfigurationError(
                    "devices={} is not a count of the {} JAX device(s) here ({}); for "
                    "more CPU devices set XLA_FLAGS=--xla_force_host_platform_device_count=N "
                    "before jax starts".format(devices, len(available), _names(available))
                )
            chosen = list(available[:devices])
        elif isinstance(devices, Sequence) and not isinstance(devices, str) and devices:
            chosen = list(devices)
            if not all(isinstance(d, jax.Device) for d in chosen) or len(set(chosen)) < len(chosen):
                raise util.ConfigurationError(
                    "devices= takes a count or a list of jax devices (jax.devices()), "
                    "not {!r}".format(devices)
                )
        else:
            raise util.ConfigurationError(
                "devices= takes a count (1 to {}) or a list of jax devices, not {!r}".format(
                    len(available), devices
                )
            )
        self.devices = chosen
        here = jax.process_index()
        #: The devices of this process, and whether others' are in the mesh.
        self.local = [d for d in chosen if d.process_index == here]
        self.multiprocess = len(self.local) < len(chosen)
        if not self.local:
            raise util.ConfigurationError(
                "devices= lists none of this process's devices ({}), only {}".format(
                    _names(jax.local_devices()), _names(chosen)
                )
            )
        self.mesh = Mesh(np.array(chosen), ("batch",))
        self.split = NamedSharding(self.mesh, PartitionSpec("batch"))
        self.replicated = NamedSharding(self.mesh, PartitionSpec())
        #: Set once a compiled function ran on the mesh.
        self.used = False
        #: How many arguments were split over the devices so far.
        self.splits = 0

    def __len__(self) -> int:
        return len(self.devices)

    def place(self, args: Sequence[Any], is_data: Sequence[bool]) -> list[Any]:
        """The arguments of one call, split (data) or replicated (the rest) over the mesh.

        With devices of several processes, each process's data is its own
        part of the global batch (its rows, split over its devices), and
        each replicated value must be the same in every process.
        """
        import jax

        self.used = True
        placed = []
        for value, data in zip(args, is_data, strict=True):
            if not isinstance(value, (np.ndarray, jax.Array)):
                placed.append(value)  # e.g. a random generator's state
                continue
            split = data and value.ndim >= 1
            if split and value.shape[0] % len(self.local):
                if self.multiprocess:  # each process holds other rows: none can stand in
                    raise util.DataError(
                        "devices=: a batch of {} examples cannot be split over this "
                        "process's {} device(s); with several processes every batch's "
                        "size must be a multiple of that (batch_size=, and the length "
                        "of the data)".format(value.shape[0], len(self.local))
                    )
                split = False  # a short last batch: computed whole, on every device
            target = self.split if split else self.replicated
            if isinstance(value, jax.Array) and value.sharding == target:
                placed.append(value)  # an updated value, already in place
            elif self.multiprocess:
                placed.append(jax.make_array_from_process_local_data(target, np.asarray(value)))
            else:
                placed.append(jax.device_put(value, target))
            self.splits += split
        return placed

    def __repr__(self) -> str:
        return "DataParallel({})".format(_names(self.devices))


def _names(devices: Sequence[Any]) -> str:
    return ", ".join(str(d) for d in devices)


def to_numpy(value: Any) -> np.ndarray:
    """A numpy array of ``value``, also of a JAX array replicated over several processes.

    Raises
    ------
    theanets.util.DataError
        For an array split over devices of other processes: no process holds
        all of it.
    """
    if getattr(value, "is_fully_addressable", True):
        return np.asarray(value)
    if not value.is_fully_replicated:
        raise util.DataError(
            "an array split over the devices of several processes ({}) has no "
            "value in one process".format(value.sharding)
        )
    return np.asarray(value.addressable_data(0))


def active() -> DataParallel | None:
    """The data-parallel setting in force, or None (one device)."""
    return _ACTIVE[-1] if _ACTIVE else None


def place(args: Sequence[Any], is_data: Sequence[bool]) -> Sequence[Any]:
    """What a JAX-compiled function is called with: ``args``, placed on the mesh if any."""
    setting = active()
    return args if setting is None else setting.place(args, is_data)


@contextlib.contextmanager
def using(devices: int | Sequence[Any] | None) -> Iterator[DataParallel | None]:
    """Run JAX-compiled calls data-parallel over ``devices`` (None: as usual)."""
    if devices is None:
        yield None
        return
    setting = DataParallel(devices)
    _ACTIVE.append(setting)
    try:
        yield setting
    finally:
        _ACTIVE.remove(setting)


def require_used(setting: DataParallel | None) -> None:
    """Refuse a data-parallel setting that nothing ran on (after the first iteration).

    Raises
    ------
    theanets.util.ConfigurationError
        If no JAX-compiled function ran while ``setting`` was in force: the
        model compiled with another mode (Numba: a model that takes sparse
        inputs, one that draws random numbers under ``THEANETS_DRAWS=numpy``,
        or ``PYTENSOR_FLAGS=mode=...``),
        which runs on one CPU device only.
    """
    if setting is not None and not setting.used:
        raise util.ConfigurationError(
            "devices={}: nothing ran on the devices, because this model's "
            "functions were not compiled with JAX (a model with sparse inputs "
            "compiles with Numba, as do noise and dropout under THEANETS_DRAWS=numpy "
            "and a PYTENSOR_FLAGS mode setting); data-parallel training needs the JAX mode".format(
                len(setting)
            )
        )
