"""Checking a pickle's opcode stream before anything in it is unpickled.

:func:`check` runs the pickle machine symbolically over
:func:`pickletools.genops`: it keeps a stack and a memo of *descriptions*
of values (an int, a string of known length, a tuple of descriptions, a
global, an object built by a given class or function ...), never the values
themselves, so it allocates no more than a few dozen bytes per opcode and
calls nothing. The stream is refused (a :class:`theanets.util.LoadError`
that names the opcode's offset and what is wrong) unless:

* every ``GLOBAL``/``STACK_GLOBAL`` names a global of the
  :class:`~theanets.serialize.allowlist.Allowlist` (for ``STACK_GLOBAL``,
  module and name must be strings pushed by the stream itself);
* a global is only ever used as what it is for: a class only as the class of
  ``NEWOBJ``/``NEWOBJ_EX`` with no arguments, a function only as the
  callable of ``REDUCE`` with arguments of the form its rule allows (e.g.
  ``numpy.dtype`` of a numeric type code; ``_frombuffer`` of a bytes object
  whose length is exactly the shape times the item size), an argument-only
  class only in the argument position its function expects. A global never
  becomes data: never an item of a list, dict, set, a state, or the result;
* ``BUILD`` applies state only to an object made by ``NEWOBJ``/``REDUCE`` in
  this stream, once, and never to a class (so no pickle can set an
  attribute of a class of the library); its state holds no global;
* ``INST``, ``OBJ``, ``EXT*``, ``PERSID``, ``BINPERSID``, Python 2 strings
  (``STRING``, ``BINSTRING``) and out-of-band buffers do not occur;
  ``APPEND(S)`` target lists, ``SETITEM(S)`` dicts (or an ``OrderedDict``),
  ``ADDITEMS`` sets; a list, dict or set is not changed after it became
  part of another value;
* sizes are bounded: declared lengths fit in the data (pickletools reads
  them from the data, never allocating a declared size), ``FRAME`` lengths
  fit, memo indices are at most the number of opcodes read (the unpickler
  grows its memo to an index before storing), the stream has at most
  :data:`~theanets.serialize.limits.MAX_PICKLE_OPCODES` opcodes, no value
  reaches more than :data:`~theanets.serialize.limits.MAX_PICKLE_NODES`
  objects when walked as a tree (an exponential graph of shared references
  is refused), and ``STOP`` ends the data;
* the result is an object of a model class.

Only then is the data unpickled, by an unpickler whose ``find_class``
resolves the same allowlist from modules already imported (it imports
nothing). The unpickler then creates only objects of allowed classes (with
``cls.__new__(cls)``), numpy arrays, dtypes and random states from checked
arguments, and plain containers and scalars, whose total size the checks
above bound by the file's length.
"""

import pickletools
import warnings

import numpy as np

from .. import util
from . import limits
from .allowlist import ARGUMENTS, BIT_GENERATORS, CALLABLES, THEANO_ROOTS

__all__ = ["check"]

#: Type codes ``numpy.dtype`` may be called with: booleans, integers and floats.
_DTYPE_CODES = frozenset(
    ["b1", "?"] + ["{}{}".format(k, n) for k in "iu" for n in (1, 2, 4, 8)] + ["f2", "f4", "f8"]
)

_STRING_KEEP = 256  # strings longer than this are described by their length only


class _V:
    """The description of a value on the symbolic stack."""

    __slots__ = ("kind", "value", "size", "frozen", "built", "has_global")

    def __init__(self, kind, value=None, size=1, has_global=False):
        self.kind = kind  # atom, str, bytes, tuple, list, dict, set, frozenset,
        self.value = value  # global, obj, mark
        self.size = size
        self.frozen = False
        self.built = False
        self.has_global = has_global

    def describe(self):
        if self.kind == "global":
            return "the global {}.{}".format(*self.value)
        if self.kind == "obj":
            return "an object made by {}".format(self.value[0])
        return {
            "atom": "a number",
            "str": "a string",
            "bytes": "a bytes object",
            "mark": "a mark",
        }.get(self.kind, "a " + self.kind)


class _Refused(Exception):
    """A stream that breaks the rules of the module docstring."""


class _Corrupt(Exception):
    """A stream that is not a well-formed pickle."""


_MARK = _V("mark")


def _fail(message, *args):
    raise _Refused(message.format(*args))


def _bad(message, *args):
    raise _Corrupt(message.format(*args))


