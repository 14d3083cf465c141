"""`wm-jax`: a thin command-line shell over the library (collect, train, evaluate, demo, parity).

Each subcommand is a typed dataclass turned into flags by tyro; `main` only parses and calls
library functions. User errors print one line and exit 2.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
import tyro

from .config import (ConfigError, ModelKind, PlannerMethod, PredictionMode, RewardSource, ShuffleMode, check_seed,
                     tutorial_model_config, tutorial_train_config)
from .data.collect import CollectBackend
from .envs import ActionEncoding
from .devices import DeviceOptions, DistributedOptions
from .errors import EXIT_USER_ERROR, UserError, exit_code_of


# --- Checkpointed commands (train, mbrl): --checkpoint-every K, --keep N, --resume DIR ------------
# A command's own settings are saved in its checkpoints; `--resume DIR` rebuilds the command from
# them, so the resumed run is the same run. Where it runs (devices, processes) may change.
_NOT_SAVED = ("out", "resume", "progress", "render")


def _placement_fields(command) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(DistributedOptions if isinstance(command, DistributedOptions)
                                                    else DeviceOptions))


def saved_settings(command) -> dict:
    """The settings that define a checkpointed run (not where it runs, nor how it reports)."""
    skip = _NOT_SAVED + _placement_fields(command)
    return {f.name: getattr(command, f.name) for f in dataclasses.fields(command) if f.name not in skip}


def resumed_command(command):
    """The interrupted run's own command, read from DIR/checkpoints, on this command's devices."""
    from .training import CHECKPOINTS_DIR, RunCheckpoints

    record = RunCheckpoints.of_run(os.path.join(command.resume, CHECKPOINTS_DIR))
    skip = _NOT_SAVED + _placement_fields(command)
    extra = [f.name for f in dataclasses.fields(command) if f.name not in skip and getattr(command, f.name) != f.default]
    if extra:
        flags = ", ".join("--" + name.replace("_", "-") for name in extra)
        raise ConfigError(f"--resume takes the run's settings from its checkpoints; drop {flags}")
    try:
        saved = type(command)(**record["description"]["command"])
    except (KeyError, TypeError) as error:
        raise ConfigError(f"{command.resume}: the checkpoint's settings are unreadable ({error})") from None
    placement = {name: getattr(command, name) for name in _placement_fields(command)}
    if not command.devices:
        # The devices the run started on, so a resume on the same host is bit-identical.
        placement["devices"] = int(record.get("notes", {}).get("devices", 0))
    kept = {name: getattr(command, name) for name in _NOT_SAVED if hasattr(command, name) and name not in ("out", "resume")}
    # The run continues where its checkpoints are, even if its directory has moved since.
    return dataclasses.replace(saved, out=command.resume, resume=command.resume, **kept, **placement)


def open_checkpoints(command, description: dict, resuming: bool, mesh, unit: str):
    """The run's `RunCheckpoints` in OUT/checkpoints; a fresh run refuses a directory that already has some."""
    import jax

    from .training import CHECKPOINTS_DIR, RunCheckpoints

    notes = {"devices": 1 if mesh is None else int(mesh.devices.size), "processes": jax.process_count()}
    checkpoints = RunCheckpoints(os.path.join(command.out, CHECKPOINTS_DIR), every=command.checkpoint_every,
                                 keep=command.keep, description=description, notes=notes)
    if resuming:
        checkpoints.resumable()
        print(f"resuming {command.out} after {unit} {checkpoints.latest_epoch()}", file=sys.stderr)
    elif checkpoints.latest_epoch() is not None:
        raise ConfigError(f"{command.out} already holds a run's checkpoints: continue it with --resume {command.out}, "
                          "or write into another --out")
    return checkpoints


def held_out_split(command, dataset, spec):
    """(training rows, held-out rows, how they were split) for a command with data, eval_data,
    eval_fraction and seed: a separate file, or whole episodes held back (train and sweep share this)."""
    from .data import check_data_matches_model, load_dataset, split_by_episode

    if command.eval_data is not None and command.eval_fraction is not None:
        raise ConfigError("give --eval-data or --eval-fraction, not both")
    if command.eval_data is not None:
        held_out_set = load_dataset(command.eval_data)
        check_data_matches_model(held_out_set, spec.env_id, spec.state_dim, command.eval_data)
        return dataset.transitions, held_out_set.transitions, {"method": "separate file", "eval_data": command.eval_data}
    fraction = 0.2 if command.eval_fraction is None else command.eval_fraction
    if dataset.transitions.episode_count < 2:
        raise ConfigError(f"{command.data}: holds only {dataset.transitions.episode_count} episode, and a held-out "
                          "split takes whole episodes: collect more, or give --eval-data FILE")
    parts = split_by_episode(dataset.transitions, fraction, seed=command.seed)
    return parts.train, parts.held_out, {"method": "by episode", "seed": command.seed, "eval_fraction": fraction,
                                         "held_out_episodes": parts.held_out_episodes.tolist()}


