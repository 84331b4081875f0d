"""The tables of training options in docs/guide/training.rst, made from
:data:`theanets.options.TABLE`.

Each table stands between two comment lines of the page, ``.. BEGIN <name>
table`` and ``.. END <name> table``; tests/test_docs.py fails when one
differs from what :func:`tables` makes. After changing the options table,
rewrite them with::

    python -m docs.optiontables
"""

import os
import re
import textwrap

from theanets import options

GUIDE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "guide", "training.rst")
_BLOCK = re.compile(r"(\.\. BEGIN (\w+) table\n)(.*?)(\.\. END \2 table\n)", re.S)


def list_table(entries):
    """A ``list-table`` of option, default and meaning, one row per entry."""
    lines = [
        ".. list-table::",
        "   :header-rows: 1",
        "   :widths: 25 12 63",
        "",
        "   * - option",
        "     - default",
        "     - meaning",
    ]
    for entry in entries:
        lines.append("   * - ``{}``".format(entry.name))
        lines.append("     - ``{!r}``".format(entry.default))
        lines.extend(
            textwrap.wrap(
                entry.doc,
                79,
                initial_indent="     - ",
                subsequent_indent="       ",
                break_on_hyphens=False,
            )
        )
    return "\n".join(lines) + "\n"


def tables():
    """``{name: rst text}`` of the guide's tables: ``options`` (every option
    but the regularizers') and ``regularizers``."""
    regularizer = [e for e in options.TABLE if e.owner == "regularizer"]
    others = [e for e in options.TABLE if e.owner != "regularizer"]
    return {"options": list_table(others), "regularizers": list_table(regularizer)}


def stale(text):
    """The names of the tables in ``text`` that differ from :func:`tables`,
    and the tables that ``text`` lacks."""
    made = tables()
    found = {m.group(2): m.group(3) for m in _BLOCK.finditer(text)}
    return sorted(
        name for name in made if found.get(name, "").strip("\n") != made[name].strip("\n")
    )


def rewrite(text):
    """``text`` with each table replaced by the one :func:`tables` makes."""
    made = tables()
    return _BLOCK.sub(
        lambda m: (
            m.group(1) + "\n" + made.get(m.group(2), m.group(3)).strip("\n") + "\n\n" + m.group(4)
        ),
        text,
    )


if __name__ == "__main__":
    with open(GUIDE, encoding="utf-8") as handle:
        page = handle.read()
    with open(GUIDE, "w", encoding="utf-8") as handle:
        handle.write(rewrite(page))
