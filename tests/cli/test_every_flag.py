"""Every flag of every command, end to end through `wm_jax.cli.main`, with a value that changes what
the command does, and a check that it did.

The flags are read from the run configurations themselves (`flags_of`), so a new flag without a
case here fails `test_every_flag_has_a_case`. A flag whose effect needs a process of its own, several
devices or a resumed run is exercised by the test named in `ELSEWHERE`, which must exist and pass
that flag on a command line. Budgets are tiny: these runs check wiring, not results.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest

from wm_jax.cli import COMMANDS, main
from wm_jax.experiments.sweep import sweep_tag

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]  # the repository


def command_flags(name: str) -> set[str]:
    """The flags `wm-jax NAME --help` lists (read from the help text, not from the code that builds it)."""
    with contextlib.redirect_stdout(io.StringIO()) as text, pytest.raises(SystemExit):
        main([name, "--help"])
    flags = set(re.findall(r"(?m)^[│ ]*(?:-h, )?(--[a-z][a-z0-9.-]*)", text.getvalue()))
    return {flag for flag in flags if flag != "--help"}


# (command, flag) -> the test that passes the flag end to end and checks its effect (a test function, or
# a row of the bad-input table in tests/cli/bad_inputs.py).
_DISTRIBUTED = "tests/training/test_distributed.py::test_two_processes_train_one_ensemble_like_one_process"
_TRAIN_RESUME = "tests/experiments/test_resume.py::test_sigkilled_training_resumes_to_the_uninterrupted_result"
_MBRL_RESUME = "tests/experiments/test_resume.py::test_mbrl_resumes_from_its_buffer_model_and_iteration_count"
_ONLINE_RESUME = "tests/experiments/test_resume.py::test_online_agents_resume_from_an_episode_end_exactly"
ELSEWHERE = {
    ("train", "--coordinator"): _DISTRIBUTED,
    ("train", "--num-processes"): _DISTRIBUTED,
    ("train", "--process-id"): _DISTRIBUTED,
    ("train", "--data-shards"): _DISTRIBUTED,
    ("train", "--devices"): _DISTRIBUTED,
    ("train", "--cluster"): "tests/training/test_distributed.py::test_distributed_flags_are_checked",
    ("train", "--resume"): _TRAIN_RESUME,
    ("sweep", "--resume"): "tests/experiments/test_resume.py::test_a_sweep_resumes_to_the_uninterrupted_result",
    ("dream", "--resume"): "tests/experiments/test_resume.py::test_a_dream_resumes_exactly",
    ("mbrl", "--checkpoint-every"): _MBRL_RESUME,
    ("mbrl", "--keep"): _MBRL_RESUME,
    ("mbrl", "--resume"): _MBRL_RESUME,
    **{
        (command, flag): _ONLINE_RESUME
        for command in ("sac", "mbpo")
        for flag in ("--checkpoint-every", "--keep", "--resume")
    },
    ("mbrl", "--render"): "tests/experiments/test_mbrl.py::test_mbrl_writes_the_record_the_learning_curve_and_a_gif",
    ("mbrl", "--eval-backend"): "tests/experiments/test_mbrl.py::test_mbrl_evaluation_can_run_as_one_gymnax_scan",
}


class Run(NamedTuple):
    code: int
    out: Path
    stdout: str
    stderr: str

    def path(self, name: str) -> Path:
        """An output of the run: in its directory, or in the run directory `train` writes there."""
        return self.out / name if (self.out / name).exists() else self.out / "run" / name

    def json(self, name: str) -> dict:
        return json.loads(self.path(name).read_text())


def logged(run: Run, tag: str) -> list[float]:
    """The values the run logged under `tag` in {tmp}/logs (its --log-dir), in order."""
    from wm_jax.tracking import read_scalars

    return [value for _, value in read_scalars(str(run.out / "logs")).get(tag, [])]


def same(logged_values, recorded) -> bool:
    """TensorBoard stores float32: equal to the record's numbers to float32 precision, and as many."""
    return len(logged_values) == len(recorded) > 0 and np.allclose(logged_values, recorded, rtol=1e-6, atol=0)


def wandb_logged(command: str) -> Callable[[Run, Run], bool]:
    """`--wandb` beside `--log-dir`: the command's `--log-dir` case holds (the event files equal its JSON
    record), and the offline wandb run in its --out has the same tags at the same steps, each value the
    event file's once rounded to float32 (wandb keeps float64)."""

    def changed(base: Run, run: Run) -> bool:
        from tests.helpers import read_wandb_run
        from wm_jax.tracking import read_scalars

        board = read_scalars(str(run.out / "logs"))
        wandb = read_wandb_run(run.path("wandb").parent).scalars
        return (
            CASES[command]["--log-dir"].changed(base, run)
            and set(wandb) == set(board)
            and all(
                [(step, float(np.float32(value))) for step, value in wandb[tag]] == points
                for tag, points in board.items()
            )
        )

    return changed


def _train_logged(base: Run, run: Run) -> bool:
    metrics = run.json("metrics.json")
    return (
        all(same(logged(run, f"train/loss/member_{i}"), c) for i, c in enumerate(metrics["member_loss_curves"]))
        and same(logged(run, "train/loss"), metrics["loss_curve"])
        and same(logged(run, "held_out/one_step_mse"), [metrics["held_out"]["one_step_mse"]])
        and same(logged(run, "held_out/rollout_mse"), metrics["held_out"]["rollout"]["mse"])
    )


class Case(NamedTuple):
    flags: tuple[str, ...]
    changed: Callable[[Run, Run], bool]  # (baseline, run) -> True when the flag did what it says
    base: str = "default"  # which baseline of the command to compare against
    drop: tuple[str, ...] = ()  # flags of the baseline this case leaves out
    code: int = 0  # a flag whose effect is a refusal: the exit status it must give


def refused(message: str) -> Callable[[Run, Run], bool]:
    return lambda base, run: message in run.stderr