@dataclasses.dataclass(frozen=True)
class Collect:
    """Collect random-policy transitions into a data file (format version 2, see the README)."""

    out: str
    """output .npz file"""
    env: str = "CartPole-v1"
    transitions: int | None = None
    """number of transitions (give this or --episodes; default 10,000)"""
    episodes: int | None = None
    """number of whole episodes (give this or --transitions)"""
    seed: int = 0
    max_episode_steps: int = 200
    """the tutorial caps episodes at 200 steps"""
    backend: CollectBackend = "gymnasium"
    """gymnasium: real envs stepped one at a time; jax: gymnax envs vmapped inside one compiled scan"""
    num_envs: int | None = None
    """environments run side by side (jax backend; default: about 250 steps per environment)"""

    def __call__(self) -> None:
        from .atomic import check_output_path
        from .data import collect_dataset, save_dataset

        check_output_path(self.out)
        transitions, episodes = self.transitions, self.episodes
        if transitions is None and episodes is None:
            transitions = 10_000
        dataset = collect_dataset(
            self.env, backend=self.backend, seed=self.seed, transitions=transitions, episodes=episodes,
            max_episode_steps=self.max_episode_steps, num_envs=self.num_envs, progress=sys.stderr.isatty(),
        )
        save_dataset(dataset, self.out)
        data = dataset.transitions
        cut = len(dataset.info.cut_episodes)
        print(f"wrote {data.size} transitions in {data.episode_count} episodes ({cut} cut by the budget) from "
              f"{self.env} ({self.backend}, seed {self.seed}) to {self.out}")


