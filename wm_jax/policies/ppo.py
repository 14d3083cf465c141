"""PPO trained entirely inside the learned model (PureJaxRL-style), and the dream loop around it.

`PPO.train(state, env_params, runner, key)` is `updates` PPO updates in one compiled `lax.scan`: each
collects `steps` imagined steps in `envs` copies of the functional model environment, stepped as one
batch (`models.environment.FunctionalModelEnv.step_batch`: each environment runs through its own
member; episodes reset themselves), computes GAE advantages, and makes `epochs` passes of `minibatches`
clipped-objective Adam steps. The model is an argument, so a retrained model reuses the program. An
episode cut by the time limit bootstraps from the value of its last state (its reward gains
gamma V(final obs)); one that terminates does not.

The policy is an MLP actor-critic (tanh, orthogonal initialisation, as PureJaxRL): a categorical over a
Discrete space, or a Gaussian with a learned state-independent log std for a Box (actions clipped to the
bounds when they reach the environment).

`DreamPPO` is PPO as the learner of the dream loop (`planning.dream.run_dream`, `wm-jax dream --controller
ppo`): random transitions, then {train the ensemble, train PPO in it, play real episodes with the stochastic
policy and add them} until the real-transition budget is spent; then the greedy policy plays fresh real episodes.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from ..config import DreamConfig, PPOConfig
from ..models.environment import FunctionalModelEnv, ModelEnvParams


class ActorCritic(nnx.Module):
    def __init__(self, obs_dim: int, outputs: int, hidden: tuple[int, ...], discrete: bool, *, rngs: nnx.Rngs):
        def mlp(last: int, scale: float):
            sizes = (obs_dim, *hidden)
            layers = [
                nnx.Linear(a, b, kernel_init=nnx.initializers.orthogonal(np.sqrt(2)), rngs=rngs)
                for a, b in zip(sizes[:-1], sizes[1:])
            ]
            return nnx.List(
                [*layers, nnx.Linear(sizes[-1], last, kernel_init=nnx.initializers.orthogonal(scale), rngs=rngs)]
            )

        self.actor, self.critic = mlp(outputs, 0.01), mlp(1, 1.0)
        self.log_std = None if discrete else nnx.Param(jnp.zeros(outputs))

    @staticmethod
    def _run(layers, x):
        for layer in layers[:-1]:
            x = jnp.tanh(layer(x))
        return layers[-1](x)

    def __call__(self, obs):
        """(logits or Gaussian mean (..., outputs), value (...,))."""
        return self._run(self.actor, obs), self._run(self.critic, obs)[..., 0]


class PPOSettings(NamedTuple):
    """PPO's float settings as arrays in the state, so changing them compiles nothing (the learning rate and
    the gradient-norm clip travel the same way, in the optimiser's state through `optax.inject_hyperparams`)."""

    gamma: jax.Array
    gae_lambda: jax.Array
    clip: jax.Array
    entropy_coef: jax.Array
    value_coef: jax.Array
    reward_scale: jax.Array


class PPOState(NamedTuple):
    params: nnx.State
    opt_state: optax.OptState
    settings: PPOSettings


def _optimizer(learning_rate, max_grad_norm) -> optax.GradientTransformation:
    return optax.chain(optax.clip_by_global_norm(max_grad_norm), optax.adam(learning_rate, eps=1e-5))


class Runner(NamedTuple):
    """The imagined environments between updates: their states, observations and running episode returns."""

    env_states: object
    obs: jax.Array
    episode_returns: jax.Array


class Rollout(NamedTuple):
    obs: jax.Array
    action: jax.Array
    log_prob: jax.Array
    value: jax.Array
    reward: jax.Array
    done: jax.Array


