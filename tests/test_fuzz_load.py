"""Fuzzing the model loaders: truncated, bit-flipped and random files.

Whatever the bytes, ``Network.load`` either returns a model or raises
:class:`theanets.util.LoadError` (or an OSError); it never runs out of
memory, allocates much more than the file holds, or imports a module
outside theanets, numpy, pytensor and scipy. Hypothesis runs a fixed number
of examples, derandomized, so the test is fast and repeatable.
"""

import gzip
import io
import os
import sys
import tracemalloc
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import theanets
from theanets import util

#: Packages a load may import from (lazily imported parts of the libraries;
#: zipfile decodes names with a codec of the standard library).
ALLOWED_IMPORTS = ("theanets", "numpy", "pytensor", "scipy", "encodings")

#: Peak of traced memory a load of these small files may reach.
MEMORY_LIMIT = 32 * 2**20

FUZZ = settings(
    derandomize=True,
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

FORMATS = ("pickle", "gzip", "npz")
SUFFIX = {"pickle": ".pkl", "gzip": ".pkl.gz", "npz": ".npz"}


def _model_bytes(fmt):
    model = theanets.Regressor([3, 4, 2])
    buffer = io.BytesIO()
    if fmt == "npz":
        model.save(buffer, format="safe")
        return buffer.getvalue()
    model.save(buffer, format="pickle")
    data = buffer.getvalue()
    return gzip.compress(data) if fmt == "gzip" else data


SAVED = {fmt: _model_bytes(fmt) for fmt in FORMATS}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


def _load_checked(path, **kwargs):
    """Load ``path``; check that only a model or a LoadError/OSError comes out,
    memory stays bounded, and no foreign module is imported."""
    before = set(sys.modules)
    tracemalloc.start()
    try:
        model = theanets.Network.load(path, **kwargs)
    except util.LoadError as err:
        assert str(err).startswith(path) or path in str(err), str(err)
        model = None
    except OSError:
        model = None
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert peak < MEMORY_LIMIT, "loading {} bytes took {} bytes of memory".format(
        os.path.getsize(path), peak
    )
    imported = [
        name for name in set(sys.modules) - before if name.split(".")[0] not in ALLOWED_IMPORTS
    ]
    assert not imported, "loading imported {}".format(imported)
    if model is not None:
        assert isinstance(model, theanets.Network)
    return model


def _write(folder, fmt, data):
    path = str(folder / ("fuzzed" + SUFFIX[fmt]))
    with open(path, "wb") as handle:
        handle.write(data)
    return path


def _check(folder, fmt, data):
    path = _write(folder, fmt, data)
    _load_checked(path)
    _load_checked(path, allow_pickle=False)


@pytest.mark.parametrize("fmt", FORMATS)
def test_saved_files_load(fmt, folder):
    # the unfuzzed files are models
    path = _write(folder, fmt, SAVED[fmt])
    assert isinstance(_load_checked(path), theanets.Regressor)


@pytest.mark.parametrize("fmt", FORMATS)
@FUZZ
@given(data=st.data())
def test_truncated(fmt, folder, data):
    saved = SAVED[fmt]
    cut = data.draw(st.integers(0, len(saved) - 1), label="cut")
    path = _write(folder, fmt, saved[:cut])
    assert _load_checked(path) is None


@pytest.mark.parametrize("fmt", FORMATS)
@FUZZ
@given(data=st.data())
def test_bit_flipped(fmt, folder, data):
    saved = bytearray(SAVED[fmt])
    flips = data.draw(
        st.lists(
            st.tuples(st.integers(0, len(saved) - 1), st.integers(0, 7)), min_size=1, max_size=4
        ),
        label="flips",
    )
    for offset, bit in flips:
        saved[offset] ^= 1 << bit
    _check(folder, fmt, bytes(saved))


#: Starts of each kind of file, so random bytes get past the first check.
PREFIXES = {
    "pickle": [b"", b"\x80\x04\x95", b"\x80\x02"],
    "gzip": [b"\x1f\x8b\x08\x00"],
    "npz": [b"PK\x03\x04"],
}


@pytest.mark.parametrize("fmt", FORMATS)
@FUZZ
@given(data=st.data())
def test_random_bytes(fmt, folder, data):
    prefix = data.draw(st.sampled_from(PREFIXES[fmt]), label="prefix")
    body = data.draw(st.binary(max_size=300), label="body")
    _check(folder, fmt, prefix + body)


@pytest.mark.parametrize("fmt", FORMATS)
@FUZZ
@given(data=st.data())
def test_spliced(fmt, folder, data):
    # a piece of the file replaced by random bytes: headers stay plausible
    saved = SAVED[fmt]
    start = data.draw(st.integers(0, len(saved) - 1), label="start")
    noise = data.draw(st.binary(min_size=1, max_size=16), label="noise")
    _check(folder, fmt, saved[:start] + noise + saved[start + len(noise) :])


def test_declared_sizes_are_checked_before_allocating(folder):
    # an npz entry that declares a huge array but holds 8 bytes, and a pickle
    # with a huge bytes8: both refused before anything is allocated
    member = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        member, dict(descr="<f4", fortran_order=False, shape=(2**40, 2**10))
    )
    member.write(b"\0" * 8)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("hid1.w.npy", member.getvalue())
    path = _write(folder, "npz", archive.getvalue())
    with pytest.raises(
        util.LoadError,
        match=r"entry 'hid1.w.npy' declares an array of shape "
        r"\(1099511627776, 1024\) and dtype float32 \(4503599627370496 bytes\), "
        r"but holds \d+ bytes",
    ):
        theanets.Network.load(path)
    path = _write(folder, "pickle", b"\x80\x04\x8e" + (2**62).to_bytes(8, "little") + b"x.")
    with pytest.raises(util.LoadError, match="expected 4611686018427387904 bytes in a bytes8"):
        theanets.Network.load(path)


DEEP = settings(FUZZ, max_examples=400)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", FORMATS)
@DEEP
@given(data=st.data())
def test_deep_fuzz(fmt, folder, data):
    # more of the same, mixed (run with -m slow)
    saved = bytearray(SAVED[fmt])
    kind = data.draw(st.sampled_from(["cut", "flip", "splice"]), label="kind")
    at = data.draw(st.integers(0, len(saved) - 1), label="at")
    if kind == "cut":
        del saved[at:]
    elif kind == "flip":
        saved[at] ^= 1 << data.draw(st.integers(0, 7), label="bit")
    else:
        saved[at : at + 8] = data.draw(st.binary(min_size=8, max_size=8), label="noise")
    _check(folder, fmt, bytes(saved))
