"""The examples are programs the test suite runs, in their fast mode.

Every ``examples/*.py`` (but ``_*.py`` helpers) is run in-process as
``main(['--fast', '--out', tmpdir])``: it must return its result, print its
result line and write at least one PNG picture into the folder.
"""

import importlib.util
import pathlib
import re

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / "examples"
SCRIPTS = sorted(p.stem for p in EXAMPLES.glob("*.py") if not p.name.startswith("_"))

NUMBER = r"(-?\d+\.\d+)"

#: The line each example prints with its result (the number is captured).
#: An example without an entry must still print something and write a PNG.
RESULT_LINES = {
    "char_model": r"next-character accuracy on held-out text = " + NUMBER,
    "deep_autoencoder": r"held-out R\^2 = " + NUMBER + " with layerwise pretraining",
    "digits_autoencoder": r"R\^2 of reconstructing 297 held-out digits = " + NUMBER,
    "digits_classifier": r"accuracy on 297 held-out digits = " + NUMBER,
    "digits_convolution": r"accuracy on 297 held-out digits = " + NUMBER,
    "recurrent_memory": r"R\^2 of the recalled numbers on 256 held-out sequences = " + NUMBER,
    "recurrent_sinusoid": r"R\^2 on 256 held-out waves = " + NUMBER,
    "sparse_autoencoder": r"mean best \|correlation\| with the sources = " + NUMBER,
    "weighted_classifier": r"(?m)^ *weighted classifier: accuracy = \d\.\d+, balanced accuracy = "
    + NUMBER,
    "xor": r"largest error on the four points = " + NUMBER,
}

#: A few updates are far from converged, but these must have learned this much.
FAST_FLOORS = {
    "digits_autoencoder": 0.5,
    "digits_classifier": 0.5,
    "weighted_classifier": 0.4,
}


def _load(name):
    spec = importlib.util.spec_from_file_location("example_" + name, EXAMPLES / (name + ".py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_examples_are_found():
    assert len(SCRIPTS) >= 10
    assert set(RESULT_LINES) <= set(SCRIPTS)


@pytest.mark.parametrize("name", SCRIPTS)
def test_example_runs_fast(name, tmp_path, capsys):
    module = _load(name)
    assert module.__doc__, "{}.py needs a docstring stating its result".format(name)
    out = tmp_path / "pictures"
    result = module.main(["--fast", "--out", str(out)])
    printed = capsys.readouterr().out
    assert result is not None
    pictures = sorted(out.glob("*.png"))
    assert pictures, "{} wrote no PNG into {}".format(name, out)
    for picture in pictures:
        assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if name in RESULT_LINES:
        match = re.search(RESULT_LINES[name], printed)
        assert match, "no result line {!r} in:\n{}".format(RESULT_LINES[name], printed)
        value = float(match.group(1))
        first = result[0] if isinstance(result, tuple) else result
        assert value == pytest.approx(first, abs=1e-3)
        assert "RESULT" not in module.__doc__, "measure the full mode, write it in the docstring"
        if name in FAST_FLOORS:
            assert FAST_FLOORS[name] < value <= 1
    else:
        assert printed.strip(), "{} printed nothing".format(name)
