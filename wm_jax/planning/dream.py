"""Dream training (World Models, Ha & Schmidhuber 2018): a small controller trained entirely inside
the learned model with an evolution strategy, then run in the real environment.

The controller is linear, as in World Models: Discrete actions take argmax(W s + b), Box actions
tanh(W s + b) scaled to the bounds. evosax's CMA-ES evolves W and b; each generation's whole
population plays imagined episodes (a `lax.scan` over the environment's own episode cap, from
real initial states) inside the ensemble, vmapped over population and start states, scored with
the environment's known reward and termination (the model's own reward and termination heads where none
is known).

Every imagined episode is the one imagination core, `models.imagination.imagine`, with the
controller as its policy. How the dream propagates matters, and is the paper's lesson: a
controller exploits a model that is too confident. "mean" dreams the elites' mean (one confident
model); "tsinf" gives every imagined episode its own member; `disagreement_penalty` subtracts lambda times the members'
disagreement (mean std of their next-state predictions) from every imagined reward, steering the
controller away from states the model does not know.

The loop grows the data like `mbrl`: random transitions, then {train the ensemble, evolve the
controller in the dream, play real episodes with it (a little exploration noise) and add them}
until the real-transition budget is spent; then 20 fresh evaluation episodes.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from typing import NamedTuple, Protocol

import jax
import jax.numpy as jnp
import numpy as np

from ..config import DreamConfig, PPOConfig
from ..envs import env_spec
from ..envs.spaces import Discrete
from ..interrupts import in_final_evaluation, requested, stop_requests, stopped_after
from ..models.ensemble import Ensemble
from ..models.imagination import imagine
from ..training import Buffer, append, to_buffer
from ..transitions import Transitions
from .mbrl import ModelTrainer, env_action, first_transitions, transitions_from_rows


class LinearController:
    """action = argmax(W s + b) (Discrete) or low + (tanh(W s + b) + 1) / 2 * (high - low) (Box)."""

    def __init__(self, env_id: str):
        info = env_spec(env_id)
        self.space = info.action_space
        self.outputs = self.space.n if isinstance(self.space, Discrete) else self.space.shape[0]
        self.size = self.outputs * (info.state_dim + 1)
        self.state_dim = info.state_dim

    def act(self, flat, states, noise=None):
        w = flat[: self.outputs * self.state_dim].reshape(self.outputs, self.state_dim)
        z = states @ w.T + flat[self.outputs * self.state_dim :]
        if noise is not None:
            z = z + noise
        if isinstance(self.space, Discrete):
            return jnp.argmax(z, axis=-1).astype(jnp.int32)
        low, high = jnp.asarray(self.space.low), jnp.asarray(self.space.high)
        return low + (jnp.tanh(z) + 1) / 2 * (high - low)


def dream_returns(
    model: Ensemble,
    controller: LinearController,
    reward_fn,
    flat,
    starts,
    key,
    *,
    horizon: int,
    mode: str,
    disagreement_penalty: float,
):
    """(starts,) imagined returns of one controller from real start states (B, S) in the ensemble."""
    imagined = imagine(
        model,
        starts,
        lambda states: controller.act(flat, states),
        key,
        horizon=horizon,
        mode=mode,
        reward_fn=reward_fn,
        disagreement_penalty=disagreement_penalty,
    )
    return imagined.returns


def make_evolve(controller: LinearController, reward_fn, config: DreamConfig, horizon: int):
    """`evolve(model, starts, key, mean=None) -> (best parameters, their dream return)`: CMA-ES (evosax)
    on the controller's parameters in the dream. The model and the start states are arguments of the
    compiled generation, so a whole run compiles it once however often the model is retrained."""
    from evosax.algorithms import CMA_ES

    strategy = CMA_ES(population_size=config.population, solution=jnp.zeros(controller.size))
    params = strategy.default_params

    def fitness(model, starts, population, key):
        keys = jax.random.split(key, population.shape[0])
        returns = jax.vmap(
            lambda flat, k: dream_returns(
                model,
                controller,
                reward_fn,
                flat,
                starts,
                k,
                horizon=horizon,
                mode=config.mode,
                disagreement_penalty=config.disagreement_penalty,
            ).mean()
        )
        return returns(population, keys)

    @jax.jit
    def generation(model, starts, state, key):
        ask_key, eval_key, tell_key = jax.random.split(key, 3)
        population, state = strategy.ask(ask_key, state, params)
        returns = fitness(model, starts, population, eval_key)
        state, _ = strategy.tell(tell_key, population, -returns, state, params)  # evosax minimises
        return state, returns.max()

    score = jax.jit(lambda model, starts, best, key: fitness(model, starts, best[None], key)[0])

    def evolve(model: Ensemble, starts, key, mean=None):
        init_key, key = jax.random.split(key)
        state = strategy.init(init_key, jnp.zeros(controller.size) if mean is None else mean, params)
        # evosax's initial state holds weakly typed scalars and a generation's output strong ones: made
        # strong here (the same float32 values), the first generation's program serves the later ones.
        state = jax.tree.map(lambda leaf: leaf.astype(leaf.dtype), state)
        generation_keys = jax.random.split(key, config.generations)
        for generation_key in generation_keys:
            state, _ = generation(model, starts, state, generation_key)
        best = state.best_solution
        return best, float(score(model, starts, best, jax.random.fold_in(generation_keys[-1], 1)))

    return evolve


def play(env_id: str, act, seeds, discrete: bool):
    """Real episodes, one per seed, with `act(obs (1, S)) -> action (1, ...)`: (Transitions of all of them, returns)."""
    import gymnasium as gym

    rows, returns = [], []
    for seed in seeds:
        env = gym.make(env_id)
        state, _ = env.reset(seed=int(seed))
        total, done = 0.0, False
        while not done:
            action = np.asarray(act(jnp.asarray(state, jnp.float32)[None])[0])
            next_state, reward, terminated, truncated, _ = env.step(env_action(action, discrete))
            rows.append((state, action, next_state, reward, terminated, truncated))
            total += float(reward)
            state, done = next_state, terminated or truncated
        env.close()
        returns.append(total)
    return transitions_from_rows(rows), returns


class DreamLearner(Protocol):
    """A controller the dream loop trains: `improve` trains it inside a freshly retrained model (from real
    initial states) and returns the iteration's record fields, "dream_return" among them; `explorer` and
    `greedy` are its real-environment policies, `act(obs (1, S)) -> action (1, ...)`, for collecting data
    and for evaluation; `summary` is what dream.json records about it; `policy()` is (agent, parameters) of
    a policy `policies.export.save_policy` writes, or None (the linear controller's weights are in its
    summary); `saved() -> (pytree, record)` and `restore(pytree, record)` carry its state through a checkpoint."""

    def improve(self, model: Ensemble, initial_states: np.ndarray, iteration: int) -> dict: ...

    def explorer(self): ...

    def greedy(self): ...

    def summary(self) -> dict: ...

    def policy(self) -> tuple | None: ...

    def saved(self) -> tuple: ...

    def restore(self, tree, record: dict) -> None: ...


@functools.lru_cache(maxsize=8)
def _controller_and_evolve(env_id: str, environment, reward_fn, config: DreamConfig, horizon: int):
    """The controller and its `make_evolve`, once per process for equal settings and environment spec: a
    later dream of the same settings evolves with the generation program already built."""
    controller = LinearController(env_id)
    return controller, make_evolve(controller, reward_fn, config, horizon)


class EvolvedLinear:
    """The World Models controller: linear, evolved with CMA-ES (`make_evolve`) in the dream, each dream
    warm-started from the last best; it collects data with Gaussian noise on its outputs."""

    def __init__(self, env_id: str, config: DreamConfig, seed: int, reward_fn, horizon: int):
        self.controller, self.evolve = _controller_and_evolve(env_id, env_spec(env_id), reward_fn, config, horizon)
        self.config = config
        # One NumPy stream draws the dream's start states and the exploration noise, in the loop's order.
        self.rng = np.random.default_rng(seed)
        self.key = jax.random.key(seed + 7)
        self.best = None

    def improve(self, model, initial_states, iteration):
        starts = jnp.asarray(initial_states[self.rng.choice(len(initial_states), self.config.dream_starts)])
        self.key, evolve_key = jax.random.split(self.key)
        self.best, dream_return = self.evolve(model, starts, evolve_key, self.best)
        return {"dream_return": dream_return}

    def _act(self, noise: float):
        controller, best = self.controller, jnp.asarray(self.best)

        def act(obs):
            z_noise = self.rng.normal(0, noise, controller.outputs) if noise > 0 else None
            return controller.act(best, obs, z_noise)

        return act

    def explorer(self):
        return self._act(self.config.exploration_noise)

    def greedy(self):
        return self._act(0.0)

    def summary(self):
        return {"controller": np.asarray(self.best).tolist()}

    def policy(self):
        return None

    def saved(self):
        """(pytree, JSON-able record) for a checkpoint: the key, the best weights so far, the NumPy stream."""
        best = jnp.zeros(self.controller.size, jnp.float32) if self.best is None else jnp.asarray(self.best)
        return (self.key, best), {"rng": self.rng.bit_generator.state}

    def restore(self, tree, record: dict) -> None:
        self.key, self.best = tree
        self.rng.bit_generator.state = record["rng"]


class DreamResult(NamedTuple):
    """A dream run. `iterations`: one record per iteration (`iteration`, `real_transitions`,
    `dream_return`, the real `train_return` and the learner's own fields); `eval_returns`: the final
    greedy policy's returns on fresh real episodes; `reward`: "known" (the environment's) or "learned"
    (the model's heads), what the dreams scored with; `learner`: what the learner reports about itself
    for dream.json (the linear controller's weights, or PPO's settings and program count); `seconds`:
    wall time; `model`: the final ensemble; `policy`: the learner's `policy()` (PPO's agent and parameters)."""

    iterations: list[dict]
    eval_returns: list[float]
    real_transitions_used: int
    reward: str
    learner: dict
    seconds: float
    model: Ensemble
    policy: tuple | None = None

    @property
    def dream_return_mean(self) -> float:
        """The last dream's imagined return."""
        return self.iterations[-1]["dream_return"]

    @property
    def eval_return_mean(self) -> float:
        return float(np.mean(self.eval_returns))

    @property
    def eval_return_std(self) -> float:
        return float(np.std(self.eval_returns))


