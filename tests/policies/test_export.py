"""The final SAC or MBPO policy as files: saved, loaded and acting as the run's own evaluation did."""

import json

import gymnasium as gym
import jax
import numpy as np
import pytest

from wm_jax.config import SACConfig
from wm_jax.policies.export import PolicyError, load_policy, save_policy
from wm_jax.policies.sac import SAC, greedy_program


def _agent_and_actor():
    agent = SAC(3, (-2.0,), (2.0,), SACConfig(hidden_sizes=(8, 8)))
    return agent, agent.init(jax.random.key(0)).actor


def test_a_saved_policy_loads_and_acts_as_the_actor_it_was_saved_from(tmp_path):
    agent, actor = _agent_and_actor()
    save_policy(agent, actor, tmp_path / "policy", "Pendulum-v1")
    policy = load_policy(tmp_path)  # a run's --out: the policy is in its policy/ folder
    obs = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    expected = np.asarray(greedy_program(agent)(actor, obs))
    np.testing.assert_array_equal(policy.act(obs), expected)
    np.testing.assert_array_equal(policy.act(obs[0]), expected[0])
    assert policy.env_id == "Pendulum-v1" and policy.act(obs).shape == (5, 1)
    with pytest.raises(PolicyError, match="observations of 3 values"):
        policy.act(np.zeros(4))


def test_a_ppo_policy_for_a_box_loads_and_acts_as_the_agent_it_was_saved_from(tmp_path):
    from wm_jax.config import PPOConfig
    from wm_jax.policies.ppo import PPO
    from wm_jax.policies.ppo import greedy_program as ppo_greedy

    agent = PPO(3, 1, (-2.0,), (2.0,), None, PPOConfig(hidden_sizes=(8,)))
    params = agent.init(jax.random.key(1)).params
    params["log_std"].set_value(params["log_std"][...] + 0.5)  # a trained log std travels with the weights
    save_policy(agent, params, tmp_path, "Pendulum-v1")
    policy = load_policy(tmp_path)
    obs = 3 * np.random.default_rng(1).normal(size=(4, 3)).astype(np.float32)
    np.testing.assert_array_equal(policy.act(obs), np.asarray(ppo_greedy(agent)(params, obs)))
    np.testing.assert_array_equal(policy.params["log_std"][...], params["log_std"][...])
    assert policy.kind == "ppo" and policy.act(obs[0]).shape == (1,)


def test_weights_that_are_not_the_agents_networks_are_refused_before_anything_is_written(tmp_path):
    """An export must load: another size's actor, or the whole SAC state instead of its actor, is refused by
    `save_policy` itself, and the directory is not created."""
    agent, _ = _agent_and_actor()
    other = SAC(3, (-2.0,), (2.0,), SACConfig(hidden_sizes=(16, 16))).init(jax.random.key(0))
    for params in (other.actor, agent.init(jax.random.key(0)).critic):
        with pytest.raises(PolicyError, match="not the networks of the agent given"):
            save_policy(agent, params, tmp_path / "policy")
        assert not (tmp_path / "policy").exists()


