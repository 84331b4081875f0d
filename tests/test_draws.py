"""Noise and dropout draws: JAX's generator in the JAX mode, numpy's one
setting away (``THEANETS_DRAWS=numpy``), and nobody else's draws changed.

The JAX mode draws theanets' noise and dropout with its own generator
(:mod:`theanets._jax.draws`): these tests check the distributions it gives
through real compiled PyTensor functions, that the draws change from call
to call and repeat for a seed, and that the other modes still draw
exactly PyTensor's (numpy's) numbers.
"""

import numpy as np
import pytensor
import pytensor.tensor as TT
import pytest

from theanets import _backend, _mode

jax = pytest.importorskip("jax")


def _compiled(draw, mode):
    """A function of no input returning ``draw(source)`` and updating the source."""
    source = _backend.RandomSource(7)
    value = draw(source)
    return pytensor.function([], value, updates=source.updates(), mode=mode)


def _jax():
    return _mode.jax_mode()


def test_normal_draws_have_the_asked_moments_and_tails():
    f = _compiled(lambda s: s.normal(1.5, 0.5, (200, 500), dtype="float32"), _jax())
    z = (np.asarray(f()) - 1.5) / 0.5
    assert abs(z.mean()) < 0.01 and abs(z.std() - 1) < 0.01
    # the tails of a normal: P(|z| > 2) = 0.0455, P(|z| > 3) = 0.0027
    assert abs(np.mean(np.abs(z) > 2) - 0.0455) < 0.003
    assert abs(np.mean(np.abs(z) > 3) - 0.0027) < 0.0006
    # deciles of the standard normal
    expect = [-1.2816, -0.8416, -0.5244, -0.2533, 0.0, 0.2533, 0.5244, 0.8416, 1.2816]
    np.testing.assert_allclose(np.quantile(z, np.arange(1, 10) / 10), expect, atol=0.02)


def test_draws_are_independent_across_elements_and_calls():
    f = _compiled(lambda s: s.normal(0, 1, (400, 250), dtype="float32"), _jax())
    first, second = np.asarray(f()), np.asarray(f())
    assert not np.array_equal(first, second)
    flat = first.ravel()
    for lag in (1, 2, 250, 251):  # neighbours in a row, in a column
        assert abs(np.corrcoef(flat[:-lag], flat[lag:])[0, 1]) < 0.01, lag
    assert abs(np.corrcoef(flat, second.ravel())[0, 1]) < 0.01


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_dropout_masks_keep_the_asked_fraction(p):
    f = _compiled(lambda s: s.binomial(1, p, (300, 300)), _jax())
    masks = [np.asarray(f()) for _ in range(3)]
    for mask in masks:
        assert set(np.unique(mask).tolist()) <= {0, 1}
        assert abs(mask.mean() - p) < 0.005
    assert not np.array_equal(masks[0], masks[1])


def test_binomial_draws_of_more_than_one_trial():
    f = _compiled(lambda s: s.binomial(4, 0.25, (100, 200)), _jax())
    counts = np.asarray(f())
    assert set(np.unique(counts).tolist()) <= {0, 1, 2, 3, 4}
    assert abs(counts.mean() - 1.0) < 0.03


def test_the_same_seed_repeats_its_draws():
    draws = [
        np.asarray(_compiled(lambda s: s.normal(0, 1, (50, 4), dtype="float32"), _jax())())
        for _ in range(2)
    ]
    np.testing.assert_array_equal(*draws)


def test_draws_follow_a_symbolic_shape():
    x = TT.matrix("x")
    source = _backend.RandomSource(3)
    y = x * source.binomial(1, 0.5, x.shape)
    f = pytensor.function([x], y, updates=source.updates(), mode=_jax())
    for rows in (3, 17):
        out = np.asarray(f(np.ones((rows, 5), pytensor.config.floatX)))
        assert out.shape == (rows, 5)


def test_other_modes_draw_numpys_numbers():
    # THEANETS_DRAWS=numpy compiles with Numba: the draws must be exactly
    # those of PyTensor's own normal and binomial for the same generator
    ours = _compiled(
        lambda s: [s.normal(0, 1, (6,), dtype="float64"), s.binomial(1, 0.3, (8,))], "NUMBA"
    )()
    seeds = np.random.SeedSequence(7).spawn(2)
    normal = pytensor.shared(np.random.default_rng(seeds[0])).normal(0, 1, (6,), dtype="float64")
    binomial = pytensor.shared(np.random.default_rng(seeds[1])).binomial(1, 0.3, (8,))
    theirs = pytensor.function([], [normal[1], binomial[1]], mode="NUMBA")()
    np.testing.assert_array_equal(ours[0], theirs[0])
    np.testing.assert_array_equal(ours[1], theirs[1])


def test_draws_made_outside_theanets_keep_pytensors_jax_generator():
    # the JAX mode's generator is registered for theanets' draws only
    from pytensor.link.jax.dispatch.random import jax_sample_fn
    from pytensor.tensor.random.basic import BinomialRV, NormalRV

    _jax()  # registers it
    for base, ours in ((NormalRV, _backend.SourceNormal), (BinomialRV, _backend.SourceBinomial)):
        assert jax_sample_fn.dispatch(ours) is not jax_sample_fn.dispatch(base)
        assert jax_sample_fn.dispatch(ours).__module__ == "theanets._jax.draws"
        assert jax_sample_fn.dispatch(base).__module__.startswith("pytensor.")
    rng = np.random.default_rng(11)
    plain = pytensor.shared(rng).normal(0, 1, (4,), dtype="float64")[1]
    assert np.asarray(pytensor.function([], plain, mode=_jax())()).shape == (4,)
    assert type(plain.owner.op) is NormalRV
    assert type(_backend.RandomSource(11).normal(0, 1, (4,)).owner.op) is _backend.SourceNormal


def test_too_many_draws_at_once_are_refused():
    from theanets._jax import draws

    with pytest.raises(ValueError, match="at most 2\\*\\*32 - 1"):
        draws.random_bits(jax.random.PRNGKey(0), (2**16, 2**16))
