"""Minari datasets in and out: the offline-RL dataset format that succeeded D4RL.

`import_minari` reads any Minari dataset with flat Box observations and Discrete or flat Box actions
into this package's `Dataset` (format version 2): one row per step, episodes and steps numbered, the
terminated and truncated flags as recorded, the environment id and spaces from the dataset's
metadata. `export_minari` writes a `Dataset` as a Minari dataset that `minari.load_dataset` reads.
Observations, next observations, rewards and float actions become float32 (the data format's
dtype); everything else is copied exactly.

minari (with h5py for its HDF5 storage) is imported when these are called: `pip install
'wm-jax[minari]'`.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import warnings

import gymnasium
import numpy as np

from ..envs import EnvError, EnvSpec, describe_env
from ..errors import UserError
from ..transitions import Transitions
from .format import DataError, Dataset, DatasetInfo, validate_transitions


def _minari():
    try:
        import minari
    except ImportError:
        raise UserError("Minari datasets need minari: pip install 'wm-jax[minari]'") from None
    return minari


def _open(source: str):
    """A Minari dataset by id (under MINARI_DATASETS_PATH, as `minari.load_dataset` finds it) or by path
    (the dataset's folder, or its data folder)."""
    minari = _minari()
    if os.path.isdir(source):
        data = os.path.join(source, "data") if os.path.isdir(os.path.join(source, "data")) else source
        try:
            return minari.MinariDataset(data)
        except Exception as error:  # minari raises several kinds for a folder that is not a dataset
            raise DataError(f"{source}: not a Minari dataset ({type(error).__name__}: {error})") from None
    try:
        return minari.load_dataset(source)
    except Exception as error:
        raise DataError(f"no local Minari dataset {source!r} ({type(error).__name__}: {error})") from None


def _same_space(a, b) -> bool:
    """Equal spaces, bounds compared in float32 (gymnasium's dtype; the registered specs write decimals)."""
    if hasattr(a, "n") or hasattr(b, "n"):
        return a == b
    return all(np.array_equal(np.float32(x), np.float32(y)) for x, y in ((a.low, b.low), (a.high, b.high)))


def _episode_rows(episode, discrete: bool) -> dict:
    observations = np.asarray(episode.observations)
    actions = np.asarray(episode.actions)
    return {
        "states": observations[:-1].astype(np.float32),
        "next_states": observations[1:].astype(np.float32),
        "actions": actions.astype(np.int32) if discrete else actions.astype(np.float32).reshape(len(actions), -1),
        "rewards": np.asarray(episode.rewards, np.float32),
        "terminated": np.asarray(episode.terminations, bool),
        "truncated": np.asarray(episode.truncations, bool),
    }


def import_minari(source: str, env_id: str | None = None) -> Dataset:
    """The Minari dataset `source` (an id or a folder) as a validated `Dataset`. `env_id` names its
    environment (default: the one its metadata names; needed where it names none). An episode that
    ends with neither flag (a collection cut short) is marked truncated on its last row and listed in
    the dataset's cut episodes."""
    dataset = _open(source)
    env = dataset.spec.env_spec
    env_id = env_id or (env.id if env is not None else None)
    if env_id is None:
        raise DataError(f"{source}: the dataset names no environment: declare it with --env ID")
    limit = getattr(env, "max_episode_steps", None) or max(1, int(dataset.total_steps))
    try:
        described = EnvSpec.from_spaces(env_id, dataset.observation_space, dataset.action_space, limit)
    except EnvError as error:
        raise DataError(f"{source}: {error}") from None
    spec = describe_env(env_id, described.observation_space, described.action_space, limit)
    if not (
        _same_space(spec.observation_space, described.observation_space)
        and _same_space(spec.action_space, described.action_space)
    ):
        raise DataError(
            f"{source}: its spaces ({described.observation_space}, {described.action_space}) differ from "
            f"{env_id}'s ({spec.observation_space}, {spec.action_space})"
        )
    rows = [_episode_rows(episode, spec.discrete) for episode in dataset.iterate_episodes()]
    rows = [r for r in rows if len(r["rewards"])]
    if not rows:
        raise DataError(f"{source}: holds no transitions")
    cut = []
    for number, episode in enumerate(rows):
        if not (episode["terminated"][-1] or episode["truncated"][-1]):
            episode["truncated"][-1] = True
            cut.append(number)
    lengths = [len(r["rewards"]) for r in rows]
    data = Transitions(
        **{key: np.concatenate([r[key] for r in rows]) for key in rows[0]},
        episode=np.repeat(np.arange(len(rows), dtype=np.int32), lengths),
        step=np.concatenate([np.arange(n, dtype=np.int32) for n in lengths]),
    )
    collection = {
        "backend": "minari",
        "source": source,
        "dataset_id": dataset.spec.dataset_id,
        "max_episode_steps": limit,
        "versions": {"minari": _minari().__version__},
    }
    info = DatasetInfo(env_id, spec.observation_space, spec.action_space, collection, tuple(cut))
    return Dataset(validate_transitions(data, info, source), info)


def _gymnasium_spaces(info: DatasetInfo):
    low, high = (np.asarray(b, np.float32) for b in (info.observation_space.low, info.observation_space.high))
    observation = gymnasium.spaces.Box(low, high, dtype=np.float32)
    action = info.action_space
    if hasattr(action, "n"):
        return observation, gymnasium.spaces.Discrete(action.n)
    low, high = (np.asarray(b, np.float32) for b in (action.low, action.high))
    return observation, gymnasium.spaces.Box(low, high, dtype=np.float32)


def _registered_spec(env_id: str):
    """gymnasium's spec of `env_id`, where this process can find it: the "module:EnvId-v0" form imports its
    module first (as `gymnasium.make` does), so the spec is the id the module registered. None elsewhere.
    A class registered as the entry point is recorded by name, the only form gymnasium can serialise."""
    module, _, name = env_id.rpartition(":")
    try:
        if module:
            importlib.import_module(module)
        spec = gymnasium.spec(name)
    except (gymnasium.error.Error, ImportError):
        return None
    if callable(spec.entry_point):  # registered with the class itself: gymnasium serialises only "module:Name"
        entry = spec.entry_point
        spec = dataclasses.replace(spec, entry_point=f"{entry.__module__}:{entry.__qualname__}")
    return spec


def export_minari(dataset: Dataset, dataset_id: str, author: str | None = None):
    """Write `dataset` as the local Minari dataset `dataset_id` (NAMESPACE/NAME-vN, under
    MINARI_DATASETS_PATH); returns the `minari.MinariDataset`. Refuses an id that exists."""
    minari = _minari()
    from minari.data_collector import EpisodeBuffer

    info, data = dataset.info, dataset.transitions
    if info.env_id is None or info.observation_space is None:
        raise DataError("only data with a recorded environment and spaces can be exported to Minari")
    if dataset_id in minari.list_local_datasets():
        raise DataError(f"a local Minari dataset {dataset_id!r} exists already; choose another id or delete it")
    ends = np.flatnonzero(np.append(data.episode[1:] != data.episode[:-1], True)) + 1
    starts = np.concatenate([[0], ends[:-1]])
    buffers = [
        EpisodeBuffer(
            id=number,
            observations=np.concatenate([data.states[a:b], data.next_states[b - 1 : b]]),
            actions=data.actions[a:b],
            rewards=data.rewards[a:b].tolist(),
            terminations=data.terminated[a:b].tolist(),
            truncations=data.truncated[a:b].tolist(),
        )
        for number, (a, b) in enumerate(zip(starts, ends, strict=True))
    ]
    observation, action = _gymnasium_spaces(info)
    # Minari records the environment by making it: an id gymnasium cannot make here is left out (declare
    # it with --env when importing the dataset back).
    env = _registered_spec(info.env_id)
    with warnings.catch_warnings():
        # minari recommends a code link, an e-mail, a description and an evaluation env, each as a warning.
        warnings.simplefilter("ignore", UserWarning)
        try:
            return minari.create_dataset_from_buffers(
                dataset_id,
                buffer=buffers,
                env=env,
                observation_space=observation,
                action_space=action,
                algorithm_name=f"{info.collection.get('policy', 'unknown')} policy, written by wm-jax",
                author=author,
            )
        except ValueError as error:  # minari's own checks of the id and the buffers
            raise DataError(f"{dataset_id}: {error}") from None
