"""Seconds from command to result: whole processes, as a user runs them.

    python -m bench --only latency --json bench/results/latency-cpu-2core.json \\
        --markdown bench/results/latency-cpu-2core.md

The tutorial ensemble's workload (E=5, 10,000 CartPole transitions, 100 epochs, batch 32; a
separate 2,000-transition held-out file) through `wm-jax train`, once with an empty compilation
cache and once with the cache the first run filled, and through the tutorial's own PyTorch loop
as a script (`bench/tutorial_script.py`: load, train, score, save). The demo runs cold and warm
too. Every row is a fresh process timed from launch to exit; `wm-jax train`'s own report splits
its time into training and compiling, and the rest is imports, data, scoring and writing.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WM_JAX = [sys.executable, "-m", "wm_jax"]
SCRIPT = str(Path(__file__).with_name("tutorial_script.py"))


def _timed(argv: list[str], env: dict) -> tuple[float, str]:
    start = time.perf_counter()
    out = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=3600)
    seconds = time.perf_counter() - start
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {out.stderr[-2000:]}")
    return seconds, out.stdout


def _split(stdout: str) -> dict:
    """Training and compiling seconds from `wm-jax train`'s last line ("... in 1.45 s + 1.62 s compiling")."""
    found = re.search(r"epochs in ([\d.]+) s \+ ([\d.]+) s compiling", stdout)
    return {"train_seconds": float(found.group(1)), "compile_seconds": float(found.group(2))} if found else {}


def run(quick: bool = False, log=print) -> dict:
    transitions, epochs = (500, 3) if quick else (10_000, 100)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        env = {**os.environ, "WM_JAX_CACHE_DIR": str(tmp / "cache")}
        train_file, held_out = str(tmp / "train.npz"), str(tmp / "held_out.npz")
        # The data is made here, untimed (the file `wm-jax collect` writes; a process of its own would add
        # only an untimed JAX start).
        import wm_jax as wm

        for path, n, seed in ((train_file, transitions, 0), (held_out, max(200, transitions // 5), 1)):
            wm.save_dataset(wm.collect("CartPole-v1", seed=seed, transitions=n), path)
        train = [
            *WM_JAX,
            "train",
            "--data",
            train_file,
            "--eval-data",
            held_out,
            "--model",
            "ensemble",
            "--epochs",
            str(epochs),
        ]
        for name in ("cold", "warm"):  # the first run fills the cache the second one reads
            seconds, stdout = _timed([*train, "--out", str(tmp / f"train-{name}")], env)
            rows.append({"row": f"wm-jax train, {name} cache", "seconds": seconds, **_split(stdout)})
        seconds, _ = _timed([sys.executable, SCRIPT, train_file, held_out, str(tmp / "torch"), str(epochs)], env)
        rows.append({"row": "tutorial PyTorch script", "seconds": seconds})
        demo = [*WM_JAX, "demo", *(["--quick"] if quick else [])]
        demo_env = {**env, "WM_JAX_CACHE_DIR": str(tmp / "demo-cache")}
        for name in ("cold", "warm"):
            seconds, _ = _timed([*demo, "--out", str(tmp / f"demo-{name}")], demo_env)
            rows.append({"row": f"wm-jax demo, {name} cache", "seconds": seconds})
    torch_seconds = rows[2]["seconds"]
    for row in rows:
        if "train_seconds" in row:
            row["rest_seconds"] = row["seconds"] - row["train_seconds"] - row["compile_seconds"]
        if row["row"].startswith("wm-jax train"):
            row["speedup_vs_torch_script"] = torch_seconds / row["seconds"]
        log(f"  {row['row']:28s} {row['seconds']:7.2f} s")
    return {"members": 5, "transitions": transitions, "epochs": epochs, "rows": rows}


def markdown(latency: dict) -> str:
    lines = [
        f"E={latency['members']}, {latency['transitions']:,} transitions, {latency['epochs']} epochs; "
        "each row a fresh process, launch to exit.",
        "",
        "| command | wall s | training s | compiling s | the rest s | x tutorial script |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in latency["rows"]:

        def cell(name):
            return f"{r[name]:.2f}" if name in r else ""

        ratio = f"{r['speedup_vs_torch_script']:.1f}x" if "speedup_vs_torch_script" in r else ""
        lines.append(
            f"| {r['row']} | {r['seconds']:.2f} | {cell('train_seconds')} | {cell('compile_seconds')} | "
            f"{cell('rest_seconds')} | {ratio} |"
        )
    return "\n".join(lines) + "\n"
