"""The network: an MLP from (state, action) to named prediction heads, in Flax NNX.

`WorldModel` is the tutorial's SimpleWorldModel (dropout_rate=0) or RegularizedWorldModel (dropout
after every hidden ReLU), grown optional heads. One output layer ("head") serves them all, laid out
as [next-state mean (S) | log-variance (S) | reward (1) | termination logit (1)], so the tutorial's
model keeps exactly its single (hidden, S) output layer. Layers are initialised from PyTorch's
`nn.Linear` default distribution so untrained JAX and PyTorch models are statistically the same.

The network works in training units: whatever the normaliser (`models.normalization`) feeds it and
whatever targets it is trained on. `models.ensemble` turns its outputs into environment units.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp
from flax import nnx

from ..config import ModelConfig

# Full float32 matmuls: on GPUs JAX defaults to TF32-like precision, which PyTorch does not.
MATMUL_PRECISION = jax.lax.Precision.HIGHEST

# PETS / mbrl-lib's initial log-variance bounds (learned from there).
INITIAL_MAX_LOGVAR = 0.5
INITIAL_MIN_LOGVAR = -10.0


class Prediction(NamedTuple):
    """A model's named outputs for a batch of rows (leading axes (..., N)).

    mean: (..., N, S) next state. logvar: (..., N, S) log-variance of the next state (probabilistic
    models). reward: (..., N). termination_logit: (..., N). Absent heads are None.
    """

    mean: jax.Array
    logvar: jax.Array | None = None
    reward: jax.Array | None = None
    termination_logit: jax.Array | None = None


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


def soft_bound_logvar(raw: jax.Array, min_logvar: jax.Array, max_logvar: jax.Array) -> jax.Array:
    """PETS' smooth clamp of a raw log-variance into (min_logvar, max_logvar), differentiable in the bounds."""
    logvar = max_logvar - jax.nn.softplus(max_logvar - raw)
    return min_logvar + jax.nn.softplus(logvar - min_logvar)


def head_width(state_dim: int, config: ModelConfig) -> int:
    """Width of the output layer for `config`'s heads."""
    return state_dim * (2 if config.probabilistic else 1) + int(config.reward_head) + int(config.termination_head)


class WorldModel(nnx.Module):
    """Prediction = heads(MLP(concat(state, action))): Linear-ReLU(-Dropout) per hidden size, then one Linear."""

    def __init__(self, state_dim: int, action_dim: int, config: ModelConfig, *, rngs: nnx.Rngs):
        sizes = (state_dim + action_dim, *config.hidden_sizes)
        self.hidden = nnx.List([torch_linear(i, o, rngs=rngs) for i, o in zip(sizes[:-1], sizes[1:])])
        self.head = torch_linear(sizes[-1], head_width(state_dim, config), rngs=rngs)
        self.dropout = nnx.Dropout(config.dropout_rate)
        self.state_dim = state_dim
        self.reward_head = config.reward_head
        self.termination_head = config.termination_head
        if config.probabilistic:
            # Learned per-dimension bounds (mbrl-lib's learn_logvar_bounds=True), kept from running
            # off by a small penalty in the objective.
            self.max_logvar = nnx.Param(jnp.full((state_dim,), INITIAL_MAX_LOGVAR, jnp.float32))
            self.min_logvar = nnx.Param(jnp.full((state_dim,), INITIAL_MIN_LOGVAR, jnp.float32))
        else:
            self.max_logvar = self.min_logvar = None

    def __call__(self, states: jax.Array, actions: jax.Array, *, dropout_key: jax.Array | None = None) -> Prediction:
        """Outputs in training units; dropout is active only when a `dropout_key` is given (train mode)."""
        x = jnp.concatenate([states, actions], axis=-1)
        train = dropout_key is not None and self.dropout.rate > 0
        # One independent mask per hidden layer, as torch draws a fresh mask at each Dropout call.
        keys = jax.random.split(dropout_key, len(self.hidden)) if train else [None] * len(self.hidden)
        for layer, key in zip(self.hidden, keys):
            x = jax.nn.relu(layer(x))
            # nnx.Dropout is inverted dropout like torch's: zero with prob. rate, scale by 1/(1-rate).
            x = self.dropout(x, deterministic=not train, rngs=key)
        out = self.head(x)
        s = self.state_dim
        mean, rest = out[..., :s], out[..., s:]
        logvar = reward = termination = None
        if self.max_logvar is not None:
            logvar = soft_bound_logvar(rest[..., :s], self.min_logvar[...], self.max_logvar[...])
            rest = rest[..., s:]
        if self.reward_head:
            reward, rest = rest[..., 0], rest[..., 1:]
        if self.termination_head:
            termination = rest[..., 0]
        return Prediction(mean, logvar, reward, termination)
