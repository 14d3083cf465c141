"""JAX-native random-policy data collection with gymnax: many environments stepped in one jitted scan.

This module owns the gymnax backend of data collection: it plays a uniformly random policy in
`num_envs` parallel copies of a gymnax classic-control environment (`vmap` inside one jitted
`lax.scan` over time) and returns the same `Transitions` rows, with the same meaning, as the
gymnasium collector, only about a hundred times faster (a million CartPole transitions in well
under a second). gymnax's own episode handling is deliberately bypassed: `env.step` auto-resets
(the observation after a terminal step would be the reset one) and applies gymnax's own time limit,
so episodes are driven here from `step_env` and `reset_env`, with truncation decided only by
`max_episode_steps`. It also keeps the per-environment knowledge needed to line gymnax up with
gymnasium (state field names, one dynamics fix) so the tests can check both step alike.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import UserError
from ..transitions import Transitions

# gymnax's own time limit must never end an episode here (truncation is `max_episode_steps`'s job),
# so it is raised out of reach. gymnax 1.x's `step_env` reports natural termination only, but older
# versions folded `time >= max_steps_in_episode` into the same flag; this keeps either honest.
_NO_TIME_LIMIT = int(np.iinfo(np.int32).max)

# Default parallelism for `transitions=N`: every env runs about N / num_envs steps and the episode
# it is in when its steps run out is cut by the budget. Each env should run for at least this many
# steps so that cut episodes are a small share of the data and the state distribution matches
# episodes played to the end (a random CartPole episode lasts ~22 steps: ~10 whole episodes per env).
_MIN_STEPS_PER_ENV = 250
# Beyond a few thousand envs a CPU gains nothing (every vector op is already long) and the scan gets
# too short for the rule above at small N anyway.
_MAX_ENVS = 4096


class GymnaxCollectError(UserError):
    """Bad arguments to the gymnax collector (printed as a one-line error)."""


# --------------------------------------------------------------------------------------------------
# Per-environment knowledge


def _continuous_mountain_car_step(env, key, state, action, params):
    """gymnax's MountainCarContinuous `step_env`, with gymnasium's rule for the left wall.

    gymnax 1.0.1 zeroes the velocity where `position >= goal_position and velocity < 0`; gymnasium
    (and the original gym) zeroes it where `position == min_position and velocity < 0`: the car
    stops dead at the left wall. With gymnax's rule the car keeps a negative velocity while pinned
    at -1.2, and the next steps differ from gymnasium's. Everything else is gymnax's code as is.
    """
    del key
    force = jnp.clip(action, params.min_action, params.max_action)
    velocity = state.velocity + force * params.power - jnp.cos(3 * state.position) * params.gravity
    velocity = jnp.clip(velocity, -params.max_speed, params.max_speed)
    position = jnp.clip(state.position + velocity, params.min_position, params.max_position)
    velocity = jnp.where((position == params.min_position) & (velocity < 0), 0.0, velocity)
    position, velocity = position.squeeze(), velocity.squeeze()
    terminated = (position >= params.goal_position) & (velocity >= params.goal_velocity)
    reward = (-0.1 * action**2).squeeze() + 100.0 * terminated
    state = state.replace(position=position, velocity=velocity, time=state.time + 1)
    return env.get_obs(state), state, reward, terminated, {}


def _gymnax_step(env, key, state, action, params):
    return env.step_env(key, state, action, params)


def _pendulum_extra(gymnasium_env) -> dict[str, Any]:
    last_u = gymnasium_env.unwrapped.last_u  # None right after reset
    return {"last_u": 0.0 if last_u is None else float(np.asarray(last_u).reshape(()))}


@dataclasses.dataclass(frozen=True)
class _EnvEntry:
    gymnax_class: str  # class name in gymnax.environments.classic_control
    # gymnax EnvState field names, in the order of gymnasium's `env.unwrapped.state`
    state_fields: tuple[str, ...]
    # gymnax EnvState fields that gymnasium keeps elsewhere (read from the gymnasium env)
    extra_fields: Callable[[Any], dict[str, Any]] = lambda gymnasium_env: {}
    # (env, key, state, action, params) -> step_env's 5-tuple; gymnax's own `step_env` unless fixed
    step: Callable = _gymnax_step


_ENVS: dict[str, _EnvEntry] = {
    "CartPole-v1": _EnvEntry("CartPole", ("x", "x_dot", "theta", "theta_dot")),
    "Acrobot-v1": _EnvEntry("Acrobot", ("joint_angle1", "joint_angle2", "velocity_1", "velocity_2")),
    "MountainCar-v0": _EnvEntry("MountainCar", ("position", "velocity")),
    "MountainCarContinuous-v0": _EnvEntry(
        "ContinuousMountainCar", ("position", "velocity"), step=_continuous_mountain_car_step
    ),
    "Pendulum-v1": _EnvEntry("Pendulum", ("theta", "theta_dot"), extra_fields=_pendulum_extra),
}
GYMNAX_ENVS = tuple(_ENVS)


def _entry(env_id: str) -> _EnvEntry:
    if env_id not in _ENVS:
        raise GymnaxCollectError(f"unsupported environment {env_id!r} for gymnax; supported: {', '.join(_ENVS)}")
    return _ENVS[env_id]


@functools.lru_cache(maxsize=None)
def gymnax_env(env_id: str):
    """(env, params) for `env_id`: the gymnax environment and its default parameters, time limit off.

    Importing gymnax takes a few seconds (its package imports every environment family), so it
    happens here, on first use, not when this module is imported.
    """
    entry = _entry(env_id)
    classic_control = importlib.import_module("gymnax.environments.classic_control")
    env = getattr(classic_control, entry.gymnax_class)()
    return env, env.default_params.replace(max_steps_in_episode=_NO_TIME_LIMIT)


def gymnax_step(env_id: str, key, state, action, params=None):
    """One transition without auto-reset: (obs, state, reward, terminated, info), as `step_env`.

    The step the collector uses: gymnax's `step_env`, or its fixed version where gymnax departs
    from gymnasium (MountainCarContinuous). `params` default to `gymnax_env(env_id)[1]`.
    """
    env, default_params = gymnax_env(env_id)
    return _entry(env_id).step(env, key, state, action, default_params if params is None else params)


def gymnax_state_from_gymnasium(env_id: str, gymnasium_env):
    """The gymnax EnvState equal to `gymnasium_env`'s current internal state, with time 0."""
    entry = _entry(env_id)
    env, _ = gymnax_env(env_id)
    values = np.asarray(gymnasium_env.unwrapped.state, dtype=np.float64).reshape(-1)
    if values.shape[0] != len(entry.state_fields):
        raise GymnaxCollectError(
            f"{env_id}: gymnasium state has {values.shape[0]} values, expected {len(entry.state_fields)} "
            f"({', '.join(entry.state_fields)})"
        )
    fields = dict(zip(entry.state_fields, values.tolist()))
    fields.update(entry.extra_fields(gymnasium_env))
    state_class = importlib.import_module(type(env).__module__).EnvState
    return state_class(**{name: jnp.float32(value) for name, value in fields.items()}, time=jnp.int32(0))


