"""Typed configuration: one set of dataclasses feeds the CLI, the library and the bench.

Defaults are the tutorial's recipe (Adam lr 1e-3, MSE, 100 epochs, batch 32, hidden 64 -> 32,
dropout 0.2 with coupled L2 1e-4 for the regularized model, an ensemble of 5).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Literal

from .errors import UserError

ModelKind = Literal["simple", "regularized", "ensemble"]
ShuffleMode = Literal["shared", "per_member"]
# How rollouts and planners step an ensemble (see `models.propagation`).
PredictionMode = Literal["mean", "ts1", "tsinf"]
PREDICTION_MODES = ("mean", "ts1", "tsinf")


class ConfigError(UserError):
    """A configuration value that cannot work (the CLI prints it as a one-line error)."""


# Upper bounds on sizes: far above any real run, low enough that an absurd value (a typo, 10**12)
# is refused up front instead of overflowing an int32 counter or exhausting memory mid-run.
MAX_EPOCHS = 1_000_000
MAX_MEMBERS = 10_000
MAX_TRANSITIONS = 100_000_000
MAX_EPISODES = 100_000
MAX_PLANNER_SIZE = {"horizon": 10_000, "candidates": 1_000_000, "iterations": 10_000, "particles": 10_000}
MAX_DREAM_SIZE = {"generations": 1_000_000, "population": 100_000, "dream_starts": 100_000,
                  "episodes_per_iteration": MAX_EPISODES, "eval_episodes": MAX_EPISODES}
# Every consumer of a seed accepts this range: numpy and gymnasium need seed >= 0, jax.random.key an int64.
MAX_SEED = 2**63 - 1


def _check_at_most(config, caps: dict[str, int], label) -> None:
    """ConfigError for the first field of `config` above its cap in `caps`; `label(name)` words the field."""
    for name, cap in caps.items():
        if getattr(config, name) > cap:
            raise ConfigError(f"{label(name)} must be <= {cap:,}, got {getattr(config, name):,}")


def check_seed(seed, name: str = "seed") -> int:
    """`seed` as an int if it is an integer in [0, 2**63 - 1]; a ConfigError naming it otherwise."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= seed <= MAX_SEED:
        raise ConfigError(f"{name} must be an integer in [0, 2**63 - 1], got {seed!r}")
    return int(seed)


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Architecture of one world model: (state, action) -> hidden -> ... -> next state."""

    kind: ModelKind = "simple"
    hidden_sizes: tuple[int, ...] = (64, 32)
    # Dropout after every hidden ReLU; the tutorial's regularized model uses 0.2.
    dropout_rate: float = 0.0
    # Ensemble size; 1 for single models.
    members: int = 1
    # Predict next_state - state and add the state back (mbrl-lib's "learned delta").
    delta: bool = False
    # Standardise inputs and targets with statistics fitted on the training split
    # (`models.Normalizer`); predictions always come back in the environment's units.
    normalize: bool = False
    # Each member outputs a mean and a soft-bounded log-variance and trains on Gaussian NLL (PETS).
    probabilistic: bool = False
    # Extra heads on the same trunk: the reward (MSE) and a termination logit (binary cross-entropy).
    reward_head: bool = False
    termination_head: bool = False

    def __post_init__(self):
        if self.kind not in ("simple", "regularized", "ensemble"):
            raise ConfigError(f"unknown model kind {self.kind!r}: use simple, regularized or ensemble")
        if not 1 <= self.members <= MAX_MEMBERS:
            raise ConfigError(f"members must be in [1, {MAX_MEMBERS}], got {self.members}")
        if not self.hidden_sizes or any(h < 1 for h in self.hidden_sizes):
            raise ConfigError(f"hidden sizes must be positive, got {self.hidden_sizes}")
        if not 0.0 <= self.dropout_rate < 1.0:
            raise ConfigError(f"dropout rate must be in [0, 1), got {self.dropout_rate}")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Optimisation recipe. `weight_decay` is torch-style coupled L2 (added to the gradient)."""

    epochs: int = 100
    batch_size: int = 32
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    # "shared": every member sees the same minibatch order each epoch (the tutorial's ensemble).
    # "per_member": each member draws its own permutation (decorrelates members, bootstrap-like).
    shuffle: ShuffleMode = "shared"
    # Each member trains on its own resample (with replacement) of the training rows.
    bootstrap: bool = False
    # Stop when no member's validation score improved by 1% for this many epochs, and restore each
    # member's best weights; 0 trains every epoch. Needs a validation split.
    early_stopping_patience: int = 0
    # Keep the best K members on validation as the model's elites; 0 keeps them all.
    elites: int = 0
    # Rescale the predictive variance per state dimension after training so the validation split's
    # interval coverage is most reliable (post-hoc recalibration; needs a predictive spread).
    calibrate: bool = False
    # Fraction of the training rows (whole episodes) held back for early stopping, elites and calibration.
    validation_fraction: float = 0.1

    @property
    def needs_validation(self) -> bool:
        return self.early_stopping_patience > 0 or self.elites > 0 or self.calibrate

    def __post_init__(self):
        if self.epochs < 1:
            raise ConfigError(f"epochs must be >= 1, got {self.epochs}")
        if self.epochs > MAX_EPOCHS:
            raise ConfigError(f"epochs must be <= {MAX_EPOCHS}, got {self.epochs}")
        if self.batch_size < 1:
            raise ConfigError(f"batch size must be >= 1, got {self.batch_size}")
        if not (self.learning_rate > 0 and math.isfinite(self.learning_rate)):
            raise ConfigError(f"learning rate must be > 0 and finite, got {self.learning_rate}")
        if not (self.weight_decay >= 0 and math.isfinite(self.weight_decay)):
            raise ConfigError(f"weight decay must be >= 0 and finite, got {self.weight_decay}")
        if self.shuffle not in ("shared", "per_member"):
            raise ConfigError(f"shuffle must be shared or per_member, got {self.shuffle!r}")
        if self.early_stopping_patience < 0:
            raise ConfigError(f"early-stopping patience must be >= 0, got {self.early_stopping_patience}")
        if self.elites < 0:
            raise ConfigError(f"elites must be >= 0, got {self.elites}")
        if not 0.0 < self.validation_fraction < 1.0:
            raise ConfigError(f"validation fraction must be in (0, 1), got {self.validation_fraction}")


