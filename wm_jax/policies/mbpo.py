"""Model-based policy optimisation (MBPO; Janner et al., 2019): SAC trained mostly on short rollouts of a
learned model, branched from real states.

The loop is `sac.run_online`'s (random warm-up, then one real step at a time, evaluations of the greedy
policy), with MBPO's learning step:

- every `epoch_length` real steps, the probabilistic ensemble retrains on the whole real buffer
  (warm-started; `planning.mbrl.ModelTrainer`, compiled once for the run's capacity, as mbrl does), and
  `rollouts_per_step x epoch_length` model rollouts of length k start from real states drawn uniformly:
  the current policy acts (sampled), each step predicts with a random member (TS-1, rows dealt to the
  members in equal shares as mbrl-lib does, so a step costs one member pass per row) sampled from its
  Gaussian, and rewards and terminations are the environment's known functions where they exist, the
  model's learned heads otherwise. Rollouts stop at an imagined termination. One compiled program per
  rollout length (the imagination core, `models.imagination.imagine`, with `steps=True`);
- the rollouts go into a model buffer that keeps the last `retain_epochs` rounds;
- every real step then writes its transition and makes G SAC gradient steps on minibatches of
  `real_ratio` real rows and the rest model rows, and picks the next action: one compiled call.

The rollout length k follows the paper's schedule (k_a up to epoch a, linearly to k_b at epoch b).
Where mbrl-lib keeps the 5 best of 7 members on validation (elites), this loop rolls out with all
members (it trains on every real row, with no validation split).
"""

from __future__ import annotations

import dataclasses
import functools
import time
from typing import NamedTuple

import jax
import jax.numpy as jnp

from ..config import MBPOConfig, OnlineConfig, SACConfig
from ..models.ensemble import Ensemble
from ..models.imagination import RewardFn, imagine
from ..training.buffer import Buffer
from ..transitions import Transitions
from .sac import SAC, SACResult, SACState, agent_structure, box_bounds, run_online, write_row
from .settings import MBPO_SETTINGS, recommended_mbpo  # noqa: F401  (re-exported)


class ModelBuffer(NamedTuple):
    """Model rollouts: rows (capacity, ...); valid (capacity,); index (capacity,): the valid rows' positions
    first; count: how many rows are valid."""

    rows: Transitions
    valid: jax.Array
    index: jax.Array
    count: jax.Array


def empty_model_buffer(obs_dim: int, action_dim: int, capacity: int) -> ModelBuffer:
    zeros = lambda *shape: jnp.zeros((capacity, *shape), jnp.float32)  # noqa: E731
    rows = Transitions(zeros(obs_dim), zeros(action_dim), zeros(obs_dim), zeros(), jnp.zeros(capacity, bool))
    return ModelBuffer(rows, jnp.zeros(capacity, bool), jnp.zeros(capacity, jnp.int32), jnp.int32(0))


@dataclasses.dataclass(frozen=True)
class MBPO:
    """MBPO's compiled pieces for one agent and configuration (`reward_fn` None: the model's learned heads)."""

    agent: SAC
    config: MBPOConfig
    reward_fn: RewardFn | None

    @property
    def rollouts(self) -> int:
        return self.config.rollouts_per_step * self.config.epoch_length

    @property
    def longest(self) -> int:
        return max(self.config.rollout_schedule[2:])

    @property
    def real_rows(self) -> int:
        """Real rows in each minibatch of `batch_size`."""
        return int(round(self.config.real_ratio * self.agent.config.batch_size))

    def capacity(self) -> int:
        return self.config.model_buffer_rows()

    def rollout(self, store: ModelBuffer, model: Ensemble, actor, real: Buffer, slot, key, *, length: int):
        """`store` with round `slot`'s block replaced by fresh rollouts of `length` steps from real states."""
        start_key, imagine_key = jax.random.split(key)
        starts = real.rows.states[jax.random.randint(start_key, (self.rollouts,), 0, real.size)]
        policy = lambda states, key: self.agent.sample(actor, states, key)[0]  # noqa: E731
        imagined = imagine(
            model,
            starts,
            policy,
            imagine_key,
            horizon=length,
            mode="ts1",
            sample=model.spec.config.probabilistic,
            reward_fn=self.reward_fn,
            steps=True,
            policy_keys=True,
            dealt=True,  # each row through one member: 1/E of the passes of computing every member
        )
        pad = self.longest - length  # every round's block has the same shape: rows past `length` are invalid
        widen = lambda x: jnp.pad(x, [(0, 0), (0, pad)] + [(0, 0)] * (x.ndim - 2))  # noqa: E731
        block = jax.tree.map(lambda x: widen(x).reshape(-1, *x.shape[2:]), imagined.steps)
        block = block._replace(terminated=block.terminated.astype(bool))
        valid = widen(imagined.valid).reshape(-1)
        at = slot * valid.shape[0]
        rows = jax.tree.map(
            lambda column, new: jax.lax.dynamic_update_slice_in_dim(column, new.astype(column.dtype), at, 0),
            store.rows,
            block,
        )
        valid = jax.lax.dynamic_update_slice_in_dim(store.valid, valid, at, 0)
        index = jnp.nonzero(valid, size=valid.shape[0], fill_value=0)[0].astype(jnp.int32)
        return ModelBuffer(rows, valid, index, valid.sum().astype(jnp.int32))

    def mixed_batches(self, real: Buffer, store: ModelBuffer):
        """key -> a minibatch of `real_rows` real rows and the rest model rows, each drawn uniformly."""
        batch, real_rows = self.agent.config.batch_size, self.real_rows

        def sample(key):
            real_key, model_key = jax.random.split(key)
            real_index = jax.random.randint(real_key, (real_rows,), 0, real.size)
            model_index = store.index[
                jax.random.randint(model_key, (batch - real_rows,), 0, jnp.maximum(store.count, 1))
            ]
            take = lambda rows, index: jax.tree.map(lambda x: x[index], rows)  # noqa: E731
            return jax.tree.map(
                lambda a, b: jnp.concatenate([a, b]), take(real.rows, real_index), take(store.rows, model_index)
            )

        return sample

    def learn_and_act(self, state: SACState, real: Buffer, store: ModelBuffer, row: Transitions, obs, key):
        """Write `row` into the real buffer, make G SAC steps on mixed minibatches, sample the next action."""
        real = write_row(real, row)
        update_key, act_key = jax.random.split(key)
        state, metrics = self.agent.update(state, self.mixed_batches(real, store), update_key)
        action, _ = self.agent.sample(state.actor, obs, act_key)
        return state, real, action, metrics


