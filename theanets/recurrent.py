'''Recurrent models and helpers for sequence data.

Sequence data is 3-D: ``(examples, time steps, features)``; class labels are
2-D ``(examples, time steps)``.

The recurrent *layers* (``rnn``, ``lstm``, ``gru``, ...) that these models
hold are in :mod:`theanets.layers.recurrent`.

Stateful prediction
    ``y, state = model.predict(x, return_state=True)`` also returns the
    state every recurrent layer reached at the last time step, and
    ``model.predict(x2, state=state)`` continues from it: a sequence fed in
    chunks gives the outputs of one call on the whole sequence. The same
    keywords work for ``feed_forward``, ``predict_proba`` and
    ``predict_logit``.
Training with carried state
    ``model.train(stream_batches(...), carry_state=True)`` starts each batch
    from the state the previous batch of the same stream ended in (truncated
    back-propagation through time): see :func:`stream_batches`.
'''

import itertools

import numpy as np
import pytensor
import pytensor.tensor as TT
from pytensor.ifelse import ifelse

from . import feedforward
from . import regularizers
from . import util
from .layers.recurrent import Bidirectional, Recurrent

__all__ = ['Autoencoder', 'Regressor', 'Classifier', 'batches', 'Text', 'State',
           'StreamBatches', 'stream_batches']

_TOKENS = itertools.count(1)


class State(dict):
    '''The carried state of a recurrent model after a call: name -> array.

    Names are ``'<layer>.<state>'``: ``h`` the hidden state, ``c`` an LSTM
    cell, ``s`` an SCRN context, ``p`` a leaky pre-activation (each
    ``(batch, size)``), ``t`` a clockwork layer's time counter (``(batch,)``
    integers). It remembers the model that returned it: another model
    refuses it (pass ``dict(state)`` to move values between models on
    purpose).
    '''

    def __init__(self, values, owner=None):
        super().__init__(values)
        self.owner = owner

    def __repr__(self):
        return 'State({})'.format(', '.join(
            '{}: {}'.format(k, np.shape(v)) for k, v in sorted(self.items())))


def _stateful_layers(model):
    '''The model's recurrent layers; ConfigurationError for one that cannot carry state.'''
    result = []
    for layer in model.layers:
        if isinstance(layer, Bidirectional):
            raise util.ConfigurationError(
                '{}: a bidirectional layer cannot carry its state from one call to the next: '
                'its backward half reads each sequence from its end, so it needs the whole '
                'sequence in one call (predict without state= / return_state=, and train '
                'without carry_state)'.format(layer._context()))
        if isinstance(layer, Recurrent):
            layer.check_stateful()
            result.append(layer)
    return result


def _graph_key(model, regs):
    '''A key for a graph of ``model`` built with regularizers ``regs``.'''
    parts = [(type(l).__name__, l.name, l.output_shape, id(l)) for l in model.layers]
    parts += [(type(l).__name__, l.weight, l.output_name, id(l)) for l in model.losses]
    parts += [(type(r).__name__, r.weight, r.pattern) for r in regs]
    return repr(parts)


def _connect_all(model, regs, initial_for):
    '''Connect the layers like ``build_graph``, recurrent ones from given states.

    ``initial_for(layer)`` gives the ``initial`` dict of
    :meth:`~theanets.layers.recurrent.Recurrent.connect_stateful`. Returns
    ``(outputs, updates, finals)``, finals keyed by state name.
    '''
    outputs, updates, finals = {}, [], {}
    for layer in model.layers:
        if isinstance(layer, Recurrent):
            out, upd, fin = layer.connect_stateful(outputs, initial_for(layer))
            finals.update((layer.state_name(k), v) for k, v in fin.items())
        else:
            out, upd = layer.connect(outputs)
        for reg in regs:
            reg.modify_graph(out)
        outputs.update(out)
        updates.extend(upd)
    for reg in regs:
        updates.extend(reg.updates())
    return outputs, updates, finals


