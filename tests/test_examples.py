'''The examples are programs the test suite runs (in their fast mode).'''

import importlib.util
import pathlib


EXAMPLES = pathlib.Path(__file__).resolve().parent.parent / 'examples'


def _load(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / (name + '.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_digits_autoencoder_fast(capsys):
    r2, acc = _load('digits_autoencoder').main(['--fast', '--hidden', '16'])
    out = capsys.readouterr().out
    assert 'R^2 of reconstructing' in out and 'accuracy on held-out digits' in out
    # Ten updates are far from converged, but the models must have learned.
    assert 0.5 < r2 < 1
    assert 0.5 < acc <= 1
