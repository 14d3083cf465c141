"""The parity comparisons: JAX (`wm_jax`) vs the PyTorch reference (`wm_torch_ref`), in one process.

Every check is a function returning a list of `Comparison` rows (check, JAX value, PyTorch value,
abs diff, rel diff, tolerance, pass). The pytest tests and `python -m parity_tests` both call
these functions; tolerances come from `parity_tests.tolerances`.

Conventions: `spec` is a `wm_jax.models.ModelSpec`; a spec with `members > 1` is an ensemble,
one with `dropout_rate > 0` the regularized model. Torch models are built by the reference
with `torch.manual_seed(seed)`, and JAX parameters are transferred from them with
`wm_jax.bridge`, so "same initial weights" means bit-identical weights. Transition arrays are
`wm_jax.transitions.Transitions` of numpy float32 states (N, S), actions (N, A), next_states (N, S)
(the other fields unused): the networks' input, so CartPole's raw Discrete actions are stored
here already encoded the tutorial's way (`encode_actions(..., "index", 1)`, one float column).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax
import torch
from flax import nnx
from scipy import stats

from wm_jax import bridge
from wm_jax.config import ModelConfig, TrainConfig, tutorial_model_config, tutorial_train_config
from wm_jax.data import collect_transitions
from wm_jax.envs import encode_actions
from wm_jax.evaluation import scores_from_predictions
from wm_jax.models import (
    ModelSpec,
    apply_member,
    build_model,
    count_params,
    graphdef_of,
    init_ensemble_params,
    init_params,
    predict,
    predict_members,
)
from wm_jax.training import as_batch, epoch_permutations, make_optimizer, make_train, mse_loss
from wm_jax.transitions import Transitions
from wm_torch_ref import backend as ref_backend
from wm_torch_ref import tutorial as ref

from . import tolerances as tol

# Full float32 everywhere: JAX's default matmul precision is TF32-like on GPUs; torch's is not.
jax.config.update("jax_default_matmul_precision", "highest")
torch.set_default_dtype(torch.float32)
# One torch thread: these models are tiny, and on a shared, loaded CPU torch's spinning OpenMP
# workers made training ~20x slower (27 s vs 1.5 s for the same run).
torch.set_num_threads(1)

TUTORIAL_DROPOUT = 0.2
TUTORIAL_CARTPOLE_PARAMS = 2596
CARTPOLE = ModelSpec(4, 1, tutorial_model_config("simple"))
CARTPOLE_REGULARIZED = ModelSpec(4, 1, tutorial_model_config("regularized"))
CARTPOLE_ENSEMBLE = ModelSpec(4, 1, tutorial_model_config("ensemble"))
# Non-CartPole shapes for the report (the tests also draw shapes with hypothesis). The reference
# is the tutorial's fc1-fc2-fc3 net, so hidden sizes are (h, 32).
OTHER_SPECS = {
    "pendulum-like 3+1, h=16": ModelSpec(3, 1, ModelConfig(hidden_sizes=(16, 32))),
    "6+3, h=48, regularized": ModelSpec(6, 3, ModelConfig(kind="regularized", hidden_sizes=(48, 32), dropout_rate=0.2)),
    "2+2, h=8, ensemble of 3": ModelSpec(2, 2, ModelConfig(kind="ensemble", hidden_sizes=(8, 32), members=3)),
}
# Dataset sizes, kept small so the suite runs in minutes on 2 shared cores.
TRAIN_TRANSITIONS = 1000  # check 6: ~1000 CartPole transitions, 100 epochs (3200 Adam steps)
ENSEMBLE_TRANSITIONS = 256  # check 9: 5 members x 100 epochs x 8 batches
EVAL_TRANSITIONS = 500  # held-out CartPole data (another seed) for eval MSE
INDEPENDENT_TRANSITIONS = 256  # check 7: many runs per side, so short ones:
INDEPENDENT_EPOCHS = 20
INDEPENDENT_SEEDS = tuple(range(6))


@dataclasses.dataclass(frozen=True)
class Comparison:
    """One row of the parity table. `jax` / `torch` are the compared values (the worst entry of
    an array, a count, a shape, or a sample statistic); `detail` holds test statistics."""

    check: str
    jax: object
    torch: object
    abs_diff: float
    rel_diff: float
    tolerance: str
    passed: bool
    detail: str = ""


# ---------------------------------------------------------------------------- comparing values


def compare(check: str, jax_value, torch_value, tolerance: tol.Tolerance, detail: str = "") -> Comparison:
    """Compare two numeric arrays (or scalars) under `tolerance` (Exact, ScaledClose or Close)."""
    a, b = np.asarray(jax_value), np.asarray(torch_value)
    if a.shape != b.shape:
        return Comparison(check, f"shape {a.shape}", f"shape {b.shape}", math.inf, math.inf, tolerance.describe(), False, detail)
    if a.size == 0:
        return Comparison(check, "empty", "empty", 0.0, 0.0, tolerance.describe(), True, detail)
    diff = np.abs(a.astype(np.float64) - b.astype(np.float64))
    scale = float(np.abs(b.astype(np.float64)).max())
    if isinstance(tolerance, tol.Close):
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.where(diff == 0, 0.0, diff / np.abs(b.astype(np.float64)))
        worst = int(np.argmax(rel))
        passed = bool(np.all(rel <= tolerance.rtol))
        rel_diff = float(rel.flat[worst])
    else:
        worst = int(np.argmax(diff))
        rel_diff = float(diff.max() / scale) if scale > 0 else (0.0 if diff.max() == 0 else math.inf)
        if isinstance(tolerance, tol.Exact):
            passed = a.dtype == b.dtype and a.tobytes() == b.tobytes()
        elif isinstance(tolerance, tol.ScaledClose):
            passed = bool(diff.max() <= tolerance.rtol * scale)
        else:
            raise TypeError(f"compare() does not handle {tolerance!r}")
    return Comparison(
        check, _scalar(a.flat[worst]), _scalar(b.flat[worst]), float(diff.flat[worst]), rel_diff, tolerance.describe(), passed, detail
    )


def compare_dicts(check: str, jax_dict: dict, torch_dict: dict, tolerance: tol.Tolerance) -> Comparison:
    """The worst of `compare` over matching keys of two {name: array} dicts; any key mismatch fails."""
    if set(jax_dict) != set(torch_dict):
        return Comparison(check, sorted(jax_dict), sorted(torch_dict), math.inf, math.inf, tolerance.describe(), False, "keys differ")
    rows = [compare(check, jax_dict[k], torch_dict[k], tolerance, detail=k) for k in sorted(jax_dict)]
    worst = max(rows, key=lambda row: (not row.passed, row.rel_diff))
    return dataclasses.replace(worst, passed=all(row.passed for row in rows), detail=f"worst: {worst.detail}")


def compare_values(check: str, jax_value, torch_value, detail: str = "") -> Comparison:
    """Exact equality of non-numeric values (shapes, layer lists)."""
    passed = jax_value == torch_value
    return Comparison(check, jax_value, torch_value, 0.0 if passed else math.inf, 0.0 if passed else math.inf, "exact", passed, detail)


def compare_distributions(check: str, jax_stat: float, torch_stat: float, p_value: float, tolerance: tol.PValue, test: str) -> Comparison:
    """A statistical comparison: the two sample statistics and whether the test's p >= alpha."""
    abs_diff = abs(jax_stat - torch_stat)
    rel_diff = abs_diff / abs(torch_stat) if torch_stat else (0.0 if abs_diff == 0 else math.inf)
    return Comparison(check, jax_stat, torch_stat, abs_diff, rel_diff, tolerance.describe(), bool(p_value >= tolerance.alpha), f"{test} p={p_value:.3g}")


