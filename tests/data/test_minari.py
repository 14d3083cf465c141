"""Minari datasets in and out, on datasets made here in a temporary MINARI_DATASETS_PATH (nothing is
downloaded): exact round trips, datasets recorded by Minari's own DataCollector, and one-line refusals."""

import gymnasium
import minari
import numpy as np
import pytest
from minari.data_collector import EpisodeBuffer

from wm_jax.cli import main
from wm_jax.data import collect_dataset, load_dataset, save_dataset
from wm_jax.data.format import DataError
from wm_jax.data.minari_io import export_minari, import_minari


@pytest.fixture(autouse=True)
def minari_root(tmp_path, monkeypatch):
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    return tmp_path / "minari"


def assert_same_rows(a, b):
    for name in a._fields:
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and np.array_equal(x, y), name


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1"])
def test_export_then_import_gives_back_every_row_exactly(env_id, tmp_path, capsys):
    dataset = collect_dataset(env_id, transitions=450, seed=3)
    path = tmp_path / "data.npz"
    save_dataset(dataset, path)
    dataset_id = f"wmjax/{env_id.split('-')[0].lower()}-v0"
    assert main(["data", "export-minari", str(path), "--dataset-id", dataset_id, "--author", "Ada"]) == 0
    loaded = minari.load_dataset(dataset_id)
    assert (
        loaded.total_steps == 450 and loaded.spec.env_spec.id == env_id and loaded.storage.metadata["author"] == {"Ada"}
    )
    assert main(["data", "import-minari", dataset_id, "--out", str(tmp_path / "back.npz")]) == 0
    back = load_dataset(tmp_path / "back.npz")
    assert_same_rows(dataset.transitions, back.transitions)
    assert back.info.env_id == env_id and back.info.collection["dataset_id"] == dataset_id
    assert (back.info.observation_space, back.info.action_space) == (
        dataset.info.observation_space,
        dataset.info.action_space,
    )
    capsys.readouterr()
    assert main(["data", "export-minari", str(path), "--dataset-id", dataset_id]) == 2  # never overwritten
    assert "exists already" in capsys.readouterr().err


def test_a_dataset_recorded_by_minaris_data_collector_imports_row_for_row(minari_root):
    env = minari.DataCollector(gymnasium.make("Pendulum-v1"))
    env.reset(seed=0)
    for _ in range(2):
        env.reset()
        for _ in range(30):  # the second episode stays open: the dataset is made mid-episode
            env.step(env.action_space.sample())
        if _ == 0:
            env.step(env.action_space.sample())
    recorded = env.create_dataset(dataset_id="wmjax/collected-v0", algorithm_name="random")
    episodes = list(recorded.iterate_episodes())
    dataset = import_minari(str(minari_root / "wmjax" / "collected-v0"))  # by folder
    data = dataset.transitions
    assert data.size == recorded.total_steps == sum(len(e.actions) for e in episodes)
    observations = np.concatenate([e.observations[:-1] for e in episodes])
    np.testing.assert_array_equal(data.states, observations.astype(np.float32))
    np.testing.assert_array_equal(data.actions, np.concatenate([e.actions for e in episodes]).astype(np.float32))
    np.testing.assert_array_equal(data.rewards, np.concatenate([e.rewards for e in episodes]).astype(np.float32))
    assert data.episode_count == len(episodes)
    open_ended = [i for i, e in enumerate(episodes) if not (e.terminations[-1] or e.truncations[-1])]
    assert list(dataset.info.cut_episodes) == open_ended


def _buffer_dataset(dataset_id, observations, env=None):
    """A Minari dataset of one episode of `observations` (T+1, ...) with 2-way discrete actions."""
    steps = len(observations) - 1
    low, high = (np.full(observations.shape[1:], v, observations.dtype) for v in (0, 255))
    buffer = EpisodeBuffer(
        id=0,
        observations=observations,
        actions=np.zeros(steps, np.int64),
        rewards=[0.0] * steps,
        terminations=[False] * (steps - 1) + [True],
        truncations=[False] * steps,
    )
    return minari.create_dataset_from_buffers(
        dataset_id,
        buffer=[buffer],
        env=env,
        observation_space=gymnasium.spaces.Box(low, high, dtype=observations.dtype),
        action_space=gymnasium.spaces.Discrete(2),
    )


