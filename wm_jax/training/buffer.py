"""A fixed-capacity device buffer of transitions whose valid size is a traced value.

The engine's compiled programs take a `Buffer` of `capacity` rows with `size` of them valid, so a
dataset that grows (the model-based RL loop adds transitions every iteration) reuses the same
compiled program until it outgrows the capacity; then the capacity doubles (at least), so a
run recompiles only O(log N) times. Rows past `size` are zeros and are never used.

Actions stay raw (int32 indices or float vectors) and are encoded per minibatch by the engine.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from ..transitions import Transitions


class Buffer(NamedTuple):
    """rows: a Transitions of `capacity` rows (states, actions, next_states, rewards, terminated); size: int32 ()."""

    rows: Transitions
    size: jax.Array

    @property
    def capacity(self) -> int:
        return self.rows.states.shape[0]


def _device_rows(data: Transitions) -> Transitions:
    """The fields the engine uses, as device arrays; missing rewards and termination flags are zeros."""
    n = data.states.shape[0]
    actions = jnp.asarray(data.actions)
    actions = actions.astype(jnp.float32) if actions.dtype.kind == "f" else actions.astype(jnp.int32)
    rewards = jnp.zeros(n, jnp.float32) if data.rewards is None else jnp.asarray(data.rewards, jnp.float32)
    terminated = jnp.zeros(n, bool) if data.terminated is None else jnp.asarray(data.terminated, bool)
    return Transitions(
        jnp.asarray(data.states, jnp.float32), actions, jnp.asarray(data.next_states, jnp.float32), rewards, terminated
    )


def to_buffer(data: Transitions, capacity: int | None = None) -> Buffer:
    """A buffer holding `data`, with `capacity` rows (default: exactly the data's)."""
    rows = _device_rows(data)
    n = rows.states.shape[0]
    capacity = n if capacity is None else capacity
    if capacity < n:
        raise ValueError(f"capacity {capacity} is smaller than the {n} rows given")
    pad = lambda x: jnp.concatenate([x, jnp.zeros((capacity - n, *x.shape[1:]), x.dtype)]) if capacity > n else x  # noqa: E731
    return Buffer(jax.tree.map(pad, rows), jnp.int32(n))


@jax.jit
def _write(rows: Transitions, new: Transitions, at: jax.Array) -> Transitions:
    return jax.tree.map(lambda old, x: jax.lax.dynamic_update_slice_in_dim(old, x.astype(old.dtype), at, 0), rows, new)


def append(buffer: Buffer, data: Transitions) -> Buffer:
    """`buffer` with `data`'s rows added after its valid ones; the capacity at least doubles when they do not fit."""
    new = _device_rows(data)
    n, size = new.states.shape[0], int(buffer.size)
    if size + n > buffer.capacity:
        capacity = max(2 * buffer.capacity, size + n)
        grown = to_buffer(valid_rows(buffer), capacity)
        return Buffer(_write(grown.rows, new, jnp.int32(size)), jnp.int32(size + n))
    return Buffer(_write(buffer.rows, new, jnp.int32(size)), jnp.int32(size + n))


def valid_rows(buffer: Buffer) -> Transitions:
    """The valid rows (host-side slices)."""
    size = int(buffer.size)
    return jax.tree.map(lambda x: np.asarray(x[:size]), buffer.rows)
