"""The training engine: a whole ensemble training run as one compiled program.

`make_train(spec, train_config, n_transitions)` closes over everything static and returns a pure
`train(key, data) -> (params, TrainMetrics)`. Inside it, epochs and minibatches are nested
`lax.scan`s and the E members step together under `vmap`, each with its own Adam state, so E
members cost one program, not E Python loops. A single model is the E=1 case.

A run can also advance in compiled chunks of epochs (`train_epochs`), with the host reporting
progress between chunks. Each epoch's minibatch order and dropout keys are drawn inside the scan
from (run key, epoch, minibatch), so chunks reproduce one long run exactly and no (epochs, N)
index table exists, whatever the dataset size.

Minibatching follows the tutorial's `for i in range(0, n, batch_size)` over a fresh permutation
each epoch: n // batch_size full batches, then one partial batch of n % batch_size if any. The
epoch loss is the mean of the batch losses (the partial batch counts as one batch).
"""

from __future__ import annotations

import dataclasses
import functools
import time
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from .config import TrainConfig
from .models import ModelSpec, apply_member, graphdef_of, init_ensemble_params
from .transitions import Transitions


class TrainState(NamedTuple):
    """Everything a run carries between compiled chunks of epochs.

    params and opt_state have a leading member axis; `epoch` counts the epochs done. Every random
    key is derived from the run key and (epoch, minibatch), so a run split into chunks gives
    exactly the result of one long run.
    """

    params: nnx.State
    opt_state: optax.OptState
    epoch: jax.Array


class TrainMetrics(NamedTuple):
    """loss_curve: (epochs, members) mean minibatch MSE of each epoch, in training mode."""

    loss_curve: jax.Array


def make_optimizer(config: TrainConfig) -> optax.GradientTransformation:
    """Adam, with torch-style coupled L2 when weight_decay > 0.

    torch's `Adam(weight_decay=wd)` adds wd * p to the gradient before the Adam moments; that is
    `chain(add_decayed_weights(wd), adam(lr))`, not `optax.adamw` (decoupled decay).
    """
    adam = optax.adam(config.learning_rate)
    if config.weight_decay > 0:
        return optax.chain(optax.add_decayed_weights(config.weight_decay), adam)
    return adam


def mse_loss(prediction: jax.Array, target: jax.Array) -> jax.Array:
    """torch.nn.MSELoss(): the mean over batch and state dimensions."""
    return jnp.mean(jnp.square(prediction - target))


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


def epoch_order(run_key: jax.Array, epoch, n: int, members: int | None = None) -> jax.Array:
    """The minibatch order of one epoch: (n,), or (members, n) for per-member shuffling."""
    shuffle_key, _ = epoch_keys(run_key, epoch)
    if members is None:
        return jax.random.permutation(shuffle_key, n)
    return jax.vmap(lambda k: jax.random.permutation(k, n))(jax.random.split(shuffle_key, members))


def epoch_permutations(run_key: jax.Array, epochs: int, n: int, members: int | None = None) -> jax.Array:
    """The orders the engine draws for epochs 0..epochs-1 of a run, as one table: (epochs, n) or (epochs, members, n).

    The engine itself never builds this table (it draws each epoch's order inside the scan);
    it exists so tests can feed the same orders to another implementation.
    """
    return jax.vmap(lambda e: epoch_order(run_key, e, n, members))(jnp.arange(epochs))


