"""Property-based tests: random layer specs either make a working model or
raise ConfigurationError; random data either gives predictions of the promised
shape or raises DataError. No other exception may escape."""

import os
import re
import warnings

import numpy as np
import pytest
import scipy.sparse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import theanets
from theanets import util

#: A deeper search: THEANETS_HYPOTHESIS_EXAMPLES=3000 python -m pytest tests/test_properties.py
#: (random instead of the fixed default search).
EXAMPLES = int(os.environ.get("THEANETS_HYPOTHESIS_EXAMPLES", "0"))
SETTINGS = settings(
    max_examples=EXAMPLES or 80,
    deadline=None,
    derandomize=not EXAMPLES,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

MODELS = [theanets.Regressor, theanets.Autoencoder, theanets.Classifier]

GOOD_SIZES = st.integers(min_value=1, max_value=5)
SIZES = st.one_of(GOOD_SIZES, GOOD_SIZES, GOOD_SIZES, st.integers(min_value=-2, max_value=0))
GOOD_ACTIVATIONS = st.sampled_from(
    [
        "relu",
        "linear",
        "tanh",
        "logistic",
        "softmax",
        "softplus",
        "rect:minmax",
        "norm:z",
        "prelu",
        "lgrelu",
        "elu",
        "maxout:2",
        "relu+norm:max",
        "leaky-relu",
    ]
)
ACTIVATIONS = st.sampled_from(
    [
        "relu",
        "linear",
        "tanh",
        "logistic",
        "softmax",
        "softplus",
        "rect:minmax",
        "norm:z",
        "prelu",
        "lgrelu",
        "elu",
        "maxout:2",
        "maxout:0",
        "maxout:x",
        "relu+norm:max",
        "relu+",
        "bogus",
        "Relu",
        "",
        "leaky-relu",
    ]
)
FORMS = st.sampled_from(
    [
        "ff",
        "feedforward",
        "tied",
        "flat",
        "softmax",
        "classifier",
        "concat",
        "prod",
        "reshape",
        "input",
        "layer",
        "bogus",
        "FF",
        "Tied",
        "flatten",
    ]
)
NAMES = st.sampled_from(["a", "b", "in", "out", "hid1", "x"])


def _shape():
    return st.tuples(st.integers(-1, 3), st.integers(-1, 3))


GOOD_LAYER_SPECS = st.one_of(
    GOOD_SIZES,
    st.tuples(GOOD_SIZES, GOOD_ACTIVATIONS),
    st.just("tied"),
    st.tuples(st.just("tied"), GOOD_ACTIVATIONS),
    st.builds(dict, size=GOOD_SIZES, activation=GOOD_ACTIVATIONS),
)

LAYER_SPECS = st.one_of(
    GOOD_LAYER_SPECS,
    GOOD_LAYER_SPECS,
    SIZES,
    _shape(),
    FORMS,
    st.tuples(SIZES, ACTIVATIONS),
    st.tuples(SIZES, FORMS),
    st.tuples(FORMS, SIZES, ACTIVATIONS),
    st.tuples(SIZES, SIZES),  # a shape (or, mixed, a duplicate size)
    st.tuples(SIZES, ACTIVATIONS, SIZES),
    st.just(("tied", "linear")),
    st.fixed_dictionaries(
        {"size": SIZES},
        optional={
            "form": FORMS,
            "activation": ACTIVATIONS,
            "name": NAMES,
            "inputs": st.sampled_from(["in", "in:out", "hid1", "nope", "in:pre"]),
            "shape": _shape(),
            "std": st.sampled_from([0.1, 0, "x"]),
            "partner": st.sampled_from(["hid1", "in", "nope"]),
        },
    ),
    st.builds(dict, form=st.just("reshape"), shape=_shape()),
    st.sampled_from([None, 2.5, True, (), [3, "relu"]]),
)

INPUT_SPECS = st.one_of(
    GOOD_SIZES,
    GOOD_SIZES,
    SIZES,
    st.tuples(st.integers(-1, 4)),
    st.fixed_dictionaries(
        {"form": st.just("input")},
        optional={"size": SIZES, "name": NAMES, "sparse": st.sampled_from([False, "csr", "bogus"])},
    ),
)


def _data(net, rows=4, seed=0):
    shape = net.layers[0].output_shape
    return np.random.RandomState(seed).randn(rows, *shape).astype("float32")


def _promised(net, rows):
    shape = (rows,) + tuple(net.layers[-1].output_shape)
    if isinstance(net, theanets.Classifier):
        return shape[:-1]
    return shape


@st.composite
def good_specs(draw):
    """A model class and a layer spec that it must build and run."""
    model = draw(st.sampled_from(MODELS))
    inputs = draw(st.one_of(GOOD_SIZES, st.builds(dict, form=st.just("input"), size=GOOD_SIZES)))
    size = inputs if isinstance(inputs, int) else inputs["size"]
    hidden = draw(
        st.lists(
            st.one_of(
                GOOD_SIZES,
                st.tuples(GOOD_SIZES, GOOD_ACTIVATIONS),
                st.builds(dict, size=GOOD_SIZES, activation=GOOD_ACTIVATIONS),
            ),
            max_size=2,
        )
    )
    if model is theanets.Autoencoder and hidden and draw(st.booleans()):
        # tied decoder: each tied layer mirrors the last untied one. 'softmax'
        # is also a layer form, so ('tied', 'softmax') names two forms (a
        # SpecWarning; the original built a Classifier layer from it)
        tied_activations = GOOD_ACTIVATIONS.filter(lambda a: a != "softmax")
        outputs = [
            draw(st.one_of(st.just("tied"), st.tuples(st.just("tied"), tied_activations)))
            for _ in hidden
        ]
    elif model is theanets.Autoencoder:
        outputs = [draw(st.one_of(st.just(size), st.tuples(st.just(size), GOOD_ACTIVATIONS)))]
    elif model is theanets.Classifier:
        outputs = [draw(st.integers(2, 4))]
    else:
        outputs = [draw(st.one_of(GOOD_SIZES, st.tuples(GOOD_SIZES, GOOD_ACTIVATIONS)))]
    return model, [inputs] + hidden + outputs


def _check_predictions(net, spec):
    data = _data(net)
    if net.layers[0].sparse:
        data = scipy.sparse.csr_matrix(data)
    out = net.predict(data)
    assert out.shape == _promised(net, 4), spec
    if isinstance(net, theanets.Classifier):
        assert out.dtype.kind == "i"
    else:
        assert out.dtype == np.float32
        assert np.all(np.isfinite(out)), spec


@SETTINGS
@given(case=good_specs())
def test_good_specs_build_and_predict(case):
    """Every valid spec builds a model whose predictions have the promised shape."""
    model, spec = case
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        net = model(spec)
        assert len(net.layers) == len(spec)
        _check_predictions(net, spec)


#: What a ConfigurationError about a spec names: a layer, or the model.
NAMES_THE_PLACE = r"layer '|layer \"|^(Regressor|Autoencoder|Classifier)\b"


@SETTINGS
@given(
    model=st.sampled_from(MODELS),
    first=INPUT_SPECS,
    rest=st.lists(LAYER_SPECS, min_size=1, max_size=3),
)
def test_random_specs_work_or_raise_configuration_error(model, first, rest):
    """Any spec either works or raises a ConfigurationError naming where it is wrong."""
    spec = [first] + rest
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            net = model(spec)
        except util.ConfigurationError as err:
            assert re.search(NAMES_THE_PLACE, str(err)), (
                "the error for {!r} names no layer: {}".format(spec, err)
            )
            return
        if len(net.inputs) != 1:
            with pytest.raises(util.DataError, match="takes one input array"):
                net.predict(_data(net))
            return
        _check_predictions(net, spec)


@SETTINGS
@given(size=st.integers(-2, 0), form=FORMS, activation=ACTIVATIONS)
def test_bad_sizes_name_the_layer(size, form, activation):
    """A non-positive size is always a ConfigurationError that names the layer."""
    with pytest.raises(util.ConfigurationError, match=r"layer '(hid1|out)'") as info:
        theanets.Regressor([3, dict(size=size, form=form, activation=activation), 2])
    assert str(info.value)


@SETTINGS
@given(case=good_specs(), data=st.data())
def test_one_bad_size_in_a_good_spec_names_its_layer(case, data):
    """Making one size of a valid spec non-positive gives an error naming that layer."""
    model, spec = case
    sized = [
        i
        for i, layer in enumerate(spec)
        if isinstance(layer, (int, tuple, dict))
        and not (isinstance(layer, tuple) and layer[0] == "tied")
    ]
    index = data.draw(st.sampled_from(sized), label="layer")
    bad = data.draw(st.integers(-2, 0), label="size")
    layer = spec[index]
    if isinstance(layer, int):
        spec[index] = bad
    elif isinstance(layer, tuple):
        spec[index] = (bad,) + layer[1:]
    else:
        spec[index] = dict(layer, size=bad)
    name = "in" if index == 0 else "out" if index == len(spec) - 1 else "hid{}".format(index)
    with pytest.raises(
        util.ConfigurationError,
        match=r"layer '{}'.*size must be a positive whole number, not {}".format(name, bad),
    ):
        model(spec)


# ----- data ----------------------------------------------------------------

DTYPES = st.sampled_from(
    [
        "float16",
        "float32",
        "float64",
        "int8",
        "int32",
        "int64",
        "uint8",
        "bool",
        "complex64",
        "object",
        "U1",
    ]
)
SPECIAL = st.sampled_from([None, np.nan, np.inf, -np.inf, 1e300, 0.0])


def _array(ndim, shape, dtype, special):
    arr = np.random.RandomState(sum(shape) + ndim).randn(*shape) if shape else np.float64(0.5)
    arr = np.asarray(arr)
    if special is not None and arr.size:
        arr.flat[0] = special
    if dtype == "U1":
        return arr.astype(str).astype("U1")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return arr.astype(dtype)


def _valid_for(arr, width):
    if arr.dtype.kind not in "fiub" or arr.ndim != 2 or arr.shape[1] != width:
        return False
    if arr.shape[0] == 0:
        return False
    if arr.dtype.kind == "f":
        with np.errstate(over="ignore"):
            return bool(np.all(np.isfinite(arr.astype("float32"))))
    return True


@pytest.fixture(scope="module")
def nets():
    return {cls.__name__: cls([3, 4, 3]) for cls in MODELS}


@SETTINGS
@given(
    ndim=st.integers(0, 4),
    dims=st.lists(st.integers(0, 4), min_size=4, max_size=4),
    dtype=DTYPES,
    special=SPECIAL,
    model=st.sampled_from(["Regressor", "Autoencoder", "Classifier"]),
)
def test_random_arrays_predict_or_raise_data_error(nets, ndim, dims, dtype, special, model):
    arr = _array(ndim, tuple(dims[:ndim]), dtype, special)
    net = nets[model]
    valid = _valid_for(arr, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            out = net.predict(arr)
        except util.DataError as err:
            assert not valid, "valid data {} {} refused: {}".format(arr.dtype, arr.shape, err)
            assert str(err).startswith(model + ".feed_forward: in ")
            return
    assert valid, "invalid data {} {} accepted".format(arr.dtype, arr.shape)
    assert out.shape == (_promised(net, arr.shape[0]))


@SETTINGS
@given(
    labels=st.lists(
        st.one_of(st.integers(-5, 5), st.floats(-4, 4), st.just(float("nan"))),
        min_size=0,
        max_size=6,
    )
)
def test_random_labels_score_or_raise_data_error(nets, labels):
    net = nets["Classifier"]
    y = np.asarray(labels) if labels else np.zeros(0, int)
    x = np.random.RandomState(0).randn(len(labels) or 1, 3).astype("float32")
    ok = (
        len(labels) > 0
        and np.all(np.isfinite(y))
        and np.all(y == np.round(y))
        and y.min() >= -3
        and y.max() < 3
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            score = net.score(x, y)
        except util.DataError as err:
            assert not ok, "good labels {} refused: {}".format(labels, err)
            return
    assert ok, "bad labels {} accepted".format(labels)
    assert 0 <= score <= 1
