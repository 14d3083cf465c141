"""Never lose work, end to end: --resume after SIGKILL and Ctrl-C, for train and mbrl, and the runs it refuses.

The bit-identical claims hold on one device (the tests pin --devices 1 where a CLI runs); on several
devices or a GPU, a resumed run equals an uninterrupted run on the same devices to the same
tolerance as any two runs there (tests/training/test_sharding.py)."""

import json
import os
import signal
import subprocess
import sys
import time

import jax.numpy as jnp
import numpy as np
import pytest

from wm_jax.training import RunCheckpoints

WM_JAX = [sys.executable, "-m", "wm_jax"]


def train_command(data, out, *extra):
    return [
        *WM_JAX,
        "train",
        "--data",
        str(data),
        "--out",
        str(out),
        "--model",
        "ensemble",
        "--members",
        "2",
        "--devices",
        "1",
        "--seed",
        "3",
        *extra,
    ]


def params(directory):
    with np.load(os.path.join(directory, "params.npz")) as archive:
        return {name: archive[name] for name in archive.files}


def in_process(command, capsys):
    """(exit code, stderr) of a `WM_JAX` command run in this process (`wm_jax.cli.main`): the same run as a
    process of its own, without a JAX import and compilations of its own. Only a run that must be killed
    needs a process."""
    from wm_jax.cli import main

    assert command[: len(WM_JAX)] == WM_JAX
    capsys.readouterr()
    try:
        code = main([str(arg) for arg in command[len(WM_JAX) :]])
    except SystemExit as error:
        code = error.code
    return code, capsys.readouterr().err


@pytest.fixture(scope="module")
def cli_data(tmp_path_factory):
    from wm_jax.cli import main

    path = tmp_path_factory.mktemp("resume") / "cartpole.npz"
    assert main(["collect", "--out", str(path), "--transitions", "600"]) == 0
    return path


@pytest.mark.slow  # SIGKILL needs a real process
def test_sigkilled_training_resumes_to_the_uninterrupted_result(cli_data, tmp_path, capsys):
    epochs = ["--epochs", "600", "--checkpoint-every", "100"]
    code, err = in_process(train_command(cli_data, tmp_path / "whole", *epochs[:2]), capsys)
    assert code == 0, err[-2000:]
    out = tmp_path / "killed"
    process = subprocess.Popen(train_command(cli_data, out, *epochs), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    checkpoints, deadline = out / "checkpoints", time.time() + 300
    while process.poll() is None and time.time() < deadline:
        if checkpoints.is_dir() and any(name.isdigit() for name in os.listdir(checkpoints)):
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.01)
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    assert not (out / "params.npz").exists() and not (out / "metrics.json").exists()
    code, err = in_process([*WM_JAX, "train", "--resume", str(out)], capsys)
    assert code == 0, err[-2000:]
    after = int(err.split("after epoch ")[1].split()[0])
    assert 100 <= after < 600, err
    a, b = params(tmp_path / "whole"), params(out)
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a), "not bit-identical"
    curves = [json.load(open(d / "metrics.json"))["loss_curve"] for d in (tmp_path / "whole", out)]
    assert curves[0] == curves[1]


