"""Scoring world models on transition data: MSE overall, per state dimension and per member.

Scoring itself is numpy-only so the PyTorch reference shares it; only `score`, which runs a JAX
model, imports JAX (lazily, to keep that sharing free of a JAX import).
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


def score(ensemble, data) -> Scores:
    """Scores of a JAX `models.Ensemble` on a Transitions with raw actions (the model encodes them)."""
    from ..models.prediction import members_numpy

    predictions = members_numpy(ensemble, data.states, data.actions)
    return scores_from_predictions(predictions.mean, data.next_states, ensemble.elites)
