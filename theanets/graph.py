"""The Network class: layers, losses, the computation graph and its functions.

Training is delegated to :mod:`theanets.trainer` (choosing the trainer,
checking options and data, checkpoints); saving and loading to
:mod:`theanets.serialize`.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import warnings
from typing import Any

import numpy as np
import pytensor
import pytensor.tensor as TT

from . import (
    _buckets,
    _cache,
    _mode,
    checks,
    layers,
    losses,
    options,
    regularizers,
    serialize,
    streaming,
    trainer,
    util,
)

__all__ = ["Network"]


def _documented(method, model_options):
    """``method`` with the docstring of :func:`theanets.options.train_doc` for
    ``model_options`` (a model class's ``TRAIN_OPTIONS``)."""

    def documented(self, *args, **kwargs):
        return method(self, *args, **kwargs)

    functools.update_wrapper(documented, method)
    documented.__doc__ = options.train_doc(method.__name__, model_options)
    documented.model_options = model_options
    return documented


def _describe_source(filename_or_handle):
    """How a file given to ``load`` is named in messages."""
    if isinstance(filename_or_handle, (str, bytes, os.PathLike)):
        return repr(os.fsdecode(filename_or_handle))
    return "the file {!r}".format(getattr(filename_or_handle, "name", filename_or_handle))


class Network:
    """A neural network: a list of layers, a list of losses, and their graph.

    Parameters
    ----------
    layers : sequence of layer specs
        One spec per layer, first the input layer (see :meth:`add_layer`
        for the forms a spec may take). Layers are named ``in``, ``hid1``,
        ``hid2``, ..., ``out`` unless a spec names them.
    loss : str or dict
        The loss to minimise (see :mod:`theanets.losses`); default ``'mse'``.
    weighted : bool
        If True, the loss takes an extra array of weights, shaped like the
        target.
    rng : int or numpy.random.RandomState
        Seed of the initial parameters. With an int every layer starts its
        own ``RandomState(rng)``, exactly as the original library did, so the
        same seed gives the same initial parameters. An int must be a numpy
        seed (0 to 2**32 - 1).

    Attributes
    ----------
    layers : list of Layer
    losses : list of Loss

    Raises
    ------
    ConfigurationError
        For a bad spec (see :meth:`add_layer`), an ``rng`` that is not None,
        a numpy seed or a RandomState, or sizes given as separate arguments
        (``Regressor(10, 20, 1)``: "perhaps you meant Regressor([10, 20,
        1])").

    Notes
    -----
    As in the original, a network of only an input layer (``Network([3])``)
    or of no layers (``Network()``) is built: layers can be bound to it, or
    added one by one with :meth:`add_layer` (and bound with
    ``layer.bind(network)``). Such a network cannot compute: predicting,
    scoring, building the graph and training raise a ConfigurationError
    until it has an output layer.

    Examples
    --------
    >>> import theanets
    >>> net = theanets.Network([3])
    >>> layer = theanets.layers.Feedforward(inputs='in', size=4, name='l')
    >>> layer.bind(net)
    >>> [p.name for p in layer.params]
    ['l.w', 'l.b']
    >>> net.build_graph()  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    theanets.util.ConfigurationError: Network.build_graph: a network needs an input layer ...
    """

    DEFAULT_OUTPUT_ACTIVATION = "linear"
    #: Training options read besides the optimizers', regularizers' and
    #: datasets' own: {name: (default, description)}. Subclasses extend it.
    TRAIN_OPTIONS = options.described(*options.MODEL_OPTIONS)
    INPUT_NDIM = 2
    OUTPUT_NDIM = 2

    def __init__(self, layers=(), loss="mse", weighted=False, rng=13):
        name = type(self).__name__
        self._rng = checks.check_rng("rng", rng, name)
        self.layers = []
        self.losses = []
        self._graphs = {}
        self._caches = self._new_caches()
        layers = self._layer_specs(layers, loss, weighted)
        for i, spec in enumerate(layers):
            last = i == len(layers) - 1
            self.add_layer(
                layer=spec,
                name="in" if i == 0 else "out" if last else "hid{}".format(i),
                activation=self.DEFAULT_OUTPUT_ACTIVATION if last else "relu",
            )
        for layer in self.layers:
            layer.bind(self)
        if loss and self.layers:
            self.set_loss(
                loss,
                weighted=weighted,
                target=self.OUTPUT_NDIM,
                output_name=self.layers[-1].output_name,
            )

    def _layer_specs(self, layers, loss, weighted):
        """The constructor's ``layers`` as a list; a clear error for a bare int.

        ``Regressor(10, 20, 1)`` (sizes as separate arguments) would make 20
        the loss and 1 the weighted flag; the original failed with "'int'
        object is not iterable".
        """
        name = type(self).__name__
        if checks.is_count(layers):
            sizes = [layers] + [v for v in (loss, weighted) if checks.is_count(v)]
            meant = ", ".join(str(v) for v in sizes) if len(sizes) > 1 else "{}, ...".format(layers)
            raise util.ConfigurationError(
                "{}: layers must be a list of layer specs, not the int {!r}; perhaps you "
                "meant {}([{}])".format(name, layers, name, meant)
            )
        if isinstance(layers, (str, bytes, dict)) or not hasattr(layers, "__iter__"):
            raise util.ConfigurationError(
                "{}: layers must be a list of layer specs (e.g. [3, 4, 2]), not {!r}".format(
                    name, layers
                )
            )
        return list(layers)

    def _check_complete(self, caller):
        """Refuse to compute with a network that has no output layer, or
        layers that are not bound.

        A network of only an input layer (``Network([3])``) or of none
        (``Network()``) is built, as in the original, so that layers can be
        bound to it or added to it one by one; it cannot predict or train
        (its "output" would be its input).
        """
        name = type(self).__name__
        if len(self.layers) < 2:
            have = (
                "only one layer ({!r})".format(self.layers[0].name) if self.layers else "no layers"
            )
            raise util.ConfigurationError(
                "{}.{}: a network needs an input layer and an output layer, but this one has "
                "{}; build it with both, e.g. {}([3, 2]), or add the output with "
                "add_layer(...) and bind it".format(name, caller, have, name)
            )
        for layer in self.layers:
            if not layer._output_shapes:
                raise util.ConfigurationError(
                    "{}.{}: {} is not bound: a layer added with add_layer after the network "
                    "was built must be bound with layer.bind(network)".format(
                        name, caller, layer._context()
                    )
                )

    # ----- building -------------------------------------------------------

    def add_layer(self, layer: Any = None, **kwargs: Any) -> Any:
        """Add a layer to the network (it is bound by the constructor).

        Parameters
        ----------
        layer : int, tuple, dict, str or Layer
            * an int: the number of units (a feedforward layer, or the input
              layer if it is the first);
            * a tuple of ints: the per-example shape;
            * a tuple mixing an int (size), registered layer forms (``'ff'``,
              ``'tied'``, ``'softmax'``, ...) and activation names;
            * a dict: ``form`` plus keyword arguments of the layer;
            * a string: a layer form with no size (``'flat'``);
            * a Layer instance, added as is.
        **kwargs
            Defaults for the layer's keyword arguments (name, activation).

        Raises
        ------
        ConfigurationError
            For an unknown form (an UnknownNameError, also a KeyError; the
            abstract ``'layer'`` is not a form), a duplicate size, a tied
            layer without a partner, a duplicate input name, a duplicate
            layer name (the original accepted duplicate names and then mixed
            up the layers' outputs), or a name holding ``':'`` or a NUL.

        Warns
        -----
        theanets.util.SpecWarning
            For a tuple naming two layer forms or two activations (the last
            is used, as in the original, which said nothing), and, when the
            layer is bound, for a dict key that the layer does not read
            (ignored, as in the original; "perhaps you meant ..."; see
            :meth:`theanets.layers.Layer.option_names`).

        Examples
        --------
        >>> import warnings
        >>> import theanets
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter('always')
        ...     net = theanets.Regressor([3, (4, 'tanh', 'relu'), 2])
        >>> print(caught[0].message)  # doctest: +NORMALIZE_WHITESPACE
        layer 'hid1': spec (4, 'tanh', 'relu') names two activations, 'tanh' and 'relu';
        only the last, 'relu', is used (to apply both, write 'tanh+relu')
        """
        if isinstance(layer, layers.Layer):
            self._check_new_name(layer)
            self.layers.append(layer)
            return layer
        name = kwargs.get("name", "?")
        context = "layer {!r}: ".format(name)
        form = kwargs.pop("form", "ff" if self.layers else "input")
        if isinstance(layer, str):
            form = layer
        elif isinstance(layer, (tuple, list)) and layer and all(checks.is_count(x) for x in layer):
            kwargs["shape"] = tuple(int(x) for x in layer)
        elif isinstance(layer, (tuple, list)):
            sized = False
            seen: dict[str, Any] = {}
            for item in layer:
                if isinstance(item, str):
                    what = "form" if layers.Layer.is_registered(item) else "activation"
                    if what in seen:
                        self._warn_duplicate(context, layer, what, seen[what], item)
                    seen[what] = item
                if isinstance(item, str) and layers.Layer.is_registered(item):
                    form = item
                elif isinstance(item, str):
                    kwargs["activation"] = item
                elif checks.is_count(item):
                    if sized:
                        raise util.ConfigurationError(
                            "{}duplicate layer sizes in spec {!r}".format(context, layer)
                        )
                    kwargs["size"] = int(item)
                    sized = True
                else:
                    raise util.ConfigurationError(
                        "{}cannot understand {!r} in spec {!r}: expected an int size, "
                        "a layer form or an activation name".format(context, item, layer)
                    )
        elif isinstance(layer, dict):
            for key, value in layer.items():
                if key == "form":
                    form = value
                else:
                    kwargs[key] = value
        elif checks.is_count(layer):
            kwargs["size"] = int(layer)
        elif layer is not None:
            raise util.ConfigurationError(
                "{}a layer spec must be an int, tuple, dict, string or Layer, not {!r}".format(
                    context, layer
                )
            )

        if not isinstance(form, str) or not layers.Layer.is_registered(form):
            raise util.unknown_name("layer form", form, layers.Layer.names(), context=context)
        form = form.lower()

        if form == "input":
            if "shape" not in kwargs:
                kwargs.setdefault("ndim", self.INPUT_NDIM)
        else:
            if self.layers:
                kwargs.setdefault("inputs", self.layers[-1].output_name)
            kwargs.setdefault("rng", self._rng)

        if form == "tied" and "partner" not in kwargs:
            kwargs["partner"] = self._find_tied_partner(context)

        new = layers.Layer.build(form, **kwargs)
        self._check_new_name(new)
        self.layers.append(new)
        return new

    @staticmethod
    def _warn_duplicate(context, spec, what, first, second):
        """A tuple spec naming two layer forms or two activations: the original
        used the last one silently; so does this, with a SpecWarning."""
        hint = (
            " (to apply both, write {!r})".format("{}+{}".format(first, second))
            if what == "activation"
            else ""
        )
        warnings.warn(
            "{}spec {!r} names two {}s, {!r} and {!r}; only the last, {!r}, is used{}".format(
                context, spec, what, first, second, second, hint
            ),
            util.SpecWarning,
            stacklevel=util.outside_stacklevel(),
        )

    def _check_new_name(self, new):
        """A new layer's name must differ from every existing layer's name."""
        context = "layer {!r}: ".format(new.name)
        if isinstance(new, layers.Input) and new.name in [v.name for v in self.inputs]:
            raise util.ConfigurationError("{}duplicate input name {!r}".format(context, new.name))
        if new.name in [l.name for l in self.layers]:
            raise util.ConfigurationError(
                "{}duplicate layer name {!r}: the network already has a layer of that name "
                "(layers: {})".format(context, new.name, [l.name for l in self.layers])
            )

    def _find_tied_partner(self, context):
        """The layer a new tied layer mirrors: walk back, pairing tied layers."""
        depth = 1
        for layer in reversed(self.layers):
            depth += 1 if isinstance(layer, layers.Tied) else -1
            if depth == 0:
                return layer.name
        raise util.ConfigurationError(
            "{}cannot find partner for tied layer: every earlier layer is already "
            "paired (layers: {})".format(context, [l.name for l in self.layers])
        )

    def add_loss(self, loss: Any = None, **kwargs: Any) -> Any:
        """Add a loss to the network.

        Parameters
        ----------
        loss : str, dict or Loss
            A Loss instance is added as is; a string names the loss form
            (default ``'mse'``); a dict gives ``form`` and keyword arguments.
        **kwargs
            Keyword arguments of the loss (``weight``, ``target``,
            ``weighted``, ``output_name``, ...). ``target`` defaults to an
            array with the model's INPUT_NDIM dimensions and ``output_name``
            to the last layer's output.
        """
        if isinstance(loss, losses.Loss):
            self.losses.append(loss)
            return loss
        if not self.layers and "output_name" not in kwargs:
            raise util.ConfigurationError(
                "{}.add_loss: the network has no layers yet, so a loss has no output to "
                "compare; add the layers first".format(type(self).__name__)
            )
        form = kwargs.pop("form", None) or loss or "mse"
        options = dict(target=self.INPUT_NDIM)
        if self.layers:
            options["output_name"] = self.layers[-1].output_name
        options.update(kwargs)
        if isinstance(loss, dict):
            options.update({k: v for k, v in loss.items() if k != "form"})
            form = loss.get("form", "mse")
        if not isinstance(form, str) or not losses.Loss.is_registered(form):
            raise util.unknown_name("loss", form, losses.Loss.names())
        new = losses.Loss.build(form.lower(), **options)
        self.losses.append(new)
        return new

    def set_loss(self, *args: Any, **kwargs: Any) -> Any:
        """Replace all losses with one: arguments as :meth:`add_loss`."""
        self.losses = []
        return self.add_loss(*args, **kwargs)

    # ----- introspection --------------------------------------------------

    @property
    def inputs(self) -> list[Any]:
        """Symbolic input variables, one per Input layer, in layer order."""
        return [layer.input for layer in self.layers if isinstance(layer, layers.Input)]

    @property
    def variables(self) -> list[Any]:
        """All symbolic data the training loss needs: inputs, targets, weights.

        This is the order of arrays in training data (``[X, y]``,
        ``[X, y, w]``, or ``[X]`` for an autoencoder). Variables are
        de-duplicated by name.
        """
        result = list(self.inputs)
        seen = set(v.name for v in result)
        for loss in self.losses:
            for var in loss.variables:
                if var.name not in seen:
                    seen.add(var.name)
                    result.append(var)
        return result

    @property
    def params(self) -> list[Any]:
        """All parameters (shared variables), in layer order."""
        return [param for layer in self.layers for param in layer.params]

    @property
    def num_params(self) -> int:
        """Total number of parameter values."""
        return sum(int(np.prod(p.get_value().shape)) for p in self.params)

    def find(self, which: int | str, param: int | str) -> Any:
        """Get a parameter of a layer.

        Parameters
        ----------
        which : int or str
            Layer index (0 is the input layer) or layer name.
        param : int or str
            Index into the layer's parameters, or the name suffix (``'w'``).

        Raises
        ------
        UnknownNameError
            (a KeyError) if there is no such layer or parameter.
        """
        return checks.find_layer(self.layers, which).find(param)

    # ----- graph ----------------------------------------------------------

    def _hash(self, regs=()):
        """A key for the graph built with regularizers ``regs``."""
        # Layer and loss identities are part of the key: a new layer with an
        # old one's name and shape (a layerwise stage's output) is a new graph.
        parts = [(type(l).__name__, l.name, l.output_shape, id(l)) for l in self.layers]
        parts += [(type(l).__name__, l.weight, l.output_name, id(l)) for l in self.losses]
        parts += [r.graph_key() for r in regs]
        return hashlib.md5(repr(parts).encode("utf8")).hexdigest()

    #: The most entries each of a model's own caches keeps.
    CACHE_SIZES = dict(
        functions=32, optimizers=trainer.CACHED_OPTIMIZERS, layerwise=16, pretraining=4
    )

    def _new_caches(self) -> _cache.NamedCaches:
        return _cache.NamedCaches(**self.CACHE_SIZES)

    def structure_key(self, regularizers: Any = ()) -> str:
        """A key of the structure of the graph built with ``regularizers``.

        Two models with the same key build the same graph with their own
        parameters: the same model class, layer specs (forms, sizes, shapes,
        activations, connections; not the seeds that only initialize the
        parameters), losses, regularizers (with the seeds of their noise
        and dropout), and float type. Compiled functions are shared between
        models under this key: a model of a known structure gets copies of
        the functions compiled for the first, with its own parameters.

        Parameters
        ----------
        regularizers : sequence of Regularizer
            As for :meth:`build_graph`.

        Returns
        -------
        str
            A hexadecimal digest.

        Examples
        --------
        >>> import theanets
        >>> a = theanets.Regressor([3, 4, 2], rng=1)
        >>> b = theanets.Regressor([3, 4, 2], rng=2)
        >>> a.structure_key() == b.structure_key()
        True
        >>> a.structure_key() == theanets.Regressor([3, 5, 2]).structure_key()
        False
        """
        parts: list[Any] = [type(self).__module__, type(self).__name__, pytensor.config.floatX]
        for layer in self.layers:
            spec = {k: v for k, v in layer.to_spec().items() if k != "rng"}
            parts.append((type(layer).__name__, sorted(spec.items(), key=repr), layer.output_shape))
        for loss in self.losses:
            parts.append(
                (
                    type(loss).__name__,
                    loss.weight,
                    loss.output_name,
                    [(v.name, str(v.type)) for v in loss.variables],
                )
            )
        parts += [r.graph_key() for r in regularizers]
        return hashlib.md5(repr(parts).encode("utf8")).hexdigest()

    def build_graph(self, regularizers: Any = ()) -> tuple[dict[str, Any], list[Any]]:
        """Connect the layers into a symbolic graph.

        Parameters
        ----------
        regularizers : sequence of Regularizer
            Each may modify every layer's outputs (noise, dropout) before
            later layers use them.

        Returns
        -------
        outputs : dict
            Full output name (``'hid1:out'``) -> symbolic expression.
        updates : list
            Update pairs required by the layers and regularizers (scan
            states, random generator states); usually empty.
        """
        self._check_complete("build_graph")
        key = self._hash(regularizers)
        if key not in self._graphs:
            util.log("building computation graph")
            self._graphs[key] = self._connect(regularizers)
        return self._graphs[key]

    def _connect(self, regularizers=(), connect=None):
        """Connect the layers in order, as :meth:`build_graph` does, uncached.

        ``connect(layer, outputs)`` returns a layer's ``(outputs, updates)``
        (default: ``layer.connect(outputs)``); stateful prediction passes one
        that starts recurrent layers from given states. Returns ``(outputs,
        updates)``.
        """
        outputs, updates = {}, []
        for layer in self.layers:
            out, upd = connect(layer, outputs) if connect else layer.connect(outputs)
            for reg in regularizers:
                reg.modify_graph(out)
            outputs.update(out)
            updates.extend(upd)
        for reg in regularizers:
            updates.extend(reg.updates())
        return outputs, updates

    def _compile(self, key, inputs, outputs, updates=(), share=None):
        """Compile (once per key) a function, kept in the model's ``functions`` cache.

        ``share`` (default: ``key`` with the model's :meth:`structure_key`)
        names the function for models of the same structure, which get a
        copy of it (see :func:`theanets._mode.function`).
        """
        cache = self._caches["functions"]
        fn = cache.get(key)
        if fn is None:
            fn = _mode.function(
                inputs,
                outputs,
                updates=updates,
                on_unused_input="ignore",
                share=share if share is not None else (self.structure_key(), key[0]),
            )
            cache.put(key, fn)
        return fn

    def _expected_inputs(self):
        return [
            checks.Expected(
                layer.name, len(layer.output_shape) + 1, layer.output_shape, sparse=layer.sparse
            )
            for layer in self.layers
            if isinstance(layer, layers.Input)
        ]

    def _output_layer(self, output_name):
        prefix, _, suffix = output_name.partition(":")
        for layer in self.layers:
            if layer.name == prefix and suffix in layer._output_shapes:
                return layer
        return None

    def _expected_variables(self):
        """An :class:`~theanets.checks.Expected` per array of ``variables``."""
        result = self._expected_inputs()
        seen = set(e.name for e in result)
        for loss in self.losses:
            layer = self._output_layer(loss.output_name)
            out_shape = layer.output_shape if layer is not None else None
            target = loss.variables[0]
            is_int = target.dtype.startswith("int")
            if is_int:
                shape = out_shape[:-1] if out_shape is not None else None
            else:
                shape = out_shape
            if shape is not None and len(shape) != target.ndim - 1:
                shape = None
            for var in loss.variables:
                if var.name in seen:
                    continue
                seen.add(var.name)
                if var is target and is_int:
                    result.append(
                        checks.Expected(
                            var.name,
                            var.ndim,
                            shape,
                            dtype="int",
                            classes=out_shape[-1] if out_shape else None,
                        )
                    )
                else:
                    result.append(
                        checks.Expected(
                            var.name,
                            var.ndim,
                            shape,
                            weights=var is getattr(loss, "_weights", None),
                        )
                    )
        return result

    def _check_input(self, caller, x):
        """Check and cast the single input array of feed_forward/predict."""
        expected = self._expected_inputs()
        if len(expected) != 1:
            raise util.DataError(
                "{} takes one input array, but this network has {} inputs ({}); "
                "compile a function of model.inputs instead".format(
                    caller, len(expected), ", ".join(e.name for e in expected)
                )
            )
        return checks.prepare_one(caller, expected[0], x)

    def feed_forward(
        self, x: Any, *, batch_size: int | None = None, **kwargs: Any
    ) -> dict[str, np.ndarray]:
        """Compute every output of the network for input ``x``.

        Parameters
        ----------
        x : ndarray (or scipy.sparse matrix for a sparse input)
            Input data, examples along axis 0. A :class:`numpy.memmap` is
            read one slice of ``batch_size`` rows at a time.
        batch_size : int, optional
            Compute the outputs this many examples at a time (into one
            result, the same as one call for a model without noise or
            dropout): for inputs too large to pass to one compiled call, or
            stored on disk. Every output is kept, the input layer's (a copy
            of ``x``) among them: for inputs larger than memory use
            ``predict`` (or ``predict_proba``, ``encode``), which keeps one.
            Default: all examples at once.
        **kwargs
            Regularizers (``hidden_dropout=0.5``, ``input_noise=0.1``, ...)
            applied while computing; see :func:`theanets.regularizers.from_kwargs`.

        Returns
        -------
        dict mapping each output name (``'hid1:out'``) to an ndarray.
        """
        self._check_complete("feed_forward")
        caller = "{}.feed_forward".format(type(self).__name__)
        x = self._check_input(caller, x)
        if batch_size is not None:
            checks.check_int("{}: batch_size".format(caller), batch_size, 1)
            return streaming.in_batches(
                lambda rows: self.feed_forward(rows, **kwargs), x, batch_size, caller
            )
        if streaming.is_streamed(x):  # a memmap in one call: read into memory
            x = streaming.read(x, slice(None))
        regs = regularizers.from_kwargs(self, **kwargs)
        key = self._hash(regs)
        outputs, updates = self.build_graph(regs)
        labels = sorted(outputs)
        ndims = [outputs[l].ndim for l in labels]
        # random draws and updates would change with padding
        padded = not regs and not updates and isinstance(x, np.ndarray)
        rows, steps = _buckets.padding_of(self) if padded else (False, None)
        fn = None
        if steps == "length":
            # backward layers: a function of the number of real steps too,
            # looked up before the mode is asked (no graph walk per call)
            fn = self._caches["functions"].get(("feed_forward_lengths", key))
            if fn is None and _mode.compiles_per_shape(self.inputs, list(outputs.values())):
                fn = self._lengths_function(key, labels)
        if fn is not None:
            return dict(zip(labels, _buckets.call_padded(fn, x, rows, steps, ndims), strict=True))
        fn = self._compile(
            ("feed_forward", key),
            self.inputs,
            [outputs[l] for l in labels],
            updates,
            share=("feed_forward", self.structure_key(regs)),
        )
        if not padded or not _mode.static_shapes(fn):
            results = fn(x)
        else:
            results = _buckets.call_padded(fn, x, rows, "end" if steps else None, ndims)
        return dict(zip(labels, results, strict=True))

    def _lengths_function(self, key: Any, labels: list[str]) -> Any:
        """The outputs ``labels`` of sequences padded at their end, as a
        compiled function of the input and the number of real steps (see
        :func:`theanets.layers.recurrent.base.real_length`), kept in the
        ``functions`` cache under ``('feed_forward_lengths', key)``."""
        from .layers.recurrent.base import real_length

        length = TT.lscalar("length")
        with real_length(length):
            outputs, _ = self._connect()
        return self._compile(
            ("feed_forward_lengths", key),
            list(self.inputs) + [length],
            [outputs[l] for l in labels],
            share=("feed_forward_lengths", self.structure_key()),
        )

    def predict(self, x: Any, **kwargs: Any) -> np.ndarray:
        """Compute the network's output (the last layer's ``out``) for ``x``.

        Parameters
        ----------
        x : ndarray
            Input data, examples along axis 0.
        **kwargs
            ``batch_size=`` and regularizers, as for :meth:`feed_forward`.

        Returns
        -------
        ndarray
            The output layer's values, one row per example.
        """
        self._check_complete("feed_forward")
        return self._output(x, self.layers[-1].output_name, **kwargs)

    def _output(self, x: Any, name: str, batch_size: int | None = None, **kwargs: Any) -> Any:
        """The output ``name`` of :meth:`feed_forward` alone.

        In batches, only this output is stitched into one array: the others
        (the input layer's, a copy of ``x``, among them) would take as much
        memory as the data.
        """
        if batch_size is None:
            return self.feed_forward(x, **kwargs)[name]
        self._check_complete("predict")
        caller = "{}.predict".format(type(self).__name__)
        x = self._check_input(caller, x)
        checks.check_int("{}: batch_size".format(caller), batch_size, 1)
        return streaming.in_batches(
            lambda rows: {name: self.feed_forward(rows, **kwargs)[name]}, x, batch_size, caller
        )[name]

    def score(self, x: Any, y: Any, w: Any = None, **kwargs: Any) -> float:
        """Weighted coefficient of determination (R^2) of predictions of ``y``.

        ``1 - sum(w (y - yhat)^2) / sum(w (y - mean(y))^2)`` where mean(y) is
        the mean of all values of ``y``; ``w`` defaults to ones.
        """
        caller = "{}.score".format(type(self).__name__)
        yhat = self.predict(x, **kwargs)
        y, w = checks.prepare_scored(caller, yhat, y, w)
        u = y - yhat
        v = y - y.mean()
        if w is None:
            w = np.ones_like(u)
        return 1 - (w * u * u).sum() / (w * v * v).sum()

    # ----- training expressions -------------------------------------------

    def _check_losses(self):
        """Every loss variable must be one of ``variables`` (see add_loss)."""
        by_name = {v.name: v for v in self.variables}
        for loss in self.losses:
            for var in loss.variables:
                if by_name.get(var.name) is not var:
                    raise util.ConfigurationError(
                        "{} on {!r} needs its own {!r} array, but another loss already "
                        "has a data variable named {!r}; pass target= (e.g. the first "
                        "loss's target, model.losses[0].variables[0]) to add_loss".format(
                            type(loss).__name__, loss.output_name, var.name, var.name
                        )
                    )

    def loss(self, **kwargs: Any) -> Any:
        """The symbolic training loss: weighted losses plus regularizers.

        Parameters
        ----------
        **kwargs
            Regularizers; see :func:`theanets.regularizers.from_kwargs`.
        """
        self._check_losses()
        regs = regularizers.from_kwargs(self, **kwargs)
        outputs, _ = self.build_graph(regs)
        total = sum(loss.weight * loss(outputs) for loss in self.losses)
        for reg in regs:
            total = total + reg.weight * reg.loss(self.layers, outputs)
        return total

    def monitors(self, **kwargs: Any) -> list[tuple[str, Any]]:
        """Named symbolic values to report during training.

        The first is ``('err', <first loss>)``. ``monitors=`` (a dict, or a
        list of pairs) maps glob patterns of output or parameter names to
        levels: a number ``v`` gives ``'<name><v'``, the fraction of values
        below ``v``; a list of numbers gives one such monitor each; a dict of
        ``{label: callable}`` gives ``'<name>:<label>'`` = ``callable(expr)``.
        A pattern that matches nothing adds nothing, as in the original, and
        is logged (a WARNING of the ``theanets`` logger, with "perhaps you
        meant ...").

        Raises
        ------
        ConfigurationError
            If ``monitors`` is not a dict or a list of pairs (a function, for
            instance), or levels are not numbers or ``{label: callable}``.
        """
        regs = regularizers.from_kwargs(self, **kwargs)
        outputs, _ = self.build_graph(regs)
        result = [("err", self.losses[0](outputs))]
        for pattern, levels in self._monitor_spec(kwargs.get("monitors")):
            matches = list(util.outputs_matching(outputs, pattern)) + list(
                util.params_matching(self.layers, pattern)
            )
            if not matches:
                # Logged, not warned: the original reported nothing silently,
                # and its own tests pass a pattern that matches nothing.
                names = sorted(outputs) + [p.name for p in self.params]
                util.say(
                    "theanets.graph",
                    "{}: monitor pattern {!r} matches no output or "
                    "parameter, so it reports nothing{}; outputs and parameters are: "
                    "{}".format(
                        type(self).__name__,
                        pattern,
                        util.suggest(pattern, names) if isinstance(pattern, str) else "",
                        ", ".join(names),
                    ),
                    level=logging.WARNING,
                )
            for name, expr in matches:
                result.extend(self._level_monitors(name, expr, levels))
        return result

    @staticmethod
    def _monitor_spec(spec):
        """The ``monitors=`` option as a list of (pattern, levels) pairs."""
        example = "e.g. monitors={'hid1:out': [0.1, 0.5]} or {'*.w': {'mean': f}}"
        if spec is None:
            return []
        if isinstance(spec, dict):
            return list(spec.items())
        if not isinstance(spec, (list, tuple)):
            raise util.ConfigurationError(
                "monitors must be a dict of output or parameter glob patterns -> levels, or a "
                "list of (pattern, levels) pairs ({}), not {!r}".format(example, spec)
            )
        for item in spec:
            if not (isinstance(item, (list, tuple)) and len(item) == 2):
                raise util.ConfigurationError(
                    "monitors given as a list must hold (pattern, levels) pairs ({}), not "
                    "{!r}".format(example, item)
                )
        return list(spec)

    @staticmethod
    def _level_monitors(name, expr, levels):
        if isinstance(levels, dict):
            levels = list(levels.items())
        if checks.is_number(levels):
            levels = [levels]
        if not isinstance(levels, (list, tuple)):
            raise util.ConfigurationError(
                "monitor levels for {!r} must be a number, a list of numbers or a dict of "
                "{{label: callable}}, not {!r}{}".format(
                    name,
                    levels,
                    " (to report f(value), give {'label': f})" if callable(levels) else "",
                )
            )
        for level in levels:
            if isinstance(level, tuple) and len(level) == 2 and callable(level[1]):
                yield "{}:{}".format(name, level[0]), level[1](expr)
            elif checks.is_number(level):
                yield (
                    "{}<{}".format(name, level),
                    TT.cast(TT.lt(expr, level), pytensor.config.floatX).mean(),
                )
            else:
                raise util.ConfigurationError(
                    "monitor levels for {!r} must be numbers or (label, callable) pairs, "
                    "not {!r}".format(name, level)
                )

    def updates(self, **kwargs: Any) -> list[Any]:
        """Update pairs the graph needs (from recurrent scans; usually empty)."""
        regs = regularizers.from_kwargs(self, **kwargs)
        return self.build_graph(regs)[1]

    # ----- training -------------------------------------------------------

    def _training_variant(self):
        """What, besides the layers, losses and options, shapes the training step.

        Part of the key of the compiled optimizers (see
        :func:`theanets.trainer.optimizer_for`); None for a plain network.
        A model family whose training graph can differ for the same layers
        (recurrent models carrying state across batches) returns an object
        that tells the variants apart.
        """
        return None

    def _pretraining_model(self, specs):
        """The shadow autoencoder of ``algo='pretrain'``, built from layer ``specs``.

        A network with the mean squared error of reconstructing its first
        input. Model families override it (the feedforward models build a
        :class:`theanets.Autoencoder`).
        """
        shadow = Network(layers=specs, loss=None, rng=getattr(self, "_rng", 13))
        shadow.set_loss("mse", target=shadow.inputs[0])
        return shadow

    def itertrain(
        self,
        train,
        valid=None,
        algo="rmsprop",
        subalgo="rmsprop",
        save_every=0,
        save_progress=None,
        **kwargs,
    ):
        self._check_complete("train")
        options.check_values(self, kwargs, save_every=save_every)
        return trainer.itertrain(
            self,
            train,
            valid=valid,
            algo=algo,
            subalgo=subalgo,
            save_every=save_every,
            save_progress=save_progress,
            **kwargs,
        )

    def train(
        self,
        train,
        valid=None,
        algo="rmsprop",
        subalgo="rmsprop",
        save_every=0,
        save_progress=None,
        **kwargs,
    ):
        result = None
        for result in self.itertrain(
            train,
            valid=valid,
            algo=algo,
            subalgo=subalgo,
            save_every=save_every,
            save_progress=save_progress,
            **kwargs,
        ):
            pass
        return result

    itertrain.__doc__ = options.train_doc("itertrain")
    train.__doc__ = options.train_doc("train")

    def __init_subclass__(cls, **kwargs):
        """A model class that extends ``TRAIN_OPTIONS`` gets train and itertrain
        methods whose docstrings list its options too."""
        super().__init_subclass__(**kwargs)
        if cls.TRAIN_OPTIONS is Network.TRAIN_OPTIONS:
            return
        for name in ("train", "itertrain"):
            method = getattr(cls, name)  # Network's, or documented for a base class
            if method is getattr(Network, name) or hasattr(method, "model_options"):
                setattr(cls, name, _documented(getattr(Network, name), cls.TRAIN_OPTIONS))

    # ----- persistence ----------------------------------------------------

    def __getstate__(self):
        return dict(layers=self.layers, losses=self.losses, rng=getattr(self, "_rng", 13))

    def __setstate__(self, state):
        if isinstance(state, tuple):  # (layers, losses), as the original stored it
            state = dict(layers=state[0], losses=state[1])
        self.layers = state["layers"]
        self.losses = state["losses"]
        self._rng = state.get("rng", 13)
        self._graphs = {}
        self._caches = self._new_caches()

    def save(self, filename_or_handle: Any, format: str | None = None) -> None:
        """Save the network to a path or an open binary file.

        Parameters
        ----------
        filename_or_handle : str, path-like or binary file handle
            Where to save. A path is written atomically: to a temporary file
            in the same folder, then renamed over the target, so a failed
            save never leaves a truncated file in place of a good one. A
            handle is written and left open.
        format : None, ``'pickle'`` or ``'safe'``
            ``'pickle'`` pickles the whole model (a path ending in ``.gz`` is
            compressed); loading a pickle runs code from the file.
            ``'safe'`` writes a numpy ``.npz`` archive of the parameters plus
            a JSON description (see :mod:`theanets.serialize`), which
            :meth:`load` reads without running anything from the file. None
            (the default) means ``'safe'`` if the path (or the handle's
            ``name``) ends in ``.npz`` (any case), else ``'pickle'``.

        Raises
        ------
        ConfigurationError
            For another ``format``, or, with ``'safe'``, for a model part that
            cannot be described in JSON (nothing is written then).

        Examples
        --------
        >>> import os, tempfile
        >>> import theanets
        >>> net = theanets.Regressor([3, 4, 2])
        >>> path = os.path.join(tempfile.mkdtemp(), 'model.npz')
        >>> net.save(path)  # the safe format, from the .npz suffix
        >>> [p.name for p in theanets.Regressor.load(path, allow_pickle=False).params]
        ['hid1.w', 'hid1.b', 'out.w', 'out.b']
        """
        serialize.save(self, filename_or_handle, format)

    @classmethod
    def load(cls, filename_or_handle: Any, allow_pickle: bool = True, **options: Any) -> Network:
        """Load a network saved with :meth:`save`, in either format.

        The format is told from the file's first bytes: a zip archive is the
        safe format (read by :func:`theanets.serialize.load_safe`, which runs
        nothing from the file); anything else is a pickle (gzip-compressed
        if the path ends in ``.gz``).

        A pickle is checked against an allowlist of what theanets writes
        before anything in it is unpickled (see the Security page of the
        guide); ``trusted=True`` skips that check, for trusted files only.
        For files from elsewhere prefer the safe format (save with
        ``format='safe'`` or to a ``.npz`` path) and load with
        ``allow_pickle=False``.

        Called on a model class (``Regressor.load``), a file holding a model
        of another class is returned as it was saved, as in the original,
        with a warning naming both classes.

        Parameters
        ----------
        filename_or_handle : str, path-like or binary file handle
            The file to read.
        allow_pickle : bool
            If False, only the safe format is read; a pickle is refused.
        **options
            ``trusted`` and ``allow_nonfinite``: see :func:`theanets.serialize.load`.

        Returns
        -------
        The saved network (of the class it was saved as).

        Raises
        ------
        theanets.util.LoadError
            If the file is truncated or corrupt; if it is not in the safe
            format and ``allow_pickle`` is False; or if it was written by the
            original Theano-based theanets (those pickles name Theano classes
            and cannot be read without Theano).
        """
        model = serialize.load(Network, filename_or_handle, allow_pickle, **options)
        if not isinstance(model, cls):
            warnings.warn(
                "{}.load: {} holds a {}.{}, not a {}; it is returned as it was saved (load it "
                "with {}.load to say so)".format(
                    cls.__name__,
                    _describe_source(filename_or_handle),
                    type(model).__module__,
                    type(model).__name__,
                    cls.__name__,
                    type(model).__name__,
                ),
                UserWarning,
                stacklevel=2,
            )
        return model
