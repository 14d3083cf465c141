"""Evaluation of world models: one-step scores, baselines and multi-step open-loop rollouts.

scores     MSE overall, per state dimension and per member (numpy; JAX only to run a model)
baselines  identity (s' = s) and linear least squares on the encoded (state, action)
rollouts   open-loop rollouts along recorded episodes, MSE per horizon, never across a reset
heads      uncertainty (NLL, coverage, reliability, epistemic spread), reward and termination scores
summary    a model and its baselines on one split (`SplitEvaluation`); `report` writes it as JSON
"""

from .baselines import LinearBaseline, fit_linear, identity_predict
from .rollouts import RolloutErrors, identity_rollout, linear_rollout, model_rollout, rollout_errors
from .scores import Scores, score, scores_from_predictions

__all__ = [
    "LinearBaseline",
    "RolloutErrors",
    "Scores",
    "fit_linear",
    "identity_predict",
    "identity_rollout",
    "linear_rollout",
    "model_rollout",
    "rollout_errors",
    "score",
    "scores_from_predictions",
]
