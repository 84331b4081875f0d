"""Tests of theanets.feedback (training progress, history), the console of
theanets.util.log/say, and theanets.plot.

What a plain script prints is checked in subprocesses, with and without a
terminal (a pseudo-terminal from the pty module), since it depends on
whether the program configured logging and on what stderr is.
"""

import contextlib
import fcntl
import importlib
import io
import logging
import math
import os
import pathlib
import pty
import re
import struct
import subprocess
import sys
import termios

import numpy as np
import pytest

import theanets
from theanets import feedback, util

ROOT = pathlib.Path(__file__).resolve().parent.parent

STAMP = r"\d{8} \d{6} theanets "


def _plain(text):
    """``text`` without terminal colour codes."""
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


class Terminal(io.StringIO):
    """A stderr that says it is a terminal."""

    def isatty(self):
        return True


def _data(rng, n=40):
    x = rng.randn(n, 3).astype("float32")
    return x, (x[:, :2] * 2).astype("float32")


def _train(net, x, y, **kwargs):
    kwargs.setdefault("max_updates", 7)
    kwargs.setdefault("validate_every", 3)
    return net.train([x, y], algo="sgd", learning_rate=0.01, **kwargs)


# ----- history -----------------------------------------------------------------


def test_history_accumulates_over_train_calls(rng):
    x, y = _data(rng)
    net = theanets.Regressor([3, 4, 2])
    result = _train(net, x, y)
    hist = feedback.history(net)
    assert hist is net.history
    assert hist["train"]["update"] == list(range(1, 8))
    assert hist["valid"]["update"] == [0, 3, 6]
    assert result[0]["loss"] == hist["train"]["loss"][-1]
    assert result[1]["loss"] == hist["valid"]["loss"][-1]
    # A second call appends, counting updates on; a monitor it adds is NaN before.
    _train(net, x, y, max_updates=4, monitors={"hid1:out": 0.5})
    assert hist["train"]["update"] == list(range(1, 12))
    assert hist["valid"]["update"] == [0, 3, 6, 7, 10]
    column = hist["train"]["hid1:out<0.5"]
    assert len(column) == 11 and all(math.isnan(v) for v in column[:7])
    assert all(0 <= v <= 1 for v in column[7:])
    assert all(len(c) == 11 for c in hist["train"].values())
    assert all(len(c) == 5 for c in hist["valid"].values())


def test_history_is_recorded_by_itertrain_without_progress(rng):
    x, y = _data(rng)
    net = theanets.Regressor([3, 4, 2])
    losses = [
        t["loss"] for t, _ in net.itertrain([x, y], algo="sgd", max_updates=3, progress=False)
    ]
    assert net.history["train"]["loss"] == losses


def test_bad_progress_value(rng):
    x, y = _data(rng)
    with pytest.raises(
        util.ConfigurationError, match=r"train: progress must be None, True or False, not 'yes'"
    ):
        _train(theanets.Regressor([3, 4, 2]), x, y, progress="yes")


def test_the_display_marks_the_validations_that_early_stopping_keeps(rng, caplog, monkeypatch):
    # with min_improvement, a lower loss that does not improve enough is not
    # the best one (its parameters are not kept): it is not marked either
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    x, y = _data(rng)
    caplog.set_level(logging.INFO, logger="theanets")
    net = theanets.Regressor([3, 4, 2], rng=1)
    _train(net, x, y, max_updates=9, validate_every=1, min_improvement=0.5)
    lines = [m for m in _feedback_messages(caplog) if m.startswith("update")]
    losses = [float(re.search(r"valid loss=(\S+)", m).group(1)) for m in lines]
    marked = [m.endswith(" *") for m in lines]
    best, expect = None, []
    for loss in losses:
        better = best is None or best - loss > best * 0.5
        expect.append(better)
        best = loss if better else best
    assert marked == expect and marked[0] and not all(marked)
    assert any(b < a for a, b in zip(losses, losses[1:], strict=False))  # lower, unmarked


# ----- progress lines through logging -------------------------------------------


def _feedback_messages(caplog):
    return [r.getMessage() for r in caplog.records if r.name == "theanets.feedback"]


def test_one_line_per_validation_when_logging_is_configured(rng, caplog, monkeypatch):
    # Under pytest the root logger has handlers: the lines go through logging.
    monkeypatch.setattr(sys, "stderr", io.StringIO())  # not a terminal, even with -s
    x, y = _data(rng)
    caplog.set_level(logging.INFO, logger="theanets")
    _train(theanets.Regressor([3, 4, 2]), x, y)
    messages = _feedback_messages(caplog)
    assert messages[0].startswith("compiling the training function (")
    assert re.fullmatch(r"compiled in \d+\.\d s", messages[1])
    lines = messages[2:-1]
    assert [m.split()[:2] for m in lines] == [["update", "1"], ["update", "4"], ["update", "7"]]
    assert all(re.search(r"train loss=\S+ err=\S+ \| valid loss=\S+ err=\S+", m) for m in lines)
    assert lines[0].endswith(" *")  # the first validation is the best so far
    assert re.fullmatch(
        r"trained 7 updates in \d+\.\d s; best validation loss \S+ after "
        r"\d updates",
        messages[-1],
    )


