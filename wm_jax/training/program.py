"""The training engine: an ensemble's training run as compiled chunks of epochs.

`make_train(spec, train_config)` returns a `TrainProgram`; `train_chunk(state, data, epochs)` is
one pure, jittable step of a run: epochs and minibatches are nested loops inside one program and
the E members step together under `vmap`, each with its own optimizer state, so E members cost
one program, not E Python loops. A single model is the E=1 case.

What the run optimises is a parameter (`objective`, see `training.objectives`), and so is the
optimizer (an optax transformation); both default to the configured model's. The data is a
fixed-capacity `Buffer` whose valid size is traced, so a growing dataset reuses the compiled
chunk. Each epoch's minibatch order, bootstrap resample and dropout keys derive from (run key,
epoch, minibatch), so chunks reproduce one long run exactly and no (epochs, N) table exists.

Minibatching follows the tutorial's `for i in range(0, n, batch_size)` over a fresh permutation
each epoch: ceil(n / batch_size) batches, the last one shorter when batch_size does not divide n
(here padded and masked). The epoch loss is the mean of the batch losses (the short batch counts
as one batch).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from jax.sharding import Mesh

from ..config import ConfigError, TrainConfig
from ..models.ensemble import default_normalizer, graphdef_of, init_ensemble_params
from ..models.normalization import Normalizer
from ..models.spec import ModelSpec
from ..transitions import Transitions
from .buffer import Buffer, to_buffer
from .objectives import Batch, Objective, make_objective, make_validation_score
from .sharding import MEMBERS_AXIS, member_sharding, row_sharding
from .shuffle import permutation
from .state import IMPROVEMENT_THRESHOLD, EarlyStopping, TrainState

# The bootstrap resample's stream: fold_in data no epoch number reaches.
BOOTSTRAP_STREAM = 2**31 - 1


class TrainingData(NamedTuple):
    """The training rows and, for early stopping, the validation rows."""

    train: Buffer
    validation: Buffer | None = None


class ChunkMetrics(NamedTuple):
    """loss_curve (epochs, members): mean minibatch loss per epoch, in training mode (NaN for epochs
    skipped after an early stop); validation_curve (epochs, members) when the run stops early;
    trained (epochs,): False for the skipped epochs."""

    loss_curve: jax.Array
    validation_curve: jax.Array | None = None
    trained: jax.Array | None = None


# The metrics of a whole run have the same shape as a chunk's.
TrainMetrics = ChunkMetrics


def make_optimizer(config: TrainConfig) -> optax.GradientTransformation:
    """Adam, with torch-style coupled L2 when weight_decay > 0.

    torch's `Adam(weight_decay=wd)` adds wd * p to the gradient before the Adam moments; that is
    `chain(add_decayed_weights(wd), adam(lr))`, not `optax.adamw` (decoupled decay).
    """
    adam = optax.adam(config.learning_rate)
    if config.weight_decay:  # None (no preset resolved: see `TrainConfig.for_model`) or 0 is plain Adam
        return optax.chain(optax.add_decayed_weights(config.weight_decay), adam)
    return adam


def as_batch(states, actions, next_states) -> Transitions:
    """Device-resident (s, a, s') rows for the engine; actions keep their dtype (raw or already encoded)."""
    actions = jnp.asarray(actions)
    if actions.dtype.kind == "f":
        actions = actions.astype(jnp.float32)
    return Transitions(jnp.asarray(states, jnp.float32), actions, jnp.asarray(next_states, jnp.float32))


def epoch_keys(run_key: jax.Array, epoch) -> tuple[jax.Array, jax.Array]:
    """(shuffle key, dropout key) of one epoch of a run: a function of (run key, epoch) alone."""
    shuffle_key, dropout_key = jax.random.split(jax.random.fold_in(run_key, epoch))
    return shuffle_key, dropout_key


def epoch_order(run_key: jax.Array, epoch, n, members: int | None = None, capacity: int | None = None) -> jax.Array:
    """The minibatch order of one epoch over rows 0..n-1: (capacity,) or (members, capacity) for
    per-member shuffling, the first n entries a uniform permutation (capacity defaults to n).

    With n traced, a permutation of the whole capacity keeps its valid entries in their relative
    order (a uniform permutation of them) and moves them to the front.
    """
    shuffle_key, _ = epoch_keys(run_key, epoch)
    capacity = n if capacity is None else capacity

    def one(key):
        order = permutation(key, capacity)
        if isinstance(n, int) and n == capacity:
            return order
        return order[jnp.nonzero(order < n, size=capacity, fill_value=0)[0]]

    if members is None:
        return one(shuffle_key)
    return jax.vmap(one)(jax.random.split(shuffle_key, members))


def epoch_permutations(run_key: jax.Array, epochs: int, n: int, members: int | None = None) -> jax.Array:
    """The orders the engine draws for epochs 0..epochs-1 of a run on n rows, as one table:
    (epochs, n) or (epochs, members, n).

    The engine itself never builds this table (it draws each epoch's order inside the loop);
    it exists so tests can feed the same orders to another implementation.
    """
    return jax.vmap(lambda e: epoch_order(run_key, e, n, members))(jnp.arange(epochs))


def bootstrap_rows(run_key: jax.Array, n, members: int, capacity: int) -> jax.Array:
    """(members, capacity) row indices: member m's first n entries are its resample with replacement
    of rows 0..n-1, the same in every epoch of a run (and redrawn when n changes)."""
    keys = jax.random.split(jax.random.fold_in(run_key, BOOTSTRAP_STREAM), members)
    draws = jax.vmap(lambda k: jax.random.uniform(k, (capacity,)))(keys)
    return jnp.minimum((draws * n).astype(jnp.int32), n - 1)


@dataclasses.dataclass(frozen=True)
class TrainProgram:
    """A configured training run. All methods are pure functions of their arguments.

    - `init(key)`: stacked initial parameters (members, ...).
    - `start(params, key, normalizer=None)`: the TrainState before epoch 0 of a run with run key `key`.
    - `train_chunk(state, data, epochs)`: advance `epochs` epochs (static): one compiled chunk.
    - `run(params, data, key, permutations=None)`: all configured epochs from `params`;
      `permutations` (epochs, n) overrides the minibatch order (parity tests feed both frameworks
      the same order).
    - `__call__(key, data)`: init and run from one key.

    `data` is a `TrainingData` (or, for `run` and `__call__`, a `Transitions` of raw actions,
    encoded per minibatch with the spec's action encoding).
    """

    spec: ModelSpec
    config: TrainConfig
    # Rows the buffer `run` builds from a Transitions holds: 0 for exactly the data's; a larger one pads
    # (the padding is never trained on); a smaller one is an error, never a prefix of the data.
    capacity: int = 0
    # Where the run's arrays live: a (members, data) mesh from `training_mesh`, or None for one device.
    mesh: Mesh | None = None
    objective: Objective | None = None
    optimizer: optax.GradientTransformation | None = None

    @property
    def members(self) -> int:
        return self.spec.config.members

    @property
    def graphdef(self) -> nnx.GraphDef:
        return graphdef_of(self.spec)

    @property
    def transformation(self) -> optax.GradientTransformation:
        return self.optimizer if self.optimizer is not None else make_optimizer(self.config)

    @property
    def loss(self) -> Objective:
        return self.objective if self.objective is not None else make_objective(self.graphdef, self.spec.config)

    @property
    def step_form(self) -> TrainProgram:
        """This program as the jitted steps key it (`train_chunk`, `validation_scores`): the settings those
        steps never read (the run's length, elites, calibration, the validation share, and the rates when the
        optimizer is given) at their defaults,
        so that runs differing only there share one compiled program. `run` reads `epochs`: it is no step."""
        defaults = TrainConfig()
        config = dataclasses.replace(
            self.config,
            epochs=defaults.epochs,
            elites=defaults.elites,
            calibrate=defaults.calibrate,
            validation_fraction=defaults.validation_fraction,
        )
        if self.optimizer is not None:  # the config's rates build no optimizer then
            config = dataclasses.replace(
                config, learning_rate=defaults.learning_rate, weight_decay=defaults.weight_decay
            )
        return self if config == self.config else dataclasses.replace(self, config=config)

    @property
    def initialization_form(self) -> TrainProgram:
        """This program as the jitted `init` and `start` key it: besides the model, they read only the
        optimizer's state layout (plain Adam, or Adam after coupled weight decay: not the rates) and
        whether early stopping is on, so every other setting is at its default and runs that differ there
        share one compiled initialisation."""
        defaults = TrainConfig()
        config = TrainConfig(
            weight_decay=1.0 if self.config.weight_decay else 0.0,
            early_stopping_patience=min(self.config.early_stopping_patience, 1),
        )
        if self.optimizer is not None:  # a given optimizer's layout is its own: the config's rates play no part
            config = dataclasses.replace(config, weight_decay=defaults.weight_decay)
        return dataclasses.replace(self, config=config, capacity=0)

    def init(self, key: jax.Array) -> nnx.State:
        return init_ensemble_params(self.spec, key)

    def start(self, params: nnx.State, key: jax.Array, normalizer: Normalizer | None = None) -> TrainState:
        normalizer = normalizer if normalizer is not None else default_normalizer(self.spec)
        early_stopping = None
        if self.config.early_stopping_patience > 0:
            early_stopping = EarlyStopping(
                jnp.full((self.members,), jnp.inf, jnp.float32), params, jnp.int32(0), jnp.bool_(False)
            )
        opt_state = jax.vmap(self.transformation.init)(params)
        return TrainState(params, opt_state, normalizer, key, jnp.int32(0), early_stopping)

    def __call__(self, key: jax.Array, data: Transitions) -> tuple[nnx.State, TrainMetrics]:
        init_key, run_key = jax.random.split(key)
        return self.run(self.init(init_key), data, run_key)

    def run(
        self, params: nnx.State, data: Transitions | TrainingData, key: jax.Array, permutations: jax.Array | None = None
    ) -> tuple[nnx.State, TrainMetrics]:
        if isinstance(data, Transitions):
            n = data.states.shape[0]
            if 0 < self.capacity < n:
                raise ConfigError(
                    f"capacity {self.capacity} is smaller than the {n} rows given: make_train's capacity "
                    "must hold all of them (or be 0, for exactly the data's)"
                )
            if permutations is not None and permutations.shape[-1] != n:
                raise ConfigError(f"permutations order {permutations.shape[-1]} rows, the data has {n}")
            data = TrainingData(to_buffer(data, self.capacity or n))
        if permutations is not None and permutations.shape[0] != self.config.epochs:
            raise ConfigError(f"permutations cover {permutations.shape[0]} epochs, the run has {self.config.epochs}")
        state, metrics = self.train_chunk(self.start(params, key), data, self.config.epochs, permutations)
        return state.final_params(), metrics

    def batch(self, normalizer: Normalizer, rows: Transitions, indices: jax.Array, mask: jax.Array) -> Batch:
        """Rows `indices` of a buffer, encoded and in training units."""
        states, next_states = rows.states[indices], rows.next_states[indices]
        actions = self.spec.encode_actions(rows.actions[indices])
        target, reward = normalizer.training_targets(states, next_states, rows.rewards[indices])
        states, actions = normalizer.inputs(states, actions)
        return Batch(
            states, actions, target, reward, rows.terminated[indices].astype(jnp.float32), mask.astype(jnp.float32)
        )

    def validation_scores(self, params: nnx.State, normalizer: Normalizer, validation: Buffer) -> jax.Array:
        """(members,) eval-mode validation score of each member (see `objectives.make_validation_score`)."""
        indices = jnp.arange(validation.capacity)
        batch = self.batch(normalizer, validation.rows, indices, indices < validation.size)
        score = make_validation_score(self.graphdef, self.spec.config)
        return jax.vmap(score, in_axes=(0, None))(params, batch)

    def train_chunk(
        self, state: TrainState, data: TrainingData, epochs: int, permutations: jax.Array | None = None
    ) -> tuple[TrainState, ChunkMetrics]:
        """Advance `state` by `epochs` epochs (static); `permutations` (epochs, n) fixes the minibatch orders."""
        early_stopping = state.early_stopping is not None
        if early_stopping and data.validation is None:
            raise ValueError("early stopping needs validation data")
        params, opt_state = state.params, state.opt_state
        if self.mesh is not None:
            # GSPMD propagates this through the loops: each device group steps its own members.
            params, opt_state = jax.lax.with_sharding_constraint((params, opt_state), member_sharding(self.mesh))
        per_member_order = self.config.shuffle == "per_member" and permutations is None
        ensemble_step = self._ensemble_step(
            state.normalizer, data.train.rows, per_member_rows=per_member_order or self.config.bootstrap
        )
        train_epoch = self._epoch_trainer(ensemble_step, data.train, state.key, per_member_order)
        epoch_step = self._epoch_step(train_epoch, state.normalizer, data.validation if early_stopping else None)
        epoch_numbers = state.epoch + jnp.arange(epochs, dtype=jnp.int32)
        (params, opt_state, stop), (loss_curve, validation_curve, trained) = jax.lax.scan(
            epoch_step, (params, opt_state, state.early_stopping), (epoch_numbers, permutations)
        )
        new_state = state._replace(params=params, opt_state=opt_state, epoch=state.epoch + epochs, early_stopping=stop)
        return new_state, ChunkMetrics(loss_curve, validation_curve, trained)

    def _ensemble_step(self, normalizer: Normalizer, rows: Transitions, per_member_rows: bool):
        """One optimizer step of every member: (params, opt_state, indices, mask, step_keys) -> (params, opt_state,
        losses (members,)). `indices` (B,) of `rows`, or (members, B) when `per_member_rows`; `mask` (B,) marks
        the valid rows; `step_keys` (members,) are the dropout keys."""
        objective, optimizer, mesh = self.loss, self.transformation, self.mesh
        split_rows = mesh is not None and mesh.shape["data"] > 1

        def member_step(member_params, opt_state, indices, mask, step_key):
            batch = self.batch(normalizer, rows, indices, mask)
            if split_rows:
                # Each device of the data axis takes its share of the rows; the gradient's sum over
                # rows becomes an all-reduce across the axis.
                batch = jax.lax.with_sharding_constraint(batch, row_sharding(mesh))
            (loss, _), grads = jax.value_and_grad(objective, has_aux=True)(member_params, batch, step_key)
            updates, opt_state = optimizer.update(grads, opt_state, member_params)
            return optax.apply_updates(member_params, updates), opt_state, loss

        # Members step in lockstep: vmap over the member axis of params, optimizer state, dropout
        # keys and (for per-member orders or bootstrap) the minibatch rows. Shared rows are
        # gathered and normalised once for all members.
        return jax.vmap(
            member_step,
            in_axes=(0, 0, 0 if per_member_rows else None, None, 0),
            spmd_axis_name=MEMBERS_AXIS if split_rows else None,
        )

    def _epoch_trainer(self, ensemble_step, train: Buffer, run_key: jax.Array, per_member_order: bool):
        """One epoch over `train`'s valid rows: (params, opt_state, epoch, order) -> (params, opt_state, mean
        minibatch loss (members,)). `order` None draws the epoch's order from (run key, epoch)."""
        config, members = self.config, self.members
        batch_size, capacity, size = config.batch_size, train.capacity, train.size

        def train_epoch(params, opt_state, epoch, order):
            if order is None:
                order = epoch_order(run_key, epoch, size, members if per_member_order else None, capacity)
            _, dropout_key = epoch_keys(run_key, epoch)
            rows = order
            if config.bootstrap:
                resample = bootstrap_rows(run_key, size, members, capacity)
                rows = jnp.take_along_axis(resample, jnp.broadcast_to(order, (members, order.shape[-1])), axis=-1)
            # Padding so the last (short) batch's slice never runs off the end and gets shifted.
            rows = jnp.concatenate([rows, jnp.zeros(rows.shape[:-1] + (batch_size,), rows.dtype)], axis=-1)
            batches = (size + batch_size - 1) // batch_size

            def minibatch(index, carry):
                params, opt_state, loss_sum = carry
                start = index * batch_size
                indices = jax.lax.dynamic_slice_in_dim(rows, start, batch_size, axis=-1)
                mask = start + jnp.arange(batch_size) < size
                step_keys = jax.random.split(jax.random.fold_in(dropout_key, index), members)
                params, opt_state, loss = ensemble_step(params, opt_state, indices, mask, step_keys)
                return params, opt_state, loss_sum + loss

            params, opt_state, loss_sum = jax.lax.fori_loop(
                0, batches, minibatch, (params, opt_state, jnp.zeros((members,), jnp.float32))
            )
            return params, opt_state, loss_sum / batches

        return train_epoch

    def _epoch_step(self, train_epoch, normalizer: Normalizer, validation: Buffer | None):
        """The scan step over epochs: carry (params, opt_state, EarlyStopping or None), input (epoch, order) ->
        (losses, validation scores, trained). With `validation`, epochs after an early stop are skipped (NaN)."""
        config, members = self.config, self.members

        def epoch_step(carry, epoch_and_order):
            params, opt_state, stop = carry
            epoch, order = epoch_and_order
            if validation is None:
                params, opt_state, losses = train_epoch(params, opt_state, epoch, order)
                return (params, opt_state, stop), (losses, None, jnp.bool_(True))

            def active(args):
                params, opt_state, stop = args
                params, opt_state, losses = train_epoch(params, opt_state, epoch, order)
                scores = self.validation_scores(params, normalizer, validation)
                stop = _early_stopping_update(stop, params, scores, config)
                return (params, opt_state, stop), (losses, scores, jnp.bool_(True))

            def stopped(args):
                nan = jnp.full((members,), jnp.nan, jnp.float32)
                return args, (nan, nan, jnp.bool_(False))

            return jax.lax.cond(stop.stopped, stopped, active, (params, opt_state, stop))

        return epoch_step


def _early_stopping_update(stop: EarlyStopping, params, scores: jax.Array, config: TrainConfig) -> EarlyStopping:
    """Keep each member's best weights; count epochs since any member improved by the threshold."""
    better = scores < stop.best_score
    best_params = jax.tree.map(
        lambda new, old: jnp.where(better.reshape((-1,) + (1,) * (new.ndim - 1)), new, old), params, stop.best_params
    )
    # An infinite best (the first epoch) always counts as an improvement.
    improved = jnp.any(
        scores
        < stop.best_score - IMPROVEMENT_THRESHOLD * jnp.abs(jnp.where(jnp.isinf(stop.best_score), 0.0, stop.best_score))
    )
    since = jnp.where(improved, 0, stop.epochs_since_improvement + 1)
    return EarlyStopping(
        jnp.minimum(scores, stop.best_score), best_params, since, since >= config.early_stopping_patience
    )


# A program's steps, jitted once per process with the (frozen, hashable) TrainProgram static: a later run of
# an equal program on arrays of the same shapes (another `fit` in a notebook, the next round of a
# model-based agent, another command in one process) reuses JAX's traced, lowered and compiled program
# instead of building it again (tests/training/test_loop.py counts the traces). Callers pass the program's
# `step_form` (to `train_chunk` and `validation_scores`) or `initialization_form` (to `init`, `start` and
# `_init_and_start`), so runs that differ only in settings a step never reads share it too.
jitted_init = jax.jit(TrainProgram.init, static_argnums=0)
jitted_start = jax.jit(TrainProgram.start, static_argnums=0)
jitted_train_chunk = jax.jit(TrainProgram.train_chunk, static_argnums=0, static_argnames="epochs")
jitted_validation_scores = jax.jit(TrainProgram.validation_scores, static_argnums=0)


def _init_and_start(program: TrainProgram, init_key: jax.Array, run_key: jax.Array, normalizer) -> TrainState:
    return program.start(program.init(init_key), run_key, normalizer)


jitted_init_and_start = jax.jit(_init_and_start, static_argnums=0)


def check_training_memory(spec: ModelSpec, configurations: int = 1) -> None:
    """Refuse, before any work, training `configurations` ensembles of `spec` whose state (every member's float32
    parameters, gradients and Adam's two moments) takes over half this machine's memory (`devices.check_memory`)."""
    from ..devices import check_memory

    per_member = _member_parameters(spec)
    members = spec.config.members * configurations
    check_memory(
        16 * per_member * members, f"training {members} member{'s' * (members > 1)} of {per_member:,} parameters"
    )


@functools.lru_cache(maxsize=64)
def _member_parameters(spec: ModelSpec) -> int:
    """Parameters of one member of `spec` (from shapes alone: nothing is allocated), once per spec: a second run
    of the same model traces nothing (tests/training/test_sweep.py counts traces)."""
    from ..models import count_params, init_params

    return count_params(jax.eval_shape(lambda: init_params(spec, jax.random.key(0))))


def make_train(
    spec: ModelSpec,
    config: TrainConfig,
    capacity: int = 0,
    *,
    mesh: Mesh | None = None,
    objective: Objective | None = None,
    optimizer: optax.GradientTransformation | None = None,
) -> TrainProgram:
    """Configure a training run; `objective` and `optimizer` default to the model's and the config's;
    `mesh` (from `training_mesh`) spreads it over several devices. `capacity` (rows of the buffer
    `run` builds; 0: exactly the data's) must be at least the data's rows."""
    if isinstance(capacity, bool) or not isinstance(capacity, (int, np.integer)) or capacity < 0:
        raise ConfigError(f"capacity must be an integer >= 0, got {capacity!r}")
    check_training_memory(spec)
    return TrainProgram(spec, config.for_model(spec.config), capacity, mesh, objective, optimizer)


def member_scores_to_elites(scores: np.ndarray, elites: int) -> np.ndarray:
    """The `elites` best members (lowest validation score), best first; all members when 0."""
    order = np.argsort(np.asarray(scores), kind="stable").astype(np.int32)
    return order if elites == 0 else order[:elites]
