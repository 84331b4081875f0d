"""The layer base class, the input layer and the structural layers.

A layer's life: constructed from keyword arguments (which it only stores);
``bind(network)`` resolves its input names to shapes, works out its output
shape, builds its activation and creates its parameters; ``connect(outputs)``
adds its symbolic outputs to the graph.
"""

from __future__ import annotations

import collections
import difflib
import inspect
import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pytensor
import pytensor.tensor as TT

from .. import activations, checks, util
from .._backend import sparse_input
from .._typing import Outputs, Symbolic

#: A per-example shape: one size per axis, None where unknown.
Shape = tuple[int | None, ...]

#: What ``transform`` returns: a variable, a dict or list of (suffix, variable)
#: pairs, and update pairs.
Transformed = tuple[Any, Sequence[tuple[Symbolic, Symbolic]] | None]


def _size(shape: Shape) -> int:
    """The number of values in an array of a fully known per-example ``shape``."""
    return math.prod(d for d in shape if d is not None)


__all__ = ["Layer", "Input", "Product", "Flatten", "Concatenate", "Reshape"]


class Layer(metaclass=util.Registrar):
    """Base class of layers.

    Parameters
    ----------
    name : str, optional
        The layer's name; ``'<classname><N>'`` with a global counter if not
        given. Network-built layers are named ``in``, ``hid<i>``, ``out``.
    size : int, optional
        Number of units (the last axis of the output).
    shape : tuple of int, optional
        Full per-example output shape; takes precedence over ``size``.
    inputs : str, Layer, or sequence of these
        Where the input comes from: output names (``'hid1:out'``) or layer
        names (``'hid1'`` means ``'hid1:out'``).
    activation : str, optional
        Name of the activation function (default ``'relu'``).
    rng : None, int or numpy.random.RandomState
        Source of initial parameter values (alias ``nrng``); an int seeds a
        fresh RandomState for this layer.
    mean, std, sparsity, diagonal : float, optional
        Initialisation of weight matrices; ``mean_<p>``, ``std_<p>``,
        ``sparsity_<p>``, ``diagonal_<p>`` apply to parameter ``<p>`` only
        (biases honour only the per-parameter forms).

    Raises
    ------
    ConfigurationError
        For a name that is not a string or holds ``':'`` or a NUL (output
        names are ``'<layer>:<output>'``), or an ``rng`` that is not None,
        an int seed in numpy's range (0 to 2**32 - 1) or a RandomState.

    Warns
    -----
    theanets.util.SpecWarning
        When first bound, for a keyword argument that the layer does not read
        (see :meth:`option_names`) and that is close to one it reads ("perhaps
        you meant ..."): ``Feedforward(size=3, actvation='tanh')``. A warning,
        not an error, because the original stored any keyword and ignored
        those it did not know, so such specs built (with the default
        activation). Keywords close to no option are kept silently, as notes
        that :meth:`to_spec` returns (the original kept them too).

    Notes
    -----
    To write a layer, subclass and implement ``setup()`` (create parameters
    with :meth:`add_weights` and :meth:`add_bias`) and ``transform(inputs)``
    (return the output expression, or a dict of named outputs, and a list of
    updates). The subclass is usable in specs by its lower-cased class name.
    Its constructor's named arguments are its options; a layer that reads
    other keywords from ``self.kwargs`` lists them in a class attribute
    ``OPTIONS`` (a tuple of names), so that they are not warned about.

    Examples
    --------
    >>> import warnings
    >>> import theanets
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter('always')
    ...     net = theanets.Regressor([3, dict(size=4, actvation='tanh'), 2])
    >>> print(caught[0].message)  # doctest: +ELLIPSIS
    layer 'hid1' (Feedforward): unknown option 'actvation' is ignored; perhaps you meant ...
    >>> net.layers[1].activate.name  # as in the original: the default
    'relu'
    """

    #: Keyword arguments layers read from ``self.kwargs``, besides their
    #: constructors' named arguments: the original's common options
    #: (``nrng`` is the old name of ``rng``).
    OPTIONS: tuple[str, ...] = (
        "size",
        "shape",
        "inputs",
        "activation",
        "rng",
        "nrng",
        "mean",
        "std",
        "sparsity",
        "diagonal",
        "radius",
    )

    #: Initialisation options that also exist per parameter: ``std_w``,
    #: ``mean_b``, ``sparsity_xh``, ``radius_hh``, ``diagonal_hh``, ...
    PARAM_OPTIONS: tuple[str, ...] = ("mean", "std", "sparsity", "diagonal", "radius")

    _count = 0

    def __init__(self, name: str | None = None, **kwargs: Any) -> None:
        Layer._count += 1
        self.name = checks.check_layer_name(
            name or "{}{}".format(type(self).__name__.lower(), Layer._count)
        )
        self.kwargs = kwargs
        rng = checks.check_rng("rng", kwargs.get("rng", kwargs.get("nrng")), self._context())
        if rng is None or checks.is_count(rng):
            rng = np.random.RandomState(rng)
        self.rng = rng
        self._input_shapes: collections.OrderedDict[str, Shape] = collections.OrderedDict()
        self._output_shapes: dict[str, Shape] = {}
        self._params: list[Symbolic] = []

    # ----- options --------------------------------------------------------

    @classmethod
    def option_names(cls, kwargs: Mapping[str, Any] | None = None) -> list[str]:
        """The keyword arguments this layer class reads, sorted.

        The named arguments of the constructors of the class and its bases,
        and the ``OPTIONS`` of each; the per-parameter forms of
        :data:`PARAM_OPTIONS` (``std_w``) are accepted besides. A layer that
        builds a worker layer from its keywords (one whose constructor takes
        ``worker``, as :class:`~theanets.layers.recurrent.Bidirectional`)
        also reads the worker's options, alone or prefixed ``fw_``/``bw_``;
        ``kwargs`` (the layer's keywords) names the worker.

        Examples
        --------
        >>> import theanets
        >>> names = theanets.layers.Tied.option_names()
        >>> 'partner' in names and 'activation' in names
        True
        """
        names = {"name"}
        worker = None
        for klass in cls.__mro__:
            names.update(klass.__dict__.get("OPTIONS", ()))
            init = klass.__dict__.get("__init__")
            if init is None:
                continue
            for param in inspect.signature(init).parameters.values():
                if (
                    param.kind in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY)
                    and param.name != "self"
                ):
                    names.add(param.name)
                    if param.name == "worker" and worker is None:
                        worker = param.default
        if "worker" in names:
            worker = (kwargs or {}).get("worker", worker)
            inner = cls.get_class(worker) if cls.is_registered(worker) else None
            if inner is not None and inner is not cls:
                inner = inner.option_names()
                names.update(inner)
                names.update("{}_{}".format(side, n) for n in inner for side in ("fw", "bw"))
        return sorted(names)

    def _is_option(self, key, names):
        if key in names:
            return True
        prefix, sep, rest = str(key).partition("_")
        return bool(sep and rest) and prefix in self.PARAM_OPTIONS

    #: How close (difflib's ratio) an unknown keyword must be to an option
    #: to be taken for a misspelling of it.
    MISSPELLING_CUTOFF = 0.7

    def _warn_unknown_options(self):
        """Warn (SpecWarning, once per layer, at its first bind) about each keyword
        argument that no part of the layer reads and that looks like a
        misspelt option.

        Other unknown keywords are kept, as the original kept every keyword:
        :meth:`to_spec` returns them, so they carry a model's own notes
        (the character model's ``alphabet``).
        """
        if self.__dict__.get("_options_checked"):
            return
        self._options_checked = True
        given = dict(self.kwargs)
        if isinstance(getattr(self, "worker", None), str):
            given["worker"] = self.worker
        names = type(self).option_names(given)
        shown = [n for n in names if not n.startswith(("fw_", "bw_")) or n in self.kwargs]
        for key in self.kwargs:
            if self._is_option(key, names):
                continue
            close = difflib.get_close_matches(str(key), names, n=3, cutoff=self.MISSPELLING_CUTOFF)
            if not close:
                continue
            warnings.warn(
                "{}: unknown option {!r} is ignored; perhaps you meant {} (the options of "
                "{} are: {}, and <{}>_<parameter>)".format(
                    self._context(),
                    key,
                    " or ".join(repr(c) for c in close),
                    type(self).__name__,
                    ", ".join(shown),
                    "|".join(self.PARAM_OPTIONS),
                ),
                util.SpecWarning,
                stacklevel=util.outside_stacklevel(),
            )

    # ----- naming ---------------------------------------------------------

    def full_name(self, name: str) -> str:
        """The full name of output or parameter ``name``: ``'<layer>:<name>'``."""
        return "{}:{}".format(self.name, name)

    @property
    def output_name(self) -> str:
        """Full name of the default output: ``'<layer>:out'``."""
        return self.full_name("out")

    def _param_name(self, name):
        return "{}.{}".format(self.name, name)

    def _context(self):
        return "layer {!r} ({})".format(self.name, type(self).__name__)

    # ----- shapes ---------------------------------------------------------

    @property
    def input_name(self) -> str:
        """Full name of the single input; ConfigurationError if not exactly one."""
        if len(self._input_shapes) != 1:
            raise util.ConfigurationError(
                "{} expects exactly one input, but has {}: {}".format(
                    self._context(), len(self._input_shapes), list(self._input_shapes)
                )
            )
        return next(iter(self._input_shapes))

    @property
    def input_shape(self) -> Shape:
        """Per-example shape of the single input."""
        return self._input_shapes[self.input_name]

    @property
    def input_size(self) -> int:
        """Size of the last axis of the single input."""
        size = self.input_shape[-1]
        if size is None:
            raise util.ConfigurationError(
                "{}: the size of input {!r} is not known".format(self._context(), self.input_name)
            )
        return size

    @property
    def output_shape(self) -> Shape:
        """Per-example shape of the default output (no batch axis)."""
        return self._output_shapes["out"]

    @property
    def output_size(self) -> int | None:
        """Size of the last axis of the default output."""
        return self.output_shape[-1]

    @property
    def params(self) -> list[Symbolic]:
        """Shared variables of this layer (its own, then its activation's)."""
        return self._params + list(getattr(getattr(self, "activate", None), "params", []))

    def _input_specs(self):
        inputs = self.kwargs.get("inputs", ())
        if isinstance(inputs, (str, Layer)):
            inputs = (inputs,)
        if not isinstance(inputs, (tuple, list)):
            raise util.ConfigurationError(
                "{}: inputs must be a name, a Layer, or a list of these, not {!r}".format(
                    self._context(), inputs
                )
            )
        return tuple(inputs)

    def bind(self, graph: Any, reset: bool = True, initialize: bool = True) -> None:
        """Resolve inputs and outputs against ``graph`` and create parameters.

        Parameters
        ----------
        graph : theanets.graph.Network
            The network whose ``layers`` this layer reads its inputs from.
        reset : bool
            Forget previously resolved shapes first.
        initialize : bool
            Create (and draw initial values for) parameters. Pass False to
            re-bind a layer whose parameters already exist.
        """
        self._warn_unknown_options()
        if reset:
            self._input_shapes.clear()
            self._output_shapes.clear()
        if self.kwargs.get("size") is not None:  # checked even where a layer ignores it
            checks.check_count("size", self.kwargs["size"], self._context())
        self.resolve_inputs(graph.layers)
        self.resolve_outputs()
        if initialize or not hasattr(self, "activate"):
            self.activate = activations.build(self.kwargs.get("activation", "relu"), self)
        if initialize:
            self._params = []
            try:
                self.setup()
            except util.AllocationError as err:
                if str(err).startswith(self._context()):
                    raise
                raise util.AllocationError("{}: {}".format(self._context(), err)) from err
        self.log()

    def _find_source(self, layers, ref):
        """The layer an input reference points at, and the full output name."""
        if isinstance(ref, Layer):
            ref = ref.output_name
        if not isinstance(ref, str):
            raise util.ConfigurationError(
                "{}: inputs must be names or layers, not {!r}".format(self._context(), ref)
            )
        prefix, _, suffix = ref.partition(":")
        source = checks.find_layer(
            [l for l in layers if l is not self],
            prefix,
            "input layer",
            "{}: ".format(self._context()),
        )
        return source, "{}:{}".format(prefix, suffix or "out")

    def resolve_inputs(self, layers: Sequence[Layer]) -> None:
        """Map each input name to the shape of the output it names."""
        for ref in self._input_specs():
            source, name = self._find_source(layers, ref)
            suffix = name.partition(":")[2]
            if suffix not in source._output_shapes:
                if not source._output_shapes:
                    raise util.ConfigurationError(
                        "{}: input {!r} comes from layer {!r}, which is not bound yet "
                        "(layers must come after their inputs)".format(
                            self._context(), name, source.name
                        )
                    )
                raise util.UnknownNameError(
                    "{}: layer {!r} has no output {!r} of known shape; use one of {}".format(
                        self._context(),
                        source.name,
                        suffix,
                        [source.full_name(k) for k in source._output_shapes],
                    )
                )
            self._input_shapes[name] = source._output_shapes[suffix]
        if not self._input_shapes:
            raise util.ConfigurationError(
                "{} has no inputs (only an input layer may come first, and inputs=... "
                "must name at least one layer)".format(self._context())
            )

    def resolve_outputs(self) -> None:
        """Work out the output shape from the inputs and ``size``/``shape``."""
        shapes = list(self._input_shapes.values())
        if shapes:
            first = shapes[0]
            for name, each in self._input_shapes.items():
                if len(each) != len(first) or any(
                    a is not None and b is not None and a != b
                    for a, b in zip(each[:-1], first[:-1], strict=True)
                ):
                    raise util.ConfigurationError(
                        "{}: incompatible input shapes {}".format(
                            self._context(),
                            ", ".join(
                                "{} {}".format(n, checks.shape_text(s))
                                for n, s in self._input_shapes.items()
                            ),
                        )
                    )
        shape = self.kwargs.get("shape")
        size = self.kwargs.get("size")
        if shape is not None:
            shape = checks.check_shape("shape", shape, self._context())
            if shape[-1] is None:
                raise util.ConfigurationError(
                    "{}: the last axis of shape={} must be a size".format(
                        self._context(), checks.shape_text(shape)
                    )
                )
        elif size is not None:
            size = checks.check_count("size", size, self._context())
        if shape is not None:
            self._output_shapes["out"] = shape
        elif size is not None and shapes:
            self._output_shapes["out"] = tuple(shapes[0][:-1]) + (size,)
        elif size is not None:
            self._output_shapes["out"] = (size,)
        else:
            raise util.ConfigurationError(
                "{} does not specify a size (give an int, size=..., or shape=...)".format(
                    self._context()
                )
            )

    # ----- parameters ----------------------------------------------------

    def setup(self) -> None:
        """Create this layer's parameters (none in the base class)."""

    def _option(self, key, name, default):
        """A per-parameter option ``key_name``, else layer-wide ``key``, else default."""
        return self._number(
            key, name, self.kwargs.get("{}_{}".format(key, name), self.kwargs.get(key, default))
        )

    def _number(self, key, name, value):
        """``value`` of initialisation option ``key`` for parameter ``name``,
        checked to be a real number."""
        if not checks.is_number(value):
            raise util.ConfigurationError(
                "{}: initialisation option {} for parameter {!r} must be a number, not {!r}".format(
                    self._context(), key, self._param_name(name), value
                )
            )
        return value

    def add_weights(
        self,
        name: str,
        nin: int,
        nout: int,
        mean: float = 0,
        std: float = 0,
        sparsity: float = 0,
        diagonal: float = 0,
    ) -> Symbolic:
        """Create a weight matrix parameter ``'<layer>.<name>'`` of shape (nin, nout).

        The default ``std`` is ``1 / sqrt(nin + nout)``; the layer's
        ``mean``/``std``/``sparsity``/``diagonal`` keyword arguments (and their
        ``_<name>`` forms) override the given defaults.
        """
        util.check_allocation(
            (nin, nout), "{}: parameter {!r}".format(self._context(), self._param_name(name))
        )
        glorot = 1 / np.sqrt(nin + nout)
        value = util.random_matrix(
            nin,
            nout,
            mean=self._option("mean", name, mean),
            std=self._option("std", name, std or glorot),
            sparsity=self._option("sparsity", name, sparsity),
            diagonal=self._option("diagonal", name, diagonal),
            rng=self.rng,
        )
        return self._add_param(name, value)

    def add_bias(self, name: str, size: int, mean: float = 0, std: float = 1) -> Symbolic:
        """Create a vector parameter ``'<layer>.<name>'``; only ``mean_<name>``
        and ``std_<name>`` override the defaults."""
        util.check_allocation(
            (size,), "{}: parameter {!r}".format(self._context(), self._param_name(name))
        )
        value = util.random_vector(
            size,
            mean=self._number("mean", name, self.kwargs.get("mean_{}".format(name), mean)),
            std=self._number("std", name, self.kwargs.get("std_{}".format(name), std)),
            rng=self.rng,
        )
        return self._add_param(name, value)

    def _add_param(self, name, value):
        # borrow: the fresh array becomes the parameter's storage, not a copy.
        param = pytensor.shared(value, name=self._param_name(name), borrow=True)
        self._params.append(param)
        return param

    def find(self, key: int | str) -> Symbolic:
        """This layer's own parameter by name suffix (``'w'``) or index.

        Raises
        ------
        UnknownNameError
            (a KeyError) listing the layer's parameters.
        """
        if checks.is_count(key) and -len(self._params) <= key < len(self._params):
            return self._params[key]
        for param in self._params:
            if param.name == self._param_name(key):
                return param
        raise util.UnknownNameError(
            "{} has no parameter {!r}; its parameters are {}".format(
                self._context(), key, [p.name for p in self._params]
            )
        )

    # ----- graph ----------------------------------------------------------

    def connect(
        self, inputs: Outputs
    ) -> tuple[dict[str, Symbolic], list[tuple[Symbolic, Symbolic]]]:
        """Add this layer's outputs to the graph.

        Parameters
        ----------
        inputs : dict
            Full output name -> symbolic expression for every output so far.

        Returns
        -------
        outputs : dict
            Full output name (``'<layer>:<name>'``) -> symbolic expression.
        updates : list
            Update pairs the layer needs (e.g. from scan); usually empty.
        """
        outputs, updates = self.transform(inputs)
        if isinstance(outputs, dict):
            outputs = sorted(outputs.items())
        elif not isinstance(outputs, (list, tuple)):
            outputs = [("out", outputs)]
        result = {}
        for suffix, expr in outputs:
            full = self.full_name(suffix)
            if expr.owner is not None:  # never rename the model's input variables
                expr.name = full
            result[full] = expr
        return result, list(updates or [])

    def transform(self, inputs: Outputs) -> Transformed:
        """Compute outputs from ``inputs``; returns ``(outputs, updates)``."""
        raise NotImplementedError("{} must implement transform(inputs)".format(type(self).__name__))

    def _only_input(self, inputs):
        return inputs[self.input_name]

    # ----- description ---------------------------------------------------

    def to_spec(self) -> dict[str, Any]:
        """A dict from which ``Network.add_layer`` rebuilds this layer."""
        spec = dict(**self.kwargs)
        spec.update(
            form=type(self).__name__.lower(),
            name=self.name,
            activation=self.kwargs.get("activation", "relu"),
        )
        return spec

    def log(self) -> None:
        """Log the layer's shape and parameters."""
        inputs = ", ".join(
            "{} {}".format(n, checks.shape_text(s)) for n, s in self._input_shapes.items()
        )
        util.log(
            'layer {0.__class__.__name__} "{0.name}" {1} {2} from {3}',
            self,
            checks.shape_text(self.output_shape),
            getattr(getattr(self, "activate", None), "name", ""),
            inputs or "-",
        )
        self.log_params()

    def log_params(self) -> int:
        """Log each parameter's shape; return the total number of values."""
        total = 0
        for param in self.params:
            value = param.get_value()
            total += value.size
            util.log("parameter {} {}", param.name, checks.shape_text(value.shape))
        return total

    def __repr__(self):
        return "{}({!r})".format(type(self).__name__, self.name)


