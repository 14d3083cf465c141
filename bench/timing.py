"""Timing rules shared by every row: warm-up, repeats, medians and a per-row time budget."""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections.abc import Callable


@dataclasses.dataclass
class Measurement:
    """What one implementation reports for one workload (before the FLOP and ratio arithmetic)."""

    seconds: float  # median over `repeats` timed runs of `epochs` epochs
    repeats: int
    epochs: int  # epochs actually run (fewer than asked when the row's time budget would be exceeded)
    compile_seconds: float | None
    final_mse: float  # last epoch's mean minibatch MSE, averaged over members (training mode)
    note: str = ""
    all_seconds: list[float] = dataclasses.field(default_factory=list)


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def plan(seconds_per_epoch: float, epochs: int, repeats: int, budget_s: float) -> tuple[int, int]:
    """(epochs, repeats) to run so that the timed runs fit in `budget_s`.

    The full workload is always preferred; repeats are dropped first, then epochs.
    """
    full = seconds_per_epoch * epochs
    if full * repeats <= budget_s:
        return epochs, repeats
    if full <= budget_s:
        return epochs, max(1, int(budget_s // full))
    return max(1, min(epochs, int(budget_s // max(seconds_per_epoch, 1e-9)))), 1


def measure_epochs(
    run: Callable[[int], float], epochs: int, repeats: int, budget_s: float, compile_seconds: float | None = None
) -> Measurement:
    """Time `run(epochs) -> final_mse` for a Python-loop implementation (no separate compile step).

    One epoch is run first as the warm-up and the calibration of the budget plan.
    """
    warm_seconds, _ = timed(lambda: run(1))
    run_epochs, run_repeats = plan(warm_seconds, epochs, repeats, budget_s)
    times, mse = [], float("nan")
    for _ in range(run_repeats):
        seconds, mse = timed(lambda: run(run_epochs))
        times.append(seconds)
    note = "" if run_epochs == epochs else f"budget: {run_epochs} of {epochs} epochs timed"
    return Measurement(statistics.median(times), run_repeats, run_epochs, compile_seconds, float(mse), note, times)
