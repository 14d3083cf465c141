"""Evaluation of world models: one-step scores, baselines and multi-step open-loop rollouts.

    scores     MSE overall, per state dimension and per member (numpy; JAX only to run a model)
    baselines  identity (s' = s) and linear least squares on the encoded (state, action)
    rollouts   open-loop rollouts along recorded episodes, MSE per horizon, never across a reset
"""

from .scores import Scores, member_predictions, score, scores_from_predictions

__all__ = ["Scores", "member_predictions", "score", "scores_from_predictions"]
