"""`wm-jax evaluate` and `wm-jax predict` as library functions: a trained model on a data file."""

from __future__ import annotations

import dataclasses
import os
from typing import Any, NamedTuple

from ..config import ConfigError, PredictionMode, check_seed
from ..errors import UserError


@dataclasses.dataclass(frozen=True)
class EvaluateRun:
    """Score a trained model (a `wm-jax train` directory) on a data file: one-step and rollout MSE, with baselines."""

    checkpoint: str
    """directory written by `wm-jax train`"""
    data: str
    """transitions to score (from the model's environment)"""
    env: str | None = None
    """the environment of a data file that records none (written by another tool): its spaces apply, and a
    float column of whole numbers becomes Discrete indices"""
    horizon: int = 50
    """longest open-loop rollout: MSE for every H = 1..horizon"""
    mode: PredictionMode = "mean"
    """how the model's rollout steps: mean of the elites, ts1 (a random member per step), tsinf (one per
    trajectory)"""
    sample: bool = False
    """sample each step from the chosen member's Gaussian (probabilistic models)"""
    json: str | None = None
    """also write the scores to this JSON file"""
    plots: str | None = None
    """write calibration.png and epistemic.png into this directory"""
    seed: int = 0
    """seed of the rollouts' random draws (ts1, tsinf, --sample)"""


class Evaluation(NamedTuple):
    """A model scored on data: the model, the `Scores` one step ahead, the `evaluation.summary.SplitEvaluation`
    (rollouts, baselines, uncertainty, heads) and the linear baseline (None without one)."""

    model: Any
    scores: Any
    split: Any
    linear: Any


def _load_model_and_data(checkpoint: str, data_path: str, env: str | None = None):
    from ..checkpoint import load_checkpoint
    from ..data import check_data_matches_model, declare_env, load_dataset

    model = load_checkpoint(checkpoint)
    dataset = load_dataset(data_path)
    if env is not None:
        dataset = declare_env(dataset, env, data_path)
    check_data_matches_model(dataset, model.spec.env_id, model.spec.state_dim, data_path)
    return model, dataset.transitions


def _saved_linear(checkpoint: str):
    from ..checkpoint import load_baselines
    from ..evaluation.baselines import LinearBaseline

    saved = load_baselines(checkpoint)
    try:
        return LinearBaseline.from_json(saved["linear"]) if saved and "linear" in saved else None
    except UserError as error:
        raise ConfigError(f"{os.path.join(checkpoint, 'baselines.json')}: {error}") from None


def evaluate_model(
    model,
    data,
    *,
    horizon: int = 50,
    mode: PredictionMode = "mean",
    sample: bool = False,
    seed: int = 0,
    linear=None,
    plot_dir: str | None = None,
) -> Evaluation:
    """Score `model` (an `Ensemble`, or what `fit` returns) on `data` (a Transitions of raw actions, or a
    `Dataset`): one-step MSE, open-loop rollouts up to `horizon` (stepped by `mode`), the identity baseline
    and `linear` (a fitted `LinearBaseline`) beside it, uncertainty and the heads; `plot_dir` also gets
    their plots."""
    from ..data.format import transitions_of
    from ..evaluation import score
    from ..evaluation.heads import model_head_scores, plot_uncertainty
    from ..evaluation.rollouts import model_rollout
    from ..evaluation.summary import split_evaluation
    from ..models import model_of

    model = model_of(model)
    _check_evaluation_data(model, data, horizon)
    data = transitions_of(data)

    heads = model_head_scores(model, data)
    rollout = model_rollout(model, mode, sample, seed)
    split = split_evaluation(rollout, linear, data, model.spec.encode_actions(data.actions), horizon, heads)
    if plot_dir is not None and heads.uncertainty is not None:
        plot_uncertainty(heads.uncertainty, plot_dir, f"({model.spec.env_id or 'data'})")
    return Evaluation(model, score(model, data), split, linear)


