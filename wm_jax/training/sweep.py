"""Hyperparameter sweeps as one compiled program: every configuration is a slice of a vmapped axis.

PureJaxRL trains many seeds at once by vmapping the whole training function over its keys; a
sweep here does the same over (learning rate, weight decay, seed). The learning rate and the
weight decay live in the optimizer's state (`optax.inject_hyperparams`), so they are traced
values, not constants baked into the program: one compilation covers the whole grid, and each
configuration trains exactly as `fit` would train it alone (its own initialisation and minibatch
order from its seed, its own Adam state).

The best configuration is chosen on a validation split (whole episodes of the training data), and
its held-out score is reported beside, so the number a sweep reports is not the number it chose on.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from ..compilation import compile_initialization
from ..config import MAX_MEMBERS, ConfigError, TrainConfig, check_seed
from ..interrupts import requested, stop_requests, stopped_after
from ..models.ensemble import Ensemble, ensemble_of, graphdef_of, predict_members
from ..models.normalization import Normalizer
from ..models.spec import ModelSpec
from ..transitions import Transitions
from .buffer import to_buffer
from .loop import TARGET_CHUNK_SECONDS, chunk_size, estimated_epoch_seconds, fit_normalizer_for, next_chunk_size
from .program import TrainingData, TrainProgram, check_training_memory, make_train
from .sharding import MEMBERS_AXIS, to_host
from .state import TrainState

# Configurations times members share one program; this many stacked members is far beyond any
# grid a 2-core machine trains in minutes, and low enough to be refused before allocating.
MAX_SWEEP_MEMBERS = 16 * MAX_MEMBERS


def tutorial_adam(learning_rate, weight_decay) -> optax.GradientTransformation:
    """The tutorial's optimizer: torch-style coupled L2 (wd * p added to the gradient), then Adam.

    With weight_decay 0 the added term is exactly 0, so this is `make_optimizer`'s plain Adam."""
    return optax.chain(optax.add_decayed_weights(weight_decay), optax.adam(learning_rate))


@functools.cache  # one object, so that sweeps of equal settings have equal programs (built once per process)
def sweep_optimizer() -> optax.GradientTransformation:
    """`tutorial_adam` with its learning rate and weight decay held in the optimizer state (traced)."""
    return optax.inject_hyperparams(tutorial_adam)(learning_rate=1e-3, weight_decay=0.0)


class Configuration(NamedTuple):
    learning_rate: float
    weight_decay: float
    seed: int


@dataclasses.dataclass(frozen=True)
class SweepGrid:
    """Every combination of the learning rates, weight decays and seeds (in that nesting order)."""

    learning_rates: tuple[float, ...]
    weight_decays: tuple[float, ...] = (0.0,)
    seeds: tuple[int, ...] = (0,)

    def __post_init__(self):
        for name, values in (
            ("learning rates", self.learning_rates),
            ("weight decays", self.weight_decays),
            ("seeds", self.seeds),
        ):
            if not values:
                raise ConfigError(f"the sweep needs at least one of its {name}")
            if len(set(values)) != len(values):
                raise ConfigError(f"the sweep's {name} repeat a value: {', '.join(map(str, values))}")
        for lr in self.learning_rates:
            if not (lr > 0 and math.isfinite(lr)):
                raise ConfigError(f"learning rates must be > 0 and finite, got {lr}")
        for wd in self.weight_decays:
            if not (wd >= 0 and math.isfinite(wd)):
                raise ConfigError(f"weight decays must be >= 0 and finite, got {wd}")
        for seed in self.seeds:
            check_seed(seed)

    @property
    def configurations(self) -> list[Configuration]:
        return [
            Configuration(float(lr), float(wd), int(seed))
            for lr, wd, seed in itertools.product(self.learning_rates, self.weight_decays, self.seeds)
        ]

    def __len__(self) -> int:
        return len(self.learning_rates) * len(self.weight_decays) * len(self.seeds)


