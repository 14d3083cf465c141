"""The compiled training engine: it learns, it is deterministic, it follows the tutorial's minibatching;
chunks, rows past the valid size, objectives and optimizers as parameters, bootstrap, and the capacity."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from tests.helpers import cartpole_spec
from wm_jax.config import ModelConfig, TrainConfig, tutorial_model_config, tutorial_train_config
from wm_jax.models import (
    ModelSpec,
    apply_member,
    fit_normalizer,
    graphdef_of,
    init_ensemble_params,
    network_outputs,
    spec_for_env,
)
from wm_jax.training import (
    TrainingData,
    as_batch,
    epoch_permutations,
    fit,
    make_optimizer,
    make_train,
    mse_loss,
    to_buffer,
    train_timed,
)


def leaves_equal(a, b):
    return all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


FEATURES = {
    "tutorial": ({}, {}),
    "everything": (
        dict(delta=True, normalize=True, probabilistic=True, reward_head=True, termination_head=True),
        dict(bootstrap=True, shuffle="per_member", early_stopping_patience=2),
    ),
}


@pytest.mark.parametrize("feature", sorted(FEATURES))
@pytest.mark.slow  # two whole runs per option set; test_chunks_of_epochs_... checks chunks in the inner loop
def test_k_chunks_give_exactly_one_long_run(cartpole_small, feature):
    switches, options = FEATURES[feature]
    spec = cartpole_spec(3, **switches)
    config = TrainConfig(epochs=6, batch_size=64, **options)
    train, validation = cartpole_small.take(slice(0, 450)), cartpole_small.take(slice(450, 600))
    data = TrainingData(to_buffer(train), to_buffer(validation))
    program = make_train(spec, config)
    normalizer = fit_normalizer(
        train.states,
        spec.encode_actions(train.actions),
        train.next_states,
        train.rewards,
        normalize=spec.config.normalize,
        delta=spec.config.delta,
    )
    whole = train_timed(program, jax.random.key(3), data, normalizer=normalizer)
    chunked = train_timed(program, jax.random.key(3), data, chunk_epochs=2, normalizer=normalizer)
    np.testing.assert_array_equal(whole.loss_curve, chunked.loss_curve)
    assert leaves_equal(whole.params, chunked.params), "chunks must reproduce the one-program run bit for bit"


@pytest.mark.slow  # compiles several programs (seconds)
def test_rows_past_the_valid_size_are_never_used(cartpole_small):
    """Padding a buffer with garbage (NaN) rows beyond its size changes nothing."""
    spec, config = cartpole_spec(2), TrainConfig(epochs=2, batch_size=50)
    program = make_train(spec, config)
    clean = to_buffer(cartpole_small, capacity=800)
    poisoned = clean._replace(
        rows=jax.tree.map(lambda x: x.at[600:].set(jnp.nan) if x.dtype.kind == "f" else x, clean.rows)
    )
    params = program.init(jax.random.key(0))
    run = jax.jit(lambda b: program.train_chunk(program.start(params, jax.random.key(1)), TrainingData(b), 2))
    a, b = run(clean), run(poisoned)
    assert np.isfinite(np.asarray(a[1].loss_curve)).all()
    np.testing.assert_array_equal(a[1].loss_curve, b[1].loss_curve)
    assert leaves_equal(a[0].params, b[0].params)


@pytest.mark.slow  # three training programs
def test_the_objective_and_the_optimizer_are_parameters(cartpole_small):
    spec = cartpole_spec(2)
    params = init_ensemble_params(spec, jax.random.key(0))
    config = TrainConfig(epochs=1)

    def zero_objective(member_params, batch, key):
        return 0.0 * jnp.sum(network_outputs(graphdef_of(spec), member_params, batch.states, batch.actions).mean), {}

    frozen, _ = jax.jit(make_train(spec, config, objective=zero_objective).run)(
        params, cartpole_small, jax.random.key(1)
    )
    assert leaves_equal(frozen, params), "a zero objective moves no parameter"
    adam, _ = jax.jit(make_train(spec, config).run)(params, cartpole_small, jax.random.key(1))
    sgd, _ = jax.jit(make_train(spec, config, optimizer=optax.sgd(1e-3)).run)(params, cartpole_small, jax.random.key(1))
    assert not leaves_equal(adam, sgd) and not leaves_equal(sgd, params)


@pytest.mark.slow  # trains an ensemble with and without bootstrap
def test_bootstrap_members_fit_different_data(cartpole_small):
    spec = cartpole_spec(2)
    params = init_ensemble_params(spec, jax.random.key(0))
    one = jax.tree.map(lambda x: jnp.stack([x[0], x[0]]), params)  # two identical members
    shared, _ = jax.jit(make_train(spec, TrainConfig(epochs=1)).run)(one, cartpole_small, jax.random.key(1))
    boot, _ = jax.jit(make_train(spec, TrainConfig(epochs=1, bootstrap=True)).run)(
        one, cartpole_small, jax.random.key(1)
    )
    assert all(np.array_equal(x[0], x[1]) for x in jax.tree.leaves(shared))
    assert not any(np.array_equal(x[0], x[1]) for x in jax.tree.leaves(boot))


def _spec(kind="simple", members=5):
    return ModelSpec(4, 1, tutorial_model_config(kind, members))


def test_training_loss_really_falls(cartpole_small):
    fitted = fit(_spec(), TrainConfig(epochs=10), cartpole_small, seed=0)
    curve = fitted.loss_curve[:, 0]
    assert curve.shape == (10,)
    assert curve[-1] < 0.2 * curve[0], f"loss went {curve[0]:.4f} -> {curve[-1]:.4f}"


# The inner loop checks one kind; the full run all three (each compiles its own program).
@pytest.mark.parametrize(
    "kind",
    ["simple", pytest.param("regularized", marks=pytest.mark.slow), pytest.param("ensemble", marks=pytest.mark.slow)],
)
def test_same_seed_same_result_different_seed_different_result(cartpole_small, kind):
    config = tutorial_train_config(kind, epochs=2)
    a, b, c = (fit(_spec(kind), config, cartpole_small, seed=s) for s in (0, 0, 1))
    np.testing.assert_array_equal(a.loss_curve, b.loss_curve)
    for x, y in zip(jax.tree.leaves(a.params), jax.tree.leaves(b.params)):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a.loss_curve, c.loss_curve)


def test_ensemble_loss_curve_is_per_member_and_members_differ(cartpole_small):
    fitted = fit(_spec("ensemble", 3), TrainConfig(epochs=3), cartpole_small, seed=0)
    assert fitted.loss_curve.shape == (3, 3)
    assert len(np.unique(fitted.loss_curve[-1])) == 3


@pytest.mark.slow  # a whole run, then the same steps one by one
def test_engine_equals_a_plain_python_loop_of_optax_steps(cartpole_small):
    """n=100 with batch 32 gives 3 full batches and a partial one of 4 per epoch, as
    `for i in range(0, n, 32)` does; the epoch loss is the mean of the 4 batch losses.
    Coupled weight decay is on, so the optimizer chain is exercised too."""
    data = cartpole_small.take(slice(0, 100))
    data = data._replace(actions=data.actions.astype(np.float32)[:, None])  # the tutorial's index column
    spec, config = _spec("simple", 1), TrainConfig(epochs=2, batch_size=32, weight_decay=1e-4)
    program = make_train(spec, config, 100)
    params0 = program.init(jax.random.key(0))
    orders = jnp.stack([jax.random.permutation(jax.random.key(e), 100) for e in range(2)])
    params, metrics = jax.jit(program.run)(params0, as_batch(*data[:3]), jax.random.key(1), orders)

    graphdef, optimizer = graphdef_of(spec), make_optimizer(config)
    member = jax.tree.map(lambda x: x[0], params0)
    opt_state = optimizer.init(member)
    expected_curve = []
    for order in np.asarray(orders):
        losses = []
        for start in range(0, 100, 32):
            idx = order[start : start + 32]
            loss_fn = lambda p: mse_loss(
                apply_member(graphdef, p, data.states[idx], data.actions[idx]), data.next_states[idx]
            )
            loss, grads = jax.value_and_grad(loss_fn)(member)
            updates, opt_state = optimizer.update(grads, opt_state, member)
            member = optax.apply_updates(member, updates)
            losses.append(float(loss))
        assert len(losses) == 4
        expected_curve.append(np.mean(losses))
    np.testing.assert_allclose(metrics.loss_curve[:, 0], expected_curve, rtol=1e-5)
    for got, want in zip(jax.tree.leaves(params), jax.tree.leaves(member)):
        np.testing.assert_allclose(got[0], want, rtol=1e-5, atol=1e-7)


def test_supplied_minibatch_order_is_honoured(cartpole_small):
    data = as_batch(*cartpole_small[:3])
    program = make_train(_spec("simple", 1), TrainConfig(epochs=2), cartpole_small.size)
    params0 = program.init(jax.random.key(0))
    order = jnp.tile(jnp.arange(cartpole_small.size), (2, 1))
    run = jax.jit(program.run)
    _, same_a = run(params0, data, jax.random.key(1), order)
    _, same_b = run(params0, data, jax.random.key(2), order)
    _, other = run(params0, data, jax.random.key(1), order[:, ::-1])
    np.testing.assert_array_equal(same_a.loss_curve, same_b.loss_curve)
    assert not np.array_equal(same_a.loss_curve, other.loss_curve)


@pytest.mark.slow  # two training programs
def test_per_member_shuffling_gives_members_different_orders(cartpole_small):
    """With one shared order, members started from identical params stay identical; per-member orders split them."""
    data = as_batch(*cartpole_small[:3])
    spec = _spec("ensemble", 2)
    for shuffle, identical in (("shared", True), ("per_member", False)):
        program = make_train(spec, TrainConfig(epochs=1, shuffle=shuffle), cartpole_small.size)
        one = program.init(jax.random.key(0))
        twins = jax.tree.map(lambda x: jnp.stack([x[0], x[0]]), one)
        _, metrics = jax.jit(program.run)(twins, data, jax.random.key(3))
        assert (metrics.loss_curve[0, 0] == metrics.loss_curve[0, 1]) == identical, shuffle


def test_coupled_weight_decay_is_not_decoupled_adamw():
    params = {"w": jnp.ones(3)}
    grads = {"w": jnp.full(3, 0.5)}
    coupled = make_optimizer(TrainConfig(weight_decay=0.1))
    updates, _ = coupled.update(grads, coupled.init(params), params)
    adamw = optax.adamw(1e-3, weight_decay=0.1)
    adamw_updates, _ = adamw.update(grads, adamw.init(params), params)
    assert not np.allclose(updates["w"], adamw_updates["w"])


def test_batch_larger_than_dataset_uses_the_whole_dataset_as_one_batch(cartpole_small):
    small = cartpole_small.take(slice(0, 10))
    fitted = fit(_spec("simple", 1), TrainConfig(epochs=2, batch_size=64), small, seed=0)
    assert fitted.loss_curve.shape == (2, 1) and np.isfinite(fitted.loss_curve).all()


@pytest.mark.parametrize(
    "kind, shuffle",
    [
        pytest.param("regularized", "shared", marks=pytest.mark.slow),
        pytest.param("ensemble", "per_member", marks=pytest.mark.slow),
    ],
)
def test_chunks_of_epochs_reproduce_one_long_run_exactly(cartpole_small, kind, shuffle):
    """Every key derives from (run key, epoch, minibatch), so 3 chunks of 2 epochs = one run of 6,
    bit for bit, dropout and per-member shuffling included; on_epoch sees every epoch once, in order."""
    spec = _spec(kind, 3 if kind == "ensemble" else 1)
    config = tutorial_train_config(kind, epochs=6, shuffle=shuffle)
    data = as_batch(cartpole_small.states, cartpole_small.actions, cartpole_small.next_states)
    program = make_train(spec, config, cartpole_small.size)
    whole = train_timed(program, jax.random.key(5), data)
    seen = []
    chunked = train_timed(program, jax.random.key(5), data, chunk_epochs=2, on_epoch=lambda e, losses: seen.append(e))
    assert seen == list(range(6))
    np.testing.assert_array_equal(whole.loss_curve, chunked.loss_curve)
    for a, b in zip(jax.tree.leaves(whole.params), jax.tree.leaves(chunked.params)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.slow  # two training programs
def test_the_engine_draws_the_documented_epoch_orders(cartpole_small):
    """Feeding `epoch_permutations(run_key, ...)` explicitly gives the run the engine draws by itself,
    so another implementation can be fed the engine's exact minibatch order."""
    spec, config = _spec("simple", 1), TrainConfig(epochs=3)
    data = as_batch(cartpole_small.states, cartpole_small.actions, cartpole_small.next_states)
    program = make_train(spec, config, cartpole_small.size)
    params0 = program.init(jax.random.key(0))
    run = jax.jit(program.run)
    _, drawn = run(params0, data, jax.random.key(9))
    _, fed = run(params0, data, jax.random.key(9), epoch_permutations(jax.random.key(9), 3, cartpole_small.size))
    np.testing.assert_array_equal(drawn.loss_curve, fed.loss_curve)


