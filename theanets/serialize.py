'''A safe model format: parameters and a JSON description in one ``.npz`` file.

A pickle runs code when it is loaded. A file in this format is read without
executing or importing anything it names:

* it is a numpy zip archive (written with :func:`numpy.savez`, read with
  ``numpy.load(..., allow_pickle=False)``) holding every parameter array
  under its name (``'hid1.w'``), plus one entry ``'__theanets__'``: a JSON
  string (a 0-d unicode array) describing the model;
* the JSON names the model class (``"theanets.feedforward.Autoencoder"``),
  which is looked up among the subclasses of :class:`theanets.graph.Network`
  that are already imported, never imported;
* layers, activations and losses are rebuilt from their specs through the
  registries, so a user's own layer class loads as long as its module has
  been imported by the program, and nothing is imported because a file says
  so.

The JSON holds ``format`` (``"theanets-safe/1"``), ``model``, ``rng`` (the
model's seed when it is an int, else null), ``layers`` (each layer's
:meth:`~theanets.layers.Layer.to_spec`), ``losses`` (each loss's
:meth:`~theanets.losses.Loss.to_spec`, the target written as a number of
dimensions, ``{"input": "<input layer>"}`` or ``{"loss": <index of an earlier
loss whose target it shares>}``) and ``params`` (name, shape and dtype of
each parameter, in ``model.params`` order).

Use it through :meth:`theanets.graph.Network.save` (``format='safe'``, or a
path ending in ``.npz``) and :meth:`theanets.graph.Network.load`.
'''

import gzip
import io
import json
import os
import pickle
import tempfile
import zipfile
import zlib

import numpy as np

from . import graph
from . import layers
from . import losses
from . import util

__all__ = ['FORMAT', 'save_safe', 'load_safe', 'load_pickle', 'describe', 'atomic_write',
           'is_safe_file',
           'file_label']

#: The format tag written in (and required of) every file.
FORMAT = 'theanets-safe/1'

#: Name of the archive entry holding the JSON description.
META_KEY = '__theanets__'

#: The first bytes of a zip archive (and so of every file in this format).
ZIP_MAGIC = b'PK\x03\x04'

# Errors numpy, zipfile and json raise for a truncated or corrupt file.
_READ_ERRORS = (OSError, EOFError, ValueError, KeyError, IndexError, zipfile.BadZipFile,
                zlib.error, NotImplementedError, RecursionError, OverflowError)

# Errors a layer or loss constructor raises for arguments it cannot use.
_BUILD_ERRORS = (util.Error, TypeError, ValueError, KeyError, AttributeError, IndexError)


