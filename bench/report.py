"""Bench outputs: ratio columns, the JSON document, a Markdown table and a PNG plot."""

from __future__ import annotations

import json
import math

REFERENCE = "torch-loop"
VECTORIZED_TORCH = ("torch-vmap", "torch-bmm", "torch-compile")


def add_ratios(results: list[dict]) -> None:
    """Speed-ups per epoch against torch-loop and the fastest vectorized torch row of the same workload.

    Rows compare seconds per epoch, so a row whose time budget cut its epochs still compares fairly.
    """
    for row in results:
        if row.get("seconds") is None:
            continue
        same = [
            r
            for r in results
            if r.get("seconds") and (r["members"], r["transitions"]) == (row["members"], row["transitions"])
        ]
        loop = [r for r in same if r["impl"] == REFERENCE]
        vec = [r for r in same if r["impl"] in VECTORIZED_TORCH]
        row["speedup_vs_torch_loop"] = loop[0]["seconds_per_epoch"] / row["seconds_per_epoch"] if loop else None
        if vec:
            best = min(vec, key=lambda r: r["seconds_per_epoch"])
            row["best_torch_vectorized"] = best["impl"]
            row["speedup_vs_best_torch_vectorized"] = best["seconds_per_epoch"] / row["seconds_per_epoch"]
        else:
            row["best_torch_vectorized"] = None
            row["speedup_vs_best_torch_vectorized"] = None


def write_json(
    path: str,
    machine: dict,
    results: list[dict],
    compile_cache: dict | None,
    collection: dict | None = None,
    engine: dict | None = None,
    planning: list | None = None,
    memory: list | None = None,
    latency: dict | None = None,
    sweep: dict | None = None,
    realistic: dict | None = None,
) -> None:
    sections = {
        "realistic": realistic,
        "sweep": sweep,
        "latency": latency,
        "memory": memory,
        "planning": planning,
        "engine": engine,
        "compile_cache": compile_cache,
        "collection": collection,
    }
    doc = {"machine": machine, "results": results, **{k: v for k, v in sections.items() if v is not None}}
    with open(path, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")


def _fmt(x, spec: str) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)


