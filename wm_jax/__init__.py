"""wm_jax: world models (learned environment dynamics) in JAX / Flax NNX.

Layout, low to high (nothing low imports anything high):
    transitions  the one transitions type (s, a, s', r, terminated, truncated, episode, step)
    envs/        supported environments: spaces, labels, action encodings; gymnasium and gymnax collectors
    data/        the versioned .npz format, validation, version-1 files, collection, splits by episode
    config       typed configuration; defaults are the tutorial's recipe
    models       the Flax NNX world model with PyTorch-default init; stacked ensembles
    training/    the engine: compiled chunks of epochs (lax.scan epochs/minibatches, vmap members),
                 the device mesh, and orbax checkpoints of runs in progress (resume)
    evaluation/  one-step scores, identity and linear baselines, open-loop rollouts
    atomic       the one atomic-write helper
    devices      CPU device count, --devices / jax.distributed options
    checkpoint   the plain export: params.npz (with its description) + model.json + baselines.json
    planning/    planners (CEM, MPPI, random shooting), MPC, the model-based RL loop, dream training
    bridge       lossless PyTorch state_dict <-> Flax parameter conversion
    report       metrics.json schema, text tables, plots (no JAX)
    demo         the tutorial's demo for any backend
    cli          the `wm-jax` command

The package import is kept light (no JAX import here) so framework-free modules such as
`wm_jax.data` and `wm_jax.report` can be used by the PyTorch reference without loading JAX.
"""

__version__ = "0.1.0"