@dataclasses.dataclass(frozen=True)
class TrainProgram:
    """A configured training run. All methods are pure functions of their arguments.

    - `init(key)`: stacked initial parameters (members, ...).
    - `start(params)`: the TrainState before epoch 0.
    - `train_epochs(state, data, run_key, epochs)`: advance `epochs` epochs (one compiled chunk).
    - `run(params, data, key, permutations=None)`: train all epochs from `params`; `permutations`
      (epochs, n) overrides the minibatch order (parity tests feed both frameworks the same order).
    - `__call__(key, data)`: init and run from one key, the usual entry point.

    `data` is a `Transitions` with device arrays (states, actions, next_states are used); actions
    are raw and encoded per minibatch with the spec's action encoding.
    """

    spec: ModelSpec
    config: TrainConfig
    n_transitions: int
    # Spread the member axis over the local devices when there are several (see `member_sharding`).
    shard_members: bool = True

    @property
    def members(self) -> int:
        return self.spec.config.members

    @property
    def graphdef(self) -> nnx.GraphDef:
        return graphdef_of(self.spec)

    @property
    def optimizer(self) -> optax.GradientTransformation:
        return make_optimizer(self.config)

    def init(self, key: jax.Array) -> nnx.State:
        return init_ensemble_params(self.spec, key)

    def start(self, params: nnx.State) -> TrainState:
        return TrainState(params, jax.vmap(self.optimizer.init)(params), jnp.int32(0))

    def __call__(self, key: jax.Array, data: Transitions) -> tuple[nnx.State, TrainMetrics]:
        init_key, run_key = jax.random.split(key)
        return self.run(self.init(init_key), data, run_key)

    def run(
        self, params: nnx.State, data: Transitions, key: jax.Array, permutations: jax.Array | None = None
    ) -> tuple[nnx.State, TrainMetrics]:
        state, metrics = self.train_epochs(self.start(params), data, key, self.config.epochs, permutations)
        return state.params, metrics

    def train_epochs(
        self, state: TrainState, data: Transitions, run_key: jax.Array, epochs: int, permutations: jax.Array | None = None
    ) -> tuple[TrainState, TrainMetrics]:
        """Advance `state` by `epochs` epochs (static); `permutations` (epochs, n) fixes the minibatch orders."""
        config, n, members, spec = self.config, self.n_transitions, self.members, self.spec
        graphdef, optimizer = self.graphdef, self.optimizer
        sharding = member_sharding(members) if self.shard_members else None
        params = state.params
        if sharding is not None:
            # GSPMD propagates this through the scans: each device steps its own members.
            params = jax.lax.with_sharding_constraint(params, sharding)
        use_dropout = spec.config.dropout_rate > 0
        per_member = config.shuffle == "per_member" and permutations is None
        batch_size = min(config.batch_size, n)
        full_batches, tail = divmod(n, batch_size)

        def member_loss(member_params, indices, step_key):
            actions = spec.encode_actions(data.actions[indices])
            prediction = apply_member(
                graphdef, member_params, data.states[indices], actions, step_key if use_dropout else None
            )
            return mse_loss(prediction, data.next_states[indices])

        def member_step(member_params, opt_state, indices, step_key):
            loss, grads = jax.value_and_grad(member_loss)(member_params, indices, step_key)
            updates, opt_state = optimizer.update(grads, opt_state, member_params)
            return optax.apply_updates(member_params, updates), opt_state, loss

        # Members step in lockstep: vmap over the member axis of params, Adam state, dropout keys
        # and (for per-member shuffling) the minibatch indices.
        ensemble_step = jax.vmap(member_step, in_axes=(0, 0, 0 if per_member else None, 0))

        def epoch_step(carry, epoch_and_order):
            epoch, order = epoch_and_order
            if order is None:
                # Drawn here, one epoch at a time: no (epochs, N) index table is ever built.
                order = epoch_order(run_key, epoch, n, members if per_member else None)
            _, dropout_key = epoch_keys(run_key, epoch)

            def minibatch_step(carry, batch):
                index, indices = batch
                step_keys = jax.random.split(jax.random.fold_in(dropout_key, index), members)
                params, opt_state, loss = ensemble_step(*carry, indices, step_keys)
                return (params, opt_state), loss

            # order: (n,) shared or (members, n) per member; batches along the leading axis.
            head = order[..., : full_batches * batch_size].reshape(*order.shape[:-1], full_batches, batch_size)
            carry, losses = jax.lax.scan(minibatch_step, carry, (jnp.arange(full_batches), jnp.moveaxis(head, -2, 0)))
            if tail:
                carry, tail_loss = minibatch_step(carry, (full_batches, order[..., full_batches * batch_size :]))
                losses = jnp.concatenate([losses, tail_loss[None]], axis=0)
            return carry, losses.mean(axis=0)

        epoch_numbers = state.epoch + jnp.arange(epochs, dtype=jnp.int32)
        (params, opt_state), loss_curve = jax.lax.scan(
            epoch_step, (params, state.opt_state), (epoch_numbers, permutations)
        )
        return TrainState(params, opt_state, state.epoch + epochs), TrainMetrics(loss_curve=loss_curve)