def _scalar(value):
    return value.item() if hasattr(value, "item") else value


# --------------------------------------------------------------------------------- both sides


def torch_model(spec: ModelSpec, seed: int) -> torch.nn.Module:
    """The reference's model for `spec` (its own config mapping), initialised under `torch.manual_seed(seed)`.

    The reference is the tutorial's fc1-fc2-fc3 net: hidden sizes must be (h, 32).
    """
    torch.manual_seed(seed)
    return ref_backend.build_model(spec.config, spec.state_dim, spec.action_dim)


def torch_members(model: torch.nn.Module) -> list[torch.nn.Module]:
    """The single models inside `model`: its `.models` for an ensemble, else [model]."""
    return list(model.models) if isinstance(model, ref.EnsembleWorldModel) else [model]


def torch_state_dicts(model: torch.nn.Module) -> list[dict[str, np.ndarray]]:
    """Each member's state_dict as numpy copies."""
    return [{k: v.detach().numpy().copy() for k, v in m.state_dict().items()} for m in torch_members(model)]


def transferred_params(model: torch.nn.Module) -> nnx.State:
    """JAX parameters (members, ...) holding exactly `model`'s weights."""
    return bridge.params_from_torch_state_dict(model.state_dict())


def torch_member_predictions(model: torch.nn.Module, data: Transitions) -> np.ndarray:
    """Eval-mode predictions of every member: (members, N, S)."""
    return ref_backend.predict_members(model, data.states, data.actions)


