"""Members and minibatch rows sharded over a device mesh train like one device.

Each test runs in a subprocess because JAX fixes the CPU device count when it starts. The stated
tolerance: splitting members over devices changes nothing but where each member runs (the
same float32 operations, results to 1e-5 relative); splitting a minibatch's rows over the data
axis adds the partial gradients in another order (results to 1e-4 relative after a few epochs)."""

import pytest

from tests.helpers import run_script

# Every test starts a Python process with its own device count and compiles sharded programs.
pytestmark = pytest.mark.slow


SCRIPT = """
from wm_jax.devices import use_all_cpu_cores
assert use_all_cpu_cores(8)
import jax, numpy as np
from wm_jax.config import TrainConfig, tutorial_model_config
from wm_jax.data import collect_transitions
from wm_jax.models import ModelSpec
from wm_jax.training import DeviceError, as_batch, make_train, training_mesh

assert len(jax.devices()) == 8
data = collect_transitions("CartPole-v1", seed=0, transitions=300)
batch = as_batch(data.states, data.actions, data.next_states)
for members in (5, 8):  # uneven and even splits
    spec = ModelSpec(4, 1, tutorial_model_config("ensemble", members))
    single = make_train(spec, TrainConfig(epochs=3), data.size)
    reference = jax.jit(single.__call__)(jax.random.key(0), batch)
    for devices, data_shards, rtol in ((8, 1, 1e-5), (8, 2, 1e-4), (4, 4, 1e-4)):
        mesh = training_mesh(devices, data_shards)
        assert dict(mesh.shape) == {"members": devices // data_shards, "data": data_shards}
        program = make_train(spec, TrainConfig(epochs=3), data.size, mesh=mesh)
        compiled = jax.jit(program.__call__).lower(jax.random.key(0), batch).compile()
        # Rows split over the data axis need the gradient summed across it; members alone need nothing.
        assert ("all-reduce" in compiled.as_text()) == (data_shards > 1), (members, devices, data_shards)
        params, metrics = compiled(jax.random.key(0), batch)
        # Same seed, same devices, same result: bit for bit, run after run.
        again = compiled(jax.random.key(0), batch)[0]
        assert all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(again)))
        np.testing.assert_allclose(metrics.loss_curve, reference[1].loss_curve, rtol=rtol)
        for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(reference[0])):
            np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-6)
        used = {d for leaf in jax.tree.leaves(params) for d in leaf.sharding.device_set}
        assert len(used) == devices, (members, devices, used)
for devices, data_shards in ((9, 1), (8, 3), (-1, 1)):
    try:
        training_mesh(devices, data_shards)
    except DeviceError as error:
        print(error)
    else:
        raise AssertionError((devices, data_shards))
assert training_mesh(1) is None
print("ok")
"""


def test_members_and_rows_sharded_over_eight_cpu_devices_match_one_device():
    result = run_script(SCRIPT)
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr[-3000:]
    assert "--devices 9: only 8 cpu device(s) available" in result.stdout
    assert "--data-shards 3 does not divide 8 devices" in result.stdout


SWEEP_SCRIPT = """
from wm_jax.devices import use_all_cpu_cores
assert use_all_cpu_cores(2)
import dataclasses, jax, numpy as np
from wm_jax.config import ModelConfig, TrainConfig
from wm_jax.data import collect_transitions, split_by_episode
from wm_jax.models import spec_for_data
from wm_jax.training import fit, training_mesh
from wm_jax.training.sweep import SweepGrid, run_sweep

parts = split_by_episode(collect_transitions("CartPole-v1", seed=0, transitions=400), 0.25, seed=0)
spec = spec_for_data("CartPole-v1", parts.train, ModelConfig(kind="ensemble", members=3))
config = TrainConfig(epochs=2)
# More seeds than pairs splits the seed axis over the devices (3 over 2: uneven); more pairs, the pair axis.
for grid in (SweepGrid((1e-3,), (0.0,), (0, 1, 2)), SweepGrid((1e-3, 3e-3, 1e-2), (0.0,), (5,))):
    mesh = training_mesh(members=len(grid))
    result = run_sweep(spec, config, parts.train, grid, validation=parts.held_out, mesh=mesh)
    for index in (0, len(grid) - 1):
        chosen = result.configurations[index]
        alone = fit(spec, dataclasses.replace(config, learning_rate=chosen.learning_rate), parts.train, chosen.seed)
        for mine, theirs in zip(jax.tree.leaves(result.params), jax.tree.leaves(alone.params)):
            np.testing.assert_allclose(np.asarray(mine)[index], np.asarray(theirs), rtol=1e-5, atol=1e-6)
print("ok")
"""


def test_a_sweep_split_over_two_devices_trains_every_configuration_as_fit_does():
    out = run_script(SWEEP_SCRIPT)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-3000:]
