"""Device set-up: on a CPU host, one XLA device per core so ensembles can use every core.

XLA's CPU backend runs a program's small per-step kernels on one thread; exposing each core as a
device lets `training.member_sharding` give each core its own share of the ensemble members.
This must happen before JAX creates its backends (before the first computation).
"""

from __future__ import annotations

import os


def use_all_cpu_cores(count: int | None = None) -> bool:
    """Ask JAX for `count` (default: every core) CPU devices; False if JAX had already started."""
    import jax
    from jax._src import xla_bridge  # no public API tells whether backends exist yet

    if xla_bridge.backends_are_initialized():
        return False
    jax.config.update("jax_num_cpu_devices", count or os.cpu_count() or 1)
    return True
