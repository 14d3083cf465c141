"""`wm-jax sweep` as a library function: every (learning rate, weight decay, seed) trained in one
compiled program, chosen on validation data, scored on held-out episodes."""

from __future__ import annotations

import dataclasses
import os
from typing import Annotated, Any, NamedTuple

from ..config import ConfigError, ModelConfig, TrainConfig, check_seed
from ..devices import DeviceOptions
from ..envs import ActionEncoding
from .common import Flat, WandbFlag, check_batch_fits, held_out_split


@dataclasses.dataclass(frozen=True, kw_only=True)
class SweepRun(DeviceOptions):
    """Train every combination of learning rates, weight decays and seeds in one compiled program;
    write DIR/sweep.csv, sweep.json, sweep.png and the chosen configuration's model in DIR/best."""

    data: str | None = None
    """training transitions (.npz from `wm-jax collect`)"""
    out: str | None = None
    """output directory"""
    learning_rates: tuple[float, ...] = (1e-3,)
    """the learning rates to try"""
    weight_decays: tuple[float, ...] | None = None
    """the torch-style coupled L2 values to try (default: the model's preset, 1e-4 for regularized, else 0)"""
    seeds: int = 1
    """runs per (learning rate, weight decay): seeds --seed, --seed + 1, ... (initialisation and minibatch order)"""
    model: Annotated[ModelConfig, Flat] = ModelConfig.with_presets_open()
    training: Annotated[TrainConfig, Flat] = TrainConfig()
    eval_data: str | None = None
    """held-out transitions from a separate file (instead of --eval-fraction)"""
    eval_fraction: float | None = None
    """hold out this share of the data, as whole episodes chosen with --seed (default 0.2 without --eval-data)"""
    seed: int = 0
    """first seed; also chooses the held-out and validation episodes"""
    action_encoding: ActionEncoding | None = None
    log_dir: str | None = None
    """write TensorBoard event files here once the grid's program returns (it is one program): each
    configuration's loss curve and its scores, under lr_0.001_wd_0_seed_0 (`tensorboard --logdir DIR`)"""
    wandb: WandbFlag = False
    checkpoint_every: int = 0
    """save every configuration's state to DIR/checkpoints every K epochs (orbax; 0: never)"""
    keep: int = 3
    """keep the last N checkpoints"""
    resume: str | None = None
    """continue the interrupted sweep in this directory (its --out), with its own settings, from its latest
    checkpoint"""

    def __post_init__(self):
        object.__setattr__(self, "model", dataclasses.replace(self.model))  # the kind's presets, checked


class SweepOutcome(NamedTuple):
    """The sweep's `training.sweep.SweepResult`, its grid, the split it was scored on, and the run as it ran
    (a resumed sweep's own settings)."""

    result: Any
    grid: Any
    split_record: dict
    run: SweepRun | None = None


def _grid(run: SweepRun):
    from ..training.sweep import SweepGrid

    if run.training.learning_rate != TrainConfig.learning_rate or run.training.weight_decay is not None:
        raise ConfigError("a sweep tries --learning-rates and --weight-decays; drop --learning-rate and --weight-decay")
    if run.seeds < 1:
        raise ConfigError(f"--seeds must be >= 1, got {run.seeds}")
    check_seed(run.seed)
    check_seed(run.seed + run.seeds - 1, "--seed + --seeds - 1")
    decays = run.weight_decays if run.weight_decays is not None else (run.training.for_model(run.model).weight_decay,)
    return SweepGrid(tuple(run.learning_rates), tuple(decays), tuple(range(run.seed, run.seed + run.seeds)))


def sweep_and_choose(run: SweepRun) -> SweepOutcome:
    """The whole `wm-jax sweep`: train the grid, write its table and plot, save the chosen model in
    DIR/best. Raises `TrainingDiverged` (after writing the table) when every configuration diverged."""
    from ..atomic import check_output_path
    from ..tracking import RunLog
    from .common import resumed_run

    resuming = run.resume is not None
    if resuming:
        run = resumed_run(run, SweepRun(resume=run.resume))
    elif run.data is None or run.out is None:
        raise ConfigError("give --data FILE and --out DIR (or --resume DIR)")
    check_output_path(run.out, directory=True)
    grid = _grid(run)
    with RunLog.for_run(run, "sweep") as log:  # a log directory that cannot be written fails before the work
        return _sweep(run, grid, log, resuming)


