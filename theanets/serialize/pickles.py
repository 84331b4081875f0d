'''The pickle format, and the checks made before unpickling.

See :mod:`theanets.serialize` for what the loader allows.
'''

import gzip
import io
import os
import pickle
import pickletools
import sys

from .. import util
from .files import MAX_DEFLATE_RATIO, atomic_write, file_label, is_handle

__all__ = ['TRUSTED_PICKLE_MODULES', 'save_pickle', 'load_pickle']

#: Names of modules (or packages) whose every name a pickle may use. Empty by
#: default; add the module of a function or non-theanets class your saved
#: models hold, if you trust the pickles you load.
TRUSTED_PICKLE_MODULES = set()


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
    if is_handle(filename_or_handle):
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
            compressed_size * MAX_DEFLATE_RATIO + (1 << 20)
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
