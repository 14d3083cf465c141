"""Sweeps: every configuration of one compiled program trains as it would alone, the choice is made
on validation data, a diverging configuration does not take the others down, and `wm-jax sweep`
writes a table, a plot and a model `wm-jax evaluate` can read."""

import csv
import dataclasses
import json

import jax
import numpy as np
import pytest

from wm_jax.cli import main
from wm_jax.config import ConfigError, ModelConfig, TrainConfig
from wm_jax.data import split_by_episode
from wm_jax.evaluation import score
from wm_jax.models import spec_for_data
from wm_jax.training import fit
from wm_jax.training.sweep import Configuration, SweepGrid, SweepResult, run_sweep


@pytest.fixture(scope="module")
def split(cartpole_small):
    return split_by_episode(cartpole_small, 0.25, seed=0)


@pytest.mark.slow  # a sweep program and four fit programs
def test_every_configuration_trains_exactly_as_fit_trains_it_alone(split):
    spec = spec_for_data("CartPole-v1", split.train, ModelConfig(kind="ensemble", members=2))
    config = TrainConfig(epochs=3)
    grid = SweepGrid((1e-3, 1e-2), (0.0, 1e-3), (0, 1))
    result = run_sweep(spec, config, split.train, grid, validation=split.held_out, held_out=split.held_out)
    assert len(result.configurations) == 8 and result.loss_curves.shape == (8, 3, 2)
    # Each checked configuration differs from the default (lr 1e-3, wd 0, seed 0) in one swept value.
    for index in (0, 4, 2, 1, 7):
        chosen = result.configurations[index]
        alone = fit(spec, dataclasses.replace(config, learning_rate=chosen.learning_rate,
                                              weight_decay=chosen.weight_decay), split.train, chosen.seed)
        for mine, theirs in zip(jax.tree.leaves(result.params), jax.tree.leaves(alone.params)):
            np.testing.assert_allclose(np.asarray(mine)[index], np.asarray(theirs), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(result.loss_curves[index], alone.loss_curve, rtol=1e-5)
        np.testing.assert_allclose(result.held_out_mse[index], score(alone.ensemble, split.held_out).mse, rtol=1e-4)
        np.testing.assert_allclose(score(result.ensemble(index), split.held_out).mse, result.held_out_mse[index], rtol=1e-4)


@pytest.mark.slow  # a sweep program and two fit programs
def test_configurations_sharing_a_seed_keep_every_random_draw_of_their_own_run(split):
    # Dropout, per-member shuffles and bootstrap all derive from the seed, which the pairs of a seed share.
    spec = spec_for_data("CartPole-v1", split.train, ModelConfig(kind="ensemble", members=2, dropout_rate=0.2,
                                                                 probabilistic=True, delta=True, normalize=True))
    config = TrainConfig(epochs=2, bootstrap=True, shuffle="per_member")
    result = run_sweep(spec, config, split.train, SweepGrid((1e-3, 3e-3), (0.0,), (0, 1)), validation=split.held_out)
    for index in (1, 2):
        chosen = result.configurations[index]
        alone = fit(spec, dataclasses.replace(config, learning_rate=chosen.learning_rate), split.train, chosen.seed)
        for mine, theirs in zip(jax.tree.leaves(result.params), jax.tree.leaves(alone.params)):
            np.testing.assert_allclose(np.asarray(mine)[index], np.asarray(theirs), rtol=1e-5, atol=1e-6)


def _result(validation, held_out, seeds=2, loss=None):
    pairs = [(1e-3, 0.0), (3e-3, 0.0)]
    configurations = [Configuration(lr, wd, s) for lr, wd in pairs for s in range(seeds)]
    n = len(configurations)
    curves = np.ones((n, 1, 1)) if loss is None else np.asarray(loss, float).reshape(n, 1, 1)
    return SweepResult(None, configurations, None, None, curves, np.asarray(validation, float),
                       np.asarray(held_out, float), 0.0, 0.0)


def test_the_choice_is_the_best_mean_validation_score_never_the_held_out_score():
    # lr 3e-3 wins on mean validation (2.0 vs 2.5) although lr 1e-3 holds the best single validation
    # run and the best held-out scores.
    result = _result(validation=[1.0, 4.0, 2.1, 1.9], held_out=[0.1, 0.1, 5.0, 5.0])
    assert result.configurations[result.best] == Configuration(3e-3, 0.0, 1)
    rows = result.rows()
    assert [row["best"] for row in rows] == [False, False, False, True]
    summary = result.summary()
    assert summary[1]["validation_mse"]["mean"] == pytest.approx(2.0)
    assert summary[0]["held_out_mse"]["std"] == pytest.approx(0.0)


def test_a_diverged_run_is_never_chosen_and_counts_against_its_hyperparameters():
    result = _result(validation=[1.0, np.nan, 2.0, 2.0], held_out=[1.0, np.nan, 2.0, 2.0])
    assert result.diverged.tolist() == [False, True, False, False]
    assert result.configurations[result.best].learning_rate == 3e-3
    assert result.summary()[0]["diverged"] == 1
    assert result.summary()[0]["validation_mse"]["mean"] == 1.0  # the finite runs' mean, beside the count
    result = _result(validation=[1.0, 3.0, 2.0, 2.0], held_out=[1.0, 1.0, 2.0, 2.0], loss=[1, np.inf, 1, 1])
    assert result.diverged.tolist() == [False, True, False, False]


@pytest.mark.slow  # a sweep program and a fit program
def test_a_diverging_configuration_leaves_the_others_untouched(split):
    spec = spec_for_data("CartPole-v1", split.train, ModelConfig())
    grid = SweepGrid((1e-3, 1e9))
    result = run_sweep(spec, TrainConfig(epochs=2), split.train, grid, validation=split.held_out)
    assert result.diverged.tolist() == [False, True]
    assert result.configurations[result.best].learning_rate == 1e-3
    alone = fit(spec, TrainConfig(epochs=2), split.train, 0)
    np.testing.assert_allclose(result.loss_curves[0], alone.loss_curve, rtol=1e-5)


def test_the_grid_refuses_what_cannot_be_swept(split):
    with pytest.raises(ConfigError, match="repeat a value"):
        SweepGrid((1e-3, 1e-3))
    with pytest.raises(ConfigError, match="at least one of its seeds"):
        SweepGrid((1e-3,), (0.0,), ())
    spec = spec_for_data("CartPole-v1", split.train, ModelConfig())
    with pytest.raises(ConfigError, match="early stopping, elites and calibration"):
        run_sweep(spec, TrainConfig(early_stopping_patience=3), split.train, SweepGrid((1e-3,)), validation=split.held_out)


@pytest.mark.slow  # end to end: collect, sweep, evaluate
def test_wm_jax_sweep_writes_a_table_a_plot_and_a_model_evaluate_reads(tmp_path, capsys):
    data, held_out = str(tmp_path / "train.npz"), str(tmp_path / "held_out.npz")
    assert main(["collect", "--out", data, "--transitions", "500", "--seed", "3"]) == 0
    assert main(["collect", "--out", held_out, "--transitions", "200", "--seed", "4"]) == 0
    out = tmp_path / "sweep"
    assert main(["sweep", "--data", data, "--eval-data", held_out, "--learning-rates", "1e-3", "1e-2", "--weight-decays", "0", "1e-4",
                 "--seeds", "2", "--model", "ensemble", "--members", "2", "--epochs", "2", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "chosen on validation" in printed
    with open(out / "sweep.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 8 and sum(row["best"] == "True" for row in rows) == 1
    assert {(row["learning_rate"], row["weight_decay"]) for row in rows} == {
        ("0.001", "0.0"), ("0.001", "0.0001"), ("0.01", "0.0"), ("0.01", "0.0001")}
    record = json.loads((out / "sweep.json").read_text())
    assert record["grid"]["seeds"] == [0, 1] and len(record["summary"]) == 4
    assert (out / "sweep.png").stat().st_size > 10_000
    best = record["best"]
    saved = json.loads((out / "best" / "baselines.json").read_text())["sweep"]
    assert saved == {"learning_rate": best["learning_rate"], "weight_decay": best["weight_decay"], "seed": best["seed"]}
    scores = tmp_path / "scores.json"
    assert main(["evaluate", "--checkpoint", str(out / "best"), "--data", held_out, "--horizon", "5",
                 "--json", str(scores)]) == 0
    evaluated = json.loads(scores.read_text())
    assert evaluated["members"] == 2
    assert np.mean(evaluated["per_dim_mse"]) == pytest.approx(best["held_out_mse"], rel=1e-4)


@pytest.mark.slow  # end to end: collect and sweep
def test_a_sweep_where_every_configuration_diverges_writes_its_table_and_chooses_none(tmp_path, capsys):
    data = str(tmp_path / "train.npz")
    assert main(["collect", "--out", data, "--transitions", "300", "--seed", "3"]) == 0
    out = tmp_path / "sweep"
    code = main(["sweep", "--data", data, "--learning-rates", "1e9", "1e10", "--epochs", "2", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "every configuration diverged" in err and "Traceback" not in err
    record = json.loads((out / "sweep.json").read_text())
    assert record["best"] is None and all(row["diverged"] for row in record["configurations"])
    assert not (out / "best").exists()
