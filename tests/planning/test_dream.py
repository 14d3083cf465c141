"""Dream training: the controller, imagined returns, and one compilation across retrained models."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from wm_jax.planning.dream import LinearController


def test_linear_controller_maps_states_to_valid_actions():
    cartpole = LinearController("CartPole-v1")
    assert cartpole.size == 2 * 5
    flat = jnp.zeros(10).at[4:8].set(jnp.asarray([0.0, 0.0, 1.0, 0.0]))  # action 1 scores theta
    actions = cartpole.act(flat, jnp.asarray([[0, 0, 0.1, 0], [0, 0, -0.1, 0]], jnp.float32))
    np.testing.assert_array_equal(actions, [1, 0])
    pendulum = LinearController("Pendulum-v1")
    torque = pendulum.act(jnp.asarray([100.0, 0, 0, 0]), jnp.asarray([[1.0, 0, 0], [-1.0, 0, 0]]))
    np.testing.assert_allclose(torque[:, 0], [2.0, -2.0], atol=1e-4)


def test_dream_returns_count_known_rewards_until_termination():
    from wm_jax.config import ModelConfig
    from wm_jax.envs import env_spec
    from wm_jax.models import ensemble_of, init_ensemble_params, spec_for_env
    from wm_jax.planning.dream import dream_returns

    spec = spec_for_env("CartPole-v1", ModelConfig(kind="ensemble", members=3, delta=True))
    model = ensemble_of(spec, init_ensemble_params(spec, jax.random.key(0)))
    controller = LinearController("CartPole-v1")
    starts = jnp.zeros((4, 4))
    cartpole = env_spec("CartPole-v1").planning_objective("known")
    returns = dream_returns(
        model,
        controller,
        cartpole,
        jnp.zeros(10),
        starts,
        jax.random.key(0),
        horizon=30,
        mode="tsinf",
        disagreement_penalty=0.0,
    )
    assert returns.shape == (4,) and np.all((np.asarray(returns) >= 1) & (np.asarray(returns) <= 30))
    np.testing.assert_array_equal(returns, np.round(returns))  # +1 per step alive, nothing after termination
    penalised = dream_returns(
        model,
        controller,
        cartpole,
        jnp.zeros(10),
        starts,
        jax.random.key(0),
        horizon=30,
        mode="tsinf",
        disagreement_penalty=10.0,
    )
    assert np.all(np.asarray(penalised) < np.asarray(returns)), "disagreement costs reward"


@pytest.mark.slow  # compiles a whole CMA-ES generation
def test_dream_evolution_compiles_once_across_retrained_models():
    """The model is an argument of the compiled generation: evolving in a second, retrained model of the
    same structure traces nothing again (the reward function runs in Python only while tracing), and the
    first generation's program serves the later ones."""
    from wm_jax.config import DreamConfig, ModelConfig
    from wm_jax.envs import env_spec
    from wm_jax.models import ensemble_of, init_ensemble_params, spec_for_env
    from wm_jax.planning.dream import make_evolve

    known = env_spec("CartPole-v1").planning_objective("known")
    traces = []

    def counting_reward(states, actions, next_states):
        traces.append(None)
        return known(states, actions, next_states)

    spec = spec_for_env("CartPole-v1", ModelConfig(kind="ensemble", members=2, delta=True))
    evolve = make_evolve(
        LinearController("CartPole-v1"),
        counting_reward,
        DreamConfig(population=8, generations=2, dream_starts=2),
        horizon=10,
    )
    starts = jnp.zeros((2, 4))
    counts, best = [], None
    for iteration in range(2):
        model = ensemble_of(spec, init_ensemble_params(spec, jax.random.key(iteration)))
        best, _ = evolve(model, starts, jax.random.key(iteration), None if iteration == 0 else best)
        counts.append(len(traces))
    # the first iteration traces one generation (for all of them) and the final score; the second, nothing
    assert counts == [2, 2], f"traces after each outer iteration: {counts}"


def test_dreams_of_equal_settings_share_one_built_generation_program():
    """A later dream of the same settings and environment (the next run in a process) evolves with the
    controller and generation program already built; other settings get their own."""
    from wm_jax.config import DreamConfig
    from wm_jax.envs import env_spec
    from wm_jax.planning.dream import EvolvedLinear

    reward = env_spec("CartPole-v1").planning_objective("known")
    first, again = (EvolvedLinear("CartPole-v1", DreamConfig(population=6), s, reward, 20) for s in (0, 1))
    other = EvolvedLinear("CartPole-v1", DreamConfig(population=8), 0, reward, 20)
    assert again.evolve is first.evolve and again.controller is first.controller
    assert other.evolve is not first.evolve