def test_no_epochs_by_rows_index_table_is_built(cartpole_small):
    """The compiled program holds no (epochs, N) array: each epoch's order is drawn inside the scan."""
    spec, epochs = _spec("ensemble", 2), 7
    n = cartpole_small.size
    data = as_batch(cartpole_small.states, cartpole_small.actions, cartpole_small.next_states)
    program = make_train(spec, TrainConfig(epochs=epochs, shuffle="per_member"), n)
    text = jax.jit(program.__call__).lower(jax.random.key(0), data).as_text()
    assert f"tensor<{epochs}x{n}x" not in text and f"tensor<{epochs}x2x{n}x" not in text


@pytest.mark.parametrize(
    "options",
    [
        dict(kind="simple"),
        pytest.param(
            dict(kind="ensemble", members=3, probabilistic=True, reward_head=True, termination_head=True),
            marks=pytest.mark.slow,
        ),
    ],
)
def test_the_start_program_compiled_for_speed_draws_the_same_initial_weights_as_a_default_compile(options):
    from wm_jax.training.loop import compile_start
    from wm_jax.training.program import make_train

    program = make_train(ModelSpec(4, 1, ModelConfig(**options)), TrainConfig())
    init_key, run_key = jax.random.split(jax.random.key(7))
    state = compile_start(program, init_key, run_key)(init_key, run_key, None)
    default = jax.jit(program.init)(init_key)
    for fast, reference in zip(jax.tree.leaves(state.params), jax.tree.leaves(default)):
        np.testing.assert_array_equal(np.asarray(fast), np.asarray(reference))


