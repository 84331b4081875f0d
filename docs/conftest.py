"""The pages of the documentation run as doctests (``--doctest-glob='*.rst'``).

Sphinx's configuration and its build output are not tests. Classes that a
page defines (custom layers, losses, ...) register themselves by name; each
page's registrations are undone after it, so no page changes what the
registries hold for the tests that run later.
"""

import pytest

collect_ignore = ["conf.py", "examples.rst", "api/other.rst"]
collect_ignore_glob = ["_build/*", "api/generated/*"]


@pytest.fixture(autouse=True)
def _restore_registries():
    import theanets

    families = [
        theanets.layers.Layer,
        theanets.activations.Activation,
        theanets.losses.Loss,
        theanets.regularizers.Regularizer,
        theanets.downhill.Optimizer,
    ]
    saved = [dict(family._registry) for family in families]
    yield
    for family, registry in zip(families, saved, strict=True):
        family._registry.clear()
        family._registry.update(registry)
