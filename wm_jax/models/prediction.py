"""Predicting with a trained model, on raw actions: the one `predict`, its predictive intervals and the
arrays `wm-jax predict` writes.

- `predict(model, states, actions, mode, key)`: the next state (and every head) of a `models.Ensemble`;
  actions are raw (the spec encodes them). Modes:
  - "mean": the elites' mean of each head (the ensemble's expectation), log-variance the log of the
    elites' mean variance;
  - "members": every member's heads, with a leading member axis (E, N, ...);
  - "ts1", "tsinf": each row follows a random elite member (over one step the two are the same
    draw; over a horizon, `models.imagination` redraws TS-1's members every step and keeps TS-inf's).
  With `sample`, the row's Gaussian is sampled (for "mean", a Gaussian with the elites' mean
  variance); deterministic members have no variance, so sampling changes nothing.
- `propagate`: one such step on encoded actions inside traced code, the step of `models.imagination`.
- `propagate_dealt`: TS-1 or TS-inf where the rows are dealt to the elites in equal shares, so each
  row runs through its own member only (a batch of imagined environments, `models.environment`).
- `predictive_interval(model, states, actions, levels)`: central intervals of the model's
  predictive distribution with its calibration applied (`wm_jax.intervals`), the same bounds
  whose coverage evaluation reports.
- `prediction_arrays(model, states, actions, levels)`: every array `wm-jax predict` writes.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ..config import ConfigError
from ..intervals import interval_bounds, is_identity, predictive_gaussian, termination_probability
from .ensemble import Ensemble, ensemble_outputs, member_outputs, model_of
from .network import Prediction

PREDICT_MODES = ("mean", "members", "ts1", "tsinf")
# Rows per compiled call: a million rows at once would hold every member's hidden activations,
# gigabytes, in memory. The last chunk is padded, so one compiled program serves every chunk.
ROWS_PER_CALL = 65_536


def trajectory_members(key: jax.Array, elites: jax.Array, batch: int) -> jax.Array:
    """(batch,) member index of each row for a whole trajectory (TS-inf): uniform over the elites."""
    return elites[jax.random.randint(key, (batch,), 0, elites.shape[0])]


def _elites_mean(members: Prediction, elites) -> Prediction:
    """Each head's mean over the elites; the log-variance is the log of their mean variance."""
    mean = jax.tree.map(lambda x: x[elites].mean(axis=0), members._replace(logvar=None))
    if members.logvar is None:
        return mean
    return mean._replace(logvar=jnp.log(jnp.exp(members.logvar[elites]).mean(axis=0)))


def _rows_of(members: Prediction, chosen) -> Prediction:
    """Row i of member chosen[i], for every head."""
    rows = jnp.arange(chosen.shape[0])
    return jax.tree.map(lambda x: x[chosen, rows], members)


def _sampled(prediction: Prediction, key) -> Prediction:
    if prediction.logvar is None:
        return prediction
    noise = jax.random.normal(key, prediction.mean.shape, prediction.mean.dtype)
    return prediction._replace(mean=prediction.mean + jnp.exp(0.5 * prediction.logvar) * noise)


def propagate(model: Ensemble, states, encoded, key, mode: str, *, trajectory=None, sample: bool = False):
    """One step of every row under `mode`: (prediction (N, ...), every member's outputs (E, N, ...)).

    Traced code, encoded actions (N, A). `trajectory` (N,) is TS-inf's member of each row for the
    whole trajectory (`trajectory_members`); `key` draws TS-1's members and the Gaussian noise.
    """
    if mode not in ("mean", "ts1", "tsinf"):
        raise ValueError(f"unknown prediction mode {mode!r}: use mean, ts1 or tsinf")
    choice_key, noise_key = jax.random.split(key)
    elites = jnp.asarray(model.elites)
    members = ensemble_outputs(model.graphdef, model.params, states, encoded, model.normalizer)
    if mode == "mean":
        prediction = _elites_mean(members, elites)
    else:
        chosen = trajectory_members(choice_key, elites, states.shape[0]) if mode == "ts1" else trajectory
        prediction = _rows_of(members, chosen)
    return (_sampled(prediction, noise_key) if sample else prediction), members


