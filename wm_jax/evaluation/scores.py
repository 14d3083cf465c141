"""Scoring world models on transition data: MSE overall, per state dimension and per member.

Scoring itself is numpy-only so the PyTorch reference shares it; only `member_predictions` and
`score`, which run a JAX model, import JAX (lazily, to keep that sharing free of a JAX import).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class Scores(NamedTuple):
    """mse: of the model's (mean) prediction; per_dim_mse (state_dim,); member_mse (members,)."""

    mse: float
    per_dim_mse: list[float]
    member_mse: list[float]


def scores_from_predictions(members: np.ndarray, targets: np.ndarray) -> Scores:
    """Scores of (members, N, state_dim) predictions against (N, state_dim) targets."""
    members = np.asarray(members, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.float64)
    per_dim = np.mean(np.square(members.mean(axis=0) - targets), axis=0)
    member_mse = np.mean(np.square(members - targets[None]), axis=(1, 2))
    return Scores(float(per_dim.mean()), per_dim.tolist(), member_mse.tolist())


def member_predictions(spec, params, states, actions, chunk: int = 65_536) -> np.ndarray:
    """Eval-mode predictions of every member of a JAX model from encoded actions: (members, N, state_dim).

    Rows go through in chunks of `chunk` (the last one padded, so one compiled program serves all):
    a million rows at once would hold every member's hidden activations, gigabytes, in memory.
    """
    import jax
    import jax.numpy as jnp

    from ..models import graphdef_of, predict_members

    fn = jax.jit(predict_members, static_argnums=0)
    graphdef = graphdef_of(spec)
    states, actions = np.asarray(states, np.float32), np.asarray(actions, np.float32)
    n = states.shape[0]
    size = min(chunk, n)
    parts = []
    for start in range(0, n, size):
        rows = np.arange(start, start + size).clip(max=n - 1)
        parts.append(np.asarray(fn(graphdef, params, jnp.asarray(states[rows]), jnp.asarray(actions[rows]))))
    return np.concatenate(parts, axis=1)[:, :n]


def score(spec, params, data) -> Scores:
    """Scores of a JAX model (stacked params) on a Transitions with raw actions (encoded by the spec)."""
    actions = spec.encode_actions(data.actions)
    return scores_from_predictions(member_predictions(spec, params, data.states, actions), data.next_states)
