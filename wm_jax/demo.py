"""The tutorial demo: the seed README's steps, for any framework backend, with an honest evaluation.

`run_demo(backend, options)` collects data, holds out whole episodes, trains the simple,
regularized and ensemble models through `backend`, scores them beside the identity and linear
baselines one step ahead and in open-loop rollouts, prints the report, and writes the plots and
metrics.json. `JaxBackend` plugs in this library; `wm_torch_ref` plugs in the PyTorch reference,
so both print the same report from the same data.
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Callable, Protocol

import numpy as np

from . import report
from .atomic import check_output_path
from .config import ConfigError, ModelConfig, TrainConfig, check_seed, tutorial_model_config, tutorial_train_config
from .data import collect_dataset, random_trajectory, split_by_episode
from .data.collect import CollectBackend
from .devices import DeviceOptions
from .envs import ActionEncoding, check_encoding, encode_actions, env_spec, state_labels
from .evaluation.baselines import fit_linear
from .evaluation.scores import Scores, scores_from_predictions
from .evaluation.summary import TABLE_HORIZONS, at_horizon, baselines_block, model_block
from .transitions import Transitions


@dataclasses.dataclass(frozen=True)
class DemoOptions(DeviceOptions):
    """Run the tutorial demo: collect data, train three world models, compare them with baselines, plot."""

    out: str = "demo_out"
    """directory for metrics.json and the PNG plots"""
    env: str = "CartPole-v1"
    transitions: int = 8000
    """random-policy transitions to collect (the seed README says 5,000-10,000)"""
    epochs: int = 100
    batch_size: int = 32
    learning_rate: float = 1e-3
    members: int = 5
    eval_fraction: float = 0.2
    """share of transitions held out for evaluation, as whole episodes"""
    horizon: int = 50
    """longest open-loop rollout scored"""
    action_encoding: ActionEncoding | None = None
    """index (the tutorial's, default for Discrete actions), onehot, or continuous (Box actions)"""
    collect_backend: CollectBackend = "gymnasium"
    """gymnasium (the tutorial's) or jax (gymnax, on the device)"""
    trajectory_steps: int = 20
    seed: int = 0
    quick: bool = False
    """a seconds-long smoke run: 1,000 transitions, 5 epochs, horizon 10"""

    def resolved(self) -> "DemoOptions":
        """The options actually used (--quick shrinks the run), validated before any work starts."""
        opts = dataclasses.replace(self, transitions=1000, epochs=5, horizon=min(self.horizon, 10)) if self.quick else self
        info = env_spec(opts.env)
        if opts.action_encoding is None:
            opts = dataclasses.replace(opts, action_encoding=info.default_action_encoding)
        check_encoding(info, opts.action_encoding)
        for kind in ("simple", "regularized", "ensemble"):
            tutorial_model_config(kind, opts.members)
            tutorial_train_config(kind, epochs=opts.epochs, batch_size=opts.batch_size, learning_rate=opts.learning_rate)
        if opts.transitions < 10:
            raise ConfigError(f"transitions must be >= 10 for a train/held-out split, got {opts.transitions}")
        if not 0.0 < opts.eval_fraction < 1.0:
            raise ConfigError(f"eval fraction must be in (0, 1), got {opts.eval_fraction}")
        if opts.trajectory_steps < 1:
            raise ConfigError(f"trajectory steps must be >= 1, got {opts.trajectory_steps}")
        if opts.horizon < 1:
            raise ConfigError(f"horizon must be >= 1, got {opts.horizon}")
        for name in ("batch_size", "horizon"):
            if getattr(opts, name) > opts.transitions:
                raise ConfigError(f"--{name.replace('_', '-')} {getattr(opts, name)} is larger than the "
                                  f"{opts.transitions} transitions to collect")
        check_seed(opts.seed)
        check_output_path(opts.out, directory=True)
        return opts


@dataclasses.dataclass
class TrainedModel:
    """What a backend hands back after training one model kind. Actions here are raw; the model encodes them."""

    predict_members: Callable[[np.ndarray, np.ndarray], np.ndarray]  # (N,S),(N,...) -> (E,N,S), eval mode
    # (B,S) start states, (B,H,...) action windows -> (1+E,B,H,S): the ensemble mean's rollout, then each member's
    rollout: Callable[[np.ndarray, np.ndarray], np.ndarray]
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
        on_epoch: Callable[[int, np.ndarray], None] | None,
        env_id: str,
        action_encoding: ActionEncoding,
    ) -> TrainedModel:
        """Train one model on raw-action `data`; on_epoch(epoch_index, per_member_losses) after each epoch."""


