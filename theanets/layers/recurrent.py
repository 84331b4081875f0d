'''Recurrent layers: sequences in, sequences out.

Every layer here takes 3-D data ``(batch, time, features)`` (use the models
of :mod:`theanets.recurrent`) and runs ``pytensor.scan`` over the time axis,
time-major inside. What they share -- initial states (``h_0``, ``c_0``,
``s_0``), the direction of the scan, truncated back-propagation, the
block-wise initialisation of weights and the shuffling between batch-major and
time-major layouts -- lives once, in :class:`Recurrent`; each layer adds its
parameters, a step function and its outputs.

Common keyword arguments (besides those of :class:`~theanets.layers.Layer`):

``h_0``
    Name of a graph output ``(batch, size)`` holding the initial hidden state,
    e.g. an ``Input`` layer made with ``ndim=2``; zeros by default.
``direction``
    A string containing ``'back'`` runs the scan from the last time step to
    the first. As in the original library, the outputs are then in reversed
    time order: they are **not** flipped back.
``bptt_limit``
    Back-propagate gradients through at most this many time steps
    (``truncate_gradient`` of scan); -1 (default) means all.
``radius``, ``radius_<p>``
    Rescale the square blocks of weight matrices to this spectral radius.
'''

import numpy as np
import pytensor
import pytensor.tensor as TT

from .. import util
from .._backend import scan, sigmoid
from .base import Layer, _is_count, _shape_text

__all__ = ['Recurrent', 'RNN', 'BCRNN', 'RRNN', 'MRNN', 'LSTM', 'GRU', 'Clockwork', 'MUT1',
           'SCRN', 'Bidirectional']


def _float():
    return pytensor.config.floatX


def _batch_major(x):
    '''(time, batch, ...) <-> (batch, time, ...).'''
    return x.dimshuffle((1, 0) + tuple(range(2, x.ndim)))


def _check_sequence_inputs(layer):
    '''ConfigurationError unless every input of ``layer`` is 3-D (batch, time, features).'''
    for name, shape in layer._input_shapes.items():
        if len(shape) != 2:
            raise util.ConfigurationError(
                '{}: input {!r} has {}-D data (batch + {}), but a recurrent layer needs '
                '3-D sequences (batch, time, features); use a model from '
                'theanets.recurrent'.format(layer._context(), name, len(shape) + 1,
                                             _shape_text(shape)))


def _recurrent_forms():
    '''The registered keys of the concrete recurrent layers, sorted.'''
    return sorted(key for key, cls in Layer._registry.items()
                  if cls is not Recurrent and issubclass(cls, (Recurrent, Bidirectional)))


def _block_mask(size, modules):
    '''A (size, size) 0/1 mask, 1 where the row's module >= the column's module.'''
    block = np.arange(size) // (size // modules)
    return (block[:, None] >= block[None, :]).astype(_float())


