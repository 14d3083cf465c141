"""Where the members of the PETS-size ensemble run on a CPU host: seconds per epoch of the engine with
the members over one device per core, over fewer devices, or with each minibatch split over devices.

    python -m bench.layouts                  # the default layouts below
    python -m bench.layouts 7:2,1 8:2,1      # MEMBERS:DEVICES,DATA_SHARDS ("none" for one device)

Rows are interleaved in one process (A, B, C, A, B, C, ...) so machine noise hits them alike; GFLOP/s
count the same matmuls and Adam as `bench.realistic` (scaled by the members each row trains).
Results and what they mean: bench/NOTES.md ("balancing 7 members over 2 devices").
"""

from __future__ import annotations

import statistics
import sys

DEFAULT = ("7:2,1", "8:2,1", "6:2,1", "7:none", "7:2,2")


def _mesh(arg: str):
    """ "DEVICES,DATA_SHARDS" as a `training_mesh`, or "none" for one device."""
    from wm_jax.training import training_mesh

    if arg == "none":
        return None
    devices, data_shards = (int(x) for x in arg.split(","))
    return training_mesh(devices=devices, data=data_shards)


def main(argv: list[str]) -> None:
    from wm_jax.devices import use_all_cpu_cores

    use_all_cpu_cores()
    from . import realistic
    from .machine import matmul_peak_gflops

    size = realistic.Size(epochs=2)
    data = realistic._data(size, 0)
    members, runners = {}, {}
    for arg in argv or DEFAULT:
        count, mesh = arg.split(":")
        members[arg] = int(count)
        runners[arg], _ = realistic.jax_engine(size, data, 0, members=int(count), mesh=_mesh(mesh))
    peak = matmul_peak_gflops()
    times = realistic.interleaved_seconds_per_epoch(runners, size)
    print(f"float32 matmul peak {peak:.1f} GFLOP/s (2048 x 2048, all cores)")
    flops_of_seven = realistic.epoch_flops(size)
    for arg, count in members.items():
        seconds = statistics.median(times[arg])
        gflops = flops_of_seven * count / realistic.MEMBERS / seconds / 1e9
        print(f"{arg:10s} {seconds:.3f} s/epoch  {gflops:6.1f} GFLOP/s  {100 * gflops / peak:5.1f}% of peak")


if __name__ == "__main__":
    main(sys.argv[1:])
