"""`wm-jax train` as a library function: train a world model on a data file, score it on held-out
episodes against the baselines, and write the model and metrics.json.

    result = train_and_evaluate(TrainRun(data="cartpole.npz", out="run", model=ModelConfig(kind="ensemble")))
"""

from __future__ import annotations

import dataclasses
import os
from typing import Annotated, Any, NamedTuple

from ..config import ConfigError, ModelConfig, TrainConfig, check_seed
from ..devices import DistributedOptions
from ..envs import ActionEncoding
from .common import (
    Flat,
    HeldOutSplit,
    WandbFlag,
    check_batch_fits,
    held_out_split,
    open_checkpoints,
    progress_bar,
    resumed_run,
)


@dataclasses.dataclass(frozen=True, kw_only=True)
class TrainRun(DistributedOptions):
    """Train a world model on a data file; write DIR/params.npz, model.json, baselines.json, metrics.json."""

    data: str | None = None
    """training transitions (.npz from `wm-jax collect`); required unless --resume"""
    out: str | None = None
    """output directory; required unless --resume"""
    model: Annotated[ModelConfig, Flat] = ModelConfig.with_presets_open()
    training: Annotated[TrainConfig, Flat] = TrainConfig()
    eval_data: str | None = None
    """held-out transitions from a separate file (instead of --eval-fraction)"""
    env: str | None = None
    """the environment of data files that record none (written by another tool): its spaces apply, and a
    float column of whole numbers becomes Discrete indices"""
    eval_fraction: float | None = None
    """hold out this share of the data, as whole episodes chosen with --seed (default 0.2 without --eval-data)"""
    action_encoding: ActionEncoding | None = None
    """how actions enter the network: index (the tutorial's, default for Discrete), onehot, continuous (Box)"""
    horizon: int = 50
    """longest open-loop rollout scored in metrics.json"""
    seed: int = 0
    progress: bool = False
    """show a progress bar over the epochs (identical results)"""
    log_dir: str | None = None
    """write TensorBoard event files here as training goes: each member's loss per epoch, the validation
    curves, then metrics.json's held-out scores (`tensorboard --logdir DIR`)"""
    wandb: WandbFlag = False
    plots: bool = False
    """also draw calibration.png and epistemic.png into DIR (about a second; `wm-jax evaluate --plots` draws them
    later)"""
    data_shards: int = 1
    """split each minibatch's rows over this many of the devices (the rest split the members)"""
    checkpoint_every: int = 0
    """save the whole training state to DIR/checkpoints every K epochs (orbax; 0: never)"""
    keep: int = 3
    """keep the last N checkpoints"""
    resume: str | None = None
    """continue the interrupted run in this directory (its --out), with its own settings, from its latest
    checkpoint"""

    def __post_init__(self):
        object.__setattr__(self, "model", dataclasses.replace(self.model))  # the kind's presets, checked


class TrainScores(NamedTuple):
    """How the trained model does: `Scores` one step ahead on both sides of the split, and the
    `evaluation.summary.SplitEvaluation`s metrics.json records: one step ahead with the baselines on
    the training rows; rollouts, baselines, uncertainty and the heads on the held-out rows."""

    train: Any
    held_out: Any
    train_split: Any
    held_out_split: Any


class TrainResult(NamedTuple):
    """A trained and scored model: the run as it ran (a resumed run's own settings), `fitted` (a
    `training.FittedModel`), the split it was trained and scored on, the linear baseline fitted on the
    same rows, its `TrainScores` (what metrics.json records) and its number of parameters."""

    run: TrainRun
    fitted: Any
    split: HeldOutSplit
    linear: Any
    scores: TrainScores
    params: int


def train_and_evaluate(run: TrainRun) -> TrainResult | None:
    """The whole `wm-jax train`: resume or start, train, score, write. None in the processes of a
    multi-process run that do not write (process 0 alone scores and writes)."""
    if run.resume is not None:
        return _train(resumed_run(run, TrainRun(resume=run.resume)), resuming=True)
    if run.data is None or run.out is None:
        raise ConfigError("give --data FILE and --out DIR (or --resume DIR)")
    return _train(run, resuming=False)


def _prepare(run: TrainRun):
    """(spec, split, mesh) after every check that can fail before training starts."""
    from ..atomic import check_output_path
    from ..data import declare_env, load_dataset
    from ..models import spec_for_data

    if run.horizon < 1:
        raise ConfigError(f"--horizon must be >= 1, got {run.horizon}")
    check_output_path(run.out, directory=True)
    check_seed(run.seed)
    if run.training.elites > run.model.members:
        raise ConfigError(f"--elites {run.training.elites} exceeds the {run.model.members} members")
    mesh = run.mesh(run.model.members, run.data_shards)
    dataset = load_dataset(run.data)
    if run.env is not None:
        dataset = declare_env(dataset, run.env, run.data)
    spec = spec_for_data(dataset.info.env_id, dataset.transitions, run.model, run.action_encoding)
    split = held_out_split(run.data, dataset, spec, run.eval_data, run.eval_fraction, run.seed, run.env)
    check_batch_fits(run.training.batch_size, split.train.size)
    if run.horizon > split.held_out.size:
        raise ConfigError(
            f"--horizon {run.horizon} is longer than the {split.held_out.size} held-out transitions; "
            f"use at most {split.held_out.size}"
        )
    split.record.update(
        train_transitions=split.train.size,
        held_out_transitions=split.held_out.size,
        train_episodes=split.train.episode_count,
        held_out_episode_count=split.held_out.episode_count,
    )
    return spec, split, mesh


