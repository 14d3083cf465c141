"""Model-predictive control: actions in the action space for a batch, no recompilation when retrained."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tests.helpers import cartpole_model


def test_mpc_agent_acts_in_the_action_space_for_a_batch_and_retraining_does_not_recompile():
    from wm_jax.config import PlannerConfig
    from wm_jax.planning.mpc import MPCAgent

    model = cartpole_model()
    agent = MPCAgent(model.spec, "CartPole-v1", PlannerConfig(horizon=8, candidates=32, iterations=2))
    states = np.zeros((6, 4), np.float32)
    plan = agent.init(6)
    actions, plan, values = agent.act(model, states, plan, jax.random.key(0))
    assert actions.shape == (6,) and set(np.asarray(actions).tolist()) <= {0, 1} and values.shape == (6,)
    other = cartpole_model(seed=1)
    agent.act(other, states, plan, jax.random.key(1))
    assert agent._act._cache_size() == 1, "new parameters reuse the compiled planner"
    again = MPCAgent(model.spec, "CartPole-v1", PlannerConfig(horizon=8, candidates=32, iterations=2))
    again.act(other, states, plan, jax.random.key(2))
    assert again._act is agent._act and again._act._cache_size() == 1, "an equal agent reuses the planner"
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
        agent = MPCAgent(
            spec,
            "Pendulum-v1",
            PlannerConfig(horizon=5, candidates=16, iterations=2, reward=reward, mode="ts1", sample=True, particles=4),
        )
        actions, _, values = agent.act(model, np.ones((3, 3), np.float32), agent.init(3), jax.random.key(0))
        assert actions.shape == (3, 1) and float(jnp.abs(actions).max()) <= 2.0 and np.isfinite(values).all()
