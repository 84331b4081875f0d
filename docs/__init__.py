"""The documentation's sources (a package only so that pytest imports docs/conftest.py
under its own name, apart from tests/conftest.py)."""
