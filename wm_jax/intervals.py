"""An ensemble's predictive distribution, its central intervals and their recalibration (numpy only, no
JAX: evaluation and the PyTorch reference share it).

`predictive_moments` is an ensemble's moment-matched Gaussian, `predictive_gaussian` the same with a
model's calibrated variance. `interval_bounds(mean, var, levels, calibration)` are the central
intervals at any levels, recalibrated when a calibration is given: `models.prediction` writes them
and evaluation's coverage counts the targets inside them, so the two always agree.
`interval_levels(mean, var, targets)` is, per entry, the smallest level p whose central interval of
N(mean, var) contains the target.

`Calibration` is fitted after training on a validation split of the training data (never on
held-out data) and saved with the model. An ensemble's predictive Gaussian, the moment-matched
N(mean, aleatoric + epistemic) of its (elite) members, is usually miscalibrated on new data:
Gaussian members fit their variances to training rows, the members' disagreement measures one
member's error while the prediction is their (more accurate) mean, and a deterministic
environment's residuals are far from Gaussian. Per state dimension the calibration holds

- `log_scale`: the variance scale with the lowest validation NLL, exp(log_scale) = mean(z^2),
  which the model's predictive variance (NLL, `wm-jax predict`'s predictive_var) carries;
- `level_quantiles`: the validation rows' interval levels under that variance at probabilities
  0, 1/K, ..., 1. Mapping a level through their empirical CDF makes the central intervals cover
  what they claim on validation data at every level at once (Kuleshov et al. 2018's quantile
  recalibration, for central intervals), which no single scale can when the residuals are not
  Gaussian.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist
from typing import NamedTuple

import numpy as np

QUANTILES = 101  # K + 1 stored quantiles per state dimension
_erf = np.frompyfunc(math.erf, 1, 1)


class PredictiveMoments(NamedTuple):
    """Moment-matched Gaussian of an ensemble, each (N, S); total_var = aleatoric_var + epistemic_var."""

    mean: np.ndarray
    aleatoric_var: np.ndarray
    epistemic_var: np.ndarray
    total_var: np.ndarray


def predictive_moments(member_means, member_vars=None) -> PredictiveMoments:
    """Mean and variance of the equally weighted mixture of the members' Gaussians, (E, N, S) -> (N, S).

    member_vars None means deterministic members: the aleatoric part is zero and only their disagreement
    (the population variance of their means, ddof=0 as the mixture law requires) remains.
    """
    member_means = np.asarray(member_means, dtype=np.float64)
    if member_means.ndim != 3:
        raise ValueError(f"member means must be (members, N, state_dim), got shape {member_means.shape}")
    if member_vars is None:
        member_vars = np.zeros_like(member_means)
    member_vars = np.asarray(member_vars, dtype=np.float64)
    if member_vars.shape != member_means.shape:
        raise ValueError(f"member vars {member_vars.shape} do not match member means {member_means.shape}")
    if np.any(member_vars < 0):
        raise ValueError("member vars have negative entries")
    aleatoric = member_vars.mean(axis=0)
    epistemic = member_means.var(axis=0)
    return PredictiveMoments(member_means.mean(axis=0), aleatoric, epistemic, aleatoric + epistemic)


def interval_levels(mean, var, targets) -> np.ndarray:
    """(N, S) smallest central-interval level of N(mean, var) containing each target: erf(|y - mean| / (std sqrt 2))."""
    mean, var, targets = (np.asarray(x, np.float64) for x in (mean, var, targets))
    distance = np.abs(targets - mean)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(var > 0, distance / np.sqrt(2 * np.maximum(var, 0)), np.where(distance > 0, np.inf, 0.0))
    return _erf(z).astype(np.float64)


class Calibration(NamedTuple):
    """log_scale (S,) of the predictive variance; level_quantiles (S, QUANTILES), increasing per row."""

    log_scale: np.ndarray
    level_quantiles: np.ndarray

    def uncalibrated_level(self, level: float) -> np.ndarray:
        """(S,) the level under the scaled variance whose calibrated level is `level`: the inverse of
        `recalibrate`, the validation levels' quantile at `level`."""
        probabilities = np.linspace(0.0, 1.0, self.level_quantiles.shape[1])
        return np.array([np.interp(level, probabilities, row) for row in self.level_quantiles])

    def recalibrate(self, levels: np.ndarray) -> np.ndarray:
        """(N, S) interval levels (under the scaled variance) -> calibrated levels: their validation CDF."""
        probabilities = np.linspace(0.0, 1.0, self.level_quantiles.shape[1])
        return np.stack(
            [np.interp(levels[:, d], self.level_quantiles[d], probabilities) for d in range(levels.shape[1])], axis=1
        )


