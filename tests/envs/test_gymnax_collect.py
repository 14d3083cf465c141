"""The gymnax collector: its dynamics against gymnasium's, episode bookkeeping without gymnax's
auto-reset, terminated vs truncated, row/episode counts and argument errors."""

import math
import subprocess
import sys

import gymnasium
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from wm_jax.envs.gymnax_collect import (
    GYMNAX_ENVS,
    collect_gymnax,
    default_num_envs,
    gymnax_env,
    gymnax_state_from_gymnasium,
    gymnax_step,
)
from wm_jax.errors import UserError

PI = math.pi
CARTPOLE_THETA_LIMIT = 12 * 2 * PI / 360  # both libraries' threshold, in radians

# Physically sensible internal states per env, as (low, high) of gymnasium's `unwrapped.state`:
# the region random play visits, starting states that are not already terminal.
STATE_RANGES = {
    "CartPole-v1": ([-2.4, -3.0, -0.2, -3.5], [2.4, 3.0, 0.2, 3.5]),
    # Velocities up to half the env's clip bounds (4 pi, 9 pi); random play stays well inside them
    # (in 50k random gymnasium steps: max |dtheta1| 5.4, |dtheta2| 9.7). Near the bounds float32
    # RK4 departs from gymnasium's float64 by up to ~3e-3 (see test_acrobot_formulas_are_gymnasiums).
    "Acrobot-v1": ([-PI, -PI, -2 * PI, -4.5 * PI], [PI, PI, 2 * PI, 4.5 * PI]),
    "MountainCar-v0": ([-1.2, -0.07], [0.5, 0.07]),  # terminal from position 0.5 on
    "MountainCarContinuous-v0": ([-1.2, -0.07], [0.45, 0.07]),  # terminal from position 0.45 on
    "Pendulum-v1": ([-2 * PI, -8.0], [2 * PI, 8.0]),
}
# States where the car runs into the left wall (position clipped to -1.2 with negative velocity).
LEFT_WALL_RANGE = ([-1.2, -0.07], [-1.15, 0.0])


def draw_states(env_id, rng, count):
    """`count` random internal states, float32-representable so both libraries start from the same one."""
    low, high = STATE_RANGES[env_id]
    states = rng.uniform(low, high, size=(count, len(low)))
    if env_id.startswith("MountainCar"):
        states[:10] = rng.uniform(*LEFT_WALL_RANGE, size=(10, 2))
    return states.astype(np.float32).astype(np.float64)


def step_gymnasium_from(env, state, action):
    """Set gymnasium's internal state, then step it past its wrappers (no order or bounds checks)."""
    env.unwrapped.state = np.array(state)
    if hasattr(env.unwrapped, "steps_beyond_terminated"):
        env.unwrapped.steps_beyond_terminated = None  # CartPole: a fresh (non-terminal) state
    obs, reward, terminated, _, _ = env.unwrapped.step(action)
    return np.asarray(obs, np.float32), float(reward), bool(terminated)


def stack_states(states):
    return jax.tree.map(lambda *leaves: jnp.stack(leaves), *states)


def batched_step(env_id, step=None):
    step = step or (lambda key, state, action: gymnax_step(env_id, key, state, action))
    return jax.jit(jax.vmap(lambda state, action: step(jax.random.key(0), state, action)))


def compare_with_gymnasium(env_id, states, seed=0, step=None):
    """(gymnasium's (obs, reward, terminated), gymnax's) after one step from each state, random actions."""
    env = gymnasium.make(env_id)
    env.reset(seed=seed)
    env.action_space.seed(seed)
    gymnax_states, actions, expected = [], [], []
    for state in states:
        env.unwrapped.state = np.array(state)
        gymnax_states.append(gymnax_state_from_gymnasium(env_id, env))
        action = env.action_space.sample()
        actions.append(action)
        expected.append(step_gymnasium_from(env, state, action))
    step_all = batched_step(env_id, step)
    obs, _, reward, terminated, _ = step_all(stack_states(gymnax_states), jnp.asarray(np.stack(actions)))
    got = (np.asarray(obs), np.asarray(reward, np.float64), np.asarray(terminated))
    want = tuple(np.stack(column) for column in zip(*expected))
    return want, got


