'''The documentation: every public name has an API entry; the Sphinx build.

The pages' code runs as doctests with the rest of the suite (pytest collects
docs/**/*.rst, see pyproject.toml).
'''

import importlib
import os
import pkgutil
import re
import subprocess
import sys

import pytest

import theanets

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = os.path.join(ROOT, 'docs')


def public_modules():
    '''Every importable theanets module whose name has no leading underscore.'''
    yield theanets
    for info in pkgutil.walk_packages(theanets.__path__, 'theanets.'):
        if not any(part.startswith('_') for part in info.name.split('.')):
            yield importlib.import_module(info.name)


def documented_names():
    '''Full names listed in the API pages (autosummary entries, autodata).'''
    names = set()
    folder = os.path.join(DOCS, 'api')
    for filename in sorted(os.listdir(folder)):
        if not filename.endswith('.rst'):
            continue
        current = ''
        in_summary = False
        with open(os.path.join(folder, filename), encoding='utf-8') as handle:
            for line in handle:
                if line.strip() and not line.startswith(' '):
                    in_summary = line.startswith('.. autosummary::')
                module = re.match(r'\.\. currentmodule:: (\S+)', line)
                if module:
                    current = module.group(1)
                    continue
                data = re.match(r'\.\. auto(?:data|class|function):: (\S+)', line)
                if data:
                    names.add(data.group(1))
                    continue
                entry = re.match(r'   ([A-Za-z_][\w.]*)\s*$', line)
                if in_summary and entry:
                    name = entry.group(1)
                    names.add(name if name.startswith('theanets.') or not current
                              else '{}.{}'.format(current, name))
    return names


def resolve(name):
    """The object a full dotted name refers to."""
    parts = name.split('.')
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module('.'.join(parts[:i]))
        except ImportError:
            continue
        for part in parts[i:]:
            obj = getattr(obj, part)
        return obj
    raise ImportError(name)


def test_every_public_name_is_in_the_api_reference():
    documented = documented_names()
    objects = set()
    for name in documented:
        obj = resolve(name)
        if callable(obj) or isinstance(obj, type):
            objects.add(id(obj))
    missing = []
    for module in public_modules():
        for name in getattr(module, '__all__', ()):
            obj = getattr(module, name)
            full = '{}.{}'.format(module.__name__, name)
            # Classes and functions count wherever they are documented (a
            # package re-exports what its modules define); data by its name.
            if full not in documented and not (
                    (callable(obj) or isinstance(obj, type)) and id(obj) in objects):
                missing.append(full)
    assert not missing, (
        'public names missing from the API reference (add them to an autosummary '
        'list in docs/api/*.rst): {}'.format(missing))


def test_guide_pages_are_picked_up_by_the_index():
    with open(os.path.join(DOCS, 'index.rst'), encoding='utf-8') as handle:
        index = handle.read()
    assert '   :glob:' in index and '   guide/*' in index


@pytest.mark.slow
def test_sphinx_build_has_no_warnings(tmp_path):
    pytest.importorskip('sphinx')
    pytest.importorskip('numpydoc')
    pytest.importorskip('pydata_sphinx_theme')
    result = subprocess.run(
        [sys.executable, '-m', 'sphinx', '-W', '-q', '-b', 'html', DOCS, str(tmp_path / 'html')],
        cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-4000:]
