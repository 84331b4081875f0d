"""Bidirectional: two recurrent layers, one running forward, one backward."""

import numpy as np
import pytensor.tensor as TT

from ... import checks, util
from ..base import Layer
from .base import Recurrent, _check_sequence_inputs

__all__ = ["Bidirectional"]


class Bidirectional(Layer):
    """Two recurrent layers reading the input forwards and backwards.

    Each worker has half the ``size``; they are named ``<name>_fw`` and
    ``<name>_bw`` (so are their parameters) and get the other keyword
    arguments of this layer. Outputs: ``out`` (the workers' ``out`` side by
    side on the feature axis), ``pre`` and ``cell`` likewise where the worker
    has them, and ``fw_<k>``, ``bw_<k>`` for every worker output ``k``. As in
    the original, the backward worker's outputs stay in reversed time order,
    so ``out`` at step ``t`` joins forward step ``t`` with backward step
    ``T - 1 - t``.

    Parameters
    ----------
    worker : str
        The recurrent form of both workers (default ``'rnn'``).
    fw_rates, bw_rates : list of float, optional
        Fixed rates of the forward and backward worker (for workers with
        ``rate='uniform'`` or ``'log'``), instead of drawing them; ``to_spec``
        writes them.

    Examples
    --------
    >>> import theanets
    >>> net = theanets.recurrent.Regressor([3, dict(form='bidirectional', size=4), 2])
    >>> [p.name for p in net.layers[1].params]
    ['hid1_fw.xh', 'hid1_fw.hh', 'hid1_fw.b', 'hid1_bw.xh', 'hid1_bw.hh', 'hid1_bw.b']
    """

    #: Listed among the sequence layers in messages.
    READS_SEQUENCES = True

    def __init__(self, worker="rnn", **kwargs):
        super().__init__(**kwargs)
        choices = Layer.names(where=lambda c: c is not Recurrent and issubclass(c, Recurrent))
        if not isinstance(worker, str) or worker.lower() not in choices:
            raise util.unknown_name(
                "worker", worker, choices, context="{}: ".format(self._context())
            )
        self.worker = worker
        size = kwargs.get("size")
        if size is None and kwargs.get("shape") is not None:
            size = tuple(kwargs["shape"])[-1]
        if not checks.is_count(size) or size < 2 or size % 2:
            raise util.ConfigurationError(
                "{}: size must be an even whole number (each direction gets half), not {!r}".format(
                    self._context(), size
                )
            )
        shared = {
            k: v
            for k, v in kwargs.items()
            if k not in ("size", "shape", "direction", "fw_rates", "bw_rates")
        }
        own = {
            side: dict(rates=kwargs[side + "_rates"])
            if kwargs.get(side + "_rates") is not None
            else {}
            for side in ("fw", "bw")
        }
        self.forward = Layer.build(
            worker,
            **dict(
                shared,
                size=size // 2,
                name="{}_fw".format(self.name),
                direction="forward",
                **own["fw"],
            ),
        )
        self.backward = Layer.build(
            worker,
            **dict(
                shared,
                size=size // 2,
                name="{}_bw".format(self.name),
                direction="backward",
                **own["bw"],
            ),
        )

    @property
    def params(self):
        """The parameters of the forward, then the backward worker."""
        return self.forward.params + self.backward.params

    def find(self, key):
        """A worker parameter by index or name (``'fw.xh'``, ``'hid1_bw.b'``)."""
        params = self.params
        if isinstance(key, (int, np.integer)) and -len(params) <= key < len(params):
            return params[key]
        for param in params:
            if key in (
                param.name,
                "{}_{}".format(self.name, key),
            ) or param.name == self._param_name(key):
                return param
        raise util.UnknownNameError(
            "{} has no parameter {!r}; its parameters are {}".format(
                self._context(), key, [p.name for p in params]
            )
        )

    def bind(self, graph, reset=True, initialize=True):
        # check the input here first, so that a mistake is reported for this layer
        self._input_shapes.clear()
        self.resolve_inputs(graph.layers)
        _check_sequence_inputs(self)
        self.forward.bind(graph, reset=reset, initialize=initialize)
        self.backward.bind(graph, reset=reset, initialize=initialize)
        super().bind(graph, reset=reset, initialize=initialize)

    def resolve_outputs(self):
        _check_sequence_inputs(self)
        super().resolve_outputs()

    def transform(self, inputs):
        fw, fw_updates = self.forward.transform(inputs)
        bw, bw_updates = self.backward.transform(inputs)
        outputs = {}
        for key in ("out", "pre", "cell"):
            if key in fw:
                outputs[key] = TT.concatenate([fw[key], bw[key]], axis=-1)
        for key in fw:
            outputs["fw_" + key] = fw[key]
            outputs["bw_" + key] = bw[key]
        return outputs, list(fw_updates) + list(bw_updates)

    def to_spec(self):
        """The layer's spec, with the fixed rates of each worker (``fw_rates``,
        ``bw_rates``) where its rates are fixed, so a rebuilt layer keeps them."""
        spec = super().to_spec()
        spec["worker"] = self.worker
        for side, worker in (("fw", self.forward), ("bw", self.backward)):
            rates = getattr(worker, "_rates", None)
            if rates is not None:
                spec[side + "_rates"] = [float(r) for r in rates.get_value()]
        return spec
