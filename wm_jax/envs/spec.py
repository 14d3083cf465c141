"""One environment in one object: `EnvSpec`.

An `EnvSpec` holds what the library knows about an environment: its spaces and state labels, its
episode caps, its known reward and termination (JAX functions of one transition, batched over
leading axes), a shaped planning objective where one helps, how its gymnax version lines up with
gymnasium's (`GymnaxAdapter`), and the model-based-RL settings that gave its documented result.

Each registered environment is one module beside this one (`cartpole.py`, `acrobot.py`,
`mountain_car.py`, `mountain_car_continuous.py`, `pendulum.py`) that defines `SPEC`, and
`registry.py` lists them. An environment the project does not register is described from
gymnasium's own spaces by `EnvSpec.from_gymnasium`, with no known reward or termination.

Importing this module loads neither gymnasium nor JAX: the reward functions reach `jax.numpy`
through `jnp`, which imports it on first use.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
from collections.abc import Callable, Mapping
from typing import Any

from ..config import MBRLConfig
from .spaces import ActionEncoding, Box, Discrete, EnvError, Space, check_encoding

# The tutorial caps every random-data episode at 200 steps, whatever the environment's own limit.
TUTORIAL_MAX_EPISODE_STEPS = 200

# (state, action, next_state) -> (...,) array: rewards (float) or terminations (bool). `action` is
# the raw action: an int index for Discrete spaces, a float vector for Box spaces.
TransitionFn = Callable[[Any, Any, Any], Any]


class _LazyModule:
    """A module imported on first attribute access, so reward code can read `jnp.where(...)` while
    importing the environments costs no JAX import."""

    def __init__(self, name: str):
        self._name = name

    def __getattr__(self, attribute: str):
        return getattr(importlib.import_module(self._name), attribute)


jnp = _LazyModule("jax.numpy")


class UnknownEnv(EnvError):
    """An id gymnasium cannot make (not registered, or its module does not import)."""


@dataclasses.dataclass(frozen=True)
class Objective:
    """What a planner maximises: (state, action, next_state) -> (reward, terminated), batched over leading axes."""

    reward_fn: TransitionFn
    termination_fn: TransitionFn

    def __call__(self, state, action, next_state):
        return self.reward_fn(state, action, next_state), self.termination_fn(state, action, next_state)


def _no_extra_fields(gymnasium_env) -> dict[str, Any]:
    return {}


@dataclasses.dataclass(frozen=True)
class GymnaxAdapter:
    """How the gymnax version of an environment lines up with gymnasium's, for `gymnax_collect`."""

    module: str  # the gymnax module that defines the environment class and its EnvState
    class_name: str
    # gymnax EnvState field names, in the order of gymnasium's `env.unwrapped.state`
    state_fields: tuple[str, ...]
    # gymnax EnvState fields that gymnasium keeps elsewhere, read from the gymnasium env
    extra_fields: Callable[[Any], dict[str, Any]] = _no_extra_fields
    # (env, key, state, action, params) -> `step_env`'s 5-tuple, where gymnax's own departs from gymnasium
    step: Callable | None = None


# The settings every documented `wm-jax mbrl` row shares are `MBRLConfig`'s defaults, as recorded
# in the "config" of each bench/results/agents/mbrl-*/mbrl.json (docs/results.md, "Acting with the model":
# "CEM 4 x 200 candidates, horizon 30, TS-inf over E=5, delta + normalize, 40 epochs per
# retraining"). The keys are `MBRLConfig`'s fields, with `PlannerConfig`'s under "planner". Each
# environment's module states what its results-page row changed, through `mbrl_settings`.
MBRL_RECIPE: Mapping[str, Any] = dataclasses.asdict(MBRLConfig())


def mbrl_settings(*, planner: Mapping[str, Any] | None = None, **overrides) -> dict[str, Any]:
    """`MBRL_RECIPE` with `overrides` (MBRLConfig fields) and `planner` (PlannerConfig fields) replaced."""
    settings = copy.deepcopy(dict(MBRL_RECIPE))
    for name in {**overrides, **(planner or {})}:
        if name not in settings and name not in settings["planner"]:
            raise KeyError(f"{name!r} is not an MBRLConfig or PlannerConfig field of the recipe")
    settings.update(overrides)
    settings["planner"].update(planner or {})
    return settings


