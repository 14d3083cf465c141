"""Typed configuration: one set of dataclasses feeds the CLI, the library and the bench.

Defaults are the tutorial's recipe (Adam lr 1e-3, MSE, 100 epochs, batch 32, hidden 64 -> 32,
dropout 0.2 with coupled L2 1e-4 for the regularized model, an ensemble of 5).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Annotated, Literal

import tyro

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
MAX_HIDDEN_SIZE = 100_000
MAX_TRANSITIONS = 100_000_000
MAX_EPISODES = 100_000
MAX_PLANNER_SIZE = {"horizon": 10_000, "candidates": 1_000_000, "iterations": 10_000, "particles": 10_000}
MAX_DREAM_SIZE = {
    "generations": 1_000_000,
    "population": 100_000,
    "dream_starts": 100_000,
    "episodes_per_iteration": MAX_EPISODES,
    "eval_episodes": MAX_EPISODES,
}
# Every consumer of a seed accepts this range: numpy and gymnasium need seed >= 0, jax.random.key an int64.
MAX_SEED = 2**63 - 1


def _check_at_most(config, caps: dict[str, int], label) -> None:
    """ConfigError for the first field of `config` above its cap in `caps`; `label(name)` words the field."""
    for name, cap in caps.items():
        if getattr(config, name) > cap:
            raise ConfigError(f"{label(name)} must be <= {cap:,}, got {getattr(config, name):,}")


def _check_hidden_sizes(sizes) -> None:
    if not sizes or any(h < 1 for h in sizes):
        raise ConfigError(f"hidden sizes must be positive, got {' '.join(map(str, sizes)) or 'none'}")
    if any(h > MAX_HIDDEN_SIZE for h in sizes):
        raise ConfigError(f"hidden sizes must be <= {MAX_HIDDEN_SIZE:,}, got {' '.join(map(str, sizes))}")


def check_seed(seed, name: str = "seed") -> int:
    """`seed` as an int if it is an integer in [0, 2**63 - 1]; a ConfigError naming it otherwise."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= seed <= MAX_SEED:
        raise ConfigError(f"{name} must be an integer in [0, 2**63 - 1], got {seed!r}")
    return int(seed)


