"""The learned model as an environment, for agents of any library.

`FunctionalModelEnv` is gymnax-style: `reset(key, params)` and `step(key, state, action, params)` are
pure and jittable, so JAX agents (PureJaxRL-style PPO) vmap thousands of imagined environments inside
one `lax.scan`. `step` resets an environment whose episode ended, as gymnax's does. `reset_batch` and
`step_batch` are the same environment over a batch, in one call: under TS-1 and TS-inf each
environment runs through its own member only (`models.prediction.propagate_dealt`), so a step costs
one member pass per environment where the vmapped `step` runs all of them: for five members on a 2-core
CPU, three to four times the vmapped step's rate (`python -m bench.model_env`). `ModelEnv` is a
`gymnasium.Env` and `ModelVectorEnv` a `gymnasium.vector.VectorEnv` (over `step_batch`) on the same
model, for agents of other libraries (stable-baselines3, CleanRL).

Each episode starts from a state drawn uniformly from `starts` (rows of a dataset). A step predicts
the next state under a propagation mode (`models.prediction.propagate`: "mean", "ts1" or "tsinf",
whose member is drawn at reset; in a batch, environment j follows elite j mod K under TS-inf, and
TS-1 deals the elites out afresh each step), scores it with the environment's known reward and
termination (`EnvSpec.planning_objective("known")`) or with the model's own heads (by default the
known ones where the environment has them; a model without a reward head is refused, never scored 0),
and subtracts `disagreement_penalty` times the elites' disagreement (the mean over state dimensions of
their standard deviation), MOPO-style. Episodes are cut at `max_episode_steps` (truncated). A penalty, or
the "mean" mode, needs every member's prediction, so a batch then runs every member too.
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import gymnasium
import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from .ensemble import Ensemble, model_of
from .network import Prediction
from .prediction import propagate, propagate_dealt, trajectory_members, uniform_indices


@struct.dataclass
class ModelEnvState:
    """One imagined environment: its state (S,), TS-inf's member for the episode, and the step count."""

    state: jax.Array
    member: jax.Array
    time: jax.Array


class ModelEnvParams(NamedTuple):
    """What the functional environment steps: the model, and the start states (N, S) drawn at reset."""

    model: Ensemble
    starts: jax.Array


