"""Bad data at every entry point: each must raise theanets.util.DataError (a
ValueError and a TypeError) whose message names the argument and the problem.

Entry points: predict, feed_forward, encode, decode, score (Regressor,
Autoencoder, Classifier), predict_proba, predict_logit, and
theanets.checks.prepare with ``net._expected_variables()`` -- what the
training entry points use for their data.
"""

import re

import numpy as np
import pytest
import scipy.sparse

import theanets
from theanets import checks, util

ROWS = 6


@pytest.fixture(scope="module")
def models():
    return dict(
        reg=theanets.Regressor([3, 4, 2]),
        regw=theanets.Regressor([3, 4, 2], weighted=True),
        ae=theanets.Autoencoder([3, (4, "logistic"), 3]),
        aew=theanets.Autoencoder([3, 4, 3], weighted=True),
        clf=theanets.Classifier([3, 4, 3]),
        clfw=theanets.Classifier([3, 4, 3], weighted=True),
        sparse=theanets.Regressor([dict(form="input", size=3, sparse="csr"), 2]),
        two=theanets.Regressor(
            [
                dict(form="input", name="a", size=3),
                dict(form="input", name="b", size=2),
                dict(size=2, inputs=["a", "b"]),
            ]
        ),
    )


def _good(width, rows=ROWS, seed=0):
    return np.random.RandomState(seed).rand(rows, width).astype("float32")


def _labels(rows=ROWS):
    return np.arange(rows, dtype="int32") % 3


def _expect_data_error(call, pattern, name=None):
    with pytest.raises(util.DataError) as info:
        call()
    err = info.value
    assert isinstance(err, ValueError) and isinstance(err, TypeError)
    text = str(err)
    assert re.search(pattern, text), "message {!r} does not match {!r}".format(text, pattern)
    if name is not None:
        assert ": {} ".format(name) in text, "message {!r} does not name {!r}".format(text, name)
    return err


# ----- float arrays: inputs, codes, regression targets, weights -----------


def _with(value, index, dtype="float64", width=None):
    def make(d):
        arr = np.random.RandomState(1).rand(ROWS, d).astype(dtype)
        arr.flat[index] = value
        return arr

    return make


def _obj(d):
    arr = np.empty((ROWS, d), dtype=object)
    arr[:] = 1
    return arr


#: Bad float arrays: name -> (make(width), message pattern given width d).
FLOAT_BAD = {
    "one dimension": (
        lambda d: np.zeros(d),
        r"must be a float array of shape \(N, {d}\), but has 1 dimension\(s\) "
        r"with shape \({d},\)",
    ),
    "three dimensions": (
        lambda d: np.zeros((ROWS, d, 1)),
        r"must be a float array of shape \(N, {d}\), but has 3 dimension\(s\)",
    ),
    "wrapped in a list": (
        lambda d: [np.zeros((ROWS, d))],
        r"but has 3 dimension\(s\) with shape \(1, 6, {d}\)",
    ),
    "zero-d scalar": (lambda d: np.float32(1), r"but has 0 dimension\(s\) with shape \(\)"),
    "too many features": (
        lambda d: np.zeros((ROWS, d + 1)),
        r"must be a float array of shape \(N, {d}\), but has shape "
        r"\(6, {d1}\)",
    ),
    "too few features": (lambda d: np.zeros((ROWS, d - 1)), r"but has shape \(6, {dm1}\)"),
    "no features": (lambda d: np.zeros((ROWS, 0)), r"but has shape \(6, 0\)"),
    "no examples": (
        lambda d: np.zeros((0, d)),
        r"is empty \(shape \(0, {d}\)\); at least one example is needed",
    ),
    "NaN": (_with(np.nan, [0, 4]), r"contains 2 NaN or infinite value\(s\)"),
    "infinity": (_with(np.inf, 1), r"contains 1 NaN or infinite value\(s\)"),
    "minus infinity": (_with(-np.inf, 2, "float32"), r"contains 1 NaN or infinite value\(s\)"),
    "too large for float32": (
        _with(1e300, 3),
        r"holds values too large for float32 "
        r"\(largest magnitude 1e\+300\)",
    ),
    "a string": (lambda d: "abc", r"must hold numbers, not <U3 values"),
    "strings": (lambda d: np.full((ROWS, d), "x"), r"must hold numbers, not <U1 values"),
    "None": (lambda d: None, r"must hold numbers, not object values"),
    "a dict": (lambda d: {"x": np.zeros((ROWS, d))}, r"must hold numbers, not object values"),
    "object array": (_obj, r"must hold numbers, not object values"),
    "ragged list": (lambda d: [[0.0] * d, [0.0]], r"must be an array, not builtins.list"),
    "complex": (lambda d: np.ones((ROWS, d), complex), r"must hold real numbers, not complex128"),
    "datetimes": (
        lambda d: np.zeros((ROWS, d), "datetime64[s]"),
        r"must hold numbers, not datetime64\[s\] values",
    ),
    "sparse for dense": (
        lambda d: scipy.sparse.csr_matrix(np.ones((ROWS, d))),
        r"is a scipy.sparse matrix, but the model expects a dense float array "
        r"of shape \(N, {d}\) \(use .toarray\(\), or a sparse input layer\)",
    ),
}


