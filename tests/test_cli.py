"""The wm-jax command line: the happy path end to end, and bad input as one-line errors."""

import json
import os

import pytest

from wm_jax.cli import main


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "cartpole.npz"
    assert main(["collect", "--out", str(path), "--transitions", "400", "--seed", "1"]) == 0
    return str(path)


@pytest.mark.slow  # end to end: collect, train, evaluate
def test_collect_train_evaluate_end_to_end(tmp_path, dataset, capsys):
    out = tmp_path / "run"
    code = main(["train", "--data", dataset, "--eval-data", dataset, "--model", "ensemble", "--members", "3",
                 "--epochs", "3", "--horizon", "12", "--out", str(out)])
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("model", "members", "epochs", "batch_size", "params", "train_mse", "eval_mse",
                "member_eval_mse", "loss_curve", "train_seconds", "compile_seconds", "env_id", "split", "held_out"):
        assert key in metrics, key
    assert metrics["members"] == 3 and len(metrics["member_eval_mse"]) == 3 and len(metrics["loss_curve"]) == 3
    assert metrics["params"] == 3 * 2596
    held_out = metrics["held_out"]
    assert held_out["one_step_mse"] == pytest.approx(metrics["eval_mse"], rel=1e-5)
    assert held_out["rollout"]["horizons"] == list(range(1, 13)) and len(held_out["rollout"]["member_mse"]) == 3
    assert set(held_out["baselines"]) == {"identity", "linear"}
    assert main(["evaluate", "--checkpoint", str(out), "--data", dataset, "--horizon", "12",
                 "--json", str(tmp_path / "s.json")]) == 0
    scores = json.loads((tmp_path / "s.json").read_text())
    assert scores["one_step_mse"] == pytest.approx(metrics["eval_mse"], rel=1e-5)
    assert scores["rollout"]["mse"] == pytest.approx(held_out["rollout"]["mse"], rel=1e-5, nan_ok=True)
    assert len(scores["rollout"]["member_mse"]) == 3
    for name in ("identity", "linear"):
        assert scores["baselines"][name]["one_step_mse"] == pytest.approx(held_out["baselines"][name]["one_step_mse"])
        assert len(scores["baselines"][name]["rollout_mse"]) == 12