def metric(name: str, *path) -> Callable[[Run, Run], bool]:
    """The flag changed `name`.json's value at `path`."""

    def changed(base: Run, run: Run) -> bool:
        a, b = base.json(name), run.json(name)
        for key in path:
            a, b = a[key], b[key]
        return a != b

    return changed


def files(*names: str) -> Callable[[Run, Run], bool]:
    return lambda base, run: all(run.path(n).exists() and not base.path(n).exists() for n in names)


def array_changed(name: str, key: str) -> Callable[[Run, Run], bool]:
    def changed(base: Run, run: Run) -> bool:
        with np.load(base.path(name)) as a, np.load(run.path(name)) as b:
            return key in b and (key not in a or a[key].shape != b[key].shape or not np.array_equal(a[key], b[key]))

    return changed


# The dream's PPO controller at a budget of seconds.
BASES_PPO_BUDGET = ("--ppo.updates", "2", "--ppo.envs", "8", "--ppo.steps", "4", "--ppo.minibatches", "2")

CASES: dict[str, dict[str, Case]] = {
    "collect": {
        "--out": Case(("--out", "{tmp}/other.npz"), lambda base, run: (run.out / "other.npz").exists()),
        "--env": Case(("--env", "Pendulum-v1"), lambda base, run: "Pendulum-v1" in run.stdout),
        "--transitions": Case(("--transitions", "150"), lambda base, run: "wrote 150 transitions" in run.stdout),
        "--episodes": Case(
            ("--episodes", "3"), lambda base, run: " in 3 episodes" in run.stdout, drop=("--transitions",)
        ),
        "--seed": Case(("--seed", "5"), lambda base, run: _collected(base) != _collected(run)),
        "--max-episode-steps": Case(("--max-episode-steps", "5"), lambda base, run: "in 20 episodes" in run.stdout),
        "--backend": Case(("--backend", "jax"), lambda base, run: "(jax, seed" in run.stdout),
        "--num-envs": Case(
            ("--backend", "jax", "--num-envs", "7"),
            lambda base, run: _collected(run) != _collected(_collect_jax_default(run)),
        ),
    },
    "train": {
        "--log-dir": Case(("--log-dir", "{tmp}/logs"), _train_logged),
        "--data": Case(("--data", "{pendulum}"), metric("metrics.json", "env_id")),
        "--out": Case(
            ("--out", "{tmp}/elsewhere"), lambda base, run: (run.out / "elsewhere" / "metrics.json").exists()
        ),
        "--model": Case(("--model", "regularized"), metric("metrics.json", "dropout_rate")),
        "--hidden-sizes": Case(("--hidden-sizes", "8", "8", "8"), metric("metrics.json", "params")),
        "--dropout-rate": Case(("--dropout-rate", "0.5"), metric("metrics.json", "train_mse")),
        "--members": Case(("--model", "ensemble", "--members", "3"), metric("metrics.json", "params")),
        "--delta": Case(("--delta",), metric("metrics.json", "train_mse")),
        "--normalize": Case(("--normalize",), metric("metrics.json", "train_mse")),
        "--probabilistic": Case(
            ("--probabilistic",), lambda base, run: "uncertainty" in run.json("metrics.json")["held_out"]
        ),
        "--reward-head": Case(("--reward-head",), lambda base, run: "reward" in run.json("metrics.json")["held_out"]),
        "--termination-head": Case(
            ("--termination-head",), lambda base, run: "termination" in run.json("metrics.json")["held_out"]
        ),
        "--epochs": Case(("--epochs", "3"), lambda base, run: run.json("metrics.json")["epochs_trained"] == 3),
        "--batch-size": Case(("--batch-size", "64"), metric("metrics.json", "loss_curve")),
        "--learning-rate": Case(("--learning-rate", "0.01"), metric("metrics.json", "loss_curve")),
        "--weight-decay": Case(("--weight-decay", "0.5"), metric("metrics.json", "loss_curve")),
        "--shuffle": Case(("--shuffle", "per_member"), metric("metrics.json", "member_loss_curves"), base="ensemble"),
        "--bootstrap": Case(("--bootstrap",), metric("metrics.json", "member_loss_curves"), base="ensemble"),
        "--early-stopping-patience": Case(
            ("--early-stopping-patience", "1", "--epochs", "200"),
            lambda base, run: run.json("metrics.json")["epochs_trained"] < 200,
        ),
        "--elites": Case(
            ("--elites", "1"), lambda base, run: len(run.json("model.json")["elites"]) == 1, base="ensemble"
        ),
        "--calibrate": Case(
            ("--calibrate",), metric("metrics.json", "training", "variance_log_scale"), base="ensemble"
        ),
        "--validation-fraction": Case(
            ("--elites", "1", "--validation-fraction", "0.5"),
            lambda base, run: (
                _validation_scores(run) != _validation_scores(_train(run, "--elites", "1", base="ensemble"))
            ),
            base="ensemble",
        ),
        "--eval-data": Case(("--eval-data", "{cartpole_other}"), metric("metrics.json", "split", "method")),
        # Another tool's file (no env id, a float action column): as CartPole data, with integer actions.
        "--env": Case(
            ("--data", "{foreign}", "--env", "CartPole-v1"),
            lambda base, run: (
                run.json("metrics.json")["env_id"] == "CartPole-v1"
                and _train(run, "--data", "{foreign}").json("metrics.json")["env_id"] is None
            ),
        ),
        "--eval-fraction": Case(("--eval-fraction", "0.5"), metric("metrics.json", "split", "held_out_transitions")),
        "--action-encoding": Case(("--action-encoding", "onehot"), metric("metrics.json", "action_encoding")),
        "--horizon": Case(("--horizon", "2"), metric("metrics.json", "held_out", "rollout", "horizons")),
        "--seed": Case(("--seed", "3"), metric("metrics.json", "loss_curve")),
        "--progress": Case(("--progress",), lambda base, run: "training simple" in run.stderr),
        "--plots": Case(("--plots",), files("calibration.png", "epistemic.png"), base="ensemble"),
        "--checkpoint-every": Case(("--checkpoint-every", "1"), lambda base, run: _checkpoints(run) == [1, 2]),
        "--keep": Case(
            ("--checkpoint-every", "1", "--epochs", "3", "--keep", "1"), lambda base, run: _checkpoints(run) == [3]
        ),
    },
    "evaluate": {
        "--checkpoint": Case(("--checkpoint", "{ensemble_model}"), metric("scores.json", "members")),
        "--data": Case(("--data", "{cartpole_other}"), metric("scores.json", "data")),
        "--horizon": Case(("--horizon", "2"), metric("scores.json", "rollout", "horizons")),
        "--mode": Case(
            ("--checkpoint", "{ensemble_model}", "--mode", "ts1"),
            metric("scores.json", "rollout", "mse"),
            base="ensemble",
        ),
        "--sample": Case(
            ("--checkpoint", "{ensemble_model}", "--sample"), metric("scores.json", "rollout", "mse"), base="ensemble"
        ),
        "--seed": Case(
            ("--checkpoint", "{ensemble_model}", "--mode", "ts1", "--seed", "4"),
            lambda base, run: (
                run.json("scores.json")["rollout"]["mse"]
                != _evaluate(run, "--checkpoint", "{ensemble_model}", "--mode", "ts1").json("scores.json")["rollout"][
                    "mse"
                ]
            ),
            base="ensemble",
        ),
        "--json": Case(("--json", "{tmp}/other.json"), lambda base, run: (run.out / "other.json").exists()),
        "--env": Case(
            ("--data", "{foreign}", "--env", "CartPole-v1"),
            lambda base, run: (
                run.json("scores.json")["data"].endswith("foreign.npz")
                and _evaluate(run, "--data", "{foreign}").code == 2
            ),
        ),
        "--plots": Case(
            ("--checkpoint", "{ensemble_model}", "--plots", "{tmp}/plots"),
            lambda base, run: (run.out / "plots" / "calibration.png").exists(),
            base="ensemble",
        ),
    },
    "predict": {
        "--checkpoint": Case(("--checkpoint", "{ensemble_model}"), array_changed("p.npz", "mean")),
        "--data": Case(("--data", "{cartpole_other}"), array_changed("p.npz", "mean")),
        "--out": Case(("--out", "{tmp}/q.npz"), lambda base, run: (run.out / "q.npz").exists()),
        "--levels": Case(("--checkpoint", "{ensemble_model}", "--levels", "0.5"), array_changed("p.npz", "lower_0.5")),
    },
}

