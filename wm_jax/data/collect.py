"""Collect a dataset with either backend; both produce the same file format and the same meaning.

gymnasium  real gymnasium environments stepped one at a time (the tutorial's way)
jax        gymnax environments, thousands vmapped inside one compiled lax.scan
"""

from __future__ import annotations

import os
from importlib import metadata
from typing import Literal

from ..config import check_seed
from ..envs import check_playable, env_spec
from ..envs.gymnasium_collect import check_collection_request, collect_gymnasium
from ..transitions import Transitions
from .format import DataError, Dataset, DatasetInfo

CollectBackend = Literal["gymnasium", "jax"]
COLLECT_BACKENDS = ("gymnasium", "jax")


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def collect_dataset(
    env_id: str = "CartPole-v1",
    *,
    backend: CollectBackend = "gymnasium",
    seed: int = 0,
    transitions: int | None = None,
    episodes: int | None = None,
    max_episode_steps: int | None = None,
    num_envs: int | None = None,
    progress: bool = False,
) -> Dataset:
    """Random-policy data from `env_id`: `transitions=N` rows exactly, or `episodes=K` whole episodes.

    Episodes are capped at `max_episode_steps` steps, by default the spec's (the tutorial's 200 for
    the registered environments). `num_envs` (jax backend only) sets how many environments run side by side.
    """
    check_playable(env_id)  # collecting makes the environment: an id known only from recorded spaces is refused
    if max_episode_steps is None:
        max_episode_steps = env_spec(env_id).max_episode_steps
    check_seed(seed)
    check_collection_request(transitions, episodes, max_episode_steps)
    if backend not in COLLECT_BACKENDS:
        raise DataError(f"unknown collection backend {backend!r}; use gymnasium or jax")
    _check_memory(env_id, transitions if transitions is not None else episodes * max_episode_steps, backend)
    if backend == "gymnasium":
        if num_envs is not None:
            raise DataError("--num-envs applies only to the jax backend")
        data, cut = collect_gymnasium(
            env_id,
            seed=seed,
            transitions=transitions,
            episodes=episodes,
            max_episode_steps=max_episode_steps,
            progress=progress,
        )
        library = {"gymnasium": _version("gymnasium")}
    else:
        from ..envs.gymnax_collect import collect_gymnax

        data, cut = collect_gymnax(
            env_id,
            seed=seed,
            transitions=transitions,
            episodes=episodes,
            max_episode_steps=max_episode_steps,
            num_envs=num_envs,
        )
        library = {"gymnax": _version("gymnax"), "jax": _version("jax")}
    collection = {
        "backend": backend,
        "seed": seed,
        "policy": "uniform random",
        "max_episode_steps": max_episode_steps,
        **({"transitions": transitions} if transitions is not None else {"episodes": episodes}),
        **({"num_envs": num_envs} if num_envs is not None else {}),
        "versions": library,
    }
    return Dataset(data, DatasetInfo.for_env(env_id, collection, cut))


def _check_memory(env_id: str, rows: int, backend: str) -> None:
    """Refuse up front a collection whose arrays cannot fit in this machine's memory (instead of an
    allocation failure, or an abort inside XLA, part way through)."""
    try:
        physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return
    spec = env_spec(env_id)
    action_bytes = 4 * (1 if spec.discrete else spec.action_space.shape[0])
    row_bytes = 2 * 4 * spec.state_dim + action_bytes + 4 + 2 + 4 + 4
    # The jax backend holds the rows on the device and again on the host while reordering them.
    needed = rows * row_bytes * (3 if backend == "jax" else 1)
    if needed > physical:
        raise DataError(
            f"{rows} transitions of {env_id} need about {needed / 2**30:.3g} GiB, more than this "
            f"machine's {physical / 2**30:.3g} GiB of memory"
        )


def collect_transitions(env_id: str = "CartPole-v1", **kwargs) -> Transitions:
    """`collect_dataset(...).transitions`: the rows alone."""
    return collect_dataset(env_id, **kwargs).transitions


def random_trajectory(env_id: str = "CartPole-v1", *, steps: int = 20, seed: int = 0) -> Transitions:
    """A random-action gymnasium trajectory of exactly `steps` steps that does not end early.

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
