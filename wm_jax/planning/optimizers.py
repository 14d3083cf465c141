"""Optimisers over action sequences: random shooting, the cross-entropy method (CEM) and MPPI.

Written like evosax strategies, with explicit state: a sampling distribution over sequences of
`horizon` actions, which `sample` draws from and `refit` moves towards the best (elite) ones.

- Box actions: a `Gaussian` per step and action dimension, samples clipped to the bounds.
- Discrete actions: a `Categorical` per step (categorical CEM: the probabilities are refitted to
  the elites' action frequencies), which mbrl-lib's CEM does not offer.

`mppi` (model-predictive path integral control) moves the distribution to the average of all the
samples weighted by exp(return / temperature) instead of to a hard elite set, keeping the
Gaussian's std as a fixed exploration noise for Box actions; for Discrete actions the weights refit the probabilities.

`cem` and `mppi` run the iterations inside one traced loop and return the best sequence evaluated;
`shift` warm-starts the next plan from this one, one step on. An objective maps sequences
(C, H) int32 or (C, H, A) float32 and a key to returns (C,) to maximise.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from ..envs.spaces import Box, Discrete, Space

Objective = Callable[[jax.Array, jax.Array], jax.Array]


class Gaussian(NamedTuple):
    """mean, std: (H, A)."""

    mean: jax.Array
    std: jax.Array


class Categorical(NamedTuple):
    """probs: (H, n), each row sums to 1."""

    probs: jax.Array


Distribution = Gaussian | Categorical


def _bounds(space: Box) -> tuple[jax.Array, jax.Array]:
    return jnp.asarray(space.low, jnp.float32), jnp.asarray(space.high, jnp.float32)


def initial_distribution(space: Space, horizon: int) -> Distribution:
    """Uniform over the actions (Discrete), or centred with std a quarter of the range (Box, as mbrl-lib)."""
    if isinstance(space, Discrete):
        return Categorical(jnp.full((horizon, space.n), 1.0 / space.n, jnp.float32))
    low, high = _bounds(space)
    return Gaussian(
        jnp.broadcast_to((low + high) / 2, (horizon, low.size)), jnp.broadcast_to((high - low) / 4, (horizon, low.size))
    )


# Warm-started categorical plans keep this share of the shifted probabilities (the rest uniform).
CATEGORICAL_MEMORY = 0.5


def shift(distribution: Distribution, space: Space) -> Distribution:
    """Warm start: the plan one step on, with a fresh initial step appended at the end.

    Only the location carries over: a Gaussian's std restarts at its initial value (as mbrl-lib
    resets CEM's variance every step), and categorical probabilities are mixed back towards
    uniform, so each new plan explores again instead of inheriting a collapsed distribution.
    """
    fresh = initial_distribution(space, distribution_horizon(distribution))
    if isinstance(distribution, Categorical):
        shifted = jnp.concatenate([distribution.probs[1:], fresh.probs[:1]])
        return Categorical(CATEGORICAL_MEMORY * shifted + (1 - CATEGORICAL_MEMORY) * fresh.probs)
    return Gaussian(jnp.concatenate([distribution.mean[1:], fresh.mean[:1]]), fresh.std)


def distribution_horizon(distribution: Distribution) -> int:
    return jax.tree.leaves(distribution)[0].shape[0]


def sample(distribution: Distribution, space: Space, key: jax.Array, count: int) -> jax.Array:
    """`count` sequences: (count, H) int32 or (count, H, A) float32 within the bounds."""
    if isinstance(distribution, Categorical):
        return jax.random.categorical(
            key, jnp.log(distribution.probs), shape=(count, distribution.probs.shape[0])
        ).astype(jnp.int32)
    low, high = _bounds(space)
    noise = jax.random.normal(key, (count, *distribution.mean.shape))
    return jnp.clip(distribution.mean + distribution.std * noise, low, high)


def uniform_sequences(space: Space, key: jax.Array, count: int, horizon: int) -> jax.Array:
    """Sequences drawn uniformly from the action space (random shooting's proposals)."""
    if isinstance(space, Discrete):
        return jax.random.randint(key, (count, horizon), 0, space.n, jnp.int32)
    low, high = _bounds(space)
    return jax.random.uniform(key, (count, horizon, low.size), minval=low, maxval=high)


def refit(distribution: Distribution, elites: jax.Array, alpha: float) -> Distribution:
    """Move the distribution to the elite sequences' statistics, keeping `alpha` of the old one."""
    if isinstance(distribution, Categorical):
        frequencies = jax.nn.one_hot(elites, distribution.probs.shape[1]).mean(axis=0)
        return Categorical(alpha * distribution.probs + (1 - alpha) * frequencies)
    return Gaussian(
        alpha * distribution.mean + (1 - alpha) * elites.mean(axis=0),
        alpha * distribution.std + (1 - alpha) * elites.std(axis=0),
    )


class PlanResult(NamedTuple):
    """The best sequence evaluated and its return, and the final distribution (for warm starts)."""

    sequence: jax.Array
    value: jax.Array
    distribution: Distribution


def cem(
    objective: Objective,
    distribution: Distribution,
    space: Space,
    key: jax.Array,
    *,
    iterations: int,
    candidates: int,
    elites: int,
    alpha: float,
) -> PlanResult:
    """The cross-entropy method: sample, keep the `elites` best, refit; `iterations` times."""

    def iteration(carry, key):
        distribution, best, best_value = carry
        sample_key, objective_key = jax.random.split(key)
        sequences = sample(distribution, space, sample_key, candidates)
        values = objective(sequences, objective_key)
        top_values, top = jax.lax.top_k(values, elites)
        better = top_values[0] > best_value
        best = jnp.where(better, sequences[top[0]], best)
        best_value = jnp.where(better, top_values[0], best_value)
        return (refit(distribution, sequences[top], alpha), best, best_value), None

    first = sample(distribution, space, key, 1)[0]
    init = (distribution, first, jnp.float32(-jnp.inf))
    (distribution, best, value), _ = jax.lax.scan(iteration, init, jax.random.split(key, iterations))
    return PlanResult(best, value, distribution)


def random_shooting(objective: Objective, space: Space, key: jax.Array, *, candidates: int, horizon: int) -> PlanResult:
    """The best of `candidates` uniformly random sequences."""
    sample_key, objective_key = jax.random.split(key)
    sequences = uniform_sequences(space, sample_key, candidates, horizon)
    values = objective(sequences, objective_key)
    best = jnp.argmax(values)
    return PlanResult(sequences[best], values[best], initial_distribution(space, horizon))


def mppi(
    objective: Objective,
    distribution: Distribution,
    space: Space,
    key: jax.Array,
    *,
    iterations: int,
    candidates: int,
    temperature: float,
) -> PlanResult:
    """MPPI: the distribution's location becomes the exp(return / temperature)-weighted average of the
    samples; a Gaussian keeps its std (the exploration noise) throughout."""

    def iteration(carry, key):
        distribution, best, best_value = carry
        sample_key, objective_key = jax.random.split(key)
        sequences = sample(distribution, space, sample_key, candidates)
        values = objective(sequences, objective_key)
        weights = jax.nn.softmax((values - values.max()) / temperature)
        if isinstance(distribution, Categorical):
            distribution = Categorical(
                jnp.einsum("c,chn->hn", weights, jax.nn.one_hot(sequences, distribution.probs.shape[1]))
            )
        else:
            distribution = Gaussian(jnp.einsum("c,cha->ha", weights, sequences), distribution.std)
        top = jnp.argmax(values)
        better = values[top] > best_value
        return (distribution, jnp.where(better, sequences[top], best), jnp.where(better, values[top], best_value)), None

    first = sample(distribution, space, key, 1)[0]
    (distribution, best, value), _ = jax.lax.scan(
        iteration, (distribution, first, jnp.float32(-jnp.inf)), jax.random.split(key, iterations)
    )
    return PlanResult(best, value, distribution)
