"""Collection rows of the bench: random-policy CartPole-v1 transitions per second, gymnasium vs JAX.

All rows run in one process on the same machine, CartPole-v1, uniformly random actions, episodes
capped at 200 steps (the tutorial's cap), rows stored in preallocated numpy arrays:

    gymnasium-loop        `wm_jax.data.collect_dataset(backend="gymnasium")`: one gymnasium env
                          stepped at a time in Python (the project's gymnasium backend)
    gymnasium-vector-sync gymnasium's own vector API, `gymnasium.make_vec(..., vectorization_mode="sync")`
                          with K envs, `envs.action_space.sample()` per step; obs, actions and next obs
                          written into preallocated (T, K, ...) arrays
    gymnasium-vector-async the same with `vectorization_mode="async"` (one worker process per env,
                          started with the "spawn" context: forking a process that runs JAX's
                          threads can deadlock); fewer envs and rows, as it is IPC-bound
    jax-native            `wm_jax.data.collect_dataset(backend="jax")`: gymnax envs vmapped inside one
                          jitted lax.scan; the first call (trace + compile + run) and the warm call
                          (same shapes, another seed: the compiled program is reused) are reported apart

Rates are transitions per second of the timed collection call(s); a gymnasium vector env's
set-up (creating the K envs, and processes for async) is reported apart and not counted in its
rate. gymnasium's vector envs reset an env on the step after it ends (autoreset "next step"): that
step's action is ignored and its (terminal obs, reset obs) pair is no transition, so those rows are
masked out and not counted (they are ~1/22 of the steps for random CartPole).

Scale rows (N = 1,000,000 by default), timed after every import:

    collect+write (jax)   `collect_dataset(backend="jax", transitions=N)` through `save_dataset(dataset,
                          path)` finished (validation and the atomic write included); cold = the
                          first call with these shapes in the process (compiles), warm = the next
                          call with the same shapes (another seed). Target < 2 s.
                          Also, unless skipped, the cold call in a fresh process whose JAX persistent
                          compilation cache already holds the program (what `wm-jax collect` gets from
                          its second run on: the CLI turns the cache on); two subprocesses share an
                          empty temporary cache directory and the second one's time is reported.
    load+validate         `load_dataset(path)` (validates every field and the episode structure).
                          Target < 1 s. The file was just written, so it is in the page cache.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ENV_ID = "CartPole-v1"
MAX_EPISODE_STEPS = 200  # the tutorial's cap, as the project's collectors use by default
COLLECT_WRITE_TARGET_S = 2.0
LOAD_VALIDATE_TARGET_S = 1.0
RATIO_TARGET = 50.0


@dataclasses.dataclass(frozen=True)
class CollectionPlan:
    """Sizes of the collection rows. `scale_transitions` is also the jax-native row's N, so the
    scale row's cold call is that row's first call (one compile, counted once)."""

    loop_transitions: int = 100_000
    vector_transitions: int = 100_000
    # sync: 64 envs stepped ~1.6x faster than 16 per transition here (per-step overhead amortised).
    num_envs: int = 64
    vector_modes: tuple[str, ...] = ("sync", "async")
    # async: one process per env, so fewer of them on a small host, and fewer rows (it is ~10x slower).
    async_transitions: int = 20_000
    async_num_envs: int = 16
    scale_transitions: int = 1_000_000
    repeats: int = 3
    jax_repeats: int = 5  # warm jax-native calls take a fraction of a second: more of them
    cache_check: bool = True
    seed: int = 0

    @classmethod
    def quick(cls) -> CollectionPlan:
        return cls(
            loop_transitions=2_000,
            vector_transitions=2_000,
            num_envs=4,
            vector_modes=("sync", "async"),
            async_transitions=2_000,
            async_num_envs=2,
            scale_transitions=20_000,
            repeats=1,
            jax_repeats=2,
            cache_check=False,
        )


def _timed(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def _rate_row(name: str, transitions: int, times: list[float], **extra) -> dict:
    seconds = statistics.median(times)
    return {
        "row": name,
        "env_id": ENV_ID,
        "transitions": transitions,
        "seconds": seconds,
        "transitions_per_s": transitions / seconds,
        "repeats": len(times),
        "all_seconds": times,
        **extra,
    }


def gymnasium_loop_row(plan: CollectionPlan) -> dict:
    from wm_jax.data import collect_dataset

    times = []
    for r in range(plan.repeats):
        seconds, dataset = _timed(
            lambda r=r: collect_dataset(
                ENV_ID, backend="gymnasium", seed=plan.seed + r, transitions=plan.loop_transitions
            )
        )
        assert dataset.transitions.size == plan.loop_transitions
        times.append(seconds)
    return _rate_row(
        "gymnasium-loop",
        plan.loop_transitions,
        times,
        num_envs=1,
        note="collect_dataset(backend='gymnasium'); one env, one step at a time",
    )


def _vector_collect(envs, steps: int, seed: int) -> tuple[int, int]:
    """Step `envs` `steps` times with sampled actions into preallocated arrays; (transitions, env steps)."""
    k = envs.num_envs
    obs_shape = envs.single_observation_space.shape
    states = np.empty((steps, k, *obs_shape), np.float32)
    next_states = np.empty_like(states)
    actions = np.empty((steps, k), np.int32)
    valid = np.empty((steps, k), bool)
    envs.action_space.seed(seed)
    obs, _ = envs.reset(seed=seed)
    previous_done = np.zeros(k, bool)
    for t in range(steps):
        action = envs.action_space.sample()
        next_obs, _, terminated, truncated, _ = envs.step(action)
        states[t], actions[t], next_states[t] = obs, action, next_obs
        valid[t] = ~previous_done  # the step after an end is the autoreset step: no transition
        previous_done = terminated | truncated
        obs = next_obs
    return int(valid.sum()), steps * k


def gymnasium_vector_row(plan: CollectionPlan, mode: str) -> dict:
    import gymnasium as gym

    k = plan.num_envs if mode == "sync" else plan.async_num_envs
    steps = -(-(plan.vector_transitions if mode == "sync" else plan.async_transitions) // k)
    vector_kwargs = {"context": "spawn"} if mode == "async" else {}
    setup_seconds, envs = _timed(
        lambda: gym.make_vec(
            ENV_ID,
            num_envs=k,
            vectorization_mode=mode,
            vector_kwargs=vector_kwargs,
            max_episode_steps=MAX_EPISODE_STEPS,
        )
    )
    try:
        times, counts = [], []
        for r in range(plan.repeats):
            seconds, (transitions, env_steps) = _timed(lambda r=r: _vector_collect(envs, steps, plan.seed + r))
            times.append(seconds)
            counts.append(transitions)
    finally:
        envs.close()
    transitions = int(statistics.median(counts))
    row = _rate_row(
        f"gymnasium-vector-{mode}",
        transitions,
        times,
        num_envs=k,
        env_steps=env_steps,
        setup_seconds=setup_seconds,
        note=f"gymnasium.make_vec(num_envs={k}, vectorization_mode='{mode}'"
        + (", context 'spawn'" if mode == "async" else "")
        + "); autoreset steps not counted",
    )
    # Each repeat's count differs slightly (how many autoreset steps); the rate uses each run's own count.
    row["transitions_per_s"] = statistics.median(c / s for c, s in zip(counts, times))
    return row


def jax_rows(plan: CollectionPlan, directory: str) -> tuple[dict, list[dict]]:
    """The jax-native rate row and the scale rows (cold and warm collect+write, load+validate)."""
    from wm_jax.data import collect_dataset, load_dataset, save_dataset

    n = plan.scale_transitions
    path = os.path.join(directory, "collection-bench.npz")
    label = _count_label(n)

    def collect(seed):
        return collect_dataset(ENV_ID, backend="jax", seed=seed, transitions=n)

    def collect_and_write(seed):
        collect_seconds, dataset = _timed(lambda: collect(seed))
        write_seconds, _ = _timed(lambda: save_dataset(dataset, path))
        return collect_seconds, write_seconds, dataset

    scale = []
    for kind, seed in (("cold", plan.seed), ("warm", plan.seed + 1)):
        total, (collect_seconds, write_seconds, dataset) = _timed(lambda seed=seed: collect_and_write(seed))
        assert dataset.transitions.size == n
        scale.append(
            {
                "row": f"collect+write {label} (jax), {kind}",
                "kind": "collect+write",
                "call": kind,
                "transitions": n,
                "seconds": total,
                "collect_seconds": collect_seconds,
                "write_seconds": write_seconds,
                "file_bytes": os.path.getsize(path),
                "num_envs": _default_num_envs(n),
                "target_seconds": COLLECT_WRITE_TARGET_S,
                "met": total < COLLECT_WRITE_TARGET_S,
                "note": "first call with these shapes: trace + compile + run + validate + write"
                if kind == "cold"
                else "same shapes, another seed: compiled program reused",
            }
        )
    first_call = scale[0]["collect_seconds"]

    warm = [scale[1]["collect_seconds"]]
    for r in range(plan.jax_repeats - 1):
        warm.append(_timed(lambda r=r: collect(plan.seed + 2 + r))[0])
    native = _rate_row(
        "jax-native",
        n,
        warm,
        num_envs=_default_num_envs(n),
        first_call_seconds=first_call,
        compile_seconds=max(first_call - statistics.median(warm), 0.0),
        note="collect_dataset(backend='jax'); warm calls (compiled program reused), "
        "compile_seconds = first call - warm call",
    )

    load_times = []
    for _ in range(max(plan.repeats, 1)):
        seconds, loaded = _timed(lambda: load_dataset(path))
        assert loaded.transitions.size == n
        load_times.append(seconds)
    load_seconds = statistics.median(load_times)
    scale.append(
        {
            "row": f"load+validate {label}",
            "kind": "load+validate",
            "transitions": n,
            "seconds": load_seconds,
            "all_seconds": load_times,
            "file_bytes": os.path.getsize(path),
            "target_seconds": LOAD_VALIDATE_TARGET_S,
            "met": load_seconds < LOAD_VALIDATE_TARGET_S,
            "note": f"load_dataset(path) with validation, median of {len(load_times)} (file in the page cache)",
        }
    )
    return native, scale


_CACHED_PROBE = """
import json, sys, time
from wm_jax.devices import use_all_cpu_cores
use_all_cpu_cores()  # as `python -m bench` and the CLI do
import jax
from wm_jax.compilation import enable_persistent_cache
enable_persistent_cache(sys.argv[1])
from wm_jax.data import collect_dataset, save_dataset
from wm_jax.envs.gymnax_collect import gymnax_env
gymnax_env(sys.argv[4])  # the gymnax import, done before the timed rows in the main process too
jax.devices()
start = time.perf_counter()
dataset = collect_dataset(sys.argv[4], backend="jax", seed=0, transitions=int(sys.argv[2]))
collected = time.perf_counter()
save_dataset(dataset, sys.argv[3])
done = time.perf_counter()
print(json.dumps({"collect_seconds": collected - start, "write_seconds": done - collected, "seconds": done - start}))
"""


def cached_cold_row(plan: CollectionPlan, directory: str) -> dict:
    """collect+write in two fresh processes sharing an empty persistent compilation cache: the second one's time."""
    n = plan.scale_transitions
    path = os.path.join(directory, "collection-bench-cached.npz")
    runs = []
    with tempfile.TemporaryDirectory(prefix="wm-jax-collection-cache-") as cache_dir:
        for _ in range(2):
            out = subprocess.run(
                [sys.executable, "-c", _CACHED_PROBE, cache_dir, str(n), path, ENV_ID],
                check=True,
                capture_output=True,
                text=True,
            )
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    second = runs[1]
    return {
        "row": f"collect+write {_count_label(n)} (jax), cold process, cache hit",
        "kind": "collect+write",
        "call": "cold, persistent cache hit",
        "transitions": n,
        "seconds": second["seconds"],
        "collect_seconds": second["collect_seconds"],
        "write_seconds": second["write_seconds"],
        "first_process_seconds": runs[0]["seconds"],
        "file_bytes": os.path.getsize(path),
        "num_envs": _default_num_envs(n),
        "target_seconds": COLLECT_WRITE_TARGET_S,
        "met": second["seconds"] < COLLECT_WRITE_TARGET_S,
        "note": "fresh process, first call, JAX persistent compilation cache filled by an earlier process "
        f"(that one took {runs[0]['seconds']:.2f} s), as `wm-jax collect` runs from its second use on",
    }


