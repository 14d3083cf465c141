"""The compiled training engine: it learns, it is deterministic, it follows the tutorial's minibatching."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from wm_jax.config import TrainConfig, tutorial_model_config, tutorial_train_config
from wm_jax.models import ModelSpec, apply_member, graphdef_of
from wm_jax.training import (
    as_batch,
    epoch_permutations,
    fit,
    make_optimizer,
    make_train,
    mse_loss,
    progress_chunk_epochs,
    train_timed,
)


def _spec(kind="simple", members=5):
    return ModelSpec(4, 1, tutorial_model_config(kind, members))


def test_training_loss_really_falls(cartpole_small):
    fitted = fit(_spec(), TrainConfig(epochs=10), cartpole_small, seed=0)
    curve = fitted.loss_curve[:, 0]
    assert curve.shape == (10,)
    assert curve[-1] < 0.2 * curve[0], f"loss went {curve[0]:.4f} -> {curve[-1]:.4f}"


# The inner loop checks one kind; the full run all three (each compiles its own program).
@pytest.mark.parametrize("kind", ["simple", pytest.param("regularized", marks=pytest.mark.slow),
                                  pytest.param("ensemble", marks=pytest.mark.slow)])
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
            loss_fn = lambda p: mse_loss(apply_member(graphdef, p, data.states[idx], data.actions[idx]), data.next_states[idx])
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


@pytest.mark.parametrize("kind, shuffle", [("regularized", "shared"),
                                           pytest.param("ensemble", "per_member", marks=pytest.mark.slow)])
def test_chunks_of_epochs_reproduce_one_long_run_exactly(cartpole_small, kind, shuffle):
    """Every key derives from (run key, epoch, minibatch), so 3 chunks of 2 epochs = one run of 6,
    bit for bit, dropout and per-member shuffling included; on_epoch sees every epoch once, in order."""
    spec = _spec(kind, 3 if kind == "ensemble" else 1)
    config = tutorial_train_config(kind, epochs=6, shuffle=shuffle)
    data = as_batch(cartpole_small.states, cartpole_small.actions, cartpole_small.next_states)
    program = make_train(spec, config, cartpole_small.size)
    whole = train_timed(program, jax.random.key(5), data)
    seen = []
    chunked = train_timed(program, jax.random.key(5), data, chunk_epochs=2, on_epoch=lambda e, l: seen.append(e))
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


def test_progress_chunks_divide_the_epochs():
    assert progress_chunk_epochs(100) == 5 and progress_chunk_epochs(7) == 1 and progress_chunk_epochs(40) == 2
    for epochs in (1, 13, 60, 100, 250):
        assert epochs % progress_chunk_epochs(epochs) == 0


@pytest.mark.slow  # two trainings
def test_onehot_and_index_encodings_train_from_raw_actions(cartpole_small):
    from wm_jax.models import spec_for_env

    for encoding, width in (("index", 1), ("onehot", 2)):
        spec = spec_for_env("CartPole-v1", tutorial_model_config("simple"), encoding)
        assert spec.action_dim == width
        fitted = fit(spec, TrainConfig(epochs=3), cartpole_small, seed=0)
        assert fitted.loss_curve[-1, 0] < fitted.loss_curve[0, 0]


@pytest.mark.parametrize("options", [dict(kind="simple"), pytest.param(dict(kind="ensemble", members=3, probabilistic=True,
                                                                   reward_head=True, termination_head=True), marks=pytest.mark.slow)])
def test_the_start_program_compiled_for_speed_draws_the_same_initial_weights_as_a_default_compile(options):
    from wm_jax.config import ModelConfig
    from wm_jax.training.loop import compile_start
    from wm_jax.training.program import make_train

    program = make_train(ModelSpec(4, 1, ModelConfig(**options)), TrainConfig())
    init_key, run_key = jax.random.split(jax.random.key(7))
    state = compile_start(program, init_key, run_key)(init_key, run_key, None)
    default = jax.jit(program.init)(init_key)
    for fast, reference in zip(jax.tree.leaves(state.params), jax.tree.leaves(default)):
        np.testing.assert_array_equal(np.asarray(fast), np.asarray(reference))


@pytest.mark.parametrize("n", [1, 2, 37, 8947, 65536, 70001])
def test_the_engine_shuffle_is_jax_random_permutation_bit_for_bit(n):
    from wm_jax.training.shuffle import permutation

    for seed in range(3):
        key = jax.random.fold_in(jax.random.key(seed), n)
        mine = jax.jit(permutation, static_argnums=1)(key, n)
        np.testing.assert_array_equal(np.asarray(mine), np.asarray(jax.random.permutation(key, n)))
        assert mine.dtype == jax.random.permutation(key, n).dtype


def test_the_radix_argsort_keeps_ties_in_index_order_like_a_stable_sort():
    from wm_jax.training.shuffle import stable_argsort_uint32

    rng = np.random.default_rng(0)
    for n, distinct in ((10, 3), (1000, 5), (5000, 2**32 - 1), (300, 1)):
        keys = jnp.asarray(rng.integers(0, distinct, n, endpoint=True), jnp.uint32)
        _, reference = jax.lax.sort_key_val(keys, jnp.arange(n, dtype=jnp.int32))
        np.testing.assert_array_equal(np.asarray(stable_argsort_uint32(keys)), np.asarray(reference))