class _Sequences:
    '''What every recurrent model adds: stateful prediction, carried-state training.'''

    #: Training options of recurrent models (besides those of every model).
    TRAIN_OPTIONS = dict(
        getattr(feedforward.Regressor, 'TRAIN_OPTIONS', {}),
        carry_state=(False, 'start each batch from the state the previous batch of its '
                            'stream ended in (True/"epoch": reset each pass, "never", or '
                            'reset every N batches); data from stream_batches()'))

    # ----- stateful prediction ------------------------------------------

    def _state_cache(self):
        cache = self.__dict__.get('_stateful_cache')
        if cache is None:
            cache = self.__dict__['_stateful_cache'] = {}
            self.__dict__['_state_token'] = next(_TOKENS)
        return cache

    def _state_specs(self):
        '''``[(layer, key, name, shape per example, dtype)]`` of every carried state.'''
        return [(layer,) + spec for layer in _stateful_layers(self)
                for spec in layer.carried_states()]

    def _stateful_function(self, given, regs):
        '''(compiled function, output labels, state names), cached per configuration.'''
        cache = self._state_cache()
        key = ('given' if given else 'initial', _graph_key(self, regs))
        if key not in cache:
            specs = self._state_specs()
            variables = {}
            for _, _, name, shape, dtype in specs:
                variables[name] = TT.tensor(dtype=dtype, shape=(None,) * (1 + len(shape)),
                                            name=name)

            def initial_for(layer):
                if not given:
                    return {}
                return {k: (lambda usual, v=variables[n]: v)
                        for k, n, _, _ in layer.carried_states()}

            outputs, updates, finals = _connect_all(self, regs, initial_for)
            labels = sorted(outputs)
            names = [name for _, _, name, _, _ in specs]
            inputs = list(self.inputs) + ([variables[n] for n in names] if given else [])
            fn = pytensor.function(inputs, [outputs[l] for l in labels] +
                                   [finals[n] for n in names],
                                   updates=list(updates), on_unused_input='ignore')
            cache[key] = fn, labels, names
        return cache[key]

    def _check_state(self, caller, state, batch):
        '''The arrays of ``state`` in state-name order, checked against the model.'''
        specs = self._state_specs()
        self._state_cache()
        if not hasattr(state, 'keys'):
            raise util.DataError(
                '{}: state must be what an earlier call with return_state=True returned '
                '(a mapping of state names to arrays), not {}'.format(
                    caller, type(state).__name__))
        owner = getattr(state, 'owner', None)
        if owner is not None and owner != self.__dict__['_state_token']:
            raise util.DataError(
                '{}: this state was returned by another model; a state continues the model '
                'that returned it (pass dict(state) to use its values anyway)'.format(caller))
        names = [name for _, _, name, _, _ in specs]
        missing = [n for n in names if n not in state]
        unknown = sorted(set(state) - set(names))
        if missing or unknown:
            raise util.DataError(
                '{}: the state does not fit this model: it needs the states {}{}{}'.format(
                    caller, names,
                    '; missing {}'.format(missing) if missing else '',
                    '; {} are not states of its layers'.format(unknown) if unknown else ''))
        result = []
        for layer, key, name, shape, dtype in specs:
            value = state[name]
            want = (batch,) + tuple(shape)
            if np.shape(value) != want:
                raise util.DataError(
                    '{}: state {!r} of {} has shape {}, but a batch of {} needs {}'.format(
                        caller, name, layer._context(), np.shape(value), batch, want))
            value = np.asarray(value)
            if dtype.startswith('int'):
                if value.dtype.kind not in 'iu':
                    raise util.DataError('{}: state {!r} of {} must hold integers, not {}'.format(
                        caller, name, layer._context(), value.dtype))
                value = value.astype(dtype)
            else:
                if value.dtype.kind not in 'fiu':
                    raise util.DataError('{}: state {!r} of {} must hold numbers, not {}'.format(
                        caller, name, layer._context(), value.dtype))
                value = value.astype(dtype, copy=False)
            result.append(value)
        return result

    def feed_forward(self, x, state=None, return_state=False, **kwargs):
        '''Compute every output of the network for input ``x``.

        Parameters
        ----------
        x : ndarray (batch, time, features)
            Input sequences.
        state : State, optional
            What an earlier call with ``return_state=True`` returned: the
            recurrent layers start from it instead of their usual initial
            state. None (default): the usual initial state (zeros, or the
            ``h_0``/``c_0``/``s_0`` inputs).
        return_state : bool
            Also return the :class:`State` reached at the last time step.
        **kwargs
            Regularizers applied while computing, as for every model.

        Returns
        -------
        outputs : dict
            Output name (``'hid1:out'``) -> array.
        state : State
            Only with ``return_state=True``.

        Raises
        ------
        ConfigurationError
            With ``state`` or ``return_state`` for a model with a
            bidirectional or backward-running layer.
        DataError
            For a state from another model, or one that does not fit (names,
            batch size, layer width).

        Examples
        --------
        >>> import numpy as np, theanets
        >>> net = theanets.recurrent.Regressor([2, (3, 'gru'), 1])
        >>> x = np.random.RandomState(0).randn(1, 6, 2).astype('float32')
        >>> first, state = net.feed_forward(x[:, :4], return_state=True)
        >>> sorted(state)
        ['hid1.h']
        >>> rest = net.feed_forward(x[:, 4:], state=state)
        >>> whole = net.feed_forward(x)
        >>> np.allclose(whole['out:out'][:, 4:], rest['out:out'], atol=1e-6)
        True
        '''
        if state is None and not return_state:
            return super().feed_forward(x, **kwargs)
        caller = '{}.feed_forward'.format(type(self).__name__)
        x = self._check_input(caller, x)
        regs = regularizers.from_kwargs(self, **kwargs)
        fn, labels, names = self._stateful_function(state is not None, regs)
        values = [] if state is None else self._check_state(caller, state, x.shape[0])
        results = fn(x, *values)
        outputs = dict(zip(labels, results[:len(labels)]))
        if not return_state:
            return outputs
        return outputs, State(zip(names, results[len(labels):]),
                              owner=self.__dict__['_state_token'])

    def _pick(self, name, x, state, return_state, kwargs, post=None):
        '''Output ``name`` of :meth:`feed_forward` (transformed by ``post``), with state.'''
        result = self.feed_forward(x, state=state, return_state=return_state, **kwargs)
        outputs, final = result if return_state else (result, None)
        value = outputs[name] if post is None else post(outputs[name])
        return (value, final) if return_state else value

    # ----- carried state in training --------------------------------------

    def build_graph(self, regularizers=()):
        '''As for every model; while carried-state training builds its step,
        the recurrent layers start from the carried state (see ``carry_state``).'''
        carrier = self.__dict__.get('_carrier')
        if carrier is None or not carrier.building:
            return super().build_graph(regularizers)
        return carrier.graph(regularizers)

    def itertrain(self, train, valid=None, *args, carry_state=False, **kwargs):
        '''Train, yielding monitors after each iteration: as for every model, plus:

        Parameters
        ----------
        carry_state : bool, str or int
            False (default): every mini-batch starts from the layers' usual
            initial state. True or ``'epoch'``: each mini-batch starts from
            the state the previous mini-batch of the same stream ended in,
            with gradients cut at the batch boundary (truncated
            back-propagation through time); the state is reset at the start
            of each pass over the data (for :class:`StreamBatches`; for
            another callable, every ``len(callable)`` batches, else every
            ``iteration_size`` or 100). ``'never'``: never reset. An int
            ``n``: reset every ``n`` batches. Training and validation data
            carry separate states. The data must come in stream order: a
            :class:`StreamBatches` (see :func:`stream_batches`) or a
            callable returning consecutive batches; arrays are refused.

        See :meth:`theanets.graph.Network.itertrain` for the other arguments.
        '''
        if carry_state is False or carry_state is None:
            yield from super().itertrain(train, valid, *args, **kwargs)
            return
        algo = args[0] if args else kwargs.get('algo', 'rmsprop')
        if not isinstance(algo, str) or algo.lower() in ('sample', 'layerwise', 'pretrain') \
                or algo.lower().startswith(('layer', 'sup', 'pre', 'unsup')):
            raise util.ConfigurationError(
                'carry_state works with the optimizers ({}), not algo={!r}'.format(
                    ', '.join(sorted(k for k in _optimizers())), algo))
        period = _reset_period(carry_state)
        _stateful_layers(self)
        carrier = _Carrier(self)
        train = carrier.feed(train, 'train', period, kwargs)
        if valid is None:
            valid = train.source.copy() if isinstance(train.source, StreamBatches) \
                else train.source
        valid = carrier.feed(valid, 'valid', period, kwargs)
        generator = super().itertrain(train, valid, *args, **kwargs)
        self.__dict__['_carrier'] = carrier
        try:
            carrier.building = True
            try:
                first = next(generator)
            except StopIteration:
                return
            finally:
                carrier.building = False
            yield first
            yield from generator
        finally:
            generator.close()
            self.__dict__.pop('_carrier', None)

    def __setstate__(self, state):
        super().__setstate__(state)
        self.__dict__.pop('_stateful_cache', None)
        self.__dict__.pop('_carrier', None)


