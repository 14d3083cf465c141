"""Random-policy data collection in JAX with gymnax: thousands of envs stepped in one jitted scan.

This module owns the gymnax backend of data collection. It plays a uniformly random policy in
`num_envs` copies of a gymnax classic-control environment at once (`vmap` inside one jitted
`lax.scan` over time, keys drawn up front) and returns `Transitions` rows that mean exactly what the
gymnasium collector's rows mean, at a small fraction of its cost (a million CartPole rows in
about a second and a half on two CPU cores, compile included). gymnax's own episode handling is
bypassed on purpose: `env.step` auto-resets (the observation it returns after a terminal step is
the next episode's first) and applies gymnax's time limit, so episodes are driven here with
`step_env` and `reset_env`, and only `max_episode_steps` truncates. The per-environment knowledge
needed to line gymnax up with gymnasium (state field names, one dynamics fix) is each
environment's `EnvSpec.gymnax`, so the tests can step both from the same state."""

from __future__ import annotations

import functools
import importlib
import importlib.util
import os
import sys
import types
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import UserError
from ..transitions import Transitions
from .registry import ENVS, env_spec
from .spec import GymnaxAdapter

# gymnax's own time limit must never end an episode here (truncation is `max_episode_steps`'s job),
# so it is raised out of reach. gymnax 1.x's `step_env` reports natural termination only, but older
# versions folded `time >= max_steps_in_episode` into the same flag; this keeps either honest.
_NO_TIME_LIMIT = int(np.iinfo(np.int32).max)

# Default parallelism for `transitions=N`: each env plays about N / num_envs steps, and the episode
# it is playing when they run out is cut by the budget. Cut episodes lose their tails, which skews
# the state distribution towards early steps, so each env should play long enough for their share
# to be small: at least 250 steps (~11 random CartPole episodes of ~22 steps; ~4% of the rows in
# cut episodes) and at least two episodes at the cap (where episodes run to the cap, as random
# Pendulum and MountainCar ones do, 250 steps with a 200-step cap would put 50 of every 250 rows in
# cut episodes; N = 1M with the cap at 200 runs 2500 envs x 400 steps: two whole episodes each).
_MIN_STEPS_PER_ENV = 250
_MIN_CAPS_PER_ENV = 2
# More envs gain a CPU nothing (every vector op is already long), and the cap keeps the scan long.
_MAX_ENVS = 4096


class GymnaxCollectError(UserError):
    """Bad arguments to the gymnax collector (printed as a one-line error)."""


# --------------------------------------------------------------------------------------------------
# The gymnax environments, as each environment's spec describes them (`EnvSpec.gymnax`)

GYMNAX_ENVS = tuple(env_id for env_id, spec in ENVS.items() if spec.gymnax is not None)


def _adapter(env_id: str) -> GymnaxAdapter:
    if env_id not in GYMNAX_ENVS:
        raise GymnaxCollectError(f"unsupported environment {env_id!r} for gymnax; supported: {', '.join(GYMNAX_ENVS)}")
    return ENVS[env_id].gymnax


def _step_env(adapter: GymnaxAdapter, env) -> Callable:
    """(key, state, action, params) -> `step_env`'s 5-tuple: gymnax's own, or the spec's fixed version."""
    if adapter.step is None:
        return env.step_env
    return functools.partial(adapter.step, env)


# gymnax's package __init__ files import every environment family, and two of those import
# seaborn and matplotlib: `import gymnax` takes about 2 s beyond JAX, one classic-control module
# about 0.03 s. While gymnax is not yet imported, its two outer packages stand in as bare
# namespaces for the import of the module needed, then are dropped, so a later `import gymnax`
# runs its own __init__ files over the already-imported modules (the same classes).
_GYMNAX_OUTER_PACKAGES = ("gymnax", "gymnax.environments")


def import_gymnax_module(name: str) -> types.ModuleType:
    """Import the gymnax module `name` without running gymnax's outer package __init__ files."""
    if "gymnax" in sys.modules:
        return importlib.import_module(name)
    root = importlib.util.find_spec("gymnax").submodule_search_locations[0]
    namespaces = {}
    for package in _GYMNAX_OUTER_PACKAGES:
        namespaces[package] = types.ModuleType(package)
        namespaces[package].__path__ = [os.path.join(root, *package.split(".")[1:])]
    sys.modules.update(namespaces)
    try:
        return importlib.import_module(name)
    finally:
        for package, namespace in namespaces.items():
            if sys.modules.get(package) is namespace:
                del sys.modules[package]


