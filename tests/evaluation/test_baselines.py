"""Baselines: identity and linear least squares (numpy only, no JAX)."""

import json
import subprocess
import sys

import numpy as np
import pytest

from tests.helpers import A, S, linear_system
from wm_jax.errors import UserError
from wm_jax.evaluation.baselines import LinearBaseline, fit_linear, identity_predict
from wm_jax.evaluation.rollouts import identity_rollout


def test_linear_baseline_recovers_an_exactly_linear_system():
    weights = linear_system()
    rng = np.random.default_rng(2)
    states, actions = rng.normal(size=(200, S)), rng.normal(size=(200, A))
    next_states = np.concatenate([states, actions, np.ones((200, 1))], axis=1) @ weights
    fitted = fit_linear(states, actions, next_states)
    assert fitted.weights.shape == (S + A + 1, S) and fitted.weights.dtype == np.float64
    assert (fitted.state_dim, fitted.action_dim) == (S, A)
    np.testing.assert_allclose(fitted.weights, weights, atol=1e-10)
    test_states, test_actions = rng.normal(size=(50, S)), rng.normal(size=(50, A))
    truth = np.concatenate([test_states, test_actions, np.ones((50, 1))], axis=1) @ weights
    np.testing.assert_allclose(fitted.predict(test_states, test_actions), truth, atol=1e-10)


def test_linear_baseline_fits_float32_inputs_in_float64():
    rng = np.random.default_rng(3)
    states, actions = rng.normal(size=(100, S)).astype(np.float32), rng.normal(size=(100, A)).astype(np.float32)
    fitted = fit_linear(states, actions, states * 2 + 1)
    assert fitted.weights.dtype == np.float64
    assert fitted.predict(states, actions).shape == (100, S)


def test_linear_baseline_json_round_trips_exactly():
    baseline = LinearBaseline(linear_system())
    payload = json.loads(json.dumps(baseline.to_json()))
    assert payload["state_dim"] == S and payload["action_dim"] == A
    restored = LinearBaseline.from_json(payload)
    np.testing.assert_array_equal(restored.weights, baseline.weights)
    assert restored.weights.dtype == np.float64


@pytest.mark.parametrize(
    "payload",
    [
        [],
        {"state_dim": S, "action_dim": A},
        {"weights": np.zeros((S + A + 1, S)).tolist(), "state_dim": S},
        {"weights": np.zeros((S + A, S)).tolist(), "state_dim": S, "action_dim": A},
        {"weights": np.zeros((S + A + 1, S)).tolist(), "state_dim": "3", "action_dim": A},
        {"weights": np.zeros((S + A + 1, S)).tolist(), "state_dim": True, "action_dim": A},
        {"weights": [[1, 2], [3]], "state_dim": 2, "action_dim": 0},
        {"weights": [["a", "b"]] * 3, "state_dim": 2, "action_dim": 0},
        {"weights": [[float("nan"), 0.0]] * 3, "state_dim": 2, "action_dim": 0},
    ],
)
def test_linear_baseline_from_json_rejects_malformed_input(payload):
    with pytest.raises(UserError):
        LinearBaseline.from_json(payload)


def test_identity_predicts_the_state():
    states = np.random.default_rng(4).normal(size=(7, S)).astype(np.float32)
    predicted = identity_predict(states, np.zeros((7, A), np.float32))
    np.testing.assert_array_equal(predicted, states)
    assert predicted.dtype == np.float32 and not np.shares_memory(predicted, states)
    windows = identity_rollout(states, np.zeros((7, 4, A), np.float32))
    assert windows.shape == (1, 7, 4, S)
    np.testing.assert_array_equal(windows[0], np.repeat(states[:, None], 4, axis=1))


def test_baselines_and_rollout_errors_import_without_jax():
    """The PyTorch reference imports these; JAX is only imported by `model_rollout` when called."""
    code = (
        "import sys, wm_jax.evaluation.baselines, wm_jax.evaluation.rollouts;"
        "assert 'jax' not in sys.modules, 'jax imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
