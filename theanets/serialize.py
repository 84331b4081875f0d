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
import hashlib
import io
import json
import os
import pickle
import pickletools
import re
import socket
import sys
import tempfile
import zipfile
import zlib

import numpy as np

from . import checks
from . import layers
from . import losses
from . import util

__all__ = ['FORMAT', 'save', 'load', 'save_safe', 'load_safe', 'save_pickle', 'load_pickle',
           'describe', 'atomic_write', 'clear_stale_temporaries', 'is_safe_file', 'file_label',
           'TRUSTED_PICKLE_MODULES']

#: The format tag written in (and required of) every file.
FORMAT = 'theanets-safe/1'

#: Name of the archive entry holding the JSON description.
META_KEY = '__theanets__'

#: The first bytes of a zip archive (and so of every file in this format).
ZIP_MAGIC = b'PK\x03\x04'

#: Names of modules (or packages) whose every name a pickle may use. Empty by
#: default; add the module of a function or non-theanets class your saved
#: models hold, if you trust the pickles you load.
TRUSTED_PICKLE_MODULES = set()

# Errors numpy, zipfile and json raise for a truncated or corrupt file.
_READ_ERRORS = (OSError, EOFError, ValueError, KeyError, IndexError, zipfile.BadZipFile,
                zlib.error, NotImplementedError, RecursionError, OverflowError,
                MemoryError, TypeError)

# Errors a layer or loss constructor raises for arguments it cannot use.
_BUILD_ERRORS = (util.Error, TypeError, ValueError, KeyError, AttributeError, IndexError,
                 RecursionError, OverflowError)


# ----- choosing the format -------------------------------------------------

def _is_handle(filename_or_handle):
    return hasattr(filename_or_handle, 'read') or hasattr(filename_or_handle, 'write')


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
        name = getattr(filename_or_handle, 'name', None) if _is_handle(filename_or_handle) \
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


# ----- writing files -------------------------------------------------------

# Temporaries are named '.<file name>.tmp-<host>-<pid>-<random>': a later save
# of the same path removes those of processes of this host that have died.
_HOST = hashlib.md5(socket.gethostname().encode('utf8')).hexdigest()[:8]


def _temp_prefix(path):
    return '.{}.tmp-{}-{}-'.format(os.path.basename(path), _HOST, os.getpid())


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # someone else's live process, or not a pid we can ask about
    return True


def clear_stale_temporaries(path):
    '''Remove temporaries of ``path`` left by saves that were killed.

    A temporary of ``path`` is removed only if it was made on this host by a
    process that no longer runs: never a temporary of another path, of
    another machine (on a shared folder), or one that a live process (this
    one included) may be writing now.

    Parameters
    ----------
    path : str or path-like
        The saved file whose temporaries to clear.

    Returns
    -------
    list of str
        The paths removed.

    Examples
    --------
    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> stale = os.path.join(folder, '.m.npz.tmp-{}-999999999-x1'.format(_HOST))
    >>> open(stale, 'wb').close()
    >>> removed = clear_stale_temporaries(os.path.join(folder, 'm.npz'))
    >>> [os.path.basename(p) == os.path.basename(stale) for p in removed], os.listdir(folder)
    ([True], [])
    '''
    path = os.path.abspath(os.fspath(path))
    folder, name = os.path.split(path)
    pattern = re.compile(r'\.{}\.tmp-{}-(\d+)-[A-Za-z0-9_]+\Z'.format(re.escape(name), _HOST))
    removed = []
    try:
        entries = os.listdir(folder)
    except OSError:
        return removed
    for entry in entries:
        match = pattern.match(entry)
        if not match:
            continue
        pid = int(match.group(1))
        if pid == os.getpid() or _pid_alive(pid):
            continue
        try:
            os.unlink(os.path.join(folder, entry))
        except FileNotFoundError:
            continue  # another process cleared it first
        except OSError as err:
            util.log('could not remove stale temporary {}: {}', entry, err)
            continue
        removed.append(os.path.join(folder, entry))
        util.log('removed stale temporary {}', os.path.join(folder, entry))
    return removed


