"""The growing device buffer and bootstrap resamples within its valid rows."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tests.helpers import cartpole_spec
from wm_jax.config import TrainConfig
from wm_jax.training import TrainingData, append, bootstrap_rows, make_train, to_buffer, valid_rows


@pytest.mark.slow  # compiles a chunk per capacity
def test_a_growing_buffer_reuses_the_compiled_chunk_until_it_outgrows_its_capacity(cartpole_small):
    spec = cartpole_spec(2)
    program = make_train(spec, TrainConfig(epochs=1))
    chunk = jax.jit(lambda s, d: program.train_chunk(s, d, 1))
    state = program.start(program.init(jax.random.key(0)), jax.random.key(1))
    buffer = to_buffer(cartpole_small.take(slice(0, 100)), capacity=256)
    sizes, capacities = [], []
    for start in range(100, 600, 100):
        state, _ = chunk(state, TrainingData(buffer))
        sizes.append(int(buffer.size))
        capacities.append(buffer.capacity)
        buffer = append(buffer, cartpole_small.take(slice(start, start + 100)))
    assert sizes == [100, 200, 300, 400, 500] and capacities == [256, 256, 512, 512, 512]
    assert chunk._cache_size() == 2, "one compilation per capacity, none per size"
    assert buffer.capacity == 1024 and int(buffer.size) == 600
    np.testing.assert_array_equal(valid_rows(buffer).states, cartpole_small.states)
    np.testing.assert_array_equal(valid_rows(buffer).actions, cartpole_small.actions)


def test_bootstrap_resamples_are_per_member_fixed_across_epochs_and_within_the_valid_rows():
    rows = np.asarray(bootstrap_rows(jax.random.key(0), jnp.int32(500), 4, 1024))
    assert rows.shape == (4, 1024) and rows.min() >= 0 and rows[:, :500].max() < 500
    assert len({tuple(r[:500]) for r in rows}) == 4, "each member has its own resample"
    assert 0.55 < np.mean([len(np.unique(r[:500])) / 500 for r in rows]) < 0.72, "about 1 - 1/e distinct rows"
    np.testing.assert_array_equal(rows, bootstrap_rows(jax.random.key(0), jnp.int32(500), 4, 1024))
