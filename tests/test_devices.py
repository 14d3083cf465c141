"""Devices: JAX still tells whether its backends have started (a private API, behind one function),
and the CPU device count follows the user."""

import subprocess
import sys

import pytest

from tests.helpers import run_script


def test_jax_still_tells_whether_its_backends_have_started():
    """Before the first computation the device count can still change; after it, it cannot."""
    script = (
        "from wm_jax.devices import jax_backends_started as started; import jax.numpy as jnp; "
        "before = started(); jnp.zeros(1).block_until_ready(); print(before, started())"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.stdout.split() == ["False", "True"], result.stderr[-2000:]


@pytest.mark.slow
@pytest.mark.parametrize("environment, expected", [({}, None), ({"JAX_NUM_CPU_DEVICES": "3"}, 3)])
def test_cpu_device_count_follows_the_user(environment, expected):
    """One device per core unless the environment already chose a count; an explicit --devices wins."""
    import os

    script = (
        "import sys; from wm_jax.devices import use_all_cpu_cores; use_all_cpu_cores(int(sys.argv[1]) or None); "
        "import jax; print(len(jax.devices()))"
    )
    env = {**os.environ, **environment}
    env.pop("XLA_FLAGS", None)
    assert run_script(script, "0", env=env).stdout.strip() == str(expected or os.cpu_count())
    assert run_script(script, "5", env=env).stdout.strip() == "5"
