"""Held-out splits by whole episodes, the rows left in each episode, and random trajectories."""

import numpy as np
import pytest

from wm_jax.data import DataError, collect_transitions, random_trajectory, split_by_episode
from wm_jax.transitions import steps_to_episode_end


def test_split_by_episode_never_puts_an_episode_on_both_sides(cartpole_small):
    split = split_by_episode(cartpole_small, 0.25, seed=0)
    assert split.train.size + split.held_out.size == cartpole_small.size
    assert not set(split.train.episode) & set(split.held_out.episode)
    np.testing.assert_array_equal(np.unique(split.held_out.episode), split.held_out_episodes)
    assert 0.25 * cartpole_small.size <= split.held_out.size < 0.25 * cartpole_small.size + 200
    for side in (split.train, split.held_out):
        assert side.step[0] == 0 and np.all(np.diff(side.episode) >= 0)


def test_split_by_episode_is_seeded(cartpole_small):
    a, b, c = (split_by_episode(cartpole_small, 0.2, seed=s).held_out_episodes for s in (0, 0, 1))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_a_dataset_splits_as_its_transitions_do():
    from wm_jax.data import collect_dataset

    dataset = collect_dataset("CartPole-v1", seed=0, transitions=300)
    whole, rows = split_by_episode(dataset, 0.2, seed=3), split_by_episode(dataset.transitions, 0.2, seed=3)
    for a, b in ((whole.train, rows.train), (whole.held_out, rows.held_out)):
        np.testing.assert_array_equal(a.states, b.states)


def test_split_needs_two_episodes():
    one = collect_transitions("Pendulum-v1", seed=0, episodes=1, max_episode_steps=10)
    with pytest.raises(DataError, match="only 1 episode"):
        split_by_episode(one, 0.2)


def test_steps_to_episode_end_counts_rows_left_in_each_episode():
    np.testing.assert_array_equal(steps_to_episode_end(np.array([0, 0, 0, 4, 7, 7])), [3, 2, 1, 1, 2, 1])


def test_random_trajectory_has_the_requested_length():
    trajectory = random_trajectory("CartPole-v1", steps=20, seed=0)
    assert trajectory.size == 20
