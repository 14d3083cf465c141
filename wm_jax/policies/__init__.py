"""Policies learned by gradient, in the real environment or inside the model.

- `sac`: soft actor-critic: twin critics, target networks, automatic entropy tuning; G gradient steps
  per real step in one compiled `lax.scan`; `run_sac` is `wm-jax sac`, the model-free baseline; `run_online`
  is the real-environment loop both SAC and MBPO learn in.
- `mbpo`: MBPO: SAC on short rollouts of a probabilistic ensemble branched from real states (`wm-jax mbpo`).
- `export`: the final SAC or MBPO policy as files (`save_policy`), and `load_policy` to act with it.
- `ppo`: PPO trained inside the model, in thousands of vmapped functional model environments
  (`wm-jax dream --controller ppo`).
"""
