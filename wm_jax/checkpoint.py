"""Saving and loading trained models: DIR/params.npz + DIR/model.json (+ DIR/baselines.json).

Plain numpy archives keep checkpoints readable without JAX (and by the PyTorch bridge). Keys are
the parameter paths ("hidden.0.kernel", "head.bias"), every one with a leading member axis, and
the normaliser's statistics ("normalizer.input_mean", ...). model.json describes the architecture
and its heads, the environment, the action encoding and the elite members; baselines.json holds
the linear baseline fitted on the same training split, for `wm-jax evaluate`.
Writes go to temporary files renamed into place, so a failed save never damages an old one.
"""

from __future__ import annotations

import json
import os
import zipfile

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from .atomic import atomic_write
from .config import ConfigError, ModelConfig
from .data.format import not_an_archive
from .envs import ACTION_ENCODINGS, ENVS, EnvError, describe_env, env_spec, space_from_json
from .errors import UserError
from .intervals import QUANTILES, Calibration
from .models import Ensemble, ModelSpec, ensemble_of, init_ensemble_params, model_of, normalizer_from_arrays
from .models.normalization import STAT_NAMES

PARAMS_FILE = "params.npz"
NORMALIZER_PREFIX = "normalizer."
CALIBRATION_PREFIX = "calibration."
MODEL_FILE = "model.json"
BASELINES_FILE = "baselines.json"
DESCRIPTION_KEY = "model.json"
# The export's version: 1 added it (and the description inside params.npz); files without one are
# older exports, still read.
FORMAT_VERSION = 1


class CheckpointError(UserError):
    """A missing, corrupt or mismatched checkpoint (the CLI prints it as a one-line error)."""


def flatten_params(params: nnx.State) -> dict[str, np.ndarray]:
    """{"hidden.0.kernel": array, ...} from a (stacked) parameter state."""
    return {_name(path): np.asarray(leaf.get_value()) for path, leaf in nnx.to_flat_state(params)}


def _name(path) -> str:
    return ".".join(str(part) for part in path)


def unflatten_params(flat: dict[str, np.ndarray], template: nnx.State) -> nnx.State:
    """Inverse of `flatten_params`, checked against the structure and shapes of `template`.

    `template` may hold arrays or `jax.ShapeDtypeStruct`s (from `jax.eval_shape`).
    """
    expected = {_name(path): tuple(leaf.get_value().shape) for path, leaf in nnx.to_flat_state(template)}
    if set(flat) != set(expected):
        raise CheckpointError(f"parameter names differ: expected {sorted(expected)}, got {sorted(flat)}")
    for name, array in flat.items():
        if array.shape != expected[name]:
            raise CheckpointError(f"{name}: expected shape {expected[name]}, got {array.shape}")
    leaves = [jnp.asarray(flat[_name(path)], jnp.float32) for path, _ in nnx.to_flat_state(template)]
    return jax.tree.unflatten(jax.tree.structure(template), leaves)


def save_checkpoint(ensemble: Ensemble, directory: str | os.PathLike, baselines: dict | None = None) -> None:
    """Write params.npz, model.json and (if given) baselines.json into `directory` (created if needed).
    `ensemble` is an `Ensemble`, or what `fit` returns.

    The model comes first, as the dataset does in `save_dataset(dataset, path)`. The order of earlier
    versions, `(directory, model)`, is still accepted: a path and a model cannot be mistaken for each other.
    """
    if isinstance(ensemble, (str, os.PathLike)) and not isinstance(directory, (str, os.PathLike)):
        ensemble, directory = directory, ensemble
    ensemble, directory = model_of(ensemble), os.fspath(directory)
    spec = ensemble.spec
    os.makedirs(directory, exist_ok=True)
    model = {
        "format_version": FORMAT_VERSION,
        "state_dim": spec.state_dim,
        "action_dim": spec.action_dim,
        "env_id": spec.env_id,
        "action_encoding": spec.action_encoding,
        **_config_dict(spec.config),
        "elites": [int(i) for i in ensemble.elites],
    }
    if spec.env_id is not None and spec.env_id not in ENVS:
        # An environment the project does not register: the model carries its spaces, so it loads
        # (and checks data against them) where that environment is not installed.
        info = env_spec(spec.env_id)
        model["env"] = {
            "observation_space": info.observation_space.to_json(),
            "action_space": info.action_space.to_json(),
            "max_episode_steps": info.time_limit,
        }
    description = json.dumps(model, indent=2).encode()
    arrays = {
        **flatten_params(ensemble.params),
        # The description travels inside the parameter file too, so the two are written as one
        # unit: model.json is its readable copy, and a model.json that disagrees is refused.
        DESCRIPTION_KEY: np.frombuffer(description, np.uint8),
        **{NORMALIZER_PREFIX + name: value for name, value in ensemble.normalizer.to_arrays().items()},
        **{CALIBRATION_PREFIX + name: np.asarray(value) for name, value in ensemble.calibration._asdict().items()},
    }
    atomic_write(os.path.join(directory, PARAMS_FILE), lambda f: np.savez(f, **arrays))
    atomic_write(os.path.join(directory, MODEL_FILE), lambda f: f.write(description))
    if baselines is not None:
        atomic_write(
            os.path.join(directory, BASELINES_FILE), lambda f: f.write(json.dumps(baselines, indent=2).encode())
        )