def _prep(index, caller):
    """A call(model, bad) giving checks.prepare good arrays except ``bad`` at ``index``."""

    def call(model, bad):
        expected = model._expected_variables()
        arrays = [
            _labels() if e.dtype == "int" else np.random.RandomState(0).rand(ROWS, *e.shape)
            for e in expected
        ]
        arrays[index] = bad
        return checks.prepare(caller, expected, arrays)

    return call


#: Entry points taking a float array: name -> (model, width, argument name, call(model, bad)).
FLOAT_ENTRIES = {
    "Regressor.predict": ("reg", 3, "in", lambda m, a: m.predict(a)),
    "Regressor.feed_forward": ("reg", 3, "in", lambda m, a: m.feed_forward(a)),
    "Regressor.score x": ("reg", 3, "in", lambda m, a: m.score(a, _good(2))),
    "Regressor.score y": ("reg", 2, "y", lambda m, a: m.score(_good(3), a)),
    "Regressor.score w": ("reg", 2, "w", lambda m, a: m.score(_good(3), _good(2), a)),
    "Autoencoder.predict": ("ae", 3, "in", lambda m, a: m.predict(a)),
    "Autoencoder.encode": ("ae", 3, "in", lambda m, a: m.encode(a)),
    "Autoencoder.decode": ("ae", 4, "z", lambda m, a: m.decode(a)),
    "Autoencoder.score x": ("ae", 3, "in", lambda m, a: m.score(a)),
    "Autoencoder.score w": ("ae", 3, "w", lambda m, a: m.score(_good(3), a)),
    "Classifier.predict": ("clf", 3, "in", lambda m, a: m.predict(a)),
    "Classifier.predict_proba": ("clf", 3, "in", lambda m, a: m.predict_proba(a)),
    "Classifier.predict_logit": ("clf", 3, "in", lambda m, a: m.predict_logit(a)),
    "Classifier.score x": ("clf", 3, "in", lambda m, a: m.score(a, _labels())),
    "prepare Regressor inputs": ("regw", 3, "in", _prep(0, "Regressor.train")),
    "prepare Regressor targets": ("regw", 2, "target", _prep(1, "Regressor.train")),
    "prepare Regressor weights": ("regw", 2, "weights", _prep(2, "Regressor.train")),
    "prepare Autoencoder inputs": ("aew", 3, "in", _prep(0, "Autoencoder.train")),
    "prepare Autoencoder weights": ("aew", 3, "weights", _prep(1, "Autoencoder.train")),
    "prepare Classifier inputs": ("clfw", 3, "in", _prep(0, "Classifier.train")),
}


