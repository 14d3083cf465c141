"""The JSON blocks for what a model predicts beyond the next-state mean: its uncertainty (NLL,
interval coverage, reliability, epistemic spread in and out of distribution), the reward head and
the termination head.

Framework-free like `summary`: a model enters as its members' predictions, a `models.Prediction`
of numpy arrays in environment units (`model_heads_blocks` gets them from `models.prediction` for JAX).
"""

from __future__ import annotations

import os

import numpy as np

from ..intervals import is_identity, predictive_gaussian, termination_probability
from ..transitions import Transitions
from .summary import json_floats
from .uncertainty import (
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


def uncertainty_block(
    members,
    elites,
    data: Transitions,
    ood_members=None,
    *,
    calibration=None,
    plot_dir: str | None = None,
    state_labels=None,
    title: str = "",
) -> dict:
    """NLL, 50%/90% interval coverage per state dimension and the reliability curve of the model's
    predictive Gaussian (`intervals.predictive_gaussian`) on `data`, and the mean epistemic std of its members.

    `ood_members` are the members' predictions on `out_of_distribution_states(data.states)`; with
    `plot_dir`, calibration.png and epistemic.png are written there.
    """
    elites = np.asarray(elites)
    calibrated = calibration is not None and not is_identity(calibration)
    calibration = calibration if calibrated else None
    moments, variance = predictive_gaussian(members.mean, members.logvar, elites, calibration)
    targets = data.next_states
    coverage = interval_coverage(moments.mean, variance, targets, COVERAGE_LEVELS, calibration)
    curve = reliability_curve(moments.mean, variance, targets, calibration=calibration)
    in_std = epistemic_std(members.mean[elites])
    block = {
        "predictive": "moment-matched Gaussian of the elite members (aleatoric + epistemic variance)"
        + (", recalibrated on validation data (variance scale and interval levels)" if calibrated else ""),
        "nll": gaussian_nll(moments.mean, variance, targets),
        "coverage": {
            f"{level:.0%}": {"per_dim": json_floats(per_dim), "mean": float(per_dim.mean())}
            for level, per_dim in coverage.items()
        },
        "reliability": {"levels": json_floats(curve.levels), "coverage": json_floats(curve.overall)},
        "mean_aleatoric_std": float(np.sqrt(moments.aleatoric_var).mean()),
        "epistemic_std": {"in_distribution": float(in_std.mean())},
    }
    if ood_members is not None:
        ood_std = epistemic_std(ood_members.mean[elites])
        block["epistemic_std"].update(
            out_of_distribution=float(ood_std.mean()),
            ratio=float(ood_std.mean() / in_std.mean()) if in_std.mean() > 0 else None,
            out_of_distribution_states=f"each state moved {OOD_SCALE:g}x as far from the data's mean, same actions",
        )
    if plot_dir is not None:
        plot_reliability(curve, os.path.join(plot_dir, "calibration.png"), f"Calibration {title}".strip(), state_labels)
        if ood_members is not None:
            plot_epistemic(in_std, ood_std, os.path.join(plot_dir, "epistemic.png"), f"Epistemic std {title}".strip())
    return block


def reward_block(members, elites, data: Transitions) -> dict:
    """Held-out reward MSE of the (elite) members' mean reward, and per member."""
    predicted = members.reward.astype(np.float64)
    truth = np.asarray(data.rewards, np.float64)
    return {
        "mse": float(np.mean(np.square(predicted[np.asarray(elites)].mean(axis=0) - truth))),
        "member_mse": json_floats(np.mean(np.square(predicted - truth[None]), axis=1)),
    }


def termination_block(members, elites, data: Transitions) -> dict:
    """Accuracy (at probability 0.5) and AUROC of the (elite) members' mean termination probability."""
    probabilities = termination_probability(members.termination_logit[np.asarray(elites)])
    metrics = binary_metrics(probabilities.mean(axis=0), np.asarray(data.terminated, bool))
    return {
        "accuracy": metrics.accuracy,
        "auroc": None if np.isnan(metrics.auroc) else metrics.auroc,
        "terminations": metrics.positives,
        "transitions": metrics.count,
    }


def heads_blocks(members, elites, data: Transitions, ood_members=None, **plot_options) -> dict:
    """Every block a model's heads call for: uncertainty when the model has a predictive spread (Gaussian
    members, or several members), reward and termination when those heads exist."""
    blocks = {}
    if members.logvar is not None or len(elites) > 1:
        blocks["uncertainty"] = uncertainty_block(members, elites, data, ood_members, **plot_options)
    if members.reward is not None and data.rewards is not None:
        blocks["reward"] = reward_block(members, elites, data)
    if members.termination_logit is not None and data.terminated is not None:
        blocks["termination"] = termination_block(members, elites, data)
    return blocks


def model_heads_blocks(ensemble, data: Transitions, **plot_options) -> dict:
    """`heads_blocks` for a JAX `models.Ensemble` on raw-action `data`, with the OOD check."""
    from ..models.prediction import members_numpy

    members = members_numpy(ensemble, data.states, data.actions)
    ood_members = members_numpy(ensemble, out_of_distribution_states(data.states), data.actions)
    return heads_blocks(members, ensemble.elites, data, ood_members, calibration=ensemble.calibration, **plot_options)