def load_baselines(directory: str) -> dict | None:
    """The baselines saved beside a model, or None for a checkpoint without them."""
    path = os.path.join(directory, BASELINES_FILE)
    if not os.path.isfile(path):
        return None
    try:
        with open(path) as handle:
            baselines = json.load(handle)
    except (OSError, ValueError) as error:
        raise CheckpointError(f"{path}: unreadable ({type(error).__name__}: {error})") from None
    if not isinstance(baselines, dict):
        raise CheckpointError(f"{path}: expected a JSON object, got {type(baselines).__name__}")
    return baselines


# The model's switches; a checkpoint from before they existed has them all off.
MODEL_SWITCHES = ("delta", "normalize", "probabilistic", "reward_head", "termination_head")


def _config_dict(config: ModelConfig) -> dict:
    return {
        "kind": config.kind,
        "hidden_sizes": list(config.hidden_sizes),
        "dropout_rate": config.dropout_rate,
        "members": config.members,
        **{name: getattr(config, name) for name in MODEL_SWITCHES},
    }


def load_checkpoint(directory: str) -> Ensemble:
    """Read a checkpoint written by `save_checkpoint`; any problem is a CheckpointError."""
    model_path, params_path = os.path.join(directory, MODEL_FILE), os.path.join(directory, PARAMS_FILE)
    for path in (model_path, params_path):
        if not os.path.isfile(path):
            raise CheckpointError(f"{path}: no such file (is {directory} a directory written by `wm-jax train`?)")
    flat = _read_arrays(params_path)
    spec, elites = _read_description(model_path, params_path, flat.pop(DESCRIPTION_KEY, None))
    return _ensemble_from_arrays(flat, spec, elites, params_path)


