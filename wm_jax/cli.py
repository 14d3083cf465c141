"""`wm-jax`: a thin command-line shell over the library (collect, train, evaluate, demo, parity).

Each subcommand is a typed dataclass turned into flags by tyro; `main` only parses and calls
library functions. User errors print one line and exit 2.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import tyro

from .config import ConfigError, ModelKind, ShuffleMode, tutorial_model_config, tutorial_train_config
from .errors import exit_code_of


@dataclasses.dataclass(frozen=True)
class Collect:
    """Collect random-policy transitions from a gymnasium environment into a .npz file."""

    out: str
    """output .npz file"""
    env: str = "CartPole-v1"
    transitions: int | None = None
    """number of transitions (give this or --episodes)"""
    episodes: int | None = None
    """number of whole episodes (give this or --transitions)"""
    seed: int = 0
    max_episode_steps: int = 200
    """the tutorial caps episodes at 200 steps"""

    def __call__(self) -> None:
        from .data import collect_transitions, save_transitions

        transitions, episodes = self.transitions, self.episodes
        if transitions is None and episodes is None:
            transitions = 10_000
        data = collect_transitions(
            self.env, seed=self.seed, transitions=transitions, episodes=episodes,
            max_episode_steps=self.max_episode_steps, progress=sys.stderr.isatty(),
        )
        save_transitions(data, self.out, env_id=self.env)
        print(f"wrote {data.size} transitions from {self.env} (seed {self.seed}) to {self.out}")


@dataclasses.dataclass(frozen=True)
class Train:
    """Train a world model on a .npz of transitions; write DIR/params.npz, model.json, metrics.json."""

    data: str
    """training transitions (.npz from `wm-jax collect`)"""
    out: str
    """output directory"""
    model: ModelKind = "simple"
    eval_data: str | None = None
    """held-out transitions to score after training"""
    members: int | None = None
    """ensemble size (default 5; only for --model ensemble)"""
    epochs: int = 100
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float | None = None
    """torch-style coupled L2 (default: 1e-4 for regularized, else 0)"""
    shuffle: ShuffleMode = "shared"
    """minibatch order across ensemble members"""
    seed: int = 0
    progress: bool = False
    """live per-epoch progress bar; it needs a host callback, and JAX does not keep programs with
    callbacks in the persistent compilation cache, so such runs always compile"""

    def __call__(self) -> None:
        from tqdm.auto import tqdm

        from . import report
        from .checkpoint import save_checkpoint
        from .data import load_transitions
        from .evaluation import score
        from .models import ModelSpec, count_params
        from .training import fit

        if self.members is not None and self.model != "ensemble":
            raise ConfigError("--members applies only to --model ensemble")
        if os.path.exists(self.out) and not os.path.isdir(self.out):
            raise ConfigError(f"{self.out}: exists and is not a directory")
        model_cfg = tutorial_model_config(self.model, self.members if self.members is not None else 5)
        overrides = {} if self.weight_decay is None else {"weight_decay": self.weight_decay}
        train_cfg = tutorial_train_config(
            self.model, epochs=self.epochs, batch_size=self.batch_size, learning_rate=self.lr,
            shuffle=self.shuffle, **overrides,
        )
        data = load_transitions(self.data)
        eval_data = load_transitions(self.eval_data) if self.eval_data else None
        if eval_data is not None and (eval_data.state_dim, eval_data.action_dim) != (data.state_dim, data.action_dim):
            raise ConfigError(
                f"{self.eval_data}: state/action dims ({eval_data.state_dim}, {eval_data.action_dim}) differ "
                f"from the training data's ({data.state_dim}, {data.action_dim})"
            )
        spec = ModelSpec(data.state_dim, data.action_dim, model_cfg)
        bars = []  # created at the first epoch so compilation time does not skew the rate

        def on_epoch(epoch, losses):
            if not bars:
                bars.append(tqdm(total=self.epochs, desc=f"training {self.model}", unit=" epoch", file=sys.stderr))
            bar = bars[0]
            bar.update(1)
            bar.set_postfix(loss=f"{float(losses.mean()):.3e}")

        fitted = fit(spec, train_cfg, data, self.seed, on_epoch if self.progress else None)
        for bar in bars:
            bar.close()
        metrics = report.model_metrics(
            model=self.model, members=model_cfg.members, epochs=self.epochs, batch_size=self.batch_size,
            learning_rate=self.lr, weight_decay=train_cfg.weight_decay, dropout_rate=model_cfg.dropout_rate,
            params=count_params(fitted.params), loss_curve=fitted.loss_curve,
            train_scores=score(spec, fitted.params, data),
            eval_scores=score(spec, fitted.params, eval_data) if eval_data is not None else None,
            train_seconds=fitted.train_seconds, compile_seconds=fitted.compile_seconds, seed=self.seed,
            backend="jax",
        )
        save_checkpoint(self.out, spec, fitted.params)
        report.write_json(os.path.join(self.out, "metrics.json"), metrics)
        summary = f"train MSE {metrics['train_mse']:.4e}"
        if eval_data is not None:
            summary += f", eval MSE {metrics['eval_mse']:.4e}"
        print(
            f"{self.model} model ({metrics['params']} params): {summary}; "
            f"{fitted.train_seconds:.2f} s training + {fitted.compile_seconds:.2f} s compiling; wrote {self.out}"
        )


@dataclasses.dataclass(frozen=True)
class Evaluate:
    """Score a trained model (a `wm-jax train` output directory) on a .npz of transitions."""

    checkpoint: str
    """directory written by `wm-jax train`"""
    data: str
    """transitions to score"""
    json: str | None = None
    """also write the scores to this JSON file"""

    def __call__(self) -> None:
        from . import report
        from .checkpoint import load_checkpoint
        from .data import load_transitions
        from .evaluation import score

        spec, params = load_checkpoint(self.checkpoint)
        data = load_transitions(self.data)
        if (data.state_dim, data.action_dim) != (spec.state_dim, spec.action_dim):
            raise ConfigError(
                f"{self.data}: state/action dims ({data.state_dim}, {data.action_dim}) do not match the "
                f"model's ({spec.state_dim}, {spec.action_dim})"
            )
        scores = score(spec, params, data)
        print(f"{spec.config.kind} model, {data.size} transitions: MSE {scores.mse:.6e}")
        print("per dimension: " + ", ".join(f"{v:.4e}" for v in scores.per_dim_mse))
        if spec.config.members > 1:
            print("per member:    " + ", ".join(f"{v:.4e}" for v in scores.member_mse))
        if self.json:
            report.write_json(self.json, {"model": spec.config.kind, "members": spec.config.members,
                                          "transitions": data.size, **scores._asdict()})


@dataclasses.dataclass(frozen=True)
class Parity:
    """Compare this library with the PyTorch reference (needs the `test` extra) and print the parity table."""

    json: str | None = None
    """also write every comparison to this JSON file"""
    only: str | None = None
    """run only the checks whose name contains this text (e.g. forward)"""

    def argv(self) -> list[str]:
        return [*(["--json", self.json] if self.json else []), *(["--only", self.only] if self.only else [])]


def main(argv: list[str] | None = None) -> int:
    from .compilation import enable_persistent_cache
    from .demo import DemoOptions, JaxBackend, run_demo
    from .devices import use_all_cpu_cores

    commands = {
        "collect": Collect,
        "train": Train,
        "evaluate": Evaluate,
        "demo": DemoOptions,
        "parity": Parity,
    }
    command = tyro.extras.subcommand_cli_from_dict(commands, args=argv, prog="wm-jax")
    # One XLA device per core, so ensemble members train on every core (training.member_sharding).
    use_all_cpu_cores()
    # A second run of the same command then loads its compiled programs from disk.
    enable_persistent_cache()
    if isinstance(command, DemoOptions):
        return exit_code_of(lambda: run_demo(JaxBackend(), command))
    if isinstance(command, Parity):
        try:
            from parity_tests.report import main as parity_main
        except ImportError as error:
            print(f"error: the parity report needs the test extra (pip install -e '.[test]'): {error}", file=sys.stderr)
            return 2
        return parity_main(command.argv())
    return exit_code_of(command)


if __name__ == "__main__":
    sys.exit(main())
