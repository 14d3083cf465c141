"""The benchmarked workload: CartPole random-policy transitions and the tutorial's training recipe.

FLOP count (documented in NOTES.md). For an MLP with layer widths d_0 -> ... -> d_L, a minibatch
of B rows and P parameters, one member's optimisation step costs
    forward          2 B sum_l d_{l-1} d_l
    backward, dW     2 B sum_l d_{l-1} d_l
    backward, dX     2 B sum_{l>=2} d_{l-1} d_l      (no input gradient for the first layer)
    Adam             ADAM_FLOPS_PER_PARAM * P
Biases, ReLU and the loss are O(B d) and left out. An epoch sums this over its minibatches
(n // B full ones and one partial one of n % B rows).
"""

from __future__ import annotations

import dataclasses

import numpy as np

STATE_DIM, ACTION_DIM, HIDDEN = 4, 1, (64, 32)
LAYER_SIZES = (STATE_DIM + ACTION_DIM, *HIDDEN, STATE_DIM)
# mu: 3 (two products, one sum); nu: 4; bias corrections, sqrt, +eps, divide, scale, apply: 5.
ADAM_FLOPS_PER_PARAM = 12


@dataclasses.dataclass(frozen=True)
class Workload:
    members: int
    transitions: int
    epochs: int = 100
    batch_size: int = 32
    learning_rate: float = 1e-3

    @property
    def batch_sizes(self) -> list[int]:
        full, tail = divmod(self.transitions, self.batch_size)
        return [self.batch_size] * full + ([tail] if tail else [])

    @property
    def steps_per_epoch(self) -> int:
        return len(self.batch_sizes)

    def with_epochs(self, epochs: int) -> Workload:
        return dataclasses.replace(self, epochs=epochs)


def parameter_count(sizes=LAYER_SIZES) -> int:
    return sum(i * o + o for i, o in zip(sizes[:-1], sizes[1:]))


def step_flops(batch: int, sizes=LAYER_SIZES) -> float:
    """One member's forward + backward + Adam for a minibatch of `batch` rows."""
    products = [i * o for i, o in zip(sizes[:-1], sizes[1:])]
    return 2 * batch * (2 * sum(products) + sum(products[1:])) + ADAM_FLOPS_PER_PARAM * parameter_count(sizes)


def run_flops(w: Workload) -> float:
    return w.members * w.epochs * sum(step_flops(b) for b in w.batch_sizes)


def cartpole_transitions(n: int, seed: int = 0):
    """n random-policy CartPole-v1 transitions (the tutorial's data) as a `wm_jax.transitions.Transitions`
    of float32 numpy arrays: states (n, 4), actions (n, 1), next_states (n, 4).

    Collection stores CartPole's raw action indices (int32 (n,)); the bench feeds the networks the
    tutorial's encoding, the index as one float column (`encode_actions(..., "index", 1)`).
    """
    from wm_jax.data import collect_transitions
    from wm_jax.envs import encode_actions
    from wm_jax.transitions import Transitions

    data = collect_transitions("CartPole-v1", seed=seed, transitions=n)
    return Transitions(
        np.ascontiguousarray(data.states),
        np.ascontiguousarray(encode_actions(data.actions, "index", ACTION_DIM)),
        np.ascontiguousarray(data.next_states),
    )


def arrays(data) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(states, actions, next_states) of a Transitions: what every implementation trains on."""
    return data.states, data.actions, data.next_states
