"""Unit tests of the PyTorch reference (`wm_torch_ref`): models, training loop, scoring, demo backend."""

import copy

import numpy as np
import pytest
import torch

from wm_jax.config import ConfigError, ModelConfig, TrainConfig, tutorial_model_config, tutorial_train_config
from wm_jax.data import collect_transitions
from wm_torch_ref import (
    EnsembleWorldModel,
    RegularizedWorldModel,
    SimpleWorldModel,
    count_parameters,
    make_optimizer,
    mse,
    per_dimension_mse,
    to_tensors,
    train_ensemble,
    train_world_model,
)
from wm_torch_ref.backend import TorchBackend

STATE_DIM, ACTION_DIM = 4, 1  # CartPole: 4 state variables, the action index as one float column


@pytest.fixture(scope="module")
def cartpole():
    """500 random-policy CartPole transitions as (states, actions, next_states) tensors."""
    return to_tensors(collect_transitions("CartPole-v1", seed=0, transitions=500))


def inputs(n=8, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n, STATE_DIM, generator=generator), torch.randn(n, ACTION_DIM, generator=generator)


def test_simple_model_has_the_tutorials_2596_parameters_for_cartpole():
    assert count_parameters(SimpleWorldModel(STATE_DIM, ACTION_DIM)) == 2596


def test_regularized_model_has_the_simple_models_parameter_names_and_count():
    simple, regularized = SimpleWorldModel(STATE_DIM, ACTION_DIM), RegularizedWorldModel(STATE_DIM, ACTION_DIM)
    assert (
        list(regularized.state_dict())
        == list(simple.state_dict())
        == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias"]
    )
    assert count_parameters(regularized) == 2596
    assert regularized.dropout.p == 0.2


def test_ensemble_has_num_models_times_the_simple_models_parameters():
    assert count_parameters(EnsembleWorldModel(STATE_DIM, ACTION_DIM, num_models=5)) == 5 * 2596


@pytest.mark.parametrize("model_class", [SimpleWorldModel, RegularizedWorldModel, EnsembleWorldModel])
def test_models_map_a_batch_of_states_and_actions_to_a_batch_of_next_states(model_class):
    states, actions = inputs(n=7)
    assert model_class(STATE_DIM, ACTION_DIM)(states, actions).shape == (7, STATE_DIM)


def test_ensemble_member_predictions_are_stacked_members_by_batch_by_state():
    states, actions = inputs(n=7)
    assert EnsembleWorldModel(STATE_DIM, ACTION_DIM, num_models=3).member_predictions(states, actions).shape == (
        3,
        7,
        STATE_DIM,
    )


def test_dropout_is_active_in_train_mode_and_off_in_eval_mode():
    torch.manual_seed(0)
    model = RegularizedWorldModel(STATE_DIM, ACTION_DIM, dropout_rate=0.5)
    states, actions = inputs(n=64)
    model.train()
    assert not torch.equal(model(states, actions), model(states, actions))  # a fresh mask per call
    model.eval()
    assert torch.equal(model(states, actions), model(states, actions))
    # In eval mode the regularized model is exactly the simple model with the same weights.
    simple = SimpleWorldModel(STATE_DIM, ACTION_DIM)
    simple.load_state_dict(model.state_dict())
    torch.testing.assert_close(model(states, actions), simple(states, actions), rtol=0, atol=0)


def test_ensemble_forward_is_the_mean_of_its_members_predictions():
    ensemble = EnsembleWorldModel(STATE_DIM, ACTION_DIM, num_models=5)
    states, actions = inputs()
    members = torch.stack([member(states, actions) for member in ensemble.models])
    torch.testing.assert_close(ensemble(states, actions), members.mean(dim=0))


def test_training_loss_falls_on_a_small_cartpole_dataset(cartpole):
    torch.manual_seed(0)
    losses = train_world_model(
        SimpleWorldModel(STATE_DIM, ACTION_DIM), *cartpole, epochs=5, generator=torch.Generator().manual_seed(0)
    )
    assert len(losses) == 5
    assert losses[-1] < 0.5 * losses[0]


