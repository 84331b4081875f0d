"""The machinery every recurrent layer shares: :class:`Recurrent`."""

import contextlib
import contextvars

import numpy as np
import pytensor
import pytensor.tensor as TT

from ... import checks, util
from ..._backend import scan
from ..base import Layer

__all__ = ["Recurrent", "real_length"]

# The number of real steps of sequences padded at their end (a symbolic
# int scalar), while a graph for such sequences is built; see real_length.
_REAL_LENGTH = contextvars.ContextVar("theanets_real_length", default=None)


@contextlib.contextmanager
def real_length(length):
    """Build graphs in this block for sequences padded at their end to any
    length, of which the first ``length`` steps are real.

    A backward-running layer then reverses the real steps only, in place,
    leaving the padding after them: it reads the real steps from the last
    to the first, as it would the unpadded sequence, and its outputs (in
    its reading order, as always) hold the unpadded outputs in their first
    ``length`` steps. Forward layers need nothing: a step's output depends
    on the steps before it only. (Predictions pad sequences so, to compile
    a bounded number of programs whatever lengths they are given.)

    Parameters
    ----------
    length : symbolic int scalar
    """
    token = _REAL_LENGTH.set(length)
    try:
        yield
    finally:
        _REAL_LENGTH.reset(token)


def _float():
    return pytensor.config.floatX


def _batch_major(x):
    """(time, batch, ...) <-> (batch, time, ...)."""
    return x.dimshuffle((1, 0) + tuple(range(2, x.ndim)))


def _check_sequence_inputs(layer):
    """ConfigurationError unless every input of ``layer`` is 3-D (batch, time, features)."""
    for name, shape in layer._input_shapes.items():
        if len(shape) != 2:
            raise util.ConfigurationError(
                "{}: input {!r} has {}-D data (batch + {}), but a recurrent layer needs "
                "3-D sequences (batch, time, features); use a model from "
                "theanets.recurrent".format(
                    layer._context(), name, len(shape) + 1, checks.shape_text(shape)
                )
            )


def _recurrent_forms():
    """The registered keys of the concrete layers that read sequences, sorted.

    A layer class says it reads sequences with ``READS_SEQUENCES = True``
    (the recurrent layers and ``bidirectional``, which is no subclass of
    :class:`Recurrent`).
    """
    return Layer.names(
        where=lambda cls: cls is not Recurrent and getattr(cls, "READS_SEQUENCES", False)
    )


def _block_mask(size, modules):
    """A (size, size) 0/1 mask, 1 where the row's module >= the column's module."""
    block = np.arange(size) // (size // modules)
    return (block[:, None] >= block[None, :]).astype(_float())


