"""The environment specs: their recommended model-based-RL settings against the runs the results page quotes,
the collection cap they set, specs built from gymnasium's own spaces for environments the project does
not register, and the known rewards and shaped objectives against gymnasium."""

import dataclasses
import glob
import json
import os

import gymnasium
import jax.numpy as jnp
import numpy as np
import pytest

from wm_jax.envs import ENVS, MBRL_RECIPE, Box, Discrete, EnvError, EnvSpec, env_spec, recommended_mbrl_config

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repository

# The row of docs/results.md (and bench/results/agents/RUN-seed*/mbrl.json) each environment's
# recommended settings reproduce. MountainCarContinuous-v0 has no documented model-based-RL result.
DOCUMENTED_MBRL_RUNS = {
    "CartPole-v1": "mbrl-CartPole-v1",
    "Acrobot-v1": "mbrl-shaped-Acrobot-v1",
    "MountainCar-v0": "mbrl-shaped-MountainCar-v0",
    "Pendulum-v1": "mbrl-Pendulum-v1",
}
UNDOCUMENTED = {"MountainCarContinuous-v0"}


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
def test_recommended_mbrl_config_is_the_one_behind_the_documented_result(env_id):
    """The config each run recorded equals the environment's recommended one, and the results page's
    row for that run quotes those runs' mean return."""
    run = DOCUMENTED_MBRL_RUNS[env_id]
    recommended = dataclasses.asdict(recommended_mbrl_config(env_id))
    runs = _bench_configs(run)
    for path, config, _ in runs:
        assert not _differences(config, recommended), (path, _differences(config, recommended))
    mean = f"{np.mean([eval_return for *_, eval_return in runs]):.1f}"
    with open(os.path.join(ROOT, "docs", "results.md")) as page:
        rows = [line for line in page if line.startswith(f"| {run} |")]
    assert len(rows) == 1 and f"| {mean} ±" in rows[0], (run, mean, rows)


def test_every_registered_env_has_documented_settings_or_the_shared_recipe():
    assert set(DOCUMENTED_MBRL_RUNS) | UNDOCUMENTED == set(ENVS), "a new environment needs its results-page row here"
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


# ------------------------------------------------------------------ environments the project does not register,
# described from gymnasium's own spaces


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
    with pytest.raises(EnvError, match="gymnasium cannot make 'NoSuchEnv-v0'"):
        EnvSpec.from_gymnasium("NoSuchEnv-v0")


# ------------------------------------------------------------------ known rewards and shaped objectives


# The known reward and termination functions agree with gymnasium on real transitions.
@pytest.mark.parametrize(
    "env_id", ["CartPole-v1", "Acrobot-v1", "MountainCar-v0", "MountainCarContinuous-v0", "Pendulum-v1"]
)
def test_known_rewards_match_gymnasium(env_id):
    env = gymnasium.make(env_id)
    reward_fn = env_spec(env_id).planning_objective("known")
    rng = np.random.default_rng(0)
    for episode in range(3):
        state, _ = env.reset(seed=episode)
        for _ in range(300):
            if env_id == "MountainCarContinuous-v0" and rng.random() < 0.5:
                action = np.array([1.0], np.float32)  # push hard sometimes so the goal is reached
            else:
                action = env.action_space.sample()
            if env_id.startswith("MountainCar") and episode == 2:
                state = np.array([0.49, 0.05], np.float32)  # start next to the goal
                env.unwrapped.state = state.astype(np.float64)
            next_state, reward, terminated, truncated, _ = env.step(action)
            r, t = reward_fn(jnp.asarray(state), jnp.asarray(action), jnp.asarray(next_state))
            assert float(r) == pytest.approx(reward, rel=1e-5, abs=1e-5), (env_id, state, action)
            assert bool(t) == terminated, (env_id, next_state)
            if terminated or truncated:
                break
            state = next_state


@pytest.mark.parametrize("env_id", ["Acrobot-v1", "MountainCar-v0"])
def test_shaped_objectives_rise_toward_the_goal_stay_nonpositive_and_end_at_the_real_termination(env_id):
    """On real gymnasium transitions: the same termination as the known function, every value <= 0
    (so ending the episode is never avoided), 0 once terminated, and a higher value for the action
    that moves toward the goal (the tip up for Acrobot; the push along the velocity for MountainCar,
    which adds mechanical energy)."""
    shaped, known = env_spec(env_id).planning_objective("shaped"), env_spec(env_id).planning_objective("known")
    env = gymnasium.make(env_id)
    rng = np.random.default_rng(1)
    better = 0
    trials = 200
    for trial in range(trials):
        state, _ = env.reset(seed=trial)
        for _ in range(rng.integers(0, 60)):
            state, *_ = env.step(env.action_space.sample())
        saved = np.array(env.unwrapped.state, np.float64)
        values = []
        for action in (0, 2):
            env.unwrapped.state = saved.copy()
            next_state, _, terminated, _, _ = env.step(action)
            value, done = shaped(jnp.asarray(state), jnp.asarray(action), jnp.asarray(next_state))
            assert (
                bool(done)
                == bool(known(jnp.asarray(state), jnp.asarray(action), jnp.asarray(next_state))[1])
                == terminated
            )
            assert float(value) <= 0.0 and (not terminated or float(value) == 0.0)
            values.append(float(value))
        if env_id == "MountainCar-v0":
            toward = 2 if saved[1] > 0 else 0  # push along the velocity
            better += values[toward // 2] > values[1 - toward // 2]
        else:
            # Torque 0 vs 2 on the joint: whichever raises the tip more must score higher.
            heights = []
            for action in (0, 2):
                env.unwrapped.state = saved.copy()
                s, *_ = env.step(action)
                heights.append(-s[0] - (s[0] * s[2] - s[1] * s[3]))
            better += (values[0] > values[1]) == (heights[0] > heights[1])
    assert better >= 0.95 * trials, better
    with pytest.raises(Exception, match="no shaped objective for CartPole-v1"):
        env_spec("CartPole-v1").planning_objective("shaped")
