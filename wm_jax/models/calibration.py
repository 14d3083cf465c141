"""Post-hoc recalibration of an ensemble's predictive variance on validation data.

An ensemble's predictive distribution, the moment-matched Gaussian N(mean, aleatoric + epistemic)
of its (elite) members, is usually miscalibrated on new data: Gaussian members fit their
variances to training rows, and the members' disagreement measures the error of one member
while the prediction is their mean, which is more accurate. The residuals of a deterministic
environment are also far from Gaussian (mostly tiny, a few large), so even the NLL-optimal scale
misplaces the intervals. `fit_predictive_log_scale` finds, per state dimension, the log-scale c
of the total variance, N(mean, exp(c) * (aleatoric + epistemic)), whose central intervals are
most reliable on validation rows: the least mean squared gap between nominal and empirical
coverage over the levels 5%, 10%, ..., 95% (the reliability curve closest to the diagonal; cf.
Kuleshov et al. 2018, Levi et al. 2019). It is fitted on a validation split of the training data,
never on held-out data, and saved with the model (`Ensemble.predictive_log_scale`). It rescales
the predictive distribution that evaluation and `wm-jax predict` report; rollouts that sample
members (TS-1, TS-inf) draw from the members as trained.
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np

LEVELS = np.linspace(0.05, 0.95, 19)
# Log-variance shifts searched: exp(+-12) covers any plausible miscalibration; a finer grid around
# the best coarse point refines it.
COARSE_GRID = np.linspace(-12.0, 12.0, 97)
_Z = np.array([NormalDist().inv_cdf((1 + p) / 2) for p in LEVELS])


def _coverage_gap(log_scales: np.ndarray, residual: np.ndarray, variance: np.ndarray) -> np.ndarray:
    """(G,) mean squared gap between nominal and empirical coverage of one dimension's central
    intervals (rows (N,)) for each log-scale of the variance."""
    std = np.sqrt(np.maximum(np.exp(log_scales)[:, None] * variance[None], 1e-30))  # (G, N)
    covered = np.abs(residual)[None, None] <= _Z[None, :, None] * std[:, None, :]  # (G, L, N)
    return np.mean(np.square(covered.mean(axis=-1) - LEVELS[None]), axis=-1)


def fit_predictive_log_scale(member_means, member_vars, targets) -> np.ndarray:
    """(S,) float32 log-scales of the predictive variance with the most reliable validation
    intervals; members (E, N, S) (member_vars None for deterministic members), targets (N, S)."""
    means = np.asarray(member_means, np.float64)
    targets = np.asarray(targets, np.float64)
    aleatoric = 0.0 if member_vars is None else np.asarray(member_vars, np.float64).mean(axis=0)
    variance = aleatoric + means.var(axis=0)
    residual = targets - means.mean(axis=0)
    step = COARSE_GRID[1] - COARSE_GRID[0]
    offsets = np.empty(targets.shape[1])
    for d in range(targets.shape[1]):
        args = (residual[:, d], variance[:, d])
        coarse = COARSE_GRID[int(np.argmin(_coverage_gap(COARSE_GRID, *args)))]
        fine = np.linspace(coarse - step, coarse + step, 41)
        offsets[d] = fine[int(np.argmin(_coverage_gap(fine, *args)))]
    return offsets.astype(np.float32)
