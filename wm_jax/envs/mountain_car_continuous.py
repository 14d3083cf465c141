"""MountainCarContinuous-v0: the mountain car with a continuous push in [-1, 1] (gymnasium's
classic_control.continuous_mountain_car)."""

from .spaces import Box
from .spec import TUTORIAL_MAX_EPISODE_STEPS, EnvSpec, GymnaxAdapter, jnp

GOAL_POSITION = 0.45


def terminated(state, action, next_state):
    """The car reached the goal moving right: position >= 0.45 with velocity >= 0."""
    return (next_state[..., 0] >= GOAL_POSITION) & (next_state[..., 1] >= 0.0)


def reward(state, action, next_state):
    """100 on reaching the goal, minus 0.1 * action^2 every step."""
    return jnp.where(terminated(state, action, next_state), 100.0, 0.0) - 0.1 * jnp.square(action[..., 0])


def gymnax_step(env, key, state, action, params):
    """gymnax's ContinuousMountainCar `step_env`, with gymnasium's rule for the left wall.

    gymnax 1.0.1 zeroes the velocity where `position >= goal_position and velocity < 0`; gymnasium
    (and the original gym) zeroes it where `position == min_position and velocity < 0`: the car
    stops dead at the left wall. With gymnax's rule the car keeps a negative velocity while pinned
    at -1.2, and the next steps differ from gymnasium's (random play gets there in long episodes:
    79 of 1M rows with a 999-step cap); past the goal, gymnax's zeroed velocity (-0.0) even counts
    as reaching it. Everything else is gymnax's code as is.
    """
    del key
    force = jnp.clip(action, params.min_action, params.max_action)
    velocity = state.velocity + force * params.power - jnp.cos(3 * state.position) * params.gravity
    velocity = jnp.clip(velocity, -params.max_speed, params.max_speed)
    position = jnp.clip(state.position + velocity, params.min_position, params.max_position)
    velocity = jnp.where((position == params.min_position) & (velocity < 0), 0.0, velocity)
    position, velocity = position.squeeze(), velocity.squeeze()
    done = (position >= params.goal_position) & (velocity >= params.goal_velocity)
    step_reward = (-0.1 * action**2).squeeze() + 100.0 * done
    state = state.replace(position=position, velocity=velocity, time=state.time + 1)
    return env.get_obs(state), state, step_reward, done, {}


SPEC = EnvSpec(
    env_id="MountainCarContinuous-v0",
    observation_space=Box((-1.2, -0.07), (0.6, 0.07)),
    action_space=Box((-1.0,), (1.0,)),
    state_labels=("position", "velocity"),
    max_episode_steps=TUTORIAL_MAX_EPISODE_STEPS,
    time_limit=999,
    reward_fn=reward,
    termination_fn=terminated,
    gymnax=GymnaxAdapter(
        "gymnax.environments.classic_control.continuous_mountain_car",
        "ContinuousMountainCar",
        ("position", "velocity"),
        step=gymnax_step,
    ),
    # No model-based-RL result is documented for this environment: `recommended_mbrl_config` gives
    # the shared recipe (`spec.MBRL_RECIPE`).
)
