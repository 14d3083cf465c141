"""Soft actor-critic (Haarnoja et al., 2018) in Flax NNX and optax, compiled.

The agent is a pytree (`SACState`): the tanh-Gaussian actor, twin Q-critics, their target copies,
log(alpha), three optax states, and the float settings (discount, target rate, entropy target) as
arrays, so a change of any of them, or of a learning rate (`optax.inject_hyperparams`), reuses the
compiled programs. `SAC.update(state, buffer, key)` is G gradient steps in one `lax.scan`, each on a
fresh uniform minibatch of the buffer's valid rows; `SAC.learn_and_act` writes the newest real
transition, updates and picks the next action in one compiled call, so a real step costs one dispatch.

Losses (as CleanRL's `sac_continuous_action.py` and stable-baselines3's SAC):
- critics: sum over both of mean (Q_i(s, a) - y)^2, y = r + gamma (1 - terminated) (min_i Qtarget_i(s', a')
  - alpha log pi(a'|s')), a' ~ pi(.|s'); truncation (the time limit) is not termination, so it bootstraps;
- actor: mean (alpha log pi(a~|s) - min_i Q_i(s, a~)), a~ ~ pi(.|s) reparameterised, with the critics just updated;
- alpha: mean -log(alpha) (log pi(a~|s) + target entropy); then the targets move tau of the way to the critics.

Actions are tanh-squashed into the Box's bounds: a = centre + half_width * tanh(u), and the log-density
carries the change of variables, log pi(a) = log N(u) - sum log(half_width (1 - tanh(u)^2) + 1e-6).
"""

from __future__ import annotations

import dataclasses
import functools
import time
from typing import NamedTuple, Protocol

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from ..config import OnlineConfig, SACConfig
from ..models.network import torch_linear
from ..training.buffer import Buffer
from ..transitions import Transitions

# CleanRL's bounds on the actor's log standard deviation (a tanh of the raw output, rescaled into them).
LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0
SQUASH_EPSILON = 1e-6


class MLP(nnx.Module):
    """Linear-ReLU per hidden size, then a Linear to `out` (PyTorch's default initialisation)."""

    def __init__(self, sizes: tuple[int, ...], *, rngs: nnx.Rngs):
        self.layers = nnx.List([torch_linear(a, b, rngs=rngs) for a, b in zip(sizes[:-1], sizes[1:])])

    def __call__(self, x):
        for layer in self.layers[:-1]:
            x = jax.nn.relu(layer(x))
        return self.layers[-1](x)


class Actor(nnx.Module):
    """obs -> (mean, log_std) of the pre-squash Gaussian, each (..., A)."""

    def __init__(self, obs_dim: int, action_dim: int, hidden: tuple[int, ...], *, rngs: nnx.Rngs):
        self.net = MLP((obs_dim, *hidden, 2 * action_dim), rngs=rngs)

    def __call__(self, obs):
        mean, raw = jnp.split(self.net(obs), 2, axis=-1)
        log_std = LOG_STD_MIN + 0.5 * (LOG_STD_MAX - LOG_STD_MIN) * (jnp.tanh(raw) + 1)
        return mean, log_std


class TwinCritic(nnx.Module):
    """(obs, action) -> (Q1, Q2), each (...,): two independent networks."""

    def __init__(self, obs_dim: int, action_dim: int, hidden: tuple[int, ...], *, rngs: nnx.Rngs):
        self.q1 = MLP((obs_dim + action_dim, *hidden, 1), rngs=rngs)
        self.q2 = MLP((obs_dim + action_dim, *hidden, 1), rngs=rngs)

    def __call__(self, obs, action):
        x = jnp.concatenate([obs, action], axis=-1)
        return self.q1(x)[..., 0], self.q2(x)[..., 0]


class Settings(NamedTuple):
    """The float settings the compiled programs read as arrays (never as constants)."""

    gamma: jax.Array
    tau: jax.Array
    target_entropy: jax.Array


class SACState(NamedTuple):
    actor: nnx.State
    critic: nnx.State
    target_critic: nnx.State
    log_alpha: jax.Array
    actor_opt: optax.OptState
    critic_opt: optax.OptState
    alpha_opt: optax.OptState
    settings: Settings


class UpdateMetrics(NamedTuple):
    """Per gradient step (G,): the critics' loss, the actor's loss, alpha, and the policy's entropy estimate."""

    critic_loss: jax.Array
    actor_loss: jax.Array
    alpha: jax.Array
    entropy: jax.Array


