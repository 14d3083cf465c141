"""The model-based RL loop's two evaluation backends: gymnax and gymnasium score the same agent alike."""

import pytest


@pytest.mark.slow  # an mbrl run and 16 evaluation episodes
def test_gymnax_evaluation_scores_like_gymnasium_for_the_same_agent():
    """Both backends run the same agent on CartPole: their mean returns agree roughly (different
    initial states, same dynamics, rewards and cap)."""
    import jax
    import numpy as np

    from wm_jax.config import MBRLConfig, PlannerConfig
    from wm_jax.planning.mbrl import evaluate, evaluate_in_gymnax, run_mbrl
    from wm_jax.planning.mpc import MPCAgent

    config = MBRLConfig(
        max_transitions=400,
        initial_transitions=300,
        eval_episodes=1,
        epochs=10,
        members=3,
        planner=PlannerConfig(horizon=10, candidates=32, iterations=2),
    )
    result = run_mbrl("CartPole-v1", config, seed=0)
    agent = MPCAgent(result.model.spec, "CartPole-v1", config.planner)
    jax_returns = evaluate_in_gymnax("CartPole-v1", agent, result.model, 8, jax.random.key(0))
    gym_returns = evaluate("CartPole-v1", agent, result.model, list(range(8)), jax.random.key(0))
    assert abs(np.mean(jax_returns) - np.mean(gym_returns)) < 0.5 * max(np.mean(gym_returns), 20), (
        jax_returns,
        gym_returns,
    )
