"""The host side of training: compile a chunk once, run chunks, report between them, finish a model.

Between compiled chunks the host shows progress, stops a run whose early-stopping carry says so,
and (later) writes checkpoints; nothing of that runs inside the compiled program, so the program
stays in the persistent compilation cache and works on any number of devices.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh

from ..compilation import compile_initialization
from ..config import ConfigError, TrainConfig
from ..data.format import DataError, transitions_of
from ..data.splits import split_by_episode
from ..errors import UserError
from ..interrupts import requested, stop_requests, stopped_after
from ..intervals import fit_calibration, predictive_gaussian
from ..models.ensemble import Ensemble, ensemble_of
from ..models.normalization import fit_normalizer
from ..models.prediction import check_rows, members_numpy
from ..models.spec import ModelSpec
from ..transitions import Transitions
from .buffer import to_buffer
from .checkpoints import RunCheckpoints
from .program import (
    TrainingData,
    TrainProgram,
    jitted_init_and_start,
    jitted_train_chunk,
    jitted_validation_scores,
    make_train,
    member_scores_to_elites,
)
from .sharding import to_host
from .state import TrainState


def progress_chunk_epochs(epochs: int, updates: int = 20) -> int:
    """Epochs per compiled chunk when progress is shown: about `updates` updates, and a divisor
    of `epochs` so every chunk has one shape and compiles once."""
    target = max(1, epochs // updates)
    return max(d for d in range(1, target + 1) if epochs % d == 0)


class TimedRun(NamedTuple):
    state: TrainState
    loss_curve: np.ndarray  # (epochs run, members)
    validation_curve: np.ndarray | None  # (epochs run, members) when the run stops early
    compile_seconds: float
    train_seconds: float

    @property
    def params(self):
        return self.state.final_params()


class TrainingDiverged(UserError):
    """A member's loss became NaN or infinite: training stops (the last finite checkpoint stays)."""


def _check_finite(losses: np.ndarray, first_epoch: int, checkpoints: RunCheckpoints | None) -> None:
    """Raise TrainingDiverged naming the first epoch and member whose loss is not finite."""
    bad = ~np.isfinite(losses)
    if not bad.any():
        return
    row, member = np.argwhere(bad)[0]
    kept = checkpoints.latest_epoch() if checkpoints is not None else None
    if checkpoints is None:
        where = "no checkpoints were being written (--checkpoint-every K saves one every K epochs)"
    elif kept is None:
        where = "no checkpoint had been saved yet"
    else:
        where = f"the last finite checkpoint (after epoch {kept}) is kept in {checkpoints.directory}"
    raise TrainingDiverged(
        f"training diverged: member {member}'s loss is {losses[row, member]} in epoch "
        f"{first_epoch + row + 1}; {where}; try a smaller learning rate"
    )


def compile_start(program: TrainProgram, init_key: jax.Array, run_key: jax.Array, normalizer=None):
    """The compiled `(init_key, run_key, normalizer) -> TrainState` before epoch 0 (compiled with
    `INITIALIZATION_COMPILER_OPTIONS`: the same bits as a default compile, in about half the time)."""
    return compile_initialization(jitted_init_and_start, program.initialization_form, init_key, run_key, normalizer)


# Training runs in compiled chunks of about this many seconds, so Ctrl-C (checked between chunks)
# takes effect within about a second; a chunk that takes twice as long is shrunk once.
TARGET_CHUNK_SECONDS = 1.0