@dataclasses.dataclass(frozen=True)
class FunctionalModelEnv:
    """The model as a gymnax-style environment; the settings are static, the model and starts are params."""

    mode: str = "ts1"
    sample: bool = False
    # "known": the environment's own reward and termination; "learned": the model's heads (a reward head is
    # required); "auto": known where the environment has them, else learned.
    reward: str = "auto"
    disagreement_penalty: float = 0.0
    max_episode_steps: int = 200
    env_id: str | None = None  # whose known reward to use (the model's environment)

    def __post_init__(self):
        if self.mode not in ("mean", "ts1", "tsinf"):
            raise ValueError(f"unknown prediction mode {self.mode!r}: use mean, ts1 or tsinf")
        if self.reward not in ("auto", "known", "learned"):
            raise ValueError(f"reward must be auto, known or learned, got {self.reward!r}")
        if self.max_episode_steps < 1:
            raise ValueError(f"max_episode_steps must be >= 1, got {self.max_episode_steps}")

    @staticmethod
    def default_params(model: Ensemble, starts) -> ModelEnvParams:
        """The model (an `Ensemble`, or what `fit` returns) and the start states (N, S)."""
        model = model_of(model)
        shape, state_dim = np.shape(starts), model.spec.state_dim
        if len(shape) != 2 or shape[0] < 1 or shape[1] != state_dim:
            raise ValueError(f"start states must be rows (N, {state_dim}) of this model's states, got shape {shape}")
        return ModelEnvParams(model, jnp.asarray(starts, jnp.float32))

    def reward_source(self, model: Ensemble) -> str:
        """Where this environment's rewards come from for `model`, "known" or "learned" (see `reward`).
        ValueError where they would come from a reward head the model does not have: a model without
        one would otherwise give a reward of 0 at every step, and an agent would learn nothing from it."""
        source = self.reward
        if source == "auto":  # an explicit source never needs the environment's spec
            source = "known" if _has_known_reward(self.env_id) else "learned"
        if source == "learned" and not model.spec.config.reward_head:
            known = _has_known_reward(self.env_id)
            where = f"{self.env_id} has no known reward" if self.env_id else "no environment is named (env_id)"
            raise ValueError(
                f"the model has no reward head{'' if known else f' and {where}'}: train it with one "
                "(--reward-head, or ModelConfig(reward_head=True))" + (' or use reward="known"' if known else "")
            )
        return source

    def _objective(self, model: Ensemble):
        if self.reward_source(model) == "learned":
            return None
        from ..envs import env_spec

        return env_spec(self.env_id).planning_objective("known")

    def reset(self, key: jax.Array, params: ModelEnvParams) -> tuple[jax.Array, ModelEnvState]:
        start_key, member_key = jax.random.split(key)
        row = jax.random.randint(start_key, (), 0, params.starts.shape[0])
        member = trajectory_members(member_key, jnp.asarray(params.model.elites), 1)[0]
        state = ModelEnvState(params.starts[row], member, jnp.zeros((), jnp.int32))
        return state.state, state

    def step_env(self, key: jax.Array, state: ModelEnvState, action, params: ModelEnvParams):
        """One step without the reset: (obs, state, reward, terminated, truncated, disagreement)."""
        model = params.model
        raw = jnp.asarray(action)[None]
        prediction, members = propagate(
            model,
            state.state[None],
            model.spec.encode_actions(raw),
            key,
            self.mode,
            trajectory=state.member[None],
            sample=self.sample,
        )
        disagreement = _disagreement(model, members)
        scored = self._score(model, state.state[None], raw, prediction, disagreement)
        reward, terminated = jax.tree.map(lambda x: x[0], scored)
        time = state.time + 1
        next_state = ModelEnvState(prediction.mean[0], state.member, time)
        truncated = (time >= self.max_episode_steps) & ~terminated
        return next_state.state, next_state, reward, terminated, truncated, disagreement[0]

    def _score(self, model: Ensemble, states, raw, prediction: Prediction, disagreement):
        """(reward (B,), terminated (B,)) of a batch of steps, the disagreement penalty subtracted. With the
        learned heads, a model without a termination head never ends an episode (only the time limit does)."""
        objective = self._objective(model)
        if objective is not None:
            reward, terminated = objective(states, raw, prediction.mean)
        else:
            reward = prediction.reward
            logit = prediction.termination_logit
            terminated = logit > 0 if logit is not None else jnp.zeros(states.shape[0], bool)
        reward = jnp.asarray(reward, jnp.float32)
        if self.disagreement_penalty:
            reward = reward - self.disagreement_penalty * disagreement
        return reward, jnp.asarray(terminated, bool)

    def step(self, key: jax.Array, state: ModelEnvState, action, params: ModelEnvParams):
        """gymnax's step: (obs, state, reward, done, info); an ended episode is reset at once, and
        info holds "terminated", "truncated", "disagreement" and the ended episode's "final_obs"."""
        step_key, reset_key = jax.random.split(key)
        obs, next_state, reward, terminated, truncated, disagreement = self.step_env(step_key, state, action, params)
        done = terminated | truncated
        reset_obs, reset_state = self.reset(reset_key, params)
        state = jax.tree.map(lambda a, b: jnp.where(done, a, b), reset_state, next_state)
        info = {"terminated": terminated, "truncated": truncated, "disagreement": disagreement, "final_obs": obs}
        return jnp.where(done, reset_obs, obs), state, reward, done, info

    def _runs_every_member(self) -> bool:
        """Whether a batch step needs every member's prediction (the mean, or the disagreement)."""
        return self.mode == "mean" or bool(self.disagreement_penalty)

    def reset_batch(self, key: jax.Array, params: ModelEnvParams, num_envs: int):
        """`num_envs` environments at once: (obs (N, S), state of (N, ...) arrays). Under TS-inf,
        environment j follows elite j mod K for all its episodes."""
        elites = jnp.asarray(params.model.elites)
        rows = jax.random.randint(key, (num_envs,), 0, params.starts.shape[0])
        member = elites[jnp.arange(num_envs) % elites.shape[0]]
        state = ModelEnvState(params.starts[rows], member, jnp.zeros(num_envs, jnp.int32))
        return state.state, state

    def step_batch(self, key: jax.Array, state: ModelEnvState, actions, params: ModelEnvParams):
        """`step` for a batch from `reset_batch`, in one call: (obs, state, reward, done, info), each
        (N, ...). Ended episodes restart from a fresh start state (keeping their TS-inf member). info
        holds "terminated", "truncated", the ended episodes' "final_obs" and, where every member runs
        (the mean, or a disagreement penalty), "disagreement"."""
        step_key, reset_key = jax.random.split(key)
        model = params.model
        raw = jnp.asarray(actions)
        encoded = model.spec.encode_actions(raw)
        info = {}
        if self._runs_every_member():
            prediction, members = propagate(
                model, state.state, encoded, step_key, self.mode, trajectory=state.member, sample=self.sample
            )
            info["disagreement"] = _disagreement(model, members)
        else:
            prediction, _ = propagate_dealt(model, state.state, encoded, step_key, self.mode, sample=self.sample)
        reward, terminated = self._score(model, state.state, raw, prediction, info.get("disagreement"))
        time = state.time + 1
        truncated = (time >= self.max_episode_steps) & ~terminated
        done = terminated | truncated
        rows = uniform_indices(reset_key, done.shape, params.starts.shape[0])
        obs = jnp.where(done[:, None], params.starts[rows], prediction.mean)
        next_state = ModelEnvState(obs, state.member, jnp.where(done, 0, time))
        info.update(terminated=terminated, truncated=truncated, final_obs=prediction.mean)
        return obs, next_state, reward, done, info