MODEL_JSON = "best/model.json"
CASES["sweep"] = {
    "--log-dir": Case(
        ("--log-dir", "{tmp}/logs"),
        lambda base, run: all(
            same(
                logged(run, f"{sweep_tag(c)}/validation_mse"),
                [c["validation_mse"]],
            )
            for c in run.json("sweep.json")["configurations"]
        ),
    ),
    "--data": Case(("--data", "{pendulum}"), metric("sweep.json", "env_id")),
    "--out": Case(("--out", "{tmp}/elsewhere"), lambda base, run: (run.out / "elsewhere" / "sweep.json").exists()),
    "--learning-rates": Case(("--learning-rates", "1e-3", "1e-2"), metric("sweep.json", "configurations")),
    "--weight-decays": Case(("--weight-decays", "0", "1e-2"), metric("sweep.json", "configurations")),
    "--seeds": Case(("--seeds", "2"), metric("sweep.json", "configurations")),
    "--seed": Case(("--seed", "3"), metric("sweep.json", "configurations")),
    "--model": Case(("--model", "regularized"), metric(MODEL_JSON, "dropout_rate")),
    "--members": Case(("--model", "ensemble", "--members", "2"), metric(MODEL_JSON, "members")),
    "--hidden-sizes": Case(("--hidden-sizes", "8"), metric(MODEL_JSON, "hidden_sizes")),
    "--dropout-rate": Case(("--dropout-rate", "0.3"), metric("sweep.json", "configurations")),
    "--delta": Case(("--delta",), metric("sweep.json", "configurations")),
    "--normalize": Case(("--normalize",), metric("sweep.json", "configurations")),
    "--probabilistic": Case(("--probabilistic",), metric("sweep.json", "configurations")),
    "--reward-head": Case(("--reward-head",), metric(MODEL_JSON, "reward_head")),
    "--termination-head": Case(("--termination-head",), metric(MODEL_JSON, "termination_head")),
    "--epochs": Case(("--epochs", "3"), metric("sweep.json", "loss_curves")),
    "--batch-size": Case(("--batch-size", "64"), metric("sweep.json", "configurations")),
    "--shuffle": Case(
        ("--model", "ensemble", "--members", "2", "--shuffle", "per_member"),
        lambda base, run: (
            _sweep_scores(run) != _sweep_scores(_again("sweep", run, "--model", "ensemble", "--members", "2"))
        ),
    ),
    "--bootstrap": Case(("--bootstrap",), metric("sweep.json", "configurations")),
    "--validation-fraction": Case(
        ("--validation-fraction", "0.3"), metric("sweep.json", "split", "validation_transitions")
    ),
    "--eval-data": Case(("--eval-data", "{cartpole_other}"), metric("sweep.json", "split", "method")),
    "--eval-fraction": Case(("--eval-fraction", "0.4"), metric("sweep.json", "split", "held_out_transitions")),
    "--action-encoding": Case(("--action-encoding", "onehot"), metric(MODEL_JSON, "action_encoding")),
    "--learning-rate": Case(("--learning-rate", "0.1"), refused("a sweep tries --learning-rates"), code=2),
    "--weight-decay": Case(("--weight-decay", "0.1"), refused("a sweep tries --learning-rates"), code=2),
    "--early-stopping-patience": Case(("--early-stopping-patience", "2"), refused("early stopping"), code=2),
    "--elites": Case(("--elites", "1"), refused("early stopping, elites"), code=2),
    "--calibrate": Case(("--calibrate",), refused("calibration are for"), code=2),
    "--devices": Case(("--devices", "99"), refused("--devices 99"), code=2),
    "--checkpoint-every": Case(("--checkpoint-every", "1"), lambda base, run: _checkpoints(run) == [1, 2]),
    "--keep": Case(
        ("--checkpoint-every", "1", "--epochs", "3", "--keep", "1"), lambda base, run: _checkpoints(run) == [3]
    ),
}
MBRL = "mbrl.json"
CASES["mbrl"] = {
    "--log-dir": Case(
        ("--log-dir", "{tmp}/logs"),
        lambda base, run: (
            same(logged(run, "mbrl/train_return"), [i["train_return"] for i in run.json(MBRL)["iterations"]])
            and same(logged(run, "eval/return_mean"), [run.json(MBRL)["eval_return_mean"]])
        ),
    ),
    "--env": Case(("--env", "MountainCarContinuous-v0"), metric(MBRL, "env_id")),
    "--out": Case(("--out", "{tmp}/elsewhere"), lambda base, run: (run.out / "elsewhere" / MBRL).exists()),
    "--seed": Case(("--seed", "2"), metric(MBRL, "eval_returns")),
    "--max-transitions": Case(("--max-transitions", "210"), metric(MBRL, "real_transitions_used")),
    # The base's 200 random transitions give way to the file's 1,000; without --env, the run is for the
    # environment the file records (CartPole's default would refuse Pendulum data).
    "--data": Case(
        ("--data", "{pendulum}", "--max-transitions", "1005"),
        lambda base, run: (
            run.json(MBRL)["env_id"] == "Pendulum-v1"
            and run.json(MBRL)["iterations"][0]["real_transitions"] == 1005
            and run.json(MBRL)["initial_data"].endswith("pendulum.npz")
            and run.json(MBRL)["config"]["initial_transitions"]
            is None
            is not base.json(MBRL)["config"]["initial_transitions"]
        ),
        drop=("--env", "--initial-transitions"),  # the file replaces the random start (refused beside --data)
    ),
    "--initial-transitions": Case(("--initial-transitions", "190"), metric(MBRL, "iterations")),
    "--epochs": Case(("--epochs", "3"), metric(MBRL, "eval_returns")),
    "--members": Case(("--members", "3"), metric(MBRL, "eval_returns")),
    "--hidden-sizes": Case(("--hidden-sizes", "8"), metric(MBRL, "eval_returns")),
    "--probabilistic": Case(("--probabilistic",), metric(MBRL, "eval_returns")),
    "--eval-episodes": Case(("--eval-episodes", "2"), lambda base, run: len(run.json(MBRL)["eval_returns"]) == 2),
    "--planner.method": Case(("--planner.method", "random"), metric(MBRL, "eval_returns")),
    "--planner.horizon": Case(("--planner.horizon", "5"), metric(MBRL, "eval_returns")),
    "--planner.candidates": Case(("--planner.candidates", "20"), metric(MBRL, "eval_returns")),
    "--planner.iterations": Case(("--planner.iterations", "2"), metric(MBRL, "eval_returns")),
    "--planner.elite-fraction": Case(("--planner.elite-fraction", "0.5"), metric(MBRL, "eval_returns")),
    "--planner.alpha": Case(
        ("--planner.iterations", "2", "--planner.alpha", "0.9"),
        lambda base, run: _returns(run) != _returns(_again("mbrl", run, "--planner.iterations", "2")),
    ),
    "--planner.temperature": Case(
        ("--planner.method", "mppi", "--planner.temperature", "50"),
        lambda base, run: _returns(run) != _returns(_again("mbrl", run, "--planner.method", "mppi")),
    ),
    # One particle: one member per candidate instead of one per elite (more would repeat the members).
    "--planner.particles": Case(("--planner.particles", "1"), metric(MBRL, "eval_returns")),
    "--planner.mode": Case(("--planner.mode", "mean"), metric(MBRL, "eval_returns")),
    "--planner.sample": Case(
        ("--probabilistic", "--planner.sample"),
        lambda base, run: _returns(run) != _returns(_again("mbrl", run, "--probabilistic")),
    ),
    "--planner.reward": Case(("--planner.reward", "learned"), metric(MBRL, "eval_returns")),
    "--devices": Case(("--devices", "99"), refused("--devices 99"), code=2),
}
DREAM = "dream.json"
CASES["dream"] = {
    "--log-dir": Case(
        ("--log-dir", "{tmp}/logs"),
        lambda base, run: (
            same(logged(run, "dream/dream_return"), [i["dream_return"] for i in run.json(DREAM)["iterations"]])
            and same(logged(run, "eval/return_mean"), [run.json(DREAM)["eval_return_mean"]])
            and same(logged(run, "dream/train_return"), [i["train_return"] for i in run.json(DREAM)["iterations"][:-1]])
        ),
    ),
    "--env": Case(
        ("--env", "Pendulum-v1", "--max-transitions", "400", "--initial-transitions", "200"), metric(DREAM, "env_id")
    ),
    "--out": Case(("--out", "{tmp}/elsewhere"), lambda base, run: (run.out / "elsewhere" / DREAM).exists()),
    "--seed": Case(("--seed", "2"), metric(DREAM, "controller")),
    "--max-transitions": Case(("--max-transitions", "500"), metric(DREAM, "iterations")),
    "--checkpoint-every": Case(("--checkpoint-every", "1"), lambda base, run: _checkpoints(run)[:2] == [1, 2]),
    "--keep": Case(
        ("--checkpoint-every", "1", "--keep", "1"),
        lambda base, run: len(_checkpoints(run)) == 1 and _checkpoints(run)[0] > 1,
    ),
    # The base's 300 random transitions give way to the file's 500.
    "--data": Case(
        ("--data", "{cartpole}", "--max-transitions", "530"),
        lambda base, run: (
            run.json(DREAM)["iterations"][0]["real_transitions"] > 500
            and run.json(DREAM)["initial_data"].endswith("cartpole.npz")
            and run.json(DREAM)["config"]["initial_transitions"]
            is None
            is not base.json(DREAM)["config"]["initial_transitions"]
        ),
        drop=("--initial-transitions",),  # the file replaces the random start (refused beside --data)
    ),
    "--initial-transitions": Case(("--initial-transitions", "250"), metric(DREAM, "controller")),
    "--episodes-per-iteration": Case(("--episodes-per-iteration", "2"), metric(DREAM, "iterations")),
    "--generations": Case(("--generations", "8"), metric(DREAM, "iterations")),
    "--population": Case(("--population", "8"), metric(DREAM, "controller")),
    "--dream-starts": Case(("--dream-starts", "3"), metric(DREAM, "controller")),
    "--mode": Case(("--mode", "mean"), metric(DREAM, "controller")),
    "--disagreement-penalty": Case(("--disagreement-penalty", "5"), metric(DREAM, "iterations")),
    "--exploration-noise": Case(("--exploration-noise", "2"), metric(DREAM, "iterations")),
    "--epochs": Case(("--epochs", "2"), metric(DREAM, "controller")),
    "--members": Case(("--members", "3"), metric(DREAM, "controller")),
    "--hidden-sizes": Case(("--hidden-sizes", "8"), metric(DREAM, "controller")),
    "--eval-episodes": Case(("--eval-episodes", "2"), lambda base, run: len(run.json(DREAM)["eval_returns"]) == 2),
    "--devices": Case(("--devices", "99"), refused("--devices 99"), code=2),
    # PPO at the PPO baseline's small budget (its defaults train for tens of seconds).
    "--controller": Case(
        ("--controller", "ppo", *BASES_PPO_BUDGET),
        lambda base, run: run.json(DREAM)["controller"] == "ppo",
        drop=("--generations", "--population"),  # CMA-ES's, refused beside PPO
    ),
}


