"""A model and its baselines scored on one split of data, as typed results: one-step and rollout MSE.

Framework-free: a model enters as a rollout function on raw actions (`rollouts.model_rollout` for
JAX, the PyTorch reference has its own), so the demo, `wm-jax train` and `wm-jax evaluate` of both
frameworks score alike, and `report` writes the same JSON from these results. The baselines work on
encoded actions, which callers pass beside. A horizon-1 rollout from every row is exactly one-step
prediction, so one pass gives both numbers.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ..transitions import Transitions
from .baselines import LinearBaseline
from .heads import HeadScores
from .rollouts import RolloutErrors, identity_rollout, linear_rollout, rollout_errors
from .scores import Scores

# Horizons shown in tables; the JSON and the plot keep every horizon 1..H.
TABLE_HORIZONS = (1, 5, 10, 20, 50)


class SplitEvaluation(NamedTuple):
    """A model scored on one split of data.

    transitions, episodes: the split's size. model: the `RolloutErrors` of the tracks [the model,
    member 0, ..., member E-1] (a single model has E = 1); on the training split only horizon 1 (one
    step ahead, from the `Scores`). baselines: name -> `RolloutErrors` of the identity and linear
    baselines. heads: uncertainty, reward and termination (`heads.HeadScores`), where computed.
    """

    transitions: int
    episodes: int
    model: RolloutErrors
    baselines: dict[str, RolloutErrors]
    heads: HeadScores | None = None

    def baseline_one_step_mse(self, name: str) -> float:
        return float(self.baselines[name].mse[0, 0])


def errors_of(rollout_fn, data: Transitions, actions: np.ndarray, horizon: int) -> RolloutErrors:
    """`rollout_errors` along `data`'s episodes, feeding `actions` (the form `rollout_fn` takes)."""
    return rollout_errors(rollout_fn, data.states, actions, data.next_states, data.episode, horizon)


def baseline_rollout_fns(linear: LinearBaseline | None) -> dict:
    """name -> rollout function of the baselines available (linear needs a fitted baseline)."""
    baselines = {"identity": identity_rollout}
    if linear is not None:
        baselines["linear"] = linear_rollout(linear)
    return baselines


def baseline_errors(
    linear: LinearBaseline | None, data: Transitions, encoded_actions, horizon: int
) -> dict[str, RolloutErrors]:
    """name -> `RolloutErrors` up to `horizon` of each baseline on `data`."""
    return {
        name: errors_of(rollout, data, encoded_actions, horizon)
        for name, rollout in baseline_rollout_fns(linear).items()
    }


def split_evaluation(
    model_rollout,
    linear: LinearBaseline | None,
    data: Transitions,
    encoded_actions,
    horizon: int,
    heads: HeadScores | None = None,
) -> SplitEvaluation:
    """A model's open-loop rollouts up to `horizon` on `data` (raw actions), with the baselines beside it.

    `model_rollout` returns tracks [mean, member 0, ..., member E-1]; without `linear` only the identity
    baseline is scored. `encoded_actions = None` leaves the baselines out (the demo scores them once).
    """
    baselines = {} if encoded_actions is None else baseline_errors(linear, data, encoded_actions, horizon)
    return SplitEvaluation(
        data.size, data.episode_count, errors_of(model_rollout, data, data.actions, horizon), baselines, heads
    )


def one_step_evaluation(scores: Scores, linear: LinearBaseline | None, data: Transitions, encoded_actions):
    """A model's one-step `scores` (already computed) on `data` as a `SplitEvaluation` of horizon 1,
    with the baselines one step ahead."""
    mse = np.asarray([[scores.mse], *([m] for m in scores.member_mse)], np.float64)
    model = RolloutErrors(np.array([1]), mse, np.array([data.size]))
    return SplitEvaluation(data.size, data.episode_count, model, baseline_errors(linear, data, encoded_actions, 1))


def at_horizon(mse, horizon: int) -> float:
    """The MSE at `horizon` (1-indexed) of a curve over horizons 1..H, NaN where it is missing."""
    mse = np.asarray([math.nan if v is None else v for v in mse], np.float64)
    return float(mse[horizon - 1]) if horizon <= mse.size else math.nan
