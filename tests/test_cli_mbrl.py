"""`wm-jax mbrl` end to end on a tiny budget: the files it promises, and bad input as one-line errors."""

import json

import pytest

from wm_jax.cli import main

TINY = ["--max-transitions", "260", "--initial-transitions", "200", "--eval-episodes", "2", "--planner.horizon", "5",
        "--planner.candidates", "16", "--planner.iterations", "2", "--epochs", "2", "--members", "2"]


@pytest.mark.slow  # a whole mbrl run
def test_mbrl_writes_the_record_the_learning_curve_and_a_gif(tmp_path):
    out = tmp_path / "run"
    assert main(["mbrl", "--env", "CartPole-v1", "--out", str(out), "--render", *TINY]) == 0
    record = json.loads((out / "mbrl.json").read_text())
    assert record["real_transitions_used"] <= 260 and record["iterations"]
    assert record["iterations"][-1]["real_transitions"] == record["real_transitions_used"]
    assert all({"real_transitions", "train_return"} <= set(i) for i in record["iterations"])
    assert len(record["eval_returns"]) == 2
    assert record["eval_return_mean"] == pytest.approx(sum(record["eval_returns"]) / 2)
    assert (out / "learning_curve.png").read_bytes()[:4] == b"\x89PNG"
    assert (out / "episode.gif").read_bytes()[:6] == b"GIF89a"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--env", "Nope-v0"], "supported"),
        (["--max-transitions", "1"], "max transitions must be in [2, "),
        (["--max-transitions", "100", "--initial-transitions", "100"], "initial transitions must be in [1, 100)"),
        (["--planner.horizon", "0"], "planner horizon must be >= 1"),
        (["--planner.candidates", "5"], "keeps no elite"),
        (["--out", "{tmp}/file"], "not a directory"),
    ],
)
def test_bad_mbrl_input_is_one_line_error(tmp_path, capsys, argv, message):
    (tmp_path / "file").write_text("x")
    argv = [a.format(tmp=tmp_path) for a in argv]
    assert main(["mbrl", "--out", str(tmp_path / "o"), *argv] if "--out" not in argv else ["mbrl", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err


@pytest.mark.slow  # a whole mbrl run
def test_mbrl_evaluation_can_run_as_one_gymnax_scan(tmp_path):
    out = tmp_path / "jax"
    assert main(["mbrl", "--env", "CartPole-v1", "--out", str(out), "--eval-backend", "jax", *TINY]) == 0
    record = json.loads((out / "mbrl.json").read_text())
    assert record["config"]["eval_backend"] == "jax" and len(record["eval_returns"]) == 2
    assert all(1 <= r <= 500 and r == int(r) for r in record["eval_returns"]), record["eval_returns"]


@pytest.mark.slow  # an mbrl run and 16 evaluation episodes
def test_gymnax_evaluation_scores_like_gymnasium_for_the_same_agent():
    """Both backends run the same agent on CartPole: their mean returns agree roughly (different
    initial states, same dynamics, rewards and cap)."""
    import jax
    import numpy as np

    from wm_jax.config import MBRLConfig, PlannerConfig
    from wm_jax.planning.mbrl import evaluate, evaluate_in_gymnax, run_mbrl
    from wm_jax.planning.mpc import MPCAgent

    config = MBRLConfig(max_transitions=400, initial_transitions=300, eval_episodes=1, epochs=10, members=3,
                        planner=PlannerConfig(horizon=10, candidates=32, iterations=2))
    result = run_mbrl("CartPole-v1", config, seed=0)
    agent = MPCAgent(result.model.spec, "CartPole-v1", config.planner)
    jax_returns = evaluate_in_gymnax("CartPole-v1", agent, result.model, 8, jax.random.key(0))
    gym_returns = evaluate("CartPole-v1", agent, result.model, list(range(8)), jax.random.key(0))
    assert abs(np.mean(jax_returns) - np.mean(gym_returns)) < 0.5 * max(np.mean(gym_returns), 20), (jax_returns, gym_returns)
