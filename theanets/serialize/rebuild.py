"""Checking a safe file's description and rebuilding the model it describes.

Nothing a description names is imported or called: the model class must be
an imported subclass of the base class, layer, activation and loss forms
must be registered. Before any layer creates its parameters, the sizes the
description asks for are checked against what the file stores
(:func:`check_budget`), so a few bytes of JSON cannot make the loader draw
gigabytes of initial values.
"""

import numpy as np

from .. import checks, layers, losses, util
from . import limits

__all__ = ["check_description", "find_class", "rebuild", "check_budget"]

#: The keys of a description.
KEYS = frozenset(["format", "model", "rng", "layers", "losses", "params"])

# Errors a layer or loss constructor raises for arguments it cannot use.
_BUILD_ERRORS = (
    util.Error,
    TypeError,
    ValueError,
    KeyError,
    AttributeError,
    IndexError,
    RecursionError,
    OverflowError,
)


def _fail(label, what):
    raise util.LoadError("{}: the model description is not valid: {}".format(label, what))


def check_description(meta, label, format_tag):
    """Raise LoadError unless ``meta`` has the structure a model description needs."""
    if not isinstance(meta, dict):
        _fail(label, "expected a JSON object, not {}".format(type(meta).__name__))
    if meta.get("format") != format_tag:
        raise util.LoadError(
            "{}: unknown format version {!r}; this version of theanets reads {!r}".format(
                label, meta.get("format"), format_tag
            )
        )
    unknown = sorted(set(meta) - KEYS)
    if unknown:
        _fail(label, "unknown keys {}; a description has {}".format(unknown, sorted(KEYS)))
    for key in ("model", "layers", "losses", "params"):
        if key not in meta:
            _fail(label, "the key {!r} is missing".format(key))
    if not isinstance(meta["model"], str):
        _fail(label, '"model" must be a class name, not {!r}'.format(meta["model"]))
    if not isinstance(meta.get("rng"), (int, type(None))) or isinstance(meta.get("rng"), bool):
        _fail(label, '"rng" must be an int or null, not {!r}'.format(meta.get("rng")))
    for key in ("layers", "losses", "params"):
        if not isinstance(meta[key], list):
            _fail(label, "{!r} must be a list, not {}".format(key, type(meta[key]).__name__))
        for i, item in enumerate(meta[key]):
            if not isinstance(item, dict):
                _fail(label, "{} entry {} must be an object, not {!r}".format(key, i, item))
    for i, spec in enumerate(meta["layers"] + meta["losses"]):
        if not isinstance(spec.get("form"), str):
            _fail(
                label,
                '{} {} has no "form" string: {!r}'.format(
                    "layer" if i < len(meta["layers"]) else "loss",
                    i if i < len(meta["layers"]) else i - len(meta["layers"]),
                    spec,
                ),
            )
    for i, entry in enumerate(meta["params"]):
        shape = entry.get("shape")
        if (
            not isinstance(entry.get("name"), str)
            or not isinstance(shape, list)
            or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
        ):
            _fail(
                label,
                'params entry {} must have a "name" string and a "shape" list of '
                "sizes, not {!r}".format(i, entry),
            )


def find_class(base, name, label):
    """The imported subclass of ``base`` named ``name`` (module.qualname)."""
    found, todo = {}, [base]
    while todo:  # breadth first: a class defined again under its name replaces the old one
        cls = todo.pop(0)
        found["{}.{}".format(cls.__module__, cls.__qualname__)] = cls
        todo.extend(cls.__subclasses__())
    if name not in found:
        raise util.LoadError(
            "{}: unknown model class {!r}; the safe loader only uses model classes that are "
            "already imported (import the module defining it first). Known classes: "
            "{}".format(label, name, ", ".join(sorted(found)))
        )
    return found[name]


def _sizes(spec):
    """Every size a layer spec states (size, and the axes of shape)."""
    sizes = []
    for key in ("size", "shape"):
        value = spec.get(key)
        values = value if isinstance(value, (list, tuple)) else [value]
        sizes.extend(v for v in values if isinstance(v, int) and not isinstance(v, bool))
    return sizes


def _estimate(layer):
    """An upper bound on the values ``layer.setup()`` creates, from its resolved shapes."""
    inputs = sum(int(shape[-1] or 1) for shape in layer._input_shapes.values() if shape)
    size = int(layer.output_shape[-1] or 1)
    taps = 1
    for d in getattr(layer, "filter_size", None) or ():
        taps *= int(d)
    estimate = 8 * taps * size * (inputs + 1)
    if isinstance(layer, (layers.recurrent.Recurrent, layers.Bidirectional)):
        estimate += 8 * size * size
    return estimate


def _budget(stored):
    return limits.BUILD_FLOOR + limits.BUILD_FACTOR * stored


def check_sizes(meta, stored, label):
    """Refuse a layer size larger than the build budget, before any layer is made."""
    budget = _budget(stored)
    for i, spec in enumerate(meta["layers"]):
        for size in _sizes(spec):
            if size > budget:
                raise util.LoadError(
                    "{}: layer {} ({!r}) asks for size {}, but the file stores only {} "
                    "parameter values (at most {} are rebuilt: "
                    "theanets.serialize.limits.BUILD_FLOOR + BUILD_FACTOR times that)".format(
                        label, i, spec.get("name", "?"), size, stored, budget
                    )
                )


