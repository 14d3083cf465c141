"""Post-hoc recalibration of Gaussian members' variances on validation data.

A probabilistic ensemble trained on NLL can be systematically over- or under-confident on new
data (its variances are fitted to training rows, and an ensemble adds its disagreement on top).
`fit_logvar_offset` finds, per state dimension, the shift c of every member's log-variance that
minimises the validation NLL of the ensemble's moment-matched predictive Gaussian,
N(mean, exp(c) * aleatoric + epistemic): one number per dimension, fitted on rows the model did
not train on and never on held-out data (Kuleshov et al. 2018 recalibrate the same way, by
quantiles). The offset lives in the normaliser, so every prediction carries it.
"""

from __future__ import annotations

import numpy as np

# Log-variance shifts searched: exp(+-12) covers any plausible miscalibration; a second, finer
# grid around the best coarse point refines it to about 0.01 in log-variance.
COARSE_GRID = np.linspace(-12.0, 12.0, 97)


def _nll_per_dim(shift: float, means: np.ndarray, variances: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """(S,) mean Gaussian NLL per dimension of the moment-matched predictive with variances scaled by exp(shift)."""
    mean = means.mean(axis=0)
    total = np.exp(shift) * variances.mean(axis=0) + means.var(axis=0)
    total = np.maximum(total, 1e-30)
    return 0.5 * np.mean(np.log(2 * np.pi * total) + np.square(targets - mean) / total, axis=0)


def fit_logvar_offset(member_means, member_vars, targets) -> np.ndarray:
    """(S,) float32 log-variance shifts minimising the validation NLL; members (E, N, S), targets (N, S)."""
    means = np.asarray(member_means, np.float64)
    variances = np.asarray(member_vars, np.float64)
    targets = np.asarray(targets, np.float64)
    coarse = np.stack([_nll_per_dim(c, means, variances, targets) for c in COARSE_GRID])  # (G, S)
    best = COARSE_GRID[np.argmin(coarse, axis=0)]
    step = COARSE_GRID[1] - COARSE_GRID[0]
    offsets = np.empty(targets.shape[1])
    for d in range(targets.shape[1]):
        fine = np.linspace(best[d] - step, best[d] + step, 51)
        scores = [_nll_per_dim(c, means[..., d:d + 1], variances[..., d:d + 1], targets[:, d:d + 1])[0] for c in fine]
        offsets[d] = fine[int(np.argmin(scores))]
    return offsets.astype(np.float32)
