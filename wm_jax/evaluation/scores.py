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


def scores_from_predictions(members: np.ndarray, targets: np.ndarray, elites=None) -> Scores:
    """Scores of (members, N, state_dim) predictions against (N, state_dim) targets; the model's
    prediction is the mean over `elites` (member indices; all members by default)."""
    members = np.asarray(members, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.float64)
    chosen = members if elites is None else members[np.asarray(elites)]
    per_dim = np.mean(np.square(chosen.mean(axis=0) - targets), axis=0)
    member_mse = np.mean(np.square(members - targets[None]), axis=(1, 2))
    return Scores(float(per_dim.mean()), per_dim.tolist(), member_mse.tolist())


def member_predictions(ensemble, states, actions, chunk: int = 65_536):
    """Eval-mode predictions of every member of a JAX `models.Ensemble` from encoded actions, in
    environment units: a `models.Prediction` of numpy arrays, mean (members, N, state_dim).

    Rows go through in chunks of `chunk` (the last one padded, so one compiled program serves all):
    a million rows at once would hold every member's hidden activations, gigabytes, in memory.
    """
    import jax
    import jax.numpy as jnp

    from ..models import member_predictions as predict_all

    fn = jax.jit(predict_all, static_argnums=0)
    graphdef = ensemble.graphdef
    states, actions = np.asarray(states, np.float32), np.asarray(actions, np.float32)
    n = states.shape[0]
    size = max(1, min(chunk, n))
    parts = []
    for start in range(0, max(n, 1), size):
        rows = np.arange(start, start + size).clip(0, max(n - 1, 0))
        out = fn(graphdef, ensemble.params, jnp.asarray(states[rows]), jnp.asarray(actions[rows]), ensemble.normalizer)
        parts.append(jax.tree.map(np.asarray, out))
    return jax.tree.map(lambda *xs: np.concatenate(xs, axis=1)[:, :n], *parts)


def score(ensemble, data) -> Scores:
    """Scores of a JAX `models.Ensemble` on a Transitions with raw actions (encoded by the spec)."""
    actions = ensemble.spec.encode_actions(data.actions)
    predictions = member_predictions(ensemble, data.states, actions)
    return scores_from_predictions(predictions.mean, data.next_states, ensemble.elites)
