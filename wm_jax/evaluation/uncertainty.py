"""How far a world model's uncertainty can be trusted: predictive moments, NLL, interval coverage,
reliability curves, epistemic spread, and binary (termination-style) accuracy and AUROC.

numpy only, float64 throughout, like `scores`: the PyTorch reference shares it. matplotlib is imported
lazily by the two plotting functions. Members are (E, N, S): ensemble members, rows, state dimensions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from ..intervals import (  # noqa: F401 (PredictiveMoments, interval_levels, predictive_moments: re-exported)
    PredictiveMoments,
    interval_bounds,
    interval_levels,
    predictive_moments,
)
from ..report import pyplot, save_figure


class ReliabilityCurve(NamedTuple):
    """Nominal central-interval levels (L,); empirical coverage per state dim (L, S) and over all dims (L,)."""

    levels: np.ndarray
    coverage: np.ndarray
    overall: np.ndarray


class BinaryMetrics(NamedTuple):
    """accuracy of thresholding at 0.5; auroc (NaN with one class); positives and count of labels."""

    accuracy: float
    auroc: float
    positives: int
    count: int


def _gaussian(mean, var, targets) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """mean, var and targets as float64 (N, S) arrays of one shape, var non-negative."""
    mean, var, targets = (np.asarray(x, dtype=np.float64) for x in (mean, var, targets))
    if mean.ndim != 2 or mean.shape != var.shape or mean.shape != targets.shape:
        raise ValueError(
            f"mean, var and targets must share one (N, state_dim) shape, "
            f"got {mean.shape}, {var.shape} and {targets.shape}"
        )
    if np.any(var < 0):
        raise ValueError("var has negative entries")
    return mean, var, targets


def _members(member_means) -> np.ndarray:
    """member_means as a float64 (E, N, S) array."""
    member_means = np.asarray(member_means, dtype=np.float64)
    if member_means.ndim != 3:
        raise ValueError(f"member means must be (members, N, state_dim), got shape {member_means.shape}")
    return member_means


def gaussian_nll(mean, var, targets, min_var: float = 1e-12) -> float:
    """Negative log-likelihood of (N, S) targets under independent N(mean, var), summed over dims, mean over rows.

    var is floored at min_var so a deterministic model (zero variance) scores a huge but finite NLL
    rather than infinity or NaN, which would swallow every other model in a table.
    """
    mean, var, targets = _gaussian(mean, var, targets)
    var = np.maximum(var, min_var)
    per_entry = 0.5 * (np.log(2 * np.pi * var) + np.square(targets - mean) / var)
    return float(per_entry.sum(axis=1).mean())


def interval_coverage(
    mean, var, targets, levels: Sequence[float] = (0.5, 0.9), calibration=None
) -> dict[float, np.ndarray]:
    """Per level p, the (S,) fraction of rows whose target lies in the central p interval of N(mean, var),
    or, with an `intervals.Calibration`, in its recalibrated central p interval: the bounds of
    `intervals.interval_bounds`, which `wm-jax predict --levels` writes."""
    mean, var, targets = _gaussian(mean, var, targets)
    lower, upper = interval_bounds(mean, var, levels, calibration)
    inside = (lower <= targets) & (targets <= upper)
    return {float(p): covered.mean(axis=0) for p, covered in zip(levels, inside)}


def reliability_curve(mean, var, targets, levels=None, calibration=None) -> ReliabilityCurve:
    """Empirical against nominal coverage; levels default to 0.05, 0.10, ..., 0.95."""
    levels = np.linspace(0.05, 0.95, 19) if levels is None else np.asarray(levels, dtype=np.float64)
    coverage = np.stack(list(interval_coverage(mean, var, targets, levels, calibration).values()))
    # Every dim has N rows, so the mean of the per-dim fractions is the fraction over all entries.
    return ReliabilityCurve(levels, coverage, coverage.mean(axis=1))


def epistemic_std(member_means) -> np.ndarray:
    """Per row (N,), the mean over state dims of the members' std (ddof=0) of their means; zero for one member."""
    return _members(member_means).std(axis=0).mean(axis=1)


def binary_metrics(probabilities, labels) -> BinaryMetrics:
    """Accuracy and AUROC of (N,) probabilities against (N,) boolean labels.

    AUROC is the Mann-Whitney U statistic from average ranks, so tied probabilities count half a pair;
    it is undefined, and returned as NaN, when the labels hold only one class.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64).reshape(-1)
    labels = np.asarray(labels, dtype=bool).reshape(-1)
    if probabilities.shape != labels.shape:
        raise ValueError(f"{probabilities.size} probabilities but {labels.size} labels")
    if labels.size == 0:
        raise ValueError("binary metrics need at least one row")
    accuracy = float(np.mean((probabilities >= 0.5) == labels))
    positives = int(labels.sum())
    negatives = labels.size - positives
    if positives == 0 or negatives == 0:
        return BinaryMetrics(accuracy, float("nan"), positives, int(labels.size))
    _, inverse, counts = np.unique(probabilities, return_inverse=True, return_counts=True)
    # Rank 1-based; a group of tied values shares the mean of the ranks it spans.
    ends = np.cumsum(counts)
    ranks = (ends - (counts - 1) / 2)[inverse]
    u = ranks[labels].sum() - positives * (positives + 1) / 2
    return BinaryMetrics(accuracy, float(u / (positives * negatives)), positives, int(labels.size))


def plot_reliability(curve: ReliabilityCurve, path: str, title: str, state_labels: Sequence[str] | None = None) -> None:
    """Empirical against nominal coverage, one thin line per state dim and the overall line bold."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 6))
    ax.plot([0, 1], [0, 1], "k--", linewidth=1, label="perfectly calibrated")
    labels = state_labels or [f"dim {d}" for d in range(curve.coverage.shape[1])]
    for d, label in enumerate(labels):
        ax.plot(curve.levels, curve.coverage[:, d], linewidth=1, alpha=0.7, label=label)
    ax.plot(curve.levels, curve.overall, "k-o", markersize=3, linewidth=2.5, label="all dims")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("nominal central-interval coverage")
    ax.set_ylabel("empirical coverage")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path, dpi=120)


def plot_epistemic(
    in_distribution,
    out_of_distribution,
    path: str,
    title: str,
    labels: tuple[str, str] = ("held-out (in distribution)", "out of distribution"),
) -> None:
    """Overlaid histograms of two (N,) epistemic std arrays on a log axis, each mean a vertical line."""
    plt = pyplot()
    # A log axis cannot show zero (a single member, or members that agree exactly); clip it to a sliver.
    tiny = 1e-12
    arrays = [
        np.clip(np.asarray(x, dtype=np.float64).reshape(-1), tiny, None) for x in (in_distribution, out_of_distribution)
    ]
    both = np.concatenate(arrays)
    # At least a decade wide, so identical values (members that always agree) still get proper bins.
    low, high = both.min(), max(both.max(), both.min() * 10)
    bins = np.geomspace(low, high, 40)
    fig, ax = plt.subplots(figsize=(8, 5))
    for values, label in zip(arrays, labels):
        _, _, patches = ax.hist(values, bins=bins, alpha=0.5, label=label)
        ax.axvline(values.mean(), color=patches[0].get_facecolor(), linewidth=2, alpha=1.0)
    ax.set_xscale("log")
    ax.set_xlabel("epistemic std (mean over state dims of the members' std)")
    ax.set_ylabel("rows")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path, dpi=120)
