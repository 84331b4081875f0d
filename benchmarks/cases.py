"""The benchmark cases, built the same way in theanets, PyTorch and the peers.

Each case is a dict of its shapes and hyper-parameters; ``make_data`` draws
its data (float32), ``theanets_model`` and ``torch_model`` build it in each
library, with the same sizes, activations, loss and optimizer.
"""

import numpy as np

CASES = {
    "autoencoder": dict(
        title="autoencoder 784-256-64-256-784 tanh, mse, batch 128, adam",
        kind="autoencoder",
        sizes=[784, 256, 64, 256, 784],
        activation="tanh",
        batch=128,
        algo="adam",
        learning_rate=1e-3,
    ),
    "classifier": dict(
        title="classifier 784-512-512-10 relu, cross-entropy, batch 128, rmsprop",
        kind="classifier",
        sizes=[784, 512, 512, 10],
        activation="relu",
        batch=128,
        algo="rmsprop",
        learning_rate=1e-3,
    ),
    "lstm": dict(
        title="lstm regressor 32-(128 lstm)-4, 50 steps, mse, batch 64, adam",
        kind="lstm",
        sizes=[32, 128, 4],
        steps=50,
        batch=64,
        algo="adam",
        learning_rate=1e-3,
    ),
    "gru": dict(
        title="gru regressor 32-(128 gru)-4, 50 steps, mse, batch 64, adam",
        kind="gru",
        # the activation of PyTorch's, Keras's and the JAX peer's GRU (the
        # layer's own default is relu)
        activation="tanh",
        sizes=[32, 128, 4],
        steps=50,
        batch=64,
        algo="adam",
        learning_rate=1e-3,
    ),
    "bilstm": dict(
        title="bidirectional lstm regressor 32-(2x128 lstm)-4, 50 steps, mse, batch 64, adam",
        kind="bilstm",
        sizes=[32, 128, 4],
        steps=50,
        batch=64,
        algo="adam",
        learning_rate=1e-3,
    ),
    "char": dict(
        title="character model: lstm 96 units, 32 steps, 16 streams, carried state, adam",
        kind="char",
        size=96,
        steps=32,
        batch=16,  # streams: batch i of every stream continues its batch i - 1
        text="declaration",
        algo="adam",
        learning_rate=1e-3,
    ),
    "conv": dict(
        title="conv classifier 28x28x1 -> conv2 16x5x5 relu -> pool2 -> 10, batch 64, adam",
        kind="conv",
        image=(28, 28, 1),
        filters=16,
        filter_size=(5, 5),
        classes=10,
        batch=64,
        algo="adam",
        learning_rate=1e-3,
    ),
}


# theanets gives its moving averages as half-lives (the defaults: 7 and 69
# for Adam, 14 for RMSProp); PyTorch takes the decay factors.
def _decay(halflife):
    return float(np.exp(-np.log(2) / halflife))


# the recurrent cases: (examples, steps, inputs) -> (examples, steps, outputs)
RECURRENT = ("lstm", "gru", "bilstm")

BETA1, BETA2, RMS_EWMA, EPSILON = _decay(7), _decay(69), _decay(14), 1e-8

# the batches of data each training case cycles through; for the character
# model one pass over its streams: every library starts from zeros again at
# the start of each pass (theanets' carry_state=True resets at the start of
# each pass of a StreamBatches)
BATCHES = 8


def char_text(case="char"):
    """``(codes, alphabet)`` of the character case's text, encoded as theanets'
    character models encode it: code 0 for unknown characters, 1 + the index in the sorted
    alphabet otherwise (without importing theanets)."""
    import os

    path = os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
        "theanets",
        "data",
        CASES[case]["text"] + ".txt",
    )
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    alphabet = "".join(sorted(set(text)))
    index = {c: i + 1 for i, c in enumerate(alphabet)}
    return np.array([index[c] for c in text], "int32"), alphabet


def _char_data(case, batches):
    """Batch-ordered one-hot inputs and next-character labels of the char case.

    The text is cut into ``batch`` streams (as ``stream_batches`` does);
    rows ``[j * batch, (j + 1) * batch)`` are batch ``j``, one row per
    stream, each continuing the same stream's batch ``j - 1``.
    """
    c = CASES[case]
    codes, alphabet = char_text(case)
    streams, steps = c["batch"], c["steps"]
    each = (len(codes) - 1) // streams
    if batches * steps > each:
        raise ValueError("the text is too short for {} batches".format(batches))
    starts = np.arange(streams) * each
    rows = [
        codes[s + j * steps : s + j * steps + steps + 1] for j in range(batches) for s in starts
    ]
    rows = np.stack(rows)
    eye = np.eye(1 + len(alphabet), dtype="float32")
    return [eye[rows[:, :-1]], rows[:, 1:].astype("int32")]


