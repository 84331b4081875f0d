"""Saving and loading models, in every format: pickle, gzip and safe (npz).

:meth:`theanets.graph.Network.save` and :meth:`~theanets.graph.Network.load`
hand their work to :func:`save` and :func:`load` here.

Loading never runs code from the file, never touches another file, and
never takes memory or time out of proportion to the file: see
``docs/guide/security.rst`` for the guarantees of each format.

Every format
    A path must name a regular file (after following symlinks); a FIFO, a
    device, a socket or a directory is refused before anything is read
    (:mod:`~theanets.serialize.reading`). Sizes are checked before memory
    is taken, against the file's length and the ceilings of
    :mod:`~theanets.serialize.limits`.

Pickle
    The whole model, pickled (``pickle`` protocol -1); a path ending in
    ``.gz`` is gzip-compressed (and gzip data is recognised by its first
    bytes when loading). The loader checks the whole opcode stream before
    unpickling anything (:mod:`~theanets.serialize.scan`): only the globals
    a theanets model pickle holds (:mod:`~theanets.serialize.allowlist`),
    each used only as such a pickle uses it; anything else is a
    :class:`~theanets.util.LoadError` naming the refused global, raised
    before anything from the file is called. ``trusted=True`` (on every
    loader) unpickles with :mod:`pickle` itself instead, for files from a
    source you trust that hold other objects: such a file can run any code.

Safe (npz)
    Parameters and a JSON description in one ``.npz`` file. A file in this
    format is read without executing or importing anything it names:

    * it is a numpy zip archive (written with :func:`numpy.savez`) holding every parameter array
      under its name (``'hid1.w'``), plus one entry ``'__theanets__'``: a
      JSON string (a 0-d unicode array) describing the model;
    * the JSON names the model class (``"theanets.feedforward.Autoencoder"``),
      which is looked up among the subclasses of the model base class (the
      ``base`` given to :func:`load`) that are already imported, never
      imported;
    * layers, activations and losses are rebuilt from their specs through the
      registries, so a user's own layer class loads as long as its module has
      been imported by the program, and nothing is imported because a file
      says so.

    The JSON holds ``format`` (``"theanets-safe/1"``), ``model``, ``rng``
    (the model's seed when it is an int, else null), ``layers`` (each layer's
    :meth:`~theanets.layers.Layer.to_spec`), ``losses`` (each loss's
    :meth:`~theanets.losses.Loss.to_spec`, the target written as a number of
    dimensions, ``{"input": "<input layer>"}`` or ``{"loss": <index of an
    earlier loss whose target it shares>}``) and ``params`` (name, shape and
    dtype of each parameter, in ``model.params`` order). The archive is read
    strictly (:mod:`~theanets.serialize.npz`: duplicate, encrypted or unknown
    entries, malformed headers, sizes that do not fit are refused), layer
    sizes are checked against the arrays before any layer is built
    (:mod:`~theanets.serialize.rebuild`), and parameters that are NaN or
    infinite are refused unless ``allow_nonfinite=True``.

Every file that cannot be read raises :class:`theanets.util.LoadError`
naming the file (a subclass of the errors the original library let through,
so old ``except`` clauses still work); a missing file raises the usual
:class:`FileNotFoundError`.

Paths are written atomically (:func:`atomic_write`): to a hidden temporary
file in the same folder, then renamed over the target, which must be a
regular file or not exist; a symlink is followed (its target gets the new
model) and the file keeps its owner and mode. A temporary left by a process
that was killed is removed by the next save of the same path.

This module does not import :mod:`theanets.graph`: it works on any object
with the Network interface, and :func:`load` is given the model base class.
"""

from __future__ import annotations

import os
from typing import Any

from .. import util
from .._typing import PathOrFile
from . import allowlist, files, limits, npz, pickles, reading, rebuild, safe, scan
from .files import (
    ZIP_MAGIC,
    atomic_write,
    check_names,
    clear_stale_temporaries,
    file_label,
    is_handle,
    is_safe_file,
    resolve_target,
)
from .pickles import load_pickle, save_pickle
from .safe import FORMAT, describe, load_safe, read_safe, save_safe

__all__ = [
    "FORMAT",
    "save",
    "load",
    "save_safe",
    "load_safe",
    "save_pickle",
    "load_pickle",
    "describe",
    "atomic_write",
    "resolve_target",
    "check_names",
    "clear_stale_temporaries",
    "file_label",
    "is_safe_file",
    "allowlist",
    "files",
    "limits",
    "npz",
    "pickles",
    "reading",
    "rebuild",
    "safe",
    "scan",
]


