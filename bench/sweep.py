"""A hyperparameter sweep in one program against one configuration's training, in one process.

    python -m bench --only sweep --json bench/results/sweep-cpu-2core.json \\
        --markdown bench/results/sweep-cpu-2core.md

Workload: the tutorial's simple model (one member per configuration, `wm-jax sweep`'s default) and
its ensemble (E=5) on 10,000 CartPole transitions, batch 32, `epochs` epochs.
"one configuration" is what `wm-jax train` runs (`training.fit`, members split over the CPU
devices); "sweep of C" is `training.sweep.run_sweep` (what `wm-jax sweep` runs) over C
configurations = learning rates x weight decays x seeds, configurations split over the devices.
Training seconds exclude compilation (reported beside); the ratio is sweep / one configuration,
medians of interleaved repeats. Training C configurations one after another would cost C times one.
"""

from __future__ import annotations

import statistics

import jax

from wm_jax.config import ModelConfig, TrainConfig
from wm_jax.data import collect_transitions, split_by_episode
from wm_jax.models import spec_for_data
from wm_jax.training import fit, training_mesh
from wm_jax.training.sweep import SweepGrid, run_sweep

GRIDS = {  # configurations: (learning rates, weight decays, seeds)
    8: ((1e-3, 3e-3), (0.0, 1e-4), (0, 1)),
    64: ((3e-4, 1e-3, 3e-3, 1e-2), (0.0, 1e-4), tuple(range(8))),
}


def run(epochs: int = 10, transitions: int = 10_000, repeats: int = 3, quick: bool = False, log=print) -> dict:
    """Rows for single models (the tutorial's simple model, `wm-jax sweep`'s default) and for E=5 ensembles."""
    if quick:
        epochs, transitions, repeats = 2, 500, 1
    data = collect_transitions("CartPole-v1", seed=0, transitions=transitions)  # raw actions, episode ids
    parts = split_by_episode(data, 0.1, seed=0)
    config = TrainConfig(epochs=epochs)
    sizes = [8] if quick else [64]
    rows = []
    for members in (1,) if quick else (1, 5):
        spec = spec_for_data(
            "CartPole-v1", parts.train, ModelConfig(kind="ensemble" if members > 1 else "simple", members=members)
        )
        grids = {size: SweepGrid(*GRIDS[size]) for size in sizes}
        times = {"one configuration": [], **{f"sweep of {size}": [] for size in grids}}
        compile_seconds = {name: [] for name in times}
        for _ in range(repeats):  # interleaved, so load on the shared host hits every row alike
            fitted = fit(spec, config, parts.train, 0, mesh=training_mesh(members=members))
            times["one configuration"].append(fitted.train_seconds)
            compile_seconds["one configuration"].append(fitted.compile_seconds)
            for size, grid in grids.items():
                result = run_sweep(
                    spec, config, parts.train, grid, validation=parts.held_out, mesh=training_mesh(members=len(grid))
                )
                times[f"sweep of {size}"].append(result.train_seconds)
                compile_seconds[f"sweep of {size}"].append(result.compile_seconds)
        one = statistics.median(times["one configuration"])
        for name, seconds in times.items():
            configurations = 1 if name == "one configuration" else int(name.split()[-1])
            median = statistics.median(seconds)
            rows.append(
                {
                    "row": name,
                    "configurations": configurations,
                    "members_per_configuration": members,
                    "seconds": median,
                    "all_seconds": seconds,
                    "compile_seconds": statistics.median(compile_seconds[name]),
                    "ratio_to_one": median / one,
                    "seconds_per_configuration": median / configurations,
                }
            )
            log(
                f"  E={members} {name}: {median:.2f} s training ({median / one:.1f}x one configuration), "
                f"{rows[-1]['compile_seconds']:.2f} s compiling"
            )
    return {"epochs": epochs, "transitions": parts.train.size, "devices": len(jax.devices()), "rows": rows}


def markdown(sweep: dict) -> str:
    lines = [
        f"{sweep['transitions']:,} training transitions, {sweep['epochs']} epochs, batch 32, "
        f"{sweep['devices']} CPU device(s).",
        "",
        "| members per configuration | run | configurations | training s (median) | x one configuration | s per configuration | compile s |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in sweep["rows"]:
        lines.append(
            f"| {r['members_per_configuration']} | {r['row']} | {r['configurations']} | {r['seconds']:.2f} | {r['ratio_to_one']:.1f}x | "
            f"{r['seconds_per_configuration']:.3f} | {r['compile_seconds']:.2f} |"
        )
    return "\n".join(lines)