def atomic_write(path, write):
    '''Write a file atomically: to a temporary file, then renamed over ``path``.

    The temporary file is made in the folder of ``path``, flushed to disk,
    then moved into place with :func:`os.replace`; if ``write`` raises, the
    temporary file is removed and ``path`` is left as it was.

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
    fd, tmp = tempfile.mkstemp(prefix='.' + os.path.basename(path) + '.', dir=folder)
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
    >>> [p.name for p in load_safe(buffer).params]
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


# ----- loading ------------------------------------------------------------

def _network_classes():
    '''Every imported subclass of Network (and Network), by full dotted name.

    Walked breadth first in order of definition, so a class defined again
    under the same name (in an interactive session) replaces the old one.
    '''
    found = {}
    todo = [graph.Network]
    while todo:
        cls = todo.pop(0)
        found['{}.{}'.format(cls.__module__, cls.__qualname__)] = cls
        todo.extend(cls.__subclasses__())
    return found


def _read(source, label):
    '''The JSON description and the arrays of a safe file.'''
    try:
        with np.load(source, allow_pickle=False) as archive:
            if META_KEY not in archive.files:
                raise util.Error(
                    '{} is not a theanets safe model file: it has no {!r} entry (its entries '
                    'are {})'.format(label, META_KEY, sorted(archive.files)))
            meta = archive[META_KEY]
            if meta.shape != () or meta.dtype.kind != 'U':
                raise util.Error(
                    '{}: the {!r} entry must be a JSON string, not an array of {} with '
                    'shape {}'.format(label, META_KEY, meta.dtype, meta.shape))
            meta = json.loads(str(meta))
            arrays = {key: archive[key] for key in archive.files if key != META_KEY}
    except util.Error:
        raise
    except _READ_ERRORS as err:
        raise util.Error('{} is not a readable theanets safe model file (truncated or '
                         'corrupt?): {}: {}'.format(label, type(err).__name__, err)) from err
    return meta, arrays


def _check_description(meta, label):
    '''Raise util.Error unless ``meta`` has the structure a model needs.'''
    def fail(what):
        raise util.Error('{}: the model description is not valid: {}'.format(label, what))

    if not isinstance(meta, dict):
        fail('expected a JSON object, not {}'.format(type(meta).__name__))
    if meta.get('format') != FORMAT:
        raise util.Error('{}: unknown format version {!r}; this version of theanets reads '
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


def _find_class(name, label):
    classes = _network_classes()
    if name not in classes:
        raise util.Error(
            '{}: unknown model class {!r}; the safe loader only uses model classes that are '
            'already imported (import the module defining it first). Known classes: '
            '{}'.format(label, name, ', '.join(sorted(classes))))
    return classes[name]


def _loss_target(model, index, target, label):
    if isinstance(target, int) and not isinstance(target, bool):
        return target
    if isinstance(target, dict) and set(target) == {'input'}:
        for layer in model.layers:
            if isinstance(layer, layers.Input) and layer.name == target['input']:
                return layer.input
        raise util.Error('{}: loss {} targets input {!r}, but the model has no such input '
                         'layer (inputs: {})'.format(
                             label, index, target['input'], [v.name for v in model.inputs]))
    if isinstance(target, dict) and set(target) == {'loss'} and \
            isinstance(target['loss'], int) and 0 <= target['loss'] < index:
        return model.losses[target['loss']].variables[0]
    raise util.Error('{}: loss {} has target {!r}; expected a number of dimensions, '
                     '{{"input": <input layer name>}} or {{"loss": <index of an earlier '
                     'loss>}}'.format(label, index, target))


def _rebuild(cls, meta, label):
    '''A model of class ``cls`` with the layers and losses of ``meta``.'''
    model = cls.__new__(cls)
    rng = meta.get('rng')
    graph.Network.__init__(model, layers=(), loss=None, rng=13 if rng is None else rng)
    for i, spec in enumerate(meta['layers']):
        try:
            model.add_layer(dict(spec))
        except _BUILD_ERRORS as err:
            raise util.Error('{}: cannot rebuild layer {} ({!r}): {}'.format(
                label, i, spec.get('name', '?'), err)) from err
    for layer in model.layers:
        try:
            layer.bind(model)
        except _BUILD_ERRORS as err:
            raise util.Error('{}: cannot connect layer {!r}: {}'.format(
                label, layer.name, err)) from err
    for i, spec in enumerate(meta['losses']):
        spec = dict(spec)
        form = spec.pop('form')
        spec['target'] = _loss_target(model, i, spec.get('target'), label)
        if not losses.Loss.is_registered(form):
            raise util.Error('{}: cannot rebuild loss {}: {}'.format(
                label, i, util.unknown_name('loss', form, losses.Loss._registry)))
        try:
            model.add_loss(losses.Loss.build(form, **spec))
        except _BUILD_ERRORS as err:
            raise util.Error('{}: cannot rebuild loss {} ({}): {}'.format(
                label, i, form, err)) from err
    return model


def _set_params(model, meta, arrays, label):
    '''Copy the saved arrays into the model's parameters, checking names and shapes.'''
    names = [p.name for p in model.params]
    listed = [entry['name'] for entry in meta['params']]
    if listed != names:
        raise util.Error(
            '{}: the file lists parameters {} but the rebuilt model has {}'.format(
                label, listed, names))
    extra = sorted(set(arrays) - set(names))
    if extra:
        raise util.Error('{}: the file holds arrays {} that are not parameters of the '
                         'model (parameters: {})'.format(label, extra, names))
    for param, entry in zip(model.params, meta['params']):
        if param.name not in arrays:
            raise util.Error('{}: parameter {!r} is listed but its array is missing'.format(
                label, param.name))
        value = arrays[param.name]
        expected = param.get_value(borrow=True).shape
        for what, shape in (('array', value.shape), ('description', tuple(entry['shape']))):
            if tuple(shape) != tuple(expected):
                raise util.Error(
                    '{}: parameter {!r} has shape {} in the file ({}), but the model '
                    'expects {}'.format(label, param.name, tuple(shape), what, expected))
        if value.dtype.kind not in 'fiu':
            raise util.Error('{}: parameter {!r} holds {} values, not numbers'.format(
                label, param.name, value.dtype))
        param.set_value(np.asarray(value, dtype=param.dtype))


def load_safe(filename_or_handle, label=None):
    '''Load a model saved with :func:`save_safe` without running its code.

    Nothing named in the file is imported or called: the model class must be
    an already-imported subclass of :class:`theanets.graph.Network`, and
    layer, activation and loss forms must be registered.

    Parameters
    ----------
    filename_or_handle : str, path-like or binary file handle
    label : str, optional
        How error messages name the file (default: :func:`file_label`).

    Returns
    -------
    theanets.graph.Network
        A model of the saved class with the saved layers, losses and
        parameter values.

    Raises
    ------
    theanets.util.Error
        If the file is not in this format, is truncated or corrupt, has an
        unknown format version, names an unknown model class, layer form or
        loss, or its parameters do not match the model it describes; the
        message names the file.
    '''
    label = file_label(filename_or_handle) if label is None else label
    safe, source = is_safe_file(filename_or_handle)
    if not safe:
        raise util.Error('{} is not a theanets safe model file (it does not start like a zip '
                         'archive)'.format(label))
    if hasattr(source, 'read'):
        meta, arrays = _read(source, label)
    else:
        with open(source, 'rb') as handle:  # np.load leaks its own handle on a bad zip
            meta, arrays = _read(handle, label)
    _check_description(meta, label)
    cls = _find_class(meta['model'], label)
    model = _rebuild(cls, meta, label)
    _set_params(model, meta, arrays, label)
    util.log('loaded model (safe format) from {}', label)
    return model


def load_pickle(handle, label):
    '''Unpickle a model from an open file; clear errors for unreadable files.

    A pickle runs code when loaded: use only files from a trusted source.
    '''
    try:
        return pickle.load(handle)
    except ModuleNotFoundError as err:
        if err.name and err.name.split('.')[0] in ('theano', 'downhill', 'climate'):
            raise util.Error(
                '{} was saved by the original Theano-based theanets (it refers to module '
                '{!r}); such files cannot be loaded here. Load it with the original library, '
                'save the parameters (model.params values) with numpy, and copy them into a '
                'model built here with the same layers.'.format(label, err.name)) from err
        raise
    except (EOFError, pickle.UnpicklingError, gzip.BadGzipFile, OSError,
            AttributeError, IndexError, ValueError, KeyError, TypeError, OverflowError) as err:
        raise util.Error('{} is not a readable theanets model (truncated or corrupt?): '
                         '{}: {}'.format(label, type(err).__name__, err)) from err
