"""Lossless conversion between PyTorch world-model state_dicts and Flax NNX parameter states.

The tutorial's PyTorch model is a stack of `nn.Linear` layers named fc1, fc2, ..., fcK; the Flax
`WorldModel` holds the same layers as `hidden[0..K-2]` and `head`. The mapping is

    hidden.i.kernel  <->  fc{i+1}.weight.T        hidden.i.bias  <->  fc{i+1}.bias
    head.kernel      <->  fc{K}.weight.T          head.bias      <->  fc{K}.bias

because torch stores a Linear weight as (out, in) and computes x W^T + b, while Flax stores the
kernel as (in, out) and computes x K + b. Transposes and float32 copies are exact, so a round
trip torch -> Flax -> torch reproduces every bit.

Parameter states here are stacked like the training engine's: every leaf has a leading member
axis, member i <-> the i-th PyTorch model (a single model is a 1-member ensemble).

Numpy-only at import time: torch tensors are accepted (anything with `.detach()`), but torch is
never imported here, so the bridge works in environments without it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import jax.numpy as jnp
import numpy as np
from flax import nnx

from .errors import UserError

_LAYER_KEY = re.compile(r"fc(\d+)\.(weight|bias)")
_ENSEMBLE_KEY = re.compile(r"models\.(\d+)\.(.+)")


class BridgeError(UserError):
    """A state_dict or parameter state that does not describe a (stack of) world model(s)."""


def params_from_torch_state_dict(state_dicts: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> nnx.State:
    """Flax parameters (members, ...) from PyTorch world-model state_dict(s).

    Accepts one model's state_dict ({"fc1.weight": (out, in), "fc1.bias": (out,), ...}), a list of
    them (one per ensemble member, all the same architecture), or an `EnsembleWorldModel`'s own
    state_dict ({"models.0.fc1.weight": ..., ...}). Values may be torch tensors or numpy arrays;
    they must be float32 (PyTorch's default), which keeps the conversion exact.

    Returns a state shaped like `models.init_ensemble_params`: hidden.i.kernel (members, in, out),
    biases (members, out). Raises `BridgeError` naming the offending key or shape.
    """
    members = [_layers_of(sd, f"member {i}") for i, sd in enumerate(_split_members(state_dicts))]
    reference = [(w.shape, b.shape) for w, b in members[0]]
    for i, layers in enumerate(members[1:], start=1):
        shapes = [(w.shape, b.shape) for w, b in layers]
        if shapes != reference:
            raise BridgeError(f"member {i} has layer shapes {shapes}, member 0 has {reference}")

    def stacked(layer: int, part: int) -> nnx.Param:
        # part 0: the (out, in) weight, transposed to the (in, out) kernel; part 1: the bias.
        arrays = [layers[layer][0].T if part == 0 else layers[layer][1] for layers in members]
        return nnx.Param(jnp.asarray(np.stack(arrays)))

    last = len(reference) - 1
    return nnx.State(
        {
            "head": {"bias": stacked(last, 1), "kernel": stacked(last, 0)},
            "hidden": {i: {"bias": stacked(i, 1), "kernel": stacked(i, 0)} for i in range(last)},
        }
    )


def params_to_torch_state_dicts(params: nnx.State) -> list[dict[str, np.ndarray]]:
    """One PyTorch state_dict per member of stacked Flax `params`: {"fc1.weight": (out, in), ...}.

    The arrays are fresh, writable numpy float32 copies; `model.load_state_dict({k: torch.from_numpy(v) ...})` loads one
    into `SimpleWorldModel` (or `RegularizedWorldModel`: dropout has no parameters). For an
    `EnsembleWorldModel` use `params_to_torch_ensemble_state_dict`.
    """
    flat = {path: np.asarray(leaf.get_value()) for path, leaf in nnx.to_flat_state(params)}
    hidden = sorted({path[1] for path in flat if path[0] == "hidden"})
    expected = {("head", "kernel"), ("head", "bias")} | {("hidden", i, p) for i in hidden for p in ("kernel", "bias")}
    if set(flat) != expected or hidden != list(range(len(hidden))):
        raise BridgeError(f"not a world-model parameter state: paths {sorted(map(str, flat))}")
    layers = [("hidden", i) for i in hidden] + [("head",)]
    members = {flat[(*layer, "kernel")].shape[0] for layer in layers} | {
        flat[(*layer, "bias")].shape[0] for layer in layers
    }
    for layer in layers:
        kernel, bias = flat[(*layer, "kernel")], flat[(*layer, "bias")]
        if kernel.ndim != 3 or bias.ndim != 2 or kernel.shape[2] != bias.shape[1]:
            raise BridgeError(
                f"{'.'.join(map(str, layer))}: expected stacked kernel (members, in, out) and bias (members, out), "
                f"got {kernel.shape} and {bias.shape}"
            )
    if len(members) != 1:
        raise BridgeError(f"leading member axes differ between leaves: {sorted(members)}")
    return [
        {
            name: array
            for k, layer in enumerate(layers, start=1)
            for name, array in (
                (f"fc{k}.weight", np.array(flat[(*layer, "kernel")][m].T, order="C")),
                (f"fc{k}.bias", np.array(flat[(*layer, "bias")][m])),
            )
        }
        for m in range(members.pop())
    ]


def params_to_torch_ensemble_state_dict(params: nnx.State) -> dict[str, np.ndarray]:
    """The state_dict of an `EnsembleWorldModel` (`models.{i}.fc1.weight` for member i, ...) from stacked `params`."""
    return {
        f"models.{m}.{name}": array
        for m, state_dict in enumerate(params_to_torch_state_dicts(params))
        for name, array in state_dict.items()
    }


def _split_members(state_dicts) -> list[Mapping[str, Any]]:
    """A list of per-model state_dicts from any accepted input form."""
    if isinstance(state_dicts, Mapping):
        if not any(_ENSEMBLE_KEY.fullmatch(key) for key in state_dicts):
            return [state_dicts]
        members: dict[int, dict[str, Any]] = {}
        for key, value in state_dicts.items():
            match = _ENSEMBLE_KEY.fullmatch(key)
            if match is None:
                raise BridgeError(f"unexpected key {key!r} in an ensemble state_dict (expected models.<i>.fc<k>.*)")
            members.setdefault(int(match.group(1)), {})[match.group(2)] = value
        if sorted(members) != list(range(len(members))):
            raise BridgeError(f"ensemble member indices must be 0..n-1, got {sorted(members)}")
        return [members[i] for i in range(len(members))]
    state_dicts = list(state_dicts)
    if not state_dicts:
        raise BridgeError("no state_dicts given")
    return state_dicts


def _layers_of(state_dict: Mapping[str, Any], where: str) -> list[tuple[np.ndarray, np.ndarray]]:
    """[(weight (out, in), bias (out,)), ...] for fc1..fcK of one model, checked for consistency."""
    found: dict[int, dict[str, np.ndarray]] = {}
    for key, value in state_dict.items():
        match = _LAYER_KEY.fullmatch(key)
        if match is None:
            raise BridgeError(f"{where}: unexpected key {key!r} (expected fc<k>.weight / fc<k>.bias)")
        found.setdefault(int(match.group(1)), {})[match.group(2)] = _as_float32(value, f"{where}: {key}")
    if len(found) < 2 or sorted(found) != list(range(1, len(found) + 1)):
        raise BridgeError(f"{where}: layers must be fc1..fcK with K >= 2, got {sorted(f'fc{k}' for k in found)}")
    layers = []
    for k in range(1, len(found) + 1):
        parts = found[k]
        for part in ("weight", "bias"):
            if part not in parts:
                raise BridgeError(f"{where}: missing key 'fc{k}.{part}'")
        weight, bias = parts["weight"], parts["bias"]
        if weight.ndim != 2 or bias.shape != (weight.shape[0],):
            raise BridgeError(
                f"{where}: fc{k}.weight {weight.shape} and fc{k}.bias {bias.shape} are not (out, in) and (out,)"
            )
        if layers and weight.shape[1] != layers[-1][0].shape[0]:
            raise BridgeError(
                f"{where}: fc{k}.weight takes {weight.shape[1]} inputs but fc{k - 1} gives {layers[-1][0].shape[0]}"
            )
        layers.append((weight, bias))
    state_dim, in_features = layers[-1][0].shape[0], layers[0][0].shape[1]
    if in_features <= state_dim:
        raise BridgeError(
            f"{where}: fc1 takes {in_features} inputs, but a world model needs state_dim ({state_dim}) + "
            "action_dim >= 1"
        )
    return layers


def _as_float32(value, where: str) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor; no torch import needed
        value = value.detach().cpu().numpy()
    array = np.asarray(value)
    if array.dtype != np.float32:
        raise BridgeError(f"{where}: expected float32, got {array.dtype} (convert explicitly; the bridge never rounds)")
    return array