@pytest.mark.slow  # trains a checkpointed run first
def test_resume_refuses_what_it_cannot_continue(cli_data, tmp_path, capsys):
    # Refusals are exit codes and stderr lines, nothing a process adds: the commands run in this
    # process (`in_process`). A traceback would be an exception raised here, so it still fails the test.
    def wm_jax(command):
        return in_process(command, capsys)

    out = tmp_path / "run"
    code, err = wm_jax(train_command(cli_data, out, "--epochs", "4", "--checkpoint-every", "2"))
    assert code == 0, err[-2000:]

    def fails(command, message):
        code, err = wm_jax(command)
        assert code == 2 and message in err and "Traceback" not in err, err
        lines = err.strip().splitlines()
        assert lines[-1].startswith("error: ") and sum(line.startswith("error") for line in lines) == 1, err

    before = params(out)
    # A fresh run into a directory with checkpoints would mix two runs.
    fails(train_command(cli_data, out, "--epochs", "4", "--checkpoint-every", "2"), "already holds a finished run")
    fails([*WM_JAX, "train", "--resume", str(out), "--epochs", "8"], "drop --epochs")
    # A setting given at its default value is still a setting the checkpoint decides; so is --out.
    fails([*WM_JAX, "train", "--resume", str(out), "--model", "simple"], "drop --model")
    fails([*WM_JAX, "train", "--resume", str(out), "--out", str(tmp_path / "elsewhere")], "drop --out")
    assert not (tmp_path / "elsewhere").exists()
    # Another command's checkpoints name the command to resume them with.
    fails([*WM_JAX, "sweep", "--resume", str(out)], "checkpoints of `wm-jax train`'s run, not of `wm-jax sweep`'s")
    fails([*WM_JAX, "train", "--resume", str(tmp_path / "nothing")], "no checkpoints here")
    # A finished run: resuming would only write its record again, with no training time.
    fails([*WM_JAX, "train", "--resume", str(out)], "this run finished (its record metrics.json is there)")
    (out / "metrics.json").unlink()  # from here on, a run that died before it wrote its record
    fails(train_command(cli_data, out, "--epochs", "4"), "already holds a run's checkpoints: continue it with --resume")
    # The data changed under the run.
    other = tmp_path / "other.npz"
    assert wm_jax([*WM_JAX, "collect", "--out", str(other), "--transitions", "600", "--seed", "9"])[0] == 0
    os.replace(other, cli_data.with_name("moved.npz"))
    original = cli_data.read_bytes()
    cli_data.write_bytes(cli_data.with_name("moved.npz").read_bytes())
    try:
        fails([*WM_JAX, "train", "--resume", str(out)], "training_rows")
    finally:
        cli_data.write_bytes(original)
    # A checkpoint from a newer format.
    record_dir = out / "checkpoints" / "4" / "record"
    record_file = next(p for p in record_dir.iterdir() if p.is_file())
    record = json.loads(record_file.read_text())
    record_file.write_text(json.dumps({**record, "format_version": 99}))
    fails([*WM_JAX, "train", "--resume", str(out)], "newer than this wm-jax reads")
    # A damaged one (its arrays gone).
    record_file.write_text(json.dumps(record))
    subprocess.run(["rm", "-r", str(out / "checkpoints" / "4" / "state")], check=True)
    # The run kept checkpoints 2 and 4: the message says how to resume from the intact one.
    fails([*WM_JAX, "train", "--resume", str(out)], "checkpoint 4 is unreadable (")
    fails([*WM_JAX, "train", "--resume", str(out)], f"remove {out / 'checkpoints' / '4'} to resume from checkpoint 2")
    after = params(out)
    assert all(np.array_equal(before[k], after[k]) for k in before), "a refused resume must not touch the model"


@pytest.mark.slow  # two mbrl runs end to end
def test_mbrl_resumes_from_its_buffer_model_and_iteration_count(tmp_path, capsys, monkeypatch):
    """An mbrl run cut after iteration 2 and resumed logs the same episodes and ends at the same agent."""
    import shutil

    from wm_jax.cli import main

    whole, cut = tmp_path / "whole", tmp_path / "cut"
    flags = [
        "--env",
        "CartPole-v1",
        "--max-transitions",
        "500",
        "--epochs",
        "3",
        "--planner.horizon",
        "8",
        "--planner.candidates",
        "50",
        "--eval-episodes",
        "2",
        "--devices",
        "1",
        "--checkpoint-every",
        "1",
        "--keep",
        "9",
    ]
    assert main(["mbrl", *flags, "--out", str(whole)]) == 0
    steps = sorted(int(name) for name in os.listdir(whole / "checkpoints") if name.isdigit())
    assert len(steps) >= 3, steps
    shutil.copytree(whole / "checkpoints", cut / "checkpoints")
    for step in steps[2:]:  # the run "died" after iteration 2
        shutil.rmtree(cut / "checkpoints" / str(step))
    capsys.readouterr()
    import wm_jax.planning.mbrl as mbrl

    episodes = []
    real_run_episode = mbrl.run_episode
    monkeypatch.setattr(mbrl, "run_episode", lambda *a, **k: episodes.append(1) or real_run_episode(*a, **k))
    # The checkpoint decides the environment: from the command line and from Python.
    code, err = in_process([*WM_JAX, "mbrl", "--resume", str(cut), "--env", "Pendulum-v1"], capsys)
    assert code == 2 and "drop --env" in err, err
    from wm_jax.config import ConfigError
    from wm_jax.experiments.agents import MbrlRun, model_based_rl

    with pytest.raises(ConfigError, match="drop --env"):
        model_based_rl(MbrlRun(env="Pendulum-v1", resume=str(cut)))
    assert main(["mbrl", "--resume", str(cut)]) == 0
    assert len(episodes) == len(steps) - 2, "only the iterations after the checkpoint run again"
    assert "after iteration 2" in capsys.readouterr().err
    a, b = (json.loads((d / "mbrl.json").read_text()) for d in (whole, cut))
    assert [i["train_return"] for i in a["iterations"]] == [i["train_return"] for i in b["iterations"]]
    assert a["eval_returns"] == b["eval_returns"] and a["real_transitions_used"] == b["real_transitions_used"]