def _adam(learning_rate: float) -> optax.GradientTransformation:
    return optax.inject_hyperparams(optax.adam)(learning_rate=learning_rate)


@dataclasses.dataclass(frozen=True)
class SAC:
    """The agent for observations of `obs_dim` and Box actions in [low, high] (one tuple entry per dimension)."""

    obs_dim: int
    low: tuple[float, ...]
    high: tuple[float, ...]
    config: SACConfig = SACConfig()

    @property
    def action_dim(self) -> int:
        return len(self.low)

    @functools.cached_property
    def graphdefs(self) -> tuple[nnx.GraphDef, nnx.GraphDef]:
        """The networks' structure (built from abstract shapes: no weights are drawn)."""
        actor, critic = nnx.eval_shape(lambda: self._modules(jax.random.key(0)))
        return nnx.graphdef(actor), nnx.graphdef(critic)

    def _modules(self, key: jax.Array) -> tuple[Actor, TwinCritic]:
        actor_key, critic_key = jax.random.split(key)
        hidden = self.config.hidden_sizes
        actor = Actor(self.obs_dim, self.action_dim, hidden, rngs=nnx.Rngs(actor_key))
        return actor, TwinCritic(self.obs_dim, self.action_dim, hidden, rngs=nnx.Rngs(critic_key))

    def init(self, key: jax.Array) -> SACState:
        config = self.config
        actor, critic = self._modules(key)
        actor_params, critic_params = nnx.state(actor, nnx.Param), nnx.state(critic, nnx.Param)
        log_alpha = jnp.log(jnp.float32(config.initial_alpha))
        target_entropy = -float(self.action_dim) if config.target_entropy is None else config.target_entropy
        return SACState(
            actor_params,
            critic_params,
            jax.tree.map(jnp.copy, critic_params),
            log_alpha,
            _adam(config.actor_learning_rate).init(actor_params),
            _adam(config.critic_learning_rate).init(critic_params),
            _adam(config.alpha_learning_rate).init(log_alpha),
            Settings(jnp.float32(config.gamma), jnp.float32(config.tau), jnp.float32(target_entropy)),
        )

    # The optimizers' learning rates live in their states; these transformations only name the update rule.
    @property
    def _optimizer(self) -> optax.GradientTransformation:
        return _adam(0.0)

    def _scale(self):
        low, high = np.asarray(self.low, np.float32), np.asarray(self.high, np.float32)
        return jnp.asarray((high + low) / 2), jnp.asarray((high - low) / 2)

    def distribution(self, actor: nnx.State, obs: jax.Array) -> tuple[jax.Array, jax.Array]:
        """(mean, log_std) of the pre-squash Gaussian at `obs` (..., obs_dim)."""
        return nnx.merge(self.graphdefs[0], actor)(obs)

    def sample(self, actor: nnx.State, obs: jax.Array, key: jax.Array) -> tuple[jax.Array, jax.Array]:
        """A reparameterised action in the Box (..., A) and its log-density (...,)."""
        mean, log_std = self.distribution(actor, obs)
        std = jnp.exp(log_std)
        u = mean + std * jax.random.normal(key, mean.shape)
        centre, half = self._scale()
        squashed = jnp.tanh(u)
        gaussian = -0.5 * jnp.square((u - mean) / std) - log_std - 0.5 * jnp.log(2 * jnp.pi)
        log_prob = jnp.sum(gaussian - jnp.log(half * (1 - jnp.square(squashed)) + SQUASH_EPSILON), axis=-1)
        return centre + half * squashed, log_prob

    def greedy(self, actor: nnx.State, obs: jax.Array) -> jax.Array:
        """The deterministic action (the squashed mean), for evaluation."""
        centre, half = self._scale()
        return centre + half * jnp.tanh(self.distribution(actor, obs)[0])

    def q_values(self, critic: nnx.State, obs: jax.Array, action: jax.Array) -> tuple[jax.Array, jax.Array]:
        return nnx.merge(self.graphdefs[1], critic)(obs, action)

    def critic_loss(self, critic: nnx.State, state: SACState, batch: Transitions, key: jax.Array) -> jax.Array:
        """Sum over the twin critics of the mean squared soft Bellman error (see the module docstring)."""
        next_action, next_log_prob = self.sample(state.actor, batch.next_states, key)
        target_q = jnp.minimum(*self.q_values(state.target_critic, batch.next_states, next_action))
        soft_value = target_q - jnp.exp(state.log_alpha) * next_log_prob
        continuing = 1.0 - batch.terminated.astype(jnp.float32)
        target = jax.lax.stop_gradient(batch.rewards + state.settings.gamma * continuing * soft_value)
        q1, q2 = self.q_values(critic, batch.states, batch.actions)
        return jnp.mean(jnp.square(q1 - target)) + jnp.mean(jnp.square(q2 - target))

    def actor_loss(self, actor: nnx.State, state: SACState, obs: jax.Array, key: jax.Array):
        """(mean of alpha log pi(a~|s) - min_i Q_i(s, a~), the log-densities): the entropy-regularised objective."""
        action, log_prob = self.sample(actor, obs, key)
        q = jnp.minimum(*self.q_values(state.critic, obs, action))
        return jnp.mean(jnp.exp(state.log_alpha) * log_prob - q), log_prob

    def gradient_step(self, state: SACState, batch: Transitions, key: jax.Array) -> tuple[SACState, UpdateMetrics]:
        """One step of the critics, then the actor (against the updated critics), alpha and the targets."""
        critic_key, actor_key = jax.random.split(key)
        optimizer = self._optimizer
        critic_loss, grads = jax.value_and_grad(self.critic_loss)(state.critic, state, batch, critic_key)
        updates, critic_opt = optimizer.update(grads, state.critic_opt, state.critic)
        state = state._replace(critic=optax.apply_updates(state.critic, updates), critic_opt=critic_opt)
        (actor_loss, log_prob), grads = jax.value_and_grad(self.actor_loss, has_aux=True)(
            state.actor, state, batch.states, actor_key
        )
        updates, actor_opt = optimizer.update(grads, state.actor_opt, state.actor)
        entropy_gap = jax.lax.stop_gradient(jnp.mean(log_prob) + state.settings.target_entropy)
        alpha_updates, alpha_opt = optimizer.update(-entropy_gap, state.alpha_opt, state.log_alpha)
        tau = state.settings.tau
        target = jax.tree.map(lambda t, c: t + tau * (c - t), state.target_critic, state.critic)
        state = state._replace(
            actor=optax.apply_updates(state.actor, updates),
            actor_opt=actor_opt,
            log_alpha=state.log_alpha + alpha_updates,
            alpha_opt=alpha_opt,
            target_critic=target,
        )
        metrics = UpdateMetrics(critic_loss, actor_loss, jnp.exp(state.log_alpha), -jnp.mean(log_prob))
        return state, metrics

    def update(self, state: SACState, sample_batch, key: jax.Array) -> tuple[SACState, UpdateMetrics]:
        """`updates_per_step` (of the config) gradient steps in one `lax.scan`, each on the minibatch
        `sample_batch(key)` draws (traced: `uniform_batches` of a buffer, or MBPO's mix of real and model rows)."""

        def step(state, key):
            rows_key, step_key = jax.random.split(key)
            return self.gradient_step(state, sample_batch(rows_key), step_key)

        return jax.lax.scan(step, state, jax.random.split(key, self.config.updates_per_step))

    def learn_and_act(self, state: SACState, buffer: Buffer, row: Transitions, obs: jax.Array, key: jax.Array):
        """Write `row` (one real transition) into the buffer, update on uniform minibatches of it, then sample
        the action at `obs`: (state, buffer, action, metrics)."""
        buffer = write_row(buffer, row)
        update_key, act_key = jax.random.split(key)
        state, metrics = self.update(state, uniform_batches(buffer, self.config.batch_size), update_key)
        action, _ = self.sample(state.actor, obs, act_key)
        return state, buffer, action, metrics


