"""Gated recurrent layers: LSTM, GRU, MUT1 and SCRN."""

import numpy as np
import pytensor.tensor as TT

from ... import activations, util
from ..._backend import sigmoid
from .base import Recurrent

__all__ = ["LSTM", "GRU", "MUT1", "SCRN"]


class LSTM(Recurrent):
    """A long short-term memory layer with peephole connections.

    ``z = x_t . xh + b + h_{t-1} . hh`` is split into ``[i, f, c, o]``;
    ``i = sigmoid(z_i + c_{t-1} * ci)``, ``f = sigmoid(z_f + c_{t-1} * cf)``,
    ``c_t = f c_{t-1} + i tanh(z_c)``, ``o = sigmoid(z_o + c_t * co)``,
    ``h_t = o tanh(c_t)``. The layer's ``activation`` is ignored, as in the
    original. Parameters ``xh`` (input x 4 size), ``hh`` (size x 4 size),
    ``b`` (4 size), ``ci``, ``cf``, ``co``; outputs ``out`` and ``cell``.

    Parameters
    ----------
    c_0 : str or Layer, optional
        The graph output giving the initial cell state ``(batch, size)``.

    Examples
    --------
    >>> import theanets
    >>> net = theanets.recurrent.Regressor([3, (4, 'lstm'), 2])
    >>> [p.name for p in net.layers[1].params]
    ['hid1.xh', 'hid1.hh', 'hid1.b', 'hid1.ci', 'hid1.cf', 'hid1.co']
    """

    STATES = ("h_0", "c_0")
    CARRIED = ("h_0", "c_0")

    def __init__(self, c_0=None, **kwargs):
        self.c_0 = c_0
        super().__init__(**kwargs)

    def setup(self):
        self.add_weights("xh", self.input_size, 4 * self.output_size)
        self.add_weights("hh", self.output_size, 4 * self.output_size)
        self.add_bias("b", 4 * self.output_size, mean=2)
        self.add_bias("ci", self.output_size)
        self.add_bias("cf", self.output_size)
        self.add_bias("co", self.output_size)

    def transform(self, inputs):
        n = self.output_size

        def step(x_t, h_tm1, c_tm1, hh, ci, cf, co):
            z = x_t + TT.dot(h_tm1, hh)
            i = sigmoid(z[:, :n] + c_tm1 * ci)
            f = sigmoid(z[:, n : 2 * n] + c_tm1 * cf)
            c = f * c_tm1 + i * TT.tanh(z[:, 2 * n : 3 * n])
            o = sigmoid(z[:, 3 * n :] + c * co)
            return [o * TT.tanh(c), c]

        x = self._sequence(inputs)
        batch = x.shape[1]
        states = [self._initial(inputs, "h_0", batch), self._initial(inputs, "c_0", batch)]
        constants = [self.find("hh"), self.find("ci"), self.find("cf"), self.find("co")]
        if self.kwargs.get("bptt_limit", -1) in (None, -1):
            # the whole recurrence (input products too) and its gradient as
            # one fused operation (imported here: it imports numba, which a
            # model without an LSTM need not load)
            from ...ops.lstm import lstm_sequence

            values, updates = self._fused(
                lstm_sequence, x, states, [self.find("xh"), self.find("b")] + constants
            )
        else:
            # truncated backpropagation is scan's
            values, updates = self._scan(
                step, [TT.dot(x, self.find("xh")) + self.find("b")], states, constants
            )
        return self._outputs(["out", "cell"], values), updates