def _ppo_losses(run: Run):
    return [row["ppo_loss"] for row in run.json(DREAM)["iterations"]]


# PPO's settings, each against the PPO baseline: every dream phase records PPO's last loss.
for _flag, _value in (
    ("updates", "3"),
    ("envs", "4"),
    ("steps", "6"),
    ("epochs", "2"),
    ("minibatches", "4"),
    ("gamma", "0.5"),
    ("gae-lambda", "0.5"),
    ("clip", "0.01"),
    ("entropy-coef", "0.5"),
    ("value-coef", "2"),
    ("max-grad-norm", "0.001"),
    ("learning-rate", "0.05"),
    ("reward-scale", "0.01"),
    ("hidden-sizes", "8"),
):
    CASES["dream"][f"--ppo.{_flag}"] = Case(
        (f"--ppo.{_flag}", _value), lambda base, run: _ppo_losses(run) != _ppo_losses(base), base="ppo"
    )
SAC = "sac.json"


def _sac_returns(run: Run):
    return run.json(SAC)["eval_returns"]


def _sac_alphas(run: Run):
    return [row["alpha"] for row in run.json(SAC)["curve"]]


CASES["sac"] = {
    "--log-dir": Case(
        ("--log-dir", "{tmp}/logs"),
        lambda base, run: same(
            logged(run, "eval/eval_return_mean"), [r["eval_return_mean"] for r in run.json(SAC)["curve"]]
        ),
    ),
    "--env": Case(("--env", "MountainCarContinuous-v0"), metric(SAC, "env_id")),
    "--out": Case(("--out", "{tmp}/elsewhere"), lambda base, run: (run.out / "elsewhere" / SAC).exists()),
    "--seed": Case(("--seed", "2"), metric(SAC, "eval_returns")),
    "--total-transitions": Case(("--total-transitions", "70"), metric(SAC, "real_transitions_used")),
    "--initial-transitions": Case(("--initial-transitions", "20"), metric(SAC, "eval_returns")),
    "--hidden-sizes": Case(("--hidden-sizes", "8", "8"), metric(SAC, "eval_returns")),
    "--batch-size": Case(("--batch-size", "8"), metric(SAC, "eval_returns")),
    "--updates-per-step": Case(("--updates-per-step", "3"), metric(SAC, "eval_returns")),
    "--gamma": Case(("--gamma", "0.5"), metric(SAC, "eval_returns")),
    "--tau": Case(("--tau", "0.5"), metric(SAC, "eval_returns")),
    "--actor-learning-rate": Case(("--actor-learning-rate", "0.01"), metric(SAC, "eval_returns")),
    "--critic-learning-rate": Case(("--critic-learning-rate", "0.01"), metric(SAC, "eval_returns")),
    "--alpha-learning-rate": Case(
        ("--alpha-learning-rate", "0.1"), lambda base, run: _sac_alphas(run) != _sac_alphas(base)
    ),
    "--initial-alpha": Case(("--initial-alpha", "0.1"), lambda base, run: _sac_alphas(run) != _sac_alphas(base)),
    "--target-entropy": Case(("--target-entropy", "5"), lambda base, run: _sac_alphas(run) != _sac_alphas(base)),
    "--eval-every": Case(("--eval-every", "30"), lambda base, run: len(run.json(SAC)["curve"]) == 2),
    "--eval-episodes": Case(("--eval-episodes", "2"), lambda base, run: len(_sac_returns(run)) == 2),
    "--progress": Case(("--progress",), lambda base, run: "sac Pendulum-v1" in run.stderr),
    "--render": Case(("--render",), lambda base, run: run.path("episode.gif").stat().st_size > 0),
}
MBPO = "mbpo.json"