@dataclasses.dataclass(frozen=True)
class Train(DistributedOptions):
    """Train a world model on a data file; write DIR/params.npz, model.json, baselines.json, metrics.json."""

    data: str | None = None
    """training transitions (.npz from `wm-jax collect`); required unless --resume"""
    out: str | None = None
    """output directory; required unless --resume"""
    model: ModelKind = "simple"
    eval_data: str | None = None
    """held-out transitions from a separate file (instead of --eval-fraction)"""
    eval_fraction: float | None = None
    """hold out this share of the data, as whole episodes chosen with --seed (default 0.2 without --eval-data)"""
    members: int | None = None
    """ensemble size (default 5; only for --model ensemble)"""
    epochs: int = 100
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float | None = None
    """torch-style coupled L2 (default: 1e-4 for regularized, else 0)"""
    shuffle: ShuffleMode = "shared"
    """minibatch order across ensemble members"""
    action_encoding: ActionEncoding | None = None
    """how actions enter the network: index (the tutorial's, default for Discrete), onehot, continuous (Box)"""
    horizon: int = 50
    """longest open-loop rollout scored in metrics.json"""
    seed: int = 0
    progress: bool = False
    """show a progress bar: training then runs in compiled chunks of epochs, with identical results"""
    delta: bool = False
    """predict next_state - state (the state is added back: predictions stay in environment units)"""
    normalize: bool = False
    """standardise inputs and targets with statistics of the training split (saved with the model)"""
    probabilistic: bool = False
    """Gaussian members (mean and soft-bounded log-variance) trained on negative log-likelihood"""
    reward_head: bool = False
    """also predict the reward (MSE)"""
    termination_head: bool = False
    """also predict termination (a logit, binary cross-entropy)"""
    bootstrap: bool = False
    """each member trains on its own resample of the training rows, with replacement"""
    early_stopping: int = 0
    """stop after this many epochs without a 1% validation improvement and keep each member's best weights (0: off)"""
    elites: int = 0
    """keep the best K members on validation as the model's elites (0: all members)"""
    calibrate: bool = False
    """after training, rescale the predictive variance per state dimension so the validation split's intervals cover what they claim"""
    validation_fraction: float = 0.1
    """share of the training split (whole episodes) held back for --early-stopping, --elites and --calibrate"""
    data_shards: int = 1
    """split each minibatch's rows over this many of the devices (the rest split the members)"""
    plots: bool = False
    """also draw calibration.png and epistemic.png into DIR (about a second; `wm-jax evaluate --plots` draws them later)"""
    checkpoint_every: int = 0
    """save the whole training state to DIR/checkpoints every K epochs (orbax; 0: never)"""
    keep: int = 3
    """keep the last N checkpoints"""
    resume: str | None = None
    """continue the interrupted run in this directory (its --out), with its own settings, from its latest checkpoint"""

    def checkpoints(self, train, split: dict, resuming: bool, mesh):
        """The run's `RunCheckpoints`: its description is this command and a fingerprint of its training rows."""
        from .training import fingerprint

        description = {"command": saved_settings(self), "split": split,
                       "training_rows": fingerprint(train.states, train.actions, train.next_states)}
        return open_checkpoints(self, description, resuming, mesh, "epoch")

    def model_config(self):
        base = tutorial_model_config(self.model, self.members if self.members is not None else 5)
        return dataclasses.replace(base, delta=self.delta, normalize=self.normalize, probabilistic=self.probabilistic,
                                   reward_head=self.reward_head, termination_head=self.termination_head)

    def train_config(self):
        overrides = {} if self.weight_decay is None else {"weight_decay": self.weight_decay}
        return tutorial_train_config(
            self.model, epochs=self.epochs, batch_size=self.batch_size, learning_rate=self.lr, shuffle=self.shuffle,
            bootstrap=self.bootstrap, early_stopping_patience=self.early_stopping, elites=self.elites,
            calibrate=self.calibrate,
            validation_fraction=self.validation_fraction, **overrides,
        )

    def __call__(self) -> None:
        if self.resume is not None:
            return resumed_command(self).run(resuming=True)
        if self.data is None or self.out is None:
            raise ConfigError("give --data FILE and --out DIR (or --resume DIR)")
        return self.run(resuming=False)

    def run(self, resuming: bool) -> None:
        from tqdm.auto import tqdm

        from . import report
        from .checkpoint import save_checkpoint
        from .data import load_dataset
        from .evaluation import score
        from .evaluation.baselines import fit_linear
        from .evaluation.heads import model_heads_blocks
        from .evaluation.rollouts import model_rollout
        from .evaluation.summary import evaluation_block, one_step_block
        from .models import count_params, spec_for_data
        from .atomic import check_output_path
        from .devices import is_writer
        from .training import fit

        if self.members is not None and self.model != "ensemble":
            raise ConfigError("--members applies only to --model ensemble")
        if self.horizon < 1:
            raise ConfigError(f"--horizon must be >= 1, got {self.horizon}")
        check_output_path(self.out, directory=True)
        check_seed(self.seed)
        model_cfg, train_cfg = self.model_config(), self.train_config()
        mesh = self.mesh(model_cfg.members, self.data_shards)
        if train_cfg.elites > model_cfg.members:
            raise ConfigError(f"--elites {train_cfg.elites} exceeds the {model_cfg.members} members")
        dataset = load_dataset(self.data)
        spec = spec_for_data(dataset.info.env_id, dataset.transitions, model_cfg, self.action_encoding)
        train, held_out, split = held_out_split(self, dataset, spec)
        if self.batch_size > train.size:
            raise ConfigError(f"--batch-size {self.batch_size} is larger than the {train.size} training transitions; "
                              f"use at most {train.size}")
        if self.horizon > held_out.size:
            raise ConfigError(f"--horizon {self.horizon} is longer than the {held_out.size} held-out transitions; "
                              f"use at most {held_out.size}")
        split.update(train_transitions=train.size, held_out_transitions=held_out.size,
                     train_episodes=train.episode_count, held_out_episode_count=held_out.episode_count)
        bars = []  # created at the first epoch so compilation time does not skew the rate

        def on_epoch(epoch, losses):
            if not bars:
                bars.append(tqdm(total=self.epochs, desc=f"training {self.model}", unit=" epoch", file=sys.stderr))
            bars[0].update(1)
            bars[0].set_postfix(loss=f"{float(losses.mean()):.3e}")

        checkpoints = self.checkpoints(train, split, resuming, mesh) if self.checkpoint_every else None
        try:
            fitted = fit(spec, train_cfg, train, self.seed, on_epoch if self.progress else None, mesh=mesh,
                         checkpoints=checkpoints)
        finally:  # also on Ctrl-C, so the bar's last line ends before the one-line message
            if checkpoints is not None:
                checkpoints.close()
            for bar in bars:
                bar.close()
        if not is_writer():
            return  # in a multi-process run, process 0 alone scores the model and writes every file
        model = fitted.ensemble
        train_actions, held_out_actions = spec.encode_actions(train.actions), spec.encode_actions(held_out.actions)
        linear = fit_linear(train.states, train_actions, train.next_states)
        train_scores, held_out_scores = score(model, train), score(model, held_out)
        os.makedirs(self.out, exist_ok=True)
        metrics = report.model_metrics(
            model=self.model, members=model_cfg.members, epochs=self.epochs, batch_size=self.batch_size,
            learning_rate=self.lr, weight_decay=train_cfg.weight_decay, dropout_rate=model_cfg.dropout_rate,
            params=count_params(fitted.params), loss_curve=fitted.loss_curve,
            train_scores=train_scores, eval_scores=held_out_scores,
            train_seconds=fitted.train_seconds, compile_seconds=fitted.compile_seconds, seed=self.seed,
            backend="jax",
        )
        metrics.update(
            env_id=spec.env_id, action_encoding=spec.action_encoding, data=self.data, split=split,
            # One step on the training split: rollouts there would cost as much as training on big data.
            train=one_step_block(train_scores, linear, train, train_actions),
            held_out={**evaluation_block(model_rollout(model), linear, held_out, held_out_actions, self.horizon),
                      **model_heads_blocks(model, held_out, plot_dir=self.out if self.plots else None, title=f"({spec.env_id or 'data'}, held out)")},
            model_options={name: getattr(model_cfg, name) for name in ("delta", "normalize", "probabilistic",
                                                                       "reward_head", "termination_head")},
            training={"bootstrap": train_cfg.bootstrap, "early_stopping_patience": train_cfg.early_stopping_patience,
                      "calibrated": train_cfg.calibrate, "variance_log_scale": model.calibration.log_scale.tolist(),
                      "epochs_trained": fitted.epochs_trained, "elites": model.elites.tolist(),
                      "validation_scores": None if fitted.validation_scores is None
                      else fitted.validation_scores.tolist()},
        )
        save_checkpoint(self.out, model, {"linear": linear.to_json(), "fitted_on": split})
        report.write_json(os.path.join(self.out, "metrics.json"), metrics)
        baselines = metrics["held_out"]["baselines"]
        uncertainty = metrics["held_out"].get("uncertainty")
        spread = "" if uncertainty is None else (f"held-out NLL {uncertainty['nll']:.3g}, 90% interval coverage "
                                                  f"{uncertainty['coverage']['90%']['mean']:.1%}; ")
        print(
            f"{self.model} model ({metrics['params']} params) on {spec.env_id or 'data'}: held-out one-step MSE "
            f"{metrics['eval_mse']:.3e} (identity {baselines['identity']['one_step_mse']:.3e}, linear "
            f"{baselines['linear']['one_step_mse']:.3e}), train {metrics['train_mse']:.3e}; {spread}"
            f"{fitted.epochs_trained} epochs in {fitted.train_seconds:.2f} s + {fitted.compile_seconds:.2f} s compiling; "
            f"wrote {self.out}"
        )


