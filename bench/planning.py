"""One MPC planning step, timed: CEM with 5 iterations of 500 candidates over a 30-step horizon,
scored in an E=5 CartPole ensemble with TS-inf (one particle per member), after compilation.

    python -m bench --only planning --json bench/results/planning-cpu-2core.json \\
        --markdown bench/results/planning-cpu-2core.md

FLOPs count the network's matmuls only (2 * sum of d_in * d_out per row and step), like the
training rows; rows = iterations * candidates * particles * horizon per planning step.
"""

from __future__ import annotations

import statistics
import time

import jax
import numpy as np

from wm_jax.config import ModelConfig, PlannerConfig
from wm_jax.models import ensemble_of, init_ensemble_params, spec_for_env
from wm_jax.planning.mpc import MPCAgent

from .workload import LAYER_SIZES


def run(repeats: int = 30, batch: int = 1, quick: bool = False, log=print) -> dict:
    config = PlannerConfig(horizon=30, candidates=500, iterations=5, particles=0, mode="tsinf")
    if quick:
        config = PlannerConfig(horizon=5, candidates=50, iterations=2)
    spec = spec_for_env("CartPole-v1", ModelConfig(kind="ensemble", members=5, delta=True, normalize=True))
    model = ensemble_of(spec, init_ensemble_params(spec, jax.random.key(0)))
    agent = MPCAgent(spec, "CartPole-v1", config)
    states = np.zeros((batch, 4), np.float32)
    plan = agent.init(batch)
    start = time.perf_counter()
    jax.block_until_ready(agent.act(model, states, plan, jax.random.key(0)))
    compile_seconds = time.perf_counter() - start
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(agent.act(model, states, plan, jax.random.key(i + 1)))
        times.append(time.perf_counter() - start)
    seconds = statistics.median(times)
    particles = config.particles or spec.config.members
    rows = config.iterations * config.candidates * particles * config.horizon * batch
    flops = rows * 2 * sum(i * o for i, o in zip(LAYER_SIZES[:-1], LAYER_SIZES[1:]))
    row = {
        "iterations": config.iterations,
        "candidates": config.candidates,
        "horizon": config.horizon,
        "members": spec.config.members,
        "particles": particles,
        "mode": config.mode,
        "states": batch,
        "seconds": seconds,
        "compile_seconds": compile_seconds,
        "gflops": flops / seconds / 1e9,
        "all_seconds": times,
    }
    log(
        f"  CEM step ({config.iterations} x {config.candidates} x H{config.horizon}, E=5 TS-inf, {batch} state(s)): "
        f"{seconds * 1e3:.1f} ms, {row['gflops']:.1f} GFLOP/s"
    )
    return row


def markdown(rows: list[dict], peak: float) -> str:
    lines = [
        "| planning step | states | ms (median) | GFLOP/s | % of matmul peak | compile s |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| CEM {r['iterations']} x {r['candidates']} candidates, H={r['horizon']}, E={r['members']} "
            f"{r['mode']} ({r['particles']} particles) | {r['states']} | {r['seconds'] * 1e3:.1f} | "
            f"{r['gflops']:.1f} | {100 * r['gflops'] / peak:.0f}% | {r['compile_seconds']:.2f} |"
        )
    return "\n".join(lines)
