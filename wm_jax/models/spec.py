"""What it takes to rebuild a model: `ModelSpec`, and the specs of models of an environment or a dataset."""

from __future__ import annotations

from typing import NamedTuple

from ..config import ModelConfig
from ..envs import ActionEncoding, EnvError, encode_actions, env_spec


class ModelSpec(NamedTuple):
    """The static description of a model.

    `action_dim` is the width of the network's action input after encoding. The model remembers
    its environment and how it encodes that environment's raw actions (`wm_jax.envs`); a spec
    without an environment takes float action vectors as they are (the parity tests' random data).
    """

    state_dim: int
    action_dim: int
    config: ModelConfig
    env_id: str | None = None
    action_encoding: ActionEncoding = "continuous"

    def encode_actions(self, actions):
        """Raw actions (numpy or JAX) -> the network's float32 action input (N, action_dim)."""
        return encode_actions(actions, self.action_encoding, self.action_dim)


def spec_for_env(env_id: str, config: ModelConfig, action_encoding: ActionEncoding | None = None) -> ModelSpec:
    """The spec of a model of `env_id`; the encoding defaults to the tutorial's (index for Discrete actions)."""
    info = env_spec(env_id)
    encoding = action_encoding or info.default_action_encoding
    return ModelSpec(info.state_dim, info.encoded_action_dim(encoding), config, env_id, encoding)


def spec_for_data(
    env_id: str | None, data, config: ModelConfig, action_encoding: ActionEncoding | None = None
) -> ModelSpec:
    """The spec of a model trained on `data` (a Transitions) from `env_id`; for data of unknown
    origin (a version-1 file without an env id), an integer index becomes one column and a float
    action vector is fed as is: the only encodings such data allows."""
    if env_id is not None:
        return spec_for_env(env_id, config, action_encoding)
    natural = "index" if data.actions.ndim == 1 else "continuous"
    if action_encoding not in (None, natural):
        raise EnvError(f"data of unknown origin: only the {natural} action encoding applies")
    width = 1 if natural == "index" else data.actions.shape[1]
    return ModelSpec(data.state_dim, width, config, None, natural)
