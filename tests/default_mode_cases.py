"""The cases of the default-mode contract (tests/test_default_mode.py).

Each case builds a small model, trains it for two updates and predicts, in
the compile mode a user gets by default (JAX where it applies). The test
runs the cases of a group in a subprocess of its own::

    python tests/default_mode_cases.py GROUP

which prints one JSON line per case as it finishes, so that a case that
kills the process (an abort inside XLA) fails alone, and the cases before
it in the group still report.

Importing this module only defines the cases: nothing is built or compiled.
"""

import io
import json
import os
import sys
import tempfile
import time
import traceback

import numpy as np

N = 6  # examples
T = 5  # time steps

#: The recurrent forms and the options each needs.
RECURRENT_FORMS = {
    "rnn": {},
    "bcrnn": dict(num_modules=2),
    "rrnn": {},
    "mrnn": {},
    "lstm": {},
    "gru": {},
    "clockwork": dict(periods=(1, 2)),
    "mut1": {},
    "scrn": {},
}

#: The convolution and pooling layers: form -> variants (spec options).
CONV_FORMS = {
    "conv1": [
        dict(border_mode=mode, stride=stride)
        for mode in ("valid", "full", "same")
        for stride in (1, 2)
    ],
    "conv2": [
        dict(border_mode=mode, stride=stride)
        for mode in ("valid", "full", "same")
        for stride in ((1, 1), (2, 1))
    ],
    "pool1": [dict(mode=mode, stride=stride) for mode in ("max", "mean") for stride in (None, 1)],
    "pool2": [
        dict(mode=mode, stride=stride) for mode in ("max", "mean") for stride in (None, (1, 1))
    ],
}

#: Regularizer keyword -> its value in a training call.
REGULARIZERS = {
    "weight_l2": 1e-3,
    "weight_l1": 1e-3,
    "hidden_l1": 1e-2,
    "hidden_sparsity": 1e-2,
    "contractive": 1e-3,
    "recurrent_norm": dict(pattern="hid1:out", weight=1e-3),
    "recurrent_state": dict(pattern="hid1:out", weight=1e-3),
    "input_noise": 0.1,
    "hidden_noise": 0.1,
    "input_dropout": 0.2,
    "hidden_dropout": 0.2,
}

#: Loss name -> (model kind, extra spec of the output layer).
LOSSES = {
    "mse": ("regressor", {}),
    "mae": ("regressor", {}),
    "mmd": ("regressor", {}),
    "gll": ("gll", {}),
    "kl": ("softmax", {}),
    "crossentropy": ("classifier", {}),
    "hinge": ("classifier", {}),
    "xe": ("classifier", {}),
}


def _rng():
    return np.random.RandomState(7)


def _float(*shape):
    return _rng().randn(*shape).astype("float32")


def _labels(*shape, classes=3):
    return _rng().randint(0, classes, size=shape).astype("int32")


def _train(model, data, **kwargs):
    kwargs.setdefault("algo", "rmsprop")
    kwargs.setdefault("batch_size", N)
    kwargs.setdefault("validate_every", 1)
    model.train(data, max_updates=2, **kwargs)
    return model


def _finite(values, shape=None):
    values = np.asarray(values)
    if shape is not None and values.shape != shape:
        raise AssertionError("expected an output of shape {}, got {}".format(shape, values.shape))
    if values.dtype.kind == "f" and not np.isfinite(values).all():
        raise AssertionError("the output holds non-finite values")
    return values


# ----- the cases: name -> function running it ------------------------------


def _recurrent_case(spec, classes=None):
    def run():
        import theanets

        x = _float(N, T, 3)
        if classes:
            model = theanets.recurrent.Classifier([3, spec, classes])
            _train(model, [x, _labels(N, T, classes=classes)])
            _finite(model.predict(x), (N, T))
        else:
            model = theanets.recurrent.Regressor([3, spec, 2])
            _train(model, [x, _float(N, T, 2)])
            _finite(model.predict(x), (N, T, 2))

    return run


