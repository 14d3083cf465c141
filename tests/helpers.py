"""Plain helpers that test files in several folders share (fixtures live in the conftest.py files).

Import them as `from tests.helpers import ...`: tests/ is a package, so the repository root, which
pytest puts on sys.path for it, makes `tests` importable.
"""

from __future__ import annotations

import glob
import json
import os
import struct
import subprocess
import sys
import zlib
from typing import NamedTuple

import jax
import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from wm_jax.config import ModelConfig
from wm_jax.models import ensemble_of, init_ensemble_params, spec_for_env

# ------------------------------------------------------------------ models of CartPole


def cartpole_spec(members=3, **switches):
    """The `ModelSpec` of a CartPole model: an ensemble of `members`, a simple model for 1, engine switches on."""
    return spec_for_env(
        "CartPole-v1", ModelConfig(kind="ensemble" if members > 1 else "simple", members=members, **switches)
    )


def cartpole_model(members=3, seed=0):
    """An untrained CartPole ensemble that predicts deltas (what the planners and imagination run)."""
    spec = spec_for_env("CartPole-v1", ModelConfig(kind="ensemble", members=members, delta=True))
    return ensemble_of(spec, init_ensemble_params(spec, jax.random.key(seed)))


CARTPOLE = dict(state_dim=4, action_dim=1)

# ------------------------------------------------------------------ a linear system (baselines, rollouts)

S, A = 3, 2


def linear_system(seed=0):
    """True weights of s' = s @ Sa + a @ Ba + c, stacked like LinearBaseline.weights."""
    rng = np.random.default_rng(seed)
    # Spectral radius below 1 so chained steps stay bounded.
    return np.vstack([0.5 * rng.normal(size=(S, S)) / np.sqrt(S), rng.normal(size=(A, S)), rng.normal(size=(1, S))])


# ------------------------------------------------------------------ processes


def run_script(script: str, *args: str, env: dict | None = None):
    """`python -c script args` in a fresh process (JAX fixes its device count when it starts)."""
    return subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=600, env=env)


# ------------------------------------------------------------------ fuzzing the loaders and the flags

# FUZZ_EXAMPLES=2000 hunts longer (about 30 s for the two loaders).
FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", 30)),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def gist(message: str) -> str:
    """A message without its paths and numbers, for hypothesis's statistics (--hypothesis-show-statistics)."""
    words = [w for w in message.split() if "/" not in w and not any(c.isdigit() for c in w)]
    return " ".join(words[:6])


def header_flips(archive: bytes):
    """`archive` with a few bytes of its zip headers (local, central directory, end record) flipped:
    where damage meets zipfile's parsing rather than a CRC check."""
    starts = [i for i in range(len(archive) - 3) if archive[i : i + 2] == b"PK" and archive[i + 2] in (1, 3, 5)]

    def flip(changes):
        damaged = bytearray(archive)
        for start, offset, value in changes:
            damaged[min(starts[start % len(starts)] + offset, len(damaged) - 1)] = value
        return bytes(damaged)

    return st.lists(
        st.tuples(st.integers(0, len(starts) - 1), st.integers(0, 45), st.integers(0, 255)), min_size=1, max_size=4
    ).map(flip)


# ------------------------------------------------------------------ reading a wandb run back (--wandb)


class WandbRun(NamedTuple):
    """What an offline wandb run holds: {tag: [(step, value), ...]} as `wm_jax.tracking.read_scalars` gives
    for TensorBoard (values as logged, float64), the run's config, its job type and its exit code."""

    scalars: dict
    config: dict
    job_type: str
    exit_code: int | None


# The header of the .wandb files wandb 0.31 writes: ":W&B", magic 0xBEE1 (little-endian), format version 0.
WANDB_HEADER = b":W&B" + struct.pack("<HB", 0xBEE1, 0)
WANDB_BLOCK = 32 * 1024


def wandb_records(path):
    """Every record of a .wandb file (an offline run's transaction log), parsed with wandb's own protobuf schema.

    wandb ships no Python reader of these files (its Go service, wandb-core, reads them for `wandb sync`), so
    this follows the format as wandb-core's source defines it (core/pkg/leveldb/record.go and
    core/internal/transactionlog): the 7-byte header, then LevelDB-log chunks in 32 KiB blocks counted from
    the file's start, each a CRC-32 (IEEE) of its type byte and payload, a little-endian uint16 length, a
    type (1 a whole record, 2 its first, 3 a middle, 4 its last chunk) and the payload; fewer than 7 bytes
    left in a block are zero padding. A file in another format fails here, not silently."""
    from wandb.proto import wandb_internal_pb2

    with open(path, "rb") as handle:
        data = handle.read()
    assert data[:7] == WANDB_HEADER, f"{path}: not a .wandb file of the format this reader knows ({data[:7]!r})"
    at, parts = 7, []
    while at + 7 <= len(data):
        block_end = (at // WANDB_BLOCK + 1) * WANDB_BLOCK
        if at + 7 > block_end:
            at = block_end
            continue
        checksum, length, kind = struct.unpack("<IHB", data[at : at + 7])
        end = at + 7 + length
        assert kind in (1, 2, 3, 4) and end <= block_end, f"{path}: a bad chunk at byte {at}"
        assert zlib.crc32(data[at + 6 : end]) == checksum, f"{path}: a chunk's checksum fails at byte {at}"
        parts.append(data[at + 7 : end])
        at = end
        if kind in (1, 4):
            yield wandb_internal_pb2.Record.FromString(b"".join(parts))
            parts = []
    assert at == len(data) and not parts, f"{path}: ends inside a record"


def read_wandb_run(directory) -> WandbRun:
    """The one offline wandb run under `directory` (a run's --out: DIR/wandb/offline-run-*/run-*.wandb).

    wandb-core closes a run's file a little after `run.finish()` returns (at the latest when the process
    exits): in-process, `wandb.teardown()` first waits for it (the next run starts the service again)."""
    import wandb

    from wm_jax.tracking import WANDB_STEP

    wandb.teardown()

    files = glob.glob(os.path.join(directory, "wandb", "offline-run-*", "run-*.wandb"))
    assert len(files) == 1, f"{directory}: {len(files)} offline wandb runs"
    scalars, config, job_type, exit_code = {}, {}, "", None
    for record in wandb_records(files[0]):
        kind = record.WhichOneof("record_type")
        if kind == "history":
            row = {item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in record.history.item}
            step = row.pop(WANDB_STEP)
            for tag, value in row.items():
                if not tag.startswith("_"):  # wandb's own _step, _runtime, _timestamp
                    scalars.setdefault(tag, []).append((step, value))
        elif kind in ("run", "config"):  # the config given to wandb.init comes in the run record
            updates = record.run.config.update if kind == "run" else record.config.update
            config.update({item.key: json.loads(item.value_json) for item in updates})
            job_type = record.run.job_type or job_type
        elif kind == "exit":
            exit_code = record.exit.exit_code
    config.pop("_wandb", None)
    return WandbRun(scalars, config, job_type, exit_code)


def programs_built(run) -> list[tuple[str, str]]:
    """(event, function) of every trace, lowering and compile JAX records while `run()` runs."""
    import jax.monitoring

    built = []

    def listener(event, duration, **context):
        if event.startswith("/jax/core/compile/"):
            built.append((event, context.get("fun_name")))

    jax.monitoring.register_event_duration_secs_listener(listener)
    try:
        run()
    finally:
        jax.monitoring.unregister_event_duration_listener(listener)
    return built