def atomic_write(path, write):
    '''Write a file atomically: to a temporary file, then renamed over ``path``.

    The temporary file is made in the folder of ``path``, flushed to disk,
    then moved into place with :func:`os.replace`; if ``write`` raises, the
    temporary file is removed and ``path`` is left as it was. Temporaries
    that killed processes left for ``path`` are removed first
    (:func:`clear_stale_temporaries`).

    Parameters
    ----------
    path : str or path-like
        The file to write.
    write : callable
        ``write(handle)`` writes the content to a binary file handle.

    Examples
    --------
    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> atomic_write(os.path.join(folder, 'x.bin'), lambda h: h.write(b'abc'))
    >>> os.listdir(folder)
    ['x.bin']
    '''
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    clear_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(path), dir=folder)
    try:
        # mkstemp makes the file private (0600); give it the mode a plain
        # open() would: the replaced file's, else 0666 less the umask.
        os.chmod(tmp, _file_mode(path))
        with os.fdopen(fd, 'wb') as raw:
            write(raw)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _file_mode(path):
    '''Permission bits for a new file at ``path``.'''
    if os.path.exists(path):
        return os.stat(path).st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def file_label(filename_or_handle):
    '''How messages name a file: its path, or an open handle's ``name``.

    Examples
    --------
    >>> import io
    >>> file_label('model.npz'), file_label(io.BytesIO())
    ('model.npz', 'handle')
    '''
    if hasattr(filename_or_handle, 'read') or hasattr(filename_or_handle, 'write'):
        return str(getattr(filename_or_handle, 'name', 'handle'))
    return os.fspath(filename_or_handle)


def _peek(handle, size):
    '''The first ``size`` bytes of an open file, and a handle still at its start.

    A seekable handle is rewound; an unseekable one is read into memory.
    '''
    seekable = getattr(handle, 'seekable', None)
    if seekable is not None and seekable():
        pos = handle.tell()
        head = handle.read(size)
        handle.seek(pos)
        return head, handle
    data = handle.read()
    return data[:size], io.BytesIO(data)


def is_safe_file(filename_or_handle):
    '''Whether a file starts like the safe format (a zip archive).

    Parameters
    ----------
    filename_or_handle : str, path-like or binary file handle
        A handle is left at the position it had.

    Returns
    -------
    (bool, source)
        The answer, and what to read the file from: the path, the handle, or
        (for an unseekable handle) an in-memory copy of its content.
    '''
    if hasattr(filename_or_handle, 'read'):
        head, source = _peek(filename_or_handle, len(ZIP_MAGIC))
    else:
        source = os.fspath(filename_or_handle)
        with open(source, 'rb') as handle:
            head = handle.read(len(ZIP_MAGIC))
    return head == ZIP_MAGIC, source


# ----- saving -------------------------------------------------------------

def _jsonable(value, where, key):
    '''``value`` with tuples as lists and numpy scalars as Python numbers.

    Raises ConfigurationError naming ``where`` and ``key`` for anything JSON
    cannot hold.
    '''
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
    if isinstance(value, np.ndarray) and value.dtype.kind in 'biuf':
        return _jsonable(value.tolist(), where, key)
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, where, key) for v in value]
    if isinstance(value, dict):
        result = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise util.ConfigurationError(
                    '{}: {!r} holds a dict with key {!r}; the safe format can only save '
                    'string keys'.format(where, key, k))
            result[k] = _jsonable(v, where, key)
        return result
    raise util.ConfigurationError(
        '{}: the value of {!r} ({!r}) cannot be saved in the safe format, which holds only '
        'numbers, strings, booleans, None, lists and dicts; give it in one of those forms '
        'or save with format="pickle"'.format(where, key, value))


def _layer_spec(layer):
    where = 'layer {!r} ({})'.format(layer.name, type(layer).__name__)
    spec = {}
    for key, value in layer.to_spec().items():
        if key in ('rng', 'nrng') and isinstance(value, np.random.RandomState):
            continue  # initial values are overwritten by the saved parameters
        spec[key] = _jsonable(value, where, key)
    return spec


