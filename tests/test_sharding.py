"""Members sharded over several CPU devices train exactly like members on one device."""

import subprocess
import sys

SCRIPT = """
from wm_jax.devices import use_all_cpu_cores
assert use_all_cpu_cores(2)
import jax, numpy as np
from wm_jax.config import TrainConfig, tutorial_model_config
from wm_jax.data import collect_transitions
from wm_jax.models import ModelSpec
from wm_jax.training import as_batch, make_train

assert len(jax.devices()) == 2
data = collect_transitions("CartPole-v1", seed=0, transitions=300)
batch = as_batch(data.states, data.actions, data.next_states)
results = {}
for members in (3, 4):  # uneven and even splits over 2 devices
    spec = ModelSpec(4, 1, tutorial_model_config("ensemble", members))
    for shard in (True, False):
        program = make_train(spec, TrainConfig(epochs=3), data.size, shard_members=shard)
        params, metrics = jax.jit(program.__call__)(jax.random.key(0), batch)
        results[members, shard] = (params, np.asarray(metrics.loss_curve))
    sharded, single = results[members, True], results[members, False]
    np.testing.assert_allclose(sharded[1], single[1], rtol=1e-5)
    for a, b in zip(jax.tree.leaves(sharded[0]), jax.tree.leaves(single[0])):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    devices = {d for leaf in jax.tree.leaves(sharded[0]) for d in leaf.sharding.device_set}
    assert len(devices) == 2, devices
print("ok")
"""


def test_members_sharded_over_two_cpu_devices_match_one_device():
    """Runs in a subprocess because the CPU device count is fixed when JAX starts."""
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0 and result.stdout.strip().endswith("ok"), result.stderr[-2000:]
