"""The training engine: a whole ensemble training run as one compiled program.

`make_train(spec, train_config, n_transitions)` closes over everything static and returns a pure
`train(key, data) -> (params, TrainMetrics)`. Inside it, epochs and minibatches are nested
`lax.scan`s and the E members step together under `vmap`, each with its own Adam state, so E
members cost one program, not E Python loops. A single model is the E=1 case.

Minibatching follows the tutorial's `for i in range(0, n, batch_size)` over a fresh permutation
each epoch: n // batch_size full batches, then one partial batch of n % batch_size if any. The
epoch loss is the mean of the batch losses (the partial batch counts as one batch).
"""

from __future__ import annotations

import dataclasses
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


class Batch(NamedTuple):
    """Device-resident training arrays: states (N, S), actions (N, A), next_states (N, S), float32."""

    states: jax.Array
    actions: jax.Array
    next_states: jax.Array


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


def as_batch(states, actions, next_states) -> Batch:
    return Batch(jnp.asarray(states, jnp.float32), jnp.asarray(actions, jnp.float32), jnp.asarray(next_states, jnp.float32))


def epoch_permutations(key: jax.Array, epochs: int, n: int, members: int | None = None) -> jax.Array:
    """The minibatch orders of a run: (epochs, n), or (epochs, members, n) for per-member shuffling."""
    keys = jax.random.split(key, epochs)
    if members is None:
        return jax.vmap(lambda k: jax.random.permutation(k, n))(keys)
    return jax.vmap(lambda k: jax.vmap(lambda m: jax.random.permutation(m, n))(jax.random.split(k, members)))(keys)


@dataclasses.dataclass(frozen=True)
class TrainProgram:
    """A configured training run. All methods are pure functions of their arguments.

    - `init(key)`: stacked initial parameters (members, ...).
    - `run(params, data, key, permutations=None)`: train from `params`; `permutations` (epochs, n)
      overrides the minibatch order (parity tests feed both frameworks the same order).
    - `__call__(key, data)`: init and run from one key, the usual entry point.
    """

    spec: ModelSpec
    config: TrainConfig
    n_transitions: int
    on_epoch: Callable[[int, np.ndarray], None] | None = None
    # Spread the member axis over the local devices when there are several (see `member_sharding`).
    shard_members: bool = True

    @property
    def members(self) -> int:
        return self.spec.config.members

    @property
    def graphdef(self) -> nnx.GraphDef:
        return graphdef_of(self.spec)

    def init(self, key: jax.Array) -> nnx.State:
        return init_ensemble_params(self.spec, key)

    def __call__(self, key: jax.Array, data: Batch) -> tuple[nnx.State, TrainMetrics]:
        init_key, run_key = jax.random.split(key)
        return self.run(self.init(init_key), data, run_key)

    def run(
        self, params: nnx.State, data: Batch, key: jax.Array, permutations: jax.Array | None = None
    ) -> tuple[nnx.State, TrainMetrics]:
        config, n, members = self.config, self.n_transitions, self.members
        graphdef, optimizer = self.graphdef, make_optimizer(config)
        sharding = member_sharding(members) if self.shard_members else None
        if sharding is not None:
            # GSPMD propagates this through the scans: each device steps its own members.
            params = jax.lax.with_sharding_constraint(params, sharding)
        use_dropout = self.spec.config.dropout_rate > 0
        per_member = config.shuffle == "per_member" and permutations is None
        shuffle_key, dropout_key = jax.random.split(key)
        if permutations is None:
            permutations = epoch_permutations(shuffle_key, config.epochs, n, members if per_member else None)
        batch_size = min(config.batch_size, n)
        full_batches, tail = divmod(n, batch_size)

        def member_loss(member_params, indices, step_key):
            prediction = apply_member(
                graphdef, member_params, data.states[indices], data.actions[indices], step_key if use_dropout else None
            )
            return mse_loss(prediction, data.next_states[indices])

        def member_step(member_params, opt_state, indices, step_key):
            loss, grads = jax.value_and_grad(member_loss)(member_params, indices, step_key)
            updates, opt_state = optimizer.update(grads, opt_state, member_params)
            return optax.apply_updates(member_params, updates), opt_state, loss

        # Members step in lockstep: vmap over the member axis of params, Adam state, dropout keys
        # and (for per-member shuffling) the minibatch indices.
        ensemble_step = jax.vmap(member_step, in_axes=(0, 0, 0 if per_member else None, 0))

        def minibatch_step(carry, indices):
            params, opt_state, step = carry
            step_keys = jax.random.split(jax.random.fold_in(dropout_key, step), members)
            params, opt_state, loss = ensemble_step(params, opt_state, indices, step_keys)
            return (params, opt_state, step + 1), loss

        def epoch_step(carry, epoch_and_order):
            epoch, order = epoch_and_order
            # order: (n,) shared or (members, n) per member; batches along the leading axis.
            head = order[..., : full_batches * batch_size].reshape(*order.shape[:-1], full_batches, batch_size)
            batches = jnp.moveaxis(head, -2, 0)
            carry, losses = jax.lax.scan(minibatch_step, carry, batches)
            if tail:
                carry, tail_loss = minibatch_step(carry, order[..., full_batches * batch_size :])
                losses = jnp.concatenate([losses, tail_loss[None]], axis=0)
            epoch_loss = losses.mean(axis=0)
            if self.on_epoch is not None:
                jax.debug.callback(self.on_epoch, epoch, epoch_loss, ordered=True)
            return carry, epoch_loss

        opt_state = jax.vmap(optimizer.init)(params)
        (params, _, _), loss_curve = jax.lax.scan(
            epoch_step, (params, opt_state, jnp.int32(0)), (jnp.arange(config.epochs), permutations)
        )
        return params, TrainMetrics(loss_curve=loss_curve)


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


def make_train(
    spec: ModelSpec,
    config: TrainConfig,
    n_transitions: int,
    on_epoch: Callable[[int, np.ndarray], None] | None = None,
    *,
    shard_members: bool = True,
) -> TrainProgram:
    """Configure a training run for a dataset of `n_transitions` (shapes are static under jit)."""
    return TrainProgram(spec, config, n_transitions, on_epoch, shard_members)


class TimedRun(NamedTuple):
    params: nnx.State
    loss_curve: np.ndarray  # (epochs, members)
    compile_seconds: float
    train_seconds: float


def train_timed(program: TrainProgram, key: jax.Array, data: Batch) -> TimedRun:
    """Compile ahead of time, then run once, timing compilation and training separately."""
    start = time.perf_counter()
    compiled = jax.jit(program.__call__).lower(key, data).compile()
    compile_seconds = time.perf_counter() - start
    start = time.perf_counter()
    params, metrics = compiled(key, data)
    loss_curve = np.asarray(jax.block_until_ready(metrics.loss_curve))
    return TimedRun(params, loss_curve, compile_seconds, time.perf_counter() - start)


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
    data,
    seed: int,
    on_epoch: Callable[[int, np.ndarray], None] | None = None,
) -> FittedModel:
    """Train `spec` on `data` (anything with states/actions/next_states, e.g. data.Transitions)."""
    batch = as_batch(data.states, data.actions, data.next_states)
    program = make_train(spec, config, batch.states.shape[0], on_epoch)
    run = train_timed(program, jax.random.key(seed), batch)
    return FittedModel(spec, run.params, run.loss_curve, run.compile_seconds, run.train_seconds)
