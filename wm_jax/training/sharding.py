"""Where the ensemble's members live when the host has several devices."""

from __future__ import annotations

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec


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