class Input(Layer):
    """A layer that holds the network's input data.

    Parameters
    ----------
    name : str
        Layer name, and name of the symbolic input variable (default ``'in'``).
    ndim : int
        Dimensions of the data including the batch axis (2 for feedforward,
        3 for recurrent, 4 for images); ignored when ``shape`` is given.
        Sizes and shapes must be positive whole numbers (ConfigurationError
        otherwise; the original accepted 0 and failed later).
    sparse : bool or str
        ``True``/``'csr'`` or ``'csc'`` for a scipy.sparse matrix input
        (2 dimensions only).
    size : int or shape : tuple
        The number of features, or the per-example shape.
    """

    def __init__(
        self, name: str = "in", ndim: int = 2, sparse: bool | str = False, **kwargs: Any
    ) -> None:
        context = "layer {!r} (Input)".format(name)
        shape = kwargs.get("shape")
        if shape is not None:
            shape = checks.check_shape("shape", shape, context)
            ndim = 1 + len(shape)
            kwargs["shape"] = shape
        else:
            if not checks.is_count(ndim) or not 2 <= ndim < len(util.FLOAT_CONTAINERS):
                raise util.ConfigurationError(
                    "{}: ndim must be 2 to {}, not {!r}".format(
                        context, len(util.FLOAT_CONTAINERS) - 1, ndim
                    )
                )
            size = kwargs.pop("size", None)
            if size is not None:
                size = checks.check_count("size", size, context)
            kwargs["shape"] = (None,) * (ndim - 2) + (size,)
        kwargs["activation"] = "linear"
        kwargs.pop("inputs", None)
        super().__init__(name=name, **kwargs)
        if sparse:
            fmt = "csr" if sparse is True else str(sparse).lower()
            if fmt not in ("csr", "csc") or ndim != 2:
                raise util.ConfigurationError(
                    '{}: sparse inputs must be "csr" or "csc" with 2 dimensions, '
                    "not sparse={!r} with {} dimensions".format(self._context(), sparse, ndim)
                )
            self.input = sparse_input(fmt, self.name)
        else:
            if not 2 <= ndim < len(util.FLOAT_CONTAINERS):
                raise util.ConfigurationError(
                    "{}: ndim must be 2 to {}, not {}".format(
                        self._context(), len(util.FLOAT_CONTAINERS) - 1, ndim
                    )
                )
            self.input = util.FLOAT_CONTAINERS[ndim](self.name)
        self.sparse = fmt if sparse else False

    def resolve_inputs(self, layers: Sequence[Layer]) -> None:
        """An input layer has no inputs."""

    def resolve_outputs(self) -> None:
        """The output shape is the declared shape."""
        shape = self.kwargs["shape"]
        if shape[-1] is None:
            raise util.ConfigurationError(
                "{} does not specify a size (give an int, size=..., or shape=...)".format(
                    self._context()
                )
            )
        self._output_shapes["out"] = checks.check_shape("shape", shape, self._context())

    def transform(self, inputs: Outputs) -> Transformed:
        return self.input, []

    def to_spec(self) -> dict[str, Any]:
        spec = super().to_spec()
        if self.sparse:
            spec["sparse"] = self.sparse
        return spec