class SweepResult(NamedTuple):
    """What a sweep trained, per configuration (index c of `configurations`).

    params: stacked (configurations, members, ...) on the host; loss_curves (configurations,
    epochs, members); validation_mse and held_out_mse (configurations,): one-step MSE of the
    members' mean prediction in environment units (inf for a configuration that diverged).
    """

    spec: ModelSpec
    configurations: list[Configuration]
    params: nnx.State
    normalizer: Normalizer
    loss_curves: np.ndarray
    validation_mse: np.ndarray
    held_out_mse: np.ndarray | None
    compile_seconds: float
    train_seconds: float

    @property
    def diverged(self) -> np.ndarray:
        """(configurations,) True where a loss or the validation score is not finite."""
        return ~np.isfinite(self.loss_curves).all(axis=(1, 2)) | ~np.isfinite(self.validation_mse)

    def hyperparameters(self) -> list[tuple[float, float]]:
        """The distinct (learning rate, weight decay) pairs, in grid order."""
        return list(dict.fromkeys((c.learning_rate, c.weight_decay) for c in self.configurations))

    def by_hyperparameters(self, scores: np.ndarray) -> dict[tuple[float, float], np.ndarray]:
        """`scores` (configurations,) grouped over seeds per (learning rate, weight decay); diverged runs are inf."""
        scores = np.where(self.diverged, np.inf, scores)
        return {
            pair: np.array(
                [s for c, s in zip(self.configurations, scores) if (c.learning_rate, c.weight_decay) == pair]
            )
            for pair in self.hyperparameters()
        }

    @property
    def best(self) -> int | None:
        """The chosen configuration: the (learning rate, weight decay) with the lowest mean validation
        MSE over seeds, and of those the seed with the lowest validation MSE. Never the held-out score.
        None when every configuration diverged."""
        if self.diverged.all():
            return None
        grouped = self.by_hyperparameters(self.validation_mse)
        pair = min(grouped, key=lambda p: np.mean(grouped[p]))  # ties: the first in grid order
        candidates = [i for i, c in enumerate(self.configurations) if (c.learning_rate, c.weight_decay) == pair]
        validation = np.where(self.diverged, np.inf, self.validation_mse)
        return min(candidates, key=lambda i: validation[i])

    def rows(self) -> list[dict]:
        """One record per configuration: its values, final training loss (mean over members), scores."""
        best, diverged = self.best, self.diverged
        return [
            {
                "configuration": i,
                "learning_rate": c.learning_rate,
                "weight_decay": c.weight_decay,
                "seed": c.seed,
                "final_train_loss": float(np.mean(self.loss_curves[i, -1])),
                "validation_mse": float(self.validation_mse[i]),
                "held_out_mse": None if self.held_out_mse is None else float(self.held_out_mse[i]),
                "diverged": bool(diverged[i]),
                "best": i == best,
            }
            for i, c in enumerate(self.configurations)
        ]

    def summary(self) -> list[dict]:
        """One record per (learning rate, weight decay): mean and std over seeds of each score, diverged runs apart."""
        records = []
        groups = {"validation_mse": self.by_hyperparameters(self.validation_mse)}
        if self.held_out_mse is not None:
            groups["held_out_mse"] = self.by_hyperparameters(self.held_out_mse)
        for pair in self.hyperparameters():
            record = {"learning_rate": pair[0], "weight_decay": pair[1]}
            for name, grouped in groups.items():
                finite = grouped[pair][np.isfinite(grouped[pair])]
                record[name] = {
                    "mean": float(finite.mean()) if finite.size else None,
                    "std": float(finite.std()) if finite.size else None,
                }
            record["seeds"] = int(grouped[pair].size)
            record["diverged"] = int(np.sum(~np.isfinite(groups["validation_mse"][pair])))
            records.append(record)
        return records

    def ensemble(self, index: int) -> Ensemble:
        """Configuration `index`'s trained model."""
        params = jax.tree.map(lambda leaf: jnp.asarray(leaf[index]), self.params)
        return ensemble_of(self.spec, params, self.normalizer)


@functools.partial(jax.jit, static_argnums=0)
def _member_mean_mse(graphdef, params, normalizer: Normalizer, states, actions, targets) -> jax.Array:
    """(configurations,) one-step MSE of each configuration's member-mean prediction; configurations
    run one after another (lax.map) so memory holds one configuration's predictions at a time."""

    def one(config_params):
        prediction = predict_members(graphdef, config_params, states, actions, normalizer).mean(axis=0)
        return jnp.mean(jnp.square(prediction - targets))

    return jax.lax.map(one, params)


def _scores(spec: ModelSpec, params, normalizer: Normalizer, data: Transitions) -> np.ndarray:
    """`_member_mean_mse` on a Transitions with raw actions, as float64 on the host."""
    mse = _member_mean_mse(
        graphdef_of(spec),
        params,
        normalizer,
        jnp.asarray(data.states, jnp.float32),
        jnp.asarray(spec.encode_actions(data.actions)),
        jnp.asarray(data.next_states, jnp.float32),
    )
    return np.asarray(mse, np.float64)


