"""`wm-jax predict` end to end: every member's heads in environment units, a plain model's mean, and the
calibrated bounds of --levels, whose coverage is what evaluate reports."""

import json
from statistics import NormalDist

import numpy as np
import pytest

from wm_jax.cli import main


@pytest.mark.slow  # end to end (the session's trained run)
def test_predict_writes_every_members_heads_in_environment_units(tmp_path, trained, engine_dataset):
    from wm_jax.data import load_dataset

    out = tmp_path / "pred.npz"
    assert main(["predict", "--checkpoint", str(trained), "--data", engine_dataset, "--out", str(out)]) == 0
    data = load_dataset(engine_dataset).transitions
    with np.load(out) as pred:
        assert pred["mean"].shape == pred["var"].shape == (4, data.size, 4)
        assert pred["reward"].shape == pred["termination_prob"].shape == (4, data.size)
        assert (pred["var"] > 0).all() and ((pred["termination_prob"] >= 0) & (pred["termination_prob"] <= 1)).all()
        assert sorted(pred["elites"].tolist()) == sorted(json.loads((trained / "model.json").read_text())["elites"])
        # Environment units: the members' mean is close to the real next state (a delta model adds the state back).
        error = np.abs(pred["mean"].mean(axis=0) - data.next_states).mean()
        assert error < 0.1 * np.abs(data.next_states).mean(), error


@pytest.mark.slow  # end to end: train and predict
def test_a_plain_model_has_no_uncertainty_block_and_predict_writes_only_the_mean(tmp_path, engine_dataset):
    out = tmp_path / "simple"
    assert main(["train", "--data", engine_dataset, "--out", str(out), "--epochs", "2", "--horizon", "4"]) == 0
    assert "uncertainty" not in json.loads((out / "metrics.json").read_text())["held_out"]
    assert main(["predict", "--checkpoint", str(out), "--data", engine_dataset, "--out", str(tmp_path / "p.npz")]) == 0
    with np.load(tmp_path / "p.npz") as pred:
        assert sorted(pred.files) == ["elites", "mean"]


def _coverage(lower, upper, targets):
    return ((lower <= targets) & (targets <= upper)).mean(axis=0)


@pytest.mark.slow  # end to end: train, predict, evaluate
def test_predict_levels_write_the_calibrated_bounds_whose_coverage_evaluate_reports(tmp_path):
    """`wm-jax predict --levels` and `wm-jax evaluate` on the same data: the written bounds cover exactly
    what evaluate reports, and they are not the plain Gaussian's bounds, which cover something else."""
    from wm_jax.data import load_dataset

    data_path, run = str(tmp_path / "cartpole.npz"), str(tmp_path / "run")
    assert main(["collect", "--out", data_path, "--transitions", "1500", "--seed", "3"]) == 0
    assert (
        main(
            [
                "train",
                "--data",
                data_path,
                "--out",
                run,
                "--model",
                "ensemble",
                "--members",
                "3",
                "--epochs",
                "8",
                "--horizon",
                "4",
                "--delta",
                "--normalize",
                "--probabilistic",
                "--calibrate",
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "predict",
                "--checkpoint",
                run,
                "--data",
                data_path,
                "--out",
                str(tmp_path / "p.npz"),
                "--levels",
                "0.5",
                "0.9",
            ]
        )
        == 0
    )
    assert (
        main(
            ["evaluate", "--checkpoint", run, "--data", data_path, "--horizon", "2", "--json", str(tmp_path / "e.json")]
        )
        == 0
    )
    targets = load_dataset(data_path).transitions.next_states
    reported = json.loads((tmp_path / "e.json").read_text())["uncertainty"]["coverage"]
    with np.load(tmp_path / "p.npz") as pred:
        for level, name in ((0.5, "50%"), (0.9, "90%")):
            written = _coverage(pred[f"lower_{level:g}"], pred[f"upper_{level:g}"], targets)
            np.testing.assert_allclose(written, reported[name]["per_dim"], atol=1e-12, err_msg=name)
            half_width = NormalDist().inv_cdf((1 + level) / 2) * np.sqrt(pred["predictive_var"].astype(np.float64))
            gaussian = _coverage(pred["predictive_mean"] - half_width, pred["predictive_mean"] + half_width, targets)
            assert np.abs(gaussian - written).max() > 0.01, f"calibration moves the {name} interval's coverage"


def test_bad_levels_are_one_line_errors(tmp_path, capsys):
    assert (
        main(
            [
                "predict",
                "--checkpoint",
                str(tmp_path),
                "--data",
                str(tmp_path / "d.npz"),
                "--out",
                str(tmp_path / "p.npz"),
                "--levels",
                "1.5",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "--levels" in err and "\n" not in err
