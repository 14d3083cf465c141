"""Objectives: what a member's parameters are trained to minimise on a batch.

An objective is `(member_params, batch, key) -> (loss, aux)`: one member, one `Batch` in training
units (`models.Normalizer`), a dropout key; `aux` names the loss's parts. `make_objective` builds
the sum of the terms a model's heads call for:

- the next state: MSE (torch.nn.MSELoss, the tutorial's) or, for probabilistic members, the
  Gaussian negative log-likelihood with PETS' learned log-variance bounds and their penalty;
- the reward: MSE; the termination flag: binary cross-entropy on the logit.

Every term is a mean over the batch's valid rows (`mask`), so a padded last minibatch counts only
its real rows, exactly as the tutorial's shorter last batch does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from ..config import ModelConfig
from ..models.ensemble import network_outputs

# mbrl-lib's weight on (sum of max log-variance bounds - sum of min bounds).
LOGVAR_BOUND_PENALTY = 0.01


class Batch(NamedTuple):
    """Rows in training units. states (B, S) and actions (B, A) as the network takes them; target
    (B, S) the state target; reward (B,); terminated (B,) float 0/1; mask (B,) float, 1 for rows that count."""

    states: jax.Array
    actions: jax.Array
    target: jax.Array
    reward: jax.Array
    terminated: jax.Array
    mask: jax.Array


Objective = Callable[[object, Batch, jax.Array], tuple[jax.Array, dict]]


def mse_loss(prediction: jax.Array, target: jax.Array) -> jax.Array:
    """torch.nn.MSELoss(): the mean over batch and state dimensions."""
    return jnp.mean(jnp.square(prediction - target))


def masked_mean(values: jax.Array, mask: jax.Array) -> jax.Array:
    """Mean of `values` (B, ...) over the rows where mask (B,) is 1 and over the trailing dimensions."""
    weights = mask.reshape(mask.shape + (1,) * (values.ndim - 1))
    per_row = values[0].size if values.ndim > 1 else 1
    return jnp.sum(values * weights) / (jnp.sum(mask) * per_row)


def masked_mse(prediction: jax.Array, target: jax.Array, mask: jax.Array) -> jax.Array:
    """`mse_loss` over the valid rows."""
    return masked_mean(jnp.square(prediction - target), mask)


def gaussian_nll(mean: jax.Array, logvar: jax.Array, target: jax.Array, mask: jax.Array) -> jax.Array:
    """mbrl-lib's Gaussian NLL: mean over rows and dimensions of (mean - target)^2 / var + log var.

    This is twice the true NLL less log(2 pi): the same minimiser, and mbrl-lib's scale.
    """
    return masked_mean(jnp.square(mean - target) * jnp.exp(-logvar) + logvar, mask)


def logvar_bound_penalty(min_logvar: jax.Array, max_logvar: jax.Array) -> jax.Array:
    """Pulls the learned bounds together, so they track the data instead of drifting apart."""
    return LOGVAR_BOUND_PENALTY * (jnp.sum(max_logvar) - jnp.sum(min_logvar))


def binary_cross_entropy(logits: jax.Array, labels: jax.Array, mask: jax.Array) -> jax.Array:
    """torch.nn.BCEWithLogitsLoss() over the valid rows."""
    return masked_mean(optax.sigmoid_binary_cross_entropy(logits, labels), mask)


def make_objective(graphdef, config: ModelConfig) -> Objective:
    """The objective for a model with `config`'s heads: the sum of its terms, each named in aux."""

    def objective(member_params, batch: Batch, key: jax.Array):
        dropout_key = key if config.dropout_rate > 0 else None
        out = network_outputs(graphdef, member_params, batch.states, batch.actions, dropout_key)
        aux = {}
        if config.probabilistic:
            aux["nll"] = gaussian_nll(out.mean, out.logvar, batch.target, batch.mask)
            aux["logvar_bounds"] = logvar_bound_penalty(
                member_params["min_logvar"][...], member_params["max_logvar"][...]
            )
        else:
            aux["mse"] = masked_mse(out.mean, batch.target, batch.mask)
        if config.reward_head:
            aux["reward_mse"] = masked_mse(out.reward, batch.reward, batch.mask)
        if config.termination_head:
            aux["termination_bce"] = binary_cross_entropy(out.termination_logit, batch.terminated, batch.mask)
        return sum(aux.values()), aux

    return objective


def make_validation_score(graphdef, config: ModelConfig) -> Callable[[object, Batch], jax.Array]:
    """Eval-mode score for early stopping and elites: MSE of the state mean (and of the reward) in
    training units, whatever the training loss (mbrl-lib scores Gaussian members by MSE too)."""

    def score(member_params, batch: Batch) -> jax.Array:
        out = network_outputs(graphdef, member_params, batch.states, batch.actions)
        value = masked_mse(out.mean, batch.target, batch.mask)
        if config.reward_head:
            value = value + masked_mse(out.reward, batch.reward, batch.mask)
        return value

    return score
