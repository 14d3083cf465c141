"""The tutorial demo: the seed README's steps, for any framework backend, with an honest evaluation.

`run_demo(backend, options)` collects data, holds out whole episodes, trains the simple,
regularized and ensemble models through `backend`, scores them beside the identity and linear
baselines one step ahead and in open-loop rollouts, prints the report, and writes the plots and
metrics.json, which `report` builds from those results. `JaxBackend` plugs in this library;
`wm_torch_ref` plugs in the PyTorch reference, so both print the same report from the same data.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable
from typing import NamedTuple, Protocol

import numpy as np

from . import report
from .atomic import check_output_path
from .config import ConfigError, ModelConfig, TrainConfig, check_seed, tutorial_model_config, tutorial_train_config
from .data import Dataset, EpisodeSplit, collect_dataset, random_trajectory, split_by_episode
from .data.collect import CollectBackend
from .devices import DeviceOptions
from .envs import ActionEncoding, check_encoding, encode_actions, env_spec, state_labels
from .evaluation.baselines import fit_linear
from .evaluation.rollouts import RolloutErrors
from .evaluation.scores import Scores, scores_from_predictions
from .evaluation.summary import SplitEvaluation, baseline_errors, split_evaluation
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

    def resolved(self) -> DemoOptions:
        """The options actually used (--quick shrinks the run), validated before any work starts."""
        opts = (
            dataclasses.replace(self, transitions=1000, epochs=5, horizon=min(self.horizon, 10)) if self.quick else self
        )
        info = env_spec(opts.env)
        if opts.action_encoding is None:
            opts = dataclasses.replace(opts, action_encoding=info.default_action_encoding)
        check_encoding(info, opts.action_encoding)
        for kind in ("simple", "regularized", "ensemble"):
            tutorial_model_config(kind, opts.members)
            tutorial_train_config(
                kind, epochs=opts.epochs, batch_size=opts.batch_size, learning_rate=opts.learning_rate
            )
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
                raise ConfigError(
                    f"--{name.replace('_', '-')} {getattr(opts, name)} is larger than the "
                    f"{opts.transitions} transitions to collect"
                )
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
        out = jax.eval_shape(
            lambda: build_model(spec, jax.random.key(0))(jnp.zeros((1, state_dim)), jnp.zeros((1, action_dim)))
        )
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


def _epoch_logger(epochs: int) -> Callable[[int, np.ndarray], None]:
    every = 20 if epochs >= 40 else max(1, epochs // 5)

    def log(epoch, losses):
        epoch = int(epoch) + 1
        if epoch % every == 0 or epoch == epochs:
            print(f"   Epoch [{epoch}/{epochs}], Loss: {float(np.mean(losses)):.6f}", flush=True)

    return log


class DemoEvaluation(NamedTuple):
    """How the trained models and the baselines predict.

    one_step: kind -> (train, held-out) `Scores`; held_out: kind -> its open-loop rollouts on the
    held-out episodes (an `evaluation.summary.SplitEvaluation` without baselines); baselines: "held_out"
    and "train" -> name -> the identity and linear baselines' `RolloutErrors` (one step on the training
    split); linear_params: the linear baseline's weights.
    """

    one_step: dict[str, tuple[Scores, Scores]]
    held_out: dict[str, SplitEvaluation]
    baselines: dict[str, dict[str, RolloutErrors]]
    linear_params: int


class DemoResult(NamedTuple):
    """What `run_demo` computed, for a caller to use as it is (the report and metrics.json are built from it).

    models: kind ("simple", "regularized", "ensemble") -> its `TrainedModel`; trajectory: the fresh random
    trajectory of the last step, with each model's predictions of it and their mean squared errors;
    metrics_path: the metrics.json written.
    """

    options: DemoOptions  # as resolved (--quick applied, the action encoding filled in)
    dataset: Dataset  # the collected data
    split: EpisodeSplit
    models: dict[str, TrainedModel]
    evaluation: DemoEvaluation
    trajectory: Transitions
    trajectory_predictions: dict[str, np.ndarray]
    trajectory_mse: dict[str, float]
    seconds: float
    metrics_path: str


def run_demo(backend: DemoBackend, options: DemoOptions) -> DemoResult:
    """Run the demo, print the report, write plots and metrics.json; return what it computed."""
    opts = options.resolved()
    started = time.perf_counter()
    os.makedirs(opts.out, exist_ok=True)
    print(report.demo_heading(backend.name))
    dataset = collect_dataset(opts.env, backend=opts.collect_backend, seed=opts.seed, transitions=opts.transitions)
    data, info = dataset.transitions, env_spec(opts.env)
    labels = state_labels(opts.env, data.state_dim)
    width = info.encoded_action_dim(opts.action_encoding)
    print(report.demo_model_summary(*backend.describe(data.state_dim, width)))
    split = split_by_episode(data, opts.eval_fraction, seed=opts.seed)
    print(report.demo_data_summary(opts, dataset, split, width, info.max_episode_steps))

    configs = _tutorial_configs(opts)
    trained = _train_models(backend, opts, configs, split.train)
    print(report.DEMO_ONE_STEP_HEADING)
    evaluation = _evaluate_models(trained, split, opts, width)
    print(report.demo_one_step_report(trained, evaluation, opts.members, labels))
    curves = report.demo_rollout_curves(evaluation, opts.members)
    print(report.demo_rollout_report(curves, evaluation.held_out["simple"].model.counts, opts.horizon))
    print(report.write_demo_rollout_plot(curves, opts, backend.name))
    print(report.write_demo_training_plot(trained, opts, backend.name))

    print(report.demo_trajectory_heading(opts.trajectory_steps))
    trajectory = random_trajectory(opts.env, steps=opts.trajectory_steps, seed=opts.seed + 1)
    predictions = {kind: model.predict(trajectory.states, trajectory.actions) for kind, model in trained.items()}
    trajectory_mse = {
        kind: float(np.mean(np.square(pred - trajectory.next_states))) for kind, pred in predictions.items()
    }
    print(report.demo_trajectory_report(trajectory, predictions, trajectory_mse))
    print(report.write_demo_trajectory_plot(trajectory, predictions, labels, opts, backend.name))

    metrics = report.demo_metrics(
        backend=backend.name,
        opts=opts,
        dataset=dataset,
        split=split,
        action_width=width,
        configs=configs,
        trained=trained,
        evaluation=evaluation,
        trajectory_mse=trajectory_mse,
        trajectory_steps=trajectory.size,
        seconds=time.perf_counter() - started,
    )
    metrics_path = os.path.join(opts.out, "metrics.json")
    report.write_json(metrics_path, metrics)
    print(f"Done in {metrics['total_seconds']:.1f} s. Metrics written to {metrics_path}")
    return DemoResult(
        opts,
        dataset,
        split,
        trained,
        evaluation,
        trajectory,
        predictions,
        trajectory_mse,
        metrics["total_seconds"],
        metrics_path,
    )


def _tutorial_configs(opts: DemoOptions) -> dict[str, tuple[ModelConfig, TrainConfig]]:
    """The tutorial's three models, in the order the demo trains them, and the recipe each trains with."""
    return {
        kind: (
            tutorial_model_config(kind, opts.members),
            tutorial_train_config(
                kind, epochs=opts.epochs, batch_size=opts.batch_size, learning_rate=opts.learning_rate
            ),
        )
        for kind in ("simple", "regularized", "ensemble")
    }