def number_list(text: str, flag: str) -> tuple[float, ...]:
    """'1e-3,3e-3' as (0.001, 0.003); a ConfigError naming the flag for anything else."""
    try:
        values = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise ConfigError(f"{flag} takes comma-separated numbers (e.g. {flag} 1e-3,3e-3), got {text!r}") from None
    return values


@dataclasses.dataclass(frozen=True)
class Sweep(DeviceOptions):
    """Train every combination of learning rates, weight decays and seeds in one compiled program;
    write DIR/sweep.csv, sweep.json, sweep.png and the chosen configuration's model in DIR/best."""

    data: str
    """training transitions (.npz from `wm-jax collect`)"""
    out: str
    """output directory"""
    lr: str = "1e-3"
    """learning rates, comma-separated (e.g. 1e-3,3e-3)"""
    weight_decay: str | None = None
    """torch-style coupled L2 values, comma-separated (default: 1e-4 for regularized, else 0)"""
    seeds: int = 1
    """runs per (learning rate, weight decay): seeds --seed, --seed + 1, ... (initialisation and minibatch order)"""
    model: ModelKind = "simple"
    members: int | None = None
    """ensemble size (default 5; only for --model ensemble)"""
    epochs: int = 100
    batch_size: int = 32
    eval_data: str | None = None
    """held-out transitions from a separate file (instead of --eval-fraction)"""
    eval_fraction: float | None = None
    """hold out this share of the data, as whole episodes chosen with --seed (default 0.2 without --eval-data)"""
    validation_fraction: float = 0.1
    """share of the training split (whole episodes) every configuration is scored on to choose the best"""
    seed: int = 0
    """first seed; also chooses the held-out and validation episodes"""
    shuffle: ShuffleMode = "shared"
    action_encoding: ActionEncoding | None = None
    delta: bool = False
    normalize: bool = False
    probabilistic: bool = False
    bootstrap: bool = False

    def __call__(self) -> None:
        from . import report
        from .atomic import atomic_write, check_output_path
        from .checkpoint import save_checkpoint
        from .data import load_dataset
        from .evaluation.baselines import fit_linear
        from .models import spec_for_data
        from .training import TrainingDiverged, validation_split
        from .training.sweep import SweepGrid, check_sweep, run_sweep

        check_output_path(self.out, directory=True)
        if self.members is not None and self.model != "ensemble":
            raise ConfigError("--members applies only to --model ensemble")
        if self.seeds < 1:
            raise ConfigError(f"--seeds must be >= 1, got {self.seeds}")
        check_seed(self.seed)
        check_seed(self.seed + self.seeds - 1, "--seed + --seeds - 1")
        weight_decays = self.weight_decay if self.weight_decay is not None else ("1e-4" if self.model == "regularized" else "0")
        grid = SweepGrid(number_list(self.lr, "--lr"), number_list(weight_decays, "--weight-decay"),
                         tuple(range(self.seed, self.seed + self.seeds)))
        base = tutorial_model_config(self.model, self.members if self.members is not None else 5)
        model_cfg = dataclasses.replace(base, delta=self.delta, normalize=self.normalize, probabilistic=self.probabilistic)
        train_cfg = tutorial_train_config(self.model, epochs=self.epochs, batch_size=self.batch_size, shuffle=self.shuffle,
                                          bootstrap=self.bootstrap, validation_fraction=self.validation_fraction)
        dataset = load_dataset(self.data)
        spec = spec_for_data(dataset.info.env_id, dataset.transitions, model_cfg, self.action_encoding)
        train, held_out, split = held_out_split(self, dataset, spec)
        train, validation = validation_split(train, train_cfg, self.seed)
        if self.batch_size > train.size:
            raise ConfigError(f"--batch-size {self.batch_size} is larger than the {train.size} training transitions; "
                              f"use at most {train.size}")
        split.update(train_transitions=train.size, validation_transitions=validation.size,
                     held_out_transitions=held_out.size)
        check_sweep(spec, train_cfg, grid)
        print(f"sweeping {len(grid)} configurations ({len(grid.learning_rates)} learning rates x "
              f"{len(grid.weight_decays)} weight decays x {self.seeds} seeds) of a {model_cfg.members}-member "
              f"{self.model} model, {self.epochs} epochs on {train.size} transitions", file=sys.stderr)
        result = run_sweep(spec, train_cfg, train, grid, validation=validation, held_out=held_out,
                           mesh=self.mesh(len(grid)))
        rows, best = result.rows(), result.best
        os.makedirs(self.out, exist_ok=True)
        columns = list(rows[0])
        atomic_write(os.path.join(self.out, "sweep.csv"), lambda handle: handle.write(
            "\n".join([",".join(columns)] + [",".join("" if row[c] is None else str(row[c]) for c in columns)
                                              for row in rows]).encode() + b"\n"))
        report.write_json(os.path.join(self.out, "sweep.json"), {
            "env_id": spec.env_id, "data": self.data, "split": split, "model": self.model,
            "members": model_cfg.members, "epochs": self.epochs, "batch_size": self.batch_size,
            "grid": {"learning_rates": list(grid.learning_rates), "weight_decays": list(grid.weight_decays),
                     "seeds": list(grid.seeds)},
            "chosen_by": "lowest mean validation MSE over seeds, then the seed with the lowest validation MSE",
            "best": None if best is None else rows[best], "configurations": rows, "summary": result.summary(),
            "compile_seconds": result.compile_seconds, "train_seconds": result.train_seconds,
            "loss_curves": result.loss_curves.mean(axis=2).tolist(),
        })
        report.plot_sweep(rows, "held_out_mse", os.path.join(self.out, "sweep.png"),
                          f"{len(grid)} configurations on {spec.env_id or 'data'}: held-out MSE")
        if best is None:
            raise TrainingDiverged(f"every configuration diverged (a non-finite loss or validation score), so none "
                                   f"was chosen; the table is in {os.path.join(self.out, 'sweep.csv')}: try smaller "
                                   "learning rates")
        chosen = result.configurations[best]
        linear = fit_linear(train.states, spec.encode_actions(train.actions), train.next_states)
        save_checkpoint(os.path.join(self.out, "best"), result.ensemble(best),
                        {"linear": linear.to_json(), "fitted_on": split,
                         "sweep": {"learning_rate": chosen.learning_rate, "weight_decay": chosen.weight_decay,
                                   "seed": chosen.seed}})
        table = [[f"{item['learning_rate']:g}", f"{item['weight_decay']:g}",
                  _mean_std(item["validation_mse"]), _mean_std(item["held_out_mse"]),
                  f"{item['diverged']}/{item['seeds']}"] for item in result.summary()]
        print(report.format_table(["lr", "weight decay", "validation MSE", "held-out MSE", "diverged"], table))
        print(f"chosen on validation: lr {chosen.learning_rate:g}, weight decay {chosen.weight_decay:g}, seed "
              f"{chosen.seed}: validation MSE {rows[best]['validation_mse']:.3e}, held-out MSE "
              f"{rows[best]['held_out_mse']:.3e}; {len(grid)} configurations in {result.train_seconds:.2f} s + "
              f"{result.compile_seconds:.2f} s compiling; wrote {self.out}")