def _loss_spec(network, index, loss):
    where = 'loss {} ({} on {!r})'.format(index, type(loss).__name__, loss.output_name)
    spec = dict(loss.to_spec())
    target = loss.variables[0]
    inputs = [l for l in network.layers if isinstance(l, layers.Input)]
    earlier = [i for i, other in enumerate(network.losses[:index])
               if other.variables[0] is target]
    if any(l.input is target for l in inputs):
        spec['target'] = {'input': [l.name for l in inputs if l.input is target][0]}
    elif earlier:
        spec['target'] = {'loss': earlier[0]}
    elif not isinstance(spec.get('target'), int):
        raise util.ConfigurationError(
            '{}: its target {!r} is neither an input of the model, the target of an earlier '
            'loss, nor a variable the loss makes itself, so the safe format cannot describe '
            'it; save with format="pickle"'.format(where, target))
    return {key: _jsonable(value, where, key) for key, value in spec.items()}


def describe(network):
    '''The JSON-ready description of ``network`` stored in a safe file.

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
    '''
    cls = type(network)
    rng = getattr(network, '_rng', None)
    params = []
    seen = set()
    for param in network.params:
        if param.name in seen or param.name == META_KEY:
            raise util.ConfigurationError(
                'the safe format stores parameters by name, but the name {!r} is {}; rename '
                'the layer or save with format="pickle"'.format(
                    param.name, 'reserved' if param.name == META_KEY else 'used twice'))
        seen.add(param.name)
        value = param.get_value(borrow=True)
        params.append(dict(name=param.name, shape=[int(d) for d in value.shape],
                           dtype=str(value.dtype)))
    return dict(
        format=FORMAT,
        model='{}.{}'.format(cls.__module__, cls.__qualname__),
        rng=int(rng) if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool)
        else None,
        layers=[_layer_spec(layer) for layer in network.layers],
        losses=[_loss_spec(network, i, loss) for i, loss in enumerate(network.losses)],
        params=params)


def save_safe(network, filename_or_handle):
    '''Save ``network`` in the safe format (see the module docstring).

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
    '''
    meta = json.dumps(describe(network), sort_keys=True)
    arrays = {param.name: param.get_value() for param in network.params}
    arrays[META_KEY] = np.array(meta)

    def write(handle):
        np.savez(handle, allow_pickle=False, **arrays)

    if hasattr(filename_or_handle, 'write'):
        write(filename_or_handle)
    else:
        atomic_write(filename_or_handle, write)
    util.log('saved model (safe format) to {}', file_label(filename_or_handle))


def save_pickle(model, filename_or_handle):
    '''Pickle ``model`` to a path (gzip-compressed if it ends in ``.gz``) or a handle.

    A path is written atomically (:func:`atomic_write`); a handle is written
    and left open.

    Examples
    --------
    >>> import io, pickle, theanets
    >>> buffer = io.BytesIO()
    >>> save_pickle(theanets.Regressor([3, 4, 2]), buffer)
    >>> type(pickle.loads(buffer.getvalue())).__name__
    'Regressor'
    '''
    if _is_handle(filename_or_handle):
        pickle.dump(model, filename_or_handle, -1)
        util.log('saved model to {}', file_label(filename_or_handle))
        return
    path = os.fspath(filename_or_handle)

    def write(raw):
        if path.lower().endswith('.gz'):
            with gzip.GzipFile(fileobj=raw, mode='wb') as handle:
                pickle.dump(model, handle, -1)
        else:
            pickle.dump(model, raw, -1)

    atomic_write(path, write)
    util.log('saved model to {}', path)


# ----- loading ------------------------------------------------------------

def _network_classes(base):
    '''Every imported subclass of ``base`` (and ``base``), by full dotted name.

    Walked breadth first in order of definition, so a class defined again
    under the same name (in an interactive session) replaces the old one.
    '''
    found = {}
    todo = [base]
    while todo:
        cls = todo.pop(0)
        found['{}.{}'.format(cls.__module__, cls.__qualname__)] = cls
        todo.extend(cls.__subclasses__())
    return found


