"""Open-loop multi-step rollouts along recorded episodes: MSE per horizon, never across a reset.

From each start row the rollout feeds the recorded actions (in whatever form the rollout function
takes them: raw for a JAX model, encoded for the baselines) and compares the predicted state h steps
on with the recorded one, for h = 1..horizon. The error accounting and the baseline
rollouts are numpy (the PyTorch reference shares them); `model_rollout` imports JAX when called.

A rollout function maps start states (B, S) and action windows (B, H) or (B, H, A) to predictions
(K, B, H, S): K tracks, e.g. a model's ensemble mean and each of its members.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from ..transitions import steps_to_episode_end
from .baselines import LinearBaseline

RolloutFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


class RolloutErrors(NamedTuple):
    """mse (tracks, H) float64 over valid starts and state dims, NaN where no start is valid; counts (H,)."""

    horizons: np.ndarray
    mse: np.ndarray
    counts: np.ndarray


def rollout_errors(
    rollout_fn: RolloutFn,
    states,
    actions,
    next_states,
    episode,
    horizon: int,
    chunk: int = 4096,
) -> RolloutErrors:
    """Per-horizon MSE of `rollout_fn` from every start row, counting horizon h from row i only when
    row i's episode has at least h rows left (the truth is next_states[i + h - 1]).

    Start rows are processed `chunk` at a time, so no (N, H, ...) window is ever built. Every call to
    `rollout_fn` gets the same batch size, min(chunk, N): the last chunk is padded by repeating a row
    whose results are masked out, so a jitted rollout function compiles once.
    """
    states = np.asarray(states)
    actions = np.asarray(actions)
    next_states = np.asarray(next_states)
    episode = np.asarray(episode)
    if isinstance(horizon, bool) or int(horizon) != horizon or horizon < 1:
        raise ValueError(f"horizon must be a positive integer, got {horizon!r}")
    if isinstance(chunk, bool) or int(chunk) != chunk or chunk < 1:
        raise ValueError(f"chunk must be a positive integer, got {chunk!r}")
    horizon, chunk = int(horizon), int(chunk)
    if states.ndim != 2 or actions.ndim not in (1, 2) or next_states.shape != states.shape:
        raise ValueError(
            f"states and next states (N, state_dim) and actions (N,) or (N, action_dim) expected, "
            f"got {states.shape}, {next_states.shape} and {actions.shape}"
        )
    n, state_dim = states.shape
    if actions.shape[0] != n or episode.shape != (n,):
        raise ValueError(f"{n} rows expected in actions {actions.shape} and episode {episode.shape}")

    remaining = steps_to_episode_end(episode)
    offsets = np.arange(horizon)  # offset h - 1 for horizon h
    horizons = np.arange(1, horizon + 1)
    counts = np.zeros(horizon, np.int64)
    if n == 0:
        # No start rows: one empty call still tells how many tracks the function has.
        empty = np.asarray(rollout_fn(states, np.zeros((0, horizon, *actions.shape[1:]), actions.dtype)))
        return RolloutErrors(horizons, np.full((empty.shape[0], horizon), np.nan), counts)

    sums = None
    batch = min(chunk, n)
    for begin in range(0, n, batch):
        rows = np.arange(begin, begin + batch)
        real = rows < n
        rows = np.minimum(rows, n - 1)  # padding repeats the last row; `real` masks it out
        # Windows may run past an episode's end (or the data's, hence the clip); those steps are
        # fed the next episode's actions but never scored, as `valid` masks them.
        window = np.minimum(rows[:, None] + offsets[None, :], n - 1)  # (B, H) row indices
        valid = real[:, None] & (remaining[rows][:, None] >= offsets[None, :] + 1)
        chunk_sums = _track_sums(rollout_fn, states[rows], actions[window], next_states[window], valid, horizon)
        sums = chunk_sums if sums is None else sums + chunk_sums
        counts += valid.sum(axis=0)

    with np.errstate(invalid="ignore", divide="ignore"):
        mse = np.where(counts > 0, sums / (counts * state_dim), np.nan)
    return RolloutErrors(horizons, mse, counts)


def _track_sums(rollout_fn, starts, action_windows, truth, valid, horizon) -> np.ndarray:
    """(K, H) float64 sums over valid starts of the squared error summed over state dims."""
    predictions = np.asarray(rollout_fn(starts, action_windows))
    expected = (starts.shape[0], horizon, starts.shape[1])
    if predictions.ndim != 4 or predictions.shape[1:] != expected:
        raise ValueError(f"rollout function returned {predictions.shape}, expected (tracks, *{expected})")
    # A rollout may diverge to inf/NaN past an episode's end: silence those warnings, and mask with
    # where rather than a multiply so such values never leak into the sums.
    with np.errstate(over="ignore", invalid="ignore"):
        squared = np.square(predictions.astype(np.float64) - truth.astype(np.float64)[None]).sum(axis=-1)
    return np.where(valid[None], squared, 0.0).sum(axis=1)


def identity_rollout(start_states, action_windows) -> np.ndarray:
    """The identity baseline held for H steps: (1, B, H, S)."""
    start_states = np.asarray(start_states)
    horizon = np.asarray(action_windows).shape[1]
    return np.repeat(start_states[None, :, None, :], horizon, axis=2)


def linear_rollout(baseline: LinearBaseline) -> RolloutFn:
    """The linear baseline fed its own predictions: (1, B, H, S) float64."""

    def rollout_fn(start_states, action_windows):
        action_windows = np.asarray(action_windows)
        state = np.asarray(start_states, dtype=np.float64)
        steps = []
        for h in range(action_windows.shape[1]):
            state = baseline.predict(state, action_windows[:, h])
            steps.append(state)
        return np.stack(steps, axis=1)[None] if steps else np.zeros((1, state.shape[0], 0, state.shape[1]))

    return rollout_fn


def model_rollout(ensemble, mode: str = "mean", sample: bool = False, seed: int = 0) -> RolloutFn:
    """A JAX `models.Ensemble`'s rollouts on raw action windows, tracks [the model, member 0, ..., member E-1]:
    (E + 1, B, H, S) float32.

    The model's track feeds its own prediction back in, propagated with `mode` ("mean" over the
    elites, "ts1" or "tsinf" trajectory sampling), optionally sampling the Gaussians; each member's
    track feeds back that member's mean. Both are `models.imagination.imagine`. Random draws derive
    from `seed` and the call's index, so an evaluation is reproducible.
    """
    import jax
    import jax.numpy as jnp

    from ..config import PREDICTION_MODES

    if mode not in PREDICTION_MODES:
        raise ValueError(f"unknown prediction mode {mode!r}: use one of {', '.join(PREDICTION_MODES)}")
    program = _rollout_program(mode, sample)
    key, calls = jax.random.key(seed), []

    def rollout_fn(start_states, action_windows):
        calls.append(None)
        out = program(
            ensemble,
            jnp.asarray(start_states, jnp.float32),
            jnp.asarray(action_windows),
            jax.random.fold_in(key, len(calls)),
        )
        return np.asarray(out)

    return rollout_fn


@functools.lru_cache(maxsize=8)
def _rollout_program(mode: str, sample: bool):
    """The jitted rollout for one mode; the model is an argument, so one program serves every model of
    a structure, every chunk and every call."""
    import jax
    import jax.numpy as jnp

    from ..models.imagination import imagine

    def program(model, start_states, action_windows, key):
        members = model.spec.config.members
        model_track = imagine(model, start_states, action_windows, key, mode=mode, sample=sample, trajectory=True)
        # Every member's own track: TS-inf with one slab per member, all members taking part.
        every_member = model.replace(elites=jnp.arange(members, dtype=jnp.int32))
        tile = lambda x: jnp.tile(x, (members,) + (1,) * (x.ndim - 1))  # noqa: E731
        member_tracks = imagine(
            every_member, tile(start_states), tile(action_windows), key, mode="tsinf", slabs=members, trajectory=True
        )
        per_member = member_tracks.states.reshape(members, *model_track.states.shape)
        return jnp.concatenate([model_track.states[None], per_member])

    return jax.jit(program)