def markdown(
    machine: dict,
    results: list[dict],
    compile_cache: dict | None,
    collection: dict | None = None,
    engine: dict | None = None,
    planning: list | None = None,
    memory: list | None = None,
    latency: dict | None = None,
    sweep: dict | None = None,
    realistic: dict | None = None,
) -> str:
    peak = machine["matmul_peak_gflops"]
    title = (
        "# Ensemble training bench"
        if results
        else "# Data collection bench"
        if collection
        else "# Engine options bench"
        if engine
        else "# Planning bench"
        if planning
        else "# Memory bench"
        if memory
        else "# Latency bench"
        if latency
        else "# Sweep bench"
        if sweep
        else "# The engine at PETS size"
    )
    lines = [
        title,
        "",
        f"{machine['cpu_model']}, {machine['cpu_cores']} cores, JAX devices {', '.join(machine['jax_devices'])}, "
        f"torch threads {machine['torch_threads']}; measured float32 matmul peak **{peak:.1f} GFLOP/s**; "
        f"load average at start {', '.join(f'{x:.2f}' for x in machine['load_average_at_start'])}.",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in machine["versions"].items()) + ".",
    ]
    if results:
        lines += [
            "",
            "`seconds`: median of the timed runs of `epochs` epochs; speed-ups compare seconds per epoch of the same "
            "(members, transitions) workload in this run. `x vec` is against the fastest of torch-vmap / torch-bmm / "
            "torch-compile.",
        ]
    for title, key in (("Ensemble size (10,000 transitions unless noted)", "members"), ("Dataset size", "transitions")):
        rows = [r for r in results if r["sweep"] == key]
        if not rows:
            continue
        lines += [
            "",
            f"## {title}",
            "",
            "| impl | E | transitions | epochs | seconds | s/epoch | compile s | member-steps/s | GFLOP/s | % peak | final MSE | x torch-loop | x vec | note |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
        ]
        for r in rows:
            if r.get("seconds") is None:
                lines.append(
                    f"| {r['impl']} | {r['members']} | {r['transitions']} | — | — | — | — | — | — | — | — | — | — | {r['note']} |"
                )
                continue
            vec = r.get("speedup_vs_best_torch_vectorized")
            lines.append(
                f"| {r['impl']} | {r['members']} | {r['transitions']} | {r['epochs']} | {r['seconds']:.3f} | "
                f"{r['seconds_per_epoch']:.4f} | {_fmt(r['compile_seconds'], '.2f')} | {r['member_steps_per_s']:,.0f} | "
                f"{r['gflops']:.1f} | {100 * r['gflops'] / peak:.0f}% | {r['final_mse']:.2e} | "
                f"{_fmt(r.get('speedup_vs_torch_loop'), '.1f')} | "
                f"{_fmt(vec, '.1f')}{' (' + r['best_torch_vectorized'] + ')' if vec is not None else ''} | {r['note']} |"
            )
    if compile_cache:
        lines += [
            "",
            "## Compilation (jax-engine, E=5 tutorial workload, two fresh processes sharing a cache directory)",
            "",
            f"- first process (empty cache): {compile_cache['cold_seconds']:.2f} s to trace, lower and compile",
            f"- second process (persistent cache hit): {compile_cache['warm_seconds']:.2f} s",
        ]
    if collection:
        from .collection import markdown as collection_markdown

        lines += collection_markdown(collection)
    if engine:
        from .engine import markdown as engine_markdown

        lines += [
            "",
            "## Engine options (median seconds per epoch, rows interleaved; ratios within this run)",
            "",
            engine_markdown(engine),
        ]
    if planning:
        from .planning import markdown as planning_markdown

        lines += ["", "## Planning (one MPC step after compilation; median)", "", planning_markdown(planning, peak)]
    if memory:
        from .memory import markdown as memory_markdown

        lines += ["", "## Memory (one epoch in a fresh process per row, one device)", "", memory_markdown(memory)]
    if latency:
        from .latency import markdown as latency_markdown

        lines += ["", "## Latency: command to result, whole processes", "", latency_markdown(latency)]
    if sweep:
        from .sweep import markdown as sweep_markdown

        lines += [
            "",
            "## Sweep: every configuration in one program (training seconds; ratios within this run)",
            "",
            sweep_markdown(sweep),
        ]
    if realistic:
        from .realistic import markdown as realistic_markdown

        lines += ["", "## The engine at PETS size (rows interleaved in one process)", "", realistic_markdown(realistic)]
    return "\n".join(lines) + "\n"


def plot(path: str, machine: dict, results: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(17, 5))
    impls = sorted({r["impl"] for r in results if r.get("seconds")}, key=lambda s: (not s.startswith("torch"), s))
    for impl in impls:
        rows = sorted(
            (r for r in results if r["impl"] == impl and r["sweep"] == "members" and r.get("seconds")),
            key=lambda r: r["members"],
        )
        if rows:
            e = [r["members"] for r in rows]
            axes[0].plot(e, [r["seconds_per_epoch"] * 100 for r in rows], "o-", label=impl)
            axes[1].plot(e, [1e6 / r["member_steps_per_s"] for r in rows], "o-", label=impl)
        rows = sorted(
            (r for r in results if r["impl"] == impl and r["sweep"] == "transitions" and r.get("seconds")),
            key=lambda r: r["transitions"],
        )
        if rows:
            axes[2].plot(
                [r["transitions"] for r in rows], [r["seconds_per_epoch"] * 100 for r in rows], "o-", label=impl
            )
    axes[0].set(
        xscale="log",
        yscale="log",
        xlabel="ensemble members E",
        ylabel="seconds per 100 epochs",
        title="Tutorial workload (10k transitions, batch 32)",
    )
    axes[1].set(
        xscale="log", yscale="log", xlabel="ensemble members E", ylabel="µs per member-step", title="Per-member cost"
    )
    sweep_e = {r["members"] for r in results if r["sweep"] == "transitions"}
    axes[2].set(
        xscale="log",
        yscale="log",
        xlabel="transitions",
        ylabel="seconds per 100 epochs",
        title=f"Dataset size (E={', '.join(map(str, sorted(sweep_e)))})",
    )
    for ax in axes:
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(
        f"{machine['cpu_model']}, {machine['cpu_cores']} cores; matmul peak {machine['matmul_peak_gflops']:.0f} GFLOP/s"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