def member_sharding(members: int) -> NamedSharding | None:
    """A sharding of the leading member axis over up to `members` local devices, or None for one device.

    Members never interact, so splitting them across devices needs no communication inside the
    step. On a CPU host this is how training uses every core: with `devices.use_all_cpu_cores()`
    XLA exposes one device per core, and a 2-core host trains E=64 about 2x faster (bench/NOTES.md).
    E need not divide the device count; XLA pads the uneven shard.
    """
    devices = jax.local_devices()[:members]
    if len(devices) < 2:
        return None
    return NamedSharding(Mesh(np.array(devices), ("members",)), PartitionSpec("members"))


def make_train(spec: ModelSpec, config: TrainConfig, n_transitions: int, *, shard_members: bool = True) -> TrainProgram:
    """Configure a training run for a dataset of `n_transitions` (shapes are static under jit)."""
    return TrainProgram(spec, config, n_transitions, shard_members)


def progress_chunk_epochs(epochs: int, updates: int = 20) -> int:
    """Epochs per compiled chunk when progress is shown: about `updates` updates, and a divisor
    of `epochs` so every chunk has one shape and compiles once."""
    target = max(1, epochs // updates)
    return max(d for d in range(1, target + 1) if epochs % d == 0)


class TimedRun(NamedTuple):
    params: nnx.State
    loss_curve: np.ndarray  # (epochs, members)
    compile_seconds: float
    train_seconds: float


def train_timed(
    program: TrainProgram,
    key: jax.Array,
    data: Transitions,
    *,
    chunk_epochs: int | None = None,
    on_epoch: Callable[[int, np.ndarray], None] | None = None,
) -> TimedRun:
    """Compile ahead of time, then train in chunks of `chunk_epochs` (default: all epochs in one).

    Between chunks the host calls `on_epoch(epoch, per_member_losses)` for each epoch of the
    chunk: progress without a host callback inside the compiled program, so the program stays in
    the persistent compilation cache and works on any number of devices. Compilation and training
    are timed separately.
    """
    epochs = program.config.epochs
    chunk_epochs = chunk_epochs or epochs
    if epochs % chunk_epochs:
        raise ValueError(f"chunk of {chunk_epochs} epochs does not divide {epochs} epochs")
    init_key, run_key = jax.random.split(key)
    start = time.perf_counter()
    begin = jax.jit(lambda k: program.start(program.init(k))).lower(init_key).compile()
    state = begin(init_key)
    chunk = jax.jit(functools.partial(program.train_epochs, epochs=chunk_epochs)).lower(state, data, run_key).compile()
    compile_seconds = time.perf_counter() - start
    start = time.perf_counter()
    curves = []
    for _ in range(epochs // chunk_epochs):
        state, metrics = chunk(state, data, run_key)
        curves.append(np.asarray(metrics.loss_curve))
        if on_epoch is not None:
            first = int(state.epoch) - chunk_epochs
            for offset, losses in enumerate(curves[-1]):
                on_epoch(first + offset, losses)
    jax.block_until_ready(state)
    return TimedRun(state.params, np.concatenate(curves), compile_seconds, time.perf_counter() - start)


@dataclasses.dataclass(frozen=True)
class FittedModel:
    """A trained model: its spec, stacked parameters and how training went."""

    spec: ModelSpec
    params: nnx.State
    loss_curve: np.ndarray  # (epochs, members)
    compile_seconds: float
    train_seconds: float


def fit(
    spec: ModelSpec,
    config: TrainConfig,
    data: Transitions,
    seed: int,
    on_epoch: Callable[[int, np.ndarray], None] | None = None,
) -> FittedModel:
    """Train `spec` on `data` (a Transitions with raw actions). With `on_epoch`, training runs in
    chunks of epochs and reports after each chunk; the result is identical either way."""
    batch = as_batch(data.states, data.actions, data.next_states)
    program = make_train(spec, config, batch.states.shape[0])
    chunk = progress_chunk_epochs(config.epochs) if on_epoch is not None else None
    run = train_timed(program, jax.random.key(seed), batch, chunk_epochs=chunk, on_epoch=on_epoch)
    return FittedModel(spec, run.params, run.loss_curve, run.compile_seconds, run.train_seconds)