@functools.cache
def gymnax_env(env_id: str):
    """(env, params) for `env_id`: the gymnax environment and its default parameters, time limit off.

    Importing the gymnax module happens here, on first use, not when this module is imported.
    """
    adapter = _adapter(env_id)
    env = getattr(import_gymnax_module(adapter.module), adapter.class_name)()
    return env, env.default_params.replace(max_steps_in_episode=_NO_TIME_LIMIT)


def gymnax_step(env_id: str, key, state, action, params=None):
    """One transition without auto-reset: (obs, state, reward, terminated, info), as `step_env`.

    The step the collector uses: gymnax's `step_env`, or the spec's fixed version where gymnax
    departs from gymnasium (MountainCarContinuous). `params` default to `gymnax_env(env_id)[1]`.
    """
    env, default_params = gymnax_env(env_id)
    return _step_env(_adapter(env_id), env)(key, state, action, default_params if params is None else params)


def gymnax_state_from_gymnasium(env_id: str, gymnasium_env):
    """The gymnax EnvState equal to `gymnasium_env`'s current internal state, with time 0."""
    adapter = _adapter(env_id)
    gymnax_env(env_id)
    values = np.asarray(gymnasium_env.unwrapped.state, dtype=np.float64).reshape(-1)
    if values.shape[0] != len(adapter.state_fields):
        raise GymnaxCollectError(
            f"{env_id}: gymnasium state has {values.shape[0]} values, expected {len(adapter.state_fields)} "
            f"({', '.join(adapter.state_fields)})"
        )
    fields = dict(zip(adapter.state_fields, values.tolist()))
    fields.update(adapter.extra_fields(gymnasium_env))
    state_class = import_gymnax_module(adapter.module).EnvState
    return state_class(**{name: jnp.float32(value) for name, value in fields.items()}, time=jnp.int32(0))


# --------------------------------------------------------------------------------------------------
# Collection


def _uniform01(words):
    """uint32 random words -> float32 uniform in [0, 1) (the top 23 bits become the mantissa)."""
    mantissa = (words >> 9) | np.uint32(0x3F800000)  # a float in [1, 2)
    return jax.lax.bitcast_convert_type(mantissa, jnp.float32) - 1.0


def _random_actions(space, words):
    """A uniformly random action from random words (E, A): int32 index (Discrete) or float32 in [low, high] (Box)."""
    if hasattr(space, "n"):
        return jnp.minimum((_uniform01(words[:, 0]) * space.n).astype(jnp.int32), space.n - 1)
    low = jnp.broadcast_to(jnp.asarray(space.low, jnp.float32), space.shape)
    high = jnp.broadcast_to(jnp.asarray(space.high, jnp.float32), space.shape)
    return jnp.minimum(low + (high - low) * _uniform01(words), high)


def _action_width(space) -> int:
    return 1 if hasattr(space, "n") else int(np.prod(space.shape))


def _counter_keys(base_key, shape: tuple[int, ...], count: int):
    """`count` arrays of keys of `shape`, all distinct: `base_key` with a counter added to its last word."""
    data = jax.random.key_data(base_key)
    counter = jnp.arange(np.prod(shape) * count, dtype=jnp.uint32).reshape(*shape, count)
    last_word = (data[-1] + counter)[..., None]
    data = jnp.concatenate([jnp.broadcast_to(data[:-1], (*shape, count, data.shape[0] - 1)), last_word], axis=-1)
    keys = jax.random.wrap_key_data(data, impl=jax.random.key_impl(base_key))
    return tuple(keys[..., i] for i in range(count))