class GRU(Recurrent):
    """A gated recurrent unit layer.

    ``x . w + b`` is split into ``[x_h, x_r, x_z]``;
    ``r = sigmoid(x_r + h_{t-1} . hr)``, ``z = sigmoid(x_z + h_{t-1} . hz)``,
    ``pre = x_h + (r h_{t-1}) . hh``, ``hid = g(pre)``,
    ``h_t = (1 - z) h_{t-1} + z hid``. Parameters ``hh``, ``hr``, ``hz``
    (size x size), ``w`` (input x 3 size), ``b`` (3 size); outputs ``pre``,
    ``hid``, ``rate`` (``z``) and ``out``.

    Examples
    --------
    >>> import theanets
    >>> net = theanets.recurrent.Regressor([3, (4, 'gru'), 2])
    >>> [p.name for p in net.layers[1].params]
    ['hid1.hh', 'hid1.hr', 'hid1.hz', 'hid1.w', 'hid1.b']
    """

    def setup(self):
        n = self.output_size
        self.add_weights("hh", n, n)
        self.add_weights("hr", n, n)
        self.add_weights("hz", n, n)
        self.add_weights("w", self.input_size, 3 * n)
        self.add_bias("b", 3 * n)

    def transform(self, inputs):
        n = self.output_size

        def step(xh_t, xr_t, xz_t, h_tm1, hh, hr, hz):
            r = sigmoid(xr_t + TT.dot(h_tm1, hr))
            z = sigmoid(xz_t + TT.dot(h_tm1, hz))
            pre = xh_t + TT.dot(r * h_tm1, hh)
            hid = self.activate(pre)
            return [pre, hid, z, (1 - z) * h_tm1 + z * hid]

        x = self._sequence(inputs)
        states = [None, None, None, self._initial(inputs, "h_0", x.shape[1])]
        weights = [self.find("hh"), self.find("hr"), self.find("hz")]
        activation = self._fused_activation()
        if activation is not None:
            # the whole recurrence (input products too) and its gradient as
            # one fused operation (imported here, as the LSTM's)
            from ...ops.gru import gru_sequence

            def recurrence(x, h0, w, b, hh, hr, hz):
                return gru_sequence(x, h0, w, b, hh, hr, hz, activation=activation)

            values, updates = self._fused(
                recurrence, x, states, [self.find("w"), self.find("b")] + weights
            )
        else:
            # truncated backpropagation, and activations the fused op does
            # not compute (parametric, composed, softmax, norm:*), are scan's
            xw = TT.dot(x, self.find("w")) + self.find("b")
            values, updates = self._scan(
                step, [xw[:, :, :n], xw[:, :, n : 2 * n], xw[:, :, 2 * n :]], states, weights
            )
        return self._outputs(["pre", "hid", "rate", "out"], values), updates

    def _fused_activation(self):
        """The activation's name where the fused operation computes this
        layer (whole-sequence backpropagation, an elementwise activation of
        :data:`theanets.ops.gru_kernels.ACTIVATIONS`), else None."""
        if self.kwargs.get("bptt_limit", -1) not in (None, -1):
            return None
        name = activations.plain_name(self.activate)
        if name is None:
            return None
        from ...ops.gru import activation_index

        return name if activation_index(name) is not None else None


class MUT1(Recurrent):
    """The first "mutated" gated unit (MUT1) of Jozefowicz et al. (2015).

    ``z = sigmoid(x . xz + bz)``, ``r = sigmoid(x . xr + br + h_{t-1} . hr)``,
    ``pre = tanh(x . xh + bh) + (r h_{t-1}) . hh``, ``hid = tanh(pre)``,
    ``h_t = (1 - z) h_{t-1} + z hid``. The layer's ``activation`` is ignored
    (always tanh), as in the original. Outputs ``pre``, ``hid``, ``rate``
    (``z``) and ``out``.

    Examples
    --------
    >>> import theanets
    >>> net = theanets.recurrent.Regressor([3, (4, 'mut1'), 2])
    >>> [p.name for p in net.layers[1].params]
    ['hid1.xh', 'hid1.xr', 'hid1.xz', 'hid1.hh', 'hid1.hr', 'hid1.bh', 'hid1.br', 'hid1.bz']
    """

    def setup(self):
        d, n = self.input_size, self.output_size
        for name in ("xh", "xr", "xz"):
            self.add_weights(name, d, n)
        self.add_weights("hh", n, n)
        self.add_weights("hr", n, n)
        for name in ("bh", "br", "bz"):
            self.add_bias(name, n)

    def transform(self, inputs):
        def step(xh_t, xr_t, xz_t, h_tm1, hh, hr):
            z = sigmoid(xz_t)
            r = sigmoid(xr_t + TT.dot(h_tm1, hr))
            pre = TT.tanh(xh_t) + TT.dot(r * h_tm1, hh)
            hid = TT.tanh(pre)
            return [pre, hid, z, (1 - z) * h_tm1 + z * hid]

        x = self._sequence(inputs)
        values, updates = self._scan(
            step,
            [TT.dot(x, self.find("x" + k)) + self.find("b" + k) for k in "hrz"],
            [None, None, None, self._initial(inputs, "h_0", x.shape[1])],
            [self.find("hh"), self.find("hr")],
        )
        return self._outputs(["pre", "hid", "rate", "out"], values), updates


