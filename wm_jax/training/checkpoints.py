"""Checkpoints of a training run in progress, so an interrupted run resumes where it stopped.

`RunCheckpoints(directory, every=K, keep=N, description=...)` wraps orbax-checkpoint's
`CheckpointManager` around any pytree of arrays. Between compiled chunks (`train_timed`), every K
epochs, training saves the whole `TrainState`: parameters, optimizer state, run key, epoch, the
normaliser's statistics and the early-stopping carry, plus a JSON record holding the run's
description (configuration, data fingerprint and split), the loss curves so far and the state's
signature. The model-based RL loop saves its buffer, model and key after each iteration. orbax writes each step
into a temporary directory and renames it when complete, so a process killed mid-save leaves no
checkpoint that looks whole; the last N are kept.

Because every random draw derives from (run key, epoch, minibatch), a run resumed from epoch k
continues exactly as the uninterrupted run would have: on one device the final parameters are
bit-identical (tests/experiments/test_resume.py kills a training process with SIGKILL and checks this).

The state is saved as a flat list of arrays in the order of the state's own pytree (typed PRNG
keys as their raw key data); the signature (every leaf's path, shape and dtype) is checked before
restoring, so a checkpoint of another model or run configuration is refused with one line.
orbax is imported only when a run checkpoints.
"""

from __future__ import annotations

import hashlib
import logging
import os

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import UserError

FORMAT_VERSION = 1
CHECKPOINTS_DIR = "checkpoints"


class ResumeError(UserError):
    """A checkpoint directory that cannot be resumed: missing, damaged, newer, or from another run."""


def fingerprint(*arrays) -> str:
    """A SHA-256 of arrays' dtypes, shapes and bytes: a run resumes only on the rows it started with."""
    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def _is_key(leaf) -> bool:
    return hasattr(leaf, "dtype") and jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key)


def state_signature(state) -> list[str]:
    """One line per leaf, "path shape dtype", in pytree order: what a checkpoint must match."""
    lines = []
    for path, leaf in jax.tree_util.tree_flatten_with_path(state)[0]:
        dtype = "key<" + str(jax.random.key_impl(leaf)) + ">" if _is_key(leaf) else str(leaf.dtype)
        lines.append(f"{jax.tree_util.keystr(path)} {tuple(leaf.shape)} {dtype}")
    return lines


def _to_arrays(state) -> dict[str, jax.Array]:
    return {
        f"{i:05d}": jax.random.key_data(leaf) if _is_key(leaf) else leaf
        for i, leaf in enumerate(jax.tree.leaves(state))
    }


def _from_arrays(arrays: dict, template):
    leaves = []
    for i, leaf in enumerate(jax.tree.leaves(template)):
        # Uncommitted host-backed arrays, like a fresh run's state: the next chunk places them on its mesh.
        value = jnp.asarray(np.asarray(arrays[f"{i:05d}"]))
        leaves.append(jax.random.wrap_key_data(value, impl=jax.random.key_impl(leaf)) if _is_key(leaf) else value)
    return jax.tree.unflatten(jax.tree.structure(template), leaves)


def await_startup_cleanup(manager) -> None:
    """Wait for the clean-up of unfinished saves that an orbax `CheckpointManager` starts in a thread when it
    opens. orbax waits for it only before a save, and `close` does not: a run that stops before its first
    save (a refused resume, Ctrl-C) would exit with that thread still running, which then fails with a
    traceback. No public call waits for it, so this is the one place that uses orbax's private method;
    tests/training/test_checkpoints.py fails if it moves."""
    wait = getattr(manager, "_maybe_await_cleanup_tmp_directory", None)
    if wait is not None:
        wait()