def _default_num_envs(n: int) -> int | None:
    try:
        from wm_jax.envs.gymnax_collect import default_num_envs

        return default_num_envs(n, MAX_EPISODE_STEPS)
    except ImportError:
        return None


def _source_digests() -> dict:
    """sha256 (first 12 hex digits) of the collection code measured, and the checkout's commit:
    which version of the collectors a results file describes."""
    import hashlib

    import wm_jax

    root = os.path.dirname(os.path.dirname(os.path.abspath(wm_jax.__file__)))
    digests = {}
    for relative in (
        "wm_jax/envs/gymnax_collect.py",
        "wm_jax/envs/gymnasium_collect.py",
        "wm_jax/data/collect.py",
        "wm_jax/data/format.py",
    ):
        try:
            with open(os.path.join(root, relative), "rb") as handle:
                digests[relative] = hashlib.sha256(handle.read()).hexdigest()[:12]
        except OSError:
            digests[relative] = None
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        commit = None
    return {"git_head": commit, "sha256": digests}


def _count_label(n: int) -> str:
    if n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n % 1_000 == 0:
        return f"{n // 1_000}k"
    return str(n)


def add_ratios(rows: list[dict]) -> None:
    """jax-native transitions/s over each row's (on every row; 1.0 on jax-native itself)."""
    native = next((r for r in rows if r["row"] == "jax-native"), None)
    for row in rows:
        row["jax_native_speedup"] = native["transitions_per_s"] / row["transitions_per_s"] if native else None


