"""Fixtures for the unit tests (PyTensor flags are set in the root conftest.py)."""

import numpy as np
import pytest


@pytest.fixture
def rng():
    """A seeded numpy RandomState for test data."""
    return np.random.RandomState(13)
