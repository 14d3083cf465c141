"""JAX rows: a direct port (`jax-naive`) and this project's engine (`jax-engine`)."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax

from wm_jax.config import ModelConfig, TrainConfig
from wm_jax.models import ModelSpec, apply_member, graphdef_of, init_ensemble_params
from wm_jax.training import as_batch, make_train, mse_loss, training_mesh

from .timing import Measurement, measure_epochs, timed
from .workload import ACTION_DIM, STATE_DIM, Workload, arrays


def _spec(members: int) -> ModelSpec:
    return ModelSpec(STATE_DIM, ACTION_DIM, ModelConfig(kind="ensemble", members=members))


def jax_naive(w: Workload, data, seed: int, repeats: int, budget_s: float) -> Measurement:
    """The tutorial's loops in Python around one jitted single-model step (data on the device)."""
    batch = as_batch(*arrays(data))
    n = batch.states.shape[0]
    spec = _spec(w.members)
    graphdef, optimizer = graphdef_of(spec), optax.adam(w.learning_rate)

    @jax.jit
    def step(params, opt_state, data, idx):
        def loss_fn(p):
            return mse_loss(apply_member(graphdef, p, data.states[idx], data.actions[idx]), data.next_states[idx])

        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    def compile_both_shapes():
        params = jax.tree.map(lambda x: x[0], init_ensemble_params(spec, jax.random.key(seed)))
        for rows in {w.batch_size, w.batch_sizes[-1]}:
            jax.block_until_ready(step(params, optimizer.init(params), batch, jnp.arange(rows)))

    compile_seconds, _ = timed(compile_both_shapes)

    def run(epochs: int) -> float:
        stacked = init_ensemble_params(spec, jax.random.key(seed))
        members = [jax.tree.map(lambda x, m=m: x[m], stacked) for m in range(w.members)]
        states = [optimizer.init(p) for p in members]
        rng = np.random.default_rng(seed)
        last = []
        for _ in range(epochs):
            perm = rng.permutation(n)
            last = []
            for m in range(w.members):
                losses = []
                for i in range(0, n, w.batch_size):
                    members[m], states[m], loss = step(members[m], states[m], batch, perm[i : i + w.batch_size])
                    losses.append(loss)
                last.append(jnp.mean(jnp.stack(losses)))
        return float(jnp.mean(jnp.stack(last)))

    return measure_epochs(run, w.epochs, repeats, budget_s, compile_seconds)


def jax_engine(w: Workload, data, seed: int, repeats: int, budget_s: float, shard_members: bool = True) -> Measurement:
    """`wm_jax.training.make_train`: the whole run as one compiled program, compiled ahead of time.

    Members are sharded over the local devices (one per core, see `wm_jax.devices`) unless
    `shard_members` is False: the `jax-engine-1dev` row keeps everything on one device.

    The first run is the warm-up; when it alone takes over a third of the budget it is also the
    only timed run (the program is compiled already, so a first run costs no extra work).
    """
    batch = as_batch(*arrays(data))
    program = make_train(
        _spec(w.members),
        TrainConfig(epochs=w.epochs, batch_size=w.batch_size, learning_rate=w.learning_rate),
        w.transitions,
        mesh=training_mesh(members=w.members) if shard_members else None,
    )
    key = jax.random.key(seed)
    compile_seconds, compiled = timed(lambda: jax.jit(program.__call__).lower(key, batch).compile())

    def run() -> float:
        _, metrics = compiled(key, batch)
        return float(np.asarray(metrics.loss_curve[-1]).mean())

    first, mse = timed(run)
    times, note = [first], "first run timed (no separate warm-up)"
    if first * 3 <= budget_s:
        times, note = [], ""
        for _ in range(max(1, min(repeats, int(budget_s // max(first, 1e-9)) - 1))):
            seconds, mse = timed(run)
            times.append(seconds)
    return Measurement(float(np.median(times)), len(times), w.epochs, compile_seconds, mse, note, times)


IMPLS = {
    "jax-naive": jax_naive,
    "jax-engine": jax_engine,
    "jax-engine-1dev": functools.partial(jax_engine, shard_members=False),
}
