"""What a training run carries between compiled chunks: `TrainState` and the early-stopping carry."""

from __future__ import annotations

from typing import NamedTuple

import jax
import optax
from flax import nnx

from ..models.normalization import Normalizer

# A member's validation score must improve by this fraction of its best to reset the patience
# counter (mbrl-lib's improvement threshold); any strict improvement still updates its best weights.
IMPROVEMENT_THRESHOLD = 0.01


class EarlyStopping(NamedTuple):
    """best_score (members,) validation score of each member's best weights so far; best_params
    those weights; epochs_since_improvement () int32; stopped () bool, set once patience runs out."""

    best_score: jax.Array
    best_params: nnx.State
    epochs_since_improvement: jax.Array
    stopped: jax.Array


class TrainState(NamedTuple):
    """Everything a run carries between compiled chunks of epochs.

    params and opt_state have a leading member axis; the normaliser is fixed for the run; `key` is
    the run key, from which every random draw derives by (epoch, minibatch), so a run split into
    chunks gives exactly the result of one long run; `epoch` counts the epochs done;
    `early_stopping` is None unless the run stops early.
    """

    params: nnx.State
    opt_state: optax.OptState
    normalizer: Normalizer
    key: jax.Array
    epoch: jax.Array
    early_stopping: EarlyStopping | None = None

    @property
    def stopped(self) -> bool:
        return self.early_stopping is not None and bool(self.early_stopping.stopped)

    def final_params(self) -> nnx.State:
        """The trained parameters: each member's best on validation when the run stops early."""
        return self.params if self.early_stopping is None else self.early_stopping.best_params