def test_trained_model_scores_lower_mse_than_the_untrained_one(cartpole):
    torch.manual_seed(0)
    model = SimpleWorldModel(STATE_DIM, ACTION_DIM)
    before = mse(model, *cartpole)
    train_world_model(model, *cartpole, epochs=5, generator=torch.Generator().manual_seed(0))
    assert mse(model, *cartpole) < before
    assert np.mean(per_dimension_mse(model, *cartpole)) == pytest.approx(mse(model, *cartpole), rel=1e-5)


def test_on_epoch_receives_each_epoch_index_and_loss(cartpole):
    seen = []
    losses = train_world_model(
        SimpleWorldModel(STATE_DIM, ACTION_DIM),
        *cartpole,
        epochs=3,
        on_epoch=lambda epoch, loss: seen.append((epoch, loss)),
    )
    assert seen == list(enumerate(losses))


def test_supplied_permutations_are_honoured(cartpole):
    n = len(cartpole[0])
    rng = np.random.default_rng(0)
    order = np.stack([rng.permutation(n) for _ in range(3)])
    other = np.stack([rng.permutation(n) for _ in range(3)])
    torch.manual_seed(0)
    initial = SimpleWorldModel(STATE_DIM, ACTION_DIM)

    def run(permutations):
        return train_world_model(copy.deepcopy(initial), *cartpole, epochs=3, permutations=permutations)

    assert run(order) == run(torch.from_numpy(order))  # numpy array or tensor, same order
    assert run(order) != run(other)


def test_shuffling_follows_the_generator(cartpole):
    torch.manual_seed(0)
    initial = SimpleWorldModel(STATE_DIM, ACTION_DIM)

    def run(seed):
        return train_world_model(
            copy.deepcopy(initial), *cartpole, epochs=2, generator=torch.Generator().manual_seed(seed)
        )

    assert run(1) == run(1)
    assert run(1) != run(2)


def test_permutations_of_the_wrong_shape_are_rejected(cartpole):
    n = len(cartpole[0])
    with pytest.raises(ValueError, match="permutations"):
        train_world_model(
            SimpleWorldModel(STATE_DIM, ACTION_DIM), *cartpole, epochs=3, permutations=np.zeros((2, n), int)
        )
    with pytest.raises(ValueError, match="expected"):
        train_world_model(
            SimpleWorldModel(STATE_DIM, ACTION_DIM), *cartpole, epochs=1, permutations=np.zeros((1, n - 1), int)
        )


def test_weight_decay_makes_adam_take_a_different_step(cartpole):
    states, actions, next_states = (x[:32] for x in cartpole)
    torch.manual_seed(0)
    initial = SimpleWorldModel(STATE_DIM, ACTION_DIM)

    def one_step(weight_decay):
        model = copy.deepcopy(initial)
        optimizer = make_optimizer(model, lr=1e-3, weight_decay=weight_decay)
        torch.nn.MSELoss()(model(states, actions), next_states).backward()
        optimizer.step()
        return torch.cat([p.detach().flatten() for p in model.parameters()])

    plain, decayed = one_step(0.0), one_step(1e-4)
    assert make_optimizer(initial, weight_decay=1e-4).defaults["weight_decay"] == 1e-4
    assert not torch.equal(plain, decayed)


def test_ensemble_members_share_each_epochs_order_and_train_as_if_alone(cartpole):
    """Each member of train_ensemble = that member trained alone with the same permutations."""
    n = len(cartpole[0])
    order = np.stack([np.random.default_rng(e).permutation(n) for e in range(2)])
    torch.manual_seed(0)
    ensemble = EnsembleWorldModel(STATE_DIM, ACTION_DIM, num_models=3)
    alone = [copy.deepcopy(member) for member in ensemble.models]
    losses = train_ensemble(ensemble, *cartpole, epochs=2, batch_size=32, lr=1e-3, permutations=order)
    assert np.shape(losses) == (2, 3)
    for i, member in enumerate(alone):
        assert train_world_model(member, *cartpole, epochs=2, permutations=order) == [epoch[i] for epoch in losses]
        for trained, reference in zip(ensemble.models[i].parameters(), member.parameters()):
            assert torch.equal(trained, reference)


