"""`wm-jax mbrl` end to end on a tiny budget: the files it promises, and bad input as one-line errors."""

import json

import pytest

from wm_jax.cli import main

TINY = [
    "--max-transitions",
    "260",
    "--initial-transitions",
    "200",
    "--eval-episodes",
    "2",
    "--planner.horizon",
    "5",
    "--planner.candidates",
    "16",
    "--planner.iterations",
    "2",
    "--epochs",
    "2",
    "--members",
    "2",
]


@pytest.mark.slow  # a whole mbrl run
def test_mbrl_writes_the_record_the_learning_curve_and_a_gif(tmp_path, monkeypatch):
    from wm_jax import report

    drawn, save_gif = [], report.save_gif
    monkeypatch.setattr(report, "save_gif", lambda frames, path: drawn.append(frames) or save_gif(frames, path))
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
    # The GIF is the first scored episode (CartPole pays 1 a step; Pillow merges repeated frames).
    assert len(drawn) == 1 and len(drawn[0]) == record["eval_returns"][0], (len(drawn[0]), record["eval_returns"])


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


@pytest.mark.slow  # a whole mbrl run
def test_ctrl_c_in_the_final_evaluation_says_what_was_kept(tmp_path, capsys, monkeypatch):
    """Ctrl-C after the last iteration, while the final model is evaluated, names the checkpoint to resume from."""
    import wm_jax.planning.mbrl as mbrl

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(mbrl, "_evaluate_final", interrupted)
    out = tmp_path / "run"
    assert main(["mbrl", "--env", "CartPole-v1", "--out", str(out), "--checkpoint-every", "1", *TINY]) == 130
    err = capsys.readouterr().err.strip()
    assert (
        err.startswith("interrupted: stopped in the final evaluation; a checkpoint after iteration ")
        and "--resume" in err
    ), err
    assert "\n" not in err and not (out / "mbrl.json").exists()
