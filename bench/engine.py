"""The engine's options side by side, E=5 on CartPole: what chunking, probabilistic members and
bootstrap cost per epoch against the deterministic engine run as one program.

Rows run interleaved (A, B, C, A, B, C, ...) and report the median seconds per epoch, so machine
noise hits every row alike; ratios are against the first row of the same run.

    python -m bench --only engine --json bench/results/engine-cpu-2core.json \
        --markdown bench/results/engine-cpu-2core.md
"""

from __future__ import annotations

import dataclasses
import functools
import statistics
import time

import jax
import numpy as np

from wm_jax.config import ModelConfig, TrainConfig
from wm_jax.models import ModelSpec
from wm_jax.training import TrainingData, fit_normalizer_for, make_train, to_buffer, training_mesh

from .workload import ACTION_DIM, STATE_DIM


@dataclasses.dataclass(frozen=True)
class EngineRow:
    name: str
    model: ModelConfig
    train: TrainConfig
    chunk_epochs: int | None = None  # None: all epochs in one program
    log: bool = False  # write each epoch's per-member losses to a TensorBoard log between chunks (--log-dir)


def engine_rows(epochs: int, members: int) -> list[EngineRow]:
    ensemble = ModelConfig(kind="ensemble", members=members)
    tutorial = TrainConfig(epochs=epochs)
    probabilistic = dataclasses.replace(ensemble, probabilistic=True)
    return [
        EngineRow("deterministic, one program", ensemble, tutorial),
        EngineRow("deterministic, chunks of 10 epochs", ensemble, tutorial, chunk_epochs=min(10, epochs)),
        EngineRow(
            "deterministic, chunks of 10 epochs + TensorBoard log",
            ensemble,
            tutorial,
            chunk_epochs=min(10, epochs),
            log=True,
        ),
        EngineRow(
            "probabilistic + bootstrap, one program", probabilistic, dataclasses.replace(tutorial, bootstrap=True)
        ),
        EngineRow(
            "probabilistic + bootstrap + delta + normalize",
            dataclasses.replace(probabilistic, delta=True, normalize=True),
            dataclasses.replace(tutorial, bootstrap=True),
        ),
    ]


def _runner(row: EngineRow, data, seed: int):
    """A function running the whole training of `row` (compiled beforehand) and its compile time."""
    spec = ModelSpec(STATE_DIM, ACTION_DIM, row.model)
    program = make_train(spec, row.train, mesh=training_mesh(members=row.model.members))
    buffer = TrainingData(to_buffer(data))
    normalizer = fit_normalizer_for(spec, data)
    key, run_key = jax.random.key(seed), jax.random.key(seed + 1)
    chunk_epochs = row.chunk_epochs or row.train.epochs
    start = time.perf_counter()
    begin = jax.jit(lambda k: program.start(program.init(k), run_key, normalizer)).lower(key).compile()
    chunk = jax.jit(functools.partial(program.train_chunk, epochs=chunk_epochs)).lower(begin(key), buffer).compile()
    compile_seconds = time.perf_counter() - start

    def run() -> float:
        import tempfile

        from wm_jax.tracking import RunLog

        with tempfile.TemporaryDirectory() as directory, RunLog(directory if row.log else None) as log:
            state = begin(key)
            for index in range(row.train.epochs // chunk_epochs):
                state, metrics = chunk(state, buffer)
                # The host looks at each chunk's result, as a progress bar or early stopping would,
                losses = np.asarray(metrics.loss_curve)
                for offset, epoch_losses in enumerate(losses if row.log else ()):  # and logs it as --log-dir does
                    epoch = index * chunk_epochs + offset + 1
                    log.scalar("train/loss", float(epoch_losses.mean()), epoch)
                    log.members("train/loss", epoch_losses, epoch)
            jax.block_until_ready(state)
        return float(np.asarray(metrics.loss_curve)[-1].mean())

    return run, compile_seconds


def run(data, epochs: int = 100, members: int = 5, repeats: int = 5, seed: int = 0, log=print) -> dict:
    """Median seconds per epoch of every row, measured interleaved, with ratios to the first row."""
    rows = engine_rows(epochs, members)
    runners = [_runner(row, data, seed) for row in rows]
    for fn, _ in runners:  # warm-up
        fn()
    times = [[] for _ in rows]
    for _ in range(repeats):
        for i, (fn, _) in enumerate(runners):
            start = time.perf_counter()
            fn()
            times[i].append(time.perf_counter() - start)
    base = statistics.median(times[0]) / epochs
    results = []
    for row, (_, compile_seconds), seconds in zip(rows, runners, times):
        per_epoch = statistics.median(seconds) / epochs
        results.append(
            {
                "row": row.name,
                "members": members,
                "transitions": int(data.states.shape[0]),
                "epochs": epochs,
                "seconds_per_epoch": per_epoch,
                "ratio_to_one_program": per_epoch / base,
                "compile_seconds": compile_seconds,
                "all_seconds": seconds,
            }
        )
        log(f"  {row.name:48s} {per_epoch * 1e3:8.2f} ms/epoch  x{per_epoch / base:.3f}")
    return {"repeats": repeats, "rows": results}


def markdown(section: dict) -> str:
    lines = [
        "| engine option (E=5, tutorial recipe) | ms / epoch (median) | vs one program | compile s |",
        "| --- | ---: | ---: | ---: |",
    ]
    for r in section["rows"]:
        lines.append(
            f"| {r['row']} | {r['seconds_per_epoch'] * 1e3:.2f} | {r['ratio_to_one_program']:.3f}x | "
            f"{r['compile_seconds']:.2f} |"
        )
    return "\n".join(lines)