def _mbpo_rounds(run: Run):
    return run.json(MBPO)["model"]["model_rounds"]


CASES["mbpo"] = {
    "--log-dir": Case(
        ("--log-dir", "{tmp}/logs"),
        lambda base, run: same(logged(run, "eval/alpha"), [r["alpha"] for r in run.json(MBPO)["curve"]]),
    ),
    "--env": Case(("--env", "MountainCarContinuous-v0"), metric(MBPO, "env_id")),
    "--out": Case(("--out", "{tmp}/elsewhere"), lambda base, run: (run.out / "elsewhere" / MBPO).exists()),
    "--seed": Case(("--seed", "2"), metric(MBPO, "eval_returns")),
    "--total-transitions": Case(("--total-transitions", "90"), lambda base, run: _mbpo_rounds(run) == 4),
    "--initial-transitions": Case(("--initial-transitions", "45"), lambda base, run: _mbpo_rounds(run) == 1),
    "--eval-every": Case(("--eval-every", "20"), lambda base, run: len(run.json(MBPO)["curve"]) == 3),
    "--eval-episodes": Case(("--eval-episodes", "2"), lambda base, run: len(run.json(MBPO)["eval_returns"]) == 2),
    "--epoch-length": Case(("--epoch-length", "10"), lambda base, run: _mbpo_rounds(run) == 3),
    "--rollouts-per-step": Case(("--rollouts-per-step", "3"), metric(MBPO, "eval_returns")),
    "--rollout-schedule": Case(("--rollout-schedule", "0", "1", "2", "4"), metric(MBPO, "eval_returns")),
    "--retain-epochs": Case(("--retain-epochs", "2"), metric(MBPO, "eval_returns")),
    "--real-ratio": Case(("--real-ratio", "0.5"), metric(MBPO, "eval_returns")),
    "--members": Case(("--members", "3"), metric(MBPO, "eval_returns")),
    "--hidden-sizes": Case(("--hidden-sizes", "8", "8"), metric(MBPO, "eval_returns")),
    "--epochs": Case(("--epochs", "3"), metric(MBPO, "eval_returns")),
    "--model-batch-size": Case(("--model-batch-size", "4"), metric(MBPO, "eval_returns")),
    "--sac.hidden-sizes": Case(("--sac.hidden-sizes", "8", "8"), metric(MBPO, "eval_returns")),
    "--sac.batch-size": Case(("--sac.batch-size", "16"), metric(MBPO, "eval_returns")),
    "--sac.updates-per-step": Case(("--sac.updates-per-step", "2"), metric(MBPO, "eval_returns")),
    "--sac.gamma": Case(("--sac.gamma", "0.5"), metric(MBPO, "eval_returns")),
    "--sac.tau": Case(("--sac.tau", "0.5"), metric(MBPO, "eval_returns")),
    "--sac.actor-learning-rate": Case(("--sac.actor-learning-rate", "0.01"), metric(MBPO, "eval_returns")),
    "--sac.critic-learning-rate": Case(("--sac.critic-learning-rate", "0.01"), metric(MBPO, "eval_returns")),
    "--sac.alpha-learning-rate": Case(("--sac.alpha-learning-rate", "0.1"), metric(MBPO, "curve")),
    "--sac.initial-alpha": Case(("--sac.initial-alpha", "0.1"), metric(MBPO, "curve")),
    "--sac.target-entropy": Case(("--sac.target-entropy", "5"), metric(MBPO, "curve")),
    "--progress": Case(("--progress",), lambda base, run: "mbpo " in run.stderr and "transitions" in run.stderr),
    "--render": Case(("--render",), lambda base, run: run.path("episode.gif").stat().st_size > 0),
    "--baseline": Case(
        ("--baseline", "{sac_run}"),
        lambda base, run: (
            run.json(MBPO)["baseline"]["eval_return_mean"] == -840.0
            and run.path("learning_curve.png").read_bytes() != base.path("learning_curve.png").read_bytes()
        ),
    ),
}
# --wandb on every command that logs, beside --log-dir so that the two logs can be compared.
for _command in ("train", "sweep", "mbrl", "dream", "sac", "mbpo"):
    CASES[_command]["--wandb"] = Case(("--wandb", "--log-dir", "{tmp}/logs"), wandb_logged(_command))