def test_a_dataset_that_names_no_environment_needs_env(tmp_path, capsys):
    _buffer_dataset("wmjax/anonymous-v0", np.arange(12, dtype=np.float32).reshape(6, 2))
    capsys.readouterr()
    assert main(["data", "import-minari", "wmjax/anonymous-v0", "--out", str(tmp_path / "a.npz")]) == 2
    error = capsys.readouterr().err.strip()
    assert error.endswith("the dataset names no environment: declare it with --env ID"), error
    assert not (tmp_path / "a.npz").exists()
    assert (
        main(["data", "import-minari", "wmjax/anonymous-v0", "--out", str(tmp_path / "a.npz"), "--env", "Two-v0"]) == 0
    )
    imported = load_dataset(tmp_path / "a.npz")
    assert imported.info.env_id == "Two-v0" and imported.transitions.size == 5


def test_image_observations_are_refused_in_one_line(tmp_path, capsys):
    _buffer_dataset("wmjax/pixels-v0", np.zeros((4, 8, 8, 3), np.uint8))
    with pytest.raises(DataError, match="is not supported; wm-jax models flat Box"):
        import_minari("wmjax/pixels-v0", "Pixels-v0")
    capsys.readouterr()
    argv = ["data", "import-minari", "wmjax/pixels-v0", "--env", "Pixels-v0", "--out", str(tmp_path / "p.npz")]
    assert main(argv) == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and "observation space" in error, error


def test_an_unknown_dataset_or_folder_is_one_line(tmp_path, capsys):
    for source in ("nobody/nothing-v0", str(tmp_path)):
        capsys.readouterr()
        assert main(["data", "import-minari", source, "--out", str(tmp_path / "x.npz")]) == 2
        error = capsys.readouterr().err.strip()
        assert "\n" not in error and ("no local Minari dataset" in error or "not a Minari dataset" in error), error


def test_export_needs_a_recorded_environment():
    dataset = collect_dataset("CartPole-v1", transitions=50, seed=0)
    unknown = dataset._replace(info=dataset.info.__class__(None, None, None))
    with pytest.raises(DataError, match="recorded environment"):
        export_minari(unknown, "wmjax/nothing-v0")


def test_a_dataset_from_plain_arrays_is_validated_like_a_file():
    from wm_jax.data import Dataset, declare_env

    states = np.arange(30, dtype=np.float64).reshape(10, 3) / 10
    dataset = Dataset.from_arrays("Pendulum-v1", states[:-1], np.zeros((9, 1)), states[1:], episode=[0] * 4 + [1] * 5)
    data = dataset.transitions
    assert dataset.info.env_id == "Pendulum-v1" and data.states.dtype == np.float32
    assert data.step.tolist() == [0, 1, 2, 3, 0, 1, 2, 3, 4] and data.truncated.tolist() == [0, 0, 0, 1, 0, 0, 0, 0, 1]
    broken = states[1:].copy()
    broken[1] += 1.0
    with pytest.raises(DataError, match="row 1's next state is not row 2's state"):
        Dataset.from_arrays("Pendulum-v1", states[:-1], np.zeros((9, 1)), broken, episode=[0] * 4 + [1] * 5)
    # A Discrete environment reads a float column of whole numbers as indices, and nothing else.
    cartpole = np.zeros((4, 4))
    assert (
        Dataset.from_arrays("CartPole-v1", cartpole, [[1.0], [0.0], [1.0], [1.0]], cartpole).transitions.actions.dtype
        == np.int32
    )
    with pytest.raises(DataError, match="not one column of whole numbers"):
        Dataset.from_arrays("CartPole-v1", cartpole, [[0.5], [0.0], [1.0], [1.0]], cartpole)
    with pytest.raises(DataError, match="recorded as data of Pendulum-v1; --env CartPole-v1 disagrees"):
        declare_env(dataset, "CartPole-v1")


def test_an_environment_registered_by_a_module_exports_with_its_spec(tmp_path):
    """The "module:EnvId-v0" form imports its module before minari records the environment, so the dataset
    names the id the module registered and imports back without --env."""
    module = "tests.experiments.test_any_environment"
    rows = 40
    dataset = collect_dataset(f"{module}:WmJaxDrift-v0", transitions=rows, seed=0)
    path = tmp_path / "drift.npz"
    save_dataset(dataset, path)
    assert main(["data", "export-minari", str(path), "--dataset-id", "wmjax/drift-v0"]) == 0
    assert minari.load_dataset("wmjax/drift-v0").spec.env_spec.id == "WmJaxDrift-v0"
    assert main(["data", "import-minari", "wmjax/drift-v0", "--out", str(tmp_path / "back.npz")]) == 0
    back = load_dataset(tmp_path / "back.npz")
    assert back.info.env_id == "WmJaxDrift-v0" and back.transitions.size == rows
    assert_same_rows(dataset.transitions, back.transitions)
