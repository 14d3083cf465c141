"""The tutorial demo: the eight steps of the seed README, for any framework backend.

`run_demo(backend, options)` collects data, trains the simple, regularized and ensemble models
through `backend`, and prints the report, writes the plots and metrics.json. `JaxBackend` plugs in
this library; `wm_torch_ref` plugs in the PyTorch reference, so both print the same report from
the same data.
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Callable, Protocol

import numpy as np

from . import report
from .config import ConfigError, ModelConfig, TrainConfig, tutorial_model_config, tutorial_train_config
from .data import Transitions, check_env_id, collect_transitions, random_trajectory, split_train_eval
from .evaluation import Scores, scores_from_predictions


@dataclasses.dataclass(frozen=True)
class DemoOptions:
    """Run the tutorial demo: collect data, train three world models, compare, plot."""

    out: str = "demo_out"
    """directory for metrics.json and the PNG plots"""
    env: str = "CartPole-v1"
    transitions: int = 8000
    """random-policy transitions to collect (the seed README says 5,000-10,000)"""
    epochs: int = 100
    batch_size: int = 32
    lr: float = 1e-3
    members: int = 5
    eval_fraction: float = 0.2
    """share of transitions held out for evaluation"""
    trajectory_steps: int = 20
    seed: int = 0
    quick: bool = False
    """a seconds-long smoke run: 1,000 transitions, 5 epochs"""

    def resolved(self) -> "DemoOptions":
        """The options actually used (--quick shrinks the run), validated before any work starts."""
        opts = dataclasses.replace(self, transitions=1000, epochs=5) if self.quick else self
        check_env_id(opts.env)
        for kind in ("simple", "regularized", "ensemble"):
            tutorial_model_config(kind, opts.members)
            tutorial_train_config(kind, epochs=opts.epochs, batch_size=opts.batch_size, learning_rate=opts.lr)
        if opts.transitions < 10:
            raise ConfigError(f"transitions must be >= 10 for a train/held-out split, got {opts.transitions}")
        if not 0.0 < opts.eval_fraction < 1.0:
            raise ConfigError(f"eval fraction must be in (0, 1), got {opts.eval_fraction}")
        if opts.trajectory_steps < 1:
            raise ConfigError(f"trajectory steps must be >= 1, got {opts.trajectory_steps}")
        return opts


@dataclasses.dataclass
class TrainedModel:
    """What a backend hands back after training one model kind."""

    predict_members: Callable[[np.ndarray, np.ndarray], np.ndarray]  # (N,S),(N,A) -> (E,N,S), eval mode
    loss_curve: np.ndarray  # (epochs, members)
    params: int
    train_seconds: float
    compile_seconds: float

    def predict(self, states: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """The model's prediction (N, S): the members' mean."""
        return self.predict_members(states, actions).mean(axis=0)


class DemoBackend(Protocol):
    name: str

    def describe(self, state_dim: int, action_dim: int) -> tuple[int, tuple[int, ...], tuple[int, ...]]:
        """(param_count, input_shape, output_shape) of an untrained simple model's test forward pass."""

    def train(
        self,
        model_cfg: ModelConfig,
        train_cfg: TrainConfig,
        data: Transitions,
        seed: int,
        on_epoch: Callable[[int, np.ndarray], None] | None = None,
    ) -> TrainedModel:
        """Train one model; on_epoch(epoch_index, per_member_losses) after each epoch."""