def run(plan: CollectionPlan, log=print) -> dict:
    """Every collection row in this process; the `collection` block of the bench JSON."""
    imports = {}
    imports["gymnasium"], _ = _timed(lambda: __import__("gymnasium"))
    imports["wm_jax.data"], _ = _timed(lambda: __import__("wm_jax.data"))

    def import_gymnax():
        from wm_jax.envs.gymnax_collect import gymnax_env

        return gymnax_env(ENV_ID)

    imports["gymnax (CartPole env)"], _ = _timed(import_gymnax)
    import jax

    rows = []
    with tempfile.TemporaryDirectory(prefix="wm-jax-collection-bench-") as directory:
        # jax first: its cold row must be the first call with these shapes in the process.
        native, scale = jax_rows(plan, directory)
        log(
            f"  jax-native      n={native['transitions']:<8d} {native['transitions_per_s']:,.0f} transitions/s "
            f"(first call {native['first_call_seconds']:.2f} s)"
        )
        if plan.cache_check:
            scale.append(cached_cold_row(plan, directory))
        for row in scale:
            log(f"  {row['row']:34s} {row['seconds']:.3f} s")
        rows.append(gymnasium_loop_row(plan))
        log(f"  gymnasium-loop  n={rows[-1]['transitions']:<8d} {rows[-1]['transitions_per_s']:,.0f} transitions/s")
        for mode in plan.vector_modes:
            rows.append(gymnasium_vector_row(plan, mode))
            log(
                f"  {rows[-1]['row']:22s} n={rows[-1]['transitions']:<8d} K={rows[-1]['num_envs']} "
                f"{rows[-1]['transitions_per_s']:,.0f} transitions/s (set-up {rows[-1]['setup_seconds']:.2f} s)"
            )
        rows.append(native)
    add_ratios(rows)
    return {
        "env_id": ENV_ID,
        "policy": "uniform random",
        "max_episode_steps": MAX_EPISODE_STEPS,
        "plan": dataclasses.asdict(plan),
        "jax_device": str(jax.devices()[0]),
        "jax_compilation_cache_dir": jax.config.jax_compilation_cache_dir,
        "import_seconds": imports,
        "sources": _source_digests(),
        "rows": rows,
        "scale": scale,
        "targets": {
            "jax_native_speedup": RATIO_TARGET,
            "collect_write_seconds": COLLECT_WRITE_TARGET_S,
            "load_validate_seconds": LOAD_VALIDATE_TARGET_S,
        },
    }


