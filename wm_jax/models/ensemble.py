"""Ensembles of world models as parameter pytrees, and the one way to predict with them.

The engine works on parameter pytrees, not on live modules: `init_params` returns one member's
`nnx.State`, `init_ensemble_params` stacks E of them along a leading member axis, and the predict
functions merge them back into the module inside traced code. A single model is a 1-member
ensemble. `Ensemble` bundles what a trained model is: spec, parameters, normaliser and elites.

Shapes: states (N, S), encoded actions (N, A), member predictions (members, N, S). Every function
here returns environment units (the normaliser is applied); without a normaliser the network's
outputs are taken as they are, which is what the tutorial's model is.
"""

from __future__ import annotations

import functools

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from ..intervals import Calibration, identity_calibration
from .network import Prediction, WorldModel
from .normalization import Normalizer, identity_normalizer
from .spec import ModelSpec


class Ensemble(NamedTuple):
    """A trained model: its spec, stacked parameters (members, ...), normaliser and elite members.

    `elites` (K,) int32 are the members that predict (the mean, and the members trajectory
    sampling draws from); every member by default. `calibration` recalibrates the model's
    predictive distribution (the elites' moment-matched Gaussian) per state dimension, see
    `wm_jax.intervals`; the identity unless fitted.
    """

    spec: ModelSpec
    params: nnx.State
    normalizer: Normalizer
    elites: np.ndarray
    calibration: Calibration

    @property
    def graphdef(self) -> nnx.GraphDef:
        return graphdef_of(self.spec)


def ensemble_of(spec: ModelSpec, params: nnx.State, normalizer: Normalizer | None = None, elites=None,
                calibration: Calibration | None = None) -> Ensemble:
    """An `Ensemble` with the identity normaliser, all members as elites and no recalibration unless given."""
    normalizer = normalizer if normalizer is not None else default_normalizer(spec)
    elites = np.arange(spec.config.members, dtype=np.int32) if elites is None else np.asarray(elites, np.int32)
    calibration = calibration if calibration is not None else identity_calibration(spec.state_dim)
    return Ensemble(spec, params, normalizer, elites, calibration)


def default_normalizer(spec: ModelSpec) -> Normalizer:
    """The normaliser of a model before any statistics are fitted."""
    return identity_normalizer(spec.state_dim, spec.action_dim, delta=spec.config.delta)


def build_model(spec: ModelSpec, key: jax.Array) -> WorldModel:
    """One untrained member."""
    return WorldModel(spec.state_dim, spec.action_dim, spec.config, rngs=nnx.Rngs(params=key))


@functools.lru_cache(maxsize=64)
def graphdef_of(spec: ModelSpec) -> nnx.GraphDef:
    """The static structure of a member (no parameters), for `nnx.merge` in traced code; built once
    per spec (building a module costs tens of milliseconds, and a command asks for it many times)."""
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


def network_outputs(graphdef, params, states, actions, dropout_key=None) -> Prediction:
    """One member's raw network outputs (training units) from already-normalised inputs."""
    return nnx.merge(graphdef, params)(states, actions, dropout_key=dropout_key)


def member_prediction(graphdef, params, states, actions, normalizer: Normalizer | None = None, dropout_key=None) -> Prediction:
    """One member's prediction from its (unstacked) parameters, in environment units."""
    if normalizer is None:
        return network_outputs(graphdef, params, states, actions, dropout_key)
    outputs = network_outputs(graphdef, params, *normalizer.inputs(states, actions), dropout_key)
    return normalizer.to_environment_units(states, outputs)


def apply_member(graphdef, params, states, actions, dropout_key=None, normalizer: Normalizer | None = None) -> jax.Array:
    """One member's next-state prediction (N, S)."""
    return member_prediction(graphdef, params, states, actions, normalizer, dropout_key).mean


def member_predictions(graphdef, params, states, actions, normalizer: Normalizer | None = None) -> Prediction:
    """Eval-mode predictions of every member of stacked `params`: each head with a leading member axis."""
    return jax.vmap(member_prediction, in_axes=(None, 0, None, None, None))(graphdef, params, states, actions, normalizer)


def predict_members(graphdef, params, states, actions, normalizer: Normalizer | None = None) -> jax.Array:
    """Eval-mode next-state predictions of every member: (members, N, S)."""
    return member_predictions(graphdef, params, states, actions, normalizer).mean


def predict(graphdef, params, states, actions, normalizer: Normalizer | None = None, elites=None) -> jax.Array:
    """The model's next-state prediction (N, S): the mean over its (elite) members.

    Like `apply_member` and `predict_members`, this takes the encoded action input; the spec's
    `encode_actions` turns raw actions into it.
    """
    members = predict_members(graphdef, params, states, actions, normalizer)
    if elites is not None:
        members = members[jnp.asarray(elites)]
    return members.mean(axis=0)


def predict_rows(ensemble: Ensemble, states, actions, chunk: int = 65_536) -> Prediction:
    """Eval-mode predictions of every member on numpy rows (encoded actions), in environment units:
    a `Prediction` of numpy arrays, mean (members, N, S).

    Rows go through in chunks of `chunk` (the last one padded, so one compiled program serves all):
    a million rows at once would hold every member's hidden activations, gigabytes, in memory.
    """
    states, actions = np.asarray(states, np.float32), np.asarray(actions, np.float32)
    n = states.shape[0]
    if n == 0:
        raise ValueError("no rows to predict")
    size = min(chunk, n)
    parts = []
    for start in range(0, n, size):
        rows = np.arange(start, start + size).clip(max=n - 1)
        out = _predict_program(ensemble.graphdef, ensemble.params, jnp.asarray(states[rows]), jnp.asarray(actions[rows]),
                               ensemble.normalizer)
        parts.append(jax.tree.map(np.asarray, out))
    return jax.tree.map(lambda *xs: np.concatenate(xs, axis=1)[:, :n], *parts)


_predict_program = jax.jit(member_predictions, static_argnums=0)