class _Machine:
    """The symbolic pickle machine of :func:`check`."""

    def __init__(self, allow, length):
        self.allow = allow
        self.length = length
        self.stack = []
        self.memo = {}
        self.count = 0

    # ----- stack helpers ----------------------------------------------

    def push(self, v):
        if v.size > limits.MAX_PICKLE_NODES:
            _fail(
                "it builds a value that reaches more than {} objects "
                "(theanets.serialize.limits.MAX_PICKLE_NODES): an object graph that "
                "grows much faster than the file",
                limits.MAX_PICKLE_NODES,
            )
        self.stack.append(v)

    def pop(self):
        if not self.stack:
            _bad("the stack is empty")
        return self.stack.pop()

    def pop_mark(self):
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i] is _MARK:
                items = self.stack[i + 1 :]
                del self.stack[i:]
                return items
        _bad("no mark on the stack")

    def top(self):
        if not self.stack or self.stack[-1] is _MARK:
            _bad("the stack is empty")
        return self.stack[-1]

    @staticmethod
    def data(v, where):
        """Check that ``v`` may become data (part of a value); freeze containers."""
        if v is _MARK:
            _fail("a mark used as a value in {}", where)
        if v.kind == "global" or v.has_global:
            what = v.describe() if v.kind == "global" else "a tuple holding a global"
            _fail(
                "{} would become data (in {}); a model pickle uses globals only to build objects",
                what,
                where,
            )
        if v.kind in ("list", "dict", "set"):
            v.frozen = True
        return v.size

    def container(self, kind, items, where):
        size = 1 + sum(self.data(v, where) for v in items)
        return _V(kind, size=size)

    def tuple_of(self, items):
        size, has_global = 1, False
        for v in items:
            if v is _MARK:
                _fail("a mark inside a tuple")
            if v.kind in ("list", "dict", "set"):
                v.frozen = True
            size += v.size
            has_global = has_global or v.kind == "global" or v.has_global
        return _V("tuple", list(items), size, has_global)

    def target(self, kinds, what):
        """The container below the items an APPEND/SETITEM-like opcode adds."""
        v = self.top()
        if v.kind not in kinds and not (
            v.kind == "obj" and v.value[0] == "collections.OrderedDict" and "dict" in kinds
        ):
            _fail("{} adds to {}, not to a {}", what, v.describe(), " or ".join(kinds))
        if v.frozen:
            _fail("{} changes a {} that is already part of another value", what, v.kind)
        return v

    # ----- the opcodes ------------------------------------------------

    def step(self, op, arg, pos):
        name = op.name
        self.count += 1
        if self.count > limits.MAX_PICKLE_OPCODES:
            _fail(
                "more than {} opcodes (theanets.serialize.limits.MAX_PICKLE_OPCODES)",
                limits.MAX_PICKLE_OPCODES,
            )
        handler = getattr(self, "op_" + name, None)
        if handler is not None:
            return handler(arg, pos)
        if name in _ATOMS:
            return self.push(_V("atom", arg if isinstance(arg, (int, float, bool)) else None))
        if name in _STRINGS:
            return self.push(_V("str", arg if len(arg) <= _STRING_KEEP else None))
        if name in _BYTES:
            return self.push(_V("bytes", len(arg)))
        _fail("the opcode {}, which a model pickle does not use", name)

    def op_PROTO(self, arg, pos):
        pass

    def op_FRAME(self, arg, pos):
        if arg > self.length - pos:
            _bad(
                "a frame of {} bytes at offset {}, but only {} bytes follow",
                arg,
                pos,
                self.length - pos,
            )

    def op_MARK(self, arg, pos):
        self.stack.append(_MARK)

    def op_POP(self, arg, pos):
        self.pop()

    def op_POP_MARK(self, arg, pos):
        self.pop_mark()

    def op_DUP(self, arg, pos):
        self.push(self.top())

    def _put(self, index):
        if not 0 <= index <= self.count:
            _bad("memo index {}, after only {} opcodes", index, self.count)
        self.memo[index] = self.top()

    def op_PUT(self, arg, pos):
        self._put(arg)

    op_BINPUT = op_LONG_BINPUT = op_PUT

    def op_MEMOIZE(self, arg, pos):
        self._put(len(self.memo))

    def op_GET(self, arg, pos):
        if arg not in self.memo:
            _bad("memo index {} was never stored", arg)
        self.push(self.memo[arg])

    op_BINGET = op_LONG_BINGET = op_GET

    def op_EMPTY_TUPLE(self, arg, pos):
        self.push(self.tuple_of([]))

    def op_TUPLE(self, arg, pos):
        self.push(self.tuple_of(self.pop_mark()))

    def op_TUPLE1(self, arg, pos):
        self.push(self.tuple_of([self.pop()]))

    def op_TUPLE2(self, arg, pos):
        b, a = self.pop(), self.pop()
        self.push(self.tuple_of([a, b]))

    def op_TUPLE3(self, arg, pos):
        c, b, a = self.pop(), self.pop(), self.pop()
        self.push(self.tuple_of([a, b, c]))

    def op_EMPTY_LIST(self, arg, pos):
        self.push(_V("list"))

    def op_LIST(self, arg, pos):
        self.push(self.container("list", self.pop_mark(), "a list"))

    def op_EMPTY_DICT(self, arg, pos):
        self.push(_V("dict"))

    def op_EMPTY_SET(self, arg, pos):
        self.push(_V("set"))

    def _keys(self, items, where):
        for key in items:
            if key is _MARK or key.kind not in ("atom", "str", "bytes", "tuple", "frozenset"):
                _fail(
                    "{} has {} as a key or member",
                    where,
                    "a mark" if key is _MARK else key.describe(),
                )

    def op_DICT(self, arg, pos):
        items = self.pop_mark()
        if len(items) % 2:
            _bad("DICT with an odd number of items")
        self._keys(items[::2], "a dict")
        self.push(self.container("dict", items, "a dict"))

    def op_FROZENSET(self, arg, pos):
        items = self.pop_mark()
        self._keys(items, "a frozenset")
        self.push(self.container("frozenset", items, "a frozenset"))

    def _grow(self, target, items, where):
        target.size += sum(self.data(v, where) for v in items)
        if target.size > limits.MAX_PICKLE_NODES:
            self.push(target)  # fails with the message of push

    def op_APPEND(self, arg, pos):
        item = self.pop()
        self._grow(self.target(("list",), "APPEND"), [item], "a list")

    def op_APPENDS(self, arg, pos):
        items = self.pop_mark()
        self._grow(self.target(("list",), "APPENDS"), items, "a list")

    def op_SETITEM(self, arg, pos):
        value, key = self.pop(), self.pop()
        self._keys([key], "a dict")
        self._grow(self.target(("dict",), "SETITEM"), [key, value], "a dict")

    def op_SETITEMS(self, arg, pos):
        items = self.pop_mark()
        if len(items) % 2:
            _bad("SETITEMS with an odd number of items")
        self._keys(items[::2], "a dict")
        self._grow(self.target(("dict",), "SETITEMS"), items, "a dict")

    def op_ADDITEMS(self, arg, pos):
        items = self.pop_mark()
        self._keys(items, "a set")
        self._grow(self.target(("set",), "ADDITEMS"), items, "a set")

    # ----- globals and objects ----------------------------------------

    def _global(self, module, name):
        root = module.split(".")[0]
        if root in THEANO_ROOTS:
            raise util.LoadError(
                "was saved by the original Theano-based theanets (it refers to module {!r}); "
                "such files cannot be loaded here. Load it with the original library, save "
                "the parameters (model.params values) with numpy, and copy them into a model "
                "built here with the same layers.".format(root)
            )
        if self.allow.kind(module, name) is None:
            _fail(
                "it refers to {}.{}, which is not among the globals a theanets model pickle "
                "uses (theanets model, layer, loss and activation classes already imported, "
                "the PyTensor and numpy classes of theanets.serialize.allowlist); the pickle "
                "loader uses nothing else. If the file comes from a source you trust, load "
                "it with trusted=True; if it names a class of your own, import the module "
                "that defines it first",
                module,
                name,
            )
        self.push(_V("global", (module, name)))

    def op_GLOBAL(self, arg, pos):
        module, _, name = arg.partition(" ")
        self._global(module, name)

    def op_STACK_GLOBAL(self, arg, pos):
        name, module = self.pop(), self.pop()
        if name.kind != "str" or module.kind != "str" or None in (name.value, module.value):
            _fail(
                "STACK_GLOBAL of {} and {}, not of two short strings",
                module.describe(),
                name.describe(),
            )
        self._global(module.value, name.value)

    def op_NEWOBJ(self, arg, pos):
        args, cls = self.pop(), self.pop()
        self._new(cls, args, None)

    def op_NEWOBJ_EX(self, arg, pos):
        kwargs, args, cls = self.pop(), self.pop(), self.pop()
        self._new(cls, args, kwargs)

    def _new(self, cls, args, kwargs):
        if cls.kind != "global" or self.allow.kind(*cls.value) != "class":
            _fail("NEWOBJ of {}, not of a class of the model", cls.describe())
        if (
            args.kind != "tuple"
            or args.value
            or (kwargs is not None and (kwargs.kind != "dict" or kwargs.size != 1))
        ):
            _fail(
                "NEWOBJ of {}.{} with arguments; a model pickle makes its objects with none",
                *cls.value,
            )
        self.push(_V("obj", ("{}.{}".format(*cls.value), None)))

    def op_REDUCE(self, arg, pos):
        args, func = self.pop(), self.pop()
        if func.kind != "global" or self.allow.kind(*func.value) != "callable":
            _fail("REDUCE calls {}, which a model pickle never calls", func.describe())
        if args.kind != "tuple":
            _fail("REDUCE of {}.{} with {} as arguments", *func.value, args.describe())
        rule = CALLABLES[func.value]
        name = "{}.{}".format(*func.value)
        result = getattr(self, "rule_" + rule)(name, args.value)
        self.push(_V("obj", (name, result), args.size + 1))

    def op_BUILD(self, arg, pos):
        state = self.pop()
        target = self.top()
        if target.kind != "obj":
            _fail(
                "BUILD on {}: state may only be set on an object the pickle made (never on "
                "a class)",
                target.describe(),
            )
        if target.built:
            _fail("BUILD on {} a second time", target.describe())
        target.built = True
        creator, info = target.value
        if creator.endswith(("_frombuffer", ".scalar")):
            _fail("BUILD on {}, whose state is complete", target.describe())
        if creator.endswith("_reconstruct"):
            self._array_state(state)
        elif creator == "numpy.dtype":
            if state.kind != "tuple" or any(v.kind not in ("atom", "str") for v in state.value):
                _fail("the state of a dtype must be a tuple of numbers and strings (no fields)")
        target.size += self.data(state, "the state of " + target.describe())
        if target.size > limits.MAX_PICKLE_NODES:
            self.push(target)

    def op_STOP(self, arg, pos):
        if pos + 1 != self.length:
            _bad("{} bytes follow the STOP opcode", self.length - pos - 1)
        if len(self.stack) != 1:
            _bad("the stack holds {} values at the end, not one", len(self.stack))
        result = self.stack[0]
        self.data(result, "the result")
        if result.kind != "obj" or result.value[0] not in _names(self.allow.models):
            raise util.LoadError(
                "does not hold a theanets model: it unpickles to {}, not a {}".format(
                    result.describe(), self.allow.base.__name__
                )
            )

    # ----- the rules for REDUCE's arguments ---------------------------

    @staticmethod
    def _atoms(name, args, count):
        if len(args) not in count:
            _fail("{} called with {} arguments", name, len(args))

    def rule_dtype(self, name, args):
        self._atoms(name, args, (1, 3))
        code = args[0]
        if (
            code.kind != "str"
            or code.value not in _DTYPE_CODES
            or any(v.kind != "atom" for v in args[1:])
        ):
            _fail(
                "{} of {}; a model holds only boolean, integer and float arrays",
                name,
                code.value if code.kind == "str" else code.describe(),
            )
        return np.dtype(code.value).itemsize

    def _dtype_size(self, v, name):
        if v.kind != "obj" or v.value[0] != "numpy.dtype":
            _fail("{} of {}, not of a dtype", name, v.describe())
        return v.value[1]

    @staticmethod
    def _shape(v, name):
        if v.kind != "tuple" or any(
            d.kind != "atom"
            or not isinstance(d.value, int)
            or isinstance(d.value, bool)
            or d.value < 0
            for d in v.value
        ):
            _fail("{} with a shape that is not a tuple of sizes", name)
        count = 1
        for d in v.value:
            count *= d.value
        return count

    def rule_frombuffer(self, name, args):
        self._atoms(name, args, (4,))
        buf, dtype, shape, order = args
        itemsize = self._dtype_size(dtype, name)
        count = self._shape(shape, name)
        if buf.kind != "bytes" or order.kind != "str" or order.value not in ("C", "F"):
            _fail("{} of {} in order {}", name, buf.describe(), order.describe())
        if buf.value != count * itemsize:
            _fail("{} of {} bytes for {} values of {} bytes", name, buf.value, count, itemsize)

    def rule_reconstruct(self, name, args):
        self._atoms(name, args, (3,))
        cls, shape, code = args
        if (
            cls.kind != "global"
            or cls.value != ("numpy", "ndarray")
            or self._shape(shape, name) != 0
            or code.kind != "bytes"
        ):
            _fail('{} with arguments other than (numpy.ndarray, (0,), b"b")', name)

    def _array_state(self, state):
        name = "the state of an array"
        if state.kind != "tuple" or len(state.value) != 5:
            _fail("{} must be a tuple of 5", name)
        _, shape, dtype, _, data = state.value
        count = self._shape(shape, name)
        itemsize = self._dtype_size(dtype, name)
        if data.kind != "bytes" or data.value != count * itemsize:
            _fail("{} holds {} for {} values of {} bytes", name, data.describe(), count, itemsize)

    def rule_scalar(self, name, args):
        self._atoms(name, args, (2,))
        itemsize = self._dtype_size(args[0], name)
        if args[1].kind != "bytes" or args[1].value != itemsize:
            _fail("{} of {} for a {}-byte value", name, args[1].describe(), itemsize)

    @staticmethod
    def _bit_generator(v):
        return (v.kind == "str" and v.value in BIT_GENERATORS) or (
            v.kind == "global" and v.value in ARGUMENTS and v.value[1] in BIT_GENERATORS
        )

    def rule_bit_generator(self, name, args):
        if len(args) > 1 or (args and not self._bit_generator(args[0])):
            _fail(
                "{} of {}; it takes the name or class of a numpy bit generator",
                name,
                args[0].describe(),
            )

    def rule_random_state(self, name, args):
        ok = len(args) <= 2 and (
            not args
            or self._bit_generator(args[0])
            or (args[0].kind == "obj" and args[0].value[0].endswith("__bit_generator_ctor"))
        )
        if ok and len(args) == 2:
            ok = args[1].kind == "global" and args[1].value == (
                "numpy.random._pickle",
                "__bit_generator_ctor",
            )
        if not ok:
            _fail("{} with arguments other than a bit generator (and its constructor)", name)

    def rule_seed_sequence(self, name, args):
        self._atoms(name, args, (3,))
        cls, checksum, state = args
        if (
            cls.kind != "global"
            or cls.value != ("numpy.random.bit_generator", "SeedSequence")
            or checksum.kind != "atom"
            or state.has_global
        ):
            _fail("{} with arguments other than (SeedSequence, checksum, state)", name)

    def rule_ordered_dict(self, name, args):
        if args:
            _fail("{} with arguments; a pickled OrderedDict adds its items afterwards", name)