# --------------------------------------------------------------------------------------------------
# Collection


def _random_actions(env, params, key, num_envs: int):
    """A uniformly random action per env: int32 indices (Discrete) or float32 vectors in [low, high] (Box)."""
    space = env.action_space(params)
    if hasattr(space, "n"):
        return jax.random.randint(key, (num_envs,), 0, space.n, dtype=jnp.int32)
    low = jnp.broadcast_to(jnp.asarray(space.low, jnp.float32), space.shape)
    high = jnp.broadcast_to(jnp.asarray(space.high, jnp.float32), space.shape)
    return jax.random.uniform(key, (num_envs, *space.shape), jnp.float32, low, high)


def _rollout(key, env_id: str, num_envs: int, num_steps: int, max_episode_steps: int):
    """Play `num_envs` envs for `num_steps` steps each; every field comes back env-major, (E, T, ...).

    An episode ends on natural termination or after `max_episode_steps` steps (that row is marked
    truncated); the env is then reset by hand, so `next_states` is always the true next observation.
    """
    env, params = gymnax_env(env_id)
    step_fn = functools.partial(_entry(env_id).step, env)
    reset = jax.vmap(env.reset_env, in_axes=(0, None))
    step = jax.vmap(step_fn, in_axes=(0, 0, 0, None))
    start_key, key = jax.random.split(key)
    obs, state = reset(jax.random.split(start_key, num_envs), params)

    def body(carry, t):
        obs, state, step_in_episode = carry
        action_key, step_key, reset_key = jax.random.split(jax.random.fold_in(key, t), 3)
        action = _random_actions(env, params, action_key, num_envs)
        next_obs, next_state, reward, terminated, _ = step(
            jax.random.split(step_key, num_envs), state, action, params
        )
        terminated = terminated.astype(bool)
        capped = step_in_episode == max_episode_steps - 1
        truncated = capped & ~terminated
        ended = terminated | capped
        reset_obs, reset_state = reset(jax.random.split(reset_key, num_envs), params)

        def where_ended(reset_leaf, next_leaf):
            mask = ended.reshape(ended.shape + (1,) * (next_leaf.ndim - 1))
            return jnp.where(mask, reset_leaf, next_leaf)

        carry = (
            where_ended(reset_obs, next_obs),
            jax.tree.map(where_ended, reset_state, next_state),
            jnp.where(ended, 0, step_in_episode + 1),
        )
        row = (obs, action, next_obs, reward, terminated, truncated, step_in_episode)
        return carry, row

    first_step = jnp.zeros(num_envs, jnp.int32)
    _, rows = jax.lax.scan(body, (obs, state, first_step), jnp.arange(num_steps))
    states, actions, next_states, rewards, terminated, truncated, steps = (
        jnp.swapaxes(field, 0, 1) for field in rows  # (T, E, ...) -> (E, T, ...)
    )
    return Transitions(
        states=states.astype(jnp.float32),
        actions=actions,
        next_states=next_states.astype(jnp.float32),
        rewards=rewards.astype(jnp.float32),
        terminated=terminated,
        truncated=truncated,
        step=steps.astype(jnp.int32),
    )


