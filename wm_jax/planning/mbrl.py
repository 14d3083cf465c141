"""The model-based RL loop: random data, then {train the ensemble, act with MPC for an episode, add
what was seen} until the real-transition budget is spent; then 20 fresh evaluation episodes.

The data lives in one fixed-capacity device buffer sized for the whole budget, and the training
chunk and the planner are compiled once: adding transitions and retraining (warm-started from
the previous parameters, with the normaliser refitted) never recompile anything. Episodes in the
real environment run in gymnasium with the environment's own episode cap (500 for CartPole-v1).
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from ..compilation import compile_initialization
from ..config import MBRLConfig, ModelConfig, TrainConfig
from ..envs import env_spec
from ..envs.gymnasium_collect import collect_gymnasium
from ..interrupts import in_final_evaluation, requested, stop_requests, stopped_after
from ..models.ensemble import Ensemble, ensemble_of
from ..models.spec import spec_for_env
from ..training import RunCheckpoints, TrainingData, append, fit_normalizer_for, make_train, to_buffer, valid_rows
from ..training.program import jitted_init, jitted_start, jitted_train_chunk
from ..transitions import Transitions
from .mpc import MPCAgent


class ModelTrainer:
    """Retrains one ensemble (delta + normalize, the best recipe in the results page's tables) on a growing
    buffer with programs compiled once, each time warm-started from the last parameters."""

    def __init__(
        self,
        env_id: str,
        *,
        members: int,
        epochs: int,
        seed: int,
        probabilistic: bool = False,
        heads: bool = False,
        hidden_sizes: tuple[int, ...] = (64, 32),
        batch_size: int = 32,
        mesh=None,
    ):
        model = ModelConfig(
            kind="ensemble" if members > 1 else "simple",
            members=members,
            delta=True,
            normalize=True,
            probabilistic=probabilistic,
            reward_head=heads,
            termination_head=heads,
            hidden_sizes=tuple(hidden_sizes),
        )
        self.spec = spec_for_env(env_id, model)
        self.program = make_train(self.spec, TrainConfig(epochs=epochs, batch_size=batch_size), mesh=mesh)
        self.key = jax.random.key(seed)
        # The training program's own process-wide jitted steps: another trainer of the same settings (the
        # next run in a process, a baseline beside it) compiles nothing again.
        self._start = functools.partial(jitted_start, self.program.initialization_form)
        self._chunk = functools.partial(jitted_train_chunk, self.program.step_form, epochs=epochs)
        # One program at XLA's level 1 (see `wm_jax.compilation`), not an eager draw per layer: the
        # same bits, compiled once instead of once per weight shape.
        init_key = jax.random.fold_in(self.key, 0)
        self.params = compile_initialization(jitted_init, self.program.initialization_form, init_key)(init_key)

    def train(self, buffer, iteration: int) -> Ensemble:
        normalizer = fit_normalizer_for(self.spec, valid_rows(buffer))
        state = self._start(self.params, jax.random.fold_in(self.key, iteration + 1), normalizer)
        state, _ = self._chunk(state, TrainingData(buffer))
        self.params = state.params
        return ensemble_of(self.spec, state.params, normalizer)


def env_action(action, discrete: bool):
    """A planned action as gymnasium's step takes it: a Python int, or a float32 vector."""
    return int(action) if discrete else np.asarray(action, np.float32)


def run_episode(env, agent: MPCAgent, model: Ensemble, seed: int, key, max_steps: int, frames: list | None = None):
    """One real episode with MPC, at most `max_steps` steps: (Transitions of the episode, return)."""
    discrete = env_spec(agent.env_id).discrete
    state, _ = env.reset(seed=seed)
    plan = agent.init(1)
    rows, total = [], 0.0
    for step in range(max_steps):
        if frames is not None:
            frames.append(env.render())
        key, act_key = jax.random.split(key)
        action, plan, _ = agent.act(model, state[None], plan, act_key)
        action = np.asarray(action[0])
        next_state, reward, terminated, truncated, _ = env.step(env_action(action, discrete))
        rows.append((state, action, next_state, reward, terminated, truncated or step == max_steps - 1))
        total += float(reward)
        state = next_state
        if terminated or truncated:
            break
    return transitions_from_rows(rows), total


def transitions_from_rows(rows) -> Transitions:
    """Rows of (state, action, next_state, reward, terminated, truncated) as a Transitions."""
    states, actions, next_states, rewards, terminated, truncated = (np.asarray(x) for x in zip(*rows))
    actions = actions.astype(np.int32) if actions.dtype.kind in "iu" else actions.astype(np.float32)
    return Transitions(
        states.astype(np.float32),
        actions,
        next_states.astype(np.float32),
        rewards.astype(np.float32),
        terminated,
        truncated,
    )


def evaluate(
    env_id: str, agent: MPCAgent, model: Ensemble, seeds: list[int], key, frames: list | None = None
) -> list[float]:
    """Returns of one episode per seed, played side by side with one planning call per step for all;
    `frames`, if given, gets the first episode's frame before each of its steps (the scored episode itself)."""
    import gymnasium as gym

    discrete = env_spec(env_id).discrete
    # Only the drawn one asks for frames: an environment may take no render_mode at all.
    drawn = {"render_mode": "rgb_array"} if frames is not None else {}
    envs = [gym.make(env_id, **(drawn if i == 0 else {})) for i in range(len(seeds))]
    states = np.stack([env.reset(seed=s)[0] for env, s in zip(envs, seeds)])
    returns = np.zeros(len(seeds))
    done = np.zeros(len(seeds), bool)
    plan = agent.init(len(seeds))
    while not done.all():
        key, act_key = jax.random.split(key)
        actions, plan, _ = agent.act(model, states, plan, act_key)
        actions = np.asarray(actions)
        for i, env in enumerate(envs):
            if done[i]:
                continue
            if i == 0 and frames is not None:
                frames.append(env.render())
            states[i], reward, terminated, truncated, _ = env.step(env_action(actions[i], discrete))
            returns[i] += reward
            done[i] = terminated or truncated
    return returns.tolist()


def evaluate_in_gymnax(env_id: str, agent: MPCAgent, model: Ensemble, episodes: int, key) -> list[float]:
    """Returns of `episodes` episodes in the gymnax version of the environment, the whole evaluation
    one compiled `lax.scan` over the environment's own episode cap: the planner and the environments
    step together on the device, with no Python between steps. Rewards and terminations are the
    environment's own (`EnvSpec.reward_fn`, identical to gymnasium's); gymnax draws its own initial states."""
    from ..envs.gymnax_collect import gymnax_env, gymnax_step

    env, params = gymnax_env(env_id)
    reward_fn = env_spec(env_id).planning_objective("known")
    cap = env_spec(env_id).time_limit

    @jax.jit
    def program(model, key):
        reset_key, key = jax.random.split(key)
        obs, states = jax.vmap(env.reset_env, in_axes=(0, None))(jax.random.split(reset_key, episodes), params)

        def step(carry, key):
            obs, states, plans, alive, returns = carry
            plan_key, step_key = jax.random.split(key)
            actions, plans, _ = agent.plan_batch(model, obs, plans, plan_key)
            step_keys = jax.random.split(step_key, episodes)
            next_obs, states, _, _, _ = jax.vmap(lambda k, s, a: gymnax_step(env_id, k, s, a, params))(
                step_keys, states, actions
            )
            reward, terminated = reward_fn(obs, actions, next_obs)
            returns = returns + jnp.where(alive, reward, 0.0)
            return (next_obs, states, plans, alive & ~terminated, returns), None

        init = (obs, states, agent.init(episodes), jnp.ones(episodes, bool), jnp.zeros(episodes))
        (_, _, _, _, returns), _ = jax.lax.scan(step, init, jax.random.split(key, cap))
        return returns

    return np.asarray(program(model, key)).tolist()


@dataclasses.dataclass
class MBRLResult:
    """A model-based RL run. `iterations`: one record per iteration (`iteration`, `real_transitions`,
    `train_return`, `episode_steps`); `eval_returns`: the final agent's returns on fresh real episodes;
    `real_transitions_used`: the buffer's rows at the end, initial ones included; `seconds`: `train`,
    `act`, `eval` and `total`; `model`: the final ensemble."""

    iterations: list[dict]
    eval_returns: list[float]
    real_transitions_used: int
    seconds: dict
    model: Ensemble

    @property
    def eval_return_mean(self) -> float:
        return float(np.mean(self.eval_returns))


def _iterate(env, agent, trainer, config, seed, cap, carry, log, on_progress, checkpoints):
    """The loop's iterations (retrain, one real episode, add it) until the budget is spent; Ctrl-C stops
    it between iterations (see `wm_jax.interrupts`), after saving a checkpoint when the run keeps them."""
    (buffer, key), (iterations, used, train_seconds, act_seconds) = carry, log

    def save():  # the loop's state as it is when called
        record = {
            "iterations": iterations,
            "real_transitions": used,
            "seconds": {"train": train_seconds, "act": act_seconds},
        }
        checkpoints.save(len(iterations), (buffer, trainer.params, key), record)

    while used < config.max_transitions:
        if requested():
            raise stopped_after("iteration", len(iterations), checkpoints, save)
        tick = time.perf_counter()
        model = trainer.train(buffer, len(iterations))
        jax.block_until_ready(model.params)
        train_seconds += time.perf_counter() - tick
        tick = time.perf_counter()
        key, episode_key = jax.random.split(key)
        episode, total = run_episode(
            env, agent, model, seed * 1000 + len(iterations), episode_key, min(cap, config.max_transitions - used)
        )
        act_seconds += time.perf_counter() - tick
        buffer = append(buffer, episode)
        used += episode.size
        record = {
            "iteration": len(iterations),
            "real_transitions": used,
            "train_return": total,
            "episode_steps": episode.size,
        }
        iterations.append(record)
        if checkpoints is not None and (len(iterations) % checkpoints.every == 0 or used >= config.max_transitions):
            save()
        if on_progress is not None:
            on_progress(used, record)
    return buffer, iterations, used, train_seconds, act_seconds


def run_mbrl(
    env_id: str,
    config: MBRLConfig,
    seed: int,
    on_progress: Callable[[int, dict], None] | None = None,
    frames: list | None = None,
    mesh=None,
    checkpoints: RunCheckpoints | None = None,
    initial_data=None,
) -> MBRLResult:
    """The whole loop; `on_progress(real_transitions, iteration_record)` after every iteration;
    `frames`, if given, receives the rgb frames of the first evaluation episode (replayed); `mesh`
    (`training.training_mesh`) spreads the ensemble's training over several devices; `checkpoints`
    (`training.RunCheckpoints`) saves the buffer, the model and the key every K iterations and
    resumes a saved run: each iteration's episode starts from its own reset seed, so a resumed run
    continues exactly as the uninterrupted one would have. `initial_data` (this environment's Transitions or
    Dataset, say logged ones) replaces the `initial_transitions` random ones and counts toward
    `max_transitions`; as many as that is a model trained on them alone, then evaluated."""
    import gymnasium as gym

    started = time.perf_counter()
    cap = env_spec(env_id).time_limit
    env_spec(env_id).planning_objective(config.planner.reward)  # an env without it fails before any work
    resuming = checkpoints is not None and checkpoints.latest_epoch() is not None
    data = first_transitions(env_id, config, seed, cap, initial_data, resuming)
    buffer = to_buffer(data, capacity=config.max_transitions)
    trainer = ModelTrainer(
        env_id,
        members=config.members,
        epochs=config.epochs,
        seed=seed,
        hidden_sizes=config.hidden_sizes,
        probabilistic=config.probabilistic,
        heads=config.planner.reward == "learned",
        mesh=mesh,
    )
    agent = MPCAgent(trainer.spec, env_id, config.planner)
    env = gym.make(env_id)
    key = jax.random.key(seed + 1)
    iterations, used, train_seconds, act_seconds = [], data.size, 0.0, 0.0
    if resuming:
        (buffer, trainer.params, key), record = checkpoints.restore((buffer, trainer.params, key))
        iterations, used = record["iterations"], record["real_transitions"]
        train_seconds, act_seconds = record["seconds"]["train"], record["seconds"]["act"]
    with stop_requests():
        buffer, iterations, used, train_seconds, act_seconds = _iterate(
            env,
            agent,
            trainer,
            config,
            seed,
            cap,
            (buffer, key),
            (iterations, used, train_seconds, act_seconds),
            on_progress,
            checkpoints,
        )
    with in_final_evaluation("iteration", checkpoints):
        model = trainer.train(buffer, len(iterations))
        tick = time.perf_counter()
        eval_returns = _evaluate_final(env_id, agent, model, config, seed, cap, frames)
        eval_seconds = time.perf_counter() - tick
    seconds = {"train": train_seconds, "act": act_seconds, "eval": eval_seconds, "total": time.perf_counter() - started}
    return MBRLResult(iterations, eval_returns, int(valid_rows(buffer).states.shape[0]), seconds, model)


def first_transitions(env_id: str, config, seed: int, cap: int, initial_data, resuming: bool) -> Transitions:
    """An agent's first transitions (mbrl's or the dream's `config`): `initial_data`, checked, or
    `config.initial_transitions` random ones. On a resume they only give the buffer its shapes (its rows
    come from the checkpoint), and a run that started from data may have more --initial-transitions than
    its budget, so there the budget is not checked."""
    if initial_data is not None:
        return checked_initial_data(initial_data, env_id, config)
    if not resuming:
        config.check_random_start()
    transitions = min(config.initial_transitions, config.max_transitions)
    return collect_gymnasium(env_id, seed=seed, transitions=transitions, max_episode_steps=cap)[0]


def checked_initial_data(data, env_id: str, config) -> Transitions:
    """`data` (Transitions or a Dataset) as an agent's first transitions (mbrl's or the dream's `config`):
    rows of `env_id`'s shapes, with rewards, termination flags and episode steps, at most
    `config.max_transitions` of them; a one-line DataError otherwise."""
    from ..data import DataError
    from ..data.format import transitions_of

    data = transitions_of(data)
    missing = [name for name in ("rewards", "terminated", "step") if getattr(data, name) is None]
    if missing:
        raise DataError(f"the initial data has no {', '.join(missing)}: an agent learns from whole transitions")
    spec = env_spec(env_id)
    # As collection stores them: a Discrete action as one index per row, a Box action as a row.
    action_shape = () if spec.discrete else tuple(spec.action_space.shape)
    if data.states.shape[1:] != (spec.state_dim,) or data.actions.shape[1:] != action_shape:
        actions = f"(N, {', '.join(map(str, action_shape))})" if action_shape else "(N,)"
        raise DataError(
            f"initial data of states {tuple(data.states.shape)} and actions {tuple(data.actions.shape)} is not "
            f"{env_id}'s (states (N, {spec.state_dim}), actions {actions})"
        )
    if not 1 <= data.size <= config.max_transitions:
        raise DataError(
            f"the initial data has {data.size:,} transitions; the run takes 1 to --max-transitions "
            f"{config.max_transitions:,} (they count toward it)"
        )
    return data


def _evaluate_final(env_id: str, agent, model, config: MBRLConfig, seed: int, cap: int, frames: list | None):
    """The final model's evaluation returns (gymnasium episodes from fixed seeds, or one gymnax scan).
    `frames`, if given, gets the first evaluation episode's frames: drawn as it is scored with gymnasium; with
    the gymnax backend (which cannot draw), a gymnasium episode from the first evaluation seed, played after."""
    import gymnasium as gym

    eval_seeds = [10_000 + 100 * seed + i for i in range(config.eval_episodes)]
    if config.eval_backend == "jax":
        eval_returns = evaluate_in_gymnax(env_id, agent, model, config.eval_episodes, jax.random.key(10_000 + seed))
        if frames is not None:
            render_env = gym.make(env_id, render_mode="rgb_array")
            run_episode(render_env, agent, model, eval_seeds[0], jax.random.key(seed + 3), cap, frames)
    else:
        eval_returns = evaluate(env_id, agent, model, eval_seeds, jax.random.key(seed + 2), frames)
    return eval_returns