class Recurrent(Layer):
    '''Base class of recurrent layers.

    Parameters
    ----------
    h_0 : str or Layer, optional
        The graph output (``'h0'`` means ``'h0:out'``) giving the initial
        hidden state, shape ``(batch, size)``; zeros by default.
    direction : str, optional
        Containing ``'back'``: run backwards in time (outputs stay reversed).
    bptt_limit : int, optional
        Truncate back-propagation through time to this many steps (-1: none).
    **kwargs
        As for :class:`~theanets.layers.Layer`, plus ``radius``.

    Notes
    -----
    A subclass writes ``setup()`` (with :meth:`add_weights`, :meth:`add_bias`)
    and ``transform(inputs)``, which usually reads ``x = self._sequence(inputs)``
    (time-major), runs ``self._scan(step, sequences, states, constants)`` and
    returns ``self._outputs(names, values)``. ``STATES`` lists the keyword
    arguments naming initial states; :meth:`_initial` gives their values.
    The base class itself is abstract: the ``recurrent`` form is refused.

    Examples
    --------
    An initial hidden state from a second input of the model:

    >>> import theanets
    >>> net = theanets.recurrent.Regressor([
    ...     dict(form='input', name='h0', ndim=2, size=4),
    ...     dict(form='input', name='in', size=3),
    ...     dict(form='rnn', size=4, h_0='h0', name='rnn'), 2])
    >>> isinstance(net.layers[2], Recurrent), net.layers[2].to_spec()['h_0']
    (True, 'h0')
    >>> [v.name for v in net.variables]
    ['h0', 'in', 'target']
    '''

    #: Constructor arguments that name graph outputs holding initial states.
    STATES = ('h_0',)

    def __init__(self, h_0=None, **kwargs):
        self.h_0 = h_0
        super().__init__(**kwargs)
        if type(self) is Recurrent:
            raise util.ConfigurationError(
                '{}: Recurrent is the base class of the recurrent layers; use one of {}'.format(
                    self._context(), ', '.join(_recurrent_forms())))
        direction = kwargs.get('direction', 'forward')
        if not isinstance(direction, str):
            raise util.ConfigurationError(
                '{}: direction must be a string ("forward" or "backward"), not {!r}'.format(
                    self._context(), direction))
        limit = kwargs.get('bptt_limit', -1)
        if not _is_count(limit) or limit == 0 or limit < -1:
            raise util.ConfigurationError(
                '{}: bptt_limit must be a positive whole number of time steps, or -1 for '
                'no limit, not {!r}'.format(self._context(), limit))
        self._states = {}

    # ----- shapes ---------------------------------------------------------

    def resolve_inputs(self, layers):
        '''Resolve the inputs, then the outputs named by ``h_0`` (and ``c_0``, ...).'''
        super().resolve_inputs(layers)
        self._states = {}
        for key in self.STATES:
            ref = getattr(self, key)
            if ref is None:
                continue
            if isinstance(ref, Layer):
                ref = ref.output_name
            if not isinstance(ref, str):
                raise util.ConfigurationError(
                    '{}: {} must be an output name or a Layer, not {!r}'.format(
                        self._context(), key, ref))
            prefix, _, suffix = ref.partition(':')
            name = '{}:{}'.format(prefix, suffix or 'out')
            known = {l.full_name(k): shape for l in layers if l is not self
                     for k, shape in l._output_shapes.items()}
            if name not in known:
                raise util.ConfigurationError(
                    '{}: {}={!r} names no output of an earlier layer; known outputs are '
                    '{}'.format(self._context(), key, ref, sorted(known)))
            self._states[key] = name, known[name]

    def resolve_outputs(self):
        '''As for Layer; inputs must be sequences and initial states ``(batch, size)``.'''
        _check_sequence_inputs(self)
        super().resolve_outputs()
        for key, (name, shape) in self._states.items():
            if tuple(shape) != (self.output_size,):
                raise util.ConfigurationError(
                    '{}: {}={!r} has shape {} per example, but the initial state must be '
                    '({},): 2-D data (batch, {})'.format(
                        self._context(), key, name, _shape_text(shape), self.output_size,
                        self.output_size))

    # ----- parameters ----------------------------------------------------

    def add_weights(self, name, nin, nout, mean=0, std=0, sparsity=0, radius=0, diagonal=0):
        '''Create a weight matrix ``'<layer>.<name>'`` of shape (nin, nout).

        If ``nin`` is the layer's size and ``nout`` a multiple of it, the
        matrix is ``nout / nin`` independently drawn square blocks side by side,
        each honouring ``radius`` and ``diagonal``; otherwise one random matrix
        (``radius`` and ``diagonal`` ignored). The default ``std`` is
        ``1 / sqrt(nin + nout)``; keyword arguments of the layer (``std``,
        ``std_<name>``, ...) override the defaults.
        '''
        mean = self._option('mean', name, mean)
        std = self._option('std', name, std or 1 / np.sqrt(nin + nout))
        sparsity = self._option('sparsity', name, sparsity)
        if nin == self.output_size and nout % nin == 0:
            radius = self._option('radius', name, radius)
            diagonal = self._option('diagonal', name, diagonal)
            value = np.concatenate([
                util.random_matrix(nin, nin, mean=mean, std=std, sparsity=sparsity,
                                   radius=radius, diagonal=diagonal, rng=self.rng)
                for _ in range(nout // nin)], axis=1)
        else:
            value = util.random_matrix(nin, nout, mean=mean, std=std, sparsity=sparsity,
                                       rng=self.rng)
        return self._add_param(name, value)

    def _create_rates(self, dist='uniform', size=None, eps=1e-4):
        '''Fixed (non-learned) rates ``'<layer>.rate'``, or None for learned ones.

        ``'uniform'``: U(eps, 1 - eps); ``'log'``: exp(U(-6, -eps)). Drawn
        from numpy's **global** random state, as the original did -- unless
        the layer was given ``rates=[...]`` (as its ``to_spec`` does, so that
        a rebuilt or reloaded layer keeps its rates).
        '''
        size = size or self.output_size
        given = self.kwargs.get('rates')
        if dist in ('uniform', 'log') and given is not None:
            try:
                rates = np.asarray(given, dtype=_float())
            except (TypeError, ValueError):
                rates = np.zeros(0)
            if rates.shape != (size,) or not ((rates > 0) & (rates <= 1)).all():
                raise util.ConfigurationError(
                    '{}: rates must be {} numbers in (0, 1], not {!r}'.format(
                        self._context(), size, given))
        elif dist == 'uniform':
            rates = np.random.uniform(eps, 1 - eps, size=size).astype(_float())
        elif dist == 'log':
            rates = np.exp(np.random.uniform(-6, -eps, size=size).astype(_float()))
        else:
            return None
        return pytensor.shared(rates.astype(_float()), name=self._param_name('rate'))

    def _rates_spec(self, spec):
        '''Add ``rate`` (and the values of fixed rates) to a spec.'''
        spec['rate'] = self.rate
        if getattr(self, '_rates', None) is not None:
            spec['rates'] = [float(r) for r in self._rates.get_value()]
        return spec

    def _check_rate(self, rate, choices):
        if not isinstance(rate, str) or rate not in choices:
            raise util.unknown_name('rate', rate, choices, context='{}: '.format(self._context()))
        return rate

    # ----- graph ----------------------------------------------------------

    @property
    def _backwards(self):
        return 'back' in self.kwargs.get('direction', 'forward').lower()

    def _sequence(self, inputs):
        '''The single input, time-major: (time, batch, features).'''
        return _batch_major(inputs[self.input_name])

    def _initial(self, inputs, key, batch, size=None):
        '''The initial state named by ``key`` (``'h_0'``), or zeros (batch, size).'''
        if key in self._states:
            return TT.cast(inputs[self._states[key][0]], _float())
        return TT.zeros((batch, size or self.output_size), dtype=_float())

    def _scan(self, step, sequences=(), states=(), constants=()):
        '''Run ``step`` over the time axis of the time-major ``sequences``.

        ``states`` holds one entry per output of ``step``: the initial value
        of an output that is fed back, or None for one that is not.
        ``constants`` are passed last. Returns ``(outputs, updates)`` with
        time-major outputs in scan order (reversed for backward layers).
        '''
        states = list(states)

        def typed_step(*args):
            # an output fed back must have its initial state's type (e.g. the
            # static shape (?, 1) of a 1-unit layer's zeros)
            return [out if init is None else init.type.filter_variable(out)
                    for out, init in zip(step(*args), states)]

        return scan(typed_step, sequences=list(sequences), outputs_info=states,
                    non_sequences=list(constants), go_backwards=self._backwards,
                    truncate_gradient=self.kwargs.get('bptt_limit', -1),
                    name='{}_scan'.format(self.name))

    @staticmethod
    def _outputs(names, values):
        '''A dict of named outputs from time-major scan ``values``, made batch-major.'''
        return {name: _batch_major(value) for name, value in zip(names, values)}

    def to_spec(self):
        spec = super().to_spec()
        for key in self.STATES:
            value = getattr(self, key)
            spec[key] = value.output_name if isinstance(value, Layer) else value
        return spec


class RNN(Recurrent):
    '''A vanilla recurrent layer: ``h_t = g(x_t . xh + b + h_{t-1} . hh)``.

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
    '''

    def setup(self):
        self.add_weights('xh', self.input_size, self.output_size)
        self.add_weights('hh', self.output_size, self.output_size)
        self.add_bias('b', self.output_size)

    def transform(self, inputs):
        def step(x_t, h_tm1, hh):
            pre = x_t + TT.dot(h_tm1, hh)
            return [pre, self.activate(pre)]

        x = self._sequence(inputs)
        values, updates = self._scan(
            step, [TT.dot(x, self.find('xh')) + self.find('b')],
            [None, self._initial(inputs, 'h_0', x.shape[1])], [self.find('hh')])
        return self._outputs(['pre', 'out'], values), updates


class BCRNN(RNN):
    '''A block-cascading RNN: modules of units with fixed, graded leak rates.

    The ``size`` units form ``num_modules`` equal modules; module ``i``
    receives recurrent input from modules ``j <= i`` only, and keeps a fixed
    fraction ``r_i`` of its previous pre-activation (``r = 1 - logspace(-1e-4,
    -6, num_modules)``): ``pre_t = r pre_{t-1} + (1 - r) (x_t . xh + b +
    h_{t-1} . (hh * mask))``, ``out = g(pre)``. Parameters as for :class:`RNN`.

    Examples
    --------
    >>> import theanets
    >>> net = theanets.recurrent.Regressor([3, dict(form='bcrnn', size=4, num_modules=2), 2])
    >>> net.layers[1].to_spec()['num_modules']
    2
    '''

    def __init__(self, num_modules, **kwargs):
        super().__init__(**kwargs)
        if not _is_count(num_modules) or num_modules < 1:
            raise util.ConfigurationError(
                '{}: num_modules must be a positive whole number, not {!r}'.format(
                    self._context(), num_modules))
        self.num_modules = int(num_modules)

    def resolve_outputs(self):
        super().resolve_outputs()
        if self.output_size % self.num_modules:
            raise util.ConfigurationError('{}: size {} is not a multiple of num_modules {}'.format(
                self._context(), self.output_size, self.num_modules))

    def transform(self, inputs):
        n, modules = self.output_size, self.num_modules
        rates = np.repeat(1 - np.logspace(-1e-4, -6, modules), n // modules).astype(_float())
        mask = _block_mask(n, modules)

        def step(x_t, p_tm1, h_tm1, hh):
            pre = rates * p_tm1 + (1 - rates) * (x_t + TT.dot(h_tm1, hh * mask))
            return [pre, self.activate(pre)]

        x = self._sequence(inputs)
        values, updates = self._scan(
            step, [TT.dot(x, self.find('xh')) + self.find('b')],
            [self._initial(inputs, None, x.shape[1]), self._initial(inputs, 'h_0', x.shape[1])],
            [self.find('hh')])
        return self._outputs(['pre', 'out'], values), updates

    def to_spec(self):
        spec = super().to_spec()
        spec['num_modules'] = self.num_modules
        return spec


class RRNN(RNN):
    '''An RNN whose units leak: ``h_t = (1 - r) h_{t-1} + r g(pre_t)``.

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
    '''

    RATES = ('matrix', 'vector', 'uniform', 'log')

    def __init__(self, rate='matrix', **kwargs):
        super().__init__(**kwargs)
        self.rate = self._check_rate(rate, self.RATES)

    def setup(self):
        super().setup()
        self._rates = self._create_rates(self.rate)
        if self.rate in ('vector', 'matrix'):
            self.add_bias('r', self.output_size)
        if self.rate == 'matrix':
            self.add_weights('xr', self.input_size, self.output_size)

    def transform(self, inputs):
        def step(x_t, r_t, h_tm1, hh):
            pre = x_t + TT.dot(h_tm1, hh)
            hid = self.activate(pre)
            return [pre, hid, (1 - r_t) * h_tm1 + r_t * hid]

        x = self._sequence(inputs)
        xh = TT.dot(x, self.find('xh')) + self.find('b')
        states = [None, None, self._initial(inputs, 'h_0', x.shape[1])]
        if self.rate == 'matrix':  # a rate per step: a sequence
            rate = sigmoid(TT.dot(x, self.find('xr')) + self.find('r'))
            values, updates = self._scan(step, [xh, rate], states, [self.find('hh')])
        else:  # a rate per unit: the same at every step
            rate = sigmoid(self.find('r')) if self.rate == 'vector' else self._rates
            values, updates = self._scan(lambda x_t, h_tm1, hh, r: step(x_t, r, h_tm1, hh),
                                         [xh], states, [self.find('hh'), rate])
        outputs = self._outputs(['pre', 'hid', 'out'], values)
        outputs['rate'] = rate
        return outputs, updates

    def to_spec(self):
        return self._rates_spec(super().to_spec())


class MRNN(Recurrent):
    '''A multiplicative RNN: the input gates the recurrent weights through factors.

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
    '''

    def __init__(self, factors=None, **kwargs):
        super().__init__(**kwargs)
        if factors is None:
            size = kwargs.get('size')
            if size is None and kwargs.get('shape') is not None:
                size = tuple(kwargs['shape'])[-1]
            if not _is_count(size) or size < 1:
                raise util.ConfigurationError(
                    '{}: give size=... (or factors=...): the number of factors defaults to '
                    'ceil(sqrt(size))'.format(self._context()))
            factors = int(np.ceil(np.sqrt(size)))
        if not _is_count(factors) or factors < 1:
            raise util.ConfigurationError('{}: factors must be a positive whole number, '
                                          'not {!r}'.format(self._context(), factors))
        self.factors = int(factors)

    def setup(self):
        self.add_weights('xh', self.input_size, self.output_size)
        self.add_weights('xf', self.input_size, self.factors)
        self.add_weights('hf', self.output_size, self.factors)
        self.add_weights('fh', self.factors, self.output_size)
        self.add_bias('b', self.output_size)

    def transform(self, inputs):
        def step(x_t, f_t, h_tm1, hf, fh):
            pre = x_t + TT.dot(f_t * TT.dot(h_tm1, hf), fh)
            return [pre, self.activate(pre)]

        x = self._sequence(inputs)
        factors = TT.dot(x, self.find('xf'))
        values, updates = self._scan(
            step, [TT.dot(x, self.find('xh')) + self.find('b'), factors],
            [None, self._initial(inputs, 'h_0', x.shape[1])], [self.find('hf'), self.find('fh')])
        outputs = self._outputs(['pre', 'out'], values)
        outputs['factors'] = factors
        return outputs, updates

    def to_spec(self):
        spec = super().to_spec()
        spec['factors'] = self.factors
        return spec


class LSTM(Recurrent):
    '''A long short-term memory layer with peephole connections.

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
    '''

    STATES = ('h_0', 'c_0')

    def __init__(self, c_0=None, **kwargs):
        self.c_0 = c_0
        super().__init__(**kwargs)

    def setup(self):
        self.add_weights('xh', self.input_size, 4 * self.output_size)
        self.add_weights('hh', self.output_size, 4 * self.output_size)
        self.add_bias('b', 4 * self.output_size, mean=2)
        self.add_bias('ci', self.output_size)
        self.add_bias('cf', self.output_size)
        self.add_bias('co', self.output_size)

    def transform(self, inputs):
        n = self.output_size

        def step(x_t, h_tm1, c_tm1, hh, ci, cf, co):
            z = x_t + TT.dot(h_tm1, hh)
            i = sigmoid(z[:, :n] + c_tm1 * ci)
            f = sigmoid(z[:, n:2 * n] + c_tm1 * cf)
            c = f * c_tm1 + i * TT.tanh(z[:, 2 * n:3 * n])
            o = sigmoid(z[:, 3 * n:] + c * co)
            return [o * TT.tanh(c), c]

        x = self._sequence(inputs)
        batch = x.shape[1]
        values, updates = self._scan(
            step, [TT.dot(x, self.find('xh')) + self.find('b')],
            [self._initial(inputs, 'h_0', batch), self._initial(inputs, 'c_0', batch)],
            [self.find('hh'), self.find('ci'), self.find('cf'), self.find('co')])
        return self._outputs(['out', 'cell'], values), updates


class GRU(Recurrent):
    '''A gated recurrent unit layer.

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
    '''

    def setup(self):
        n = self.output_size
        self.add_weights('hh', n, n)
        self.add_weights('hr', n, n)
        self.add_weights('hz', n, n)
        self.add_weights('w', self.input_size, 3 * n)
        self.add_bias('b', 3 * n)

    def transform(self, inputs):
        n = self.output_size

        def step(xh_t, xr_t, xz_t, h_tm1, hh, hr, hz):
            r = sigmoid(xr_t + TT.dot(h_tm1, hr))
            z = sigmoid(xz_t + TT.dot(h_tm1, hz))
            pre = xh_t + TT.dot(r * h_tm1, hh)
            hid = self.activate(pre)
            return [pre, hid, z, (1 - z) * h_tm1 + z * hid]

        x = self._sequence(inputs)
        xw = TT.dot(x, self.find('w')) + self.find('b')
        values, updates = self._scan(
            step, [xw[:, :, :n], xw[:, :, n:2 * n], xw[:, :, 2 * n:]],
            [None, None, None, self._initial(inputs, 'h_0', x.shape[1])],
            [self.find('hh'), self.find('hr'), self.find('hz')])
        return self._outputs(['pre', 'hid', 'rate', 'out'], values), updates


class Clockwork(RNN):
    '''A clockwork RNN: modules of units that update at different periods.

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
    '''

    def __init__(self, periods, **kwargs):
        super().__init__(**kwargs)
        if isinstance(periods, np.ndarray):
            periods = periods.tolist()
        if not isinstance(periods, (tuple, list)) or not periods or \
                not all(_is_count(p) and p > 0 for p in periods):
            raise util.ConfigurationError(
                '{}: periods must be a non-empty sequence of positive whole numbers, '
                'not {!r}'.format(self._context(), periods))
        self.periods = tuple(sorted(int(p) for p in periods))

    def resolve_outputs(self):
        super().resolve_outputs()
        if self.output_size % len(self.periods):
            raise util.ConfigurationError(
                '{}: size {} is not a multiple of the number of periods {} (periods {})'.format(
                    self._context(), self.output_size, len(self.periods), self.periods))

    def transform(self, inputs):
        n, modules = self.output_size, len(self.periods)
        periods = np.repeat(self.periods, n // modules).astype('int64')
        mask = _block_mask(n, modules)

        def step(t, x_t, p_tm1, h_tm1, hh):
            pre = x_t + TT.dot(h_tm1, hh * mask)
            pre = TT.switch(TT.eq(TT.mod(t, periods), 0), pre, p_tm1)
            return [pre, self.activate(pre)]

        x = self._sequence(inputs)
        values, updates = self._scan(
            step, [TT.arange(x.shape[0]), TT.dot(x, self.find('xh')) + self.find('b')],
            [self._initial(inputs, None, x.shape[1]), self._initial(inputs, 'h_0', x.shape[1])],
            [self.find('hh')])
        return self._outputs(['pre', 'out'], values), updates

    def to_spec(self):
        spec = super().to_spec()
        spec['periods'] = self.periods
        return spec


class MUT1(Recurrent):
    '''The first "mutated" gated unit (MUT1) of Jozefowicz et al. (2015).

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
    '''

    def setup(self):
        d, n = self.input_size, self.output_size
        for name in ('xh', 'xr', 'xz'):
            self.add_weights(name, d, n)
        self.add_weights('hh', n, n)
        self.add_weights('hr', n, n)
        for name in ('bh', 'br', 'bz'):
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
            step, [TT.dot(x, self.find('x' + k)) + self.find('b' + k) for k in 'hrz'],
            [None, None, None, self._initial(inputs, 'h_0', x.shape[1])],
            [self.find('hh'), self.find('hr')])
        return self._outputs(['pre', 'hid', 'rate', 'out'], values), updates


class SCRN(Recurrent):
    '''A structurally constrained recurrent network (Mikolov et al., 2014).

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
        Kept in the spec for compatibility; the context state is ``size``
        wide, as in the original.

    Examples
    --------
    >>> import theanets
    >>> net = theanets.recurrent.Regressor([3, (4, 'scrn'), 2])
    >>> [p.name for p in net.layers[1].params]
    ['hid1.w', 'hid1.sh', 'hid1.hh', 'hid1.ho', 'hid1.so', 'hid1.b', 'hid1.r']
    '''

    STATES = ('h_0', 's_0')
    RATES = ('vector', 'uniform', 'log')

    def __init__(self, rate='vector', s_0=None, context_size=None, **kwargs):
        self.s_0 = s_0
        super().__init__(**kwargs)
        self.rate = self._check_rate(rate, self.RATES)
        if context_size is not None and (isinstance(context_size, bool) or not isinstance(
                context_size, (int, float, np.integer, np.floating)) or context_size <= 0):
            raise util.ConfigurationError(
                '{}: context_size must be a positive number, not {!r}'.format(
                    self._context(), context_size))
        self.context_size = context_size

    def setup(self):
        n = self.output_size
        self.add_weights('w', self.input_size, 2 * n)
        for name in ('sh', 'hh', 'ho', 'so'):
            self.add_weights(name, n, n)
        self.add_bias('b', n)
        self._rates = self._create_rates(self.rate)
        if self.rate == 'vector':
            self.add_bias('r', n)

    def transform(self, inputs):
        n = self.output_size

        def step(xh_t, xs_t, s_tm1, h_tm1, rate, hh, sh):
            s = (1 - rate) * s_tm1 + rate * xs_t
            return [s, self.activate(xh_t + TT.dot(h_tm1, hh) + TT.dot(s, sh))]

        x = self._sequence(inputs)
        xw = TT.dot(x, self.find('w'))
        rate = sigmoid(self.find('r')) if self.rate == 'vector' else self._rates
        batch = x.shape[1]
        values, updates = self._scan(
            step, [xw[:, :, :n], xw[:, :, n:]],
            [self._initial(inputs, 's_0', batch), self._initial(inputs, 'h_0', batch)],
            [rate, self.find('hh'), self.find('sh')])
        outputs = self._outputs(['state', 'hid'], values)
        outputs['out'] = (TT.dot(outputs['hid'], self.find('ho')) +
                          TT.dot(outputs['state'], self.find('so')) + self.find('b'))
        outputs['rate'] = rate
        return outputs, updates

    def to_spec(self):
        spec = super().to_spec()
        spec.update(context_size=self.context_size)
        return self._rates_spec(spec)


class Bidirectional(Layer):
    '''Two recurrent layers reading the input forwards and backwards.

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

    Examples
    --------
    >>> import theanets
    >>> net = theanets.recurrent.Regressor([3, dict(form='bidirectional', size=4), 2])
    >>> [p.name for p in net.layers[1].params]
    ['hid1_fw.xh', 'hid1_fw.hh', 'hid1_fw.b', 'hid1_bw.xh', 'hid1_bw.hh', 'hid1_bw.b']
    '''

    def __init__(self, worker='rnn', **kwargs):
        super().__init__(**kwargs)
        choices = sorted(k for k, c in Layer._registry.items()
                         if c is not Recurrent and issubclass(c, Recurrent))
        if not isinstance(worker, str) or worker.lower() not in choices:
            raise util.unknown_name('worker', worker, choices,
                                    context='{}: '.format(self._context()))
        self.worker = worker
        size = kwargs.get('size')
        if size is None and kwargs.get('shape') is not None:
            size = tuple(kwargs['shape'])[-1]
        if not _is_count(size) or size < 2 or size % 2:
            raise util.ConfigurationError(
                '{}: size must be an even whole number (each direction gets half), not '
                '{!r}'.format(self._context(), size))
        shared = {k: v for k, v in kwargs.items() if k not in ('size', 'shape', 'direction')}
        self.forward = Layer.build(worker, **dict(
            shared, size=size // 2, name='{}_fw'.format(self.name), direction='forward'))
        self.backward = Layer.build(worker, **dict(
            shared, size=size // 2, name='{}_bw'.format(self.name), direction='backward'))

    @property
    def params(self):
        '''The parameters of the forward, then the backward worker.'''
        return self.forward.params + self.backward.params

    def find(self, key):
        '''A worker parameter by index or name (``'fw.xh'``, ``'hid1_bw.b'``).'''
        params = self.params
        if isinstance(key, (int, np.integer)) and -len(params) <= key < len(params):
            return params[key]
        for param in params:
            if key in (param.name, '{}_{}'.format(self.name, key)) or \
                    param.name == self._param_name(key):
                return param
        raise util.UnknownNameError('{} has no parameter {!r}; its parameters are {}'.format(
            self._context(), key, [p.name for p in params]))

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
        for key in ('out', 'pre', 'cell'):
            if key in fw:
                outputs[key] = TT.concatenate([fw[key], bw[key]], axis=-1)
        for key in fw:
            outputs['fw_' + key] = fw[key]
            outputs['bw_' + key] = bw[key]
        return outputs, list(fw_updates) + list(bw_updates)

    def to_spec(self):
        spec = super().to_spec()
        spec['worker'] = self.worker
        return spec