class SCRN(Recurrent):
    """A structurally constrained recurrent network (Mikolov et al., 2014).

    ``x . w`` is split into ``[x_h, x_s]``; the slow context state
    ``s_t = (1 - r) s_{t-1} + r x_s`` and the hidden state
    ``h_t = g(x_h + h_{t-1} . hh + s_t . sh)``; ``out = h . ho + s . so + b``
    (no activation). Parameters ``w`` (input x 2 size), ``sh``, ``hh``,
    ``ho``, ``so`` (size x size), ``b``, and ``r`` for learned rates; outputs
    ``hid``, ``state``, ``rate`` and ``out``.

    Parameters
    ----------
    rate : str
        ``'vector'`` (default) learns ``r = sigmoid(r)`` per unit;
        ``'uniform'``/``'log'`` draw fixed rates from numpy's global random
        state. The original drew ``context_size`` fixed rates for a
        ``size``-wide state and failed when run; here one rate per unit is
        drawn, so these variants work. ``to_spec`` includes ``rate`` and
        fixed ``rates``; ``rates=[...]`` gives fixed rates instead of drawing.
    s_0 : str or Layer, optional
        The graph output giving the initial context state ``(batch, size)``.
    context_size : int or float, optional
        Kept in the spec for compatibility, resolved as the original did
        (default ``int(1 + sqrt(size))``, a float a fraction of ``size``);
        the context state is ``size`` wide, as in the original.

    Examples
    --------
    >>> import theanets
    >>> net = theanets.recurrent.Regressor([3, (4, 'scrn'), 2])
    >>> [p.name for p in net.layers[1].params]
    ['hid1.w', 'hid1.sh', 'hid1.hh', 'hid1.ho', 'hid1.so', 'hid1.b', 'hid1.r']
    """

    STATES = ("h_0", "s_0")
    CARRIED = ("s_0", "h_0")
    RATES = ("vector", "uniform", "log")

    def __init__(self, rate="vector", s_0=None, context_size=None, **kwargs):
        self.s_0 = s_0
        super().__init__(**kwargs)
        self.rate = self._check_rate(rate, self.RATES)
        if context_size is not None and (
            isinstance(context_size, bool)
            or not isinstance(context_size, (int, float, np.integer, np.floating))
            or context_size <= 0
        ):
            raise util.ConfigurationError(
                "{}: context_size must be a positive number, not {!r}".format(
                    self._context(), context_size
                )
            )
        self.context_size = context_size

    def setup(self):
        n = self.output_size
        self.add_weights("w", self.input_size, 2 * n)
        for name in ("sh", "hh", "ho", "so"):
            self.add_weights(name, n, n)
        self.add_bias("b", n)
        self._rates = self._create_rates(self.rate)
        if self.rate == "vector":
            self.add_bias("r", n)

    def transform(self, inputs):
        n = self.output_size

        def step(xh_t, xs_t, s_tm1, h_tm1, rate, hh, sh):
            s = (1 - rate) * s_tm1 + rate * xs_t
            return [s, self.activate(xh_t + TT.dot(h_tm1, hh) + TT.dot(s, sh))]

        x = self._sequence(inputs)
        xw = TT.dot(x, self.find("w"))
        rate = sigmoid(self.find("r")) if self.rate == "vector" else self._rates
        batch = x.shape[1]
        values, updates = self._scan(
            step,
            [xw[:, :, :n], xw[:, :, n:]],
            [self._initial(inputs, "s_0", batch), self._initial(inputs, "h_0", batch)],
            [rate, self.find("hh"), self.find("sh")],
        )
        outputs = self._outputs(["state", "hid"], values)
        outputs["out"] = (
            TT.dot(outputs["hid"], self.find("ho"))
            + TT.dot(outputs["state"], self.find("so"))
            + self.find("b")
        )
        outputs["rate"] = rate
        return outputs, updates

    @property
    def resolved_context_size(self):
        """``context_size`` as the original resolved it: ``int(1 + sqrt(size))`` by
        default, ``int(fraction * size)`` for a float, else the int given."""
        n = self.output_size
        if self.context_size is None:
            return int(1 + np.sqrt(n))
        if isinstance(self.context_size, (float, np.floating)):
            return int(self.context_size * n)
        return int(self.context_size)

    def to_spec(self):
        spec = super().to_spec()
        spec.update(context_size=self.resolved_context_size)
        return self._rates_spec(spec)
