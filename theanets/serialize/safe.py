"""The safe format: parameters and a JSON description in one ``.npz`` file.

See :mod:`theanets.serialize` for the layout. Nothing a file names is
imported or called when it is loaded.
"""

from __future__ import annotations

import json
from typing import IO, Any

import numpy as np

from .. import layers, util
from .._typing import PathOrFile
from . import limits, npz, reading, rebuild
from .files import ZIP_MAGIC, atomic_write, file_label

__all__ = ["FORMAT", "META_KEY", "describe", "save_safe", "load_safe"]

#: The format tag written in (and required of) every file.
FORMAT = "theanets-safe/1"

#: Name of the archive entry holding the JSON description.
META_KEY = "__theanets__"

# ----- saving -------------------------------------------------------------


def _jsonable(value, where, key):
    """``value`` with tuples as lists and numpy scalars as Python numbers.

    Raises ConfigurationError naming ``where`` and ``key`` for anything JSON
    cannot hold.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, layers.Layer):
        return value.output_name
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        return _jsonable(value.tolist(), where, key)
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, where, key) for v in value]
    if isinstance(value, dict):
        result = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise util.ConfigurationError(
                    "{}: {!r} holds a dict with key {!r}; the safe format can only save "
                    "string keys".format(where, key, k)
                )
            result[k] = _jsonable(v, where, key)
        return result
    raise util.ConfigurationError(
        "{}: the value of {!r} ({!r}) cannot be saved in the safe format, which holds only "
        "numbers, strings, booleans, None, lists and dicts; give it in one of those forms "
        'or save with format="pickle"'.format(where, key, value)
    )


def _layer_spec(layer):
    where = "layer {!r} ({})".format(layer.name, type(layer).__name__)
    spec = {}
    for key, value in layer.to_spec().items():
        if key in ("rng", "nrng") and isinstance(value, np.random.RandomState):
            continue  # initial values are overwritten by the saved parameters
        spec[key] = _jsonable(value, where, key)
    return spec


def _loss_spec(network, index, loss):
    where = "loss {} ({} on {!r})".format(index, type(loss).__name__, loss.output_name)
    spec = dict(loss.to_spec())
    target = loss.variables[0]
    inputs = [l for l in network.layers if isinstance(l, layers.Input)]
    earlier = [i for i, other in enumerate(network.losses[:index]) if other.variables[0] is target]
    if any(l.input is target for l in inputs):
        spec["target"] = {"input": [l.name for l in inputs if l.input is target][0]}
    elif earlier:
        spec["target"] = {"loss": earlier[0]}
    elif not isinstance(spec.get("target"), int):
        raise util.ConfigurationError(
            "{}: its target {!r} is neither an input of the model, the target of an earlier "
            "loss, nor a variable the loss makes itself, so the safe format cannot describe "
            'it; save with format="pickle"'.format(where, target)
        )
    return {key: _jsonable(value, where, key) for key, value in spec.items()}


def describe(network: Any) -> dict[str, Any]:
    """The JSON-ready description of ``network`` stored in a safe file.

    Parameters
    ----------
    network : theanets.graph.Network

    Returns
    -------
    dict
        ``format``, ``model``, ``rng``, ``layers``, ``losses`` and ``params``.

    Raises
    ------
    ConfigurationError
        If a layer or loss holds a value JSON cannot hold (the layer or loss
        and the key are named), or two parameters share a name.
    """
    cls = type(network)
    rng = getattr(network, "_rng", None)
    params = []
    seen = set()
    for param in network.params:
        if param.name in seen or param.name == META_KEY:
            raise util.ConfigurationError(
                "the safe format stores parameters by name, but the name {!r} is {}; rename "
                'the layer or save with format="pickle"'.format(
                    param.name, "reserved" if param.name == META_KEY else "used twice"
                )
            )
        seen.add(param.name)
        value = param.get_value(borrow=True)
        params.append(
            dict(name=param.name, shape=[int(d) for d in value.shape], dtype=str(value.dtype))
        )
    return dict(
        format=FORMAT,
        model="{}.{}".format(cls.__module__, cls.__qualname__),
        rng=int(rng) if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool) else None,
        layers=[_layer_spec(layer) for layer in network.layers],
        losses=[_loss_spec(network, i, loss) for i, loss in enumerate(network.losses)],
        params=params,
    )


def save_safe(network: Any, filename_or_handle: PathOrFile) -> None:
    """Save ``network`` in the safe format (see the module docstring).

    Parameters
    ----------
    network : theanets.graph.Network
        The model to save.
    filename_or_handle : str, path-like or binary file handle
        A path is written atomically (a temporary file in the same folder,
        then renamed over it); a handle is written and left open.

    Raises
    ------
    ConfigurationError
        If part of the model cannot be described in JSON (a callable kernel,
        an Activation instance given as activation, ...); nothing is written.

    Examples
    --------
    >>> import io, theanets
    >>> buffer = io.BytesIO()
    >>> save_safe(theanets.Regressor([3, 4, 2]), buffer)
    >>> _ = buffer.seek(0)
    >>> [p.name for p in load_safe(buffer, theanets.Network).params]
    ['hid1.w', 'hid1.b', 'out.w', 'out.b']
    """
    meta = json.dumps(describe(network), sort_keys=True)
    arrays = {param.name: param.get_value() for param in network.params}
    arrays[META_KEY] = np.array(meta)

    def write(handle):
        # Numbers and the description's string only: nothing that would need
        # pickling. (numpy < 2.1's savez has no allow_pickle argument: it
        # would store one as an array named 'allow_pickle'.)
        np.savez(handle, **arrays)

    if hasattr(filename_or_handle, "write"):
        write(filename_or_handle)
    else:
        atomic_write(filename_or_handle, write)
    util.log("saved model (safe format) to {}", file_label(filename_or_handle))


# ----- loading ------------------------------------------------------------


def _description(archive, label):
    """The JSON description of a checked archive."""
    if META_KEY not in archive.entries:
        raise util.LoadError(
            "{} is not a theanets safe model file: it has no {!r} entry (its entries "
            "are {})".format(label, META_KEY, sorted(archive.entries))
        )
    shape, _, dtype = archive.header(META_KEY)
    if shape != () or dtype.kind != "U":
        raise util.LoadError(
            "{}: the {!r} entry must be a JSON string, not an array of {} with shape {}".format(
                label, META_KEY, dtype, shape
            )
        )
    if dtype.itemsize > limits.MAX_DESCRIPTION_BYTES:
        raise util.LoadError(
            "{}: the {!r} entry holds {} bytes, more than {} "
            "(theanets.serialize.limits.MAX_DESCRIPTION_BYTES)".format(
                label, META_KEY, dtype.itemsize, limits.MAX_DESCRIPTION_BYTES
            )
        )
    text = str(archive.array(META_KEY)[()])
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as err:
        raise util.LoadError(
            "{} is not a readable theanets safe model file (truncated or corrupt?): {}: {}".format(
                label, type(err).__name__, err
            )
        ) from err


def _stored(archive, meta, label):
    """Check the arrays' entries against the description; the number of stored values."""
    listed = [entry["name"] for entry in meta["params"]]
    extra = sorted(set(archive.entries) - set(listed) - {META_KEY})
    if extra:
        raise util.LoadError(
            "{}: the file holds arrays {} that are not parameters of the "
            "model (parameters: {})".format(label, extra, listed)
        )
    if len(set(listed)) != len(listed):
        raise util.LoadError(
            "{}: the description lists parameters {}, some more than once".format(label, listed)
        )
    stored = 0
    for entry in meta["params"]:
        name = entry["name"]
        if name not in archive.entries:
            raise util.LoadError(
                "{}: parameter {!r} is listed but its array is missing".format(label, name)
            )
        shape, _, dtype = archive.header(name)
        if dtype.kind not in "fiu":
            raise util.LoadError(
                "{}: parameter {!r} holds {} values, not numbers".format(label, name, dtype)
            )
        if shape != tuple(entry["shape"]):
            raise util.LoadError(
                "{}: parameter {!r} has shape {} in the file (array), but the description "
                "says {}".format(label, name, shape, tuple(entry["shape"]))
            )
        count = 1
        for d in shape:
            count *= d
        stored += count
    return stored