@pytest.mark.parametrize("bad", sorted(FLOAT_BAD))
@pytest.mark.parametrize("entry", sorted(FLOAT_ENTRIES))
def test_bad_float_array(models, entry, bad):
    kind, width, name, call = FLOAT_ENTRIES[entry]
    make, pattern = FLOAT_BAD[bad]
    value = make(width)
    pattern = pattern.format(d=width, d1=width + 1, dm1=width - 1)
    model = models[kind]
    if value is None and name == "w":  # w=None is the default: no weights
        assert np.isfinite(call(model, value))
        return
    _expect_data_error(lambda: call(model, value), pattern, name)


@pytest.mark.parametrize("entry", sorted(FLOAT_ENTRIES))
def test_good_float_array_passes(models, entry):
    """The same calls with good data work (so the failures above are about the data)."""
    kind, width, name, call = FLOAT_ENTRIES[entry]
    assert call(models[kind], _good(width).astype("float64")) is not None


# ----- lengths ------------------------------------------------------------


def test_score_lengths(models):
    _expect_data_error(
        lambda: models["reg"].score(_good(3), _good(2, rows=5)),
        r"Regressor.score: x has 6 examples but y has 5",
    )
    _expect_data_error(
        lambda: models["reg"].score(_good(3), _good(2), _good(2, rows=5)),
        r"Regressor.score: w must have the shape of y \(6, 2\), not \(5, 2\)",
    )
    _expect_data_error(
        lambda: models["ae"].score(_good(3), _good(3, rows=7)),
        r"Autoencoder.score: w must have the shape of y \(6, 3\), not \(7, 3\)",
    )
    _expect_data_error(
        lambda: models["clf"].score(_good(3), _labels(5)),
        r"Classifier.score: x has 6 examples but y has 5",
    )
    _expect_data_error(
        lambda: models["clf"].score(_good(3), _labels(), np.ones(4)),
        r"Classifier.score: w must have the shape of y \(6,\), not \(4,\)",
    )


@pytest.mark.parametrize(
    "kind,arrays,pattern",
    [
        (
            "reg",
            lambda: [_good(3), _good(2, rows=5)],
            r"Regressor.train: arrays must have the same number of examples, but in has 6, "
            r"target has 5",
        ),
        (
            "clfw",
            lambda: [_good(3), _labels(), np.ones(7)],
            r"Classifier.train: arrays must have the same number of examples, but in has 6, "
            r"target has 6, weights has 7",
        ),
        (
            "aew",
            lambda: [_good(3, rows=2), _good(3)],
            r"Autoencoder.train: arrays must have the same number of examples, but in has 2, "
            r"weights has 6",
        ),
    ],
)
def test_prepare_lengths(models, kind, arrays, pattern):
    net = models[kind]
    caller = type(net).__name__ + ".train"
    _expect_data_error(lambda: checks.prepare(caller, net._expected_variables(), arrays()), pattern)


# ----- class labels -------------------------------------------------------

LABEL_BAD = {
    "label too large": (
        np.array([0, 1, 3, 0, 1, 2]),
        r"holds labels from 0 to 3, but the model has 3 classes "
        r"\(labels 0 to 2\)",
    ),
    "label too negative": (
        np.array([0, -4, 1, 0, 1, 2]),
        r"holds labels from -4 to 2, but the model has 3 classes",
    ),
    "huge label": (np.full(ROWS, 2**40), r"holds labels from 1099511627776 to"),
    "fractional labels": (
        np.array([0, 0.5, 1, 0, 1, 2]),
        r"must hold integer class labels, but holds float64 values that are "
        r"not whole numbers",
    ),
    "NaN label": (
        np.array([0, np.nan, 1, 0, 1, 2]),
        r"must hold integer class labels, but holds float64 values",
    ),
    "boolean labels": (np.ones(ROWS, bool), r"must hold integer class labels, not bool"),
    "string labels": (np.array(["a"] * ROWS), r"must hold numbers, not <U1 values"),
    "labels as a column": (
        np.zeros((ROWS, 1), int),
        r"must be an integer array of shape \(N,\), but has 2 dimension\(s\)"
        r" with shape \(6, 1\)",
    ),
    "one-hot labels": (
        np.eye(ROWS, 3),
        r"must be an integer array of shape \(N,\), but has 2 "
        r"dimension",
    ),
    "no labels": (np.zeros(0, int), r"is empty"),
    "complex labels": (np.zeros(ROWS, complex), r"must hold real numbers"),
}


