"""The model-level prediction API (`wm_jax.models.prediction`): raw actions in, every mode, elites,
and trajectory sampling over a horizon."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tests.helpers import cartpole_spec
from wm_jax.config import ModelConfig
from wm_jax.models import ensemble_of, imagine, init_ensemble_params, predict_members, spec_for_env
from wm_jax.models.prediction import ROWS_PER_CALL, predict


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