class Product(Layer):
    """Elementwise product of inputs that all have the same shape."""

    __extra_registration_keys__ = ["prod"]

    def resolve_outputs(self) -> None:
        shapes = set(self._input_shapes.values())
        if len(shapes) != 1:
            raise util.ConfigurationError(
                "{}: all inputs must have the same shape, got {}".format(
                    self._context(),
                    ", ".join(
                        "{} {}".format(n, checks.shape_text(s))
                        for n, s in self._input_shapes.items()
                    ),
                )
            )
        self._output_shapes["out"] = shapes.pop()

    def transform(self, inputs: Outputs) -> Transformed:
        exprs = [inputs[name] for name in self._input_shapes]
        out = exprs[0]
        for expr in exprs[1:]:
            out = out * expr
        return out, []


class Flatten(Layer):
    """Flatten each example to a vector: output shape ``(prod(input_shape),)``."""

    __extra_registration_keys__ = ["flat"]

    def resolve_outputs(self) -> None:
        shape = self.input_shape
        if any(d is None for d in shape):
            raise util.ConfigurationError(
                "{}: cannot flatten input {!r} of unknown shape {}".format(
                    self._context(), self.input_name, checks.shape_text(shape)
                )
            )
        size = _size(shape)
        given = self.kwargs.get("size")
        if given is not None and given != size:
            raise util.ConfigurationError(
                "{}: size={} was given, but flattening input {} gives {} values".format(
                    self._context(), given, checks.shape_text(shape), size
                )
            )
        self._output_shapes["out"] = (size,)

    def transform(self, inputs: Outputs) -> Transformed:
        x = self._only_input(inputs)
        return x.reshape((x.shape[0], -1)), []


