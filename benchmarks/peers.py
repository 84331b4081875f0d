"""The benchmark cases in the peers beside PyTorch: Keras 3 (JAX) and plain JAX.

``jax_step(case)`` is the hand-written bound: the model's equations (the
same as theanets', peepholes included for the LSTM) in ``jax.numpy``, the
recurrence a ``jax.lax.scan`` over the cell, the update ``optax`` (Adam or
centred RMSProp with the cases' constants), all in one ``jax.jit`` step that
donates its parameter and optimizer-state buffers. ``keras_step(case)``
builds the case with ``keras.layers`` on Keras' JAX backend and trains it
with ``train_on_batch``. Each returns ``step(x, y)``, which runs one update
and waits for its loss; the data come from :func:`cases.make_data`.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import cases
import numpy as np

Step = Callable[[np.ndarray, "np.ndarray | None"], float]


# -- hand-written JAX + optax ---------------------------------------------------


def _init(rng: np.random.RandomState, *shape: int) -> np.ndarray:
    return (rng.randn(*shape) / np.sqrt(shape[0])).astype("float32")


def _lstm_params(rng, m, n):
    return dict(
        xh=_init(rng, m, 4 * n),
        hh=_init(rng, n, 4 * n),
        b=np.zeros(4 * n, "float32"),
        ci=np.zeros(n, "float32"),
        cf=np.zeros(n, "float32"),
        co=np.zeros(n, "float32"),
    )


def _gru_params(rng, m, n):
    return dict(
        w=_init(rng, m, 3 * n),
        b=np.zeros(3 * n, "float32"),
        hh=_init(rng, n, n),
        hr=_init(rng, n, n),
        hz=_init(rng, n, n),
    )


def _lstm_seq(p, x, reverse=False, initial=None, final=False):
    """theanets' LSTM (with peepholes) over time-major ``x``: the outputs.

    ``initial``: the ``(h, c)`` to start from (zeros by default); with
    ``final``, return ``(outputs, (h, c) after the last step)``.
    """
    import jax
    import jax.numpy as jnp

    n = p["hh"].shape[0]
    xs = x @ p["xh"] + p["b"]
    zeros = jnp.zeros((x.shape[1], n), x.dtype)
    if initial is None:
        initial = (zeros, zeros)

    def cell(carry, z_x):
        h, c = carry
        z = z_x + h @ p["hh"]
        i = jax.nn.sigmoid(z[:, :n] + c * p["ci"])
        f = jax.nn.sigmoid(z[:, n : 2 * n] + c * p["cf"])
        c = f * c + i * jnp.tanh(z[:, 2 * n : 3 * n])
        o = jax.nn.sigmoid(z[:, 3 * n :] + c * p["co"])
        h = o * jnp.tanh(c)
        return (h, c), h

    last, hs = jax.lax.scan(cell, initial, xs, reverse=reverse)
    return (hs, last) if final else hs


def _gru_seq(p, x):
    """theanets' GRU over time-major ``x``: the outputs."""
    import jax
    import jax.numpy as jnp

    n = p["hh"].shape[0]
    xs = x @ p["w"] + p["b"]

    def cell(h, x_t):
        r = jax.nn.sigmoid(x_t[:, n : 2 * n] + h @ p["hr"])
        z = jax.nn.sigmoid(x_t[:, 2 * n :] + h @ p["hz"])
        hid = jnp.tanh(x_t[:, :n] + (r * h) @ p["hh"])
        h = (1 - z) * h + z * hid
        return h, h

    return jax.lax.scan(cell, jnp.zeros((x.shape[1], n), x.dtype), xs)[1]


