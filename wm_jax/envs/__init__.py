"""Environments: one spec per environment, the registry that lists them, and two collectors.

    spec                     EnvSpec: spaces, labels, episode caps, known reward and termination,
                             shaped objective, gymnax adapter, recommended model-based-RL settings;
                             EnvSpec.from_gymnasium for an environment the project does not register
    spaces                   Box and Discrete, action encodings
    cartpole, acrobot, mountain_car, mountain_car_continuous, pendulum
                             one module per registered environment, each defining SPEC
    registry                 the registered specs: env_spec(id), recommended_mbrl_config(id)
    gymnasium_collect        random-policy collection from real gymnasium envs, one step at a time
    gymnax_collect           the same on the device: thousands of gymnax envs vmapped inside lax.scan

Importing this package loads neither gymnasium nor JAX; the collectors and the reward functions
import them when called.
"""

from .registry import (
    ENVS,
    SUPPORTED_ENVS,
    check_env_id,
    check_playable,
    describe_env,
    env_spec,
    recommended_mbrl_config,
    state_labels,
)
from .spaces import (
    ACTION_ENCODINGS,
    ActionEncoding,
    Box,
    Discrete,
    EnvError,
    Space,
    check_encoding,
    encode_actions,
    space_from_json,
)
from .spec import MBRL_RECIPE, TUTORIAL_MAX_EPISODE_STEPS, EnvSpec, GymnaxAdapter, Objective

__all__ = [
    "ACTION_ENCODINGS",
    "ENVS",
    "MBRL_RECIPE",
    "SUPPORTED_ENVS",
    "TUTORIAL_MAX_EPISODE_STEPS",
    "ActionEncoding",
    "Box",
    "Discrete",
    "EnvError",
    "EnvSpec",
    "GymnaxAdapter",
    "Objective",
    "Space",
    "check_encoding",
    "describe_env",
    "check_env_id",
    "check_playable",
    "encode_actions",
    "env_spec",
    "recommended_mbrl_config",
    "space_from_json",
    "state_labels",
]