def _conv_case(form, options):
    def run():
        import theanets

        options_ = {k: v for k, v in options.items() if v is not None}
        if form in ("conv1", "conv2"):
            spec = dict(form=form, size=2, filter_size=2 if form == "conv1" else (2, 2), **options_)
        else:
            spec = dict(form=form, pool_size=2 if form == "pool1" else (2, 2), **options_)
        if form.endswith("1"):
            x = _float(N, 6, 2)
            model = theanets.Regressor([(6, 2), spec, "flat", 2])
        else:
            x = _float(N, 5, 4, 2)
            model = theanets.convolution.Regressor([(5, 4, 2), spec, "flat", 2])
        _train(model, [x, _float(N, 2)])
        _finite(model.predict(x), (N, 2))

    return run


def _structural(layers, model="regressor", nin=4):
    def run():
        import theanets

        x = _float(N, nin)
        if model == "autoencoder":
            net = theanets.Autoencoder(layers)
            _train(net, [x])
            _finite(net.predict(x), (N, nin))
        else:
            net = theanets.Regressor(layers)
            _train(net, [x, _float(N, 2)])
            _finite(net.predict(x), (N, 2))

    return run


def _model_case(kind):
    def run():
        import theanets

        if kind == "feedforward.Autoencoder":
            x = _float(N, 4)
            model = _train(theanets.Autoencoder([4, (3, "relu"), (4, "tied")]), [x])
            _finite(model.encode(x), (N, 3))
            _finite(model.decode(model.encode(x)), (N, 4))
            _finite(model.score(x))
        elif kind == "feedforward.Regressor":
            x, y = _float(N, 4), _float(N, 2)
            model = _train(theanets.Regressor([4, (3, "tanh"), 2]), [x, y])
            _finite(model.score(x, y))
        elif kind == "feedforward.Classifier":
            x, y = _float(N, 4), _labels(N)
            model = _train(theanets.Classifier([4, (3, "relu"), 3]), [x, y])
            _finite(model.predict(x), (N,))
            _finite(model.predict_proba(x), (N, 3))
            _finite(model.score(x, y))
        elif kind == "weighted.Regressor":
            x, y, w = _float(N, 4), _float(N, 2), np.abs(_float(N, 2)) + 0.1
            model = _train(theanets.Regressor([4, 3, 2], weighted=True), [x, y, w])
            _finite(model.predict(x), (N, 2))
        elif kind == "weighted.Classifier":
            x, y, w = _float(N, 4), _labels(N), np.ones(N, "float32")
            model = _train(theanets.Classifier([4, 3, 3], weighted=True), [x, y, w])
            _finite(model.predict(x), (N,))
        elif kind == "recurrent.Autoencoder":
            x = _float(N, T, 3)
            model = _train(theanets.recurrent.Autoencoder([3, (4, "rnn"), 3]), [x])
            _finite(model.predict(x), (N, T, 3))
        elif kind == "recurrent.Regressor":
            _recurrent_case(dict(form="rnn", size=4))()
        elif kind == "recurrent.Classifier":
            _recurrent_case(dict(form="gru", size=4), classes=3)()
        elif kind == "convolution.Regressor":
            _conv_case("conv2", {})()
        elif kind == "convolution.Classifier":
            x, y = _float(N, 5, 4, 2), _labels(N)
            model = theanets.convolution.Classifier(
                [(5, 4, 2), dict(form="conv2", size=2, filter_size=(2, 2)), "flat", 3]
            )
            _train(model, [x, y])
            _finite(model.predict(x), (N,))
        else:
            raise KeyError(kind)

    return run


def _algo_case(algo):
    def run():
        import theanets

        x = _float(N, 4)
        model = theanets.Autoencoder([4, (3, "relu"), (2, "relu"), (3, "relu"), 4])
        _train(model, [x], algo=algo)
        _finite(model.predict(x), (N, 4))

    return run


def _regularizer_case(keyword, value, recurrent=False):
    def run():
        import theanets

        if recurrent or keyword.startswith("recurrent"):
            x, y = _float(N, T, 3), _float(N, T, 2)
            model = theanets.recurrent.Regressor([3, (4, "rnn"), 2])
            _train(model, [x, y], **{keyword: value})
            _finite(model.predict(x), (N, T, 2))
        else:
            x = _float(N, 4)
            model = theanets.Autoencoder([4, (3, "sigmoid"), (4, "tied")])
            _train(model, [x], **{keyword: value})
            _finite(model.predict(x), (N, 4))

    return run