@pytest.mark.parametrize("env_id", GYMNAX_ENVS)
def test_one_step_agrees_with_gymnasium(env_id):
    """The collector's step from gymnasium's own state: same next observation, reward and termination."""
    (want_obs, want_reward, want_terminated), (obs, reward, terminated) = compare_with_gymnasium(
        env_id, draw_states(env_id, np.random.default_rng(0), 100)
    )
    # Absolute 1e-5: gymnasium steps in float64 (CartPole, Acrobot, Pendulum) or partly float32,
    # gymnax in float32; the observations are O(1) (Acrobot's velocities O(10): still within 1e-5).
    np.testing.assert_allclose(obs, want_obs, atol=1e-5, rtol=0)
    np.testing.assert_allclose(reward, want_reward, atol=1e-5, rtol=0)
    np.testing.assert_array_equal(terminated, want_terminated)
    if env_id in ("CartPole-v1", "Acrobot-v1"):
        assert want_terminated.any() and not want_terminated.all(), "the states should cover both outcomes"


def test_acrobot_formulas_are_gymnasiums():
    """Over the whole velocity range, in float64 gymnax's Acrobot equals gymnasium's to rounding.

    So its float32 departures near the velocity bounds (up to ~3e-3 in the velocities, where RK4's
    intermediate terms reach 1e4) are float32 rounding, not a different integrator or formula.
    """
    env_id = "Acrobot-v1"
    rng = np.random.default_rng(1)
    states = rng.uniform([-PI, -PI, -4 * PI, -9 * PI], [PI, PI, 4 * PI, 9 * PI], size=(100, 4))
    env = gymnasium.make(env_id)
    env.reset(seed=1)
    actions = rng.integers(0, 3, size=100)
    want = np.stack([step_gymnasium_from(env, state, int(action))[0] for state, action in zip(states, actions)])
    gymnax, params = gymnax_env(env_id)
    with jax.enable_x64(True):
        state_class = type(gymnax.reset_env(jax.random.key(0), params)[1])
        fields = ("joint_angle1", "joint_angle2", "velocity_1", "velocity_2")
        batch = state_class(
            **{name: jnp.asarray(states[:, i]) for i, name in enumerate(fields)}, time=jnp.zeros(100, jnp.int32)
        )
        step = jax.vmap(lambda state, action: gymnax.step_env(jax.random.key(0), state, action, params)[0])
        obs = np.asarray(jax.jit(step)(batch, jnp.asarray(actions)))
    # gymnasium rounds its observation to float32; so does this comparison.
    np.testing.assert_allclose(obs.astype(np.float32), want, atol=1e-6, rtol=1e-6)


def test_gymnax_continuous_mountain_car_wall_rule_still_differs():
    """Why MountainCarContinuous has its own step: gymnax 1.0.1's `step_env` keeps the velocity at the
    left wall (and zeroes it past the goal instead). If this fails, gymnax was fixed: the collector
    can use `step_env` again (drop `mountain_car_continuous.gymnax_step`)."""
    env_id = "MountainCarContinuous-v0"
    states = draw_states(env_id, np.random.default_rng(2), 10)  # the first 10 run into the wall
    gymnax, params = gymnax_env(env_id)
    raw_step = lambda key, state, action: gymnax.step_env(key, state, action, params)  # noqa: E731
    (want_obs, _, _), (raw_obs, _, _) = compare_with_gymnasium(env_id, states, step=raw_step)
    at_wall = want_obs[:, 0] == np.float32(-1.2)
    assert at_wall.any()
    assert np.all(want_obs[at_wall, 1] == 0), "gymnasium stops the car at the wall"
    assert np.all(raw_obs[at_wall, 1] < 0), "gymnax keeps it moving into the wall"
    (_, _, _), (fixed_obs, _, _) = compare_with_gymnasium(env_id, states)
    np.testing.assert_allclose(fixed_obs, want_obs, atol=1e-5, rtol=0)