def _optimizers():
    from .downhill import Optimizer
    return [k for k in Optimizer._registry if k != 'optimizer']


def _reset_period(value):
    '''The carry_state option as a reset period: 'pass', None (never) or an int.'''
    if value is True or (isinstance(value, str) and value.lower() == 'epoch'):
        return 'pass'
    if isinstance(value, str) and value.lower() == 'never':
        return None
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value > 0:
        return int(value)
    raise util.ConfigurationError(
        'carry_state must be False, True, "epoch", "never" or a positive number of batches, '
        'not {!r}'.format(value))


class _Carrier:
    '''The shared variables holding carried states while a model trains.

    Each stream of data (training, validation) keeps its own state; the
    shared variables hold the active stream's. An empty (0-row) state means
    "start from the usual initial state".
    '''

    def __init__(self, model):
        self.model = model
        self.building = False
        self.shared = {}
        self.saved = {}
        self.active = None
        self.graphs = {}
        for layer in _stateful_layers(model):
            for key, name, shape, dtype in layer.carried_states():
                self.shared[name] = pytensor.shared(
                    np.zeros((0,) + tuple(shape), dtype), name='carried:' + name)

    def _empty(self):
        return {n: np.zeros((0,) + v.get_value(borrow=True).shape[1:], v.dtype)
                for n, v in self.shared.items()}

    def reset(self):
        for name, value in self._empty().items():
            self.shared[name].set_value(value)

    def activate(self, label):
        if label == self.active:
            return
        if self.active is not None:
            self.saved[self.active] = {n: v.get_value() for n, v in self.shared.items()}
        for name, value in self.saved.get(label, self._empty()).items():
            self.shared[name].set_value(value)
        self.active = label

    def graph(self, regs):
        key = _graph_key(self.model, regs)
        if key not in self.graphs:
            def initial_for(layer):
                result = {}
                for k, name, _, _ in layer.carried_states():
                    carried = self.shared[name]

                    def start(usual, carried=carried):
                        # the usual initial state until a state of this batch size is carried
                        fits = TT.eq(carried.shape[0], usual.shape[0])
                        return ifelse(fits, carried, carried.type.filter_variable(usual))
                    result[k] = start
                return result

            outputs, updates, finals = _connect_all(self.model, regs, initial_for)
            updates = list(updates) + [
                (var, var.type.filter_variable(finals[name])) for name, var in self.shared.items()]
            self.graphs[key] = outputs, updates
        return self.graphs[key]

    def feed(self, source, label, period, kwargs):
        if not callable(source) or isinstance(source, (list, tuple, np.ndarray)) or \
                hasattr(source, 'iterate'):
            raise util.DataError(
                'carry_state: the {} data must come in stream order, batch i of every stream '
                'continuing batch i-1: pass theanets.recurrent.stream_batches(...) (or a '
                'callable returning consecutive batches), not {}'.format(
                    label, type(source).__name__))
        return _Feed(self, source, label, period, kwargs)