def uniform_batches(buffer: Buffer, batch_size: int):
    """key -> `batch_size` rows drawn uniformly, with replacement, from the buffer's valid rows."""

    def sample(key):
        rows = jax.random.randint(key, (batch_size,), 0, buffer.size)
        return jax.tree.map(lambda x: x[rows], buffer.rows)

    return sample


def buffer_bytes(obs_dim: int, action_dim: int, rows: int) -> int:
    """Bytes of `rows` rows of a replay buffer (`empty_buffer`'s: float32 states, actions, next states and
    reward, a bool flag)."""
    return rows * ((2 * obs_dim + action_dim + 1) * 4 + 1)


def empty_buffer(obs_dim: int, action_dim: int, capacity: int) -> Buffer:
    """A buffer of `capacity` zero rows, none valid."""
    zeros = lambda *shape: jnp.zeros((capacity, *shape), jnp.float32)  # noqa: E731
    return Buffer(
        Transitions(zeros(obs_dim), zeros(action_dim), zeros(obs_dim), zeros(), jnp.zeros(capacity, bool)),
        jnp.int32(0),
    )


def write_row(buffer: Buffer, row: Transitions) -> Buffer:
    """`buffer` with one more valid row (fields of `row` without the leading axis)."""
    rows = jax.tree.map(
        lambda column, value: jax.lax.dynamic_update_index_in_dim(column, value.astype(column.dtype), buffer.size, 0),
        buffer.rows,
        row,
    )
    return Buffer(rows, buffer.size + 1)


