"""Scores of what a model predicts beyond the next-state mean, as typed results: its uncertainty (NLL,
interval coverage, reliability, epistemic spread in and out of distribution), the reward head and
the termination head. `report` writes them as JSON; `plot_uncertainty` draws them.

Framework-free like `summary`: a model enters as its members' predictions, a `models.Prediction`
of numpy arrays in environment units (`model_head_scores` gets them from `models.prediction` for JAX).
"""

from __future__ import annotations

import os
from typing import NamedTuple

import numpy as np

from ..intervals import is_identity, predictive_gaussian, termination_probability
from ..transitions import Transitions
from .uncertainty import (
    BinaryMetrics,
    ReliabilityCurve,
    binary_metrics,
    epistemic_std,
    gaussian_nll,
    interval_coverage,
    plot_epistemic,
    plot_reliability,
    reliability_curve,
)

# Out-of-distribution states for the epistemic check: each state moved this many times as far from
# the data's mean, per dimension, with the same actions (outside the random policy's range).
OOD_SCALE = 3.0
COVERAGE_LEVELS = (0.5, 0.9)


def out_of_distribution_states(states: np.ndarray, scale: float = OOD_SCALE) -> np.ndarray:
    """`states` pushed out of the data's range: mean + scale * (state - mean), per dimension."""
    states = np.asarray(states, np.float64)
    center = states.mean(axis=0)
    return (center + scale * (states - center)).astype(np.float32)


class Uncertainty(NamedTuple):
    """How far a model's predictive Gaussian (`intervals.predictive_gaussian`) can be trusted on some data.

    nll: mean Gaussian NLL; coverage: nominal level -> empirical coverage per state dimension (S,);
    reliability: the curve over many levels; mean_aleatoric_std: the members' own noise; epistemic_std
    and ood_epistemic_std: the members' spread per row (N,), on the data and on
    `out_of_distribution_states` (None when not computed); calibrated: whether the model's validation
    recalibration was applied.
    """

    nll: float
    coverage: dict[float, np.ndarray]
    reliability: ReliabilityCurve
    mean_aleatoric_std: float
    epistemic_std: np.ndarray
    ood_epistemic_std: np.ndarray | None
    calibrated: bool


class RewardErrors(NamedTuple):
    """mse of the (elite) members' mean reward; member_mse (E,) of each member's."""

    mse: float
    member_mse: np.ndarray


class HeadScores(NamedTuple):
    """What a model predicts beyond the next-state mean, scored; None where the model has no such head
    (no predictive spread, no reward head, no termination head) or the data has no labels for it."""

    uncertainty: Uncertainty | None = None
    reward: RewardErrors | None = None
    termination: BinaryMetrics | None = None


def uncertainty_scores(members, elites, data: Transitions, ood_members=None, calibration=None) -> Uncertainty:
    """NLL, 50%/90% interval coverage per state dimension and the reliability curve of the model's
    predictive Gaussian on `data`, and its members' epistemic spread.

    `ood_members` are the members' predictions on `out_of_distribution_states(data.states)`.
    """
    elites = np.asarray(elites)
    calibrated = calibration is not None and not is_identity(calibration)
    calibration = calibration if calibrated else None
    moments, variance = predictive_gaussian(members.mean, members.logvar, elites, calibration)
    targets = data.next_states
    return Uncertainty(
        nll=gaussian_nll(moments.mean, variance, targets),
        coverage=interval_coverage(moments.mean, variance, targets, COVERAGE_LEVELS, calibration),
        reliability=reliability_curve(moments.mean, variance, targets, calibration=calibration),
        mean_aleatoric_std=float(np.sqrt(moments.aleatoric_var).mean()),
        epistemic_std=epistemic_std(members.mean[elites]),
        ood_epistemic_std=None if ood_members is None else epistemic_std(ood_members.mean[elites]),
        calibrated=calibrated,
    )


def plot_uncertainty(uncertainty: Uncertainty, plot_dir: str, title: str = "", state_labels=None) -> None:
    """calibration.png (the reliability curve) and, with the out-of-distribution check, epistemic.png
    into `plot_dir`."""
    plot_reliability(
        uncertainty.reliability, os.path.join(plot_dir, "calibration.png"), f"Calibration {title}".strip(), state_labels
    )
    if uncertainty.ood_epistemic_std is not None:
        plot_epistemic(
            uncertainty.epistemic_std,
            uncertainty.ood_epistemic_std,
            os.path.join(plot_dir, "epistemic.png"),
            f"Epistemic std {title}".strip(),
        )


def reward_errors(members, elites, data: Transitions) -> RewardErrors:
    """Reward MSE of the (elite) members' mean reward, and per member."""
    predicted = members.reward.astype(np.float64)
    truth = np.asarray(data.rewards, np.float64)
    return RewardErrors(
        float(np.mean(np.square(predicted[np.asarray(elites)].mean(axis=0) - truth))),
        np.mean(np.square(predicted - truth[None]), axis=1),
    )


def termination_scores(members, elites, data: Transitions) -> BinaryMetrics:
    """Accuracy (at probability 0.5) and AUROC of the (elite) members' mean termination probability."""
    probabilities = termination_probability(members.termination_logit[np.asarray(elites)])
    return binary_metrics(probabilities.mean(axis=0), np.asarray(data.terminated, bool))


def head_scores(members, elites, data: Transitions, ood_members=None, calibration=None) -> HeadScores:
    """Every score a model's heads call for: uncertainty when the model has a predictive spread (Gaussian
    members, or several members), reward and termination when those heads and their labels exist."""
    spread = members.logvar is not None or len(elites) > 1
    return HeadScores(
        uncertainty_scores(members, elites, data, ood_members, calibration) if spread else None,
        reward_errors(members, elites, data) if members.reward is not None and data.rewards is not None else None,
        termination_scores(members, elites, data)
        if members.termination_logit is not None and data.terminated is not None
        else None,
    )


def model_head_scores(ensemble, data: Transitions) -> HeadScores:
    """`head_scores` for a JAX `models.Ensemble` on raw-action `data`, with the out-of-distribution check
    and the model's calibration."""
    from ..models.prediction import members_numpy

    members = members_numpy(ensemble, data.states, data.actions)
    ood_members = members_numpy(ensemble, out_of_distribution_states(data.states), data.actions)
    return head_scores(members, ensemble.elites, data, ood_members, ensemble.calibration)
