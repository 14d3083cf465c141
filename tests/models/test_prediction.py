"""The model-level prediction API (`wm_jax.models.prediction`): raw actions in, every mode, elites,
and trajectory sampling over a horizon."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tests.helpers import cartpole_spec
from wm_jax.config import ModelConfig
from wm_jax.models import ensemble_of, imagine, init_ensemble_params, predict_members, spec_for_env
from wm_jax.models.ensemble import ensemble_outputs
from wm_jax.models.prediction import ROWS_PER_CALL, predict, propagate_dealt


def _cartpole_model(members=3, onehot=False):
    spec = spec_for_env(
        "CartPole-v1",
        ModelConfig(kind="ensemble", members=members, delta=True, probabilistic=True),
        "onehot" if onehot else None,
    )
    return ensemble_of(spec, init_ensemble_params(spec, jax.random.key(0)))


def test_predict_encodes_raw_actions_itself():
    model = _cartpole_model(onehot=True)
    states = np.random.default_rng(0).normal(size=(6, 4)).astype(np.float32)
    actions = np.array([0, 1, 1, 0, 1, 0])
    encoded = np.eye(2, dtype=np.float32)[actions]
    members = predict_members(model.graphdef, model.params, states, encoded, model.normalizer)
    np.testing.assert_allclose(predict(model, states, actions, mode="members").mean, members, rtol=1e-6)
    np.testing.assert_allclose(predict(model, states, actions).mean, members.mean(axis=0), rtol=1e-6)


def test_rows_of_the_wrong_shape_get_one_line_saying_which_shape_was_expected():
    """Encoding reshapes actions: without the check, (5, 3) actions of a 1-wide space became 15 rows."""
    model = _cartpole_model()
    states, actions = np.zeros((5, 4), np.float32), np.zeros(5, np.int32)
    assert predict(model, states, actions[:, None]).mean.shape == (5, 4)  # (N, 1) is N discrete actions too
    with pytest.raises(ValueError, match=r"states must be rows \(N, 4\) .* got shape \(4,\): for one state, pass"):
        predict(model, states[0], actions[:1])
    with pytest.raises(ValueError, match=r"states must be rows \(N, 4\) for this model, got shape \(5, 3\)"):
        predict(model, states[:, :3], actions)
    with pytest.raises(ValueError, match=r"actions must be \(5, 1\) or \(5,\) for 5 states .* got shape \(5, 2\)"):
        predict(model, states, np.zeros((5, 2)))
    with pytest.raises(ValueError, match=r"got shape \(4,\)"):
        predict(model, states, actions[:4])
    with pytest.raises(ValueError, match="no rows given"):
        predict(model, states[:0], actions[:0])
    windows = np.zeros((5, 3), np.int32)  # 3 steps of 5 states' actions
    assert imagine(model, states, windows, jax.random.key(0), trajectory=True).states.shape == (5, 3, 4)
    with pytest.raises(ValueError, match=r"got shape \(5, 2\) \(actions are windows \(B, H, ...\): got \(5, 3, 2\)\)"):
        imagine(model, states, np.zeros((5, 3, 2)), jax.random.key(0))
    with pytest.raises(ValueError, match=r"actions must be windows \(B, H\) or \(B, H, A\)"):
        imagine(model, states, actions, jax.random.key(0))
    with pytest.raises(ValueError, match="dealt to members under ts1 or tsinf"):
        imagine(model, states, windows, jax.random.key(0), mode="mean", dealt=True)
    pendulum = spec_for_env("Pendulum-v1", ModelConfig(kind="ensemble", members=2))
    box = ensemble_of(pendulum, init_ensemble_params(pendulum, jax.random.key(0)))
    with pytest.raises(ValueError, match=r"actions must be \(5, 1\) or \(5,\) .* got shape \(5, 3\)"):
        predict(box, np.zeros((5, 3)), np.zeros((5, 3)))


def test_sampling_modes_need_a_key_and_sampling_draws_from_the_gaussian():
    model = _cartpole_model()
    states, actions = np.zeros((4, 4), np.float32), np.zeros(4, np.int32)
    for mode in ("ts1", "tsinf"):
        with pytest.raises(ValueError, match="key"):
            predict(model, states, actions, mode=mode)
    mean = predict(model, states, actions).mean
    sampled = predict(model, states, actions, key=jax.random.key(0), sample=True).mean
    assert not np.allclose(sampled, mean), "probabilistic members' noise moves the sample"


def test_many_rows_go_through_in_chunks_with_the_same_result(monkeypatch):
    import wm_jax.models.prediction as prediction

    model = _cartpole_model()
    rng = np.random.default_rng(1)
    states, actions = rng.normal(size=(10, 4)).astype(np.float32), rng.integers(0, 2, 10)
    whole = predict(model, states, actions, mode="members")
    monkeypatch.setattr(prediction, "ROWS_PER_CALL", 4)
    chunked = predict(model, states, actions, mode="members")
    assert chunked.mean.shape == whole.mean.shape == (3, 10, 4) and ROWS_PER_CALL > 10
    np.testing.assert_allclose(chunked.mean, whole.mean, rtol=1e-6)
    np.testing.assert_allclose(chunked.logvar, whole.logvar, rtol=1e-6)


def test_elites_choose_the_ensembles_prediction():
    spec = cartpole_spec(3)
    params = init_ensemble_params(spec, jax.random.key(0))
    model = ensemble_of(spec, params, elites=[2])
    states, actions = np.ones((5, 4), np.float32), np.ones(5, np.int32)
    members = predict(model, states, actions, mode="members")
    assert members.mean.shape == (3, 5, 4)
    np.testing.assert_allclose(predict(model, states, actions).mean, members.mean[2], rtol=1e-6)


def _followed_members(model, tracks, starts, actions):
    """(B, H) the member whose own one-step prediction each step of each track is, -1 where none is."""
    followed = np.full(tracks.shape[:2], -1)
    previous = np.asarray(starts)
    for h in range(tracks.shape[1]):
        members = np.asarray(predict(model, previous, actions[:, h], mode="members").mean)  # (E, B, S)
        match = np.all(members == np.asarray(tracks[:, h])[None], axis=-1)  # (E, B)
        followed[:, h] = np.where(match.any(axis=0), match.argmax(axis=0), -1)
        previous = np.asarray(tracks[:, h])
    return followed


@pytest.mark.slow  # compiles several programs (seconds)
def test_trajectory_sampling_picks_members_per_step_or_per_trajectory():
    spec = cartpole_spec(4, delta=True)
    model = ensemble_of(spec, init_ensemble_params(spec, jax.random.key(0)), elites=[1, 3])
    rng = np.random.default_rng(0)
    starts, actions = rng.normal(size=(256, 4)).astype(np.float32), rng.integers(0, 2, (256, 3))
    for mode in ("ts1", "tsinf"):
        tracks = imagine(
            model, jnp.asarray(starts), jnp.asarray(actions), jax.random.key(1), mode=mode, trajectory=True
        ).states
        followed = _followed_members(model, tracks, starts, actions)
        assert set(np.unique(followed)) == {1, 3}, f"{mode} draws only elites"
        keeps = np.all(followed == followed[:, :1], axis=1)
        if mode == "ts1":
            assert not keeps.all(), "TS-1 redraws members at every step"
        else:
            assert keeps.all(), "TS-inf keeps each row's member for the whole trajectory"


@pytest.mark.parametrize("members, elites, rows", [(5, None, 4096), (10, [0, 1, 2, 3, 5, 6, 7, 8, 9], 23)])
def test_dealt_rows_run_through_their_own_member_in_equal_shares(members, elites, rows):
    """Each row's prediction is its member's own; TS-inf deals row j to elite j mod K, TS-1 deals every group
    of K rows a random permutation of the elites at each step (nine elites of ten, 23 rows: the sorted-permutation
    path, elites that are not every member, and a padded last group)."""
    spec = spec_for_env("CartPole-v1", ModelConfig(kind="ensemble", members=members, delta=True, probabilistic=True))
    model = ensemble_of(spec, init_ensemble_params(spec, jax.random.key(0)), elites=elites)
    chosen = np.asarray(model.elites)
    k = len(chosen)
    rng = np.random.default_rng(0)
    states = jnp.asarray(rng.normal(size=(rows, 4)).astype(np.float32))
    encoded = model.spec.encode_actions(jnp.asarray(rng.integers(0, 2, rows)))
    every = ensemble_outputs(model.graphdef, model.params, states, encoded, model.normalizer)
    deals, dealt = [], jax.jit(propagate_dealt, static_argnames="mode")
    for step in range(3):
        for mode in ("tsinf", "ts1"):
            prediction, member = dealt(model, states, encoded, jax.random.key(step), mode)
            member = np.asarray(member)
            for head in ("mean", "logvar"):
                expected = getattr(every, head)[member, np.arange(rows)]
                np.testing.assert_allclose(getattr(prediction, head), expected, rtol=1e-5, atol=1e-6)
            whole = member[: rows // k * k].reshape(-1, k)
            assert (np.sort(whole, axis=1) == np.sort(chosen)).all(), "each group of K rows takes every elite once"
            if mode == "tsinf":
                np.testing.assert_array_equal(member, chosen[np.arange(rows) % k])
            else:
                deals.append(member)
    assert not all((deal == deals[0]).all() for deal in deals[1:]), "TS-1 deals afresh at every step"
    if rows >= 1000:  # every elite equally often in each position: uniform, not a rotation of one deal
        firsts = [deal[: rows // k * k].reshape(-1, k)[:, 0] for deal in deals]
        counts = np.stack([np.bincount(first, minlength=members) for first in firsts])
        assert counts.min() > rows / k / k * 0.7


@pytest.mark.slow  # compiles rollout programs (seconds)
def test_a_dealt_imagination_steps_every_row_through_one_member_from_its_own_last_state():
    """`imagine(..., dealt=True)`: under TS-1 each imagined step is one member's prediction from the row's
    previous state, the members in equal shares; under TS-inf row j stays with member j mod K."""
    model = _cartpole_model(members=3)
    states = jax.random.normal(jax.random.key(1), (9, 4)) * 0.05
    windows = jax.random.randint(jax.random.key(2), (9, 4), 0, 2)
    for mode in ("ts1", "tsinf"):
        steps = imagine(model, states, windows, jax.random.key(3), mode=mode, steps=True, dealt=True).steps
        shares = []
        for t in range(4):
            encoded = model.spec.encode_actions(steps.actions[:, t])
            every = ensemble_outputs(model.graphdef, model.params, steps.states[:, t], encoded, model.normalizer).mean
            distance = np.abs(np.asarray(every) - np.asarray(steps.next_states[:, t])[None]).max(axis=-1)
            member = distance.argmin(axis=0)
            assert (distance.min(axis=0) < 1e-5).all()
            shares.append(np.bincount(member, minlength=3))
            if mode == "tsinf":
                np.testing.assert_array_equal(member, np.arange(9) % 3)
        np.testing.assert_array_equal(np.array(shares), 3)  # 9 rows, 3 members: three rows each, every step
