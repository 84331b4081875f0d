"""Tests of theanets.sklearn: scikit-learn's estimator checks, and the
estimators in pipelines, grid searches and cross-validation."""

import logging
import pickle

import numpy as np
import pytest
import scipy.sparse

pytest.importorskip("sklearn")

from sklearn.base import clone
from sklearn.compose import TransformedTargetRegressor
from sklearn.datasets import load_diabetes, load_iris
from sklearn.dummy import DummyRegressor
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from theanets import util
from theanets.sklearn import (
    AutoencoderTransformer,
    NetworkClassifier,
    NetworkRegressor,
    expected_failed_checks,
)

# The estimator checks train some 60 small models per estimator. In the
# FAST_COMPILE mode of the tests every model costs a compilation plus slow
# steps, so they run with plain SGD on full batches (the cheapest graph to
# compile and run) and few updates, as scikit-learn's own suite shortens
# max_iter. Gradient clipping keeps SGD stable on the checks' unscaled data.
# The default-parameter instances go through the same checks in a slow test.
_FAST = dict(
    layers=(8,),
    algo="sgd",
    batch_size=1024,
    max_updates=20,
    validate_every=20,
    train_options=dict(max_gradient_norm=1),
)
FAST_ESTIMATORS = [
    NetworkClassifier(learning_rate=0.5, **_FAST),
    NetworkRegressor(learning_rate=0.1, **_FAST),
    AutoencoderTransformer(learning_rate=0.1, **_FAST),
]


def _run_check(estimator, check, monkeypatch):
    if "check_array_api_input" in str(check):
        # With array_api_dispatch and numpy inputs (all this check uses for
        # an estimator without array API support), scikit-learn only needs
        # the variable to be set; scipy read it at import, which does not
        # matter for numpy arrays.
        monkeypatch.setenv("SCIPY_ARRAY_API", "1")
    check(estimator)


@parametrize_with_checks(FAST_ESTIMATORS, expected_failed_checks=expected_failed_checks)
def test_estimator_checks(estimator, check, monkeypatch):
    _run_check(estimator, check, monkeypatch)


@pytest.mark.slow
@parametrize_with_checks(
    [NetworkClassifier(), NetworkRegressor(), AutoencoderTransformer()],
    expected_failed_checks=expected_failed_checks,
)
def test_estimator_checks_defaults(estimator, check, monkeypatch):
    _run_check(estimator, check, monkeypatch)


# ----- in scikit-learn's tools ----------------------------------------------


def test_grid_search_pipeline_on_iris():
    X, y = load_iris(return_X_y=True)
    pipe = Pipeline(
        [
            ("scale", StandardScaler()),
            (
                "net",
                NetworkClassifier(
                    learning_rate=0.02,
                    batch_size=32,
                    max_updates=30,
                    validate_every=10,
                    random_state=0,
                ),
            ),
        ]
    )
    search = GridSearchCV(pipe, {"net__layers": [(8,), (16,)]}, cv=3)
    search.fit(X, y)
    assert search.best_score_ >= 0.9
    assert search.best_params_["net__layers"] in [(8,), (16,)]
    assert search.score(X, y) >= 0.9


def test_cross_val_score_on_diabetes_beats_dummy():
    X, y = load_diabetes(return_X_y=True)
    net = TransformedTargetRegressor(
        make_pipeline(
            StandardScaler(),
            NetworkRegressor(
                layers=(16,),
                learning_rate=0.01,
                max_updates=40,
                validate_every=10,
                weight_l2=1e-3,
                random_state=0,
            ),
        ),
        transformer=StandardScaler(),
    )
    scores = cross_val_score(net, X, y, cv=3)
    dummy = cross_val_score(DummyRegressor(), X, y, cv=3)
    assert scores.mean() > dummy.mean() + 0.2


# ----- behaviour ------------------------------------------------------------


def _fast(cls, **kwargs):
    options = dict(
        layers=(8,),
        learning_rate=0.05,
        batch_size=64,
        max_updates=10,
        validate_every=5,
        random_state=0,
    )
    options.update(kwargs)
    return cls(**options)


