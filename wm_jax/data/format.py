"""The transitions file format (version 2), its validation, and reading version-1 files.

A data file is a plain, uncompressed .npz archive (numpy only; no pickles):

    states, actions, next_states, rewards, terminated, truncated, episode, step
        the `wm_jax.transitions.Transitions` fields, dtypes and shapes as documented there
        (a Discrete action is stored as its int32 index, a Box action as a float32 vector)
    metadata
        a JSON string: {"format_version": 2, "env_id", "observation_space", "action_space",
        "collection": {"backend", "seed", "max_episode_steps", "policy", ...}, "cut_episodes"}

Values must be finite and at most 1e15 in magnitude (float32 squared errors of larger values
overflow). Rows are grouped by episode in time order; an episode's last row is terminated or
truncated, and an episode cut short by the collection budget ends truncated and is listed in
`cut_episodes`. Version-1 files (no episode, step or metadata; a Discrete action as one float
column) still load: episodes are recovered from terminated/truncated and a cut last episode is
marked truncated and listed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import zipfile
from typing import NamedTuple

import numpy as np

from ..atomic import atomic_write
from ..envs import Box, Discrete, EnvError, Space, describe_env, env_spec, space_from_json
from ..errors import UserError
from ..transitions import Transitions, episodes_from_ends

FORMAT_VERSION = 2
ARRAY_KEYS = Transitions._fields
V1_ARRAY_KEYS = ("states", "actions", "next_states", "rewards", "terminated", "truncated")
METADATA_KEY = "metadata"
# The largest |value| a data file may hold: squared errors of such values (1e30), summed over many
# rows, stay finite in float32.
MAX_MAGNITUDE = 1e15


class DataError(UserError):
    """Unusable transition data or collection request (the CLI prints it as a one-line error)."""


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """Where a dataset came from. `env_id` and the spaces are None only for version-1 files without an env id."""

    env_id: str | None
    observation_space: Box | None
    action_space: Space | None
    collection: dict = dataclasses.field(default_factory=dict)
    cut_episodes: tuple[int, ...] = ()
    format_version: int = FORMAT_VERSION

    @classmethod
    def for_env(cls, env_id: str, collection: dict, cut_episodes=()) -> DatasetInfo:
        info = env_spec(env_id)
        return cls(
            env_id, info.observation_space, info.action_space, dict(collection), tuple(int(e) for e in cut_episodes)
        )

    def to_json(self) -> dict:
        return {
            "format_version": self.format_version,
            "env_id": self.env_id,
            "observation_space": self.observation_space.to_json() if self.observation_space else None,
            "action_space": self.action_space.to_json() if self.action_space else None,
            "collection": self.collection,
            "cut_episodes": list(self.cut_episodes),
        }

    @classmethod
    def from_json(cls, payload: dict) -> DatasetInfo:
        return cls(
            env_id=payload.get("env_id"),
            observation_space=space_from_json(payload["observation_space"])
            if payload.get("observation_space")
            else None,
            action_space=space_from_json(payload["action_space"]) if payload.get("action_space") else None,
            collection=dict(payload.get("collection") or {}),
            cut_episodes=tuple(int(e) for e in payload.get("cut_episodes") or ()),
            format_version=int(payload["format_version"]),
        )


class Dataset(NamedTuple):
    """A data file's contents: the rows and where they came from."""

    transitions: Transitions
    info: DatasetInfo

    @classmethod
    def from_arrays(
        cls,
        env_id: str,
        states,
        actions,
        next_states,
        rewards=None,
        terminated=None,
        truncated=None,
        episode=None,
    ) -> Dataset:
        """A dataset of `env_id` from plain arrays, validated as a loaded file is. Without `episode` the
        rows are one episode; an episode whose last row has neither flag is marked truncated there.
        Rewards default to zeros; a Discrete environment's float column of whole numbers becomes indices."""
        states = np.asarray(states, np.float32)
        n = states.shape[0] if states.ndim else 0
        episode = np.zeros(n, np.int32) if episode is None else np.asarray(episode, np.int32)
        last = np.append(episode[1:] != episode[:-1], True) if n else np.zeros(0, bool)
        terminated = np.zeros(n, bool) if terminated is None else np.asarray(terminated, bool)
        truncated = (np.zeros(n, bool) if truncated is None else np.asarray(truncated, bool)) | (last & ~terminated)
        _, step = episodes_from_ends(last)
        actions = np.asarray(actions)
        data = Transitions(
            states,
            actions.astype(np.float32) if actions.dtype.kind == "f" else actions.astype(np.int32),
            np.asarray(next_states, np.float32),
            np.zeros(n, np.float32) if rewards is None else np.asarray(rewards, np.float32),
            terminated,
            truncated,
            episode,
            step,
        )
        return declare_env(cls(data, DatasetInfo(None, None, None, {"backend": "arrays"})), env_id, "arrays")


