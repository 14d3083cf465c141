"""Environments the project does not register, end to end (collect, train, evaluate, predict, sweep,
mbrl, dream, sac and mbpo): defined here, made by gymnasium (by a registered id, or in the "module:EnvId-v0" form that
imports this file), and carried by the spaces that data files and models record."""

import json
import subprocess
import sys

import gymnasium
import numpy as np
import pytest

from wm_jax.cli import main

pytestmark = pytest.mark.slow  # whole commands


class Drift(gymnasium.Env):
    """A point in 3-D pushed by a 2-D action (s' = 0.9 s + B a), rewarded for staying near the origin;
    it ends when it strays past 5 and is cut at 40 steps (its registration's limit, not the tutorial's 200)."""

    observation_space = gymnasium.spaces.Box(-np.inf, np.inf, (3,), np.float32)
    push = np.array([[0.5, 0.0], [0.0, 0.5], [-0.5, 0.5]], np.float32)

    def __init__(self, discrete: bool = False):
        # Discrete: four pushes, the corners of the Box action.
        self.action_space = gymnasium.spaces.Discrete(4) if discrete else gymnasium.spaces.Box(-1.0, 1.0, (2,))
        self.discrete = discrete

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.state = self.np_random.normal(size=3).astype(np.float32)
        return self.state, {}

    def step(self, action):
        if self.discrete:
            action = np.array([[-1, -1], [-1, 1], [1, -1], [1, 1]], np.float32)[int(action)]
        self.state = (0.9 * self.state + self.push @ np.asarray(action, np.float32)).astype(np.float32)
        return self.state, -float(self.state @ self.state), bool(np.abs(self.state).max() > 5), False, {}


class Pixels(Drift):
    observation_space = gymnasium.spaces.Dict({"image": gymnasium.spaces.Box(0, 255, (8, 8, 3), np.uint8)})


for env_id, kwargs, entry_point in (
    ("WmJaxDrift-v0", {}, Drift),
    ("WmJaxDriftDiscrete-v0", {"discrete": True}, Drift),
    ("WmJaxPixels-v0", {}, Pixels),
):
    if env_id not in gymnasium.registry:
        gymnasium.register(env_id, entry_point=entry_point, max_episode_steps=40, kwargs=kwargs)

# The form that makes gymnasium import this module first (which registers the ids above).
BY_MODULE = f"{__name__}:WmJaxDrift-v0"


def run(*argv) -> int:
    return main([str(a) for a in argv])


def test_collect_train_evaluate_predict_on_an_environment_defined_here(tmp_path, capsys):
    data, model = tmp_path / "drift.npz", tmp_path / "model"
    assert run("collect", "--env", BY_MODULE, "--transitions", 400, "--out", data) == 0
    with np.load(data) as archive:
        meta = json.loads(str(archive["metadata"]))
        episode = archive["episode"]
    assert meta["env_id"] == BY_MODULE and meta["collection"]["max_episode_steps"] == 40
    assert meta["observation_space"]["shape"] == [3] and meta["action_space"]["type"] == "Box"
    assert np.bincount(episode).max() <= 40 and np.bincount(episode)[0] == 40  # the env's own limit
    flags = ["--epochs", 3, "--horizon", 4, "--model", "ensemble", "--members", 2, "--probabilistic"]
    assert run("train", "--data", data, "--out", model, *flags) == 0
    recorded = json.loads((model / "model.json").read_text())
    assert recorded["env_id"] == BY_MODULE and recorded["env"]["max_episode_steps"] == 40
    assert json.loads((model / "metrics.json").read_text())["held_out"]["uncertainty"]["nll"] is not None
    # A fresh process that never imports this module: the data and the model carry the spaces.
    scores = tmp_path / "scores.json"
    evaluate = subprocess.run(
        [sys.executable, "-m", "wm_jax", "evaluate", "--checkpoint", str(model), "--data", str(data), "--horizon", "4"]
        + ["--json", str(scores)],
        capture_output=True,
        text=True,
    )
    assert evaluate.returncode == 0, evaluate.stderr[-2000:]
    assert "tests.experiments" not in evaluate.stderr
    assert json.loads(scores.read_text())["env_id"] == BY_MODULE
    assert run("sweep", "--data", data, "--out", tmp_path / "sweep", "--epochs", 2, "--learning-rates", 1e-3, 1e-2) == 0
    assert json.loads((tmp_path / "sweep" / "sweep.json").read_text())["env_id"] == BY_MODULE
    assert run("predict", "--checkpoint", model, "--data", data, "--out", tmp_path / "p.npz", "--levels", 0.9) == 0
    with np.load(tmp_path / "p.npz") as predicted:
        assert predicted["mean"].shape == (2, 400, 3) and predicted["upper_0.9"].shape == (400, 3)

    # Data whose spaces differ from the model's: one line, exit 2.
    other = tmp_path / "discrete.npz"
    assert run("collect", "--env", "WmJaxDriftDiscrete-v0", "--transitions", 100, "--out", other) == 0
    capsys.readouterr()
    assert run("evaluate", "--checkpoint", model, "--data", other) == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and "collected from WmJaxDriftDiscrete-v0, but the model is for" in error, error


