"""Sphinx configuration for the theanets documentation.

Build: ``python -m sphinx -W -b html docs docs/_build`` from the repository
root. Autodoc imports theanets from this source tree, not an installed copy.
"""

import inspect
import os
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, ROOT)

import theanets  # noqa: E402
from docs import apinames, gallery  # noqa: E402

# Public names that no page of api/ lists yet go on api/other.rst; the
# programs in examples/ on examples.rst.
apinames.write_other_names()
gallery.write_examples_page()

project = "theanets"
author = "theanets developers"
copyright = "theanets developers; MIT License"
version = release = theanets.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
default_role = "obj"

# One page per documented name, generated at build time into api/generated/.
autosummary_generate = True
autosummary_generate_overwrite = True
autosummary_imported_members = False
autodoc_default_options = {"member-order": "groupwise"}
autodoc_typehints = "none"

# numpydoc: the class pages get tables of methods and attributes (as the
# original documentation had); members are documented on the same page, so
# the tables need no separate stub pages.
numpydoc_show_class_members = True


def _foreign_bases(cls):
    """True if ``cls`` inherits from a class of another library (not object)."""
    return any(
        not base.__module__.startswith("theanets") and base is not object
        for base in cls.__mro__[1:]
    )


# Inherited members are listed, except those a class inherits from another
# library (scikit-learn's estimator methods, Exception's): their docstrings
# refer to that library's own documentation.
numpydoc_show_inherited_class_members = {
    name: not _foreign_bases(obj) for name, obj in apinames.public_names() if isinstance(obj, type)
}
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = False

html_theme = "pydata_sphinx_theme"
html_title = "theanets {}".format(release)
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
}
html_static_path = ["_static"]
# Long dotted names as page titles: smaller, and wrapped rather than clipped.
html_css_files = ["theanets.css"]
html_show_sourcelink = False


def _skip_foreign_member(app, what, name, obj, skip, options):
    """Leave out members defined by another library (see above)."""
    if what not in ("class", "exception"):
        return None
    if isinstance(obj, property):
        obj = obj.fget
    elif not inspect.isroutine(obj):
        return None
    module = getattr(obj, "__module__", None)
    if isinstance(module, str) and not module.startswith("theanets"):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_foreign_member)