def transitions_of(data) -> Transitions:
    """`data` itself where it is a Transitions, else a `Dataset`'s transitions: `fit` and `evaluate` take either."""
    return data.transitions if isinstance(data, Dataset) else data


def declare_env(dataset: Dataset, env_id: str, source: str = "data") -> Dataset:
    """`dataset` as data of `env_id`, for data that records no environment (`--env ID`): the
    environment's spaces, and a float column of whole numbers as indices of a Discrete action. Data
    that records another environment is a DataError; data that records this one is returned as is."""
    recorded = dataset.info.env_id
    if recorded is not None:
        if recorded != env_id:
            raise DataError(f"{source}: recorded as data of {recorded}; --env {env_id} disagrees")
        return dataset
    try:
        spec = env_spec(env_id)
    except EnvError as error:
        raise DataError(f"{source}: {error}") from None
    actions = dataset.transitions.actions
    if spec.discrete and actions.dtype.kind == "f":
        column = actions.reshape(actions.shape[0], -1)
        if column.shape[1] != 1 or not np.array_equal(column[:, 0], np.round(column[:, 0])):
            raise DataError(f"{source}: {env_id} takes Discrete actions; these are not one column of whole numbers")
        actions = column[:, 0].astype(np.int32)
    collection = {**dataset.info.collection, "environment": f"declared as {env_id}"}
    info = DatasetInfo(env_id, spec.observation_space, spec.action_space, collection, dataset.info.cut_episodes)
    return Dataset(validate_transitions(dataset.transitions._replace(actions=actions), info, source), info)


def validate_transitions(data: Transitions, info: DatasetInfo | None = None, source: str = "data") -> Transitions:
    """Check every field's shape, dtype and finiteness and the episode structure; raise DataError naming the problem."""
    n = data.states.shape[0] if data.states.ndim >= 1 else 0
    for key in ARRAY_KEYS:
        if getattr(data, key) is None:
            raise DataError(f"{source}: has no {key}")
    for key in ("states", "next_states"):
        array = getattr(data, key)
        if array.ndim != 2 or array.dtype != np.float32:
            raise DataError(f"{source}: {key} must be float32 (N, dim), got {array.dtype} {array.shape}")
    for key, dtype in (
        ("rewards", np.float32),
        ("terminated", np.bool_),
        ("truncated", np.bool_),
        ("episode", np.int32),
        ("step", np.int32),
    ):
        array = getattr(data, key)
        if array.ndim != 1 or array.dtype != dtype:
            raise DataError(f"{source}: {key} must be {np.dtype(dtype).name} (N,), got {array.dtype} {array.shape}")
    for key in ARRAY_KEYS:
        array = getattr(data, key)
        if array.ndim == 0:
            raise DataError(f"{source}: {key} is a scalar, not an array of {n} rows")
        if array.shape[0] != n:
            raise DataError(f"{source}: {key} has {array.shape[0]} rows, states has {n}")
    if n == 0:
        raise DataError(f"{source}: holds no transitions")
    if data.next_states.shape[1] != data.states.shape[1]:
        raise DataError(
            f"{source}: next_states has {data.next_states.shape[1]} columns, states has {data.states.shape[1]}"
        )
    _check_actions(data.actions, info.action_space if info else None, source)
    if info is not None and info.observation_space is not None and data.state_dim != info.observation_space.shape[0]:
        raise DataError(
            f"{source}: states have {data.state_dim} columns but {info.env_id} observations have "
            f"{info.observation_space.shape[0]}"
        )
    for key in ("states", "actions", "next_states", "rewards"):
        array = getattr(data, key)
        if array.dtype.kind == "f":
            bad = ~np.isfinite(array)
            if bad.any():
                row = int(np.argwhere(bad)[0][0])
                raise DataError(f"{source}: {key} has {int(bad.sum())} non-finite values (first in row {row})")
            huge = np.abs(array) > MAX_MAGNITUDE
            if huge.any():
                row = int(np.argwhere(huge)[0][0])
                raise DataError(
                    f"{source}: {key} has {int(huge.sum())} values beyond +-{MAX_MAGNITUDE:g} (first in row "
                    f"{row}: {float(array[huge][0]):.3g}); rescale the data"
                )
    _check_episodes(data, source)
    return data


