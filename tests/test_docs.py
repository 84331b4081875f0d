'''The documentation: its API reference covers every public name; the Sphinx build.

The pages' code runs as doctests with the rest of the suite (pytest collects
docs/**/*.rst, see pyproject.toml).
'''

import os
import subprocess
import sys

import pytest

from docs import apinames, gallery

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


def test_the_examples_page_shows_each_program(tmp_path):
    (tmp_path / 'b.py').write_text("'''Second.\n\nMean |r| 0.5.'''\n", encoding='utf-8')
    (tmp_path / 'a.py').write_text("'''First, ``clean``.\n\nUsage::\n\n    python a.py\n'''\n",
                                   encoding='utf-8')
    (tmp_path / 'notes.txt').write_text('not a program', encoding='utf-8')
    items = gallery.programs(str(tmp_path))
    assert [name for name, _ in items] == ['a.py', 'b.py']
    page = gallery.examples_page(items)
    assert page.index('a.py\n====') < page.index('b.py\n====')
    assert '.. literalinclude:: ../examples/a.py' in page
    assert '.. literalinclude:: ../examples/b.py' in page
    # clean reStructuredText is kept; anything else is shown as plain text
    assert 'First, ``clean``.\n' in page and '.. code-block:: text\n\n   Second.' in page


def test_every_example_program_is_on_the_page():
    names = [name for name, _ in gallery.programs()]
    assert 'digits_autoencoder.py' in names
    page = gallery.examples_page(gallery.programs())
    for name in names:
        assert '.. literalinclude:: ../examples/{}'.format(name) in page


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