@dataclasses.dataclass(frozen=True)
class EnvSpec:
    """Everything the library knows about one environment (see the module docstring)."""

    env_id: str
    observation_space: Box
    action_space: Space
    state_labels: tuple[str, ...]
    # Default cap on random-data episodes: the tutorial's 200 for the registered environments, the
    # environment's own limit for any other.
    max_episode_steps: int
    # gymnasium's own TimeLimit: agents act and are evaluated under it.
    time_limit: int
    reward_fn: TransitionFn | None = None
    termination_fn: TransitionFn | None = None
    # A dense reward for planning only, where the true one gives a short plan nothing to climb.
    shaped_reward_fn: TransitionFn | None = None
    gymnax: GymnaxAdapter | None = None
    # Keyword arguments of MBRLConfig, PlannerConfig's under "planner" (shape of `MBRL_RECIPE`);
    # None where no result is documented. Read through `registry.recommended_mbrl_config`.
    recommended_mbrl: Mapping[str, Any] | None = dataclasses.field(default=None, compare=False)

    @property
    def state_dim(self) -> int:
        return self.observation_space.shape[0]

    @property
    def discrete(self) -> bool:
        return isinstance(self.action_space, Discrete)

    @property
    def default_action_encoding(self) -> ActionEncoding:
        return "index" if self.discrete else "continuous"

    def encoded_action_dim(self, encoding: ActionEncoding) -> int:
        """Width of the network's action input under `encoding`."""
        check_encoding(self, encoding)
        if encoding == "onehot":
            return self.action_space.n
        if encoding == "index":
            return 1
        return self.action_space.shape[0]

    @property
    def has_known_reward(self) -> bool:
        """Whether this environment has a known reward and termination (`planning_objective("known")`);
        without them, agents score with the model's own heads."""
        return self.reward_fn is not None and self.termination_fn is not None

    def planning_objective(self, source: str) -> Objective | None:
        """What the planner maximises: the known reward ("known"), the shaped one ("shaped") or None
        for the model's own heads ("learned"); EnvError where this environment has no such function."""
        if source == "learned":
            return None
        if not self.has_known_reward:
            raise EnvError(f"no known reward and termination for {self.env_id}: plan with the learned reward")
        if source == "shaped":
            if self.shaped_reward_fn is None:
                raise EnvError(f"no shaped objective for {self.env_id}: plan with the known reward")
            return Objective(self.shaped_reward_fn, self.termination_fn)
        return Objective(self.reward_fn, self.termination_fn)

    @classmethod
    def from_spaces(cls, env_id: str, observation_space, action_space, max_episode_steps: int) -> EnvSpec:
        """A spec from gymnasium space objects: labels s0, s1, ..., no known reward, termination or
        gymnax version, `max_episode_steps` both the collection cap and the time limit."""
        from gymnasium import spaces

        if not (isinstance(observation_space, spaces.Box) and len(observation_space.shape) == 1):
            raise EnvError(
                f"{env_id}: observation space {observation_space} is not supported; "
                "wm-jax models flat Box observations with Discrete or flat Box actions"
            )
        if isinstance(action_space, spaces.Discrete) and int(action_space.start) == 0:
            action = Discrete(int(action_space.n))
        elif isinstance(action_space, spaces.Box) and len(action_space.shape) == 1:
            action = Box(tuple(map(float, action_space.low)), tuple(map(float, action_space.high)))
        else:
            raise EnvError(
                f"{env_id}: action space {action_space} is not supported; "
                "wm-jax models Discrete (starting at 0) or flat Box actions"
            )
        observation = Box(tuple(map(float, observation_space.low)), tuple(map(float, observation_space.high)))
        return cls.from_recorded(env_id, observation, action, max_episode_steps)

    @classmethod
    def from_recorded(cls, env_id: str, observation_space: Box, action_space: Space, max_episode_steps: int) -> EnvSpec:
        """A spec from spaces recorded in a data file or a model (this package's `Box` and `Discrete`):
        labels s0, s1, ..., no gymnax version, `max_episode_steps` both the collection cap and the time
        limit, and a known reward, termination, shaped objective and recommended settings only where
        `envs.mujoco` has them. Needs no gymnasium."""
        if not isinstance(observation_space, Box) or len(observation_space.shape) != 1:
            raise EnvError(f"{env_id}: wm-jax models flat Box observations, got {observation_space}")
        from .mujoco import KNOWN  # the MuJoCo tasks' known functions, by id

        labels = tuple(f"s{i}" for i in range(observation_space.shape[0]))
        known = KNOWN.get(env_id)
        return cls(
            env_id,
            observation_space,
            action_space,
            labels,
            max_episode_steps,
            max_episode_steps,
            reward_fn=known.reward if known else None,
            termination_fn=known.termination if known else None,
            shaped_reward_fn=known.shaped if known else None,
            recommended_mbrl=known.recommended_mbrl if known else None,
        )

    @classmethod
    def from_gymnasium(cls, env_id: str, max_episode_steps: int | None = None) -> EnvSpec:
        """The spec of any gymnasium id `gym.make` accepts ("module:EnvId-v0" included), from the
        environment's own spaces and episode limit; `max_episode_steps` where it has none."""
        import gymnasium as gym

        try:
            env = gym.make(env_id)
        except gym.error.DependencyNotInstalled as error:
            raise EnvError(
                f"{env_id} needs a package that is not installed: {error} (MuJoCo tasks: pip install 'wm-jax[mujoco]')"
            ) from None
        except (gym.error.Error, ImportError, AttributeError) as error:
            # AttributeError: "module:EnvId-v0" whose module imports but defines no such entry point.
            raise UnknownEnv(f"gymnasium cannot make {env_id!r}: {error}") from None
        try:
            limit = max_episode_steps or (env.spec.max_episode_steps if env.spec is not None else None)
            if limit is None:
                raise EnvError(f"{env_id} has no episode limit: give max_episode_steps")
            return cls.from_spaces(env_id, env.observation_space, env.action_space, int(limit))
        finally:
            env.close()
