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


def test_initial_data_must_be_the_environments_and_fit_the_budget(cartpole_small):
    """Logged data replaces the random warm-up only where it is this environment's and fits the budget."""
    import numpy as np

    from wm_jax.config import MBRLConfig
    from wm_jax.data import DataError
    from wm_jax.planning.mbrl import checked_initial_data

    config = MBRLConfig(max_transitions=700, initial_transitions=10)
    assert checked_initial_data(cartpole_small, "CartPole-v1", config) is cartpole_small
    with pytest.raises(DataError, match=r"is not Pendulum-v1's \(states \(N, 3\), actions \(N, 1\)\)"):
        checked_initial_data(cartpole_small, "Pendulum-v1", config)
    with pytest.raises(DataError, match="has 600 transitions; the run takes 1 to --max-transitions 500"):
        checked_initial_data(cartpole_small, "CartPole-v1", MBRLConfig(max_transitions=500, initial_transitions=10))
    wide = cartpole_small._replace(actions=np.stack([cartpole_small.actions] * 2, axis=1))
    with pytest.raises(DataError, match=r"actions \(600, 2\) is not CartPole-v1's \(states \(N, 4\), actions \(N,\)\)"):
        checked_initial_data(wide, "CartPole-v1", config)


@pytest.mark.slow  # two small mbrl runs
def test_a_run_from_initial_data_starts_from_its_rows_and_counts_them(cartpole_small):
    """The loop's buffer starts with the given 600 rows, not 10 random ones; as many rows as the budget is a
    model trained on them alone and evaluated, with no real episode played."""
    import dataclasses

    from wm_jax.config import MBRLConfig, PlannerConfig
    from wm_jax.planning.mbrl import run_mbrl

    planner = PlannerConfig(horizon=3, candidates=10, iterations=1)
    config = MBRLConfig(
        max_transitions=620, initial_transitions=10, eval_episodes=1, epochs=1, members=2, planner=planner
    )
    result = run_mbrl("CartPole-v1", config, seed=0, initial_data=cartpole_small)
    assert result.iterations[0]["real_transitions"] > 600 and result.real_transitions_used == 620
    offline = run_mbrl("CartPole-v1", dataclasses.replace(config, max_transitions=600), 0, initial_data=cartpole_small)
    assert offline.iterations == [] and offline.real_transitions_used == 600 and len(offline.eval_returns) == 1


@pytest.mark.slow  # two small mbrl runs
def test_a_run_from_initial_data_resumes_without_them_even_past_its_random_budget(cartpole_small, tmp_path):
    """A resumed run takes its buffer from the checkpoint, not from the data (which may be gone): with more
    --initial-transitions than its budget, which only a run from data can have, it resumes as it ran."""
    import dataclasses
    import shutil

    from wm_jax.config import ConfigError, MBRLConfig, PlannerConfig
    from wm_jax.planning.mbrl import run_mbrl
    from wm_jax.training import RunCheckpoints

    planner = PlannerConfig(horizon=3, candidates=10, iterations=1)
    config = MBRLConfig(
        max_transitions=640, initial_transitions=1000, eval_episodes=1, epochs=1, members=2, planner=planner
    )
    with pytest.raises(ConfigError, match=r"initial transitions must be in \[1, 640\), got 1000"):
        run_mbrl("CartPole-v1", config, seed=0)  # random transitions: more than the budget
    whole = RunCheckpoints(str(tmp_path / "whole"), every=1, keep=10, description={})
    result = run_mbrl("CartPole-v1", config, 0, checkpoints=whole, initial_data=cartpole_small)
    assert len(result.iterations) >= 2
    shutil.copytree(tmp_path / "whole", tmp_path / "cut")
    for iteration in range(2, len(result.iterations) + 1):
        shutil.rmtree(tmp_path / "cut" / str(iteration), ignore_errors=True)
    cut = RunCheckpoints(str(tmp_path / "cut"), every=1, keep=10, description={})
    resumed = run_mbrl("CartPole-v1", dataclasses.replace(config), 0, checkpoints=cut)
    assert resumed.iterations == result.iterations and resumed.eval_returns == result.eval_returns