@pytest.mark.slow  # a subprocess that imports JAX
def test_a_gymnax_environment_imports_without_every_gymnax_family_and_gymnax_still_works_after():
    """`gymnax_env` skips gymnax's package __init__ files (they import seaborn and matplotlib); a
    later `import gymnax` still works and makes the very same classes."""
    code = """
import sys
from wm_jax.envs.gymnax_collect import gymnax_env
env, _ = gymnax_env("CartPole-v1")
families = ("gymnax.environments.misc", "gymnax.environments.bsuite", "seaborn")
skipped = [name for name in families if name in sys.modules]
assert not skipped, f"imported: {skipped}"
import gymnax
from gymnax.environments import spaces
assert gymnax.environments.classic_control.CartPole is type(env)
assert type(gymnax.make("CartPole-v1")[0]) is type(env) and spaces.Discrete is type(env.action_space(None))
"""
    subprocess.run([sys.executable, "-c", code], check=True)


def test_state_from_gymnasium_maps_every_field():
    env = gymnasium.make("Pendulum-v1")
    env.reset(seed=0)
    env.unwrapped.state = np.array([0.25, -1.5])
    state = gymnax_state_from_gymnasium("Pendulum-v1", env)
    assert (float(state.theta), float(state.theta_dot), float(state.last_u), int(state.time)) == (0.25, -1.5, 0.0, 0)
    env = gymnasium.make("Acrobot-v1")
    env.reset(seed=0)
    env.unwrapped.state = np.array([0.5, -0.25, 1.0, -2.0])
    state = gymnax_state_from_gymnasium("Acrobot-v1", env)
    got = (state.joint_angle1, state.joint_angle2, state.velocity_1, state.velocity_2)
    assert tuple(float(value) for value in got) == (0.5, -0.25, 1.0, -2.0)


# --------------------------------------------------------------------------------------------------
# Collected data


# Per env: does the (float32) observation satisfy the termination condition, and is it a reset state?
def cartpole_terminal(obs):
    return (np.abs(obs[:, 0]) > 2.4) | (np.abs(obs[:, 2]) > CARTPOLE_THETA_LIMIT)


def acrobot_height(obs):  # -cos(theta1) - cos(theta1 + theta2) from (cos, sin) pairs
    return -obs[:, 0].astype(np.float64) - (obs[:, 0] * obs[:, 2] - obs[:, 1] * obs[:, 3]).astype(np.float64)


def mountain_car_terminal(goal):
    return lambda obs: (obs[:, 0] >= goal) & (obs[:, 1] >= 0)


TERMINAL = {
    "CartPole-v1": cartpole_terminal,
    "Acrobot-v1": lambda obs: acrobot_height(obs) > 1.0,
    "MountainCar-v0": mountain_car_terminal(0.5),
    "MountainCarContinuous-v0": mountain_car_terminal(0.45),
    "Pendulum-v1": lambda obs: np.zeros(len(obs), bool),
}
RESET_STATE = {
    "CartPole-v1": lambda obs: np.all(np.abs(obs) <= 0.05, axis=1),
    "Acrobot-v1": lambda obs: (
        (obs[:, 0] >= np.cos(0.1) - 1e-6)
        & (obs[:, 2] >= np.cos(0.1) - 1e-6)
        & np.all(np.abs(obs[:, [1, 3]]) <= np.sin(0.1) + 1e-6, axis=1)
        & np.all(np.abs(obs[:, 4:]) <= 0.1, axis=1)
    ),
    "MountainCar-v0": lambda obs: (obs[:, 0] >= -0.6) & (obs[:, 0] <= -0.4) & (obs[:, 1] == 0),
    "MountainCarContinuous-v0": lambda obs: (obs[:, 0] >= -0.6) & (obs[:, 0] <= -0.4) & (obs[:, 1] == 0),
    "Pendulum-v1": lambda obs: (np.abs(obs[:, 2]) <= 1) & np.isclose(obs[:, 0] ** 2 + obs[:, 1] ** 2, 1, atol=1e-6),
}
ROWS, NUM_ENVS = 2003, 8  # not a multiple of NUM_ENVS
_collected = {}


