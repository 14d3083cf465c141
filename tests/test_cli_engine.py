"""The engine's options from the command line: every flag reaches the model, the metrics and the files."""

import json

import numpy as np
import pytest

from wm_jax.cli import main


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "cartpole.npz"
    assert main(["collect", "--out", str(path), "--transitions", "1200", "--seed", "2"]) == 0
    return str(path)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, dataset):
    out = tmp_path_factory.mktemp("run") / "pets"
    code = main(["train", "--data", dataset, "--out", str(out), "--model", "ensemble", "--members", "4",
                 "--epochs", "6", "--horizon", "8", "--delta", "--normalize", "--probabilistic", "--reward-head",
                 "--termination-head", "--bootstrap", "--early-stopping-patience", "3", "--elites", "3", "--plots"])
    assert code == 0
    return out


@pytest.mark.slow  # end to end (the module's trained run)
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


@pytest.mark.slow  # end to end: evaluate in three modes
def test_evaluate_takes_a_prediction_mode_and_reports_uncertainty(tmp_path, trained, dataset):
    results = {}
    for mode in ("mean", "ts1", "tsinf"):
        path = tmp_path / f"{mode}.json"
        assert main(["evaluate", "--checkpoint", str(trained), "--data", dataset, "--horizon", "8", "--mode", mode,
                     "--sample", "--json", str(path), "--plots", str(tmp_path / "plots")]) == 0
        results[mode] = json.loads(path.read_text())
        assert results[mode]["mode"] == mode and results[mode]["sample"] is True
    assert results["ts1"]["rollout"]["mse"] != results["mean"]["rollout"]["mse"]
    assert results["mean"]["uncertainty"]["nll"] == pytest.approx(results["ts1"]["uncertainty"]["nll"])
    assert (tmp_path / "plots" / "calibration.png").exists()


@pytest.mark.slow  # end to end (the module's trained run)
def test_predict_writes_every_members_heads_in_environment_units(tmp_path, trained, dataset):
    from wm_jax.data import load_dataset

    out = tmp_path / "pred.npz"
    assert main(["predict", "--checkpoint", str(trained), "--data", dataset, "--out", str(out)]) == 0
    data = load_dataset(dataset).transitions
    with np.load(out) as pred:
        assert pred["mean"].shape == pred["var"].shape == (4, data.size, 4)
        assert pred["reward"].shape == pred["termination_prob"].shape == (4, data.size)
        assert (pred["var"] > 0).all() and ((pred["termination_prob"] >= 0) & (pred["termination_prob"] <= 1)).all()
        assert sorted(pred["elites"].tolist()) == sorted(json.loads((trained / "model.json").read_text())["elites"])
        # Environment units: the members' mean is close to the real next state (a delta model adds the state back).
        error = np.abs(pred["mean"].mean(axis=0) - data.next_states).mean()
        assert error < 0.1 * np.abs(data.next_states).mean(), error


@pytest.mark.slow  # end to end: train and predict
def test_a_plain_model_has_no_uncertainty_block_and_predict_writes_only_the_mean(tmp_path, dataset):
    out = tmp_path / "simple"
    assert main(["train", "--data", dataset, "--out", str(out), "--epochs", "2", "--horizon", "4"]) == 0
    assert "uncertainty" not in json.loads((out / "metrics.json").read_text())["held_out"]
    assert main(["predict", "--checkpoint", str(out), "--data", dataset, "--out", str(tmp_path / "p.npz")]) == 0
    with np.load(tmp_path / "p.npz") as pred:
        assert sorted(pred.files) == ["elites", "mean"]


@pytest.mark.slow  # end to end: a whole train command
def test_train_that_stops_early_exits_zero_and_says_how_many_epochs_ran(tmp_path, dataset):
    """Patience 1 over 300 epochs stops long before the end; the command must finish and report it."""
    out = tmp_path / "stopped"
    assert main(["train", "--data", dataset, "--out", str(out), "--model", "ensemble", "--members", "2",
                 "--epochs", "300", "--early-stopping-patience", "1", "--horizon", "5"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    ran = metrics["epochs_trained"]
    assert ran == metrics["training"]["epochs_trained"] < 300, "early stopping must have ended the run"
    assert metrics["epochs"] == 300 and len(metrics["loss_curve"]) == ran
    assert all(len(curve) == ran for curve in metrics["member_loss_curves"])
