"""World models: the network and its heads, normalisation, specs and ensembles.

- `network`: `WorldModel` (Flax NNX) and its `Prediction` heads, in training units.
- `normalization`: `Normalizer`, the statistics between environment and training units (and deltas).
- `spec`: `ModelSpec`, what it takes to rebuild a model.
- `ensemble`: parameter pytrees, `Ensemble`, and predicting in environment units.
- `propagation`: how rollouts and planners step an ensemble (mean, TS-1, TS-inf, sampling).
- `calibration`: post-hoc recalibration of Gaussian members' variances on validation data.
"""

from .ensemble import (
    Ensemble,
    apply_member,
    build_model,
    count_params,
    default_normalizer,
    ensemble_of,
    graphdef_of,
    init_ensemble_params,
    init_params,
    member_prediction,
    member_predictions,
    network_outputs,
    predict,
    predict_members,
    predict_rows,
)
from .network import MATMUL_PRECISION, Prediction, WorldModel, soft_bound_logvar, torch_linear, torch_uniform_init
from .normalization import Normalizer, fit_normalizer, identity_normalizer, normalizer_from_arrays
from .spec import ModelSpec, spec_for_data, spec_for_env
