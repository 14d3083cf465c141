"""`wm-jax train` end to end: held-out episodes, every engine flag in the saved model and the metrics,
early stopping, the progress bar on several devices, and a failed run that leaves old output alone."""

import json
import os

import numpy as np
import pytest

from wm_jax.cli import main


@pytest.mark.slow  # end to end: a whole train command
def test_train_holds_out_whole_episodes_and_records_them(tmp_path, dataset):
    out = tmp_path / "run"
    assert (
        main(["train", "--data", dataset, "--eval-fraction", "0.3", "--epochs", "2", "--seed", "4", "--out", str(out)])
        == 0
    )
    metrics = json.loads((out / "metrics.json").read_text())
    split = metrics["split"]
    assert split["method"] == "by episode" and split["seed"] == 4 and split["eval_fraction"] == 0.3

    from wm_jax.data import load_dataset, split_by_episode

    expected = split_by_episode(load_dataset(dataset).transitions, 0.3, seed=4)
    assert split["held_out_episodes"] == expected.held_out_episodes.tolist()
    assert metrics["held_out"]["transitions"] == expected.held_out.size == split["held_out_transitions"]
    assert json.loads((out / "baselines.json").read_text())["linear"]["weights"]
    assert json.loads((out / "model.json").read_text())["env_id"] == "CartPole-v1"


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


def test_failed_training_leaves_an_existing_output_untouched(tmp_path, dataset):
    out = tmp_path / "run"
    out.mkdir()
    (out / "metrics.json").write_text('{"keep": true}')
    assert main(["train", "--data", str(tmp_path / "absent.npz"), "--out", str(out)]) == 2
    assert (out / "metrics.json").read_text() == '{"keep": true}'
    assert sorted(os.listdir(out)) == ["metrics.json"]


@pytest.mark.slow  # end to end (the session's trained run)
def test_train_flags_reach_the_saved_model_and_the_metrics(trained):
    model = json.loads((trained / "model.json").read_text())
    for switch in ("delta", "normalize", "probabilistic", "reward_head", "termination_head"):
        assert model[switch] is True, switch
    assert len(model["elites"]) == 3
    metrics = json.loads((trained / "metrics.json").read_text())
    assert metrics["training"]["bootstrap"] and metrics["training"]["early_stopping_patience"] == 3
    assert sorted(metrics["training"]["elites"]) == sorted(model["elites"])
    held_out = metrics["held_out"]
    uncertainty = held_out["uncertainty"]
    assert set(uncertainty["coverage"]) == {"50%", "90%"} and len(uncertainty["coverage"]["90%"]["per_dim"]) == 4
    assert uncertainty["epistemic_std"]["out_of_distribution"] > uncertainty["epistemic_std"]["in_distribution"]
    assert held_out["reward"]["mse"] >= 0 and 0 <= held_out["termination"]["accuracy"] <= 1
    for plot in ("calibration.png", "epistemic.png"):
        assert (trained / plot).read_bytes()[:4] == b"\x89PNG"
    with np.load(trained / "params.npz") as archive:
        assert archive["normalizer.target_std"].shape == (4,) and (archive["normalizer.target_std"] > 0).all()


@pytest.mark.slow  # end to end: a whole train command
def test_train_that_stops_early_exits_zero_and_says_how_many_epochs_ran(tmp_path, engine_dataset):
    """Patience 1 over 300 epochs stops long before the end; the command must finish and report it."""
    out = tmp_path / "stopped"
    assert (
        main(
            [
                "train",
                "--data",
                engine_dataset,
                "--out",
                str(out),
                "--model",
                "ensemble",
                "--members",
                "2",
                "--epochs",
                "300",
                "--early-stopping-patience",
                "1",
                "--horizon",
                "5",
            ]
        )
        == 0
    )
    metrics = json.loads((out / "metrics.json").read_text())
    ran = metrics["epochs_trained"]
    assert ran == metrics["training"]["epochs_trained"] < 300, "early stopping must have ended the run"
    assert metrics["epochs"] == 300 and len(metrics["loss_curve"]) == ran
    assert all(len(curve) == ran for curve in metrics["member_loss_curves"])