def propagate_slabs(model: Ensemble, states, encoded, key, *, sample: bool = False) -> Prediction:
    """TS-inf where rows form M contiguous slabs (M, B, ...) and slab m follows elite m mod K alone:
    each row runs through its own member only, so M slabs cost M network passes, not M * E."""
    elites = jnp.asarray(model.elites)
    slabs = states.shape[0]
    chosen = elites[jnp.arange(slabs) % elites.shape[0]]
    params = jax.tree.map(lambda x: x[chosen], model.params)
    prediction = ensemble_outputs(model.graphdef, params, states, encoded, model.normalizer)
    return _sampled(prediction, jax.random.split(key)[1]) if sample else prediction


def uniform_indices(key: jax.Array, shape, n: int) -> jax.Array:
    """Indices uniform in [0, n): 32 random bits modulo n, whose bias (under n / 2**32) is far below
    sampling noise; half the cost of `jax.random.randint`, which draws twice to remove it."""
    return (jax.random.bits(key, shape, jnp.uint32) % jnp.uint32(n)).astype(jnp.int32)


# Up to this many elites, a group's random permutation is one draw from a table of all K! of them
# (8! = 40,320 rows); XLA's CPU sort, the general way, costs as much as the network at this size.
_TABLE_ELITES = 8


@functools.cache
def _permutation_tables(k: int) -> tuple[np.ndarray, np.ndarray]:
    """Every permutation of range(k), (k!, k), and each one's inverse."""
    table = np.array(list(itertools.permutations(range(k))), np.int32)
    return table, np.argsort(table, axis=1).astype(np.int32)


def _random_permutations(key: jax.Array, groups: int, k: int) -> tuple[jax.Array, jax.Array]:
    """(groups, k) uniformly random permutations of range(k), one per group, and their inverses."""
    if k <= _TABLE_ELITES:
        table, inverse = _permutation_tables(k)
        pick = uniform_indices(key, (groups,), table.shape[0])
        return jnp.asarray(table)[pick], jnp.asarray(inverse)[pick]
    permutation = jnp.argsort(jax.random.uniform(key, (groups, k)), axis=1)
    return permutation, jnp.argsort(permutation, axis=1)


def _pick(x, index):
    """x[g, index[g, i]] for x (G, K, ...) and index (G, K), as one gather of whole rows."""
    groups, k = index.shape
    rows = (jnp.arange(groups)[:, None] * k + index).reshape(-1)
    return x.reshape(groups * k, *x.shape[2:])[rows].reshape(x.shape)


