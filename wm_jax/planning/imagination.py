"""Scoring action sequences inside a learned ensemble: the planners' objective.

`imagined_returns(model, reward_source, start_state, sequences, key, ...)` rolls every candidate
sequence through the ensemble from one real state, with several particles per candidate, and
returns each candidate's mean return over its particles. Propagation follows PETS:

- "tsinf": particle p follows elite member p mod K for the whole trajectory (TS-inf); each
  particle runs through its own member only, so P particles cost P network passes, not P * E;
- "ts1": every particle draws a random elite member at every step;
- "mean": the elites' mean prediction (particles only differ when sampling).

With `sample`, each step samples the member's Gaussian. Rewards and termination come from the
environment's known functions (`EnvSpec.planning_objective`) or from the model's own heads ("learned": the
reward head, and termination where the termination logit is positive). Once a particle
terminates, its later rewards do not count. Everything is traced: one call is one compiled
computation, vmapped over candidates, particles and members.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ..models.ensemble import member_prediction
from ..models.network import Prediction
from ..models.propagation import propagate


def _step_reward(reward_fn, states, actions, prediction: Prediction, next_states):
    """(reward, terminated) of one step for every row, from the known function or the heads."""
    if reward_fn is not None:
        return reward_fn(states, actions, next_states)
    terminated = prediction.termination_logit > 0 if prediction.termination_logit is not None else jnp.zeros(states.shape[0], bool)
    return prediction.reward, terminated


def imagined_returns(model, reward_fn, start_state: jax.Array, sequences: jax.Array, key: jax.Array, *,
                     particles: int, mode: str = "tsinf", sample: bool = False) -> jax.Array:
    """(C,) mean return over `particles` imagined trajectories of each of C sequences from `start_state` (S,).

    `model` is a `models.Ensemble` (arrays may be traced); `reward_fn` a known
    `EnvSpec.planning_objective` or None for the learned heads; sequences (C, H) raw discrete
    actions or (C, H, A) raw Box actions.
    """
    spec, params, normalizer, elites = model.spec, model.params, model.normalizer, jnp.asarray(model.elites)
    graphdef = model.graphdef
    candidates, horizon = sequences.shape[:2]
    rows = particles * candidates
    # Row r = particle r // C of candidate r % C: particle-major, so TS-inf's member slabs are contiguous.
    actions = jnp.tile(sequences, (particles,) + (1,) * (sequences.ndim - 1))  # (P * C, H, ...)
    states = jnp.broadcast_to(start_state, (rows, start_state.shape[-1]))
    alive = jnp.ones(rows, bool)
    keys = jax.random.split(key, horizon)

    if mode == "tsinf":
        # Each particle's member parameters, gathered once: particle p uses elite p mod K.
        chosen = elites[jnp.arange(particles) % elites.shape[0]]
        particle_params = jax.tree.map(lambda x: x[chosen], params)
        step_members = jax.vmap(member_prediction, in_axes=(None, 0, 0, 0, None))

        def predict(states, encoded, key):
            out = step_members(graphdef, particle_params, states.reshape(particles, candidates, -1),
                               encoded.reshape(particles, candidates, -1), normalizer)
            out = jax.tree.map(lambda x: x.reshape(rows, *x.shape[2:]), out)
            mean = out.mean
            if sample and out.logvar is not None:
                mean = mean + jnp.exp(0.5 * out.logvar) * jax.random.normal(key, mean.shape)
            return mean, out
    else:
        all_members = jax.vmap(member_prediction, in_axes=(None, 0, None, None, None))

        def predict(states, encoded, key):
            out = all_members(graphdef, params, states, encoded, normalizer)
            next_states = propagate(out, mode, key, elites, sample=sample)
            heads = jax.tree.map(lambda x: x[elites].mean(axis=0), out)
            return next_states, heads

    def step(carry, inputs):
        states, alive, total = carry
        key, raw = inputs
        next_states, heads = predict(states, spec.encode_actions(raw), key)
        reward, terminated = _step_reward(reward_fn, states, raw, heads, next_states)
        total = total + jnp.where(alive, reward, 0.0)
        return (next_states, alive & ~terminated, total), None

    (_, _, total), _ = jax.lax.scan(step, (states, alive, jnp.zeros(rows)), (keys, jnp.swapaxes(actions, 0, 1)))
    return total.reshape(particles, candidates).mean(axis=0)