@pytest.mark.parametrize("bad", sorted(LABEL_BAD))
def test_bad_labels_score(models, bad):
    value, pattern = LABEL_BAD[bad]
    _expect_data_error(lambda: models["clf"].score(_good(3), value), pattern, "y")


@pytest.mark.parametrize("bad", sorted(LABEL_BAD))
def test_bad_labels_training_data(models, bad):
    value, pattern = LABEL_BAD[bad]
    net = models["clfw"]
    arrays = [_good(3), value, np.ones(ROWS, "float32")]
    _expect_data_error(
        lambda: checks.prepare("Classifier.train", net._expected_variables(), arrays),
        pattern,
        "target",
    )


def test_good_labels(models):
    net = models["clf"]
    x = _good(3)
    assert 0 <= net.score(x, np.array([0.0, 1.0, 2.0, 0.0, 1.0, 2.0])) <= 1
    assert 0 <= net.score(x, np.array([-1, -2, -3, 0, 1, 2], "int64")) <= 1
    x_, y_ = checks.prepare("t", net._expected_variables(), [x.astype("f8"), [0, 1, 2, 0, 1, 2]])
    assert x_.dtype == np.float32 and y_.dtype == np.int32


CLASS_WEIGHT_BAD = {
    "weights as a column": (
        np.ones((ROWS, 1)),
        r"w must be a float array of shape \(N,\), but "
        r"has 2 dimension\(s\) with shape \(6, 1\)",
    ),
    "weights with NaN": (np.array([1, np.nan, 1, 1, 1, 1]), r"w contains 1 NaN"),
    "weights as strings": (np.array(["1"] * ROWS), r"w must hold numbers"),
}


@pytest.mark.parametrize("bad", sorted(CLASS_WEIGHT_BAD))
def test_bad_class_weights(models, bad):
    value, pattern = CLASS_WEIGHT_BAD[bad]
    _expect_data_error(lambda: models["clf"].score(_good(3), _labels(), value), pattern, "w")
    net = models["clfw"]
    arrays = [_good(3), _labels(), value]
    _expect_data_error(
        lambda: checks.prepare("Classifier.train", net._expected_variables(), arrays),
        pattern.replace("w ", "weights ", 1),
    )


# ----- the list of training arrays ----------------------------------------

PREPARE_BAD = {
    "too few arrays": (
        lambda: [_good(3)],
        r"Regressor.train takes 2 array\(s\) \(in, target\), but 1 were given",
    ),
    "too many arrays": (
        lambda: [_good(3), _good(2), _good(2)],
        r"takes 2 array\(s\) \(in, target\), but 3 were given",
    ),
    "no arrays": (lambda: [], r"takes 2 array\(s\) \(in, target\), but 0 were given"),
    "a bare array": (
        lambda: _good(3),
        r"Regressor.train takes a list of arrays \(in, target\),"
        r" not numpy.ndarray",
    ),
    "a string": (lambda: "data.csv", r"takes a list of arrays \(in, target\), not builtins.str"),
    "a dict": (lambda: {"in": _good(3)}, r"takes a list of arrays .*, not builtins.dict"),
}


@pytest.mark.parametrize("bad", sorted(PREPARE_BAD))
def test_bad_training_lists(models, bad):
    make, pattern = PREPARE_BAD[bad]
    net = models["reg"]
    _expect_data_error(
        lambda: checks.prepare("Regressor.train", net._expected_variables(), make()), pattern
    )


# ----- sparse inputs ------------------------------------------------------

