"""`wm-jax evaluate` end to end: after collect and train, on every environment, with one-hot actions,
refusing another environment's data, and in every prediction mode."""

import json

import pytest

from wm_jax.cli import main


@pytest.mark.slow  # end to end: collect, train, evaluate
def test_collect_train_evaluate_end_to_end(tmp_path, dataset, engine_dataset, capsys):
    out = tmp_path / "run"
    held_out_file = engine_dataset  # other episodes (seed 2) than the training file's (seed 1)
    code = main(
        [
            "train",
            "--data",
            dataset,
            "--eval-data",
            held_out_file,
            "--model",
            "ensemble",
            "--members",
            "3",
            "--epochs",
            "3",
            "--horizon",
            "12",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    for key in (
        "model",
        "members",
        "epochs",
        "batch_size",
        "params",
        "train_mse",
        "eval_mse",
        "member_eval_mse",
        "loss_curve",
        "train_seconds",
        "compile_seconds",
        "env_id",
        "split",
        "held_out",
    ):
        assert key in metrics, key
    assert metrics["members"] == 3 and len(metrics["member_eval_mse"]) == 3 and len(metrics["loss_curve"]) == 3
    assert metrics["params"] == 3 * 2596
    held_out = metrics["held_out"]
    assert held_out["one_step_mse"] == pytest.approx(metrics["eval_mse"], rel=1e-5)
    assert held_out["rollout"]["horizons"] == list(range(1, 13)) and len(held_out["rollout"]["member_mse"]) == 3
    assert set(held_out["baselines"]) == {"identity", "linear"}
    assert (
        main(
            [
                "evaluate",
                "--checkpoint",
                str(out),
                "--data",
                held_out_file,
                "--horizon",
                "12",
                "--json",
                str(tmp_path / "s.json"),
            ]
        )
        == 0
    )
    scores = json.loads((tmp_path / "s.json").read_text())
    assert scores["one_step_mse"] == pytest.approx(metrics["eval_mse"], rel=1e-5)
    assert scores["rollout"]["mse"] == pytest.approx(held_out["rollout"]["mse"], rel=1e-5, nan_ok=True)
    assert len(scores["rollout"]["member_mse"]) == 3
    for name in ("identity", "linear"):
        assert scores["baselines"][name]["one_step_mse"] == pytest.approx(held_out["baselines"][name]["one_step_mse"])
        assert len(scores["baselines"][name]["rollout_mse"]) == 12
    # A horizon longer than every episode: the table says why its last columns are nan, and where to stop.
    capsys.readouterr()
    assert main(["evaluate", "--checkpoint", str(out), "--data", dataset, "--horizon", "400"]) == 0
    text = capsys.readouterr().out
    note = text.split("no episode in the data has more than ")[1]
    longest = int(note.split()[0])
    assert 12 <= longest < 400 and f"horizons {longest + 1}-400 start nowhere" in note
    assert f"--horizon {longest} stops there" in note


@pytest.mark.parametrize("env_id", ["Acrobot-v1", "MountainCar-v0", "MountainCarContinuous-v0", "Pendulum-v1"])
@pytest.mark.slow  # end to end, once per environment
def test_every_command_works_for_the_other_environments(tmp_path, env_id):
    data, run = tmp_path / "d.npz", tmp_path / "run"
    assert main(["collect", "--env", env_id, "--out", str(data), "--transitions", "300", "--backend", "jax"]) == 0
    assert (
        main(
            [
                "train",
                "--data",
                str(data),
                "--model",
                "ensemble",
                "--members",
                "2",
                "--epochs",
                "1",
                "--horizon",
                "5",
                "--out",
                str(run),
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "evaluate",
                "--checkpoint",
                str(run),
                "--data",
                str(data),
                "--horizon",
                "5",
                "--json",
                str(tmp_path / "s.json"),
            ]
        )
        == 0
    )
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
    assert (
        main(["collect", "--env", "MountainCarContinuous-v0", "--out", str(car_continuous), "--transitions", "50"]) == 0
    )
    assert main(["train", "--data", str(car), "--epochs", "1", "--out", str(run)]) == 0
    capsys.readouterr()
    assert main(["evaluate", "--checkpoint", str(run), "--data", str(car_continuous)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "MountainCarContinuous-v0" in err and "\n" not in err
    # The library refuses as the command does: another environment's data, and a horizon beyond the data.
    import wm_jax as wm
    from wm_jax.errors import UserError

    model = wm.load_model(str(run))
    with pytest.raises(UserError, match="collected from MountainCarContinuous-v0, but the model is for MountainCar-v0"):
        wm.evaluate(model, wm.load_dataset(str(car_continuous)), horizon=3)
    with pytest.raises(UserError, match=r"horizon must be in \[1, 300\]"):
        wm.evaluate(model, wm.load_dataset(str(car)), horizon=301)


@pytest.mark.slow  # end to end: evaluate in three modes
def test_evaluate_takes_a_prediction_mode_and_reports_uncertainty(tmp_path, trained, engine_dataset):
    results = {}
    for mode in ("mean", "ts1", "tsinf"):
        path = tmp_path / f"{mode}.json"
        assert (
            main(
                [
                    "evaluate",
                    "--checkpoint",
                    str(trained),
                    "--data",
                    engine_dataset,
                    "--horizon",
                    "8",
                    "--mode",
                    mode,
                    "--sample",
                    "--json",
                    str(path),
                    "--plots",
                    str(tmp_path / "plots"),
                ]
            )
            == 0
        )
        results[mode] = json.loads(path.read_text())
        assert results[mode]["mode"] == mode and results[mode]["sample"] is True
    assert results["ts1"]["rollout"]["mse"] != results["mean"]["rollout"]["mse"]
    assert results["mean"]["uncertainty"]["nll"] == pytest.approx(results["ts1"]["uncertainty"]["nll"])
    assert (tmp_path / "plots" / "calibration.png").exists()
