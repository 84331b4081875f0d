"""The public names of theanets, and which of them the API pages list.

``conf.py`` calls :func:`write_other_names` before each build: it writes
``api/other.rst`` (not committed) with an entry for every public name that
no hand-written page of ``api/`` lists, so that a name added to an
``__all__`` is in the reference at once, and the build stays free of
warnings. ``tests/test_docs.py`` uses the same functions.
"""

import importlib
import os
import pkgutil
import re

API = os.path.join(os.path.dirname(os.path.abspath(__file__)), "api")

#: The generated page; it is not one of the hand-written pages.
OTHER = "other.rst"


def public_modules():
    """theanets and every submodule whose dotted name has no part starting with ``_``."""
    import theanets

    yield theanets
    for info in pkgutil.walk_packages(theanets.__path__, "theanets."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            yield importlib.import_module(info.name)


def public_names():
    """``(full name, object)`` for each name in the ``__all__`` of a public module."""
    for module in public_modules():
        for name in getattr(module, "__all__", ()):
            yield "{}.{}".format(module.__name__, name), getattr(module, name)


def resolve(name):
    """The object a full dotted name refers to (ImportError if none)."""
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        try:
            for part in parts[i:]:
                obj = getattr(obj, part)
        except AttributeError:
            raise ImportError("{} does not exist".format(name)) from None
        return obj
    raise ImportError("{} does not exist".format(name))


def listed_names(folder=API):
    """Full names that the hand-written pages in ``folder`` document.

    These are the entries of ``autosummary`` lists (relative to the current
    module) and the targets of ``autodata``/``autoclass``/``autofunction``.
    """
    names = set()
    for filename in sorted(os.listdir(folder)):
        if not filename.endswith(".rst") or filename == OTHER:
            continue
        current = ""
        in_summary = False
        with open(os.path.join(folder, filename), encoding="utf-8") as handle:
            for line in handle:
                if line.strip() and not line.startswith(" "):
                    in_summary = line.startswith(".. autosummary::")
                module = re.match(r"\.\. currentmodule:: (\S+)", line)
                if module:
                    current = module.group(1)
                    continue
                target = re.match(r"\.\. auto(?:data|class|function):: (\S+)", line)
                if target:
                    names.add(target.group(1))
                    continue
                entry = re.match(r"   ([A-Za-z_][\w.]*)\s*$", line)
                if in_summary and entry:
                    name = entry.group(1)
                    names.add(
                        name
                        if name.startswith("theanets.") or not current
                        else "{}.{}".format(current, name)
                    )
    return names


def _is_code(obj):
    return callable(obj) or isinstance(obj, type)


def unlisted_names(folder=API):
    """Public names that no hand-written page lists, in module order.

    A class or function counts as listed wherever it is documented (a
    package re-exports what its modules define); other objects by name.
    """
    listed = listed_names(folder)
    objects = set()
    for name in listed:
        obj = resolve(name)
        if _is_code(obj):
            objects.add(id(obj))
    return [
        full
        for full, obj in public_names()
        if full not in listed and not (_is_code(obj) and id(obj) in objects)
    ]


def other_names_page(names):
    """The text of the page listing ``names``, grouped by module."""
    lines = [
        "==================",
        "Other public names",
        "==================",
        "",
        ".. currentmodule:: theanets",
        "",
    ]
    if not names:
        lines.append("Every public name of theanets is on the pages above.")
        return "\n".join(lines) + "\n"
    lines += ["Public names that the pages above do not list yet, by module.", ""]
    by_module = {}
    for full in names:
        module, _, name = full.rpartition(".")
        by_module.setdefault(module, []).append(full)
    for module, fulls in by_module.items():
        lines += [
            module,
            "-" * len(module),
            "",
            ".. autosummary::",
            "   :toctree: generated/",
            "   :nosignatures:",
            "",
        ]
        lines += ["   " + full[len("theanets.") :] for full in fulls]
        lines.append("")
    return "\n".join(lines)


def write_other_names(folder=API):
    """Write ``api/other.rst`` (only if its text changes); return the names on it."""
    names = unlisted_names(folder)
    write_if_changed(os.path.join(folder, OTHER), other_names_page(names))
    return names


def write_if_changed(path, text):
    """Write a generated page, unless it already holds ``text`` (so that
    Sphinx does not rebuild what did not change)."""
    old = None
    if os.path.exists(path):
        with open(path, encoding="utf-8") as handle:
            old = handle.read()
    if old != text:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
