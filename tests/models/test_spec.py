"""Model specs: nonsense configurations refused, specs for data of unknown origin, and data from
another environment refused."""

import numpy as np
import pytest

from wm_jax.config import ModelConfig
from wm_jax.data import DataError, check_data_matches_model, collect_dataset
from wm_jax.envs import EnvError
from wm_jax.transitions import Transitions


@pytest.mark.parametrize("bad", [dict(members=0), dict(hidden_sizes=()), dict(dropout_rate=1.0), dict(kind="big")])
def test_nonsense_model_configs_are_rejected(bad):
    with pytest.raises(ValueError):
        ModelConfig(**bad)


def test_spec_for_data_of_unknown_origin_allows_only_its_natural_encoding():

    from wm_jax.config import ModelConfig
    from wm_jax.models import spec_for_data

    floats = Transitions(np.zeros((3, 4), np.float32), np.zeros((3, 2), np.float32), np.zeros((3, 4), np.float32))
    indices = floats._replace(actions=np.zeros(3, np.int32))
    assert spec_for_data(None, floats, ModelConfig()).action_encoding == "continuous"
    assert spec_for_data(None, floats, ModelConfig()).action_dim == 2
    assert spec_for_data(None, indices, ModelConfig())[1::3] == (1, "index")
    assert spec_for_data("Acrobot-v1", indices, ModelConfig(), "onehot").action_dim == 3
    with pytest.raises(EnvError, match="only the index"):
        spec_for_data(None, indices, ModelConfig(), "onehot")


def test_a_model_rejects_data_from_another_environment_with_the_same_shapes():
    car = collect_dataset("MountainCarContinuous-v0", seed=0, transitions=20)
    with pytest.raises(DataError, match="collected from MountainCarContinuous-v0, but the model is for MountainCar-v0"):
        check_data_matches_model(car, "MountainCar-v0", 2, "car.npz")
    check_data_matches_model(car, "MountainCarContinuous-v0", 2, "car.npz")