@pytest.fixture
def blobs(rng):
    centers = np.array([[0, 3], [3, 0], [-3, -3]])
    y = rng.randint(3, size=90)
    X = centers[y] + rng.randn(90, 2)
    return X, y


def test_classifier_string_labels_and_proba(blobs):
    X, y = blobs
    labels = np.array(["ant", "bee", "cat"])[y]
    clf = _fast(NetworkClassifier).fit(X, labels)
    assert clf.classes_.tolist() == ["ant", "bee", "cat"]
    assert set(clf.predict(X)) <= set(labels)
    proba = clf.predict_proba(X)
    assert proba.shape == (90, 3) and proba.dtype == np.float64
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-12)
    np.testing.assert_allclose(np.exp(clf.predict_log_proba(X)), proba, rtol=1e-10)
    assert (clf.classes_[proba.argmax(axis=1)] == clf.predict(X)).all()
    assert clf.score(X, labels) > 0.8
    # The model behind: a theanets Classifier with 2 inputs and 3 outputs.
    assert clf.model_.layers[0].output_size == 2
    assert clf.model_.layers[-1].output_size == 3


def test_classifier_binary_decision_function(blobs):
    X, y = blobs
    y = (y == 1).astype(int)
    clf = _fast(NetworkClassifier).fit(X, y)
    scores = clf.decision_function(X)
    assert scores.shape == (90,)
    assert ((scores > 0).astype(int) == clf.predict(X)).all()


def test_same_seed_same_model_other_seed_other_model(blobs):
    X, y = blobs
    a = _fast(NetworkClassifier, random_state=3).fit(X, y).predict_proba(X)
    b = _fast(NetworkClassifier, random_state=3).fit(X, y).predict_proba(X)
    c = _fast(NetworkClassifier, random_state=4).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_pickle_and_clone(blobs):
    X, y = blobs
    clf = _fast(NetworkClassifier).fit(X, y)
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))
    fresh = clone(clf)
    assert fresh.get_params() == clf.get_params()
    assert not hasattr(fresh, "model_")


def test_pandas_feature_names_and_lists(blobs):
    pd = pytest.importorskip("pandas")
    X, y = blobs
    frame = pd.DataFrame(X, columns=["left", "right"])
    reg = _fast(NetworkRegressor).fit(frame, pd.Series(y.astype(float)))
    assert reg.feature_names_in_.tolist() == ["left", "right"]
    assert reg.n_features_in_ == 2
    from_list = _fast(NetworkRegressor).fit(X.tolist(), y.tolist())
    np.testing.assert_allclose(from_list.predict(X), reg.predict(frame), rtol=1e-6)


def test_sparse_input_builds_sparse_model(rng):
    X = scipy.sparse.random(60, 12, density=0.3, format="csc", random_state=rng)
    y = np.asarray(X.sum(axis=1)).ravel()
    reg = _fast(NetworkRegressor).fit(X, y)
    assert reg.model_.layers[0].sparse == "csr"
    dense = reg.predict(X.toarray())
    np.testing.assert_allclose(reg.predict(X), dense, rtol=1e-6)


def test_regressor_multi_output_shapes(rng):
    X = rng.randn(50, 4)
    Y = np.c_[X[:, 0], -X[:, 1]]
    reg = _fast(NetworkRegressor).fit(X, Y)
    assert reg.n_outputs_ == 2 and reg.predict(X).shape == (50, 2)
    single = _fast(NetworkRegressor).fit(X, Y[:, 0])
    assert single.predict(X).shape == (50,)


def test_sample_weights_ones_and_zeros(rng):
    X = rng.randn(40, 3)
    y = X[:, 0] * 2
    plain = _fast(NetworkRegressor).fit(X, y).predict(X)
    ones = _fast(NetworkRegressor).fit(X, y, sample_weight=np.ones(40)).predict(X)
    np.testing.assert_array_equal(plain, ones)
    # Samples of weight 0 are left out before training.
    X2, y2 = np.r_[X, rng.randn(10, 3)], np.r_[y, rng.randn(10)]
    weights = np.r_[np.ones(40), np.zeros(10)]
    zeros = _fast(NetworkRegressor).fit(X2, y2, sample_weight=weights).predict(X)
    np.testing.assert_array_equal(plain, zeros)