def test_no_summary_when_the_consumer_stops(rng, caplog, monkeypatch):
    monkeypatch.setattr(sys, "stderr", Terminal())
    x, y = _data(rng)
    caplog.set_level(logging.INFO, logger="theanets")
    net = theanets.Regressor([3, 4, 2])
    for i, _ in enumerate(net.itertrain([x, y], algo="sgd", max_updates=10)):
        if i == 2:
            break
    messages = _feedback_messages(caplog)
    assert messages[0].startswith("compiling the training function (")
    assert not any(m.startswith("trained") for m in messages)
    assert "3/10" in sys.stderr.getvalue()  # the bar was drawn and closed at 3 updates
    assert len(net.history["train"]["loss"]) == 3


@pytest.mark.parametrize("silence", ["progress", "level"])
def test_silenced(rng, caplog, silence):
    x, y = _data(rng)
    if silence == "progress":
        caplog.set_level(logging.INFO, logger="theanets")
        _train(theanets.Regressor([3, 4, 2]), x, y, progress=False)
    else:
        caplog.set_level(logging.WARNING, logger="theanets")
        _train(theanets.Regressor([3, 4, 2]), x, y)
    assert _feedback_messages(caplog) == []


def test_layerwise_stages_each_compile(rng, caplog, monkeypatch):
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    x, y = _data(rng)
    caplog.set_level(logging.INFO, logger="theanets")
    net = theanets.Regressor([3, 4, 4, 2])  # two stages: [in, hid1, lwout], then all
    net.train([x, y], algo="layerwise", max_updates=2, validate_every=1)
    messages = _feedback_messages(caplog)
    assert sum(m.startswith("compiling the training function") for m in messages) == 2
    assert messages[-1].startswith("trained 4 updates")


# ----- the console of a plain script -----------------------------------------------


@contextlib.contextmanager
def unconfigured():
    """Logging as in a plain script: no handler anywhere, no level set.

    (A context, not a fixture: pytest adds its handlers to the root logger
    again when the test itself starts.)
    """
    loggers = [logging.root, logging.getLogger("theanets"), logging.getLogger("theanets.feedback")]
    saved = [(logger, logger.handlers, logger.level) for logger in loggers]
    try:
        for logger in loggers:
            logger.handlers = []
            if logger is not logging.root:
                logger.setLevel(logging.NOTSET)
        yield
    finally:
        for logger, handlers, level in saved:
            logger.handlers = handlers
            logger.setLevel(level)


def test_log_prints_a_timestamped_line(capsys):
    with unconfigured():
        theanets.log("{} layers and {name}", 3, name="a loss")
    captured = capsys.readouterr()
    assert captured.out == ""
    assert re.fullmatch(STAMP + r"3 layers and a loss\n", captured.err)


def test_library_messages_are_not_printed(capsys):
    with unconfigured():
        theanets.Regressor([3, (4, "prelu"), 2]).layers[1].log_params()  # util.log in theanets
    assert capsys.readouterr().err == ""


def test_level_on_the_theanets_logger_silences_the_console(capsys):
    with unconfigured():
        logging.getLogger("theanets").setLevel(logging.WARNING)
        theanets.log("quiet")
        util.say("theanets.feedback", "quiet too")
        util.say("theanets.feedback", "a warning", level=logging.WARNING)
    err = capsys.readouterr().err
    assert "quiet" not in err
    assert re.fullmatch(STAMP + r"a warning\n", err)


def test_a_configured_handler_gets_each_line_once(capsys):
    stream = io.StringIO()
    with unconfigured():
        logger = logging.getLogger("theanets")
        logger.addHandler(logging.StreamHandler(stream))
        logger.setLevel(logging.INFO)
        theanets.log("once")
    assert stream.getvalue() == "once\n"
    assert capsys.readouterr().err == ""


def test_a_log_record_names_the_scripts_line(caplog):
    caplog.set_level(logging.INFO, logger="theanets")
    theanets.log("where")
    record = [r for r in caplog.records if r.getMessage() == "where"][-1]
    assert (record.name, record.filename, record.funcName) == (
        "theanets",
        "test_feedback.py",
        "test_a_log_record_names_the_scripts_line",
    )


def test_progress_bar_on_a_terminal(monkeypatch, rng):
    screen = Terminal()
    monkeypatch.setattr(sys, "stderr", screen)
    x, y = _data(rng)
    with unconfigured():
        _train(theanets.Regressor([3, 4, 2]), x, y)
    text = _plain(screen.getvalue())
    assert re.search(STAMP + r"compiling the training function \(.+\)\.\.\.", text)
    assert "7/7" in text and "best=" in text
    assert "train loss=" not in text  # the bar replaces the per-validation lines
    assert re.search(STAMP + "trained 7 updates", text)


