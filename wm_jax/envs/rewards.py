"""Each supported environment's own reward and termination, as JAX functions of one transition.

Planners can score imagined transitions with these instead of a learned reward head (mbrl-lib
keeps the same kind of table in `mbrl.env.termination_fns` / `reward_fns`). Each is a transcription
of the gymnasium environment's `step`, on observations, batched over leading axes:

    reward_and_termination(env_id)(state, action, next_state) -> (reward, terminated)

`action` is the raw action (an int index for Discrete spaces, a float vector for Box spaces).
`tests/test_planning.py` checks every function against gymnasium's own rewards and terminations
on real transitions. Each environment's own episode cap (not the tutorial's 200) is
`EPISODE_CAPS`, used when agents are evaluated in the real environment.
"""

from __future__ import annotations

from typing import Callable

import jax.numpy as jnp

from .registry import EnvError, check_env_id

RewardFn = Callable[[jnp.ndarray, jnp.ndarray, jnp.ndarray], tuple[jnp.ndarray, jnp.ndarray]]

# gymnasium's registered max_episode_steps.
EPISODE_CAPS = {"CartPole-v1": 500, "Acrobot-v1": 500, "MountainCar-v0": 200, "MountainCarContinuous-v0": 999,
                "Pendulum-v1": 200}

CARTPOLE_X_LIMIT = 2.4
CARTPOLE_THETA_LIMIT = 12 * 2 * jnp.pi / 360


def cartpole(state, action, next_state):
    """+1 every step, the terminating one included; terminated once the cart or the pole leaves its range."""
    x, theta = next_state[..., 0], next_state[..., 2]
    terminated = (jnp.abs(x) > CARTPOLE_X_LIMIT) | (jnp.abs(theta) > CARTPOLE_THETA_LIMIT)
    return jnp.ones_like(x), terminated


def acrobot(state, action, next_state):
    """-1 per step until the tip rises above the bar: -cos(t1) - cos(t1 + t2) > 1 (then 0); observations (cos t1, sin t1, cos t2, sin t2, ...)."""
    cos1, sin1, cos2, sin2 = (next_state[..., i] for i in range(4))
    height = -cos1 - (cos1 * cos2 - sin1 * sin2)
    terminated = height > 1.0
    return jnp.where(terminated, 0.0, -1.0), terminated


def mountain_car(state, action, next_state):
    """-1 every step; terminated at position >= 0.5 with velocity >= 0."""
    terminated = (next_state[..., 0] >= 0.5) & (next_state[..., 1] >= 0.0)
    return -jnp.ones_like(next_state[..., 0]), terminated


def mountain_car_continuous(state, action, next_state):
    """100 on reaching position >= 0.45 with velocity >= 0, minus 0.1 * action^2 every step."""
    terminated = (next_state[..., 0] >= 0.45) & (next_state[..., 1] >= 0.0)
    return jnp.where(terminated, 100.0, 0.0) - 0.1 * jnp.square(action[..., 0]), terminated


def pendulum(state, action, next_state):
    """-(theta^2 + 0.1 theta_dot^2 + 0.001 u^2) of the state *before* the step (u clipped to +-2); never terminates."""
    theta = jnp.arctan2(state[..., 1], state[..., 0])
    u = jnp.clip(action[..., 0], -2.0, 2.0)
    cost = jnp.square(theta) + 0.1 * jnp.square(state[..., 2]) + 0.001 * jnp.square(u)
    return -cost, jnp.zeros_like(theta, dtype=bool)


_FUNCTIONS = {
    "CartPole-v1": cartpole,
    "Acrobot-v1": acrobot,
    "MountainCar-v0": mountain_car,
    "MountainCarContinuous-v0": mountain_car_continuous,
    "Pendulum-v1": pendulum,
}


def reward_and_termination(env_id: str) -> RewardFn:
    """The known reward and termination function of `env_id`."""
    check_env_id(env_id)
    if env_id not in _FUNCTIONS:
        raise EnvError(f"no known reward function for {env_id}")
    return _FUNCTIONS[env_id]


# --- Shaped planning objectives -------------------------------------------------------------------
# Acrobot and MountainCar pay -1 per step until a goal that a short imagined plan from the start
# never reaches, so every candidate scores the same and the planner has nothing to climb. These
# objectives add a dense term that rises toward the goal (the tip's height; the car's mechanical
# energy) to the true -1 per step. They are for *planning* only: every reported return is the
# environment's own. Each stays <= 0 and is 0 after termination, so reaching the goal sooner is
# always better (a positive bonus would teach the planner to avoid ending the episode).

MOUNTAIN_CAR_GRAVITY = 0.0025
MOUNTAIN_CAR_MAX_SPEED = 0.07


def _mountain_car_energy(position, velocity):
    """Kinetic plus potential energy: gymnasium's velocity update adds -gravity * cos(3x), so U = gravity * sin(3x) / 3."""
    return 0.5 * jnp.square(velocity) + MOUNTAIN_CAR_GRAVITY * jnp.sin(3 * position) / 3


# The most energy a car can have (top speed at the crest): the shaping term is (E - E_max) / E_max in [-1.3, 0].
_MOUNTAIN_CAR_MAX_ENERGY = 0.5 * MOUNTAIN_CAR_MAX_SPEED ** 2 + MOUNTAIN_CAR_GRAVITY / 3


def acrobot_shaped(state, action, next_state):
    """-1 per step plus (height - 2) / 4 in [-1, 0]: a higher tip is better at every step, not only above the bar."""
    reward, terminated = acrobot(state, action, next_state)
    cos1, sin1, cos2, sin2 = (next_state[..., i] for i in range(4))
    height = -cos1 - (cos1 * cos2 - sin1 * sin2)
    return jnp.where(terminated, 0.0, reward + (height - 2.0) / 4.0), terminated


def mountain_car_shaped(state, action, next_state, goal=0.5):
    """-1 per step plus the car's mechanical energy below the most it can have, scaled to about [-1.3, 0]."""
    terminated = (next_state[..., 0] >= goal) & (next_state[..., 1] >= 0.0)
    energy = _mountain_car_energy(next_state[..., 0], next_state[..., 1])
    shaping = (energy - _MOUNTAIN_CAR_MAX_ENERGY) / _MOUNTAIN_CAR_MAX_ENERGY
    return jnp.where(terminated, 0.0, -1.0 + shaping), terminated


_SHAPED = {
    "Acrobot-v1": acrobot_shaped,
    "MountainCar-v0": mountain_car_shaped,
}


def planning_objective(env_id: str, source: str) -> RewardFn | None:
    """What the planner maximises: the known reward ("known"), a shaped one ("shaped", Acrobot and
    MountainCar only) or None for the model's own heads ("learned")."""
    if source == "learned":
        return None
    if source == "shaped":
        check_env_id(env_id)
        if env_id not in _SHAPED:
            raise EnvError(f"no shaped objective for {env_id}: use --reward known "
                           f"(shaped exists for {', '.join(_SHAPED)})")
        return _SHAPED[env_id]
    return reward_and_termination(env_id)
