"""Planners on toy systems whose optimal action sequence is known exactly, so a planner bug cannot
hide behind a good model; the known reward table against gymnasium; the model objective."""

import gymnasium
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from wm_jax.envs import Box, Discrete, env_spec
from wm_jax.planning.optimizers import Categorical, Gaussian, cem, initial_distribution, mppi, random_shooting, sample, shift

# 1. A point mass: x = (position, velocity), velocity += u dt, position += velocity dt; reward
#    -(x'Qx' + r u^2) per step. Its optimal open-loop sequence is linear least squares.
DT, HORIZON = 0.1, 10
A = np.array([[1.0, DT], [0.0, 1.0]])
B = np.array([0.0, DT])
Q, R = np.diag([1.0, 0.1]), 0.01
X0 = np.array([1.0, 0.0])


def point_mass_optimum():
    """u* = argmin sum_t x_t' Q x_t + r u_t^2, from x_t = A^t x0 + sum_k A^(t-1-k) B u_k."""
    F = np.stack([np.linalg.matrix_power(A, t + 1) @ X0 for t in range(HORIZON)])  # (H, 2)
    G = np.zeros((HORIZON, 2, HORIZON))
    for t in range(HORIZON):
        for k in range(t + 1):
            G[t, :, k] = np.linalg.matrix_power(A, t - k) @ B
    lhs = sum(G[t].T @ Q @ G[t] for t in range(HORIZON)) + R * np.eye(HORIZON)
    rhs = -sum(G[t].T @ Q @ F[t] for t in range(HORIZON))
    return np.linalg.solve(lhs, rhs)


def point_mass_returns(sequences, key=None):
    """(C,) returns of (C, H, 1) force sequences."""
    x = jnp.broadcast_to(jnp.asarray(X0, jnp.float32), (sequences.shape[0], 2))
    total = jnp.zeros(sequences.shape[0])
    for t in range(HORIZON):
        u = sequences[:, t, 0]
        x = x @ jnp.asarray(A.T, jnp.float32) + u[:, None] * jnp.asarray(B, jnp.float32)
        total = total - (jnp.einsum("bi,ij,bj->b", x, jnp.asarray(Q, jnp.float32), x) + R * u**2)
    return total


FORCE = Box((-10.0,), (10.0,))


def test_cem_finds_the_point_mass_optimum():
    optimum = point_mass_optimum()
    best_value = float(point_mass_returns(jnp.asarray(optimum, jnp.float32)[None, :, None])[0])
    result = jax.jit(lambda key: cem(point_mass_returns, initial_distribution(FORCE, HORIZON), FORCE, key,
                                     iterations=30, candidates=500, elites=50, alpha=0.1))(jax.random.key(0))
    assert float(result.value) >= best_value - 0.01 * abs(best_value), (float(result.value), best_value)
    np.testing.assert_allclose(result.sequence[:3, 0], optimum[:3], atol=0.3)
    assert float(result.value) <= best_value + 1e-4, "nothing beats the optimum"


def test_mppi_finds_the_point_mass_optimum():
    optimum = point_mass_optimum()
    best_value = float(point_mass_returns(jnp.asarray(optimum, jnp.float32)[None, :, None])[0])
    wide = initial_distribution(FORCE, HORIZON)
    small_noise = wide._replace(std=wide.std / 10)  # MPPI keeps its noise: a fine one to converge finely
    result = jax.jit(lambda key: mppi(point_mass_returns, small_noise, FORCE, key, iterations=40, candidates=500,
                                      temperature=0.05))(jax.random.key(0))
    assert float(result.value) >= best_value - 0.02 * abs(best_value), (float(result.value), best_value)
    np.testing.assert_allclose(result.distribution.mean[:3, 0], optimum[:3], atol=0.5)


def test_random_shooting_is_worse_than_cem_but_improves_on_a_random_sequence():
    optimum_value = float(point_mass_returns(jnp.asarray(point_mass_optimum(), jnp.float32)[None, :, None])[0])
    shooting = random_shooting(point_mass_returns, FORCE, jax.random.key(0), candidates=500, horizon=HORIZON)
    typical = float(jnp.median(point_mass_returns(jax.random.uniform(jax.random.key(1), (500, HORIZON, 1), minval=-10, maxval=10))))
    assert typical < float(shooting.value) < optimum_value


# 2. A discrete chain: position += (action - 1) (left, stay, right), reward -|position - goal|.
#    From 0 with goal 4 and horizon 6 the unique optimum is right x4, then stay x2.
CHAIN = Discrete(3)
GOAL, CHAIN_HORIZON = 4, 6
CHAIN_OPTIMUM = np.array([2, 2, 2, 2, 1, 1])


def chain_returns(sequences, key=None):
    position = jnp.cumsum(sequences - 1, axis=1)
    return -jnp.abs(position - GOAL).sum(axis=1).astype(jnp.float32)