def make_data(case, batches, seed=0):
    """Training data for ``batches`` mini-batches of ``case``: a list of arrays."""
    c = CASES[case]
    rng = np.random.RandomState(seed)
    n = c["batch"] * batches
    if c["kind"] == "autoencoder":
        return [rng.rand(n, c["sizes"][0]).astype("float32")]
    if c["kind"] == "classifier":
        return [
            rng.rand(n, c["sizes"][0]).astype("float32"),
            rng.randint(0, c["sizes"][-1], size=n).astype("int32"),
        ]
    if c["kind"] in RECURRENT:
        return [
            rng.randn(n, c["steps"], c["sizes"][0]).astype("float32"),
            rng.randn(n, c["steps"], c["sizes"][-1]).astype("float32"),
        ]
    if c["kind"] == "char":
        return _char_data(case, batches)
    if c["kind"] == "conv":
        return [
            rng.rand(n, *c["image"]).astype("float32"),
            rng.randint(0, c["classes"], size=n).astype("int32"),
        ]
    raise ValueError("unknown case {!r}".format(case))


def theanets_model(case):
    """The theanets model of ``case``."""
    import theanets

    c = CASES[case]
    if c["kind"] == "autoencoder":
        s = c["sizes"]
        return theanets.Autoencoder(
            [s[0]] + [(n, c["activation"]) for n in s[1:-1]] + [(s[-1], "linear")]
        )
    if c["kind"] == "classifier":
        s = c["sizes"]
        return theanets.Classifier([s[0]] + [(n, c["activation"]) for n in s[1:-1]] + [s[-1]])
    if c["kind"] == "lstm":
        s = c["sizes"]
        return theanets.recurrent.Regressor([s[0], (s[1], "lstm"), s[2]])
    if c["kind"] == "gru":
        s = c["sizes"]
        return theanets.recurrent.Regressor(
            [s[0], dict(form="gru", size=s[1], activation=c["activation"]), s[2]]
        )
    if c["kind"] == "bilstm":
        # each direction has size // 2 units: as many as PyTorch's and the peers'
        s = c["sizes"]
        layer = dict(form="bidirectional", worker="lstm", size=2 * s[1])
        return theanets.recurrent.Regressor([s[0], layer, s[2]])
    if c["kind"] == "char":
        # the model theanets-char-rnn trains: one-hot inputs, softmax outputs
        from theanets import charrnn

        return charrnn.build_model(char_text(case)[1], size=c["size"], form="lstm")
    if c["kind"] == "conv":
        return theanets.convolution.Classifier(
            [
                c["image"],
                dict(
                    form="conv2", size=c["filters"], filter_size=c["filter_size"], activation="relu"
                ),
                "pool2",
                "flat",
                c["classes"],
            ]
        )
    raise ValueError("unknown case {!r}".format(case))


def theanets_train_kwargs(case):
    """Keywords of ``train``/``itertrain`` for one optimizer step per iteration."""
    c = CASES[case]
    kw = dict(
        algo=c["algo"],
        learning_rate=c["learning_rate"],
        batch_size=c["batch"],
        iteration_size=1,
        validate_every=10**9,
        patience=10**9,
        rng=0,
        rms_regularizer=EPSILON,
    )
    if c["algo"] == "adam":
        kw.update(beta1_halflife=7, beta2_halflife=69)
    if c["algo"] == "rmsprop":
        kw.update(rms_halflife=14)
    if c["kind"] == "char":
        kw.update(carry_state=True)
    return kw


def theanets_data(case, arrays):
    """The training data of ``itertrain`` for the arrays of ``make_data``.

    The arrays themselves, except for the character case: there, the
    streams in stream order (``theanets.recurrent.stream_batches``), which
    ``carry_state=True`` needs, giving the same batches in the same order
    as the peers read them.
    """
    c = CASES[case]
    if c["kind"] != "char":
        return arrays
    import theanets

    streams = c["batch"]
    out = []
    for a in arrays:
        # (batches * streams, steps, ...) -> (streams, batches * steps, ...)
        a = a.reshape((-1, streams) + a.shape[1:]).swapaxes(0, 1)
        out.append(np.ascontiguousarray(a.reshape((streams, -1) + a.shape[3:])))
    return theanets.recurrent.stream_batches(out, steps=c["steps"])