def _file_size(handle):
    '''The number of bytes from a seekable handle's position to its end.'''
    pos = handle.tell()
    end = handle.seek(0, os.SEEK_END)
    handle.seek(pos)
    return end - pos


#: Deflate compresses at most about 1032:1; anything claiming more is corrupt.
_MAX_DEFLATE_RATIO = 1100


def _check_sizes(handle, label):
    '''Raise LoadError if a size the archive declares exceeds what the file holds.

    numpy allocates an array of the declared shape before reading it; this
    check makes a corrupt header an error instead of a huge allocation.
    '''
    size = _file_size(handle)
    pos = handle.tell()
    try:
        with zipfile.ZipFile(handle) as archive:
            for info in archive.infolist():
                limit = info.compress_size if info.compress_type == zipfile.ZIP_STORED \
                    else info.compress_size * _MAX_DEFLATE_RATIO + 1024
                if info.compress_size > size or info.file_size > limit:
                    raise util.LoadError(
                        '{} is not a readable theanets safe model file (truncated or corrupt?): '
                        'entry {!r} declares {} bytes ({} stored), but the file has {}'.format(
                            label, info.filename, info.file_size, info.compress_size, size))
                if not info.filename.endswith('.npy'):
                    continue
                with archive.open(info) as member:
                    version = np.lib.format.read_magic(member)
                    read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) \
                        else np.lib.format.read_array_header_2_0
                    shape, _, dtype = read_header(member)
                count = 1
                for dim in shape:
                    count *= int(dim)
                if count * dtype.itemsize > info.file_size:
                    raise util.LoadError(
                        '{} is not a readable theanets safe model file (truncated or corrupt?): '
                        'entry {!r} declares an array of shape {} and dtype {} ({} bytes), '
                        'but holds {} bytes'.format(label, info.filename, tuple(shape), dtype,
                                                    count * dtype.itemsize, info.file_size))
    finally:
        handle.seek(pos)


def _read(source, label):
    '''The JSON description and the arrays of a safe file (an open, seekable handle).'''
    try:
        _check_sizes(source, label)
        with np.load(source, allow_pickle=False) as archive:
            if META_KEY not in archive.files:
                raise util.LoadError(
                    '{} is not a theanets safe model file: it has no {!r} entry (its entries '
                    'are {})'.format(label, META_KEY, sorted(archive.files)))
            meta = archive[META_KEY]
            if meta.shape != () or meta.dtype.kind != 'U':
                raise util.LoadError(
                    '{}: the {!r} entry must be a JSON string, not an array of {} with '
                    'shape {}'.format(label, META_KEY, meta.dtype, meta.shape))
            meta = json.loads(str(meta))
            arrays = {key: archive[key] for key in archive.files if key != META_KEY}
    except util.LoadError:
        raise
    except _READ_ERRORS as err:
        raise util.LoadError('{} is not a readable theanets safe model file (truncated or '
                             'corrupt?): {}: {}'.format(label, type(err).__name__, err)) from err
    return meta, arrays


def _check_description(meta, label):
    '''Raise util.Error unless ``meta`` has the structure a model needs.'''
    def fail(what):
        raise util.LoadError('{}: the model description is not valid: {}'.format(label, what))

    if not isinstance(meta, dict):
        fail('expected a JSON object, not {}'.format(type(meta).__name__))
    if meta.get('format') != FORMAT:
        raise util.LoadError('{}: unknown format version {!r}; this version of theanets reads '
                             '{!r}'.format(label, meta.get('format'), FORMAT))
    for key in ('model', 'layers', 'losses', 'params'):
        if key not in meta:
            fail('the key {!r} is missing'.format(key))
    if not isinstance(meta['model'], str):
        fail('"model" must be a class name, not {!r}'.format(meta['model']))
    if not isinstance(meta.get('rng'), (int, type(None))) or isinstance(meta.get('rng'), bool):
        fail('"rng" must be an int or null, not {!r}'.format(meta.get('rng')))
    for key in ('layers', 'losses', 'params'):
        if not isinstance(meta[key], list):
            fail('{!r} must be a list, not {}'.format(key, type(meta[key]).__name__))
        for i, item in enumerate(meta[key]):
            if not isinstance(item, dict):
                fail('{} entry {} must be an object, not {!r}'.format(key, i, item))
    for i, spec in enumerate(meta['layers'] + meta['losses']):
        if not isinstance(spec.get('form'), str):
            fail('{} {} has no "form" string: {!r}'.format(
                'layer' if i < len(meta['layers']) else 'loss',
                i if i < len(meta['layers']) else i - len(meta['layers']), spec))
    for i, entry in enumerate(meta['params']):
        shape = entry.get('shape')
        if not isinstance(entry.get('name'), str) or not isinstance(shape, list) or not all(
                isinstance(d, int) and not isinstance(d, bool) for d in shape):
            fail('params entry {} must have a "name" string and a "shape" list of ints, '
                 'not {!r}'.format(i, entry))