def test_training_records_curves_and_keeps_the_last_update(rng):
    X = rng.randn(40, 3)
    y = X[:, 0]
    reg = _fast(NetworkRegressor, max_updates=6, validate_every=3).fit(X, y)
    assert reg.n_updates_ == 6 and len(reg.loss_curve_) == 6
    # Validations before updates 1 and 4, and after update 6.
    assert len(reg.validation_loss_curve_) == 3
    assert reg.best_validation_loss_ == min(reg.validation_loss_curve_)
    # One update is kept, although theanets validates before updating.
    one = _fast(NetworkRegressor, max_updates=1, validate_every=1, random_state=1).fit(X, y)
    untrained = _fast(
        NetworkRegressor, max_updates=1, validate_every=1, learning_rate=1e-12, random_state=1
    ).fit(X, y)
    assert one.validation_loss_curve_[1] < one.validation_loss_curve_[0]
    assert not np.allclose(one.predict(X), untrained.predict(X))


def test_regularizers_reach_training(rng):
    X = rng.randn(50, 4)
    y = X[:, 0]
    plain = _fast(NetworkRegressor).fit(X, y)
    shrunk = _fast(NetworkRegressor, weight_l2=1.0).fit(X, y)
    size = [abs(r.model_.find("hid1", "w").get_value()).sum() for r in (plain, shrunk)]
    assert size[1] < size[0]


def test_validation_fraction(blobs):
    X, y = blobs
    clf = _fast(NetworkClassifier, validation_fraction=0.2).fit(X, y)
    assert len(clf.validation_loss_curve_) >= 2
    with pytest.raises(
        ValueError,
        match=r"validation_fraction=0.5 of 1 samples leaves 0 for "
        r"training and 1 for validation",
    ):
        _fast(NetworkRegressor, validation_fraction=0.5).fit(X[:1], y[:1])


def test_partial_fit_continues_training(blobs):
    X, y = blobs
    clf = _fast(NetworkClassifier)
    clf.partial_fit(X[:30], y[:30], classes=[0, 1, 2])
    first = clf.predict_proba(X)
    for _ in range(3):
        clf.partial_fit(X, y)
    assert clf.n_updates_ == 4 and len(clf.loss_curve_) == 4
    assert not np.allclose(first, clf.predict_proba(X))
    with pytest.raises(ValueError, match=r"classes=\[0, 1\] differs from classes_ \[0, 1, 2\]"):
        clf.partial_fit(X, y, classes=[0, 1])
    with pytest.raises(ValueError, match=r"y holds labels \[7\] that are not among classes_"):
        clf.partial_fit(X[:2], [0, 7])
    reg = _fast(NetworkRegressor).partial_fit(X, y.astype(float)).partial_fit(X, y)
    assert reg.n_updates_ == 2
    with pytest.raises(ValueError, match=r"y has 2 column\(s\), but the model was fitted with 1"):
        reg.partial_fit(X, np.c_[y, y])
    ae = _fast(AutoencoderTransformer).partial_fit(X).partial_fit(X)
    assert ae.n_updates_ == 2


def test_autoencoder_codes_and_reconstruction(rng):
    X = rng.randn(60, 3) @ rng.randn(3, 6)
    ae = _fast(AutoencoderTransformer, layers=(12, 3, 12), max_updates=20).fit(X)
    codes = ae.transform(X)
    assert codes.shape == (60, 3) and codes.dtype == np.float64
    assert ae.transform(X.astype(np.float32)).dtype == np.float32
    assert ae.inverse_transform(codes).shape == (60, 6)
    assert ae.get_feature_names_out().tolist() == [
        "autoencodertransformer0",
        "autoencodertransformer1",
        "autoencodertransformer2",
    ]
    assert -1 < ae.score(X) <= 1
    first = _fast(AutoencoderTransformer, layers=(12, 3, 12), code_layer="hid1").fit(X)
    assert first.transform(X).shape == (60, 12)
    tied = _fast(AutoencoderTransformer, layers=(4, 2), tied=True).fit(X)
    assert [layer.name for layer in tied.model_.layers] == ["in", "hid1", "hid2", "hid3", "out"]
    assert tied.transform(X).shape == (60, 2)
    with pytest.raises(
        ValueError,
        match=r"inverse_transform: X has 2 features, but the codes "
        r"of layer 'hid2:out' have 3",
    ):
        ae.inverse_transform(codes[:, :2])


