"""Shared fixtures: small real CartPole datasets, collected once per session."""

import pytest

from wm_jax.data import collect_transitions


@pytest.fixture(scope="session")
def cartpole_small():
    """600 random-policy CartPole transitions (seed 0)."""
    return collect_transitions("CartPole-v1", seed=0, transitions=600)
