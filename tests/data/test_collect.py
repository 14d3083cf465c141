"""Data collection: the documented shapes and dtypes, episodes and their cuts and caps, seeds, unknown environments."""

import numpy as np
import pytest

from wm_jax.data import collect_dataset, collect_transitions
from wm_jax.envs import EnvError


def test_collected_cartpole_arrays_have_the_documented_shapes_and_dtypes(cartpole_small):
    data = cartpole_small
    assert data.states.shape == (600, 4) and data.next_states.shape == (600, 4)
    assert data.actions.shape == (600,) and data.actions.dtype == np.int32, "a Discrete action is stored as its index"
    assert set(np.unique(data.actions)) <= {0, 1}
    assert data.states.dtype == data.next_states.dtype == np.float32
    for field in ("rewards", "terminated", "truncated", "episode", "step"):
        assert getattr(data, field).shape == (600,), field


def test_episode_and_step_describe_the_episodes(cartpole_small):
    data = cartpole_small
    starts = np.flatnonzero(data.step == 0)
    assert starts[0] == 0 and len(starts) == data.episode_count
    np.testing.assert_array_equal(data.episode[starts], np.arange(len(starts)))
    ends = data.terminated | data.truncated
    np.testing.assert_array_equal(np.flatnonzero(ends), np.append(starts[1:] - 1, data.size - 1))
    within = data.episode[1:] == data.episode[:-1]
    np.testing.assert_array_equal(data.next_states[:-1][within], data.states[1:][within])


def test_the_episode_cut_by_the_transition_budget_is_marked(cartpole_dataset):
    data, info = cartpole_dataset
    last = int(data.episode[-1])
    assert data.truncated[-1] and not data.terminated[-1]
    assert info.cut_episodes == (last,), "the budget cut the last episode; it must be listed"


def test_whole_episodes_are_not_marked_cut():
    dataset = collect_dataset("CartPole-v1", seed=3, episodes=4)
    assert dataset.transitions.episode_count == 4 and dataset.info.cut_episodes == ()
    assert int((dataset.transitions.terminated | dataset.transitions.truncated).sum()) == 4


def test_episodes_are_capped_and_capped_steps_are_truncated_not_terminated():
    data = collect_transitions("Pendulum-v1", seed=0, episodes=3, max_episode_steps=5)
    assert data.size == 15
    np.testing.assert_array_equal(data.truncated, data.step == 4)
    assert not data.terminated.any()


def test_same_seed_same_data_different_seed_different_data():
    a = collect_transitions("CartPole-v1", seed=7, transitions=200)
    b = collect_transitions("CartPole-v1", seed=7, transitions=200)
    c = collect_transitions("CartPole-v1", seed=8, transitions=200)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a.states, c.states)


def test_unknown_env_is_rejected_naming_the_supported_ones():
    with pytest.raises(EnvError, match="CartPole-v1"):
        collect_transitions("NoSuchEnv-v0", seed=0, transitions=10)
