"""Open-loop rollout errors per horizon, never across a reset, for the baselines and for models."""

import jax
import numpy as np
import pytest

from tests.helpers import A, S, linear_system
from wm_jax.config import ModelConfig
from wm_jax.evaluation.baselines import LinearBaseline, fit_linear
from wm_jax.evaluation.rollouts import _rollout_program, identity_rollout, linear_rollout, model_rollout, rollout_errors
from wm_jax.evaluation.scores import scores_from_predictions
from wm_jax.models import (
    ModelSpec,
    apply_member,
    ensemble_of,
    graphdef_of,
    init_ensemble_params,
    predict,
    predict_members,
)


def episodes_of(lengths, weights, seed=1):
    """Rows of consecutive episodes of the linear system; each episode starts from a fresh random state.

    float64, so exact dynamics reproduce the data to ~1e-15.
    """
    rng = np.random.default_rng(seed)
    states, actions, next_states, episode = [], [], [], []
    for e, length in enumerate(lengths):
        s = rng.normal(size=S) * 5  # far from the previous episode's states: a reset is a jump
        for _ in range(length):
            a = rng.normal(size=A)
            s_next = np.concatenate([s, a, [1.0]]) @ weights
            states.append(s), actions.append(a), next_states.append(s_next), episode.append(e)
            s = s_next
    return np.array(states), np.array(actions), np.array(next_states), np.array(episode, np.int32)


def oracle_rollout(states, next_states, episode):
    """Looks up each start state's row and returns the recorded future; NaN past the episode's end.

    Exact wherever a rollout is scored, so any step scored across a reset makes the MSE NaN.
    """
    row_of = {s.tobytes(): i for i, s in enumerate(states)}
    n = len(states)

    def rollout_fn(start_states, action_windows):
        horizon = action_windows.shape[1]
        out = np.full((1, len(start_states), horizon, states.shape[1]), np.nan)
        for b, s in enumerate(start_states):
            i = row_of[np.asarray(s).tobytes()]
            for h in range(horizon):
                j = i + h
                if j < n and episode[j] == episode[i]:
                    out[0, b, h] = next_states[j]
        return out

    return rollout_fn


LENGTHS = (4, 2, 5)
# Valid starts per horizon h: sum over episodes of max(L - h + 1, 0).
EXPECTED_COUNTS = [11, 8, 5, 3, 1, 0]


def test_counts_per_horizon_stop_at_episode_ends():
    states, actions, next_states, episode = episodes_of(LENGTHS, linear_system())
    errors = rollout_errors(identity_rollout, states, actions, next_states, episode, horizon=6)
    np.testing.assert_array_equal(errors.horizons, np.arange(1, 7))
    np.testing.assert_array_equal(errors.counts, EXPECTED_COUNTS)
    assert errors.mse.shape == (1, 6) and errors.mse.dtype == np.float64
    assert np.all(np.isfinite(errors.mse[:, :5])) and np.all(np.isnan(errors.mse[:, 5])), "NaN where no start is valid"


def test_exact_dynamics_score_zero_and_would_not_across_a_reset():
    weights = linear_system()
    states, actions, next_states, episode = episodes_of(LENGTHS, weights)
    exact = linear_rollout(LinearBaseline(weights))
    errors = rollout_errors(exact, states, actions, next_states, episode, horizon=5)
    assert np.all(errors.mse < 1e-20), errors.mse
    # Scored as one long episode (what a mask ignoring resets would count), the same rollout is off
    # from horizon 2 on, so zero error above really depends on never crossing a reset.
    merged = rollout_errors(exact, states, actions, next_states, np.zeros_like(episode), horizon=5)
    assert merged.mse[0, 0] < 1e-20 and np.all(merged.mse[0, 1:] > 1e-2), merged.mse