DEMO = "metrics.json"


def demo(*path) -> Callable[[Run, Run], bool]:
    """The flag changed the demo's metrics.json at `path`."""
    return metric(DEMO, *path)


def demo_losses(run: Run):
    return {kind: model["loss_curve"] for kind, model in run.json(DEMO)["models"].items()}


CASES["demo"] = {
    "--out": Case(("--out", "{tmp}/elsewhere"), lambda base, run: (run.out / "elsewhere" / DEMO).exists()),
    "--env": Case(("--env", "Pendulum-v1"), demo("env")),
    "--transitions": Case(("--transitions", "400"), demo("data", "transitions")),
    "--epochs": Case(("--epochs", "3"), lambda base, run: demo_losses(base) != demo_losses(run)),
    "--batch-size": Case(("--batch-size", "64"), lambda base, run: demo_losses(base) != demo_losses(run)),
    "--learning-rate": Case(("--learning-rate", "0.01"), lambda base, run: demo_losses(base) != demo_losses(run)),
    "--members": Case(("--members", "2"), demo("models", "ensemble", "members")),
    "--eval-fraction": Case(("--eval-fraction", "0.4"), demo("split", "held_out_episodes")),
    "--horizon": Case(("--horizon", "4"), demo("models", "simple", "held_out", "rollout", "horizons")),
    "--action-encoding": Case(("--action-encoding", "onehot"), lambda base, run: demo_losses(base) != demo_losses(run)),
    "--collect-backend": Case(("--collect-backend", "jax"), demo("data", "collection")),
    "--trajectory-steps": Case(("--trajectory-steps", "5"), demo("trajectory", "steps")),
    "--seed": Case(("--seed", "3"), lambda base, run: demo_losses(base) != demo_losses(run)),
    "--quick": Case(("--quick",), demo("data", "transitions"), drop=("--transitions", "--epochs", "--horizon")),
    "--devices": Case(("--devices", "99"), refused("--devices 99"), code=2),
}
CASES["data import-minari"] = {
    "--out": Case(("--out", "{tmp}/other.npz"), lambda base, run: (run.out / "other.npz").exists()),
    "--env": Case(("--env", "MyCartPole-v0"), lambda base, run: _data_env(run) == "MyCartPole-v0" != _data_env(base)),
}
CASES["data export-minari"] = {
    "--dataset-id": Case(
        ("--dataset-id", "wmjax/chosen-v3"), lambda base, run: _exported(run).spec.dataset_id == "wmjax/chosen-v3"
    ),
    "--author": Case(("--author", "Ada"), lambda base, run: _author(run) == {"Ada"} != _author(base)),
}
CASES["parity"] = {
    "--only": Case(("--only", "loss"), lambda base, run: run.stdout != base.stdout),
    "--json": Case(("--json", "{tmp}/parity.json"), lambda base, run: (run.out / "parity.json").exists()),
}


