"""The one transitions type of the project, and the episode structure of its rows.

Used by collection, the file format, the engine, evaluation, the parity tests and the bench.
Framework-free (numpy) so the PyTorch reference shares it; the engine passes the same NamedTuple
of device arrays through `jit` (a NamedTuple is a pytree, and fields left as None are skipped).

Shapes and dtypes (N rows):
    states       (N, state_dim)   float32
    actions      (N,) int32 for a Discrete action space (the raw action index),
                 (N, action_dim) float32 for a Box action space (the raw action vector)
    next_states  (N, state_dim)   float32
    rewards      (N,)             float32
    terminated   (N,)             bool   the episode ended in a terminal state (no next step exists)
    truncated    (N,)             bool   the episode was cut here (time limit or collection budget)
    episode      (N,)             int32  episode id: non-decreasing, each episode's rows contiguous
    step         (N,)             int32  0, 1, 2, ... within an episode

How an action is fed to a network (index column, one-hot, raw vector) is not stored here: it is
the model's choice (`wm_jax.envs.encode_actions`).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Transitions(NamedTuple):
    """Rows (s, a, s', r, terminated, truncated, episode, step); shapes in the module docstring.

    Only states, actions and next_states are required: synthetic data (the parity tests' random
    arrays) has no rewards or episodes.
    """

    states: np.ndarray
    actions: np.ndarray
    next_states: np.ndarray
    rewards: np.ndarray | None = None
    terminated: np.ndarray | None = None
    truncated: np.ndarray | None = None
    episode: np.ndarray | None = None
    step: np.ndarray | None = None

    @property
    def size(self) -> int:
        return int(self.states.shape[0])

    @property
    def state_dim(self) -> int:
        return int(self.states.shape[1])

    @property
    def episode_count(self) -> int:
        """Number of distinct episodes (rows are grouped by episode)."""
        if self.episode is None or self.size == 0:
            return 0
        return int(np.count_nonzero(np.diff(self.episode)) + 1)

    def take(self, index) -> Transitions:
        """Rows `index` (slice, boolean mask or integer array) of every field."""
        return Transitions(*(None if field is None else field[index] for field in self))


def episode_ends(terminated: np.ndarray, truncated: np.ndarray) -> np.ndarray:
    """Boolean (N,): the rows after which a new episode begins."""
    return np.asarray(terminated, bool) | np.asarray(truncated, bool)


def episodes_from_ends(ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(episode ids, step indices), both int32 (N,), for rows whose episodes end where `ends` is True."""
    ends = np.asarray(ends, bool)
    n = ends.shape[0]
    starts = np.zeros(n, bool)
    starts[0:1] = True
    starts[1:] = ends[:-1]
    episode = (np.cumsum(starts) - 1).astype(np.int32)
    first_row = np.flatnonzero(starts)
    step = (np.arange(n) - first_row[episode]).astype(np.int32)
    return episode, step


def steps_to_episode_end(episode: np.ndarray) -> np.ndarray:
    """int (N,): how many rows, this one included, remain in each row's episode.

    A rollout of horizon H from row i stays inside its episode iff this is >= H.
    """
    episode = np.asarray(episode)
    n = episode.shape[0]
    if n == 0:
        return np.zeros(0, np.int64)
    last_row_of = np.flatnonzero(np.append(episode[1:] != episode[:-1], True))
    # Episode blocks are contiguous, so each row's block ends at the first block end at or after it.
    block_end = last_row_of[np.searchsorted(last_row_of, np.arange(n))]
    return block_end - np.arange(n) + 1
