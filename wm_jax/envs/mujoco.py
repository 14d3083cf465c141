"""The MuJoCo tasks' known reward and termination, where the observation holds what they need.

The tasks themselves are described from gymnasium's own spaces (`EnvSpec.from_gymnasium`: the `mujoco`
extra); this module adds the functions `EnvSpec.from_recorded` attaches by id, so planning can use
the environment's own reward (`--planner.reward known`). As in mbrl-lib's `termination_fns`, only what
the observation determines is written here: InvertedPendulum-v5's reward and termination are exact
functions of the next observation. The others' rewards need positions the observation leaves out
(HalfCheetah's, Hopper's and Walker2d's x position) and plan with the learned heads.
"""

from .spec import jnp

POLE_LIMIT = 0.2  # radians: InvertedPendulum-v5 ends when |angle| exceeds it (or a value is not finite)


def inverted_pendulum_terminated(state, action, next_state):
    """The pole fell past 0.2 rad, or the simulation diverged."""
    return ~jnp.isfinite(next_state).all(axis=-1) | (jnp.abs(next_state[..., 1]) > POLE_LIMIT)


def inverted_pendulum_reward(state, action, next_state):
    """1 for every step that does not end the episode, 0 for the one that does."""
    return jnp.where(inverted_pendulum_terminated(state, action, next_state), 0.0, 1.0)


# env id -> (reward, termination), both functions of (state, raw action, next state), batched.
KNOWN = {"InvertedPendulum-v5": (inverted_pendulum_reward, inverted_pendulum_terminated)}
