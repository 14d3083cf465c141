"""Where the members of the PETS-size ensemble run on a CPU host: seconds per epoch of the engine with
the members over one device per core, over fewer devices, or with each minibatch split over devices.

    python -m bench.layouts                  # the default layouts below
    python -m bench.layouts 7:2,1 8:2,1      # MEMBERS:DEVICES,DATA_SHARDS ("none" for one device)

Rows are interleaved in one process (A, B, C, A, B, C, ...) so machine noise hits them alike; GFLOP/s
count the same matmuls and Adam as `bench.realistic` (scaled by the members each row trains).
Results and what they mean: bench/NOTES.md ("balancing 7 members over 2 devices").
"""

from __future__ import annotations

import functools
import statistics
import sys
import time

DEFAULT = ("7:2,1", "8:2,1", "6:2,1", "7:none", "7:2,2")


def _engine(members: int, mesh_arg: str, size, data):
    import jax
    import numpy as np

    from wm_jax.config import ModelConfig, TrainConfig
    from wm_jax.models import ModelSpec
    from wm_jax.training import TrainingData, fit_normalizer_for, make_train, to_buffer, training_mesh
    from wm_jax.transitions import Transitions

    from . import realistic

    model = ModelConfig(kind="ensemble", members=members, hidden_sizes=realistic.HIDDEN, probabilistic=True)
    spec = ModelSpec(realistic.STATE_DIM, realistic.ACTION_DIM, model)
    train = TrainConfig(epochs=size.epochs, batch_size=realistic.BATCH, bootstrap=True)
    mesh = None
    if mesh_arg != "none":
        devices, data_shards = (int(x) for x in mesh_arg.split(","))
        mesh = training_mesh(devices=devices, data=data_shards)
    program = make_train(spec, train, mesh=mesh)
    transitions = Transitions(*data)
    buffer = TrainingData(to_buffer(transitions))
    normalizer = fit_normalizer_for(spec, transitions)
    key, run_key = jax.random.key(0), jax.random.key(1)
    begin = jax.jit(lambda k: program.start(program.init(k), run_key, normalizer)).lower(key).compile()
    chunk = jax.jit(functools.partial(program.train_chunk, epochs=size.epochs)).lower(begin(key), buffer).compile()
    state = [begin(key)]

    def run() -> None:
        state[0], metrics = chunk(state[0], buffer)
        np.asarray(metrics.loss_curve)

    return run


def main(argv: list[str]) -> None:
    from wm_jax.devices import use_all_cpu_cores

    use_all_cpu_cores()
    from . import realistic
    from .machine import matmul_peak_gflops

    size = realistic.Size(epochs=2)
    data = realistic._data(size, 0)
    rows = {}
    for arg in argv or DEFAULT:
        members, mesh_arg = arg.split(":")
        rows[arg] = (int(members), _engine(int(members), mesh_arg, size, data))
    peak = matmul_peak_gflops()
    for _, run in rows.values():  # warm-up
        run()
    times = {arg: [] for arg in rows}
    for _ in range(size.repeats):
        for arg, (_, run) in rows.items():
            start = time.perf_counter()
            run()
            times[arg].append((time.perf_counter() - start) / size.epochs)
    print(f"float32 matmul peak {peak:.1f} GFLOP/s (2048 x 2048, all cores)")
    flops_of_seven = realistic.epoch_flops(size)
    for arg, (members, _) in rows.items():
        seconds = statistics.median(times[arg])
        gflops = flops_of_seven * members / realistic.MEMBERS / seconds / 1e9
        print(f"{arg:10s} {seconds:.3f} s/epoch  {gflops:6.1f} GFLOP/s  {100 * gflops / peak:5.1f}% of peak")


if __name__ == "__main__":
    main(sys.argv[1:])
