"""The engine's moving parts: chunks, the growing buffer, objectives and optimizers as parameters,
normalisation and deltas, bootstrap, early stopping, elites, probabilistic members and heads."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from wm_jax.config import ModelConfig, TrainConfig
from wm_jax.models import (
    ensemble_of,
    fit_normalizer,
    graphdef_of,
    init_ensemble_params,
    imagine,
    member_outputs,
    network_outputs,
    spec_for_env,
)
from wm_jax.models.prediction import members_numpy, predict
from wm_jax.training import (
    TrainingData,
    append,
    bootstrap_rows,
    fit,
    gaussian_nll,
    make_train,
    masked_mse,
    mse_loss,
    to_buffer,
    train_timed,
    valid_rows,
)


def cartpole_spec(members=3, **switches):
    return spec_for_env("CartPole-v1", ModelConfig(kind="ensemble" if members > 1 else "simple", members=members, **switches))


def leaves_equal(a, b):
    return all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


FEATURES = {
    "tutorial": ({}, {}),
    "everything": (dict(delta=True, normalize=True, probabilistic=True, reward_head=True, termination_head=True),
                   dict(bootstrap=True, shuffle="per_member", early_stopping_patience=2)),
}


@pytest.mark.parametrize("feature", sorted(FEATURES))
@pytest.mark.slow  # two whole runs per option set; tests/test_training.py checks chunks in the inner loop
def test_k_chunks_give_exactly_one_long_run(cartpole_small, feature):
    switches, options = FEATURES[feature]
    spec = cartpole_spec(3, **switches)
    config = TrainConfig(epochs=6, batch_size=64, **options)
    train, validation = cartpole_small.take(slice(0, 450)), cartpole_small.take(slice(450, 600))
    data = TrainingData(to_buffer(train), to_buffer(validation))
    program = make_train(spec, config)
    normalizer = fit_normalizer(train.states, spec.encode_actions(train.actions), train.next_states, train.rewards,
                                normalize=spec.config.normalize, delta=spec.config.delta)
    whole = train_timed(program, jax.random.key(3), data, normalizer=normalizer)
    chunked = train_timed(program, jax.random.key(3), data, chunk_epochs=2, normalizer=normalizer)
    np.testing.assert_array_equal(whole.loss_curve, chunked.loss_curve)
    assert leaves_equal(whole.params, chunked.params), "chunks must reproduce the one-program run bit for bit"


def test_rows_past_the_valid_size_are_never_used(cartpole_small):
    """Padding a buffer with garbage (NaN) rows beyond its size changes nothing."""
    spec, config = cartpole_spec(2), TrainConfig(epochs=2, batch_size=50)
    program = make_train(spec, config)
    clean = to_buffer(cartpole_small, capacity=800)
    poisoned = clean._replace(rows=jax.tree.map(
        lambda x: x.at[600:].set(jnp.nan) if x.dtype.kind == "f" else x, clean.rows))
    params = program.init(jax.random.key(0))
    run = jax.jit(lambda b: program.train_chunk(program.start(params, jax.random.key(1)), TrainingData(b), 2))
    a, b = run(clean), run(poisoned)
    assert np.isfinite(np.asarray(a[1].loss_curve)).all()
    np.testing.assert_array_equal(a[1].loss_curve, b[1].loss_curve)
    assert leaves_equal(a[0].params, b[0].params)


def test_a_growing_buffer_reuses_the_compiled_chunk_until_it_outgrows_its_capacity(cartpole_small):
    spec = cartpole_spec(2)
    program = make_train(spec, TrainConfig(epochs=1))
    chunk = jax.jit(lambda s, d: program.train_chunk(s, d, 1))
    state = program.start(program.init(jax.random.key(0)), jax.random.key(1))
    buffer = to_buffer(cartpole_small.take(slice(0, 100)), capacity=256)
    sizes, capacities = [], []
    for start in range(100, 600, 100):
        state, _ = chunk(state, TrainingData(buffer))
        sizes.append(int(buffer.size))
        capacities.append(buffer.capacity)
        buffer = append(buffer, cartpole_small.take(slice(start, start + 100)))
    assert sizes == [100, 200, 300, 400, 500] and capacities == [256, 256, 512, 512, 512]
    assert chunk._cache_size() == 2, "one compilation per capacity, none per size"
    assert buffer.capacity == 1024 and int(buffer.size) == 600
    np.testing.assert_array_equal(valid_rows(buffer).states, cartpole_small.states)
    np.testing.assert_array_equal(valid_rows(buffer).actions, cartpole_small.actions)


def test_the_masked_last_batch_equals_a_short_batch():
    rng = np.random.default_rng(0)
    prediction, target = rng.normal(size=(2, 32, 4)).astype(np.float32)
    mask = np.arange(32) < 12
    np.testing.assert_allclose(masked_mse(prediction, target, mask), mse_loss(prediction[:12], target[:12]), rtol=1e-6)
    full = masked_mse(prediction, target, np.ones(32))
    assert full == mse_loss(prediction, target), "a full batch is the tutorial's MSELoss exactly"


def test_gaussian_nll_is_mbrl_libs_formula_and_is_minimised_by_the_true_variance():
    rng = np.random.default_rng(1)
    target = rng.normal(size=(4000, 3)).astype(np.float32) * 0.5
    mean = np.zeros_like(target)
    value = gaussian_nll(mean, np.full_like(target, np.log(0.25)), target, np.ones(4000))
    np.testing.assert_allclose(value, np.mean(target**2 / 0.25 + np.log(0.25)), rtol=1e-5)
    others = [gaussian_nll(mean, np.full_like(target, np.log(v)), target, np.ones(4000)) for v in (0.1, 0.5)]
    assert value < min(others)


@pytest.mark.slow  # three training programs
def test_the_objective_and_the_optimizer_are_parameters(cartpole_small):
    spec = cartpole_spec(2)
    params = init_ensemble_params(spec, jax.random.key(0))
    config = TrainConfig(epochs=1)

    def zero_objective(member_params, batch, key):
        return 0.0 * jnp.sum(network_outputs(graphdef_of(spec), member_params, batch.states, batch.actions).mean), {}

    frozen, _ = jax.jit(make_train(spec, config, objective=zero_objective).run)(params, cartpole_small, jax.random.key(1))
    assert leaves_equal(frozen, params), "a zero objective moves no parameter"
    adam, _ = jax.jit(make_train(spec, config).run)(params, cartpole_small, jax.random.key(1))
    sgd, _ = jax.jit(make_train(spec, config, optimizer=optax.sgd(1e-3)).run)(params, cartpole_small, jax.random.key(1))
    assert not leaves_equal(adam, sgd) and not leaves_equal(sgd, params)


def test_predictions_come_out_in_environment_units_with_the_delta_added_back(cartpole_small):
    spec = cartpole_spec(1, delta=True, normalize=True)
    data = cartpole_small
    actions = spec.encode_actions(data.actions)
    normalizer = fit_normalizer(data.states, actions, data.next_states, data.rewards, normalize=True, delta=True)
    delta = data.next_states - data.states
    np.testing.assert_allclose(normalizer.target_mean, delta.mean(0), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(normalizer.input_std[:4], data.states.std(0), rtol=1e-4)
    params = jax.tree.map(lambda x: x[0], init_ensemble_params(spec, jax.random.key(0)))
    graphdef = graphdef_of(spec)
    states_n, actions_n = normalizer.inputs(data.states, actions)
    raw = network_outputs(graphdef, params, states_n, actions_n).mean
    expected = data.states + raw * normalizer.target_std + normalizer.target_mean
    np.testing.assert_allclose(member_outputs(graphdef, params, data.states, actions, normalizer=normalizer).mean, expected,
                               rtol=1e-5, atol=1e-6)


@pytest.mark.slow  # two 20-epoch trainings
def test_delta_and_normalisation_beat_the_raw_recipe_on_cartpole(cartpole_small):
    """The issue's headline effect, on a small budget: the raw recipe fights the states' scales."""
    from wm_jax.evaluation import score

    train, held_out = cartpole_small.take(slice(0, 480)), cartpole_small.take(slice(480, 600))
    raw = fit(cartpole_spec(1), TrainConfig(epochs=20), train, seed=0)
    improved = fit(cartpole_spec(1, delta=True, normalize=True), TrainConfig(epochs=20), train, seed=0)
    raw_mse, improved_mse = score(raw.ensemble, held_out).mse, score(improved.ensemble, held_out).mse
    assert improved_mse < raw_mse / 3, f"delta+normalize {improved_mse:.3e} vs raw {raw_mse:.3e}"


def test_bootstrap_resamples_are_per_member_fixed_across_epochs_and_within_the_valid_rows():
    rows = np.asarray(bootstrap_rows(jax.random.key(0), jnp.int32(500), 4, 1024))
    assert rows.shape == (4, 1024) and rows.min() >= 0 and rows[:, :500].max() < 500
    assert len({tuple(r[:500]) for r in rows}) == 4, "each member has its own resample"
    assert 0.55 < np.mean([len(np.unique(r[:500])) / 500 for r in rows]) < 0.72, "about 1 - 1/e distinct rows"
    np.testing.assert_array_equal(rows, bootstrap_rows(jax.random.key(0), jnp.int32(500), 4, 1024))


def test_bootstrap_members_fit_different_data(cartpole_small):
    spec = cartpole_spec(2)
    params = init_ensemble_params(spec, jax.random.key(0))
    one = jax.tree.map(lambda x: jnp.stack([x[0], x[0]]), params)  # two identical members
    shared, _ = jax.jit(make_train(spec, TrainConfig(epochs=1)).run)(one, cartpole_small, jax.random.key(1))
    boot, _ = jax.jit(make_train(spec, TrainConfig(epochs=1, bootstrap=True)).run)(one, cartpole_small, jax.random.key(1))
    assert all(np.array_equal(x[0], x[1]) for x in jax.tree.leaves(shared))
    assert not any(np.array_equal(x[0], x[1]) for x in jax.tree.leaves(boot))


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


def test_elites_choose_the_ensembles_prediction():
    spec = cartpole_spec(3)
    params = init_ensemble_params(spec, jax.random.key(0))
    model = ensemble_of(spec, params, elites=[2])
    states, actions = np.ones((5, 4), np.float32), np.ones(5, np.int32)
    members = predict(model, states, actions, mode="members")
    assert members.mean.shape == (3, 5, 4)
    np.testing.assert_allclose(predict(model, states, actions).mean, members.mean[2], rtol=1e-6)


def _followed_members(model, tracks, starts, actions):
    """(B, H) the member whose own one-step prediction each step of each track is, -1 where none is."""
    followed = np.full(tracks.shape[:2], -1)
    previous = np.asarray(starts)
    for h in range(tracks.shape[1]):
        members = np.asarray(predict(model, previous, actions[:, h], mode="members").mean)  # (E, B, S)
        match = np.all(members == np.asarray(tracks[:, h])[None], axis=-1)  # (E, B)
        followed[:, h] = np.where(match.any(axis=0), match.argmax(axis=0), -1)
        previous = np.asarray(tracks[:, h])
    return followed


def test_trajectory_sampling_picks_members_per_step_or_per_trajectory():
    spec = cartpole_spec(4, delta=True)
    model = ensemble_of(spec, init_ensemble_params(spec, jax.random.key(0)), elites=[1, 3])
    rng = np.random.default_rng(0)
    starts, actions = rng.normal(size=(256, 4)).astype(np.float32), rng.integers(0, 2, (256, 3))
    for mode in ("ts1", "tsinf"):
        tracks = imagine(model, jnp.asarray(starts), jnp.asarray(actions), jax.random.key(1), mode=mode,
                         trajectory=True).states
        followed = _followed_members(model, tracks, starts, actions)
        assert set(np.unique(followed)) == {1, 3}, f"{mode} draws only elites"
        keeps = np.all(followed == followed[:, :1], axis=1)
        if mode == "ts1":
            assert not keeps.all(), "TS-1 redraws members at every step"
        else:
            assert keeps.all(), "TS-inf keeps each row's member for the whole trajectory"


@pytest.mark.slow  # 30 epochs on 4,000 rows
def test_probabilistic_members_learn_calibrated_noise():
    """A noisy linear system with known noise std 0.1: the Gaussian members' 90% intervals cover
    about 90% of fresh data and the learned variance is close to the truth."""
    from wm_jax.evaluation.heads import uncertainty_block
    from wm_jax.models import ModelSpec
    from wm_jax.transitions import Transitions

    rng = np.random.default_rng(0)

    def system(n):
        states = rng.normal(size=(n, 2)).astype(np.float32)
        actions = rng.normal(size=(n, 1)).astype(np.float32)
        next_states = (0.9 * states + 0.5 * actions + 0.1 * rng.normal(size=(n, 2))).astype(np.float32)
        return Transitions(states, actions, next_states, episode=np.arange(n) // 50)

    spec = ModelSpec(2, 1, ModelConfig(kind="ensemble", members=3, probabilistic=True, normalize=True))
    fitted = fit(spec, TrainConfig(epochs=30, batch_size=64), system(4000), seed=0)
    test = system(4000)
    members = members_numpy(fitted.ensemble, test.states, test.actions)
    assert np.all(members.logvar <= 0.5 + 2 * np.log(fitted.ensemble.normalizer.target_std) + 1e-5)
    block = uncertainty_block(members, fitted.ensemble.elites, test)
    assert 0.85 <= block["coverage"]["90%"]["mean"] <= 0.95, block["coverage"]
    assert 0.08 < block["mean_aleatoric_std"] < 0.12


@pytest.mark.slow  # 40 epochs
def test_reward_and_termination_heads_learn_cartpoles(cartpole_small):
    from wm_jax.evaluation.heads import termination_block

    spec = cartpole_spec(1, normalize=True, delta=True, termination_head=True, reward_head=True)
    train, held_out = cartpole_small.take(slice(0, 450)), cartpole_small.take(slice(450, 600))
    fitted = fit(spec, TrainConfig(epochs=40), train, seed=0)
    members = members_numpy(fitted.ensemble, held_out.states, held_out.actions)
    assert members.reward.shape == members.termination_logit.shape == (1, 150)
    assert np.abs(members.reward - 1.0).mean() < 0.03  # CartPole pays 1 every step
    assert held_out.terminated.any()
    block = termination_block(members, fitted.ensemble.elites, held_out)
    assert block["auroc"] > 0.8, block  # chance is 0.5; 450 rows hold ~20 terminations


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


def test_calibration_makes_intervals_cover_what_they_claim_even_for_non_gaussian_residuals():
    """Residuals that are Laplace-distributed and a variance 16x too small: the NLL-optimal scale is
    the residuals' mean square, and on fresh data the recalibrated intervals cover 50% and 90%,
    which no single Gaussian scale achieves for Laplace residuals."""
    from wm_jax.evaluation.uncertainty import interval_coverage
    from wm_jax.intervals import fit_calibration

    rng = np.random.default_rng(0)

    def residuals():
        return rng.laplace(size=(20000, 2)) * np.array([0.4, 2.0])

    variance = np.broadcast_to(np.array([0.4, 2.0]) ** 2 / 16, (20000, 2))
    mean = np.zeros((20000, 2))
    validation = residuals()
    calibration = fit_calibration(mean, variance, validation)
    np.testing.assert_allclose(np.exp(calibration.log_scale), 16 * 2, rtol=0.05)  # Laplace(b) has variance 2 b^2
    test = residuals()
    scaled = variance * np.exp(calibration.log_scale)
    coverage = interval_coverage(mean, scaled, test, (0.5, 0.9), calibration)
    np.testing.assert_allclose(coverage[0.5], 0.5, atol=0.015)
    np.testing.assert_allclose(coverage[0.9], 0.9, atol=0.015)
    uncalibrated = interval_coverage(mean, scaled, test, (0.5, 0.9))
    assert np.all(uncalibrated[0.5] > 0.55), "the Gaussian scale alone over-covers at 50% for Laplace residuals"


@pytest.mark.slow  # two trainings and a save
def test_calibrate_flag_recalibrates_the_predictive_distribution_and_it_is_saved(cartpole_small, tmp_path):
    from wm_jax.checkpoint import load_checkpoint, save_checkpoint
    from wm_jax.config import ConfigError
    from wm_jax.intervals import is_identity

    spec = cartpole_spec(2, probabilistic=True, delta=True, normalize=True)
    plain = fit(spec, TrainConfig(epochs=3), cartpole_small, seed=0)
    recalibrated = fit(spec, TrainConfig(epochs=3, calibrate=True), cartpole_small, seed=0)
    assert is_identity(plain.ensemble.calibration) and not is_identity(recalibrated.ensemble.calibration)
    save_checkpoint(str(tmp_path), recalibrated.ensemble)
    for saved, loaded in zip(recalibrated.ensemble.calibration, load_checkpoint(str(tmp_path)).calibration):
        np.testing.assert_array_equal(saved, loaded)
    with pytest.raises(ConfigError, match="predictive spread"):
        fit(cartpole_spec(1), TrainConfig(epochs=1, calibrate=True), cartpole_small, seed=0)