def _data_env(run: Run) -> str:
    from wm_jax.data import load_dataset

    return load_dataset(run.out / "imported.npz").info.env_id


def _exported(run: Run):
    import minari

    return minari.load_dataset(run.stdout.strip().rsplit(" ", 1)[-1])


def _author(run: Run):
    return _exported(run).storage.metadata.get("author")


def _returns(run: Run):
    return run.json(MBRL)["eval_returns"]


def _sweep_scores(run: Run):
    return [row["validation_mse"] for row in run.json("sweep.json")["configurations"]]


def _again(command: str, run: Run, *flags, base: str = "default") -> Run:
    """The command's baseline with `flags` only: the reference for a flag that needs another flag set."""
    return _invoke(command, base, flags, run.out.parent / f"{run.out.name}-reference")


def _collected(run: Run):
    from wm_jax.data import load_dataset

    return load_dataset(run.out / "data.npz").transitions.states.tobytes()


def _checkpoints(run: Run) -> list[int]:
    return sorted(int(name.name) for name in (run.out / "run" / "checkpoints").iterdir() if name.name.isdigit())


def _validation_scores(run: Run):
    return run.json("metrics.json")["training"]["validation_scores"]


@pytest.fixture(scope="module")
def minari_path():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


@pytest.fixture(scope="module")
def flag_world(tmp_path_factory, minari_path):
    root = tmp_path_factory.mktemp("flags")
    files = {
        "cartpole": root / "cartpole.npz",
        "cartpole_other": root / "cartpole_other.npz",
        "pendulum": root / "pendulum.npz",
    }
    assert main(["collect", "--out", str(files["cartpole"]), "--transitions", "500"]) == 0
    assert main(["collect", "--out", str(files["cartpole_other"]), "--transitions", "300", "--seed", "7"]) == 0
    assert main(["collect", "--env", "Pendulum-v1", "--out", str(files["pendulum"]), "--transitions", "1000"]) == 0
    # A file another tool wrote: format version 1, no env id, CartPole's actions as a float column.
    with np.load(files["cartpole"]) as archive:
        rows = {key: archive[key] for key in ("states", "next_states", "rewards", "terminated", "truncated")}
        rows["actions"] = archive["actions"].astype(np.float32)[:, None]
    files["foreign"] = root / "foreign.npz"
    np.savez(files["foreign"], **rows)
    # Minari datasets live in this module's own MINARI_DATASETS_PATH; one is there to import.
    minari_path.setenv("MINARI_DATASETS_PATH", str(root / "minari"))
    assert main(["data", "export-minari", str(files["cartpole"]), "--dataset-id", "wmjax/flags-v0"]) == 0
    # A SAC run's record for mbpo's --baseline: the shape `wm-jax sac` writes, with made-up returns.
    files["sac_run"] = root / "sac.json"
    curve = [{"real_transitions": n, "eval_return_mean": -900.0 + n, "eval_return_std": 50.0} for n in (30, 60)]
    record = {"env_id": "Pendulum-v1", "seed": 0, "curve": curve, "eval_return_mean": -840.0}
    files["sac_run"].write_text(json.dumps(record))
    models = {"model": root / "model", "ensemble_model": root / "ensemble"}
    assert (
        main(
            [
                "train",
                "--data",
                str(files["cartpole"]),
                "--out",
                str(models["model"]),
                "--epochs",
                "2",
                "--horizon",
                "3",
                "--devices",
                "1",
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "train",
                "--data",
                str(files["cartpole"]),
                "--out",
                str(models["ensemble_model"]),
                "--epochs",
                "2",
                "--horizon",
                "3",
                "--model",
                "ensemble",
                "--members",
                "2",
                "--probabilistic",
                "--devices",
                "1",
            ]
        )
        == 0
    )
    return {name: str(path) for name, path in {**files, **models}.items()}


WORLD: dict = {}


_EXPORTS = itertools.count()


def _format(args, tmp: Path) -> list[str]:
    fresh = f"wmjax/flags{next(_EXPORTS)}-v0"  # Minari ids cannot be written twice
    return [a.format(tmp=tmp, fresh_dataset_id=fresh, **WORLD) for a in args]


def _run(argv: list[str], out: Path, capsys) -> Run:
    capsys.readouterr()
    code = main(argv)
    captured = capsys.readouterr()
    return Run(code, out, captured.out, captured.err)


