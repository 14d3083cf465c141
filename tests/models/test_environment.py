"""The learned model as an environment: gymnasium's checker, a stable-baselines3 agent training in it,
and the functional version vmapped over thousands of environments inside `lax.scan`."""

import gymnasium
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import wm_jax as wm
from wm_jax.models.environment import FunctionalModelEnv, ModelEnv, ModelVectorEnv

pytestmark = pytest.mark.slow  # a model trained for the module, and a program per environment shape


@pytest.fixture(scope="module")
def cartpole_model():
    """A CartPole ensemble with reward and termination heads (a few epochs: these tests check wiring)."""
    data = wm.collect("CartPole-v1", transitions=600, seed=0).transitions
    config = wm.ModelConfig(kind="ensemble", members=3, delta=True, normalize=True, reward_head=True)
    spec = wm.spec_for_env("CartPole-v1", wm.ModelConfig(**{**config.__dict__, "termination_head": True}))
    return wm.fit(spec, wm.TrainConfig(epochs=3), data, seed=0).ensemble, data.states


def test_the_model_env_passes_gymnasiums_checker_and_is_seeded(cartpole_model):
    from gymnasium.utils.env_checker import check_env

    model, starts = cartpole_model
    env = ModelEnv(model, starts, reward="known", mode="tsinf")
    check_env(env, skip_render_check=True)
    assert isinstance(env, gymnasium.Env) and env.action_space == gymnasium.spaces.Discrete(2)
    first = [env.reset(seed=4)[0], *(env.step(1)[0] for _ in range(3))]
    again = [env.reset(seed=4)[0], *(env.step(1)[0] for _ in range(3))]
    np.testing.assert_array_equal(np.stack(first), np.stack(again))


def test_known_reward_and_termination_are_the_environments_own(cartpole_model):
    model, starts = cartpole_model
    env = ModelEnv(model, starts, reward="known", mode="mean", max_episode_steps=7)
    objective = wm.env_spec("CartPole-v1").planning_objective("known")
    obs, _ = env.reset(seed=0)
    for step in range(1, 8):
        next_obs, reward, terminated, truncated, info = env.step(0)
        expected_reward, expected_end = objective(obs[None], np.array([0]), next_obs[None])
        assert reward == pytest.approx(float(expected_reward[0])) and terminated == bool(expected_end[0])
        if terminated:
            break
        assert truncated == (step == 7)
        obs = next_obs


def test_the_disagreement_penalty_is_subtracted_from_the_reward(cartpole_model):
    model, starts = cartpole_model
    rewards = {}
    for penalty in (0.0, 10.0):
        env = ModelEnv(model, starts, reward="learned", mode="mean", disagreement_penalty=penalty)
        env.reset(seed=1)
        _, reward, _, _, info = env.step(1)
        rewards[penalty] = reward
    assert info["disagreement"] > 0
    assert rewards[10.0] == pytest.approx(rewards[0.0] - 10.0 * info["disagreement"], rel=1e-4, abs=1e-5)


def test_the_functional_env_runs_4096_environments_in_one_scan_and_resets_ended_ones(cartpole_model):
    model, starts = cartpole_model
    env = FunctionalModelEnv(mode="ts1", reward="known", env_id="CartPole-v1", max_episode_steps=5)
    params = env.default_params(model, starts)
    n = 4096

    @jax.jit
    def run(key):
        obs, state = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(key, n), params)

        def body(state, key):
            action_key, step_key = jax.random.split(key)
            actions = jax.random.randint(action_key, (n,), 0, 2)
            obs, state, reward, done, info = jax.vmap(env.step, in_axes=(0, 0, 0, None))(
                jax.random.split(step_key, n), state, actions, params
            )
            return state, (done, state.time, reward)

        return jax.lax.scan(body, state, jax.random.split(key, 6))

    state, (done, time, reward) = run(jax.random.key(0))
    assert done.shape == (6, n) and bool(done[:5].any(axis=0).all())  # 5 steps end every episode at least once
    assert bool(jnp.all(jnp.where(done, time == 0, time > 0))) and bool((time <= 4).all())  # ended: starts again
    assert bool(jnp.all(reward == 1.0))  # CartPole pays 1 per step


