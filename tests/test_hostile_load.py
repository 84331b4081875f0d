"""Hostile model files (issue 16): loading never runs code, touches other
files or exhausts the machine.

The corpus is written here by hand, opcode by opcode, as an attacker would:
pickles whose globals reach callables in numpy, scipy, PyTensor, builtins,
io, os, subprocess, functools, operator, importlib, marshal and theanets
itself; a BUILD on a library class; size bombs; gzip and zip bombs; paths
that are devices, FIFOs or directories; safe files with duplicate,
encrypted or garbled entries, non-finite parameters or layers far larger
than their arrays.

Every file is loaded in one child process (under ``RLIMIT_AS`` and a
timeout, each load under an alarm and ``tracemalloc``) through every
loader: ``Network.load``, ``Regressor.load``, ``serialize.load``,
``Experiment(path)`` and an open handle. For each the test asserts a
:class:`~theanets.util.LoadError` (an error of the library for
``Experiment`` on a path that is not a file), no marker file created, the
victim file unchanged, no class attribute of the library changed, and the
peak of traced memory and the time bounded.
"""

import gzip
import io
import json
import marshal
import os
import pickle
import re
import socket
import struct
import subprocess
import sys
import zipfile
import zlib

import numpy as np
import pytest

import theanets

# ----- writing pickles by hand ----------------------------------------------

PROTO = b"\x80\x04"
STOP = b"."
MARK, TUPLE, REDUCE, BUILD, NEWOBJ = b"(", b"t", b"R", b"b", b"\x81"
EMPTY_TUPLE, EMPTY_LIST, EMPTY_DICT, DUP = b")", b"]", b"}", b"2"


def s(text):
    """A string: SHORT_BINUNICODE or BINUNICODE."""
    data = text.encode("utf8")
    if len(data) < 256:
        return b"\x8c" + bytes([len(data)]) + data
    return b"X" + struct.pack("<I", len(data)) + data


