"""Random draws under JAX: which generator a model's noise and dropout use,
and how the JAX mode draws them.

A model with noise or dropout draws from generators seeded by the
regularizer's ``rng`` (:class:`theanets._backend.RandomSource`). In the JAX
mode the draws come from JAX: each call splits the generator's key
(``jax.random.split``, as PyTensor's JAX mode does for any draw) and hashes
the element's index with the new key (:func:`random_bits`, two rounds of a
32-bit integer mixer). The same seed gives the same draws on every run in
the JAX mode, but not the draws of PyTensor's other modes (numpy's
generator), nor the original library's.

Why not ``jax.random.normal``: measured on one core, threefry's bits for a
128 x 784 batch took 1.8 ms and the normal draws 2.8 ms, a third of the
autoencoder benchmark's step; the hash takes 0.4 ms (normals, through
``erf_inv``, 1.4 ms). Masks and noise need independent-looking draws, not
cryptographic ones.

Why not Numba, to keep numpy's draws: compiling such a model with Numba
cost users minutes (for one RNN the first ``train`` took 382 s instead of
39.5 s). So JAX is the default, and numpy's draws are one setting away:
``THEANETS_DRAWS=numpy`` (see :func:`draws`).
"""

from __future__ import annotations

from .. import util

__all__ = ["ENV_VAR", "CHOICES", "draws", "random_bits", "normal", "binomial", "register"]

#: The environment variable choosing the generator of noise and dropout.
ENV_VAR = "THEANETS_DRAWS"
#: Its values: JAX's generator (compiled by JAX), or numpy's (compiled by
#: PyTensor's default mode, Numba, as the other modes draw).
CHOICES = ("jax", "numpy")

_REGISTERED: list[bool] = []


def draws() -> str:
    """The generator of a model's random draws: ``'jax'`` or ``'numpy'``.

    Read from ``THEANETS_DRAWS`` at each compilation (``jax`` if unset), so
    it can be set in a running notebook before the next ``train``.

    Returns
    -------
    str

    Raises
    ------
    ValueError
        If ``THEANETS_DRAWS`` has another value than ``jax`` or ``numpy``.

    Examples
    --------
    >>> draws() in ('jax', 'numpy')
    True
    """
    return util.env_choice(ENV_VAR, CHOICES)


_GOLDEN = 0x9E3779B9


def _mix(h):
    """A 32-bit integer hash round (lowbias32: xor-shift, multiply, twice)."""
    import jax.numpy as jnp

    h = h ^ (h >> 16)
    h = h * jnp.uint32(0x7FEB352D)
    h = h ^ (h >> 15)
    h = h * jnp.uint32(0x846CA68B)
    return h ^ (h >> 16)


def _shape(size, *params):
    import jax.numpy as jnp
    import numpy as np

    if size is None:
        return tuple(jnp.broadcast_shapes(*(jnp.shape(p) for p in params)))
    # concrete while tracing (theanets._jax.convert keeps shapes concrete)
    return tuple(int(s) for s in np.asarray(size).reshape(-1))


def _raw(key):
    """The words of ``key``: a raw key as it is, a typed JAX key's data."""
    import jax
    import jax.numpy as jnp

    return jax.random.key_data(key) if jnp.issubdtype(key.dtype, jax.dtypes.prng_key) else key


def random_bits(key, shape):
    """uint32 draws of ``shape``: each element's index hashed with ``key``.

    Parameters
    ----------
    key : jax array
        A raw key (uint32, two or more words) or a typed JAX key.
    shape : tuple of int

    Examples
    --------
    >>> import jax, numpy as np
    >>> bits = np.asarray(random_bits(jax.random.PRNGKey(1), (2, 3)))
    >>> bits.shape, str(bits.dtype), len(set(bits.ravel().tolist()))
    ((2, 3), 'uint32', 6)
    """
    import jax
    import jax.numpy as jnp
    import numpy as np

    words = _raw(key).reshape(-1).astype(jnp.uint32)
    count = int(np.prod(shape, dtype=np.int64))
    if count >= 2**32:
        raise ValueError("cannot draw {} numbers at once (at most 2**32 - 1)".format(count))
    index = jax.lax.iota(jnp.uint32, count)
    bits = _mix(_mix(index * jnp.uint32(_GOLDEN) + words[0]) ^ words[1])
    return bits.reshape(shape)


def _unit(key, shape, dtype):
    """Uniform draws in (0, 1), 24 random bits each."""
    import jax.numpy as jnp

    high = (random_bits(key, shape) >> 8).astype(dtype)
    return (high + 0.5) * jnp.asarray(2.0**-24, dtype)


def normal(key, loc, scale, shape, dtype):
    """Normal draws (the inverse error function of :func:`_unit`'s uniforms).

    Examples
    --------
    >>> import jax, numpy as np
    >>> z = np.asarray(normal(jax.random.PRNGKey(0), 0.0, 1.0, (200000,), 'float32'))
    >>> bool(abs(z.mean()) < 0.01 and abs(z.std() - 1) < 0.01)
    True
    """
    import jax
    import jax.numpy as jnp

    u = _unit(key, shape, dtype)
    z = jnp.asarray(2.0**0.5, dtype) * jax.lax.erf_inv(2 * u - 1)
    return (loc + scale * z).astype(dtype)


def binomial(key, n, p, shape, dtype):
    """Binomial draws; where ``n`` is the constant 1 (dropout's masks), one
    comparison of a uniform draw with ``p`` per element.

    Examples
    --------
    >>> import jax, numpy as np
    >>> mask = np.asarray(binomial(jax.random.PRNGKey(0), 1, 0.5, (1000,), 'int32'))
    >>> str(mask.dtype), 400 < int(mask.sum()) < 600, set(np.unique(mask).tolist())
    ('int32', True, {0, 1})
    """
    import jax
    import jax.numpy as jnp
    import numpy as np

    if not isinstance(n, jax.core.Tracer) and np.all(np.asarray(n) == 1):
        return (_unit(key, shape, jnp.float32) < p).astype(dtype)
    n = jnp.asarray(n, dtype=jnp.result_type(float))
    return jax.random.binomial(_raw(key).reshape(-1)[:2], n, p, shape=shape).astype(dtype)


def register() -> None:
    """Register the JAX mode's draws for :class:`theanets._backend.RandomSource`'s
    draws (their own op types: nobody else's draws change).

    Once per process, when the first JAX mode is made.
    """
    if _REGISTERED:
        return
    from pytensor.link.jax.dispatch.random import jax_sample_fn

    from .._backend import SourceBinomial, SourceNormal

    @jax_sample_fn.register(SourceNormal)
    def sample_normal(op, node):
        def sample_fn(rng_key, size, dtype, loc, scale):
            return normal(rng_key, loc, scale, _shape(size, loc, scale), dtype)

        return sample_fn

    @jax_sample_fn.register(SourceBinomial)
    def sample_binomial(op, node):
        def sample_fn(rng_key, size, dtype, n, p):
            return binomial(rng_key, n, p, _shape(size, n, p), dtype)

        return sample_fn

    _REGISTERED.append(True)
