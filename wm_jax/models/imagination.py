"""The one imagination core: an ensemble stepped through a horizon from a batch of start states.

`imagine(model, starts, actions, key, ...)` is what rollout evaluation (`evaluation.rollouts`), the
planners' objective (`planning.imagination`), model-predictive control and the model-based RL loop
(through it) and dream training (`planning.dream`) all run. Each step:

- takes raw actions from a fixed sequence (B, H) or (B, H, A), or from a policy of the state;
- predicts every row's next state under a propagation mode (`models.prediction.propagate`):
  "mean" (the elites' mean), "ts1" (a random elite per row at every step) or "tsinf" (one random
  elite per row for the whole trajectory), optionally sampling the Gaussian;
- scores the step with a known reward function (`EnvSpec.planning_objective`) or the model's own
  heads (the reward head, and termination where the termination logit is positive), minus an
  optional penalty on the elites' disagreement;
- stops counting a row's rewards once it has terminated.

It is one `lax.scan`, traceable inside `jit` and `vmap`; the model is an argument, so new parameters
never recompile a caller.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from ..transitions import Transitions
from .ensemble import Ensemble, model_of
from .network import Prediction
from .prediction import check_rows, propagate, propagate_dealt, propagate_slabs, trajectory_members

# A known reward: (states, raw actions, next states) -> (reward (B,), terminated (B,) bool).
RewardFn = Callable[[jax.Array, jax.Array, jax.Array], tuple[jax.Array, jax.Array]]


class Imagination(NamedTuple):
    """returns (B,): each row's summed reward until it terminated; states (B, H, S) after each step, or None;
    steps (with `steps=True`): every imagined step as a Transitions of (B, H, ...) fields (state, raw action,
    next state, reward, terminated), and valid (B, H): the row had not terminated before that step."""

    returns: jax.Array
    states: jax.Array | None
    steps: Transitions | None = None
    valid: jax.Array | None = None


def _check_action_windows(spec, starts_shape, actions_shape) -> None:
    """ValueError, in one line, unless starts are (B, S) rows of the model and actions (B, H) or (B, H, A)
    windows of its raw actions: one step's (B,) or (B, A) is what `check_rows` accepts."""
    if len(actions_shape) < 2:
        raise ValueError(f"actions must be windows (B, H) or (B, H, A) of raw actions, got shape {actions_shape}")
    try:
        check_rows(spec, starts_shape, (actions_shape[0], *actions_shape[2:]))
    except ValueError as error:
        raise ValueError(f"{error} (actions are windows (B, H, ...): got {actions_shape})") from None


