"""Small data that ships with theanets, for examples and the character model.

Examples
--------
>>> from theanets import data
>>> data.names()
['declaration']
>>> data.text('declaration')[:26]
'IN CONGRESS, July 4, 1776.'
"""

import importlib.resources

__all__ = ["names", "text"]

#: Public-domain texts: name -> (file, description).
TEXTS = {
    "declaration": (
        "declaration.txt",
        "The United States Declaration of Independence (1776), public domain.",
    ),
}


def names():
    """The names of the texts that ship with theanets, sorted."""
    return sorted(TEXTS)


def text(name="declaration"):
    """Return a text that ships with theanets, as a str.

    Parameters
    ----------
    name : str
        One of :func:`names`.

    Raises
    ------
    KeyError
        For another name; the message lists the valid ones.
    """
    if name not in TEXTS:
        raise KeyError("unknown text {!r}; valid choices are: {}".format(name, ", ".join(names())))
    filename = TEXTS[name][0]
    return importlib.resources.files(__name__).joinpath(filename).read_text(encoding="utf-8")