def test_mse_scores_in_eval_mode_without_gradients_and_keeps_the_mode(cartpole):
    model = RegularizedWorldModel(STATE_DIM, ACTION_DIM, dropout_rate=0.5)
    model.train()
    first = mse(model, *cartpole)
    assert isinstance(first, float) and first == mse(model, *cartpole)  # no dropout noise
    assert model.training
    assert all(p.grad is None for p in model.parameters())


def test_to_tensors_gives_float32_tensors_of_the_transitions_shapes():
    data = collect_transitions("CartPole-v1", seed=1, transitions=10)
    states, actions, next_states = to_tensors(data)
    assert [t.dtype for t in (states, actions, next_states)] == [torch.float32] * 3
    assert (states.shape, actions.shape, next_states.shape) == ((10, 4), (10, 1), (10, 4))
    np.testing.assert_array_equal(next_states.numpy(), data.next_states)


# ------------------------------------------------------------------------- the demo backend


def test_backend_describes_the_untrained_simple_model():
    assert TorchBackend().describe(STATE_DIM, ACTION_DIM) == (2596, (1, 5), (1, 4))


@pytest.mark.parametrize("kind, members", [("simple", 1), ("regularized", 1), ("ensemble", 3)])
def test_backend_trains_each_tutorial_model_and_returns_member_predictions(kind, members):
    data = collect_transitions("CartPole-v1", seed=0, transitions=200)
    seen = []
    trained = TorchBackend().train(
        tutorial_model_config(kind, members),
        tutorial_train_config(kind, epochs=2),
        data,
        seed=0,
        on_epoch=lambda epoch, losses: seen.append((epoch, losses.shape)),
        env_id="CartPole-v1",
        action_encoding="index",
    )
    actions = data.actions  # raw, as the demo hands them; the backend encodes them as it was trained
    assert seen == [(0, (members,)), (1, (members,))]
    assert trained.loss_curve.shape == (2, members)
    assert trained.params == 2596 * members
    assert trained.predict_members(data.states, actions).shape == (members, 200, 4)
    assert trained.predict(data.states, actions).shape == (200, 4)
    assert trained.compile_seconds == 0.0
    tracks = trained.rollout(data.states[:7], np.repeat(actions[:7, None], 3, axis=1))
    assert tracks.shape == (1 + members, 7, 3, 4)
    np.testing.assert_allclose(tracks[1:, :, 0], trained.predict_members(data.states[:7], actions[:7]), rtol=1e-6)


def test_backend_runs_are_reproducible_from_the_seed():
    data = collect_transitions("CartPole-v1", seed=0, transitions=200)
    config = tutorial_model_config("regularized")
    runs = [
        TorchBackend().train(
            config,
            tutorial_train_config("regularized", epochs=2),
            data,
            seed=3,
            on_epoch=None,
            env_id="CartPole-v1",
            action_encoding="index",
        )
        for _ in range(2)
    ]
    np.testing.assert_array_equal(runs[0].loss_curve, runs[1].loss_curve)


@pytest.mark.parametrize(
    "model_config, train_config",
    [
        (ModelConfig(hidden_sizes=(64, 64)), TrainConfig()),
        (ModelConfig(hidden_sizes=(64, 32, 16)), TrainConfig()),
        (ModelConfig(kind="ensemble", members=3, dropout_rate=0.2), TrainConfig()),
        (ModelConfig(kind="ensemble", members=3), TrainConfig(shuffle="per_member")),
    ],
)
def test_backend_rejects_configs_that_are_not_the_tutorials_models(model_config, train_config):
    data = collect_transitions("CartPole-v1", seed=0, transitions=50)
    with pytest.raises(ConfigError):
        TorchBackend().train(
            model_config, train_config, data, seed=0, on_epoch=None, env_id="CartPole-v1", action_encoding="index"
        )
