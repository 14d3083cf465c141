"""Plain helpers that test files in several folders share (fixtures live in the conftest.py files).

Import them as `from tests.helpers import ...`: tests/ is a package, so the repository root, which
pytest puts on sys.path for it, makes `tests` importable.
"""

from __future__ import annotations

import os
import subprocess
import sys

import jax
import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from wm_jax.config import ModelConfig
from wm_jax.models import ensemble_of, init_ensemble_params, spec_for_env

# ------------------------------------------------------------------ models of CartPole


def cartpole_spec(members=3, **switches):
    """The `ModelSpec` of a CartPole model: an ensemble of `members`, a simple model for 1, engine switches on."""
    return spec_for_env(
        "CartPole-v1", ModelConfig(kind="ensemble" if members > 1 else "simple", members=members, **switches)
    )


def cartpole_model(members=3, seed=0):
    """An untrained CartPole ensemble that predicts deltas (what the planners and imagination run)."""
    spec = spec_for_env("CartPole-v1", ModelConfig(kind="ensemble", members=members, delta=True))
    return ensemble_of(spec, init_ensemble_params(spec, jax.random.key(seed)))


CARTPOLE = dict(state_dim=4, action_dim=1)

# ------------------------------------------------------------------ a linear system (baselines, rollouts)

S, A = 3, 2


def linear_system(seed=0):
    """True weights of s' = s @ Sa + a @ Ba + c, stacked like LinearBaseline.weights."""
    rng = np.random.default_rng(seed)
    # Spectral radius below 1 so chained steps stay bounded.
    return np.vstack([0.5 * rng.normal(size=(S, S)) / np.sqrt(S), rng.normal(size=(A, S)), rng.normal(size=(1, S))])


# ------------------------------------------------------------------ processes


def run_script(script: str, *args: str, env: dict | None = None):
    """`python -c script args` in a fresh process (JAX fixes its device count when it starts)."""
    return subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=600, env=env)


# ------------------------------------------------------------------ fuzzing the loaders and the flags

# FUZZ_EXAMPLES=2000 hunts longer (about 30 s for the two loaders).
FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", 30)),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def gist(message: str) -> str:
    """A message without its paths and numbers, for hypothesis's statistics (--hypothesis-show-statistics)."""
    words = [w for w in message.split() if "/" not in w and not any(c.isdigit() for c in w)]
    return " ".join(words[:6])


def header_flips(archive: bytes):
    """`archive` with a few bytes of its zip headers (local, central directory, end record) flipped:
    where damage meets zipfile's parsing rather than a CRC check."""
    starts = [i for i in range(len(archive) - 3) if archive[i : i + 2] == b"PK" and archive[i + 2] in (1, 3, 5)]

    def flip(changes):
        damaged = bytearray(archive)
        for start, offset, value in changes:
            damaged[min(starts[start % len(starts)] + offset, len(damaged) - 1)] = value
        return bytes(damaged)

    return st.lists(
        st.tuples(st.integers(0, len(starts) - 1), st.integers(0, 45), st.integers(0, 255)), min_size=1, max_size=4
    ).map(flip)