class Concatenate(Layer):
    """Concatenate inputs along the last axis."""

    __extra_registration_keys__ = ["concat"]

    def resolve_outputs(self) -> None:
        shapes = list(self._input_shapes.values())
        lead = shapes[0][:-1]
        if any(s[:-1] != lead for s in shapes) or any(s[-1] is None for s in shapes):
            raise util.ConfigurationError(
                "{}: inputs must agree on all but the last axis, got {}".format(
                    self._context(),
                    ", ".join(
                        "{} {}".format(n, checks.shape_text(s))
                        for n, s in self._input_shapes.items()
                    ),
                )
            )
        self._output_shapes["out"] = tuple(lead) + (sum(s[-1] or 0 for s in shapes),)

    def transform(self, inputs: Outputs) -> Transformed:
        exprs = [inputs[name] for name in self._input_shapes]
        return TT.concatenate(exprs, axis=-1), []


class Reshape(Layer):
    """Reshape each example to ``shape`` (which excludes the batch axis).

    Unlike the original library's Reshape, which failed when the graph was
    built, this one works; it checks element counts when both are known.
    """

    def resolve_outputs(self) -> None:
        shape = self.kwargs.get("shape")
        if shape is None:
            raise util.ConfigurationError("{} needs shape=(...)".format(self._context()))
        shape = checks.check_shape("shape", shape, self._context())
        before = self.input_shape
        if all(d is not None for d in before + shape) and _size(before) != _size(shape):
            raise util.ConfigurationError(
                "{}: cannot reshape input {} ({} values) to {} ({} values)".format(
                    self._context(),
                    checks.shape_text(before),
                    _size(before),
                    checks.shape_text(shape),
                    _size(shape),
                )
            )
        self._output_shapes["out"] = shape

    def transform(self, inputs: Outputs) -> Transformed:
        x = self._only_input(inputs)
        shape = tuple(-1 if d is None else d for d in self.output_shape)
        return x.reshape((x.shape[0],) + shape), []
