"""wm_jax: world models (learned environment dynamics) in JAX / Flax NNX.

Layout, low to high (nothing low imports anything high):
    errors       the one user-error type and exit codes; interrupts: Ctrl-C at chunk boundaries
    transitions  the one transitions type (s, a, s', r, terminated, truncated, episode, step)
    config       typed configuration, each setting declared once; defaults are the tutorial's recipe
    envs/        one module per environment (spaces, labels, caps, reward, termination, gymnax
                 adapter, recommended settings) and a registry; gymnasium and gymnax collectors
    data/        the versioned .npz format, validation, version-1 files, collection, splits by episode
    models/      the Flax NNX world model; Ensemble (a pytree); predict, intervals, the imagination core,
                 the model as an environment (gymnasium and gymnax-style)
    training/    the engine: compiled chunks of epochs (lax.scan epochs/minibatches, vmap members),
                 the device mesh, orbax checkpoints of runs in progress (resume), sweeps
    evaluation/  one-step scores, identity and linear baselines, open-loop rollouts, uncertainty
    planning/    planners (CEM, MPPI, random shooting), MPC, the model-based RL loop, dream training
    policies/    policies learned by gradient: SAC (compiled updates), MBPO, PPO inside the model
    atomic       the one atomic-write helper; devices: CPU device count, --devices, jax.distributed
    checkpoint   the plain export: params.npz (with its description) + model.json + baselines.json
    bridge       lossless PyTorch state_dict <-> Flax parameter conversion
    report       every metrics.json, table and plot, from typed results (no JAX)
    experiments/ each command's work as a library function of typed run configs
    demo         the tutorial's demo for any backend
    cli          the `wm-jax` command: a table of subcommands over experiments/

The package import is kept light (no JAX import here) so framework-free modules such as
`wm_jax.data` and `wm_jax.report` can be used by the PyTorch reference without loading JAX. The
flat API below is loaded on first use of each name:

    import wm_jax as wm

    data = wm.collect("CartPole-v1", transitions=5_000)                # a Dataset (.transitions, .info)
    split = wm.split_by_episode(data.transitions, 0.2, seed=0)         # whole episodes held out
    spec = wm.spec_for_env("CartPole-v1", wm.ModelConfig(kind="ensemble", probabilistic=True))
    fitted = wm.fit(spec, wm.TrainConfig(epochs=20), split.train, seed=0)
    mean = wm.predict(fitted.ensemble, split.held_out.states, split.held_out.actions).mean
    report = wm.evaluate(fitted.ensemble, split.held_out, horizon=20)
"""

import importlib

__version__ = "0.1.0"

# name -> (module, attribute): the public verbs and types, imported when first used.
_EXPORTS = {
    # data
    "Transitions": ("wm_jax.transitions", "Transitions"),
    "Dataset": ("wm_jax.data", "Dataset"),
    "collect": ("wm_jax.data", "collect_dataset"),
    "load_dataset": ("wm_jax.data", "load_dataset"),
    "save_dataset": ("wm_jax.data", "save_dataset"),
    "split_by_episode": ("wm_jax.data", "split_by_episode"),
    # configuration
    "ModelConfig": ("wm_jax.config", "ModelConfig"),
    "TrainConfig": ("wm_jax.config", "TrainConfig"),
    "PlannerConfig": ("wm_jax.config", "PlannerConfig"),
    "MBRLConfig": ("wm_jax.config", "MBRLConfig"),
    "DreamConfig": ("wm_jax.config", "DreamConfig"),
    "SACConfig": ("wm_jax.config", "SACConfig"),
    "OnlineConfig": ("wm_jax.config", "OnlineConfig"),
    "MBPOConfig": ("wm_jax.config", "MBPOConfig"),
    "PPOConfig": ("wm_jax.config", "PPOConfig"),
    # environments
    "EnvSpec": ("wm_jax.envs", "EnvSpec"),
    "env_spec": ("wm_jax.envs", "env_spec"),
    "recommended_mbrl_config": ("wm_jax.envs", "recommended_mbrl_config"),
    # models
    "ModelSpec": ("wm_jax.models", "ModelSpec"),
    "Ensemble": ("wm_jax.models", "Ensemble"),
    "spec_for_env": ("wm_jax.models", "spec_for_env"),
    "spec_for_data": ("wm_jax.models", "spec_for_data"),
    "predict": ("wm_jax.models.prediction", "predict"),
    "predictive_interval": ("wm_jax.models.prediction", "predictive_interval"),
    "imagine": ("wm_jax.models.imagination", "imagine"),
    "ModelEnv": ("wm_jax.models.environment", "ModelEnv"),
    "ModelVectorEnv": ("wm_jax.models.environment", "ModelVectorEnv"),
    "FunctionalModelEnv": ("wm_jax.models.environment", "FunctionalModelEnv"),
    "import_minari": ("wm_jax.data.minari_io", "import_minari"),
    "export_minari": ("wm_jax.data.minari_io", "export_minari"),
    "save_model": ("wm_jax.checkpoint", "save_checkpoint"),
    "load_model": ("wm_jax.checkpoint", "load_checkpoint"),
    # training and evaluation
    "fit": ("wm_jax.training", "fit"),
    "evaluate": ("wm_jax.experiments.evaluate", "evaluate_model"),
    "fit_linear": ("wm_jax.evaluation.baselines", "fit_linear"),
    # policies
    "SAC": ("wm_jax.policies.sac", "SAC"),
    "run_sac": ("wm_jax.policies.sac", "run_sac"),
    "run_mbpo": ("wm_jax.policies.mbpo", "run_mbpo"),
    "PPO": ("wm_jax.policies.ppo", "PPO"),
    "Policy": ("wm_jax.policies.export", "Policy"),
    "save_policy": ("wm_jax.policies.export", "save_policy"),
    "load_policy": ("wm_jax.policies.export", "load_policy"),
    # whole runs, as the commands do them
    "TrainRun": ("wm_jax.experiments.train", "TrainRun"),
    "train_and_evaluate": ("wm_jax.experiments.train", "train_and_evaluate"),
    "SweepRun": ("wm_jax.experiments.sweep", "SweepRun"),
    "sweep_and_choose": ("wm_jax.experiments.sweep", "sweep_and_choose"),
    "MbrlRun": ("wm_jax.experiments.agents", "MbrlRun"),
    "model_based_rl": ("wm_jax.experiments.agents", "model_based_rl"),
    "DreamRun": ("wm_jax.experiments.agents", "DreamRun"),
    "dream": ("wm_jax.experiments.agents", "dream"),
    "SacRun": ("wm_jax.experiments.agents", "SacRun"),
    "soft_actor_critic": ("wm_jax.experiments.agents", "soft_actor_critic"),
    "MbpoRun": ("wm_jax.experiments.agents", "MbpoRun"),
    "model_based_policy_optimisation": ("wm_jax.experiments.agents", "model_based_policy_optimisation"),
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'wm_jax' has no attribute {name!r}")
    module, attribute = _EXPORTS[name]
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
