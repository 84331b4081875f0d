"""The documentation: its API reference covers every public name; the Sphinx build.

The pages' code runs as doctests with the rest of the suite (pytest collects
docs/**/*.rst, see pyproject.toml).
"""

import inspect
import os
import re
import subprocess
import sys

import pytest

from docs import apinames, gallery, optiontables

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = os.path.join(ROOT, "docs")


def test_every_entry_of_the_api_pages_exists():
    for name in sorted(apinames.listed_names()):
        apinames.resolve(name)  # an ImportError names a stale entry


def test_a_name_no_page_lists_is_found(tmp_path):
    for filename in os.listdir(os.path.join(DOCS, "api")):
        if filename.endswith(".rst") and filename != apinames.OTHER:
            with open(os.path.join(DOCS, "api", filename), encoding="utf-8") as handle:
                text = handle.read()
            (tmp_path / filename).write_text(text.replace("   data.text\n", ""), encoding="utf-8")
    before = set(apinames.unlisted_names())
    after = set(apinames.unlisted_names(str(tmp_path)))
    assert "theanets.data.text" not in before
    assert after - before == {"theanets.data.text"}


def test_a_class_counts_as_listed_where_a_package_reexports_it():
    listed = apinames.listed_names()
    assert "theanets.downhill.Adam" in listed
    assert "theanets.downhill.adaptive.Adam" not in listed
    assert "theanets.downhill.adaptive.Adam" not in apinames.unlisted_names()


def test_the_other_names_page():
    page = apinames.other_names_page(["theanets.data.text", "theanets.util.log"])
    assert "theanets.data\n-------------\n" in page
    assert "   data.text\n" in page and "   util.log\n" in page
    assert "Every public name" in apinames.other_names_page([])


def test_the_examples_page_shows_each_program(tmp_path):
    (tmp_path / "b.py").write_text("'''Second.\n\nMean |r| 0.5.'''\n", encoding="utf-8")
    (tmp_path / "a.py").write_text(
        "'''First, ``clean``.\n\nUsage::\n\n    python a.py\n'''\n", encoding="utf-8"
    )
    (tmp_path / "notes.txt").write_text("not a program", encoding="utf-8")
    items = gallery.programs(str(tmp_path))
    assert [name for name, _ in items] == ["a.py", "b.py"]
    page = gallery.examples_page(items)
    assert page.index("a.py\n====") < page.index("b.py\n====")
    assert ".. literalinclude:: ../examples/a.py" in page
    assert ".. literalinclude:: ../examples/b.py" in page
    # clean reStructuredText is kept; anything else is shown as plain text
    assert "First, ``clean``.\n" in page and ".. code-block:: text\n\n   Second." in page


def test_every_example_program_is_on_the_page():
    names = [name for name, _ in gallery.programs()]
    assert "digits_autoencoder.py" in names
    page = gallery.examples_page(gallery.programs())
    for name in names:
        assert ".. literalinclude:: ../examples/{}".format(name) in page


def test_guide_pages_are_picked_up_by_the_index():
    with open(os.path.join(DOCS, "index.rst"), encoding="utf-8") as handle:
        index = handle.read()
    assert "   :glob:" in index and "   guide/*" in index


def test_the_guide_tables_of_options_are_made_from_the_options_table():
    with open(optiontables.GUIDE, encoding="utf-8") as handle:
        page = handle.read()
    assert optiontables.stale(page) == [], (
        "docs/guide/training.rst: tables differ from theanets.options.TABLE; "
        "rewrite them with python -m docs.optiontables"
    )
    assert optiontables.rewrite(page) == page


def test_a_stale_or_missing_guide_table_is_found():
    from theanets import options

    page = "Intro\n\n.. BEGIN options table\n.. END options table\n\nMore\n"
    assert optiontables.stale(page) == ["options", "regularizers"]
    fresh = optiontables.rewrite(page)
    assert optiontables.stale(fresh) == ["regularizers"]
    assert fresh.startswith("Intro\n\n.. BEGIN options table\n\n.. list-table::")
    assert fresh.endswith(".. END options table\n\nMore\n")
    for entry in options.TABLE:
        if entry.owner != "regularizer":
            assert "   * - ``{}``\n     - ``{!r}``\n".format(entry.name, entry.default) in fresh
    changed = fresh.replace("     - ``0.0001``", "     - ``0.001``")
    assert changed != fresh and optiontables.stale(changed) == ["options", "regularizers"]