def _loss_case(name, kind):
    def run():
        import theanets

        x = _float(N, 4)
        if kind == "regressor":
            model = theanets.Regressor([4, 3, 2], loss=name)
            _train(model, [x, _float(N, 2)])
        elif kind == "classifier":
            model = theanets.Classifier([4, 3, 3], loss=name)
            _train(model, [x, _labels(N)])
        elif kind == "softmax":
            target = np.abs(_float(N, 3)) + 0.1
            model = theanets.Regressor([4, 3, (3, "softmax")], loss=name)
            _train(model, [x, (target / target.sum(1, keepdims=True)).astype("float32")])
        elif kind == "gll":
            model = theanets.Regressor(
                [
                    4,
                    dict(size=3, name="hid"),
                    dict(size=2, inputs="hid", name="mean"),
                    dict(size=2, inputs="hid", name="covar", activation="softplus"),
                ]
            )
            model.set_loss("gll", target=2, mean_name="mean:out", covar_name="covar:out")
            _train(model, [x, _float(N, 2)])
        _finite(model.predict(x))

    return run


def _carry_case(form, carry):
    def run():
        import theanets

        x, y = _float(4, 12, 3), _float(4, 12, 2)
        spec = dict(form=form, size=4, **RECURRENT_FORMS[form])
        model = theanets.recurrent.Regressor([3, spec, 2])
        feed = theanets.recurrent.stream_batches([x, y], steps=4)
        _train(model, feed if carry else [x, y], carry_state=carry, batch_size=4)
        _finite(model.predict(x), (4, 12, 2))

    return run


def _stateful_case(form):
    def run():
        import theanets

        x = _float(2, T, 3)
        spec = dict(form=form, size=4, **RECURRENT_FORMS[form])
        model = theanets.recurrent.Regressor([3, spec, 2])
        _train(model, [x, _float(2, T, 2)], batch_size=2)
        whole = model.predict(x)
        first, state = model.predict(x[:, :2], return_state=True)
        rest = model.predict(x[:, 2:], state=state)
        np.testing.assert_allclose(
            np.concatenate([first, rest], axis=1), whole, rtol=1e-4, atol=1e-5
        )

    return run


def _save_case(model_kind, fmt):
    def run():
        import theanets

        x = _float(N, T, 3) if model_kind == "recurrent" else _float(N, 4)
        if model_kind == "recurrent":
            model = theanets.recurrent.Regressor([3, (4, "lstm"), 2])
            _train(model, [x, _float(N, T, 2)])
        else:
            model = theanets.Classifier([4, (3, "relu"), 3])
            _train(model, [x, _labels(N)])
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "model." + fmt)
            model.save(path)
            copy = type(model).load(path)
        np.testing.assert_allclose(copy.predict(x), model.predict(x), rtol=1e-5, atol=1e-6)

    return run


def _options_case(options):
    def run():
        import theanets

        x = _float(N, 4)
        model = theanets.Autoencoder([4, (3, "relu"), 4])
        _train(model, [x], **options)
        _finite(model.predict(x), (N, 4))

    return run


def _checkpoint_case():
    def run():
        import theanets

        x = _float(N, 4)
        model = theanets.Autoencoder([4, 3, 4])
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "progress.npz")
            _train(model, [x], save_progress=path, save_every=1)
            copy = theanets.Autoencoder.load(path)
        _finite(copy.predict(x), (N, 4))

    return run


def _numpy_handle_case():
    def run():
        import theanets

        x = _float(N, 4)
        model = _train(theanets.Autoencoder([4, 3, 4]), [x])
        handle = io.BytesIO()
        model.save(handle)
        handle.seek(0)
        _finite(theanets.Autoencoder.load(handle).predict(x), (N, 4))

    return run