def collected(env_id, seed=0, **kwargs):
    """collect_gymnax(env_id, seed, transitions=2003, num_envs=8, ...), once per argument set."""
    args = {"transitions": ROWS, "num_envs": NUM_ENVS, **kwargs}
    key = (env_id, seed, tuple(sorted(args.items())))
    if key not in _collected:
        _collected[key] = collect_gymnax(env_id, seed=seed, **args)
    return _collected[key]


def check_episode_structure(data):
    """episode 0..K-1 in row order, contiguous; step 0, 1, 2, ... within each; ends exactly at episode ends."""
    assert data.episode[0] == 0 and data.step[0] == 0
    new_episode = np.diff(data.episode) == 1
    assert np.all(new_episode | (np.diff(data.episode) == 0)), "ids are non-decreasing by steps of one"
    np.testing.assert_array_equal(data.step[1:][new_episode], 0)
    np.testing.assert_array_equal(data.step[1:][~new_episode], data.step[:-1][~new_episode] + 1)
    last_rows = np.append(np.flatnonzero(new_episode), data.size - 1)
    np.testing.assert_array_equal(np.flatnonzero(data.terminated | data.truncated), last_rows)
    assert not np.any(data.terminated & data.truncated)


@pytest.mark.parametrize("env_id", GYMNAX_ENVS)
def test_episodes_follow_true_next_states_not_auto_resets(env_id):
    data, _ = collected(env_id)
    within = data.episode[1:] == data.episode[:-1]
    np.testing.assert_array_equal(data.next_states[:-1][within], data.states[1:][within])
    # A terminated row's next state is the terminal observation itself, not the next episode's first.
    np.testing.assert_array_equal(TERMINAL[env_id](data.next_states), data.terminated)
    # Every episode begins from a reset state, and a terminated row is followed by one.
    first_states = data.states[data.step == 0]
    assert np.all(RESET_STATE[env_id](first_states))
    assert len(np.unique(first_states, axis=0)) == len(first_states), "each reset draws its own state"
    after_terminal = np.flatnonzero(data.terminated[:-1]) + 1
    np.testing.assert_array_equal(data.step[after_terminal], 0)
    assert not np.any(RESET_STATE[env_id](data.next_states[data.terminated]))
    if env_id == "CartPole-v1":
        assert data.terminated.sum() > 50, "random CartPole episodes end in ~22 steps"


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1"])
def test_terminated_and_truncated_split_with_a_small_cap(env_id):
    cap = 10
    data, cut_episodes = collected(env_id, max_episode_steps=cap)
    check_episode_structure(data)
    assert data.step.max() == cap - 1
    cut_rows = np.isin(np.arange(data.size), np.flatnonzero(np.diff(data.episode, append=-1) != 0))
    cut_rows &= np.isin(data.episode, cut_episodes)  # last rows of the episodes the budget cut
    capped = (data.step == cap - 1) & ~data.terminated
    np.testing.assert_array_equal(data.truncated, capped | cut_rows)
    assert not np.any(data.terminated & data.truncated)
    assert np.all(data.step[cut_rows] < cap - 1), "a cut episode is shorter than the cap"
    if env_id == "Pendulum-v1":
        assert not data.terminated.any(), "Pendulum never terminates"
        lengths = np.bincount(data.episode)
        assert np.all(lengths[np.setdiff1d(np.arange(len(lengths)), cut_episodes)] == cap)
    else:
        assert data.terminated.any() and capped.any()


