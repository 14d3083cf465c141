"""A collected CartPole `Dataset` (rows and provenance) that the collection and format tests share."""

import pytest

from wm_jax.data import collect_dataset


@pytest.fixture(scope="module")
def cartpole_dataset():
    """600 random-policy CartPole transitions (seed 0) with their provenance; the budget cuts the last episode."""
    return collect_dataset("CartPole-v1", seed=0, transitions=600)