@dataclasses.dataclass(frozen=True)
class PPO:
    """PPO for observations of `obs_dim` and a Discrete space of `outputs` actions (`low` None) or a Box in
    [low, high], in the functional model environment `env`."""

    obs_dim: int
    outputs: int
    low: tuple[float, ...] | None
    high: tuple[float, ...] | None
    env: FunctionalModelEnv
    config: PPOConfig = PPOConfig()

    @property
    def discrete(self) -> bool:
        return self.low is None

    def _module(self, key) -> ActorCritic:
        return ActorCritic(self.obs_dim, self.outputs, self.config.hidden_sizes, self.discrete, rngs=nnx.Rngs(key))

    @functools.cached_property
    def graphdef(self) -> nnx.GraphDef:
        return nnx.graphdef(nnx.eval_shape(lambda: self._module(jax.random.key(0))))

    @property
    def optimizer(self) -> optax.GradientTransformation:
        config = self.config
        return optax.inject_hyperparams(_optimizer)(
            learning_rate=config.learning_rate, max_grad_norm=config.max_grad_norm
        )

    def init(self, key: jax.Array) -> PPOState:
        params = nnx.state(self._module(key), nnx.Param)
        settings = PPOSettings(*(jnp.float32(getattr(self.config, name)) for name in PPOSettings._fields))
        return PPOState(params, self.optimizer.init(params), settings)

    def structure(self) -> PPO:
        """This agent with only the settings its compiled programs depend on (sizes and counts); the floats
        travel in the state, so agents that differ only in them share programs."""
        floats = {name: getattr(PPOConfig(), name) for name in (*PPOSettings._fields, "learning_rate", "max_grad_norm")}
        return dataclasses.replace(self, config=dataclasses.replace(self.config, **floats))

    def _outputs(self, params, obs):
        return nnx.merge(self.graphdef, params)(obs)

    def log_prob_and_entropy(self, params, obs, action):
        head, value = self._outputs(params, obs)
        if self.discrete:
            logp = jax.nn.log_softmax(head)
            chosen = jnp.take_along_axis(logp, action[..., None].astype(jnp.int32), axis=-1)[..., 0]
            return chosen, -jnp.sum(jnp.exp(logp) * logp, axis=-1), value
        log_std = params["log_std"][...]
        z = (action - head) / jnp.exp(log_std)
        logp = jnp.sum(-0.5 * jnp.square(z) - log_std - 0.5 * jnp.log(2 * jnp.pi), axis=-1)
        entropy = jnp.sum(log_std + 0.5 * jnp.log(2 * jnp.pi * jnp.e)) * jnp.ones(head.shape[:-1])
        return logp, entropy, value

    def sample(self, params, obs, key):
        """(action, its log-probability, the value of obs)."""
        head, value = self._outputs(params, obs)
        if self.discrete:
            action = jax.random.categorical(key, head)
        else:
            action = head + jnp.exp(params["log_std"][...]) * jax.random.normal(key, head.shape)
        logp, _, _ = self.log_prob_and_entropy(params, obs, action)
        return action, logp, value

    def env_action(self, action):
        """What the environment receives: the index, or the Gaussian's draw clipped to the Box."""
        if self.discrete:
            return action.astype(jnp.int32)
        return jnp.clip(action, jnp.asarray(self.low), jnp.asarray(self.high))

    def greedy(self, params, obs):
        head, _ = self._outputs(params, obs)
        return self.env_action(jnp.argmax(head, axis=-1) if self.discrete else head)

    def reset(self, env_params: ModelEnvParams, key: jax.Array) -> Runner:
        obs, env_states = self.env.reset_batch(key, env_params, self.config.envs)
        return Runner(env_states, obs, jnp.zeros(self.config.envs))

    def loss(self, params, batch: Rollout, advantages, targets, settings: PPOSettings):
        """The clipped surrogate, the value error and the entropy bonus (PureJaxRL's `_loss_fn`)."""
        logp, entropy, value = self.log_prob_and_entropy(params, batch.obs, batch.action)
        ratio = jnp.exp(logp - batch.log_prob)
        normalised = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        surrogate = jnp.minimum(ratio * normalised, jnp.clip(ratio, 1 - settings.clip, 1 + settings.clip) * normalised)
        clipped_value = batch.value + jnp.clip(value - batch.value, -settings.clip, settings.clip)
        value_loss = 0.5 * jnp.maximum(jnp.square(value - targets), jnp.square(clipped_value - targets)).mean()
        return -surrogate.mean() + settings.value_coef * value_loss - settings.entropy_coef * entropy.mean()

    def collect(self, params, env_params: ModelEnvParams, runner: Runner, key, settings: PPOSettings):
        """`steps` imagined steps of every environment: (runner, Rollout (steps, envs), finished episodes'
        (returns summed, count))."""
        config = self.config

        def step(carry, key):
            runner, finished = carry
            act_key, env_key = jax.random.split(key)
            action, logp, value = self.sample(params, runner.obs, act_key)
            obs, env_states, reward, done, info = self.env.step_batch(
                env_key, runner.env_states, self.env_action(action), env_params
            )
            episode_returns = runner.episode_returns + reward
            finished = (finished[0] + jnp.sum(jnp.where(done, episode_returns, 0.0)), finished[1] + done.sum())
            # The critic learns scaled returns; the episodes' returns are counted in the environment's units.
            bootstrap = settings.gamma * self._outputs(params, info["final_obs"])[1] * info["truncated"]
            rollout = Rollout(runner.obs, action, logp, value, settings.reward_scale * reward + bootstrap, done)
            return (Runner(env_states, obs, jnp.where(done, 0.0, episode_returns)), finished), rollout

        start = (runner, (jnp.float32(0.0), jnp.int32(0)))
        (runner, finished), rollout = jax.lax.scan(step, start, jax.random.split(key, config.steps))
        return runner, rollout, finished

    def advantages(self, rollout: Rollout, last_value, settings: PPOSettings):
        """GAE(gamma, lambda) advantages and the value targets, (steps, envs) each."""
        gamma, gae_lambda = settings.gamma, settings.gae_lambda

        def backwards(carry, row):
            advantage, next_value = carry
            value, reward, done = row
            delta = reward + gamma * next_value * (1 - done) - value
            advantage = delta + gamma * gae_lambda * (1 - done) * advantage
            return (advantage, value), advantage

        rows = (rollout.value, rollout.reward, rollout.done.astype(jnp.float32))
        _, advantages = jax.lax.scan(backwards, (jnp.zeros_like(last_value), last_value), rows, reverse=True)
        return advantages, advantages + rollout.value

    def learn(self, state: PPOState, rollout: Rollout, advantages, targets, key) -> tuple[PPOState, jax.Array]:
        """`epochs` shuffled passes of `minibatches` Adam steps: (state, the mean loss)."""
        config, optimizer = self.config, self.optimizer
        rows = config.envs * config.steps
        data = jax.tree.map(lambda x: x.reshape(rows, *x.shape[2:]), (rollout, advantages, targets))

        def epoch(state, key):
            order = jax.random.permutation(key, rows)
            batches = jax.tree.map(lambda x: x[order].reshape(config.minibatches, -1, *x.shape[1:]), data)

            def minibatch(state, batch):
                loss, grads = jax.value_and_grad(self.loss)(state.params, *batch, state.settings)
                updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
                return PPOState(optax.apply_updates(state.params, updates), opt_state, state.settings), loss

            return jax.lax.scan(minibatch, state, batches)

        state, losses = jax.lax.scan(epoch, state, jax.random.split(key, config.epochs))
        return state, losses.mean()

    def train(self, state: PPOState, env_params: ModelEnvParams, runner: Runner, key):
        """`updates` PPO updates in the model: (state, runner, metrics per update: the summed returns of the
        imagined episodes that ended, their count, the mean loss)."""

        def update(carry, key):
            state, runner = carry
            collect_key, learn_key = jax.random.split(key)
            runner, rollout, (returns, count) = self.collect(
                state.params, env_params, runner, collect_key, state.settings
            )
            last_value = self._outputs(state.params, runner.obs)[1]
            advantages, targets = self.advantages(rollout, last_value, state.settings)
            state, loss = self.learn(state, rollout, advantages, targets, learn_key)
            return (state, runner), {"returns": returns, "episodes": count, "loss": loss}

        (state, runner), metrics = jax.lax.scan(update, (state, runner), jax.random.split(key, self.config.updates))
        return state, runner, metrics


