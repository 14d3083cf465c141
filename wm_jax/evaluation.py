"""Scoring world models on transition data: MSE overall, per state dimension and per member."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from .models import ModelSpec, graphdef_of, predict_members


class Scores(NamedTuple):
    """mse: of the model's (mean) prediction; per_dim_mse (state_dim,); member_mse (members,)."""

    mse: float
    per_dim_mse: list[float]
    member_mse: list[float]


def member_predictions(spec: ModelSpec, params: nnx.State, states, actions) -> np.ndarray:
    """Eval-mode predictions of every member: (members, N, state_dim)."""
    fn = jax.jit(predict_members, static_argnums=0)
    return np.asarray(fn(graphdef_of(spec), params, jnp.asarray(states), jnp.asarray(actions)))


def scores_from_predictions(members: np.ndarray, targets: np.ndarray) -> Scores:
    """Scores of (members, N, state_dim) predictions against (N, state_dim) targets."""
    mean = members.mean(axis=0)
    per_dim = np.mean(np.square(mean - targets), axis=0)
    member_mse = np.mean(np.square(members - targets[None]), axis=(1, 2))
    return Scores(float(per_dim.mean()), per_dim.astype(float).tolist(), member_mse.astype(float).tolist())


def score(spec: ModelSpec, params: nnx.State, data) -> Scores:
    """Scores of a (stacked) model on data with states/actions/next_states."""
    return scores_from_predictions(member_predictions(spec, params, data.states, data.actions), data.next_states)