@functools.cache
def _rollout_program(env_id: str, num_envs: int, num_steps: int, max_episode_steps: int):
    """Jitted key -> `Transitions` of `num_envs` envs played for `num_steps` steps, time-major (T, E, ...).

    Every env starts with `reset_env`; an episode ends on natural termination or after
    `max_episode_steps` steps (that row is marked truncated), and the env is reset by hand at the
    start of its next step, so `next_states` is always the true next observation. `episode` is
    left None (numbered on the host). Cached per shape: a new seed reuses the compiled program.
    """
    env, params = gymnax_env(env_id)
    space = env.action_space(params)
    reset = jax.vmap(env.reset_env, in_axes=(0, None))
    step = jax.vmap(_step_env(_adapter(env_id), env), in_axes=(0, 0, 0, None))
    body = _scan_body(reset, step, space, params, max_episode_steps)

    def program(key, start):
        # Every (step, env)'s randomness is made before the scan, with as few random ops as
        # possible: XLA on CPU compiles each jax.random op into its own threefry loop (0.3-0.8 s of
        # compile time apiece), and compile time is most of the cost of a million-row collection.
        # Actions take one `bits` draw. Reset and step keys are a random base key with a distinct
        # counter in its last word: (key, counter) pairs are how Threefry is meant to give many
        # independent streams (as jax.random.key(0), key(1), ... do), and cost no random op here.
        action_key, base_key = jax.random.split(key)
        action_words = jax.random.bits(action_key, (num_steps, num_envs, _action_width(space)), jnp.uint32)
        reset_keys, step_keys = _counter_keys(base_key, (num_steps, num_envs), 2)

        _, rows = jax.lax.scan(body, start, (reset_keys, step_keys, action_words))
        return rows

    # The scan starts from placeholder observations and states that every env resets at its first
    # step. They are built on the host and passed in: each array the program builds itself is one
    # more kernel for XLA to compile.
    shapes = jax.eval_shape(reset, jax.random.split(jax.random.key(0), num_envs), params)
    start = jax.tree.map(lambda leaf: np.zeros(leaf.shape, leaf.dtype), shapes)
    start = (*start, np.zeros(num_envs, np.int32), np.ones(num_envs, bool))
    return functools.partial(jax.jit(program), start=start)


def _scan_body(reset, step, space, params, max_episode_steps: int) -> Callable:
    """One step of every env, for `lax.scan`: carry (obs, state, step in episode, needs reset) and inputs
    (reset key, step key, action words) of shapes (E, ...) -> the next carry and the step's `Transitions` row.
    An env whose episode ended at the previous step resets first."""

    def body(carry, inputs):
        obs, state, step_in_episode, needs_reset = carry
        reset_key, step_key, words = inputs
        reset_obs, reset_state = reset(reset_key, params)

        def after_reset(reset_leaf, leaf):
            mask = needs_reset.reshape(needs_reset.shape + (1,) * (leaf.ndim - 1))
            return jnp.where(mask, reset_leaf, leaf)

        obs = after_reset(reset_obs, obs)
        state = jax.tree.map(after_reset, reset_state, state)
        step_in_episode = jnp.where(needs_reset, 0, step_in_episode)
        action = _random_actions(space, words)
        next_obs, next_state, reward, terminated, _ = step(step_key, state, action, params)
        terminated = terminated.astype(bool)
        capped = step_in_episode == max_episode_steps - 1
        row = Transitions(
            states=obs.astype(jnp.float32),
            actions=action,
            next_states=next_obs.astype(jnp.float32),
            rewards=reward.astype(jnp.float32),
            terminated=terminated,
            truncated=capped & ~terminated,
            step=step_in_episode,
        )
        return (next_obs, next_state, step_in_episode + 1, terminated | capped), row

    return body


def _env_major(field: np.ndarray, full_envs: int) -> np.ndarray:
    """Time-major (T, E, ...) -> rows env after env: the first `full_envs` envs give all T steps,
    the others their first T-1 (two strided copies, no gather)."""
    per_env = np.swapaxes(field, 0, 1)
    whole, short = per_env[:full_envs], per_env[full_envs:, :-1]
    out = np.empty((whole.shape[0] * whole.shape[1] + short.shape[0] * short.shape[1],) + field.shape[2:], field.dtype)
    split = whole.shape[0] * whole.shape[1]
    out[:split].reshape(whole.shape)[...] = whole
    out[split:].reshape(short.shape)[...] = short
    return out


def _number_episodes(step: np.ndarray) -> np.ndarray:
    """Episode ids in row order: a new episode starts at every step-0 row."""
    return (np.cumsum(step == 0) - 1).astype(np.int32)


