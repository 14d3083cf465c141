"""The run log (`--log-dir`, `--wandb`): what is written is read back, TensorBoard and wandb get the same tags,
steps and values, a directory that cannot be written is refused, and wandb is the optional extra it says it is:
imported only by runs given --wandb, asked for in one line where missing, writing only in the run's directory."""

import json
import math
import os
import sys

import numpy as np
import pytest

from tests.helpers import read_wandb_run, run_script
from wm_jax.cli import main
from wm_jax.errors import UserError
from wm_jax.tracking import RunLog, read_scalars


def _log_the_same_things(log) -> None:
    log.scalar("train/loss", 0.5, 1)
    log.scalar("train/loss", 0.25, 2)
    log.members("train/loss", [1.0, 2.0], 2)
    log.scalars("held_out", {"mse": 0.125, "coverage": {"50%": 0.5}, "label": "x", "best": True}, 3)
    log.scalar("skipped", math.nan, 1)  # TensorBoard cannot plot a NaN: left out
    log.scalar("held_out/rollout_mse", 0.1, 2)  # a smaller step after a larger one; not a float32
    log.scalar("held_out/rollout_mse", 0.3, 1)


def test_scalars_are_read_back_with_their_steps_and_nested_names(tmp_path):
    with RunLog(str(tmp_path)) as log:
        _log_the_same_things(log)
    scalars = read_scalars(str(tmp_path))
    assert scalars["train/loss"] == [(1, 0.5), (2, 0.25)]
    assert scalars["train/loss/member_1"] == [(2, 2.0)]
    assert scalars["held_out/mse"] == [(3, 0.125)] and scalars["held_out/coverage/50_"] == [(3, 0.5)]
    assert "held_out/label" not in scalars and "held_out/best" not in scalars and "skipped" not in scalars


def test_wandb_gets_the_same_tags_steps_and_values_as_tensorboard(tmp_path):
    logs, run = tmp_path / "logs", tmp_path / "run"
    with RunLog(str(logs), wandb_dir=str(run), job_type="unit", config={"epochs": 2, "sizes": [8, 8]}) as log:
        _log_the_same_things(log)
    board, logged = read_scalars(str(logs)), read_wandb_run(run)
    assert logged.scalars["train/loss"] == [(1, 0.5), (2, 0.25)]
    assert logged.scalars["held_out/coverage/50_"] == [(3, 0.5)]  # the tag TensorBoard stores
    assert logged.scalars["held_out/rollout_mse"] == [(2, 0.1), (1, 0.3)]  # float64, as logged, in order
    assert set(logged.scalars) == set(board)
    for tag, points in board.items():
        assert [step for step, _ in logged.scalars[tag]] == [step for step, _ in points], tag
        # TensorBoard keeps float32: wandb's value rounded to float32 is TensorBoard's, bit for bit.
        assert [float(np.float32(value)) for _, value in logged.scalars[tag]] == [value for _, value in points], tag
    assert logged.job_type == "unit" and logged.config == {"epochs": 2, "sizes": [8, 8]} and logged.exit_code == 0
    assert sorted(os.listdir(run)) == ["wandb"]  # the run's files, wandb-core's log included, and nothing else


def test_a_run_that_fails_is_marked_failed_in_wandb(tmp_path):
    """The agents close their log in a `finally:`; an exception on its way out marks the wandb run failed."""
    log = RunLog(wandb_dir=str(tmp_path))
    with pytest.raises(RuntimeError):
        try:
            log.scalar("eval/return_mean", 1.0, 10)
            raise RuntimeError("the environment broke")
        finally:
            log.close()
    run = read_wandb_run(tmp_path)
    assert run.exit_code == 1 and run.scalars == {"eval/return_mean": [(10, 1.0)]}


def test_no_log_dir_writes_nothing(tmp_path):
    with RunLog(None) as log:
        log.scalar("a", 1.0, 1)
    assert list(tmp_path.iterdir()) == []


def test_a_log_dir_that_cannot_be_written_is_one_line():
    with pytest.raises(UserError, match=r"--log-dir /proc/wm-jax-logs: cannot be written"):
        RunLog("/proc/wm-jax-logs")