class _Feed:
    '''A callable data source that switches and resets the carried state.'''

    def __init__(self, carrier, source, label, period, kwargs):
        self.carrier, self.source, self.label = carrier, source, label
        try:
            self.length = len(source)
        except TypeError:
            self.length = kwargs.get('iteration_size', kwargs.get(
                '{}_batches'.format(label))) or 100
        self.by_pass = period == 'pass' and isinstance(source, StreamBatches)
        self.period = self.length if period == 'pass' else period
        self.calls = 0

    def __len__(self):
        return self.length

    def __call__(self):
        self.carrier.activate(self.label)
        if self.by_pass:
            start = self.source.position == 0
        else:
            start = self.period is not None and self.calls % self.period == 0
        if start:
            self.carrier.reset()
        self.calls += 1
        return self.source()


class Autoencoder(_Sequences, feedforward.Autoencoder):
    '''An autoencoder for sequences: 3-D inputs and outputs.'''

    INPUT_NDIM = 3
    OUTPUT_NDIM = 3

    def predict(self, x, state=None, return_state=False, **kwargs):
        '''The reconstruction of ``x``; ``state``/``return_state`` as for :meth:`feed_forward`.'''
        return self._pick(self.layers[-1].output_name, x, state, return_state, kwargs)


class Regressor(_Sequences, feedforward.Regressor):
    '''A regressor for sequences: 3-D inputs and targets.

    Examples
    --------
    Predicting a long sequence in chunks, each continuing from the state the
    previous one reached:

    >>> import numpy as np, theanets
    >>> net = theanets.recurrent.Regressor([2, (4, 'lstm'), 1])
    >>> x = np.random.RandomState(0).randn(3, 10, 2).astype('float32')
    >>> state, parts = None, []
    >>> for start in range(0, 10, 4):
    ...     y, state = net.predict(x[:, start:start + 4], state=state, return_state=True)
    ...     parts.append(y)
    >>> np.allclose(np.concatenate(parts, axis=1), net.predict(x), atol=1e-5)
    True
    '''

    INPUT_NDIM = 3
    OUTPUT_NDIM = 3

    def predict(self, x, state=None, return_state=False, **kwargs):
        '''The output for ``x``; ``state``/``return_state`` as for :meth:`feed_forward`.'''
        return self._pick(self.layers[-1].output_name, x, state, return_state, kwargs)


