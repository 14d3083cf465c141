"""Scoring action sequences inside a learned ensemble: the planners' objective.

`imagined_returns(model, reward_fn, start_state, sequences, key, ...)` rolls every candidate
sequence through the ensemble from one real state, with several particles per candidate, and
returns each candidate's mean return over its particles. The rollout is the one imagination core,
`models.imagination.imagine`; propagation follows PETS:

- "tsinf": particle p follows elite member p mod K for the whole trajectory (TS-inf); each
  particle runs through its own member only, so P particles cost P network passes, not P * E;
- "ts1": every particle draws a random elite member at every step;
- "mean": the elites' mean prediction (particles only differ when sampling).

Rewards and termination come from the environment's known functions (`EnvSpec.planning_objective`) or from the
model's own heads (reward_fn None). Everything is traced: one call is one compiled computation,
vmapped over candidates, particles and members.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ..models.ensemble import Ensemble
from ..models.imagination import RewardFn, imagine


def imagined_returns(
    model: Ensemble,
    reward_fn: RewardFn | None,
    start_state: jax.Array,
    sequences: jax.Array,
    key: jax.Array,
    *,
    particles: int,
    mode: str = "tsinf",
    sample: bool = False,
) -> jax.Array:
    """(C,) mean return over `particles` imagined trajectories of each of C sequences from `start_state` (S,).

    `reward_fn` a known `EnvSpec.planning_objective` or None for the learned heads; sequences (C, H) raw
    discrete actions or (C, H, A) raw Box actions.
    """
    candidates = sequences.shape[0]
    rows = particles * candidates
    # Row r = particle r // C of candidate r % C: particle-major, so TS-inf's member slabs are contiguous.
    actions = jnp.tile(sequences, (particles,) + (1,) * (sequences.ndim - 1))  # (P * C, H, ...)
    starts = jnp.broadcast_to(start_state, (rows, start_state.shape[-1]))
    imagined = imagine(
        model,
        starts,
        actions,
        key,
        mode=mode,
        sample=sample,
        reward_fn=reward_fn,
        slabs=particles if mode == "tsinf" else None,
    )
    return imagined.returns.reshape(particles, candidates).mean(axis=0)