def imagine(
    model: Ensemble,
    starts: jax.Array,
    actions,
    key: jax.Array,
    *,
    horizon: int | None = None,
    mode: str = "mean",
    sample: bool = False,
    reward_fn: RewardFn | None = None,
    disagreement_penalty: float = 0.0,
    slabs: int | None = None,
    trajectory: bool = False,
    steps: bool = False,
    policy_keys: bool = False,
    dealt: bool = False,
) -> Imagination:
    """Imagined trajectories of start states (B, S).

    `actions`: raw actions (B, H) or (B, H, A), or a policy `states (B, S) -> raw actions`, which
    needs `horizon`. `reward_fn` None scores with the learned heads (nothing where the model has no
    reward head). `slabs`: with "tsinf", rows form that many contiguous slabs and slab m follows
    elite m mod K alone (each row runs through one member, not all of them); without it each row
    draws its elite from `key`. `trajectory` keeps the predicted states; `steps` keeps every imagined
    transition (MBPO's model data). With `policy_keys` the policy is stochastic, `(states, key) -> raw actions`,
    its key at each step folded from that step's key. `dealt` ("ts1" or "tsinf"): each step deals the rows
    to the elites in equal shares (`models.prediction.propagate_dealt`; TS-1 as mbrl-lib runs it), so a
    step costs one member pass per row instead of one per row and member.
    """
    model = model_of(model)
    policy = actions if callable(actions) else None
    if policy is None:
        _check_action_windows(model.spec, starts.shape, jnp.shape(actions))
        horizon = actions.shape[1]
    elif horizon is None:
        raise ValueError("a policy needs a horizon")
    if slabs is not None and (mode != "tsinf" or disagreement_penalty):
        raise ValueError("slabs are TS-inf's layout, and a slab does not see the other members' disagreement")
    if dealt and (mode not in ("ts1", "tsinf") or disagreement_penalty or slabs is not None):
        raise ValueError("rows are dealt to members under ts1 or tsinf, without slabs or a disagreement penalty")
    batch = starts.shape[0]
    keys = jax.random.split(key, horizon + 1)
    rows_member = None
    if mode == "tsinf" and slabs is None and not dealt:
        rows_member = trajectory_members(keys[0], jnp.asarray(model.elites), batch)

    def step(carry, inputs):
        states, alive, total = carry
        step_key, raw = inputs
        if policy is not None:
            raw = policy(states, jax.random.fold_in(step_key, 1)) if policy_keys else policy(states)
        encoded = model.spec.encode_actions(raw)
        prediction, disagreement = _one_step(model, states, encoded, step_key, mode, sample, slabs, rows_member, dealt)
        reward, terminated = _step_reward(reward_fn, states, raw, prediction)
        if disagreement_penalty:
            reward = reward - disagreement_penalty * disagreement
        total = total + jnp.where(alive, reward, 0.0)
        kept = prediction.mean if trajectory else None
        if steps:
            kept = (kept, Transitions(states, raw, prediction.mean, reward, terminated), alive)
        return (prediction.mean, alive & ~terminated, total), kept

    inputs = (keys[1:], None if policy is not None else jnp.swapaxes(actions, 0, 1))
    init = (starts, jnp.ones(batch, bool), jnp.zeros(batch))
    (_, _, returns), kept = jax.lax.scan(step, init, inputs, length=horizon)
    batch_major = lambda x: jnp.swapaxes(x, 0, 1)  # noqa: E731  (H, B, ...) -> (B, H, ...)
    if not steps:
        return Imagination(returns, batch_major(kept) if trajectory else None)
    states, transitions, valid = kept
    return Imagination(
        returns,
        batch_major(states) if trajectory else None,
        jax.tree.map(batch_major, transitions),
        batch_major(valid),
    )


def _one_step(model: Ensemble, states, encoded, step_key, mode: str, sample: bool, slabs, rows_member, dealt):
    """One imagined step of rows (B, S): (prediction (B, ...), the elites' disagreement (B,), or None
    in slabs or dealt, where a row sees one member only)."""
    if dealt:
        return propagate_dealt(model, states, encoded, step_key, mode, sample=sample)[0], None
    if slabs is not None:
        batch = states.shape[0]
        grouped = propagate_slabs(
            model,
            states.reshape(slabs, batch // slabs, -1),
            encoded.reshape(slabs, batch // slabs, -1),
            step_key,
            sample=sample,
        )
        return jax.tree.map(lambda x: x.reshape(batch, *x.shape[2:]), grouped), None
    prediction, members = propagate(model, states, encoded, step_key, mode, trajectory=rows_member, sample=sample)
    return prediction, members.mean[jnp.asarray(model.elites)].std(axis=0).mean(axis=-1)


def _step_reward(reward_fn: RewardFn | None, states, actions, prediction: Prediction):
    """(reward, terminated) of one step for every row, from the known function or the heads."""
    if reward_fn is not None:
        return reward_fn(states, actions, prediction.mean)
    batch = states.shape[0]
    reward = prediction.reward if prediction.reward is not None else jnp.zeros(batch)
    logit = prediction.termination_logit
    terminated = logit > 0 if logit is not None else jnp.zeros(batch, bool)
    return reward, terminated