@pytest.mark.parametrize("env_id", GYMNAX_ENVS)
def test_exactly_the_rows_asked_for_with_the_documented_fields(env_id):
    data, cut_episodes = collected(env_id)
    gymnasium_env = gymnasium.make(env_id)
    state_dim = gymnasium_env.observation_space.shape[0]
    assert data.size == ROWS and data.states.shape == data.next_states.shape == (ROWS, state_dim)
    assert data.states.dtype == data.next_states.dtype == data.rewards.dtype == np.float32
    assert data.terminated.dtype == data.truncated.dtype == np.bool_
    assert data.episode.dtype == data.step.dtype == cut_episodes.dtype == np.int32
    for field in ("rewards", "terminated", "truncated", "episode", "step"):
        assert getattr(data, field).shape == (ROWS,), field
    check_episode_structure(data)
    # Each env's last episode is cut unless its last row ended it: at most one cut per env.
    assert 1 <= len(cut_episodes) <= NUM_ENVS and np.all(np.diff(cut_episodes) > 0)
    last_rows = np.flatnonzero(np.diff(data.episode, append=-1) != 0)
    assert np.all(data.truncated[last_rows[cut_episodes]] & ~data.terminated[last_rows[cut_episodes]])
    assert np.all(np.isfinite(data.states)) and np.all(np.isfinite(data.rewards))
    space = gymnasium_env.action_space
    if isinstance(space, gymnasium.spaces.Discrete):
        assert data.actions.shape == (ROWS,) and data.actions.dtype == np.int32
        np.testing.assert_array_equal(np.unique(data.actions), np.arange(space.n))
        counts = np.bincount(data.actions, minlength=space.n)
        assert np.all(np.abs(counts / ROWS - 1 / space.n) < 0.05), f"uniform over the actions, got {counts}"
    else:
        assert data.actions.shape == (ROWS, 1) and data.actions.dtype == np.float32
        assert np.all((data.actions >= space.low) & (data.actions <= space.high))
        fractions = np.histogram(data.actions, bins=4, range=(space.low[0], space.high[0]))[0] / ROWS
        assert np.all(np.abs(fractions - 0.25) < 0.05), f"uniform over [low, high], got {fractions}"


def test_default_env_count_gives_each_env_long_runs():
    assert default_num_envs(1_000_000, 200) == 2500, "400 steps each: two whole capped episodes"
    assert default_num_envs(1_000_000, 10) == 4000, "at least 250 steps each"
    assert default_num_envs(10**9, 200) == 4096 and default_num_envs(100, 200) == 1
    data, cut_episodes = collect_gymnax("CartPole-v1", seed=0, transitions=1000)  # 2 envs
    assert data.size == 1000 and len(cut_episodes) <= 2


@pytest.mark.parametrize("num_envs", [None, 4])
def test_exactly_the_episodes_asked_for(num_envs):
    data, cut_episodes = collect_gymnax("CartPole-v1", seed=1, episodes=9, num_envs=num_envs, max_episode_steps=30)
    assert data.episode_count == 9 and len(cut_episodes) == 0 and cut_episodes.dtype == np.int32
    check_episode_structure(data)
    assert data.terminated[-1] or data.truncated[-1]
    assert (data.terminated | data.truncated).sum() == 9
    assert len(np.unique(data.actions[data.step == 0])) > 1, "parallel envs draw their own actions"


def test_same_seed_same_arrays_other_seed_other_arrays():
    first, first_cut = collected("Pendulum-v1", seed=0)
    again, again_cut = collect_gymnax("Pendulum-v1", seed=0, transitions=ROWS, num_envs=NUM_ENVS)
    for name, field in first._asdict().items():
        np.testing.assert_array_equal(getattr(again, name), field, err_msg=name)
    np.testing.assert_array_equal(again_cut, first_cut)
    other, _ = collect_gymnax("Pendulum-v1", seed=1, transitions=ROWS, num_envs=NUM_ENVS)
    assert not np.array_equal(other.states, first.states) and not np.array_equal(other.actions, first.actions)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"env_id": "Breakout-MinAtar"}, "unsupported environment"),
        ({"transitions": None}, "exactly one of transitions or episodes"),
        ({"episodes": 3}, "exactly one of transitions or episodes"),
        ({"transitions": 0}, "transitions must be >= 1"),
        ({"transitions": 2.5}, "transitions must be an integer"),
        ({"transitions": None, "episodes": 0}, "episodes must be >= 1"),
        ({"max_episode_steps": 0}, "max_episode_steps must be >= 1"),
        ({"num_envs": 0}, "num_envs must be >= 1"),
        ({"seed": "zero"}, "seed must be an integer"),
    ],
)
def test_bad_arguments_are_user_errors(kwargs, message):
    args = {"env_id": "CartPole-v1", "seed": 0, "transitions": 10, **kwargs}
    with pytest.raises(UserError, match=message) as error:
        collect_gymnax(args.pop("env_id"), **args)
    assert "\n" not in str(error.value)