@pytest.mark.slow
def test_ctrl_c_stops_training_within_seconds_saves_a_checkpoint_and_resumes_exactly(cli_data, tmp_path, capsys):
    """SIGINT to a real `wm-jax train`: it stops at the next chunk boundary (chunks are about a second),
    saves a checkpoint there even between --checkpoint-every epochs, prints one line, exits 130, and
    --resume finishes the run bit-identical to an uninterrupted one."""
    epochs = ["--epochs", "8000", "--checkpoint-every", "6000"]
    out = tmp_path / "interrupted"
    process = subprocess.Popen(
        train_command(cli_data, out, *epochs, "--progress"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    seen = ""
    while "training" not in seen and process.poll() is None:  # the bar appears after the first chunk
        seen += process.stderr.read(1)
    process.send_signal(signal.SIGINT)
    sent = time.time()
    _, stderr = process.communicate(timeout=120)
    latency = time.time() - sent
    assert process.returncode == 130, (seen + stderr)[-2000:]
    assert latency < 5, f"took {latency:.1f} s to stop"
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("interrupted: stopped after epoch ") and "--resume" in last, last
    stopped = int(last.split("after epoch ")[1].split(";")[0])
    assert 0 < stopped < 6000, "the interrupt's own checkpoint, not a scheduled one"
    assert sorted(os.listdir(out / "checkpoints")) == [str(stopped)] and not (out / "params.npz").exists()
    code, err = in_process([*WM_JAX, "train", "--resume", str(out)], capsys)
    assert code == 0, err[-2000:]
    code, err = in_process(train_command(cli_data, tmp_path / "whole", *epochs[:2]), capsys)
    assert code == 0, err[-2000:]
    a, b = params(tmp_path / "whole"), params(out)
    assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a), "not bit-identical"


def test_checkpoints_of_an_earlier_version_are_refused_with_what_to_do(tmp_path, capsys):
    """Checkpoints whose settings were saved by flag name (before run configurations) cannot be
    mapped onto today's configuration safely: one line says so and what to do."""
    from wm_jax.cli import main

    out = tmp_path / "old"
    old = RunCheckpoints(
        str(out / "checkpoints"),
        every=1,
        keep=1,
        description={"command": {"data": "d.npz", "lr": 0.001, "early_stopping": 3}},
    )
    old.save(1, {"params": jnp.zeros(3)}, {"curves": {"loss_curve": [[0.5]], "validation_curve": None}})
    old.close()
    capsys.readouterr()
    assert main(["train", "--resume", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "written by an earlier wm-jax" in err and "start it again" in err, err


ONLINE_FLAGS = {
    "sac": ["--hidden-sizes", "16", "--batch-size", "16"],
    "mbpo": [
        "--epoch-length",
        "20",
        "--rollouts-per-step",
        "1",
        "--members",
        "2",
        "--hidden-sizes",
        "16",
        "--epochs",
        "2",
        "--sac.hidden-sizes",
        "16",
        "--sac.batch-size",
        "16",
        "--sac.updates-per-step",
        "2",
    ],
}


@pytest.mark.slow  # two tiny runs of each command end to end
@pytest.mark.parametrize("command", ["sac", "mbpo"])
def test_online_agents_resume_from_an_episode_end_exactly(command, tmp_path, capsys):
    """A sac or mbpo run cut after its second checkpoint (each at an episode's end) and resumed ends
    with the same learning curve, the same evaluation returns and the same policy as the whole run."""
    import shutil

    from wm_jax.cli import main

    whole, cut, logs = tmp_path / "whole", tmp_path / "cut", tmp_path / "logs"
    # --log-dir and mbpo's --baseline say how the run reports: a bare --resume carries them over.
    reporting = ["--log-dir", str(logs)]
    if command == "mbpo":
        baseline = tmp_path / "sac.json"
        curve = [{"real_transitions": 40, "eval_return_mean": 5.0, "eval_return_std": 0.0}]
        baseline.write_text(
            json.dumps({"env_id": "InvertedPendulum-v5", "seed": 0, "curve": curve, "eval_return_mean": 5.0})
        )
        reporting += ["--baseline", str(baseline)]
    # InvertedPendulum's random episodes end within a few dozen steps, so episodes end often.
    flags = [
        "--env",
        "InvertedPendulum-v5",
        "--total-transitions",
        "160",
        "--initial-transitions",
        "40",
        "--eval-every",
        "40",
        "--eval-episodes",
        "2",
        "--checkpoint-every",
        "25",
        "--keep",
        "20",
        *ONLINE_FLAGS[command],
    ]
    assert main([command, *flags, *reporting, "--out", str(whole)]) == 0
    capsys.readouterr()
    assert main([command, "--resume", str(whole)]) == 2, "a finished run has nothing to resume"
    assert f"this run finished (its record {command}.json is there)" in capsys.readouterr().err
    steps = sorted(int(name) for name in os.listdir(whole / "checkpoints") if name.isdigit())
    assert len(steps) >= 3 and steps[-1] < 160, steps
    shutil.copytree(whole / "checkpoints", cut / "checkpoints")
    for step in steps[2:]:  # the run "died" after its second checkpoint
        shutil.rmtree(cut / "checkpoints" / str(step))
    shutil.rmtree(logs)
    capsys.readouterr()
    assert main([command, "--resume", str(cut), "--progress"]) == 0
    err = capsys.readouterr().err
    assert f"after real transition {steps[1]}" in err
    assert f" {steps[1]}/160 " in err and " 0/160 " not in err, "the bar starts where the checkpoint left off"
    a, b = (json.loads((d / f"{command}.json").read_text()) for d in (whole, cut))
    assert a["curve"] == b["curve"] and a["eval_returns"] == b["eval_returns"]
    from wm_jax.tracking import read_scalars

    assert read_scalars(str(logs)).get("eval/eval_return_mean"), "the resumed run logs where the run logged"
    if command == "mbpo":
        assert b["baseline"] is not None and a["baseline"] == b["baseline"]
    if command == "mbpo":
        assert a["model"]["model_rounds"] == b["model"]["model_rounds"]


@pytest.mark.slow  # two short SAC runs
@pytest.mark.parametrize("checkpointed", [False, True], ids=["no-checkpoints", "checkpoints"])
def test_ctrl_c_stops_an_online_agent_at_the_next_real_step(checkpointed, tmp_path):
    """SIGINT during a SAC run (sent here when its first evaluation is drawn) stops it at the next real step
    with one line. The loop saves only at episode ends, where a resume is exact, so the line names the last
    checkpoint taken there, or says that nothing was kept."""
    from wm_jax.config import OnlineConfig, SACConfig
    from wm_jax.interrupts import Interrupted
    from wm_jax.policies.sac import run_sac

    loop = OnlineConfig(total_transitions=400, initial_transitions=100, eval_every=120, eval_episodes=1)
    checkpoints = (
        RunCheckpoints(str(tmp_path / "checkpoints"), every=25, keep=3, description={}) if checkpointed else None
    )
    drawn = []

    def on_progress(transitions, row):
        drawn.append(transitions)
        os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(Interrupted) as stopped:
        run_sac("InvertedPendulum-v5", loop, SACConfig(hidden_sizes=(8,), batch_size=8), 0, on_progress, checkpoints)
    assert drawn == [120]  # stopped before the next evaluation
    message = str(stopped.value)
    assert message.startswith("stopped after 120 real transitions; "), message
    if checkpointed:
        kept = checkpoints.latest_epoch()
        assert 25 <= kept <= 120 and f"the checkpoint after {kept} is in {checkpoints.directory}" in message
        assert "--resume" in message
    else:
        assert "nothing was kept (--checkpoint-every N makes a run resumable)" in message


@pytest.mark.slow  # two tiny sweeps end to end
def test_a_sweep_resumes_to_the_uninterrupted_result(tmp_path, dataset, capsys):
    """A sweep cut after its first checkpoint and resumed (`wm-jax sweep --resume DIR`, in this process) writes
    the uninterrupted sweep's table, curves and chosen model, bit for bit."""
    import shutil

    from wm_jax.cli import main

    whole, cut = tmp_path / "whole", tmp_path / "cut"
    flags = ["--data", dataset, "--learning-rates", "1e-3", "1e-2", "--seeds", "2", "--epochs", "5", "--devices", "1"]
    assert main(["sweep", *flags, "--checkpoint-every", "2", "--keep", "5", "--out", str(whole)]) == 0
    assert sorted(os.listdir(whole / "checkpoints")) == ["2", "4", "5"]
    shutil.copytree(whole / "checkpoints", cut / "checkpoints")
    for epoch in ("4", "5"):  # the sweep "died" after epoch 2
        shutil.rmtree(cut / "checkpoints" / epoch)
    capsys.readouterr()
    assert main(["sweep", "--resume", str(cut)]) == 0
    output = capsys.readouterr()
    assert "resuming" in output.err and "after epoch 2" in output.err and f"wrote {cut}" in output.out
    assert (whole / "sweep.csv").read_text() == (cut / "sweep.csv").read_text()
    a, b = (json.loads((d / "sweep.json").read_text()) for d in (whole, cut))
    assert a["loss_curves"] == b["loss_curves"] and a["configurations"] == b["configurations"]
    assert (whole / "best" / "params.npz").read_bytes() == (cut / "best" / "params.npz").read_bytes()


@pytest.mark.slow  # a tiny sweep
def test_ctrl_c_stops_a_sweep_between_chunks_and_saves_where_it_stopped(tmp_path, dataset, monkeypatch, capsys):
    """Ctrl-C (here: the loop's check says it was pressed after the first chunk) stops a sweep at the chunk's
    end with one line and exit 130; with --checkpoint-every it saves a checkpoint there first, so --resume
    continues from it."""
    from wm_jax.cli import main
    from wm_jax.training import sweep

    checks = []
    monkeypatch.setattr(sweep, "requested", lambda: checks.append(1) or len(checks) > 1)
    monkeypatch.setattr(sweep, "TARGET_CHUNK_SECONDS", 0.0)  # chunks of one epoch
    flags = ["--data", dataset, "--epochs", "4", "--devices", "1"]
    run = tmp_path / "run"
    assert main(["sweep", *flags, "--out", str(run), "--checkpoint-every", "3"]) == 130
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("interrupted: stopped after epoch 1; a checkpoint is in ") and "--resume" in last, last
    assert sorted(os.listdir(run / "checkpoints")) == ["1"]
    checks.clear()
    assert main(["sweep", *flags, "--out", str(tmp_path / "other")]) == 130
    assert "stopped after epoch 1; nothing was kept" in capsys.readouterr().err


DREAM_FLAGS = {
    "linear": ["--generations", "2", "--population", "8"],
    "ppo": [
        "--controller",
        "ppo",
        "--ppo.updates",
        "2",
        "--ppo.envs",
        "8",
        "--ppo.steps",
        "4",
        "--ppo.minibatches",
        "2",
    ],
}


@pytest.mark.slow  # two tiny dreams of each controller end to end
@pytest.mark.parametrize("controller", ["linear", "ppo"])
def test_a_dream_resumes_exactly(controller, tmp_path, capsys):
    """A dream cut after its first checkpoint and resumed (`wm-jax dream --resume DIR`, in this process) has
    the uninterrupted run's iterations, controller and evaluation returns (all but the timings)."""
    import shutil

    from wm_jax.cli import main

    whole, cut = tmp_path / "whole", tmp_path / "cut"
    flags = ["--max-transitions", "400", "--initial-transitions", "200", "--epochs", "2", "--eval-episodes", "2"]
    flags += ["--devices", "1", "--checkpoint-every", "1", "--keep", "20", *DREAM_FLAGS[controller]]
    assert main(["dream", *flags, "--out", str(whole)]) == 0
    steps = sorted(int(name) for name in os.listdir(whole / "checkpoints") if name.isdigit())
    assert steps[:2] == [1, 2], steps
    shutil.copytree(whole / "checkpoints", cut / "checkpoints")
    for step in steps[1:]:  # the run "died" after its first iteration
        shutil.rmtree(cut / "checkpoints" / str(step))
    capsys.readouterr()
    assert main(["dream", "--resume", str(cut)]) == 0
    assert "resuming" in capsys.readouterr().err
    a, b = (json.loads((d / "dream.json").read_text()) for d in (whole, cut))
    for record in (a, b):
        record.pop("seconds")
        for iteration in record["iterations"]:
            iteration.pop("ppo_seconds", None)
    assert a == b


@pytest.mark.slow  # a tiny dream
def test_ctrl_c_stops_a_dream_between_iterations_and_saves_where_it_stopped(tmp_path, dataset, monkeypatch, capsys):
    """Ctrl-C (here: the loop's check says it was pressed after the first iteration) stops a dream with one
    line and exit 130; with --checkpoint-every it saves the iteration it stopped after, for --resume."""
    from wm_jax.cli import main
    from wm_jax.planning import dream

    checks = []
    monkeypatch.setattr(dream, "requested", lambda: checks.append(1) or len(checks) > 1)
    flags = ["--max-transitions", "400", "--initial-transitions", "200", "--epochs", "1", "--devices", "1"]
    flags += DREAM_FLAGS["linear"]
    run = tmp_path / "run"
    assert main(["dream", *flags, "--out", str(run), "--checkpoint-every", "5"]) == 130
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("interrupted: stopped after iteration 1; a checkpoint is in ") and "--resume" in last, last
    assert sorted(os.listdir(run / "checkpoints")) == ["1"]
    checks.clear()
    assert main(["dream", *flags, "--out", str(tmp_path / "other")]) == 130
    assert "stopped after iteration 1; nothing was kept" in capsys.readouterr().err


@pytest.mark.slow  # the command in a process of its own: what it leaves running shows only at exit
def test_a_refused_resume_exits_with_its_one_line_only(tmp_path):
    """A run stopped before its first save leaves an empty checkpoints folder; resuming it is refused in one
    line, and the process exits without the traceback of a clean-up thread still running at exit."""
    (tmp_path / "run" / "checkpoints").mkdir(parents=True)
    done = subprocess.run(
        [*WM_JAX, "mbrl", "--resume", str(tmp_path / "run")], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2 and done.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'run' / 'checkpoints'}: no checkpoint to resume from"
    ], done.stderr


def test_beside_resume_only_where_and_how_a_run_reports_may_be_given():
    """Device and reporting flags, in either spelling of a boolean, pass beside --resume; any other flag, even
    at its default value, and --out are refused."""
    from wm_jax.config import ConfigError
    from wm_jax.experiments.agents import MbrlRun
    from wm_jax.experiments.common import refuse_settings_beside_resume

    refuse_settings_beside_resume(
        MbrlRun, ["--resume", "r", "--render", "--no-render", "--log-dir", "l", "--devices", "1"]
    )
    for flag in (["--env", "CartPole-v1"], ["--planner.no-sample"], ["--out", "o"], ["--seed=0"]):
        with pytest.raises(ConfigError, match=f"drop {flag[0].split('=')[0]}"):
            refuse_settings_beside_resume(MbrlRun, ["--resume", "r", *flag])