def _collect_transitions(env_id, key, transitions, num_envs, max_episode_steps):
    """Exactly `transitions` rows: each env plays ceil(transitions / num_envs) steps, the last
    envs' final step is dropped where that overshoots."""
    num_steps = -(-transitions // num_envs)
    full_envs = transitions - num_envs * (num_steps - 1)  # envs that keep all num_steps steps
    program = _rollout_program(env_id, num_envs, num_steps, max_episode_steps)
    rows = jax.device_get(program(key))
    data = Transitions(*(None if field is None else _env_major(field, full_envs) for field in rows))
    episode = _number_episodes(data.step)
    # The episode each env is playing when its steps run out is cut by the budget, unless its last
    # row ended it anyway. A cut episode's last row is marked truncated.
    lengths = np.where(np.arange(num_envs) < full_envs, num_steps, num_steps - 1)
    last_rows = np.cumsum(lengths) - 1
    last_rows = last_rows[~(data.terminated[last_rows] | data.truncated[last_rows])]
    data.truncated[last_rows] = True
    return data._replace(episode=episode), episode[last_rows]


def _collect_episodes(env_id, key, episodes, num_envs, max_episode_steps):
    """Exactly `episodes` whole episodes: env e keeps its first episodes // num_envs (+1) episodes."""
    per_env = np.full(num_envs, episodes // num_envs)
    per_env[: episodes % num_envs] += 1
    # An episode lasts at most max_episode_steps steps, so this many steps end every kept episode.
    num_steps = int(per_env.max()) * max_episode_steps
    program = _rollout_program(env_id, num_envs, num_steps, max_episode_steps)
    rows = jax.device_get(program(key))
    step = np.swapaxes(rows.step, 0, 1)
    keep = np.cumsum(step == 0, axis=1) <= per_env[:, None]  # (E, T): row is in a kept episode
    data = Transitions(*(None if field is None else np.swapaxes(field, 0, 1)[keep] for field in rows))
    return data._replace(episode=_number_episodes(data.step)), np.zeros(0, np.int32)


def _check_count(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise GymnaxCollectError(f"{name} must be an integer, got {value!r}")
    if value < 1:
        raise GymnaxCollectError(f"{name} must be >= 1, got {value}")
    return int(value)


def default_num_envs(transitions: int, max_episode_steps: int) -> int:
    """Parallel envs for `transitions` rows: each plays >= max(250, 2 x cap) steps; 1 to 4096 envs."""
    steps_per_env = max(_MIN_STEPS_PER_ENV, _MIN_CAPS_PER_ENV * max_episode_steps)
    return int(np.clip(transitions // steps_per_env, 1, _MAX_ENVS))


def collect_gymnax(
    env_id: str,
    *,
    seed: int,
    transitions: int | None = None,
    episodes: int | None = None,
    max_episode_steps: int | None = None,
    num_envs: int | None = None,
) -> tuple[Transitions, np.ndarray]:
    """Random-policy rows from gymnax, as `(data, cut_episodes)`; numpy arrays on the host.

    Give exactly one of `transitions` (exactly that many rows) or `episodes` (exactly that many
    whole episodes). Episodes end on natural termination or after `max_episode_steps` steps (that
    row is marked truncated, not terminated; default: the spec's `max_episode_steps`). With
    `transitions`, each of the `num_envs` parallel envs is cut by the budget in the episode it is
    playing when its share of rows runs out: that episode's last row is marked truncated and its
    id is listed in `cut_episodes` (int32). With `episodes` no episode is cut. Rows are env-major
    (each env's steps in time order, env after env), so every episode's rows are contiguous;
    episode ids are 0..K-1 in row order.
    `num_envs` defaults to `default_num_envs(transitions, max_episode_steps)` or to `episodes`
    (at most 4096 either way) and never exceeds the rows or episodes asked for. Same arguments,
    same arrays: the randomness comes from `jax.random.key(seed)`. The rows also depend on
    `num_envs`; give it explicitly to keep them if the default ever changes.
    """
    _adapter(env_id)
    if max_episode_steps is None:
        max_episode_steps = env_spec(env_id).max_episode_steps
    if (transitions is None) == (episodes is None):
        raise GymnaxCollectError("give exactly one of transitions or episodes")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise GymnaxCollectError(f"seed must be an integer, got {seed!r}")
    max_episode_steps = _check_count("max_episode_steps", max_episode_steps)
    if num_envs is not None:
        num_envs = _check_count("num_envs", num_envs)
    key = jax.random.key(seed)
    if transitions is not None:
        transitions = _check_count("transitions", transitions)
        num_envs = min(num_envs or default_num_envs(transitions, max_episode_steps), transitions)
        data, cut_episodes = _collect_transitions(env_id, key, transitions, num_envs, max_episode_steps)
    else:
        episodes = _check_count("episodes", episodes)
        num_envs = min(num_envs or _MAX_ENVS, episodes)
        data, cut_episodes = _collect_episodes(env_id, key, episodes, num_envs, max_episode_steps)
    return data, np.asarray(cut_episodes, dtype=np.int32)