def member(params: nnx.State, index: int) -> nnx.State:
    """One member's (unstacked) parameters."""
    return jax.tree.map(lambda leaf: leaf[index], params)


def flat_params(params: nnx.State) -> dict[str, np.ndarray]:
    return {".".join(map(str, path)): np.asarray(leaf.get_value()) for path, leaf in nnx.to_flat_state(params)}


def param_shapes(params: nnx.State) -> list[tuple[str, tuple[int, ...]]]:
    """[("head.bias", (members, out)), ...]: the structure of a parameter state."""
    return [(".".join(map(str, path)), tuple(leaf.get_value().shape)) for path, leaf in nnx.to_flat_state(params)]


def single_spec(spec: ModelSpec) -> ModelSpec:
    """The same architecture as one model (members=1)."""
    kind = "regularized" if spec.config.dropout_rate > 0 else "simple"
    return spec._replace(config=dataclasses.replace(spec.config, kind=kind, members=1))


# ----------------------------------------------------------------------------------- the data


@functools.lru_cache(maxsize=8)
def cartpole_transitions(n: int, seed: int) -> Transitions:
    """n random-policy CartPole-v1 transitions (the tutorial's data), actions as the tutorial's float index column."""
    data = collect_transitions("CartPole-v1", seed=seed, transitions=n)
    return Transitions(data.states, encode_actions(data.actions, "index", 1), data.next_states)


def sas(data: Transitions) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(states, actions, next_states): the arrays the networks and losses see."""
    return data.states, data.actions, data.next_states


def device_rows(data: Transitions) -> Transitions:
    """`data` as the engine's device-resident Transitions."""
    return as_batch(*sas(data))


def random_transitions(spec: ModelSpec, n: int, seed: int) -> Transitions:
    """Standard-normal float32 transitions of `spec`'s shapes, for architectures with no environment."""
    rng = np.random.default_rng(seed)
    draw = lambda dim: rng.standard_normal((n, dim)).astype(np.float32)
    return Transitions(draw(spec.state_dim), draw(spec.action_dim), draw(spec.state_dim))


# ------------------------------------------------------------------------- 1. architecture


def architecture(label: str, spec: ModelSpec, seed: int = 0, expected_params: int | None = None) -> list[Comparison]:
    """Same layers (names, order, shapes), parameter counts, member counts and dropout rates."""
    params = init_ensemble_params(spec, jax.random.key(seed))
    model = torch_model(spec, seed)
    jax_count, torch_count = count_params(params), sum(p.numel() for p in model.parameters())
    rows = [compare(f"{label}: parameter count", jax_count, torch_count, tol.ARCHITECTURE)]
    if expected_params is not None:
        rows.append(
            Comparison(
                f"{label}: parameter count = tutorial's {expected_params}",
                jax_count,
                torch_count,
                abs(jax_count - torch_count),
                0.0,
                "exact",
                jax_count == torch_count == expected_params,
            )
        )
    torch_dicts = [m.state_dict() for m in torch_members(model)]
    rows.append(compare(f"{label}: members", params["head"]["bias"].shape[0], len(torch_dicts), tol.ARCHITECTURE))
    # JAX layers in forward order, named and shaped the torch way: (out, in) weights.
    jax_layers = [params["hidden"][i] for i in range(len(params["hidden"]))] + [params["head"]]
    jax_shapes = [
        (f"fc{k}.{part}", tuple(layer["kernel"].shape[:0:-1]) if part == "weight" else tuple(layer["bias"].shape[1:]))
        for k, layer in enumerate(jax_layers, start=1)
        for part in ("weight", "bias")
    ]
    for m, state_dict in enumerate(torch_dicts):
        torch_shapes = [(name, tuple(value.shape)) for name, value in state_dict.items()]
        rows.append(compare_values(f"{label}: member {m} layers (torch order and shapes)", jax_shapes, torch_shapes))
    jax_rate = build_model(single_spec(spec), jax.random.key(seed)).dropout.rate
    torch_rates = sorted({float(m.p) for m in model.modules() if isinstance(m, torch.nn.Dropout)} or {0.0})
    rows.append(compare_values(f"{label}: dropout rates", [float(jax_rate)], torch_rates))
    return rows