def estimated_epoch_seconds(program: TrainProgram, rows: int) -> float:
    """A deliberately rough cost model of one epoch on a CPU: a fixed cost per minibatch step plus
    forward and backward matmuls at 20 GFLOP/s (a 2-core CPU reaches 20-120). It only sizes chunks."""
    spec, config = program.spec, program.config
    widths = (spec.state_dim + spec.action_dim, *spec.config.hidden_sizes, 2 * spec.state_dim + 2)
    weights = sum(a * b for a, b in zip(widths[:-1], widths[1:]))
    steps = max(1, -(-rows // config.batch_size))
    flops = 6 * program.members * config.batch_size * weights
    return steps * (30e-6 + flops / 20e9)


def chunk_size(target_epochs: int, period: int) -> int:
    """Epochs per chunk: a divisor of `period` (so chunks compile to one shape) near `target_epochs`
    when one lies in [target/2, target]; `target_epochs` otherwise (one more shape at the period's end)."""
    target = max(1, min(target_epochs, period))
    divisor = max(d for d in range(1, target + 1) if period % d == 0)
    return divisor if 2 * divisor >= target else target


def _save(checkpoints: RunCheckpoints, done: int, state, curves_so_far: dict) -> None:
    checkpoints.save(
        done,
        state,
        {"curves": {name: None if curve is None else curve.tolist() for name, curve in curves_so_far.items()}},
    )


def next_chunk_size(done: int, chunk: int, period: int, epochs: int) -> int:
    """Epochs of the chunk that starts after `done` of `epochs`: `chunk` at most, ending on the next multiple of
    `period` (a checkpoint's) at the latest, and on multiples of `chunk` within a period (so every chunk but a
    period's or the run's remainder has one shape and compiles once)."""
    return min(chunk - done % period % chunk, period - done % period, epochs - done)


class _Chunks:
    """The host's side of a chunked run: which chunk sizes to run (multiples of `period`, about
    `TARGET_CHUNK_SECONDS` each), their compiled programs (one per size), and the curves so far."""

    def __init__(self, program: TrainProgram, data: TrainingData, period: int):
        self.program, self.data, self.period, self.epochs = program, data, period, program.config.epochs
        seconds_per_epoch = estimated_epoch_seconds(program, data.train.capacity)
        self.chunk = chunk_size(int(TARGET_CHUNK_SECONDS / seconds_per_epoch), period)
        self.programs, self.curves, self.validation = {}, [], []
        self.compile_seconds = 0.0

    def restore(self, record: dict) -> None:
        members = self.program.members
        saved = {
            name: None if curve is None else np.asarray(curve, np.float32).reshape(-1, members)
            for name, curve in record["curves"].items()
        }
        self.curves = [saved["loss_curve"]]
        self.validation = [saved["validation_curve"]] if saved.get("validation_curve") is not None else []

    def next_size(self, done: int) -> int:
        return next_chunk_size(done, self.chunk, self.period, self.epochs)

    def compiled(self, size: int, state):
        """The compiled chunk of `size` epochs (a resume, a remainder or a shrunk chunk adds a size)."""
        if size not in self.programs:
            tick = time.perf_counter()
            lowered = jitted_train_chunk.lower(self.program.step_form, state, self.data, epochs=size)
            self.programs[size] = lowered.compile()
            self.compile_seconds += time.perf_counter() - tick
        return self.programs[size]

    def run(self, state, done: int):
        """One chunk from epoch `done`: (state, losses (epochs trained, members), epochs in the chunk); a
        chunk far slower than the target resizes the later ones (the cost model only guessed)."""
        size = self.next_size(done)
        program = self.compiled(size, state)
        tick = time.perf_counter()
        state, metrics = program(state, self.data)
        metrics = to_host(metrics)
        elapsed = time.perf_counter() - tick
        if elapsed > 2 * TARGET_CHUNK_SECONDS and size > 1:
            self.chunk = chunk_size(max(1, int(size * TARGET_CHUNK_SECONDS / elapsed)), self.period)
        trained = np.asarray(metrics.trained)
        losses = np.asarray(metrics.loss_curve)[trained]
        self.curves.append(losses)
        if metrics.validation_curve is not None:
            self.validation.append(np.asarray(metrics.validation_curve)[trained])
        return state, losses, size

    def so_far(self) -> dict:
        members = self.program.members
        return {
            "loss_curve": np.concatenate(self.curves) if self.curves else np.zeros((0, members), np.float32),
            "validation_curve": np.concatenate(self.validation) if self.validation else None,
        }


def train_timed(
    program: TrainProgram,
    key: jax.Array,
    data: Transitions | TrainingData,
    *,
    chunk_epochs: int | None = None,
    on_epoch: Callable[[int, np.ndarray], None] | None = None,
    normalizer=None,
    checkpoints: RunCheckpoints | None = None,
) -> TimedRun:
    """Compile ahead of time, then train in chunks of about a second that end on multiples of
    `chunk_epochs` (default: the whole run), or of `checkpoints.every` with checkpoints.

    `key` splits into the initialisation key and the run key. Between chunks the host calls
    `on_epoch(epoch, per_member_losses)` for each epoch of the chunk, stops once early stopping
    has, stops with `TrainingDiverged` at a non-finite loss, and stops at Ctrl-C (`wm_jax.interrupts`).
    With `checkpoints`, every `checkpoints.every` epochs end with a saved checkpoint, and a run with
    one already saved resumes from its latest one. Compilation and training are timed separately.
    """
    if isinstance(data, Transitions):
        data = TrainingData(to_buffer(data))
    period = checkpoints.every if checkpoints is not None else chunk_epochs or program.config.epochs
    if period < 1:
        raise ValueError(f"chunks of {period} epochs")
    chunks = _Chunks(program, data, period)
    init_key, run_key = jax.random.split(key)
    tick = time.perf_counter()
    state = compile_start(program, init_key, run_key, normalizer)(init_key, run_key, normalizer)
    if checkpoints is not None and checkpoints.latest_epoch() is not None:
        state, record = checkpoints.restore(state)
        chunks.restore(record)
    done, epochs = int(state.epoch), program.config.epochs
    if done < epochs and not state.stopped:
        chunks.compiled(chunks.next_size(done), state)
    compile_seconds, compiled_before = time.perf_counter() - tick, chunks.compile_seconds
    tick = time.perf_counter()
    with stop_requests():
        while done < epochs and not state.stopped and not requested():
            state, losses, size = chunks.run(state, done)
            _check_finite(losses, done, checkpoints)
            for offset, epoch_losses in enumerate(losses if on_epoch is not None else ()):
                on_epoch(done + offset, epoch_losses)
            done += size
            if checkpoints is not None and (done % period == 0 or done == epochs):
                _save(checkpoints, done, state, chunks.so_far())
        if requested() and done < epochs and not state.stopped:
            raise stopped_after("epoch", done, checkpoints, lambda: _save(checkpoints, done, state, chunks.so_far()))
    jax.block_until_ready(state)
    curves = chunks.so_far()
    compiled_later = chunks.compile_seconds - compiled_before  # sizes first met mid-run
    compile_seconds += compiled_later
    train_seconds = time.perf_counter() - tick - compiled_later
    return TimedRun(state, curves["loss_curve"], curves["validation_curve"], compile_seconds, train_seconds)


@dataclasses.dataclass(frozen=True)
class FittedModel:
    """A trained model and how training went.

    validation_scores (members,) are the final members' scores on the validation split (None
    without one); the elites are the best of them.
    """

    ensemble: Ensemble
    loss_curve: np.ndarray  # (epochs trained, members)
    validation_curve: np.ndarray | None
    validation_scores: np.ndarray | None
    compile_seconds: float
    train_seconds: float

    @property
    def spec(self) -> ModelSpec:
        return self.ensemble.spec

    @property
    def params(self):
        return self.ensemble.params

    @property
    def epochs_trained(self) -> int:
        return self.loss_curve.shape[0]


def calibrated(ensemble: Ensemble, validation: Transitions) -> Ensemble:
    """`ensemble` with its predictive distribution recalibrated on `validation` (see `wm_jax.intervals`)."""
    members = members_numpy(ensemble, validation.states, validation.actions)
    moments, variance = predictive_gaussian(members.mean, members.logvar, ensemble.elites)
    return ensemble.replace(calibration=fit_calibration(moments.mean, variance, validation.next_states))


def fit_normalizer_for(spec: ModelSpec, data: Transitions):
    """The normaliser of a `spec` model trained on `data` (identity statistics unless it normalises)."""
    return fit_normalizer(
        data.states,
        spec.encode_actions(data.actions),
        data.next_states,
        data.rewards,
        normalize=spec.config.normalize,
        delta=spec.config.delta,
    )


def validation_split(data: Transitions, config: TrainConfig, seed: int) -> tuple[Transitions, Transitions]:
    """(training rows, validation rows): whole episodes of the training data held back."""
    try:
        split = split_by_episode(data, config.validation_fraction, seed)
    except DataError as error:
        raise DataError(f"early stopping and elites need a validation split: {error}") from None
    return split.train, split.held_out


def fit(
    spec: ModelSpec,
    config: TrainConfig,
    data: Transitions,
    seed: int,
    on_epoch: Callable[[int, np.ndarray], None] | None = None,
    *,
    validation: Transitions | None = None,
    optimizer: optax.GradientTransformation | None = None,
    mesh: Mesh | None = None,
    checkpoints: RunCheckpoints | None = None,
    report_every: int | None = None,
) -> FittedModel:
    """Train `spec` on `data` (a Transitions with raw actions, or a `Dataset`): the library's one-call entry point.

    - The normaliser is fitted on the training rows (identity unless the model normalises).
    - Early stopping and elites use `validation`, by default whole episodes of `data` held back
      (`config.validation_fraction`, seeded by `seed`).
    - With `on_epoch` or early stopping, training runs in chunks of epochs and the host reports
      or stops between them; the result is the same as one chunk. Chunks hold about 1/20 of the
      run (a progress bar's updates), or, with `report_every` (and no early stopping), about a
      second of training ending on multiples of `report_every` (a log's writes: fewer, cheaper chunks).
    """
    data = transitions_of(data)
    validation = transitions_of(validation) if validation is not None else None
    for rows in [rows for rows in (data, validation) if rows is not None]:
        try:
            check_rows(spec, rows.states.shape, rows.actions.shape)
        except ValueError as error:  # the data does not fit the model (another environment's, say)
            raise DataError(f"the data does not fit the model: {error}") from None
    if config.elites > spec.config.members:
        raise ConfigError(f"cannot keep {config.elites} elites of {spec.config.members} members")
    if config.calibrate and not spec.config.probabilistic and spec.config.members < 2:
        raise ConfigError("calibration rescales a predictive spread: it needs a probabilistic model or several members")
    if config.needs_validation and validation is None:
        data, validation = validation_split(data, config, seed)
    normalizer = fit_normalizer_for(spec, data)
    if spec.config.reward_head and data.rewards is None:
        raise DataError("a reward head needs rewards in the data")
    if spec.config.termination_head and data.terminated is None:
        raise DataError("a termination head needs termination flags in the data")
    program = make_train(spec, config, mesh=mesh, optimizer=optimizer)
    training_data = TrainingData(to_buffer(data), to_buffer(validation) if validation is not None else None)
    chunked = on_epoch is not None or config.early_stopping_patience > 0
    if not chunked:
        chunk = None
    elif report_every is not None and config.early_stopping_patience == 0:
        chunk = report_every  # chunks of about a second that end on multiples of it
    else:
        chunk = progress_chunk_epochs(config.epochs)
    run = train_timed(
        program,
        jax.random.key(seed),
        training_data,
        chunk_epochs=chunk,
        on_epoch=on_epoch,
        normalizer=normalizer,
        checkpoints=checkpoints,
    )
    params = run.params
    if jax.process_count() > 1:
        # Every process gets the whole trained ensemble; what follows (scores, calibration) is host-side.
        params = jax.tree.map(jnp.asarray, to_host(params))
    scores = elites = None
    if validation is not None:
        scores = np.asarray(jitted_validation_scores(program.step_form, params, normalizer, training_data.validation))
        elites = member_scores_to_elites(scores, config.elites)
    ensemble = ensemble_of(spec, params, normalizer, np.sort(elites) if elites is not None else None)
    if config.calibrate:
        ensemble = calibrated(ensemble, validation)
    return FittedModel(ensemble, run.loss_curve, run.validation_curve, scores, run.compile_seconds, run.train_seconds)
