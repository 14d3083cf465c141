"""Normalisation and deltas: predictions come out in environment units."""

import jax
import numpy as np

from tests.helpers import cartpole_spec
from wm_jax.models import fit_normalizer, graphdef_of, init_ensemble_params, member_outputs, network_outputs


def test_predictions_come_out_in_environment_units_with_the_delta_added_back(cartpole_small):
    spec = cartpole_spec(1, delta=True, normalize=True)
    data = cartpole_small
    actions = spec.encode_actions(data.actions)
    normalizer = fit_normalizer(data.states, actions, data.next_states, data.rewards, normalize=True, delta=True)
    delta = data.next_states - data.states
    np.testing.assert_allclose(normalizer.target_mean, delta.mean(0), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(normalizer.input_std[:4], data.states.std(0), rtol=1e-4)
    params = jax.tree.map(lambda x: x[0], init_ensemble_params(spec, jax.random.key(0)))
    graphdef = graphdef_of(spec)
    states_n, actions_n = normalizer.inputs(data.states, actions)
    raw = network_outputs(graphdef, params, states_n, actions_n).mean
    expected = data.states + raw * normalizer.target_std + normalizer.target_mean
    np.testing.assert_allclose(
        member_outputs(graphdef, params, data.states, actions, normalizer=normalizer).mean,
        expected,
        rtol=1e-5,
        atol=1e-6,
    )