# ----------------------------------------------------------------------- 2. weight transfer


def weight_transfer(label: str, spec: ModelSpec, seed: int = 0) -> list[Comparison]:
    """torch -> Flax -> torch and Flax -> torch -> Flax are bit-exact; the Flax side fits the JAX model."""
    model = torch_model(spec, seed)
    originals = torch_state_dicts(model)
    params = transferred_params(model)
    template = jax.eval_shape(lambda: init_ensemble_params(spec, jax.random.key(0)))
    rows = [
        compare_values(
            f"{label}: torch -> Flax has the JAX model's structure",
            param_shapes(params),
            param_shapes(template),
        )
    ]
    for m, (back, original) in enumerate(zip(bridge.params_to_torch_state_dicts(params), originals)):
        rows.append(compare_dicts(f"{label}: torch -> Flax -> torch, member {m}", back, original, tol.WEIGHT_TRANSFER))
    per_member = bridge.params_from_torch_state_dict([m.state_dict() for m in torch_members(model)])
    rows.append(compare_dicts(f"{label}: list of state_dicts = model state_dict", flat_params(per_member), flat_params(params), tol.WEIGHT_TRANSFER))

    jax_params = init_ensemble_params(spec, jax.random.key(seed + 1))
    fresh = torch_model(spec, seed + 1)
    if spec.config.members > 1:
        state_dict = bridge.params_to_torch_ensemble_state_dict(jax_params)
    else:
        (state_dict,) = bridge.params_to_torch_state_dicts(jax_params)
    fresh.load_state_dict({k: torch.from_numpy(v) for k, v in state_dict.items()}, strict=True)
    round_trip = transferred_params(fresh)
    rows.append(compare_dicts(f"{label}: Flax -> torch -> Flax", flat_params(round_trip), flat_params(jax_params), tol.WEIGHT_TRANSFER))
    return rows


# ------------------------------------------------------------------------- 3. initialisation


def init_distribution(label: str, spec: ModelSpec, draws: int = 200, seed: int = 0) -> list[Comparison]:
    """JAX init vs torch default init, per layer and parameter, pooled over `draws` fresh models.

    Two-sample KS (JAX vs torch) and one-sample KS of each side against U(-1/sqrt(fan_in),
    1/sqrt(fan_in)), kaiming_uniform(a=sqrt(5))'s bound for weights and nn.Linear's bias bound.
    """
    spec = single_spec(spec)
    keys = jax.random.split(jax.random.key(seed), draws)
    jax_dicts = bridge.params_to_torch_state_dicts(jax.vmap(lambda k: init_params(spec, k))(keys))
    torch_dicts = [torch_state_dicts(torch_model(spec, seed * draws + d))[0] for d in range(draws)]
    rows = []
    for name in jax_dicts[0]:
        weight = name.replace(".bias", ".weight")
        bound = 1.0 / math.sqrt(jax_dicts[0][weight].shape[1])
        jax_sample = np.concatenate([d[name].ravel() for d in jax_dicts])
        torch_sample = np.concatenate([d[name].ravel() for d in torch_dicts])
        uniform = stats.uniform(loc=-bound, scale=2 * bound).cdf
        p_values = {
            "jax~torch": stats.ks_2samp(jax_sample, torch_sample).pvalue,
            "jax~U": stats.kstest(jax_sample, uniform).pvalue,
            "torch~U": stats.kstest(torch_sample, uniform).pvalue,
        }
        worst = min(p_values, key=p_values.get)
        row = compare_distributions(
            f"{label}: init {name} std (n={jax_sample.size})",
            float(jax_sample.std()),
            float(torch_sample.std()),
            p_values[worst],
            tol.INIT_KS,
            f"KS min over 3 tests ({worst})",
        )
        rows.append(dataclasses.replace(row, detail=row.detail + f"; U std {bound / math.sqrt(3):.4g}"))
    return rows


# ------------------------------------------------------------- 4. forward, loss, gradients