def _sweep(run: SweepRun, grid, log, resuming: bool) -> SweepOutcome:
    import sys

    from ..data import load_dataset
    from ..models import spec_for_data
    from ..training import validation_split
    from ..training.sweep import check_sweep, run_sweep

    dataset = load_dataset(run.data)
    spec = spec_for_data(dataset.info.env_id, dataset.transitions, run.model, run.action_encoding)
    split = held_out_split(run.data, dataset, spec, run.eval_data, run.eval_fraction, run.seed)
    train, validation = validation_split(split.train, run.training, run.seed)
    check_batch_fits(run.training.batch_size, train.size)
    split.record.update(
        train_transitions=train.size, validation_transitions=validation.size, held_out_transitions=split.held_out.size
    )
    check_sweep(spec, run.training, grid)
    print(
        f"sweeping {len(grid)} configurations ({len(grid.learning_rates)} learning rates x "
        f"{len(grid.weight_decays)} weight decays x {run.seeds} seeds) of a {run.model.members}-member "
        f"{run.model.kind} model, {run.training.epochs} epochs on {train.size} transitions",
        file=sys.stderr,
    )
    mesh = run.mesh(len(grid))
    checkpoints = _checkpoints(run, split.record, train, resuming, mesh)
    try:
        result = run_sweep(
            spec,
            run.training,
            train,
            grid,
            validation=validation,
            held_out=split.held_out,
            mesh=mesh,
            checkpoints=checkpoints,
        )
    finally:
        if checkpoints is not None:
            checkpoints.close()
    outcome = SweepOutcome(result, grid, split.record, run)
    _log(log, run, result)
    _write(run, outcome, spec, train)
    return outcome


def _checkpoints(run: SweepRun, split_record: dict, train, resuming: bool, mesh):
    """The sweep's `RunCheckpoints` (None without --checkpoint-every); a resume must find the same rows."""
    from ..training import fingerprint
    from .common import open_checkpoints

    def describe():
        return {"split": split_record, "training_rows": fingerprint(train.states, train.actions, train.next_states)}

    return open_checkpoints(run, resuming, mesh, "epoch", describe)


def sweep_tag(row: dict) -> str:
    """The log's tag group of one configuration (a sweep.csv row): lr_0.001_wd_0_seed_0."""
    return f"lr_{row['learning_rate']:g}_wd_{row['weight_decay']:g}_seed_{row['seed']}"


def _log(log, run: SweepRun, result) -> None:
    """Each configuration's mean loss per epoch and its sweep.csv row into the run's log, one tag group each."""
    import numpy as np

    curves = np.asarray(result.loss_curves).mean(axis=2)  # (configurations, epochs)
    for row, curve in zip(result.rows(), curves):
        name = sweep_tag(row)
        for epoch, loss in enumerate(curve):
            log.scalar(f"{name}/train/loss", loss, epoch + 1)
        scores = {k: v for k, v in row.items() if k not in ("learning_rate", "weight_decay", "seed")}
        log.scalars(name, scores, run.training.epochs)


def _write(run: SweepRun, outcome: SweepOutcome, spec, train) -> None:
    from .. import report
    from ..checkpoint import save_checkpoint
    from ..evaluation.baselines import fit_linear
    from ..training import TrainingDiverged

    os.makedirs(run.out, exist_ok=True)
    report.write_sweep(run, outcome, spec.env_id)
    result, best = outcome.result, outcome.result.best
    if best is None:
        raise TrainingDiverged(
            f"every configuration diverged (a non-finite loss or validation score), so none "
            f"was chosen; the table is in {os.path.join(run.out, 'sweep.csv')}: try smaller "
            "learning rates"
        )
    chosen = result.configurations[best]
    linear = fit_linear(train.states, spec.encode_actions(train.actions), train.next_states)
    save_checkpoint(
        result.ensemble(best),
        os.path.join(run.out, "best"),
        {
            "linear": linear.to_json(),
            "fitted_on": outcome.split_record,
            "sweep": {"learning_rate": chosen.learning_rate, "weight_decay": chosen.weight_decay, "seed": chosen.seed},
        },
    )


def summarize(run: SweepRun, outcome: SweepOutcome) -> str:
    from .. import report

    return report.sweep_summary(outcome.run or run, outcome)
