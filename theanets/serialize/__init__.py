'''Saving and loading models, in every format: pickle, gzip and safe (npz).

:meth:`theanets.graph.Network.save` and :meth:`~theanets.graph.Network.load`
hand their work to :func:`save` and :func:`load` here.

Pickle
    The whole model, pickled (``pickle`` protocol -1); a path ending in
    ``.gz`` is gzip-compressed. Loading a pickle can run code named in the
    file, so load only pickles from a source you trust. The loader narrows
    this down, but it is no security boundary: it checks the pickle's
    structure before unpickling (every declared length against what the file
    holds, so a corrupt file cannot make it allocate more memory than the
    file's size), and it only uses classes from theanets, numpy, pytensor,
    scipy and ``collections``, a short list of numpy's and the standard
    library's reconstruction functions, and subclasses of theanets classes
    (user layers and models) from modules that are already imported. It
    imports nothing else: add a module's name to
    :data:`TRUSTED_PICKLE_MODULES` to let pickles name anything in it.

Safe (npz)
    Parameters and a JSON description in one ``.npz`` file. A file in this
    format is read without executing or importing anything it names:

    * it is a numpy zip archive (written with :func:`numpy.savez`, read with
      ``numpy.load(..., allow_pickle=False)``) holding every parameter array
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
    dtype of each parameter, in ``model.params`` order). Sizes declared in the
    archive are checked against the file before anything is read.

Every file that cannot be read raises :class:`theanets.util.LoadError`
naming the file (a subclass of the errors the original library let through,
so old ``except`` clauses still work); a missing file raises the usual
:class:`FileNotFoundError`.

Paths are written atomically (:func:`atomic_write`): to a hidden temporary
file in the same folder, then renamed over the target. A temporary left by a
process that was killed is removed by the next save of the same path.

This module does not import :mod:`theanets.graph`: it works on any object
with the Network interface, and :func:`load` is given the model base class.
'''

import gzip
import os

from . import files, pickles, safe
from .. import util
from .files import atomic_write, clear_stale_temporaries, file_label, is_handle, is_safe_file
from .pickles import TRUSTED_PICKLE_MODULES, load_pickle, save_pickle
from .safe import FORMAT, describe, load_safe, save_safe

__all__ = ['FORMAT', 'save', 'load', 'save_safe', 'load_safe', 'save_pickle', 'load_pickle',
           'describe', 'atomic_write', 'clear_stale_temporaries', 'is_safe_file', 'file_label',
           'TRUSTED_PICKLE_MODULES', 'files', 'pickles', 'safe']


def save(model, filename_or_handle, format=None):
    '''Save ``model`` to a path or an open binary file.

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
        For another ``format``, or, with ``'safe'``, for a model part that
        cannot be described in JSON (nothing is written then).

    Examples
    --------
    >>> import io, theanets
    >>> buffer = io.BytesIO()
    >>> save(theanets.Regressor([3, 4, 2]), buffer, format='safe')
    >>> buffer.getvalue()[:2]
    b'PK'
    '''
    if format is None:
        name = getattr(filename_or_handle, 'name', None) if is_handle(filename_or_handle) \
            else os.fspath(filename_or_handle)
        format = 'safe' if isinstance(name, str) and name.lower().endswith('.npz') \
            else 'pickle'
    if format not in ('pickle', 'safe'):
        raise util.ConfigurationError(
            "save: format must be 'pickle' or 'safe' (or None to choose by the "
            "file's suffix), not {!r}".format(format))
    if format == 'safe':
        save_safe(model, filename_or_handle)
    else:
        save_pickle(model, filename_or_handle)


def load(base, filename_or_handle, allow_pickle=True):
    '''Load a model saved with :func:`save`, in either format.

    The format is told from the file's first bytes: a zip archive is the
    safe format (read by :func:`load_safe`); anything else is a pickle
    (gzip-compressed if the path ends in ``.gz``), read by
    :func:`load_pickle` unless ``allow_pickle`` is False.

    Parameters
    ----------
    base : type
        The model base class (:class:`theanets.graph.Network`): a safe file
        may name any imported subclass of it.
    filename_or_handle : str, path-like or binary file handle
        The file to read.
    allow_pickle : bool
        If False, only the safe format is read; a pickle is refused.

    Returns
    -------
    The saved model (of the class it was saved as).

    Raises
    ------
    theanets.util.LoadError
        If the file is truncated or corrupt, is a pickle while
        ``allow_pickle`` is False, or was written by the original
        Theano-based theanets.

    Examples
    --------
    >>> import io, theanets
    >>> buffer = io.BytesIO()
    >>> save(theanets.Regressor([3, 4, 2]), buffer)
    >>> _ = buffer.seek(0)
    >>> type(load(theanets.Network, buffer)).__name__
    'Regressor'
    '''
    label = file_label(filename_or_handle)
    safe, source = is_safe_file(filename_or_handle)
    if safe:
        return load_safe(source, base, label=label)
    if not allow_pickle:
        raise util.LoadError(
            '{} is not in the safe format: it is a pickle (or not a theanets model), and '
            'loading a pickle runs code from the file, so it is refused with '
            'allow_pickle=False. Load it with allow_pickle=True only if it comes from a '
            "source you trust, then re-save it with format='safe'.".format(label))
    if hasattr(source, 'read'):
        model = load_pickle(source, label)
    elif label.lower().endswith('.gz'):
        with open(source, 'rb') as raw:
            model = load_pickle(gzip.GzipFile(fileobj=raw, mode='rb'), label,
                                compressed_size=os.fstat(raw.fileno()).st_size)
    else:
        with open(source, 'rb') as handle:
            model = load_pickle(handle, label)
    if not isinstance(model, base):
        raise util.LoadError('{} does not hold a theanets model: it unpickles to {} (a {}), not '
                             'a {}'.format(label, _short_repr(model), type(model).__name__,
                                           base.__name__))
    util.log('loaded model from {}', label)
    return model


def _short_repr(value, limit=60):
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + '...'
