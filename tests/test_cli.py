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


def test_collect_train_evaluate_end_to_end(tmp_path, dataset, capsys):
    out = tmp_path / "run"
    code = main(["train", "--data", dataset, "--eval-data", dataset, "--model", "ensemble", "--members", "3",
                 "--epochs", "3", "--out", str(out)])
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("model", "members", "epochs", "batch_size", "params", "train_mse", "eval_mse",
                "member_eval_mse", "loss_curve", "train_seconds", "compile_seconds"):
        assert key in metrics, key
    assert metrics["members"] == 3 and len(metrics["member_eval_mse"]) == 3 and len(metrics["loss_curve"]) == 3
    assert metrics["params"] == 3 * 2596
    assert main(["evaluate", "--checkpoint", str(out), "--data", dataset, "--json", str(tmp_path / "s.json")]) == 0
    scores = json.loads((tmp_path / "s.json").read_text())
    assert scores["mse"] == pytest.approx(metrics["eval_mse"], rel=1e-6)


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
        (["train", "--data", "{data}", "--out", "{tmp}/o", "--members", "3"], "applies only to --model ensemble"),
        (["train", "--data", "{tmp}/garbage.npz", "--out", "{tmp}/o"], "not a .npz archive"),
        (["evaluate", "--checkpoint", "{tmp}", "--data", "{data}"], "no such file"),
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


def test_demo_quick_writes_report_plots_and_metrics(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--quick", "--out", str(out), "--transitions", "300", "--epochs", "2"]) == 0
    text = capsys.readouterr().out
    for step in range(1, 9):
        assert f"\n{step}. " in text or text.startswith(f"{step}. "), f"step {step} missing from the report"
    assert "2596 parameters" in text
    assert (out / "world_models_training.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "trajectory_predictions.png").stat().st_size > 10_000
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["models"]) == {"simple", "regularized", "ensemble"}
    assert metrics["models"]["ensemble"]["members"] == 5


def _key_structure(value):
    if isinstance(value, dict):
        return {k: _key_structure(v) for k, v in value.items()}
    return type(value).__name__ if not isinstance(value, (int, float)) else "number"


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
