"""World models in Flax NNX: an MLP from (state, action) to the next state, and ensembles of them.

`WorldModel` is the tutorial's SimpleWorldModel (dropout_rate=0) or RegularizedWorldModel
(dropout after every hidden ReLU). Layers are initialised from PyTorch's `nn.Linear` default
distribution so untrained JAX and PyTorch models are statistically the same.

The training engine works on parameter pytrees, not on live modules: `init_params` returns one
member's `nnx.State`, `init_ensemble_params` stacks E of them along a leading member axis, and
`predict` merges them back into the module inside traced code. Shapes: states (..., state_dim),
actions (..., action_dim), member predictions (members, N, state_dim).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
from flax import nnx

from .config import ModelConfig
from .envs import ActionEncoding, EnvError, encode_actions, env_info

# Full float32 matmuls: on GPUs JAX defaults to TF32-like precision, which PyTorch does not.
MATMUL_PRECISION = jax.lax.Precision.HIGHEST


def torch_uniform_init(fan_in: int):
    """PyTorch nn.Linear's default init for weights and biases: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).

    For the weight this is kaiming_uniform_(a=sqrt(5)): gain sqrt(2/(1+5)) times sqrt(3/fan_in).
    """
    bound = 1.0 / math.sqrt(fan_in)

    def init(key, shape, dtype=jnp.float32):
        return jax.random.uniform(key, shape, dtype, minval=-bound, maxval=bound)

    return init


def torch_linear(in_features: int, out_features: int, *, rngs: nnx.Rngs) -> nnx.Linear:
    """nnx.Linear (kernel (in, out)) initialised like torch.nn.Linear (weight (out, in))."""
    init = torch_uniform_init(in_features)
    return nnx.Linear(
        in_features, out_features, kernel_init=init, bias_init=init, precision=MATMUL_PRECISION, rngs=rngs
    )


class WorldModel(nnx.Module):
    """next_state = f(concat(state, action)): Linear-ReLU(-Dropout) per hidden size, then Linear."""

    def __init__(
        self,
        state_dim: int,
        action_dim: int,
        *,
        hidden_sizes: tuple[int, ...] = (64, 32),
        dropout_rate: float = 0.0,
        rngs: nnx.Rngs,
    ):
        sizes = (state_dim + action_dim, *hidden_sizes)
        self.hidden = nnx.List([torch_linear(i, o, rngs=rngs) for i, o in zip(sizes[:-1], sizes[1:])])
        self.head = torch_linear(sizes[-1], state_dim, rngs=rngs)
        self.dropout = nnx.Dropout(dropout_rate)

    def __call__(self, states: jax.Array, actions: jax.Array, *, dropout_key: jax.Array | None = None) -> jax.Array:
        """Predict next states; dropout is active only when a `dropout_key` is given (train mode)."""
        x = jnp.concatenate([states, actions], axis=-1)
        train = dropout_key is not None and self.dropout.rate > 0
        # One independent mask per hidden layer, as torch draws a fresh mask at each Dropout call.
        keys = jax.random.split(dropout_key, len(self.hidden)) if train else [None] * len(self.hidden)
        for layer, key in zip(self.hidden, keys):
            x = jax.nn.relu(layer(x))
            # nnx.Dropout is inverted dropout like torch's: zero with prob. rate, scale by 1/(1-rate).
            x = self.dropout(x, deterministic=not train, rngs=key)
        return self.head(x)


class ModelSpec(NamedTuple):
    """What it takes to rebuild a model from saved parameters.

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
    info = env_info(env_id)
    encoding = action_encoding or info.default_action_encoding
    return ModelSpec(info.state_dim, info.encoded_action_dim(encoding), config, env_id, encoding)


def spec_for_data(env_id: str | None, data, config: ModelConfig, action_encoding: ActionEncoding | None = None) -> ModelSpec:
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


def build_model(spec: ModelSpec, key: jax.Array) -> WorldModel:
    """One untrained member."""
    return WorldModel(
        spec.state_dim,
        spec.action_dim,
        hidden_sizes=tuple(spec.config.hidden_sizes),
        dropout_rate=spec.config.dropout_rate,
        rngs=nnx.Rngs(params=key),
    )


def graphdef_of(spec: ModelSpec) -> nnx.GraphDef:
    """The static structure of a member (no parameters), for `nnx.merge` in traced code."""
    graphdef, _ = nnx.split(nnx.eval_shape(lambda: build_model(spec, jax.random.key(0))))
    return graphdef


def init_params(spec: ModelSpec, key: jax.Array) -> nnx.State:
    """One member's parameters."""
    return nnx.state(build_model(spec, key), nnx.Param)


def init_ensemble_params(spec: ModelSpec, key: jax.Array) -> nnx.State:
    """`spec.config.members` members' parameters stacked on a leading member axis; member i uses split(key)[i]."""
    return jax.vmap(lambda k: init_params(spec, k))(jax.random.split(key, spec.config.members))


def count_params(params: nnx.State) -> int:
    """Total number of scalars in a parameter pytree (all members)."""
    return sum(int(leaf.size) for leaf in jax.tree.leaves(params))


def apply_member(
    graphdef: nnx.GraphDef,
    params: nnx.State,
    states: jax.Array,
    actions: jax.Array,
    dropout_key: jax.Array | None = None,
) -> jax.Array:
    """One member's prediction (N, state_dim) from its (unstacked) parameters."""
    return nnx.merge(graphdef, params)(states, actions, dropout_key=dropout_key)


def predict_members(graphdef: nnx.GraphDef, params: nnx.State, states: jax.Array, actions: jax.Array) -> jax.Array:
    """Eval-mode predictions of every member of stacked `params`: (members, N, state_dim)."""
    return jax.vmap(apply_member, in_axes=(None, 0, None, None))(graphdef, params, states, actions)


def predict(graphdef: nnx.GraphDef, params: nnx.State, states: jax.Array, actions: jax.Array) -> jax.Array:
    """The model's prediction (N, state_dim): the members' mean (a single model is a 1-member ensemble).

    Like `apply_member` and `predict_members`, this takes the encoded action input; the spec's
    `encode_actions` turns raw actions into it.
    """
    return predict_members(graphdef, params, states, actions).mean(axis=0)