class SACResult(NamedTuple):
    """curve: one row per evaluation, {real_transitions, eval_return_mean, eval_return_std, alpha, critic_loss};
    eval_returns: the final evaluation's returns; seconds: {"total", "act_and_learn", "evaluate"}."""

    curve: list[dict]
    eval_returns: list[float]
    state: SACState
    seconds: dict[str, float]


def box_bounds(env_id: str) -> tuple[int, tuple[float, ...], tuple[float, ...]]:
    """(observation size, action low, action high) of an environment SAC can act in: a Box action space."""
    from ..envs import EnvError, env_spec
    from ..envs.spaces import Box

    spec = env_spec(env_id)
    if not isinstance(spec.action_space, Box):
        raise EnvError(f"SAC acts in continuous (Box) action spaces; {env_id}'s is {spec.action_space}")
    return spec.state_dim, spec.action_space.low, spec.action_space.high


def evaluate_policy(env_id: str, agent: SAC, actor: nnx.State, seeds: list[int]) -> list[float]:
    """Returns of the greedy policy, one episode per seed, the episodes stepped side by side."""
    import gymnasium as gym

    envs = [gym.make(env_id) for _ in seeds]
    obs = np.stack([env.reset(seed=s)[0] for env, s in zip(envs, seeds)]).astype(np.float32)
    returns, done = np.zeros(len(seeds)), np.zeros(len(seeds), bool)
    greedy = greedy_program(agent)
    while not done.all():
        actions = np.asarray(greedy(actor, obs))
        for i, env in enumerate(envs):
            if not done[i]:
                obs[i], reward, terminated, truncated, _ = env.step(actions[i])
                returns[i] += reward
                done[i] = terminated or truncated
    for env in envs:
        env.close()
    return returns.tolist()


def render_greedy(env_id: str, loop: OnlineConfig, config: SACConfig, actor: nnx.State) -> list:
    """The rgb frames of the final greedy policy's first evaluation episode, replayed with rendering
    (the episode `run_online` evaluated last, on the same seed)."""
    import gymnasium as gym

    obs_dim, low, high = box_bounds(env_id)
    greedy = greedy_program(SAC(obs_dim, low, high, config))
    env = gym.make(env_id, render_mode="rgb_array")
    obs, _ = env.reset(seed=_eval_seeds(loop.total_transitions, loop)[0])
    frames, done = [env.render()], False
    while not done:
        action = np.asarray(greedy(actor, np.asarray(obs, np.float32)[None]))[0]
        obs, _, terminated, truncated, _ = env.step(action)
        frames.append(env.render())
        done = terminated or truncated
    env.close()
    return frames


def agent_structure(agent: SAC) -> SAC:
    """The agent with only the settings its compiled programs depend on (network widths, batch size, steps
    per update); the float settings and learning rates travel in the state, so changing them compiles nothing."""
    config = agent.config
    shape = SACConfig(
        hidden_sizes=config.hidden_sizes, batch_size=config.batch_size, updates_per_step=config.updates_per_step
    )
    return dataclasses.replace(agent, config=shape)


@functools.lru_cache(maxsize=8)
def _compiled(agent: SAC):
    return jax.jit(agent.greedy), jax.jit(agent.learn_and_act, donate_argnums=(1,))


@functools.lru_cache(maxsize=8)
def _init_program(agent: SAC):
    from ..compilation import compile_initialization

    return compile_initialization(agent.init, jax.random.key(0))


def initial_state(agent: SAC, key: jax.Array) -> SACState:
    """`agent.init(key)`, compiled as the training engine compiles its initialisation (see `wm_jax.compilation`:
    its random draws compile in about half the time at XLA's level 1)."""
    return _init_program(agent)(key)


def greedy_program(agent: SAC):
    """The jitted `agent.greedy`, shared by every agent of the same structure."""
    return _compiled(agent_structure(agent))[0]