@pytest.mark.parametrize("planner", ["cem", "mppi", "random"])
def test_planners_find_the_discrete_chain_optimum(planner):
    key = jax.random.key(0)
    if planner == "cem":
        result = cem(chain_returns, initial_distribution(CHAIN, CHAIN_HORIZON), CHAIN, key, iterations=6,
                     candidates=300, elites=30, alpha=0.1)
        assert np.asarray(result.distribution.probs).argmax(axis=1).tolist() == CHAIN_OPTIMUM.tolist()
    elif planner == "mppi":
        result = mppi(chain_returns, initial_distribution(CHAIN, CHAIN_HORIZON), CHAIN, key, iterations=6,
                      candidates=300, temperature=0.5)
        assert np.asarray(result.distribution.probs).argmax(axis=1).tolist() == CHAIN_OPTIMUM.tolist()
    else:
        result = random_shooting(chain_returns, CHAIN, key, candidates=4000, horizon=CHAIN_HORIZON)
    np.testing.assert_array_equal(result.sequence, CHAIN_OPTIMUM)
    assert float(result.value) == -6.0


def test_distributions_respect_the_action_space_and_shift_warm_starts():
    box = Box((-2.0, 0.0), (2.0, 1.0))
    gaussian = initial_distribution(box, 5)
    assert isinstance(gaussian, Gaussian) and gaussian.mean.shape == (5, 2)
    draws = sample(gaussian._replace(std=gaussian.std * 100), box, jax.random.key(0), 1000)
    assert draws.shape == (1000, 5, 2) and float(draws[..., 0].min()) >= -2 and float(draws[..., 1].max()) <= 1
    planned = Gaussian(jnp.arange(10.0).reshape(5, 2), jnp.ones((5, 2)))
    shifted = shift(planned, box)
    np.testing.assert_array_equal(shifted.mean[:4], planned.mean[1:])
    np.testing.assert_array_equal(shifted.mean[4], [0.0, 0.5])
    np.testing.assert_array_equal(shifted.std, gaussian.std)  # exploration restarts every plan
    certain = Categorical(jnp.asarray([[1.0, 0, 0, 0], [0, 1.0, 0, 0]]))
    np.testing.assert_allclose(shift(certain, Discrete(4)).probs, [[0.125, 0.625, 0.125, 0.125], [0.25] * 4])
    categorical = initial_distribution(Discrete(4), 3)
    assert isinstance(categorical, Categorical)
    np.testing.assert_allclose(categorical.probs.sum(axis=1), 1.0)
    assert sample(categorical, Discrete(4), jax.random.key(1), 100).dtype == jnp.int32


# 3. The known reward and termination functions agree with gymnasium on real transitions.
@pytest.mark.parametrize("env_id", ["CartPole-v1", "Acrobot-v1", "MountainCar-v0", "MountainCarContinuous-v0", "Pendulum-v1"])
def test_known_rewards_match_gymnasium(env_id):
    env = gymnasium.make(env_id)
    reward_fn = env_spec(env_id).planning_objective("known")
    rng = np.random.default_rng(0)
    for episode in range(3):
        state, _ = env.reset(seed=episode)
        for _ in range(300):
            if env_id == "MountainCarContinuous-v0" and rng.random() < 0.5:
                action = np.array([1.0], np.float32)  # push hard sometimes so the goal is reached
            else:
                action = env.action_space.sample()
            if env_id.startswith("MountainCar") and episode == 2:
                state = np.array([0.49, 0.05], np.float32)  # start next to the goal
                env.unwrapped.state = state.astype(np.float64)
            next_state, reward, terminated, truncated, _ = env.step(action)
            r, t = reward_fn(jnp.asarray(state), jnp.asarray(action), jnp.asarray(next_state))
            assert float(r) == pytest.approx(reward, rel=1e-5, abs=1e-5), (env_id, state, action)
            assert bool(t) == terminated, (env_id, next_state)
            if terminated or truncated:
                break
            state = next_state


