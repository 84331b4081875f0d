'''Native PyTensor operations for the layers whose generic graphs are slow.

PyTensor builds a convolution or an LSTM from many small operations (a
gather per filter tap, a ``scan`` step per time step). The operations here
compute each of them as one node, with its own gradient, and with an
implementation for every way theanets compiles: the Python ``perform`` (used
by the ``FAST_COMPILE`` mode of the tests), Numba and JAX.
'''

import sys

_BACKENDS = {'JAXLinker': 'jax', 'NumbaLinker': 'numba'}
_registered = set()


def register_dispatch(mode):
    '''Register the native operations' implementations for ``mode``'s linker.

    Each module here defines ``register_jax`` and ``register_numba``; they
    import their backend's dispatch (``jax`` is slow to import), so they run
    only when a function is compiled in that backend, and only for the
    modules in use (imported). PyTensor's other linkers call ``perform``.

    Parameters
    ----------
    mode : pytensor.compile.mode.Mode
        The mode a function is about to be compiled in.
    '''
    linker = getattr(mode, 'linker', None)
    backend = next((_BACKENDS[c.__name__] for c in type(linker).__mro__
                    if c.__name__ in _BACKENDS), None)
    if backend is None:
        return
    for name, module in list(sys.modules.items()):
        if name.startswith(__name__ + '.') and (name, backend) not in _registered:
            register = getattr(module, 'register_' + backend, None)
            if register is not None:
                register()
            _registered.add((name, backend))
