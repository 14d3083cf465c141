"""Normalisation: the statistics that map environment units to training units and back.

A `Normalizer` is a pytree beside the parameters, shared by every member, fitted once on the
training split and saved with the model. It owns the two choices that change what the network
sees and predicts:

- `normalize`: inputs (state, encoded action) and regression targets are standardised;
- `delta`: the state target is next_state - state, and the state is added back on the way out.

`training_targets` maps a batch into training units for the objective; `to_environment_units`
maps the network's outputs back, so evaluation, rollouts and planners never see normalised values.
With neither option the normaliser is the identity and the tutorial's model is unchanged.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import struct

from .network import Prediction

# Standard deviations below this (a constant column, e.g. an unused one-hot action) are taken as 1:
# dividing by them would blow the column up rather than standardise it.
MIN_STD = 1e-6


@struct.dataclass
class Normalizer:
    """Input stats (S + A,), state-target stats (S,), reward stats () and the two static switches."""

    input_mean: jax.Array
    input_std: jax.Array
    target_mean: jax.Array
    target_std: jax.Array
    reward_mean: jax.Array
    reward_std: jax.Array
    normalize: bool = struct.field(pytree_node=False, default=False)
    delta: bool = struct.field(pytree_node=False, default=False)

    @property
    def state_dim(self) -> int:
        return self.target_mean.shape[-1]

    def inputs(self, states: jax.Array, actions: jax.Array) -> tuple[jax.Array, jax.Array]:
        """(states, encoded actions) as the network sees them."""
        if not self.normalize:
            return states, actions
        s = self.state_dim
        states = (states - self.input_mean[:s]) / self.input_std[:s]
        actions = (actions - self.input_mean[s:]) / self.input_std[s:]
        return states, actions

    def training_targets(
        self, states: jax.Array, next_states: jax.Array, rewards: jax.Array
    ) -> tuple[jax.Array, jax.Array]:
        """(state target (N, S), reward target (N,)) in training units."""
        target = next_states - states if self.delta else next_states
        if self.normalize:
            target = (target - self.target_mean) / self.target_std
            rewards = (rewards - self.reward_mean) / self.reward_std
        return target, rewards

    def to_environment_units(self, states: jax.Array, prediction: Prediction) -> Prediction:
        """The network's outputs for rows starting at `states`, in the environment's units."""
        mean, logvar, reward = prediction.mean, prediction.logvar, prediction.reward
        if self.normalize:
            mean = mean * self.target_std + self.target_mean
            if logvar is not None:
                logvar = logvar + 2.0 * jnp.log(self.target_std)
            if reward is not None:
                reward = reward * self.reward_std + self.reward_mean
        if self.delta:
            mean = states + mean
        return Prediction(mean, logvar, reward, prediction.termination_logit)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The statistics as named numpy arrays (for a checkpoint)."""
        return {name: np.asarray(getattr(self, name)) for name in STAT_NAMES}


STAT_NAMES = ("input_mean", "input_std", "target_mean", "target_std", "reward_mean", "reward_std")


def identity_normalizer(state_dim: int, action_dim: int, *, delta: bool = False) -> Normalizer:
    """Statistics that change nothing (what a model without `normalize` carries)."""
    zeros, ones = jnp.zeros, jnp.ones
    return Normalizer(
        zeros(state_dim + action_dim),
        ones(state_dim + action_dim),
        zeros(state_dim),
        ones(state_dim),
        jnp.float32(0),
        jnp.float32(1),
        normalize=False,
        delta=delta,
    )


def fit_normalizer(states, encoded_actions, next_states, rewards=None, *, normalize: bool, delta: bool) -> Normalizer:
    """Statistics of training rows (numpy (N, S), (N, A), (N, S), (N,)), computed in float64."""
    states = np.asarray(states, np.float64)
    encoded_actions = np.asarray(encoded_actions, np.float64).reshape(states.shape[0], -1)
    if not normalize:
        return identity_normalizer(states.shape[1], encoded_actions.shape[1], delta=delta)
    next_states = np.asarray(next_states, np.float64)
    targets = next_states - states if delta else next_states
    inputs = np.concatenate([states, encoded_actions], axis=1)
    rewards = np.zeros(states.shape[0]) if rewards is None else np.asarray(rewards, np.float64)

    def std(x):
        return np.where(x.std(axis=0) < MIN_STD, 1.0, x.std(axis=0))

    as32 = lambda x: jnp.asarray(x, jnp.float32)  # noqa: E731
    return Normalizer(
        as32(inputs.mean(axis=0)),
        as32(std(inputs)),
        as32(targets.mean(axis=0)),
        as32(std(targets)),
        as32(rewards.mean()),
        as32(std(rewards[:, None])[0]),
        normalize=True,
        delta=delta,
    )


def normalizer_from_arrays(arrays: dict, *, normalize: bool, delta: bool) -> Normalizer:
    """Inverse of `Normalizer.to_arrays`."""
    return Normalizer(
        *(jnp.asarray(arrays[name], jnp.float32) for name in STAT_NAMES), normalize=normalize, delta=delta
    )
