"""The pickle format: saving, and loading through a strict allowlist.

Loading (:func:`load_pickle`) reads the whole pickle into memory within the
bounds of :mod:`theanets.serialize.reading`, checks its opcode stream with
:func:`theanets.serialize.scan.check` (nothing from the file is created or
called before the whole stream has passed), and only then unpickles it with
an unpickler whose ``find_class`` resolves nothing but the same allowlist,
from modules already imported. ``trusted=True`` skips both and unpickles
with :mod:`pickle` itself: only for files from a source you trust, since a
pickle can then run any code.
"""

from __future__ import annotations

import gzip
import io
import os
import pickle
from typing import Any

from .. import util
from .._typing import PathOrFile
from . import scan
from .allowlist import Allowlist
from .files import atomic_write, file_label, is_handle

__all__ = ["save_pickle", "load_pickle"]


def save_pickle(model: Any, filename_or_handle: PathOrFile) -> None:
    """Pickle ``model`` to a path (gzip-compressed if it ends in ``.gz``) or a handle.

    A path is written atomically (:func:`~theanets.serialize.files.atomic_write`);
    a handle is written and left open.

    Examples
    --------
    >>> import io, pickle, theanets
    >>> buffer = io.BytesIO()
    >>> save_pickle(theanets.Regressor([3, 4, 2]), buffer)
    >>> type(pickle.loads(buffer.getvalue())).__name__
    'Regressor'
    """
    if is_handle(filename_or_handle):
        pickle.dump(model, filename_or_handle, -1)
        util.log("saved model to {}", file_label(filename_or_handle))
        return
    path = os.fspath(filename_or_handle)

    def write(raw):
        if path.lower().endswith(".gz"):
            with gzip.GzipFile(fileobj=raw, mode="wb", filename="") as handle:
                pickle.dump(model, handle, -1)
        else:
            pickle.dump(model, raw, -1)

    atomic_write(path, write)
    util.log("saved model to {}", path)


class _Unpickler(pickle.Unpickler):
    """An unpickler that resolves only the allowlist, from imported modules."""

    def __init__(self, handle, allow):
        super().__init__(handle)
        self.allow = allow

    def find_class(self, module, name):
        obj = self.allow.resolve(module, name)
        if obj is None:  # the scan refused these already; never reached for checked data
            raise util.LoadError("refers to {}.{}, which is not allowed".format(module, name))
        return obj


def load_pickle(data: bytes, label: str, base: type, trusted: bool = False) -> Any:
    """Unpickle a model from the bytes of a pickle.

    Parameters
    ----------
    data : bytes
        The whole pickle (already decompressed).
    label : str
        How error messages name the file.
    base : type
        The model base class: the pickle must hold an instance of it.
    trusted : bool
        If True, unpickle with :mod:`pickle` itself, allowing anything the
        file names (and so running any code it holds).

    Raises
    ------
    theanets.util.LoadError
        If the pickle is refused by :func:`theanets.serialize.scan.check`,
        is truncated or corrupt, or does not hold a model.
    """
    if trusted:
        try:
            model = pickle.loads(data)
        except Exception as err:
            raise util.LoadError(
                "{} is not a readable theanets model (truncated or corrupt?): {}: {}".format(
                    label, type(err).__name__, err
                )
            ) from err
    else:
        allow = Allowlist(base)
        try:
            scan.check(data, allow)
        except util.LoadError as err:
            raise util.LoadError("{} {}".format(label, err)) from None
        try:
            model = _Unpickler(io.BytesIO(data), allow).load()
        except Exception as err:  # an allowed class refusing the state it was given
            raise util.LoadError(
                "{} is not a readable theanets model (truncated or corrupt?): {}: {}".format(
                    label, type(err).__name__, err
                )
            ) from None
    if not isinstance(model, base):
        raise util.LoadError(
            "{} does not hold a theanets model: it unpickles to a {}, not a {}".format(
                label, type(model).__name__, base.__name__
            )
        )
    return model
