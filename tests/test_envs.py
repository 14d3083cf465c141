"""The environment specs: the registered ones against gymnasium, their recommended model-based-RL
settings against the runs the README quotes, the collection cap they set, and specs built from
gymnasium's own spaces for environments the project does not register."""

import dataclasses
import glob
import json
import os
import subprocess
import sys

import gymnasium
import numpy as np
import pytest

from wm_jax.envs import (
    ENVS,
    MBRL_RECIPE,
    Box,
    Discrete,
    EnvError,
    EnvSpec,
    env_spec,
    recommended_mbrl_config,
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The README row (and bench/results/agents/RUN-seed*/mbrl.json) each environment's recommended
# settings reproduce. MountainCarContinuous-v0 has no documented model-based-RL result.
DOCUMENTED_MBRL_RUNS = {
    "CartPole-v1": "mbrl-CartPole-v1",
    "Acrobot-v1": "mbrl-shaped-Acrobot-v1",
    "MountainCar-v0": "mbrl-shaped-MountainCar-v0",
    "Pendulum-v1": "mbrl-Pendulum-v1",
}
UNDOCUMENTED = {"MountainCarContinuous-v0"}


@pytest.mark.parametrize("env_id", sorted(ENVS))
def test_registered_spec_matches_gymnasium(env_id):
    spec, env = env_spec(env_id), gymnasium.make(env_id)
    np.testing.assert_allclose(spec.observation_space.low, env.observation_space.low, rtol=1e-6)
    np.testing.assert_allclose(spec.observation_space.high, env.observation_space.high, rtol=1e-6)
    if isinstance(spec.action_space, Discrete):
        assert spec.action_space.n == env.action_space.n
    else:
        np.testing.assert_allclose(spec.action_space.low, env.action_space.low)
        np.testing.assert_allclose(spec.action_space.high, env.action_space.high)
    assert len(spec.state_labels) == spec.state_dim
    assert spec.time_limit == env.spec.max_episode_steps, "agents are evaluated under gymnasium's own limit"
    assert spec.max_episode_steps == 200, "random data keeps the tutorial's 200-step cap"
    assert spec.reward_fn is not None and spec.termination_fn is not None and spec.gymnax is not None


def _bench_configs(run: str) -> list[tuple[str, dict, float]]:
    paths = sorted(glob.glob(os.path.join(ROOT, "bench", "results", "agents", f"{run}-seed*", "mbrl.json")))
    assert paths, f"no bench result for {run}"
    records = [json.load(open(path)) for path in paths]
    return [(path, record["config"], record["eval_return_mean"]) for path, record in zip(paths, records)]


def _differences(expected: dict, got: dict, prefix="") -> list[str]:
    """Every key of `expected` (a recorded config) whose value `got` does not share."""
    out = []
    for name, value in expected.items():
        if isinstance(value, dict):
            out += _differences(value, got[name], f"{name}.")
        elif got.get(name) != value:
            out.append(f"{prefix}{name}: recorded {value!r}, recommended {got.get(name)!r}")
    return out


@pytest.mark.parametrize("env_id", sorted(DOCUMENTED_MBRL_RUNS))
def test_recommended_mbrl_config_is_the_one_behind_the_readme_result(env_id):
    """The config each run recorded equals the environment's recommended one, and the README's row
    for that run quotes those runs' mean return."""
    run = DOCUMENTED_MBRL_RUNS[env_id]
    recommended = dataclasses.asdict(recommended_mbrl_config(env_id))
    runs = _bench_configs(run)
    for path, config, _ in runs:
        assert not _differences(config, recommended), (path, _differences(config, recommended))
    mean = f"{np.mean([eval_return for *_, eval_return in runs]):.1f}"
    with open(os.path.join(ROOT, "README.md")) as readme:
        rows = [line for line in readme if line.startswith(f"| {run} |")]
    assert len(rows) == 1 and f"| {mean} ±" in rows[0], (run, mean, rows)


def test_every_registered_env_has_documented_settings_or_the_shared_recipe():
    assert set(DOCUMENTED_MBRL_RUNS) | UNDOCUMENTED == set(ENVS), "a new environment needs its README row here"
    for env_id in UNDOCUMENTED:
        config = dataclasses.asdict(recommended_mbrl_config(env_id))
        assert not _differences(MBRL_RECIPE, config), _differences(MBRL_RECIPE, config)
    # The CartPole row is the one the global defaults missed: its plan must see 50 steps ahead.
    assert recommended_mbrl_config("CartPole-v1").planner.horizon == 50


def test_collection_caps_episodes_at_the_specs_cap(monkeypatch):
    """Neither backend has a cap of its own: shorten Pendulum's (whose episodes always run to the
    cap) and whole episodes shorten with it; the data records the cap used."""
    from wm_jax.data import collect_dataset
    from wm_jax.envs import registry
    from wm_jax.envs.gymnasium_collect import collect_gymnasium
    from wm_jax.envs.gymnax_collect import collect_gymnax

    monkeypatch.setitem(registry.ENVS, "Pendulum-v1", dataclasses.replace(ENVS["Pendulum-v1"], max_episode_steps=23))
    for backend in ("gymnasium", "jax"):
        dataset = collect_dataset("Pendulum-v1", backend=backend, seed=0, episodes=2)
        assert dataset.transitions.size == 46 and dataset.transitions.step.max() == 22, backend
        assert dataset.info.collection["max_episode_steps"] == 23, backend
    for collect in (collect_gymnasium, collect_gymnax):
        data, _ = collect("Pendulum-v1", seed=0, episodes=2)
        assert data.size == 46 and data.step.max() == 22, collect.__name__


def test_importing_the_environments_loads_neither_jax_nor_gymnasium():
    """Loading a data file or a model reads the specs; the reward functions import jax.numpy on first use."""
    code = ("import sys, wm_jax.envs as envs; assert envs.ENVS['CartPole-v1'].state_dim == 4; "
            "print(sorted(m for m in ('jax', 'gymnasium', 'gymnax') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", out


# --------------------------------------------------------------------------------------------------
# Environments the project does not register, described from gymnasium's own spaces


class PointMass(gymnasium.Env):
    """A tiny environment unknown to wm_jax: 3 observations, a 2-d Box (or 4-way Discrete) action."""

    def __init__(self, discrete=False, observation_space=None, action_space=None):
        self.observation_space = observation_space or gymnasium.spaces.Box(-5.0, 5.0, (3,), np.float32)
        default_action = gymnasium.spaces.Discrete(4) if discrete else gymnasium.spaces.Box(-1.0, 2.0, (2,))
        self.action_space = action_space or default_action

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        return self.observation_space.sample(), {}

    def step(self, action):
        return self.observation_space.sample(), 0.0, False, False, {}


@pytest.fixture
def registered():
    """Registers gymnasium ids for PointMass variants; removes them afterwards."""
    ids = []

    def register(env_id, **kwargs):
        limit = kwargs.pop("max_episode_steps", None)
        gymnasium.register(env_id, entry_point=PointMass, max_episode_steps=limit, kwargs=kwargs)
        ids.append(env_id)
        return env_id

    yield register
    for env_id in ids:
        gymnasium.registry.pop(env_id)


def test_spec_from_gymnasium_takes_spaces_labels_and_limit_from_the_env_with_no_known_reward(registered):
    spec = EnvSpec.from_gymnasium(registered("WmJaxPointMass-v0", max_episode_steps=37))
    assert spec.env_id == "WmJaxPointMass-v0" and "WmJaxPointMass-v0" not in ENVS
    assert spec.observation_space == Box((-5.0,) * 3, (5.0,) * 3)
    assert spec.action_space == Box((-1.0, -1.0), (2.0, 2.0)) and not spec.discrete
    assert spec.state_labels == ("s0", "s1", "s2")
    assert spec.max_episode_steps == spec.time_limit == 37
    assert spec.reward_fn is None and spec.termination_fn is None and spec.shaped_reward_fn is None
    assert spec.gymnax is None and spec.recommended_mbrl is None
    assert spec.encoded_action_dim("continuous") == 2
    assert spec.planning_objective("learned") is None
    with pytest.raises(EnvError, match="no known reward and termination for WmJaxPointMass-v0"):
        spec.planning_objective("known")
    assert recommended_mbrl_config(spec).planner.reward == "learned"

    discrete = EnvSpec.from_gymnasium(registered("WmJaxPointMassDiscrete-v0", discrete=True, max_episode_steps=5))
    assert discrete.action_space == Discrete(4) and discrete.default_action_encoding == "index"


def test_spec_from_gymnasium_refuses_what_a_flat_model_cannot_learn_in_one_line(registered):
    spaces = gymnasium.spaces
    refused = {
        "image observations": {"observation_space": spaces.Box(0, 255, (8, 8, 3), np.uint8)},
        "dict observations": {"observation_space": spaces.Dict({"x": spaces.Box(-1, 1, (2,))})},
        "multi-discrete actions": {"action_space": spaces.MultiDiscrete([2, 3])},
        "discrete actions from 1": {"action_space": spaces.Discrete(3, start=1)},
    }
    for number, (case, kwargs) in enumerate(refused.items()):
        env_id = registered(f"WmJaxRefused{number}-v0", max_episode_steps=10, **kwargs)
        with pytest.raises(EnvError, match="is not supported; wm-jax models") as error:
            EnvSpec.from_gymnasium(env_id)
        assert "\n" not in str(error.value), case
    with pytest.raises(EnvError, match="has no episode limit"):
        EnvSpec.from_gymnasium(registered("WmJaxNoLimit-v0"))
    assert EnvSpec.from_gymnasium("WmJaxNoLimit-v0", max_episode_steps=12).time_limit == 12
    with pytest.raises(EnvError, match="cannot make gymnasium environment 'NoSuchEnv-v0'"):
        EnvSpec.from_gymnasium("NoSuchEnv-v0")
