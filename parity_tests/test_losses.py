"""Check 10: the engine's losses equal their PyTorch restatement (`parity_tests.losses`).

JAX float32 against torch float64 on the same float32 inputs, values and gradients; every
tolerance is in `losses` with its measurement. Fixed seeds and shapes, so the tests are
deterministic. The last tests break the torch side on purpose and require the checks to fail.
"""

import dataclasses

import pytest
import torch

from wm_jax.config import ModelConfig
from wm_jax.models import ModelSpec

from . import losses
from .test_parity import assert_all_pass

# (rows, state dims, seed, calibrated targets): the report's cases, one row alone, and 1000 rows.
NLL_CASES = (*losses.NLL_CASES, (1, 4, 5, True), (1000, 2, 6, False))


@pytest.mark.parametrize("rows, dims, seed, calibrated", NLL_CASES)
def test_gaussian_nll_soft_bounds_and_penalty_match_torch(rows, dims, seed, calibrated):
    """soft_bound_logvar, gaussian_nll and logvar_bound_penalty, masked, with a fifth of the raw
    log-variances far beyond the bounds: values, and gradients w.r.t. the mean, the raw
    log-variance and both bounds. Broken: a hard clamp, an unmasked mean, 0.5 x NLL, the penalty's
    sign -> differences of O(1e-2) or more."""
    assert_all_pass(losses.gaussian_nll_checks("nll", rows, dims, seed, calibrated=calibrated))


@pytest.mark.parametrize("rows, dims, seed", [(32, 3, 0), (7, 1, 1), (1, 2, 2), (256, 11, 3)])
def test_bce_and_masked_mse_match_torch(rows, dims, seed):
    """binary_cross_entropy (= BCEWithLogitsLoss over the valid rows, logits up to +-100) and
    masked_mse for (B, S) and (B,): values and gradients."""
    assert_all_pass(losses.classification_checks("bce/mse", rows, dims, seed))


@pytest.mark.parametrize("normalize", [False, True])
@pytest.mark.parametrize("delta", [False, True])
@pytest.mark.parametrize("rows, state_dim, action_dim, seed", [(200, 4, 3, 0), (17, 1, 1, 1)])
def test_normalization_matches_torch(rows, state_dim, action_dim, seed, normalize, delta):
    """fit_normalizer (population std, a constant column's std taken as 1), the network's inputs,
    delta and standardised targets, and to_environment_units (mean, logvar + 2 log std,
    reward). Broken: the sample std, a missing 2 in 2 log std, the state not added back -> fails."""
    assert_all_pass(losses.normalization_checks("normalisation", rows, state_dim, action_dim, seed, normalize=normalize, delta=delta))


OBJECTIVE_CASES = {
    "probabilistic+reward+termination": (losses.FULL_SPEC, 64, 0),
    "probabilistic+reward+termination, 2+3, 64x64, B=8": (ModelSpec(2, 3, dataclasses.replace(losses.FULL_CONFIG, hidden_sizes=(64, 64))), 8, 1),
    "probabilistic, raw units": (ModelSpec(3, 1, ModelConfig(hidden_sizes=(16, 16), probabilistic=True)), 33, 2),
    "deterministic+reward": (losses.DETERMINISTIC_SPEC, 64, 3),
}


@pytest.mark.parametrize("case", OBJECTIVE_CASES)
def test_objective_of_a_model_matches_torch(case):
    """make_objective of a wm_jax model on a Batch built with a fitted Normalizer vs the same MLP
    and sum of terms in torch, from the environment-unit rows: loss, each term, every gradient."""
    spec, rows, seed = OBJECTIVE_CASES[case]
    assert_all_pass(losses.objective_checks(case, spec, rows, seed))


@pytest.mark.parametrize("state_dim, action_dim, hid_size, num_layers, rows, seed", [(4, 2, 32, 3, 64, 0), (1, 1, 8, 1, 5, 1), (11, 3, 200, 4, 256, 2)])
def test_mbrl_gaussian_mlp_loss_equals_ours(state_dim, action_dim, hid_size, num_layers, rows, seed):
    """mbrl-lib's GaussianMLP (ensemble_size=1, learned bounds) with its weights in a wm_jax model:
    same forward mean and log-variance, its loss (_nll_loss) = our objective, same gradients."""
    pytest.importorskip("mbrl.models.gaussian_mlp", reason="mbrl-lib (with hydra-core, omegaconf, termcolor) not installed")
    assert_all_pass(losses.mbrl_gaussian_mlp_checks("mbrl-lib", state_dim, action_dim, hid_size, num_layers, rows, seed))


# Sensitivity: each check must see a torch side that computes something else.


def failing(rows) -> list[str]:
    return [row.check.split(": ", 1)[1] for row in rows if not row.passed]


def test_nll_check_sees_masked_rows_counted(monkeypatch):
    monkeypatch.setattr(losses, "valid_rows_mean", lambda values, mask: values.mean())
    failed = failing(losses.gaussian_nll_checks("nll", 32, 3, 0))
    assert "gaussian nll (given logvar)" in failed and "nll(soft bound) + penalty" in failed, failed


def test_nll_check_sees_a_hard_clamp(monkeypatch):
    monkeypatch.setattr(losses, "soft_bound_logvar_torch", lambda raw, low, high: torch.clamp(raw, low, high))
    failed = failing(losses.gaussian_nll_checks("nll", 32, 3, 0))
    assert "soft-bounded logvar" in failed and "nll(soft bound) + penalty grad (raw, min, max)" in failed, failed


def test_objective_check_sees_half_the_nll(monkeypatch):
    nll = losses.gaussian_nll
    monkeypatch.setattr(losses, "gaussian_nll", lambda *args: 0.5 * nll(*args))
    failed = failing(losses.objective_checks("objective", losses.FULL_SPEC, 64, 0))
    assert {"loss", "nll", "gradients"} <= set(failed), failed


def test_normalization_check_sees_the_sample_std(monkeypatch):
    def sample_stats(x):
        std = x.std(dim=0, correction=1)
        return x.mean(dim=0), torch.where(std < losses.MIN_STD, torch.ones_like(std), std)

    monkeypatch.setattr(losses, "column_stats", sample_stats)
    failed = failing(losses.normalization_checks("normalisation", 17, 2, 2, 0, normalize=True, delta=True))
    assert "fitted statistics" in failed and "network input" in failed, failed
