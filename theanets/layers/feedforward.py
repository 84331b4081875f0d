"""Fully-connected layers: Feedforward, Classifier (softmax) and Tied."""

import warnings

from .. import checks, util
from .._backend import dot
from .base import Layer

__all__ = ["Feedforward", "Classifier", "Tied"]


class Feedforward(Layer):
    """A fully-connected layer: ``out = activation(sum_i x_i @ W_i + b)``.

    With one input the parameters are ``w`` (inputs x size) and ``b``; with
    several, one ``w_<input output name>`` per input (in input order), then
    ``b``. Outputs are ``pre`` (before the activation) and ``out``.

    Examples
    --------
    >>> import theanets
    >>> net = theanets.Regressor([3, dict(size=4, name='h', activation='tanh'), 2])
    >>> [p.name for p in net.layers[1].params]
    ['h.w', 'h.b']
    """

    __extra_registration_keys__ = ["ff"]

    def resolve_outputs(self):
        """As :meth:`Layer.resolve_outputs`, and the output must keep all but the
        last axis of the input (a weight matrix maps only the last axis).

        The original library accepted e.g. ``shape=(6, 7)`` after a 3-feature
        input and then produced ``(N, 7)`` values while claiming ``(6, 7)``;
        that is a ConfigurationError here.
        """
        super().resolve_outputs()
        out = self.output_shape
        for name, shape in self._input_shapes.items():
            if len(shape) != len(out) or any(
                a is not None and b is not None and a != b
                for a, b in zip(shape[:-1], out[:-1], strict=True)
            ):
                raise util.ConfigurationError(
                    "{}: output shape {} cannot be made from input {!r} of shape {}: a "
                    "feedforward layer keeps all but the last axis of its input (give "
                    "size=... instead of shape=...)".format(
                        self._context(), checks.shape_text(out), name, checks.shape_text(shape)
                    )
                )

    def _weight_name(self, input_name):
        return "w" if len(self._input_shapes) == 1 else "w_" + input_name

    def setup(self):
        for name, shape in self._input_shapes.items():
            if shape[-1] is None:
                raise util.ConfigurationError(
                    "{}: the size of input {!r} is not known".format(self._context(), name)
                )
            self.add_weights(self._weight_name(name), shape[-1], self.output_size)
        self.add_bias("b", self.output_size)

    def transform(self, inputs):
        terms = [
            dot(inputs[name], self.find(self._weight_name(name))) for name in self._input_shapes
        ]
        pre = sum(terms[1:], terms[0]) + self.find("b")
        return dict(pre=pre, out=self.activate(pre)), []


class Classifier(Feedforward):
    """A feedforward layer whose activation is always softmax."""

    __extra_registration_keys__ = ["softmax"]

    def __init__(self, **kwargs):
        kwargs["activation"] = "softmax"
        super().__init__(**kwargs)


class Tied(Layer):
    """A layer that reuses the transposed weights of a partner layer.

    ``pre = x . W_partner^T + b``; the only own parameter is ``b``, and the
    output shape is the partner's input shape. Used for tied autoencoders:
    ``Autoencoder([10, 20, (10, 'tied')])``.

    Parameters
    ----------
    partner : str or Layer
        The layer (or its name) whose ``w`` this layer uses.

    Warns
    -----
    theanets.util.SpecWarning
        When bound, if a ``size`` or ``shape`` was given that differs from
        the partner's input, which is the output shape whatever is given
        (the original ignored both silently: ``(12, 'tied')`` after a
        10-feature partner input makes 10 outputs).

    Examples
    --------
    >>> import theanets
    >>> net = theanets.Autoencoder([10, 20, (10, 'tied')])
    >>> net.layers[-1].output_shape, [p.name for p in net.layers[-1].params]
    ((10,), ['out.b'])
    """

    def __init__(self, partner, **kwargs):
        self.partner = partner
        self._given = {k: kwargs[k] for k in ("size", "shape") if kwargs.get(k) is not None}
        kwargs["size"] = kwargs["shape"] = None
        super().__init__(**kwargs)
        if not isinstance(partner, (str, Layer)):
            raise util.ConfigurationError(
                "{}: partner must be a layer name or a Layer, not {!r}".format(
                    self._context(), partner
                )
            )

    @property
    def partner_name(self):
        return self.partner if isinstance(self.partner, str) else self.partner.name

    def bind(self, graph, *args, **kwargs):
        if isinstance(self.partner, str):
            others = [l for l in graph.layers if l is not self]
            self.partner = checks.find_layer(
                others, self.partner, "partner layer", "{}: ".format(self._context())
            )
        super().bind(graph, *args, **kwargs)

    def resolve_outputs(self):
        partner = self.partner
        if isinstance(partner, str) or not partner._output_shapes:
            raise util.ConfigurationError(
                "{}: partner {!r} must be bound before this layer".format(
                    self._context(), self.partner_name
                )
            )
        if not any(p.name == partner._param_name("w") for p in partner._params):
            raise util.ConfigurationError(
                "{}: partner layer {!r} ({}) has no weights {!r} to share; the partner "
                "must be a feedforward layer with one input".format(
                    self._context(), partner.name, type(partner).__name__, partner._param_name("w")
                )
            )
        w_shape = partner.find("w").get_value().shape
        if self.input_shape[-1] not in (None, w_shape[1]):
            raise util.ConfigurationError(
                "{}: input {!r} has {} features, but partner weights {!r} {} need {}".format(
                    self._context(),
                    self.input_name,
                    self.input_shape[-1],
                    partner.find("w").name,
                    w_shape,
                    w_shape[1],
                )
            )
        self._output_shapes["out"] = partner.input_shape
        self._warn_given_shape(partner)

    def _warn_given_shape(self, partner):
        """Warn once if the given size or shape is not the partner's input shape."""
        given = getattr(self, "_given", {})
        shape = partner.input_shape
        wrong = [
            (k, v)
            for k, v in sorted(given.items())
            if (k == "size" and v != shape[-1]) or (k == "shape" and tuple(v) != tuple(shape))
        ]
        if wrong:
            warnings.warn(
                "{}: {} is ignored: a tied layer outputs the shape {} of input {!r} of its "
                "partner {!r} (give {} or leave it out)".format(
                    self._context(),
                    " and ".join("{}={!r}".format(k, v) for k, v in wrong),
                    checks.shape_text(shape),
                    partner.input_name,
                    partner.name,
                    "size={}".format(shape[-1])
                    if wrong[0][0] == "size"
                    else "shape={}".format(checks.shape_text(shape)),
                ),
                util.SpecWarning,
                stacklevel=util.outside_stacklevel(),
            )
            self._given = {}

    def setup(self):
        self.add_bias("b", self.output_size)

    def transform(self, inputs):
        x = self._only_input(inputs)
        pre = dot(x, self.partner.find("w").T) + self.find("b")
        return dict(pre=pre, out=self.activate(pre)), []

    def to_spec(self):
        spec = super().to_spec()
        spec["partner"] = self.partner_name
        return spec