@pytest.mark.slow  # end to end: a whole train command
def test_train_holds_out_whole_episodes_and_records_them(tmp_path, dataset):
    out = tmp_path / "run"
    assert main(["train", "--data", dataset, "--eval-fraction", "0.3", "--epochs", "2", "--seed", "4",
                 "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    split = metrics["split"]
    assert split["method"] == "by episode" and split["seed"] == 4 and split["eval_fraction"] == 0.3
    import numpy as np

    from wm_jax.data import load_dataset, split_by_episode

    expected = split_by_episode(load_dataset(dataset).transitions, 0.3, seed=4)
    assert split["held_out_episodes"] == expected.held_out_episodes.tolist()
    assert metrics["held_out"]["transitions"] == expected.held_out.size == split["held_out_transitions"]
    assert json.loads((out / "baselines.json").read_text())["linear"]["weights"]
    assert json.loads((out / "model.json").read_text())["env_id"] == "CartPole-v1"


@pytest.mark.parametrize("env_id", ["Acrobot-v1", "MountainCar-v0", "MountainCarContinuous-v0", "Pendulum-v1"])
@pytest.mark.slow  # end to end, once per environment
def test_every_command_works_for_the_other_environments(tmp_path, env_id):
    data, run = tmp_path / "d.npz", tmp_path / "run"
    assert main(["collect", "--env", env_id, "--out", str(data), "--transitions", "300", "--backend", "jax"]) == 0
    assert main(["train", "--data", str(data), "--model", "ensemble", "--members", "2", "--epochs", "1",
                 "--horizon", "5", "--out", str(run)]) == 0
    assert main(["evaluate", "--checkpoint", str(run), "--data", str(data), "--horizon", "5",
                 "--json", str(tmp_path / "s.json")]) == 0
    assert json.loads((tmp_path / "s.json").read_text())["env_id"] == env_id


@pytest.mark.slow  # end to end: collect, train, evaluate
def test_onehot_encoding_is_saved_with_the_model_and_used_by_evaluate(tmp_path):
    data, run = tmp_path / "d.npz", tmp_path / "run"
    assert main(["collect", "--env", "Acrobot-v1", "--out", str(data), "--transitions", "300"]) == 0
    assert main(["train", "--data", str(data), "--epochs", "1", "--action-encoding", "onehot", "--out", str(run)]) == 0
    model = json.loads((run / "model.json").read_text())
    assert model["action_encoding"] == "onehot" and model["action_dim"] == 3
    assert main(["evaluate", "--checkpoint", str(run), "--data", str(data), "--horizon", "3"]) == 0


@pytest.mark.slow  # end to end: two collections and a training
def test_a_model_refuses_data_from_another_environment(tmp_path, capsys):
    car, car_continuous, run = tmp_path / "car.npz", tmp_path / "carc.npz", tmp_path / "run"
    assert main(["collect", "--env", "MountainCar-v0", "--out", str(car), "--transitions", "300"]) == 0
    assert main(["collect", "--env", "MountainCarContinuous-v0", "--out", str(car_continuous), "--transitions", "50"]) == 0
    assert main(["train", "--data", str(car), "--epochs", "1", "--out", str(run)]) == 0
    capsys.readouterr()
    assert main(["evaluate", "--checkpoint", str(run), "--data", str(car_continuous)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "MountainCarContinuous-v0" in err and "\n" not in err


@pytest.mark.slow  # a real process (devices are fixed when JAX starts)
def test_progress_bar_works_on_a_multi_device_host(tmp_path, dataset):
    """Progress comes from the host between compiled chunks, not from a callback inside the program,
    so it works when members are sharded over several devices (a subprocess: devices are fixed at start)."""
    import subprocess
    import sys

    script = (
        "import sys; from wm_jax.cli import main; "
        f"sys.exit(main(['train', '--data', {dataset!r}, '--model', 'ensemble', '--members', '3', '--epochs', '4', "
        f"'--progress', '--out', {str(tmp_path / 'run')!r}]))"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr


def test_collect_is_deterministic_per_seed(tmp_path, dataset):
    again = tmp_path / "again.npz"
    assert main(["collect", "--out", str(again), "--transitions", "400", "--seed", "1"]) == 0
    import numpy as np

    with np.load(dataset) as a, np.load(again) as b:
        for key in ("states", "actions", "next_states", "rewards", "terminated", "truncated"):
            np.testing.assert_array_equal(a[key], b[key])


@pytest.mark.parametrize(
    "argv, message",
    [
        (["collect", "--env", "Nope-v9", "--out", "{tmp}/x.npz", "--transitions", "5"], "supported: CartPole-v1"),
        (["train", "--data", "{tmp}/absent.npz", "--out", "{tmp}/o"], "no such file"),
        (["train", "--data", "{data}", "--out", "{tmp}/o", "--epochs", "0"], "epochs must be >= 1"),
        (["train", "--data", "{data}", "--out", "{tmp}/o", "--batch-size", "0"], "batch size must be >= 1"),
        (["train", "--data", "{data}", "--out", "{tmp}/o", "--members", "3"], "applies only to an ensemble (--model ensemble)"),
        (["train", "--data", "{tmp}/garbage.npz", "--out", "{tmp}/o"], "not a .npz archive"),
        (["evaluate", "--checkpoint", "{tmp}", "--data", "{data}"], "no such file"),
        (["train", "--data", "{data}", "--out", "{tmp}/o", "--eval-fraction", "1.5"], "eval fraction must be in (0, 1)"),
        (["train", "--data", "{data}", "--out", "{tmp}/o", "--eval-fraction", "0.2", "--eval-data", "{data}"],
         "not both"),
        (["train", "--data", "{data}", "--out", "{tmp}/o", "--action-encoding", "continuous"], "Discrete actions"),
        (["collect", "--out", "{tmp}/x.npz", "--transitions", "0", "--backend", "jax"], "transitions must be >= 1"),
        (["collect", "--out", "{tmp}/x.npz", "--transitions", "10", "--num-envs", "4"], "only to the jax backend"),
        (["train", "--data", "{data}", "--out", "{tmp}/o", "--model", "ensemble", "--members", "3", "--elites", "4"],
         "exceeds the 3 members"),
        (["train", "--data", "{data}", "--out", "{tmp}/o", "--early-stopping-patience", "-1"], "patience must be >= 0"),
        (["train", "--data", "{data}", "--out", "{tmp}/o", "--validation-fraction", "0"], "validation fraction"),
        (["predict", "--checkpoint", "{tmp}", "--data", "{data}", "--out", "{tmp}"], "is a directory"),
    ],
)
def test_bad_input_is_one_line_error_and_exit_2(tmp_path, dataset, capsys, argv, message):
    (tmp_path / "garbage.npz").write_text("garbage")
    argv = [a.format(tmp=tmp_path, data=dataset) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err and "Traceback" not in err


def test_failed_training_leaves_an_existing_output_untouched(tmp_path, dataset):
    out = tmp_path / "run"
    out.mkdir()
    (out / "metrics.json").write_text('{"keep": true}')
    assert main(["train", "--data", str(tmp_path / "absent.npz"), "--out", str(out)]) == 2
    assert (out / "metrics.json").read_text() == '{"keep": true}'
    assert sorted(os.listdir(out)) == ["metrics.json"]


@pytest.mark.slow  # the whole demo
def test_demo_quick_writes_report_plots_and_metrics(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--quick", "--out", str(out), "--transitions", "300", "--epochs", "2"]) == 0
    text = capsys.readouterr().out
    for step in range(1, 10):
        assert f"\n{step}. " in text or text.startswith(f"{step}. "), f"step {step} missing from the report"
    assert "2596 parameters" in text
    assert (out / "world_models_training.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "trajectory_predictions.png").stat().st_size > 10_000
    assert (out / "rollout_error.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "baseline: linear" in text and "baseline: identity" in text
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["models"]) == {"simple", "regularized", "ensemble"}
    assert metrics["models"]["ensemble"]["members"] == 5
    assert metrics["split"]["method"] == "by episode" and metrics["split"]["held_out_episodes"]
    for kind in ("simple", "regularized", "ensemble"):
        block = metrics["models"][kind]["held_out"]
        assert block["rollout"]["horizons"][0] == 1 and block["one_step_mse"] > 0
    assert set(metrics["baselines"]["held_out"]) == {"identity", "linear"}


def _key_structure(value):
    if isinstance(value, dict):
        return {k: _key_structure(v) for k, v in value.items()}
    return type(value).__name__ if not isinstance(value, (int, float)) else "number"


@pytest.mark.slow  # two whole demos (JAX and torch)
def test_torch_reference_demo_writes_the_same_metrics_schema_from_the_same_data(tmp_path, capsys):
    """Side by side means comparable: same data split, same report steps, same metrics.json keys."""
    from wm_jax.demo import DemoOptions, JaxBackend, run_demo
    from wm_torch_ref.backend import TorchBackend

    options = dict(transitions=200, epochs=2, members=2, trajectory_steps=5)
    jax_metrics = run_demo(JaxBackend(), DemoOptions(out=str(tmp_path / "jax"), **options))
    torch_metrics = run_demo(TorchBackend(), DemoOptions(out=str(tmp_path / "torch"), **options))
    assert _key_structure(jax_metrics) == _key_structure(torch_metrics)
    assert jax_metrics["data"] == torch_metrics["data"]
    assert torch_metrics["models"]["simple"]["params"] == jax_metrics["models"]["simple"]["params"] == 2596
    assert (tmp_path / "torch" / "world_models_training.png").exists()


def test_pip_installs_the_library_and_the_reference_but_not_bench_or_parity_tests():
    """bench/ and parity_tests/ are repository folders: as top-level site-packages they would clash."""
    import pathlib
    import tomllib

    import setuptools

    root = pathlib.Path(__file__).resolve().parents[1]
    config = tomllib.loads((root / "pyproject.toml").read_text())
    include = config["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = setuptools.find_packages(where=str(root), include=include)
    assert {"wm_jax", "wm_jax.envs", "wm_jax.data", "wm_jax.evaluation", "wm_torch_ref"} <= set(packages)
    assert not {p.split(".")[0] for p in packages} & {"bench", "parity_tests", "tests", "scripts"}


def test_parity_command_says_how_to_get_the_suite_when_it_is_absent(tmp_path, monkeypatch, capsys):
    from wm_jax import cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli, "__file__", str(tmp_path / "site-packages" / "wm_jax" / "cli.py"))
    assert main(["parity"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "parity_tests/" in err and "git clone" in err and "\n" not in err