def _check_actions(actions: np.ndarray, space: Space | None, source: str) -> None:
    if isinstance(space, Discrete) or (space is None and actions.ndim == 1):
        if actions.ndim != 1 or actions.dtype.kind not in "iu":
            raise DataError(
                f"{source}: Discrete actions must be integer indices (N,), got {actions.dtype} {actions.shape}"
            )
        if space is not None and (actions.min() < 0 or actions.max() >= space.n):
            raise DataError(
                f"{source}: action indices must lie in [0, {space.n}), found {actions.min()}..{actions.max()}"
            )
        return
    if actions.ndim != 2 or actions.dtype != np.float32:
        raise DataError(f"{source}: Box actions must be float32 (N, action_dim), got {actions.dtype} {actions.shape}")
    if space is not None and actions.shape[1] != space.shape[0]:
        raise DataError(f"{source}: actions have {actions.shape[1]} columns, the action space has {space.shape[0]}")


def _check_episodes(data: Transitions, source: str) -> None:
    episode, step = data.episode, data.step
    ends = data.terminated | data.truncated
    both = data.terminated & data.truncated
    if both.any():
        raise DataError(f"{source}: row {int(np.argmax(both))} is both terminated and truncated")
    same = episode[1:] == episode[:-1]
    backwards = ~same & (episode[1:] < episode[:-1])
    if backwards.any():
        raise DataError(
            f"{source}: episode ids must not decrease (row {int(np.argmax(backwards)) + 1}); "
            "each episode's rows must be contiguous"
        )
    gap = same & (step[1:] != step[:-1] + 1)
    if gap.any():
        raise DataError(f"{source}: steps within an episode must count up by one (row {int(np.argmax(gap)) + 1})")
    inner_end = same & ends[:-1]
    if inner_end.any():
        raise DataError(f"{source}: row {int(np.argmax(inner_end))} ends its episode, but the next row continues it")
    open_end = np.append(~same, True) & ~ends
    if open_end.any():
        raise DataError(
            f"{source}: episode {int(episode[np.argmax(open_end)])} ends without terminated or truncated "
            f"(row {int(np.argmax(open_end))})"
        )
    broken = same & np.any(data.next_states[:-1] != data.states[1:], axis=1)
    if broken.any():
        row = int(np.argmax(broken))
        raise DataError(
            f"{source}: row {row}'s next state is not row {row + 1}'s state, though both are in "
            f"episode {int(episode[row])}"
        )