def _fit(run: TrainRun, spec, split: HeldOutSplit, mesh, resuming: bool, log):
    """Train (in chunks of about a second; a progress bar, the log and checkpoints between them)."""
    import numpy as np

    from ..training import fingerprint, fit

    bars = []  # created at the first epoch so compilation time does not skew the rate

    def on_epoch(epoch, losses):
        if run.progress:
            if not bars:
                bars.append(progress_bar(run.training.epochs, f"training {run.model.kind}", " epoch", initial=epoch))
            bars[0].update(1)
            bars[0].set_postfix(loss=f"{float(losses.mean()):.3e}")
        # The members' mean in float64, as metrics.json's loss_curve takes it (report.model_metrics): a float32
        # mean differs in its last bits, which wandb, keeping float64, would show.
        log.scalar("train/loss", float(np.asarray(losses, dtype=float).mean()), epoch + 1)
        log.members("train/loss", losses, epoch + 1)

    def describe():  # what a resume must find again: the split and the training rows
        train = split.train
        return {"split": split.record, "training_rows": fingerprint(train.states, train.actions, train.next_states)}

    checkpoints = open_checkpoints(run, resuming, mesh, "epoch", describe)
    try:
        return fit(
            spec,
            run.training,
            split.train,
            run.seed,
            # From the settings, not from whether this process writes: every process must train in the same chunks.
            on_epoch if run.progress or run.log_dir or run.wandb else None,
            mesh=mesh,
            checkpoints=checkpoints,
            # A log alone needs no bar's 20 updates: chunks of about a second keep its cost near nothing.
            report_every=None if run.progress else run.training.epochs,
        )
    finally:  # also on Ctrl-C, so the bar's last line ends before the one-line message
        if checkpoints is not None:
            checkpoints.close()
        for bar in bars:
            bar.close()


def score_trained(run: TrainRun, model, split: HeldOutSplit, linear) -> TrainScores:
    """Score on the training rows one step ahead (rollouts there would cost as much as training on big
    data) and on the held-out rows in open-loop rollouts up to `run.horizon`, with the baselines."""
    from ..evaluation import score
    from ..evaluation.heads import model_head_scores, plot_uncertainty
    from ..evaluation.rollouts import model_rollout
    from ..evaluation.summary import one_step_evaluation, split_evaluation

    spec, train, held_out = model.spec, split.train, split.held_out
    train_scores, held_out_scores = score(model, train), score(model, held_out)
    heads = model_head_scores(model, held_out)
    held_out_split = split_evaluation(
        model_rollout(model), linear, held_out, spec.encode_actions(held_out.actions), run.horizon, heads
    )
    if run.plots and heads.uncertainty is not None:
        plot_uncertainty(heads.uncertainty, run.out, f"({spec.env_id or 'data'}, held out)")
    train_split = one_step_evaluation(train_scores, linear, train, spec.encode_actions(train.actions))
    return TrainScores(train_scores, held_out_scores, train_split, held_out_split)


def _train(run: TrainRun, resuming: bool) -> TrainResult | None:
    from ..devices import is_writer
    from ..tracking import RunLog

    spec, split, mesh = _prepare(run)
    with RunLog.for_run(run, "train", enabled=is_writer()) as log:
        fitted = _fit(run, spec, split, mesh, resuming, log)
        if not is_writer():
            return None
        return _score_and_write(run, fitted, split, log)


def _score_and_write(run: TrainRun, fitted, split: HeldOutSplit, log) -> TrainResult:
    from .. import report
    from ..checkpoint import save_checkpoint
    from ..evaluation.baselines import fit_linear
    from ..models import count_params

    spec = fitted.spec
    if fitted.validation_curve is not None:
        for epoch, losses in enumerate(fitted.validation_curve):
            log.members("validation/loss", losses, epoch + 1)
    train = split.train
    linear = fit_linear(train.states, spec.encode_actions(train.actions), train.next_states)
    os.makedirs(run.out, exist_ok=True)
    scores = score_trained(run, fitted.ensemble, split, linear)
    result = TrainResult(run, fitted, split, linear, scores, count_params(fitted.params))
    save_checkpoint(fitted.ensemble, run.out, {"linear": linear.to_json(), "fitted_on": split.record})
    metrics = report.train_metrics(result)
    report.write_json(os.path.join(run.out, report.RECORDS["train"]), metrics)
    log_scores(log, metrics, fitted.epochs_trained)
    return result


def log_scores(log, metrics: dict, step: int) -> None:
    """metrics.json's scores into the run's log: the one-step numbers of both sides of the split at the last
    epoch, and the held-out rollout error at each horizon (the horizon is the step)."""
    log.scalars("train", {"one_step_mse": metrics["train"]["one_step_mse"]}, step)
    held_out = metrics["held_out"]
    log.scalars("held_out", {k: v for k, v in held_out.items() if k != "rollout"}, step)
    log.members("held_out/one_step_mse", held_out["member_one_step_mse"], step)
    for horizon, mse in zip(held_out["rollout"]["horizons"], held_out["rollout"]["mse"]):
        log.scalar("held_out/rollout_mse", mse, horizon)


def summarize(run: TrainRun, result: TrainResult) -> str:
    from .. import report

    return report.train_summary(result)
