"""Checkpoints of a run in progress: exact resume and a non-finite loss stopped cleanly.

The bit-identical claims hold on one device; on several devices or a GPU, a resumed run equals an
uninterrupted run on the same devices to the same tolerance as any two runs there
(tests/training/test_sharding.py)."""

import os
import subprocess

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from wm_jax.config import ModelConfig, TrainConfig
from wm_jax.models import fit_normalizer, spec_for_env
from wm_jax.training import (
    ResumeError,
    RunCheckpoints,
    TrainingData,
    TrainingDiverged,
    make_train,
    to_buffer,
    train_timed,
)
from wm_jax.training.objectives import make_objective

EVERYTHING = dict(delta=True, normalize=True, probabilistic=True, reward_head=True, termination_head=True)


def leaves_equal(a, b):
    def raw(leaf):
        return jax.random.key_data(leaf) if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key) else leaf

    a, b = jax.tree.leaves(a), jax.tree.leaves(b)
    return len(a) == len(b) and all(np.array_equal(raw(x), raw(y)) for x, y in zip(a, b))


def engine_run(cartpole_small, **options):
    spec = spec_for_env("CartPole-v1", ModelConfig(kind="ensemble", members=3, **EVERYTHING))
    config = TrainConfig(epochs=6, batch_size=64, bootstrap=True, shuffle="per_member", early_stopping_patience=4)
    train, validation = cartpole_small.take(slice(0, 450)), cartpole_small.take(slice(450, 600))
    normalizer = fit_normalizer(
        train.states, spec.encode_actions(train.actions), train.next_states, train.rewards, normalize=True, delta=True
    )
    program = make_train(spec, config)
    data = TrainingData(to_buffer(train), to_buffer(validation))
    return train_timed(program, jax.random.key(3), data, normalizer=normalizer, **options)


@pytest.mark.slow  # four engine runs with checkpoints
def test_a_resumed_run_equals_the_uninterrupted_run_bit_for_bit(cartpole_small, tmp_path):
    """Every option that carries state (normaliser, bootstrap, per-member orders, early-stopping carry) on."""
    whole = engine_run(cartpole_small)
    directory = str(tmp_path / "checkpoints")
    description = {"run": "engine test"}
    saved = engine_run(cartpole_small, checkpoints=RunCheckpoints(directory, every=2, keep=5, description=description))
    assert sorted(os.listdir(directory)) == ["2", "4", "6"]
    assert leaves_equal(saved.params, whole.params), "checkpointing must not change the run"
    # An interruption after epoch 2: the later checkpoints never got written.
    for step in ("4", "6"):
        subprocess.run(["rm", "-r", os.path.join(directory, step)], check=True)
    epochs_run = []
    resumed = engine_run(
        cartpole_small,
        checkpoints=RunCheckpoints(directory, every=2, keep=5, description=description),
        on_epoch=lambda epoch, losses: epochs_run.append(epoch),
    )
    assert epochs_run == [2, 3, 4, 5], "the resumed run must start after the checkpointed epoch"
    assert leaves_equal(resumed.state, whole.state), "params, optimizer, key, epoch and early-stopping carry"
    np.testing.assert_array_equal(resumed.loss_curve, whole.loss_curve)
    np.testing.assert_array_equal(resumed.validation_curve, whole.validation_curve)
    # Another run's checkpoints are refused, by description and by the state's shape.
    with pytest.raises(ResumeError, match="differs from this one in run"):
        engine_run(cartpole_small, checkpoints=RunCheckpoints(directory, every=2, keep=5, description={"run": "other"}))


@pytest.mark.slow  # three engine runs
def test_a_non_finite_loss_stops_with_the_epoch_and_member_and_keeps_the_last_finite_checkpoint(
    cartpole_small, tmp_path
):
    spec = spec_for_env("CartPole-v1", ModelConfig(kind="ensemble", members=2))
    config = TrainConfig(epochs=8, batch_size=64)
    data = TrainingData(to_buffer(cartpole_small))
    reference = train_timed(make_train(spec, config), jax.random.key(0), data)
    # A loss that turns NaN once it falls below what member 1 reaches after 3 epochs: divergence on cue.
    threshold = float(reference.loss_curve[3, 1])
    base = make_objective(make_train(spec, config).graphdef, spec.config)

    def fragile(params, batch, key):
        loss, aux = base(params, batch, key)
        return jnp.where(loss < threshold, jnp.nan, loss), aux

    checkpoints = RunCheckpoints(str(tmp_path / "ck"), every=1, keep=2, description={})
    with pytest.raises(TrainingDiverged) as caught:
        train_timed(make_train(spec, config, objective=fragile), jax.random.key(0), data, checkpoints=checkpoints)
    message = str(caught.value)
    assert "\n" not in message and "member" in message and "nan" in message, message
    epoch = int(message.split(" in epoch ")[1].split(";")[0])
    assert 2 <= epoch <= 6
    kept = checkpoints.latest_epoch()
    assert kept == epoch - 1 and f"after epoch {kept}" in message
    record = checkpoints.record()
    assert np.isfinite(np.asarray(record["curves"]["loss_curve"], np.float64)).all()


def test_closing_waits_for_orbaxs_startup_cleanup(tmp_path):
    """`RunCheckpoints.close` waits for the clean-up thread orbax starts when a manager opens, through orbax's
    private method (no public call waits for it): this fails if orbax renames it, and the close leaves the
    future awaited. tests/experiments/test_resume.py shows what a thread left running does at exit."""
    import orbax.checkpoint as ocp

    assert callable(getattr(ocp.CheckpointManager, "_maybe_await_cleanup_tmp_directory", None))
    checkpoints = RunCheckpoints(str(tmp_path / "ck"), every=1, keep=1, description={})
    checkpoints.close()
    assert checkpoints._manager._cleanup_tmp_directory_future is None