class Recurrent(Layer):
    """Base class of recurrent layers.

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
    """

    #: Listed among the sequence layers in messages (see _recurrent_forms).
    READS_SEQUENCES = True

    #: Keyword options every recurrent layer reads (``rates``: stored fixed
    #: rates, see :meth:`_create_rates`); see :meth:`Layer.option_names`.
    OPTIONS = ("direction", "bptt_limit", "rates")

    #: Constructor arguments that name graph outputs holding initial states.
    STATES: tuple[str, ...] = ("h_0",)

    #: The states carried from one time step to the next, and so from one
    #: call to the next by stateful prediction (``predict(x, state=...)``) and
    #: by training with carried state: ``h_0`` the hidden state, ``c_0`` an
    #: LSTM's cell, ``s_0`` an SCRN's context, ``p_0`` a leaky
    #: pre-activation, ``t_0`` a clockwork layer's time counter.
    CARRIED: tuple[str, ...] = ("h_0",)

    #: Carried states that are integer counters, one per example (not
    #: ``(batch, size)`` floats).
    COUNTERS: tuple[str, ...] = ()

    # set only while connect_stateful builds the layer
    _carry = _finals = None
    _pending = ()

    def __init__(self, h_0=None, **kwargs):
        self.h_0 = h_0
        super().__init__(**kwargs)
        if type(self) is Recurrent:
            raise util.ConfigurationError(
                "{}: Recurrent is the base class of the recurrent layers; use one of {}".format(
                    self._context(), ", ".join(_recurrent_forms())
                )
            )
        direction = kwargs.get("direction", "forward")
        if not isinstance(direction, str):
            raise util.ConfigurationError(
                '{}: direction must be a string ("forward" or "backward"), not {!r}'.format(
                    self._context(), direction
                )
            )
        limit = kwargs.get("bptt_limit", -1)
        if not checks.is_count(limit) or limit == 0 or limit < -1:
            raise util.ConfigurationError(
                "{}: bptt_limit must be a positive whole number of time steps, or -1 for "
                "no limit, not {!r}".format(self._context(), limit)
            )
        self._states = {}

    # ----- shapes ---------------------------------------------------------

    def resolve_inputs(self, layers):
        """Resolve the inputs, then the outputs named by ``h_0`` (and ``c_0``, ...)."""
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
                    "{}: {} must be an output name or a Layer, not {!r}".format(
                        self._context(), key, ref
                    )
                )
            prefix, _, suffix = ref.partition(":")
            name = "{}:{}".format(prefix, suffix or "out")
            known = {
                l.full_name(k): shape
                for l in layers
                if l is not self
                for k, shape in l._output_shapes.items()
            }
            if name not in known:
                raise util.ConfigurationError(
                    "{}: {}={!r} names no output of an earlier layer; known outputs are {}".format(
                        self._context(), key, ref, sorted(known)
                    )
                )
            self._states[key] = name, known[name]

    def resolve_outputs(self):
        """As for Layer; inputs must be sequences and initial states ``(batch, size)``."""
        _check_sequence_inputs(self)
        super().resolve_outputs()
        for key, (name, shape) in self._states.items():
            if tuple(shape) != (self.output_size,):
                raise util.ConfigurationError(
                    "{}: {}={!r} has shape {} per example, but the initial state must be "
                    "({},): 2-D data (batch, {})".format(
                        self._context(),
                        key,
                        name,
                        checks.shape_text(shape),
                        self.output_size,
                        self.output_size,
                    )
                )

    # ----- parameters ----------------------------------------------------

    def add_weights(self, name, nin, nout, mean=0, std=0, sparsity=0, radius=0, diagonal=0):
        """Create a weight matrix ``'<layer>.<name>'`` of shape (nin, nout).

        If ``nin`` is the layer's size and ``nout`` a multiple of it, the
        matrix is ``nout / nin`` independently drawn square blocks side by side,
        each honouring ``radius`` and ``diagonal``; otherwise one random matrix
        (``radius`` and ``diagonal`` ignored). The default ``std`` is
        ``1 / sqrt(nin + nout)``; keyword arguments of the layer (``std``,
        ``std_<name>``, ...) override the defaults.
        """
        mean = self._option("mean", name, mean)
        std = self._option("std", name, std or 1 / np.sqrt(nin + nout))
        sparsity = self._option("sparsity", name, sparsity)
        if nin == self.output_size and nout % nin == 0:
            radius = self._option("radius", name, radius)
            diagonal = self._option("diagonal", name, diagonal)
            value = np.concatenate(
                [
                    util.random_matrix(
                        nin,
                        nin,
                        mean=mean,
                        std=std,
                        sparsity=sparsity,
                        radius=radius,
                        diagonal=diagonal,
                        rng=self.rng,
                    )
                    for _ in range(nout // nin)
                ],
                axis=1,
            )
        else:
            value = util.random_matrix(
                nin, nout, mean=mean, std=std, sparsity=sparsity, rng=self.rng
            )
        return self._add_param(name, value)

    def _create_rates(self, dist="uniform", size=None, eps=1e-4):
        """Fixed (non-learned) rates ``'<layer>.rate'``, or None for learned ones.

        ``'uniform'``: U(eps, 1 - eps); ``'log'``: exp(U(-6, -eps)). Drawn
        from numpy's **global** random state, as the original did -- unless
        the layer was given ``rates=[...]`` (as its ``to_spec`` does, so that
        a rebuilt or reloaded layer keeps its rates).
        """
        size = size or self.output_size
        given = self.kwargs.get("rates")
        if dist in ("uniform", "log") and given is not None:
            try:
                rates = np.asarray(given, dtype=_float())
            except (TypeError, ValueError):
                rates = np.zeros(0)
            if rates.shape != (size,) or not ((rates > 0) & (rates <= 1)).all():
                raise util.ConfigurationError(
                    "{}: rates must be {} numbers in (0, 1], not {!r}".format(
                        self._context(), size, given
                    )
                )
        elif dist == "uniform":
            rates = np.random.uniform(eps, 1 - eps, size=size).astype(_float())
        elif dist == "log":
            rates = np.exp(np.random.uniform(-6, -eps, size=size).astype(_float()))
        else:
            return None
        return pytensor.shared(rates.astype(_float()), name=self._param_name("rate"))

    def _rates_spec(self, spec):
        """Add ``rate`` (and the values of fixed rates) to a spec."""
        spec["rate"] = self.rate
        if getattr(self, "_rates", None) is not None:
            spec["rates"] = [float(r) for r in self._rates.get_value()]
        return spec

    def _check_rate(self, rate, choices):
        if not isinstance(rate, str) or rate not in choices:
            raise util.unknown_name("rate", rate, choices, context="{}: ".format(self._context()))
        return rate

    # ----- graph ----------------------------------------------------------

    @property
    def _backwards(self):
        return "back" in self.kwargs.get("direction", "forward").lower()

    def _sequence(self, inputs):
        """The single input, time-major: (time, batch, features), in reading order.

        A backward layer reads its input from the last step to the first,
        so it gets the input reversed in time: every sequence computed from
        it (input products, gates) is then in the order ``scan`` steps
        through it, and the scan itself runs forwards. The values and
        gradients are those of ``scan(..., go_backwards=True)``, but
        reversing the raw input keeps the gradient of the reversal on the
        input alone: reversing an input product instead gave a gradient
        program that XLA aborts on (``Invalid binary instruction opcode
        map``), killing the process in the default JAX mode.
        """
        return self._in_reading_order(_batch_major(inputs[self.input_name]))

    def _in_reading_order(self, sequence):
        """A time-major ``sequence`` in the order this layer steps through it
        (inside :func:`real_length`, the real steps reversed in place)."""
        if not self._backwards:
            return sequence
        length = _REAL_LENGTH.get()
        if length is None:
            return sequence[::-1]
        step = TT.arange(sequence.shape[0])
        return sequence[TT.switch(step < length, length - 1 - step, step)]

    def _initial(self, inputs, key, batch, size=None):
        """The initial state named by ``key`` (``'h_0'``), or zeros (batch, size).

        While :meth:`connect_stateful` builds the layer, a state it was given
        for ``key`` replaces this usual initial state, and the scan's last
        value of the state is recorded as the final state.
        """
        if key in self._states:
            usual = TT.cast(inputs[self._states[key][0]], _float())
        else:
            usual = TT.zeros((batch, size or self.output_size), dtype=_float())
        if self._carry is None:
            return usual
        value = self._carry[key](usual) if key in self._carry else usual
        self._pending.append((value, key))
        return value

    def _counter(self, key, batch):
        """A carried integer counter (batch,) for ``key`` (``'t_0'``), or None.

        None unless :meth:`connect_stateful` is building the layer: the usual
        graph keeps its scalar counter, exactly as before.
        """
        if self._carry is None:
            return None
        usual = TT.zeros((batch,), dtype="int64")
        return self._carry[key](usual) if key in self._carry else usual

    def _final(self, key, value):
        """Record the final value of a carried state (while stateful)."""
        if self._finals is not None:
            self._finals[key] = value

    # ----- carried state ----------------------------------------------------

    def state_name(self, key):
        """The name of a carried state in a model's state: ``'hid1.h'`` for ``'h_0'``."""
        return "{}.{}".format(self.name, key.split("_")[0])

    def carried_states(self):
        """The states this layer carries: ``[(key, name, shape per example, dtype)]``.

        Examples
        --------
        >>> import theanets
        >>> net = theanets.recurrent.Regressor([3, (4, 'lstm'), 2])
        >>> [spec[:3] for spec in net.layers[1].carried_states()]
        [('h_0', 'hid1.h', (4,)), ('c_0', 'hid1.c', (4,))]
        """
        return [
            (
                key,
                self.state_name(key),
                () if key in self.COUNTERS else (self.output_size,),
                "int64" if key in self.COUNTERS else _float(),
            )
            for key in self.CARRIED
        ]

    def check_stateful(self):
        """ConfigurationError if this layer cannot continue from a carried state."""
        if self._backwards:
            raise util.ConfigurationError(
                "{}: a layer running backwards in time (direction={!r}) cannot carry its state "
                "from one call to the next: it reads each sequence from its end, so it needs "
                "the whole sequence in one call".format(
                    self._context(), self.kwargs.get("direction")
                )
            )

    def connect_stateful(self, inputs, initial):
        """Like :meth:`connect`, starting from given states; also return the final states.

        Parameters
        ----------
        inputs : dict
            Full output name -> symbolic expression for every output so far.
        initial : dict
            Carried state key (``'h_0'``) -> a function of the usual initial
            state (named input or zeros) giving the state to start from; a
            key that is missing starts from the usual initial state.

        Returns
        -------
        outputs, updates : as for :meth:`connect`
        finals : dict
            Carried state key -> symbolic value after the last time step.
        """
        self.check_stateful()
        self._carry, self._finals, self._pending = dict(initial), {}, []
        try:
            outputs, updates = self.connect(inputs)
            finals = dict(self._finals)
        finally:
            del self._carry, self._finals, self._pending
        missing = [key for key in self.CARRIED if key not in finals]
        if missing:
            raise util.ConfigurationError(
                "{}: the layer declares carried states {} but its transform set no final "
                "value for {}".format(self._context(), list(self.CARRIED), missing)
            )
        return outputs, updates, finals

    def _scan(self, step, sequences=(), states=(), constants=()):
        """Run ``step`` over the time axis of the time-major ``sequences``.

        ``states`` holds one entry per output of ``step``: the initial value
        of an output that is fed back, or None for one that is not.
        ``constants`` are passed last. The sequences are in reading order
        (see :meth:`_sequence`; reversed for backward layers), and so are
        the time-major outputs of the returned ``(outputs, updates)``.
        """
        states = list(states)

        def typed_step(*args):
            # an output fed back must have its initial state's type (e.g. the
            # static shape (?, 1) of a 1-unit layer's zeros)
            return [
                out if init is None else init.type.filter_variable(out)
                for out, init in zip(step(*args), states, strict=True)
            ]

        values, updates = scan(
            typed_step,
            sequences=list(sequences),
            outputs_info=states,
            non_sequences=list(constants),
            truncate_gradient=self.kwargs.get("bptt_limit", -1),
            name="{}_scan".format(self.name),
        )
        self._record_finals(states, values)
        return values, updates

    def _fused(self, recurrence, sequence, states, constants=()):
        """Like :meth:`_scan`, for a recurrence computed by one operation.

        ``states`` holds one entry per output, as for :meth:`_scan`: the
        initial value of an output that is fed back, or None.
        ``recurrence(sequence, *initial, *constants)``, given the initial
        values only, returns the time-major sequence of each output (as
        :mod:`theanets.ops.lstm` does) from a ``sequence`` in reading order
        (see :meth:`_sequence`). Returns ``(outputs, updates)`` as :meth:`_scan`.
        """
        initial = [state for state in states if state is not None]
        values = list(recurrence(sequence, *initial, *constants))
        self._record_finals(states, values)
        return values, []

    def _record_finals(self, states, values):
        """Record the last step of each carried state (while stateful)."""
        if self._finals is not None:
            for value, key in self._pending:
                for init, out in zip(states, values, strict=True):
                    if init is value:
                        self._final(key, out[-1])

    @staticmethod
    def _outputs(names, values):
        """A dict of named outputs from time-major scan ``values``, made batch-major."""
        return {name: _batch_major(value) for name, value in zip(names, values, strict=True)}

    def to_spec(self):
        spec = super().to_spec()
        for key in self.STATES:
            value = getattr(self, key)
            spec[key] = value.output_name if isinstance(value, Layer) else value
        return spec
