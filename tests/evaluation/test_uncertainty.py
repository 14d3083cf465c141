"""Uncertainty metrics: mixture moments, Gaussian NLL, interval coverage, epistemic spread, AUROC."""

import itertools
import math

import numpy as np
import pytest

from wm_jax.evaluation.uncertainty import (
    binary_metrics,
    epistemic_std,
    gaussian_nll,
    interval_coverage,
    plot_epistemic,
    plot_reliability,
    predictive_moments,
    reliability_curve,
)


def calibrated_samples(n=200_000, seed=0):
    """Targets drawn from N(mean, var) with a different mean and var per row and dim: (n, 3) each."""
    rng = np.random.default_rng(seed)
    mean = rng.normal(size=(n, 3))
    var = rng.uniform(0.1, 4.0, size=(n, 3))
    return mean, var, mean + np.sqrt(var) * rng.normal(size=(n, 3))


def test_coverage_of_calibrated_gaussian_matches_each_level_per_dim():
    mean, var, targets = calibrated_samples()
    coverage = interval_coverage(mean, var, targets, levels=(0.5, 0.9, 0.99))
    assert sorted(coverage) == [0.5, 0.9, 0.99]
    for level, per_dim in coverage.items():
        assert per_dim.shape == (3,)
        np.testing.assert_allclose(per_dim, level, atol=0.01, err_msg=f"coverage at level {level}")


def test_overconfident_variance_undercovers():
    mean, var, targets = calibrated_samples()
    # var/4 halves the interval width: the true 90% interval shrinks to P(|Z| <= 0.82) ~ 0.59.
    coverage = interval_coverage(mean, var / 4, targets, levels=(0.9,))[0.9]
    assert np.all(coverage < 0.65), f"overconfident model still covers {coverage}"


def test_reliability_curve_follows_the_diagonal_when_calibrated():
    mean, var, targets = calibrated_samples()
    curve = reliability_curve(mean, var, targets)
    assert curve.levels.shape == (19,) and curve.coverage.shape == (19, 3) and curve.overall.shape == (19,)
    np.testing.assert_allclose(curve.levels, np.linspace(0.05, 0.95, 19))
    np.testing.assert_allclose(curve.overall, curve.levels, atol=0.01)
    np.testing.assert_allclose(curve.overall, curve.coverage.mean(axis=1))


def test_predictive_moments_follow_the_mixture_law():
    # Two members, one row, one dim: N(0, 1) and N(2, 3). Mixture mean 1; variance = mean var 2 + spread 1.
    moments = predictive_moments(np.array([[[0.0]], [[2.0]]]), np.array([[[1.0]], [[3.0]]]))
    assert moments.mean.shape == (1, 1)
    assert moments.mean[0, 0] == 1.0
    assert moments.aleatoric_var[0, 0] == 2.0
    assert moments.epistemic_var[0, 0] == 1.0, "epistemic variance is the population (ddof=0) variance"
    assert moments.total_var[0, 0] == 3.0


def test_total_variance_is_aleatoric_plus_epistemic_and_matches_mixture_samples():
    rng = np.random.default_rng(1)
    means, variances = rng.normal(size=(5, 4, 2)), rng.uniform(0.1, 2.0, size=(5, 4, 2))
    moments = predictive_moments(means, variances)
    assert moments.total_var.shape == (4, 2)
    np.testing.assert_allclose(moments.total_var, moments.aleatoric_var + moments.epistemic_var)
    # Sampling the mixture directly: pick a member uniformly, then draw from its Gaussian.
    picks = rng.integers(0, 5, size=400_000)
    draws = means[picks] + np.sqrt(variances[picks]) * rng.normal(size=(400_000, 4, 2))
    np.testing.assert_allclose(draws.mean(axis=0), moments.mean, atol=0.02)
    np.testing.assert_allclose(draws.var(axis=0), moments.total_var, rtol=0.02)


def test_deterministic_members_have_zero_aleatoric_variance():
    means = np.array([[[1.0, 5.0]], [[3.0, 5.0]]])
    moments = predictive_moments(means)
    np.testing.assert_array_equal(moments.aleatoric_var, np.zeros((1, 2)))
    np.testing.assert_array_equal(moments.epistemic_var, [[1.0, 0.0]])
    np.testing.assert_array_equal(moments.total_var, moments.epistemic_var)


def test_gaussian_nll_matches_closed_form():
    # Row 1: y = mean, var 1 -> 0.5 log(2 pi). Row 2: dims (y-m)^2/var = 4/4 = 1 with var 4, and 0 with var 1.
    mean = np.array([[0.0, 0.0], [1.0, 0.0]])
    var = np.array([[1.0, 1.0], [4.0, 1.0]])
    targets = np.array([[0.0, 0.0], [3.0, 0.0]])
    row1 = 2 * 0.5 * math.log(2 * math.pi)
    row2 = 0.5 * (math.log(2 * math.pi * 4) + 1) + 0.5 * math.log(2 * math.pi)
    assert gaussian_nll(mean, var, targets) == pytest.approx((row1 + row2) / 2, rel=1e-12)


