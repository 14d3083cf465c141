"""The training engine: train state, objectives, a growing data buffer, compiled chunks and the host loop.

- `state`: `TrainState`, what a run carries between chunks (with the early-stopping carry).
- `objectives`: `(member_params, batch, key) -> (loss, aux)` functions, MSE, Gaussian NLL, BCE.
- `buffer`: the fixed-capacity device buffer with a traced valid size.
- `shuffle`: each epoch's minibatch order, `jax.random.permutation` bit for bit, faster on CPU.
- `program`: `make_train` and `TrainProgram.train_chunk`, the compiled part.
- `loop`: `train_timed` and `fit`, the host part.
- `checkpoints`: `RunCheckpoints`, orbax checkpoints of a run in progress (resume).
- `sharding`: `training_mesh`, the (members, data) device mesh a run is spread over.
- `sweep`: `run_sweep`, many (learning rate, weight decay, seed) configurations as one vmapped program.
"""

from .buffer import Buffer, append, to_buffer, valid_rows
from .checkpoints import CHECKPOINTS_DIR, ResumeError, RunCheckpoints, fingerprint
from .loop import (
    FittedModel,
    TimedRun,
    TrainingDiverged,
    fit,
    fit_normalizer_for,
    progress_chunk_epochs,
    train_timed,
    validation_split,
)
from .objectives import (
    Batch,
    Objective,
    binary_cross_entropy,
    gaussian_nll,
    logvar_bound_penalty,
    make_objective,
    make_validation_score,
    masked_mse,
    mse_loss,
)
from .program import (
    ChunkMetrics,
    TrainingData,
    TrainMetrics,
    TrainProgram,
    as_batch,
    bootstrap_rows,
    epoch_keys,
    epoch_order,
    epoch_permutations,
    make_optimizer,
    make_train,
)
from .sharding import DeviceError, member_sharding, row_sharding, training_mesh
from .state import EarlyStopping, TrainState

__all__ = [
    "Batch",
    "Buffer",
    "CHECKPOINTS_DIR",
    "ChunkMetrics",
    "DeviceError",
    "EarlyStopping",
    "FittedModel",
    "Objective",
    "ResumeError",
    "RunCheckpoints",
    "TimedRun",
    "TrainMetrics",
    "TrainProgram",
    "TrainState",
    "TrainingData",
    "TrainingDiverged",
    "append",
    "as_batch",
    "binary_cross_entropy",
    "bootstrap_rows",
    "epoch_keys",
    "epoch_order",
    "epoch_permutations",
    "fingerprint",
    "fit",
    "fit_normalizer_for",
    "gaussian_nll",
    "logvar_bound_penalty",
    "make_objective",
    "make_optimizer",
    "make_train",
    "make_validation_score",
    "masked_mse",
    "member_sharding",
    "mse_loss",
    "progress_chunk_epochs",
    "row_sharding",
    "to_buffer",
    "train_timed",
    "training_mesh",
    "valid_rows",
    "validation_split",
]
