"""Registering an operation's JAX or Numba conversion when PyTensor's
dispatch module for that backend is imported.

PyTensor's ``pytensor.link.jax.dispatch`` imports jax and
``pytensor.link.numba.dispatch`` imports numba (a few tenths of a second
each); theanets imports them only when a function is compiled for that
backend, and PyTensor's linkers import them then, whoever asked for the
mode. :func:`after_import` runs a registration right after such a module
has been imported (at once if it already has been).
"""

import importlib.abc
import importlib.machinery
import sys

__all__ = ["after_import", "numba_register"]


class _AfterImport(importlib.abc.MetaPathFinder):
    """A finder that finds nothing itself: for a watched module it asks
    the path finder for the spec, and wraps the spec's loader so that the
    hooks run once the module has been executed (a post-import hook)."""

    def __init__(self):
        self.hooks = {}

    def add(self, name, hook):
        if name in sys.modules:
            hook()
            return
        self.hooks.setdefault(name, []).append(hook)
        if self not in sys.meta_path:
            sys.meta_path.insert(0, self)

    def find_spec(self, fullname, path=None, target=None):
        hooks = self.hooks.pop(fullname, None)
        if hooks is None:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            self.hooks[fullname] = hooks
            return None
        exec_module = spec.loader.exec_module

        def exec_then_hook(module):
            exec_module(module)
            for hook in hooks:
                hook()

        # each spec has its own loader instance: patch that instance only
        spec.loader.exec_module = exec_then_hook
        return spec


_FINDER = _AfterImport()


def after_import(name, hook):
    """Call ``hook()`` once module ``name`` has been imported.

    Parameters
    ----------
    name : str
        Full name of the module.
    hook : callable
        Called without arguments, right after the module has been executed
        (or now, if it has already been imported).

    Examples
    --------
    >>> after_import('math', lambda: print('math is here'))
    math is here
    """
    _FINDER.add(name, hook)


def numba_register(op_class, version):
    """A decorator registering a Numba conversion of ``op_class``.

    PyTensor caches the compiled Numba functions on disk under a key made of
    the operation's class and parameters; ``version`` (an int) is added to
    it, so that a changed implementation is compiled anew instead of read
    back. Call this once ``pytensor.link.numba.dispatch`` is imported.
    """
    from pytensor.link.numba.dispatch import basic

    register = basic.register_funcify_default_op_cache_key

    def decorator(convert):
        def versioned(*args, **kwargs):
            return convert(*args, **kwargs), version

        register(op_class)(versioned)
        return convert

    return decorator
