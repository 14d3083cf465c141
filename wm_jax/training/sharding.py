"""Where training runs: a device mesh with a members axis and a data axis, passed in by the caller.

An ensemble's members never interact, so the member axis of parameters and optimizer state splits
over the mesh's "members" axis with no communication inside a step. The "data" axis splits each
minibatch's rows: every device computes its part of a member's loss and gradient, and XLA adds
the partial gradients across the axis (an all-reduce). The same program runs on one CPU, N CPU
devices, a GPU or several hosts: only the mesh differs.

On a CPU host, `devices.use_all_cpu_cores` exposes one XLA device per core; XLA's CPU backend
runs a program's small kernels on one thread, so that is how training uses every core (a 2-core
host trains E=64 about 2x faster; bench/NOTES.md). E need not divide the members axis: XLA pads
the uneven shard.

With several processes (`jax.distributed`), `jax.devices()` lists every process's devices, so
`training_mesh` spans all hosts; each process then runs the same program on its own shard.
"""

from __future__ import annotations

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from ..errors import UserError

MEMBERS_AXIS, DATA_AXIS = "members", "data"


class DeviceError(UserError):
    """More devices asked for than exist, or a data axis that does not divide them."""


def training_mesh(devices: int = 0, data: int = 1, members: int | None = None) -> Mesh | None:
    """A (members, data) mesh over the first `devices` of `jax.devices()`, or None for a single
    device (the program then carries no sharding at all).

    `data` devices share each member's minibatch; `devices // data` groups split the members.
    `devices=0` means all of them, or with `members` given, no more groups than members.
    """
    available = jax.devices()
    if devices < 0:
        raise DeviceError(f"--devices must be >= 0 (0: every device), got {devices}")
    if data < 1:
        raise DeviceError(f"--data-shards must be >= 1, got {data}")
    count = devices or (len(available) if members is None else min(len(available), members * data))
    if count > len(available):
        raise DeviceError(f"--devices {count}: only {len(available)} {available[0].platform} device(s) available")
    if count % data:
        raise DeviceError(f"--data-shards {data} does not divide {count} devices")
    if count == 1:
        return None
    grid = np.array(available[:count]).reshape(count // data, data)
    return Mesh(grid, (MEMBERS_AXIS, DATA_AXIS))


def member_sharding(mesh: Mesh) -> NamedSharding:
    """Leading member axis over the mesh's members axis (the rest replicated across the data axis)."""
    return NamedSharding(mesh, PartitionSpec(MEMBERS_AXIS))


def row_sharding(mesh: Mesh) -> NamedSharding:
    """A minibatch's leading row axis over the mesh's data axis."""
    return NamedSharding(mesh, PartitionSpec(DATA_AXIS))


def to_host(tree):
    """numpy copies of a pytree of (possibly sharded) arrays, whole in every process: with several
    processes an array split across them is gathered (a collective every process must join)."""
    if jax.process_count() == 1:
        return jax.device_get(tree)
    from jax.experimental import multihost_utils

    return multihost_utils.process_allgather(tree, tiled=True)