# The tutorial's presets: what `kind` implies where a field is left at None.
TUTORIAL_DROPOUT = {"regularized": 0.2}
TUTORIAL_MEMBERS = {"ensemble": 5}
TUTORIAL_WEIGHT_DECAY = {"regularized": 1e-4}


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Architecture of one world model: (state, action) -> hidden -> ... -> next state.

    `dropout_rate` and `members` left at None take the tutorial's preset for `kind` (dropout 0.2
    for regularized, 5 members for an ensemble, else 0 and 1), from Python and the CLI alike.
    """

    kind: Annotated[ModelKind, tyro.conf.arg(name="model")] = "simple"
    """the tutorial's model: simple, regularized (dropout) or ensemble"""
    hidden_sizes: tuple[int, ...] = (64, 32)
    """widths of the hidden ReLU layers (mbrl-lib's PETS network: 200 200 200 200)"""
    dropout_rate: float | None = None
    """dropout after every hidden ReLU (default: 0.2 for regularized, else 0)"""
    members: int | None = None
    """ensemble size (default: 5 for an ensemble, else 1)"""
    delta: bool = False
    """predict next_state - state and add the state back (predictions stay in environment units)"""
    normalize: bool = False
    """standardise inputs and targets with statistics of the training split (saved with the model)"""
    probabilistic: bool = False
    """Gaussian members (mean and soft-bounded log-variance) trained on negative log-likelihood (PETS)"""
    reward_head: bool = False
    """also predict the reward (MSE)"""
    termination_head: bool = False
    """also predict termination (a logit, binary cross-entropy)"""

    @classmethod
    def with_presets_open(cls) -> ModelConfig:
        """The default config with `dropout_rate` and `members` still None, for a run configuration's
        default: a command line that sets only `--model regularized` then gets the regularized preset
        (a resolved default would pin dropout 0). Run configurations resolve it in their __post_init__."""
        config = object.__new__(cls)
        for field in dataclasses.fields(cls):
            object.__setattr__(config, field.name, field.default)
        return config

    def __post_init__(self):
        if self.kind not in ("simple", "regularized", "ensemble"):
            raise ConfigError(f"unknown model kind {self.kind!r}: use simple, regularized or ensemble")
        if self.dropout_rate is None:
            object.__setattr__(self, "dropout_rate", TUTORIAL_DROPOUT.get(self.kind, 0.0))
        if self.members is None:
            object.__setattr__(self, "members", TUTORIAL_MEMBERS.get(self.kind, 1))
        if self.kind != "ensemble" and self.members != 1:
            raise ConfigError(
                f"members applies only to an ensemble (--model ensemble), got {self.members} members "
                f"for a {self.kind} model"
            )
        if not 1 <= self.members <= MAX_MEMBERS:
            raise ConfigError(f"members must be in [1, {MAX_MEMBERS}], got {self.members}")
        _check_hidden_sizes(self.hidden_sizes)
        if not 0.0 <= self.dropout_rate < 1.0:
            raise ConfigError(f"dropout rate must be in [0, 1), got {self.dropout_rate}")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Optimisation recipe: Adam with torch-style coupled L2 (`weight_decay` added to the gradient)."""

    epochs: int = 100
    batch_size: int = 32
    learning_rate: float = 1e-3
    weight_decay: float | None = None
    """torch-style coupled L2 (default: the model's preset, 1e-4 for regularized, else 0)"""
    shuffle: ShuffleMode = "shared"
    """minibatch order: shared by every member (the tutorial's ensemble), or per_member (decorrelates them)"""
    bootstrap: bool = False
    """each member trains on its own resample of the training rows, with replacement"""
    early_stopping_patience: int = 0
    """stop after this many epochs without a 1% validation improvement and keep each member's best weights
    (0: off)"""
    elites: int = 0
    """keep the best K members on validation as the model's elites (0: all members)"""
    calibrate: bool = False
    """after training, recalibrate the predictive distribution per state dimension so the validation split's
    intervals cover what they claim (needs a predictive spread)"""
    validation_fraction: float = 0.1
    """share of the training split (whole episodes) held back for early stopping, elites and calibration"""

    def for_model(self, model: ModelConfig) -> TrainConfig:
        """This recipe with the model's preset weight decay where it is left at None."""
        if self.weight_decay is not None:
            return self
        return dataclasses.replace(self, weight_decay=TUTORIAL_WEIGHT_DECAY.get(model.kind, 0.0))

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
        if self.weight_decay is not None and not (self.weight_decay >= 0 and math.isfinite(self.weight_decay)):
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
    return ModelConfig(kind=kind, members=members if kind == "ensemble" else None)


def tutorial_train_config(kind: ModelKind, **overrides) -> TrainConfig:
    """The tutorial's recipe; the regularized model adds torch-style weight decay 1e-4."""
    return TrainConfig(**overrides).for_model(ModelConfig(kind=kind))


PlannerMethod = Literal["cem", "mppi", "random"]
RewardSource = Literal["known", "learned", "shaped"]


@dataclasses.dataclass(frozen=True)
class PlannerConfig:
    """Model-predictive control: how each action is planned (see `wm_jax.planning`)."""

    method: PlannerMethod = "cem"
    """cem (the cross-entropy method), mppi (exponentially weighted) or random shooting"""
    horizon: int = 15
    """imagined steps per candidate action sequence"""
    candidates: int = 200
    """action sequences scored per iteration"""
    iterations: int = 4
    """refits of the sampling distribution per action (cem, mppi)"""
    elite_fraction: float = 0.1
    """share of the candidates CEM refits to"""
    alpha: float = 0.1
    """share of the old distribution CEM keeps at each refit (mbrl-lib's alpha)"""
    temperature: float = 1.0
    """MPPI's temperature: returns this far below the best get weight 1/e"""
    particles: int = 0
    """imagined trajectories per candidate (0: one per elite member, TS-inf's natural count)"""
    mode: PredictionMode = "tsinf"
    """how imagined steps use the ensemble: mean of the elites, ts1 (a random member per step), tsinf (one per
    trajectory)"""
    sample: bool = False
    """sample each imagined step from the member's Gaussian (probabilistic models)"""
    reward: RewardSource = "known"
    """score imagined steps with the environment's own reward and termination (known), learned heads (learned), or
    the known reward plus a dense term toward the goal (shaped: Acrobot, MountainCar); returns are always real"""

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
    """real environment transitions, the random ones included"""
    initial_transitions: int = 200
    """random-policy transitions before the first model"""
    epochs: int = 40
    """epochs of each (warm-started) retraining on the whole buffer"""
    members: int = 5
    hidden_sizes: tuple[int, ...] = (64, 32)
    """widths of each member's hidden layers (mbrl-lib's PETS network: 200 200 200 200)"""
    probabilistic: bool = False
    """Gaussian members trained on negative log-likelihood"""
    eval_episodes: int = 20
    """fresh real episodes the final agent is evaluated on"""
    eval_backend: Literal["gymnasium", "jax"] = "gymnasium"
    """gymnasium: real environments stepped from Python; jax: gymnax environments, the whole evaluation one
    lax.scan"""
    planner: PlannerConfig = PlannerConfig(horizon=30)
    """how each action is planned (30 steps ahead in the shared recipe; `wm-jax mbrl --env ID` starts from the
    environment's recommended planner, e.g. 50 steps ahead for CartPole-v1)"""

    def __post_init__(self):
        if not 2 <= self.max_transitions <= MAX_TRANSITIONS:
            raise ConfigError(f"max transitions must be in [2, {MAX_TRANSITIONS:,}], got {self.max_transitions:,}")
        _check_at_most(self, {"eval_episodes": MAX_EPISODES}, lambda name: name.replace("_", " "))
        for name in ("initial_transitions", "epochs", "members", "eval_episodes"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name.replace('_', ' ')} must be >= 1, got {getattr(self, name)}")
        _check_hidden_sizes(self.hidden_sizes)
        if self.eval_backend not in ("gymnasium", "jax"):
            raise ConfigError(f"eval backend must be gymnasium or jax, got {self.eval_backend!r}")

    def check_random_start(self) -> None:
        """A run that starts from random transitions (no initial data) needs budget left after them."""
        if not self.initial_transitions < self.max_transitions:
            raise ConfigError(
                f"initial transitions must be in [1, {self.max_transitions}), got {self.initial_transitions}"
            )


@dataclasses.dataclass(frozen=True)
class DreamConfig:
    """Dream training (`wm-jax dream`): a controller trained inside the model, data grown with its episodes."""

    controller: Literal["linear", "ppo"] = "linear"
    """linear: a linear controller evolved with CMA-ES (World Models); ppo: an MLP actor-critic trained with PPO
    in thousands of imagined environments (the --ppo.* settings)"""

    max_transitions: int = 5000
    """real environment transitions, the random ones included"""
    initial_transitions: int = 1000
    """random-policy transitions before the first model"""
    episodes_per_iteration: int = 2
    """real episodes the controller plays (and adds to the data) after each dream"""
    generations: int = 60
    """CMA-ES generations per dream"""
    population: int = 64
    """controllers per generation"""
    dream_starts: int = 8
    """imagined episodes per controller and generation, from as many real initial states"""
    mode: PredictionMode = "tsinf"
    """mean: dream the elites' mean (one confident model); tsinf: each imagined episode follows its own member"""
    disagreement_penalty: float = 0.0
    """subtract this times the members' disagreement from every imagined reward"""
    exploration_noise: float = 0.1
    """std of the Gaussian noise on the controller's outputs while it collects real data (not in evaluation)"""
    epochs: int = 40
    """epochs of each (warm-started) retraining"""
    members: int = 5
    hidden_sizes: tuple[int, ...] = (64, 32)
    """widths of each member's hidden layers"""
    eval_episodes: int = 20
    """fresh real episodes the final controller is evaluated on"""

    def __post_init__(self):
        if self.controller not in ("linear", "ppo"):
            raise ConfigError(f"--controller must be linear or ppo, got {self.controller!r}")
        if self.mode not in ("mean", "tsinf"):
            raise ConfigError("dreams propagate with mean or tsinf")
        for name in (
            "max_transitions",
            "initial_transitions",
            "episodes_per_iteration",
            "generations",
            "population",
            "dream_starts",
            "epochs",
            "members",
            "eval_episodes",
        ):
            if getattr(self, name) < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        if self.population < 2:  # CMA-ES keeps the better half of each generation: one candidate leaves none
            raise ConfigError(f"--population must be >= 2 (CMA-ES ranks candidates), got {self.population}")
        _check_hidden_sizes(self.hidden_sizes)
        if self.max_transitions > MAX_TRANSITIONS:
            raise ConfigError(f"--max-transitions must be <= {MAX_TRANSITIONS:,}, got {self.max_transitions:,}")
        _check_at_most(self, MAX_DREAM_SIZE, lambda name: "--" + name.replace("_", "-"))
        for name in ("disagreement_penalty", "exploration_noise"):
            if not getattr(self, name) >= 0:
                raise ConfigError(f"--{name.replace('_', '-')} must be >= 0, got {getattr(self, name)}")

    def check_random_start(self) -> None:
        """A run that starts from random transitions (no initial data) takes at most its budget of them."""
        if self.initial_transitions > self.max_transitions:
            raise ConfigError("--initial-transitions exceeds --max-transitions")


@dataclasses.dataclass(frozen=True)
class OnlineConfig:
    """An agent learning in the real environment (`wm-jax sac`, `wm-jax mbpo`): its budget and its evaluations."""

    total_transitions: int = 10_000
    """real environment transitions, the random warm-up ones included"""
    initial_transitions: int = 1000
    """uniformly random actions before the first update"""
    eval_every: int = 1000
    """evaluate the deterministic policy every this many real transitions (the learning curve)"""
    eval_episodes: int = 10
    """fresh real episodes of each evaluation"""

    def __post_init__(self):
        for name in ("total_transitions", "initial_transitions", "eval_every", "eval_episodes"):
            if getattr(self, name) < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        if self.total_transitions > MAX_TRANSITIONS:
            raise ConfigError(f"--total-transitions must be <= {MAX_TRANSITIONS:,}, got {self.total_transitions:,}")
        if self.initial_transitions >= self.total_transitions:
            raise ConfigError(
                f"--initial-transitions ({self.initial_transitions}) must be below --total-transitions "
                f"({self.total_transitions})"
            )
        _check_at_most(self, {"eval_episodes": MAX_EPISODES}, lambda name: "--" + name.replace("_", "-"))


@dataclasses.dataclass(frozen=True)
class SACConfig:
    """Soft actor-critic: twin Q-networks, target networks and automatic entropy tuning.

    Defaults follow CleanRL's `sac_continuous_action.py` and stable-baselines3's SAC (Haarnoja et al.,
    2018): 256 x 256 networks, batch 256, gamma 0.99, tau 0.005, Adam 3e-4 for the actor and 1e-3 for
    the critics, entropy target -dim(A), one gradient step per real step.
    """

    hidden_sizes: tuple[int, ...] = (256, 256)
    """widths of the actor's and each critic's hidden layers"""
    batch_size: int = 256
    """replay rows per gradient step"""
    updates_per_step: int = 1
    """gradient steps per real step (G; one compiled lax.scan)"""
    gamma: float = 0.99
    """discount"""
    tau: float = 0.005
    """target networks move this share of the way to the critics after every gradient step"""
    actor_learning_rate: float = 3e-4
    critic_learning_rate: float = 1e-3
    alpha_learning_rate: float = 1e-3
    """Adam step size of log(alpha), the entropy coefficient's logarithm"""
    initial_alpha: float = 1.0
    """the entropy coefficient before any tuning"""
    target_entropy: float | None = None
    """the policy entropy alpha is tuned toward (default -dim(A))"""

    def __post_init__(self):
        for name in ("batch_size", "updates_per_step"):
            if getattr(self, name) < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        _check_at_most(
            self, {"updates_per_step": 10_000, "batch_size": 1_000_000}, lambda name: "--" + name.replace("_", "-")
        )
        _check_hidden_sizes(self.hidden_sizes)
        if not 0 <= self.gamma <= 1:
            raise ConfigError(f"--gamma must be in [0, 1], got {self.gamma}")
        if not 0 < self.tau <= 1:
            raise ConfigError(f"--tau must be in (0, 1], got {self.tau}")
        for name in ("actor_learning_rate", "critic_learning_rate", "alpha_learning_rate", "initial_alpha"):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) > 0):
                raise ConfigError(f"--{name.replace('_', '-')} must be a finite number > 0, got {getattr(self, name)}")
        if self.target_entropy is not None and not math.isfinite(self.target_entropy):
            raise ConfigError(f"--target-entropy must be finite, got {self.target_entropy}")