def test_wandb_without_its_extra_is_one_line_before_any_work(tmp_path, monkeypatch, capsys):
    """Where wandb is not installed (None in sys.modules: `import wandb` fails), --wandb says what to install,
    before the data is even read (the file named does not exist) and before anything is written."""
    monkeypatch.setitem(sys.modules, "wandb", None)
    out = tmp_path / "run"
    capsys.readouterr()
    assert main(["train", "--data", str(tmp_path / "missing.npz"), "--out", str(out), "--wandb"]) == 2
    assert capsys.readouterr().err == "error: --wandb needs wandb, an optional extra: pip install 'wm-jax[wandb]'\n"
    assert not out.exists()


@pytest.mark.slow  # two short trainings
def test_train_logs_to_wandb_what_metrics_json_records(dataset, tmp_path, capsys):
    """`wm-jax train --wandb`, in-process: the offline run holds metrics.json's numbers exactly (float64), at
    the same steps as the TensorBoard log, with the run's settings as its config."""
    out, logs = tmp_path / "run", tmp_path / "logs"
    argv = ["train", "--data", dataset, "--out", str(out), "--epochs", "3", "--horizon", "4", "--devices", "1"]
    argv += ["--model", "ensemble", "--members", "2", "--log-dir", str(logs), "--wandb"]
    capsys.readouterr()
    assert main(argv) == 0
    assert "wandb: logging offline to " + str(out / "wandb" / "offline-run-") in capsys.readouterr().err
    metrics = json.loads((out / "metrics.json").read_text())
    run = read_wandb_run(out)

    def values(tag):
        return [value for _, value in run.scalars[tag]]

    assert values("train/loss") == metrics["loss_curve"]
    for member, curve in enumerate(metrics["member_loss_curves"]):
        assert values(f"train/loss/member_{member}") == curve
    held_out = metrics["held_out"]
    assert run.scalars["held_out/one_step_mse"] == [(3, held_out["one_step_mse"])]
    assert run.scalars["held_out/rollout_mse"] == list(zip(held_out["rollout"]["horizons"], held_out["rollout"]["mse"]))
    board = read_scalars(str(logs))
    assert {tag: [step for step, _ in points] for tag, points in run.scalars.items()} == {
        tag: [step for step, _ in points] for tag, points in board.items()
    }
    assert run.job_type == "train" and run.exit_code == 0
    assert run.config["training"]["epochs"] == 3 and run.config["model"]["members"] == 2


NO_WANDB_THEN_WANDB = """
import os, sys
from wm_jax.cli import main
data, work = sys.argv[1:]
assert main(["train", "--data", data, "--out", work + "/plain", "--epochs", "2", "--horizon", "2",
             "--log-dir", work + "/plain/logs"]) == 0
assert "wandb" not in sys.modules, "a run without --wandb imported wandb"
assert main(["train", "--data", data, "--out", work + "/logged", "--epochs", "2", "--horizon", "2", "--wandb"]) == 0
assert "wandb" in sys.modules
"""


@pytest.mark.slow  # a process of its own: JAX, two short trainings, and wandb's service started afresh
def test_only_wandb_runs_import_it_and_they_write_only_in_their_directory(dataset, tmp_path):
    """In a fresh process (as `wm-jax` runs): a run without --wandb leaves wandb unimported; a run with it
    writes nothing outside its --out, neither in the home directory (wandb-core's log would go to
    ~/.cache/wandb), nor the working directory, nor the temporary directory."""
    home, cwd, temporary, work = (tmp_path / name for name in ("home", "cwd", "tmp", "work"))
    for folder in (home, cwd, temporary, work):
        folder.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WANDB_", "XDG_"))}
    env.update(HOME=str(home), TMPDIR=str(temporary))
    done = run_script(f"import os; os.chdir({str(cwd)!r})\n" + NO_WANDB_THEN_WANDB, dataset, str(work), env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert [path for folder in (home, cwd, temporary) for path in folder.rglob("*")] == []
    assert "wandb" in os.listdir(work / "logged") and "wandb" not in os.listdir(work / "plain")
    assert read_wandb_run(work / "logged").exit_code == 0


def test_a_wandb_mode_wandb_refuses_is_one_line(tmp_path, monkeypatch):
    """WANDB_MODE decides where it is set; one wandb does not know is a one-line error, not pydantic's report."""
    monkeypatch.setenv("WANDB_MODE", "bogus")
    with pytest.raises(UserError, match=r"^--wandb: .*mode .*'offline'[^\n]*$"):
        RunLog(wandb_dir=str(tmp_path))