def test_the_batched_env_steps_each_environment_as_the_vmapped_step_does(cartpole_model):
    """`step_batch` runs environment j through elite j mod K alone under TS-inf: the same step as the vmapped
    `step_env` given that member, and the same resets, in one call over 4,096 environments."""
    model, starts = cartpole_model
    env = FunctionalModelEnv(mode="tsinf", reward="known", env_id="CartPole-v1", max_episode_steps=5)
    params = env.default_params(model, starts)
    n = 4096

    @jax.jit
    def run(key):
        obs, state = env.reset_batch(key, params, n)

        def body(state, key):
            action_key, step_key = jax.random.split(key)
            actions = jax.random.randint(action_key, (n,), 0, 2)
            single = jax.vmap(env.step_env, in_axes=(None, 0, 0, None))(step_key, state, actions, params)
            obs, next_state, reward, done, info = env.step_batch(step_key, state, actions, params)
            return next_state, (state, single, obs, next_state, reward, done, info)

        return jax.lax.scan(body, state, jax.random.split(key, 6))[1]

    before, single, obs, state, reward, done, info = run(jax.random.key(0))
    final_obs, _, single_reward, terminated, truncated, _ = single
    np.testing.assert_array_equal(before.member[0], np.arange(n) % 3)  # every elite an equal share
    np.testing.assert_allclose(info["final_obs"], final_obs, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(reward, single_reward)
    np.testing.assert_array_equal(info["terminated"], terminated)
    np.testing.assert_array_equal(info["truncated"], truncated)
    np.testing.assert_array_equal(done, terminated | truncated)
    assert bool(done[:5].any(axis=0).all()) and "disagreement" not in info
    assert bool(jnp.all(jnp.where(done, state.time == 0, state.time > 0)))  # ended: starts again
    np.testing.assert_array_equal(obs, jnp.where(done[..., None], state.state, info["final_obs"]))
    restarted = np.asarray(obs)[np.asarray(done)]
    assert (restarted[:, None, :] == np.asarray(starts)[None]).all(axis=-1).any(axis=1).all()  # from a start state
    np.testing.assert_array_equal(state.member, before.member)  # a restarted episode keeps its slot's elite


def test_the_batched_env_runs_every_member_for_the_disagreement_penalty(cartpole_model):
    model, starts = cartpole_model
    outcome = {}
    for mode, penalty in (("mean", 0.0), ("mean", 10.0), ("ts1", 10.0)):
        env = FunctionalModelEnv(mode=mode, reward="learned", disagreement_penalty=penalty, env_id="CartPole-v1")
        params = env.default_params(model, starts)

        @jax.jit
        def first_step(key):
            _, state = env.reset_batch(key, params, 8)
            return env.step_batch(key, state, jnp.ones(8, int), params)

        _, _, reward, _, info = first_step(jax.random.key(0))
        outcome[mode, penalty] = reward, info.get("disagreement")
    (plain, _), (penalised, disagreement) = outcome["mean", 0.0], outcome["mean", 10.0]
    assert bool((disagreement > 0).all()) and outcome["ts1", 10.0][1] is not None
    np.testing.assert_allclose(penalised, plain - 10.0 * disagreement, rtol=1e-5, atol=1e-5)


def test_the_vector_env_steps_every_environment_at_once(cartpole_model):
    model, starts = cartpole_model
    env = ModelVectorEnv(model, starts, num_envs=16, reward="learned", max_episode_steps=3)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (16, 4) and env.single_action_space == gymnasium.spaces.Discrete(2)
    for _ in range(3):
        obs, reward, terminated, truncated, infos = env.step(env.action_space.sample())
    assert obs.shape == (16, 4) and reward.shape == (16,) and (terminated | truncated).all()
    assert infos["final_obs"].shape == (16, 4)


def test_a_stable_baselines3_agent_trains_in_the_model(cartpole_model, tmp_path, monkeypatch):
    from stable_baselines3 import PPO

    monkeypatch.setenv("SB3_LOGDIR", str(tmp_path))  # stable-baselines3 makes its log folder in /tmp otherwise

    model, starts = cartpole_model
    env = ModelEnv(model, starts, reward="known", mode="ts1")
    agent = PPO("MlpPolicy", env, n_steps=128, batch_size=64, n_epochs=1, seed=0, device="cpu")
    agent.learn(total_timesteps=256)
    action, _ = agent.predict(env.reset(seed=0)[0])
    assert env.action_space.contains(int(action)) and agent.num_timesteps >= 256


def test_rewards_are_the_known_ones_by_default_and_never_a_missing_heads_zeros(cartpole_model):
    """By default the environment's own reward where it has one (CartPole's 1 per step), else the model's
    head; a model without a reward head is refused where its rewards would be asked for, not scored 0."""
    import dataclasses

    model, starts = cartpole_model
    env = ModelEnv(model, starts, mode="mean")
    env.reset(seed=0)
    assert env.step(1)[1] == 1.0 and env.functional.reward_source(model) == "known"
    assert FunctionalModelEnv(env_id=None).reward_source(model) == "learned"  # no known reward: the head
    headless = model.replace(spec=model.spec._replace(config=dataclasses.replace(model.spec.config, reward_head=False)))
    assert ModelEnv(headless, starts).functional.reward_source(headless) == "known"
    with pytest.raises(ValueError, match='no reward head: .*--reward-head.* or use reward="known"'):
        ModelEnv(headless, starts, reward="learned")
    with pytest.raises(ValueError, match=r"no reward head and no environment is named \(env_id\)"):
        FunctionalModelEnv(env_id=None).reward_source(headless)
    with pytest.raises(ValueError, match="reward must be auto, known or learned"):
        FunctionalModelEnv(reward="shaped")


def test_the_model_env_refuses_start_states_and_actions_it_cannot_hold(cartpole_model):
    """Start states of another width, and Discrete actions out of range or not whole, are a ValueError (the
    model would encode them all the same), in the single and the vector environment."""
    from wm_jax.models.environment import ModelVectorEnv

    model, starts = cartpole_model
    with pytest.raises(ValueError, match=r"start states must be rows \(N, 4\)"):
        ModelEnv(model, np.asarray(starts)[:, :3])
    env = ModelEnv(model, starts, reward="known")
    env.reset(seed=0)
    for action in (5, -1, 1.5):
        with pytest.raises(ValueError, match=r"actions must be indices in \[0, 2\)"):
            env.step(action)
    env.step(1)
    vector = ModelVectorEnv(model, starts, num_envs=3, reward="known")
    vector.reset(seed=0)
    with pytest.raises(ValueError, match=r"actions must be indices"):
        vector.step(np.array([0, 1, 2]))
    vector.step(np.array([0, 1, 1]))