@dataclasses.dataclass(frozen=True)
class MBPOConfig:
    """Model-based policy optimisation (Janner et al., 2019): SAC trained mostly on short model rollouts
    branched from real states (`wm-jax mbpo`). Defaults are the paper's InvertedPendulum settings; each
    environment's own are in `policies.mbpo.MBPO_SETTINGS`."""

    epoch_length: int = 250
    """real steps between retrainings of the model, each followed by a round of model rollouts"""
    rollouts_per_step: int = 400
    """model rollouts per real step: each round starts rollouts_per_step x epoch_length of them from real states"""
    rollout_schedule: tuple[int, int, int, int] = (1, 15, 1, 1)
    """(a, b, k_a, k_b): rollouts are k_a steps long up to epoch a, then grow linearly to k_b at epoch b"""
    retain_epochs: int = 1
    """keep the model rollouts of this many rounds"""
    real_ratio: float = 0.05
    """share of real rows in each SAC minibatch (the rest are model rows)"""
    members: int = 7
    hidden_sizes: tuple[int, ...] = (200, 200, 200, 200)
    """widths of each member's hidden layers (mbrl-lib's PETS/MBPO network)"""
    epochs: int = 10
    """epochs of each warm-started retraining on the whole real buffer"""
    model_batch_size: int = 256

    def __post_init__(self):
        for name in ("epoch_length", "rollouts_per_step", "retain_epochs", "members", "epochs", "model_batch_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        _check_at_most(
            self,
            {"members": MAX_MEMBERS, "epochs": MAX_EPOCHS, "rollouts_per_step": 1_000_000, "retain_epochs": 10_000},
            lambda name: "--" + name.replace("_", "-"),
        )
        _check_hidden_sizes(self.hidden_sizes)
        first, last, short, long = self.rollout_schedule
        if not (0 <= first <= last and 1 <= short and 1 <= long <= 1_000):
            raise ConfigError(
                "--rollout-schedule A B KA KB needs 0 <= A <= B and rollout lengths 1 <= KA, KB <= 1000, "
                f"got {' '.join(map(str, self.rollout_schedule))}"
            )
        if not 0 <= self.real_ratio <= 1:
            raise ConfigError(f"--real-ratio must be in [0, 1], got {self.real_ratio}")

    def model_buffer_rows(self) -> int:
        """Rows of the model buffer: every round's rollouts at their longest, for `retain_epochs` rounds."""
        return self.rollouts_per_step * self.epoch_length * max(self.rollout_schedule[2:]) * self.retain_epochs

    def rollout_length(self, epoch: int) -> int:
        """The rollout length k at `epoch` (the paper's linear schedule, clipped to [k_a, k_b])."""
        first, last, short, long = self.rollout_schedule
        if epoch <= first or last == first:
            return short if epoch <= first else long
        share = min(1.0, (epoch - first) / (last - first))
        return int(short + share * (long - short))


