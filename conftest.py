"""Test set-up shared by the unit tests and the doctests of theanets/.

Semantics tests compile in PyTensor's FAST_COMPILE mode (seconds instead of
minutes) with float32, the dtype the original library was tested with.
This must run before PyTensor is imported, hence a root conftest.
"""

import os

os.environ.setdefault("PYTENSOR_FLAGS", "floatX=float32,mode=FAST_COMPILE")
# the fused kernels compiled where a program needs them, never by a background
# process, so that every test runs one path (tests/test_compile_kernels.py
# tries the background process in processes of its own)
os.environ.setdefault("THEANETS_KERNELS", "wait")


def pytest_addoption(parser):
    parser.addoption(
        "--reverse",
        action="store_true",
        help="run the tests in reverse order (the suite must pass in any order)",
    )


def pytest_collection_modifyitems(config, items):
    if config.getoption("--reverse"):
        items.reverse()
