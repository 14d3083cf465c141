"""Policies learned by gradient, in the real environment or (later) inside the model.

- `sac`: soft actor-critic: twin critics, target networks, automatic entropy tuning; G gradient steps
  per real step in one compiled `lax.scan`; `run_sac` is `wm-jax sac`, the model-free baseline.
"""
