"""Tests of the training loop's event protocol (theanets.downhill.events) and
of its listeners: early stopping, the display, the history and checkpoints,
each through a real training run of a tiny model."""

import io
import logging
import os
import sys

import numpy as np
import pytensor
import pytensor.tensor as TT
import pytest

import theanets
from theanets import _mode, downhill, feedback, trainer, util
from theanets.downhill import Dataset, events

FLOAT = pytensor.config.floatX


def quadratic(start=(3.0, -2.0)):
    """Loss sum((x - 1)**2) of a shared x: no data needed."""
    x = pytensor.shared(np.array(start, dtype=FLOAT), name="x")
    return x, downhill.build("sgd", TT.sqr(x - 1).sum())


def target_problem():
    """Loss sum((x - t)**2) with an input t: training and validation can disagree."""
    t = TT.vector("t")
    x = pytensor.shared(np.zeros(2, dtype=FLOAT), name="x")
    opt = downhill.build("sgd", TT.sqr(x - t).sum(), params=[x], inputs=[t])
    train = Dataset([np.ones(2, FLOAT)], batch_size=0)  # pulls x to 1
    valid = Dataset([np.full(2, 0.5, FLOAT)], batch_size=0)  # best at 0.5
    return x, opt, train, valid


class Notes(events.Listener):
    """Writes down every event; may ask to stop at a given one."""

    def __init__(self, stop_at=None, reason="enough"):
        self.heard = []
        self.stop_at = stop_at
        self.reason = reason

    def _note(self, *event):
        self.heard.append(event)
        return self.reason if event == self.stop_at else None

    def compile_started(self, optimizer, detail=""):
        self._note("compile_started", type(optimizer).__name__, detail)

    def compile_finished(self, optimizer):
        self._note("compile_finished", type(optimizer).__name__)

    def validation(self, count, monitors):
        return self._note("validation", count)

    def update(self, count, monitors):
        return self._note("update", count)

    def resumed(self, count):
        return self._note("resumed", count)

    def end(self, reason):
        self._note("end", reason)


def _names(heard):
    return [event[0] for event in heard]


# ----- the order of the events -----------------------------------------------------


def test_a_listener_hears_every_event_in_order():
    x, opt = quadratic()
    notes = Notes()
    pairs = list(opt.iterate(None, max_updates=4, validate_every=2, listeners=[notes]))
    assert len(pairs) == 4
    detail = _mode.choose().describe()  # the mode this run compiles with, and why
    assert notes.heard == [
        ("compile_started", "SGD", detail),
        ("validation", 0),
        ("compile_finished", "SGD"),
        ("update", 1),
        ("resumed", 1),
        ("update", 2),
        ("resumed", 2),
        ("validation", 2),
        ("update", 3),
        ("resumed", 3),
        ("update", 4),
        ("resumed", 4),
        ("end", "max_updates"),
    ]


def test_events_carry_the_monitors_that_are_yielded():
    x, opt = quadratic()
    seen = {"validation": [], "update": []}

    class Keep(events.Listener):
        def validation(self, count, monitors):
            seen["validation"].append(monitors)

        def update(self, count, monitors):
            seen["update"].append(monitors)

    pairs = list(opt.iterate(None, max_updates=3, validate_every=2, listeners=[Keep()]))
    assert [t for t, _ in pairs] == seen["update"]
    assert all(a is b for (a, _), b in zip(pairs, seen["update"], strict=True))
    assert pairs[0][1] is seen["validation"][0] and pairs[2][1] is seen["validation"][1]


def test_no_compile_events_when_nothing_is_compiled():
    x, opt = quadratic()
    list(opt.iterate(None, max_updates=1, learning_rate=0.1))
    notes = Notes()
    list(opt.iterate(None, max_updates=2, learning_rate=0.2, listeners=[notes]))
    assert "compile_started" not in _names(notes.heard)
    assert "compile_finished" not in _names(notes.heard)
    # A hyper-parameter compiled into the step compiles again.
    notes = Notes()
    list(opt.iterate(None, max_updates=1, momentum=0.5, listeners=[notes]))
    assert _names(notes.heard)[:3] == ["compile_started", "validation", "compile_finished"]