class JaxBackend:
    """This library: Flax NNX models, the compiled vmap/scan engine."""

    name = "JAX (Flax NNX + optax)"

    def describe(self, state_dim, action_dim):
        import jax
        import jax.numpy as jnp

        from .models import ModelSpec, build_model, count_params, init_params

        spec = ModelSpec(state_dim, action_dim, ModelConfig())
        model = build_model(spec, jax.random.key(0))
        out = model(jnp.zeros((1, state_dim)), jnp.zeros((1, action_dim)))
        return count_params(init_params(spec, jax.random.key(0))), (1, state_dim + action_dim), tuple(out.shape)

    def train(self, model_cfg, train_cfg, data, seed, on_epoch=None):
        from .evaluation import member_predictions
        from .models import ModelSpec, count_params
        from .training import fit

        spec = ModelSpec(data.state_dim, data.action_dim, model_cfg)
        # Training takes about a second, so the epoch lines are replayed afterwards rather than
        # streamed by a host callback: programs with callbacks skip the persistent compile cache.
        fitted = fit(spec, train_cfg, data, seed)
        for epoch, losses in enumerate(fitted.loss_curve if on_epoch else ()):
            on_epoch(epoch, losses)
        return TrainedModel(
            predict_members=lambda s, a: member_predictions(spec, fitted.params, s, a),
            loss_curve=fitted.loss_curve,
            params=count_params(fitted.params),
            train_seconds=fitted.train_seconds,
            compile_seconds=fitted.compile_seconds,
        )


MODEL_TITLES = {
    "simple": "Simple World Model",
    "regularized": "Regularized World Model (dropout 0.2, weight decay 1e-4)",
    "ensemble": "Ensemble of {members} World Models",
}