#: ``theanets[...]`` as something to install: from PyPI that is the unrelated
#: original (0.7.3); the extras install from a clone, as ``'.[examples]'``.
PYPI_EXTRA = re.compile(r"(?<![\w./])theanets\[")
#: A private module or name (``theanets._mode``, ``theanets.ops._dispatch``):
#: not for users, and free to change.
PRIVATE_MODULE = re.compile(r"\btheanets(?:\.[A-Za-z]\w*)*\._[A-Za-z]\w*")


def _offences(text):
    return [m.group(0) for pattern in (PYPI_EXTRA, PRIVATE_MODULE) for m in pattern.finditer(text)]


def _pages():
    """README.rst and every hand-written .rst page under docs/ (not the build)."""
    yield os.path.join(ROOT, "README.rst")
    for folder, dirs, files in os.walk(DOCS):
        dirs[:] = [d for d in dirs if not d.startswith("_") and d != "generated"]
        for name in sorted(files):
            if name.endswith(".rst"):
                yield os.path.join(folder, name)


def _member_docstrings(name, obj):
    """``(name, docstring)`` of a public name and of its public methods and properties."""
    yield name, inspect.getdoc(obj)
    if isinstance(obj, type):
        for key, value in vars(obj).items():
            if key.startswith("_"):
                continue
            value = getattr(value, "__func__", value)  # classmethod, staticmethod
            value = getattr(value, "fget", value)  # property
            if callable(value):
                yield "{}.{}".format(name, key), inspect.getdoc(value)


def test_the_offence_patterns():
    assert _offences("pip install theanets[jax]") == ["theanets["]
    assert _offences("pip install 'theanets[bench]'") == ["theanets["]
    assert _offences("the ``theanets[examples]`` extra") == ["theanets["]
    assert _offences("see theanets._mode.default_mode") == ["theanets._mode"]
    assert _offences("theanets.ops._dispatch") == ["theanets.ops._dispatch"]
    assert _offences("pip install '.[examples]'; theanets.feedforward.Autoencoder") == []
    assert _offences("model.layers[0]; theanets.Network._rng") == ["theanets.Network._rng"]
    assert _offences("model.layers[0]; model._rng; theanets.recurrent.Text") == []


def test_no_page_sends_users_to_pypi_extras_or_private_modules():
    found = {}
    for path in _pages():
        with open(path, encoding="utf-8") as handle:
            offences = _offences(handle.read())
        if offences:
            found[os.path.relpath(path, ROOT)] = offences
    assert not found, found


def test_no_docstring_of_a_public_name_does():
    found = {}
    for name, obj in apinames.public_names():
        for member, doc in _member_docstrings(name, obj):
            if doc and _offences(doc):
                found[member] = _offences(doc)
    assert not found, found


def test_no_public_module_docstring_or_message_does():
    found = {}
    for module in apinames.public_modules():
        if module.__doc__ and _offences(module.__doc__):
            found[module.__name__] = _offences(module.__doc__)
    for folder, _, files in os.walk(os.path.join(ROOT, "theanets")):
        for name in sorted(files):
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                with open(path, encoding="utf-8") as handle:
                    offences = PYPI_EXTRA.findall(handle.read())
                if offences:
                    found[os.path.relpath(path, ROOT)] = offences
    assert not found, found


def test_the_install_page_lists_every_dependency_and_extra():
    tomllib = pytest.importorskip("tomllib")
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as handle:
        project = tomllib.load(handle)["project"]
    with open(os.path.join(DOCS, "install.rst"), encoding="utf-8") as handle:
        page = handle.read()
    for requirement in project["dependencies"]:
        name, version = re.match(r"([\w-]+)\s*>=\s*(\S+)", requirement).groups()
        assert re.search(r"``{}``\s+>= {}\s".format(re.escape(name), re.escape(version)), page), (
            requirement
        )
    for extra, requirements in project["optional-dependencies"].items():
        if requirements == [r for r in project["dependencies"] if r in requirements]:
            # an extra that only repeats plain dependencies (jax): named, not offered
            assert "``[{}]``".format(extra) in page, extra
            continue
        # its row of the table: what it adds, on that line and the indented ones below
        line = re.search(r"^``\[{}\]``(.*(?:\n {{2,}}\S.*)*)".format(extra), page, re.M)
        assert line, extra
        for requirement in requirements:
            name = re.match(r"[\w-]+", requirement).group(0)
            assert name in line.group(1), (extra, name)
    named = set(re.findall(r"(?:'\.|``)\[(\w+)\]", page))
    assert named <= set(project["optional-dependencies"]), named


@pytest.mark.slow
def test_sphinx_build_has_no_warnings(tmp_path):
    pytest.importorskip("sphinx")
    pytest.importorskip("numpydoc")
    pytest.importorskip("pydata_sphinx_theme")
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "-q", "-b", "html", DOCS, str(tmp_path / "html")],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-4000:]
