"""MountainCar-v0: an underpowered car rocked up a hill with three discrete pushes
(gymnasium's classic_control.mountain_car)."""

from .spaces import Box, Discrete
from .spec import TUTORIAL_MAX_EPISODE_STEPS, EnvSpec, GymnaxAdapter, jnp, mbrl_settings

GRAVITY = 0.0025
MAX_SPEED = 0.07
GOAL_POSITION = 0.5


def terminated(state, action, next_state):
    """The car reached the goal moving right: position >= 0.5 with velocity >= 0."""
    return (next_state[..., 0] >= GOAL_POSITION) & (next_state[..., 1] >= 0.0)


def reward(state, action, next_state):
    """-1 every step."""
    return -jnp.ones_like(next_state[..., 0])


def energy(position, velocity):
    """Kinetic plus potential energy: gymnasium's velocity update adds -gravity * cos(3x), so
    U = gravity * sin(3x) / 3."""
    return 0.5 * jnp.square(velocity) + GRAVITY * jnp.sin(3 * position) / 3


# The most energy a car can have (top speed at the crest): the shaping term is (E - E_max) / E_max in [-1.3, 0].
MAX_ENERGY = 0.5 * MAX_SPEED**2 + GRAVITY / 3


def shaped_reward(state, action, next_state):
    """-1 per step plus the car's mechanical energy below the most it can have, scaled to about [-1.3, 0].

    A short plan from the valley never reaches the goal, so with the true reward every candidate
    scores the same; energy rises toward it. The shaping stays <= 0 and is 0 after termination, so
    reaching the goal sooner is always better. For planning only: reported returns are the environment's own.
    """
    shaping = (energy(next_state[..., 0], next_state[..., 1]) - MAX_ENERGY) / MAX_ENERGY
    return jnp.where(terminated(state, action, next_state), 0.0, -1.0 + shaping)


SPEC = EnvSpec(
    env_id="MountainCar-v0",
    observation_space=Box((-1.2, -0.07), (0.6, 0.07)),
    action_space=Discrete(3),
    state_labels=("position", "velocity"),
    max_episode_steps=TUTORIAL_MAX_EPISODE_STEPS,
    time_limit=200,
    reward_fn=reward,
    termination_fn=terminated,
    shaped_reward_fn=shaped_reward,
    gymnax=GymnaxAdapter("gymnax.environments.classic_control.mountain_car", "MountainCar", ("position", "velocity")),
    # results-page row mbrl-shaped-MountainCar-v0, -118.5 +- 6.8 on 5,000 real transitions (bench/results/agents/
    # mbrl-shaped-MountainCar-v0-seed{0,1,2}); with the true reward, 20,000 never reached the goal (-200).
    recommended_mbrl=mbrl_settings(max_transitions=5000, planner={"reward": "shaped"}),
)