def _mean_std(stats: dict) -> str:
    return "diverged" if stats["mean"] is None else f"{stats['mean']:.3e} ± {stats['std']:.1e}"


@dataclasses.dataclass(frozen=True)
class Evaluate:
    """Score a trained model (a `wm-jax train` directory) on a data file: one-step and rollout MSE, with baselines."""

    checkpoint: str
    """directory written by `wm-jax train`"""
    data: str
    """transitions to score (from the model's environment)"""
    horizon: int = 50
    """longest open-loop rollout: MSE for every H = 1..horizon"""
    mode: PredictionMode = "mean"
    """how the model's rollout steps: mean of the elites, ts1 (a random member per step), tsinf (one per trajectory)"""
    sample: bool = False
    """sample each step from the chosen member's Gaussian (probabilistic models)"""
    json: str | None = None
    """also write the scores to this JSON file"""
    plots: str | None = None
    """write calibration.png and epistemic.png into this directory"""
    seed: int = 0
    """seed of the rollouts' random draws (ts1, tsinf, --sample)"""

    def __call__(self) -> None:
        from . import report
        from .atomic import check_output_path
        from .checkpoint import load_baselines, load_checkpoint
        from .data import check_data_matches_model, load_dataset
        from .evaluation import score
        from .evaluation.baselines import LinearBaseline
        from .evaluation.heads import model_heads_blocks
        from .evaluation.rollouts import model_rollout
        from .evaluation.summary import TABLE_HORIZONS, at_horizon, evaluation_block

        if self.horizon < 1:
            raise ConfigError(f"--horizon must be >= 1, got {self.horizon}")
        check_seed(self.seed)
        if self.plots is not None:
            check_output_path(self.plots, directory=True)
        if self.json is not None:
            check_output_path(self.json)
        model = load_checkpoint(self.checkpoint)
        spec = model.spec
        dataset = load_dataset(self.data)
        check_data_matches_model(dataset, spec.env_id, spec.state_dim, self.data)
        data = dataset.transitions
        if self.horizon > data.size:
            raise ConfigError(f"--horizon {self.horizon} is longer than the {data.size} transitions in {self.data}; "
                              f"use at most {data.size}")
        saved = load_baselines(self.checkpoint)
        try:
            linear = LinearBaseline.from_json(saved["linear"]) if saved and "linear" in saved else None
        except UserError as error:
            raise ConfigError(f"{os.path.join(self.checkpoint, 'baselines.json')}: {error}") from None
        rollout = model_rollout(model, self.mode, self.sample, self.seed)
        block = evaluation_block(rollout, linear, data, spec.encode_actions(data.actions), self.horizon)
        if self.plots is not None:
            os.makedirs(self.plots, exist_ok=True)
        block.update(model_heads_blocks(model, data, plot_dir=self.plots, title=f"({spec.env_id or 'data'})"))
        scores = score(model, data)
        print(f"{spec.config.kind} model for {spec.env_id or 'unknown env'}, {data.size} transitions in "
              f"{block['episodes']} episodes; rollouts: {self.mode}{' sampled' if self.sample else ''}")
        horizons = [h for h in TABLE_HORIZONS if h <= self.horizon]
        elites = len(model.elites)
        rows = [["model" + (f" ({self.mode} of {elites})" if spec.config.members > 1 else ""),
                 *(at_horizon(block["rollout"]["mse"], h) for h in horizons)]]
        if spec.config.members > 1:
            rows += [[f"  member {i + 1}", *(at_horizon(m, h) for h in horizons)]
                     for i, m in enumerate(block["rollout"]["member_mse"])]
        rows += [[f"baseline: {name}", *(at_horizon(b["rollout_mse"], h) for h in horizons)]
                 for name, b in block["baselines"].items()]
        print(report.format_table(["MSE at horizon", *map(str, horizons)], rows))
        if linear is None:
            print("   (no linear baseline: the checkpoint has no baselines.json)")
        uncertainty = block.get("uncertainty")
        if uncertainty is None:
            print("no predictive spread (one deterministic member): no NLL or calibration")
        else:
            coverage, epistemic = uncertainty["coverage"], uncertainty["epistemic_std"]
            print(f"NLL {uncertainty['nll']:.4g}; interval coverage 50%: {coverage['50%']['mean']:.1%}, "
                  f"90%: {coverage['90%']['mean']:.1%}; epistemic std {epistemic['in_distribution']:.3g} in "
                  f"distribution, {epistemic['out_of_distribution']:.3g} out of distribution")
        if "reward" in block:
            print(f"reward MSE {block['reward']['mse']:.4g}")
        if "termination" in block:
            auroc = block["termination"]["auroc"]
            print(f"termination accuracy {block['termination']['accuracy']:.1%}, AUROC "
                  f"{'n/a (one class)' if auroc is None else f'{auroc:.3f}'}")
        if self.json:
            report.write_json(self.json, {
                "model": spec.config.kind, "members": spec.config.members, "env_id": spec.env_id,
                "elites": model.elites.tolist(), "mode": self.mode, "sample": self.sample,
                "data": self.data, "per_dim_mse": scores.per_dim_mse, **block,
            })


