"""The engine at PETS/MBPO size: mbrl-lib's probabilistic ensemble (7 Gaussian members, 4 x 200 ReLU,
Gaussian NLL with learned log-variance bounds, bootstrap, batch 256) on MuJoCo-shaped data (HalfCheetah's
17-dimensional observations and 6-dimensional actions, 20,000 rows), and one CEM planning step at PETS'
planning size with that network.

    python -m bench --only realistic --json bench/results/realistic-cpu-2core.json \\
        --markdown bench/results/realistic-cpu-2core.md

Rows, interleaved (A, B, C, A, B, C, ...) in one process so machine noise hits them alike:
- `jax-engine`: `wm_jax.training.make_train`, the program `fit` and `wm-jax train` run (members sharded
  over the CPU devices);
- `torch-bmm`: the same network in PyTorch, one batched matmul per layer for all members, one Adam;
- `mbrl-lib`: mbrl-lib's own `GaussianMLP` + `ModelTrainer`, where mbrl-lib is installed (it is not a
  dependency: `pip install --no-deps mbrl==0.2.0`; its trainer runs members as one batched network too).

At this size the cost is arithmetic, not overhead, so each row also reports GFLOP/s and its share of the
machine's float32 matmul peak measured in the same process (`machine.matmul_peak_gflops`). FLOPs count
the matmuls of forward, weight gradients and input gradients (`workload.step_flops`, Adam included).
The data is random normal: the time does not depend on the values, and no MuJoCo install is needed.
"""

from __future__ import annotations

import dataclasses
import functools
import statistics
import time

import jax
import numpy as np

from .workload import ADAM_FLOPS_PER_PARAM

STATE_DIM, ACTION_DIM = 17, 6  # HalfCheetah-v5
HIDDEN = (200, 200, 200, 200)
MEMBERS, BATCH = 7, 256


@dataclasses.dataclass(frozen=True)
class Size:
    transitions: int = 20_000
    epochs: int = 5  # timed epochs per repeat
    repeats: int = 5
    # CEM at PETS' planning size: iterations x candidates x particles x horizon rows per action.
    iterations: int = 5
    candidates: int = 350
    particles: int = 20
    horizon: int = 30

    @classmethod
    def quick(cls) -> Size:
        return cls(transitions=600, epochs=1, repeats=1, iterations=2, candidates=20, particles=4, horizon=5)


def layer_sizes() -> tuple[int, ...]:
    # The output layer holds the mean and the raw log-variance of every state dimension.
    return (STATE_DIM + ACTION_DIM, *HIDDEN, 2 * STATE_DIM)


def epoch_flops(size: Size) -> float:
    """One epoch of all members: forward, both gradients and Adam per minibatch (as `workload.step_flops`)."""
    sizes = layer_sizes()
    products = [i * o for i, o in zip(sizes[:-1], sizes[1:])]
    params = sum(i * o + o for i, o in zip(sizes[:-1], sizes[1:])) + 2 * STATE_DIM  # + the log-variance bounds
    full, tail = divmod(size.transitions, BATCH)
    batches = [BATCH] * full + ([tail] if tail else [])
    per_step = [2 * b * (2 * sum(products) + sum(products[1:])) + ADAM_FLOPS_PER_PARAM * params for b in batches]
    return MEMBERS * sum(per_step)


def _data(size: Size, seed: int):
    rng = np.random.default_rng(seed)
    states = rng.normal(size=(size.transitions, STATE_DIM)).astype(np.float32)
    actions = rng.uniform(-1, 1, size=(size.transitions, ACTION_DIM)).astype(np.float32)
    next_states = (states + 0.1 * rng.normal(size=states.shape)).astype(np.float32)
    return states, actions, next_states