def test_end_reasons():
    # patience: the validation that elapsed it is heard, and nothing after it
    x, opt = quadratic()
    notes = Notes()
    pairs = list(
        opt.iterate(None, learning_rate=0, patience=2, validate_every=1, listeners=[notes])
    )
    assert len(pairs) == 3
    assert notes.heard[-2:] == [("validation", 3), ("end", "patience")]
    # diverged: no validation or update of the non-finite step is heard
    x, opt = quadratic()
    notes = Notes()
    with pytest.warns(RuntimeWarning, match="training diverged"):
        pairs = list(opt.iterate(None, learning_rate=1e3, patience=1000, listeners=[notes]))
    assert notes.heard[-1] == ("end", "diverged")
    assert notes.heard[-2] == ("resumed", len(pairs))
    # an error in the data: heard as 'error', then it propagates
    calls = []

    def batches():
        calls.append(1)
        if len(calls) == 3:
            raise ValueError("bad batch")
        return [np.ones(2, FLOAT)]

    x, opt, _, valid = target_problem()
    notes = Notes()
    with pytest.raises(ValueError, match="bad batch"):
        list(opt.iterate(Dataset(batches, iteration_size=1), valid, listeners=[notes]))
    assert notes.heard[-1] == ("end", "error")


def test_a_closed_generator_ends_closed_and_keeps_the_parameters():
    x, opt = quadratic()
    notes = Notes()
    gen = opt.iterate(None, learning_rate=0.1, listeners=[notes])
    next(gen)
    next(gen)
    gen.close()
    assert notes.heard[-2:] == [("update", 2), ("end", "closed")]
    np.testing.assert_allclose(x.get_value(), 1 + np.array([2, -3]) * 0.8**2, rtol=1e-6)


def test_ctrl_c_ends_interrupted():
    import signal

    x, opt = quadratic()
    notes = Notes()
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        for train, _ in opt.iterate(
            None, learning_rate=0.1, validate_every=1, max_updates=50, listeners=[notes]
        ):
            if len(notes.heard) > 6:
                signal.raise_signal(signal.SIGINT)
    finally:
        signal.signal(signal.SIGINT, before)
    assert notes.heard[-1] == ("end", "interrupted")
    assert _names(notes.heard).count("update") < 50


# ----- stopping through the protocol ----------------------------------------------


def test_early_stopping_is_the_optimizers_first_listener():
    x, opt, train, valid = target_problem()
    order = []

    class Second(events.Listener):
        def validation(self, count, monitors):
            # the early stopping heard this validation first: its best is updated
            order.append((count, opt.early_stopping.best_update))

    pairs = list(
        opt.iterate(
            train, valid, learning_rate=0.05, validate_every=1, patience=3, listeners=[Second()]
        )
    )
    stopper = opt.early_stopping
    assert isinstance(stopper, events.EarlyStopping)
    losses = [v["loss"] for _, v in pairs]
    best = int(np.argmin(losses))
    assert stopper.best_update == best and stopper.best_loss == losses[best]
    assert order[best] == (best, best)
    np.testing.assert_allclose(x.get_value(), stopper.best_params[0])
    assert len(pairs) == best + 4  # patience 3, then the check before stepping


def test_a_listener_stops_the_loop_at_a_validation():
    x, opt, train, valid = target_problem()
    notes = Notes(stop_at=("validation", 4), reason="good enough")
    pairs = list(opt.iterate(train, valid, learning_rate=0.05, validate_every=2, listeners=[notes]))
    assert len(pairs) == 4  # stopped before the 5th step
    assert notes.heard[-2:] == [("validation", 4), ("end", "good enough")]
    # a normal end: the parameters of the best validation (the last) are restored
    assert opt.early_stopping.best_update == 4
    np.testing.assert_allclose(x.get_value(), opt.early_stopping.best_params[0])


def test_a_listener_stops_the_loop_after_an_update():
    x, opt, train, valid = target_problem()
    notes = Notes(stop_at=("update", 3))
    pairs = list(opt.iterate(train, valid, learning_rate=0.05, validate_every=1, listeners=[notes]))
    assert len(pairs) == 3  # the update that asked is yielded, then the loop ends
    assert notes.heard[-3:] == [("update", 3), ("resumed", 3), ("end", "enough")]
    # the parameters after update 3 were never validated: those after 2 are restored
    np.testing.assert_allclose(x.get_value(), opt.early_stopping.best_params[0])
    assert opt.early_stopping.best_update == 2


