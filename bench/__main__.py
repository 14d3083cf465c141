"""`python -m bench`: train the same ensembles with every implementation in one process and compare;
then collect CartPole data with gymnasium and with JAX and compare transitions per second.

    python -m bench --json bench/results/cpu-2core.json --markdown bench/results/cpu-2core.md \
        --plot bench/results/cpu-2core.png
    python -m bench --only collection --json bench/results/collection-cpu-2core.json \
        --markdown bench/results/collection-cpu-2core.md
    python -m bench --only memory --json bench/results/memory-cpu-2core.json \
        --markdown bench/results/memory-cpu-2core.md
    python -m bench --only latency --json bench/results/latency-cpu-2core.json \
        --markdown bench/results/latency-cpu-2core.md
    python -m bench --only sweep --json bench/results/sweep-cpu-2core.json \
        --markdown bench/results/sweep-cpu-2core.md
    python -m bench --only realistic --json bench/results/realistic-cpu-2core.json \
        --markdown bench/results/realistic-cpu-2core.md
    python -m bench --quick --json /tmp/bench.json      # CI: checks it runs, asserts no speed
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time

from . import collection as collection_bench
from . import engine as engine_bench
from . import latency as latency_bench
from . import machine as machine_info
from . import memory as memory_bench
from . import planning as planning_bench
from . import realistic as realistic_bench
from . import report
from . import sweep as sweep_bench
from .workload import Workload, cartpole_transitions, run_flops

ALL_IMPLS = ("torch-loop", "torch-vmap", "torch-bmm", "torch-compile", "jax-naive", "jax-engine-1dev", "jax-engine")
QUICK_IMPLS = ("torch-loop", "torch-vmap", "torch-bmm", "jax-naive", "jax-engine")


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--quick", action="store_true", help="tiny workload for CI (under a minute)")
    p.add_argument("--json", help="write results JSON here")
    p.add_argument("--markdown", help="write a Markdown table here")
    p.add_argument("--plot", help="write a PNG plot here")
    p.add_argument("--members", type=int, nargs="+", help="ensemble sizes (default 1 5 16 64 256)")
    p.add_argument("--transitions", type=int, help="dataset size of the members sweep (default 10000)")
    p.add_argument(
        "--sweep-transitions",
        type=int,
        nargs="*",
        help="dataset sizes of the size sweep (default 1000 3000 10000 30000)",
    )
    p.add_argument("--sweep-members", type=int, default=5, help="ensemble size of the dataset-size sweep")
    p.add_argument("--epochs", type=int, help="epochs (default 100, the tutorial's)")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--repeats", type=int, default=3, help="timed runs per row (median reported)")
    p.add_argument("--budget", type=float, help="seconds of timed runs per row before epochs are cut (default 30)")
    p.add_argument("--impls", nargs="+", choices=ALL_IMPLS, help="implementations to run (default all)")
    p.add_argument(
        "--sweep-impls",
        nargs="+",
        choices=ALL_IMPLS,
        help="implementations of the dataset-size sweep (default torch-loop torch-bmm jax-engine)",
    )
    p.add_argument("--torch-threads", type=int, help="torch threads (default: the faster of 1 and the core count)")
    p.add_argument("--no-cache-check", action="store_true", help="skip the two-process compilation-cache measurements")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--only",
        choices=("training", "collection", "engine", "planning", "memory", "latency", "sweep", "realistic"),
        help="run one section (default: all)",
    )
    p.add_argument("--collection-transitions", type=int, help="N of the jax-native and 1M scale rows (default 1000000)")
    p.add_argument("--collection-gymnasium-transitions", type=int, help="N of the gymnasium rows (default 100000)")
    p.add_argument("--collection-num-envs", type=int, help="K of the gymnasium sync vector row (default 64)")
    p.add_argument(
        "--collection-modes", nargs="*", choices=("sync", "async"), help="gymnasium vector modes (default sync async)"
    )
    args = p.parse_args(argv)
    quick = args.quick
    args.members = args.members or ([1, 4] if quick else [1, 5, 16, 64, 256])
    args.transitions = args.transitions or (500 if quick else 10_000)
    if args.sweep_transitions is None:
        args.sweep_transitions = [200, 500] if quick else [1_000, 3_000, 10_000, 30_000]
    args.epochs = args.epochs or (3 if quick else 100)
    args.budget = args.budget or (5.0 if quick else 30.0)
    args.impls = args.impls or list(QUICK_IMPLS if quick else ALL_IMPLS)
    args.sweep_impls = [i for i in (args.sweep_impls or ("torch-loop", "torch-bmm", "jax-engine")) if i in args.impls]
    if quick:
        args.repeats = min(args.repeats, 2)
        args.sweep_members = min(args.sweep_members, 2)
    plan = collection_bench.CollectionPlan.quick() if quick else collection_bench.CollectionPlan(repeats=args.repeats)
    overrides = {
        "scale_transitions": args.collection_transitions,
        "loop_transitions": args.collection_gymnasium_transitions,
        "vector_transitions": args.collection_gymnasium_transitions,
        "num_envs": args.collection_num_envs,
        "vector_modes": tuple(args.collection_modes) if args.collection_modes is not None else None,
    }
    if args.no_cache_check:
        overrides["cache_check"] = False
    args.collection_plan = dataclasses.replace(
        plan, seed=args.seed, **{k: v for k, v in overrides.items() if v is not None}
    )
    return args


_CACHE_PROBE = """
import json, sys, time
from wm_jax.devices import use_all_cpu_cores
use_all_cpu_cores()
import jax, numpy as np
from wm_jax.compilation import enable_persistent_cache
enable_persistent_cache(sys.argv[1])
from wm_jax.config import ModelConfig, TrainConfig
from wm_jax.models import ModelSpec
from wm_jax.training import as_batch, make_train, training_mesh
rng = np.random.default_rng(0)
n = int(sys.argv[2])
batch = as_batch(rng.normal(size=(n, 4)), rng.integers(0, 2, (n, 1)).astype(np.float32), rng.normal(size=(n, 4)))
program = make_train(ModelSpec(4, 1, ModelConfig(kind="ensemble", members=5)), TrainConfig(), n, mesh=training_mesh(members=5))
key = jax.random.key(0)
start = time.perf_counter()
jax.jit(program.__call__).lower(key, batch).compile()
print(json.dumps({"seconds": time.perf_counter() - start}))
"""


def measure_compile_cache(transitions: int) -> dict:
    """Compile the E=5 tutorial program in two fresh processes sharing an empty cache directory."""
    with tempfile.TemporaryDirectory() as cache_dir:
        times = []
        for _ in range(2):
            out = subprocess.run(
                [sys.executable, "-c", _CACHE_PROBE, cache_dir, str(transitions)],
                check=True,
                capture_output=True,
                text=True,
            )
            times.append(json.loads(out.stdout.strip().splitlines()[-1])["seconds"])
    return {"members": 5, "transitions": transitions, "cold_seconds": times[0], "warm_seconds": times[1]}


def run_row(impl: str, w: Workload, data, args, sweep: str, skip_note: str | None) -> dict:
    from .impls_jax import IMPLS as JAX_IMPLS
    from .impls_torch import IMPLS as TORCH_IMPLS

    row = {
        "impl": impl,
        "members": w.members,
        "transitions": w.transitions,
        "epochs": None,
        "batch_size": w.batch_size,
        "sweep": sweep,
    }
    if skip_note:
        return {
            **row,
            "seconds": None,
            "compile_seconds": None,
            "member_steps_per_s": None,
            "gflops": None,
            "final_mse": None,
            "note": skip_note,
        }
    fn = {**TORCH_IMPLS, **JAX_IMPLS}[impl]
    m = fn(w, data, args.seed, args.repeats, args.budget)
    done = w.with_epochs(m.epochs)
    row.update(
        epochs=m.epochs,
        seconds=m.seconds,
        seconds_per_epoch=m.seconds / m.epochs,
        compile_seconds=m.compile_seconds,
        member_steps_per_s=done.members * done.steps_per_epoch * done.epochs / m.seconds,
        gflops=run_flops(done) / m.seconds / 1e9,
        final_mse=m.final_mse,
        repeats=m.repeats,
        all_seconds=m.all_seconds,
        note=m.note,
    )
    return row


def main(argv=None) -> int:
    args = parse_args(argv)
    from wm_jax.devices import use_all_cpu_cores

    # Before JAX starts: one CPU device per core, so jax-engine can shard members over cores.
    use_all_cpu_cores()

    from .impls_torch import choose_threads

    started = time.perf_counter()
    cores = os.cpu_count() or 1
    training = args.only in (None, "training")
    if not training:
        args.impls = []
    datasets = (
        {n: cartpole_transitions(n, seed=args.seed) for n in sorted({args.transitions, *args.sweep_transitions})}
        if training
        else {}
    )
    uses_torch = any(i.startswith("torch") for i in args.impls)
    if args.torch_threads:
        import torch

        torch.set_num_threads(args.torch_threads)
        threads, thread_probe = args.torch_threads, None
    elif uses_torch:
        threads, thread_probe = choose_threads(datasets[args.transitions], cores)
    else:
        threads, thread_probe = None, None
    peak = machine_info.matmul_peak_gflops(n=512 if args.quick else 2048)
    machine = machine_info.describe(threads, peak)
    machine["torch_thread_probe_seconds"] = thread_probe
    print(
        f"bench: {machine['cpu_model']}, {cores} cores, matmul peak {peak:.1f} GFLOP/s, torch threads {threads}",
        file=sys.stderr,
    )

    plan = (
        [("members", Workload(e, args.transitions, args.epochs, args.batch_size)) for e in args.members]
        if training
        else []
    )
    plan += (
        [("transitions", Workload(args.sweep_members, n, args.epochs, args.batch_size)) for n in args.sweep_transitions]
        if training
        else []
    )
    results, per_member_epoch = [], {}
    for sweep, w in plan:
        for impl in args.impls if sweep == "members" else args.sweep_impls:
            skip = None
            # Loops cost ~E times one member; skip a row whose calibration epoch alone would blow the budget.
            if not impl.startswith("jax-engine") and impl in per_member_epoch:
                predicted = per_member_epoch[impl] * w.members * w.transitions
                if predicted > args.budget / 2:
                    skip = f"skipped: one epoch predicted at {predicted:.0f} s > budget {args.budget:.0f} s"
            row = run_row(impl, w, datasets[w.transitions], args, sweep, skip)
            if row.get("seconds") and not impl.startswith("jax-engine"):
                per_member_epoch[impl] = row["seconds_per_epoch"] / (w.members * w.transitions)
            results.append(row)
            shown = f"{row['seconds']:.3f} s ({row['epochs']} epochs)" if row.get("seconds") else row["note"]
            print(f"  {impl:14s} E={w.members:<4d} n={w.transitions:<6d} {shown}", file=sys.stderr, flush=True)
    report.add_ratios(results)
    cache = None if args.no_cache_check or "jax-engine" not in args.impls else measure_compile_cache(args.transitions)
    collection = None
    if args.only in (None, "collection"):
        print("collection:", file=sys.stderr, flush=True)
        collection = collection_bench.run(
            args.collection_plan, log=lambda line: print(line, file=sys.stderr, flush=True)
        )
    engine = None
    if args.only in (None, "engine"):
        print("engine options:", file=sys.stderr, flush=True)
        engine_epochs = 4 if args.quick else args.epochs
        engine = engine_bench.run(
            cartpole_transitions(args.transitions, seed=args.seed),
            epochs=engine_epochs,
            repeats=2 if args.quick else 5,
            seed=args.seed,
            log=lambda line: print(line, file=sys.stderr, flush=True),
        )
    planning = None
    if args.only in (None, "planning"):
        print("planning:", file=sys.stderr, flush=True)
        log = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731
        planning = [
            planning_bench.run(repeats=3 if args.quick else 30, batch=b, quick=args.quick, log=log) for b in (1, 20)
        ]
    memory = None
    if args.only in (None, "memory"):
        print("memory:", file=sys.stderr, flush=True)
        memory = memory_bench.run(quick=args.quick, log=lambda line: print(line, file=sys.stderr, flush=True))
    latency = None
    if args.only in (None, "latency"):
        print("latency (whole processes):", file=sys.stderr, flush=True)
        latency = latency_bench.run(quick=args.quick, log=lambda line: print(line, file=sys.stderr, flush=True))
    sweep = None
    if args.only in (None, "sweep"):
        print("sweep (one program against one configuration):", file=sys.stderr, flush=True)
        sweep = sweep_bench.run(quick=args.quick, log=lambda line: print(line, file=sys.stderr, flush=True))
    realistic = None
    if args.only in (None, "realistic"):
        print("the engine at PETS size:", file=sys.stderr, flush=True)
        size = realistic_bench.Size.quick() if args.quick else realistic_bench.Size()
        realistic = realistic_bench.run(
            size, peak, seed=args.seed, log=lambda line: print(line, file=sys.stderr, flush=True)
        )
    machine["bench_wall_seconds"] = round(time.perf_counter() - started, 1)
    if args.json:
        report.write_json(
            args.json, machine, results, cache, collection, engine, planning, memory, latency, sweep, realistic
        )
    text = report.markdown(machine, results, cache, collection, engine, planning, memory, latency, sweep, realistic)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text)
    if args.plot and results:
        report.plot(args.plot, machine, results)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
