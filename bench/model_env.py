"""The learned model as an environment, timed against gymnasium's own CartPole loop in one run.

    python -m bench.model_env [--envs 4096] [--steps 100] [--repeats 5] [--gym-transitions 50000]

Functional rows: `wm_jax.models.environment.FunctionalModelEnv` over a 5-member CartPole ensemble (the
tutorial's 64 x 32 members, untrained: the cost does not depend on the weights), known reward, N
environments inside one compiled `lax.scan` of random actions, after compilation. Three ways:
`step_batch` under TS-1 and under TS-inf (each environment through its own member), and gymnax-style
`step` vmapped under TS-1 (every member for every environment). Gymnasium row: `gym.make("CartPole-v1")`
stepped with random actions in a Python loop, resetting ended episodes, 50,000 steps a repeat. The
repeats interleave the rows, and each row is the median of its repeats. Prints transitions per second
and each row's ratio to gymnasium's.
"""

from __future__ import annotations

import argparse
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np


def functional_program(envs: int, steps: int, mode: str = "ts1", batched: bool = True):
    """A compiled `run(key)`: `steps` random-action steps of `envs` environments (compiled on return)."""
    from wm_jax.config import ModelConfig
    from wm_jax.models import ensemble_of, init_ensemble_params, spec_for_env
    from wm_jax.models.environment import FunctionalModelEnv

    spec = spec_for_env("CartPole-v1", ModelConfig(kind="ensemble", members=5, delta=True))
    model = ensemble_of(spec, init_ensemble_params(spec, jax.random.key(0)))
    env = FunctionalModelEnv(mode=mode, reward="known", env_id="CartPole-v1", max_episode_steps=500)
    starts = np.random.default_rng(0).normal(scale=0.05, size=(1000, 4)).astype(np.float32)
    params = env.default_params(model, starts)

    if batched:
        reset = lambda key: env.reset_batch(key, params, envs)  # noqa: E731
        step = lambda key, state, actions: env.step_batch(key, state, actions, params)  # noqa: E731
    else:
        reset = lambda key: jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(key, envs), params)  # noqa: E731
        step = lambda key, state, actions: jax.vmap(env.step, in_axes=(0, 0, 0, None))(  # noqa: E731
            jax.random.split(key, envs), state, actions, params
        )

    @jax.jit
    def run(key):
        _, state = reset(key)

        def body(state, key):
            action_key, step_key = jax.random.split(key)
            actions = jax.random.bernoulli(action_key, 0.5, (envs,)).astype(jnp.int32)
            obs, state, reward, _, _ = step(step_key, state, actions)
            return state, reward.sum() + obs.sum()  # the states are used, so nothing is left out

        return jax.lax.scan(body, state, jax.random.split(key, steps))[1].sum()

    run(jax.random.key(0)).block_until_ready()  # compile
    return run


def gymnasium_loop():
    """`run(transitions)`: that many random CartPole steps in gymnasium's own loop, resetting ended episodes."""
    import gymnasium as gym

    env = gym.make("CartPole-v1")
    env.reset(seed=0)
    env.action_space.seed(0)

    def run(transitions: int) -> None:
        for _ in range(transitions):
            _, _, terminated, truncated, _ = env.step(env.action_space.sample())
            if terminated or truncated:
                env.reset()

    return run


def seconds(call) -> float:
    tick = time.perf_counter()
    call()
    return time.perf_counter() - tick


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", type=int, default=4096)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--gym-transitions", type=int, default=50_000, help="gymnasium steps per repeat")
    args = parser.parse_args(argv)
    programs = {
        "step_batch, TS-1": functional_program(args.envs, args.steps, "ts1"),
        "step_batch, TS-inf": functional_program(args.envs, args.steps, "tsinf"),
        "step vmapped, TS-1": functional_program(args.envs, args.steps, "ts1", batched=False),
    }
    gymnasium = gymnasium_loop()
    # The repeats interleave every row, so a change in the shared machine's load falls on all of them.
    times = {name: [] for name in [*programs, "gymnasium"]}
    for repeat in range(args.repeats):
        times["gymnasium"].append(seconds(lambda: gymnasium(args.gym_transitions)))
        for name, run in programs.items():
            times[name].append(seconds(lambda: run(jax.random.key(repeat + 1)).block_until_ready()))
    rows = {name: args.envs * args.steps / statistics.median(times[name]) for name in programs}
    real = args.gym_transitions / statistics.median(times["gymnasium"])
    print(f"functional model env, E=5, {args.envs} envs | transitions/s | x gymnasium")
    for name, rate in rows.items():
        print(f"{name} | {rate:,.0f} | {rate / real:.1f}x")
    print(f"gymnasium CartPole-v1 loop | {real:,.0f} | 1.0x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
