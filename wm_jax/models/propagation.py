"""How an ensemble steps a batch of states forward in rollouts and planners (PETS' propagation).

- "mean": the mean over elite members (the ensemble's expectation);
- "ts1": trajectory sampling with a fresh random elite member for each row at every step;
- "tsinf": each row keeps one random elite member for its whole trajectory.

With `sample`, the chosen member's Gaussian is sampled (for "mean", a Gaussian with the elites'
mean variance around the mean); deterministic members have no variance, so sampling changes nothing.
Everything is in environment units: the predictions come from `models.ensemble`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ..config import PREDICTION_MODES, PredictionMode
from .network import Prediction


def trajectory_members(key: jax.Array, elites: jax.Array, batch: int) -> jax.Array:
    """(batch,) member index of each row for a whole trajectory (TS-inf): uniform over the elites."""
    return elites[jax.random.randint(key, (batch,), 0, elites.shape[0])]


def propagate(
    members: Prediction,
    mode: PredictionMode,
    key: jax.Array,
    elites: jax.Array,
    fixed_members: jax.Array | None = None,
    sample: bool = False,
) -> jax.Array:
    """Next states (B, S) from every member's prediction (members.mean (E, B, S)).

    `fixed_members` (B,) are the TS-inf assignment (`trajectory_members`); `key` draws TS-1's
    members and the Gaussian noise.
    """
    if mode not in PREDICTION_MODES:
        raise ValueError(f"unknown prediction mode {mode!r}: use one of {', '.join(PREDICTION_MODES)}")
    choice_key, noise_key = jax.random.split(key)
    batch = members.mean.shape[1]
    if mode == "mean":
        mean = members.mean[elites].mean(axis=0)
        var = jnp.exp(members.logvar[elites]).mean(axis=0) if members.logvar is not None else None
    else:
        chosen = trajectory_members(choice_key, elites, batch) if mode == "ts1" else fixed_members
        rows = jnp.arange(batch)
        mean = members.mean[chosen, rows]
        var = jnp.exp(members.logvar[chosen, rows]) if members.logvar is not None else None
    if sample and var is not None:
        mean = mean + jnp.sqrt(var) * jax.random.normal(noise_key, mean.shape, mean.dtype)
    return mean
