"""The learned model as an environment, timed against gymnasium's own CartPole loop in one run.

    python -m bench.model_env [--envs 4096] [--steps 100] [--repeats 5]

Functional row: `wm_jax.models.environment.FunctionalModelEnv` over a 5-member CartPole ensemble (the
tutorial's 64 x 32 members, untrained: the cost does not depend on the weights), TS-1, known reward,
N environments vmapped inside one compiled `lax.scan` of random actions, after compilation; median
of the repeats. Gymnasium row: `gym.make("CartPole-v1")` stepped with random actions in a Python
loop, resetting ended episodes. Prints transitions per second and their ratio.
"""

from __future__ import annotations

import argparse
import statistics
import time

import jax
import numpy as np


def functional_rate(envs: int, steps: int, repeats: int) -> float:
    from wm_jax.config import ModelConfig
    from wm_jax.models import ensemble_of, init_ensemble_params, spec_for_env
    from wm_jax.models.environment import FunctionalModelEnv

    spec = spec_for_env("CartPole-v1", ModelConfig(kind="ensemble", members=5, delta=True))
    model = ensemble_of(spec, init_ensemble_params(spec, jax.random.key(0)))
    env = FunctionalModelEnv(mode="ts1", reward="known", env_id="CartPole-v1", max_episode_steps=500)
    starts = np.random.default_rng(0).normal(scale=0.05, size=(1000, 4)).astype(np.float32)
    params = env.default_params(model, starts)

    @jax.jit
    def run(key):
        _, state = jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(key, envs), params)

        def body(state, key):
            action_key, step_key = jax.random.split(key)
            actions = jax.random.randint(action_key, (envs,), 0, 2)
            _, state, reward, _, _ = jax.vmap(env.step, in_axes=(0, 0, 0, None))(
                jax.random.split(step_key, envs), state, actions, params
            )
            return state, reward.sum()

        return jax.lax.scan(body, state, jax.random.split(key, steps))[1].sum()

    run(jax.random.key(0)).block_until_ready()  # compile
    times = []
    for repeat in range(repeats):
        tick = time.perf_counter()
        run(jax.random.key(repeat + 1)).block_until_ready()
        times.append(time.perf_counter() - tick)
    return envs * steps / statistics.median(times)


def gymnasium_rate(transitions: int) -> float:
    import gymnasium as gym

    env = gym.make("CartPole-v1")
    env.reset(seed=0)
    env.action_space.seed(0)
    tick = time.perf_counter()
    for _ in range(transitions):
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            env.reset()
    return transitions / (time.perf_counter() - tick)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", type=int, default=4096)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    model = functional_rate(args.envs, args.steps, args.repeats)
    real = gymnasium_rate(100_000)
    print(f"functional model env (E=5, {args.envs} envs, TS-1): {model:,.0f} transitions/s")
    print(f"gymnasium CartPole-v1 loop: {real:,.0f} transitions/s")
    print(f"ratio: {model / real:.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
