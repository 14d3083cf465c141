"""Data collection, the versioned .npz format, its validation, version-1 files and splits by episode."""

import json

import numpy as np
import pytest

from wm_jax.data import (
    FORMAT_VERSION,
    DataError,
    Dataset,
    check_data_matches_model,
    collect_dataset,
    collect_transitions,
    load_dataset,
    random_trajectory,
    save_dataset,
    split_by_episode,
)
from wm_jax.envs import SUPPORTED_ENVS, EnvError
from wm_jax.transitions import Transitions, steps_to_episode_end


@pytest.fixture(scope="module")
def cartpole_dataset():
    return collect_dataset("CartPole-v1", seed=0, transitions=600)


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


def test_unknown_env_is_rejected_naming_the_supported_ones():
    with pytest.raises(EnvError, match="CartPole-v1"):
        collect_transitions("NoSuchEnv-v0", seed=0, transitions=10)


def test_save_then_load_round_trips_arrays_and_metadata(tmp_path, cartpole_dataset):
    path = tmp_path / "d.npz"
    save_dataset(cartpole_dataset, path)
    loaded = load_dataset(path)
    for x, y in zip(cartpole_dataset.transitions, loaded.transitions):
        np.testing.assert_array_equal(x, y)
        assert x.dtype == y.dtype
    assert loaded.info == cartpole_dataset.info
    with np.load(path) as archive:
        metadata = json.loads(str(archive["metadata"]))
    assert metadata["format_version"] == FORMAT_VERSION == 2
    assert metadata["env_id"] == "CartPole-v1"
    assert metadata["action_space"] == {"type": "Discrete", "n": 2}
    assert metadata["observation_space"]["shape"] == [4] and metadata["observation_space"]["high"][1] == "inf"
    assert metadata["collection"]["backend"] == "gymnasium" and metadata["collection"]["seed"] == 0


def test_box_spaces_are_recorded_with_their_bounds(tmp_path):
    path = tmp_path / "p.npz"
    save_dataset(collect_dataset("Pendulum-v1", seed=0, transitions=30), path)
    with np.load(path) as archive:
        metadata = json.loads(str(archive["metadata"]))
    assert metadata["action_space"] == {"type": "Box", "shape": [1], "low": [-2.0], "high": [2.0]}


def _write(path, data: Transitions, info):
    np.savez(path, **data._asdict(), metadata=np.asarray(json.dumps(info.to_json())))


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: {"states": d.states.astype(np.float64)}, "states must be float32"),
        (lambda d: {"actions": d.actions.astype(np.float32)[:, None]}, "Discrete actions must be integer"),
        (lambda d: {"actions": np.where(np.arange(len(d.actions)) == 3, 7, d.actions).astype(np.int32)}, r"\[0, 2\)"),
        (lambda d: {"next_states": d.next_states[:-1]}, "next_states has"),
        (lambda d: {"next_states": d.next_states[:, :3]}, "columns"),
        (lambda d: {"states": np.where(np.arange(len(d.states))[:, None] == 5, np.nan, d.states).astype(np.float32)},
         "non-finite values \\(first in row 5\\)"),
        (lambda d: {"episode": d.episode[::-1].copy()}, "must not decrease"),
        (lambda d: {"step": (d.step * 2).astype(np.int32)}, "count up by one"),
        (lambda d: {"truncated": np.zeros_like(d.truncated)}, "ends without terminated or truncated"),
        (lambda d: {"terminated": d.terminated | (d.step == 0)}, "the next row continues it"),
        (lambda d: {"next_states": (d.next_states + np.float32(1e-3)).astype(np.float32)}, "is not row"),
    ],
)
def test_loading_rejects_bad_arrays_with_a_message_saying_what_is_wrong(tmp_path, cartpole_dataset, change, message):
    path = tmp_path / "bad.npz"
    data = cartpole_dataset.transitions
    _write(path, data._replace(**change(data)), cartpole_dataset.info)
    with pytest.raises(DataError, match=message):
        load_dataset(path)


def test_loading_reports_missing_keys_missing_files_and_non_npz_files(tmp_path, cartpole_small):
    np.savez(tmp_path / "partial.npz", states=cartpole_small.states)
    with pytest.raises(DataError, match="missing keys actions"):
        load_dataset(tmp_path / "partial.npz")
    with pytest.raises(DataError, match="no such file"):
        load_dataset(tmp_path / "absent.npz")
    (tmp_path / "text.npz").write_text("not an archive")
    with pytest.raises(DataError, match="not a .npz archive"):
        load_dataset(tmp_path / "text.npz")


def _version_1_file(path, data: Transitions, env_id="CartPole-v1", cut_last=True):
    """What `wm-jax collect` wrote before format 2: a float action column, no episodes, no metadata,
    and the budget-cut last episode left unmarked."""
    truncated = data.truncated.copy()
    if cut_last:
        truncated[-1] = False
    extra = {"env_id": np.asarray(env_id)} if env_id else {}
    np.savez(path, states=data.states, actions=data.actions.astype(np.float32)[:, None], next_states=data.next_states,
             rewards=data.rewards, terminated=data.terminated, truncated=truncated, **extra)


def test_version_1_files_load_with_episodes_recovered_and_the_cut_episode_marked(tmp_path, cartpole_dataset):
    data = cartpole_dataset.transitions
    _version_1_file(tmp_path / "v1.npz", data)
    loaded = load_dataset(tmp_path / "v1.npz")
    assert loaded.info.format_version == 1 and loaded.info.env_id == "CartPole-v1"
    for field in Transitions._fields:
        np.testing.assert_array_equal(getattr(loaded.transitions, field), getattr(data, field), err_msg=field)
    assert loaded.info.cut_episodes == (int(data.episode[-1]),)


def test_version_1_file_without_env_keeps_float_actions_and_cannot_be_scored_by_an_env_model(tmp_path, cartpole_small):
    _version_1_file(tmp_path / "v1.npz", cartpole_small, env_id=None)
    loaded = load_dataset(tmp_path / "v1.npz")
    assert loaded.info.env_id is None and loaded.transitions.actions.shape == (600, 1)
    with pytest.raises(DataError, match="takes Discrete"):
        check_data_matches_model(loaded, "CartPole-v1", 4, "v1.npz")


def test_a_model_rejects_data_from_another_environment_with_the_same_shapes():
    car = collect_dataset("MountainCarContinuous-v0", seed=0, transitions=20)
    with pytest.raises(DataError, match="collected from MountainCarContinuous-v0, but the model is for MountainCar-v0"):
        check_data_matches_model(car, "MountainCar-v0", 2, "car.npz")
    check_data_matches_model(car, "MountainCarContinuous-v0", 2, "car.npz")


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


def test_split_needs_two_episodes():
    one = collect_transitions("Pendulum-v1", seed=0, episodes=1, max_episode_steps=10)
    with pytest.raises(DataError, match="only 1 episode"):
        split_by_episode(one, 0.2)


def test_steps_to_episode_end_counts_rows_left_in_each_episode():
    np.testing.assert_array_equal(steps_to_episode_end(np.array([0, 0, 0, 4, 7, 7])), [3, 2, 1, 1, 2, 1])


def test_random_trajectory_has_the_requested_length():
    trajectory = random_trajectory("CartPole-v1", steps=20, seed=0)
    assert trajectory.size == 20


def test_dataset_is_a_pair_of_rows_and_provenance(cartpole_dataset):
    assert isinstance(cartpole_dataset, Dataset) and cartpole_dataset.info.env_id == "CartPole-v1"
