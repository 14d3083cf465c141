"""SAC: its losses against a hand computation in NumPy, its updates, its compiled programs, and a short
Pendulum-v1 run that learns."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from wm_jax.config import OnlineConfig, SACConfig
from wm_jax.policies.sac import SAC, empty_buffer, initial_state, learn_program, run_sac, write_row
from wm_jax.transitions import Transitions

LOW, HIGH = (-2.0, -0.5), (2.0, 1.5)  # an asymmetric Box, so the squash's centre and scale both matter


def agent_and_state(**config):
    agent = SAC(3, LOW, HIGH, SACConfig(hidden_sizes=(8, 6), **config))
    return agent, initial_state(agent, jax.random.key(0))


def batch(n=7, seed=1):
    rng = np.random.default_rng(seed)
    return Transitions(
        rng.normal(size=(n, 3)).astype(np.float32),
        rng.uniform(LOW, HIGH, size=(n, 2)).astype(np.float32),
        rng.normal(size=(n, 3)).astype(np.float32),
        rng.normal(size=n).astype(np.float32),
        np.array([False, True] * (n // 2) + [False] * (n % 2)),
    )


def mlp(params, x):
    """The NumPy forward pass of an `MLP`'s parameters (ReLU between layers)."""
    layers = params["layers"]
    for i in range(len(layers)):
        x = x @ np.asarray(layers[i]["kernel"][...], np.float64) + np.asarray(layers[i]["bias"][...], np.float64)
        if i < len(layers) - 1:
            x = np.maximum(x, 0)
    return x


def squashed_sample(actor, obs, noise):
    """The tanh-Gaussian action and its log-density, by hand."""
    out = mlp(actor["net"], obs)
    mean, raw = out[:, :2], out[:, 2:]
    log_std = -5 + 0.5 * 7 * (np.tanh(raw) + 1)
    u = mean + np.exp(log_std) * noise
    centre, half = (np.array(HIGH) + np.array(LOW)) / 2, (np.array(HIGH) - np.array(LOW)) / 2
    log_prob = -0.5 * noise**2 - log_std - 0.5 * np.log(2 * np.pi) - np.log(half * (1 - np.tanh(u) ** 2) + 1e-6)
    return centre + half * np.tanh(u), log_prob.sum(-1)


def q_pair(critic, obs, action):
    x = np.concatenate([obs, action], -1)
    return mlp(critic["q1"], x)[:, 0], mlp(critic["q2"], x)[:, 0]


def test_critic_loss_is_the_soft_bellman_error_of_both_critics_by_hand():
    agent, state = agent_and_state(gamma=0.9, initial_alpha=0.3)
    rows, key = batch(), jax.random.key(5)
    noise = np.asarray(jax.random.normal(key, (7, 2)), np.float64)
    next_action, next_log_prob = squashed_sample(state.actor, rows.next_states, noise)
    soft = np.minimum(*q_pair(state.target_critic, rows.next_states, next_action)) - 0.3 * next_log_prob
    target = rows.rewards + 0.9 * (1 - rows.terminated) * soft
    q1, q2 = q_pair(state.critic, rows.states, rows.actions)
    expected = np.mean((q1 - target) ** 2) + np.mean((q2 - target) ** 2)
    got = jax.jit(agent.critic_loss)(state.critic, state, jax.tree.map(jnp.asarray, rows), key)
    np.testing.assert_allclose(float(got), expected, rtol=1e-5)


def test_actor_loss_is_the_entropy_regularised_objective_by_hand():
    agent, state = agent_and_state(initial_alpha=0.7)
    rows, key = batch(), jax.random.key(8)
    noise = np.asarray(jax.random.normal(key, (7, 2)), np.float64)
    action, log_prob = squashed_sample(state.actor, rows.states, noise)
    expected = np.mean(0.7 * log_prob - np.minimum(*q_pair(state.critic, rows.states, action)))
    got, got_log_prob = jax.jit(agent.actor_loss)(state.actor, state, jnp.asarray(rows.states), key)
    np.testing.assert_allclose(float(got), expected, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(got_log_prob), log_prob, rtol=1e-4, atol=1e-5)
    greedy = np.asarray(jax.jit(agent.greedy)(state.actor, jnp.asarray(rows.states)))
    assert (greedy >= np.array(LOW)).all() and (greedy <= np.array(HIGH)).all()


@pytest.mark.slow  # trains or compiles for several seconds
def test_a_gradient_step_moves_the_targets_by_tau_and_alpha_toward_the_entropy_target():
    for target_entropy, alpha_moves in ((50.0, "up"), (-50.0, "down")):
        agent, state = agent_and_state(tau=0.25, target_entropy=target_entropy)
        new, metrics = jax.jit(agent.gradient_step)(state, jax.tree.map(jnp.asarray, batch()), jax.random.key(2))
        for old_t, critic, new_t in zip(
            jax.tree.leaves(state.target_critic), jax.tree.leaves(new.critic), jax.tree.leaves(new.target_critic)
        ):
            np.testing.assert_allclose(
                np.asarray(new_t), 0.75 * np.asarray(old_t) + 0.25 * np.asarray(critic), rtol=1e-6
            )
        assert (float(new.log_alpha) > float(state.log_alpha)) == (alpha_moves == "up")
        assert not jax.tree.all(jax.tree.map(lambda a, b: bool(jnp.array_equal(a, b)), state.actor, new.actor))


@pytest.mark.slow  # trains or compiles for several seconds
def test_float_settings_and_learning_rates_reuse_the_compiled_program():
    """Two agents that differ only in floats share one compiled write-update-act program, and still differ."""
    outcomes = []
    for settings in ({}, {"gamma": 0.5, "tau": 0.1, "critic_learning_rate": 0.01, "actor_learning_rate": 0.02}):
        agent, state = agent_and_state(batch_size=4, **settings)
        buffer = empty_buffer(3, 2, 16)
        rows = batch(5)
        for i in range(4):
            buffer = write_row(buffer, jax.tree.map(lambda x, i=i: jnp.asarray(x[i]), rows))
        program = learn_program(agent)
        row = jax.tree.map(lambda x: jnp.asarray(x[4]), rows)
        state, buffer, action, metrics = program(state, buffer, row, jnp.asarray(rows.states[0]), jax.random.key(3))
        assert int(buffer.size) == 5
        outcomes.append(float(metrics.critic_loss[0]))
    assert program._cache_size() == 1
    assert outcomes[0] != outcomes[1]


def test_sac_refuses_a_discrete_action_space():
    from wm_jax.envs import EnvError

    with pytest.raises(EnvError, match="continuous"):
        run_sac("CartPole-v1", OnlineConfig(total_transitions=10, initial_transitions=5), SACConfig(), 0)


@pytest.mark.slow
def test_sac_learns_pendulum_in_a_short_run():
    """3,000 real steps with small networks take a random policy's return (below -1,200) above -900."""
    loop = OnlineConfig(total_transitions=3000, initial_transitions=500, eval_every=1500, eval_episodes=5)
    result = run_sac("Pendulum-v1", loop, SACConfig(hidden_sizes=(64, 64), batch_size=128), seed=0)
    first, last = result.curve[0]["eval_return_mean"], result.curve[-1]["eval_return_mean"]
    assert first < -1200 and last > -900, result.curve
    assert len(result.eval_returns) == 5 and result.curve[-1]["real_transitions"] == 3000