def i(n):
    """An int: BININT, or LONG1 for larger ones."""
    if -(2**31) <= n < 2**31:
        return b"J" + struct.pack("<i", n)
    data = n.to_bytes((n.bit_length() + 8) // 8, "little", signed=True)
    return b"\x8a" + bytes([len(data)]) + data


def g(module, name):
    """A global, with STACK_GLOBAL."""
    return s(module) + s(name) + b"\x93"


def g0(module, name):
    """A global, with the protocol 0 GLOBAL opcode."""
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def call(func, *args):
    return func + MARK + b"".join(args) + TUPLE + REDUCE


def p(*body):
    return PROTO + b"".join(body) + STOP


def _touch(marker):
    return 'open({!r}, "w").close()'.format(marker)


def _code_bytes(marker):
    return marshal.dumps(compile(_touch(marker), "<gadget>", "exec"))


def _bytes(data):
    return (
        b"C" + bytes([len(data)]) + data
        if len(data) < 256
        else b"B" + struct.pack("<I", len(data)) + data
    )


class _Runs:
    """Pickles as a call of ``function(*args)`` (what an attacker's pickler writes)."""

    def __init__(self, function, *args):
        self.function, self.args = function, args

    def __reduce__(self):
        return self.function, self.args


def _regressor_that_runs(marker):
    """A real Regressor's pickle that also calls subprocess.call."""
    model = theanets.Regressor([3, 4, 2])
    model.layers[1].kwargs["note"] = _Runs(subprocess.call, ["touch", marker])
    return pickle.dumps(model, -1)


def _gadgets(marker, victim):
    """name -> pickle bytes; each would create ``marker`` or change ``victim`` if run."""
    cmd = "touch " + marker
    shell = [s("touch"), s(marker)]
    return {
        "os.system": p(call(g("os", "system"), s(cmd))),
        "posix.system (GLOBAL)": p(call(g0("posix", "system"), s(cmd))),
        "subprocess.Popen": p(
            call(g("subprocess", "Popen"), EMPTY_LIST + MARK + b"".join(shell) + b"e")
        ),
        "subprocess.check_call": p(
            call(
                g("subprocess", "check_call"),
                s(cmd),
            )
        ),
        "builtins.exec": p(call(g("builtins", "exec"), s(_touch(marker)))),
        "builtins.eval": p(call(g("builtins", "eval"), s(_touch(marker).replace(".close()", "")))),
        "builtins.getattr(__import__)": p(
            call(
                call(
                    g("builtins", "getattr"),
                    call(g("builtins", "__import__"), s("os")),
                    s("system"),
                ),
                s(cmd),
            )
        ),
        "importlib.import_module": p(
            call(
                call(
                    g("builtins", "getattr"),
                    call(g("importlib", "import_module"), s("os")),
                    s("system"),
                ),
                s(cmd),
            )
        ),
        "functools.partial": p(call(call(g("functools", "partial"), g("os", "system"), s(cmd)))),
        "operator.methodcaller": p(
            call(
                call(g("operator", "methodcaller"), s("system"), s(cmd)),
                call(g("importlib", "import_module"), s("os")),
            )
        ),
        "marshal code object": p(
            call(
                call(
                    g("types", "FunctionType"),
                    call(g("marshal", "loads"), _bytes(_code_bytes(marker))),
                    EMPTY_DICT,
                )
            )
        ),
        "io.FileIO(w)": p(call(g("io", "FileIO"), s(victim), s("w"))),
        "builtins.open(w)": p(call(g("builtins", "open"), s(victim), s("w"))),
        "numpy.memmap(w+)": p(
            call(g("numpy", "memmap"), s(victim), s("uint8"), s("w+"), i(0), MARK + i(1) + TUPLE)
        ),
        "numpy runstring (exec)": p(
            call(g("numpy.testing._private.utils", "runstring"), s(_touch(marker)), EMPTY_DICT)
        ),
        "numpy.f2py subprocess.run": p(
            call(g("numpy.f2py", "subprocess.run"), EMPTY_LIST + MARK + b"".join(shell) + b"e")
        ),
        "numpy.save over victim": p(
            call(g("numpy", "save"), s(victim), call(g("numpy", "zeros"), i(3)))
        ),
        "scipy.io.savemat": p(call(g("scipy.io", "savemat"), s(victim), EMPTY_DICT)),
        "pytensor call_subprocess_Popen": p(
            call(
                g("pytensor.utils", "call_subprocess_Popen"),
                EMPTY_LIST + MARK + b"".join(shell) + b"e",
            )
        ),
        "pytensor output_subprocess_Popen": p(
            call(
                g("pytensor.utils", "output_subprocess_Popen"),
                EMPTY_LIST + MARK + b"".join(shell) + b"e",
            )
        ),
        "theanets save_pickle over victim": p(
            call(
                g("theanets.serialize.pickles", "save_pickle"),
                g("theanets.feedforward", "Regressor") + EMPTY_TUPLE + NEWOBJ,
                s(victim),
            )
        ),
        "theanets atomic_write": p(
            call(g("theanets.serialize.files", "atomic_write"), s(victim), g("os", "system"))
        ),
        "allowed ctor with a callable argument": p(
            call(g("numpy.random._pickle", "__randomstate_ctor"), s(cmd), g("os", "system"))
        ),
        "allowed ctor with a library class argument": p(
            call(
                g("numpy.random._pickle", "__bit_generator_ctor"),
                g("theanets.feedforward", "Regressor"),
            )
        ),
        "NEWOBJ with arguments": p(
            g("theanets.feedforward", "Regressor") + MARK + i(3) + i(2) + TUPLE + NEWOBJ
        ),
        "REDUCE on an allowed class": p(
            call(g("theanets.feedforward", "Regressor"), EMPTY_LIST + MARK + i(3) + i(2) + b"e")
        ),
        "object dtype array": p(call(g("numpy", "dtype"), s("O8"), b"\x89", b"\x88")),
        "real Regressor that also runs a command": _regressor_that_runs(marker),
    }


def _class_poison():
    """A BUILD on theanets.layers.Layer: (None, {'poisoned': True}) as slot state."""
    return {
        "BUILD on Layer (slot state)": p(
            g("theanets.layers.base", "Layer")
            + MARK
            + b"N"
            + EMPTY_DICT
            + s("poisoned")
            + b"\x88"
            + b"s"
            + TUPLE
            + BUILD
        ),
        "BUILD on Network via memo": p(
            g("theanets.graph", "Network")
            + b"\x94"
            + b"h\x00"
            + MARK
            + b"N"
            + EMPTY_DICT
            + s("poisoned")
            + b"\x88"
            + b"s"
            + TUPLE
            + BUILD
            + b"0"
        ),
        "BUILD on Regressor with __setstate__": p(
            g("theanets.feedforward", "Regressor") + EMPTY_DICT + BUILD
        ),
    }


def _bombs():
    exponential = EMPTY_LIST + (DUP + b"\x86") * 60  # x = (x, x), sixty times
    return {
        "bytearray(2 GiB)": p(call(g("builtins", "bytearray"), i(2**31))),
        "frozenset(range(30M))": p(
            call(g("builtins", "frozenset"), call(g("builtins", "range"), i(30_000_000)))
        ),
        "bytes * n": p(call(g("operator", "mul"), _bytes(b"x"), i(2**31))),
        "exponential object graph": p(exponential),
        "exponential graph in a model state": p(
            g("theanets.feedforward", "Regressor")
            + EMPTY_TUPLE
            + NEWOBJ
            + EMPTY_DICT
            + s("layers")
            + exponential
            + b"s"
            + BUILD
        ),
        "memo index 2**31": PROTO + b"N" + b"r" + struct.pack("<I", 2**31) + STOP,
        "BINBYTES8 of 2**62 bytes": PROTO + b"\x8e" + struct.pack("<Q", 2**62) + STOP,
        "FRAME of 2**62 bytes": PROTO + b"\x95" + struct.pack("<Q", 2**62) + b"N" + STOP,
        "frombuffer with a huge shape": p(
            call(
                g("numpy._core.numeric", "_frombuffer"),
                _bytes(b"\0" * 8),
                call(g("numpy", "dtype"), s("f8"), b"\x89", b"\x88"),
                MARK + i(2**31) + i(2**31) + TUPLE,
                s("C"),
            )
        ),
        "reconstruct with a huge shape": p(
            call(
                g("numpy._core.multiarray", "_reconstruct"),
                g("numpy", "ndarray"),
                MARK + i(2**40) + TUPLE,
                _bytes(b"b"),
            )
        ),
        "ten thousand nested lists": PROTO + EMPTY_LIST * 10_000 + b"a" * 9_999 + STOP,
        "a list grown after it was shared": p(
            EMPTY_LIST + b"\x94" + EMPTY_LIST + b"h\x00" + b"a" + b"0" + b"h\x00" + b"N" + b"a"
        ),
        "protocol 0 string": b"S'abc'\n.",
        "protocol 0 string with a bad escape": b"S'\\x'\n.",
        "random bytes": bytes(np.random.RandomState(3).randint(0, 256, 4096).astype("uint8")),
        "zeros": b"\0" * 4096,
        "trailing bytes after STOP": p(b"N") + b"junk",
    }


def _deflate_zeros(size):
    """A deflate stream of ``size`` zero bytes, made a chunk at a time."""
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = bytes(1 << 20)
    out = [packer.compress(chunk) for _ in range(size >> 20)]
    out.append(packer.flush())
    return b"".join(out)


def _gzip_bomb(folder, size=256 << 20):
    """A gzip file of a pickle prefix then ``size`` zero bytes, about 1000:1."""
    head = PROTO + b"\x8e" + struct.pack("<Q", size)
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [packer.compress(head)]
    chunk = bytes(1 << 20)
    parts += [packer.compress(chunk) for _ in range(size >> 20)]
    parts.append(packer.flush())
    path = os.path.join(folder, "bomb.pkl.gz")
    with open(path, "wb") as handle:
        handle.write(b"".join(parts))
    return path


# ----- hand-made safe files -------------------------------------------------


def _npy(array):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()


def _meta(model):
    return json.dumps(theanets.serialize.describe(model))


def _safe_entries(model=None, meta=None, arrays=None):
    model = model or theanets.Regressor([3, 4, 2])
    entries = {p.name + ".npy": _npy(p.get_value()) for p in model.params}
    entries.update(arrays or {})
    entries["__theanets__.npy"] = _npy(np.array(meta if meta is not None else _meta(model)))
    return entries


def _zip(entries, compression=zipfile.ZIP_STORED):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _huge_layers(size):
    """A 4 KB file whose description asks for size x size layers, with small arrays."""
    model = theanets.Regressor([3, 4, 2])
    meta = json.loads(_meta(model))
    meta["layers"][0]["size"] = size
    meta["layers"][0]["shape"] = [size]
    meta["layers"][1]["size"] = size
    return _zip(_safe_entries(model, json.dumps(meta)))


def _nonfinite():
    model = theanets.Regressor([3, 4, 2])
    value = model.params[0].get_value()
    value[0, 0] = np.nan
    value[1, 1] = np.inf
    model.params[0].set_value(value)
    buffer = io.BytesIO()
    model.save(buffer, format="safe")
    return buffer.getvalue()


def _npz_bomb(folder, size=256 << 20):
    """A safe file with an entry that inflates ~1000:1 (its sizes declared truly)."""
    path = os.path.join(folder, "bomb.npz")
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, dict(descr="<f4", fortran_order=False, shape=(size // 4,))
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in _safe_entries().items():
            archive.writestr(name, data)
        with archive.open("hid1.b.npy.npy", "w", force_zip64=True) as member:
            member.write(header.getvalue())
            chunk = bytes(1 << 20)
            for _ in range(size >> 20):
                member.write(chunk)
    return path


def _declared_bomb():
    """A zip entry whose headers declare 2.5 GB from 2 KB of deflate data."""
    data = _zip({"a.npy": b"\0" * 100_000}, zipfile.ZIP_DEFLATED)
    return data.replace(struct.pack("<I", 100_000), struct.pack("<I", 2_500_000_000))


def _duplicate():
    data = _zip(dict(_safe_entries(), **{"hid1.X.npy": _npy(np.zeros((3, 4), "float32"))}))
    return data.replace(b"hid1.X.npy", b"hid1.w.npy")


def _encrypted():
    data = bytearray(_zip(_safe_entries()))
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.find(signature)
        while at >= 0:
            data[at + offset] |= 1
            at = data.find(signature, at + 4)
    return bytes(data)


def _garbled_header():
    raw = b"{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4"
    raw = raw + b" " * (117 - len(raw)) + b"\n"
    entry = b"\x93NUMPY\x01\x00" + struct.pack("<H", len(raw)) + raw + b"\0" * 48
    return _zip(_safe_entries(arrays={"hid1.w.npy": entry}))


def _unknown_key():
    meta = json.loads(_meta(theanets.Regressor([3, 4, 2])))
    meta["exec"] = 'os.system("touch x")'
    return _zip(_safe_entries(meta=json.dumps(meta)))


def _many_entries():
    data = bytearray(_zip(_safe_entries()))
    at = data.rfind(b"PK\x05\x06")
    data[at + 8 : at + 12] = struct.pack("<HH", 0xFFFF, 0xFFFF)
    locator = b"PK\x06\x07" + struct.pack("<IQI", 0, at, 1)
    record = b"PK\x06\x06" + struct.pack("<QHHIIQQQQ", 44, 45, 45, 0, 0, 10**9, 10**9, 0, 0)
    return bytes(data[:at]) + record + locator + bytes(data[at:])


def _safe_cases():
    return {
        "npz: 20000x20000 layer from 4 KB": _huge_layers(20_000),
        "npz: 40000x40000 layer from 4 KB": _huge_layers(40_000),
        "npz: a layer of size 10**12": _huge_layers(10**12),
        "npz: non-finite parameters": _nonfinite(),
        "npz: declared 2.5 GB entry": _declared_bomb(),
        "npz: duplicate entries": _duplicate(),
        "npz: encrypted entries": _encrypted(),
        "npz: garbled .npy header": _garbled_header(),
        "npz: unknown description key": _unknown_key(),
        "npz: 10**9 entries declared": _many_entries(),
        "npz: truncated": _zip(_safe_entries())[:-40],
    }


# ----- the child process -------------------------------------------------

_CHILD = r"""
import json, os, resource, signal, sys, time, tracemalloc
resource.setrlimit(resource.RLIMIT_AS, (ADDRESS, ADDRESS))
import theanets
from theanets import serialize, util

cases, marker, victim, out = json.load(open(sys.argv[1]))
victim_before = open(victim, 'rb').read()

def classes():
    found = {}
    todo = [theanets.layers.Layer, theanets.graph.Network, theanets.losses.Loss,
            theanets.activations.Activation]
    while todo:
        cls = todo.pop()
        found[cls.__qualname__] = sorted(vars(cls))
        todo.extend(cls.__subclasses__())
    return found

before = classes()

def alarm(signum, frame):
    raise TimeoutError('the load took more than 20 s')

signal.signal(signal.SIGALRM, alarm)
LOADERS = {
    'Network.load': lambda path: theanets.Network.load(path),
    'Regressor.load': lambda path: theanets.Regressor.load(path),
    'serialize.load': lambda path: serialize.load(theanets.Network, path),
    'Experiment': lambda path: theanets.Experiment(path).network,
    'handle': lambda path: theanets.Network.load(open(path, 'rb')),
}
results = []
for name, path, loaders in cases:
    for loader in loaders:
        tracemalloc.start()
        start = time.time()
        signal.alarm(20)
        try:
            LOADERS[loader](path)
            error, message = None, ''
        except BaseException as err:
            error, message = [c.__name__ for c in type(err).__mro__], str(err)
        finally:
            signal.alarm(0)
        elapsed = time.time() - start
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        results.append(dict(name=name, loader=loader, error=error, message=message[:2000],
                            seconds=elapsed, peak=peak, marker=os.path.exists(marker),
                            victim=open(victim, 'rb').read() == victim_before,
                            classes=classes() == before,
                            poisoned=hasattr(theanets.layers.Layer, 'poisoned')))
# the peak of this program's own memory: Linux's ru_maxrss keeps the
# forking parent's across exec (a serial pytest run past 1 GiB would show
# its own size), its VmHWM is this image's alone
def peak_kib():
    try:
        with open('/proc/self/status') as status:
            for line in status:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
results.append(dict(maxrss_kib=peak_kib()))
json.dump(results, open(out, 'w'))
"""

#: Address space of the child (imports take ~0.4 GiB of it).
ADDRESS_LIMIT = 3 << 30

#: Per load: traced memory and seconds.
PEAK_LIMIT = 64 << 20
TIME_LIMIT = 5.0

FILE_LOADERS = ["Network.load", "Regressor.load", "serialize.load", "Experiment", "handle"]
PATH_LOADERS = ["Network.load", "Regressor.load", "serialize.load", "Experiment"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("hostile"))
    marker = os.path.join(folder, "MARKER")
    victim = os.path.join(folder, "victim.txt")
    with open(victim, "wb") as handle:
        handle.write(b"the user's precious data\n")
    cases = []

    def add(name, data, suffix=".pkl", loaders=FILE_LOADERS):
        path = os.path.join(folder, "case{}{}".format(len(cases), suffix))
        with open(path, "wb") as handle:
            handle.write(data)
        cases.append((name, path, loaders))

    for name, data in _gadgets(marker, victim).items():
        add(name, data)
    for name in ("os.system", "numpy.memmap(w+)", "real Regressor that also runs a command"):
        add(name + " (.gz)", gzip.compress(_gadgets(marker, victim)[name]), ".pkl.gz")
    for name, data in _class_poison().items():
        add(name, data)
    for name, data in _bombs().items():
        add(name, data)
    for name, data in _safe_cases().items():
        add(name, data, ".npz")
    cases.append(("gzip bomb (1000:1)", _gzip_bomb(folder), FILE_LOADERS))
    cases.append(("npz zip bomb (1000:1)", _npz_bomb(folder), FILE_LOADERS))
    specials = {"symlink to /dev/zero": "/dev/zero", "symlink to /dev/urandom": "/dev/urandom"}
    for name, target in specials.items():
        link = os.path.join(folder, name.replace(" ", "_").replace("/", "_") + ".pkl")
        os.symlink(target, link)
        cases.append((name, link, PATH_LOADERS))
    fifo = os.path.join(folder, "fifo.pkl")
    os.mkfifo(fifo)
    cases.append(("FIFO with no writer", fifo, PATH_LOADERS))
    cases.append(("directory", folder, PATH_LOADERS))
    sock_path = os.path.join(folder, "sock.pkl")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(sock_path)
    cases.append(("socket", sock_path, PATH_LOADERS))
    cases.append(("/dev/zero itself", "/dev/zero", PATH_LOADERS))

    manifest = os.path.join(folder, "manifest.json")
    out = os.path.join(folder, "results.json")
    with open(manifest, "w") as handle:
        json.dump([cases, marker, victim, out], handle)
    env = dict(os.environ, PYTENSOR_FLAGS="cxx=,mode=FAST_COMPILE")
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD.replace("ADDRESS", str(ADDRESS_LIMIT)), manifest],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    sock.close()
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(out) as handle:
        results = json.load(handle)
    summary = results.pop()
    if os.environ.get("THEANETS_HOSTILE_REPORT"):
        _report(results, summary)
    return {(r["name"], r["loader"]): r for r in results}, summary


def _report(results, summary):
    worst = {}
    for r in results:
        w = worst.setdefault(r["name"], dict(peak=0, seconds=0, message=r["message"]))
        w["peak"] = max(w["peak"], r["peak"])
        w["seconds"] = max(w["seconds"], r["seconds"])
    with open(os.environ["THEANETS_HOSTILE_REPORT"], "w") as handle:
        for name, w in worst.items():
            handle.write(
                "{:45s} {:8.2f} MiB {:7.3f} s  {}\n".format(
                    name, w["peak"] / 2**20, w["seconds"], w["message"][:150]
                )
            )
        handle.write("child max RSS: {:.0f} MiB\n".format(summary["maxrss_kib"] / 1024))


def _names():
    names = [(n, FILE_LOADERS) for n in _gadgets("m", "v")]
    names += [
        (n + " (.gz)", FILE_LOADERS)
        for n in ("os.system", "numpy.memmap(w+)", "real Regressor that also runs a command")
    ]
    names += [(n, FILE_LOADERS) for n in list(_class_poison()) + list(_bombs())]
    names += [(n, FILE_LOADERS) for n in _SAFE_NAMES]
    names += [(n, FILE_LOADERS) for n in ("gzip bomb (1000:1)", "npz zip bomb (1000:1)")]
    names += [
        (n, PATH_LOADERS)
        for n in (
            "symlink to /dev/zero",
            "symlink to /dev/urandom",
            "FIFO with no writer",
            "directory",
            "socket",
            "/dev/zero itself",
        )
    ]
    return [(name, loader) for name, loaders in names for loader in loaders]


_SAFE_NAMES = [
    "npz: 20000x20000 layer from 4 KB",
    "npz: 40000x40000 layer from 4 KB",
    "npz: a layer of size 10**12",
    "npz: non-finite parameters",
    "npz: declared 2.5 GB entry",
    "npz: duplicate entries",
    "npz: encrypted entries",
    "npz: garbled .npy header",
    "npz: unknown description key",
    "npz: 10**9 entries declared",
    "npz: truncated",
]

#: What the message must say, by case (a regular expression).
MESSAGES = {
    "os.system": r"is refused: it refers to (os|posix)\.system, which is not among the globals",
    "posix.system (GLOBAL)": r"refers to posix\.system",
    "subprocess.Popen": r"refers to subprocess\.Popen",
    "builtins.exec": r"refers to builtins\.exec",
    "numpy.memmap(w+)": r"refers to numpy\.memmap",
    "io.FileIO(w)": r"refers to io\.FileIO",
    "numpy.f2py subprocess.run": r"refers to numpy\.f2py\.subprocess\.run",
    "pytensor call_subprocess_Popen": r"refers to pytensor\.utils\.call_subprocess_Popen",
    "theanets save_pickle over victim": r"refers to theanets\.serialize\.pickles\.save_pickle",
    "real Regressor that also runs a command": r"refers to subprocess\.call",
    "allowed ctor with a callable argument": r"refers to (os|posix)\.system",
    "allowed ctor with a library class argument": (
        r"__bit_generator_ctor of the global theanets\.feedforward\.Regressor"
    ),
    "NEWOBJ with arguments": r"NEWOBJ of theanets\.feedforward\.Regressor with arguments",
    "REDUCE on an allowed class": r"REDUCE calls the global theanets\.feedforward\.Regressor",
    "object dtype array": r"numpy\.dtype of O8; a model holds only boolean, integer and float",
    "BUILD on Layer (slot state)": r"BUILD on the global theanets\.layers\.base\.Layer",
    "BUILD on Network via memo": r"BUILD on the global theanets\.graph\.Network",
    "BUILD on Regressor with __setstate__": r"BUILD on the global theanets\.feedforward",
    "bytearray(2 GiB)": r"refers to builtins\.bytearray",
    "frozenset(range(30M))": r"refers to builtins\.(frozenset|range)",
    "exponential object graph": r"reaches more than 10000000 objects",
    "exponential graph in a model state": r"reaches more than 10000000 objects",
    "memo index 2**31": r"memo index 2147483648, after only 3 opcodes",
    "BINBYTES8 of 2**62 bytes": r"expected 4611686018427387904 bytes in a bytes8",
    "FRAME of 2**62 bytes": r"a frame of 4611686018427387904 bytes at offset 2",
    "frombuffer with a huge shape": r"_frombuffer of 8 bytes for 4611686018427387904 values",
    "reconstruct with a huge shape": r"_reconstruct with arguments other than",
    "a list grown after it was shared": r"APPEND changes a list that is already part of",
    "protocol 0 string": r"the opcode STRING, which a model pickle does not use",
    "trailing bytes after STOP": r"4 bytes follow the STOP opcode",
    "zeros": r"truncated or corrupt",
    "protocol 0 string with a bad escape": r"truncated or corrupt.*ValueError",
    "ten thousand nested lists": r"does not hold a theanets model: it unpickles to a list",
    "npz: 20000x20000 layer from 4 KB": r"layer 'hid1' \(inputs \(20000,\), output \(20000,\)\)"
    r" and those before it may create up to",
    "npz: 40000x40000 layer from 4 KB": r"layer 'hid1' .* may create up to \d+ parameter "
    r"values, but the file stores only 26",
    "npz: a layer of size 10**12": r"layer 0 \('in'\) asks for size 1000000000000",
    "npz: non-finite parameters": r"parameter 'hid1.w' holds 2 non-finite values \(NaN or "
    r"infinity\) of 12.*allow_nonfinite=True",
    "npz: declared 2.5 GB entry": r"entry 'a.npy' declares 2500000000 bytes",
    "npz: duplicate entries": r"the entry 'hid1.w.npy' appears twice",
    "npz: encrypted entries": r"is encrypted; a safe file holds plain arrays",
    "npz: garbled .npy header": r"the entry 'hid1.w.npy' has a malformed .npy header",
    "npz: unknown description key": r"unknown keys \['exec'\]",
    "npz: 10**9 entries declared": r"it declares 1000000000 entries, more than 100000",
    "npz: truncated": r"truncated or corrupt",
    "gzip bomb (1000:1)": r"decompresses to more than \d+ bytes.*refused as a decompression bomb",
    "npz zip bomb (1000:1)": r"entry 'hid1.b.npy.npy' declares 268435584 bytes.*"
    r"MAX_COMPRESSION_RATIO",
    "symlink to /dev/zero": r"is not a regular file \(it is a character device\)",
    "symlink to /dev/urandom": r"is not a regular file \(it is a character device\)",
    "FIFO with no writer": r"is not a regular file \(it is a FIFO \(named pipe\)\)",
    "directory": r"is not a regular file \(it is a directory\)",
    "socket": r"is not a regular file \(it is a socket\)",
    "/dev/zero itself": r"is not a regular file",
}


@pytest.mark.parametrize("name, loader", _names())
def test_hostile_file_is_refused_safely(corpus, name, loader):
    results, _ = corpus
    r = results[name, loader]
    assert not r["marker"], "code from the file ran"
    assert r["victim"], "another file was changed"
    assert r["classes"] and not r["poisoned"], "a class of the library was changed"
    assert r["peak"] < PEAK_LIMIT, "{:.0f} MiB traced".format(r["peak"] / 2**20)
    assert r["seconds"] < TIME_LIMIT
    assert r["error"] is not None, "loaded without error"
    special = loader == "Experiment" and name in (
        "symlink to /dev/zero",
        "symlink to /dev/urandom",
        "FIFO with no writer",
        "directory",
        "socket",
        "/dev/zero itself",
    )
    if special:  # Experiment only loads a path that is a file; else it says what it needs
        assert "ConfigurationError" in r["error"]
        assert "the path of a saved model" in r["message"]
        return
    assert "LoadError" in r["error"], r["message"]
    assert "TimeoutError" not in r["error"] and "MemoryError" not in r["error"]
    if loader != "handle":
        assert r["message"].startswith(os.sep) or r["message"].startswith("/"), r["message"]
    if name in MESSAGES:
        assert re.search(MESSAGES[name], r["message"]), r["message"]


def test_child_memory_stayed_small(corpus):
    _, summary = corpus
    assert summary["maxrss_kib"] < (1 << 20)  # under 1 GiB of resident memory in all


def test_nonfinite_parameters_load_when_allowed(tmp_path):
    path = str(tmp_path / "diverged.npz")
    with open(path, "wb") as handle:
        handle.write(_nonfinite())
    model = theanets.Network.load(path, allow_nonfinite=True)
    value = model.params[0].get_value()
    assert np.isnan(value[0, 0]) and np.isinf(value[1, 1])
    assert theanets.Experiment(path, allow_nonfinite=True).network.params[0].name == "hid1.w"


def test_a_diverged_model_can_be_saved(tmp_path):
    model = theanets.Regressor([3, 4, 2])
    model.params[0].set_value(np.full((3, 4), np.nan, "float32"))
    path = str(tmp_path / "nan.npz")
    model.save(path)
    with pytest.raises(theanets.util.LoadError, match=r"holds 12 non-finite values"):
        theanets.Network.load(path)
    assert np.isnan(theanets.Network.load(path, allow_nonfinite=True).params[0].get_value()).all()


def test_gadget_names_are_real():
    # the gadgets point at callables that exist (so the refusals are not vacuous)
    import importlib

    for module, name in [
        ("pytensor.utils", "call_subprocess_Popen"),
        ("pytensor.utils", "output_subprocess_Popen"),
        ("numpy.f2py", "subprocess"),
        ("numpy.testing._private.utils", "runstring"),
        ("scipy.io", "savemat"),
        ("numpy", "memmap"),
    ]:
        assert hasattr(importlib.import_module(module), name.split(".")[0])


_F8 = call(g("numpy", "dtype"), s("f8"), b"\x89", b"\x88")
_REG = g("theanets.feedforward", "Regressor")


@pytest.mark.parametrize(
    "data, message",
    [
        (p(s("os") + i(3) + b"\x93"), r"STACK_GLOBAL of a string and a number"),
        (p(call(g("numpy", "ndarray"), i(3))), r"REDUCE calls the global numpy\.ndarray"),
        (p(g("numpy", "dtype") + i(3) + REDUCE), r"REDUCE of numpy\.dtype with a number as arg"),
        (
            p(g("numpy", "dtype") + EMPTY_TUPLE + NEWOBJ),
            r"NEWOBJ of the global numpy\.dtype, not of",
        ),
        (
            p(_F8 + MARK + i(3) + EMPTY_DICT + TUPLE + BUILD),
            r"the state of a dtype must be a tuple",
        ),
        (
            p(_REG + EMPTY_TUPLE + NEWOBJ + EMPTY_DICT + BUILD + EMPTY_DICT + BUILD),
            r"BUILD on an object made by theanets\.feedforward\.Regressor a second time",
        ),
        (
            p(call(g("numpy._core.multiarray", "scalar"), _F8, _bytes(b"\0" * 4))),
            r"scalar of a bytes object for a 8-byte value",
        ),
        (
            p(
                call(
                    g("numpy._core.numeric", "_frombuffer"),
                    _bytes(b"\0" * 8),
                    _F8,
                    MARK + i(1) + TUPLE,
                    s("C"),
                )
                + EMPTY_DICT
                + BUILD
            ),
            (
                r"BUILD on an object made by numpy\._core\.numeric\._frombuffer, "
                r"whose state is complete"
            ),
        ),
        (
            p(
                call(
                    g("numpy.random.bit_generator", "__pyx_unpickle_SeedSequence"), i(1), i(2), b"N"
                )
            ),
            r"__pyx_unpickle_SeedSequence with arguments other than",
        ),
        (p(call(g("collections", "OrderedDict"), i(1))), r"OrderedDict with arguments"),
        (
            p(
                call(
                    g("numpy.random._pickle", "__randomstate_ctor"),
                    s("MT19937"),
                    g("numpy.random._mt19937", "MT19937"),
                )
            ),
            r"__randomstate_ctor with arguments other than a bit generator",
        ),
        (p(EMPTY_DICT + EMPTY_LIST + b"N" + b"s"), r"a dict has a list as a key or member"),
        (
            p(EMPTY_LIST + MARK + g("numpy", "ndarray") + b"e"),
            r"the global numpy\.ndarray would become data \(in a list\)",
        ),
        (p(EMPTY_DICT + b"N" + b"a"), r"APPEND adds to a dict, not to a list"),
        (p(b"N" + b"N"), r"the stack holds 2 values at the end, not one"),
        (p(b"0"), r"the stack is empty"),
        (p(b"h\x05"), r"memo index 5 was never stored"),
        (p(MARK + b"N" + b"d"), r"DICT with an odd number of items"),
        (p(EMPTY_DICT + MARK + b"N" + b"u"), r"SETITEMS with an odd number of items"),
        (
            p(call(g("numpy", "dtype"), s("f8"), b"\x89", b"\x88", b"N")),
            r"numpy\.dtype called with 4 arguments",
        ),
        (
            p(g("numpy.random._pickle", "__bit_generator_ctor") + MARK + s("x") + TUPLE + REDUCE),
            r"__bit_generator_ctor of a string; it takes the name or class",
        ),
        (PROTO + b"N", r"pickle exhausted before seeing STOP"),
        (p(b"\x97"), r"the opcode NEXT_BUFFER, which a model pickle does not use"),
        (
            p(g("theano.tensor", "shared")),
            r"original Theano-based theanets \(it refers to module "
            r"'theano'\)",
        ),
    ],
)
def test_scan_messages(data, message):
    with pytest.raises(theanets.util.LoadError, match=message):
        theanets.serialize.load(theanets.Network, io.BytesIO(data))
