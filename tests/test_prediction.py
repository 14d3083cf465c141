"""The model-level prediction API (`wm_jax.models.prediction`): raw actions in, every mode, and
calibrated intervals that agree with the coverage evaluation reports."""

import json
from statistics import NormalDist

import jax
import numpy as np
import pytest

from wm_jax.cli import main
from wm_jax.config import ModelConfig
from wm_jax.models import ensemble_of, init_ensemble_params, predict_members, spec_for_env
from wm_jax.models.prediction import ROWS_PER_CALL, predict


def _cartpole_model(members=3, onehot=False):
    spec = spec_for_env("CartPole-v1", ModelConfig(kind="ensemble", members=members, delta=True, probabilistic=True),
                        "onehot" if onehot else None)
    return ensemble_of(spec, init_ensemble_params(spec, jax.random.key(0)))


def test_predict_encodes_raw_actions_itself():
    model = _cartpole_model(onehot=True)
    states = np.random.default_rng(0).normal(size=(6, 4)).astype(np.float32)
    actions = np.array([0, 1, 1, 0, 1, 0])
    encoded = np.eye(2, dtype=np.float32)[actions]
    members = predict_members(model.graphdef, model.params, states, encoded, model.normalizer)
    np.testing.assert_allclose(predict(model, states, actions, mode="members").mean, members, rtol=1e-6)
    np.testing.assert_allclose(predict(model, states, actions).mean, members.mean(axis=0), rtol=1e-6)


def test_sampling_modes_need_a_key_and_sampling_draws_from_the_gaussian():
    model = _cartpole_model()
    states, actions = np.zeros((4, 4), np.float32), np.zeros(4, np.int32)
    for mode in ("ts1", "tsinf"):
        with pytest.raises(ValueError, match="key"):
            predict(model, states, actions, mode=mode)
    mean = predict(model, states, actions).mean
    sampled = predict(model, states, actions, key=jax.random.key(0), sample=True).mean
    assert not np.allclose(sampled, mean), "probabilistic members' noise moves the sample"


def test_many_rows_go_through_in_chunks_with_the_same_result(monkeypatch):
    import wm_jax.models.prediction as prediction

    model = _cartpole_model()
    rng = np.random.default_rng(1)
    states, actions = rng.normal(size=(10, 4)).astype(np.float32), rng.integers(0, 2, 10)
    whole = predict(model, states, actions, mode="members")
    monkeypatch.setattr(prediction, "ROWS_PER_CALL", 4)
    chunked = predict(model, states, actions, mode="members")
    assert chunked.mean.shape == whole.mean.shape == (3, 10, 4) and ROWS_PER_CALL > 10
    np.testing.assert_allclose(chunked.mean, whole.mean, rtol=1e-6)
    np.testing.assert_allclose(chunked.logvar, whole.logvar, rtol=1e-6)


def _coverage(lower, upper, targets):
    return ((lower <= targets) & (targets <= upper)).mean(axis=0)


@pytest.mark.slow  # end to end: train, predict, evaluate
def test_predict_levels_write_the_calibrated_bounds_whose_coverage_evaluate_reports(tmp_path):
    """`wm-jax predict --levels` and `wm-jax evaluate` on the same data: the written bounds cover exactly
    what evaluate reports, and they are not the plain Gaussian's bounds, which cover something else."""
    from wm_jax.data import load_dataset

    data_path, run = str(tmp_path / "cartpole.npz"), str(tmp_path / "run")
    assert main(["collect", "--out", data_path, "--transitions", "1500", "--seed", "3"]) == 0
    assert main(["train", "--data", data_path, "--out", run, "--model", "ensemble", "--members", "3",
                 "--epochs", "8", "--horizon", "4", "--delta", "--normalize", "--probabilistic", "--calibrate"]) == 0
    assert main(["predict", "--checkpoint", run, "--data", data_path, "--out", str(tmp_path / "p.npz"),
                 "--levels", "0.5", "0.9"]) == 0
    assert main(["evaluate", "--checkpoint", run, "--data", data_path, "--horizon", "2",
                 "--json", str(tmp_path / "e.json")]) == 0
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
    assert main(["predict", "--checkpoint", str(tmp_path), "--data", str(tmp_path / "d.npz"),
                 "--out", str(tmp_path / "p.npz"), "--levels", "1.5"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "--levels" in err and "\n" not in err
