"""Tests of theanets.util: errors, registries, initialisers, name matching,
logging; the THEANO_FLAGS compatibility of the package import; and the
doctests of the modules these unit tests cover."""

import logging
import os
import pathlib
import pickle
import re
import subprocess
import sys

import numpy as np
import pytensor
import pytest

import theanets
from theanets import util

ROOT = pathlib.Path(__file__).resolve().parent.parent


# ----- errors -------------------------------------------------------------


def test_error_hierarchy():
    assert issubclass(util.ConfigurationError, util.Error)
    assert issubclass(util.UnknownNameError, util.ConfigurationError)
    assert issubclass(util.UnknownNameError, KeyError)
    assert issubclass(util.DataError, util.Error)
    assert issubclass(util.DataError, ValueError)
    assert issubclass(util.DataError, TypeError)


def test_unknown_name_error_is_not_quoted_like_a_key():
    err = util.UnknownNameError("no such thing")
    assert str(err) == "no such thing"
    assert str(util.UnknownNameError()) == ""


def test_unknown_name_lists_choices_and_suggests():
    err = util.unknown_name("colour", "gren", ["red", "green", "blue"], context="paint: ")
    assert isinstance(err, KeyError)
    text = str(err)
    assert text.startswith("paint: unknown colour 'gren'")
    assert "perhaps you meant 'green'" in text
    assert text.endswith("valid choices are: blue, green, red")


def test_unknown_name_without_close_match_has_no_suggestion():
    text = str(util.unknown_name("colour", "zzzzzz", ["red", "green"]))
    assert "perhaps" not in text
    assert "valid choices are: green, red" in text


# ----- registries ---------------------------------------------------------


def test_registry_keys_of_the_four_families():
    layer_keys = {
        "layer",
        "input",
        "product",
        "prod",
        "flatten",
        "flat",
        "concatenate",
        "concat",
        "reshape",
        "feedforward",
        "ff",
        "classifier",
        "softmax",
        "tied",
    }
    assert layer_keys <= set(theanets.Layer._registry)
    assert {
        "activation",
        "compose",
        "prelu",
        "leaky-relu",
        "lgrelu",
        "leaky-gain-relu",
        "elu",
        "maxout",
    } <= set(theanets.Activation._registry)
    assert {
        "loss",
        "meansquarederror",
        "mse",
        "meanabsoluteerror",
        "mae",
        "gaussianloglikelihood",
        "gll",
        "maximummeandiscrepancy",
        "mmd",
        "kullbackleiblerdivergence",
        "kl",
        "kld",
        "crossentropy",
        "xe",
        "hinge",
    } == set(
        k
        for k in theanets.Loss._registry
        if theanets.Loss._registry[k].__module__ == "theanets.losses"
    )
    assert {
        "regularizer",
        "weightl2",
        "weight_l2",
        "weight_decay",
        "weightl1",
        "weight_l1",
        "weight_sparsity",
        "hiddenl1",
        "hidden_l1",
        "hidden_sparsity",
        "recurrentnorm",
        "recurrent_norm",
        "recurrentstate",
        "recurrent_state",
        "contractive",
        "gaussiannoise",
        "bernoullidropout",
    } <= set(theanets.Regularizer._registry)


def test_registry_lookup_is_case_insensitive():
    Layer = theanets.Layer
    assert Layer.get_class("FF") is theanets.layers.Feedforward
    assert Layer.is_registered("Flat") and Layer.is_registered("flatten")
    assert not Layer.is_registered("flattish")
    assert not Layer.is_registered(3)
    built = Layer.build("Feedforward", size=3, name="x")
    assert type(built) is theanets.layers.Feedforward and built.name == "x"


def test_registry_unknown_key_is_key_error_with_choices():
    with pytest.raises(KeyError) as info:
        theanets.Loss.get_class("msee")
    assert isinstance(info.value, util.ConfigurationError)
    assert "unknown loss 'msee'" in str(info.value)
    assert "perhaps you meant 'mse'" in str(info.value)
    assert "hinge" in str(info.value)


def test_subclass_registers_itself_with_extra_keys():
    class Custom(theanets.Regularizer):
        __extra_registration_keys__ = ["my_custom_alias"]

    try:
        assert theanets.Regularizer.get_class("custom") is Custom
        assert theanets.Regularizer.get_class("MY_CUSTOM_ALIAS") is Custom
    finally:
        for key in ("custom", "my_custom_alias"):
            theanets.Regularizer._registry.pop(key)


# ----- constants ----------------------------------------------------------


def test_float_and_containers():
    assert util.FLOAT == pytensor.config.floatX == "float32"
    assert util.basestring is str
    for ndim, make in enumerate(util.FLOAT_CONTAINERS):
        var = make("v")
        assert var.ndim == ndim and var.dtype == util.FLOAT
    for ndim, make in enumerate(util.INT_CONTAINERS):
        var = make("v")
        assert var.ndim == ndim and var.dtype == "int32"


# ----- random initialisers ------------------------------------------------


def test_random_matrix_draws_scaled_normals():
    value = util.random_matrix(3, 4, mean=1.5, std=0.5, rng=7)
    expect = 1.5 + 0.5 * np.random.RandomState(7).randn(3, 4)
    assert value.dtype == np.float32 and value.shape == (3, 4)
    np.testing.assert_allclose(value, expect, rtol=1e-6)