def _fmt(x, spec: str) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)


def markdown(collection: dict) -> list[str]:
    """The collection tables, as Markdown lines."""
    lines = [
        "",
        f"## Data collection ({collection['env_id']}, {collection['policy']} policy, episodes capped at "
        f"{collection['max_episode_steps']} steps; one process)",
        "",
        "Rates are transitions per second of the timed collection calls (median of the repeats); a vector env's "
        "set-up is not counted. `x jax` is jax-native's rate over the row's "
        f"(target ≥ {collection['targets']['jax_native_speedup']:.0f}x).",
        "",
        "| row | N | envs | seconds | transitions/s | x jax | set-up / first call s | note |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in collection["rows"]:
        extra = r.get("setup_seconds", r.get("first_call_seconds"))
        lines.append(
            f"| {r['row']} | {r['transitions']:,} | {r.get('num_envs') or '—'} | {r['seconds']:.3f} | "
            f"{r['transitions_per_s']:,.0f} | {_fmt(r.get('jax_native_speedup'), '.1f')} | {_fmt(extra, '.2f')} | {r['note']} |"
        )
    lines += [
        "",
        "| scale row | N | seconds | collect s | write s | file MB | target | met | note |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for r in collection["scale"]:
        lines.append(
            f"| {r['row']} | {r['transitions']:,} | {r['seconds']:.3f} | {_fmt(r.get('collect_seconds'), '.3f')} | "
            f"{_fmt(r.get('write_seconds'), '.3f')} | {r['file_bytes'] / 1e6:.1f} | < {r['target_seconds']:g} s | "
            f"{'yes' if r['met'] else 'no'} | {r['note']} |"
        )
    imports = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in collection["import_seconds"].items())
    lines += ["", f"Imports before the timed rows (not counted): {imports}. JAX device: {collection['jax_device']}."]
    return lines
