"""Reference predictors every model is reported beside: identity (s' = s) and linear least squares.

numpy only (no JAX import): the PyTorch reference uses the same baselines. Actions are the encoded
float (N, action_dim) network input, never raw actions.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..errors import UserError


def _design(states, encoded_actions) -> np.ndarray:
    """[s, a_enc, 1] in float64: (N, state_dim + action_dim + 1)."""
    states = np.asarray(states, dtype=np.float64)
    actions = np.asarray(encoded_actions, dtype=np.float64)
    if states.ndim != 2 or actions.ndim != 2 or states.shape[0] != actions.shape[0]:
        raise ValueError(
            f"states (N, state_dim) and encoded actions (N, action_dim) expected, "
            f"got {states.shape} and {actions.shape}"
        )
    return np.concatenate([states, actions, np.ones((states.shape[0], 1))], axis=1)


class LinearBaseline(NamedTuple):
    """s' = [s, a_enc, 1] @ weights; weights (state_dim + action_dim + 1, state_dim), last row the bias."""

    weights: np.ndarray

    @property
    def state_dim(self) -> int:
        return int(self.weights.shape[1])

    @property
    def action_dim(self) -> int:
        return int(self.weights.shape[0]) - self.state_dim - 1

    def predict(self, states, encoded_actions) -> np.ndarray:
        """Next states (N, state_dim), float64 (kept at full precision so chained rollouts do not round)."""
        x = _design(states, encoded_actions)
        if x.shape[1] != self.weights.shape[0]:
            raise ValueError(
                f"baseline fitted for state_dim={self.state_dim}, action_dim={self.action_dim}, "
                f"got inputs with {x.shape[1] - 1} columns"
            )
        return x @ self.weights

    def to_json(self) -> dict:
        # Python floats print with repr, so float64 weights round-trip through JSON exactly.
        return {"weights": self.weights.tolist(), "state_dim": self.state_dim, "action_dim": self.action_dim}

    @classmethod
    def from_json(cls, payload: dict) -> LinearBaseline:
        """Inverse of `to_json`; malformed input raises `UserError` (it comes from a file the user names)."""
        if not isinstance(payload, dict):
            raise UserError(f"linear baseline: expected a JSON object, got {type(payload).__name__}")
        missing = [key for key in ("weights", "state_dim", "action_dim") if key not in payload]
        if missing:
            raise UserError(f"linear baseline: missing {', '.join(missing)}")
        state_dim, action_dim = payload["state_dim"], payload["action_dim"]
        # bool is an int subclass; reject it so `true` is not read as a dimension of 1.
        if not isinstance(state_dim, int) or isinstance(state_dim, bool) or state_dim < 1:
            raise UserError(f"linear baseline: state_dim must be a positive integer, got {state_dim!r}")
        if not isinstance(action_dim, int) or isinstance(action_dim, bool) or action_dim < 0:
            raise UserError(f"linear baseline: action_dim must be a non-negative integer, got {action_dim!r}")
        try:
            weights = np.asarray(payload["weights"], dtype=np.float64)
        except (TypeError, ValueError) as error:
            raise UserError(f"linear baseline: weights are not a numeric matrix ({error})") from None
        expected = (state_dim + action_dim + 1, state_dim)
        if weights.shape != expected:
            raise UserError(f"linear baseline: weights have shape {weights.shape}, expected {expected}")
        if not np.all(np.isfinite(weights)):
            raise UserError("linear baseline: weights contain NaN or infinity")
        return cls(weights)


def fit_linear(states, encoded_actions, next_states) -> LinearBaseline:
    """Least-squares fit (float64, `np.linalg.lstsq`) of next_states on [s, a_enc, 1] over the given rows."""
    x = _design(states, encoded_actions)
    y = np.asarray(next_states, dtype=np.float64)
    if y.ndim != 2 or y.shape[0] != x.shape[0] or y.shape[1] != np.asarray(states).shape[1]:
        raise ValueError(f"next states of shape {(x.shape[0], np.asarray(states).shape[1])} expected, got {y.shape}")
    if x.shape[0] == 0:
        raise UserError("cannot fit the linear baseline on zero training rows")
    # lstsq gives the minimum-norm solution when columns are collinear (e.g. a one-hot action
    # encoding plus the bias column), so a rank-deficient design still fits.
    weights, *_ = np.linalg.lstsq(x, y, rcond=None)
    return LinearBaseline(weights)


def identity_predict(states, encoded_actions) -> np.ndarray:
    """s' = s: a float copy of `states` (float32 stays float32), so callers may modify it; actions are ignored."""
    del encoded_actions
    states = np.asarray(states)
    return np.array(states, dtype=np.result_type(states.dtype, np.float32), copy=True)