def load_safe(
    filename_or_handle: PathOrFile,
    base: type,
    label: str | None = None,
    allow_nonfinite: bool = False,
) -> Any:
    """Load a model saved with :func:`save_safe` without running its code.

    Nothing named in the file is imported or called: the model class must be
    ``base`` or an already-imported subclass of it, and layer, activation and
    loss forms must be registered. The archive is read strictly and within
    bounds (:mod:`theanets.serialize.npz`), and layer sizes are checked
    against the stored arrays before any layer is built
    (:mod:`theanets.serialize.rebuild`).

    Parameters
    ----------
    filename_or_handle : str, path-like or binary file handle
    base : type
        The model base class, :class:`theanets.graph.Network`.
    label : str, optional
        How error messages name the file (default: :func:`file_label`).
    allow_nonfinite : bool
        Accept parameters that are NaN or infinite (a model that diverged);
        by default such a file is refused.

    Returns
    -------
    theanets.graph.Network
        A model of the saved class with the saved layers, losses and
        parameter values.

    Raises
    ------
    theanets.util.LoadError
        If the file is not in this format, is truncated or corrupt, has an
        unknown format version, names an unknown model class, layer form or
        loss, asks for layers far larger than its arrays, holds non-finite
        parameters (unless ``allow_nonfinite``), or its parameters do not
        match the model it describes; the message names the file.
    """
    label = file_label(filename_or_handle) if label is None else label
    with reading.opened(filename_or_handle, label) as (handle, size):
        head = handle.read(len(ZIP_MAGIC))
        handle.seek(-len(head), 1)
        if head != ZIP_MAGIC:
            raise util.LoadError(
                "{} is not a theanets safe model file (it does not start like "
                "a zip archive)".format(label)
            )
        return read_safe(handle, size, base, label, allow_nonfinite)


def read_safe(
    handle: IO[bytes], size: int, base: type, label: str, allow_nonfinite: bool = False
) -> Any:
    """Load a safe file from a seekable handle holding ``size`` bytes from its position."""
    archive = npz.Archive(handle, size, label)
    with archive.zip:
        meta = _description(archive, label)
        rebuild.check_description(meta, label, FORMAT)
        stored = _stored(archive, meta, label)
        cls = rebuild.find_class(base, meta["model"], label)
        model = rebuild.rebuild(cls, base, meta, stored, label)
        rebuild.check_params(model, meta, label)
        values = {
            entry["name"]: (lambda name=entry["name"]: archive.array(name))
            for entry in meta["params"]
        }
        rebuild.set_params(model, values, label, allow_nonfinite)
    util.log("loaded model (safe format) from {}", label)
    return model
