"""The page of example programs, made from ``examples/*.py`` before each build.

``conf.py`` calls :func:`write_examples_page`, which writes ``examples.rst``
(not committed): for each program, its docstring (reStructuredText) and its
code. A program added to ``examples/`` appears without editing anything.
"""

import ast
import os

from .apinames import write_if_changed

DOCS = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = os.path.join(os.path.dirname(DOCS), "examples")
PAGE = os.path.join(DOCS, "examples.rst")

HEADER = """========
Examples
========

Complete programs, in the ``examples`` folder of the source tree. Each runs
as ``python examples/NAME.py``; ``--fast`` makes a quick run (the test suite
runs every program that way) and ``--out DIR`` says where its pictures go.
Some need the ``[examples]`` extra (scikit-learn, matplotlib).
"""


def programs(folder=EXAMPLES):
    """``(file name, docstring)`` of each ``*.py`` in ``folder``, sorted by name."""
    if not os.path.isdir(folder):
        return []
    result = []
    for name in sorted(os.listdir(folder)):
        if name.endswith(".py") and not name.startswith("_"):
            with open(os.path.join(folder, name), encoding="utf-8") as handle:
                doc = ast.get_docstring(ast.parse(handle.read())) or ""
            result.append((name, doc))
    return result


def is_clean_rst(text):
    """True if plain docutils reads ``text`` without a warning or error.

    A docstring that is not clean reStructuredText (a stray ``|``, a role
    that only Sphinx knows) is shown as preformatted text instead, so that
    no program's docstring can break the build.
    """
    import docutils.core
    import docutils.nodes
    import docutils.utils

    try:
        tree = docutils.core.publish_doctree(
            text, settings_overrides=dict(report_level=2, halt_level=5, warning_stream=False)
        )
    except docutils.utils.SystemMessage:
        return False
    return not any(True for _ in tree.findall(docutils.nodes.problematic)) and not any(
        node["level"] >= 2 for node in tree.findall(docutils.nodes.system_message)
    )


def examples_page(items):
    """The text of the page for ``items`` from :func:`programs`."""
    parts = [HEADER]
    for name, doc in items:
        parts.append("{}\n{}\n".format(name, "=" * len(name)))
        doc = doc.strip()
        if doc and is_clean_rst(doc):
            parts.append(doc + "\n")
        elif doc:
            parts.append(
                ".. code-block:: text\n\n"
                + "".join("   " + line if line.strip() else line for line in doc.splitlines(True))
                + "\n"
            )
        parts.append(".. literalinclude:: ../examples/{}\n   :language: python\n".format(name))
    return "\n".join(parts)


def write_examples_page(folder=EXAMPLES, path=PAGE):
    """Write the page (only if its text changes); return the program names."""
    items = programs(folder)
    write_if_changed(path, examples_page(items))
    return [name for name, _ in items]