SPARSE_BAD = {
    "dense for sparse": (
        lambda: _good(3),
        r"in must be a scipy.sparse csr matrix \(the input layer is sparse\), "
        r"not numpy.ndarray",
    ),
    "list for sparse": (
        lambda: _good(3).tolist(),
        r"in must be a scipy.sparse csr matrix .*, not builtins.list",
    ),
    "sparse with NaN": (
        lambda: scipy.sparse.csr_matrix(np.where(np.eye(ROWS, 3), np.nan, 0)),
        r"in contains 3 NaN or infinite value\(s\)",
    ),
    "sparse too wide": (
        lambda: scipy.sparse.csr_matrix(np.eye(ROWS, 4)),
        r"in must be a scipy.sparse csr float array of shape \(N, 3\), but has "
        r"shape \(6, 4\)",
    ),
    "sparse without rows": (lambda: scipy.sparse.csr_matrix((0, 3)), r"in is empty"),
}


@pytest.mark.parametrize("bad", sorted(SPARSE_BAD))
def test_bad_sparse_input(models, bad):
    make, pattern = SPARSE_BAD[bad]
    net = models["sparse"]
    _expect_data_error(lambda: net.predict(make()), pattern, "in")
    arrays = [make(), _good(2)]
    _expect_data_error(
        lambda: checks.prepare("Regressor.train", net._expected_variables(), arrays), pattern, "in"
    )


def test_good_sparse_input_formats(models):
    net = models["sparse"]
    dense = np.eye(ROWS, 3, dtype="float64")
    want = net.predict(scipy.sparse.csr_matrix(dense))
    np.testing.assert_allclose(net.predict(scipy.sparse.csc_matrix(dense)), want, rtol=1e-6)
    assert want.shape == (ROWS, 2) and want.dtype == np.float32


# ----- several inputs -----------------------------------------------------


def test_predict_needs_a_single_input_network(models):
    _expect_data_error(
        lambda: models["two"].predict(_good(3)),
        r"Regressor.feed_forward takes one input array, but this network has 2 "
        r"inputs \(a, b\); compile a function of model.inputs instead",
    )
    net = models["two"]
    arrays = checks.prepare("t", net._expected_variables(), [_good(3), _good(2), _good(2)])
    assert [a.shape for a in arrays] == [(ROWS, 3), (ROWS, 2), (ROWS, 2)]


def test_count_of_distinct_bad_inputs():
    """Keeps the count reported for this suite honest."""
    distinct = (
        len(FLOAT_BAD)
        + len(LABEL_BAD)
        + len(CLASS_WEIGHT_BAD)
        + len(PREPARE_BAD)
        + len(SPARSE_BAD)
        + 5
        + 3
        + 1
    )  # score lengths, prepare lengths, two-input predict
    assert distinct >= 50


# ----- argument checkers ----------------------------------------------------


@pytest.mark.parametrize(
    "value, number, count",
    [
        (0, True, True),
        (3, True, True),
        (np.int32(2), True, True),
        (2.5, True, False),
        (np.float32(0.5), True, False),
        (np.array(1.5), True, False),
        (np.array([1]), False, False),
        (True, False, False),
        (np.bool_(True), False, False),
        ("3", False, False),
        (None, False, False),
    ],
)
def test_number_predicates(value, number, count):
    assert checks.is_number(value) is number
    assert checks.is_count(value) is count


def test_shape_text():
    assert checks.shape_text((None, 3)) == "(?, 3)"
    assert checks.shape_text([4]) == "(4,)"
    assert checks.shape_text(()) == "()"