def test_mbrl_plans_with_the_learned_reward_where_none_is_known(tmp_path, capsys):
    env = ["--env", "WmJaxDriftDiscrete-v0"]
    tiny = ["--max-transitions", 130, "--initial-transitions", 100, "--epochs", 2, "--members", 2]
    tiny += ["--planner.horizon", 3, "--planner.candidates", 10, "--planner.iterations", 1, "--eval-episodes", 1]
    assert run("mbrl", *env, "--out", tmp_path / "mbrl", *tiny) == 0
    record = json.loads((tmp_path / "mbrl" / "mbrl.json").read_text())
    assert record["env_id"] == "WmJaxDriftDiscrete-v0" and record["config"]["planner"]["reward"] == "learned"
    assert record["real_transitions_used"] == 130 and np.isfinite(record["eval_return_mean"])
    capsys.readouterr()
    assert run("mbrl", *env, "--out", tmp_path / "known", "--planner.reward", "known", *tiny) == 2
    error = capsys.readouterr().err.strip()
    assert error == "error: no known reward and termination for WmJaxDriftDiscrete-v0: plan with the learned reward"


def test_dream_scores_with_the_learned_reward_where_none_is_known(tmp_path, capsys):
    tiny = ["--max-transitions", 120, "--initial-transitions", 100, "--episodes-per-iteration", 1, "--epochs", 2]
    tiny += ["--members", 2, "--generations", 2, "--population", 6, "--dream-starts", 2, "--eval-episodes", 1]
    assert run("dream", "--env", "WmJaxDrift-v0", "--out", tmp_path / "dream", *tiny) == 0
    record = json.loads((tmp_path / "dream" / "dream.json").read_text())
    assert record["env_id"] == "WmJaxDrift-v0" and record["reward"] == "learned"
    assert np.isfinite(record["dream_return_mean"]) and np.isfinite(record["eval_return_mean"])
    assert len(record["controller"]) == 2 * (3 + 1)  # a linear controller: 2 outputs of 3 inputs and a bias


def test_sac_and_mbpo_learn_in_an_environment_defined_here(tmp_path):
    """SAC needs nothing but the spaces; MBPO rolls out with the model's learned reward and termination."""
    loop = ["--total-transitions", 50, "--initial-transitions", 20, "--eval-every", 50, "--eval-episodes", 1]
    assert run("sac", "--env", "WmJaxDrift-v0", "--out", tmp_path / "sac", *loop, "--hidden-sizes", 8) == 0
    sac = json.loads((tmp_path / "sac" / "sac.json").read_text())
    assert sac["env_id"] == "WmJaxDrift-v0" and np.isfinite(sac["eval_return_mean"])
    model = ["--epoch-length", 10, "--rollouts-per-step", 2, "--rollout-schedule", 0, 0, 3, 3, "--members", 2]
    model += ["--hidden-sizes", 8, "--epochs", 2, "--sac.hidden-sizes", 8, "--sac.batch-size", 8]
    assert run("mbpo", "--env", BY_MODULE, "--out", tmp_path / "mbpo", *loop, *model) == 0
    mbpo = json.loads((tmp_path / "mbpo" / "mbpo.json").read_text())
    assert mbpo["model"] == {**mbpo["model"], "reward": "learned", "model_rounds": 3}
    assert np.isfinite(mbpo["eval_return_mean"])


@pytest.mark.parametrize(
    "env_id, message",
    [
        ("WmJaxPixels-v0", "observation space Dict('image': Box(0, 255, (8, 8, 3), uint8)) is not supported"),
        ("NoSuchModule:Nothing-v0", "unsupported environment 'NoSuchModule:Nothing-v0'"),
    ],
)
def test_an_environment_wm_jax_cannot_model_gets_one_line(env_id, message, tmp_path, capsys):
    capsys.readouterr()
    assert run("collect", "--env", env_id, "--transitions", 10, "--out", tmp_path / "x.npz") == 2
    error = capsys.readouterr().err.strip()
    assert "\n" not in error and message in error, error
    assert not (tmp_path / "x.npz").exists()
