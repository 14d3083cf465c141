"""Objectives: the masked last batch and the Gaussian negative log-likelihood."""

import numpy as np

from wm_jax.training import gaussian_nll, masked_mse, mse_loss


def test_the_masked_last_batch_equals_a_short_batch():
    rng = np.random.default_rng(0)
    prediction, target = rng.normal(size=(2, 32, 4)).astype(np.float32)
    mask = np.arange(32) < 12
    np.testing.assert_allclose(masked_mse(prediction, target, mask), mse_loss(prediction[:12], target[:12]), rtol=1e-6)
    full = masked_mse(prediction, target, np.ones(32))
    assert full == mse_loss(prediction, target), "a full batch is the tutorial's MSELoss exactly"


def test_gaussian_nll_is_mbrl_libs_formula_and_is_minimised_by_the_true_variance():
    rng = np.random.default_rng(1)
    target = rng.normal(size=(4000, 3)).astype(np.float32) * 0.5
    mean = np.zeros_like(target)
    value = gaussian_nll(mean, np.full_like(target, np.log(0.25)), target, np.ones(4000))
    np.testing.assert_allclose(value, np.mean(target**2 / 0.25 + np.log(0.25)), rtol=1e-5)
    others = [gaussian_nll(mean, np.full_like(target, np.log(v)), target, np.ones(4000)) for v in (0.1, 0.5)]
    assert value < min(others)