def _find_class(base, name, label):
    classes = _network_classes(base)
    if name not in classes:
        raise util.LoadError(
            '{}: unknown model class {!r}; the safe loader only uses model classes that are '
            'already imported (import the module defining it first). Known classes: '
            '{}'.format(label, name, ', '.join(sorted(classes))))
    return classes[name]


def _loss_target(model, index, target, label):
    if checks.is_count(target):
        return target
    if isinstance(target, dict) and set(target) == {'input'}:
        inputs = [layer for layer in model.layers if isinstance(layer, layers.Input)]
        try:
            return checks.find_layer(inputs, target['input'], 'input layer').input
        except util.Error as err:
            raise util.LoadError('{}: loss {} targets input {!r}: {}'.format(
                label, index, target['input'], err)) from err
    if isinstance(target, dict) and set(target) == {'loss'} and \
            isinstance(target['loss'], int) and 0 <= target['loss'] < index:
        return model.losses[target['loss']].variables[0]
    raise util.LoadError('{}: loss {} has target {!r}; expected a number of dimensions, '
                     '{{"input": <input layer name>}} or {{"loss": <index of an earlier '
                     'loss>}}'.format(label, index, target))


def _rebuild(cls, base, meta, label):
    '''A model of class ``cls`` with the layers and losses of ``meta``.'''
    model = cls.__new__(cls)
    rng = meta.get('rng')
    base.__init__(model, layers=(), loss=None, rng=13 if rng is None else rng)
    for i, spec in enumerate(meta['layers']):
        try:
            model.add_layer(dict(spec))
        except _BUILD_ERRORS as err:
            raise util.LoadError('{}: cannot rebuild layer {} ({!r}): {}'.format(
                label, i, spec.get('name', '?'), err)) from err
    for layer in model.layers:
        try:
            layer.bind(model)
        except _BUILD_ERRORS as err:
            raise util.LoadError('{}: cannot connect layer {!r}: {}'.format(
                label, layer.name, err)) from err
    for i, spec in enumerate(meta['losses']):
        spec = dict(spec)
        form = spec.pop('form')
        spec['target'] = _loss_target(model, i, spec.get('target'), label)
        if not losses.Loss.is_registered(form):
            raise util.LoadError('{}: cannot rebuild loss {}: {}'.format(
                label, i, util.unknown_name('loss', form, losses.Loss._registry)))
        try:
            model.add_loss(losses.Loss.build(form, **spec))
        except _BUILD_ERRORS as err:
            raise util.LoadError('{}: cannot rebuild loss {} ({}): {}'.format(
                label, i, form, err)) from err
    return model