def test_fitted_linear_baseline_is_exact_on_linear_episodes():
    states, actions, next_states, episode = episodes_of((20, 15, 30), linear_system())
    fitted = fit_linear(states, actions, next_states)
    errors = rollout_errors(linear_rollout(fitted), states, actions, next_states, episode, 8)
    assert np.all(errors.mse < 1e-18), errors.mse


def test_oracle_from_the_recorded_data_scores_zero():
    states, actions, next_states, episode = episodes_of(LENGTHS, linear_system())
    errors = rollout_errors(oracle_rollout(states, next_states, episode), states, actions, next_states, episode, 6)
    np.testing.assert_array_equal(errors.mse[:, :5], 0.0)  # exact: nothing past an episode end was scored
    assert np.isnan(errors.mse[0, 5])
    np.testing.assert_array_equal(errors.counts, EXPECTED_COUNTS)


def test_chunking_gives_the_same_result_as_one_chunk():
    rng = np.random.default_rng(5)
    lengths = tuple(rng.integers(1, 9, size=8))
    states, actions, next_states, episode = episodes_of(lengths, linear_system(), seed=6)
    noisy = LinearBaseline(linear_system() + 0.05 * rng.normal(size=(S + A + 1, S)))

    def both_tracks(starts, windows):  # K = 2: identity and a slightly wrong linear model
        return np.concatenate([identity_rollout(starts, windows), linear_rollout(noisy)(starts, windows)])

    whole = rollout_errors(both_tracks, states, actions, next_states, episode, 7, chunk=10_000)
    assert whole.mse.shape == (2, 7) and np.all(whole.mse[:, 0] > 0)
    for chunk in (1, 3, len(states) - 1):
        chunked = rollout_errors(both_tracks, states, actions, next_states, episode, 7, chunk=chunk)
        np.testing.assert_array_equal(chunked.counts, whole.counts)
        np.testing.assert_allclose(chunked.mse, whole.mse, rtol=1e-12, equal_nan=True)


def test_every_call_gets_the_same_batch_size():
    states, actions, next_states, episode = episodes_of(LENGTHS, linear_system())
    shapes = []

    def recording(start_states, action_windows):
        shapes.append((start_states.shape, action_windows.shape))
        return identity_rollout(start_states, action_windows)

    rollout_errors(recording, states, actions, next_states, episode, 4, chunk=3)
    assert len(shapes) == 4 and set(shapes) == {((3, S), (3, 4, A))}, "11 rows: 3 + 3 + 3 + (2 padded to 3)"


def test_no_rows_gives_nan_and_zero_counts():
    empty = np.zeros((0, S)), np.zeros((0, A)), np.zeros((0, S)), np.zeros(0, np.int32)
    errors = rollout_errors(identity_rollout, *empty, horizon=3)
    assert errors.mse.shape == (1, 3) and np.all(np.isnan(errors.mse))
    np.testing.assert_array_equal(errors.counts, [0, 0, 0])


def test_rejects_a_rollout_fn_of_the_wrong_shape():
    states, actions, next_states, episode = episodes_of(LENGTHS, linear_system())
    with pytest.raises(ValueError, match="rollout function returned"):
        rollout_errors(lambda s, a: identity_rollout(s, a)[0], states, actions, next_states, episode, 2)


# JAX model rollouts


def model(members, hidden=(8,), seed=0):
    return graphdef_of(spec_of(members, hidden)), init_ensemble_params(spec_of(members, hidden), jax.random.key(seed))


def spec_of(members, hidden):
    kind = "ensemble" if members > 1 else "simple"
    return ModelSpec(S, A, ModelConfig(kind=kind, hidden_sizes=hidden, members=members))


def spec_of_params(params):
    """The spec of stacked parameters made by `model` (their shapes tell members and hidden sizes)."""
    hidden = params["hidden"]
    sizes = tuple(hidden[i]["kernel"][...].shape[-1] for i in range(len(hidden)))
    return spec_of(jax.tree.leaves(params)[0].shape[0], sizes)