def check_budget(layer, total, stored, label):
    """Refuse a layer that would create far more values than the file stores.

    Called once ``layer``'s shapes are resolved (bound with
    ``initialize=False``) and before it creates its parameters; ``total`` is
    the estimate for the layers before it. Returns the new total.
    """
    budget = _budget(stored)
    total += _estimate(layer)
    if total > budget:
        raise util.LoadError(
            "{}: layer {!r} (inputs {}, output {}) and those before it may create up to {} "
            "parameter values, but the file stores only {} (at most {} are rebuilt: "
            "theanets.serialize.limits.BUILD_FLOOR + BUILD_FACTOR times that); the "
            "description does not match the arrays".format(
                label,
                layer.name,
                ", ".join(checks.shape_text(s) for s in layer._input_shapes.values()) or "-",
                checks.shape_text(layer.output_shape),
                total,
                stored,
                budget,
            )
        )
    return total


def _loss_target(model, index, target, label):
    if checks.is_count(target):
        return target
    if isinstance(target, dict) and set(target) == {"input"}:
        inputs = [layer for layer in model.layers if isinstance(layer, layers.Input)]
        try:
            return checks.find_layer(inputs, target["input"], "input layer").input
        except util.Error as err:
            raise util.LoadError(
                "{}: loss {} targets input {!r}: {}".format(label, index, target["input"], err)
            ) from err
    if (
        isinstance(target, dict)
        and set(target) == {"loss"}
        and isinstance(target["loss"], int)
        and 0 <= target["loss"] < index
    ):
        return model.losses[target["loss"]].variables[0]
    raise util.LoadError(
        "{}: loss {} has target {!r}; expected a number of dimensions, "
        '{{"input": <input layer name>}} or {{"loss": <index of an earlier '
        "loss>}}".format(label, index, target)
    )


def _bind(model, layer, label, initialize):
    try:
        layer.bind(model, initialize=initialize)
    except _BUILD_ERRORS as err:
        raise util.LoadError(
            "{}: cannot connect layer {!r}: {}".format(label, layer.name, err)
        ) from err


def rebuild(cls, base, meta, stored, label):
    """A model of class ``cls`` with the layers and losses of ``meta``.

    ``stored`` is the number of parameter values the file holds: the layers'
    sizes are checked against it before parameters are created.
    """
    check_sizes(meta, stored, label)
    model = cls.__new__(cls)
    rng = meta.get("rng")
    base.__init__(model, layers=(), loss=None, rng=13 if rng is None else rng)
    for i, spec in enumerate(meta["layers"]):
        try:
            model.add_layer(dict(spec))
        except _BUILD_ERRORS as err:
            raise util.LoadError(
                "{}: cannot rebuild layer {} ({!r}): {}".format(
                    label, i, spec.get("name", "?"), err
                )
            ) from err
    total = 0
    for layer in model.layers:
        _bind(model, layer, label, initialize=False)  # shapes only: no parameters yet
        total = check_budget(layer, total, stored, label)
        _bind(model, layer, label, initialize=True)
    for i, spec in enumerate(meta["losses"]):
        spec = dict(spec)
        form = spec.pop("form")
        spec["target"] = _loss_target(model, i, spec.get("target"), label)
        if not losses.Loss.is_registered(form):
            raise util.LoadError(
                "{}: cannot rebuild loss {}: {}".format(
                    label, i, util.unknown_name("loss", form, losses.Loss.names())
                )
            )
        try:
            model.add_loss(losses.Loss.build(form, **spec))
        except _BUILD_ERRORS as err:
            raise util.LoadError(
                "{}: cannot rebuild loss {} ({}): {}".format(label, i, form, err)
            ) from err
    return model


def check_params(model, meta, label):
    """Raise LoadError unless the rebuilt parameters are those the description lists."""
    names = [p.name for p in model.params]
    listed = [entry["name"] for entry in meta["params"]]
    if listed != names:
        raise util.LoadError(
            "{}: the file lists parameters {} but the rebuilt model has {}".format(
                label, listed, names
            )
        )
    for param, entry in zip(model.params, meta["params"], strict=True):
        expected = param.get_value(borrow=True).shape
        if tuple(entry["shape"]) != tuple(expected):
            raise util.LoadError(
                "{}: parameter {!r} has shape {} in the file (description), but the model "
                "expects {}".format(label, param.name, tuple(entry["shape"]), expected)
            )


def set_params(model, values, label, allow_nonfinite):
    """Copy arrays into the parameters (``values``: name -> callable giving the array)."""
    for param in model.params:
        value = values[param.name]()
        if value.dtype.kind == "f" and not allow_nonfinite:
            bad = int(value.size - np.count_nonzero(np.isfinite(value)))
            if bad:
                raise util.LoadError(
                    "{}: parameter {!r} holds {} non-finite values (NaN or infinity) of {}: "
                    "the model it holds diverged. Load it with allow_nonfinite=True to accept "
                    "it".format(label, param.name, bad, value.size)
                )
        param.set_value(np.asarray(value, dtype=param.dtype))