def forward_loss_gradients(label: str, spec: ModelSpec, data: Transitions, seed: int = 0) -> list[Comparison]:
    """Eval-mode outputs, MSE loss and every gradient with bit-identical weights on both sides."""
    model = torch_model(spec, seed)
    params = transferred_params(model)
    graphdef = graphdef_of(single_spec(spec))
    jax_members = np.asarray(predict_members(graphdef, params, data.states, data.actions))
    torch_outputs = torch_member_predictions(model, data)
    rows = [compare(f"{label}: eval forward, every member", jax_members, torch_outputs, tol.FORWARD)]
    if spec.config.members > 1:
        model.eval()
        with torch.no_grad():
            torch_mean = model(torch.from_numpy(data.states), torch.from_numpy(data.actions)).numpy()
        jax_mean = np.asarray(predict(graphdef, params, data.states, data.actions))
        rows.append(compare(f"{label}: ensemble mean prediction", jax_mean, torch_mean, tol.FORWARD))

    def jax_loss(member_params):
        return mse_loss(apply_member(graphdef, member_params, data.states, data.actions), data.next_states)

    states, actions, targets = (torch.from_numpy(x) for x in sas(data))
    for m, torch_member in enumerate(torch_members(model)):
        loss, grads = jax.value_and_grad(jax_loss)(member(params, m))
        torch_member.eval()
        torch_member.zero_grad()
        torch_loss = ref.mse_loss(torch_member(states, actions), targets)
        torch_loss.backward()
        (jax_grads,) = bridge.params_to_torch_state_dicts(jax.tree.map(lambda g: g[None], grads))
        torch_grads = {name: p.grad.numpy() for name, p in torch_member.named_parameters()}
        rows.append(compare(f"{label}: MSE loss, member {m}", float(loss), torch_loss.item(), tol.LOSS))
        rows.append(compare_dicts(f"{label}: gradients, member {m}", jax_grads, torch_grads, tol.GRADIENT))
    return rows


# ----------------------------------------------------------------------------- 5. optimizer