class JaxBackend:
    """This library: Flax NNX models, the compiled vmap/scan engine."""

    name = "JAX (Flax NNX + optax)"

    def __init__(self, devices: int = 1):
        # Devices each model trains on (`training.training_mesh`; 0: all, no more than its members).
        self.devices = devices

    def describe(self, state_dim, action_dim):
        import jax
        import jax.numpy as jnp

        from .models import ModelSpec, build_model, count_params, init_params

        spec = ModelSpec(state_dim, action_dim, ModelConfig())
        # Shapes only (jax.eval_shape): building and running the model eagerly cost 0.8 s of the demo.
        params = jax.eval_shape(lambda: init_params(spec, jax.random.key(0)))
        out = jax.eval_shape(lambda: build_model(spec, jax.random.key(0))(jnp.zeros((1, state_dim)),
                                                                          jnp.zeros((1, action_dim))))
        return count_params(params), (1, state_dim + action_dim), tuple(out.mean.shape)

    def train(self, model_cfg, train_cfg, data, seed, on_epoch, env_id, action_encoding):
        from .evaluation.rollouts import model_rollout
        from .models import count_params, spec_for_env
        from .models.prediction import members_numpy
        from .training import fit, training_mesh

        spec = spec_for_env(env_id, model_cfg, action_encoding)
        mesh = training_mesh(self.devices, members=model_cfg.members)
        # Training takes about a second, so the epoch lines are replayed afterwards rather than
        # reported between compiled chunks: one chunk is the fastest program.
        fitted = fit(spec, train_cfg, data, seed, mesh=mesh)
        for epoch, losses in enumerate(fitted.loss_curve if on_epoch else ()):
            on_epoch(epoch, losses)
        return TrainedModel(
            predict_members=lambda s, a: members_numpy(fitted.ensemble, s, a).mean,
            rollout=model_rollout(fitted.ensemble),
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
    """Run the demo, print the report, write plots and metrics.json; return the metrics."""
    opts = options.resolved()
    started = time.perf_counter()
    os.makedirs(opts.out, exist_ok=True)
    rule = "=" * 60
    print(f"{rule}\nWorld Models - Demo, backend: {backend.name}\n{rule}\n")

    dataset = collect_dataset(opts.env, backend=opts.collect_backend, seed=opts.seed, transitions=opts.transitions)
    data, info = dataset.transitions, env_spec(opts.env)
    labels = state_labels(opts.env, data.state_dim)
    width = info.encoded_action_dim(opts.action_encoding)

    def encode(actions):
        return encode_actions(actions, opts.action_encoding, width)

    print("1. Defining Simple World Model...")
    params, in_shape, out_shape = backend.describe(data.state_dim, width)
    print(f"   Model created with {params} parameters")
    print(f"   Test forward pass successful: input shape {in_shape} -> output shape {out_shape}\n")

    print(f"2. Collecting data from {opts.env} ({opts.collect_backend}; random policy, episodes capped at "
          f"{env_spec(opts.env).max_episode_steps} steps)...")
    print(f"   Collected {data.size} transitions from {data.episode_count} episodes "
          f"({len(dataset.info.cut_episodes)} cut short by the budget)")
    print(f"   States shape: {data.states.shape}")
    print(f"   Actions shape: {data.actions.shape} ({opts.action_encoding} encoding -> {width} network input column(s))")
    print(f"   Next states shape: {data.next_states.shape}")
    split = split_by_episode(data, opts.eval_fraction, seed=opts.seed)
    train, held_out = split.train, split.held_out
    print(f"   Split by episode (seed {opts.seed}): {train.size} training transitions in {train.episode_count} "
          f"episodes / {held_out.size} held-out in {held_out.episode_count} episodes; no episode on both sides\n")

    trained: dict[str, TrainedModel] = {}
    for step, kind in enumerate(("simple", "regularized", "ensemble"), start=3):
        model_cfg = tutorial_model_config(kind, opts.members)
        train_cfg = tutorial_train_config(kind, epochs=opts.epochs, batch_size=opts.batch_size, learning_rate=opts.learning_rate)
        print(f"{step}. Training {MODEL_TITLES[kind].format(members=opts.members)}...")
        model = backend.train(model_cfg, train_cfg, train, opts.seed, _epoch_logger(opts.epochs), opts.env,
                              opts.action_encoding)
        trained[kind] = model
        print(
            f"   Final training loss: {float(model.loss_curve[-1].mean()):.6f}  "
            f"({model.train_seconds:.2f} s training, {model.compile_seconds:.2f} s compiling)\n"
        )

    train_actions, held_out_actions = encode(train.actions), encode(held_out.actions)
    linear = fit_linear(train.states, train_actions, train.next_states)
    print("6. Comparing one-step prediction accuracy (MSE, eval mode) with two baselines fitted on the training split...")
    scores: dict[str, tuple[Scores, Scores]] = {
        kind: tuple(
            scores_from_predictions(model.predict_members(split_.states, split_.actions), split_.next_states)
            for split_ in (train, held_out)
        )
        for kind, model in trained.items()
    }
    blocks = {kind: model_block(model.rollout, held_out, opts.horizon) for kind, model in trained.items()}
    # The baselines once per split; one step on the training split, as `wm-jax train` does.
    baselines = {"held_out": baselines_block(linear, held_out, held_out_actions, opts.horizon),
                 "train": baselines_block(linear, train, train_actions, 1)}
    rows = []
    for kind, (on_train, on_held_out) in scores.items():
        rows.append([f"{kind}" + (f" (mean of {opts.members})" if kind == "ensemble" else ""),
                     trained[kind].params, on_train.mse, on_held_out.mse])
        if kind == "ensemble":
            rows += [[f"  member {i + 1}", trained[kind].params // opts.members, t, h]
                     for i, (t, h) in enumerate(zip(on_train.member_mse, on_held_out.member_mse))]
    for name in baselines["held_out"]:
        rows.append([f"baseline: {name}", linear.weights.size if name == "linear" else 0,
                     baselines["train"][name]["one_step_mse"], baselines["held_out"][name]["one_step_mse"]])
    print(report.format_table(["model", "params", "train MSE", "held-out MSE"], rows))
    print("\n   Held-out MSE per state dimension:")
    print(report.format_table(["model", *labels], [[k, *h.per_dim_mse] for k, (_, h) in scores.items()]))
    best = min(scores, key=lambda k: scores[k][1].mse)
    print(f"   Lowest held-out one-step MSE: {best}\n")

    horizons = [h for h in TABLE_HORIZONS if h <= opts.horizon]
    print(f"7. Open-loop rollouts on held-out episodes: start from a real state, feed the recorded actions,")
    print(f"   MSE against the real state H steps later (never across an episode's end)...")
    counts = blocks["simple"]["rollout"]["start_states"]
    curves: dict[str, list] = {}
    rows = []
    for kind, block in blocks.items():
        name = kind + (f" (mean of {opts.members})" if kind == "ensemble" else "")
        curves[name] = block["rollout"]["mse"]
        rows.append([name, *(at_horizon(block["rollout"]["mse"], h) for h in horizons)])
        if kind == "ensemble":
            for i, member in enumerate(block["rollout"]["member_mse"]):
                curves[f"  member {i + 1}"] = member
                rows.append([f"  member {i + 1}", *(at_horizon(member, h) for h in horizons)])
    for name, baseline in baselines["held_out"].items():
        curves[f"baseline: {name}"] = baseline["rollout_mse"]
        rows.append([f"baseline: {name}", *(at_horizon(baseline["rollout_mse"], h) for h in horizons)])
    rows.append(["start states", *(counts[h - 1] for h in horizons)])
    print(report.format_table(["MSE at horizon H", *map(str, horizons)], rows))
    rollout_path = os.path.join(opts.out, "rollout_error.png")
    report.plot_rollout_errors(
        {name: np.asarray([np.nan if v is None else v for v in curve]) for name, curve in curves.items()},
        np.arange(1, opts.horizon + 1), rollout_path,
        f"Open-loop rollout error on held-out {opts.env} episodes ({backend.name})",
    )
    print(f"   Rollout error plot saved to {rollout_path}\n")

    curves_path = os.path.join(opts.out, "world_models_training.png")
    report.plot_loss_curves(
        {kind: model.loss_curve for kind, model in trained.items()}, curves_path,
        f"World model training on {opts.env} ({backend.name})",
    )
    print(f"8. Training curves saved to {curves_path}\n")

    print(f"9. Testing predictions on a real {opts.trajectory_steps}-step trajectory (one step ahead from true states)...")
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
        "action_encoding": opts.action_encoding,
        "data": {"transitions": data.size, "episodes": data.episode_count, "train": train.size, "held_out": held_out.size,
                 "state_dim": data.state_dim, "action_dim": width, "collection": dataset.info.collection,
                 "cut_episodes": list(dataset.info.cut_episodes)},
        "split": {"method": "by episode", "seed": split.seed, "eval_fraction": opts.eval_fraction,
                  "held_out_episodes": split.held_out_episodes.tolist(), "train_episodes": train.episode_count},
        "baselines": baselines,
        "models": {
            kind: {
                **report.model_metrics(
                    model=kind, members=model.loss_curve.shape[1], epochs=opts.epochs, batch_size=opts.batch_size,
                    learning_rate=opts.learning_rate, weight_decay=tutorial_train_config(kind).weight_decay,
                    dropout_rate=tutorial_model_config(kind).dropout_rate, params=model.params,
                    loss_curve=model.loss_curve, train_scores=scores[kind][0], eval_scores=scores[kind][1],
                    train_seconds=model.train_seconds, compile_seconds=model.compile_seconds, seed=opts.seed,
                    backend=backend.name,
                ),
                "held_out": blocks[kind],
            }
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


def jax_demo(options: DemoOptions) -> dict:
    """`wm-jax demo`: the demo computed with this library (`wm_torch_ref` runs it with PyTorch)."""
    return run_demo(JaxBackend(options.devices), options)