def save(model: Any, filename_or_handle: PathOrFile, format: str | None = None) -> None:
    """Save ``model`` to a path or an open binary file.

    Parameters
    ----------
    model : theanets.graph.Network
        The model to save.
    filename_or_handle : str, path-like or binary file handle
        Where to save. A path is written atomically (see :func:`atomic_write`);
        a handle is written and left open.
    format : None, ``'pickle'`` or ``'safe'``
        None means ``'safe'`` if the path (or the handle's ``name``) ends in
        ``.npz`` (any case), else ``'pickle'``.

    Raises
    ------
    ConfigurationError
        For another ``format``, a layer or parameter name with a NUL or other
        control character, or, with ``'safe'``, for a model part that
        cannot be described in JSON (nothing is written then).
    OSError
        If a path is not a regular file (or a symlink to one, whose target
        is written), or its folder is missing or not writable: the message
        names the path (see :func:`atomic_write`).

    Examples
    --------
    >>> import io, theanets
    >>> buffer = io.BytesIO()
    >>> save(theanets.Regressor([3, 4, 2]), buffer, format='safe')
    >>> buffer.getvalue()[:2]
    b'PK'
    """
    if format is None:
        name = (
            getattr(filename_or_handle, "name", None)
            if is_handle(filename_or_handle)
            else os.fspath(filename_or_handle)
        )
        format = "safe" if isinstance(name, str) and name.lower().endswith(".npz") else "pickle"
    if format not in ("pickle", "safe"):
        raise util.ConfigurationError(
            "save: format must be 'pickle' or 'safe' (or None to choose by the "
            "file's suffix), not {!r}".format(format)
        )
    check_names(model)
    if format == "safe":
        save_safe(model, filename_or_handle)
    else:
        save_pickle(model, filename_or_handle)


def load(
    base: type,
    filename_or_handle: PathOrFile,
    allow_pickle: bool = True,
    trusted: bool = False,
    allow_nonfinite: bool = False,
) -> Any:
    """Load a model saved with :func:`save`, in either format.

    The format is told from the file's first bytes: a zip archive is the
    safe format (read by :func:`load_safe`); gzip data is decompressed (within
    :data:`limits.MAX_COMPRESSION_RATIO`) and read as a pickle; anything else
    is a pickle, read by :func:`load_pickle` unless ``allow_pickle`` is False.
    See the module docstring for what each format guarantees.

    Parameters
    ----------
    base : type
        The model base class (:class:`theanets.graph.Network`): a file may
        hold any imported subclass of it.
    filename_or_handle : str, path-like or binary file handle
        The file to read: a path must name a regular file (or a symlink to
        one).
    allow_pickle : bool
        If False, only the safe format is read; a pickle is refused.
    trusted : bool
        If True, a pickle is unpickled with :mod:`pickle` itself, without
        the allowlist: it may then name any global and so **run any code**.
        Only for files from a source you trust that hold objects the
        allowlist refuses. Off by default; has no effect on safe files.
    allow_nonfinite : bool
        If True, a safe file whose parameters are NaN or infinite (a model
        that diverged) is accepted; by default it is refused.

    Returns
    -------
    The saved model (of the class it was saved as).

    Raises
    ------
    theanets.util.LoadError
        If the file is not a regular file, is larger than its format or the
        ceilings of :mod:`theanets.serialize.limits` allow, is truncated or
        corrupt, names a global the pickle allowlist does not hold, is a
        pickle while ``allow_pickle`` is False, or was written by the
        original Theano-based theanets.
    FileNotFoundError
        If there is no such file.

    Examples
    --------
    >>> import io, theanets
    >>> buffer = io.BytesIO()
    >>> save(theanets.Regressor([3, 4, 2]), buffer)
    >>> _ = buffer.seek(0)
    >>> type(load(theanets.Network, buffer)).__name__
    'Regressor'
    """
    label = file_label(filename_or_handle)
    with reading.opened(filename_or_handle, label) as (handle, size):
        head = handle.read(len(ZIP_MAGIC))
        handle.seek(-len(head), 1)
        if head == ZIP_MAGIC:
            return read_safe(handle, size, base, label, allow_nonfinite)
        if not allow_pickle:
            raise util.LoadError(
                "{} is not in the safe format: it is a pickle (or not a theanets model), and "
                "loading a pickle runs code from the file, so it is refused with "
                "allow_pickle=False. Load it with allow_pickle=True only if it comes from a "
                "source you trust, then re-save it with format='safe'.".format(label)
            )
        data = reading.read_limited(handle, size, label)
    if data[: len(reading.GZIP_MAGIC)] == reading.GZIP_MAGIC:
        data = reading.gunzip(data, label)
    model = load_pickle(data, label, base, trusted=trusted)
    util.log("loaded model from {}", label)
    return model
