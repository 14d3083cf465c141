"""CartPole-v1: a pole balanced on a cart pushed left or right (gymnasium's classic_control.cartpole)."""

import math

from .spaces import Box, Discrete
from .spec import TUTORIAL_MAX_EPISODE_STEPS, EnvSpec, GymnaxAdapter, jnp, mbrl_settings

X_LIMIT = 2.4
THETA_LIMIT = 12 * 2 * math.pi / 360


def terminated(state, action, next_state):
    """The cart or the pole left its range."""
    x, theta = next_state[..., 0], next_state[..., 2]
    return (jnp.abs(x) > X_LIMIT) | (jnp.abs(theta) > THETA_LIMIT)


def reward(state, action, next_state):
    """+1 every step, the terminating one included."""
    return jnp.ones_like(next_state[..., 0])


SPEC = EnvSpec(
    env_id="CartPole-v1",
    observation_space=Box((-4.8, -math.inf, -0.41887903, -math.inf), (4.8, math.inf, 0.41887903, math.inf)),
    action_space=Discrete(2),
    state_labels=("cart position", "cart velocity", "pole angle", "pole angular velocity"),
    max_episode_steps=TUTORIAL_MAX_EPISODE_STEPS,
    time_limit=500,
    reward_fn=reward,
    termination_fn=terminated,
    gymnax=GymnaxAdapter(
        "gymnax.environments.classic_control.cartpole", "CartPole", ("x", "x_dot", "theta", "theta_dot")
    ),
    # results-page row mbrl-CartPole-v1, 488.2 +- 7.0 on 2,000 real transitions (bench/results/agents/
    # mbrl-CartPole-v1-seed{0,1,2}): a 30-step plan cannot see the cart drift to the track's edge.
    recommended_mbrl=mbrl_settings(max_transitions=2000, planner={"horizon": 50}),
)