@dataclasses.dataclass(frozen=True)
class Predict:
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

    def __call__(self) -> None:
        import numpy as np

        from .atomic import atomic_write, check_output_path
        from .checkpoint import load_checkpoint
        from .data import check_data_matches_model, load_dataset
        from .models.prediction import prediction_arrays

        if any(not 0 < level < 1 for level in self.levels):
            raise ConfigError(f"--levels must lie in (0, 1), got {' '.join(map(str, self.levels))}")
        check_output_path(self.out)
        model = load_checkpoint(self.checkpoint)
        dataset = load_dataset(self.data)
        check_data_matches_model(dataset, model.spec.env_id, model.spec.state_dim, self.data)
        data = dataset.transitions
        arrays = prediction_arrays(model, data.states, data.actions, self.levels)
        atomic_write(self.out, lambda f: np.savez(f, **arrays))
        print(f"wrote {', '.join(f'{k} {v.shape}' for k, v in arrays.items())} for {data.size} transitions to {self.out}")


@dataclasses.dataclass(frozen=True)
class Mbrl(DeviceOptions):
    """Model-based RL: random data, then train an ensemble, act with MPC in the real environment, add what it saw,
    retrain, until --max-transitions; then evaluate on fresh episodes. Writes DIR/mbrl.json and learning_curve.png."""

    env: str = "CartPole-v1"
    out: str = "mbrl_out"
    seed: int = 0
    max_transitions: int = 2000
    """real environment transitions, the random ones included"""
    initial_transitions: int = 200
    """random-policy transitions before the first model"""
    epochs: int = 40
    """epochs of each (warm-started) retraining"""
    members: int = 5
    probabilistic: bool = False
    eval_episodes: int = 20
    eval_backend: CollectBackend = "gymnasium"
    """gymnasium: real environments stepped from Python; jax: gymnax environments, the whole evaluation one lax.scan"""
    planner: PlannerMethod = "cem"
    horizon: int = 30
    candidates: int = 200
    iterations: int = 4
    temperature: float = 1.0
    """MPPI's temperature (--planner mppi)"""
    particles: int = 0
    """imagined trajectories per candidate (0: one per elite member)"""
    mode: PredictionMode = "tsinf"
    sample: bool = False
    reward: RewardSource = "known"
    """score imagined steps with the environment's own reward and termination (known), learned heads (learned), or
    the known reward plus a dense term toward the goal (shaped: Acrobot, MountainCar); returns are always the real ones"""
    render: bool = False
    """save a GIF of one evaluation episode (DIR/episode.gif)"""
    checkpoint_every: int = 0
    """save the buffer, the model and the key to DIR/checkpoints every K iterations (orbax; 0: never)"""
    keep: int = 3
    """keep the last N checkpoints"""
    resume: str | None = None
    """continue the interrupted run in this directory (its --out), with its own settings, from its latest checkpoint"""

    def config(self):
        from .config import MBRLConfig, PlannerConfig

        planner = PlannerConfig(method=self.planner, horizon=self.horizon, candidates=self.candidates,
                                iterations=self.iterations, temperature=self.temperature, particles=self.particles, mode=self.mode,
                                sample=self.sample, reward=self.reward)
        return MBRLConfig(max_transitions=self.max_transitions, initial_transitions=self.initial_transitions,
                          epochs=self.epochs, members=self.members, probabilistic=self.probabilistic,
                          eval_episodes=self.eval_episodes, eval_backend=self.eval_backend, planner=planner)

    def __call__(self) -> None:
        if self.resume is not None:
            return resumed_command(self).run(resuming=True)
        return self.run(resuming=False)

    def run(self, resuming: bool) -> None:
        import numpy as np
        from tqdm.auto import tqdm

        from . import report
        from .envs import check_env_id
        from .planning.mbrl import run_mbrl

        from .atomic import check_output_path

        check_env_id(self.env)
        check_seed(self.seed)
        check_output_path(self.out, directory=True)
        config = self.config()
        if self.render:
            os.environ.setdefault("SDL_AUDIODRIVER", "dummy")  # pygame probes for audio devices otherwise
            try:
                import pygame  # noqa: F401  (gymnasium draws rgb_array frames with it)
            except ImportError:
                raise ConfigError("--render needs pygame: pip install 'wm-jax[render]'") from None
        if os.path.exists(self.out) and not os.path.isdir(self.out):
            raise ConfigError(f"{self.out}: exists and is not a directory")
        bar = tqdm(total=self.max_transitions, initial=self.initial_transitions, desc=f"mbrl {self.env}",
                   unit=" transitions", file=sys.stderr, disable=not sys.stderr.isatty())

        def on_progress(used, record):
            bar.update(used - bar.n)
            bar.set_postfix(episode_return=f"{record['train_return']:.1f}")

        frames = [] if self.render else None
        mesh = self.mesh(config.members)
        checkpoints = None
        if self.checkpoint_every:
            checkpoints = open_checkpoints(self, {"command": saved_settings(self)}, resuming, mesh, "iteration")
        result = run_mbrl(self.env, config, self.seed, on_progress, frames, mesh=mesh, checkpoints=checkpoints)
        if checkpoints is not None:
            checkpoints.close()
        bar.close()
        os.makedirs(self.out, exist_ok=True)
        summary = {
            "env_id": self.env, "seed": self.seed, "iterations": result.iterations,
            "eval_returns": result.eval_returns, "eval_return_mean": result.eval_return_mean,
            "eval_return_std": float(np.std(result.eval_returns)),
            "real_transitions_used": result.real_transitions_used, "seconds": result.seconds,
            "config": dataclasses.asdict(config),
        }
        report.write_json(os.path.join(self.out, "mbrl.json"), summary)
        report.plot_learning_curve([r["real_transitions"] for r in result.iterations],
                                   [r["train_return"] for r in result.iterations], result.eval_returns,
                                   os.path.join(self.out, "learning_curve.png"), f"MPC on {self.env} (seed {self.seed})")
        if frames:
            report.save_gif(frames, os.path.join(self.out, "episode.gif"))
        print(f"{self.env}: {result.real_transitions_used} real transitions, {len(result.iterations)} iterations; "
              f"evaluation over {len(result.eval_returns)} fresh episodes: {result.eval_return_mean:.1f} "
              f"± {np.std(result.eval_returns):.1f}; {result.seconds['total']:.0f} s; wrote {self.out}")


