"""`wm-jax collect` as a library function: random-policy transitions into a data file."""

from __future__ import annotations

import dataclasses
import sys

from ..data.collect import CollectBackend


@dataclasses.dataclass(frozen=True)
class CollectRun:
    """Collect random-policy transitions into a data file (format version 2)."""

    out: str
    """output .npz file"""
    env: str = "CartPole-v1"
    transitions: int | None = None
    """number of transitions (give this or --episodes; default 10,000)"""
    episodes: int | None = None
    """number of whole episodes (give this or --transitions)"""
    seed: int = 0
    max_episode_steps: int | None = None
    """cap on each episode's steps (default: the environment's collection cap, the tutorial's 200 for the five
    classic-control environments)"""
    backend: CollectBackend = "gymnasium"
    """gymnasium: real envs stepped one at a time; jax: gymnax envs vmapped inside one compiled scan"""
    num_envs: int | None = None
    """environments run side by side (jax backend; default: about 250 steps per environment)"""


def collect_to_file(run: CollectRun):
    """Collect and save; returns the `data.Dataset` written to `run.out`."""
    from ..atomic import check_output_path
    from ..data import collect_dataset, save_dataset

    check_output_path(run.out)
    transitions = 10_000 if run.transitions is None and run.episodes is None else run.transitions
    dataset = collect_dataset(
        run.env,
        backend=run.backend,
        seed=run.seed,
        transitions=transitions,
        episodes=run.episodes,
        max_episode_steps=run.max_episode_steps,
        num_envs=run.num_envs,
        progress=sys.stderr.isatty(),
    )
    save_dataset(dataset, run.out)
    return dataset


def summarize(run: CollectRun, dataset) -> str:
    data, cut = dataset.transitions, len(dataset.info.cut_episodes)
    return (
        f"wrote {data.size} transitions in {data.episode_count} episodes ({cut} cut by the budget) from "
        f"{run.env} ({run.backend}, seed {run.seed}) to {run.out}"
    )