def jax_engine(size: Size, data, seed: int, members: int = MEMBERS, mesh="members"):
    """`run()` trains `size.epochs` epochs with the engine (compiled beforehand); and the compile seconds.
    `mesh`: "members" spreads the members over the CPU devices as `wm-jax train` does; None is one device;
    or a mesh of `training_mesh` (`bench.layouts` compares them)."""
    from wm_jax.config import ModelConfig, TrainConfig
    from wm_jax.models import ModelSpec
    from wm_jax.training import TrainingData, fit_normalizer_for, make_train, to_buffer, training_mesh
    from wm_jax.transitions import Transitions

    model = ModelConfig(kind="ensemble", members=members, hidden_sizes=HIDDEN, probabilistic=True)
    spec = ModelSpec(STATE_DIM, ACTION_DIM, model)
    train = TrainConfig(epochs=size.epochs, batch_size=BATCH, bootstrap=True)
    program = make_train(spec, train, mesh=training_mesh(members=members) if mesh == "members" else mesh)
    transitions = Transitions(*data)
    buffer = TrainingData(to_buffer(transitions))
    normalizer = fit_normalizer_for(spec, transitions)
    key, run_key = jax.random.key(seed), jax.random.key(seed + 1)
    start = time.perf_counter()
    begin = jax.jit(lambda k: program.start(program.init(k), run_key, normalizer)).lower(key).compile()
    chunk = jax.jit(functools.partial(program.train_chunk, epochs=size.epochs)).lower(begin(key), buffer).compile()
    compile_seconds = time.perf_counter() - start
    state = begin(key)

    def run() -> None:
        nonlocal state
        state, metrics = chunk(state, buffer)
        np.asarray(metrics.loss_curve)

    return run, compile_seconds


def torch_bmm(size: Size, data, seed: int):
    """The same network and objective in PyTorch: one baddbmm per layer for all members, one Adam."""
    import torch

    torch.manual_seed(seed)
    states, actions, next_states = (torch.from_numpy(x) for x in data)
    sizes = layer_sizes()
    layers = []
    for d_in, d_out in zip(sizes[:-1], sizes[1:]):
        weight = torch.empty(MEMBERS, d_in, d_out)
        for member in weight:
            torch.nn.init.trunc_normal_(member, std=1 / (2 * np.sqrt(d_in)))
        layers.append((weight.requires_grad_(), torch.zeros(MEMBERS, 1, d_out, requires_grad=True)))
    max_logvar = torch.full((STATE_DIM,), 0.5, requires_grad=True)
    min_logvar = torch.full((STATE_DIM,), -10.0, requires_grad=True)
    parameters = [t for layer in layers for t in layer] + [max_logvar, min_logvar]
    optimizer = torch.optim.Adam(parameters, lr=1e-3, foreach=True)
    generator = torch.Generator().manual_seed(seed)
    n = states.shape[0]

    def loss(idx):  # idx (E, B): each member's own bootstrap rows
        x = torch.cat([states[idx], actions[idx]], dim=-1)
        for i, (weight, bias) in enumerate(layers):
            x = torch.baddbmm(bias, x, weight)
            if i < len(layers) - 1:
                x = torch.relu(x)
        mean, raw = x[..., :STATE_DIM], x[..., STATE_DIM:]
        logvar = max_logvar - torch.nn.functional.softplus(max_logvar - raw)
        logvar = min_logvar + torch.nn.functional.softplus(logvar - min_logvar)
        nll = ((mean - next_states[idx]) ** 2 * torch.exp(-logvar) + logvar).mean(dim=(1, 2))
        return nll.sum() + 0.01 * (max_logvar.sum() - min_logvar.sum())

    def run() -> None:
        for _ in range(size.epochs):
            bootstrap = torch.randint(0, n, (MEMBERS, n), generator=generator)
            for i in range(0, n, BATCH):
                optimizer.zero_grad(set_to_none=True)
                loss(bootstrap[:, i : i + BATCH]).backward()
                optimizer.step()

    return run, 0.0