def test_autoencoder_pandas_output(rng):
    pytest.importorskip("pandas")
    ae = _fast(AutoencoderTransformer, layers=(2,)).set_output(transform="pandas")
    frame = ae.fit_transform(rng.randn(20, 4))
    assert list(frame.columns) == ["autoencodertransformer0", "autoencodertransformer1"]


def test_quiet_unless_verbose(rng, caplog):
    X = rng.randn(20, 2)
    y = X[:, 0]
    caplog.set_level(logging.INFO, logger="theanets")
    _fast(NetworkRegressor, max_updates=2, validate_every=1).fit(X, y)
    assert not caplog.records
    assert logging.getLogger("theanets").level == logging.INFO  # restored
    _fast(NetworkRegressor, max_updates=2, validate_every=1, verbose=1).fit(X, y)
    assert any(r.name.startswith("theanets") for r in caplog.records)


# ----- bad parameters -------------------------------------------------------


@pytest.mark.parametrize(
    "params, message",
    [
        (dict(algo="adamm"), r"algo must be one of .*adam.*, not 'adamm'"),
        (dict(loss="mse"), r"loss must be one of crossentropy, hinge, xe, not 'mse'"),
        (dict(activation=3), r"activation must be the name of an activation"),
        (
            dict(learning_rate=0),
            r"learning_rate=0 is not allowed: expected a finite real number > 0",
        ),
        (
            dict(batch_size=2.5),
            r"batch_size=2.5 is not allowed: expected an integer >= 1 or 'auto'",
        ),
        (
            dict(batch_size="Auto"),
            r"batch_size='Auto' is not allowed: expected an integer >= 1 or 'auto'",
        ),
        (dict(max_updates=0), r"max_updates=0 is not allowed: expected an integer >= 1"),
        (
            dict(validate_every=True),
            r"validate_every=True is not allowed: expected an integer >= 1",
        ),
        (
            dict(validate_every=20, max_updates=10),
            r"validate_every=20 exceeds max_updates=10: no "
            r"update would be validated",
        ),
        (dict(patience=-1), r"patience=-1 is not allowed: expected a real number >= 0"),
        (
            dict(min_improvement=2),
            r"min_improvement=2 is not allowed: expected a real number in \[0, 1\)",
        ),
        (
            dict(validation_fraction=1),
            r"validation_fraction=1 is not allowed: expected a real number in \[0, 1\)",
        ),
        (dict(weight_l2=-1), r"weight_l2=-1 is not allowed: expected a finite real number >= 0"),
        (
            dict(hidden_dropout=1),
            r"hidden_dropout=1 is not allowed: expected a real number in \[0, 1\)",
        ),
        (dict(train_options=[1]), r"train_options must be None or a dict"),
        (dict(train_options=dict(learning_rate=1)), r"train_options must not set learning_rate"),
        (dict(layers="wide"), r"layers must be a sequence of hidden-layer specs"),
        (dict(layers=(0,)), r"layers must be a sequence of positive sizes"),
        (dict(layers=(None,)), r"layers must be a sequence of ints, tuples or dicts"),
    ],
)
def test_bad_parameters_are_reported_in_fit(blobs, params, message):
    X, y = blobs
    clf = NetworkClassifier(**params)  # the constructor only stores them
    with pytest.raises(ValueError, match="NetworkClassifier: " + message):
        clf.fit(X, y)


_PROBES = [-1, -1e-4, 0, 1e-4, 0.5, 1, 2, 32, 1000.0, 2.5, "x", None, True]