# ----- plain scripts, in a subprocess ------------------------------------------------

SCRIPT = """
import logging, sys
import numpy as np
import theanets
mode = sys.argv[1]
if mode == 'basicConfig':
    logging.basicConfig(level=logging.INFO, format='LOG %(name)s %(message)s')
if mode == 'warning':
    logging.getLogger('theanets').setLevel(logging.WARNING)
x = np.random.RandomState(0).randn(40, 3).astype('float32')
net = theanets.Regressor([3, 4, 2])
theanets.log('hello {}', 'world')
result = net.train([x, x[:, :2]], algo='sgd', learning_rate=0.01, max_updates=12,
                   validate_every=5, progress=False if mode == 'off' else None)
print('result', sorted(result[0]), len(net.history['train']['loss']))
"""


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("PYTENSOR_FLAGS", "floatX=float32,mode=FAST_COMPILE")
    return env


def _start(script, mode):
    return subprocess.Popen(
        [sys.executable, str(script), mode],
        env=_env(),
        cwd=str(ROOT),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _start_in_terminal(script):
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, str(script), "terminal"],
        env=_env(),
        cwd=str(ROOT),
        stdin=slave,
        stdout=slave,
        stderr=slave,
    )
    os.close(slave)
    return proc, master


def _read_all(fd):
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the other side is closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks).decode("utf-8", "replace")


def test_what_a_plain_script_prints(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    procs = {mode: _start(script, mode) for mode in ("plain", "off", "warning", "basicConfig")}
    terminal, master = _start_in_terminal(script)
    screen = _plain(_read_all(master))
    assert terminal.wait(timeout=300) == 0, screen
    outputs = {}
    for mode, proc in procs.items():
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        assert out == "result ['err', 'loss'] 12\n"
        outputs[mode] = err.splitlines()

    # No terminal: timestamped lines, one per validation (before updates 1, 6, 11).
    plain = outputs["plain"]
    assert re.fullmatch(STAMP + "hello world", plain[0])
    assert re.fullmatch(STAMP + r"compiling the training function \(.+\)\.\.\.", plain[1])
    assert re.fullmatch(STAMP + r"compiled in \d+\.\d s", plain[2])
    assert [line.split()[3:5] for line in plain[3:6]] == [
        ["update", "1"],
        ["update", "6"],
        ["update", "11"],
    ]
    assert re.fullmatch(STAMP + r"trained 12 updates in .*", plain[6])
    assert len(plain) == 7, plain

    # progress=False: only the script's own message; a level: nothing at all.
    assert len(outputs["off"]) == 1 and outputs["off"][0].endswith("hello world")
    assert outputs["warning"] == []

    # Logging configured by the script: its format, each line once.
    configured = [line for line in outputs["basicConfig"] if line.startswith("LOG theanets ")]
    assert configured.count("LOG theanets hello world") == 1
    progress = [line for line in outputs["basicConfig"] if "theanets.feedback" in line]
    assert progress[0].startswith("LOG theanets.feedback compiling the training function (")
    assert len([line for line in progress if " update " in line]) == 3
    assert not any(re.match(STAMP, line) for line in outputs["basicConfig"])

    # A terminal: a progress bar instead of the per-validation lines.
    assert "hello world" in screen and "compiling the training function (" in screen
    assert "12/12" in screen and "valid=" in screen
    assert "train loss=" not in screen
    assert "result ['err', 'loss'] 12" in screen


# ----- plots -------------------------------------------------------------------------


def test_learning_curves(rng):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    plot = importlib.import_module("theanets.plot")
    x, y = _data(rng)
    net = theanets.Regressor([3, 4, 2])
    with pytest.raises(
        util.ConfigurationError, match=r"learning_curves: Regressor has no training history yet"
    ):
        plot.learning_curves(net)
    _train(net, x, y)
    ax = plot.learning_curves(net, monitors=["loss", "err"])
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert sorted(lines) == ["train err", "train loss", "valid err", "valid loss"]
    np.testing.assert_allclose(lines["valid loss"].get_xdata(), [0, 3, 6])
    np.testing.assert_allclose(lines["train loss"].get_ydata(), net.history["train"]["loss"])
    with pytest.raises(
        util.ConfigurationError,
        match=r"no monitor 'acc' was recorded; the recorded monitors are err, loss",
    ):
        plot.learning_curves(net.history, monitors="acc")


def test_plot_without_matplotlib(monkeypatch):
    monkeypatch.delitem(sys.modules, "theanets.plot", raising=False)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(
        ImportError,
        match=r"theanets\.plot draws with matplotlib, which is not "
        r'installed; install it with "pip install matplotlib"',
    ):
        importlib.import_module("theanets.plot")


def test_import_theanets_imports_no_plotting():
    code = (
        'import sys, theanets; print("matplotlib" in sys.modules, "theanets.plot" in sys.modules)'
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=_env(),
        cwd=str(ROOT),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.stdout.split() == ["False", "False"], result.stderr