def cases():
    """The groups of cases: group name -> {case name: function}."""
    groups = {}
    recurrent = groups["recurrent"] = {}
    for form, options in RECURRENT_FORMS.items():
        for direction in ("forward", "backward"):
            spec = dict(form=form, size=4, direction=direction, **options)
            recurrent["{}-{}".format(form, direction)] = _recurrent_case(spec)
    bidirectional = groups["bidirectional"] = {}
    for worker, options in RECURRENT_FORMS.items():
        spec = dict(form="bidirectional", size=8, worker=worker, **options)
        bidirectional["bidirectional-" + worker] = _recurrent_case(spec)
    conv = groups["convolution"] = {}
    for form, variants in CONV_FORMS.items():
        for options in variants:
            name = "-".join([form] + ["{}={}".format(k, v) for k, v in sorted(options.items())])
            conv[name] = _conv_case(form, options)
    groups["structural"] = {
        "input": _structural([dict(form="input", size=4), 2]),
        "feedforward": _structural([4, dict(form="feedforward", size=3), 2]),
        "ff": _structural([4, dict(form="ff", size=3, activation="tanh+relu"), 2]),
        "classifier": _structural([4, (3, "classifier"), 2]),
        "softmax": _structural([4, (3, "softmax"), 2]),
        "tied": _structural([4, 3, (4, "tied")], model="autoencoder"),
        "flatten": _structural([6, dict(form="reshape", shape=(2, 3)), "flatten", 2], nin=6),
        "flat": _structural([6, dict(form="reshape", shape=(3, 2)), "flat", 2], nin=6),
        "reshape": _structural([6, dict(form="reshape", shape=(2, 3)), "flat", 2], nin=6),
        "concatenate": _structural(
            [
                4,
                dict(size=3, name="a"),
                dict(size=2, name="b", inputs="in"),
                dict(form="concatenate", inputs=["a", "b"]),
                2,
            ]
        ),
        "concat": _structural(
            [
                4,
                dict(size=3, name="a"),
                dict(size=2, name="b", inputs="in"),
                dict(form="concat", inputs=["a", "b"]),
                2,
            ]
        ),
        "product": _structural(
            [
                4,
                dict(size=3, name="a"),
                dict(size=3, name="b", inputs="in"),
                dict(form="product", inputs=["a", "b"]),
                2,
            ]
        ),
        "prod": _structural(
            [
                4,
                dict(size=3, name="a"),
                dict(size=3, name="b", inputs="in"),
                dict(form="prod", inputs=["a", "b"]),
                2,
            ]
        ),
    }
    groups["models"] = {
        kind: _model_case(kind)
        for kind in (
            "feedforward.Autoencoder",
            "feedforward.Regressor",
            "feedforward.Classifier",
            "weighted.Regressor",
            "weighted.Classifier",
            "recurrent.Autoencoder",
            "recurrent.Regressor",
            "recurrent.Classifier",
            "convolution.Regressor",
            "convolution.Classifier",
        )
    }
    training = groups["training"] = {}
    from theanets import trainer

    for algo in trainer.algo_names():
        training["algo-" + algo] = _algo_case(algo)
    for name, (kind, _) in LOSSES.items():
        training["loss-" + name] = _loss_case(name, kind)
    for options in (
        dict(momentum=0.9, nesterov=True, algo="sgd"),
        dict(gradient_clip=1, max_gradient_elem=1),
        dict(monitors={"hid1:out": (0.1, 0.5)}),
        dict(patience=1, min_improvement=0.1),
    ):
        training["options-" + "-".join(sorted(options))] = _options_case(options)
    regs = groups["regularizers"] = {}
    for keyword, value in REGULARIZERS.items():
        regs["reg-" + keyword] = _regularizer_case(keyword, value)
    regs["reg-hidden_dropout-recurrent"] = _regularizer_case("hidden_dropout", 0.2, recurrent=True)
    state = groups["state"] = {}
    for form in ("rnn", "lstm", "clockwork"):
        state["carry_state-{}".format(form)] = _carry_case(form, True)
        state["stateful-{}".format(form)] = _stateful_case(form)
    state["carry_state-off"] = _carry_case("lstm", False)
    files = groups["files"] = {}
    for kind in ("feedforward", "recurrent"):
        for fmt in ("npz", "pkl", "pkl.gz"):
            files["save-{}-{}".format(kind, fmt)] = _save_case(kind, fmt)
    files["save-handle"] = _numpy_handle_case()
    files["checkpoint"] = _checkpoint_case()
    return groups


def run_group(group):
    """Run the cases of ``group``, printing one JSON line for each."""
    import logging

    logging.getLogger("theanets").setLevel(logging.WARNING)
    for name, run in cases()[group].items():
        start = time.time()
        try:
            run()
            result = dict(case=name, ok=True)
        except Exception:
            result = dict(case=name, ok=False, error=traceback.format_exc(limit=8))
        result["seconds"] = round(time.time() - start, 2)
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    run_group(sys.argv[1])