def test_random_matrix_accepts_a_random_state_and_consumes_it():
    rng = np.random.RandomState(3)
    first = util.random_matrix(2, 2, rng=rng)
    second = util.random_matrix(2, 2, rng=rng)
    ref = np.random.RandomState(3)
    np.testing.assert_allclose(first, ref.randn(2, 2), rtol=1e-6)
    np.testing.assert_allclose(second, ref.randn(2, 2), rtol=1e-6)


def test_random_matrix_sparsity_mask_keeps_diagonal():
    value = util.random_matrix(6, 5, sparsity=0.9, rng=2)
    ref = np.random.RandomState(2)
    dense = ref.randn(6, 5)
    mask = ref.binomial(n=1, p=0.1, size=(6, 5)).astype(bool)
    mask[:5, :5] |= np.eye(5, dtype=bool)
    np.testing.assert_allclose(value, dense * mask, rtol=1e-6)
    assert np.all(np.diag(value) != 0)
    assert np.count_nonzero(value) < value.size


def test_random_matrix_radius_sets_largest_singular_value():
    value = util.random_matrix(5, 5, radius=1.3, rng=4)
    np.testing.assert_allclose(np.linalg.svd(value, compute_uv=False)[0], 1.3, rtol=1e-5)


def test_random_matrix_diagonal_replaces_values():
    np.testing.assert_allclose(
        util.random_matrix(2, 3, diagonal=0.7, rng=1), [[0.7, 0, 0], [0, 0.7, 0]], rtol=1e-6
    )
    np.testing.assert_allclose(
        util.random_matrix(3, 2, diagonal=2), [[2, 0], [0, 2], [0, 0]], rtol=1e-6
    )


def test_random_vector():
    value = util.random_vector(5, mean=-1, std=2, rng=9)
    assert value.dtype == np.float32 and value.shape == (5,)
    np.testing.assert_allclose(value, -1 + 2 * np.random.RandomState(9).randn(5), rtol=1e-6)


# ----- name matching ------------------------------------------------------


def test_outputs_matching_dict_sorted_and_once():
    outputs = {"b:out": 2, "a:out": 1, "a:pre": 3, "c:other": 4}
    got = list(util.outputs_matching(outputs, ["*:out", "a:*"]))
    assert got == [("a:out", 1), ("a:pre", 3), ("b:out", 2)]


def test_outputs_matching_pairs_keep_order_and_single_pattern():
    pairs = [("z:out", 1), ("a:out", 2), ("a:pre", 3)]
    assert list(util.outputs_matching(pairs, "*:out")) == [("z:out", 1), ("a:out", 2)]
    assert list(util.outputs_matching(pairs, ("nothing",))) == []


def test_params_matching_order():
    net = theanets.Regressor([3, 4, 2])
    names = [n for n, _ in util.params_matching(net.layers, ["*.b", "hid1.*"])]
    assert names == ["hid1.w", "hid1.b", "out.b"]
    for name, param in util.params_matching(net.layers, "*.w"):
        assert param.name == name


# ----- logging ------------------------------------------------------------


def test_log_formats_message(caplog):
    caplog.set_level(logging.INFO, logger="theanets")
    util.log("{} layers and {name}", 3, name="a loss")
    util.log("braces {} kept without args")
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("theanets")]
    assert messages == ["3 layers and a loss", "braces {} kept without args"]
    assert theanets.log is util.log


def test_detailed_callsite_logging_names_module_and_line(caplog, monkeypatch):
    monkeypatch.setattr(util, "_detailed_callsite", False)
    caplog.set_level(logging.INFO, logger="theanets")
    util.enable_detailed_callsite_logging()
    util.log("here")
    record = [r for r in caplog.records if r.getMessage() == "here"][-1]
    assert re.fullmatch(r"theanets\.(tests\.)?test_util:\d+", record.name)


def test_library_adds_no_output_handlers():
    handlers = logging.getLogger("theanets").handlers
    assert all(isinstance(h, logging.NullHandler) for h in handlers)


# ----- THEANO_FLAGS -------------------------------------------------------


def _run(code, **env_changes):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTENSOR_FLAGS", "THEANO_FLAGS")}
    env.update(env_changes)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=str(ROOT),
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


CODE = """
import numpy as np, pytensor, theanets
net = theanets.Regressor([3, 2])
out = net.predict(np.ones((2, 3), 'float32'))
print(pytensor.config.floatX, theanets.util.FLOAT, out.dtype, net.params[0].dtype)
"""


def test_theano_flags_honoured_without_pytensor_flags():
    got = _run(CODE, THEANO_FLAGS="floatX=float64,mode=FAST_COMPILE")
    assert got == ["float64"] * 4


def test_pytensor_flags_win_over_theano_flags():
    got = _run(
        CODE, THEANO_FLAGS="floatX=float64", PYTENSOR_FLAGS="floatX=float32,mode=FAST_COMPILE"
    )
    assert got == ["float32"] * 4


def test_load_error_is_what_the_original_raised():
    originals = (pickle.UnpicklingError, EOFError, ValueError, OSError, util.Error)
    assert all(issubclass(util.LoadError, cls) for cls in originals)
    err = util.LoadError("model.pkl is not a readable theanets model")
    assert str(err) == "model.pkl is not a readable theanets model"
    assert err.errno is None
    with pytest.raises(EOFError, match="^model.pkl is not"):
        raise err