def _programs(ppo: PPO):
    """The jitted (train, reset, sample, greedy) of `ppo`, shared by every agent of the same structure."""
    return _compiled(ppo.structure())


@functools.lru_cache(maxsize=8)
def _compiled(ppo: PPO):
    return jax.jit(ppo.train), jax.jit(ppo.reset), jax.jit(ppo.sample), jax.jit(ppo.greedy)


def greedy_program(ppo: PPO):
    """The jitted `ppo.greedy` (the most likely action, or the Gaussian's mean clipped to the Box)."""
    return _programs(ppo)[3]


class DreamPPO:
    """PPO as the dream loop's learner (`planning.dream.run_dream` with `--controller ppo`): each dream is one
    call of the compiled `PPO.train` in the functional model environment, from a fixed number of real
    initial states, continuing the policy the last dream left; it collects data with the stochastic
    policy and is evaluated with the greedy one."""

    def __init__(
        self, env_id: str, config: DreamConfig, ppo_config: PPOConfig, seed: int, learned: bool, cap: int, mesh
    ):
        from ..envs import env_spec

        spec = env_spec(env_id)
        env = FunctionalModelEnv(
            mode=config.mode,
            reward="learned" if learned else "known",
            disagreement_penalty=config.disagreement_penalty,
            max_episode_steps=cap,
            env_id=env_id,
        )
        space = spec.action_space
        box = (None, None) if spec.discrete else (tuple(space.low), tuple(space.high))
        self.agent = PPO(spec.state_dim, space.n if spec.discrete else space.shape[0], *box, env, ppo_config)
        self.programs = _programs(self.agent)
        self.seed, self.ppo_config = seed, ppo_config
        self.key, init_key = jax.random.split(jax.random.key(seed + 7))
        # The model may live on a mesh of devices (--devices): the policy is replicated on it, before the first
        # phase as after each, so every phase calls the same compiled program.
        replicated = None if mesh is None else jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
        self.place = (lambda tree: tree) if replicated is None else (lambda tree: jax.device_put(tree, replicated))  # noqa: E731
        self.state = self.place(self.agent.init(init_key))

    def improve(self, model, initial_states, iteration):
        train, reset, _, _ = self.programs
        # A fixed number of start states (drawn from every real episode's first state so far), so the
        # compiled program's shapes never change as the data grows.
        rng = np.random.default_rng([self.seed, iteration])
        starts = initial_states[rng.choice(len(initial_states), self.agent.config.envs)]
        env_params = ModelEnvParams(model, jnp.asarray(starts))
        self.key, reset_key, train_key, self.play_key = jax.random.split(self.key, 4)
        tick = time.perf_counter()
        state, runner, metrics = train(self.state, env_params, reset(env_params, reset_key), train_key)
        metrics = jax.device_get(metrics)
        self.state = self.place(state)
        config = self.ppo_config
        return {
            "dream_return": _dream_return(metrics, runner),
            "ppo_loss": float(np.asarray(metrics["loss"])[-1]),  # the phase's last update, its mean minibatch loss
            "ppo_seconds": time.perf_counter() - tick,  # the first phase includes compiling the program
            "imagined_steps": config.updates * config.envs * config.steps,
        }

    def explorer(self):
        sample, params = self.programs[2], self.state.params
        keys = iter(jax.random.split(self.play_key, 100_000))
        return lambda obs: self.agent.env_action(sample(params, obs, next(keys))[0])

    def greedy(self):
        greedy, params = self.programs[3], self.state.params
        return lambda obs: greedy(params, obs)

    def policy(self):
        """(agent, its actor-critic's parameters) for `policies.export.save_policy`."""
        return self.agent, self.state.params

    def saved(self):
        """(pytree, JSON-able record) for a checkpoint: the policy's training state and the key."""
        return (self.state, self.key), {}

    def restore(self, tree, record: dict) -> None:
        state, self.key = tree
        self.state = self.place(state)

    def summary(self):
        # How many programs PPO's training compiled to over the run: 1, however often the model was retrained.
        return {
            "controller": "ppo",
            "ppo": dataclasses.asdict(self.ppo_config),
            "ppo_programs": self.programs[0]._cache_size(),
        }


def _dream_return(metrics: dict, runner: Runner, last: int = 5) -> float:
    """The mean return of the imagined episodes that ended in the phase's last `last` updates; where none
    ended (episodes longer than those updates' steps), the running episodes' returns so far (a lower bound)."""
    returns, episodes = (np.asarray(metrics[name])[-last:].sum() for name in ("returns", "episodes"))
    return float(returns / episodes) if episodes else float(np.mean(np.asarray(runner.episode_returns)))
