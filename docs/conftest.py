'''The pages of the documentation run as doctests (``--doctest-glob='*.rst'``).

Sphinx's configuration and its build output are not tests.
'''

collect_ignore = ['conf.py']
collect_ignore_glob = ['_build/*', 'api/generated/*']
