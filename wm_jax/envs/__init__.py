"""Environments: the registry of supported ids, spaces and action encodings, and two collectors.

    registry            ids, observation/action spaces, state labels, action encodings
    gymnasium_collect   random-policy collection from real gymnasium envs, one step at a time
    gymnax_collect      the same on the device: thousands of gymnax envs vmapped inside lax.scan

Importing this package loads neither gymnasium nor JAX; the collectors import them when called.
"""

from .registry import (
    ACTION_ENCODINGS,
    ENVS,
    SUPPORTED_ENVS,
    TUTORIAL_MAX_EPISODE_STEPS,
    ActionEncoding,
    Box,
    Discrete,
    EnvError,
    EnvInfo,
    Space,
    check_encoding,
    check_env_id,
    encode_actions,
    env_info,
    space_from_json,
    state_labels,
)

__all__ = [
    "ACTION_ENCODINGS",
    "ENVS",
    "SUPPORTED_ENVS",
    "TUTORIAL_MAX_EPISODE_STEPS",
    "ActionEncoding",
    "Box",
    "Discrete",
    "EnvError",
    "EnvInfo",
    "Space",
    "check_encoding",
    "check_env_id",
    "encode_actions",
    "env_info",
    "space_from_json",
    "state_labels",
]
