"""The MuJoCo tasks (the `mujoco` extra, which the test extra installs) through collect, train and
evaluate, with small budgets: spaces and episode limits from gymnasium, nothing registered here."""

import json

import gymnasium
import numpy as np
import pytest

from wm_jax.cli import main

pytestmark = pytest.mark.slow  # whole commands, one new set of programs per task

MUJOCO_TASKS = {  # observation and action widths, episode limit
    "HalfCheetah-v5": (17, 6, 1000),
    "Hopper-v5": (11, 3, 1000),
    "Walker2d-v5": (17, 6, 1000),
    "Ant-v5": (105, 8, 1000),
    "InvertedPendulum-v5": (4, 1, 1000),
    "InvertedDoublePendulum-v5": (9, 1, 1000),
    "Reacher-v5": (10, 2, 50),
    "Swimmer-v5": (8, 2, 1000),
    "Pusher-v5": (23, 7, 100),
}


@pytest.mark.parametrize("env_id", MUJOCO_TASKS)
def test_a_mujoco_task_is_collected_trained_and_evaluated(env_id, tmp_path):
    state_dim, action_dim, limit = MUJOCO_TASKS[env_id]
    data, model, scores = tmp_path / "data.npz", tmp_path / "model", tmp_path / "scores.json"
    # Episodes capped at 100 steps where the task's own limit is longer (HalfCheetah and Swimmer never
    # end early, and the held-out split takes whole episodes); the others keep their limit.
    cap = ["--max-episode-steps", "100"] if limit > 100 else []
    assert main(["collect", "--env", env_id, "--transitions", "300", "--out", str(data), *cap]) == 0
    with np.load(data) as archive:
        assert json.loads(str(archive["metadata"]))["collection"]["max_episode_steps"] == min(limit, 100)
    assert main(["train", "--data", str(data), "--out", str(model), "--epochs", "2", "--horizon", "3"]) == 0
    recorded = json.loads((model / "model.json").read_text())
    assert (recorded["state_dim"], recorded["action_dim"]) == (state_dim, action_dim)
    assert recorded["env"]["max_episode_steps"] == limit  # the task's own limit, not the tutorial's 200
    assert (
        main(["evaluate", "--checkpoint", str(model), "--data", str(data), "--horizon", "3", "--json", str(scores)])
        == 0
    )
    evaluation = json.loads(scores.read_text())
    assert evaluation["env_id"] == env_id and evaluation["rollout"]["horizons"] == [1, 2, 3]
    assert evaluation["baselines"]["linear"]["one_step_mse"] >= 0


def test_a_task_whose_package_is_missing_says_what_to_install(tmp_path, capsys):
    """What a MuJoCo task says where mujoco is not installed (gymnasium raises DependencyNotInstalled)."""

    def needs_mujoco():
        raise gymnasium.error.DependencyNotInstalled('MuJoCo is not installed, run `pip install "gymnasium[mujoco]"`')

    gymnasium.register("WmJaxNeedsMujoco-v0", entry_point=needs_mujoco, max_episode_steps=10)
    try:
        capsys.readouterr()
        assert main(["collect", "--env", "WmJaxNeedsMujoco-v0", "--out", str(tmp_path / "x.npz")]) == 2
        error = capsys.readouterr().err.strip()
        assert "\n" not in error and "pip install 'wm-jax[mujoco]'" in error, error
    finally:
        gymnasium.registry.pop("WmJaxNeedsMujoco-v0")


def test_inverted_pendulums_known_reward_and_termination_are_the_tasks_own():
    """On random episodes (several end by the pole falling), the known functions give back every
    recorded reward and termination; the tasks whose reward needs unobserved positions have none."""
    from wm_jax.data import collect_dataset
    from wm_jax.envs import env_spec

    data = collect_dataset("InvertedPendulum-v5", transitions=400, seed=0).transitions
    objective = env_spec("InvertedPendulum-v5").planning_objective("known")
    reward, terminated = objective(data.states, data.actions, data.next_states)
    assert data.terminated.sum() >= 5
    np.testing.assert_array_equal(np.asarray(terminated), data.terminated)
    np.testing.assert_array_equal(np.asarray(reward), data.rewards)
    with pytest.raises(Exception, match="no known reward and termination for HalfCheetah-v5"):
        env_spec("HalfCheetah-v5").planning_objective("known")


def test_reachers_known_reward_is_the_tasks_own():
    """Reacher-v5's reward (distance to the target after the step, plus the control cost) from the
    observation alone, on random episodes; only the time limit ends them."""
    from wm_jax.data import collect_dataset
    from wm_jax.envs import env_spec

    data = collect_dataset("Reacher-v5", transitions=300, seed=0).transitions
    reward, terminated = env_spec("Reacher-v5").planning_objective("known")(data.states, data.actions, data.next_states)
    np.testing.assert_allclose(np.asarray(reward), data.rewards, rtol=0, atol=1e-6)
    assert not np.asarray(terminated).any() and not data.terminated.any()


def test_inverted_pendulums_shaped_objective_ranks_upright_and_centred_steps_first():
    """The shaped objective is the reward where the pole is upright at the rail's centre, less the further
    the pole tilts or the cart drifts, and a fall still scores below any surviving step."""
    import jax.numpy as jnp

    from wm_jax.envs import env_spec

    spec = env_spec("InvertedPendulum-v5")
    shaped = spec.planning_objective("shaped")
    assert spec.planning_objective("known") != shaped
    next_states = jnp.array(
        [[0.0, 0.0, 0, 0], [0.0, 0.1, 0, 0], [0.5, 0.0, 0, 0], [0.9, 0.19, 0, 0], [0.0, 0.3, 0, 0]], jnp.float32
    )
    states, actions = jnp.zeros_like(next_states), jnp.zeros((5, 1))
    scores, terminated = map(np.asarray, shaped(states, actions, next_states))
    rewards, _ = spec.planning_objective("known")(states, actions, next_states)
    assert scores[0] == rewards[0] == 1.0
    assert scores[0] > scores[1] > scores[3] > scores[4] and scores[0] > scores[2] > scores[3]
    np.testing.assert_array_equal(terminated, [False, False, False, False, True])
    assert recommended_reward("InvertedPendulum-v5") == "shaped" and recommended_reward("Reacher-v5") == "known"


def recommended_reward(env_id: str) -> str:
    from wm_jax.envs import recommended_mbrl_config

    return recommended_mbrl_config(env_id).planner.reward
