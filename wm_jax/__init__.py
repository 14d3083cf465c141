"""wm_jax: world models (learned environment dynamics) in JAX / Flax NNX.

Modules, each owning one concept:
    config      typed configuration; defaults are the tutorial's recipe
    data        random-policy collection (gymnasium), the .npz format, validation, splits
    models      the Flax NNX world model with PyTorch-default init; stacked ensembles
    training    the engine: one compiled program per run (lax.scan epochs/minibatches, vmap members)
    evaluation  MSE overall, per dimension, per member
    checkpoint  params.npz + model.json
    bridge      lossless PyTorch state_dict <-> Flax parameter conversion
    report      metrics.json schema, text tables, plots (no JAX)
    demo        the tutorial's eight-step demo for any backend
    cli         the `wm-jax` command

The package import is kept light (no JAX import here) so framework-free modules such as
`wm_jax.data` and `wm_jax.report` can be used by the PyTorch reference without loading JAX.
"""

__version__ = "0.1.0"
