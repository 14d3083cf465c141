"""The host loop: progress chunks, fitting from raw actions, early stopping, engine options refused,
calibration, and delta and normalisation against the raw recipe."""

import dataclasses

import numpy as np
import pytest

from tests.helpers import cartpole_spec, programs_built
from wm_jax.config import TrainConfig, tutorial_model_config
from wm_jax.models import spec_for_env
from wm_jax.training import fit, progress_chunk_epochs


def test_progress_chunks_divide_the_epochs():
    assert progress_chunk_epochs(100) == 5 and progress_chunk_epochs(7) == 1 and progress_chunk_epochs(40) == 2
    for epochs in (1, 13, 60, 100, 250):
        assert epochs % progress_chunk_epochs(epochs) == 0


@pytest.mark.slow  # two trainings
def test_onehot_and_index_encodings_train_from_raw_actions(cartpole_small):

    for encoding, width in (("index", 1), ("onehot", 2)):
        spec = spec_for_env("CartPole-v1", tutorial_model_config("simple"), encoding)
        assert spec.action_dim == width
        fitted = fit(spec, TrainConfig(epochs=3), cartpole_small, seed=0)
        assert fitted.loss_curve[-1, 0] < fitted.loss_curve[0, 0]


@pytest.mark.slow  # two 20-epoch trainings
def test_delta_and_normalisation_beat_the_raw_recipe_on_cartpole(cartpole_small):
    """The issue's headline effect, on a small budget: the raw recipe fights the states' scales."""
    from wm_jax.evaluation import score

    train, held_out = cartpole_small.take(slice(0, 480)), cartpole_small.take(slice(480, 600))
    raw = fit(cartpole_spec(1), TrainConfig(epochs=20), train, seed=0)
    improved = fit(cartpole_spec(1, delta=True, normalize=True), TrainConfig(epochs=20), train, seed=0)
    raw_mse, improved_mse = score(raw.ensemble, held_out).mse, score(improved.ensemble, held_out).mse
    assert improved_mse < raw_mse / 3, f"delta+normalize {improved_mse:.3e} vs raw {raw_mse:.3e}"


@pytest.mark.slow  # trains until it stops
def test_early_stopping_stops_and_restores_each_members_best_weights(cartpole_small):
    """A learning rate too high to settle makes validation wander; the run stops within patience of
    its last improvement and every member ends at the weights of its best validation epoch."""
    spec = cartpole_spec(3)
    config = TrainConfig(epochs=60, learning_rate=0.05, early_stopping_patience=3, elites=2)
    fitted = fit(spec, config, cartpole_small, seed=0)
    curve = fitted.validation_curve
    assert fitted.epochs_trained < 60 and curve.shape == (fitted.epochs_trained, 3)
    np.testing.assert_allclose(fitted.validation_scores, curve.min(axis=0), rtol=1e-6)
    assert sorted(fitted.ensemble.elites.tolist()) == sorted(np.argsort(fitted.validation_scores)[:2].tolist())


def test_bad_engine_options_are_one_line_errors(cartpole_small):
    from wm_jax.config import ConfigError
    from wm_jax.data import DataError

    with pytest.raises(ConfigError, match="elites"):
        fit(cartpole_spec(2), TrainConfig(epochs=1, elites=3), cartpole_small, seed=0)
    with pytest.raises(ConfigError, match="patience"):
        TrainConfig(early_stopping_patience=-1)
    no_rewards = cartpole_small._replace(rewards=None)
    with pytest.raises(DataError, match="reward"):
        fit(cartpole_spec(1, reward_head=True), TrainConfig(epochs=1), no_rewards, seed=0)
    with pytest.raises(DataError, match="validation"):
        fit(cartpole_spec(2), TrainConfig(epochs=1, elites=1), cartpole_small._replace(episode=None), seed=0)
    assert dataclasses.replace(TrainConfig(), elites=1).needs_validation
    pendulum = spec_for_env("Pendulum-v1", tutorial_model_config("simple"))  # 3 state dims, CartPole's are 4
    with pytest.raises(DataError, match=r"the data does not fit the model: states must be rows \(N, 3\)"):
        fit(pendulum, TrainConfig(epochs=1), cartpole_small, seed=0)


