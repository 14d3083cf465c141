"""Acting with a world model: planners, model-predictive control and the model-based RL loop.

- `optimizers`: random shooting and CEM (Gaussian for Box actions, categorical for Discrete).
- `imagination`: scoring action sequences in an ensemble (particles, TS-1 / TS-inf / mean).
- `mpc`: `MPCAgent`, one jitted planning step for a batch of real states.
- `mbrl`: collect, train, act, grow the buffer, retrain: `wm-jax mbrl`.
"""
