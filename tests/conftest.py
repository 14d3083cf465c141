"""Shared fixtures: small real CartPole datasets, collected once per session."""

import pytest

from wm_jax.data import collect_transitions


@pytest.fixture(scope="session")
def cartpole_small():
    """600 random-policy CartPole transitions (seed 0)."""
    return collect_transitions("CartPole-v1", seed=0, transitions=600)


@pytest.fixture(scope="session", autouse=True)
def persistent_compilation_cache(tmp_path_factory):
    """Many tests compile the same small programs; a session-wide on-disk cache compiles each once."""
    from wm_jax.compilation import enable_persistent_cache

    enable_persistent_cache(tmp_path_factory.mktemp("jax_cache"))
