"""The registered environments: their specs against gymnasium, the actions collected from each in its
declared action space, and a registry that loads neither JAX nor gymnasium."""

import subprocess
import sys

import gymnasium
import numpy as np
import pytest

from wm_jax.data import collect_transitions
from wm_jax.envs import ENVS, SUPPORTED_ENVS, Discrete, env_spec


@pytest.mark.parametrize("env_id", sorted(ENVS))
def test_registered_spec_matches_gymnasium(env_id):
    spec, env = env_spec(env_id), gymnasium.make(env_id)
    np.testing.assert_allclose(spec.observation_space.low, env.observation_space.low, rtol=1e-6)
    np.testing.assert_allclose(spec.observation_space.high, env.observation_space.high, rtol=1e-6)
    if isinstance(spec.action_space, Discrete):
        assert spec.action_space.n == env.action_space.n
    else:
        np.testing.assert_allclose(spec.action_space.low, env.action_space.low)
        np.testing.assert_allclose(spec.action_space.high, env.action_space.high)
    assert len(spec.state_labels) == spec.state_dim
    assert spec.time_limit == env.spec.max_episode_steps, "agents are evaluated under gymnasium's own limit"
    assert spec.max_episode_steps == 200, "random data keeps the tutorial's 200-step cap"
    assert spec.reward_fn is not None and spec.termination_fn is not None and spec.gymnax is not None


def test_importing_the_environments_loads_neither_jax_nor_gymnasium():
    """Loading a data file or a model reads the specs; the reward functions import jax.numpy on first use."""
    code = (
        "import sys, wm_jax.envs as envs; assert envs.ENVS['CartPole-v1'].state_dim == 4; "
        "print(sorted(m for m in ('jax', 'gymnasium', 'gymnax') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", out


@pytest.mark.parametrize("env_id", SUPPORTED_ENVS)
def test_every_supported_env_collects_raw_actions_in_its_action_space(env_id):
    from wm_jax.envs import env_spec

    info = env_spec(env_id)
    data = collect_transitions(env_id, seed=0, transitions=50)
    assert data.size == 50 and data.states.shape == (50, info.state_dim) and data.next_states.shape == data.states.shape
    if info.discrete:
        assert data.actions.shape == (50,) and data.actions.dtype == np.int32
        assert data.actions.min() >= 0 and data.actions.max() < info.action_space.n
    else:
        assert data.actions.shape == (50, 1) and data.actions.dtype == np.float32
        assert np.all(data.actions >= info.action_space.low[0]) and np.all(data.actions <= info.action_space.high[0])


def test_an_environment_known_only_from_recorded_spaces_is_not_played_or_collected():
    """A data file or a model carries its environment's spaces, so they load where it is not installed; a run
    that plays or collects real episodes still needs gymnasium to make it, and says so in one line."""
    from wm_jax.envs import EnvError, check_env_id, check_playable
    from wm_jax.envs.registry import describe_env
    from wm_jax.envs.spaces import Box

    describe_env("WmJaxRecordedOnly-v0", Box((-1.0,) * 2, (1.0,) * 2), Discrete(2), 50)
    check_env_id("WmJaxRecordedOnly-v0")  # known: data and models of it load
    for attempt in (
        lambda: check_playable("WmJaxRecordedOnly-v0"),
        lambda: collect_transitions("WmJaxRecordedOnly-v0", seed=0, transitions=10),
    ):
        with pytest.raises(EnvError, match="unsupported environment 'WmJaxRecordedOnly-v0'"):
            attempt()