class Classifier(_Sequences, feedforward.Classifier):
    '''A classifier of every time step of sequences: 3-D inputs, 2-D labels.'''

    INPUT_NDIM = 3
    OUTPUT_NDIM = 2

    def predict(self, x, state=None, return_state=False, **kwargs):
        '''The most probable class at each time step; ``state``/``return_state``
        as for :meth:`feed_forward`.'''
        return self._pick(self.layers[-1].output_name, x, state, return_state, kwargs,
                          post=lambda p: p.argmax(axis=-1))

    def predict_proba(self, x, state=None, return_state=False, **kwargs):
        '''Class probabilities at each time step; ``state``/``return_state`` as for
        :meth:`feed_forward`.'''
        return self._pick(self.layers[-1].output_name, x, state, return_state, kwargs)

    def predict_logit(self, x, state=None, return_state=False, **kwargs):
        '''Output values before the softmax; ``state``/``return_state`` as for
        :meth:`feed_forward`.'''
        return self._pick(self.layers[-1].full_name('pre'), x, state, return_state, kwargs)

    def predict_sequence(self, labels, steps, streams=1, rng=None, stateful=False,
                         temperature=1):
        '''Generate labels that continue a seed sequence, one step at a time.

        Parameters
        ----------
        labels : list of int
            The seed sequence.
        steps : int
            How many labels to generate.
        streams : int
            Number of sequences generated in parallel.
        rng : None, int or RandomState
            Source of the random draws.
        stateful : bool
            True: feed the seed once, then each drawn label as one time step
            continuing from the state the model reached (stateful
            prediction), so ``steps`` labels cost ``steps`` one-step calls,
            each stream is drawn independently and ``streams`` may be any
            number. False (default): the original's algorithm, kept so that
            a seed gives the labels it gave (see the notes).
        temperature : float
            Draw from probabilities ``p ** (1 / temperature)``, normalised:
            below 1 more likely labels, above 1 more varied ones.

        Yields
        ------
        The next label (or, with ``streams > 1``, a list of labels).

        Raises
        ------
        IndexError
            Without ``stateful``, where the original failed: with
            ``streams > 2`` and fewer seed labels than streams (see the notes).

        Notes
        -----
        Without ``stateful``, reproduces the original exactly, including its
        quirks: the model is shown the whole zero-padded sequences (seed,
        labels drawn so far, then zeros up to the full length) and the
        probabilities at the last time step are sampled, so each label costs
        a run over the full length and depends on the padding; and at step
        ``i`` (counting the seed) only the first ``i`` of the parallel
        sequences are predicted (the original sliced the batch axis), so with
        ``1 < i < streams`` the original failed with an IndexError. That
        error is raised here before anything is generated, with a clearer
        message. The stateful algorithm has none of these quirks, and so
        draws other labels for the same seed.

        Examples
        --------
        >>> import theanets
        >>> net = theanets.recurrent.Classifier([5, (8, 'gru', 'tanh'), 5])
        >>> labels = list(net.predict_sequence([1, 2], 4, rng=0, stateful=True))
        >>> len(labels), all(0 <= k < 5 for k in labels)
        (4, True)
        '''
        if not isinstance(temperature, (int, float, np.integer, np.floating)) or \
                isinstance(temperature, bool) or not temperature > 0:
            raise util.ConfigurationError('predict_sequence: temperature must be a positive '
                                          'number, not {!r}'.format(temperature))
        if stateful:
            yield from self._sample_stateful(labels, steps, streams, rng, temperature)
            return
        if rng is None or isinstance(rng, int):
            rng = np.random.RandomState(rng)
        batch = max(2, streams)
        if any(1 < i < batch for i in range(len(labels), len(labels) + steps)):
            raise IndexError(
                'predict_sequence: with streams={} the seed needs at least {} labels, not {}: '
                'at step i only the first i sequences are predicted (kept from the original, '
                'which failed here too)'.format(streams, batch, len(labels)))
        width = self.layers[0].output_size
        inputs = np.zeros((batch, len(labels) + steps, width), util.FLOAT)
        inputs[:, np.arange(len(labels)), labels] = 1
        for i in range(len(labels), len(labels) + steps):
            chosen = []
            for pdf in self.predict_proba(inputs[:i])[:, -1]:
                if temperature != 1:
                    pdf = _tempered(pdf, temperature)
                try:
                    label = rng.multinomial(1, pdf).argmax(axis=-1)
                except ValueError:
                    label = pdf.argmax(axis=-1)
                chosen.append(int(label))
            inputs[np.arange(batch), i, chosen] = 1
            yield chosen[0] if streams == 1 else chosen


    def _sample_stateful(self, labels, steps, streams, rng, temperature):
        '''predict_sequence(stateful=True): one step per label.'''
        width = self.layers[0].output_size
        labels = [int(k) for k in labels]
        bad = [k for k in labels if not 0 <= k < width]
        if bad:
            raise util.DataError('predict_sequence: seed labels must be in [0, {}), not '
                                 '{}'.format(width, bad))
        if not isinstance(streams, (int, np.integer)) or isinstance(streams, bool) or \
                streams < 1:
            raise util.ConfigurationError('predict_sequence: streams must be a positive '
                                          'whole number, not {!r}'.format(streams))
        if rng is None or isinstance(rng, (int, np.integer)):
            rng = np.random.RandomState(rng)
        inputs = np.zeros((streams, max(1, len(labels)), width), util.FLOAT)
        inputs[:, np.arange(len(labels)), labels] = 1  # no seed: one all-zero step
        proba, state = self.predict_proba(inputs, return_state=True)
        for i in range(steps):
            chosen = []
            for pdf in proba[:, -1]:
                pdf = _tempered(pdf, temperature)
                chosen.append(int(rng.multinomial(1, pdf).argmax()))
            yield chosen[0] if streams == 1 else chosen
            if i + 1 < steps:
                inputs = np.zeros((streams, 1, width), util.FLOAT)
                inputs[np.arange(streams), 0, chosen] = 1
                proba, state = self.predict_proba(inputs, state=state, return_state=True)


