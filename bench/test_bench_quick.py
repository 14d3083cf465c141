"""The bench runs end to end and writes well-formed outputs (CI checks this; it never asserts a speed)."""

import json
import math
import subprocess
import sys

import pytest

# Each test runs the bench as a process: its own JAX start, compilations and timed repeats.
pytestmark = pytest.mark.slow

ROW_FIELDS = {
    "impl": str,
    "members": int,
    "transitions": int,
    "epochs": int,
    "batch_size": int,
    "seconds": float,
    "member_steps_per_s": float,
    "gflops": float,
    "final_mse": float,
}
MACHINE_FIELDS = ("cpu_model", "cpu_cores", "jax_devices", "versions", "matmul_peak_gflops")


def test_quick_bench_writes_json_markdown_and_plot(tmp_path):
    paths = {kind: tmp_path / f"bench.{kind}" for kind in ("json", "md", "png")}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--quick",
            "--json",
            str(paths["json"]),
            "--markdown",
            str(paths["md"]),
            "--plot",
            str(paths["png"]),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=900,  # about 120 s on a quiet 2-core machine; a loaded one took over 300 s
    )
    doc = json.loads(paths["json"].read_text())
    assert set(doc) >= {"machine", "results"}, f"top-level keys: {sorted(doc)}"
    for field in MACHINE_FIELDS:
        assert field in doc["machine"], f"machine block lacks {field}"
    assert doc["machine"]["matmul_peak_gflops"] > 0
    impls = {row["impl"] for row in doc["results"]}
    assert {"torch-loop", "jax-naive", "jax-engine"} <= impls, f"rows for {sorted(impls)}"
    for row in doc["results"]:
        if row["seconds"] is None:
            assert row["note"].startswith("skipped"), row
            continue
        for field, kind in ROW_FIELDS.items():
            value = row[field]
            assert isinstance(value, (int, float) if kind is float else kind), f"{row['impl']}: {field}={value!r}"
            if kind is float:
                assert math.isfinite(value) and value >= 0, f"{row['impl']}: {field}={value!r}"
        assert "compile_seconds" in row and "speedup_vs_torch_loop" in row
    engine = [r for r in doc["results"] if r["impl"] == "jax-engine"]
    assert all(r["compile_seconds"] > 0 for r in engine)
    assert "| jax-engine |" in paths["md"].read_text()
    assert paths["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert {row["row"] for row in doc["collection"]["rows"]} >= COLLECTION_ROWS, (
        "the full run includes the collection section"
    )
    engine = doc["engine"]["rows"]
    assert [r["row"].split(",")[0] for r in engine] == [
        "deterministic",
        "deterministic",
        "deterministic",
        "probabilistic + bootstrap",
        "probabilistic + bootstrap + delta + normalize",
    ]
    assert engine[0]["ratio_to_one_program"] == 1.0
    assert all(math.isfinite(r["seconds_per_epoch"]) and r["seconds_per_epoch"] > 0 for r in engine)
    assert "## Engine options" in paths["md"].read_text()
    realistic = {row["row"]: row for row in doc["realistic"]["rows"]}
    assert set(realistic) == {"jax-engine", "torch-bmm", "mbrl-lib"}
    for row in realistic.values():  # mbrl-lib is optional: a row without it says why
        assert "note" in row or (row["gflops"] > 0 and 0 < row["share_of_peak"] and row["engine_speedup"] > 0), row
    assert realistic["jax-engine"]["engine_speedup"] == 1.0
    assert doc["realistic"]["planning"]["seconds"] > 0
    assert "## The engine at PETS size" in paths["md"].read_text()
    planning = doc["planning"]
    assert [r["states"] for r in planning] == [1, 20] and all(r["seconds"] > 0 and r["gflops"] > 0 for r in planning)
    assert "## Planning" in paths["md"].read_text()
    memory = doc["memory"]
    assert memory and all(r["peak_host_bytes"] >= r["baseline_bytes"] > 0 for r in memory)
    assert "## Memory" in paths["md"].read_text()
    latency = {r["row"]: r for r in doc["latency"]["rows"]}
    assert set(latency) == {
        "wm-jax train, cold cache",
        "wm-jax train, warm cache",
        "tutorial PyTorch script",
        "wm-jax demo, cold cache",
        "wm-jax demo, warm cache",
    }
    assert all(r["seconds"] > 0 for r in latency.values())
    assert latency["wm-jax train, warm cache"]["compile_seconds"] >= 0 and "## Latency" in paths["md"].read_text()
    sweep = {(r["members_per_configuration"], r["row"]): r for r in doc["sweep"]["rows"]}
    assert set(sweep) == {(1, "one configuration"), (1, "sweep of 8")}
    assert sweep[(1, "one configuration")]["ratio_to_one"] == 1.0
    assert (
        all(r["seconds"] > 0 and r["compile_seconds"] > 0 for r in sweep.values())
        and "## Sweep" in paths["md"].read_text()
    )


COLLECTION_ROWS = {"gymnasium-loop", "gymnasium-vector-sync", "jax-native"}


def test_quick_collection_section_writes_rows(tmp_path):
    """`--only collection` runs just the collection rows (tiny N) and writes them to JSON and Markdown."""
    paths = {kind: tmp_path / f"collection.{kind}" for kind in ("json", "md")}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--quick",
            "--only",
            "collection",
            "--json",
            str(paths["json"]),
            "--markdown",
            str(paths["md"]),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=900,  # a hang, not a slow machine, should fail this
    )
    doc = json.loads(paths["json"].read_text())
    assert doc["results"] == [], "--only collection runs no training rows"
    collection = doc["collection"]
    assert collection["env_id"] == "CartPole-v1"
    rows = {row["row"]: row for row in collection["rows"]}
    assert set(rows) >= COLLECTION_ROWS, f"rows: {sorted(rows)}"
    for row in rows.values():
        for field in ("transitions", "seconds", "transitions_per_s", "jax_native_speedup"):
            assert isinstance(row[field], (int, float)) and math.isfinite(row[field]) and row[field] > 0, (
                f"{row['row']}: {field}={row[field]!r}"
            )
    assert rows["jax-native"]["jax_native_speedup"] == 1.0
    assert rows["jax-native"]["first_call_seconds"] > 0 and rows["jax-native"]["compile_seconds"] >= 0
    assert rows["gymnasium-vector-sync"]["num_envs"] > 1 and rows["gymnasium-vector-sync"]["setup_seconds"] >= 0
    scale = collection["scale"]
    kinds = [(row["kind"], row.get("call")) for row in scale]
    assert kinds[:3] == [("collect+write", "cold"), ("collect+write", "warm"), ("load+validate", None)], kinds
    n = collection["plan"]["scale_transitions"]
    for row in scale:
        assert row["transitions"] == n and row["seconds"] > 0 and row["file_bytes"] > 0 and isinstance(row["met"], bool)
    text = paths["md"].read_text()
    assert "| jax-native |" in text and "| gymnasium-loop |" in text and "load+validate" in text


def test_the_model_env_bench_prints_every_row(capsys):
    """`python -m bench.model_env` at a tiny size: each way of stepping the model, and gymnasium's loop."""
    from bench import model_env

    assert model_env.main(["--envs", "12", "--steps", "3", "--repeats", "1", "--gym-transitions", "50"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rates = {line.split(" | ")[0]: float(line.split(" | ")[1].replace(",", "")) for line in lines[1:]}
    assert set(rates) == {"step_batch, TS-1", "step_batch, TS-inf", "step vmapped, TS-1", "gymnasium CartPole-v1 loop"}
    assert all(rate > 0 for rate in rates.values())
