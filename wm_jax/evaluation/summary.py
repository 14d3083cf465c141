"""One evaluation block for a model and its baselines on one split: one-step and rollout MSE.

Framework-free: a model enters as a rollout function on raw actions (`rollouts.model_rollout` for
JAX, the PyTorch reference has its own), so the demo, `wm-jax train` and `wm-jax evaluate` of both
frameworks write the same JSON. The baselines work on encoded actions, which callers pass beside.
A horizon-1 rollout from every row is exactly one-step prediction, so one pass gives both numbers.
"""

from __future__ import annotations

import math

import numpy as np

from ..transitions import Transitions
from .baselines import LinearBaseline
from .rollouts import RolloutErrors, identity_rollout, linear_rollout, rollout_errors

# Horizons shown in tables; the JSON and the plot keep every horizon 1..H.
TABLE_HORIZONS = (1, 5, 10, 20, 50)


def json_floats(values) -> list:
    """Floats for JSON, with NaN (no start state long enough) written as null."""
    return [None if not math.isfinite(v) else float(v) for v in np.asarray(values, dtype=float).ravel()]


def errors_of(rollout_fn, data: Transitions, actions: np.ndarray, horizon: int) -> RolloutErrors:
    """`rollout_errors` along `data`'s episodes, feeding `actions` (the form `rollout_fn` takes)."""
    return rollout_errors(rollout_fn, data.states, actions, data.next_states, data.episode, horizon)


def baseline_rollouts(linear: LinearBaseline | None) -> dict:
    """name -> rollout function of the baselines available (linear needs a fitted baseline)."""
    baselines = {"identity": identity_rollout}
    if linear is not None:
        baselines["linear"] = linear_rollout(linear)
    return baselines


def model_block(model_rollout, data: Transitions, horizon: int) -> dict:
    """A model's one-step and rollout MSE on `data` (raw actions), for the ensemble mean and per member.

    `model_rollout` returns tracks [mean, member 1, ..., member E]; a single model has E = 1.
    """
    errors = errors_of(model_rollout, data, data.actions, horizon)
    return {
        "transitions": data.size,
        "episodes": data.episode_count,
        "one_step_mse": float(errors.mse[0, 0]),
        "member_one_step_mse": json_floats(errors.mse[1:, 0]),
        "rollout": {
            "horizons": errors.horizons.tolist(),
            "mse": json_floats(errors.mse[0]),
            "member_mse": [json_floats(row) for row in errors.mse[1:]],
            "start_states": errors.counts.tolist(),
        },
    }


def baselines_block(linear: LinearBaseline | None, data: Transitions, encoded_actions, horizon: int) -> dict:
    """name -> {one_step_mse, rollout_mse} of each baseline on `data`."""
    block = {}
    for name, rollout in baseline_rollouts(linear).items():
        errors = errors_of(rollout, data, encoded_actions, horizon)
        block[name] = {"one_step_mse": float(errors.mse[0, 0]), "rollout_mse": json_floats(errors.mse[0])}
    return block


def evaluation_block(
    model_rollout, linear: LinearBaseline | None, data: Transitions, encoded_actions, horizon: int
) -> dict:
    """`model_block` with the baselines beside it, as `wm-jax train` and `wm-jax evaluate` write it."""
    return {
        **model_block(model_rollout, data, horizon),
        "baselines": baselines_block(linear, data, encoded_actions, horizon),
    }


def one_step_block(scores, linear: LinearBaseline | None, data: Transitions, encoded_actions) -> dict:
    """One-step MSE of a model (from its already computed `scores`) and of the baselines on `data`."""
    return {
        "transitions": data.size,
        "episodes": data.episode_count,
        "one_step_mse": scores.mse,
        "member_one_step_mse": list(scores.member_mse),
        "baselines": baselines_block(linear, data, encoded_actions, 1),
    }


def at_horizon(block_mse: list, horizon: int) -> float:
    """The MSE at `horizon` (1-indexed) from a JSON list, NaN where it is missing."""
    if horizon > len(block_mse) or block_mse[horizon - 1] is None:
        return math.nan
    return float(block_mse[horizon - 1])