@pytest.mark.parametrize("cls", [NetworkClassifier, NetworkRegressor, AutoencoderTransformer])
def test_parameter_constraints_come_from_the_options_table(cls):
    from sklearn.utils._param_validation import make_constraint, validate_parameter_constraints

    from theanets import options
    from theanets.sklearn import base

    estimator = cls()
    assert set(estimator._parameter_constraints) == set(estimator.get_params())
    validate_parameter_constraints(
        estimator._parameter_constraints, estimator.get_params(), cls.__name__
    )  # the defaults satisfy them
    for name, constraint in base.CONSTRAINTS.items():
        table = options.option(name).constraint if name in options._BY_NAME else None
        interval, *others = [make_constraint(c) for c in estimator._parameter_constraints[name]]
        # batch_size also takes 'auto' (and no other string)
        assert [o.is_satisfied_by("auto") for o in others] == [True] * (name == "batch_size")
        assert not any(o.is_satisfied_by("x") for o in others)
        for value in _PROBES:
            try:
                accepted = constraint.check(name, value) is not None
            except util.ConfigurationError:
                accepted = False
            if accepted and table is not None:
                table.check(name, value)  # never wider than the table's
            if not isinstance(value, (bool, str)) and value is not None:
                # scikit-learn's reading of it agrees (it admits bools)
                assert interval.is_satisfied_by(value) == accepted, (name, value)
    assert base.CONSTRAINTS["validate_every"] is options.option("validate_every").constraint


def test_bad_autoencoder_parameters(rng):
    X = rng.randn(10, 3)
    with pytest.raises(
        ValueError,
        match=r"code_layer must be None, a layer index or a layer "
        r"name, not 1.5",
    ):
        AutoencoderTransformer(code_layer=1.5).fit(X)
    with pytest.raises(
        ValueError,
        match=r"code_layer='deep' is not a layer of the model "
        r"\(layers: \['in', 'hid1', 'out'\]\)",
    ):
        AutoencoderTransformer(code_layer="deep").fit(X)
    with pytest.raises(ValueError, match=r"code_layer=7 is not a layer of the model"):
        AutoencoderTransformer(code_layer=7).fit(X)
    with pytest.raises(ValueError, match=r"tied must be True or False, not 'yes'"):
        AutoencoderTransformer(tied="yes").fit(X)
    with pytest.raises(
        ValueError,
        match=r"layers must be at least one hidden layer when "
        r"tied=True",
    ):
        AutoencoderTransformer(layers=(), tied=True).fit(X)
    with pytest.raises(ValueError, match=r"loss must be one of .*mse.*, not 'xe'"):
        AutoencoderTransformer(loss="xe").fit(X)


def test_one_class_is_refused(blobs):
    X, _ = blobs
    with pytest.raises(
        ValueError,
        match=r"needs samples of at least 2 classes to learn, but y "
        r"has 1 class \('a'\)",
    ):
        NetworkClassifier().fit(X, ["a"] * len(X))