def _flat(array):
    return array.reshape((-1,) + array.shape[2:])


def _number_episodes(step):
    """Episode ids in row order: a new episode starts at every step-0 row."""
    return (jnp.cumsum(step == 0) - 1).astype(jnp.int32)


@functools.lru_cache(maxsize=None)
def _transitions_program(env_id: str, num_envs: int, num_steps: int, full_envs: int, max_episode_steps: int):
    """Jitted key -> (rows, ids of the episodes at each env's end, which of those were cut).

    Exactly `full_envs * num_steps + (num_envs - full_envs) * (num_steps - 1)` rows: the first
    `full_envs` envs keep all their steps, the others all but the last. Cached per shape, so a
    second call with the same arguments (any seed) reuses the compiled program.
    """
    lengths = np.array([num_steps] * full_envs + [num_steps - 1] * (num_envs - full_envs))
    last_rows = np.cumsum(lengths) - 1

    def program(key):
        rows = _rollout(key, env_id, num_envs, num_steps, max_episode_steps)

        def env_major(field):
            return jnp.concatenate([_flat(field[:full_envs]), _flat(field[full_envs:, : num_steps - 1])])

        rows = Transitions(*(None if field is None else env_major(field) for field in rows))
        episode = _number_episodes(rows.step)
        # The episode each env is in when its steps run out is cut by the budget, unless that
        # last row ended it anyway; a cut episode's last row is marked truncated.
        cut = ~(rows.terminated[last_rows] | rows.truncated[last_rows])
        truncated = rows.truncated.at[last_rows].set(rows.truncated[last_rows] | cut)
        return rows._replace(truncated=truncated, episode=episode), episode[last_rows], cut

    return jax.jit(program)