def _set_params(model, meta, arrays, label):
    '''Copy the saved arrays into the model's parameters, checking names and shapes.'''
    names = [p.name for p in model.params]
    listed = [entry['name'] for entry in meta['params']]
    if listed != names:
        raise util.LoadError(
            '{}: the file lists parameters {} but the rebuilt model has {}'.format(
                label, listed, names))
    extra = sorted(set(arrays) - set(names))
    if extra:
        raise util.LoadError('{}: the file holds arrays {} that are not parameters of the '
                             'model (parameters: {})'.format(label, extra, names))
    for param, entry in zip(model.params, meta['params']):
        if param.name not in arrays:
            raise util.LoadError('{}: parameter {!r} is listed but its array is missing'.format(
                label, param.name))
        value = arrays[param.name]
        expected = param.get_value(borrow=True).shape
        for what, shape in (('array', value.shape), ('description', tuple(entry['shape']))):
            if tuple(shape) != tuple(expected):
                raise util.LoadError(
                    '{}: parameter {!r} has shape {} in the file ({}), but the model '
                    'expects {}'.format(label, param.name, tuple(shape), what, expected))
        if value.dtype.kind not in 'fiu':
            raise util.LoadError('{}: parameter {!r} holds {} values, not numbers'.format(
                label, param.name, value.dtype))
        param.set_value(np.asarray(value, dtype=param.dtype))


def load_safe(filename_or_handle, base, label=None):
    '''Load a model saved with :func:`save_safe` without running its code.

    Nothing named in the file is imported or called: the model class must be
    ``base`` or an already-imported subclass of it, and layer, activation and
    loss forms must be registered.

    Parameters
    ----------
    filename_or_handle : str, path-like or binary file handle
    base : type
        The model base class, :class:`theanets.graph.Network`.
    label : str, optional
        How error messages name the file (default: :func:`file_label`).

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
        loss, or its parameters do not match the model it describes; the
        message names the file.
    '''
    label = file_label(filename_or_handle) if label is None else label
    safe, source = is_safe_file(filename_or_handle)
    if not safe:
        raise util.LoadError('{} is not a theanets safe model file (it does not start like a '
                             'zip archive)'.format(label))
    if hasattr(source, 'read'):
        meta, arrays = _read(source, label)
    else:
        with open(source, 'rb') as handle:  # np.load leaks its own handle on a bad zip
            meta, arrays = _read(handle, label)
    _check_description(meta, label)
    cls = _find_class(base, meta['model'], label)
    model = _rebuild(cls, base, meta, label)
    _set_params(model, meta, arrays, label)
    util.log('loaded model (safe format) from {}', label)
    return model


# ----- pickles ---------------------------------------------------------------

#: Packages whose classes a pickle may name (imported on demand, like pickle does).
_PICKLE_PACKAGES = frozenset(['theanets', 'numpy', 'pytensor', 'scipy', 'collections'])

#: Functions (not classes) a model's pickle needs to rebuild arrays and random states.
_PICKLE_FUNCTIONS = frozenset([
    ('copyreg', '_reconstructor'), ('_codecs', 'encode'),
    ('numpy._core.numeric', '_frombuffer'), ('numpy.core.numeric', '_frombuffer'),
    ('numpy._core.multiarray', '_reconstruct'), ('numpy.core.multiarray', '_reconstruct'),
    ('numpy._core.multiarray', 'scalar'), ('numpy.core.multiarray', 'scalar'),
    ('numpy.random._pickle', '__randomstate_ctor'),
    ('numpy.random._pickle', '__bit_generator_ctor'),
    ('numpy.random._pickle', '__generator_ctor'),
])

#: Builtin types a pickle may name.
_PICKLE_BUILTINS = frozenset(['object', 'set', 'frozenset', 'slice', 'range', 'complex',
                              'bytearray', 'bytes', 'dict', 'list', 'tuple', 'int', 'float',
                              'str', 'bool'])

#: Module roots of the original Theano-based library and its companions.
_THEANO_ROOTS = ('theano', 'downhill', 'climate')


def _lookup(module, name):
    '''``module.name`` (dotted) from an already-imported module, or None.'''
    obj = sys.modules.get(module)
    for part in name.split('.'):
        obj = getattr(obj, part, None)
    return obj


def _is_theanets_subclass(obj):
    return isinstance(obj, type) and any(
        c.__module__.split('.')[0] == 'theanets' for c in obj.__mro__[1:])