def save_dataset(dataset: Dataset, path: str | os.PathLike) -> None:
    """Validate and write a version-2 .npz atomically (a crash never leaves a half-written file at `path`)."""
    validate_transitions(dataset.transitions, dataset.info, os.fspath(path))
    arrays = dataset.transitions._asdict()
    metadata = np.asarray(json.dumps(dataset.info.to_json()))
    atomic_write(path, lambda handle: np.savez(handle, **arrays, **{METADATA_KEY: metadata}))


def load_dataset(path: str | os.PathLike, *, validate: bool = True) -> Dataset:
    """Read a data file (version 2, or version 1 upgraded in memory); any problem is a DataError naming the file."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise DataError(f"{path}: no such file")
    if os.path.isdir(path):
        raise DataError(f"{path}: is a directory, expected a .npz file")
    if not zipfile.is_zipfile(path):
        raise DataError(f"{path}: {not_an_archive(path)}; expected the output of `wm-jax collect`")
    with _archive(path) as archive:
        files = set(archive.files)
        if METADATA_KEY in files:
            dataset = _read_v2(archive, files, path)
        else:
            dataset = _read_v1(archive, files, path)
    if validate:
        validate_transitions(dataset.transitions, dataset.info, path)
    return dataset


def recorded_env_id(path: str | os.PathLike) -> str | None:
    """The environment id a data file records (None where it records none), read from its metadata alone: no
    array of rows is read, so learning a large file's environment costs milliseconds. A DataError, as
    `load_dataset`'s, where the metadata is unreadable or names an environment this machine cannot describe;
    the rows themselves are checked only by `load_dataset`."""
    path = os.fspath(path)
    if not os.path.isfile(path) or not zipfile.is_zipfile(path):
        raise DataError(f"{path}: not a readable data file")
    with _archive(path) as archive:  # lazy: each array is read when indexed
        if METADATA_KEY in archive.files:
            env_id = _info_v2(archive, path).env_id
        else:  # version 1 kept the id as an array of its own, when it kept one
            env_id = str(archive["env_id"]) if "env_id" in archive.files else None
            if env_id:
                env_spec(env_id)
    return env_id or None


@contextlib.contextmanager
def _archive(path: str):
    """The open .npz at `path`; anything that fails while reading it becomes a DataError naming the file."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            yield archive
    except DataError:
        raise
    except EnvError as error:
        raise DataError(f"{path}: {error}") from None
    except Exception as error:  # noqa: BLE001 - a damaged archive fails in zipfile or numpy in many ways
        raise DataError(f"{path}: not a readable data file ({type(error).__name__}: {error})") from None


def not_an_archive(path: str) -> str:
    """Why a file that `zipfile.is_zipfile` rejects is no .npz: empty, cut short, or something else."""
    with open(path, "rb") as handle:
        head = handle.read(4)
    if not head:
        return "an empty file, not a .npz archive"
    if head == b"PK\x03\x04":
        return "a truncated .npz archive (it starts like one, but its end is missing)"
    return "not a .npz archive"


def _read_v2(archive, files: set[str], path: str) -> Dataset:
    missing = [key for key in ARRAY_KEYS if key not in files]
    if missing:
        raise DataError(f"{path}: missing arrays {', '.join(missing)}")
    info = _info_v2(archive, path)
    return Dataset(Transitions(**{key: archive[key] for key in ARRAY_KEYS}), info)


def _info_v2(archive, path: str) -> DatasetInfo:
    """A version-2 file's metadata, checked: its version, and an environment this machine can describe."""
    payload = json.loads(str(archive[METADATA_KEY]))
    if not isinstance(payload, dict):
        raise DataError(f"{path}: metadata must be a JSON object, got {type(payload).__name__}")
    info = DatasetInfo.from_json(payload)
    if info.format_version != FORMAT_VERSION:
        raise DataError(
            f"{path}: format version {info.format_version} is not supported (this is version {FORMAT_VERSION})"
        )
    if info.env_id is not None and info.observation_space is not None and info.action_space is not None:
        # An environment the project does not register is known by the spaces the file records.
        cap = info.collection.get("max_episode_steps")
        try:
            describe_env(info.env_id, info.observation_space, info.action_space, cap if type(cap) is int else None)
        except EnvError as error:
            raise DataError(f"{path}: {error}") from None
    elif info.env_id is not None:
        env_spec(info.env_id)
    return info