def test_grid_search_example_fast(tmp_path, capsys):
    import importlib.util
    import pathlib

    path = pathlib.Path(__file__).resolve().parent.parent / "examples" / "sklearn_grid_search.py"
    spec = importlib.util.spec_from_file_location("sklearn_grid_search", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    best, score = module.main(["--fast", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert "best parameters" in out and "held-out test digits" in out
    assert set(best) == {"net__layers", "net__weight_l2"}
    assert (tmp_path / "grid_scores.png").stat().st_size > 0
    # Ten updates on 450 digits are far from converged, but it must have learned.
    assert 0.7 < score <= 1


def test_missing_scikit_learn_is_explained(monkeypatch):
    import importlib.util
    import pathlib
    import sys

    import theanets.sklearn

    path = pathlib.Path(theanets.sklearn.__file__).parent / "base.py"
    spec = importlib.util.spec_from_file_location("theanets.sklearn._probe", path)
    monkeypatch.setitem(sys.modules, "sklearn.base", None)  # as if it were not installed
    with pytest.raises(ImportError, match=r"theanets.sklearn needs scikit-learn 1.6 or later"):
        spec.loader.exec_module(importlib.util.module_from_spec(spec))


def test_default_classifier_fits_iris_as_well_as_mlpclassifier():
    # the defaults follow MLPClassifier's (100 hidden units, 200 passes,
    # 10 without improvement): scaled iris is learned, not under-fitted
    from sklearn.datasets import load_iris
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_iris(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), NetworkClassifier(random_state=0))
    assert cross_val_score(pipe, X, y, cv=3).mean() >= 0.93


def test_default_regressor_learns_unscaled_targets():
    rng = np.random.RandomState(0)
    X = rng.uniform(-1, 1, size=(128, 3))
    y = 5000.0 + 800.0 * (X[:, 0] - 2 * X[:, 1] + 0.5 * X[:, 2] ** 2)
    reg = NetworkRegressor(random_state=0).fit(X, y)
    np.testing.assert_allclose(reg.y_mean_, [y.mean()])
    np.testing.assert_allclose(reg.y_scale_, [y.std()])
    assert reg.predict(X).shape == (128,)
    assert abs(reg.predict(X).mean() - y.mean()) < 0.05 * y.std()  # original units
    assert reg.score(X, y) > 0.9
    raw = NetworkRegressor(random_state=0, standardize_targets=False).fit(X, y)
    np.testing.assert_array_equal(raw.y_scale_, [1.0])
    assert raw.score(X, y) < reg.score(X, y)  # the reason for the default


def test_standardized_regressor_keeps_constant_and_multi_column_targets():
    rng = np.random.RandomState(1)
    X = rng.randn(60, 2)
    Y = np.column_stack([np.full(60, 3.0), 100 * X[:, 0]])
    reg = NetworkRegressor(random_state=0, max_updates=20).fit(X, Y)
    np.testing.assert_array_equal(reg.y_scale_[0], 1.0)  # constant column: scale 1
    np.testing.assert_allclose(reg.y_mean_, Y.mean(axis=0))
    np.testing.assert_allclose(reg.y_scale_[1], Y[:, 1].std())
    assert reg.predict(X).shape == (60, 2)


def test_auto_batch_size_is_all_rows_up_to_200(rng):
    # 'auto' (the default) is MLPClassifier's min(200, n_samples). 20 rows
    # are one batch: the first update's training loss is the loss of all
    # rows at the initial parameters, which the first validation (on the
    # training data, before any update) computes too.
    X = rng.randn(20, 3)
    y = (X[:, 0] > 0).astype(int)
    est = _fast(NetworkClassifier, max_updates=2, validate_every=1, batch_size="auto").fit(X, y)
    assert NetworkClassifier().batch_size == "auto"
    np.testing.assert_allclose(est.loss_curve_[0], est.validation_loss_curve_[0], rtol=1e-5)
    # 450 rows: batches of 200, the same training as batch_size=200
    X = rng.randn(450, 3)
    y = (X[:, 0] > 0).astype(int)
    curves = [
        _fast(NetworkClassifier, max_updates=2, validate_every=1, batch_size=b).fit(X, y)
        for b in ("auto", 200, 64)
    ]
    np.testing.assert_allclose(curves[0].loss_curve_, curves[1].loss_curve_, rtol=1e-6)
    assert not np.allclose(curves[0].loss_curve_, curves[2].loss_curve_, rtol=1e-6)


def test_fit_validates_on_all_rows_in_one_batch(rng):
    # the validation loss is the mean over all rows, not the mean of the
    # mini-batches' means (20 rows in batches of 8: 8, 8 and 4)
    X = rng.randn(20, 3)
    y = (X[:, 0] > 0).astype(int)
    est = _fast(NetworkClassifier, max_updates=3, validate_every=1, batch_size=8).fit(X, y)
    proba = est.predict_proba(X)
    expect = -np.mean(np.log(proba[np.arange(len(y)), y]))
    np.testing.assert_allclose(est.best_validation_loss_, expect, rtol=1e-4)