def _check_evaluation_data(model, data, horizon: int) -> None:
    """What `evaluate_model` refuses, as the command does: data recorded from another environment (a `Dataset`),
    rows of other shapes, and a horizon beyond the data (a rollout that long starts nowhere, and costs as
    much as one that does)."""
    from ..data import Dataset, check_data_matches_model
    from ..data.format import transitions_of
    from ..models.prediction import check_rows

    if isinstance(data, Dataset):
        check_data_matches_model(data, model.spec.env_id, model.spec.state_dim, "data")
    rows = transitions_of(data)
    try:
        check_rows(model.spec, rows.states.shape, rows.actions.shape)
    except ValueError as error:
        raise ConfigError(f"data: {error}") from None
    if not 1 <= horizon <= rows.size:
        raise ConfigError(f"horizon must be in [1, {rows.size}] (the data's transitions), got {horizon}")


def evaluate_checkpoint(run: EvaluateRun) -> Evaluation:
    """The whole `wm-jax evaluate`: score, draw the plots asked for, write the JSON asked for."""
    from .. import report
    from ..atomic import check_output_path

    if run.horizon < 1:
        raise ConfigError(f"--horizon must be >= 1, got {run.horizon}")
    check_seed(run.seed)
    for path, directory in ((run.plots, True), (run.json, False)):
        if path is not None:
            check_output_path(path, directory=directory)
    model, data = _load_model_and_data(run.checkpoint, run.data, run.env)
    if run.sample and not model.spec.config.probabilistic:  # nothing to sample: the flag would change nothing
        raise ConfigError(f"--sample draws from the members' Gaussians; {run.checkpoint} is a deterministic model")
    if run.horizon > data.size:
        raise ConfigError(
            f"--horizon {run.horizon} is longer than the {data.size} transitions in {run.data}; use at most {data.size}"
        )
    linear = _saved_linear(run.checkpoint)
    if run.plots is not None:
        os.makedirs(run.plots, exist_ok=True)
    evaluation = evaluate_model(
        model,
        data,
        horizon=run.horizon,
        mode=run.mode,
        sample=run.sample,
        seed=run.seed,
        linear=linear,
        plot_dir=run.plots,
    )
    if run.json:
        report.write_json(run.json, report.evaluation_json(run, evaluation))
    return evaluation


def summarize(run: EvaluateRun, evaluation: Evaluation) -> str:
    from .. import report

    return report.evaluation_summary(run, evaluation)


@dataclasses.dataclass(frozen=True)
class PredictRun:
    """Write every member's predictions on a data file to a .npz (environment units), for analysis without JAX."""

    checkpoint: str
    """directory written by `wm-jax train`"""
    data: str
    """transitions to predict on (from the model's environment)"""
    out: str
    """output .npz: mean (E, N, S); var (E, N, S) for probabilistic members; predictive_mean and
    predictive_var (N, S), the model's (calibrated) predictive Gaussian; reward (E, N) and
    termination_prob (E, N) when the heads exist; elites (K,)"""
    levels: tuple[float, ...] = ()
    """also write lower_P and upper_P (N, S), the calibrated central P interval, for each level P in (0, 1)"""


def predict_to_file(run: PredictRun) -> dict:
    """The whole `wm-jax predict`; returns the arrays it wrote."""
    import numpy as np

    from ..atomic import atomic_write, check_output_path
    from ..models.prediction import prediction_arrays

    if any(not 0 < level < 1 for level in run.levels):
        raise ConfigError(f"--levels must lie in (0, 1), got {' '.join(map(str, run.levels))}")
    check_output_path(run.out)
    model, data = _load_model_and_data(run.checkpoint, run.data)
    arrays = prediction_arrays(model, data.states, data.actions, run.levels)
    atomic_write(run.out, lambda f: np.savez(f, **arrays))
    return arrays


def summarize_prediction(run: PredictRun, arrays: dict) -> str:
    transitions = arrays["mean"].shape[1]  # (members, N, S)
    return f"wrote {', '.join(f'{k} {v.shape}' for k, v in arrays.items())} for {transitions} transitions to {run.out}"