def _jax_model(case: str, rng: np.random.RandomState):
    """``(params, forward, loss)`` of ``case`` in plain JAX."""
    import jax
    import jax.numpy as jnp

    c = cases.CASES[case]
    kind = c["kind"]
    if kind in ("autoencoder", "classifier"):
        s = c["sizes"]
        params = [
            dict(w=_init(rng, a, b), b=np.zeros(b, "float32"))
            for a, b in zip(s[:-1], s[1:], strict=True)
        ]
        act = {"tanh": jnp.tanh, "relu": jax.nn.relu}[c["activation"]]

        def forward(p, x):
            for i, layer in enumerate(p):
                x = x @ layer["w"] + layer["b"]
                if i < len(p) - 1:
                    x = act(x)
            return x

    elif kind in ("lstm", "gru", "bilstm"):
        m, n, k = c["sizes"]
        if kind == "lstm":
            params = dict(rnn=_lstm_params(rng, m, n))
            width = n
        elif kind == "gru":
            params = dict(rnn=_gru_params(rng, m, n))
            width = n
        else:
            params = dict(fw=_lstm_params(rng, m, n), bw=_lstm_params(rng, m, n))
            width = 2 * n
        params["out"] = dict(w=_init(rng, width, k), b=np.zeros(k, "float32"))

        def forward(p, x):
            x = jnp.swapaxes(x, 0, 1)
            if kind == "lstm":
                h = _lstm_seq(p["rnn"], x)
            elif kind == "gru":
                h = _gru_seq(p["rnn"], x)
            else:
                h = jnp.concatenate([_lstm_seq(p["fw"], x), _lstm_seq(p["bw"], x, True)], -1)
            return jnp.swapaxes(h @ p["out"]["w"] + p["out"]["b"], 0, 1)

    elif kind == "conv":
        w, h, ch = c["image"]
        fw, fh = c["filter_size"]
        flat = c["filters"] * ((w - fw + 1) // 2) * ((h - fh + 1) // 2)
        params = dict(
            k=_init(rng, fw * fh * ch, c["filters"]).reshape(fw, fh, ch, c["filters"]),
            kb=np.zeros(c["filters"], "float32"),
            w=_init(rng, flat, c["classes"]),
            b=np.zeros(c["classes"], "float32"),
        )

        def forward(p, x):
            y = jax.lax.conv_general_dilated(
                x, p["k"], (1, 1), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC")
            )
            y = jax.nn.relu(y + p["kb"])
            y = jax.lax.reduce_window(y, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
            return y.reshape(y.shape[0], -1) @ p["w"] + p["b"]

    else:
        raise ValueError("unknown case {!r}".format(case))

    if kind in ("classifier", "conv"):

        def loss(p, x, y):
            logits = forward(p, x)
            logp = jax.nn.log_softmax(logits)
            return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=1))

    elif kind == "autoencoder":

        def loss(p, x, y):
            return jnp.mean((forward(p, x) - x) ** 2)

    else:

        def loss(p, x, y):
            return jnp.mean((forward(p, x) - y) ** 2)

    return params, loss


def _jax_char_step(case: str) -> Step:
    """The character case in JAX + optax: the LSTM's state carried between
    steps (an input of the jitted step, not differentiated: truncated
    back-propagation), zeros again every ``cases.BATCHES`` steps."""
    import jax
    import jax.numpy as jnp
    import optax

    c = cases.CASES[case]
    width = 1 + len(cases.char_text(case)[1])
    rng = np.random.RandomState(0)
    n = c["size"]
    params = dict(
        rnn=_lstm_params(rng, width, n),
        out=dict(w=_init(rng, n, width), b=np.zeros(width, "float32")),
    )
    opt = optax.adam(c["learning_rate"], b1=cases.BETA1, b2=cases.BETA2, eps=cases.EPSILON)
    params = jax.tree_util.tree_map(jnp.asarray, params)

    def loss(p, state, x, y):
        h, state = _lstm_seq(p["rnn"], jnp.swapaxes(x, 0, 1), initial=state, final=True)
        logits = jnp.swapaxes(h @ p["out"]["w"] + p["out"]["b"], 0, 1)
        logp = jax.nn.log_softmax(logits)
        return -jnp.mean(jnp.take_along_axis(logp, y[..., None], axis=-1)), state

    def _update(p, s, state, x, y):
        (value, state), grads = jax.value_and_grad(loss, has_aux=True)(p, state, x, y)
        updates, s = opt.update(grads, s, p)
        return optax.apply_updates(p, updates), s, state, value

    update = jax.jit(_update, donate_argnums=(0, 1, 2))
    held = [params, opt.init(params), None, 0]

    def step(x, y):
        if held[3] % cases.BATCHES == 0:
            zeros = jnp.zeros((x.shape[0], n), jnp.float32)
            held[2] = (zeros, jnp.zeros_like(zeros))
        held[3] += 1
        held[0], held[1], held[2], value = update(held[0], held[1], held[2], x, y)
        return float(value)

    return step


