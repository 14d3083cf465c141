"""Ctrl-C at the next safe point: long loops stop between compiled chunks, never inside one.

A compiled XLA program cannot be interrupted, and Python only sees a signal once control comes
back from it. Inside `stop_requests()`, the first SIGINT only sets a flag; the loop checks
`requested()` at each chunk boundary, saves what it can (a checkpoint), and raises `Interrupted`,
which the CLI prints as one line with exit status 130. A second Ctrl-C raises at once, for a loop
that never reaches a boundary. Outside such a block, Ctrl-C behaves as Python's default.
"""

from __future__ import annotations

import contextlib
import signal
import threading

_requested = threading.Event()


class Interrupted(KeyboardInterrupt):
    """Ctrl-C honoured at a chunk boundary; the message says what was kept and how to continue."""


def stopped_after(unit: str, done: int, checkpoints, save) -> Interrupted:
    """The `Interrupted` a loop raises when Ctrl-C stops it after `unit` `done` (an epoch, an iteration).
    With `checkpoints` (a `training.RunCheckpoints`), `save()` first writes step `done` unless it is
    already saved, so `--resume` continues from exactly there."""
    if checkpoints is None:
        return Interrupted(
            f"stopped after {unit} {done}; nothing was kept (--checkpoint-every K makes a run resumable)"
        )
    if checkpoints.latest_epoch() != done:
        save()
    return Interrupted(
        f"stopped after {unit} {done}; a checkpoint is in {checkpoints.directory}: continue with --resume on the "
        "run's directory"
    )


def requested() -> bool:
    """True once Ctrl-C was pressed inside the current `stop_requests()` block."""
    return _requested.is_set()


@contextlib.contextmanager
def stop_requests():
    """Within this block, the first SIGINT asks loops to stop at their next boundary (see module doc).

    Only the main thread can own signal handlers; elsewhere (a worker thread) the block changes nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _requested.clear()

    def on_sigint(signum, frame):
        if _requested.is_set():
            raise KeyboardInterrupt
        _requested.set()

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        _requested.clear()


@contextlib.contextmanager
def in_final_evaluation(unit: str, checkpoints):
    """Ctrl-C inside this block, after a loop's last `unit`, while its final model trains or is evaluated,
    becomes an `Interrupted` that says what was kept (`checkpoints`' latest step) and how to continue."""
    try:
        yield
    except Interrupted:
        raise
    except KeyboardInterrupt:
        latest = None if checkpoints is None else checkpoints.latest_epoch()
        if latest is None:
            raise Interrupted(
                "stopped in the final evaluation; nothing was kept (--checkpoint-every K makes a run resumable)"
            ) from None
        raise Interrupted(
            f"stopped in the final evaluation; a checkpoint after {unit} {latest} is in {checkpoints.directory}: "
            "continue with --resume on the run's directory"
        ) from None