def _epoch_logger(epochs: int) -> Callable[[int, np.ndarray], None]:
    every = 20 if epochs >= 40 else max(1, epochs // 5)

    def log(epoch, losses):
        epoch = int(epoch) + 1
        if epoch % every == 0 or epoch == epochs:
            print(f"   Epoch [{epoch}/{epochs}], Loss: {float(np.mean(losses)):.6f}", flush=True)

    return log


def run_demo(backend: DemoBackend, options: DemoOptions) -> dict:
    """Run the eight steps, print the report, write plots and metrics.json; return the metrics."""
    opts = options.resolved()
    started = time.perf_counter()
    os.makedirs(opts.out, exist_ok=True)
    rule = "=" * 60
    print(f"{rule}\nWorld Models - Demo, backend: {backend.name}\n{rule}\n")

    data = collect_transitions(opts.env, seed=opts.seed, transitions=opts.transitions, progress=False)
    labels = report.state_labels(opts.env, data.state_dim)

    print("1. Defining Simple World Model...")
    params, in_shape, out_shape = backend.describe(data.state_dim, data.action_dim)
    print(f"   Model created with {params} parameters")
    print(f"   Test forward pass successful: input shape {in_shape} -> output shape {out_shape}\n")

    print(f"2. Collecting data from {opts.env} environment (random policy, episodes capped at 200 steps)...")
    episodes = int(np.sum(data.terminated | data.truncated)) + int(not (data.terminated[-1] or data.truncated[-1]))
    print(f"   Collected {data.size} transitions from {episodes} episodes")
    print(f"   States shape: {data.states.shape}")
    print(f"   Actions shape: {data.actions.shape}")
    print(f"   Next states shape: {data.next_states.shape}")
    train, held_out = split_train_eval(data, opts.eval_fraction, seed=opts.seed)
    print(f"   Split: {train.size} training / {held_out.size} held-out transitions\n")

    trained: dict[str, TrainedModel] = {}
    for step, kind in enumerate(("simple", "regularized", "ensemble"), start=3):
        model_cfg = tutorial_model_config(kind, opts.members)
        train_cfg = tutorial_train_config(kind, epochs=opts.epochs, batch_size=opts.batch_size, learning_rate=opts.lr)
        print(f"{step}. Training {MODEL_TITLES[kind].format(members=opts.members)}...")
        model = backend.train(model_cfg, train_cfg, train, opts.seed, _epoch_logger(opts.epochs))
        trained[kind] = model
        print(
            f"   Final training loss: {float(model.loss_curve[-1].mean()):.6f}  "
            f"({model.train_seconds:.2f} s training, {model.compile_seconds:.2f} s compiling)\n"
        )

    print("6. Comparing prediction accuracy (MSE, eval mode)...")
    scores: dict[str, tuple[Scores, Scores]] = {
        kind: tuple(
            scores_from_predictions(model.predict_members(split.states, split.actions), split.next_states)
            for split in (train, held_out)
        )
        for kind, model in trained.items()
    }
    rows = []
    for kind, (on_train, on_held_out) in scores.items():
        rows.append([f"{kind}" + (f" (mean of {opts.members})" if kind == "ensemble" else ""),
                     trained[kind].params, on_train.mse, on_held_out.mse])
        if kind == "ensemble":
            rows += [[f"  member {i + 1}", trained[kind].params // opts.members, t, h]
                     for i, (t, h) in enumerate(zip(on_train.member_mse, on_held_out.member_mse))]
    print(report.format_table(["model", "params", "train MSE", "held-out MSE"], rows))
    print("\n   Held-out MSE per state dimension:")
    print(report.format_table(["model", *labels], [[k, *h.per_dim_mse] for k, (_, h) in scores.items()]))
    best = min(scores, key=lambda k: scores[k][1].mse)
    print(f"   Lowest held-out MSE: {best}\n")

    curves_path = os.path.join(opts.out, "world_models_training.png")
    report.plot_loss_curves(
        {kind: model.loss_curve for kind, model in trained.items()}, curves_path,
        f"World model training on {opts.env} ({backend.name})",
    )
    print(f"7. Training curves saved to {curves_path}\n")

    print(f"8. Testing predictions on a real {opts.trajectory_steps}-step trajectory (one step ahead from true states)...")
    trajectory = random_trajectory(opts.env, steps=opts.trajectory_steps, seed=opts.seed + 1)
    predictions = {kind: model.predict(trajectory.states, trajectory.actions) for kind, model in trained.items()}
    errors = {kind: np.abs(pred - trajectory.next_states) for kind, pred in predictions.items()}
    rows = [
        [t + 1, np.array2string(trajectory.next_states[t], precision=3, suppress_small=True),
         np.array2string(predictions["ensemble"][t], precision=3, suppress_small=True), float(errors["ensemble"][t].max())]
        for t in range(trajectory.size)
    ]
    print(report.format_table(["step", "true next state", "ensemble prediction", "max abs error"], rows))
    trajectory_mse = {kind: float(np.mean(np.square(err))) for kind, err in errors.items()}
    print("   One-step MSE over the trajectory: " + ", ".join(f"{k} {v:.3e}" for k, v in trajectory_mse.items()))
    trajectory_path = os.path.join(opts.out, "trajectory_predictions.png")
    report.plot_trajectory(trajectory.next_states, predictions, labels, trajectory_path,
                           f"One-step predictions on a random {opts.env} trajectory ({backend.name})")
    print(f"   Trajectory plot saved to {trajectory_path}\n")

    metrics = {
        "backend": backend.name,
        "env": opts.env,
        "seed": opts.seed,
        "data": {"transitions": data.size, "episodes": episodes, "train": train.size, "held_out": held_out.size,
                 "state_dim": data.state_dim, "action_dim": data.action_dim},
        "models": {
            kind: report.model_metrics(
                model=kind, members=model.loss_curve.shape[1], epochs=opts.epochs, batch_size=opts.batch_size,
                learning_rate=opts.lr, weight_decay=tutorial_train_config(kind).weight_decay,
                dropout_rate=tutorial_model_config(kind).dropout_rate, params=model.params,
                loss_curve=model.loss_curve, train_scores=scores[kind][0], eval_scores=scores[kind][1],
                train_seconds=model.train_seconds, compile_seconds=model.compile_seconds, seed=opts.seed,
                backend=backend.name,
            )
            for kind, model in trained.items()
        },
        "trajectory": {"steps": trajectory.size, "one_step_mse": trajectory_mse},
        "total_seconds": time.perf_counter() - started,
    }
    metrics_path = os.path.join(opts.out, "metrics.json")
    report.write_json(metrics_path, metrics)
    print(f"Done in {metrics['total_seconds']:.1f} s. Metrics written to {metrics_path}")
    return metrics


def demo_main(
    backend: DemoBackend, argv: list[str] | None = None, *, defaults: DemoOptions = DemoOptions(), prog: str | None = None
) -> int:
    """Command-line entry for a backend's demo: parse DemoOptions flags, run, return an exit code."""
    import tyro

    from .errors import exit_code_of

    options = tyro.cli(DemoOptions, args=argv, default=defaults, prog=prog)
    return exit_code_of(lambda: run_demo(backend, options))
