"""Experiment logging: scalars written to TensorBoard event files while a run goes (`--log-dir DIR`).

Commands log between compiled chunks and real-environment steps, never from inside a compiled program
(no host callbacks), so logging costs only the host's writes. Tags are grouped by what they are:
`train/loss/member_0`, `validation/loss/member_0`, `held_out/...`, `mbrl/train_return`, `eval/return_mean`.
The values are the ones the command writes to its JSON record; `read_scalars` reads them back.

    tensorboard --logdir DIR      # then open the page it prints
"""

from __future__ import annotations

import glob
import math
import os
import re
import struct
from collections.abc import Mapping

from .errors import UserError


def _tensorboardx():
    """tensorboardX, imported without PyTorch: its writer imports torch where it can, only to recognise torch
    tensors, and that import costs a second per process; this log writes Python floats. While tensorboardX
    loads, `import torch` fails (a None in sys.modules); afterwards torch imports as usual."""
    import sys

    blocked = "torch" not in sys.modules
    if blocked:
        sys.modules["torch"] = None  # type: ignore[assignment]
    try:
        import tensorboardX
        from tensorboardX.proto import event_pb2  # noqa: F401  (loaded while torch is blocked)
    finally:
        if blocked:
            del sys.modules["torch"]
    return tensorboardX


def tag_name(name: str) -> str:
    """A tag as TensorBoard stores it: characters other than letters, digits, `_`, `-`, `.` and `/` become `_`
    (tensorboardX would rename it the same way, with a warning)."""
    return re.sub(r"[^-/\w.]", "_", name)


class RunLog:
    """A TensorBoard writer for one run in `log_dir` (created if missing); a no-op where `log_dir` is None,
    so commands call it unconditionally."""

    def __init__(self, log_dir: str | None):
        self.writer = None
        if log_dir is None:
            return
        try:
            os.makedirs(log_dir, exist_ok=True)
            probe = os.path.join(log_dir, ".wm-jax-write-probe")
            with open(probe, "w"):
                pass
            os.remove(probe)
        except OSError as error:
            raise UserError(f"--log-dir {log_dir}: cannot be written ({error.strerror or error})") from None
        self.writer = _tensorboardx().SummaryWriter(log_dir, flush_secs=10)

    def scalar(self, tag: str, value, step: int) -> None:
        if self.writer is not None and value is not None and math.isfinite(float(value)):
            self.writer.add_scalar(tag_name(tag), float(value), int(step))

    def scalars(self, prefix: str, values: Mapping, step: int) -> None:
        """Each number of `values` (nested mappings become tag paths) under `prefix/name`."""
        for name, value in values.items():
            if isinstance(value, Mapping):
                self.scalars(f"{prefix}/{name}", value, step)
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                self.scalar(f"{prefix}/{name}", value, step)

    def members(self, tag: str, values, step: int) -> None:
        """One scalar per member, `tag/member_i`."""
        for member, value in enumerate(values):
            self.scalar(f"{tag}/member_{member}", value, step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def __enter__(self) -> RunLog:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def read_scalars(log_dir: str) -> dict[str, list[tuple[int, float]]]:
    """Every scalar in the event files of `log_dir`: {tag: [(step, value), ...]} in the order written.

    Reads the TFRecord framing directly (length, its CRC, the record, its CRC) and parses each record
    with tensorboardX's own protobuf, so no TensorBoard install is needed."""
    event_pb2 = _tensorboardx().proto.event_pb2
    scalars: dict[str, list[tuple[int, float]]] = {}
    for path in sorted(glob.glob(os.path.join(log_dir, "events.out.tfevents.*"))):
        with open(path, "rb") as handle:
            data = handle.read()
        at = 0
        while at + 12 <= len(data):
            (length,) = struct.unpack("<Q", data[at : at + 8])
            record = data[at + 12 : at + 12 + length]
            at += 12 + length + 4
            event = event_pb2.Event.FromString(record)
            for value in event.summary.value:
                scalars.setdefault(value.tag, []).append((int(event.step), float(value.simple_value)))
    return scalars