def check_sweep(spec: ModelSpec, config: TrainConfig, grid: SweepGrid) -> None:
    """A ConfigError for a sweep `run_sweep` refuses: validation-driven options, or too many members."""
    if config.needs_validation:
        raise ConfigError(
            "a sweep trains every configuration for all its epochs: early stopping, elites and "
            "calibration are for `wm-jax train`"
        )
    if len(grid) * spec.config.members > MAX_SWEEP_MEMBERS:
        raise ConfigError(
            f"{len(grid)} configurations x {spec.config.members} members exceeds "
            f"{MAX_SWEEP_MEMBERS:,} members in one program"
        )


def run_sweep(
    spec: ModelSpec,
    config: TrainConfig,
    data: Transitions,
    grid: SweepGrid,
    *,
    validation: Transitions,
    held_out: Transitions | None = None,
    mesh: Mesh | None = None,
    checkpoints=None,
) -> SweepResult:
    """Train every configuration of `grid` on `data` in one compiled program (run in chunks of about a
    second) and score each on `validation` (used to choose) and `held_out` (reported).

    With `checkpoints` (a `RunCheckpoints`), every `checkpoints.every` epochs end with a saved checkpoint
    (every configuration's state and its loss curve so far), Ctrl-C saves one before it stops, and a
    sweep with one already saved resumes from its latest: every draw derives from (run key, epoch,
    minibatch), so the result is the uninterrupted sweep's, bit for bit.

    `config` gives everything but the swept values (its learning rate and weight decay are
    replaced). `mesh` (from `training_mesh`) splits the configurations over its members axis, as
    an ensemble's members are split: configurations never interact.
    Early stopping, elites and calibration choose on validation data per run; a sweep
    chooses between runs instead, so they are refused here.
    """
    check_sweep(spec, config, grid)
    check_training_memory(spec, len(grid))  # every configuration's ensemble trains at once
    program = make_train(spec, config, optimizer=sweep_optimizer())
    normalizer = fit_normalizer_for(spec, data)
    training_data = TrainingData(to_buffer(data))
    # States are laid out (seeds, hyperparameter pairs, ...). Everything random in a run (its
    # initialisation, shuffles, bootstrap, dropout) derives from its seed, so the pairs of one seed
    # share their start, minibatch order and gathered rows: each is computed once per seed.
    pairs = list(itertools.product(grid.learning_rates, grid.weight_decays))
    # The same keys `fit(seed=s)` uses: key(s) splits into the initialisation key and the run key.
    keys = jax.vmap(jax.random.split)(jnp.stack([jax.random.key(seed) for seed in grid.seeds]))
    learning_rates = jnp.asarray([lr for lr, _ in pairs], jnp.float32)
    weight_decays = jnp.asarray([wd for _, wd in pairs], jnp.float32)
    start = time.perf_counter()
    arguments = (keys, normalizer, learning_rates, weight_decays)
    states = compile_initialization(_start_every_seed, program.initialization_form, *arguments)(*arguments)
    compile_seconds = time.perf_counter() - start
    # The larger of the two axes splits over the devices (configurations never interact).
    states, loss_curve, seconds = _train_in_chunks(
        program, states, training_data, len(grid), mesh, len(grid.seeds) >= len(pairs), checkpoints
    )
    compile_seconds, train_seconds = compile_seconds + seconds[0], seconds[1]

    def in_grid_order(leaf):  # (seeds, pairs, ...) -> (configurations, ...), the seed varying fastest
        return jnp.swapaxes(leaf, 0, 1).reshape((len(pairs) * len(grid.seeds),) + leaf.shape[2:])

    params = jax.tree.map(in_grid_order, states.final_params())
    loss_curves = np.asarray(in_grid_order(loss_curve))
    validation_mse = _scores(spec, params, normalizer, validation)
    held_out_mse = None if held_out is None else _scores(spec, params, normalizer, held_out)
    return SweepResult(
        spec,
        grid.configurations,
        to_host(params),
        normalizer,
        loss_curves,
        validation_mse,
        held_out_mse,
        compile_seconds,
        train_seconds,
    )