def test_fit_takes_a_dataset_and_the_public_functions_take_what_fit_returns(cartpole_small):
    import wm_jax as wm

    rows = cartpole_small
    dataset = wm.Dataset.from_arrays(
        "CartPole-v1",
        rows.states,
        rows.actions,
        rows.next_states,
        rows.rewards,
        rows.terminated,
        rows.truncated,
        rows.episode,
    )
    fitted = fit(cartpole_spec(2), TrainConfig(epochs=1), dataset, seed=0)
    same = fit(cartpole_spec(2), TrainConfig(epochs=1), cartpole_small, seed=0)
    states, actions = cartpole_small.states[:7], cartpole_small.actions[:7]
    np.testing.assert_array_equal(
        wm.predict(fitted, states, actions).mean, wm.predict(same.ensemble, states, actions).mean
    )
    lower, upper = wm.predictive_interval(fitted, states, actions, levels=(0.9,))
    assert lower.shape == upper.shape == (1, 7, 4)
    with pytest.raises(TypeError, match="expected a model .* got dict"):
        wm.predict({}, states, actions)


@pytest.mark.slow  # two trainings and a save
def test_calibrate_flag_recalibrates_the_predictive_distribution_and_it_is_saved(cartpole_small, tmp_path):
    from wm_jax.checkpoint import load_checkpoint, save_checkpoint
    from wm_jax.config import ConfigError
    from wm_jax.intervals import is_identity

    spec = cartpole_spec(2, probabilistic=True, delta=True, normalize=True)
    plain = fit(spec, TrainConfig(epochs=3), cartpole_small, seed=0)
    recalibrated = fit(spec, TrainConfig(epochs=3, calibrate=True), cartpole_small, seed=0)
    assert is_identity(plain.ensemble.calibration) and not is_identity(recalibrated.ensemble.calibration)
    save_checkpoint(recalibrated.ensemble, str(tmp_path))
    for saved, loaded in zip(recalibrated.ensemble.calibration, load_checkpoint(str(tmp_path)).calibration):
        np.testing.assert_array_equal(saved, loaded)
    with pytest.raises(ConfigError, match="predictive spread"):
        fit(cartpole_spec(1), TrainConfig(epochs=1, calibrate=True), cartpole_small, seed=0)


def test_a_second_fit_of_the_same_settings_and_shapes_builds_no_program(cartpole_small):
    """The run's programs are jitted once per process with the program static: a second `fit` of equal
    settings on data of the same shapes (here the same data, with validation and elites) traces, lowers
    and compiles nothing, and trains to the same weights."""
    import jax

    def settings():  # built afresh each time: equal, not the same objects
        return cartpole_spec(2), TrainConfig(epochs=2, elites=1)

    first = fit(*settings(), cartpole_small, seed=0)
    second = []
    assert programs_built(lambda: second.append(fit(*settings(), cartpole_small, seed=0))) == []
    assert jax.tree.all(jax.tree.map(np.array_equal, first.params, second[0].params))


def test_runs_that_differ_only_where_a_step_never_reads_share_its_programs(cartpole_small):
    """The jitted steps key on the program's `step_form` and `initialization_form`: a run that differs
    from an earlier one only in its length, elites, calibration or validation share builds no program, and
    one with other rates builds a training step but not the initialisation (Adam's state is the same)."""
    import jax

    from wm_jax.training import make_train
    from wm_jax.training.loop import train_timed

    spec = cartpole_spec(2)

    def run(**settings):
        program = make_train(spec, TrainConfig(**{"weight_decay": 1e-4, **settings}))
        return train_timed(program, jax.random.key(0), cartpole_small, chunk_epochs=2)

    run(epochs=4)
    longer = []
    assert programs_built(lambda: longer.append(run(epochs=6, elites=1, calibrate=True, validation_fraction=0.3))) == []
    assert len(longer[0].loss_curve) == 6
    rebuilt = {name for _, name in programs_built(lambda: run(epochs=4, learning_rate=3e-3, weight_decay=2e-4))}
    assert "train_chunk" in rebuilt and "_init_and_start" not in rebuilt