def mbrl_lib(size: Size, data, seed: int):
    """mbrl-lib's GaussianMLP (PETS' network) trained by its ModelTrainer on a bootstrapped buffer."""
    import torch
    from mbrl.models import GaussianMLP, ModelTrainer, OneDTransitionRewardModel
    from mbrl.util.replay_buffer import ReplayBuffer

    torch.manual_seed(seed)
    network = GaussianMLP(
        in_size=STATE_DIM + ACTION_DIM,
        out_size=STATE_DIM,
        device="cpu",
        num_layers=len(HIDDEN),
        ensemble_size=MEMBERS,
        hid_size=HIDDEN[0],
        deterministic=False,
        propagation_method="fixed_model",
        learn_logvar_bounds=False,  # its default (ReLU is its default activation too)
    )
    model = OneDTransitionRewardModel(network, target_is_delta=True, normalize=False, learned_rewards=False)
    trainer = ModelTrainer(model, optim_lr=1e-3, weight_decay=0.0)
    states, actions, next_states = data
    buffer = ReplayBuffer(size.transitions, (STATE_DIM,), (ACTION_DIM,), rng=np.random.default_rng(seed))
    flags = np.zeros(len(states), bool)
    buffer.add_batch(states, actions, next_states, np.zeros(len(states), np.float32), flags, flags)
    from mbrl.util.common import get_basic_buffer_iterators

    train_iterator, _ = get_basic_buffer_iterators(buffer, BATCH, 0.0, ensemble_size=MEMBERS, shuffle_each_epoch=True)

    def run() -> None:
        # evaluate=False: no scoring pass after each epoch (it would score the training set, there being no
        # validation split), so the row times training alone, like the others.
        trainer.train(train_iterator, num_epochs=size.epochs, evaluate=False, silent=True)

    return run, 0.0


def planning_row(size: Size, seed: int, repeats: int) -> dict:
    """One CEM action at PETS' planning size, in the network of the training rows, with PETS' TS-inf particles
    (each particle follows one member for the whole horizon: mbrl-lib's "fixed_model" propagation)."""
    from wm_jax.config import ModelConfig, PlannerConfig
    from wm_jax.models import ensemble_of, init_ensemble_params, spec_for_env
    from wm_jax.planning.mpc import MPCAgent

    # HalfCheetah's spaces; its reward needs the x position the observation leaves out, so the model
    # scores plans with its own reward and termination heads (as PETS with a learned reward).
    model = ModelConfig(
        kind="ensemble",
        members=MEMBERS,
        hidden_sizes=HIDDEN,
        probabilistic=True,
        delta=True,
        reward_head=True,
        termination_head=True,
    )
    spec = spec_for_env("HalfCheetah-v5", model)
    config = PlannerConfig(
        horizon=size.horizon,
        candidates=size.candidates,
        iterations=size.iterations,
        particles=size.particles,
        mode="tsinf",
        reward="learned",
    )
    ensemble = ensemble_of(spec, init_ensemble_params(spec, jax.random.key(seed)))
    agent = MPCAgent(spec, "HalfCheetah-v5", config)
    states = np.zeros((1, STATE_DIM), np.float32)
    plan = agent.init(1)
    start = time.perf_counter()
    jax.block_until_ready(agent.act(ensemble, states, plan, jax.random.key(0)))
    compile_seconds = time.perf_counter() - start
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(agent.act(ensemble, states, plan, jax.random.key(i + 1)))
        times.append(time.perf_counter() - start)
    seconds = statistics.median(times)
    sizes = layer_sizes()
    rows = size.iterations * size.candidates * size.particles * size.horizon
    flops = rows * 2 * sum(i * o for i, o in zip(sizes[:-1], sizes[1:]))
    return {
        "row": "CEM action (jax)",
        "mode": config.mode,
        "iterations": size.iterations,
        "candidates": size.candidates,
        "particles": size.particles,
        "horizon": size.horizon,
        "seconds": seconds,
        "compile_seconds": compile_seconds,
        "gflop": flops / 1e9,
        "gflops": flops / seconds / 1e9,
        "all_seconds": times,
    }


def interleaved_seconds_per_epoch(runners: dict, size: Size) -> dict[str, list[float]]:
    """Each runner (a `run()` of `size.epochs` epochs) warmed up once, then timed `size.repeats` times,
    interleaved (A, B, C, A, B, C, ...) so machine noise hits them alike: seconds per epoch of every run."""
    for run in runners.values():
        run()
    times = {name: [] for name in runners}
    for _ in range(size.repeats):
        for name, run in runners.items():
            start = time.perf_counter()
            run()
            times[name].append((time.perf_counter() - start) / size.epochs)
    return times