@dataclasses.dataclass
class _DreamLoop:
    """The dream loop's progress between iterations, all that a checkpoint holds besides the model's
    parameters and the learner's state: the real data, the real episodes' first states, the records."""

    buffer: Buffer
    initial_states: np.ndarray
    iterations: list = dataclasses.field(default_factory=list)

    def save(self, checkpoints, trainer: ModelTrainer, learner: DreamLearner) -> None:
        own, own_record = learner.saved()
        record = {"iterations": self.iterations, "initial_states": self.initial_states.tolist(), "learner": own_record}
        checkpoints.save(len(self.iterations), (self.buffer, trainer.params, own), record)

    def restore(self, checkpoints, trainer: ModelTrainer, learner: DreamLearner) -> None:
        (self.buffer, trainer.params, own), record = checkpoints.restore(
            (self.buffer, trainer.params, learner.saved()[0])
        )
        learner.restore(own, record["learner"])
        self.iterations = record["iterations"]
        self.initial_states = np.asarray(record["initial_states"], np.float32).reshape(-1, self.initial_states.shape[1])


def run_dream(
    env_id: str,
    config: DreamConfig,
    seed: int,
    ppo: PPOConfig | None = None,
    on_progress=None,
    mesh=None,
    initial_data=None,
    checkpoints=None,
) -> DreamResult:
    """The whole loop, for either controller (`config.controller`; `ppo` holds PPO's settings). `mesh`
    (`training.training_mesh`) spreads the ensemble's training over several devices; `on_progress(real
    transitions, record)` follows each iteration that plays real episodes. `initial_data` (this
    environment's Transitions or Dataset, say logged ones) replaces the `initial_transitions` random ones
    and counts toward `max_transitions`; the dreams start from its episodes' first states.

    `checkpoints` (a `training.RunCheckpoints`, `every` in iterations) saves the data, the model, the
    learner's state and the records every K iterations and where Ctrl-C stops the loop, and resumes a
    saved run: each iteration's real episodes start from their own reset seeds, so a resumed run
    continues exactly as the uninterrupted one would have."""
    started = time.perf_counter()
    spec = env_spec(env_id)
    cap = spec.time_limit
    resuming = checkpoints is not None and checkpoints.latest_epoch() is not None
    data = first_transitions(env_id, config, seed, cap, initial_data, resuming)
    buffer = to_buffer(data, capacity=config.max_transitions + cap * config.episodes_per_iteration)
    # Where the environment's reward is unknown, the dream scores with the model's own reward and termination heads.
    learned = not spec.has_known_reward
    trainer = ModelTrainer(
        env_id,
        members=config.members,
        epochs=config.epochs,
        seed=seed,
        hidden_sizes=config.hidden_sizes,
        heads=learned,
        mesh=mesh,
    )
    learner = _learner(env_id, config, ppo, seed, learned, cap, mesh)
    # Real initial states the dreams start from: every real episode's first state.
    firsts = data.states[data.step == 0]
    if not resuming and not len(firsts):
        from ..data import DataError

        raise DataError(
            "the initial data holds no episode's first step (step 0), and a dream starts from real initial "
            "states: give data with whole episodes"
        )
    loop = _DreamLoop(buffer, firsts)
    if resuming:
        loop.restore(checkpoints, trainer, learner)
    with stop_requests():
        while True:
            if requested():
                save = lambda: loop.save(checkpoints, trainer, learner)  # noqa: E731
                raise stopped_after("iteration", len(loop.iterations), checkpoints, save)
            model = trainer.train(loop.buffer, len(loop.iterations))
            if not _dream_iteration(env_id, config, seed, model, learner, loop):
                break
            if on_progress is not None:
                on_progress(int(loop.buffer.size), loop.iterations[-1])
            if checkpoints is not None and len(loop.iterations) % checkpoints.every == 0:
                loop.save(checkpoints, trainer, learner)
    eval_seeds = [20_000 + 100 * seed + i for i in range(config.eval_episodes)]
    with in_final_evaluation("iteration", checkpoints):
        _, eval_returns = play(env_id, learner.greedy(), eval_seeds, spec.discrete)
    reward = "learned" if learned else "known"
    seconds = time.perf_counter() - started
    used = int(loop.buffer.size)
    return DreamResult(loop.iterations, eval_returns, used, reward, learner.summary(), seconds, model, learner.policy())