class RunCheckpoints:
    """The checkpoints of one training run, in `directory` (usually the run's DIR/checkpoints)."""

    def __init__(self, directory: str, *, every: int, keep: int, description: dict, notes: dict | None = None):
        if every < 1:
            raise UserError(f"--checkpoint-every must be >= 1, got {every}")
        if keep < 1:
            raise UserError(f"--keep must be >= 1, got {keep}")
        import orbax.checkpoint as ocp

        # orbax reports every save through absl logging at INFO level.
        logging.getLogger("absl").setLevel(logging.WARNING)
        self.directory, self.every, self.keep = os.path.abspath(directory), every, keep
        # `description` must match for a resume; `notes` are saved beside it but not compared.
        self.description, self.notes = description, notes or {}
        self._ocp = ocp
        self._manager = ocp.CheckpointManager(
            self.directory,
            options=ocp.CheckpointManagerOptions(
                max_to_keep=keep, create=True, enable_async_checkpointing=False, cleanup_tmp_directories=True
            ),
            item_handlers={"state": ocp.StandardCheckpointHandler(), "record": ocp.JsonCheckpointHandler()},
        )

    @classmethod
    def of_run(cls, directory: str) -> dict:
        """The latest record saved in `directory` (a run's DIR/checkpoints), to resume it from its description."""
        if not os.path.isdir(directory):
            raise ResumeError(f"{directory}: no checkpoints here (a run started with --checkpoint-every writes them)")
        checkpoints = cls(directory, every=1, keep=1, description={})
        try:
            return checkpoints.record()
        finally:  # orbax's manager cleans up in a thread of its own: left open, it fails at interpreter exit
            checkpoints.close()

    def latest_epoch(self) -> int | None:
        return self._manager.latest_step()

    def save(self, step: int, state, extras: dict) -> None:
        """Save the pytree `state` as checkpoint `step` (between chunks), with JSON-able `extras`
        (a training run's loss curves so far; the model-based RL loop's iteration log)."""
        ocp = self._ocp
        record = {
            "format_version": FORMAT_VERSION,
            "description": self.description,
            "notes": self.notes,
            "signature": state_signature(state),
            **extras,
        }
        self._manager.save(
            int(step),
            force=True,
            args=ocp.args.Composite(state=ocp.args.StandardSave(_to_arrays(state)), record=ocp.args.JsonSave(record)),
        )

    def record(self, epoch: int | None = None) -> dict:
        """The JSON record of a saved epoch (default: the latest), checked for its format version."""
        epoch = self.latest_epoch() if epoch is None else epoch
        if epoch is None:
            raise ResumeError(f"{self.directory}: no checkpoint to resume from")
        ocp = self._ocp
        try:
            record = self._manager.restore(epoch, args=ocp.args.Composite(record=ocp.args.JsonRestore()))["record"]
        except Exception as error:  # orbax raises several types for a damaged step directory
            raise self._unreadable(epoch, error) from None
        version = record.get("format_version") if isinstance(record, dict) else None
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise ResumeError(
                f"{self.directory}: checkpoint format {version!r} is newer than this wm-jax reads "
                f"({FORMAT_VERSION}); upgrade wm-jax"
            )
        return record

    def resumable(self, epoch: int | None = None) -> dict:
        """The record of a saved epoch (default: the latest) if it is this run's; ResumeError otherwise."""
        record = self.record(epoch)
        saved, now = record.get("description"), self.description
        if saved != now:
            saved = saved if isinstance(saved, dict) else {}
            differing = sorted(k for k in set(saved) | set(now) if saved.get(k) != now.get(k))
            raise ResumeError(f"{self.directory}: the checkpointed run differs from this one in {', '.join(differing)}")
        return record

    def restore(self, template):
        """(the latest saved state, shaped like the pytree `template`; its record); refuses another run's checkpoint."""
        epoch = self.latest_epoch()
        record = self.resumable(epoch)
        expected = state_signature(template)
        if record["signature"] != expected:
            first = next(i for i, (a, b) in enumerate(zip(record["signature"] + [""], expected + [""])) if a != b)
            raise ResumeError(
                f"{self.directory}: checkpointed state does not fit this model "
                f"(saved {record['signature'][first : first + 1]}, expected {expected[first : first + 1]})"
            )
        ocp = self._ocp
        abstract = {name: ocp.utils.to_shape_dtype_struct(leaf) for name, leaf in _to_arrays(template).items()}
        try:
            arrays = self._manager.restore(epoch, args=ocp.args.Composite(state=ocp.args.StandardRestore(abstract)))[
                "state"
            ]
        except Exception as error:
            raise self._unreadable(epoch, error) from None
        return _from_arrays(arrays, template), record

    def _unreadable(self, step: int, error: Exception) -> ResumeError:
        earlier = sorted(s for s in self._manager.all_steps() if s < step)
        remedy = (
            f"; remove {os.path.join(self.directory, str(step))} to resume from checkpoint {earlier[-1]}"
            if earlier
            else ""
        )
        return ResumeError(f"{self.directory}: checkpoint {step} is unreadable ({type(error).__name__}){remedy}")

    def close(self) -> None:
        await_startup_cleanup(self._manager)
        self._manager.wait_until_finished()
        self._manager.close()