def learn_program(agent: SAC):
    """The jitted `agent.learn_and_act` (the buffer donated), shared by every agent of the same structure."""
    return _compiled(agent_structure(agent))[1]


def run_sac(
    env_id: str, loop: OnlineConfig, config: SACConfig, seed: int, on_progress=None, checkpoints=None
) -> SACResult:
    """SAC in the real environment (`run_online` with one compiled write-update-act call per real step)."""
    obs_dim, low, high = box_bounds(env_id)
    agent = SAC(obs_dim, low, high, config)
    program = learn_program(agent)
    return run_online(env_id, loop, agent, seed, lambda step, *args: program(*args), on_progress, checkpoints)


class OnlineLearner(Protocol):
    """What `run_online` calls at every real step after the warm-up: `learn(step, state, buffer, row, obs,
    key) -> (state, buffer, next action, metrics)`. A learner with state of its own (MBPO's model and model
    buffer) also has `saved() -> (pytree, JSON-able dict)` and `restore(pytree, dict)` for checkpoints."""

    def __call__(self, step: int, state, buffer, row, obs, key): ...


@dataclasses.dataclass
class _OnlineRun:
    """The online loop's progress, all that a checkpoint holds besides the learner's own state. `transitions`
    real steps are done and `action` is the next one; `tick` is when the current timed stretch began."""

    state: SACState
    buffer: Buffer
    action: np.ndarray
    key: jax.Array
    rng: np.random.Generator
    transitions: int = 0
    episodes: int = 0
    curve: list = dataclasses.field(default_factory=list)
    seconds: dict = dataclasses.field(default_factory=lambda: {"act_and_learn": 0.0, "evaluate": 0.0})
    returns: list = dataclasses.field(default_factory=list)
    metrics: UpdateMetrics | None = None
    tick: float = dataclasses.field(default_factory=time.perf_counter)

    def lap(self, name: str | None) -> None:
        """Add the time since the last lap to `seconds[name]` (None: count it nowhere) and start a new one."""
        now = time.perf_counter()
        if name is not None:
            self.seconds[name] += now - self.tick
        self.tick = now


def _start_online(agent: SAC, loop: OnlineConfig, seed: int) -> _OnlineRun:
    key = jax.random.key(seed)
    init_key, key = jax.random.split(key)
    state = initial_state(agent, init_key)
    rng = np.random.default_rng(seed)
    action = rng.uniform(agent.low, agent.high).astype(np.float32)
    return _OnlineRun(state, empty_buffer(agent.obs_dim, agent.action_dim, loop.total_transitions), action, key, rng)


def _own_state(learn: OnlineLearner) -> tuple:
    """(pytree, JSON-able record) of a learner's own state (MBPO's model and model buffer); SAC has none."""
    return learn.saved() if hasattr(learn, "saved") else ((), {})


def _save_online(checkpoints, run: _OnlineRun, learn: OnlineLearner) -> None:
    own, own_record = _own_state(learn)
    record = {
        "transitions": run.transitions,
        "episodes": run.episodes,
        "curve": run.curve,
        "rng": run.rng.bit_generator.state,
        "seconds": run.seconds,
        "learner": own_record,
    }
    checkpoints.save(run.transitions, (run.state, run.buffer, jnp.asarray(run.action), run.key, own), record)


def _resume_online(checkpoints, run: _OnlineRun, learn: OnlineLearner) -> None:
    """`run` (a fresh start, the template) and the learner as the latest checkpoint left them."""
    template = (run.state, run.buffer, jnp.asarray(run.action), run.key, _own_state(learn)[0])
    (run.state, run.buffer, action, run.key, own), record = checkpoints.restore(template)
    run.action = np.asarray(action)
    run.transitions, run.episodes = record["transitions"], record["episodes"]
    run.curve, run.seconds = record["curve"], record["seconds"]
    run.rng.bit_generator.state = record["rng"]
    if hasattr(learn, "restore"):
        learn.restore(own, record["learner"])


def _interrupted(transitions: int, checkpoints):
    from ..interrupts import Interrupted

    kept = None if checkpoints is None else checkpoints.latest_epoch()
    if kept is None:
        return Interrupted(
            f"stopped after {transitions} real transitions; nothing was kept "
            "(--checkpoint-every N makes a run resumable)"
        )
    return Interrupted(
        f"stopped after {transitions} real transitions; the checkpoint after {kept} is in "
        f"{checkpoints.directory}: continue with --resume on the run's directory"
    )