def _names(keys):
    return frozenset("{}.{}".format(*key) for key in keys)


_ATOMS = frozenset(
    [
        "NONE",
        "NEWTRUE",
        "NEWFALSE",
        "INT",
        "BININT",
        "BININT1",
        "BININT2",
        "LONG",
        "LONG1",
        "LONG4",
        "FLOAT",
        "BINFLOAT",
    ]
)
_STRINGS = frozenset(["UNICODE", "SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8"])
_BYTES = frozenset(["BINBYTES", "SHORT_BINBYTES", "BINBYTES8", "BYTEARRAY8"])


def check(data, allow):
    """Raise LoadError unless the pickle ``data`` passes the checks of the module docstring.

    Parameters
    ----------
    data : bytes
        The whole pickle.
    allow : theanets.serialize.allowlist.Allowlist
        The globals it may name.

    Raises
    ------
    theanets.util.LoadError
        Saying what is refused (the message does not name the file: the caller adds it).
    """
    machine = _Machine(allow, len(data))
    stopped = False
    try:
        with warnings.catch_warnings():
            # decoding a protocol-0 string (refused anyway) may warn of a bad escape
            warnings.simplefilter("ignore", DeprecationWarning)
            for op, arg, pos in pickletools.genops(data):
                machine.step(op, arg, pos)
                stopped = op.name == "STOP"
    except util.LoadError:
        raise
    except _Refused as err:
        raise util.LoadError("is refused: {}".format(err)) from None
    except _Corrupt as err:
        raise util.LoadError(
            "is not a readable theanets model (truncated or corrupt?): {}".format(err)
        ) from None
    except (ValueError, UnicodeDecodeError, OverflowError) as err:
        # what pickletools raises for bytes that are not a pickle
        raise util.LoadError(
            "is not a readable theanets model (truncated or corrupt?): {}: {}".format(
                type(err).__name__, err
            )
        ) from None
    if not stopped:
        raise util.LoadError(
            "is not a readable theanets model (truncated or corrupt?): "
            "it ends before the STOP opcode"
        )
