"""Sweeps: every configuration of one compiled program trains as it would alone, the choice is made
on validation data, and a diverging configuration does not take the others down."""

import dataclasses

import jax
import numpy as np
import pytest

from tests.helpers import programs_built
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
        alone = fit(
            spec,
            dataclasses.replace(config, learning_rate=chosen.learning_rate, weight_decay=chosen.weight_decay),
            split.train,
            chosen.seed,
        )
        for mine, theirs in zip(jax.tree.leaves(result.params), jax.tree.leaves(alone.params)):
            np.testing.assert_allclose(np.asarray(mine)[index], np.asarray(theirs), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(result.loss_curves[index], alone.loss_curve, rtol=1e-5)
        np.testing.assert_allclose(result.held_out_mse[index], score(alone.ensemble, split.held_out).mse, rtol=1e-4)
        np.testing.assert_allclose(
            score(result.ensemble(index), split.held_out).mse, result.held_out_mse[index], rtol=1e-4
        )


@pytest.mark.slow  # a sweep program
def test_a_second_sweep_of_the_same_settings_builds_no_program(split):
    """Every program of a sweep is built once per process: an equal sweep (settings built afresh) on data of
    the same shapes traces, lowers and compiles nothing, and trains the same parameters."""

    def sweep():
        spec = spec_for_data("CartPole-v1", split.train, ModelConfig(kind="ensemble", members=2))
        grid = SweepGrid((1e-3, 1e-2), (0.0,), (0, 1))
        return run_sweep(spec, TrainConfig(epochs=2), split.train, grid, validation=split.held_out)

    first, second = sweep(), []
    assert programs_built(lambda: second.append(sweep())) == []
    assert jax.tree.all(jax.tree.map(np.array_equal, first.params, second[0].params))


@pytest.mark.slow  # a sweep program and two fit programs
def test_configurations_sharing_a_seed_keep_every_random_draw_of_their_own_run(split):
    # Dropout, per-member shuffles and bootstrap all derive from the seed, which the pairs of a seed share.
    spec = spec_for_data(
        "CartPole-v1",
        split.train,
        ModelConfig(kind="ensemble", members=2, dropout_rate=0.2, probabilistic=True, delta=True, normalize=True),
    )
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
    return SweepResult(
        None, configurations, None, None, curves, np.asarray(validation, float), np.asarray(held_out, float), 0.0, 0.0
    )


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
        run_sweep(
            spec, TrainConfig(early_stopping_patience=3), split.train, SweepGrid((1e-3,)), validation=split.held_out
        )


@pytest.mark.slow  # two sweep programs, one with a chunk per epoch
def test_a_sweep_in_chunks_of_one_epoch_equals_one_program(split, monkeypatch):
    """Sweeps run in chunks of about a second (Ctrl-C stops between them); the chunking changes nothing."""
    import wm_jax.training.sweep as sweep

    spec = spec_for_data("CartPole-v1", split.train, ModelConfig(kind="ensemble", members=2))
    grid = SweepGrid((1e-3, 3e-3), (0.0,), (0, 1))

    def run():
        return run_sweep(spec, TrainConfig(epochs=4), split.train, grid, validation=split.held_out)

    whole = run()
    monkeypatch.setattr(sweep, "TARGET_CHUNK_SECONDS", 1e-9)  # every chunk one epoch
    chunked = run()
    assert chunked.loss_curves.shape == whole.loss_curves.shape == (4, 4, 2)
    np.testing.assert_array_equal(chunked.loss_curves, whole.loss_curves)
    for a, b in zip(jax.tree.leaves(whole.params), jax.tree.leaves(chunked.params)):
        np.testing.assert_array_equal(a, b)