def tutorial_model_config(kind: ModelKind, members: int = 5) -> ModelConfig:
    """The tutorial's three models: simple, regularized (dropout 0.2) and an ensemble of simple models."""
    if kind == "regularized":
        return ModelConfig(kind="regularized", dropout_rate=0.2, members=1)
    if kind == "ensemble":
        return ModelConfig(kind="ensemble", members=members)
    return ModelConfig(kind=kind)


def tutorial_train_config(kind: ModelKind, **overrides) -> TrainConfig:
    """The tutorial's recipe; the regularized model adds torch-style weight decay 1e-4."""
    if kind == "regularized":
        overrides.setdefault("weight_decay", 1e-4)
    return TrainConfig(**overrides)


PlannerMethod = Literal["cem", "mppi", "random"]
RewardSource = Literal["known", "learned", "shaped"]


@dataclasses.dataclass(frozen=True)
class PlannerConfig:
    """Model-predictive control: how each action is planned (see `wm_jax.planning`)."""

    method: PlannerMethod = "cem"
    horizon: int = 15
    candidates: int = 200
    iterations: int = 4
    # Share of the candidates CEM refits to.
    elite_fraction: float = 0.1
    # Share of the old distribution CEM keeps at each refit (mbrl-lib's alpha).
    alpha: float = 0.1
    # MPPI's temperature: returns this far below the best get weight 1/e.
    temperature: float = 1.0
    # Imagined trajectories per candidate; 0 means one per elite member (TS-inf's natural count).
    particles: int = 0
    mode: PredictionMode = "tsinf"
    sample: bool = False
    # Score imagined steps with the environment's known reward and termination, the model's heads, or
    # a shaped objective (known reward plus a dense term toward the goal; Acrobot and MountainCar).
    reward: RewardSource = "known"

    def __post_init__(self):
        if self.method not in ("cem", "mppi", "random"):
            raise ConfigError(f"unknown planner {self.method!r}: use cem, mppi or random")
        if not self.temperature > 0:
            raise ConfigError(f"temperature must be > 0, got {self.temperature}")
        for name in ("horizon", "candidates", "iterations"):
            if getattr(self, name) < 1:
                raise ConfigError(f"planner {name} must be >= 1, got {getattr(self, name)}")
        if not 0 < self.elite_fraction <= 1 or self.elite_fraction * self.candidates < 1:
            raise ConfigError(f"elite fraction {self.elite_fraction} of {self.candidates} candidates keeps no elite")
        if not 0 <= self.alpha < 1:
            raise ConfigError(f"alpha must be in [0, 1), got {self.alpha}")
        if self.particles < 0:
            raise ConfigError(f"particles must be >= 0, got {self.particles}")
        _check_at_most(self, MAX_PLANNER_SIZE, lambda name: f"planner {name}")
        if self.mode not in PREDICTION_MODES:
            raise ConfigError(f"unknown prediction mode {self.mode!r}: use one of {', '.join(PREDICTION_MODES)}")
        if self.reward not in ("known", "learned", "shaped"):
            raise ConfigError(f"reward must be known, learned or shaped, got {self.reward!r}")

    @property
    def elites(self) -> int:
        return max(1, int(self.elite_fraction * self.candidates))


