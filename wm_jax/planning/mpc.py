"""Model-predictive control: plan a sequence in the model, take its first action, re-plan next step.

`MPCAgent(spec, env_id, config)` plans for a batch of real states at once (the environments an
agent acts in side by side): one jitted `act` call is the whole planning step for every state,
vmapped over states, candidates, particles and members. Each state keeps its own sampling
distribution, warm-started from its previous plan shifted one step. The model (a pytree whose spec
is static) is an argument, so retraining the model never recompiles the planner.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from ..config import PlannerConfig
from ..envs import env_spec
from ..models.ensemble import Ensemble
from ..models.spec import ModelSpec
from .imagination import imagined_returns
from .optimizers import cem, initial_distribution, mppi, random_shooting, shift


@dataclasses.dataclass(frozen=True)
class MPCAgent:
    spec: ModelSpec
    env_id: str
    config: PlannerConfig

    @property
    def space(self):
        return env_spec(self.env_id).action_space

    def init(self, batch: int):
        """The sampling distributions of `batch` fresh plans (leading axis `batch`)."""
        first = initial_distribution(self.space, self.config.horizon)
        return jax.tree.map(lambda x: jnp.broadcast_to(x, (batch, *x.shape)), first)

    def reset(self, distributions, done: np.ndarray):
        """Fresh plans for the rows whose episode restarted."""
        fresh = self.init(len(done))
        mask = jnp.asarray(done)
        return jax.tree.map(
            lambda old, new: jnp.where(mask.reshape((-1,) + (1,) * (old.ndim - 1)), new, old), distributions, fresh
        )

    @functools.cached_property
    def plan_batch(self):
        """The pure planning step `(model, states, distributions, key) -> (actions, distributions, planned
        returns)`, traceable inside other programs (the gymnax evaluation scan)."""
        config, space = self.config, self.space
        reward_fn = env_spec(self.env_id).planning_objective(config.reward)

        def plan_one(model, state, distribution, key):
            particles = config.particles or model.elites.shape[0]

            def objective(sequences, key):
                return imagined_returns(
                    model, reward_fn, state, sequences, key, particles=particles, mode=config.mode, sample=config.sample
                )

            if config.method == "random":
                result = random_shooting(objective, space, key, candidates=config.candidates, horizon=config.horizon)
            elif config.method == "mppi":
                result = mppi(
                    objective,
                    distribution,
                    space,
                    key,
                    iterations=config.iterations,
                    candidates=config.candidates,
                    temperature=config.temperature,
                )
            else:
                result = cem(
                    objective,
                    distribution,
                    space,
                    key,
                    iterations=config.iterations,
                    candidates=config.candidates,
                    elites=config.elites,
                    alpha=config.alpha,
                )
            return result.sequence[0], shift(result.distribution, space), result.value

        def act(model, states, distributions, key):
            keys = jax.random.split(key, states.shape[0])
            return jax.vmap(plan_one, in_axes=(None, 0, 0, 0))(model, states, distributions, keys)

        return act

    @property
    def _act(self):
        return _jitted_plan(self, env_spec(self.env_id))

    def act(self, model: Ensemble, states, distributions, key):
        """(actions (B,) or (B, A), next distributions, planned returns (B,)) for real states (B, S)."""
        if model.spec != self.spec:
            raise ValueError("the model's spec differs from the one the agent plans for")
        return self._act(model, jnp.asarray(states, jnp.float32), distributions, key)


@functools.lru_cache(maxsize=8)
def _jitted_plan(agent: MPCAgent, environment):
    """The jitted planning step, one per agent settings and environment spec in a process: a later agent
    of equal settings (the next run, an evaluation beside training) plans with the program already built."""
    return jax.jit(agent.plan_batch)
