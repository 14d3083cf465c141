"""The "World Models in PyTorch" tutorial, as one module: three world models and their training loop.

A world model here is an MLP that predicts CartPole's next state from (state, action). Read top to
bottom: the models, the optimizer, the training loop (single model, then the ensemble), scoring.
Tensors are float32: states (N, state_dim), actions (N, action_dim), next_states (N, state_dim).
A Discrete action is one float column holding the action index, as the tutorial feeds it.

Data collection is not here: `wm_jax.data.collect_transitions` (numpy + gymnasium, no JAX) is
shared with the JAX side so both frameworks train on identical arrays; `to_tensors` converts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

# nn.MSELoss() averages over the batch and every state dimension; all training uses it.
mse_loss = nn.MSELoss()


# ------------------------------------------------------------------------------------ models


class SimpleWorldModel(nn.Module):
    """next_state = fc3(relu(fc2(relu(fc1(cat(state, action)))))): 2,596 parameters for CartPole."""

    def __init__(self, state_dim: int, action_dim: int, hidden_dim: int = 64):
        super().__init__()
        # The tutorial's layer names and sizes; the second hidden layer is fixed at 32 units.
        # PyTorch's default nn.Linear init is kept on purpose: parity tests rely on it.
        self.fc1 = nn.Linear(state_dim + action_dim, hidden_dim)
        self.fc2 = nn.Linear(hidden_dim, 32)
        self.fc3 = nn.Linear(32, state_dim)

    def forward(self, state: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        x = torch.cat([state, action], dim=-1)
        x = torch.relu(self.fc1(x))
        x = torch.relu(self.fc2(x))
        return self.fc3(x)


class RegularizedWorldModel(SimpleWorldModel):
    """SimpleWorldModel with dropout after each hidden ReLU (active in train mode only)."""

    def __init__(self, state_dim: int, action_dim: int, hidden_dim: int = 64, dropout_rate: float = 0.2):
        super().__init__(state_dim, action_dim, hidden_dim)
        # Dropout has no parameters, so the state_dict keys stay fc1/fc2/fc3 like the simple model's.
        # One module serves both layers: each call still draws a fresh mask.
        self.dropout = nn.Dropout(dropout_rate)

    def forward(self, state: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        x = torch.cat([state, action], dim=-1)
        x = self.dropout(torch.relu(self.fc1(x)))
        x = self.dropout(torch.relu(self.fc2(x)))
        return self.fc3(x)


class EnsembleWorldModel(nn.Module):
    """`num_models` independently initialised simple models; the prediction is their mean."""

    def __init__(self, state_dim: int, action_dim: int, num_models: int = 5, hidden_dim: int = 64):
        super().__init__()
        self.models = nn.ModuleList([SimpleWorldModel(state_dim, action_dim, hidden_dim) for _ in range(num_models)])

    def member_predictions(self, state: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """Every member's prediction, stacked: (members, N, state_dim)."""
        return torch.stack([model(state, action) for model in self.models])

    def forward(self, state: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return self.member_predictions(state, action).mean(dim=0)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable scalars (all members of an ensemble)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# ---------------------------------------------------------------------------------- training


def make_optimizer(model: nn.Module, lr: float = 1e-3, weight_decay: float = 0.0) -> torch.optim.Adam:
    """The tutorial's Adam. weight_decay is torch's coupled L2 (wd * p added to the gradient before
    the Adam moments), not AdamW; the regularized model uses 1e-4."""
    return torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)