def propagate_dealt(model: Ensemble, states, encoded, key, mode: str, *, sample: bool = False):
    """One step of rows (N, S) where each row runs through one elite only: (prediction (N, ...), each
    row's member (N,)). A step costs N member passes instead of `propagate`'s N * E.

    The rows form groups of K consecutive rows (K elites; the last group padded), and each group's
    rows are dealt to the K elites, one each. "tsinf": row j follows elite j mod K at every step (the
    rows of a batch of imagined environments are exchangeable, so a fixed deal is as good as a random
    one). "ts1": every group deals a fresh uniformly random permutation of the elites at every step,
    so each row's member is uniform and independent of its earlier members and of other groups; within
    a group the members differ (mbrl-lib's TS-1 likewise deals a random permutation of the batch to
    equal member shares). Traced code, encoded actions (N, A).
    """
    if mode not in ("ts1", "tsinf"):
        raise ValueError(f"rows are dealt to members under ts1 or tsinf, not {mode!r}")
    choice_key, noise_key = jax.random.split(key)
    elites = jnp.asarray(model.elites)
    rows, k = states.shape[0], elites.shape[0]
    groups = -(-rows // k)
    padding = groups * k - rows
    padded = [jnp.pad(x, ((0, padding), (0, 0))).reshape(groups, k, -1) for x in (states, encoded)]
    if mode == "tsinf":
        deal = jnp.broadcast_to(jnp.arange(k), (groups, k))
        taken = padded  # member m takes position m of every group
    else:
        # position[g, m]: the row of group g that member m takes; deal[g, i]: the member row i takes.
        position, deal = _random_permutations(choice_key, groups, k)
        taken = [_pick(x, position) for x in padded]
    # One network pass per elite on its own rows (G, ...), written out one by one: on a CPU, K plain
    # matrix products run about a fifth faster than one product batched over the members.
    outputs = [
        member_outputs(
            model.graphdef,
            jax.tree.map(lambda x: x[elites[m]], model.params),
            taken[0][:, m],
            taken[1][:, m],
            None,
            model.normalizer,
        )
        for m in range(k)
    ]
    dealt = jax.tree.map(lambda *heads: jnp.stack(heads, axis=1), *outputs)  # (G, K, ...): group-major
    if mode == "ts1":
        dealt = jax.tree.map(lambda x: _pick(x, deal), dealt)
    prediction = jax.tree.map(lambda x: x.reshape(groups * k, *x.shape[2:])[:rows], dealt)
    members = elites[deal.reshape(-1)[:rows]]
    return (_sampled(prediction, noise_key) if sample else prediction), members


def _predict_encoded(model: Ensemble, states, encoded, key, mode: str, sample: bool) -> Prediction:
    if mode == "members":
        return ensemble_outputs(model.graphdef, model.params, states, encoded, model.normalizer)
    trajectory = None
    if mode == "tsinf":
        key, member_key = jax.random.split(key)
        trajectory = trajectory_members(member_key, jnp.asarray(model.elites), states.shape[0])
    return propagate(model, states, encoded, key, mode, trajectory=trajectory, sample=sample)[0]


_predict_program = jax.jit(_predict_encoded, static_argnames=("mode", "sample"))


def check_rows(spec, states_shape: tuple[int, ...], actions_shape: tuple[int, ...]) -> None:
    """ValueError, in one line, unless states are (N, S) rows, N > 0, of the model's S and raw actions are N rows of its
    action space ((N,) or (N, 1) for a discrete one, (N, A) for a Box, or (N,) where A is 1). Encoding reshapes
    actions, so an action of the wrong width would otherwise be spread over other rows."""
    state_dim = spec.state_dim
    if len(states_shape) != 2 or states_shape[1] != state_dim:
        hint = ": for one state, pass states[None]" if states_shape == (state_dim,) else ""
        raise ValueError(f"states must be rows (N, {state_dim}) for this model, got shape {states_shape}{hint}")
    n = states_shape[0]
    if n == 0:
        raise ValueError("no rows given")
    width = 1 if spec.action_encoding in ("index", "onehot") else spec.action_dim
    allowed = [(n, width)] + ([(n,)] if width == 1 else [])
    if tuple(actions_shape) not in allowed:
        expected = " or ".join(str(shape) for shape in allowed)
        raise ValueError(f"actions must be {expected} for {n} states of this model, got shape {actions_shape}")


def predict(
    model: Ensemble, states, actions, mode: str = "mean", key: jax.Array | None = None, *, sample: bool = False
) -> Prediction:
    """The model's prediction for states (N, S) and raw actions (N,) or (N, A), in environment units.
    `model` is an `Ensemble`, or what `fit` returns.

    A `Prediction` of JAX arrays: each head (N, ...), or (E, N, ...) for "members". "ts1", "tsinf"
    and `sample` draw from `key`. Works eagerly on numpy rows (in compiled chunks of
    `ROWS_PER_CALL`, each chunk's draws from its own fold of `key`) and inside traced code.
    """
    model = model_of(model)
    if mode not in PREDICT_MODES:
        raise ValueError(f"unknown prediction mode {mode!r}: use one of {', '.join(PREDICT_MODES)}")
    if key is None and (sample or mode in ("ts1", "tsinf")):
        raise ValueError(f"mode {mode!r}{' with sampling' if sample else ''} draws at random: pass a key")
    key = jax.random.key(0) if key is None else key
    states, actions = jnp.asarray(states, jnp.float32), jnp.asarray(actions)
    check_rows(model.spec, states.shape, actions.shape)
    encoded = model.spec.encode_actions(actions)
    n = states.shape[0]
    if n <= ROWS_PER_CALL:
        return _predict_program(model, states, encoded, key, mode, sample)
    parts = []
    for index, start in enumerate(range(0, n, ROWS_PER_CALL)):
        rows = jnp.arange(start, start + ROWS_PER_CALL).clip(max=n - 1)
        parts.append(_predict_program(model, states[rows], encoded[rows], jax.random.fold_in(key, index), mode, sample))
    row_axis = 1 if mode == "members" else 0
    return jax.tree.map(
        lambda *xs: jax.lax.slice_in_dim(jnp.concatenate(xs, axis=row_axis), 0, n, axis=row_axis), *parts
    )


def members_numpy(model: Ensemble, states, actions) -> Prediction:
    """Every member's heads (`predict` mode "members") as numpy arrays, as evaluation consumes them."""
    return jax.tree.map(np.asarray, predict(model, states, actions, mode="members"))


def _calibration_of(model: Ensemble):
    """The model's calibration, or None where it is the identity (nothing to apply)."""
    return None if is_identity(model.calibration) else model.calibration


def predictive_interval(model: Ensemble, states, actions, levels: Sequence[float] = (0.5, 0.9)):
    """(lower, upper), each (levels, N, S) float64: the central intervals at each level of the model's
    predictive distribution (the elites' moment-matched Gaussian, its calibration applied)."""
    model = model_of(model)
    members = members_numpy(model, states, actions)
    calibration = _calibration_of(model)
    moments, var = predictive_gaussian(members.mean, members.logvar, model.elites, calibration)
    return interval_bounds(moments.mean, var, levels, calibration)


def prediction_arrays(model: Ensemble, states, actions, levels: Sequence[float] = ()) -> dict[str, np.ndarray]:
    """What `wm-jax predict` writes: mean (E, N, S) of every member and elites (K,); var (E, N, S) for
    probabilistic members; predictive_mean and predictive_var (N, S), the model's (calibrated)
    predictive Gaussian, with lower_<level> and upper_<level> (N, S) bounds of its calibrated central
    intervals (`predictive_interval`) for each of `levels`, when the model has a predictive spread;
    reward (E, N) and termination_prob (E, N) when those heads exist."""
    names = [f"{level:g}" for level in levels]
    if len(set(names)) < len(names):
        raise ConfigError(f"--levels {' '.join(map(str, levels))} repeat a level (as written: {' '.join(names)})")
    if levels and not model.spec.config.probabilistic and len(model.elites) < 2:
        raise ConfigError("--levels: a deterministic single model has no predictive spread to draw intervals from")
    members = members_numpy(model, states, actions)
    arrays = {"mean": members.mean, "elites": np.asarray(model.elites)}
    if members.logvar is not None:
        arrays["var"] = np.exp(members.logvar)
    if members.logvar is not None or len(model.elites) > 1:
        calibration = _calibration_of(model)
        moments, var = predictive_gaussian(members.mean, members.logvar, model.elites, calibration)
        arrays.update(predictive_mean=moments.mean.astype(np.float32), predictive_var=var.astype(np.float32))
        if levels:
            lower, upper = interval_bounds(moments.mean, var, levels, calibration)
            for level, low, high in zip(levels, lower, upper):
                arrays[f"lower_{level:g}"], arrays[f"upper_{level:g}"] = low, high
    if members.reward is not None:
        arrays["reward"] = members.reward
    if members.termination_logit is not None:
        arrays["termination_prob"] = termination_probability(members.termination_logit)
    return arrays