def identity_calibration(state_dim: int) -> Calibration:
    """No recalibration: scale 1, and every level maps to itself."""
    return Calibration(
        np.zeros(state_dim, np.float32), np.tile(np.linspace(0.0, 1.0, QUANTILES, dtype=np.float32), (state_dim, 1))
    )


def is_identity(calibration: Calibration) -> bool:
    identity = identity_calibration(len(calibration.log_scale))
    return all(np.array_equal(a, b) for a, b in zip(calibration, identity))


def fit_calibration(mean, var, targets) -> Calibration:
    """The calibration of a predictive Gaussian N(mean, var) (N, S) on validation targets (N, S)."""
    mean, var, targets = (np.asarray(x, np.float64) for x in (mean, var, targets))
    var = np.maximum(var, 1e-30)
    log_scale = np.log(np.maximum(np.mean(np.square(targets - mean) / var, axis=0), 1e-30))
    levels = interval_levels(mean, var * np.exp(log_scale), targets)
    quantiles = np.quantile(levels, np.linspace(0.0, 1.0, QUANTILES), axis=0).T  # (S, K + 1)
    # np.interp needs increasing points; ties (e.g. many identical levels) are nudged apart.
    quantiles = np.maximum.accumulate(quantiles + np.arange(QUANTILES) * 1e-12, axis=1)
    return Calibration(log_scale.astype(np.float32), quantiles.astype(np.float64))


def predictive_gaussian(member_means, member_logvars, elites, calibration: Calibration | None = None):
    """(moments, variance) of a model's predictive distribution from every member's outputs (E, N, S):
    the elites' moment-matched Gaussian, its variance (N, S) scaled by the calibration's NLL-optimal
    scale when calibrated. `member_logvars` None means deterministic members."""
    elites = np.asarray(elites)
    variances = np.exp(np.asarray(member_logvars, np.float64)[elites]) if member_logvars is not None else None
    moments = predictive_moments(np.asarray(member_means)[elites], variances)
    scale = 1.0 if calibration is None else np.exp(np.asarray(calibration.log_scale, np.float64))
    return moments, moments.total_var * scale


def interval_bounds(mean, var, levels: Sequence[float], calibration: Calibration | None = None):
    """(lower, upper), each (L, N, S) float64: the central interval at each level in (0, 1) of
    N(mean, var) (N, S), or with a `Calibration` its recalibrated central interval, the one that
    covered that level of the validation rows (var is then the scaled variance)."""
    mean = np.asarray(mean, np.float64)
    std = np.sqrt(np.maximum(np.asarray(var, np.float64), 0.0))
    lower, upper = [], []
    for level in levels:
        if not 0 < level < 1:
            raise ValueError(f"interval levels must lie in (0, 1), got {level}")
        raw = np.full(mean.shape[-1], float(level)) if calibration is None else calibration.uncalibrated_level(level)
        half_width = _standard_normal_quantiles(raw) * std
        lower.append(mean - half_width)
        upper.append(mean + half_width)
    return np.stack(lower), np.stack(upper)


def _standard_normal_quantiles(levels: np.ndarray) -> np.ndarray:
    """(S,) z with P(|Z| <= z) = level for a standard normal Z; infinite at level 1."""
    return np.array([NormalDist().inv_cdf((1 + p) / 2) if p < 1 else np.inf for p in levels])


def termination_probability(logits) -> np.ndarray:
    """sigmoid of termination logits, in float64."""
    return 1.0 / (1.0 + np.exp(-np.asarray(logits, np.float64)))
