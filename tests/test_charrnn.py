"""The theanets-char-rnn program (theanets.charrnn), through click's CliRunner."""

import numpy as np
import pytest
from click.testing import CliRunner

import theanets
from theanets import charrnn, util

FAST = ["--size", "6", "--updates", "2", "--steps", "8", "--streams", "2", "--validate-every", "1"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny character model trained on a small text file."""
    folder = tmp_path_factory.mktemp("charrnn")
    text = folder / "text.txt"
    text.write_text("the cat sat on the mat. " * 8, encoding="utf-8")
    model = folder / "model.npz"
    result = CliRunner().invoke(
        charrnn.main, ["train", str(text), "-o", str(model), "--form", "gru"] + FAST
    )
    assert result.exit_code == 0, result.output
    return model, result.output


def test_train_reports_progress_saves_and_evaluates(trained):
    model, output = trained
    lines = output.splitlines()
    assert lines[0].startswith("training a 1 x 6 gru model on ") and "carry=True" in lines[0]
    assert lines[1].startswith("update 1/2: loss ")
    assert "saved {}".format(model) in lines
    assert lines[-1].startswith("held-out cross-entropy: ") and "unigram" in lines[-1]
    net = theanets.graph.Network.load(str(model), allow_pickle=False)
    assert charrnn.alphabet_of(net) == " .acehmnost"


def test_sample_prints_text(trained):
    model, _ = trained
    result = CliRunner().invoke(
        charrnn.main,
        ["sample", str(model), "--seed", "the ", "-n", "30", "-t", "0.7", "--rng", "1"],
    )
    assert result.exit_code == 0, result.output
    text = result.output.rstrip("\n")
    assert text.startswith("the ") and len(text) == 34
    again = CliRunner().invoke(
        charrnn.main,
        ["sample", str(model), "--seed", "the ", "-n", "30", "-t", "0.7", "--rng", "1"],
    )
    assert again.output == result.output  # the same seed draws the same text


def test_train_on_the_shipped_text_without_carry(tmp_path):
    model = tmp_path / "m.npz"
    result = CliRunner().invoke(
        charrnn.main, ["train", "-o", str(model), "--no-carry", "--form", "rnn", "-q"] + FAST
    )
    assert result.exit_code == 0, result.output
    assert "saved" in result.output and "training a" not in result.output
    net = theanets.graph.Network.load(str(model), allow_pickle=False)
    assert set(charrnn.alphabet_of(net)) <= set(theanets.data.text("declaration"))


def _one_line_error(args, pattern):
    result = CliRunner().invoke(charrnn.main, args)
    assert result.exit_code != 0
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert pattern in lines[0], lines[0]


def test_missing_and_empty_text_files(tmp_path):
    _one_line_error(["train", str(tmp_path / "nope.txt")], "no such text file")
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n", encoding="utf-8")
    _one_line_error(["train", str(empty)], "is empty")


def test_sample_refuses_what_is_not_a_character_model(tmp_path):
    path = tmp_path / "reg.npz"
    theanets.recurrent.Regressor([3, (4, "rnn"), 3]).save(str(path))
    _one_line_error(["sample", str(path)], "not a character model")
    _one_line_error(["sample", str(tmp_path / "missing.npz")], "no such model file")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a model")
    _one_line_error(["sample", str(junk)], "Error: ")


def test_seed_outside_the_alphabet(trained):
    model, _ = trained
    _one_line_error(
        ["sample", str(model), "--seed", "the DOG"],
        "seed characters DGO are not in the model's alphabet",
    )
    _one_line_error(["sample", str(model), "-t", "0"], "--temperature must be positive")


def test_library_functions():
    net = charrnn.build_model("ab", size=3)
    with pytest.raises(util.Error, match="not a character model"):
        charrnn.alphabet_of(theanets.recurrent.Classifier([3, (4, "rnn"), 3]))
    assert charrnn.split_text("abcdefghij", 0.2) == ("abcdefgh", "ij")
    uni = charrnn.unigram_cross_entropy("aab", "aab", "ab")
    counts = np.array([1, 3, 2], float)  # add-one smoothed: unknown, a, b
    np.testing.assert_allclose(uni, -np.mean(np.log(counts[[1, 2]] / counts.sum())))
    xe_stream = charrnn.cross_entropy(net, "abba" * 5)
    xe_windows = charrnn.cross_entropy(net, "abba" * 5, steps=4)
    assert xe_stream > 0 and xe_windows > 0
