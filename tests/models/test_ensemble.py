"""Ensembles: members differ and the prediction is their mean."""

import jax
import jax.numpy as jnp
import numpy as np

from tests.helpers import CARTPOLE
from wm_jax.config import tutorial_model_config
from wm_jax.models import ModelSpec, count_params, graphdef_of, init_ensemble_params, predict, predict_members


def test_ensemble_members_differ_and_prediction_is_their_mean():
    spec = ModelSpec(**CARTPOLE, config=tutorial_model_config("ensemble", members=5))
    params = init_ensemble_params(spec, jax.random.key(0))
    assert count_params(params) == 5 * 2596
    x, a = jax.random.normal(jax.random.key(1), (10, 4)), jnp.zeros((10, 1))
    members = predict_members(graphdef_of(spec), params, x, a)
    assert members.shape == (5, 10, 4)
    assert not np.allclose(members[0], members[1])
    np.testing.assert_allclose(predict(graphdef_of(spec), params, x, a), members.mean(axis=0), rtol=1e-6)
