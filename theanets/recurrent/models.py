"""The recurrent models: Autoencoder, Regressor and Classifier for sequences."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pytensor.tensor as TT

from .. import _mode, feedforward, options, regularizers, trainer, util
from . import state as _state
from .data import StreamBatches
from .state import State

if TYPE_CHECKING:
    from .._typing import Array, Rng
    from ..graph import Network as _ModelBase
else:
    _ModelBase = object

__all__ = ["Autoencoder", "Regressor", "Classifier"]


class _Sequences(_ModelBase):
    """What every recurrent model adds: stateful prediction, carried-state training."""

    #: Training options of recurrent models (besides those of every model).
    TRAIN_OPTIONS = dict(
        getattr(feedforward.Regressor, "TRAIN_OPTIONS", {}), **options.described("carry_state")
    )

    # ----- stateful prediction ------------------------------------------

    def _state_cache(self):
        cache = self.__dict__.get("_stateful_cache")
        if cache is None:
            cache = self.__dict__["_stateful_cache"] = {}
            self.__dict__["_state_token"] = next(_state.TOKENS)
        return cache

    def _state_specs(self):
        """``[(layer, key, name, shape per example, dtype)]`` of every carried state."""
        return [
            (layer,) + spec
            for layer in _state.stateful_layers(self)
            for spec in layer.carried_states()
        ]

    def _stateful_function(self, given, regs):
        """(compiled function, output labels, state names), cached per configuration."""
        cache = self._state_cache()
        key = ("given" if given else "initial", self._hash(regs))
        if key not in cache:
            specs = self._state_specs()
            variables = {}
            for _, _, name, shape, dtype in specs:
                variables[name] = TT.tensor(
                    dtype=dtype, shape=(None,) * (1 + len(shape)), name=name
                )

            def initial_for(layer):
                if not given:
                    return {}
                return {
                    k: (lambda usual, v=variables[n]: v) for k, n, _, _ in layer.carried_states()
                }

            outputs, updates, finals = _state.connect_all(self, regs, initial_for)
            labels = sorted(outputs)
            names = [name for _, _, name, _, _ in specs]
            inputs = list(self.inputs) + ([variables[n] for n in names] if given else [])
            # shared between models of this structure: a second model's
            # stateful prediction is a copy with its own parameters
            fn = _mode.function(
                inputs,
                [outputs[l] for l in labels] + [finals[n] for n in names],
                updates=updates,
                on_unused_input="ignore",
                share=("stateful", key[0], self.structure_key(regs)),
            )
            cache[key] = fn, labels, names
        return cache[key]

    def _check_state(self, caller, state, batch):
        """The arrays of ``state`` in state-name order, checked against the model."""
        specs = self._state_specs()
        self._state_cache()
        if not hasattr(state, "keys"):
            raise util.DataError(
                "{}: state must be what an earlier call with return_state=True returned "
                "(a mapping of state names to arrays), not {}".format(caller, type(state).__name__)
            )
        owner = getattr(state, "owner", None)
        if owner is not None and owner != self.__dict__["_state_token"]:
            raise util.DataError(
                "{}: this state was returned by another model; a state continues the model "
                "that returned it (pass dict(state) to use its values anyway)".format(caller)
            )
        names = [name for _, _, name, _, _ in specs]
        missing = [n for n in names if n not in state]
        unknown = sorted(set(state) - set(names))
        if missing or unknown:
            raise util.DataError(
                "{}: the state does not fit this model: it needs the states {}{}{}".format(
                    caller,
                    names,
                    "; missing {}".format(missing) if missing else "",
                    "; {} are not states of its layers".format(unknown) if unknown else "",
                )
            )
        result = []
        for layer, key, name, shape, dtype in specs:
            value = state[name]
            want = (batch,) + tuple(shape)
            if np.shape(value) != want:
                raise util.DataError(
                    "{}: state {!r} of {} has shape {}, but a batch of {} needs {}".format(
                        caller, name, layer._context(), np.shape(value), batch, want
                    )
                )
            value = np.asarray(value)
            if dtype.startswith("int"):
                if value.dtype.kind not in "iu":
                    raise util.DataError(
                        "{}: state {!r} of {} must hold integers, not {}".format(
                            caller, name, layer._context(), value.dtype
                        )
                    )
                value = value.astype(dtype)
            else:
                if value.dtype.kind not in "fiu":
                    raise util.DataError(
                        "{}: state {!r} of {} must hold numbers, not {}".format(
                            caller, name, layer._context(), value.dtype
                        )
                    )
                value = value.astype(dtype, copy=False)
            result.append(value)
        return result

    # Returns outputs, or (outputs, State) with return_state=True.
    def feed_forward(
        self, x: Array, state: State | None = None, return_state: bool = False, **kwargs: Any
    ) -> Any:
        """Compute every output of the network for input ``x``.

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
        """
        if state is None and not return_state:
            return super().feed_forward(x, **kwargs)
        caller = "{}.feed_forward".format(type(self).__name__)
        if kwargs.get("batch_size") is not None:
            raise util.ConfigurationError(
                "{}: batch_size= computes independent slices of the examples, but "
                "state=/return_state=True carry one state for all of them; split "
                "the examples (and the state) yourself".format(caller)
            )
        kwargs.pop("batch_size", None)
        checked = self._check_input(caller, x)
        regs = regularizers.from_kwargs(self, **kwargs)
        fn, labels, names = self._stateful_function(state is not None, regs)
        values = [] if state is None else self._check_state(caller, state, checked.shape[0])
        results = fn(checked, *values)
        outputs = dict(zip(labels, results[: len(labels)], strict=True))
        if not return_state:
            return outputs
        return outputs, State(
            zip(names, results[len(labels) :], strict=True), owner=self.__dict__["_state_token"]
        )

    def _pick(self, name, x, state, return_state, kwargs, post=None):
        """Output ``name`` of :meth:`feed_forward` (transformed by ``post``), with state."""
        if state is None and not return_state:
            value = self._output(x, name, **kwargs)
            return value if post is None else post(value)
        result = self.feed_forward(x, state=state, return_state=return_state, **kwargs)
        outputs, final = result if return_state else (result, None)
        value = outputs[name] if post is None else post(outputs[name])
        return (value, final) if return_state else value

    # ----- carried state in training --------------------------------------

    def build_graph(self, regularizers: Sequence[Any] = ()) -> Any:
        """As for every model; while carried-state training builds its step,
        the recurrent layers start from the carried state (see ``carry_state``)."""
        carrier = self.__dict__.get("_carrier")
        if carrier is None or not carrier.building:
            return super().build_graph(regularizers)
        return carrier.graph(regularizers)

    def _training_variant(self):
        """The carrier of the state while carried-state training runs, else None.

        Each carried-state run keeps its state in shared variables of its
        own, so its step is compiled for that run; a run without carried
        state reuses the plain step.
        """
        return self.__dict__.get("_carrier")

    def itertrain(
        self, train: Any, valid: Any = None, *args: Any, carry_state: bool = False, **kwargs: Any
    ) -> Iterator[Any]:
        """Train, yielding monitors after each iteration: as for every model, plus:

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
        """
        if carry_state is False or carry_state is None:
            yield from super().itertrain(train, valid, *args, **kwargs)
            return
        algo = args[0] if args else kwargs.get("algo", "rmsprop")
        if (
            not isinstance(algo, str)
            or algo.lower() in ("sample", "layerwise", "pretrain")
            or algo.lower().startswith(("layer", "sup", "pre", "unsup"))
        ):
            raise util.ConfigurationError(
                "carry_state works with the optimizers ({}), not algo={!r}".format(
                    ", ".join(trainer.algo_names(own=False)), algo
                )
            )
        period = _state.reset_period(carry_state)
        _state.stateful_layers(self)
        carrier = _state.Carrier(self)
        train = carrier.feed(train, "train", period, kwargs)
        if valid is None:
            valid = train.source.copy() if isinstance(train.source, StreamBatches) else train.source
        valid = carrier.feed(valid, "valid", period, kwargs)
        generator = super().itertrain(train, valid, *args, **kwargs)
        self.__dict__["_carrier"] = carrier
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
            self.__dict__.pop("_carrier", None)

    def __setstate__(self, state):
        super().__setstate__(state)
        self.__dict__.pop("_stateful_cache", None)
        self.__dict__.pop("_carrier", None)


class Autoencoder(_Sequences, feedforward.Autoencoder):
    """An autoencoder for sequences: 3-D inputs and outputs."""

    INPUT_NDIM = 3
    OUTPUT_NDIM = 3

    def predict(
        self, x: Array, state: State | None = None, return_state: bool = False, **kwargs: Any
    ) -> Any:
        """The reconstruction of ``x``; ``state``/``return_state`` as for :meth:`feed_forward`."""
        return self._pick(self.layers[-1].output_name, x, state, return_state, kwargs)


class Regressor(_Sequences, feedforward.Regressor):
    """A regressor for sequences: 3-D inputs and targets.

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
    """

    INPUT_NDIM = 3
    OUTPUT_NDIM = 3

    def predict(
        self, x: Array, state: State | None = None, return_state: bool = False, **kwargs: Any
    ) -> Any:
        """The output for ``x``; ``state``/``return_state`` as for :meth:`feed_forward`."""
        return self._pick(self.layers[-1].output_name, x, state, return_state, kwargs)


class Classifier(_Sequences, feedforward.Classifier):
    """A classifier of every time step of sequences: 3-D inputs, 2-D labels."""

    INPUT_NDIM = 3
    OUTPUT_NDIM = 2

    def predict(
        self, x: Array, state: State | None = None, return_state: bool = False, **kwargs: Any
    ) -> Any:
        """The most probable class at each time step; ``state``/``return_state``
        as for :meth:`feed_forward`."""
        return self._pick(
            self.layers[-1].output_name,
            x,
            state,
            return_state,
            kwargs,
            post=lambda p: p.argmax(axis=-1),
        )

    def predict_proba(
        self, x: Array, state: State | None = None, return_state: bool = False, **kwargs: Any
    ) -> Any:
        """Class probabilities at each time step; ``state``/``return_state`` as for
        :meth:`feed_forward`."""
        return self._pick(self.layers[-1].output_name, x, state, return_state, kwargs)

    def predict_logit(
        self, x: Array, state: State | None = None, return_state: bool = False, **kwargs: Any
    ) -> Any:
        """Output values before the softmax; ``state``/``return_state`` as for
        :meth:`feed_forward`."""
        return self._pick(self.layers[-1].full_name("pre"), x, state, return_state, kwargs)

    def predict_sequence(
        self,
        labels: Sequence[int],
        steps: int,
        streams: int = 1,
        rng: Rng = None,
        stateful: bool = False,
        temperature: float = 1,
    ) -> Any:
        """Generate labels that continue a seed sequence, one step at a time.

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
        """
        if (
            not isinstance(temperature, (int, float, np.integer, np.floating))
            or isinstance(temperature, bool)
            or not temperature > 0
        ):
            raise util.ConfigurationError(
                "predict_sequence: temperature must be a positive number, not {!r}".format(
                    temperature
                )
            )
        if stateful:
            yield from self._sample_stateful(labels, steps, streams, rng, temperature)
            return
        if rng is None or isinstance(rng, int):
            rng = np.random.RandomState(rng)
        batch = max(2, streams)
        if any(1 < i < batch for i in range(len(labels), len(labels) + steps)):
            raise IndexError(
                "predict_sequence: with streams={} the seed needs at least {} labels, not {}: "
                "at step i only the first i sequences are predicted (kept from the original, "
                "which failed here too)".format(streams, batch, len(labels))
            )
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
        """predict_sequence(stateful=True): one step per label."""
        width = self.layers[0].output_size
        labels = [int(k) for k in labels]
        bad = [k for k in labels if not 0 <= k < width]
        if bad:
            raise util.DataError(
                "predict_sequence: seed labels must be in [0, {}), not {}".format(width, bad)
            )
        if not isinstance(streams, (int, np.integer)) or isinstance(streams, bool) or streams < 1:
            raise util.ConfigurationError(
                "predict_sequence: streams must be a positive whole number, not {!r}".format(
                    streams
                )
            )
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
    """Probabilities ``pdf ** (1 / temperature)``, normalised in float64."""
    pdf = np.clip(np.asarray(pdf, "float64"), 0, None)
    if temperature != 1:
        with np.errstate(divide="ignore"):
            logs = np.log(pdf) / temperature
        pdf = np.exp(logs - logs.max())
    return pdf / pdf.sum()