def _has_known_reward(env_id: str | None) -> bool:
    """Whether `env_id` names an environment with a known reward and termination (`EnvSpec.has_known_reward`)."""
    from ..envs import env_spec

    return env_id is not None and env_spec(env_id).has_known_reward


def _disagreement(model: Ensemble, members: Prediction) -> jax.Array:
    """(B,) the elites' disagreement: the mean over state dimensions of their standard deviation."""
    return members.mean[jnp.asarray(model.elites)].std(axis=0).mean(axis=-1)


def _spaces(model: Ensemble):
    """Gymnasium spaces of the model's environment: unbounded observations (a model can predict beyond
    the real environment's bounds) and the environment's own action space."""
    from ..envs import env_spec

    if model.spec.env_id is None:
        raise ValueError("the model records no environment, so its action space is unknown")
    action = env_spec(model.spec.env_id).action_space
    observation = gymnasium.spaces.Box(-np.inf, np.inf, (model.spec.state_dim,), np.float32)
    if hasattr(action, "n"):
        return observation, gymnasium.spaces.Discrete(action.n)
    return observation, gymnasium.spaces.Box(np.float32(action.low), np.float32(action.high), dtype=np.float32)


def _functional(model: Ensemble, **settings: Any) -> FunctionalModelEnv:
    from ..envs import env_spec

    if settings.get("max_episode_steps") is None:
        settings["max_episode_steps"] = env_spec(model.spec.env_id).time_limit if model.spec.env_id else 200
    functional = FunctionalModelEnv(env_id=model.spec.env_id, **settings)
    functional.reward_source(model)  # a model that cannot give rewards is refused here, before any step
    return functional