def _learner(env_id: str, config: DreamConfig, ppo: PPOConfig | None, seed: int, learned: bool, cap: int, mesh):
    if config.controller == "ppo":
        from ..policies.ppo import DreamPPO

        return DreamPPO(env_id, config, ppo or PPOConfig(), seed, learned, cap, mesh)
    reward_fn = None if learned else env_spec(env_id).planning_objective("known")
    return EvolvedLinear(env_id, config, seed, reward_fn, cap)


def _dream_iteration(env_id, config: DreamConfig, seed: int, model, learner: DreamLearner, loop: _DreamLoop) -> bool:
    """One dream with `model`, then (unless the budget is spent) real episodes with the learner's explorer,
    which join the data; its record joins `loop.iterations`. False once the budget was spent."""
    used = int(loop.buffer.size)
    # model_transitions: the real transitions the dreaming model was trained on (real_transitions grows by the
    # iteration's real episodes below).
    record = {"iteration": len(loop.iterations), "real_transitions": used, "model_transitions": used}
    record.update(learner.improve(model, loop.initial_states, len(loop.iterations)))
    if used >= config.max_transitions:
        loop.iterations.append(record)
        return False
    seeds = [seed * 1000 + 10 * len(loop.iterations) + i for i in range(config.episodes_per_iteration)]
    episodes, returns = play(env_id, learner.explorer(), seeds, env_spec(env_id).discrete)
    keep = min(episodes.size, config.max_transitions - used)
    loop.buffer = append(loop.buffer, Transitions(*(None if x is None else x[:keep] for x in episodes)))
    first_states = episodes.states[np.r_[True, (episodes.terminated | episodes.truncated)[:-1]]]
    loop.initial_states = np.concatenate([loop.initial_states, first_states])
    record.update(train_return=float(np.mean(returns)), real_transitions=int(loop.buffer.size))
    loop.iterations.append(record)
    return True
