"""Plain recurrent layers: RNN and its variants (BCRNN, RRNN, MRNN, Clockwork)."""

import numpy as np
import pytensor.tensor as TT

from ... import checks, util
from ..._backend import sigmoid
from .base import Recurrent, _block_mask, _float

__all__ = ["RNN", "BCRNN", "RRNN", "MRNN", "Clockwork"]


class RNN(Recurrent):
    """A vanilla recurrent layer: ``h_t = g(x_t @ xh + b + h_{t-1} @ hh)``.

    Parameters ``xh`` (input x size), ``hh`` (size x size), ``b``; outputs
    ``pre`` (before the activation) and ``out``.

    Examples
    --------
    >>> import theanets
    >>> net = theanets.recurrent.Regressor([3, (4, 'rnn', 'tanh'), 2])
    >>> [(p.name, p.get_value().shape) for p in net.layers[1].params]
    [('hid1.xh', (3, 4)), ('hid1.hh', (4, 4)), ('hid1.b', (4,))]
    >>> import numpy as np
    >>> x = np.zeros((2, 5, 3), 'float32')
    >>> net.feed_forward(x)['hid1:out'].shape
    (2, 5, 4)
    """

    def setup(self):
        self.add_weights("xh", self.input_size, self.output_size)
        self.add_weights("hh", self.output_size, self.output_size)
        self.add_bias("b", self.output_size)

    def transform(self, inputs):
        def step(x_t, h_tm1, hh):
            pre = x_t + TT.dot(h_tm1, hh)
            return [pre, self.activate(pre)]

        x = self._sequence(inputs)
        values, updates = self._scan(
            step,
            [TT.dot(x, self.find("xh")) + self.find("b")],
            [None, self._initial(inputs, "h_0", x.shape[1])],
            [self.find("hh")],
        )
        return self._outputs(["pre", "out"], values), updates


