"""wm_torch_ref: a compact, faithful PyTorch reference of the "World Models in PyTorch" tutorial.

`tutorial` is the whole method in one readable module: the simple, regularized (dropout) and
ensemble world models, the tutorial's Adam + MSE minibatch training loop, and MSE scoring. The
JAX library (`wm_jax`) is checked against it in `parity_tests`. `backend` plugs the reference into
the shared demo driver: `python -m wm_torch_ref --quick`.

Data comes from `wm_jax.data` (numpy + gymnasium, no JAX), so both frameworks train on identical arrays.
"""

from .tutorial import (
    EnsembleWorldModel,
    RegularizedWorldModel,
    SimpleWorldModel,
    count_parameters,
    make_optimizer,
    mse,
    mse_loss,
    per_dimension_mse,
    to_tensors,
    train_ensemble,
    train_world_model,
)

__all__ = [
    "EnsembleWorldModel",
    "RegularizedWorldModel",
    "SimpleWorldModel",
    "count_parameters",
    "make_optimizer",
    "mse",
    "mse_loss",
    "per_dimension_mse",
    "to_tensors",
    "train_ensemble",
    "train_world_model",
]