@dataclasses.dataclass(frozen=True)
class Dream(DeviceOptions):
    """Train a linear controller entirely inside the learned model with CMA-ES (evosax), grow the data with its
    real episodes, then evaluate it in the real environment. Writes DIR/dream.json."""

    env: str = "CartPole-v1"
    out: str = "dream_out"
    seed: int = 0
    max_transitions: int = 5000
    initial_transitions: int = 1000
    """random-policy transitions before the first model"""
    episodes_per_iteration: int = 2
    """real episodes the controller plays (and adds to the data) after each dream"""
    generations: int = 60
    population: int = 64
    dream_starts: int = 8
    """imagined episodes per controller and generation"""
    mode: PredictionMode = "tsinf"
    """mean: dream the elites' mean (one confident model); tsinf: each imagined episode follows its own member"""
    disagreement_penalty: float = 0.0
    """subtract this times the members' disagreement from every imagined reward"""
    exploration_noise: float = 0.1
    """std of the noise on the controller's outputs while it collects real data (not in evaluation)"""
    epochs: int = 40
    members: int = 5
    eval_episodes: int = 20

    def __call__(self) -> None:
        from . import report
        from .envs import check_env_id
        from .config import DreamConfig
        from .planning.dream import run_dream

        from .atomic import check_output_path

        check_env_id(self.env)
        check_seed(self.seed)
        check_output_path(self.out, directory=True)
        if os.path.exists(self.out) and not os.path.isdir(self.out):
            raise ConfigError(f"{self.out}: exists and is not a directory")
        config = DreamConfig(**{f.name: getattr(self, f.name) for f in dataclasses.fields(DreamConfig)})
        record = run_dream(self.env, config, self.seed, mesh=self.mesh(config.members))
        record.pop("model")
        os.makedirs(self.out, exist_ok=True)
        report.write_json(os.path.join(self.out, "dream.json"), record)
        print(f"{self.env}: controller trained in the dream ({self.mode}, disagreement penalty "
              f"{self.disagreement_penalty:g}) on {record['real_transitions_used']} real transitions; dream return "
              f"{record['dream_return_mean']:.1f}, real {record['eval_return_mean']:.1f} ± {record['eval_return_std']:.1f} "
              f"over {len(record['eval_returns'])} fresh episodes; {record['seconds']:.0f} s; wrote {self.out}")


