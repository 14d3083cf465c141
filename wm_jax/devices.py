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


def jax_backends_started() -> bool:
    """Whether JAX has created its backends, after which its device count is fixed. No public API
    tells, so this is the one place that asks JAX's private `xla_bridge`; a test fails if it moves."""
    from jax._src import xla_bridge

    return xla_bridge.backends_are_initialized()


def check_memory(needed: int, what: str) -> None:
    """Refuse, before any work, `what` needing `needed` bytes, over half of this machine's memory (a step that
    writes into a buffer may hold a second copy of it): one line, where the kernel would kill the run without
    one, or XLA on a CPU wait forever for an allocation that cannot succeed."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, OSError, ValueError):  # a platform that does not tell
        return
    if needed > total // 2:
        from .errors import UserError

        raise UserError(
            f"{what} takes {needed / 1e9:,.1f} GB, over half of this machine's {total / 1e9:,.1f} GB of memory; "
            "ask for less"
        )


def use_all_cpu_cores(count: int | None = None) -> bool:
    """Ask JAX for `count` (default: every core) CPU devices; False if JAX had already started or
    the user's environment set the count (an explicit `count` still wins over the environment)."""
    import jax

    if jax_backends_started() or (count is None and user_chose_cpu_devices()):
        return False
    jax.config.update("jax_num_cpu_devices", count or os.cpu_count() or 1)
    return True


@dataclasses.dataclass(frozen=True, kw_only=True)
class DeviceOptions:
    """The commands' device flag (a base of the CLI's command dataclasses); see `training.training_mesh`."""

    devices: int = 0
    """train on the first N devices (0: all of them; a CPU host shows one device per core); with several
    processes, N counts the devices of all of them"""

    def mesh(self, members: int | None = None, data_shards: int = 1):
        """The command's `training.training_mesh` (by default no more member groups than `members`)."""
        from .training import training_mesh

        return training_mesh(self.devices, data_shards, members)


@dataclasses.dataclass(frozen=True, kw_only=True)
class DistributedOptions(DeviceOptions):
    """Device flags plus the multi-process ones (`wm-jax train`); see `start_distributed`."""

    coordinator: str | None = None
    """multi-host: HOST:PORT of process 0, which every process of the run reaches (jax.distributed)"""
    num_processes: int = 1
    """multi-host: how many processes take part (each runs the same command)"""
    process_id: int = 0
    """multi-host: this process's index, 0 .. num_processes-1 (process 0 alone writes files)"""
    cluster: bool = False
    """multi-host: let jax.distributed read all three from the cluster's launcher (SLURM, Open MPI, ...)"""


def start_distributed(options: DistributedOptions) -> bool:
    """Join a multi-process run when the options ask for one; True if this process is part of one.

    Must run before JAX's first computation. Explicit flags win; `cluster` lets JAX detect SLURM,
    Open MPI or Kubernetes settings itself. Every process runs the same program over the devices
    of all processes (`jax.devices()`), and only process 0 writes files.
    """
    import jax

    from .errors import UserError

    if options.coordinator is None and not options.cluster:
        if options.num_processes != 1 or options.process_id != 0:
            raise UserError("--num-processes and --process-id need --coordinator HOST:PORT (or --cluster)")
        return False
    if jax_backends_started():  # a library caller that computed before asking (the CLI never does)
        raise UserError("a multi-process run must be joined before JAX's first computation in this process")
    if options.coordinator is not None:
        if options.num_processes < 1 or not 0 <= options.process_id < options.num_processes:
            raise UserError(
                f"--process-id must be in 0..{options.num_processes - 1} with --num-processes "
                f"{options.num_processes}, got {options.process_id}"
            )
        host, _, port = options.coordinator.rpartition(":")
        if not host or not port.isdigit():
            raise UserError(f"--coordinator must be HOST:PORT, got {options.coordinator!r}")
        jax.distributed.initialize(
            options.coordinator, options.num_processes, options.process_id, cluster_detection_method="deactivate"
        )
    else:
        try:
            jax.distributed.initialize()
        except ValueError as error:  # no launcher's settings in the environment to detect
            raise UserError(
                f"--cluster found no cluster launcher's settings (SLURM, Open MPI, Kubernetes) here "
                f"({error}); outside one, give --coordinator HOST:PORT, --num-processes and "
                "--process-id"
            ) from None
    return True


def is_writer() -> bool:
    """True in the process that writes files: the only one, or process 0 of a multi-process run."""
    import jax

    return jax.process_index() == 0
