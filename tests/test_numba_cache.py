"""Numba's disk cache of theanets' kernels: one directory per Numba, llvmlite
and state of the sources, so that no process reads another version's code."""

import glob
import os
import shutil
import subprocess
import sys

import llvmlite
import numba

from theanets.ops import _numba_cache

# compiles (or reads back) a small cached kernel of theanets.ops and checks it
_RUN = """
import numpy as np
from theanets.ops import ffi_targets
x = np.zeros(5)
ffi_targets._launch(x)
assert x.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0], x
stats = ffi_targets._launch.stats
print(sum(stats.cache_hits.values()), sum(stats.cache_misses.values()))
"""


def _run(cache_dir):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir))
    done = subprocess.run(
        [sys.executable, "-c", _RUN], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_the_directory_names_the_versions_and_the_sources(monkeypatch):
    name = _numba_cache.directory_name()
    assert name.startswith(
        "theanets-numba{}-llvmlite{}-".format(numba.__version__, llvmlite.__version__)
    )
    _numba_cache.directory_name.cache_clear()
    stamp = _numba_cache.sources_stamp()
    changed = stamp[:-1] + ((stamp[-1][0], stamp[-1][1] + 1.0, stamp[-1][2]),)
    monkeypatch.setattr(_numba_cache, "sources_stamp", lambda: changed)
    try:
        other = _numba_cache.directory_name()
    finally:
        _numba_cache.directory_name.cache_clear()
    assert other != name and other.rsplit("-", 1)[0] == name.rsplit("-", 1)[0]


def _garble(directory):
    for path in glob.glob(os.path.join(directory, "*.nbc")):
        with open(path, "wb") as f:  # an index pointing at bitcode LLVM cannot parse
            f.write(b"BC\xc0\xde" + b"\x00garbage" * 64)


def test_no_process_reads_another_versions_or_an_earlier_states_code(tmp_path):
    # The failure this guards against: a Numba saves a function's index
    # before its data, so that a second process read the new index of one
    # version and the bitcode another version had left under the same name,
    # and died ("LLVM bitcode parsing error"). Here every file a process
    # could be misled by is planted, garbled, where the old flat layout and
    # the other directories put them.
    _run(tmp_path)
    # Numba's cache directory for theanets/ops (NUMBA_CACHE_DIR holds one per
    # source directory), and in it ours
    (ours,) = tmp_path.glob("*/" + _numba_cache.directory_name())
    base = ours.parent
    assert glob.glob(str(ours / "ffi_targets._launch-*.nbi"))
    assert not glob.glob(str(base / "*.nbi")), os.listdir(base)

    prefix = _numba_cache.directory_name().rsplit("-", 1)[0]
    earlier = base / (prefix + "-0123456789abcdef")  # these versions, other sources
    another = base / "theanets-numba0.0.1-llvmlite0.0.1-0123456789abcdef"
    flat = base / "flat"
    for target in (another, flat):
        shutil.copytree(ours, target)
        _garble(target)
    for path in glob.glob(str(flat / "*")):  # the layout of the releases before
        shutil.move(path, base)
    flat.rmdir()
    ours.rename(earlier)
    _garble(earlier)

    hits, misses = _run(tmp_path).split()
    assert (hits, misses) == ("0", "1")  # compiled anew, nothing garbled read
    assert not earlier.exists()  # removed: no process of these versions reads it
    assert another.exists()  # another environment's: kept
    hits, misses = _run(tmp_path).split()
    assert (hits, misses) == ("1", "0")  # and its own cache serves the next process
