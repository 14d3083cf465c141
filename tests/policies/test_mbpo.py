"""MBPO: the rollout schedule, model rollouts (branched from real states, stopped at termination, scored
with the known reward), the mixed minibatches, and the command end to end."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from wm_jax.config import MBPOConfig, SACConfig
from wm_jax.envs import env_spec
from wm_jax.policies.mbpo import MBPO, empty_model_buffer, recommended_mbpo
from wm_jax.policies.sac import SAC, empty_buffer, initial_state, write_row
from wm_jax.transitions import Transitions


def test_the_rollout_length_follows_the_papers_schedule():
    config = MBPOConfig(rollout_schedule=(20, 100, 1, 15))
    assert [config.rollout_length(e) for e in (0, 20, 21, 60, 100, 500)] == [1, 1, 1, 8, 15, 15]
    assert MBPOConfig().rollout_length(40) == 1
    assert recommended_mbpo("Hopper-v5")[0].rollout_schedule == (20, 100, 1, 15)
    assert recommended_mbpo("InvertedPendulum-v5")[1].target_entropy == -0.05


def test_the_documented_mbpo_runs_used_the_defaults_their_environment_has_now():
    """docs/results.md's MBPO rows come from bench/results/agents/mbpo-*: each record's settings are what
    `wm-jax mbpo --env ENV` gives today (a changed default must come with new runs)."""
    import dataclasses
    import glob
    import os

    root = os.path.join(os.path.dirname(__file__), "..", "..", "bench", "results", "agents")
    paths = sorted(glob.glob(os.path.join(root, "mbpo-*-seed*", "mbpo.json")))
    assert paths
    for path in paths:
        record = json.loads(open(path).read())
        mbpo, sac, loop = (json.loads(json.dumps(dataclasses.asdict(c))) for c in recommended_mbpo(record["env_id"]))
        assert record["mbpo"] == mbpo and record["sac"] == sac, path
        assert {k: loop[k] for k in record["loop"]} == record["loop"], path


def _setup(env_id, obs_dim, low, high, drift=0.0, **config):
    """An MBPO and an ensemble trained on 20 real rows whose second coordinate grows by `drift` per step."""
    from wm_jax.planning.mbrl import ModelTrainer

    mbpo = MBPO(
        SAC(obs_dim, low, high, SACConfig(hidden_sizes=(8,), batch_size=8)),
        MBPOConfig(epoch_length=4, rollouts_per_step=3, members=2, hidden_sizes=(8,), **config),
        env_spec(env_id).planning_objective("known"),
    )
    rng = np.random.default_rng(0)
    real = empty_buffer(obs_dim, len(low), 40)
    for _ in range(20):
        row = Transitions(
            (start := rng.normal(size=obs_dim) * 0.05),
            rng.uniform(low, high),
            start + drift * np.eye(obs_dim)[1],
            np.float32(1.0),
            np.bool_(False),
        )
        real = write_row(real, jax.tree.map(lambda x: jnp.asarray(x, jnp.float32), row))
    trainer = ModelTrainer(env_id, members=2, epochs=30, seed=0, probabilistic=True, hidden_sizes=(8,))
    model = trainer.train(real, 0)
    state = initial_state(mbpo.agent, jax.random.key(0))
    return mbpo, real, model, state


@pytest.mark.slow  # trains or compiles for several seconds
def test_rollouts_branch_from_real_states_stop_at_termination_and_use_the_known_reward():
    """InvertedPendulum: the model learned that the pole tips 0.06 rad a step, so rollouts end at its 0.2 limit."""
    mbpo, real, model, state = _setup("InvertedPendulum-v5", 4, (-3.0,), (3.0,), 0.06, rollout_schedule=(0, 0, 6, 6))
    store = empty_model_buffer(4, 1, mbpo.capacity())
    store = jax.jit(mbpo.rollout, static_argnames="length")(
        store, model, state.actor, real, 0, jax.random.key(1), length=6
    )
    rows = jax.tree.map(np.asarray, store.rows)
    valid = np.asarray(store.valid).reshape(12, 6)
    assert int(store.count) == valid.sum() and set(np.asarray(store.index)[: valid.sum()]) == set(np.flatnonzero(valid))
    starts = rows.states.reshape(12, 6, 4)[:, 0]
    real_states = np.asarray(real.rows.states[:20])
    assert all(
        np.any(np.all(np.isclose(real_states, s), axis=1)) for s in starts
    )  # every rollout starts from a real state
    chained = rows.next_states.reshape(12, 6, 4)[:, :-1]
    np.testing.assert_allclose(rows.states.reshape(12, 6, 4)[:, 1:], chained, rtol=1e-6)  # each step continues the last
    terminated = rows.terminated.reshape(12, 6)
    assert terminated[valid].any(), "some rollout should end within 6 steps"
    after_end = np.cumsum(terminated & valid, axis=1) - (terminated & valid) > 0
    assert not (valid & after_end).any() and valid[:, 0].all()
    reward, ended = env_spec("InvertedPendulum-v5").planning_objective("known")(
        rows.states, rows.actions, rows.next_states
    )
    np.testing.assert_array_equal(np.asarray(reward)[store.valid], rows.rewards[store.valid])
    np.testing.assert_array_equal(np.asarray(ended)[store.valid], rows.terminated[store.valid])


@pytest.mark.slow  # trains or compiles for several seconds
def test_minibatches_mix_real_and_model_rows_in_the_configured_ratio():
    mbpo, real, model, state = _setup("Pendulum-v1", 3, (-2.0,), (2.0,), real_ratio=0.25)
    store = empty_model_buffer(3, 1, mbpo.capacity())
    store = mbpo.rollout(store, model, state.actor, real, 0, jax.random.key(2), length=1)
    batch = jax.jit(lambda key: mbpo.mixed_batches(real, store)(key))(jax.random.key(3))
    assert mbpo.real_rows == 2 and batch.states.shape == (8, 3)
    real_states, model_states = (
        np.asarray(real.rows.states[:20]),
        np.asarray(store.rows.states)[np.asarray(store.valid)],
    )
    is_in = lambda s, table: np.any(np.all(np.isclose(table, s), axis=1))  # noqa: E731
    assert all(is_in(s, real_states) for s in np.asarray(batch.states[:2]))
    assert all(is_in(s, model_states) for s in np.asarray(batch.states[2:]))


@pytest.mark.slow
def test_mbpo_command_writes_its_record_with_the_known_reward_where_there_is_one(tmp_path):
    from wm_jax.cli import main

    tiny = ["--total-transitions", 60, "--initial-transitions", 30, "--epoch-length", 15, "--rollouts-per-step", 1]
    tiny += ["--members", 2, "--hidden-sizes", 8, "--epochs", 1, "--sac.hidden-sizes", 8, "--sac.batch-size", 8]
    tiny += ["--eval-every", 30, "--eval-episodes", 1]
    assert main(["mbpo", "--env", "Pendulum-v1", "--out", str(tmp_path / "run"), *map(str, tiny)]) == 0
    record = json.loads((tmp_path / "run" / "mbpo.json").read_text())
    assert record["model"]["reward"] == "known" and record["model"]["model_rounds"] == 2
    assert [row["real_transitions"] for row in record["curve"]] == [30, 60]
    assert record["sac"]["updates_per_step"] == 10  # Pendulum's recommended G
    assert (tmp_path / "run" / "learning_curve.png").exists()
    from wm_jax.policies.export import load_policy

    policy = load_policy(tmp_path / "run" / "policy")
    assert policy.env_id == "Pendulum-v1" and policy.agent.config.hidden_sizes == (8,)


@pytest.mark.slow  # compiles rollout programs (seconds)
def test_a_rollout_runs_each_row_through_one_member_not_all_of_them():
    """TS-1 deals the rows to the members (as mbrl-lib does): a rollout's arithmetic is about one member
    pass per row and step, not the E passes of predicting with every member and keeping one."""
    from wm_jax.config import ModelConfig
    from wm_jax.models.ensemble import ensemble_of, ensemble_outputs, init_ensemble_params
    from wm_jax.models.spec import spec_for_env

    members, rows = 4, 1024
    mbpo = MBPO(
        SAC(3, (-2.0,), (2.0,), SACConfig(hidden_sizes=(4,), batch_size=8)),
        MBPOConfig(epoch_length=4, rollouts_per_step=rows // 4, members=members, hidden_sizes=(64, 64)),
        env_spec("Pendulum-v1").planning_objective("known"),
    )
    spec = spec_for_env("Pendulum-v1", ModelConfig(kind="ensemble", members=members, hidden_sizes=(64, 64), delta=True))
    model = ensemble_of(spec, init_ensemble_params(spec, jax.random.key(0)))
    real = empty_buffer(3, 1, 8)
    real = write_row(real, Transitions(*(jnp.zeros(s) for s in (3, 1, 3, ())), jnp.bool_(False)))
    actor = initial_state(mbpo.agent, jax.random.key(0)).actor
    rollout = jax.jit(mbpo.rollout, static_argnames="length").lower(
        empty_model_buffer(3, 1, mbpo.capacity()), model, actor, real, 0, jax.random.key(1), length=1
    )
    states, actions = jnp.zeros((rows, 3)), jnp.zeros((rows, 1))
    every_member = jax.jit(ensemble_outputs).lower(model.graphdef, model.params, states, actions, model.normalizer)
    flops = lambda lowered: lowered.cost_analysis()["flops"]  # noqa: E731
    assert flops(rollout) < 2 * flops(every_member) / members