@dataclasses.dataclass(frozen=True)
class MBRLConfig:
    """The model-based RL loop (`wm-jax mbrl`): collect, train, act with MPC, retrain, repeat."""

    max_transitions: int = 2000
    # Random-policy transitions before the first model.
    initial_transitions: int = 200
    # Epochs of each (warm-started) retraining on the whole buffer.
    epochs: int = 40
    members: int = 5
    probabilistic: bool = False
    eval_episodes: int = 20
    # Evaluate in gymnasium, one Python step at a time, or in gymnax, the whole evaluation one lax.scan.
    eval_backend: Literal["gymnasium", "jax"] = "gymnasium"
    planner: PlannerConfig = PlannerConfig()

    def __post_init__(self):
        if not 2 <= self.max_transitions <= MAX_TRANSITIONS:
            raise ConfigError(f"max transitions must be in [2, {MAX_TRANSITIONS:,}], got {self.max_transitions:,}")
        _check_at_most(self, {"eval_episodes": MAX_EPISODES}, lambda name: name.replace("_", " "))
        if not 1 <= self.initial_transitions < self.max_transitions:
            raise ConfigError(f"initial transitions must be in [1, {self.max_transitions}), got {self.initial_transitions}")
        for name in ("epochs", "members", "eval_episodes"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name.replace('_', ' ')} must be >= 1, got {getattr(self, name)}")
        if self.eval_backend not in ("gymnasium", "jax"):
            raise ConfigError(f"eval backend must be gymnasium or jax, got {self.eval_backend!r}")


@dataclasses.dataclass(frozen=True)
class DreamConfig:
    """Dream training (`wm-jax dream`): a linear controller evolved inside the model, data grown with its episodes."""

    max_transitions: int = 5000
    initial_transitions: int = 1000
    # Real episodes the controller plays (and adds to the data) after each dream.
    episodes_per_iteration: int = 2
    generations: int = 60
    population: int = 64
    # Imagined episodes per controller per generation, from as many real initial states.
    dream_starts: int = 8
    mode: PredictionMode = "tsinf"
    disagreement_penalty: float = 0.0
    # Std of the Gaussian noise added to W s + b when collecting real data (exploration).
    exploration_noise: float = 0.1
    epochs: int = 40
    members: int = 5
    eval_episodes: int = 20

    def __post_init__(self):
        if self.mode not in ("mean", "tsinf"):
            raise ConfigError("dreams propagate with mean or tsinf")
        for name in ("max_transitions", "initial_transitions", "episodes_per_iteration", "generations", "population",
                     "dream_starts", "epochs", "members", "eval_episodes"):
            if getattr(self, name) < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        if self.initial_transitions > self.max_transitions:
            raise ConfigError("--initial-transitions exceeds --max-transitions")
        if self.max_transitions > MAX_TRANSITIONS:
            raise ConfigError(f"--max-transitions must be <= {MAX_TRANSITIONS:,}, got {self.max_transitions:,}")
        _check_at_most(self, MAX_DREAM_SIZE, lambda name: "--" + name.replace("_", "-"))
        for name in ("disagreement_penalty", "exploration_noise"):
            if not getattr(self, name) >= 0:
                raise ConfigError(f"--{name.replace('_', '-')} must be >= 0, got {getattr(self, name)}")
