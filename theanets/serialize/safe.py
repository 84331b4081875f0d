'''The safe format: parameters and a JSON description in one ``.npz`` file.

See :mod:`theanets.serialize` for the layout. Nothing a file names is
imported or called when it is loaded.
'''

import json
import zipfile
import zlib

import numpy as np

from .. import checks
from .. import layers
from .. import losses
from .. import util
from .files import MAX_DEFLATE_RATIO, atomic_write, file_label, file_size, is_safe_file

__all__ = ['FORMAT', 'META_KEY', 'describe', 'save_safe', 'load_safe']

#: The format tag written in (and required of) every file.
FORMAT = 'theanets-safe/1'

#: Name of the archive entry holding the JSON description.
META_KEY = '__theanets__'

# Errors numpy, zipfile and json raise for a truncated or corrupt file.
_READ_ERRORS = (OSError, EOFError, ValueError, KeyError, IndexError, zipfile.BadZipFile,
                zlib.error, NotImplementedError, RecursionError, OverflowError,
                MemoryError, TypeError)

# Errors a layer or loss constructor raises for arguments it cannot use.
_BUILD_ERRORS = (util.Error, TypeError, ValueError, KeyError, AttributeError, IndexError,
                 RecursionError, OverflowError)


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


def _check_sizes(handle, label):
    '''Raise LoadError if a size the archive declares exceeds what the file holds.

    numpy allocates an array of the declared shape before reading it; this
    check makes a corrupt header an error instead of a huge allocation.
    '''
    size = file_size(handle)
    pos = handle.tell()
    try:
        with zipfile.ZipFile(handle) as archive:
            for info in archive.infolist():
                limit = info.compress_size if info.compress_type == zipfile.ZIP_STORED \
                    else info.compress_size * MAX_DEFLATE_RATIO + 1024
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
