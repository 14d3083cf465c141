"""The Flax NNX network: architecture, parameter counts, initialisation, forward pass, dropout."""

import jax
import jax.numpy as jnp
import numpy as np

from tests.helpers import CARTPOLE
from wm_jax.config import ModelConfig, tutorial_model_config
from wm_jax.models import ModelSpec, apply_member, count_params, graphdef_of, init_params


def test_simple_cartpole_model_has_2596_parameters():
    """(5*64+64) + (64*32+32) + (32*4+4): the seed README's 4865 is not what its class has."""
    assert count_params(init_params(ModelSpec(**CARTPOLE, config=ModelConfig()), jax.random.key(0))) == 2596


def test_layer_shapes_match_the_tutorial_fc1_fc2_fc3():
    params = init_params(ModelSpec(**CARTPOLE, config=ModelConfig()), jax.random.key(0))
    shapes = jax.tree.map(jnp.shape, params)
    assert shapes["hidden"][0]["kernel"].get_value() == (5, 64)
    assert shapes["hidden"][1]["kernel"].get_value() == (64, 32)
    assert shapes["head"]["kernel"].get_value() == (32, 4) and shapes["head"]["bias"].get_value() == (4,)


def test_init_is_uniform_within_torch_linear_bounds():
    """Coarse guard (bounds, full range); the exact distribution is checked by a KS test in parity_tests."""
    params = init_params(ModelSpec(**CARTPOLE, config=ModelConfig()), jax.random.key(1))
    for layer, fan_in in ((params["hidden"][0], 5), (params["hidden"][1], 64), (params["head"], 32)):
        bound = 1 / np.sqrt(fan_in)
        for leaf in (layer["kernel"][...], layer["bias"][...]):
            assert np.abs(leaf).max() <= bound
            assert np.abs(leaf).max() > 0.8 * bound, "uniform over the full range, not e.g. zeros or normal"


def test_forward_maps_state_and_action_batches_to_next_state_batches():
    spec = ModelSpec(state_dim=6, action_dim=3, config=ModelConfig(hidden_sizes=(16, 8)))
    out = apply_member(graphdef_of(spec), init_params(spec, jax.random.key(0)), jnp.ones((7, 6)), jnp.ones((7, 3)))
    assert out.shape == (7, 6)


def test_dropout_is_active_only_with_a_dropout_key():
    spec = ModelSpec(**CARTPOLE, config=tutorial_model_config("regularized"))
    graphdef, params = graphdef_of(spec), init_params(spec, jax.random.key(0))
    x, a = jnp.ones((64, 4)), jnp.ones((64, 1))
    eval_a, eval_b = apply_member(graphdef, params, x, a), apply_member(graphdef, params, x, a)
    np.testing.assert_array_equal(eval_a, eval_b)
    train_a = apply_member(graphdef, params, x, a, jax.random.key(1))
    train_b = apply_member(graphdef, params, x, a, jax.random.key(2))
    assert not np.allclose(train_a, eval_a) and not np.allclose(train_a, train_b)
