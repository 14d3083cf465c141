"""The imagination core inside the planners' objective: TS-inf particles each follow one member."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tests.helpers import cartpole_model
from wm_jax.envs import env_spec


@pytest.mark.slow  # compiles several programs (seconds)
def test_tsinf_particles_follow_one_member_each_and_stop_scoring_at_termination():
    """Particle p rolls through elite p mod K alone: the imagined return equals the mean over
    members of a hand rollout with `apply_member`, counting +1 until CartPole's termination."""
    from wm_jax.models import apply_member
    from wm_jax.planning.imagination import imagined_returns

    cartpole = env_spec("CartPole-v1").planning_objective("known")
    model = cartpole_model(members=3)
    start = jnp.asarray([0.0, 0.5, 0.05, 0.5])
    sequences = jax.random.randint(jax.random.key(1), (4, 25), 0, 2)
    got = imagined_returns(model, cartpole, start, sequences, jax.random.key(2), particles=3, mode="tsinf")
    expected = np.zeros(4)
    for e in range(3):
        params = jax.tree.map(lambda x: x[e], model.params)
        for c in range(4):
            state, alive, total = start[None], True, 0.0
            for t in range(25):
                action = model.spec.encode_actions(sequences[c, t : t + 1])
                state = apply_member(model.graphdef, params, state, action, normalizer=model.normalizer)
                if alive:
                    total += 1.0
                alive = alive and not bool(cartpole(None, None, state[0])[1])
            expected[c] += total / 3
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    assert (np.asarray(got) < 25).any(), "an untrained model lets some particles terminate"