IMPLS = {"jax-engine": jax_engine, "torch-bmm": torch_bmm, "mbrl-lib": mbrl_lib}


def run(size: Size, peak_gflops: float, seed: int = 0, log=print) -> dict:
    """Median seconds per epoch of every row, interleaved, with GFLOP/s, share of peak and ratios."""
    data = _data(size, seed)
    runners, notes = {}, {}
    for name, make in IMPLS.items():
        try:
            runners[name] = make(size, data, seed)
        except ImportError as error:  # mbrl-lib is optional
            notes[name] = f"not installed ({error.name})"
            log(f"  {name:12s} skipped: {notes[name]}")
    times = interleaved_seconds_per_epoch({name: fn for name, (fn, _) in runners.items()}, size)
    flops = epoch_flops(size)
    rows = []
    for name in IMPLS:
        if name not in runners:
            rows.append({"row": name, "note": notes[name]})
            continue
        per_epoch = statistics.median(times[name])
        gflops = flops / per_epoch / 1e9
        rows.append(
            {
                "row": name,
                "seconds_per_epoch": per_epoch,
                "gflops": gflops,
                "share_of_peak": gflops / peak_gflops,
                "compile_seconds": runners[name][1],
                "all_seconds_per_epoch": times[name],
            }
        )
        log(f"  {name:12s} {per_epoch:7.3f} s/epoch  {gflops:6.1f} GFLOP/s  {100 * gflops / peak_gflops:5.1f}% of peak")
    engine = rows[0].get("seconds_per_epoch")
    for row in rows:
        if engine and row.get("seconds_per_epoch"):
            row["engine_speedup"] = row["seconds_per_epoch"] / engine
    planning = planning_row(size, seed, repeats=max(3, size.repeats))
    log(f"  CEM action: {planning['seconds']:.2f} s ({planning['gflops']:.1f} GFLOP/s)")
    import torch

    return {
        "torch_threads": torch.get_num_threads(),
        "members": MEMBERS,
        "hidden": list(HIDDEN),
        "batch_size": BATCH,
        "state_dim": STATE_DIM,
        "action_dim": ACTION_DIM,
        "size": dataclasses.asdict(size),
        "epoch_gflop": flops / 1e9,
        "peak_gflops": peak_gflops,
        "rows": rows,
        "planning": planning,
    }


def markdown(section: dict) -> str:
    size = section["size"]
    lines = [
        f"E={section['members']} Gaussian members, {' x '.join(map(str, section['hidden']))} ReLU, batch "
        f"{section['batch_size']}, bootstrap, {size['transitions']} rows of {section['state_dim']}+"
        f"{section['action_dim']} dims; {section['epoch_gflop']:.1f} GFLOP per epoch; matmul peak "
        f"{section['peak_gflops']:.1f} GFLOP/s; torch threads {section['torch_threads']}.",
        "",
        "| row | s / epoch (median) | GFLOP/s | share of peak | engine speed-up |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for r in section["rows"]:
        if "note" in r:
            lines.append(f"| {r['row']} | {r['note']} | | | |")
            continue
        lines.append(
            f"| {r['row']} | {r['seconds_per_epoch']:.3f} | {r['gflops']:.1f} | {100 * r['share_of_peak']:.0f}% | "
            f"{r['engine_speedup']:.2f}x |"
        )
    p = section["planning"]
    lines += [
        "",
        f"One CEM action ({p['iterations']} iterations x {p['candidates']} candidates x {p['particles']} particles "
        f"x horizon {p['horizon']}, {p['mode']}, {p['gflop']:.0f} GFLOP): {p['seconds']:.2f} s median, {p['gflops']:.1f} GFLOP/s "
        f"(compile {p['compile_seconds']:.1f} s).",
    ]
    return "\n".join(lines) + "\n"