@pytest.mark.parametrize(
    "kwargs, result",
    [
        (dict(value=0, low=0, high=1, high_open=True), 0.0),
        (dict(value=np.float32(0.5), low=0), 0.5),
        (dict(value=np.array(2)), 2.0),
        (dict(value=float("inf"), low=0, finite=False), float("inf")),
    ],
)
def test_check_real_accepts(kwargs, result):
    assert checks.check_real("x", **kwargs) == result


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(value=-1, low=0), r"x=-1 is not allowed: expected a finite real number >= 0$"),
        (
            dict(value=1, low=0, high=1, high_open=True),
            r"x=1 is not allowed: expected a real number in \[0, 1\)$",
        ),
        (
            dict(value=0, low=0, high=1, low_open=True),
            r"x=0 is not allowed: expected a real number in \(0, 1\]$",
        ),
        (dict(value=2, high=1), r"x=2 is not allowed: expected a real number <= 1$"),
        (dict(value=1, high=1, high_open=True), r"x=1 is not allowed: expected a real number < 1$"),
        (dict(value=float("nan")), r"x=nan is not allowed: expected a finite real number$"),
        (dict(value=float("inf")), r"x=inf is not allowed"),
        (dict(value="fast"), r"x='fast' is not allowed: expected a finite real number$"),
        (dict(value=True), r"x=True is not allowed"),
    ],
)
def test_check_real_refuses(kwargs, message):
    with pytest.raises(util.ConfigurationError, match=message):
        checks.check_real("x", **kwargs)


def test_check_int():
    assert checks.check_int("n", np.int64(3), 1) == 3
    assert checks.check_int("n", None, 0, allow_none=True) is None
    with pytest.raises(
        util.ConfigurationError, match=r"n=0 is not allowed: expected an integer >= 1$"
    ):
        checks.check_int("n", 0, 1)
    with pytest.raises(
        util.ConfigurationError, match=r"n=2.0 is not allowed: expected an integer >= 0 or None$"
    ):
        checks.check_int("n", 2.0, 0, allow_none=True)
    with pytest.raises(
        util.ConfigurationError,
        match=r"n=None is not allowed: expected an "
        r"integer$",
    ):
        checks.check_int("n", None)


@pytest.mark.parametrize("value", [0, -2, 2.0, True, "3", None])
def test_check_count_refuses(value):
    with pytest.raises(
        util.ConfigurationError,
        match=r"^layer 'h': size must be a positive whole number, not "
        + re.escape(repr(value))
        + "$",
    ):
        checks.check_count("size", value, "layer 'h'")


def test_check_count_and_shape_accept():
    assert checks.check_count("size", np.int16(4), "x") == 4
    assert checks.check_shape("shape", np.array([2, 3]), "x") == (2, 3)
    assert checks.check_shape("shape", [None, 3], "x") == (None, 3)


@pytest.mark.parametrize(
    "shape, message",
    [
        ((), r"shape must be a non-empty tuple of positive whole numbers, not \(\)"),
        (3, r"shape must be a non-empty tuple of positive whole numbers, not 3"),
        ((3, 0), r"shape must hold positive whole numbers, not 0 \(in \(3, 0\)\)"),
        ((3, 1.5), r"shape must hold positive whole numbers, not 1.5"),
        ((None, 3), r"shape must hold positive whole numbers, not None"),
    ],
)
def test_check_shape_refuses(shape, message):
    with pytest.raises(util.ConfigurationError, match=r"^layer 'in': " + message):
        checks.check_shape("shape", shape, "layer 'in'", unknown_ok=False)


def test_find_layer():
    net = theanets.Regressor([3, 4, 2])
    assert checks.find_layer(net.layers, 0) is net.layers[0]
    assert checks.find_layer(net.layers, np.int64(-1)) is net.layers[-1]
    assert checks.find_layer(net.layers, "hid1") is net.layers[1]
    with pytest.raises(KeyError, match=r"^ctx: no layer 3 in a network of 3 layers$"):
        checks.find_layer(net.layers, 3, context="ctx: ")
    with pytest.raises(
        util.UnknownNameError,
        match=r"^unknown partner layer 'hidd1'; perhaps you meant 'hid1'; "
        r"valid choices are: hid1, in, out$",
    ):
        checks.find_layer(net.layers, "hidd1", "partner layer")
    twins = [net.layers[1], net.layers[1]]
    with pytest.raises(
        util.ConfigurationError, match=r"^layer 'hid1' is ambiguous: 2 layers have that name$"
    ):
        checks.find_layer(twins, "hid1")