def _tempered(pdf, temperature):
    '''Probabilities ``pdf ** (1 / temperature)``, normalised in float64.'''
    pdf = np.clip(np.asarray(pdf, 'float64'), 0, None)
    if temperature != 1:
        with np.errstate(divide='ignore'):
            logs = np.log(pdf) / temperature
        pdf = np.exp(logs - logs.max())
    return pdf / pdf.sum()


def batches(arrays, steps=100, batch_size=64, rng=None):
    '''Make a callable that samples batches of sequences from long arrays.

    Parameters
    ----------
    arrays : list of ndarray
        Arrays of shape ``(time, features)`` with the same length.
    steps : int
        Length of each sampled sequence.
    batch_size : int
        Sequences per batch (1 works: the original needed at least 2).
    rng : None, int or RandomState
        Source of the random offsets.

    Returns
    -------
    A zero-argument callable returning one ``(batch_size, steps, features)``
    array per input array; each example starts at one random offset shared
    across the arrays.

    Examples
    --------
    >>> x = np.arange(40, dtype='float32').reshape(20, 2)
    >>> sample = batches([x], steps=5, batch_size=3, rng=0)
    >>> [a.shape for a in sample()]
    [(3, 5, 2)]
    '''
    if not isinstance(arrays, (list, tuple)) or not arrays:
        raise util.DataError('batches: arrays must be a non-empty list of arrays, not {}'.format(
            repr(arrays) if isinstance(arrays, (list, tuple)) else type(arrays).__name__))
    if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool) or \
            batch_size < 1:
        raise util.ConfigurationError('batches: batch_size must be a positive whole number, '
                                      'not {!r}'.format(batch_size))
    if not isinstance(steps, (int, np.integer)) or steps < 1:
        raise util.ConfigurationError('batches: steps must be a positive whole number, '
                                      'not {!r}'.format(steps))
    for i, a in enumerate(arrays):
        if np.ndim(a) != 2:
            raise util.DataError('batches: array {} must be 2-D (time, features), but has '
                                 'shape {}'.format(i, np.shape(a)))
    lengths = [len(a) for a in arrays]
    if len(set(lengths)) > 1:
        raise util.DataError('batches: arrays must have the same number of time steps, '
                             'but have {}'.format(lengths))
    if len(arrays[0]) <= steps:
        raise util.DataError('batches: arrays have {} time steps, fewer than steps={} + 1'.format(
            len(arrays[0]), steps))
    if rng is None or isinstance(rng, int):
        rng = np.random.RandomState(rng)

    def sample():
        xs = [np.zeros((batch_size, steps, a.shape[1]), a.dtype) for a in arrays]
        for i in range(batch_size):
            offset = rng.randint(len(arrays[0]) - steps)
            for x, a in zip(xs, arrays):
                x[i] = a[offset:offset + steps]
        return xs

    return sample


