"""The default-mode contract: every layer form, model class, algorithm,
regularizer, loss, carried-state setting, stateful prediction and file
format trains two updates and predicts in the compile mode a user gets
(JAX where it applies), not only in the FAST_COMPILE mode of the other tests.

The cases live in ``tests/default_mode_cases.py``. Each group runs in a
subprocess of its own with no compile flags, two groups at a time, and
reports case by case: an abort inside the compiler fails the case it was
running (and the cases after it in the group), not the test run.
"""

import concurrent.futures
import json
import os
import subprocess
import sys
import tempfile

import pytest

import theanets
from theanets.layers import Layer
from theanets.losses import Loss
from theanets.regularizers import Regularizer

sys.path.insert(0, os.path.dirname(__file__))
import default_mode_cases as cases_module

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GROUPS = cases_module.cases()
CASES = [(group, name) for group, members in GROUPS.items() for name in members]

#: Seconds a group may take before it is stopped (its remaining cases fail).
GROUP_TIMEOUT = 900


def _user_environment():
    """The environment of a user who set no compile flags."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTENSOR_FLAGS", "THEANO_FLAGS")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, env.get("PYTHONPATH")) if p)
    return env


def _run_group(group):
    """{case: result} for the cases of ``group`` that reported, and how the process ended."""
    script = os.path.join(ROOT, "tests", "default_mode_cases.py")
    with tempfile.TemporaryDirectory() as folder:
        try:
            done = subprocess.run(
                [sys.executable, script, group],
                cwd=folder,
                env=_user_environment(),
                capture_output=True,
                text=True,
                timeout=GROUP_TIMEOUT,
            )
            stdout, stderr, code = done.stdout, done.stderr, done.returncode
        except subprocess.TimeoutExpired as timeout:
            stdout = (
                timeout.stdout.decode()
                if isinstance(timeout.stdout, bytes)
                else (timeout.stdout or "")
            )
            stderr, code = "timed out after {} s".format(GROUP_TIMEOUT), None
    results = {}
    for line in stdout.splitlines():
        if line.startswith('{"case"'):
            result = json.loads(line)
            results[result["case"]] = result
    ending = "exit code {}; last lines of its error output:\n{}".format(
        code, "\n".join(stderr.strip().splitlines()[-25:])
    )
    return results, ending


@pytest.fixture(scope="module")
def group_results():
    """Every group run once (two at a time): group -> (results, ending)."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        futures = {group: pool.submit(_run_group, group) for group in GROUPS}
        return {group: future.result() for group, future in futures.items()}


@pytest.mark.parametrize("group, case", CASES, ids=["{}/{}".format(*c) for c in CASES])
def test_case_trains_and_predicts_in_the_default_mode(group_results, group, case):
    results, ending = group_results[group]
    if case not in results:
        pytest.fail(
            "case {!r} did not report: its process ended before it finished ({})".format(
                case, ending
            )
        )
    result = results[case]
    assert result["ok"], "case {!r} failed in the default mode:\n{}".format(case, result["error"])


# ----- every registered form has a case ------------------------------------


def _ours(cls):
    """True for the library's classes (other tests register classes of their own)."""
    return cls.__module__.split(".")[0] == "theanets"


NOT_FORMS = {"layer", "convolution", "pooling", "recurrent"}  # base classes, refused in a model


def test_every_layer_form_has_a_case():
    covered = (
        set(cases_module.RECURRENT_FORMS)
        | set(cases_module.CONV_FORMS)
        | set(GROUPS["structural"])
        | {"bidirectional"}
    )
    forms = {key for key, cls in Layer._registry.items() if _ours(cls)}
    missing = sorted(forms - NOT_FORMS - covered)
    assert not missing, "layer forms without a default-mode case: {}".format(missing)


def test_every_regularizer_has_a_case():
    covered = set()
    for keyword in cases_module.REGULARIZERS:
        if keyword.endswith("_noise"):
            covered.add(theanets.regularizers.GaussianNoise)
        elif keyword.endswith("_dropout"):
            covered.add(theanets.regularizers.BernoulliDropout)
        else:
            covered.add(Regularizer.get_class(keyword))
    registered = {
        cls
        for key, cls in Regularizer._registry.items()
        if cls is not Regularizer and not key.startswith("_") and _ours(cls)
    }
    missing = sorted(cls.__name__ for cls in registered - covered)
    assert not missing, "regularizers without a default-mode case: {}".format(missing)


def test_every_loss_has_a_case():
    covered = {Loss.get_class(name) for name in cases_module.LOSSES}
    registered = {cls for cls in Loss._registry.values() if cls is not Loss and _ours(cls)}
    missing = sorted(cls.__name__ for cls in registered - covered)
    assert not missing, "losses without a default-mode case: {}".format(missing)


def test_every_model_class_has_a_case():
    covered = set(GROUPS["models"])
    missing = []
    for module in ("feedforward", "recurrent", "convolution"):
        for name in ("Autoencoder", "Regressor", "Classifier"):
            if (
                hasattr(getattr(theanets, module), name)
                and "{}.{}".format(module, name) not in covered
            ):
                missing.append("{}.{}".format(module, name))
    assert not missing, "model classes without a default-mode case: {}".format(missing)


def test_every_algorithm_has_a_case():
    covered = {name[len("algo-") :] for name in GROUPS["training"] if name.startswith("algo-")}
    assert set(theanets.trainer.algo_names()) <= covered