def test_every_listener_hears_an_event_after_one_asked_to_stop():
    x, opt = quadratic()
    first, second = Notes(stop_at=("validation", 0), reason=True), Notes()
    assert list(opt.iterate(None, listeners=[first, second])) == []
    assert second.heard[-2:] == [("validation", 0), ("end", "Notes")]


def test_early_stopping_state_lasts_until_reset():
    x, opt, train, valid = target_problem()
    list(opt.iterate(train, valid, learning_rate=0.05, validate_every=1, patience=3))
    best = opt.early_stopping.best_loss
    # a second loop keeps the best of the first, as the original's did
    list(opt.iterate(train, valid, learning_rate=0.05, validate_every=1, max_updates=1))
    assert opt.early_stopping.best_loss == best
    opt.reset_early_stopping()
    assert opt.early_stopping.best_loss == 1e100
    np.testing.assert_allclose(opt.early_stopping.best_params[0], x.get_value())


# ----- no listeners, bad listeners -------------------------------------------------


def test_iterate_without_listeners_shows_and_records_nothing(rng, caplog, monkeypatch):
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    caplog.set_level(logging.INFO, logger="theanets")
    net = theanets.Regressor([3, 4, 2])
    x = rng.randn(20, 3).astype("float32")
    kwargs = dict(learning_rate=0.01, max_updates=3, validate_every=1)
    opt = trainer.optimizer_for(net, "sgd", kwargs)
    pairs = list(opt.iterate(Dataset([x, x[:, :2]], batch_size=10), listeners=[], **kwargs))
    assert len(pairs) == 3
    assert not hasattr(net, "history")
    assert [r for r in caplog.records if r.name == "theanets.feedback"] == []
    assert sys.stderr.getvalue() == ""
    # the loop's own log lines are still there
    assert any(r.getMessage().startswith("SGD 3 loss=") for r in caplog.records)


@pytest.mark.parametrize(
    "listeners, message",
    [
        (events.Listener(), r"listeners must be a list of Listener objects, not a Listener"),
        ("display", r"not a str"),
        ([object()], r"listeners: <object object at .*> has no method compile_started, "),
    ],
)
def test_bad_listeners_are_refused(listeners, message):
    x, opt = quadratic()
    with pytest.raises(util.ConfigurationError, match=message):
        next(opt.iterate(None, listeners=listeners))


def test_minimize_passes_listeners_on():
    x, opt = quadratic()
    notes = Notes()
    downhill.minimize(opt._loss, None, algo="sgd", max_updates=2, listeners=[notes])
    assert _names(notes.heard).count("update") == 2 and notes.heard[-1] == ("end", "max_updates")


# ----- the relay: one end for several stages ---------------------------------------


def test_relay_passes_everything_on_but_holds_the_stages_ends():
    notes = Notes()
    relay = events.Relay([notes])
    for _ in range(2):
        x, opt = quadratic()
        list(opt.iterate(None, max_updates=1, listeners=[relay]))
    assert _names(notes.heard).count("compile_started") == 2
    assert "end" not in _names(notes.heard)
    relay.finish()
    relay.finish("error")  # once only
    assert notes.heard[-1] == ("end", "max_updates")
    assert _names(notes.heard).count("end") == 1


# ----- the listeners of model.train -----------------------------------------------


def _data(rng, n=40):
    x = rng.randn(n, 3).astype("float32")
    return x, (x[:, :2] * 2).astype("float32")


def test_display_says_why_it_compiles(caplog):
    caplog.set_level(logging.INFO, logger="theanets")
    shown = feedback.Progress(True)
    shown.mode = "lines"
    shown.compile_started(None, "JAX")
    shown.compile_finished(None)
    shown.compile_started(None)
    messages = [r.getMessage() for r in caplog.records if r.name == "theanets.feedback"]
    assert messages[0] == "compiling the training function (JAX)..."
    assert messages[1].startswith("compiled in ")
    assert messages[2] == "compiling the training function..."