def member(params, e):
    return jax.tree.map(lambda leaf: leaf[e], params)


def random_windows(batch, horizon, seed=7):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(batch, S)).astype(np.float32), rng.normal(size=(batch, horizon, A)).astype(np.float32)


def test_model_rollout_horizon_one_is_the_one_step_prediction():
    graphdef, params = model(members=3)
    starts, windows = random_windows(16, 1)
    tracks = model_rollout(ensemble_of(spec_of_params(params), params))(starts, windows)
    assert tracks.shape == (4, 16, 1, S) and tracks.dtype == np.float32
    one_step = np.asarray(predict_members(graphdef, params, starts, windows[:, 0]))
    np.testing.assert_allclose(tracks[1:, :, 0], one_step, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(tracks[0, :, 0], one_step.mean(axis=0), rtol=1e-5, atol=1e-6)


def test_model_rollout_tracks_match_a_python_loop():
    graphdef, params = model(members=3)
    starts, windows = random_windows(5, 6)
    tracks = model_rollout(ensemble_of(spec_of_params(params), params))(starts, windows)
    assert tracks.shape == (4, 5, 6, S)
    for e in range(3):  # each member fed its own predictions
        s = starts
        for h in range(6):
            s = apply_member(graphdef, member(params, e), s, windows[:, h])
            np.testing.assert_allclose(tracks[1 + e, :, h], s, rtol=1e-5, atol=1e-5)
    s = starts  # the mean track feeds the ensemble's (mean) prediction back
    for h in range(6):
        s = predict(graphdef, params, s, windows[:, h])
        np.testing.assert_allclose(tracks[0, :, h], s, rtol=1e-5, atol=1e-5)
    assert not np.allclose(tracks[0], tracks[1]), "members differ, so the mean track is not member 0"


def test_one_member_mean_track_is_member_one():
    graphdef, params = model(members=1)
    tracks = model_rollout(ensemble_of(spec_of_params(params), params))(*random_windows(5, 4))
    assert tracks.shape == (2, 5, 4, S)
    np.testing.assert_array_equal(tracks[0], tracks[1])


def test_model_rollout_errors_at_horizon_one_match_one_step_scores():
    graphdef, params = model(members=3)
    states, actions, next_states, episode = episodes_of(LENGTHS, linear_system())
    errors = rollout_errors(
        model_rollout(ensemble_of(spec_of_params(params), params)), states, actions, next_states, episode, 6, chunk=4
    )
    one_step = scores_from_predictions(predict_members(graphdef, params, states, actions), next_states)
    np.testing.assert_allclose(errors.mse[:, 0], [one_step.mse, *one_step.member_mse], rtol=1e-5)
    assert np.all(np.isnan(errors.mse[:, 5])) and np.all(np.isfinite(errors.mse[:, :5]))


def test_model_rollout_compiles_once_across_chunks_and_calls():
    graphdef, params = model(members=2, hidden=(5, 3))  # a structure no other test uses
    program = _rollout_program("mean", False)
    compiled = program._cache_size()
    states, actions, next_states, episode = episodes_of(LENGTHS, linear_system())
    rollout_errors(
        model_rollout(ensemble_of(spec_of_params(params), params)), states, actions, next_states, episode, 4, chunk=3
    )  # 4 chunks
    assert program._cache_size() == compiled + 1
    # New parameters and new data of the same shapes reuse the compiled program too.
    _, other_params = model(members=2, hidden=(5, 3), seed=1)
    states, actions, next_states, episode = episodes_of((3, 3, 3, 3), linear_system(), seed=9)
    rollout_errors(
        model_rollout(ensemble_of(spec_of_params(other_params), other_params)),
        states,
        actions,
        next_states,
        episode,
        4,
        chunk=3,
    )
    assert program._cache_size() == compiled + 1, "new parameters and data of the same shapes reuse the program"
