"""Ensembles of world models: the `Ensemble` pytree and the parameter-level layer beneath `models.prediction`.

The engine works on parameter pytrees, not on live modules: `init_params` returns one member's
`nnx.State`, `init_ensemble_params` stacks E of them along a leading member axis, and the functions
below merge them back into the module inside traced code. A single model is a 1-member ensemble.
`Ensemble` bundles what a trained model is: spec (static), parameters, normaliser, elites and
calibration; it is a pytree, so it crosses `jax.jit` as an argument or a result.

Predicting with a model goes through `models.prediction.predict(model, states, raw_actions, ...)`.
The parameter-level functions here (`network_outputs`, `member_outputs`, `apply_member`,
`ensemble_outputs`, `predict_members`, `predict`) are its building blocks, for the engine and the
parity tests: they take parameters, already-encoded actions and an optional normaliser, always in
the order (graphdef, params, states, actions, [dropout_key,] normalizer).

Shapes: states (N, S), encoded actions (N, A), member predictions (members, N, S). These functions
return environment units when given a normaliser; without one the network's outputs are taken as
they are, which is what the tutorial's model is.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx, struct

from ..intervals import Calibration, identity_calibration
from .network import Prediction, WorldModel
from .normalization import Normalizer, identity_normalizer
from .spec import ModelSpec


@struct.dataclass
class Ensemble:
    """A trained model: its spec, stacked parameters (members, ...), normaliser and elite members.

    `elites` (K,) int32 are the members that predict (the mean, and the members trajectory
    sampling draws from); every member by default. `calibration` recalibrates the model's
    predictive distribution (the elites' moment-matched Gaussian) per state dimension, see
    `wm_jax.intervals`; the identity unless fitted. The spec is static (part of the tree's
    structure), everything else is arrays, so a jitted function taking an `Ensemble` compiles once
    per spec and never again for new parameters.
    """

    spec: ModelSpec = struct.field(pytree_node=False)
    params: nnx.State
    normalizer: Normalizer
    elites: np.ndarray
    calibration: Calibration

    @property
    def graphdef(self) -> nnx.GraphDef:
        return graphdef_of(self.spec)


def model_of(model) -> Ensemble:
    """`model` itself where it is an `Ensemble`, else the `.ensemble` of what `fit` returns, so the
    public functions take either; TypeError, in one line, for anything else."""
    if isinstance(model, Ensemble):
        return model
    if isinstance(getattr(model, "ensemble", None), Ensemble):
        return model.ensemble
    raise TypeError(f"expected a model (an Ensemble, or what fit returns), got {type(model).__name__}")


def ensemble_of(
    spec: ModelSpec,
    params: nnx.State,
    normalizer: Normalizer | None = None,
    elites=None,
    calibration: Calibration | None = None,
) -> Ensemble:
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


def member_outputs(
    graphdef, params, states, actions, dropout_key=None, normalizer: Normalizer | None = None
) -> Prediction:
    """One member's every head from its (unstacked) parameters, in environment units."""
    if normalizer is None:
        return network_outputs(graphdef, params, states, actions, dropout_key)
    outputs = network_outputs(graphdef, params, *normalizer.inputs(states, actions), dropout_key)
    return normalizer.to_environment_units(states, outputs)


def apply_member(
    graphdef, params, states, actions, dropout_key=None, normalizer: Normalizer | None = None
) -> jax.Array:
    """One member's next-state prediction (N, S)."""
    return member_outputs(graphdef, params, states, actions, dropout_key, normalizer).mean


def ensemble_outputs(graphdef, params, states, actions, normalizer: Normalizer | None = None) -> Prediction:
    """Eval-mode outputs of every member of stacked `params`: each head with a leading member axis.

    States (N, S) are shared by every member; states (members, N, S) give each member its own rows
    (as trajectories that follow one member each do), with actions shaped alike.
    """
    per_member = 0 if states.ndim == 3 else None
    step = jax.vmap(member_outputs, in_axes=(None, 0, per_member, per_member, None, None))
    return step(graphdef, params, states, actions, None, normalizer)


def predict_members(graphdef, params, states, actions, normalizer: Normalizer | None = None) -> jax.Array:
    """Eval-mode next-state predictions of every member: (members, N, S)."""
    return ensemble_outputs(graphdef, params, states, actions, normalizer).mean


def predict(graphdef, params, states, actions, normalizer: Normalizer | None = None, elites=None) -> jax.Array:
    """The next-state prediction (N, S) of stacked `params`: the mean over the (elite) members.

    The parameter-level form, on encoded actions; a trained model predicts through
    `models.prediction.predict`, which takes raw actions.
    """
    members = predict_members(graphdef, params, states, actions, normalizer)
    if elites is not None:
        members = members[jnp.asarray(elites)]
    return members.mean(axis=0)