def test_display_through_a_training_run(rng, caplog, monkeypatch):
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    caplog.set_level(logging.INFO, logger="theanets")
    x, y = _data(rng)
    net = theanets.Regressor([3, 4, 2])
    # patience 0 with a learning rate of 0: stopped at the second validation
    net.train([x, y], algo="sgd", learning_rate=0, validate_every=2, patience=0)
    messages = [r.getMessage() for r in caplog.records if r.name == "theanets.feedback"]
    assert messages[0].startswith("compiling the training function (")
    assert messages[1].startswith("compiled in ")
    assert [m.split()[:2] for m in messages[2:-1]] == [["update", "1"]]
    assert messages[-1].startswith("trained 2 updates in ")
    assert messages[-1].endswith(
        "best validation loss {:.4g} after 0 updates".format(net.history["valid"]["loss"][0])
    )


def test_history_records_each_update_and_validation(rng):
    x, y = _data(rng)
    net = theanets.Regressor([3, 4, 2])
    pairs = list(net.itertrain([x, y], algo="sgd", learning_rate=0, validate_every=2, patience=1))
    hist = net.history
    assert hist["train"]["update"] == [1, 2, 3, 4]
    assert hist["train"]["loss"] == [t["loss"] for t, _ in pairs]
    # every validation, also the one that ended training (patience)
    assert hist["valid"]["update"] == [0, 2, 4]
    assert hist["valid"]["loss"][:2] == [pairs[0][1]["loss"], pairs[2][1]["loss"]]
    assert sorted(hist["valid"]) == ["err", "loss", "update"]


def test_history_of_a_trainer_that_takes_no_listeners(rng, caplog, monkeypatch):
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    caplog.set_level(logging.INFO, logger="theanets")

    class Mine:
        def itertrain(self, train, valid=None, **kwargs):
            assert "listeners" not in kwargs and "progress" not in kwargs
            valid0 = dict(loss=3.0)
            yield dict(loss=2.0), valid0
            yield dict(loss=1.0), valid0
            yield dict(loss=0.5), dict(loss=0.25)

    x, y = _data(rng)
    net = theanets.Regressor([3, 4, 2])
    assert net.train([x, y], algo=Mine())[0] == dict(loss=0.5)
    assert net.history["train"] == dict(update=[1, 2, 3], loss=[2.0, 1.0, 0.5])
    assert net.history["valid"] == dict(update=[0, 2], loss=[3.0, 0.25])
    messages = [r.getMessage() for r in caplog.records if r.name == "theanets.feedback"]
    assert [m.split()[:2] for m in messages[:-1]] == [["update", "1"], ["update", "3"]]
    assert messages[-1].startswith("trained 3 updates")


class _Clock:
    def __init__(self, now=1000.0):
        self.now = now

    def time(self):
        return self.now


def test_checkpoints_written_when_the_consumer_resumes(rng, tmp_path, monkeypatch):
    clock = _Clock()
    monkeypatch.setattr(trainer, "time", clock)
    x, y = _data(rng)
    net = theanets.Regressor([3, 4, 2])
    seen = []
    for _ in net.itertrain(
        [x, y],
        algo="sgd",
        learning_rate=0.01,
        max_updates=5,
        validate_every=1,
        save_every=2,
        save_progress=str(tmp_path / "m{}.pkl"),
    ):
        seen.append(sorted(os.listdir(tmp_path)))
        clock.now += 1
    # saved when the consumer came back for the 4th and the 6th update (none comes)
    assert seen == [[], [], [], ["m1003.pkl"], ["m1003.pkl"]]
    assert sorted(os.listdir(tmp_path)) == ["m1003.pkl", "m1005.pkl"]


def test_checkpoint_at_the_end_once_for_all_stages(rng, tmp_path, monkeypatch):
    x, y = _data(rng)
    net = theanets.Regressor([3, 4, 4, 2])  # layerwise: two stages
    saves = []
    real = type(net).save

    def save(self, target, *args, **kwargs):
        saves.append([layer.name for layer in self.layers])
        return real(self, target, *args, **kwargs)

    monkeypatch.setattr(type(net), "save", save)
    path = tmp_path / "end.pkl"
    net.train([x, y], algo="layerwise", max_updates=2, validate_every=1, save_progress=path)
    assert saves == [["in", "hid1", "hid2", "out"]]  # the whole model, after the last stage
    assert os.listdir(tmp_path) == ["end.pkl"]
    assert [layer.name for layer in theanets.Regressor.load(str(path)).layers] == [
        "in",
        "hid1",
        "hid2",
        "out",
    ]