def adam_steps(
    label: str,
    spec: ModelSpec,
    data: Transitions,
    weight_decay: float,
    steps: int = 20,
    batch_size: int = 32,
    learning_rate: float = 1e-3,
    seed: int = 0,
    jax_optimizer: optax.GradientTransformation | None = None,
) -> list[Comparison]:
    """`steps` Adam steps on identical minibatches: wm_jax's optimizer vs the reference's torch Adam.

    Compared on the displacement p_N - p_0 (relative to its own size), which isolates the
    updates from the much larger weights. `jax_optimizer` replaces `make_optimizer`'s (break-it
    experiments: `optax.adamw` must fail here).
    """
    spec = single_spec(spec)._replace(config=dataclasses.replace(single_spec(spec).config, dropout_rate=0.0))
    model = torch_model(spec, seed)
    (initial,) = torch_state_dicts(model)
    params = member(transferred_params(model), 0)
    graphdef = graphdef_of(spec)
    optimizer = jax_optimizer or make_optimizer(TrainConfig(learning_rate=learning_rate, weight_decay=weight_decay))
    torch_optimizer = ref.make_optimizer(model, lr=learning_rate, weight_decay=weight_decay)
    opt_state = optimizer.init(params)

    @jax.jit
    def jax_step(params, opt_state, states, actions, targets):
        loss_fn = lambda p: mse_loss(apply_member(graphdef, p, states, actions), targets)
        grads = jax.grad(loss_fn)(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    model.train()
    n = data.states.shape[0]
    for step in range(steps):
        rows_ = np.arange(step * batch_size, (step + 1) * batch_size) % n
        batch = Transitions(*(x[rows_] for x in sas(data)))
        params, opt_state = jax_step(params, opt_state, *sas(batch))
        torch_optimizer.zero_grad()
        ref.mse_loss(model(torch.from_numpy(batch.states), torch.from_numpy(batch.actions)), torch.from_numpy(batch.next_states)).backward()
        torch_optimizer.step()
    (jax_final,) = bridge.params_to_torch_state_dicts(jax.tree.map(lambda x: x[None], params))
    (torch_final,) = torch_state_dicts(model)
    jax_moved = {k: jax_final[k].astype(np.float64) - initial[k] for k in initial}
    torch_moved = {k: torch_final[k].astype(np.float64) - initial[k] for k in initial}
    name = f"{label}: {steps} Adam steps (wd={weight_decay:g})"
    return [
        compare_dicts(f"{name}, weights p_N", jax_final, torch_final, tol.ADAM_WEIGHTS),
        compare_dicts(f"{name}, displacement p_N - p_0", jax_moved, torch_moved, tol.ADAM_DISPLACEMENT),
    ]


# -------------------------------------------------------------------------- 6. training run


def _torch_train(model, data: Transitions, config: TrainConfig, permutations=None, generator=None) -> np.ndarray:
    """Train with the reference's loop; the per-epoch losses as (epochs, members)."""
    states, actions, next_states = (torch.from_numpy(x) for x in sas(data))
    train = ref.train_ensemble if isinstance(model, ref.EnsembleWorldModel) else ref.train_world_model
    losses = train(
        model,
        states,
        actions,
        next_states,
        epochs=config.epochs,
        batch_size=config.batch_size,
        lr=config.learning_rate,
        weight_decay=config.weight_decay,
        generator=generator,
        permutations=permutations,
    )
    return np.asarray(losses, dtype=np.float64).reshape(config.epochs, -1)


def training_run(
    label: str, spec: ModelSpec, config: TrainConfig, data: Transitions, eval_data: Transitions, seed: int = 0
) -> list[Comparison]:
    """The tutorial recipe from identical weights with the identical minibatch order on both sides.

    Works for single models and ensembles (torch `train_ensemble` vs the vmapped JAX ensemble);
    dropout must be off (masks cannot match across frameworks; see `independent_runs`).
    """
    if spec.config.dropout_rate > 0:
        raise ValueError("training_run compares deterministic runs; use independent_runs for dropout")
    model = torch_model(spec, seed)
    params = transferred_params(model)
    n = data.states.shape[0]
    permutations = np.array(epoch_permutations(jax.random.key(seed), config.epochs, n))  # writable, for torch
    program = make_train(spec, config, n)
    jax_params, metrics = jax.jit(program.run)(params, device_rows(data), jax.random.key(seed), jnp.asarray(permutations))
    torch_curve = _torch_train(model, data, config, permutations=permutations)
    jax_curve = np.asarray(metrics.loss_curve)
    early = tol.EARLY_EPOCHS
    rows = [
        compare(f"{label}: per-epoch training loss, first {early} epochs, every member", jax_curve[:early],
                torch_curve[:early], tol.EARLY_LOSS_CURVE),
        compare(f"{label}: per-epoch training loss, all epochs, every member", jax_curve, torch_curve, tol.LOSS_CURVE),
    ]
    graphdef = graphdef_of(single_spec(spec))
    for name, split in (("train", data), ("eval", eval_data)):
        jax_scores = scores_from_predictions(predict_members(graphdef, jax_params, split.states, split.actions), split.next_states)
        torch_scores = scores_from_predictions(torch_member_predictions(model, split), split.next_states)
        rows.append(compare(f"{label}: final {name} MSE", jax_scores.mse, torch_scores.mse, tol.FINAL_MSE))
        if spec.config.members > 1:
            rows.append(compare(f"{label}: final {name} MSE per member", jax_scores.member_mse, torch_scores.member_mse, tol.FINAL_MSE))
    return rows


# ----------------------------------------------------------------------- 7. independent runs


def independent_runs(
    label: str, spec: ModelSpec, config: TrainConfig, data: Transitions, eval_data: Transitions, seeds: tuple[int, ...]
) -> list[Comparison]:
    """Each side with its own init, shuffling (and dropout masks), one run per seed: eval MSEs
    compared with a two-sided Mann-Whitney U test."""
    n = data.states.shape[0]
    program = make_train(spec, config, n)
    graphdef = graphdef_of(single_spec(spec))
    keys = jnp.stack([jax.random.key(s) for s in seeds])
    all_params, _ = jax.jit(jax.vmap(program, in_axes=(0, None)))(keys, device_rows(data))
    members = jax.vmap(predict_members, in_axes=(None, 0, None, None))(graphdef, all_params, eval_data.states, eval_data.actions)
    jax_mse = [scores_from_predictions(np.asarray(p), eval_data.next_states).mse for p in members]
    torch_mse = []
    for s in seeds:
        model = torch_model(spec, s)
        _torch_train(model, data, config, generator=torch.Generator().manual_seed(s))
        torch_mse.append(scores_from_predictions(torch_member_predictions(model, eval_data), eval_data.next_states).mse)
    p_value = stats.mannwhitneyu(jax_mse, torch_mse, alternative="two-sided").pvalue
    return [
        compare_distributions(
            f"{label}: eval MSE over {len(seeds)} seeds (median)",
            float(np.median(jax_mse)),
            float(np.median(torch_mse)),
            p_value,
            tol.INDEPENDENT_RUNS,
            "Mann-Whitney U",
        )
    ]


# ---------------------------------------------------------------------------------- 8. dropout


def dropout_layer(label: str, spec: ModelSpec, n: int = 200_000, seed: int = 0, rate: float = TUTORIAL_DROPOUT) -> list[Comparison]:
    """The models' own dropout layers in train mode: zero fraction is `rate` (binomial test on
    each side) and kept activations are scaled by exactly 1 / (1 - rate)."""
    jax_dropout = build_model(single_spec(spec), jax.random.key(seed)).dropout
    jax_out = np.asarray(jax_dropout(jnp.ones(n), deterministic=False, rngs=jax.random.key(seed)))
    torch_layers = [m for m in torch_model(single_spec(spec), seed).modules() if isinstance(m, torch.nn.Dropout)]
    if not torch_layers:
        return [compare_values(f"{label}: dropout layers", "present", "none")]
    torch_layers[0].train()
    with torch.no_grad():
        torch_out = torch_layers[0](torch.ones(n)).numpy()
    p_jax = stats.binomtest(int((jax_out == 0).sum()), n, rate).pvalue
    p_torch = stats.binomtest(int((torch_out == 0).sum()), n, rate).pvalue
    scale = np.float32(1) / np.float32(1 - rate)
    jax_kept, torch_kept = jax_out[jax_out != 0], torch_out[torch_out != 0]
    return [
        compare_distributions(
            f"{label}: train-mode zero fraction (rate {rate:g})",
            float((jax_out == 0).mean()),
            float((torch_out == 0).mean()),
            min(p_jax, p_torch),
            tol.DROPOUT_RATE,
            f"binomial vs {rate:g}, jax p={p_jax:.3g}, torch",
        ),
        compare(f"{label}: kept activations' scale", jax_kept.max(), torch_kept.max(), tol.DROPOUT_SCALE, f"1/(1-p) = {scale:.7g}"),
        compare(f"{label}: kept activations = 1/(1-p)", np.array([jax_kept.min(), jax_kept.max(), torch_kept.min(), torch_kept.max()]), np.full(4, scale), tol.DROPOUT_SCALE),
    ]


def dropout_outputs(label: str, spec: ModelSpec, data: Transitions, draws: int = 20_000, seed: int = 0) -> list[Comparison]:
    """Train-mode outputs of the whole regularized model, same weights and input, many masks:
    two-sample KS per output dimension (the minimum p is reported)."""
    spec = single_spec(spec)
    model = torch_model(spec, seed)
    params = member(transferred_params(model), 0)
    states = np.repeat(data.states[:1], draws, axis=0)
    actions = np.repeat(data.actions[:1], draws, axis=0)
    jax_out = np.asarray(apply_member(graphdef_of(spec), params, states, actions, dropout_key=jax.random.key(seed)))
    model.train()
    with torch.no_grad():
        torch_out = model(torch.from_numpy(states), torch.from_numpy(actions)).numpy()
    p_value = min(stats.ks_2samp(jax_out[:, d], torch_out[:, d]).pvalue for d in range(spec.state_dim))
    return [
        compare_distributions(
            f"{label}: train-mode output std ({draws} masks)",
            float(jax_out.std(axis=0).mean()),
            float(torch_out.std(axis=0).mean()),
            p_value,
            tol.DROPOUT_OUTPUTS,
            f"KS min over {spec.state_dim} dims",
        )
    ]


# -------------------------------------------------------------------------------- 9. ensemble


def ensemble_members_are_single_models(label: str, spec: ModelSpec, config: TrainConfig, data: Transitions, seed: int = 0) -> list[Comparison]:
    """JAX only: member i of the vmapped ensemble = one model trained alone from the same initial
    params with the same minibatch order; and the ensemble prediction = mean of the members'."""
    n = data.states.shape[0]
    params = init_ensemble_params(spec, jax.random.key(seed))
    permutations = epoch_permutations(jax.random.key(seed + 1), config.epochs, n)
    batch = device_rows(data)
    ensemble, ensemble_metrics = jax.jit(make_train(spec, config, n).run)(params, batch, jax.random.key(seed), permutations)
    run_single = jax.jit(make_train(single_spec(spec), config, n).run)
    graphdef = graphdef_of(single_spec(spec))
    rows = []
    for i in range(spec.config.members):
        alone, alone_metrics = run_single(jax.tree.map(lambda x: x[i : i + 1], params), batch, jax.random.key(seed), permutations)
        detail = "JAX only: ensemble member | single model"
        rows.append(compare(f"{label}: member {i} loss curve = single model's", ensemble_metrics.loss_curve[:, i], alone_metrics.loss_curve[:, 0], tol.ENSEMBLE_MEMBER_CURVE, detail))
        rows.append(
            compare(
                f"{label}: member {i} predictions = single model's",
                apply_member(graphdef, member(ensemble, i), batch.states, batch.actions),
                apply_member(graphdef, member(alone, 0), batch.states, batch.actions),
                tol.ENSEMBLE_MEMBER_PREDICTIONS,
                detail,
            )
        )
    graphdef = graphdef_of(single_spec(spec))
    each = [np.asarray(apply_member(graphdef, member(ensemble, i), batch.states, batch.actions)) for i in range(spec.config.members)]
    rows.append(
        compare(
            f"{label}: prediction = mean of members",
            predict(graphdef, ensemble, batch.states, batch.actions),
            np.mean(each, axis=0),
            tol.ENSEMBLE_MEAN,
            "JAX only: predict | mean of apply_member",
        )
    )
    return rows


# ------------------------------------------------------------------------------- the report


@dataclasses.dataclass(frozen=True)
class Case:
    """One named comparison of the report: a check function with its arguments bound."""

    name: str
    run: Callable[[], list[Comparison]]


def train_data() -> Transitions:
    return cartpole_transitions(TRAIN_TRANSITIONS, 0)


def eval_data() -> Transitions:
    return cartpole_transitions(EVAL_TRANSITIONS, 1)


def independent_config(kind: str) -> TrainConfig:
    return tutorial_train_config(kind, epochs=INDEPENDENT_EPOCHS)


def report_cases() -> list[Case]:
    """Every comparison of the report, on CartPole and on `OTHER_SPECS`, in check order."""
    cartpole = {"cartpole/simple": CARTPOLE, "cartpole/regularized": CARTPOLE_REGULARIZED, "cartpole/ensemble": CARTPOLE_ENSEMBLE}
    specs = {**cartpole, **OTHER_SPECS}
    data = lambda spec: train_data() if spec.state_dim == 4 and spec.action_dim == 1 else random_transitions(spec, 64, 0)
    cases = [
        Case(f"1 architecture {name}", functools.partial(architecture, name, spec, expected_params=TUTORIAL_CARTPOLE_PARAMS if spec is CARTPOLE else None))
        for name, spec in specs.items()
    ]
    cases += [Case(f"2 weight transfer {name}", functools.partial(weight_transfer, name, spec)) for name, spec in specs.items()]
    cases += [Case(f"3 init {name}", functools.partial(init_distribution, name, spec)) for name, spec in (("cartpole", CARTPOLE), *list(OTHER_SPECS.items())[:1])]
    cases += [Case(f"4 forward {name}", functools.partial(forward_loss_gradients, name, spec, data(spec))) for name, spec in specs.items()]
    cases += [
        Case(f"5 adam {name} wd={wd:g}", functools.partial(adam_steps, name, spec, data(spec), wd))
        for name, spec in (("cartpole", CARTPOLE), *list(OTHER_SPECS.items())[:1])
        for wd in (0.0, 1e-4)
    ]
    cases.append(Case("6 training run", lambda: training_run("cartpole/simple", CARTPOLE, tutorial_train_config("simple"), train_data(), eval_data())))
    cases += [
        Case(
            f"7 independent runs {kind}",
            functools.partial(lambda kind, spec: independent_runs(f"cartpole/{kind}", spec, independent_config(kind), cartpole_transitions(INDEPENDENT_TRANSITIONS, 0), eval_data(), INDEPENDENT_SEEDS), kind, spec),
        )
        for kind, spec in (("simple", CARTPOLE), ("regularized", CARTPOLE_REGULARIZED))
    ]
    cases.append(Case("8 dropout layer", lambda: dropout_layer("cartpole/regularized", CARTPOLE_REGULARIZED)))
    cases.append(Case("8 dropout outputs", lambda: dropout_outputs("cartpole/regularized", CARTPOLE_REGULARIZED, train_data())))
    ensemble_data = lambda: cartpole_transitions(ENSEMBLE_TRANSITIONS, 0)
    cases.append(Case("9 ensemble members", lambda: ensemble_members_are_single_models("cartpole/ensemble", CARTPOLE_ENSEMBLE, tutorial_train_config("ensemble"), ensemble_data())))
    cases.append(Case("9 ensemble training run", lambda: training_run("cartpole/ensemble", CARTPOLE_ENSEMBLE, tutorial_train_config("ensemble"), ensemble_data(), eval_data())))
    return cases