@functools.lru_cache(maxsize=None)
def _episodes_program(env_id: str, num_envs: int, episodes: int, max_episode_steps: int):
    """Jitted key -> (rows, keep): env-major rows and the mask of those in each env's first episodes.

    Env e keeps its first `episodes // num_envs` episodes (one more for the first
    `episodes % num_envs` envs); each env runs long enough for all of them to end.
    """
    per_env = np.full(num_envs, episodes // num_envs)
    per_env[: episodes % num_envs] += 1
    num_steps = int(per_env.max()) * max_episode_steps

    def program(key):
        rows = _rollout(key, env_id, num_envs, num_steps, max_episode_steps)
        episode_in_env = jnp.cumsum(rows.step == 0, axis=1) - 1
        keep = episode_in_env < jnp.asarray(per_env)[:, None]
        return Transitions(*(None if field is None else _flat(field) for field in rows)), _flat(keep)

    return jax.jit(program)


def _check_count(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise GymnaxCollectError(f"{name} must be an integer, got {value!r}")
    if value < 1:
        raise GymnaxCollectError(f"{name} must be >= 1, got {value}")
    return int(value)


def default_num_envs(transitions: int, max_episode_steps: int) -> int:
    """Parallel envs for `transitions` rows: each runs >= ~250 steps, at most 4096 envs (see above)."""
    del max_episode_steps  # the rule holds per env whatever the cap; kept for callers' clarity
    return int(np.clip(transitions // _MIN_STEPS_PER_ENV, 1, _MAX_ENVS))


def collect_gymnax(
    env_id: str,
    *,
    seed: int,
    transitions: int | None = None,
    episodes: int | None = None,
    max_episode_steps: int = 200,
    num_envs: int | None = None,
) -> tuple[Transitions, np.ndarray]:
    """Random-policy rows from gymnax, as `(data, cut_episodes)`; numpy arrays on the host.

    Give exactly one of `transitions` (exactly that many rows) or `episodes` (exactly that many
    whole episodes). Episodes end on natural termination or after `max_episode_steps` steps (that
    row is marked truncated, not terminated). With `transitions`, each of the `num_envs` parallel
    envs is cut by the budget in the episode it is playing when its share of rows runs out: that
    episode's last row is marked truncated and its id is listed in `cut_episodes` (int32). With
    `episodes` no episode is cut. Rows are env-major (each env's steps in time order, env after
    env), so every episode's rows are contiguous; episode ids are 0..K-1 in row order.
    Same arguments, same arrays; the randomness is `jax.random.key(seed)`.
    """
    _entry(env_id)
    if (transitions is None) == (episodes is None):
        raise GymnaxCollectError("give exactly one of transitions or episodes")
    max_episode_steps = _check_count("max_episode_steps", max_episode_steps)
    if num_envs is not None:
        num_envs = _check_count("num_envs", num_envs)
    key = jax.random.key(seed)

    if transitions is not None:
        transitions = _check_count("transitions", transitions)
        if num_envs is None:
            num_envs = default_num_envs(transitions, max_episode_steps)
        num_envs = min(num_envs, transitions)  # every env contributes at least one row
        num_steps = -(-transitions // num_envs)
        full_envs = transitions - num_envs * (num_steps - 1)
        program = _transitions_program(env_id, num_envs, num_steps, full_envs, max_episode_steps)
        rows, last_episodes, cut = jax.device_get(program(key))
        cut_episodes = np.asarray(last_episodes)[np.asarray(cut)]
    else:
        episodes = _check_count("episodes", episodes)
        num_envs = min(num_envs or min(episodes, _MAX_ENVS), episodes)
        program = _episodes_program(env_id, num_envs, episodes, max_episode_steps)
        rows, keep = jax.device_get(program(key))
        rows = rows.take(np.asarray(keep))
        rows = rows._replace(episode=(np.cumsum(rows.step == 0) - 1).astype(np.int32))
        cut_episodes = np.zeros(0, np.int32)

    data = Transitions(*(np.array(field) for field in rows))  # writable host copies
    return data, np.asarray(cut_episodes, dtype=np.int32)