def _evaluate_online(env_id: str, agent: SAC, loop: OnlineConfig, run: _OnlineRun, on_progress) -> None:
    """The greedy policy on fresh episodes after `run.transitions` real steps: a row of the learning curve."""
    run.lap("act_and_learn")
    run.returns = evaluate_policy(env_id, agent, run.state.actor, _eval_seeds(run.transitions, loop))
    run.lap("evaluate")
    run.curve.append(_curve_row(run.transitions, run.returns, run.state, run.metrics))
    if on_progress is not None:
        on_progress(run.transitions, run.curve[-1])
        run.lap(None)  # drawing the progress is counted nowhere


def run_online(
    env_id: str, loop: OnlineConfig, agent: SAC, seed: int, learn: OnlineLearner, on_progress=None, checkpoints=None
) -> SACResult:
    """An agent learning in the real environment: `initial_transitions` uniform random actions, then
    `learn(step, state, buffer, row, obs, key)` at every real step (it writes the real transition `row` and
    updates); the greedy policy is evaluated on `eval_episodes` fresh episodes every `eval_every` transitions
    and at the end. `on_progress(transitions, curve_row)` after each evaluation.

    `checkpoints` (a `training.RunCheckpoints`, `every` in real transitions) saves the loop at the first
    episode end after every `every` transitions: the agent, the buffer, the next action, the key, the NumPy
    stream and the learner's own state. Each episode starts from its own reset seed, so a resumed run
    continues exactly as the uninterrupted one. Ctrl-C stops at the next real step with one line."""
    import gymnasium as gym

    from ..interrupts import requested, stop_requests

    run = _start_online(agent, loop, seed)
    if checkpoints is not None and checkpoints.latest_epoch() is not None:
        _resume_online(checkpoints, run, learn)
    env = gym.make(env_id)
    obs = np.asarray(env.reset(seed=seed + run.episodes)[0], np.float32)
    since_save, run.tick = 0, time.perf_counter()
    with stop_requests():
        for step in range(run.transitions, loop.total_transitions):
            if requested():
                raise _interrupted(step, checkpoints)
            next_obs, reward, terminated, truncated, _ = env.step(run.action)
            row = Transitions(obs, run.action, next_obs, np.float32(reward), np.bool_(terminated))
            episode_ended = terminated or truncated
            if episode_ended:
                run.episodes += 1
                next_obs, _ = env.reset(seed=seed + run.episodes)
            obs = np.asarray(next_obs, np.float32)
            if step + 1 < loop.initial_transitions:
                run.buffer = write_row(run.buffer, jax.tree.map(jnp.asarray, row))
                run.action = run.rng.uniform(agent.low, agent.high).astype(np.float32)
            else:
                run.key, step_key = jax.random.split(run.key)
                run.state, run.buffer, action, run.metrics = learn(step, run.state, run.buffer, row, obs, step_key)
                run.action = np.asarray(action)
            run.transitions, since_save = step + 1, since_save + 1
            if run.transitions % loop.eval_every == 0 or run.transitions == loop.total_transitions:
                _evaluate_online(env_id, agent, loop, run, on_progress)
            saving = checkpoints is not None and episode_ended and since_save >= checkpoints.every
            if saving and run.transitions < loop.total_transitions:
                run.lap("act_and_learn")
                _save_online(checkpoints, run, learn)
                since_save = 0
                run.lap(None)  # the save itself is counted nowhere
    env.close()
    run.lap("act_and_learn")
    seconds = {"total": run.seconds["act_and_learn"] + run.seconds["evaluate"], **run.seconds}
    return SACResult(run.curve, run.returns, run.state, seconds)


def _eval_seeds(transitions: int, loop: OnlineConfig) -> list[int]:
    """Fresh episodes for each evaluation (the same for every run seed), away from the training episodes'
    reset seeds (the run seed plus the episode count)."""
    base = 1_000_000_000 + transitions * loop.eval_episodes
    return [base + i for i in range(loop.eval_episodes)]


def _curve_row(transitions: int, returns: list[float], state: SACState, metrics: UpdateMetrics | None) -> dict:
    return {
        "real_transitions": transitions,
        "eval_return_mean": float(np.mean(returns)),
        "eval_return_std": float(np.std(returns)),
        "alpha": float(jnp.exp(state.log_alpha)),
        "critic_loss": None if metrics is None else float(np.mean(metrics.critic_loss)),
    }
