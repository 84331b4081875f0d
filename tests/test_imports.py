"""The package's imports point one way: no module imports itself back, not
even through an import inside a function.

Every ``theanets/**/*.py`` file is parsed with :mod:`ast` (nothing is
imported); every ``import`` and ``from ... import`` statement, wherever it
stands, becomes an edge to the theanets module it names (relative imports
resolved, ``from package import submodule`` counted as importing the
submodule). A cycle among these edges fails the test, which names it.
"""

import ast
import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PACKAGE = "theanets"


def _module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules():
    """{dotted module name: (path, is_package)} for every file of the package."""
    return {
        _module_name(path): (path, path.name == "__init__.py")
        for path in sorted((ROOT / PACKAGE).rglob("*.py"))
    }


def _resolve(module, is_package, level, name):
    """The absolute name of ``from <level dots><name> import ...`` in ``module``."""
    if level == 0:
        return name
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    if level > 1:
        base = base[: -(level - 1)]
    return ".".join(base + ([name] if name else []))


def _known(name, modules):
    """``name`` or its closest parent that is a module of the package, or None."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def import_edges(modules=None):
    """{module: {imported module: line of the first such import}}."""
    modules = _modules() if modules is None else modules
    edges = {}
    for module, (path, is_package) in modules.items():
        found = edges.setdefault(module, {})
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                source = _resolve(module, is_package, node.level, node.module or "")
                # "from package import name": a submodule if there is one
                targets = [
                    "{}.{}".format(source, alias.name)
                    if "{}.{}".format(source, alias.name) in modules
                    else source
                    for alias in node.names
                ]
            for target in targets:
                target = _known(target, modules)
                if target is not None and target != module:
                    found.setdefault(target, node.lineno)
    return edges


def find_cycles(edges):
    """Each strongly connected group of more than one module, as one cycle
    through it: a list of modules whose last one imports the first."""
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def visit(node):  # Tarjan's algorithm, recursive: the package is small
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in edges.get(node, ()):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return [_cycle_in(group, edges) for group in groups]


def _cycle_in(group, edges):
    """A shortest cycle through the alphabetically first module of ``group``."""
    start = min(group)
    paths = {start: [start]}
    todo = [start]
    while todo:
        node = todo.pop(0)
        for succ in sorted(edges.get(node, ())):
            if succ == start:
                return paths[node]
            if succ in group and succ not in paths:
                paths[succ] = paths[node] + [succ]
                todo.append(succ)
    raise AssertionError("no cycle through {}".format(start))


def _describe(cycle, edges, modules):
    steps = []
    for here, there in zip(cycle, cycle[1:] + cycle[:1], strict=True):
        path = modules[here][0].relative_to(ROOT)
        steps.append("{} ({}:{}) imports {}".format(here, path, edges[here][there], there))
    return "; ".join(steps)


def test_no_import_cycles():
    modules = _modules()
    edges = import_edges(modules)
    cycles = find_cycles(edges)
    assert not cycles, "import cycles in theanets:\n" + "\n".join(
        _describe(cycle, edges, modules) for cycle in cycles
    )


# ----- the walker itself ------------------------------------------------------


@pytest.fixture
def package(tmp_path, monkeypatch):
    """A throw-away package tree to run the walker on."""

    def make(files):
        for name, text in files.items():
            path = tmp_path / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
        return {
            _module_name(path): (path, path.name == "__init__.py")
            for path in sorted((tmp_path / PACKAGE).rglob("*.py"))
        }

    return make


def test_cycle_through_a_function_level_import_is_found(package):
    modules = package(
        {
            "theanets/__init__.py": "",
            "theanets/a.py": "from . import b\n",
            "theanets/b.py": "import os\n\ndef f():\n    from .sub import c\n",
            "theanets/sub/__init__.py": "",
            "theanets/sub/c.py": "from ..a import thing\n",
        }
    )
    edges = import_edges(modules)
    assert edges["theanets.b"] == {"theanets.sub.c": 4}
    assert edges["theanets.sub.c"] == {"theanets.a": 1}
    cycles = find_cycles(edges)
    assert cycles == [["theanets.a", "theanets.b", "theanets.sub.c"]]
    assert "theanets.b (theanets/b.py:4) imports theanets.sub.c" in _describe(
        cycles[0], edges, modules
    )


def test_acyclic_package_passes(package):
    modules = package(
        {
            "theanets/__init__.py": "from . import a, b\nfrom .sub import c\n",
            "theanets/a.py": "import theanets.sub.c\n",
            "theanets/b.py": "from .a import x\nfrom theanets import sub\n",
            "theanets/sub/__init__.py": "from . import c\n",
            "theanets/sub/c.py": "import numpy\n",
        }
    )
    edges = import_edges(modules)
    assert edges["theanets.a"] == {"theanets.sub.c": 1}
    assert edges["theanets.b"] == {"theanets.a": 1, "theanets.sub": 2}
    assert find_cycles(edges) == []