def jax_step(case: str) -> Step:
    """One jitted training step of ``case`` in JAX + optax, donating its buffers."""
    import jax
    import optax

    c = cases.CASES[case]
    if c["kind"] == "char":
        return _jax_char_step(case)
    params, loss = _jax_model(case, np.random.RandomState(0))
    if c["algo"] == "adam":
        opt = optax.adam(c["learning_rate"], b1=cases.BETA1, b2=cases.BETA2, eps=cases.EPSILON)
    else:
        opt = optax.rmsprop(
            c["learning_rate"], decay=cases.RMS_EWMA, eps=cases.EPSILON, centered=True
        )
    params = jax.tree_util.tree_map(jax.numpy.asarray, params)
    state = [params, opt.init(params)]

    def _update(p, s, x, y):
        value, grads = jax.value_and_grad(loss)(p, x, y)
        updates, s = opt.update(grads, s, p)
        return optax.apply_updates(p, updates), s, value

    update = jax.jit(_update, donate_argnums=(0, 1))

    def step(x, y):
        state[0], state[1], value = update(state[0], state[1], x, x if y is None else y)
        return float(value)

    return step


# -- Keras 3 on JAX ---------------------------------------------------------------


def keras_step(case: str) -> Step:
    """One ``train_on_batch`` of ``case`` in Keras 3 on its JAX backend."""
    os.environ.setdefault("KERAS_BACKEND", "jax")
    import keras

    if keras.backend.backend() != "jax":
        raise RuntimeError("Keras runs on {}, not jax".format(keras.backend.backend()))
    c = cases.CASES[case]
    kind = c["kind"]
    L = keras.layers
    if kind in ("autoencoder", "classifier"):
        s = c["sizes"]
        layers = [keras.Input((s[0],))]
        layers += [L.Dense(n, activation=c["activation"]) for n in s[1:-1]]
        layers.append(L.Dense(s[-1]))
    elif kind in ("lstm", "gru", "bilstm"):
        m, n, k = c["sizes"]
        rnn = {
            "lstm": lambda: L.LSTM(n, return_sequences=True),
            "gru": lambda: L.GRU(n, return_sequences=True),
            "bilstm": lambda: L.Bidirectional(L.LSTM(n, return_sequences=True)),
        }[kind]
        layers = [keras.Input((c["steps"], m)), rnn(), L.Dense(k)]
    elif kind == "char":
        # a stateful LSTM, reset every cases.BATCHES steps. NB: Keras 3.15 on
        # JAX does not carry it through train_on_batch: the state variables
        # are not among the model's non_trainable_variables, so the
        # stateless train step drops their new values and every step starts
        # from zeros (only an eager model(x) updates them). Keras' figure
        # is for that step; carrying the state would add no arithmetic.
        width = 1 + len(cases.char_text(case)[1])
        layers = [
            keras.Input(batch_shape=(c["batch"], c["steps"], width)),
            L.LSTM(c["size"], return_sequences=True, stateful=True),
            L.Dense(width),
        ]
    elif kind == "conv":
        layers = [
            keras.Input(c["image"]),
            L.Conv2D(c["filters"], c["filter_size"], activation="relu"),
            L.MaxPooling2D(2),
            L.Flatten(),
            L.Dense(c["classes"]),
        ]
    else:
        raise ValueError("unknown case {!r}".format(case))
    model = keras.Sequential(layers)
    if c["algo"] == "adam":
        opt = keras.optimizers.Adam(
            c["learning_rate"], beta_1=cases.BETA1, beta_2=cases.BETA2, epsilon=cases.EPSILON
        )
    else:
        opt = keras.optimizers.RMSprop(
            c["learning_rate"], rho=cases.RMS_EWMA, epsilon=cases.EPSILON, centered=True
        )
    if kind in ("classifier", "conv", "char"):
        lossname = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    else:
        lossname = "mse"
    model.compile(optimizer=opt, loss=lossname, jit_compile=True)
    calls = [0]

    def step(x, y):
        if kind == "char":
            if calls[0] % cases.BATCHES == 0:
                model.layers[0].reset_state()
            calls[0] += 1
        return float(model.train_on_batch(x, x if y is None else y))

    return step
