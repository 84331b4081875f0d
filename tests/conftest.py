'''Test configuration: float32 and fast compilation, set before PyTensor loads.

The semantics tests compile in FAST_COMPILE (Python linker, few rewrites):
seconds instead of minutes. Tests marked ``slow`` may compile in the default
mode; they are excluded from the default run (see pyproject.toml).
'''

import os

os.environ.setdefault('PYTENSOR_FLAGS', 'floatX=float32,mode=FAST_COMPILE')

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture
def rng():
    '''A seeded numpy RandomState for test data.'''
    return np.random.RandomState(13)
