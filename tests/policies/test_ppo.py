"""PPO in the dream: GAE against a hand computation, the clipped objective, one compiled program across
retrained models, and a policy that learns to balance CartPole inside a trained model."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from wm_jax.config import PPOConfig
from wm_jax.models.environment import FunctionalModelEnv, ModelEnvParams
from wm_jax.policies.ppo import PPO, Rollout

ENV = FunctionalModelEnv(mode="mean", reward="known", max_episode_steps=200, env_id="CartPole-v1")


def agent(**config):
    return PPO(4, 2, None, None, ENV, PPOConfig(**config))


def test_gae_matches_a_hand_computation_and_stops_at_episode_ends():
    ppo = agent(gamma=0.9, gae_lambda=0.8)
    rng = np.random.default_rng(0)
    value, reward = rng.normal(size=(6, 3)).astype(np.float32), rng.normal(size=(6, 3)).astype(np.float32)
    done = np.zeros((6, 3), bool)
    done[2, 0] = done[4, 1] = True
    last = rng.normal(size=3).astype(np.float32)
    rollout = Rollout(None, None, None, jnp.asarray(value), jnp.asarray(reward), jnp.asarray(done))
    advantages, targets = ppo.advantages(rollout, jnp.asarray(last), ppo.init(jax.random.key(0)).settings)
    expected = np.zeros((6, 3))
    for env in range(3):
        running, next_value = 0.0, last[env]
        for t in reversed(range(6)):
            live = 0.0 if done[t, env] else 1.0
            delta = reward[t, env] + 0.9 * next_value * live - value[t, env]
            running = delta + 0.9 * 0.8 * live * running
            expected[t, env], next_value = running, value[t, env]
    np.testing.assert_allclose(np.asarray(advantages), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(targets), expected + value, rtol=1e-5, atol=1e-6)


@pytest.mark.slow  # trains or compiles for several seconds
def test_the_clipped_objective_ignores_ratios_past_the_clip():
    """With the advantage positive, raising the probability of the taken action pays only up to 1 + clip."""
    ppo = agent(clip=0.2, entropy_coef=0.0, value_coef=0.0)
    state = ppo.init(jax.random.key(0))
    params, settings = state.params, state.settings
    obs = jnp.zeros((4, 4))
    action = jnp.zeros(4, jnp.int32)
    logp, _, value = ppo.log_prob_and_entropy(params, obs, action)
    advantages = jnp.array([1.0, 2.0, 3.0, 4.0])  # normalised inside the loss to mean 0, std 1
    normalised = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
    for old_shift, expected_ratio in ((0.0, 1.0), (np.log(2.0), 2.0), (-np.log(2.0), 0.5)):
        batch = Rollout(obs, action, logp - old_shift, value, None, None)
        loss = float(ppo.loss(params, batch, advantages, value, settings))
        clipped = np.minimum(expected_ratio * normalised, np.clip(expected_ratio, 0.8, 1.2) * normalised)
        np.testing.assert_allclose(loss, -float(clipped.mean()), rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_ppo_learns_to_balance_in_a_trained_model_and_compiles_once():
    from wm_jax.data import collect_dataset
    from wm_jax.planning.mbrl import ModelTrainer
    from wm_jax.policies.ppo import _programs
    from wm_jax.training import to_buffer

    data = collect_dataset("CartPole-v1", transitions=1500, seed=0).transitions
    trainer = ModelTrainer("CartPole-v1", members=2, epochs=15, seed=0)
    ppo = agent(updates=25, envs=64, steps=32)
    train, reset, _, _ = _programs(ppo)
    state = ppo.init(jax.random.key(1))
    buffer = to_buffer(data)
    for round_ in range(2):  # a retrained model is new arrays for the same program
        params = ModelEnvParams(trainer.train(buffer, round_), jnp.asarray(data.states[data.step == 0]))
        state, _, metrics = train(state, params, reset(params, jax.random.key(2)), jax.random.key(3 + round_))
        returns = np.asarray(metrics["returns"]) / np.maximum(np.asarray(metrics["episodes"]), 1)
        if round_ == 0:
            first = returns[:3].mean()
    assert train._cache_size() == 1
    assert returns[-3:].mean() > max(100.0, 3 * first), (first, returns)


def test_ppo_float_settings_travel_in_the_state_and_share_programs():
    """Agents that differ only in PPO's floats (gamma, GAE lambda, clip, the coefficients, the learning rate,
    the gradient clip) share one set of compiled programs; the floats are the state's."""
    from wm_jax.policies.ppo import _programs

    base, other = (
        agent(),
        agent(gamma=0.5, clip=0.3, entropy_coef=0.1, learning_rate=0.01, max_grad_norm=2.0, reward_scale=0.1),
    )
    assert _programs(base) is _programs(other)
    state = other.init(jax.random.key(0))
    assert float(state.settings.gamma) == 0.5 and np.isclose(float(state.settings.clip), 0.3)
    assert np.isclose(float(state.settings.reward_scale), 0.1)
    assert np.isclose(float(state.opt_state.hyperparams["learning_rate"]), 0.01)
    assert float(state.opt_state.hyperparams["max_grad_norm"]) == 2.0
    assert _programs(agent(envs=8)) is not _programs(base)  # a size is the program's
