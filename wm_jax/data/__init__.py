"""Transition data: collection with either backend, the versioned .npz format, validation, splits by episode.

    format   the file format (version 2), validation, reading version-1 files
    collect  collect_dataset(env, backend=gymnasium|jax, ...)
    splits   held-out splits by whole episodes

Framework-free at import time (numpy; gymnasium or JAX only when collecting), so the PyTorch
reference trains on the very same arrays.
"""

from ..transitions import Transitions
from .collect import COLLECT_BACKENDS, CollectBackend, collect_dataset, collect_transitions, random_trajectory
from .format import (
    FORMAT_VERSION,
    DataError,
    Dataset,
    DatasetInfo,
    check_data_matches_model,
    declare_env,
    load_dataset,
    recorded_env_id,
    save_dataset,
    validate_transitions,
)
from .splits import EpisodeSplit, split_by_episode

__all__ = [
    "COLLECT_BACKENDS",
    "FORMAT_VERSION",
    "CollectBackend",
    "DataError",
    "Dataset",
    "DatasetInfo",
    "EpisodeSplit",
    "check_data_matches_model",
    "declare_env",
    "Transitions",
    "collect_dataset",
    "collect_transitions",
    "load_dataset",
    "random_trajectory",
    "recorded_env_id",
    "save_dataset",
    "split_by_episode",
    "validate_transitions",
]