def _read_v1(archive, files: set[str], path: str) -> Dataset:
    missing = [key for key in V1_ARRAY_KEYS if key not in files]
    if missing:
        raise DataError(f"{path}: missing keys {', '.join(missing)} (has: {', '.join(sorted(files))})")
    arrays = {key: archive[key] for key in V1_ARRAY_KEYS}
    env_id = str(archive["env_id"]) if "env_id" in files else None
    info = env_spec(env_id) if env_id else None
    if arrays["terminated"].ndim != 1 or arrays["truncated"].ndim != 1 or arrays["terminated"].size == 0:
        raise DataError(f"{path}: terminated and truncated must be non-empty (N,) arrays")
    for key in ("terminated", "truncated"):
        if arrays[key].dtype.kind not in "biuf":
            raise DataError(f"{path}: {key} must be boolean (N,), got {arrays[key].dtype}")
    terminated, truncated = arrays["terminated"].astype(bool), arrays["truncated"].astype(bool)
    # Version 1 left the episode cut by the collection budget unmarked: mark it truncated and list it.
    cut_last = not (terminated[-1] or truncated[-1])
    if cut_last:
        truncated[-1] = True  # astype made a copy: the archive's array is untouched
    episode, step = episodes_from_ends(terminated | truncated)
    cut = (int(episode[-1]),) if cut_last else ()
    actions = arrays["actions"]
    if info is not None and info.discrete and actions.ndim == 2 and actions.shape[1] == 1:
        # Version 1 stored a Discrete action as one float column holding its index.
        index = actions[:, 0]
        if not np.array_equal(index, np.round(index)):
            raise DataError(f"{path}: {env_id} actions must be whole-number indices")
        actions = index.astype(np.int32)
    elif info is None and actions.ndim == 1 and actions.dtype.kind == "f":
        # A float column in a file without an environment: one continuous action until --env declares a
        # Discrete environment, whose whole numbers then become indices (`declare_env`).
        actions = actions[:, None]
    data = Transitions(
        arrays["states"], actions, arrays["next_states"], arrays["rewards"], terminated, truncated, episode, step
    )
    collection = {"backend": "unknown (format version 1)", "upgraded_from_format_version": 1}
    spaces = (info.observation_space, info.action_space) if info is not None else (None, None)
    return Dataset(data, DatasetInfo(env_id, *spaces, collection, cut, 1))


def check_data_matches_model(dataset: Dataset, env_id: str | None, state_dim: int, source: str) -> None:
    """A model only scores or trains on data from its own environment; anything else is a DataError.

    Two environments can share shapes (MountainCar-v0 and MountainCarContinuous-v0 are both
    (2, 1)), so the recorded env ids decide when both are known; shapes and action kinds otherwise.
    """
    data_env = dataset.info.env_id
    if env_id is not None and data_env is not None and env_id != data_env:
        raise DataError(f"{source}: collected from {data_env}, but the model is for {env_id}")
    if dataset.transitions.state_dim != state_dim:
        raise DataError(f"{source}: states have {dataset.transitions.state_dim} columns, the model expects {state_dim}")
    if env_id is not None:
        discrete = env_spec(env_id).discrete
        if discrete != (dataset.transitions.actions.ndim == 1):
            kind = "Discrete (integer)" if discrete else "Box (float vector)"
            raise DataError(
                f"{source}: the model for {env_id} takes {kind} actions; this file's actions are "
                f"{dataset.transitions.actions.dtype} {dataset.transitions.actions.shape[1:] or 'indices'}"
            )
