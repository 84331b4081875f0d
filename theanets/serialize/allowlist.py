"""The globals a pickle written by theanets may name, and nothing else.

A model pickle (``pickle.dump(model, -1)``) names three kinds of globals:

* classes whose instances it rebuilds with ``NEWOBJ`` (``cls.__new__(cls)``,
  no arguments) and then fills with ``BUILD``: every imported subclass of
  the model base class, of :class:`~theanets.layers.Layer`,
  :class:`~theanets.losses.Loss` and :class:`~theanets.activations.Activation`
  (so a user's own layer or model class loads once its module is imported;
  nothing is imported because a file names it), and the PyTensor classes
  of :data:`PYTENSOR_CLASSES` (shared variables, their types and containers,
  the symbolic inputs and targets) and the parameter-free activation
  wrapper of :data:`THEANETS_CLASSES`;
* the functions numpy's and the standard library's own pickles call to
  rebuild arrays, dtypes and random states (:data:`CALLABLES`), each with
  arguments of a form checked by :mod:`theanets.serialize.scan`;
* classes that only appear as an argument of one of those functions
  (:data:`ARGUMENTS`).

``tests/test_serialize.py`` pickles a model of every registered layer,
activation and loss form and of every model class and checks that this list
is complete.
"""

import sys

from .. import activations, layers, losses

__all__ = ["PYTENSOR_CLASSES", "THEANETS_CLASSES", "CALLABLES", "ARGUMENTS", "Allowlist"]

#: PyTensor classes in a model's pickle: (module, name).
PYTENSOR_CLASSES = frozenset(
    [
        ("pytensor.tensor.sharedvar", "TensorSharedVariable"),
        ("pytensor.sparse.sharedvar", "SparseTensorSharedVariable"),
        ("pytensor.tensor.variable", "TensorVariable"),
        ("pytensor.sparse.variable", "SparseVariable"),
        ("pytensor.tensor.type", "TensorType"),
        ("pytensor.sparse.type", "SparseTensorType"),
        ("pytensor.link.basic", "Container"),
        ("pytensor.graph.utils", "Scratchpad"),
    ]
)

#: theanets classes that are not subclasses of the four bases.
THEANETS_CLASSES = frozenset([("theanets.activations", "_Plain")])

#: Functions (and one class) that numpy's and collections' pickles call, by
#: the name of the rule in :mod:`theanets.serialize.scan` that checks their
#: arguments.
CALLABLES = {
    ("numpy", "dtype"): "dtype",
    ("numpy._core.numeric", "_frombuffer"): "frombuffer",
    ("numpy.core.numeric", "_frombuffer"): "frombuffer",
    ("numpy._core.multiarray", "_reconstruct"): "reconstruct",
    ("numpy.core.multiarray", "_reconstruct"): "reconstruct",
    ("numpy._core.multiarray", "scalar"): "scalar",
    ("numpy.core.multiarray", "scalar"): "scalar",
    ("numpy.random._pickle", "__bit_generator_ctor"): "bit_generator",
    ("numpy.random._pickle", "__randomstate_ctor"): "random_state",
    ("numpy.random._pickle", "__generator_ctor"): "random_state",
    ("numpy.random.bit_generator", "__pyx_unpickle_SeedSequence"): "seed_sequence",
    ("collections", "OrderedDict"): "ordered_dict",
}

#: numpy's bit generators, by the names their pickles use.
BIT_GENERATORS = frozenset(["MT19937", "PCG64", "PCG64DXSM", "Philox", "SFC64"])

#: Classes that may appear only as arguments of :data:`CALLABLES`.
ARGUMENTS = frozenset(
    [
        ("numpy", "ndarray"),
        ("numpy.random.bit_generator", "SeedSequence"),
        ("numpy.random._pickle", "__bit_generator_ctor"),
    ]
    + [("numpy.random._" + name.lower().replace("dxsm", ""), name) for name in BIT_GENERATORS]
)

#: Roots of the original Theano-based library and its companions.
THEANO_ROOTS = ("theano", "downhill", "climate")


def _subclasses(root):
    found, todo = {}, [root]
    while todo:
        cls = todo.pop(0)
        module = sys.modules.get(cls.__module__)
        if module is not None and getattr(module, cls.__qualname__, None) is cls:
            found[(cls.__module__, cls.__qualname__)] = cls  # only a class its module holds
        todo.extend(cls.__subclasses__())
    return found


def _module_alias(module):
    """numpy 1's ``numpy.core.*`` names, as numpy 2 has them."""
    if module == "numpy.core" or module.startswith("numpy.core."):
        return "numpy._core" + module[len("numpy.core") :]
    return module


class Allowlist:
    """The globals one load may use, resolved from modules already imported.

    Parameters
    ----------
    base : type
        The model base class; its imported subclasses may be named.
    """

    def __init__(self, base):
        self.base = base
        self.classes = {}
        for root in (base, layers.Layer, losses.Loss, activations.Activation):
            self.classes.update(_subclasses(root))
        self.models = frozenset(_subclasses(base))

    def kind(self, module, name):
        """``'class'``, ``'callable'``, ``'argument'`` or None for a global."""
        key = (module, name)
        if key in self.classes or key in PYTENSOR_CLASSES or key in THEANETS_CLASSES:
            return "class"
        if key in CALLABLES:
            return "callable"
        if key in ARGUMENTS:
            return "argument"
        return None

    def resolve(self, module, name):
        """The object a permitted global names, from an imported module (never imported)."""
        if (module, name) in self.classes:
            return self.classes[module, name]
        if self.kind(module, name) is None:
            return None
        obj = sys.modules.get(_module_alias(module))
        for part in name.split("."):
            obj = getattr(obj, part, None)
        return obj