def to_tensors(transitions) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(states, actions, next_states) float32 tensors from a `wm_jax.transitions.Transitions`.

    A Discrete action stored as its index (N,) becomes one float column (N, 1), as the tutorial
    feeds it to the network.
    """
    actions = np.asarray(transitions.actions)
    if actions.ndim == 1:
        actions = actions[:, None]
    return tuple(
        torch.as_tensor(np.ascontiguousarray(array, dtype=np.float32))
        for array in (transitions.states, actions, transitions.next_states)
    )


def _epoch_order(epoch: int, n: int, generator: torch.Generator | None, permutations) -> torch.Tensor:
    """This epoch's minibatch order: the caller's `permutations[epoch]` (parity tests feed both
    frameworks the same order this way), else a fresh randperm as in the tutorial."""
    if permutations is None:
        return torch.randperm(n, generator=generator)
    perm = torch.as_tensor(np.asarray(permutations[epoch]), dtype=torch.long)
    if perm.shape != (n,):
        raise ValueError(f"permutations[{epoch}] has shape {tuple(perm.shape)}, expected ({n},)")
    return perm


def _check_permutations(permutations, epochs: int) -> None:
    if permutations is not None and len(permutations) < epochs:
        raise ValueError(f"got {len(permutations)} permutations for {epochs} epochs")


def _train_one_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    perm: torch.Tensor,
    states: torch.Tensor,
    actions: torch.Tensor,
    next_states: torch.Tensor,
    batch_size: int,
) -> float:
    """One pass over the data in `perm` order; returns the mean of the batch losses.

    The last batch may be partial; it counts as one batch in the mean, as in the tutorial.
    """
    model.train()  # dropout on (a no-op for models without it)
    batch_losses = []
    for i in range(0, len(perm), batch_size):
        idx = perm[i : i + batch_size]
        loss = mse_loss(model(states[idx], actions[idx]), next_states[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        batch_losses.append(loss.item())
    return float(np.mean(batch_losses))


def train_world_model(
    model: nn.Module,
    states: torch.Tensor,
    actions: torch.Tensor,
    next_states: torch.Tensor,
    *,
    epochs: int = 100,
    batch_size: int = 32,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    generator: torch.Generator | None = None,
    permutations: Sequence | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    on_epoch: Callable[[int, float], None] | None = None,
) -> list[float]:
    """Fit one model by minibatch Adam on the MSE; returns the mean training loss of each epoch.

    Each epoch shuffles with `torch.randperm(n, generator=generator)`, or takes `permutations[epoch]`
    from an (epochs, n) integer array. `optimizer` defaults to `make_optimizer(model, lr, weight_decay)`.
    """
    _check_permutations(permutations, epochs)
    optimizer = optimizer or make_optimizer(model, lr=lr, weight_decay=weight_decay)
    losses = []
    for epoch in range(epochs):
        perm = _epoch_order(epoch, len(states), generator, permutations)
        losses.append(_train_one_epoch(model, optimizer, perm, states, actions, next_states, batch_size))
        if on_epoch is not None:
            on_epoch(epoch, losses[-1])
    return losses


def train_ensemble(
    ensemble: EnsembleWorldModel,
    states: torch.Tensor,
    actions: torch.Tensor,
    next_states: torch.Tensor,
    *,
    epochs: int = 100,
    batch_size: int = 32,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    generator: torch.Generator | None = None,
    permutations: Sequence | None = None,
    on_epoch: Callable[[int, list[float]], None] | None = None,
) -> list[list[float]]:
    """Fit every member with its own Adam; returns per-epoch lists of per-member mean losses.

    As in the tutorial, each epoch draws ONE permutation shared by all members, and the members
    are trained one after another over all of that epoch's batches. The members still differ
    because each starts from its own random initialisation.
    """
    _check_permutations(permutations, epochs)
    optimizers = [make_optimizer(model, lr=lr, weight_decay=weight_decay) for model in ensemble.models]
    losses = []
    for epoch in range(epochs):
        perm = _epoch_order(epoch, len(states), generator, permutations)
        losses.append(
            [
                _train_one_epoch(model, optimizer, perm, states, actions, next_states, batch_size)
                for model, optimizer in zip(ensemble.models, optimizers)
            ]
        )
        if on_epoch is not None:
            on_epoch(epoch, losses[-1])
    return losses


# ----------------------------------------------------------------------------------- scoring


def _eval_predictions(model: nn.Module, states: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """Eval-mode (no dropout), gradient-free predictions; the model's train/eval mode is restored."""
    was_training = model.training
    model.eval()
    with torch.no_grad():
        predictions = model(states, actions)
    model.train(was_training)
    return predictions


def per_dimension_mse(
    model: nn.Module, states: torch.Tensor, actions: torch.Tensor, next_states: torch.Tensor
) -> list[float]:
    """MSE of each state dimension (an ensemble is scored on its mean prediction)."""
    squared_errors = (_eval_predictions(model, states, actions) - next_states) ** 2
    return squared_errors.mean(dim=0).tolist()


def mse(model: nn.Module, states: torch.Tensor, actions: torch.Tensor, next_states: torch.Tensor) -> float:
    """MSE over all rows and state dimensions, in eval mode (an ensemble: of its mean prediction)."""
    return mse_loss(_eval_predictions(model, states, actions), next_states).item()
