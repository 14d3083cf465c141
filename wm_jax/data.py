"""Transition data: random-policy collection from gymnasium, the .npz file format, validation, splits.

Framework-free (numpy + gymnasium) so the JAX library and the PyTorch reference train on the
very same arrays. Arrays crossing this module's boundary are float32 and 2-D:
states (N, state_dim), actions (N, action_dim), next_states (N, state_dim); rewards (N,) float32;
terminated / truncated (N,) bool. A Discrete action is one float column holding its index,
as the tutorial feeds it to the network.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from typing import NamedTuple

import numpy as np

from .errors import UserError

# Environments with a flat Box observation and a Discrete or Box action: what an MLP world model
# on raw states can learn. Anything else is rejected with this list in the message.
SUPPORTED_ENVS = (
    "CartPole-v1",
    "Acrobot-v1",
    "MountainCar-v0",
    "MountainCarContinuous-v0",
    "Pendulum-v1",
)
TUTORIAL_MAX_EPISODE_STEPS = 200
ARRAY_KEYS = ("states", "actions", "next_states", "rewards", "terminated", "truncated")


class DataError(UserError):
    """Unusable transition data or collection request (the CLI prints it as a one-line error)."""


class Transitions(NamedTuple):
    """A batch of transitions (s, a, s', r, terminated, truncated), shapes in the module docstring."""

    states: np.ndarray
    actions: np.ndarray
    next_states: np.ndarray
    rewards: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray

    @property
    def size(self) -> int:
        return int(self.states.shape[0])

    @property
    def state_dim(self) -> int:
        return int(self.states.shape[1])

    @property
    def action_dim(self) -> int:
        return int(self.actions.shape[1])

    def take(self, index) -> "Transitions":
        """Rows `index` (slice or integer array) of every field."""
        return Transitions(*(field[index] for field in self))


def _encode_action(action) -> np.ndarray:
    return np.asarray(action, dtype=np.float32).reshape(-1)


def check_env_id(env_id: str) -> None:
    if env_id not in SUPPORTED_ENVS:
        raise DataError(f"unsupported environment {env_id!r}; supported: {', '.join(SUPPORTED_ENVS)}")


def collect_transitions(
    env_id: str = "CartPole-v1",
    *,
    seed: int = 0,
    transitions: int | None = None,
    episodes: int | None = None,
    max_episode_steps: int = TUTORIAL_MAX_EPISODE_STEPS,
    progress: bool = False,
) -> Transitions:
    """Run a uniformly random policy and record every step, the tutorial's way.

    Episodes end on terminated or truncated, or after `max_episode_steps` steps (the tutorial's cap
    of 200; a capped episode's last step is marked truncated). Give `episodes` to collect whole
    episodes, or `transitions` to collect episodes until that many steps exist and keep exactly
    that many. Same arguments, same arrays: the env is reset with `seed` once and the action
    space sampler is seeded with it.
    """
    import gymnasium as gym

    check_env_id(env_id)
    if (transitions is None) == (episodes is None):
        raise DataError("give exactly one of transitions or episodes")
    if transitions is not None and transitions < 1:
        raise DataError(f"transitions must be >= 1, got {transitions}")
    if episodes is not None and episodes < 1:
        raise DataError(f"episodes must be >= 1, got {episodes}")
    if max_episode_steps < 1:
        raise DataError(f"max episode steps must be >= 1, got {max_episode_steps}")

    env = gym.make(env_id)
    env.action_space.seed(seed)
    rows: dict[str, list] = {key: [] for key in ARRAY_KEYS}
    target = transitions if transitions is not None else episodes
    bar = _progress_bar(target, "transitions" if transitions is not None else "episodes", progress)
    episode = 0
    state, _ = env.reset(seed=seed)
    while True:
        for step in range(max_episode_steps):
            action = env.action_space.sample()
            next_state, reward, terminated, truncated, _ = env.step(action)
            capped = step == max_episode_steps - 1
            rows["states"].append(np.asarray(state, dtype=np.float32))
            rows["actions"].append(_encode_action(action))
            rows["next_states"].append(np.asarray(next_state, dtype=np.float32))
            rows["rewards"].append(float(reward))
            rows["terminated"].append(bool(terminated))
            rows["truncated"].append(bool(truncated or (capped and not terminated)))
            state = next_state
            if transitions is not None:
                bar.update(1)
                if len(rows["states"]) == transitions:
                    break
            if terminated or truncated:
                break
        episode += 1
        if episodes is not None:
            bar.update(1)
        done = len(rows["states"]) >= transitions if transitions is not None else episode >= episodes
        if done:
            break
        state, _ = env.reset()
    bar.close()
    env.close()
    return Transitions(
        states=np.stack(rows["states"]),
        actions=np.stack(rows["actions"]),
        next_states=np.stack(rows["next_states"]),
        rewards=np.asarray(rows["rewards"], dtype=np.float32),
        terminated=np.asarray(rows["terminated"], dtype=bool),
        truncated=np.asarray(rows["truncated"], dtype=bool),
    )


def _progress_bar(total: int, unit: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, unit=f" {unit}", desc="collecting", disable=not enabled, leave=False)


def validate_transitions(data: Transitions, source: str = "data") -> Transitions:
    """Check shapes, dtypes and finiteness; return the data or raise DataError saying what is wrong."""
    n = data.states.shape[0] if data.states.ndim >= 1 else 0
    for key in ("states", "actions", "next_states"):
        array = getattr(data, key)
        if array.ndim != 2:
            raise DataError(f"{source}: {key} must be 2-D (N, dim), got shape {array.shape}")
        if array.dtype != np.float32:
            raise DataError(f"{source}: {key} must be float32, got {array.dtype}")
    for key in ("rewards", "terminated", "truncated"):
        array = getattr(data, key)
        if array.ndim != 1:
            raise DataError(f"{source}: {key} must be 1-D (N,), got shape {array.shape}")
    for key in ARRAY_KEYS:
        if getattr(data, key).shape[0] != n:
            raise DataError(f"{source}: {key} has {getattr(data, key).shape[0]} rows, states has {n}")
    if n == 0:
        raise DataError(f"{source}: holds no transitions")
    if data.next_states.shape[1] != data.states.shape[1]:
        raise DataError(
            f"{source}: next_states has {data.next_states.shape[1]} columns, states has {data.states.shape[1]}"
        )
    if data.rewards.dtype != np.float32:
        raise DataError(f"{source}: rewards must be float32, got {data.rewards.dtype}")
    for key in ("terminated", "truncated"):
        if getattr(data, key).dtype != np.bool_:
            raise DataError(f"{source}: {key} must be bool, got {getattr(data, key).dtype}")
    for key in ("states", "actions", "next_states", "rewards"):
        bad = ~np.isfinite(getattr(data, key))
        if bad.any():
            row = int(np.argwhere(bad)[0][0])
            raise DataError(f"{source}: {key} has {int(bad.sum())} non-finite values (first in row {row})")
    return data


def save_transitions(data: Transitions, path: str | os.PathLike, *, env_id: str | None = None) -> None:
    """Write a plain .npz atomically (a crash never leaves a half-written file at `path`)."""
    validate_transitions(data, str(path))
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    extra = {"env_id": np.asarray(env_id)} if env_id else {}
    with tempfile.NamedTemporaryFile(dir=directory, suffix=".npz", delete=False) as handle:
        np.savez(handle, **data._asdict(), **extra)
        tmp = handle.name
    os.replace(tmp, path)


def load_transitions(path: str | os.PathLike) -> Transitions:
    """Read and validate a transitions .npz; any problem becomes a DataError naming the file."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise DataError(f"{path}: no such file")
    if os.path.isdir(path):
        raise DataError(f"{path}: is a directory, expected a .npz file")
    if not zipfile.is_zipfile(path):
        raise DataError(f"{path}: not a .npz archive (expected the output of `wm-jax collect`)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [key for key in ARRAY_KEYS if key not in archive.files]
            if missing:
                raise DataError(f"{path}: missing keys {', '.join(missing)} (has: {', '.join(archive.files)})")
            arrays = {key: archive[key] for key in ARRAY_KEYS}
    except DataError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise DataError(f"{path}: not a readable .npz file ({type(error).__name__}: {error})") from None
    return validate_transitions(Transitions(**arrays), path)


def split_train_eval(data: Transitions, eval_fraction: float, seed: int = 0) -> tuple[Transitions, Transitions]:
    """Random held-out split of transitions (rows shuffled with `seed`)."""
    if not 0.0 < eval_fraction < 1.0:
        raise DataError(f"eval fraction must be in (0, 1), got {eval_fraction}")
    n_eval = int(round(data.size * eval_fraction))
    if n_eval < 1 or n_eval >= data.size:
        raise DataError(f"cannot hold out {eval_fraction:.0%} of {data.size} transitions")
    order = np.random.default_rng(seed).permutation(data.size)
    return data.take(order[n_eval:]), data.take(order[:n_eval])


def random_trajectory(env_id: str = "CartPole-v1", *, steps: int = 20, seed: int = 0) -> Transitions:
    """A random-action trajectory of exactly `steps` steps that does not end early.

    Random CartPole episodes last ~22 steps, so some seeds end before `steps`; this takes the first
    seed from `seed` upward whose episode lasts the full length (falling back to the longest seen).
    """
    longest = None
    for attempt in range(seed, seed + 100):
        trajectory = collect_transitions(env_id, seed=attempt, episodes=1, max_episode_steps=steps)
        if trajectory.size == steps and not trajectory.terminated.any():
            return trajectory
        if longest is None or trajectory.size > longest.size:
            longest = trajectory
    return longest
