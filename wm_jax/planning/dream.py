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
import time

import jax
import jax.numpy as jnp
import numpy as np

from ..config import DreamConfig
from ..envs import env_spec
from ..envs.gymnasium_collect import collect_gymnasium
from ..envs.spaces import Discrete
from ..models.ensemble import Ensemble
from ..models.imagination import imagine
from ..training import append, to_buffer
from ..transitions import Transitions
from .mbrl import ModelTrainer, env_action, transitions_from_rows


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
        generation_keys = jax.random.split(key, config.generations)
        for generation_key in generation_keys:
            state, _ = generation(model, starts, state, generation_key)
        best = state.best_solution
        return best, float(score(model, starts, best, jax.random.fold_in(generation_keys[-1], 1)))

    return evolve


def play(env_id: str, controller: LinearController, flat, seeds, noise: float = 0.0, rng=None):
    """Real episodes with the controller: (Transitions of all of them, returns)."""
    import gymnasium as gym

    discrete = isinstance(controller.space, Discrete)
    rows, returns = [], []
    for seed in seeds:
        env = gym.make(env_id)
        state, _ = env.reset(seed=int(seed))
        total, done = 0.0, False
        while not done:
            z_noise = rng.normal(0, noise, controller.outputs) if noise > 0 else None
            action = np.asarray(controller.act(jnp.asarray(flat), jnp.asarray(state)[None], z_noise)[0])
            next_state, reward, terminated, truncated, _ = env.step(env_action(action, discrete))
            rows.append((state, action, next_state, reward, terminated, truncated))
            total += float(reward)
            state, done = next_state, terminated or truncated
        returns.append(total)
    return transitions_from_rows(rows), returns


def run_dream(env_id: str, config: DreamConfig, seed: int, on_progress=None, mesh=None) -> dict:
    """The whole loop; returns the dream.json record (and the final model under "model"); `mesh`
    (`training.training_mesh`) spreads the ensemble's training over several devices."""
    started = time.perf_counter()
    cap = env_spec(env_id).time_limit
    data, _ = collect_gymnasium(env_id, seed=seed, transitions=config.initial_transitions, max_episode_steps=cap)
    buffer = to_buffer(data, capacity=config.max_transitions + cap * config.episodes_per_iteration)
    spec = env_spec(env_id)
    # Where the environment's reward is unknown, the dream scores with the model's own reward and termination heads.
    learned = spec.reward_fn is None or spec.termination_fn is None
    trainer = ModelTrainer(
        env_id,
        members=config.members,
        epochs=config.epochs,
        seed=seed,
        hidden_sizes=config.hidden_sizes,
        heads=learned,
        mesh=mesh,
    )
    controller = LinearController(env_id)
    reward_fn = None if learned else spec.planning_objective("known")
    evolve = make_evolve(controller, reward_fn, config, cap)
    rng = np.random.default_rng(seed)
    key = jax.random.key(seed + 7)
    # Real initial states the dreams start from: every real episode's first state.
    initial_states = data.states[data.step == 0]
    iterations, best = [], None
    while True:
        model = trainer.train(buffer, len(iterations))
        starts = jnp.asarray(initial_states[rng.choice(len(initial_states), config.dream_starts)])
        key, evolve_key = jax.random.split(key)
        best, dream_score = evolve(model, starts, evolve_key, best)
        used = int(buffer.size)
        record = {"iteration": len(iterations), "real_transitions": used, "dream_return": dream_score}
        if used >= config.max_transitions:
            iterations.append(record)
            break
        seeds = [seed * 1000 + 10 * len(iterations) + i for i in range(config.episodes_per_iteration)]
        episodes, returns = play(env_id, controller, best, seeds, config.exploration_noise, rng)
        keep = min(episodes.size, config.max_transitions - used)
        buffer = append(buffer, Transitions(*(None if x is None else x[:keep] for x in episodes)))
        initial_states = np.concatenate(
            [initial_states, episodes.states[np.r_[True, (episodes.terminated | episodes.truncated)[:-1]]]]
        )
        record.update(train_return=float(np.mean(returns)), real_transitions=int(buffer.size))
        iterations.append(record)
        if on_progress is not None:
            on_progress(int(buffer.size), record)
    eval_seeds = [20_000 + 100 * seed + i for i in range(config.eval_episodes)]
    _, eval_returns = play(env_id, controller, best, eval_seeds)
    record = _dream_record(env_id, config, seed, learned, iterations, eval_returns, int(buffer.size), best)
    return {**record, "seconds": time.perf_counter() - started, "model": model}


def _dream_record(env_id, config, seed, learned, iterations, eval_returns, used, best) -> dict:
    return {
        "env_id": env_id,
        "seed": seed,
        "reward": "learned" if learned else "known",
        "iterations": iterations,
        "dream_return_mean": iterations[-1]["dream_return"],
        "eval_returns": eval_returns,
        "eval_return_mean": float(np.mean(eval_returns)),
        "eval_return_std": float(np.std(eval_returns)),
        "real_transitions_used": used,
        "controller": np.asarray(best).tolist(),
        "config": dataclasses.asdict(config),
    }
