"""`wm_jax.bridge` input handling: the forms it accepts and the errors it gives (no torch needed)."""

import re

import numpy as np
import pytest

from wm_jax.bridge import BridgeError, params_from_torch_state_dict, params_to_torch_ensemble_state_dict, params_to_torch_state_dicts


def state_dict(seed=0, sizes=(5, 8, 4)):
    rng = np.random.default_rng(seed)
    out = {}
    for k, (i, o) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        out[f"fc{k}.weight"] = rng.standard_normal((o, i)).astype(np.float32)
        out[f"fc{k}.bias"] = rng.standard_normal(o).astype(np.float32)
    return out


def test_kernel_is_the_transposed_weight_with_a_leading_member_axis():
    sd = state_dict()
    params = params_from_torch_state_dict(sd)
    np.testing.assert_array_equal(params["hidden"][0]["kernel"][...][0], sd["fc1.weight"].T)
    np.testing.assert_array_equal(params["head"]["bias"][...][0], sd["fc2.bias"])


def test_ensemble_state_dict_list_and_back_agree():
    members = [state_dict(seed) for seed in range(3)]
    ensemble = {f"models.{m}.{k}": v for m, sd in enumerate(members) for k, v in sd.items()}
    params = params_from_torch_state_dict(ensemble)
    for m, back in enumerate(params_to_torch_state_dicts(params_from_torch_state_dict(members))):
        assert all(np.array_equal(back[k], members[m][k]) for k in back)
    assert params_to_torch_ensemble_state_dict(params).keys() == ensemble.keys()


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda sd: sd.pop("fc2.bias"), "missing key 'fc2.bias'"),
        (lambda sd: [sd.pop("fc1.weight"), sd.pop("fc1.bias")], "layers must be fc1..fcK"),
        (lambda sd: sd.update({"fc2.weight": np.zeros((4, 7), np.float32)}), "takes 7 inputs"),
        (lambda sd: sd.update({"fc1.bias": np.zeros(3, np.float32)}), "not (out, in) and (out,)"),
        (lambda sd: sd.update({"fc1.weight": sd["fc1.weight"].astype(np.float64)}), "expected float32"),
        (lambda sd: sd.update({"conv.weight": sd["fc1.weight"]}), "unexpected key 'conv.weight'"),
    ],
)
def test_mismatched_keys_and_shapes_are_named(mutate, message):
    sd = state_dict()
    mutate(sd)
    with pytest.raises(BridgeError, match=re.escape(message)):
        params_from_torch_state_dict(sd)


def test_members_of_different_shapes_are_rejected():
    with pytest.raises(BridgeError, match="member 1 has layer shapes"):
        params_from_torch_state_dict([state_dict(sizes=(5, 8, 4)), state_dict(sizes=(5, 9, 4))])