def _read_arrays(params_path: str) -> dict[str, np.ndarray]:
    """Every array in params.npz by name."""
    if not zipfile.is_zipfile(params_path):
        raise CheckpointError(
            f"{params_path}: unreadable, {not_an_archive(params_path)}; expected the output of `wm-jax train`"
        )
    try:
        with np.load(params_path, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except Exception as error:  # noqa: BLE001 - a damaged archive fails in zipfile or numpy in many ways
        raise CheckpointError(f"{params_path}: unreadable ({type(error).__name__}: {error})") from None


def _read_description(model_path: str, params_path: str, embedded: np.ndarray | None) -> tuple[ModelSpec, np.ndarray]:
    """The spec and elite members from model.json, which must equal the copy `embedded` in params.npz (if any)."""
    try:
        with open(model_path, "rb") as handle:
            described = handle.read()
        if embedded is not None and embedded.tobytes() != described:
            raise CheckpointError(
                f"{model_path} and {params_path} disagree (edited, or copied from different "
                "runs): the description inside params.npz is the model's"
            )
        model = json.loads(described)
        if not isinstance(model, dict):
            raise ValueError("not a JSON object")
        version = model.get("format_version", 0)
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise CheckpointError(
                f"{model_path}: format version {version!r} is newer than this wm-jax reads "
                f"({FORMAT_VERSION}); upgrade wm-jax"
            )
        spec = _spec_of(model)
        elites = np.asarray(model.get("elites", range(spec.config.members)), np.int64)
        if elites.ndim != 1 or elites.size == 0 or elites.min() < 0 or elites.max() >= spec.config.members:
            raise ValueError(f"elites {elites.tolist()} are not members of an ensemble of {spec.config.members}")
        return spec, elites
    except CheckpointError:
        raise
    except (OSError, ValueError, KeyError, TypeError, OverflowError, ConfigError, EnvError) as error:
        raise CheckpointError(f"{model_path}: unreadable model description ({type(error).__name__}: {error})") from None


def _spec_of(model: dict) -> ModelSpec:
    """The ModelSpec a parsed model.json describes, checked against its environment; ValueError if invalid."""
    for name, least in (("state_dim", 1), ("action_dim", 0)):
        value = model[name]
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ValueError(f"{name} must be an integer >= {least}, got {value!r}")
    spec = ModelSpec(
        state_dim=model["state_dim"],
        action_dim=model["action_dim"],
        config=ModelConfig(
            kind=model["kind"],
            hidden_sizes=tuple(int(h) for h in model["hidden_sizes"]),
            dropout_rate=float(model["dropout_rate"]),
            members=int(model["members"]),
            **{name: _switch(model, name) for name in MODEL_SWITCHES},
        ),
        # Checkpoints from before environments were recorded fed actions to the network as is.
        env_id=model.get("env_id"),
        action_encoding=model.get("action_encoding", "continuous"),
    )
    if spec.action_encoding not in ACTION_ENCODINGS:
        raise ValueError(f"unknown action encoding {spec.action_encoding!r}")
    if spec.env_id is not None:
        recorded = model.get("env")
        info = (
            describe_env(
                spec.env_id,
                space_from_json(recorded["observation_space"]),
                space_from_json(recorded["action_space"]),
                int(recorded["max_episode_steps"]),
            )
            if isinstance(recorded, dict)
            else env_spec(spec.env_id)
        )
        expected = (info.state_dim, info.encoded_action_dim(spec.action_encoding))
        if (spec.state_dim, spec.action_dim) != expected:
            raise ValueError(
                f"state_dim {spec.state_dim} and action_dim {spec.action_dim} do not fit {spec.env_id} "
                f"with the {spec.action_encoding} action encoding ({expected[0]} and {expected[1]})"
            )
    return spec


def _ensemble_from_arrays(flat: dict, spec: ModelSpec, elites: np.ndarray, params_path: str) -> Ensemble:
    """The Ensemble from params.npz's arrays (parameters, normaliser, calibration), checked against `spec`."""
    stats = _pop_prefixed(flat, NORMALIZER_PREFIX)
    calibration = _pop_prefixed(flat, CALIBRATION_PREFIX)
    template = jax.eval_shape(lambda: init_ensemble_params(spec, jax.random.key(0)))
    try:
        params = unflatten_params(flat, template)
    except CheckpointError as error:
        raise CheckpointError(f"{params_path}: {error}") from None
    if not all(bool(jnp.isfinite(leaf).all()) for leaf in jax.tree.leaves(params)):
        raise CheckpointError(f"{params_path}: parameters contain non-finite values")
    calibration = _calibration(calibration, spec, params_path) if calibration else None
    normalizer = None
    if stats:
        normalizer = _normalizer(stats, spec, params_path)
    elif spec.config.normalize:
        raise CheckpointError(f"{params_path}: a normalising model without its normaliser statistics")
    return ensemble_of(spec, params, normalizer, elites, calibration)


def _pop_prefixed(flat: dict, prefix: str) -> dict:
    """Remove the arrays whose names start with `prefix` from `flat`; return them by the rest of their name."""
    return {name[len(prefix) :]: flat.pop(name) for name in list(flat) if name.startswith(prefix)}


def _calibration(arrays: dict, spec: ModelSpec, path: str) -> Calibration:
    """The saved calibration, checked against the model's state dimension."""
    shapes = {"log_scale": (spec.state_dim,), "level_quantiles": (spec.state_dim, QUANTILES)}
    if set(arrays) != set(shapes):
        raise CheckpointError(f"{path}: calibration arrays {sorted(arrays)}, expected {sorted(shapes)}")
    for name, shape in shapes.items():
        if arrays[name].shape != shape or not np.isfinite(arrays[name]).all():
            raise CheckpointError(f"{path}: calibration {name} must be {shape} and finite, got {arrays[name].shape}")
    return Calibration(arrays["log_scale"].astype(np.float32), arrays["level_quantiles"].astype(np.float64))


def _switch(model: dict, name: str) -> bool:
    value = model.get(name, False)
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false, got {value!r}")
    return value


def _normalizer(stats: dict, spec: ModelSpec, path: str):
    """The saved statistics, checked against the model's dimensions."""
    inputs, states = (spec.state_dim + spec.action_dim,), (spec.state_dim,)
    shapes = {
        "input_mean": inputs,
        "input_std": inputs,
        "target_mean": states,
        "target_std": states,
        "reward_mean": (),
        "reward_std": (),
    }
    if set(stats) != set(STAT_NAMES):
        raise CheckpointError(f"{path}: normaliser statistics {sorted(stats)}, expected {sorted(STAT_NAMES)}")
    for name, shape in shapes.items():
        if stats[name].shape != shape or not np.isfinite(stats[name]).all():
            raise CheckpointError(f"{path}: normaliser {name} must be {shape} and finite, got {stats[name].shape}")
        if name.endswith("std") and not (stats[name] > 0).all():
            raise CheckpointError(f"{path}: normaliser {name} must be positive")
    return normalizer_from_arrays(stats, normalize=spec.config.normalize, delta=spec.config.delta)
