"""Pendulum-v1: a torque-limited pendulum swung up and held upright (gymnasium's classic_control.pendulum)."""

from typing import Any

import numpy as np

from .spaces import Box
from .spec import TUTORIAL_MAX_EPISODE_STEPS, EnvSpec, GymnaxAdapter, jnp, mbrl_settings

MAX_TORQUE = 2.0


def terminated(state, action, next_state):
    """Never: only the time limit ends an episode."""
    return jnp.zeros(state.shape[:-1], dtype=bool)


def reward(state, action, next_state):
    """-(theta^2 + 0.1 theta_dot^2 + 0.001 u^2) of the state *before* the step, u clipped to +-2."""
    theta = jnp.arctan2(state[..., 1], state[..., 0])
    u = jnp.clip(action[..., 0], -MAX_TORQUE, MAX_TORQUE)
    return -(jnp.square(theta) + 0.1 * jnp.square(state[..., 2]) + 0.001 * jnp.square(u))


def gymnax_extra_fields(gymnasium_env) -> dict[str, Any]:
    """gymnax's EnvState keeps the last torque, which gymnasium keeps as `last_u` (None right after reset)."""
    last_u = gymnasium_env.unwrapped.last_u
    return {"last_u": 0.0 if last_u is None else float(np.asarray(last_u).reshape(()))}


SPEC = EnvSpec(
    env_id="Pendulum-v1",
    observation_space=Box((-1.0, -1.0, -8.0), (1.0, 1.0, 8.0)),
    action_space=Box((-MAX_TORQUE,), (MAX_TORQUE,)),
    state_labels=("cos th", "sin th", "th dot"),
    max_episode_steps=TUTORIAL_MAX_EPISODE_STEPS,
    time_limit=200,
    reward_fn=reward,
    termination_fn=terminated,
    gymnax=GymnaxAdapter(
        "gymnax.environments.classic_control.pendulum",
        "Pendulum",
        ("theta", "theta_dot"),
        extra_fields=gymnax_extra_fields,
    ),
    # results-page row mbrl-Pendulum-v1, -127.2 +- 20.1 on 5,000 real transitions (bench/results/agents/
    # mbrl-Pendulum-v1-seed{0,1,2}).
    recommended_mbrl=mbrl_settings(max_transitions=5000),
)