def test_gaussian_nll_sums_dims_and_averages_rows():
    mean, var, targets = calibrated_samples(n=1000, seed=2)
    per_dim = [
        np.mean([0.5 * (math.log(2 * math.pi * v) + (y - m) ** 2 / v) for m, v, y in zip(*columns)])
        for columns in zip(mean.T, var.T, targets.T)
    ]
    assert gaussian_nll(mean, var, targets) == pytest.approx(sum(per_dim), rel=1e-10)


def test_gaussian_nll_prefers_calibrated_variance():
    mean, var, targets = calibrated_samples(n=10_000, seed=3)
    assert gaussian_nll(mean, var, targets) < gaussian_nll(mean, var * 100, targets)
    assert gaussian_nll(mean, var, targets) < gaussian_nll(mean, var / 100, targets)


def test_gaussian_nll_of_deterministic_model_is_huge_but_finite():
    nll = gaussian_nll(np.zeros((2, 1)), np.zeros((2, 1)), np.ones((2, 1)))
    assert math.isfinite(nll) and nll > 1e10


def test_mismatched_shapes_and_negative_variance_are_rejected():
    with pytest.raises(ValueError, match="share one"):
        gaussian_nll(np.zeros((3, 2)), np.ones((3, 2)), np.zeros((3, 1)))
    with pytest.raises(ValueError, match="negative"):
        interval_coverage(np.zeros((3, 2)), -np.ones((3, 2)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="members"):
        predictive_moments(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="do not match"):
        predictive_moments(np.zeros((2, 3, 2)), np.ones((2, 3, 1)))


def test_auroc_of_perfect_reversed_and_tied_scores():
    labels = np.array([False, False, True, True])
    assert binary_metrics([0.1, 0.2, 0.8, 0.9], labels).auroc == 1.0
    assert binary_metrics([0.9, 0.8, 0.2, 0.1], labels).auroc == 0.0
    assert binary_metrics([0.5, 0.5, 0.5, 0.5], labels).auroc == 0.5, "ties count half a pair"


def test_auroc_is_nan_with_one_class_and_empty_input_is_rejected():
    metrics = binary_metrics([0.2, 0.7], [True, True])
    assert math.isnan(metrics.auroc)
    assert (metrics.accuracy, metrics.positives, metrics.count) == (0.5, 2, 2)
    with pytest.raises(ValueError, match="at least one"):
        binary_metrics([], [])


def test_accuracy_thresholds_at_one_half():
    # 0.5 counts as positive: rows 1, 3 and 4 are right; row 2 (0.49, True) and row 5 (0.5, False) are wrong.
    metrics = binary_metrics([0.9, 0.49, 0.1, 0.5, 0.5], [True, True, False, True, False])
    assert metrics.accuracy == pytest.approx(3 / 5)
    assert (metrics.positives, metrics.count) == (3, 5)


def test_auroc_matches_brute_force_pair_count_with_ties():
    rng = np.random.default_rng(4)
    labels = rng.random(300) < 0.3
    # Rounded to one decimal, so many scores tie, within and across classes.
    scores = np.round(np.clip(rng.normal(0.4 + 0.2 * labels, 0.2), 0, 1), 1)
    pairs = [1.0 if p > n else 0.5 if p == n else 0.0 for p, n in itertools.product(scores[labels], scores[~labels])]
    assert binary_metrics(scores, labels).auroc == pytest.approx(np.mean(pairs), rel=1e-12)


def test_epistemic_std_is_zero_for_identical_members():
    members = np.repeat(np.random.default_rng(5).normal(size=(1, 6, 3)), 4, axis=0)
    np.testing.assert_array_equal(epistemic_std(members), np.zeros(6))
    np.testing.assert_array_equal(epistemic_std(members[:1]), np.zeros(6))


def test_epistemic_std_of_two_members_is_half_their_distance():
    a = np.random.default_rng(6).normal(size=(5, 3))
    b = np.random.default_rng(7).normal(size=(5, 3))
    np.testing.assert_allclose(epistemic_std(np.stack([a, b])), np.abs(a - b).mean(axis=1) / 2)


def test_plots_write_png_files(tmp_path):
    mean, var, targets = calibrated_samples(n=2000, seed=8)
    reliability = tmp_path / "reliability.png"
    plot_reliability(reliability_curve(mean, var, targets), str(reliability), "calibrated", ["x", "v", "theta"])
    members = np.random.default_rng(9).normal(size=(5, 200, 3))
    epistemic = tmp_path / "epistemic.png"
    # Zeros must not break the log axis.
    plot_epistemic(np.zeros(200), epistemic_std(members * 10), str(epistemic), "spread")
    for path in (reliability, epistemic):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
        assert path.stat().st_size > 1000