def _train_in_chunks(
    program: TrainProgram, states, data: TrainingData, configurations: int, mesh, split_seeds, checkpoints
):
    """Every configuration trained for all its epochs, in chunks of about a second ending on multiples of
    `checkpoints.every` (the same result as one program: every draw derives from (run key, epoch,
    minibatch)); Ctrl-C stops between chunks. Returns (states, loss curves (seeds, pairs, epochs, members),
    (compile seconds, train seconds))."""
    epochs = program.config.epochs
    period = epochs if checkpoints is None else checkpoints.every
    per_epoch = estimated_epoch_seconds(program, data.train.capacity) * configurations
    chunk = chunk_size(int(TARGET_CHUNK_SECONDS / per_epoch), period)
    # The curves of the whole run, NaN until trained: one fixed shape, so a checkpoint holds them with the states.
    seeds, pairs = jax.tree.leaves(states.params)[0].shape[:2]
    curves = np.full((seeds, pairs, epochs, program.members), np.nan, np.float32)
    programs, compile_seconds, done = {}, 0.0, 0
    if checkpoints is not None and checkpoints.latest_epoch() is not None:
        (states, curves), _ = checkpoints.restore((states, jnp.asarray(curves)))
        curves, done = np.array(curves), checkpoints.latest_epoch()

    def save():  # the sweep as it is when called, after `done` epochs
        checkpoints.save(done, (states, jnp.asarray(curves)), {})

    start = time.perf_counter()
    with stop_requests():
        while done < epochs:
            if requested():
                raise stopped_after("epoch", done, checkpoints, save)
            size = next_chunk_size(done, chunk, period, epochs)
            if size not in programs:
                tick = time.perf_counter()
                train_all = _train_every_configuration(program.step_form, size, mesh, split_seeds)
                programs[size] = train_all.lower(states, data).compile()
                compile_seconds += time.perf_counter() - tick
            states, metrics = programs[size](states, data)
            curves[:, :, done : done + size] = np.asarray(to_host(metrics.loss_curve))
            done += size
            if checkpoints is not None and (done % period == 0 or done == epochs):
                save()
    jax.block_until_ready(states)
    train_seconds = time.perf_counter() - start - compile_seconds
    return states, curves, (compile_seconds, train_seconds)


def _start_one_seed(program: TrainProgram, key_pair, normalizer: Normalizer, learning_rates, weight_decays):
    """One seed's TrainState before epoch 0 from (init key, run key): its parameters and optimizer state with a
    leading (pairs,) axis, each pair's learning rate and weight decay (pairs,) in the optimizer's hyperparameters."""
    hyper = learning_rates.shape[0]
    state = program.start(program.init(key_pair[0]), key_pair[1], normalizer)
    params, opt_state = jax.tree.map(
        lambda leaf: jnp.broadcast_to(leaf, (hyper,) + leaf.shape), (state.params, state.opt_state)
    )
    hyperparams = dict(opt_state.hyperparams)
    for name, values in (("learning_rate", learning_rates), ("weight_decay", weight_decays)):
        shape = hyperparams[name].shape
        hyperparams[name] = jnp.broadcast_to(values.reshape((hyper,) + (1,) * (len(shape) - 1)), shape)
    return state._replace(params=params, opt_state=opt_state._replace(hyperparams=hyperparams))


# Every seed's start, jitted once per process with the program static and the hyperparameters as arguments:
# a later sweep of equal settings builds nothing again.
_start_every_seed = jax.jit(
    lambda program, keys, normalizer, learning_rates, weight_decays: jax.vmap(
        functools.partial(_start_one_seed, program), in_axes=(0, None, None, None)
    )(keys, normalizer, learning_rates, weight_decays),
    static_argnums=0,
)


@functools.lru_cache(maxsize=8)
def _train_every_configuration(program: TrainProgram, epochs: int, mesh: Mesh | None, split_seeds: bool):
    """Jitted (states (seeds, pairs, ...), TrainingData) -> every configuration trained for `epochs` and its
    metrics, once per process for equal arguments. With `mesh`, the seed axis (`split_seeds`) or the pair axis
    splits over its members axis."""
    # Within a seed only parameters and optimizer state differ; key, epoch and normaliser are shared.
    per_pair = TrainState(params=0, opt_state=0, normalizer=None, key=None, epoch=None, early_stopping=None)
    chunk = functools.partial(program.train_chunk, epochs=epochs)
    chunk = jax.vmap(jax.vmap(chunk, in_axes=(per_pair, None), out_axes=(per_pair, 0)), in_axes=(0, None))
    split = PartitionSpec(MEMBERS_AXIS) if split_seeds else PartitionSpec(None, MEMBERS_AXIS)

    def train_all(states, data):
        if mesh is not None:
            params, opt_state = jax.lax.with_sharding_constraint(
                (states.params, states.opt_state), NamedSharding(mesh, split)
            )
            states = states._replace(params=params, opt_state=opt_state)
        return chunk(states, data)

    return jax.jit(train_all)