def torch_data(case, arrays):
    """The arrays of ``make_data`` as PyTorch tensors, in PyTorch's layout.

    Images become channels-first and labels int64, as PyTorch wants them;
    this is done once, outside any timing.
    """
    import torch

    kind = CASES[case]["kind"]
    out = []
    for a in arrays:
        if a.dtype.kind == "i":
            a = a.astype("int64")
        elif kind == "conv" and a.ndim == 4:
            a = np.ascontiguousarray(a.transpose(0, 3, 1, 2))
        out.append(torch.from_numpy(a))
    return out


def use_default_mode():
    """Compile theanets' functions in ``theanets._mode.default_mode``.

    theanets' own compile calls pass ``mode=default_mode(...)``; this makes
    any call to ``pytensor.function`` without a ``mode`` do the same, so
    that the benchmarks measure the default mode whichever way a function
    is compiled. (Calls that pass a mode are left alone.)
    """
    import pytensor

    from theanets import _mode

    original = pytensor.function
    if getattr(original, "_theanets_default_mode", False):
        return

    def function(inputs, outputs=None, *args, **kwargs):
        if kwargs.get("mode") is None:
            kwargs["mode"] = _mode.default_mode(inputs, outputs, kwargs.get("updates"))
        return original(inputs, outputs, *args, **kwargs)

    function._theanets_default_mode = True
    pytensor.function = function


def torch_model(case):
    """``(module, loss function, optimizer)`` of ``case`` in PyTorch."""
    import torch

    c = CASES[case]
    nn = torch.nn
    if c["kind"] in ("autoencoder", "classifier"):
        s = c["sizes"]
        act = {"tanh": nn.Tanh, "relu": nn.ReLU}[c["activation"]]
        mods = []
        for i, (a, b) in enumerate(zip(s[:-1], s[1:], strict=True)):
            mods.append(nn.Linear(a, b))
            if i < len(s) - 2:
                mods.append(act())
        module = nn.Sequential(*mods)
        if c["kind"] == "autoencoder":

            def loss(out, x):
                return ((out - x) ** 2).mean()
        else:
            loss = nn.CrossEntropyLoss()
    elif c["kind"] in RECURRENT:
        s = c["sizes"]
        kind = c["kind"]

        class LSTMRegressor(nn.Module):
            def __init__(self):
                super().__init__()
                rnn = nn.GRU if kind == "gru" else nn.LSTM
                both = kind == "bilstm"
                self.lstm = rnn(s[0], s[1], batch_first=True, bidirectional=both)
                self.out = nn.Linear(s[1] * (2 if both else 1), s[2])

            def forward(self, x):
                return self.out(self.lstm(x)[0])

        module = LSTMRegressor()

        def loss(out, y):
            return ((out - y) ** 2).mean()
    elif c["kind"] == "char":
        width = 1 + len(char_text(case)[1])

        class CharModel(nn.Module):
            # carries (h, c) from one batch to the next, detached (truncated
            # back-propagation), from zeros at the start of each pass
            def __init__(self):
                super().__init__()
                self.lstm = nn.LSTM(width, c["size"], batch_first=True)
                self.out = nn.Linear(c["size"], width)
                self.state, self.calls = None, 0

            def forward(self, x):
                if self.calls % BATCHES == 0:
                    self.state = None
                self.calls += 1
                h, state = self.lstm(x, self.state)
                self.state = tuple(s.detach() for s in state)
                return self.out(h)

        module = CharModel()
        xent = nn.CrossEntropyLoss()

        def loss(out, y):
            return xent(out.reshape(-1, out.shape[-1]), y.reshape(-1))
    elif c["kind"] == "conv":
        w, h, ch = c["image"]
        fw, fh = c["filter_size"]
        flat = c["filters"] * ((w - fw + 1) // 2) * ((h - fh + 1) // 2)

        class ConvClassifier(nn.Module):
            # input (examples, channels, width, height): see torch_data
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv2d(ch, c["filters"], c["filter_size"])
                self.pool = nn.MaxPool2d(2)
                self.out = nn.Linear(flat, c["classes"])

            def forward(self, x):
                x = self.pool(torch.relu(self.conv(x)))
                return self.out(x.reshape(x.shape[0], -1))

        module = ConvClassifier()
        loss = nn.CrossEntropyLoss()
    else:
        raise ValueError("unknown case {!r}".format(case))
    if c["algo"] == "adam":
        opt = torch.optim.Adam(
            module.parameters(), lr=c["learning_rate"], betas=(BETA1, BETA2), eps=EPSILON
        )
    else:
        # theanets' RMSProp is Graves' centred variant
        opt = torch.optim.RMSprop(
            module.parameters(), lr=c["learning_rate"], alpha=RMS_EWMA, eps=EPSILON, centered=True
        )
    return module, loss, opt