class BCRNN(RNN):
    """A block-cascading RNN: modules of units with fixed, graded leak rates.

    The ``size`` units form ``num_modules`` equal modules; module ``i``
    receives recurrent input from modules ``j >= i`` only (``mask`` is
    block-lower-triangular, ``hh[j, i]`` joining unit ``j`` to unit ``i``,
    as in the original and in :class:`Clockwork`), and keeps a fixed
    fraction ``r_i`` of its previous pre-activation (``r = 1 - logspace(-1e-4,
    -6, num_modules)``): ``pre_t = r pre_{t-1} + (1 - r) (x_t . xh + b +
    h_{t-1} . (hh * mask))``, ``out = g(pre)``. Parameters as for :class:`RNN`.

    Examples
    --------
    >>> import theanets
    >>> net = theanets.recurrent.Regressor([3, dict(form='bcrnn', size=4, num_modules=2), 2])
    >>> net.layers[1].to_spec()['num_modules']
    2
    """

    CARRIED = ("p_0", "h_0")

    def __init__(self, num_modules, **kwargs):
        super().__init__(**kwargs)
        if not checks.is_count(num_modules) or num_modules < 1:
            raise util.ConfigurationError(
                "{}: num_modules must be a positive whole number, not {!r}".format(
                    self._context(), num_modules
                )
            )
        self.num_modules = int(num_modules)

    def resolve_outputs(self):
        super().resolve_outputs()
        if self.output_size % self.num_modules:
            raise util.ConfigurationError(
                "{}: size {} is not a multiple of num_modules {}".format(
                    self._context(), self.output_size, self.num_modules
                )
            )

    def transform(self, inputs):
        n, modules = self.output_size, self.num_modules
        rates = np.repeat(1 - np.logspace(-1e-4, -6, modules), n // modules).astype(_float())
        mask = _block_mask(n, modules)

        def step(x_t, p_tm1, h_tm1, hh_masked):
            pre = rates * p_tm1 + (1 - rates) * (x_t + TT.dot(h_tm1, hh_masked))
            return [pre, self.activate(pre)]

        x = self._sequence(inputs)
        values, updates = self._scan(
            step,
            [TT.dot(x, self.find("xh")) + self.find("b")],
            [self._initial(inputs, "p_0", x.shape[1]), self._initial(inputs, "h_0", x.shape[1])],
            # masked once, outside the loop (the same values as masking in
            # each step, which cost an extra pass over hh per step)
            [self.find("hh") * mask],
        )
        return self._outputs(["pre", "out"], values), updates

    def to_spec(self):
        spec = super().to_spec()
        spec["num_modules"] = self.num_modules
        return spec


class RRNN(RNN):
    """An RNN whose units leak: ``h_t = (1 - r) h_{t-1} + r g(pre_t)``.

    Parameters
    ----------
    rate : str
        How the rates ``r`` are made: ``'matrix'`` (default) learns
        ``r_t = sigmoid(x_t . xr + r)`` per step (params ``r``, ``xr``; the
        ``rate`` output is then time-major ``(time, batch, size)``, as in the
        original), ``'vector'`` learns ``r = sigmoid(r)`` per unit, and
        ``'uniform'``/``'log'`` draw fixed rates from numpy's global random
        state (not learned, not in ``params``).
    rates : list of float, optional
        The fixed rates themselves (for ``'uniform'``/``'log'``), instead of
        drawing them.

    Outputs ``pre``, ``hid`` (``g(pre)``), ``rate`` and ``out``. ``to_spec``
    includes ``rate`` and fixed ``rates`` (the original left both out, so a
    rebuilt layer fell back to ``'matrix'``).

    Examples
    --------
    >>> import theanets
    >>> net = theanets.recurrent.Regressor([3, dict(form='rrnn', size=4, rate='vector'), 2])
    >>> [p.name for p in net.layers[1].params]
    ['hid1.xh', 'hid1.hh', 'hid1.b', 'hid1.r']
    """

    RATES = ("matrix", "vector", "uniform", "log")

    def __init__(self, rate="matrix", **kwargs):
        super().__init__(**kwargs)
        self.rate = self._check_rate(rate, self.RATES)

    def setup(self):
        super().setup()
        self._rates = self._create_rates(self.rate)
        if self.rate in ("vector", "matrix"):
            self.add_bias("r", self.output_size)
        if self.rate == "matrix":
            self.add_weights("xr", self.input_size, self.output_size)

    def transform(self, inputs):
        def step(x_t, r_t, h_tm1, hh):
            pre = x_t + TT.dot(h_tm1, hh)
            hid = self.activate(pre)
            return [pre, hid, (1 - r_t) * h_tm1 + r_t * hid]

        x = self._sequence(inputs)
        xh = TT.dot(x, self.find("xh")) + self.find("b")
        states = [None, None, self._initial(inputs, "h_0", x.shape[1])]
        if self.rate == "matrix":  # a rate per step: a sequence
            rate = sigmoid(TT.dot(x, self.find("xr")) + self.find("r"))
            values, updates = self._scan(step, [xh, rate], states, [self.find("hh")])
        else:  # a rate per unit: the same at every step
            rate = sigmoid(self.find("r")) if self.rate == "vector" else self._rates
            values, updates = self._scan(
                lambda x_t, h_tm1, hh, r: step(x_t, r, h_tm1, hh),
                [xh],
                states,
                [self.find("hh"), rate],
            )
        outputs = self._outputs(["pre", "hid", "out"], values)
        outputs["rate"] = rate
        return outputs, updates

    def to_spec(self):
        return self._rates_spec(super().to_spec())


class MRNN(Recurrent):
    """A multiplicative RNN: the input gates the recurrent weights through factors.

    ``pre_t = x_t . xh + b + ((x_t . xf) * (h_{t-1} . hf)) . fh``,
    ``out = g(pre)``. Parameters ``xh``, ``xf``, ``hf``, ``fh``, ``b``;
    outputs ``pre``, ``factors`` (``x . xf``, time-major as in the original)
    and ``out``.

    Parameters
    ----------
    factors : int, optional
        Number of factors; default ``ceil(sqrt(size))`` (so ``size`` must be
        given to the constructor).

    Examples
    --------
    >>> import theanets
    >>> net = theanets.recurrent.Regressor([3, dict(form='mrnn', size=4), 2])
    >>> net.layers[1].find('hf').get_value().shape
    (4, 2)
    """

    def __init__(self, factors=None, **kwargs):
        super().__init__(**kwargs)
        if factors is None:
            size = kwargs.get("size")
            if size is None and kwargs.get("shape") is not None:
                size = tuple(kwargs["shape"])[-1]
            if not checks.is_count(size) or size < 1:
                raise util.ConfigurationError(
                    "{}: give size=... (or factors=...): the number of factors defaults to "
                    "ceil(sqrt(size))".format(self._context())
                )
            factors = int(np.ceil(np.sqrt(size)))
        if not checks.is_count(factors) or factors < 1:
            raise util.ConfigurationError(
                "{}: factors must be a positive whole number, not {!r}".format(
                    self._context(), factors
                )
            )
        self.factors = int(factors)

    def setup(self):
        self.add_weights("xh", self.input_size, self.output_size)
        self.add_weights("xf", self.input_size, self.factors)
        self.add_weights("hf", self.output_size, self.factors)
        self.add_weights("fh", self.factors, self.output_size)
        self.add_bias("b", self.output_size)

    def transform(self, inputs):
        def step(x_t, f_t, h_tm1, hf, fh):
            pre = x_t + TT.dot(f_t * TT.dot(h_tm1, hf), fh)
            return [pre, self.activate(pre)]

        x = self._sequence(inputs)
        factors = TT.dot(x, self.find("xf"))
        values, updates = self._scan(
            step,
            [TT.dot(x, self.find("xh")) + self.find("b"), factors],
            [None, self._initial(inputs, "h_0", x.shape[1])],
            [self.find("hf"), self.find("fh")],
        )
        outputs = self._outputs(["pre", "out"], values)
        outputs["factors"] = factors
        return outputs, updates

    def to_spec(self):
        spec = super().to_spec()
        spec["factors"] = self.factors
        return spec


class Clockwork(RNN):
    """A clockwork RNN: modules of units that update at different periods.

    The ``size`` units form ``len(periods)`` equal modules; module ``i``
    updates only at time steps ``t`` with ``t % periods[i] == 0`` (``t`` the
    index in the sequence, also when running backwards) and otherwise keeps
    its pre-activation (zeros before its first update), and it receives
    recurrent input only from modules ``j >= i`` (the slower ones).
    Parameters as for :class:`RNN`; outputs ``pre`` and ``out``.

    Parameters
    ----------
    periods : sequence of int
        The update period of each module; sorted ascending.

    Examples
    --------
    >>> import theanets
    >>> net = theanets.recurrent.Regressor(
    ...     [3, dict(form='clockwork', size=4, periods=(2, 1)), 2])
    >>> net.layers[1].to_spec()['periods']
    (1, 2)
    """

    CARRIED = ("p_0", "h_0", "t_0")
    COUNTERS = ("t_0",)

    def __init__(self, periods, **kwargs):
        super().__init__(**kwargs)
        if isinstance(periods, np.ndarray):
            periods = periods.tolist()
        if (
            not isinstance(periods, (tuple, list))
            or not periods
            or not all(checks.is_count(p) and p > 0 for p in periods)
        ):
            raise util.ConfigurationError(
                "{}: periods must be a non-empty sequence of positive whole numbers, "
                "not {!r}".format(self._context(), periods)
            )
        self.periods = tuple(sorted(int(p) for p in periods))

    def resolve_outputs(self):
        super().resolve_outputs()
        if self.output_size % len(self.periods):
            raise util.ConfigurationError(
                "{}: size {} is not a multiple of the number of periods {} (periods {})".format(
                    self._context(), self.output_size, len(self.periods), self.periods
                )
            )

    def transform(self, inputs):
        n, modules = self.output_size, len(self.periods)
        periods = np.repeat(self.periods, n // modules).astype("int64")
        mask = _block_mask(n, modules)

        def step(t, x_t, p_tm1, h_tm1, hh_masked):
            pre = x_t + TT.dot(h_tm1, hh_masked)
            due = TT.eq(TT.mod(t if t.ndim == 0 else t[:, None], periods), 0)
            pre = TT.switch(due, pre, p_tm1)
            return [pre, self.activate(pre)]

        x = self._sequence(inputs)
        time = self._in_reading_order(TT.arange(x.shape[0]))
        # a carried counter (batch,) continues the count of an earlier call
        start = self._counter("t_0", x.shape[1])
        if start is not None:
            time = time[:, None] + start[None, :]
            self._final("t_0", start + x.shape[0])
        values, updates = self._scan(
            step,
            [time, TT.dot(x, self.find("xh")) + self.find("b")],
            [self._initial(inputs, "p_0", x.shape[1]), self._initial(inputs, "h_0", x.shape[1])],
            [self.find("hh") * mask],  # masked once, outside the loop
        )
        return self._outputs(["pre", "out"], values), updates

    def to_spec(self):
        spec = super().to_spec()
        spec["periods"] = self.periods
        return spec