class StreamBatches:
    '''Contiguous mini-batches of long sequences, for training with carried state.

    Made by :func:`stream_batches` (see there). Each call returns the next
    mini-batch: one array per variable, ``(streams, steps, ...)``; batch
    ``i`` of every stream continues batch ``i - 1``. After the last batch
    of a pass the next call starts again from the beginning.

    Attributes
    ----------
    position : int
        Index of the batch the next call returns.
    '''

    def __init__(self, arrays, steps, finish=None):
        self.arrays = arrays
        self.steps = steps
        self.finish = finish
        self.position = 0

    def __len__(self):
        '''Batches in one pass (the last may be shorter than ``steps``).'''
        return -(-self.arrays[0].shape[1] // self.steps)

    @property
    def streams(self):
        '''The number of streams (the batch size).'''
        return self.arrays[0].shape[0]

    def batch(self, index):
        '''Batch ``index`` of a pass, without moving :attr:`position`.'''
        lo, hi = index * self.steps, (index + 1) * self.steps
        parts = [np.ascontiguousarray(a[:, lo:hi]) for a in self.arrays]
        return self.finish(parts) if self.finish is not None else parts

    def __call__(self):
        batch = self.batch(self.position)
        self.position = (self.position + 1) % len(self)
        return batch

    def __iter__(self):
        '''The batches of one pass, in order (:attr:`position` does not move).'''
        return (self.batch(i) for i in range(len(self)))

    def copy(self):
        '''The same batches with a cursor of their own, at the start.'''
        return StreamBatches(self.arrays, self.steps, self.finish)


def stream_batches(arrays, steps, streams=None):
    '''Cut long sequences into contiguous mini-batches for carried-state training.

    Parameters
    ----------
    arrays : list of ndarray
        One array per model variable (``[inputs, targets]``,
        ``[inputs, labels]``, ...). With ``streams`` given, each holds one
        long sequence, time first (``(time, features)``, or ``(time,)`` for
        labels), which is cut into ``streams`` parallel streams of equal
        length (a remainder at the end is dropped). Without ``streams``, each
        already holds the streams: ``(streams, time, ...)``.
    steps : int
        Time steps per mini-batch (the truncation length of back-propagation
        through time); the last batch of a pass may be shorter.
    streams : int, optional
        Cut one long sequence into this many streams (the batch size; 1 is
        fine).

    Returns
    -------
    StreamBatches
        A callable giving the batches in order, with ``len()`` the batches
        per pass: pass it to ``train(..., carry_state=True)``.

    Examples
    --------
    >>> x = np.arange(24, dtype='float32').reshape(12, 2)
    >>> feed = stream_batches([x], steps=4, streams=2)
    >>> len(feed), feed.streams
    (2, 2)
    >>> first, = feed()
    >>> second, = feed()
    >>> first[:, :, 0].tolist(), second[:, :, 0].tolist()
    ([[0.0, 2.0, 4.0, 6.0], [12.0, 14.0, 16.0, 18.0]], [[8.0, 10.0], [20.0, 22.0]])
    '''
    if not isinstance(arrays, (list, tuple)) or not arrays:
        raise util.DataError('stream_batches: arrays must be a non-empty list of arrays, '
                             'not {}'.format(repr(arrays) if isinstance(arrays, (list, tuple))
                                             else type(arrays).__name__))
    if not isinstance(steps, (int, np.integer)) or isinstance(steps, bool) or steps < 1:
        raise util.ConfigurationError('stream_batches: steps must be a positive whole number, '
                                      'not {!r}'.format(steps))
    arrays = [np.asarray(a) for a in arrays]
    if streams is not None:
        if not isinstance(streams, (int, np.integer)) or isinstance(streams, bool) or \
                streams < 1:
            raise util.ConfigurationError('stream_batches: streams must be a positive whole '
                                          'number, not {!r}'.format(streams))
        lengths = [len(a) if a.ndim else 0 for a in arrays]
        if len(set(lengths)) > 1:
            raise util.DataError('stream_batches: arrays must have the same number of time '
                                 'steps, but have {}'.format(lengths))
        each = lengths[0] // streams
        if each < 1:
            raise util.DataError('stream_batches: {} time steps cannot make {} streams'.format(
                lengths[0], streams))
        arrays = [a[:each * streams].reshape((streams, each) + a.shape[1:]) for a in arrays]
    shapes = [a.shape[:2] if a.ndim >= 2 else a.shape for a in arrays]
    if any(a.ndim < 2 for a in arrays) or len(set(shapes)) > 1:
        raise util.DataError('stream_batches: without streams=, each array must hold '
                             '(streams, time, ...) with the same streams and time, but the '
                             'shapes are {}'.format([a.shape for a in arrays]))
    return StreamBatches(arrays, int(steps))


class Text:
    '''A body of text, encoded as integer character codes.

    Parameters
    ----------
    text : str
        The text.
    alpha : str, optional
        The alphabet; by default the sorted characters occurring at least
        ``min_count`` times.
    min_count : int
        Minimum count of a character to be in the default alphabet.
    unknown : str
        Stands in for characters outside the alphabet (code 0).

    Examples
    --------
    >>> t = Text('hello world hello')
    >>> t.alpha
    ' ehlo'
    >>> t.encode('hole')
    [3, 5, 4, 2]
    >>> t.decode(t.encode('hole'))
    'hole'
    '''

    def __init__(self, text, alpha=None, min_count=2, unknown='\0'):
        self.unknown = unknown
        self.alpha = alpha
        if self.alpha is None:
            counts = {}
            for c in text:
                counts[c] = counts.get(c, 0) + 1
            self.alpha = ''.join(sorted(c for c, n in counts.items()
                                        if n >= min_count and c != unknown))
        self._rev_index = unknown + self.alpha
        self._fwd_index = {c: i for i, c in enumerate(self._rev_index)}
        self.text = ''.join(c if c in self._fwd_index else unknown for c in text)

    def encode(self, txt):
        '''The list of codes of the characters of ``txt`` (unknown -> 0).'''
        return [self._fwd_index.get(c, 0) for c in txt]

    def decode(self, enc):
        '''The string for a list of codes.'''
        return ''.join(self._rev_index[c] for c in enc)

    def classifier_streams(self, steps, streams):
        '''Contiguous ``[one-hot inputs, next-character labels]`` batches.

        The text is cut into ``streams`` parallel streams; batch ``i`` of
        each continues batch ``i - 1`` (see :func:`stream_batches`): the
        data for training with ``carry_state=True``. Inputs are float32
        ``(streams, steps, 1 + len(alpha))``, labels int32 ``(streams,
        steps)``.

        Examples
        --------
        >>> feed = Text('abcabcabcabc').classifier_streams(steps=3, streams=2)
        >>> inputs, labels = feed()
        >>> inputs.shape, labels.tolist()
        ((2, 3, 4), [[2, 3, 1], [1, 2, 3]])
        '''
        codes = np.array(self.encode(self.text), 'int32')
        if len(codes) < 2:
            raise util.DataError('Text.classifier_streams: the text has {} characters; at '
                                 'least 2 are needed'.format(len(codes)))
        width = 1 + len(self.alpha)
        feed = stream_batches([codes[:-1], codes[1:]], steps, streams=streams)

        def finish(parts):
            return [np.eye(width, dtype='float32')[parts[0]], parts[1]]

        feed.finish = finish
        return feed

    def one_hot(self, codes):
        '''One-hot float32 rows ``(len(codes), 1 + len(alpha))`` for a list of codes.'''
        return np.eye(1 + len(self.alpha), dtype='float32')[np.asarray(codes, 'int64')]

    def classifier_batches(self, steps, batch_size, rng=None):
        '''A callable giving ``[one-hot inputs, next-character labels]`` batches.

        Inputs are float32 ``(batch_size, steps, 1 + len(alpha))``; labels
        are int32 ``(batch_size, steps)``, each the code of the next character.
        '''
        if not isinstance(steps, (int, np.integer)) or steps < 1:
            raise util.ConfigurationError('Text.classifier_batches: steps must be a positive '
                                          'whole number, not {!r}'.format(steps))
        if len(self.text) <= steps + 1:
            raise util.DataError('Text.classifier_batches: the text has {} characters; '
                                 'steps={} needs at least {}'.format(
                                     len(self.text), steps, steps + 2))
        if rng is None or isinstance(rng, int):
            rng = np.random.RandomState(rng)
        codes = np.array(self.encode(self.text), 'int32')
        width = 1 + len(self.alpha)

        def sample():
            inputs = np.zeros((batch_size, steps, width), 'float32')
            outputs = np.zeros((batch_size, steps), 'int32')
            for b in range(batch_size):
                offset = rng.randint(len(codes) - steps - 1)
                window = codes[offset:offset + steps + 1]
                inputs[b, np.arange(steps), window[:-1]] = 1
                outputs[b] = window[1:]
            return [inputs, outputs]

        return sample
