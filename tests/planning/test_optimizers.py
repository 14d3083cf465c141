"""Planners on toy systems whose optimal action sequence is known exactly, so a planner bug cannot
hide behind a good model; their sampling distributions."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from wm_jax.envs import Box, Discrete
from wm_jax.planning.optimizers import (
    Categorical,
    Gaussian,
    cem,
    initial_distribution,
    mppi,
    random_shooting,
    sample,
    shift,
)

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
    result = jax.jit(
        lambda key: cem(
            point_mass_returns,
            initial_distribution(FORCE, HORIZON),
            FORCE,
            key,
            iterations=30,
            candidates=500,
            elites=50,
            alpha=0.1,
        )
    )(jax.random.key(0))
    assert float(result.value) >= best_value - 0.01 * abs(best_value), (float(result.value), best_value)
    np.testing.assert_allclose(result.sequence[:3, 0], optimum[:3], atol=0.3)
    assert float(result.value) <= best_value + 1e-4, "nothing beats the optimum"


def test_mppi_finds_the_point_mass_optimum():
    optimum = point_mass_optimum()
    best_value = float(point_mass_returns(jnp.asarray(optimum, jnp.float32)[None, :, None])[0])
    wide = initial_distribution(FORCE, HORIZON)
    small_noise = wide._replace(std=wide.std / 10)  # MPPI keeps its noise: a fine one to converge finely
    result = jax.jit(
        lambda key: mppi(point_mass_returns, small_noise, FORCE, key, iterations=40, candidates=500, temperature=0.05)
    )(jax.random.key(0))
    assert float(result.value) >= best_value - 0.02 * abs(best_value), (float(result.value), best_value)
    np.testing.assert_allclose(result.distribution.mean[:3, 0], optimum[:3], atol=0.5)


def test_random_shooting_is_worse_than_cem_but_improves_on_a_random_sequence():
    optimum_value = float(point_mass_returns(jnp.asarray(point_mass_optimum(), jnp.float32)[None, :, None])[0])
    shooting = random_shooting(point_mass_returns, FORCE, jax.random.key(0), candidates=500, horizon=HORIZON)
    typical = float(
        jnp.median(point_mass_returns(jax.random.uniform(jax.random.key(1), (500, HORIZON, 1), minval=-10, maxval=10)))
    )
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
        result = cem(
            chain_returns,
            initial_distribution(CHAIN, CHAIN_HORIZON),
            CHAIN,
            key,
            iterations=6,
            candidates=300,
            elites=30,
            alpha=0.1,
        )
        assert np.asarray(result.distribution.probs).argmax(axis=1).tolist() == CHAIN_OPTIMUM.tolist()
    elif planner == "mppi":
        result = mppi(
            chain_returns,
            initial_distribution(CHAIN, CHAIN_HORIZON),
            CHAIN,
            key,
            iterations=6,
            candidates=300,
            temperature=0.5,
        )
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