BASES = {
    "collect": {"default": ["collect", "--out", "{tmp}/data.npz", "--transitions", "100"]},
    "train": {
        "default": [
            "train",
            "--data",
            "{cartpole}",
            "--out",
            "{tmp}/run",
            "--epochs",
            "2",
            "--horizon",
            "3",
            "--devices",
            "1",
        ],
        "ensemble": [
            "train",
            "--data",
            "{cartpole}",
            "--out",
            "{tmp}/run",
            "--epochs",
            "2",
            "--horizon",
            "3",
            "--devices",
            "1",
            "--model",
            "ensemble",
            "--members",
            "2",
            "--probabilistic",
        ],
    },
    "evaluate": {
        "default": [
            "evaluate",
            "--checkpoint",
            "{model}",
            "--data",
            "{cartpole}",
            "--horizon",
            "3",
            "--json",
            "{tmp}/scores.json",
        ]
    },
    "predict": {"default": ["predict", "--checkpoint", "{model}", "--data", "{cartpole}", "--out", "{tmp}/p.npz"]},
    "sweep": {"default": ["sweep", "--data", "{cartpole}", "--out", "{tmp}/run", "--epochs", "2", "--devices", "1"]},
    "mbrl": {
        "default": [
            "mbrl",
            "--env",
            "Pendulum-v1",
            "--out",
            "{tmp}/run",
            "--max-transitions",
            "205",
            "--initial-transitions",
            "200",
            "--epochs",
            "1",
            "--members",
            "2",
            "--planner.horizon",
            "3",
            "--planner.candidates",
            "10",
            "--planner.iterations",
            "1",
            "--eval-episodes",
            "1",
            "--devices",
            "1",
        ]
    },
    "dream": {
        "default": [
            "dream",
            "--out",
            "{tmp}/run",
            "--max-transitions",
            "330",
            "--initial-transitions",
            "300",
            "--episodes-per-iteration",
            "1",
            "--generations",
            "2",
            "--population",
            "6",
            "--dream-starts",
            "2",
            "--epochs",
            "1",
            "--members",
            "2",
            "--eval-episodes",
            "1",
            "--devices",
            "1",
        ]
    },
    "mbpo": {
        "default": [
            "mbpo",
            "--env",
            "Pendulum-v1",
            "--out",
            "{tmp}/run",
            "--total-transitions",
            "60",
            "--initial-transitions",
            "30",
            "--epoch-length",
            "15",
            "--rollouts-per-step",
            "1",
            "--members",
            "2",
            "--hidden-sizes",
            "8",
            "--epochs",
            "1",
            "--sac.hidden-sizes",
            "8",
            "--sac.batch-size",
            "8",
            "--sac.updates-per-step",
            "1",
            "--eval-every",
            "60",
            "--eval-episodes",
            "1",
        ]
    },
    "sac": {
        "default": [
            "sac",
            "--out",
            "{tmp}/run",
            "--total-transitions",
            "60",
            "--initial-transitions",
            "30",
            "--hidden-sizes",
            "8",
            "--batch-size",
            "16",
            "--eval-every",
            "60",
            "--eval-episodes",
            "1",
        ]
    },
    "demo": {
        "default": [
            "demo",
            "--out",
            "{tmp}/run",
            "--transitions",
            "300",
            "--epochs",
            "2",
            "--horizon",
            "3",
            "--trajectory-steps",
            "3",
            "--members",
            "3",
            "--devices",
            "1",
        ]
    },
    "parity": {"default": ["parity", "--only", "forward"]},
    "data import-minari": {"default": ["data import-minari", "wmjax/flags-v0", "--out", "{tmp}/imported.npz"]},
    "data export-minari": {"default": ["data export-minari", "{cartpole}", "--dataset-id", "{fresh_dataset_id}"]},
}
BASES["evaluate"]["ensemble"] = BASES["evaluate"]["default"]


def _with(base: list[str], flags, drop=()) -> list[str]:
    """`base` with `flags` added; a flag `base` already has (or one in `drop`) is dropped from it with its
    values first."""
    given = {token for token in flags if token.startswith("--")} | set(drop)
    kept, dropping = [], False
    for token in base:
        if token.startswith("--"):
            dropping = token in given
        if not dropping:
            kept.append(token)
    return kept + list(flags)


# CMA-ES's flags do not apply to PPO (refused when given).
BASES["dream"]["ppo"] = _with(
    BASES["dream"]["default"], ["--controller", "ppo", *BASES_PPO_BUDGET], drop=("--generations", "--population")
)


_CAPSYS = {}


def _invoke(command: str, base: str, flags, tmp: Path, drop=()) -> Run:
    tmp.mkdir(parents=True, exist_ok=True)
    argv = _format(_with(BASES[command][base], flags, drop), tmp)
    return _run(argv, tmp, _CAPSYS["capsys"])


def _train(run: Run, *flags, base: str = "default") -> Run:
    return _again("train", run, *flags, base=base)


def _evaluate(run: Run, *flags) -> Run:
    return _again("evaluate", run, *flags)


def _collect_jax_default(run: Run) -> Run:
    return _invoke("collect", "default", ("--backend", "jax"), run.out.parent / "jax-default")


@pytest.fixture(scope="module")
def baselines(flag_world, tmp_path_factory):
    WORLD.update(flag_world)
    return {}


def _baseline(baselines, command: str, base: str, tmp_root: Path) -> Run:
    if (command, base) not in baselines:
        baselines[(command, base)] = _invoke(command, base, (), tmp_root / f"base-{command}-{base}")
        assert baselines[(command, base)].code == 0, baselines[(command, base)].stderr
    return baselines[(command, base)]


@pytest.mark.parametrize("command, flag", [(c, f) for c, cases in CASES.items() for f in cases])
def test_flag_changes_what_the_command_does(command, flag, baselines, tmp_path_factory, capsys):
    _CAPSYS["capsys"] = capsys
    case = CASES[command][flag]
    root = tmp_path_factory.getbasetemp() / "flag-baselines"
    base = _baseline(baselines, command, case.base, root)
    run = _invoke(command, case.base, case.flags, tmp_path_factory.mktemp(f"{command}{flag}"), case.drop)
    assert run.code == case.code, run.stderr[-2000:]
    assert case.changed(base, run), f"{command} {' '.join(case.flags)} changed nothing it should"


def test_every_flag_has_a_case():
    """A flag added to a command without a case here (or a test named in ELSEWHERE) fails this test."""
    missing = [
        (name, flag)
        for name in COMMANDS
        for flag in sorted(command_flags(name))
        if flag not in CASES.get(name, {}) and (name, flag) not in ELSEWHERE
    ]
    assert not missing, f"flags without a test: {missing}"


def test_flags_tested_elsewhere_are_passed_by_the_named_test():
    for (command, flag), test in ELSEWHERE.items():
        path, name = test.split("::")
        source = (ROOT / path).read_text()
        pattern = (
            rf'\n    Row\("{name}".*?(?=\n    Row\(|\Z)'
            if path.endswith("bad_inputs.py")
            else rf"\ndef {name}\(.*?(?=\ndef |\Z)"
        )
        match = re.search(pattern, source, re.S)
        assert match, f"{test} (named for {command} {flag}) does not exist"
        assert f'"{flag}"' in match.group(0), f"{test} does not pass {flag}"