@pytest.mark.parametrize("env_id", ["Acrobot-v1", "MountainCar-v0"])
def test_shaped_objectives_rise_toward_the_goal_stay_nonpositive_and_end_at_the_real_termination(env_id):
    """On real gymnasium transitions: the same termination as the known function, every value <= 0
    (so ending the episode is never avoided), 0 once terminated, and a higher value for the action
    that moves toward the goal (the tip up for Acrobot; the push along the velocity for MountainCar,
    which adds mechanical energy)."""
    shaped, known = env_spec(env_id).planning_objective("shaped"), env_spec(env_id).planning_objective("known")
    env = gymnasium.make(env_id)
    rng = np.random.default_rng(1)
    better = 0
    trials = 200
    for trial in range(trials):
        state, _ = env.reset(seed=trial)
        for _ in range(rng.integers(0, 60)):
            state, *_ = env.step(env.action_space.sample())
        saved = np.array(env.unwrapped.state, np.float64)
        values = []
        for action in (0, 2):
            env.unwrapped.state = saved.copy()
            next_state, _, terminated, _, _ = env.step(action)
            value, done = shaped(jnp.asarray(state), jnp.asarray(action), jnp.asarray(next_state))
            assert bool(done) == bool(known(jnp.asarray(state), jnp.asarray(action), jnp.asarray(next_state))[1]) == terminated
            assert float(value) <= 0.0 and (not terminated or float(value) == 0.0)
            values.append(float(value))
        if env_id == "MountainCar-v0":
            toward = 2 if saved[1] > 0 else 0  # push along the velocity
            better += values[toward // 2] > values[1 - toward // 2]
        else:
            # Torque 0 vs 2 on the joint: whichever raises the tip more must score higher.
            heights = []
            for action in (0, 2):
                env.unwrapped.state = saved.copy()
                s, *_ = env.step(action)
                heights.append(-s[0] - (s[0] * s[2] - s[1] * s[3]))
            better += (values[0] > values[1]) == (heights[0] > heights[1])
    assert better >= 0.95 * trials, better
    with pytest.raises(Exception, match="no shaped objective for CartPole-v1"):
        env_spec("CartPole-v1").planning_objective("shaped")


# 4. The model objective and the MPC agent.
def _cartpole_model(members=3, seed=0):
    from wm_jax.config import ModelConfig
    from wm_jax.models import ensemble_of, init_ensemble_params, spec_for_env

    spec = spec_for_env("CartPole-v1", ModelConfig(kind="ensemble", members=members, delta=True))
    return ensemble_of(spec, init_ensemble_params(spec, jax.random.key(seed)))


def test_tsinf_particles_follow_one_member_each_and_stop_scoring_at_termination():
    """Particle p rolls through elite p mod K alone: the imagined return equals the mean over
    members of a hand rollout with `apply_member`, counting +1 until CartPole's termination."""
    from wm_jax.models import apply_member
    from wm_jax.planning.imagination import imagined_returns

    cartpole = env_spec("CartPole-v1").planning_objective("known")
    model = _cartpole_model(members=3)
    start = jnp.asarray([0.0, 0.5, 0.05, 0.5])
    sequences = jax.random.randint(jax.random.key(1), (4, 25), 0, 2)
    got = imagined_returns(model, cartpole, start, sequences, jax.random.key(2), particles=3, mode="tsinf")
    expected = np.zeros(4)
    for e in range(3):
        params = jax.tree.map(lambda x: x[e], model.params)
        for c in range(4):
            state, alive, total = start[None], True, 0.0
            for t in range(25):
                action = model.spec.encode_actions(sequences[c, t:t + 1])
                state = apply_member(model.graphdef, params, state, action, normalizer=model.normalizer)
                if alive:
                    total += 1.0
                alive = alive and not bool(cartpole(None, None, state[0])[1])
            expected[c] += total / 3
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    assert (np.asarray(got) < 25).any(), "an untrained model lets some particles terminate"


def test_mpc_agent_acts_in_the_action_space_for_a_batch_and_retraining_does_not_recompile():
    from wm_jax.config import PlannerConfig
    from wm_jax.planning.mpc import MPCAgent

    model = _cartpole_model()
    agent = MPCAgent(model.spec, "CartPole-v1", PlannerConfig(horizon=8, candidates=32, iterations=2))
    states = np.zeros((6, 4), np.float32)
    plan = agent.init(6)
    actions, plan, values = agent.act(model, states, plan, jax.random.key(0))
    assert actions.shape == (6,) and set(np.asarray(actions).tolist()) <= {0, 1} and values.shape == (6,)
    other = _cartpole_model(seed=1)
    agent.act(other, states, plan, jax.random.key(1))
    assert agent._act._cache_size() == 1, "new parameters reuse the compiled planner"
    plan = agent.reset(plan, np.array([True, False, False, False, False, True]))
    np.testing.assert_allclose(plan.probs[0], 0.5)


@pytest.mark.slow  # compiles two planners
def test_mpc_on_pendulum_gives_bounded_continuous_actions():
    from wm_jax.config import ModelConfig, PlannerConfig
    from wm_jax.models import ensemble_of, init_ensemble_params, spec_for_env
    from wm_jax.planning.mpc import MPCAgent

    spec = spec_for_env("Pendulum-v1", ModelConfig(kind="ensemble", members=2, probabilistic=True, reward_head=True))
    model = ensemble_of(spec, init_ensemble_params(spec, jax.random.key(0)))
    for reward in ("known", "learned"):
        agent = MPCAgent(spec, "Pendulum-v1", PlannerConfig(horizon=5, candidates=16, iterations=2, reward=reward,
                                                            mode="ts1", sample=True, particles=4))
        actions, _, values = agent.act(model, np.ones((3, 3), np.float32), agent.init(3), jax.random.key(0))
        assert actions.shape == (3, 1) and float(jnp.abs(actions).max()) <= 2.0 and np.isfinite(values).all()