@dataclasses.dataclass(frozen=True)
class Parity:
    """Compare this library with the PyTorch reference (needs the `test` extra) and print the parity table."""

    json: str | None = None
    """also write every comparison to this JSON file"""
    only: str | None = None
    """run only the checks whose name contains this text (e.g. forward)"""

    def argv(self) -> list[str]:
        return [*(["--json", self.json] if self.json else []), *(["--only", self.only] if self.only else [])]


class ParseError(UserError):
    """A command line tyro rejects (unknown choice, unparsable number, unknown flag), as one line."""


def parse_error_message(event) -> str | None:
    """One line for a tyro parse failure (tyro's own report is a multi-line box), or None to leave it to tyro."""
    from tyro import _errors as events

    def flag(argument) -> str:
        return "/".join(argument.lowered.name_or_flags) or str(argument.lowered.metavar)

    if isinstance(event, events.InvalidChoice):
        return f"{flag(event.argument)}: invalid choice {event.value!r}; choose from {', '.join(event.choices)}"
    if isinstance(event, events.InstantiationFailure):
        return f"{flag(event.argument) if event.argument is not None else event.prog}: {event.message}"
    if isinstance(event, events.BadValue):
        if event.offending_value is None:
            return f"{flag(event.argument)}: expects a value"
        return f"{flag(event.argument)}: cannot take the value {event.offending_value!r}"
    if isinstance(event, events.UnrecognizedArgs):
        return f"unrecognized arguments: {' '.join(event.tokens)} (see {event.prog} --help)"
    if isinstance(event, events.MissingArgs):
        missing = ", ".join(flag(a.arg) for a in event.missing_arguments)
        return f"missing {missing} (see {event.prog} --help)"
    if isinstance(event, events.MissingSubcommand):
        found = "" if event.found_token is None else f"unknown command {event.found_token!r}; "
        return f"{found}give one of: {', '.join(event.subcommand_spec.parser_from_name)} (see {event.prog} --help)"
    return None


@contextlib.contextmanager
def one_line_parse_errors():
    """Inside this block, a command line tyro rejects raises `ParseError` (one line) instead of tyro
    printing its multi-line box; `main` wraps its tyro call in it and prints the error as any other."""
    try:
        from tyro import _errors as events  # private, experimental hook (tyro >= 1.0)
    except ImportError:
        yield
        return

    def hook(event) -> None:
        message = parse_error_message(event)
        if message is not None:
            raise ParseError(message)

    with events.on_parse_error(hook):
        yield


def _parity_report():
    """`parity_tests.report.main`, from the current directory or from the checkout this package was
    installed from in editable mode; None when neither has the suite or torch is missing."""
    import importlib
    from pathlib import Path

    checkout = Path(__file__).resolve().parents[1]
    for root in (Path.cwd(), checkout):
        if (root / "parity_tests" / "report.py").is_file():
            if str(root) not in sys.path:
                sys.path.insert(0, str(root))
            try:
                return importlib.import_module("parity_tests.report").main
            except ImportError as error:
                print(f"error: the parity report needs the test extra (pip install -e '.[test]'): {error}", file=sys.stderr)
                sys.exit(2)
    return None


def main(argv: list[str] | None = None) -> int:
    from .compilation import enable_persistent_cache
    from .demo import DemoOptions, JaxBackend, run_demo
    from .devices import start_distributed, use_all_cpu_cores

    commands = {
        "collect": Collect,
        "train": Train,
        "sweep": Sweep,
        "evaluate": Evaluate,
        "predict": Predict,
        "mbrl": Mbrl,
        "dream": Dream,
        "demo": DemoOptions,
        "parity": Parity,
    }
    try:
        with one_line_parse_errors():
            command = tyro.extras.subcommand_cli_from_dict(commands, args=argv, prog="wm-jax")
    except ParseError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    # One XLA device per core, so ensemble members train on every core (training.training_mesh);
    # --devices N asks for N, and a count set in the environment is respected.
    use_all_cpu_cores(getattr(command, "devices", 0) or None)
    if isinstance(command, DistributedOptions):
        code = exit_code_of(lambda: start_distributed(command))
        if code:
            return code
    # A second run of the same command then loads its compiled programs from disk.
    enable_persistent_cache()
    if isinstance(command, DemoOptions):
        return exit_code_of(lambda: run_demo(JaxBackend(command.devices), command))
    if isinstance(command, Parity):
        parity_main = _parity_report()
        if parity_main is None:
            print("error: the parity suite is not installed with the package; it is the parity_tests/ folder of a "
                  "source checkout: git clone the wm-jax repository, pip install -e '.[test]' there, and run "
                  "`wm-jax parity` (or `python -m parity_tests`) from it", file=sys.stderr)
            return 2
        return parity_main(command.argv())
    return exit_code_of(command)


if __name__ == "__main__":
    sys.exit(main())
