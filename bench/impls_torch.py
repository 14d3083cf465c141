"""PyTorch rows: the tutorial's loop (`torch-loop`) and vectorized ensembles (`torch-vmap`, `torch-bmm`, `torch-compile`).

Every row trains E members with one Adam each (lr 1e-3, MSE, shared minibatch order per epoch),
as `wm_torch_ref.tutorial.train_ensemble` does. The vectorized rows sum the member losses, which
gives each member exactly its own gradient; Adam is elementwise, so one Adam over the stacked
parameters is E independent Adams.
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from wm_torch_ref.tutorial import EnsembleWorldModel, SimpleWorldModel, train_ensemble

from .timing import Measurement, measure_epochs, timed
from .workload import ACTION_DIM, STATE_DIM, Workload, arrays


def _tensors(data):
    return tuple(torch.as_tensor(np.ascontiguousarray(x, dtype=np.float32)) for x in arrays(data))


def torch_loop(w: Workload, data, seed: int, repeats: int, budget_s: float) -> Measurement:
    """The tutorial: each epoch, member after member, a Python loop of minibatch steps."""
    states, actions, next_states = _tensors(data)

    def run(epochs: int) -> float:
        torch.manual_seed(seed)
        ensemble = EnsembleWorldModel(STATE_DIM, ACTION_DIM, num_models=w.members)
        losses = train_ensemble(
            ensemble,
            states,
            actions,
            next_states,
            epochs=epochs,
            batch_size=w.batch_size,
            lr=w.learning_rate,
            generator=torch.Generator().manual_seed(seed),
        )
        return float(np.mean(losses[-1]))

    return measure_epochs(run, w.epochs, repeats, budget_s)


def _stacked_layers(members: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """E tutorial models' layers as (W (E, in, out), b (E, 1, out)) leaf tensors."""
    models = [SimpleWorldModel(STATE_DIM, ACTION_DIM) for _ in range(members)]
    layers = []
    for name in ("fc1", "fc2", "fc3"):
        weight = torch.stack([getattr(m, name).weight.detach().T for m in models]).contiguous().requires_grad_()
        bias = torch.stack([getattr(m, name).bias.detach()[None, :] for m in models]).contiguous().requires_grad_()
        layers.append((weight, bias))
    return layers


def _bmm_forward(layers, states, actions):
    """(E, B, S) predictions; the shared minibatch is broadcast over the member axis."""
    x = torch.cat([states, actions], dim=-1).expand(layers[0][0].shape[0], -1, -1)
    for i, (weight, bias) in enumerate(layers):
        x = torch.baddbmm(bias, x, weight)
        if i < len(layers) - 1:
            x = torch.relu(x)
    return x


def _member_losses(prediction, target):
    return ((prediction - target) ** 2).mean(dim=(1, 2))


def _vectorized_run(w: Workload, data, seed: int, make_loss):
    """A training loop over minibatches where `make_loss(members)` returns (parameters, loss_fn)."""
    states, actions, next_states = _tensors(data)
    n = states.shape[0]

    def run(epochs: int) -> float:
        torch.manual_seed(seed)
        parameters, loss_fn = make_loss(w.members)
        optimizer = torch.optim.Adam(parameters, lr=w.learning_rate, foreach=True)
        generator = torch.Generator().manual_seed(seed)
        epoch_loss = torch.zeros(w.members)
        for _ in range(epochs):
            perm = torch.randperm(n, generator=generator)
            total, batches = torch.zeros(w.members), 0
            for i in range(0, n, w.batch_size):
                idx = perm[i : i + w.batch_size]
                member_losses = loss_fn(states[idx], actions[idx], next_states[idx])
                optimizer.zero_grad(set_to_none=True)
                member_losses.sum().backward()
                optimizer.step()
                total += member_losses.detach()
                batches += 1
            epoch_loss = total / batches
        return float(epoch_loss.mean())

    return run


def _functorch_loss(members: int):
    from torch.func import functional_call, stack_module_state

    models = [SimpleWorldModel(STATE_DIM, ACTION_DIM) for _ in range(members)]
    params, buffers = stack_module_state(models)
    base = copy.deepcopy(models[0]).to("meta")

    def member(p, b, s, a):
        return functional_call(base, (p, b), (s, a))

    predict = torch.vmap(member, in_dims=(0, 0, None, None))

    def loss_fn(s, a, ns):
        return _member_losses(predict(params, buffers, s, a), ns)

    return list(params.values()), loss_fn


def _bmm_loss(members: int):
    layers = _stacked_layers(members)

    def loss_fn(s, a, ns):
        return _member_losses(_bmm_forward(layers, s, a), ns)

    return [t for layer in layers for t in layer], loss_fn


def torch_vmap(w: Workload, data, seed: int, repeats: int, budget_s: float) -> Measurement:
    """torch.func: stack_module_state + functional_call under torch.vmap."""
    return measure_epochs(_vectorized_run(w, data, seed, _functorch_loss), w.epochs, repeats, budget_s)


def torch_bmm(w: Workload, data, seed: int, repeats: int, budget_s: float) -> Measurement:
    """Batched layers: one baddbmm per layer for all members."""
    return measure_epochs(_vectorized_run(w, data, seed, _bmm_loss), w.epochs, repeats, budget_s)


def torch_compile(w: Workload, data, seed: int, repeats: int, budget_s: float) -> Measurement:
    """The batched-layer loss under torch.compile (forward and backward compiled; Adam foreach)."""
    # Each ensemble size is new shapes; start from an empty dynamo cache so no row hits the
    # recompile limit and silently falls back to eager.
    torch._dynamo.reset()
    compiled_forward = torch.compile(_bmm_forward, dynamic=False)

    def make_loss(members: int):
        layers = _stacked_layers(members)

        def loss_fn(s, a, ns):
            return _member_losses(compiled_forward(layers, s, a), ns)

        return [t for layer in layers for t in layer], loss_fn

    states, actions, next_states = _tensors(data)
    _, loss_fn = make_loss(w.members)
    tail = w.batch_sizes[-1]

    def compile_both_shapes():
        for rows in {w.batch_size, tail}:
            loss_fn(states[:rows], actions[:rows], next_states[:rows]).sum().backward()

    compile_seconds, _ = timed(compile_both_shapes)
    return measure_epochs(_vectorized_run(w, data, seed, make_loss), w.epochs, repeats, budget_s, compile_seconds)


IMPLS = {"torch-loop": torch_loop, "torch-vmap": torch_vmap, "torch-bmm": torch_bmm, "torch-compile": torch_compile}


def choose_threads(data, cores: int) -> tuple[int, dict[str, float]]:
    """torch's intra-op thread count for this run: the faster of 1 and `cores` on 200 tutorial steps.

    On a loaded 2-core host, 2 OpenMP threads can be many times slower than 1 for these tiny ops.
    """
    states, actions, next_states = _tensors(data)
    seconds = {}
    for threads in sorted({1, cores}):
        torch.set_num_threads(threads)
        torch.manual_seed(0)
        model = SimpleWorldModel(STATE_DIM, ACTION_DIM)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

        def steps():
            for _ in range(200):
                idx = torch.randint(0, states.shape[0], (32,))
                loss = ((model(states[idx], actions[idx]) - next_states[idx]) ** 2).mean()
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                loss.item()

        steps()
        seconds[str(threads)] = min(timed(steps)[0] for _ in range(3))
    best = min(seconds, key=seconds.get)
    torch.set_num_threads(int(best))
    return int(best), seconds
