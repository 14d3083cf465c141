"""Data collection, the .npz format and its validation."""

import numpy as np
import pytest

from wm_jax.data import (
    SUPPORTED_ENVS,
    DataError,
    Transitions,
    collect_transitions,
    load_transitions,
    random_trajectory,
    save_transitions,
    split_train_eval,
)


def test_collected_cartpole_arrays_have_the_documented_shapes_and_dtypes(cartpole_small):
    data = cartpole_small
    assert data.states.shape == (600, 4) and data.next_states.shape == (600, 4)
    assert data.actions.shape == (600, 1), "a Discrete action is one float column"
    assert data.states.dtype == data.actions.dtype == data.next_states.dtype == np.float32
    assert set(np.unique(data.actions)) <= {0.0, 1.0}
    assert data.rewards.shape == data.terminated.shape == data.truncated.shape == (600,)


def test_next_state_is_the_following_state_within_an_episode(cartpole_small):
    data = cartpole_small
    continuing = ~(data.terminated | data.truncated)[:-1]
    np.testing.assert_array_equal(data.next_states[:-1][continuing], data.states[1:][continuing])


def test_episodes_are_capped_at_the_tutorials_200_steps():
    data = collect_transitions("CartPole-v1", seed=0, episodes=3, max_episode_steps=5)
    assert data.size <= 15
    ends = np.flatnonzero(data.terminated | data.truncated)
    assert len(ends) == 3 and np.all(np.diff(np.concatenate([[-1], ends])) <= 5)


def test_episodes_flag_collects_whole_episodes():
    data = collect_transitions("CartPole-v1", seed=3, episodes=4)
    assert int((data.terminated | data.truncated).sum()) == 4
    assert data.terminated[-1] or data.truncated[-1]


def test_same_seed_same_data_different_seed_different_data():
    a = collect_transitions("CartPole-v1", seed=7, transitions=200)
    b = collect_transitions("CartPole-v1", seed=7, transitions=200)
    c = collect_transitions("CartPole-v1", seed=8, transitions=200)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a.states, c.states)


@pytest.mark.parametrize("env_id", SUPPORTED_ENVS)
def test_every_supported_env_collects_2d_float_arrays(env_id):
    data = collect_transitions(env_id, seed=0, transitions=50)
    assert data.states.ndim == data.actions.ndim == 2 and data.size == 50
    assert data.next_states.shape == data.states.shape


def test_unknown_env_is_rejected_naming_the_supported_ones():
    with pytest.raises(DataError, match="CartPole-v1"):
        collect_transitions("NoSuchEnv-v0", seed=0, transitions=10)


def test_save_then_load_round_trips_exactly(tmp_path, cartpole_small):
    path = tmp_path / "d.npz"
    save_transitions(cartpole_small, path, env_id="CartPole-v1")
    loaded = load_transitions(path)
    for x, y in zip(cartpole_small, loaded):
        np.testing.assert_array_equal(x, y)
        assert x.dtype == y.dtype


def _corrupt(data: Transitions, **changes) -> Transitions:
    return data._replace(**changes)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: {"states": d.states.astype(np.float64)}, "states must be float32"),
        (lambda d: {"actions": d.actions[:, 0]}, "actions must be 2-D"),
        (lambda d: {"next_states": d.next_states[:-1]}, "next_states has"),
        (lambda d: {"next_states": d.next_states[:, :3]}, "columns"),
        (lambda d: {"states": np.where(np.arange(len(d.states))[:, None] == 5, np.nan, d.states).astype(np.float32)},
         "non-finite values \\(first in row 5\\)"),
    ],
)
def test_loading_rejects_bad_arrays_with_a_message_saying_what_is_wrong(tmp_path, cartpole_small, change, message):
    path = tmp_path / "bad.npz"
    np.savez(path, **_corrupt(cartpole_small, **change(cartpole_small))._asdict())
    with pytest.raises(DataError, match=message):
        load_transitions(path)


def test_loading_reports_missing_keys_missing_files_and_non_npz_files(tmp_path, cartpole_small):
    np.savez(tmp_path / "partial.npz", states=cartpole_small.states)
    with pytest.raises(DataError, match="missing keys actions"):
        load_transitions(tmp_path / "partial.npz")
    with pytest.raises(DataError, match="no such file"):
        load_transitions(tmp_path / "absent.npz")
    (tmp_path / "text.npz").write_text("not an archive")
    with pytest.raises(DataError, match="not a .npz archive"):
        load_transitions(tmp_path / "text.npz")


def test_held_out_split_is_disjoint_and_complete(cartpole_small):
    train, held_out = split_train_eval(cartpole_small, 0.25, seed=0)
    assert train.size + held_out.size == cartpole_small.size and held_out.size == 150
    rows = {tuple(r) for r in np.concatenate([train.states, train.actions], 1)}
    assert not rows & {tuple(r) for r in np.concatenate([held_out.states, held_out.actions], 1)}


def test_random_trajectory_has_the_requested_length():
    trajectory = random_trajectory("CartPole-v1", steps=20, seed=0)
    assert trajectory.size == 20