@dataclasses.dataclass(frozen=True)
class PPOConfig:
    """PPO trained inside the model (`wm-jax dream --controller ppo`), PureJaxRL-style: every update collects
    `steps` imagined steps in each of `envs` model environments, then makes `epochs` passes of `minibatches`
    clipped-objective steps. Defaults are PureJaxRL's CartPole settings (CleanRL's ppo.py: clip 0.2, GAE 0.95)."""

    updates: int = 60
    """PPO updates per dream phase (between two rounds of real episodes)"""
    envs: int = 256
    """imagined environments stepped side by side (one batch)"""
    steps: int = 64
    """imagined steps per environment per update"""
    epochs: int = 4
    """passes over each update's data"""
    minibatches: int = 4
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip: float = 0.2
    entropy_coef: float = 0.01
    value_coef: float = 0.5
    max_grad_norm: float = 0.5
    learning_rate: float = 2.5e-4
    reward_scale: float = 1.0
    """multiply imagined rewards by this for PPO's critic and advantages (returns are reported unscaled): large
    rewards (Pendulum's reach -16 a step) otherwise swamp the policy's gradient under the norm clip"""
    hidden_sizes: tuple[int, ...] = (64, 64)
    """widths of the actor's and the critic's hidden layers (tanh)"""

    def __post_init__(self):
        for name in ("updates", "envs", "steps", "epochs", "minibatches"):
            if getattr(self, name) < 1:
                raise ConfigError(f"--ppo.{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        _check_at_most(
            self,
            {"updates": 1_000_000, "envs": 1_000_000, "steps": 100_000, "epochs": 10_000, "minibatches": 100_000},
            lambda name: "--ppo." + name.replace("_", "-"),
        )
        if (self.envs * self.steps) % self.minibatches:
            raise ConfigError(
                f"--ppo.minibatches ({self.minibatches}) must divide envs x steps ({self.envs * self.steps})"
            )
        _check_hidden_sizes(self.hidden_sizes)
        for name in ("gamma", "gae_lambda"):
            if not 0 <= getattr(self, name) <= 1:
                raise ConfigError(f"--ppo.{name.replace('_', '-')} must be in [0, 1], got {getattr(self, name)}")
        for name in ("clip", "learning_rate", "max_grad_norm", "reward_scale"):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) > 0):
                raise ConfigError(
                    f"--ppo.{name.replace('_', '-')} must be a finite number > 0, got {getattr(self, name)}"
                )
        for name in ("entropy_coef", "value_coef"):
            if not (math.isfinite(getattr(self, name)) and getattr(self, name) >= 0):
                raise ConfigError(
                    f"--ppo.{name.replace('_', '-')} must be a finite number >= 0, got {getattr(self, name)}"
                )