def _train_models(
    backend: DemoBackend, opts: DemoOptions, configs: dict, train: Transitions
) -> dict[str, TrainedModel]:
    """Each of `configs`' models trained on `train` through `backend` (steps 3-5 of the report)."""
    trained = {}
    for step, (kind, (model_cfg, train_cfg)) in enumerate(configs.items(), start=3):
        print(report.demo_training_heading(step, kind, opts.members))
        trained[kind] = backend.train(
            model_cfg, train_cfg, train, opts.seed, _epoch_logger(opts.epochs), opts.env, opts.action_encoding
        )
        print(report.demo_training_done(trained[kind]))
    return trained


def _evaluate_models(
    trained: dict[str, TrainedModel], split: EpisodeSplit, opts: DemoOptions, width: int
) -> DemoEvaluation:
    """Every model and the identity and linear baselines (fitted on the training split): one step ahead
    on both splits, and open-loop rollouts up to the horizon on the held-out episodes."""
    train, held_out = split.train, split.held_out
    train_actions = encode_actions(train.actions, opts.action_encoding, width)
    held_out_actions = encode_actions(held_out.actions, opts.action_encoding, width)
    linear = fit_linear(train.states, train_actions, train.next_states)
    one_step = {
        kind: tuple(
            scores_from_predictions(model.predict_members(part.states, part.actions), part.next_states)
            for part in (train, held_out)
        )
        for kind, model in trained.items()
    }
    rollouts = {
        kind: split_evaluation(model.rollout, None, held_out, None, opts.horizon) for kind, model in trained.items()
    }
    # The baselines once per split; one step on the training split, as `wm-jax train` does.
    baselines = {
        "held_out": baseline_errors(linear, held_out, held_out_actions, opts.horizon),
        "train": baseline_errors(linear, train, train_actions, 1),
    }
    return DemoEvaluation(one_step, rollouts, baselines, linear.weights.size)


def demo_main(
    backend: DemoBackend,
    argv: list[str] | None = None,
    *,
    defaults: DemoOptions = DemoOptions(),
    prog: str | None = None,
) -> int:
    """Command-line entry for a backend's demo: parse DemoOptions flags, run, return an exit code."""
    import tyro

    from .errors import exit_code_of

    options = tyro.cli(DemoOptions, args=argv, default=defaults, prog=prog)
    return exit_code_of(lambda: run_demo(backend, options))


def jax_demo(options: DemoOptions) -> DemoResult:
    """`wm-jax demo`: the demo computed with this library (`wm_torch_ref` runs it with PyTorch)."""
    return run_demo(JaxBackend(options.devices), options)
