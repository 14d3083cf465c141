"""Device set-up: on a CPU host, one XLA device per core so ensembles can use every core.

XLA's CPU backend runs a program's small per-step kernels on one thread; exposing each core as a
device lets a `training.training_mesh` give each core its own share of the ensemble members.
This must happen before JAX creates its backends (before the first computation). A device count
the user already chose (JAX_NUM_CPU_DEVICES, or XLA_FLAGS=--xla_force_host_platform_device_count)
is left alone.
"""

from __future__ import annotations

import dataclasses
import os

USER_SETTINGS = ("JAX_NUM_CPU_DEVICES",)
USER_XLA_FLAG = "xla_force_host_platform_device_count"


def user_chose_cpu_devices() -> bool:
    """True when the environment already fixes the CPU device count."""
    return any(os.environ.get(name) for name in USER_SETTINGS) or USER_XLA_FLAG in os.environ.get("XLA_FLAGS", "")


def use_all_cpu_cores(count: int | None = None) -> bool:
    """Ask JAX for `count` (default: every core) CPU devices; False if JAX had already started or
    the user's environment set the count (an explicit `count` still wins over the environment)."""
    import jax
    from jax._src import xla_bridge  # no public API tells whether backends exist yet

    if xla_bridge.backends_are_initialized() or (count is None and user_chose_cpu_devices()):
        return False
    jax.config.update("jax_num_cpu_devices", count or os.cpu_count() or 1)
    return True


@dataclasses.dataclass(frozen=True, kw_only=True)
class DeviceOptions:
    """The commands' device flag (a base of the CLI's command dataclasses); see `training.training_mesh`."""

    devices: int = 0
    """train on the first N devices (0: all of them; a CPU host shows one device per core)"""

    def mesh(self, members: int | None = None, data_shards: int = 1):
        """The command's `training.training_mesh` (by default no more member groups than `members`)."""
        from .training import training_mesh

        return training_mesh(self.devices, data_shards, members)
