"""The PyTorch reference as a backend of the shared demo (`wm_jax.demo`): same data, same report."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch

from wm_jax.config import ConfigError, ModelConfig, TrainConfig
from wm_jax.demo import TrainedModel
from wm_jax.envs import encode_actions, env_spec
from wm_jax.transitions import Transitions

from .tutorial import (
    EnsembleWorldModel,
    RegularizedWorldModel,
    SimpleWorldModel,
    count_parameters,
    to_tensors,
    train_ensemble,
    train_world_model,
)

# The tutorial's second hidden layer is hard-wired to 32 units; only the first is configurable.
TUTORIAL_SECOND_HIDDEN = 32


def tutorial_hidden_dim(hidden_sizes: tuple[int, ...]) -> int:
    """The `hidden_dim` of a (hidden_dim, 32) config; any other shape is not the tutorial's model."""
    sizes = tuple(hidden_sizes)
    if len(sizes) != 2 or sizes[1] != TUTORIAL_SECOND_HIDDEN:
        raise ConfigError(f"the PyTorch reference supports hidden sizes (h, 32) only, got {sizes}")
    return sizes[0]


def build_model(config: ModelConfig, state_dim: int, action_dim: int) -> torch.nn.Module:
    """The tutorial model for `config`: an ensemble of simple models, the regularized model, or the simple one."""
    hidden_dim = tutorial_hidden_dim(config.hidden_sizes)
    if config.kind == "ensemble" or config.members > 1:
        if config.dropout_rate > 0:
            raise ConfigError("the tutorial's ensemble members are simple models: dropout must be 0")
        return EnsembleWorldModel(state_dim, action_dim, num_models=config.members, hidden_dim=hidden_dim)
    if config.kind == "regularized" or config.dropout_rate > 0:
        return RegularizedWorldModel(state_dim, action_dim, hidden_dim=hidden_dim, dropout_rate=config.dropout_rate)
    return SimpleWorldModel(state_dim, action_dim, hidden_dim=hidden_dim)


def predict_members(model: torch.nn.Module, states: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """Eval-mode predictions of every member as numpy: (members, N, state_dim); 1 member for single models."""
    states_t = torch.as_tensor(np.ascontiguousarray(states, dtype=np.float32))
    actions_t = torch.as_tensor(np.ascontiguousarray(actions, dtype=np.float32))
    model.eval()
    with torch.no_grad():
        if isinstance(model, EnsembleWorldModel):
            return model.member_predictions(states_t, actions_t).numpy()
        return model(states_t, actions_t)[None].numpy()


def rollout_tracks(model: torch.nn.Module, start_states: np.ndarray, action_windows: np.ndarray) -> np.ndarray:
    """Open-loop rollouts (1 + E, B, H, S): the ensemble mean fed back into every member, then each
    member fed its own predictions. Eval mode; same contract as `wm_jax.evaluation.rollouts.model_rollout`."""
    members = list(model.models) if isinstance(model, EnsembleWorldModel) else [model]
    model.eval()
    actions = torch.as_tensor(np.ascontiguousarray(action_windows, dtype=np.float32))
    mean_state = torch.as_tensor(np.ascontiguousarray(start_states, dtype=np.float32))
    member_states = [mean_state] * len(members)
    tracks = []
    with torch.no_grad():
        for h in range(actions.shape[1]):
            mean_state = torch.stack([m(mean_state, actions[:, h]) for m in members]).mean(dim=0)
            member_states = [m(s, actions[:, h]) for m, s in zip(members, member_states)]
            tracks.append(torch.stack([mean_state, *member_states]))
    return torch.stack(tracks, dim=2).numpy()


class TorchBackend:
    """Trains the tutorial's models with the reference loop (`wm_torch_ref.tutorial`) on CPU."""

    name = "PyTorch reference"

    def describe(self, state_dim: int, action_dim: int) -> tuple[int, tuple[int, ...], tuple[int, ...]]:
        model = SimpleWorldModel(state_dim, action_dim)
        with torch.no_grad():
            output = model(torch.zeros(1, state_dim), torch.zeros(1, action_dim))
        # The input shape reported is the network's: the concatenated (state, action) row.
        return count_parameters(model), (1, state_dim + action_dim), tuple(output.shape)

    def train(
        self,
        model_cfg: ModelConfig,
        train_cfg: TrainConfig,
        data: Transitions,
        seed: int,
        on_epoch: Callable[[int, np.ndarray], None] | None,
        env_id: str,
        action_encoding: str,
    ) -> TrainedModel:
        if train_cfg.shuffle != "shared":
            raise ConfigError("the PyTorch reference shuffles the tutorial's way: one shared permutation per epoch")
        # The first optimizer built in a process imports torch._dynamo (1-2 s): pay that before the
        # clock starts, as the JAX backend's compile time is kept out of its training time.
        torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))])
        # The global seed fixes the initial weights and the dropout masks; the generator the shuffling.
        torch.manual_seed(seed)
        generator = torch.Generator().manual_seed(seed)
        # The same encoding the JAX model uses (wm_jax.envs): the tutorial's index column by default.
        width = env_spec(env_id).encoded_action_dim(action_encoding)
        encoded = data._replace(actions=encode_actions(data.actions, action_encoding, width))
        model = build_model(model_cfg, data.state_dim, width)
        states, actions, next_states = to_tensors(encoded)
        recipe = dict(
            epochs=train_cfg.epochs,
            batch_size=train_cfg.batch_size,
            lr=train_cfg.learning_rate,
            weight_decay=train_cfg.weight_decay,
            generator=generator,
        )
        report = (
            None if on_epoch is None else (lambda epoch, losses: on_epoch(epoch, np.atleast_1d(np.asarray(losses))))
        )
        started = time.perf_counter()
        if isinstance(model, EnsembleWorldModel):
            curve = train_ensemble(model, states, actions, next_states, on_epoch=report, **recipe)
        else:
            curve = [
                [loss] for loss in train_world_model(model, states, actions, next_states, on_epoch=report, **recipe)
            ]
        train_seconds = time.perf_counter() - started
        return TrainedModel(
            # The demo hands raw actions; the reference model takes them encoded, as it was trained.
            predict_members=lambda s, a: predict_members(model, s, encode_actions(a, action_encoding, width)),
            rollout=lambda s, a: rollout_tracks(
                model, s, encode_actions(a, action_encoding, width).reshape(*np.shape(a)[:2], width)
            ),
            loss_curve=np.asarray(curve, dtype=np.float64),
            params=count_parameters(model),
            train_seconds=train_seconds,
            compile_seconds=0.0,  # eager PyTorch compiles nothing
        )
