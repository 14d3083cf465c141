"""The engine's shuffle: `jax.random.permutation` bit for bit, and a stable radix argsort."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest


@pytest.mark.parametrize("n", [1, 2, 37, 8947, 65536, 70001])
def test_the_engine_shuffle_is_jax_random_permutation_bit_for_bit(n):
    from wm_jax.training.shuffle import permutation

    for seed in range(3):
        key = jax.random.fold_in(jax.random.key(seed), n)
        mine = jax.jit(permutation, static_argnums=1)(key, n)
        np.testing.assert_array_equal(np.asarray(mine), np.asarray(jax.random.permutation(key, n)))
        assert mine.dtype == jax.random.permutation(key, n).dtype


def test_the_radix_argsort_keeps_ties_in_index_order_like_a_stable_sort():
    from wm_jax.training.shuffle import stable_argsort_uint32

    rng = np.random.default_rng(0)
    for n, distinct in ((10, 3), (1000, 5), (5000, 2**32 - 1), (300, 1)):
        keys = jnp.asarray(rng.integers(0, distinct, n, endpoint=True), jnp.uint32)
        _, reference = jax.lax.sort_key_val(keys, jnp.arange(n, dtype=jnp.int32))
        np.testing.assert_array_equal(np.asarray(stable_argsort_uint32(keys)), np.asarray(reference))