class _Unpickler(pickle.Unpickler):
    '''An unpickler that only uses the names a theanets model needs.'''

    def __init__(self, handle, label):
        super().__init__(handle)
        self.label = label

    def find_class(self, module, name):
        root = module.split('.')[0]
        if root in _THEANO_ROOTS:
            raise util.LoadError(
                '{} was saved by the original Theano-based theanets (it refers to module '
                '{!r}); such files cannot be loaded here. Load it with the original library, '
                'save the parameters (model.params values) with numpy, and copy them into a '
                'model built here with the same layers.'.format(self.label, root))
        if module in TRUSTED_PICKLE_MODULES or root in TRUSTED_PICKLE_MODULES or \
                (module, name) in _PICKLE_FUNCTIONS or \
                (module == 'builtins' and name in _PICKLE_BUILTINS):
            return super().find_class(module, name)
        if root in _PICKLE_PACKAGES:
            obj = super().find_class(module, name)
            if isinstance(obj, type) or (root == 'numpy' and name.startswith('__pyx_unpickle_')):
                return obj
        else:
            obj = _lookup(module, name)
            if _is_theanets_subclass(obj):
                return obj
        raise util.LoadError(
            '{} refers to {}.{}, which is not a class of theanets, numpy, pytensor or scipy, '
            'nor a subclass of a theanets class in a module that is imported; the pickle '
            'loader uses no other names. If the file comes from a source you trust, import '
            'the module that defines it, or add {!r} to '
            'theanets.serialize.TRUSTED_PICKLE_MODULES.'.format(
                self.label, module, name, module))


def _read_all(handle, limit=None):
    '''The rest of a file, read in chunks (never one read of a declared size).'''
    chunks, total = [], 0
    while True:
        chunk = handle.read(1 << 20)
        if not chunk:
            return b''.join(chunks)
        total += len(chunk)
        if limit is not None and total > limit:
            raise util.LoadError('it decompresses to more than {} bytes, more than the gzip '
                                 'format can hold in a file of its size'.format(limit))
        chunks.append(chunk)


def _check_pickle(data):
    '''Raise LoadError unless every length and memo index in ``data`` fits in it.

    pickletools reads each declared length from the data (and stops at the
    end), so nothing here allocates more than the data's size; the unpickler
    itself would allocate a declared length, or grow its memo to a declared
    index, before reading.
    '''
    count = 0
    for opcode, arg, pos in pickletools.genops(data):
        count += 1
        if opcode.name == 'FRAME' and arg > len(data) - pos:
            raise util.LoadError('a frame of {} bytes at offset {}, but only {} bytes '
                                 'follow'.format(arg, pos, len(data) - pos))
        if opcode.name in ('PUT', 'BINPUT', 'LONG_BINPUT') and not 0 <= arg < count:
            raise util.LoadError('memo index {} at offset {}, after only {} opcodes'.format(
                arg, pos, count))


def load_pickle(handle, label, compressed_size=None):
    '''Unpickle a model from an open binary file; clear errors for unreadable files.

    A pickle can run code when loaded: use only files from a trusted source.
    See the module docstring for what this loader checks and allows.

    Parameters
    ----------
    handle : binary file handle
        Read to its end (a :class:`gzip.GzipFile` for compressed files).
    label : str
        How error messages name the file.
    compressed_size : int, optional
        For a gzip handle, the size of the compressed file: the content may
        not decompress to more than deflate allows for it.

    Raises
    ------
    theanets.util.LoadError
        If the file is truncated or corrupt, names something the loader does
        not use, or was written by the original Theano-based theanets.
    '''
    try:
        limit = None if compressed_size is None else \
            compressed_size * _MAX_DEFLATE_RATIO + (1 << 20)
        data = _read_all(handle, limit)
        _check_pickle(data)
        return _Unpickler(io.BytesIO(data), label).load()
    except util.LoadError as err:
        if str(err).startswith(label):
            raise
        raise util.LoadError('{} is not a readable theanets model (truncated or corrupt?): '
                             '{}'.format(label, err)) from err
    except Exception as err:  # anything the unpickler or a __setstate__ raises
        raise util.LoadError('{} is not a readable theanets model (truncated or corrupt?): '
                             '{}: {}'.format(label, type(err).__name__, err)) from err
