"""What a model predicts beyond the next-state mean, learned and reported: probabilistic members'
calibrated noise, and the reward and termination heads."""

import numpy as np
import pytest

from tests.helpers import cartpole_spec
from wm_jax.config import ModelConfig, TrainConfig
from wm_jax.models.prediction import members_numpy
from wm_jax.training import fit


@pytest.mark.slow  # 30 epochs on 4,000 rows
def test_probabilistic_members_learn_calibrated_noise():
    """A noisy linear system with known noise std 0.1: the Gaussian members' 90% intervals cover
    about 90% of fresh data and the learned variance is close to the truth."""
    from wm_jax.evaluation.heads import uncertainty_scores
    from wm_jax.models import ModelSpec
    from wm_jax.transitions import Transitions

    rng = np.random.default_rng(0)

    def system(n):
        states = rng.normal(size=(n, 2)).astype(np.float32)
        actions = rng.normal(size=(n, 1)).astype(np.float32)
        next_states = (0.9 * states + 0.5 * actions + 0.1 * rng.normal(size=(n, 2))).astype(np.float32)
        return Transitions(states, actions, next_states, episode=np.arange(n) // 50)

    spec = ModelSpec(2, 1, ModelConfig(kind="ensemble", members=3, probabilistic=True, normalize=True))
    fitted = fit(spec, TrainConfig(epochs=30, batch_size=64), system(4000), seed=0)
    test = system(4000)
    members = members_numpy(fitted.ensemble, test.states, test.actions)
    assert np.all(members.logvar <= 0.5 + 2 * np.log(fitted.ensemble.normalizer.target_std) + 1e-5)
    uncertainty = uncertainty_scores(members, fitted.ensemble.elites, test)
    assert 0.85 <= uncertainty.coverage[0.9].mean() <= 0.95, uncertainty.coverage
    assert 0.08 < uncertainty.mean_aleatoric_std < 0.12


@pytest.mark.slow  # 40 epochs
def test_reward_and_termination_heads_learn_cartpoles(cartpole_small):
    from wm_jax.evaluation.heads import termination_scores

    spec = cartpole_spec(1, normalize=True, delta=True, termination_head=True, reward_head=True)
    train, held_out = cartpole_small.take(slice(0, 450)), cartpole_small.take(slice(450, 600))
    fitted = fit(spec, TrainConfig(epochs=40), train, seed=0)
    members = members_numpy(fitted.ensemble, held_out.states, held_out.actions)
    assert members.reward.shape == members.termination_logit.shape == (1, 150)
    assert np.abs(members.reward - 1.0).mean() < 0.03  # CartPole pays 1 every step
    assert held_out.terminated.any()
    termination = termination_scores(members, fitted.ensemble.elites, held_out)
    assert termination.auroc > 0.8, termination  # chance is 0.5; 450 rows hold ~20 terminations
