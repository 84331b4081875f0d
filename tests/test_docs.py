'''The documentation: its API reference covers every public name; the Sphinx build.

The pages' code runs as doctests with the rest of the suite (pytest collects
docs/**/*.rst, see pyproject.toml).
'''

import os
import subprocess
import sys

import pytest

from docs import apinames

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = os.path.join(ROOT, 'docs')


def test_every_entry_of_the_api_pages_exists():
    for name in sorted(apinames.listed_names()):
        apinames.resolve(name)  # an ImportError names a stale entry


def test_a_name_no_page_lists_is_found(tmp_path):
    for filename in os.listdir(os.path.join(DOCS, 'api')):
        if filename.endswith('.rst') and filename != apinames.OTHER:
            with open(os.path.join(DOCS, 'api', filename), encoding='utf-8') as handle:
                text = handle.read()
            (tmp_path / filename).write_text(text.replace('   data.text\n', ''),
                                             encoding='utf-8')
    before = set(apinames.unlisted_names())
    after = set(apinames.unlisted_names(str(tmp_path)))
    assert 'theanets.data.text' not in before
    assert after - before == {'theanets.data.text'}


def test_a_class_counts_as_listed_where_a_package_reexports_it():
    listed = apinames.listed_names()
    assert 'theanets.downhill.Adam' in listed
    assert 'theanets.downhill.adaptive.Adam' not in listed
    assert 'theanets.downhill.adaptive.Adam' not in apinames.unlisted_names()


def test_the_other_names_page():
    page = apinames.other_names_page(['theanets.data.text', 'theanets.util.log'])
    assert 'theanets.data\n-------------\n' in page
    assert '   data.text\n' in page and '   util.log\n' in page
    assert 'Every public name' in apinames.other_names_page([])


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
