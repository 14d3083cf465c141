"""Held-out splits by episode: no episode has rows on both sides.

A random split of rows would put most held-out states right next to training rows of the same
episode (a held-out state is usually some training row's next state), so held-out error would
measure almost nothing. Whole episodes are held out instead, chosen by a seeded permutation.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..transitions import Transitions
from .format import DataError


class EpisodeSplit(NamedTuple):
    """Training and held-out rows, and the held-out episode ids (sorted) for the record."""

    train: Transitions
    held_out: Transitions
    held_out_episodes: np.ndarray
    seed: int


def split_by_episode(data: Transitions, eval_fraction: float, seed: int = 0) -> EpisodeSplit:
    """Hold out whole episodes, in a seeded random order, until they cover `eval_fraction` of the rows.
    `data` is a Transitions, or a `Dataset` (its transitions are split).

    Both sides keep the rows' original order, so every episode stays contiguous and in time order.
    """
    from .format import transitions_of

    data = transitions_of(data)
    if not 0.0 < eval_fraction < 1.0:
        raise DataError(f"eval fraction must be in (0, 1), got {eval_fraction}")
    if data.episode is None:
        raise DataError("splitting by episode needs episode ids")
    ids, sizes = np.unique(data.episode, return_counts=True)
    if ids.size < 2:
        raise DataError(f"cannot hold out whole episodes: the data has only {ids.size} episode")
    order = np.random.default_rng(seed).permutation(ids.size)
    target = eval_fraction * data.size
    covered = np.cumsum(sizes[order])
    # The fewest episodes reaching the target, but always at least one and never all of them.
    count = int(min(max(np.searchsorted(covered, target) + 1, 1), ids.size - 1))
    held_out_ids = np.sort(ids[order[:count]])
    held_out = np.isin(data.episode, held_out_ids)
    return EpisodeSplit(data.take(~held_out), data.take(held_out), held_out_ids, seed)
