"""Experiment logging: scalars written while a run goes, to TensorBoard event files (`--log-dir DIR`) and to
Weights & Biases (`--wandb`).

Commands log between compiled chunks and real-environment steps, never from inside a compiled program
(no host callbacks), so logging costs only the host's writes. Tags are grouped by what they are:
`train/loss/member_0`, `validation/loss/member_0`, `held_out/...`, `mbrl/train_return`, `eval/return_mean`.
The values are the ones the command writes to its JSON record; `read_scalars` reads the event files back.

    tensorboard --logdir DIR      # then open the page it prints

`RunLog` is the one place commands log through: it hands every scalar to each sink the run asked for, so
TensorBoard and wandb get the same tags, steps and values. With `--wandb` the sink is a Weights & Biases
run in the run's own output directory (OUT/wandb/offline-run-...), offline by default: runs often go
where there is no network, and an offline run is uploaded later with `wandb sync DIR`. WANDB_MODE, when
set, decides instead (online, disabled); WANDB_PROJECT names the project (default wm-jax). wandb is the
optional `wandb` extra, imported only by runs given `--wandb`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import importlib.util
import json
import math
import os
import re
import struct
import sys
import threading
from collections.abc import Mapping

from .atomic import check_output_path
from .errors import UserError

# The x-axis of every chart of a wandb run: the epoch, the real transitions used, or the horizon. wandb's own
# step may only grow, but `train` logs its validation curve after its training curve and its rollout errors
# per horizon, so each row carries its step as a value and every tag is plotted against it.
WANDB_STEP = "step"
WANDB_PROJECT = "wm-jax"


def _tensorboardx():
    """tensorboardX, imported without PyTorch: its writer imports torch where it can, only to recognise torch
    tensors, and that import costs a second per process; this log writes Python floats. While tensorboardX
    loads, `import torch` fails (a None in sys.modules); afterwards torch imports as usual."""
    blocked = "torch" not in sys.modules
    if blocked:
        sys.modules["torch"] = None  # type: ignore[assignment]
    try:
        import tensorboardX
        from tensorboardX.proto import event_pb2, summary_pb2  # noqa: F401  (loaded while torch is blocked)
    finally:
        if blocked:
            del sys.modules["torch"]
    return tensorboardX


MISSING_WANDB = "--wandb needs wandb, an optional extra: pip install 'wm-jax[wandb]'"


def require_wandb() -> None:
    """A one-line UserError where wandb is not installed. `cli.main` calls it right after parsing a command
    line with --wandb, so a missing extra fails before any work; it finds wandb without importing it (half
    a second), which an offline run does beside the work (`_WandbSink`)."""
    if importlib.util.find_spec("wandb") is None:
        raise UserError(MISSING_WANDB)


def import_wandb():
    """wandb, or the one-line UserError saying what to install."""
    try:
        import wandb
    except ImportError:
        raise UserError(MISSING_WANDB) from None
    return wandb


def tag_name(name: str) -> str:
    """A tag as TensorBoard stores it: characters other than letters, digits, `_`, `-`, `.` and `/` become `_`
    (tensorboardX would rename it the same way, with a warning)."""
    return re.sub(r"[^-/\w.]", "_", name)


def _writable_directory(directory: str, flag: str) -> None:
    """Create `directory` if missing, once `atomic.check_output_path` has shown it can be, or a one-line
    UserError naming `flag`."""
    try:
        check_output_path(directory, directory=True)
        os.makedirs(directory, exist_ok=True)
    except UserError as error:
        raise UserError(f"{flag} {error}") from None
    except OSError as error:
        raise UserError(f"{flag} {directory}: cannot be written ({error.strerror or error})") from None


class _TensorBoardSink:
    """Event files in `log_dir`, through tensorboardX's `FileWriter`: one event per RunLog call, holding all
    of its scalars (an epoch's members, a table of scores), which TensorBoard reads as one point per tag.
    `SummaryWriter.add_scalar` would write an event per scalar, at about four times the cost."""

    def __init__(self, log_dir: str):
        _writable_directory(log_dir, "--log-dir")
        tensorboardx = _tensorboardx()
        self.writer = tensorboardx.FileWriter(log_dir, flush_secs=10)
        self.summary = tensorboardx.proto.summary_pb2.Summary

    def write(self, values: dict[str, float], step: int) -> None:
        scalars = [self.summary.Value(tag=tag, simple_value=value) for tag, value in values.items()]
        self.writer.add_summary(self.summary(value=scalars), step)

    def close(self, failed: bool) -> None:
        self.writer.close()


class _WandbSink:
    """A Weights & Biases run whose files stay in `directory` (the run's --out): wandb writes
    `directory`/wandb/offline-run-.../run-ID.wandb.

    Importing wandb and starting its service take about a second, most of a short run's logging cost. An
    offline run (the default) therefore starts in a thread beside the command's own work (imports,
    compiling, the first chunk) and the first scalar waits for it; it cannot fail for want of a network or
    a login. Any other mode starts before the work, so that its errors come before the work too."""

    def __init__(self, directory: str, job_type: str | None, config: dict | None):
        # wandb falls back to the system's temporary directory where `dir` cannot be written: refuse instead.
        _writable_directory(directory, "--wandb: --out")
        self.directory, self.job_type, self.config = directory, job_type, config
        # Offline unless the user's environment chooses (WANDB_MODE=online, disabled): see the module's docstring.
        # Passed explicitly: wandb reads the environment once per process, at its first run.
        self.mode = os.environ.get("WANDB_MODE") or "offline"
        self.run = None
        self.failure: BaseException | None = None
        if self.mode == "offline":
            self.starting: threading.Thread | None = threading.Thread(target=self._start_beside, daemon=True)
            self.starting.start()
        else:
            self.starting = None
            self._start()
            self._announce()

    def _start_beside(self) -> None:
        try:
            self._start()
        except BaseException as error:  # raised in the command's own thread, at its first scalar
            self.failure = error

    def _start(self) -> None:
        wandb = import_wandb()
        settings = wandb.Settings(
            console="off",  # leave stdout and stderr alone (no wrapping, no captured copy of the output)
            silent=True,  # its banner advises `wandb online`, which an explicit offline mode overrides; one line below
            save_code=False,
            disable_git=True,
            x_disable_stats=True,  # no system-metrics sampler beside the run: the run's scalars only
            x_disable_meta=True,  # no host, GPU or git survey at start
        )
        # wandb-core, the service wandb starts at a process's first run (later runs of the process share it),
        # writes its debug log in WANDB_CACHE_DIR/wandb/logs, by default ~/.cache/wandb/logs. Pointed at the run's
        # directory while the service starts, the log lands in DIR/wandb/logs, and a `wm-jax ... --wandb` run
        # writes nothing outside its own directory. A user's own WANDB_CACHE_DIR is kept.
        cache = {} if os.environ.get("WANDB_CACHE_DIR") else {"WANDB_CACHE_DIR": self.directory}
        try:
            with _environment(cache):
                self.run = wandb.init(
                    dir=self.directory,
                    project=os.environ.get("WANDB_PROJECT") or WANDB_PROJECT,
                    job_type=self.job_type,
                    config=self.config,
                    mode=self.mode,
                    reinit="create_new",  # beside, never instead of, a run the caller has open
                    settings=settings,
                )
        except (wandb.errors.Error, ValueError) as error:  # online without a login; WANDB_MODE=bogus (pydantic's)
            lines = [line.strip() for line in str(error).splitlines() if not line.strip().startswith("For further")]
            raise UserError(f"--wandb: {' '.join(line for line in lines if line)}") from None
        # Every tag's x-axis is the step logged with it (WANDB_STEP), not wandb's row counter.
        self.run.define_metric(WANDB_STEP, hidden=True)
        self.run.define_metric("*", step_metric=WANDB_STEP)

    def _ready(self) -> None:
        """Wait for a run starting beside the work; its failure is raised here, in the command's thread."""
        if self.starting is not None:
            self.starting.join()
            self.starting = None
            if self.failure is not None:
                raise self.failure
            self._announce()

    def _announce(self) -> None:
        mode = self.run.settings.mode
        if mode == "offline":
            where = self.run.settings.sync_dir
            print(f"wandb: logging offline to {where} (upload it with `wandb sync {where}`)", file=sys.stderr)
        elif mode != "disabled":
            print(f"wandb: {self.run.url}", file=sys.stderr)

    def write(self, values: dict[str, float], step: int) -> None:
        self._ready()
        # One row per RunLog call: the values of one epoch, evaluation or score table, with their step.
        self.run.log({**values, WANDB_STEP: step})

    def close(self, failed: bool) -> None:
        try:
            self._ready()
        except BaseException:
            if failed:  # the run is failing already: its own error is the one to report
                return
            raise
        # The service finishes writing the run's file shortly after, at the latest as the process exits
        # (wandb's own exit hook waits for it); `wandb.teardown()` waits for it in a longer-lived process.
        self.run.finish(exit_code=1 if failed else 0)


@contextlib.contextmanager
def _environment(values: dict[str, str]):
    """os.environ with `values` set inside the block, as it was after."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class RunLog:
    """The log of one run: TensorBoard event files in `log_dir` (created if missing) and, with `wandb_dir`,
    a Weights & Biases run in `wandb_dir`/wandb (its `job_type` and `config` shown beside it). With
    neither it is a no-op, so commands call it unconditionally. Every scalar goes to each sink with the
    same tag (`tag_name`), step and value; non-finite values are left out of both."""

    def __init__(
        self,
        log_dir: str | None = None,
        *,
        wandb_dir: str | None = None,
        job_type: str | None = None,
        config: dict | None = None,
    ):
        self.sinks: list = []
        try:
            if log_dir is not None:
                self.sinks.append(_TensorBoardSink(log_dir))
            if wandb_dir is not None:
                self.sinks.append(_WandbSink(wandb_dir, job_type, config))
        except BaseException:
            self.close(failed=True)
            raise

    @classmethod
    def for_run(cls, run, command: str, *, enabled: bool = True) -> RunLog:
        """The log a command's run configuration asks for: `run.log_dir`, and with `run.wandb` a wandb run in
        `run.out`, named by `command` and carrying the run's settings. `enabled=False` (the processes of a
        multi-process run that do not write) gives a no-op log."""
        if not enabled:
            return cls(None)
        wandb_dir = run.out if getattr(run, "wandb", False) else None
        config = None
        if wandb_dir is not None:  # the run's settings as JSON values (tuples become lists, anything else text)
            config = json.loads(json.dumps(dataclasses.asdict(run), default=str))
        return cls(run.log_dir, wandb_dir=wandb_dir, job_type=command, config=config)

    def _write(self, values: dict[str, float], step: int) -> None:
        if self.sinks and values:
            for sink in self.sinks:
                sink.write(values, int(step))

    def _number(self, tag: str, value, into: dict[str, float]) -> None:
        if value is not None and math.isfinite(float(value)):
            into[tag_name(tag)] = float(value)

    def scalar(self, tag: str, value, step: int) -> None:
        if self.sinks:
            values: dict[str, float] = {}
            self._number(tag, value, values)
            self._write(values, step)

    def scalars(self, prefix: str, values: Mapping, step: int) -> None:
        """Each number of `values` (nested mappings become tag paths) under `prefix/name`."""
        if self.sinks:
            found: dict[str, float] = {}
            self._collect(prefix, values, found)
            self._write(found, step)

    def _collect(self, prefix: str, values: Mapping, into: dict[str, float]) -> None:
        for name, value in values.items():
            if isinstance(value, Mapping):
                self._collect(f"{prefix}/{name}", value, into)
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                self._number(f"{prefix}/{name}", value, into)

    def members(self, tag: str, values, step: int) -> None:
        """One scalar per member, `tag/member_i`."""
        if self.sinks:
            found: dict[str, float] = {}
            for member, value in enumerate(values):
                self._number(f"{tag}/member_{member}", value, found)
            self._write(found, step)

    def close(self, failed: bool | None = None) -> None:
        """Finish every sink. `failed` (by default: whether an exception is on its way out, as in the
        `finally:` the agents close their log in) marks a wandb run as failed."""
        if failed is None:
            failed = sys.exc_info()[0] is not None
        sinks, self.sinks = self.sinks, []
        for sink in sinks:
            sink.close(failed)

    def __enter__(self) -> RunLog:
        return self

    def __exit__(self, kind, *exc) -> None:
        self.close(failed=kind is not None)


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
