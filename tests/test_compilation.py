"""The test suite compiles under `QUICK_COMPILE_XLA_FLAGS` (conftest.py): these tests check that the
flags change how long a compile takes and not what a command computes, beyond the last bits."""

import json
import os

import numpy as np
import pytest

from tests.helpers import run_script
from wm_jax.compilation import QUICK_COMPILE_XLA_FLAGS, with_quick_compile

# Whole commands whose numbers cover the engine (a probabilistic ensemble with normalised deltas and its
# held-out rollouts), CEM planning in mbrl, and SAC with model rollouts in mbpo.
COMMANDS = """
import sys
from wm_jax.cli import main
out = sys.argv[1]
steps = ["--devices", "1"]
assert main(["collect", "--out", f"{out}/data.npz", "--transitions", "300", "--seed", "2"]) == 0
assert main(["train", "--data", f"{out}/data.npz", "--out", f"{out}/train", "--model", "ensemble", "--members", "2",
             "--probabilistic", "--normalize", "--delta", "--epochs", "3", "--horizon", "4", *steps]) == 0
assert main(["mbrl", "--env", "Pendulum-v1", "--out", f"{out}/mbrl", "--max-transitions", "210",
             "--initial-transitions", "200", "--epochs", "1", "--members", "2", "--planner.horizon", "4",
             "--planner.candidates", "12", "--planner.iterations", "2", "--eval-episodes", "1", *steps]) == 0
assert main(["mbpo", "--env", "Pendulum-v1", "--out", f"{out}/mbpo", "--total-transitions", "60",
             "--initial-transitions", "30", "--epoch-length", "15", "--members", "2", "--hidden-sizes", "8",
             "--epochs", "1", "--sac.hidden-sizes", "8", "--sac.batch-size", "8", "--eval-every", "60",
             "--eval-episodes", "1"]) == 0
"""
RECORDS = ("train/metrics.json", "mbrl/mbrl.json", "mbpo/mbpo.json")


def _numbers(record):
    """A record's values, without its timings (which differ between any two runs); NaN as "nan", so
    that equal records compare equal."""
    if isinstance(record, dict):
        return {
            key: _numbers(value)
            for key, value in record.items()
            if not any(word in key for word in ("second", "per_s", "wall", "time"))
        }
    if isinstance(record, list):
        return [_numbers(value) for value in record]
    if isinstance(record, float) and record != record:
        return "nan"
    return record


def _run_commands(out, xla_flags):
    env = {key: value for key, value in os.environ.items() if key != "XLA_FLAGS"}
    env["XLA_FLAGS"] = xla_flags
    env["WM_JAX_CACHE_DIR"] = str(out / "cache")  # a cache of its own: nothing compiled under other flags
    done = run_script(COMMANDS, str(out), env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return {name: _numbers(json.loads((out / name).read_text().replace(str(out), "OUT"))) for name in RECORDS}


def test_with_quick_compile_adds_only_the_flags_not_already_set():
    assert with_quick_compile("") == " ".join(QUICK_COMPILE_XLA_FLAGS)
    given = "--xla_force_host_platform_device_count=8 --xla_backend_optimization_level=3"
    flags = with_quick_compile(given).split()
    assert flags[:2] == given.split() and flags[2:] == ["--xla_cpu_use_fusion_emitters=false"]


def _close(a, b, rtol):
    """Equal records, their floats to `rtol`."""
    if isinstance(a, dict):
        return isinstance(b, dict) and set(a) == set(b) and all(_close(a[k], b[k], rtol) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(_close(x, y, rtol) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float):
        return bool(np.isclose(a, b, rtol=rtol, atol=0))
    return a == b


@pytest.mark.slow
def test_commands_under_the_quick_compile_flags_compute_what_they_compute_under_the_defaults(tmp_path):
    """Training and planning give the same bits. SAC's updates do not: its float results differ in about
    the seventh digit (as on another CPU), which a short run carries into its returns to about 1e-3."""
    default = " ".join(f for f in os.environ.get("XLA_FLAGS", "").split() if f not in QUICK_COMPILE_XLA_FLAGS)
    quick, slow = (
        _run_commands(tmp_path / name, flags)
        for name, flags in (("quick", with_quick_compile(default)), ("default", default))
    )
    for name in ("train/metrics.json", "mbrl/mbrl.json"):
        assert quick[name] == slow[name], f"{name} differs between the quick compile and XLA's defaults"
    assert _close(quick["mbpo/mbpo.json"], slow["mbpo/mbpo.json"], rtol=1e-2)
    # the comparison sees the numbers: training wrote losses, and the agents returns
    assert np.isfinite(quick["train/metrics.json"]["loss_curve"]).all()
    assert quick["mbrl/mbrl.json"]["eval_returns"] and quick["mbpo/mbpo.json"]["eval_returns"]
