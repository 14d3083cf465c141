"""World models: the network and its heads, normalisation, specs, ensembles, prediction and imagination.

- `network`: `WorldModel` (Flax NNX) and its `Prediction` heads, in training units.
- `normalization`: `Normalizer`, the statistics between environment and training units (and deltas).
- `spec`: `ModelSpec`, what it takes to rebuild a model.
- `ensemble`: `Ensemble` (a pytree, its spec static) and the parameter-level layer: parameter
  pytrees and functions of (graphdef, params, states, encoded actions), such as `predict` and
  `predict_members`, that the engine and the parity tests use.
- `prediction`: the model-level API on raw actions: `prediction.predict(model, states, actions,
  mode, key)`, `predictive_interval` (calibrated) and `prediction_arrays` (what `wm-jax predict` writes).
- `imagination`: `imagine`, the one core that steps an ensemble through a horizon (rollouts, planners, dreams).
"""

from .ensemble import (
    Ensemble,
    apply_member,
    build_model,
    count_params,
    default_normalizer,
    ensemble_of,
    ensemble_outputs,
    graphdef_of,
    init_ensemble_params,
    init_params,
    member_outputs,
    model_of,
    network_outputs,
    predict,
    predict_members,
)
from .imagination import Imagination, imagine
from .network import MATMUL_PRECISION, Prediction, WorldModel, soft_bound_logvar, torch_linear, torch_uniform_init
from .normalization import Normalizer, fit_normalizer, identity_normalizer, normalizer_from_arrays
from .prediction import prediction_arrays, predictive_interval
from .spec import ModelSpec, spec_for_data, spec_for_env

__all__ = [
    "Ensemble",
    "Imagination",
    "MATMUL_PRECISION",
    "ModelSpec",
    "Normalizer",
    "Prediction",
    "WorldModel",
    "apply_member",
    "build_model",
    "count_params",
    "default_normalizer",
    "ensemble_of",
    "model_of",
    "ensemble_outputs",
    "fit_normalizer",
    "graphdef_of",
    "identity_normalizer",
    "imagine",
    "init_ensemble_params",
    "init_params",
    "member_outputs",
    "network_outputs",
    "normalizer_from_arrays",
    "predict",
    "predict_members",
    "prediction_arrays",
    "predictive_interval",
    "soft_bound_logvar",
    "spec_for_data",
    "spec_for_env",
    "torch_linear",
    "torch_uniform_init",
]