# ------------------------------------------------------------------ make_train's capacity


def _counting_program(capacity, data):
    """A run whose "loss" is the sum of the 1-based row numbers (stored in states[:, 0]) of the rows
    each minibatch trains on: each epoch's loss x batches is n(n+1)/2 iff every row is used once."""
    import jax.numpy as jnp

    from wm_jax.config import TrainConfig
    from wm_jax.training import make_train

    spec = spec_for_env("CartPole-v1", ModelConfig())

    def objective(params, batch, key):
        return jnp.sum(batch.mask * batch.states[:, 0]), {}

    return make_train(spec, TrainConfig(epochs=2, batch_size=64), capacity, objective=objective)


@pytest.mark.slow  # four training programs
def test_make_train_capacity_trains_on_every_row_once_and_refuses_less_than_the_data(world):
    import jax

    from wm_jax.config import ConfigError
    from wm_jax.data import load_dataset

    data = load_dataset(world.cartpole).transitions
    n = data.size
    data = data._replace(states=data.states.copy())
    data.states[:, 0] = np.arange(1, n + 1)
    batches = math.ceil(n / 64)
    for capacity in (0, n, 2 * n + 3):  # exactly the data, and padded: never a prefix, never a repeat
        program = _counting_program(capacity, data)
        _, metrics = program.run(program.init(jax.random.key(0)), data, jax.random.key(1))
        np.testing.assert_allclose(np.asarray(metrics.loss_curve) * batches, n * (n + 1) / 2, rtol=1e-6)
    with pytest.raises(ConfigError, match=f"capacity {n - 1} is smaller than the {n} rows given"):
        program = _counting_program(n - 1, data)
        program.run(program.init(jax.random.key(0)), data, jax.random.key(1))
    with pytest.raises(ConfigError, match="capacity must be an integer >= 0, got -5"):
        _counting_program(-5, data)
    program = _counting_program(0, data)
    with pytest.raises(ConfigError, match=f"permutations order {n - 1} rows, the data has {n}"):
        program.run(program.init(jax.random.key(0)), data, jax.random.key(1), np.zeros((2, n - 1), np.int32))