def test_a_missing_or_mismatched_policy_is_refused_in_one_line(tmp_path):
    with pytest.raises(PolicyError, match="absent: no such directory"):
        load_policy(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(PolicyError, match="policy.json: no such file"):
        load_policy(tmp_path / "empty")
    agent, actor = _agent_and_actor()
    save_policy(agent, actor, tmp_path / "p")
    description = json.loads((tmp_path / "p" / "policy.json").read_text())
    (tmp_path / "p" / "policy.json").write_text(json.dumps({**description, "hidden_sizes": [16, 16]}))
    with pytest.raises(PolicyError, match="params.npz does not match policy.json"):
        load_policy(tmp_path / "p")
    (tmp_path / "p" / "policy.json").write_text(json.dumps({**description, "format_version": 9}))
    with pytest.raises(PolicyError, match="this wm-jax reads format 1, kinds sac, ppo"):
        load_policy(tmp_path / "p")
    for edit, message in (
        ({"obs_dim": 3.7}, "obs_dim must be a whole number >= 1, got 3.7"),
        ({"format_version": True}, "a policy of format True"),
        ({"hidden_sizes": "16"}, "hidden_sizes must be a list of widths"),
        ({"action_low": [2.0], "action_high": [-2.0]}, "each low below its high"),
        ({"env_id": 7}, "env_id must be an environment id or null"),
    ):
        (tmp_path / "p" / "policy.json").write_text(json.dumps({**description, **edit}))
        with pytest.raises(PolicyError, match=message):
            load_policy(tmp_path / "p")
    (tmp_path / "p" / "policy.json").write_text(json.dumps(description))
    assert load_policy(tmp_path / "p" / "policy.json").obs_dim == 3  # the description's path names its folder
    with pytest.raises(PolicyError, match="observations must be an array of numbers"):
        load_policy(tmp_path / "p").act(["a", "b", "c"])
    with pytest.raises(PolicyError, match="observations must be finite"):
        load_policy(tmp_path / "p").act([[0.0, 0.0, 0.0], [0.0, np.nan, 0.0]])
    weights = dict(np.load(tmp_path / "p" / "params.npz"))
    for name, bad in (("int32", lambda a: a.astype(np.int32)), ("not finite", lambda a: a * np.nan)):
        np.savez(tmp_path / "p" / "params.npz", **{k: bad(v) for k, v in weights.items()})
        with pytest.raises(PolicyError, match=name):
            load_policy(tmp_path / "p")
    (tmp_path / "p" / "params.npz").write_bytes(b"PK\x03\x04 cut short")
    with pytest.raises(PolicyError, match="params.npz: unreadable"):
        load_policy(tmp_path / "p")
    (tmp_path / "linear").mkdir()
    (tmp_path / "linear" / "dream.json").write_text("{}")
    with pytest.raises(PolicyError, match="the linear controller exports no policy"):
        load_policy(tmp_path / "linear")


@pytest.mark.slow  # a whole (tiny) sac run
def test_the_sac_command_exports_the_policy_its_final_evaluation_played(tmp_path):
    """Played greedily on the final evaluation's episode (its reset seed), the loaded policy scores what sac.json
    recorded."""
    from wm_jax.cli import main

    tiny = ["--total-transitions", "60", "--initial-transitions", "30", "--hidden-sizes", "8", "--batch-size", "16"]
    argv = ["sac", "--out", str(tmp_path / "run"), *tiny, "--eval-every", "60", "--eval-episodes", "1"]
    assert main(argv) == 0
    recorded = json.loads((tmp_path / "run" / "sac.json").read_text())["eval_returns"]
    policy = load_policy(tmp_path / "run")
    env = gym.make(policy.env_id)
    obs, _ = env.reset(seed=1_000_000_000 + 60)  # the final evaluation's first episode (policies.sac._eval_seeds)
    total, done = 0.0, False
    while not done:
        obs, reward, terminated, truncated, _ = env.step(policy.act(obs))
        total, done = total + reward, terminated or truncated
    assert np.isclose(total, recorded[0], rtol=1e-6), (total, recorded)


@pytest.mark.slow  # a whole (tiny) dream with PPO
def test_the_dream_exports_the_ppo_policy_its_final_evaluation_played(tmp_path):
    from wm_jax.cli import main

    argv = ["dream", "--controller", "ppo", "--out", str(tmp_path / "run"), "--max-transitions", "330"]
    argv += ["--initial-transitions", "300", "--episodes-per-iteration", "1", "--epochs", "1", "--members", "2"]
    argv += ["--eval-episodes", "1", "--ppo.updates", "2", "--ppo.envs", "8", "--ppo.steps", "4"]
    assert main(argv) == 0
    recorded = json.loads((tmp_path / "run" / "dream.json").read_text())["eval_returns"]
    policy = load_policy(tmp_path / "run")
    assert policy.kind == "ppo" and policy.env_id == "CartPole-v1"
    env = gym.make(policy.env_id)
    obs, _ = env.reset(seed=20_000)  # the final evaluation's first episode (seed 0; planning.dream.run_dream)
    total, done = 0.0, False
    while not done:
        action = policy.act(obs)
        assert action.shape == () and action.dtype.kind == "i"  # an index of the Discrete space
        obs, reward, terminated, truncated, _ = env.step(action)
        total, done = total + reward, terminated or truncated
    assert total == recorded[0]
