"""Peak memory of training: host RSS (and device memory where the backend reports it) for
ensembles of E members on N transitions, each row in a fresh process.

    python -m bench --only memory --json bench/results/memory-cpu-2core.json \\
        --markdown bench/results/memory-cpu-2core.md

Each row trains one epoch of the tutorial recipe (batch 32, Adam) on N synthetic CartPole-shaped
rows (4 state dims, a Discrete(2) action) with the engine on one device. Memory does not grow with
epochs: the engine holds the data once, the parameters and Adam's two moments once per member,
and one minibatch at a time. "baseline" is the process after importing JAX and building the data,
so "training" = peak - baseline is what the run itself added.
"""

from __future__ import annotations

import json
import subprocess
import sys

FULL_GRID = ((5, 10_000), (5, 1_000_000), (64, 10_000), (64, 100_000), (64, 1_000_000), (256, 10_000), (256, 1_000_000))
QUICK_GRID = ((2, 1_000),)

_PROBE = r"""
import json, sys, time
members, n = int(sys.argv[1]), int(sys.argv[2])
import jax, numpy as np
from wm_jax.config import ModelConfig, TrainConfig
from wm_jax.models import ModelSpec
from wm_jax.training import TrainingData, make_train, to_buffer, train_timed
from wm_jax.transitions import Transitions

def high_water_mark():
    # VmHWM belongs to this process's address space; getrusage's ru_maxrss would carry over the
    # peak of the parent that forked it (Linux keeps it across exec).
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))

rng = np.random.default_rng(0)
data = Transitions(rng.normal(size=(n, 4)).astype(np.float32), rng.integers(0, 2, (n, 1)).astype(np.int32),
                   rng.normal(size=(n, 4)).astype(np.float32))
buffer = TrainingData(to_buffer(data))
jax.block_until_ready(buffer)
baseline = high_water_mark()
spec = ModelSpec(4, 1, ModelConfig(kind="ensemble" if members > 1 else "simple", members=members))
start = time.perf_counter()
run = train_timed(make_train(spec, TrainConfig(epochs=1)), jax.random.key(0), buffer)
jax.block_until_ready(run.state)
seconds = time.perf_counter() - start
peak = high_water_mark()
stats = jax.devices()[0].memory_stats() or {}
print(json.dumps({"members": members, "transitions": n, "baseline_bytes": baseline, "peak_host_bytes": peak,
                  "device_peak_bytes": stats.get("peak_bytes_in_use"), "platform": jax.devices()[0].platform,
                  "seconds": seconds}))
"""


def run(quick: bool = False, log=print) -> list[dict]:
    rows = []
    for members, n in QUICK_GRID if quick else FULL_GRID:
        out = subprocess.run(
            [sys.executable, "-c", _PROBE, str(members), str(n)], capture_output=True, text=True, timeout=1800
        )
        if out.returncode != 0:
            raise RuntimeError(f"memory probe E={members} N={n} failed: {out.stderr[-2000:]}")
        row = json.loads(out.stdout.strip().splitlines()[-1])
        row["training_bytes"] = row["peak_host_bytes"] - row["baseline_bytes"]
        # What the run must hold at least: the rows (float32 states, next states, rewards, int32
        # actions, bool flags) and, per member, parameters + gradients + two Adam moments.
        params = 5 * 64 + 64 + 64 * 32 + 32 + 32 * 4 + 4
        row["data_bytes"] = n * (4 * 4 * 2 + 4 + 4 + 1)
        row["member_state_bytes"] = members * params * 4 * 4  # float32 params, gradients, two Adam moments
        rows.append(row)
        log(
            f"  E={members:<4d} N={n:<8d} peak RSS {row['peak_host_bytes'] / 2**20:,.0f} MiB "
            f"(baseline {row['baseline_bytes'] / 2**20:,.0f} MiB, training +{row['training_bytes'] / 2**20:,.0f} MiB), "
            f"{row['seconds']:.1f} s"
        )
    return rows


def markdown(rows: list[dict]) -> str:
    lines = [
        "| E | N | peak host RSS | after imports + data | added by training | data (lower bound) | device peak |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        device = "n/a (CPU)" if r["device_peak_bytes"] is None else f"{r['device_peak_bytes'] / 2**20:,.0f} MiB"
        lines.append(
            f"| {r['members']} | {r['transitions']:,} | {r['peak_host_bytes'] / 2**20:,.0f} MiB | "
            f"{r['baseline_bytes'] / 2**20:,.0f} MiB | {r['training_bytes'] / 2**20:,.0f} MiB | "
            f"{r['data_bytes'] / 2**20:,.1f} MiB | {device} |"
        )
    return "\n".join(lines) + "\n"