def test_no_checkpoint_at_the_end_when_the_consumer_stops(rng, tmp_path):
    x, y = _data(rng)
    net = theanets.Regressor([3, 4, 2])
    for i, _ in enumerate(net.itertrain([x, y], max_updates=5, save_progress=tmp_path / "a.pkl")):
        if i == 1:
            break
    assert os.listdir(tmp_path) == []
    net.train([x, y], max_updates=2, save_progress=tmp_path / "b.pkl")
    assert os.listdir(tmp_path) == ["b.pkl"]


def test_checkpointer_as_a_listener_of_a_plain_loop(rng, tmp_path):
    x, y = _data(rng)
    net = theanets.Regressor([3, 4, 2])
    kwargs = dict(learning_rate=0.01, max_updates=4, validate_every=1)
    opt = trainer.optimizer_for(net, "sgd", kwargs)
    saver = trainer.Checkpointer(net, 0, str(tmp_path / "final.pkl"))
    list(opt.iterate(Dataset([x, y], batch_size=20), listeners=[saver], **kwargs))
    assert os.listdir(tmp_path) == ["final.pkl"]
    loaded = theanets.Regressor.load(str(tmp_path / "final.pkl"))
    for a, b in zip(loaded.params, net.params, strict=True):
        np.testing.assert_array_equal(a.get_value(), b.get_value())


# ----- a user's listeners through train ------------------------------------------


def test_train_takes_user_listeners(rng):
    x, y = _data(rng)
    net = theanets.Regressor([3, 4, 2], rng=1)
    notes = Notes()
    net.train([x, y], max_updates=3, validate_every=2, progress=False, listeners=[notes])
    names = _names(notes.heard)
    assert names[0] == "compile_started" and names[-1] == "end"
    assert names.count("update") == 3 and names.count("end") == 1
    assert notes.heard[-1] == ("end", "max_updates")
    assert [e for e in notes.heard if e[0] == "validation"] == [
        ("validation", 0),
        ("validation", 2),
    ]


def test_a_user_listener_stops_training_and_the_best_parameters_are_kept(rng):
    x, y = _data(rng)
    net = theanets.Regressor([3, 4, 2], rng=1)

    class Snapshots(Notes):
        """Keeps the parameters and loss of each validation."""

        def validation(self, count, monitors):
            self.kept.append((monitors["loss"], [p.get_value().copy() for p in net.params]))
            return super().validation(count, monitors)

    notes = Snapshots(stop_at=("update", 3), reason="enough")
    notes.kept = []
    kwargs = dict(max_updates=50, validate_every=1, learning_rate=0.5, progress=False)
    updates = list(net.itertrain([x, y], listeners=[notes], **kwargs))
    assert len(updates) == 3 and len(notes.kept) == 3  # before updates 1, 2, 3
    assert notes.heard[-1] == ("end", "enough")
    _, best = min(notes.kept, key=lambda kept: kept[0])
    for p, value in zip(net.params, best, strict=True):
        np.testing.assert_array_equal(p.get_value(), value)


def test_user_listeners_hear_every_stage_and_one_end(rng):
    x, y = _data(rng)
    net = theanets.Regressor([3, 4, 4, 2], rng=1)
    notes = Notes()
    kwargs = dict(algo="layerwise", max_updates=2, validate_every=1, progress=False)
    net.train([x, y], listeners=[notes], **kwargs)
    names = _names(notes.heard)
    # one loop per stage (the first hidden layer, then the whole model), one end
    assert names.count("compile_started") == 2
    assert names.count("end") == 1 and names[-1] == "end"


@pytest.mark.parametrize(
    "listeners, message",
    [
        (Notes(), r"listeners must be a list of Listener objects, not a Notes"),
        ([print], r"listeners: <built-in function print> has no method compile_started"),
    ],
)
def test_bad_user_listeners_are_refused_before_anything_trains(rng, listeners, message):
    x, y = _data(rng)
    net = theanets.Regressor([3, 4, 2], rng=1)
    before = [p.get_value().copy() for p in net.params]
    with pytest.raises(util.ConfigurationError, match=message):
        net.train([x, y], max_updates=2, progress=False, listeners=listeners)
    for p, value in zip(net.params, before, strict=True):
        np.testing.assert_array_equal(p.get_value(), value)
