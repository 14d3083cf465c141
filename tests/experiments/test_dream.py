"""`wm-jax dream` end to end on a tiny budget, and bad input as one-line errors."""

import json
import os
import subprocess
import sys

import pytest

from wm_jax.cli import main


@pytest.mark.slow  # a whole dream run
def test_dream_command_writes_its_record(tmp_path):
    out = tmp_path / "dream"
    assert (
        main(
            [
                "dream",
                "--env",
                "CartPole-v1",
                "--out",
                str(out),
                "--max-transitions",
                "300",
                "--initial-transitions",
                "200",
                "--generations",
                "2",
                "--population",
                "8",
                "--dream-starts",
                "2",
                "--epochs",
                "2",
                "--members",
                "2",
                "--eval-episodes",
                "2",
                "--episodes-per-iteration",
                "1",
            ]
        )
        == 0
    )
    record = json.loads((out / "dream.json").read_text())
    assert {"dream_return_mean", "eval_returns", "eval_return_mean"} <= set(record)
    assert len(record["eval_returns"]) == 2 and record["real_transitions_used"] <= 300
    assert (out / "learning_curve.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow  # a whole dream run
def test_dream_with_ppo_compiles_its_training_once_across_phases(tmp_path):
    """Three dream phases (each after a retraining, with more real start states each time), one program;
    with --devices 2 the model lives on two devices and the policy follows it there."""
    tiny = ["--max-transitions", "400", "--initial-transitions", "300", "--episodes-per-iteration", "1"]
    tiny += ["--epochs", "2", "--members", "2", "--eval-episodes", "1"]
    ppo = ["--controller", "ppo", "--ppo.updates", "2", "--ppo.envs", "8", "--ppo.steps", "4"]
    # A process of its own, with two CPU devices (a test worker's JAX has started with its own count).
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JAX_", "XLA_FLAGS"))}
    command = [sys.executable, "-m", "wm_jax", "dream", "--out", str(tmp_path / "run"), "--devices", "2", *tiny, *ppo]
    result = subprocess.run(
        command, env={**env, "JAX_NUM_CPU_DEVICES": "2"}, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-2000:]
    record = json.loads((tmp_path / "run" / "dream.json").read_text())
    assert len(record["iterations"]) >= 3 and record["ppo_programs"] == 1
    assert record["controller"] == "ppo" and all(row["imagined_steps"] == 2 * 8 * 4 for row in record["iterations"])
    assert (tmp_path / "run" / "learning_curve.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--mode", "ts1"], "mean or tsinf"),
        (["--generations", "0"], "generations"),
        (["--disagreement-penalty", "-1"], "penalty"),
    ],
)
def test_bad_dream_input_is_one_line_error(tmp_path, capsys, argv, message):
    assert main(["dream", "--out", str(tmp_path / "o"), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err