@functools.lru_cache(maxsize=8)
def _programs(mbpo: MBPO):
    step = jax.jit(mbpo.learn_and_act, donate_argnums=(1,))
    rollout = jax.jit(mbpo.rollout, static_argnames=("length",), donate_argnums=(0,))
    return step, rollout


class MBPOLearner:
    """`run_online`'s learning step for MBPO: a model round at each epoch's start (retrain the ensemble,
    roll out into the model buffer), then one compiled write-update-act call. It checkpoints its own state:
    the model's parameters, the model buffer, the rounds made and their seconds."""

    def __init__(self, mbpo: MBPO, trainer, loop: OnlineConfig, obs_dim: int, action_dim: int):
        self.mbpo, self.trainer, self.loop = mbpo, trainer, loop
        # Programs are shared by runs whose SAC differs only in floats (they travel in the agent's state).
        self.step_program, self.rollout_program = _programs(
            dataclasses.replace(mbpo, agent=agent_structure(mbpo.agent))
        )
        self.store = empty_model_buffer(obs_dim, action_dim, mbpo.capacity())
        self.rounds, self.seconds = 0, {"model_training": 0.0, "rollouts": 0.0}

    def __call__(self, step, state, real, row, obs, key):
        config, loop = self.mbpo.config, self.loop
        # A round at each epoch's start (none at the very last step, whose update would be the only use of it).
        if (step + 1 - loop.initial_transitions) % config.epoch_length == 0 and step + 1 < loop.total_transitions:
            tick = time.perf_counter()
            ensemble = self.trainer.train(real, self.rounds)
            # JAX dispatches asynchronously: unblocked, the retraining's time went on the rollouts' clock.
            jax.block_until_ready(self.trainer.params)
            self.seconds["model_training"] += time.perf_counter() - tick
            tick = time.perf_counter()
            slot = jnp.int32(self.rounds % config.retain_epochs)
            length = config.rollout_length(self.rounds)
            key, rollout_key = jax.random.split(key)
            self.store = self.rollout_program(self.store, ensemble, state.actor, real, slot, rollout_key, length=length)
            self.store.count.block_until_ready()
            self.seconds["rollouts"] += time.perf_counter() - tick
            self.rounds += 1
        return self.step_program(state, real, self.store, row, obs, key)

    def saved(self):
        return (self.trainer.params, self.store), {"rounds": self.rounds, "seconds": self.seconds}

    def restore(self, tree, record: dict) -> None:
        (self.trainer.params, self.store), self.rounds, self.seconds = tree, record["rounds"], record["seconds"]


def run_mbpo(
    env_id: str,
    loop: OnlineConfig,
    config: MBPOConfig,
    sac: SACConfig,
    seed: int,
    on_progress=None,
    checkpoints=None,
) -> tuple[SACResult, dict]:
    """The whole MBPO run: (the agent's `SACResult`, a record of the model: reward source, rounds, seconds);
    `checkpoints` (a `training.RunCheckpoints`) makes it resumable, as `sac.run_online` says."""
    from ..envs import env_spec
    from ..planning.mbrl import ModelTrainer

    obs_dim, low, high = box_bounds(env_id)
    spec = env_spec(env_id)
    learned = not spec.has_known_reward
    mbpo = MBPO(SAC(obs_dim, low, high, sac), config, None if learned else spec.planning_objective("known"))
    trainer = ModelTrainer(
        env_id,
        members=config.members,
        epochs=config.epochs,
        seed=seed,
        probabilistic=True,
        heads=learned,
        hidden_sizes=config.hidden_sizes,
        batch_size=config.model_batch_size,
    )
    learner = MBPOLearner(mbpo, trainer, loop, obs_dim, len(low))
    result = run_online(env_id, loop, mbpo.agent, seed, learner, on_progress, checkpoints)
    record = {
        "reward": "learned" if learned else "known",
        "model_rounds": learner.rounds,
        "seconds_model_training": learner.seconds["model_training"],
        "seconds_rollouts": learner.seconds["rollouts"],
    }
    return result, record