class _KeyStream:
    """The key stream of an environment with gymnasium's stateful API: `reset(seed=...)` restarts it."""

    _key: jax.Array

    def _next_key(self) -> jax.Array:
        self._key, key = jax.random.split(self._key)
        return key


def _check_discrete(space, actions: np.ndarray) -> None:
    """A ValueError for an action a Discrete space does not hold (the model would encode it all the same)."""
    if isinstance(space, gymnasium.spaces.Discrete):
        valid = np.issubdtype(actions.dtype, np.integer) and ((actions >= 0) & (actions < space.n)).all()
        if not valid:
            raise ValueError(f"actions must be indices in [0, {space.n}) of {space}, got {actions.tolist()}")


class ModelEnv(_KeyStream, gymnasium.Env):
    """A `gymnasium.Env` backed by a trained model (see the module docstring); `starts` (N, S) are the
    states episodes start from. Settings: mode, sample, reward, disagreement_penalty, max_episode_steps."""

    metadata = {"render_modes": []}

    def __init__(self, model: Ensemble, starts, **settings: Any):
        model = model_of(model)
        self.functional = _functional(model, **settings)
        self.params = FunctionalModelEnv.default_params(model, starts)
        self.observation_space, self.action_space = _spaces(model)
        self._reset = jax.jit(self.functional.reset)
        self._step = jax.jit(self.functional.step_env)
        self._key = jax.random.key(0)
        self._state = None

    def reset(self, *, seed: int | None = None, options=None):
        super().reset(seed=seed)
        if seed is not None:
            self._key = jax.random.key(seed)
        obs, self._state = self._reset(self._next_key(), self.params)
        return np.asarray(obs, np.float32), {}

    def step(self, action):
        if self._state is None:
            raise RuntimeError("call reset before step")
        _check_discrete(self.action_space, np.asarray(action).reshape(1))
        obs, self._state, reward, terminated, truncated, disagreement = self._step(
            self._next_key(), self._state, jnp.asarray(action), self.params
        )
        info = {"disagreement": float(disagreement)}
        return np.asarray(obs, np.float32), float(reward), bool(terminated), bool(truncated), info

    def close(self):
        self._state = None


class ModelVectorEnv(_KeyStream, gymnasium.vector.VectorEnv):
    """A `gymnasium.vector.VectorEnv` of `num_envs` imagined environments stepped in one compiled call
    (`FunctionalModelEnv.step_batch`); an ended episode resets in the same step (its last observation in
    infos["final_obs"]), and infos["disagreement"] is there where every member runs (the mean, or a penalty)."""

    def __init__(self, model: Ensemble, starts, num_envs: int, **settings: Any):
        from gymnasium.vector.utils import batch_space

        self.metadata = {"autoreset_mode": gymnasium.vector.AutoresetMode.SAME_STEP}
        self.num_envs = num_envs
        model = model_of(model)
        self.functional = _functional(model, **settings)
        self.params = FunctionalModelEnv.default_params(model, starts)
        self.single_observation_space, self.single_action_space = _spaces(model)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._reset = jax.jit(self.functional.reset_batch, static_argnums=2)
        self._step = jax.jit(self.functional.step_batch)
        self._key = jax.random.key(0)
        self._state = None

    def reset(self, *, seed: int | None = None, options=None):
        if seed is not None:
            self._key = jax.random.key(seed)
        obs, self._state = self._reset(self._next_key(), self.params, self.num_envs)
        return np.asarray(obs, np.float32), {}

    def step(self, actions):
        _check_discrete(self.single_action_space, np.asarray(actions).reshape(-1))
        obs, self._state, reward, done, info = self._step(
            self._next_key(), self._state, jnp.asarray(actions), self.params
        )
        infos = {name: np.asarray(info[name]) for name in ("final_obs", "disagreement") if name in info}
        return (
            np.asarray(obs, np.float32),
            np.asarray(reward, np.float32),
            np.asarray(info["terminated"]),
            np.asarray(info["truncated"]),
            infos,
        )
