"""`wm-jax collect`, `wm-jax data import-minari` and `wm-jax data export-minari` as library functions:
random-policy transitions into a data file, and Minari datasets in and out."""

from __future__ import annotations

import dataclasses
import sys
from typing import Annotated

import tyro

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


@dataclasses.dataclass(frozen=True)
class ImportMinariRun:
    """Read a Minari dataset (flat Box observations, Discrete or flat Box actions) into a data file."""

    source: Annotated[str, tyro.conf.Positional, tyro.conf.arg(metavar="DATASET_ID_OR_PATH")]
    """a local Minari dataset id (under MINARI_DATASETS_PATH) or the dataset's folder"""
    out: str
    """output .npz file"""
    env: str | None = None
    """the dataset's environment id (default: the one its metadata names; needed where it names none)"""


def import_minari_to_file(run: ImportMinariRun):
    """Import and save; returns the `data.Dataset` written to `run.out`."""
    from ..atomic import check_output_path
    from ..data import save_dataset
    from ..data.minari_io import import_minari

    check_output_path(run.out)
    dataset = import_minari(run.source, run.env)
    save_dataset(dataset, run.out)
    return dataset


def summarize_import(run: ImportMinariRun, dataset) -> str:
    data = dataset.transitions
    return (
        f"wrote {data.size} transitions in {data.episode_count} episodes of {dataset.info.env_id} from the Minari "
        f"dataset {run.source} to {run.out}"
    )


@dataclasses.dataclass(frozen=True)
class ExportMinariRun:
    """Write a data file as a local Minari dataset (under MINARI_DATASETS_PATH), which minari.load_dataset reads."""

    data: Annotated[str, tyro.conf.Positional, tyro.conf.arg(metavar="FILE")]
    """the .npz data file"""
    dataset_id: str
    """the new dataset's id, NAMESPACE/NAME-vN"""
    author: str | None = None
    """the dataset's author, recorded in its metadata"""


def export_minari_from_file(run: ExportMinariRun):
    """Load `run.data` and export it; returns the `minari.MinariDataset`."""
    from ..data import load_dataset
    from ..data.minari_io import export_minari

    return export_minari(load_dataset(run.data), run.dataset_id, run.author)


def summarize_export(run: ExportMinariRun, exported) -> str:
    return (
        f"wrote {exported.total_steps} transitions in {exported.total_episodes} episodes from {run.data} as the "
        f"Minari dataset {run.dataset_id}"
    )
