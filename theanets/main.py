"""Experiment: the original convenience wrapper to build or load, train and save."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from . import graph, util

__all__ = ["Experiment"]


class Experiment:
    """Build (or load) a network, then train and save it.

    Parameters
    ----------
    network : str, Network, or a Network subclass
        A path to a saved model (loaded), a network (used as is), or a model
        class (instantiated with the remaining arguments).

    Examples
    --------
    >>> import theanets
    >>> exp = theanets.Experiment(theanets.Regressor, [3, 4, 2])
    >>> type(exp.network).__name__
    'Regressor'
    """

    def __init__(self, network: Any, *args: Any, **kwargs: Any) -> None:
        if isinstance(network, (str, os.PathLike)) and os.path.isfile(network):
            self.load(network, **kwargs)
        elif isinstance(network, graph.Network):
            self.network = network
        elif (
            isinstance(network, type)
            and issubclass(network, graph.Network)
            and network is not graph.Network
        ):
            self.network = network(*args, **kwargs)
        else:
            raise util.ConfigurationError(
                "Experiment needs a model class (e.g. theanets.Regressor), a network, or "
                "the path of a saved model; got {!r}".format(network)
            )

    def train(self, *args: Any, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        """Train the network: see :meth:`theanets.graph.Network.train`."""
        return self.network.train(*args, **kwargs)

    def itertrain(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        """Train the network: see :meth:`theanets.graph.Network.itertrain`."""
        return self.network.itertrain(*args, **kwargs)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Save the network to ``path``."""
        self.network.save(path)

    def load(self, path: str | os.PathLike[str], **options: Any) -> Any:
        """Load a network from ``path``; it becomes (and is returned as) ``network``.

        ``options`` (``allow_pickle``, ``trusted``, ``allow_nonfinite``) go to
        :meth:`theanets.graph.Network.load`."""
        self.network = graph.Network.load(path, **options)
        return self.network
