"""The engine's training objectives, written again in PyTorch from the maths, and checked against `wm_jax`.

`wm_torch_ref` stays the tutorial's compact MSE reference; the losses the engine grew since (PETS'
Gaussian NLL with learned log-variance bounds, the reward and termination heads, delta targets and
normalisation) are restated here, each as a small torch function, independently of the JAX code:
masked means select the valid rows (`values[mask.bool()].mean()`) instead of weighting them, BCE is
`torch.nn.functional.binary_cross_entropy_with_logits`, statistics are `Tensor.mean`/`Tensor.std`.

The torch side computes in float64 from the same float32 inputs, so it stands for the exact maths
and each difference in the tables is the JAX float32 result's own rounding error. The checks return
`checks.Comparison` rows like every other parity check; `report_cases` lists them for
`python -m parity_tests` as check 10, and mbrl-lib's `GaussianMLP` is compared too when it imports.

Parameters are named as in the JAX member state, flattened: "hidden.0.kernel" (in, out),
"hidden.0.bias", ..., "head.kernel", "head.bias", "min_logvar" (S,), "max_logvar" (S,).
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import torch
import torch.nn.functional as F
from flax import nnx

from wm_jax.config import ModelConfig
from wm_jax.models import ModelSpec, fit_normalizer, graphdef_of, init_params, network_outputs, soft_bound_logvar
from wm_jax.models.network import Prediction
from wm_jax.training import objectives
from wm_jax.training.objectives import Batch

from . import tolerances as tol
from .checks import Case, Comparison, compare, compare_dicts, compare_values, flat_params

# Tolerances: JAX float32 against the same maths in float64, on the inputs drawn below (losses of
# O(1) to O(1e4), raw log-variances up to +-1e3, logits up to +-100). Each is about 10x the worst
# difference measured over 48-96 draws of seeds and shapes per check (B from 1 to 1000; 2-core CPU).
# A scalar loss (a masked mean of B x S terms): measured worst 9e-7 relative (one row, S = 11).
LOSS_VALUE = tol.Close(1e-5)
# Elementwise results (soft-bounded log-variance, predictions in environment units, fitted
# statistics): a few roundings each; measured worst 1.9e-7 x max|torch|.
ELEMENTWISE = tol.ScaledClose(2e-6)
# Standardised inputs and targets, (x - mean) / std in float32: x's rounding (and that of
# next - state for delta targets) is divided by std, so columns with |mean| >> std lose digits;
# the drawn columns have |mean| / std up to ~40. Measured worst 1.2e-6 x max|torch|.
STANDARDISED = tol.ScaledClose(1e-5)
# Gradients w.r.t. the mean, a given log-variance, the logits and MSE predictions, elementwise:
# measured worst 4.7e-7 x max|torch|.
LOSS_GRADIENT = tol.ScaledClose(5e-6)
# Gradients through the soft clamp (w.r.t. the raw log-variance and the bounds). Its local
# derivatives are 1 - sigmoid(x) in float32 on both sides (and in mbrl-lib): where the clamp
# saturates they are ~e^-10 carrying an absolute error ~6e-8, and a bound's gradient (a sum over
# rows) can be small after its terms, or the penalty's -0.01, cancel. The rounding scales with the
# gradient flowing in, not with the result, so these compare |jax - torch| with the max over
# entries of the sum over rows of |upstream| (the cotangent, or dL/dlogvar). Measured worst 2.7e-6
# of that (one row, where 1 - residual^2 e^-logvar cancels; torch float32: 2.7e-6 too). Relative to
# max|torch| instead, the same differences reach 4e-3 (a single-row VJP) and 1.2e-4 (residuals that
# ignore the predicted variance; torch float32 4.4e-5 there).
CLAMP_GRADIENT = tol.ScaledClose(2e-5)
# The whole objective, an MLP forward and backward in float32 with the NLL's e^-logvar weights
# (down to e^-4 here): as `tolerances.GRADIENT`, but against float64. Measured worst 5.5e-6 x
# max|grad| per parameter, on sums over rows (head bias, max_logvar); 4e-7 without the NLL.
MODEL_GRADIENT = tol.ScaledClose(5e-5)

# mbrl-lib's weight on the log-variance bound penalty, restated (not imported from wm_jax).
BOUND_PENALTY_WEIGHT = 0.01
# Standard deviations below this are taken as 1 (a constant input column); the engine's rule, restated.
MIN_STD = 1e-6


# ------------------------------------------------------------------------------ torch side


def as_torch(x, requires_grad: bool = False) -> torch.Tensor:
    """A float64 tensor holding exactly the values of `x` (float32 inputs widen without rounding)."""
    return torch.tensor(np.asarray(x, np.float64), requires_grad=requires_grad)


def valid_rows_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over the rows (dim 0) where mask is 1, and over every other dimension."""
    return values[mask.bool()].mean()


def gaussian_nll(mean, logvar, target, mask):
    """mbrl-lib's Gaussian NLL: (mean - target)^2 * exp(-logvar) + logvar, averaged over valid rows and dims."""
    return valid_rows_mean((mean - target) ** 2 * torch.exp(-logvar) + logvar, mask)


def soft_bound_logvar_torch(raw, min_logvar, max_logvar):
    """PETS' soft clamp of a raw log-variance into (min_logvar, max_logvar)."""
    logvar = max_logvar - F.softplus(max_logvar - raw)
    return min_logvar + F.softplus(logvar - min_logvar)


def logvar_bound_penalty(min_logvar, max_logvar):
    return BOUND_PENALTY_WEIGHT * (max_logvar.sum() - min_logvar.sum())


def binary_cross_entropy(logits, labels, mask):
    return valid_rows_mean(F.binary_cross_entropy_with_logits(logits, labels, reduction="none"), mask)


def masked_mse(prediction, target, mask):
    valid = mask.bool()
    return F.mse_loss(prediction[valid], target[valid])


@dataclasses.dataclass(frozen=True)
class TorchNormalizer:
    """Statistics as float64 tensors: inputs (S + A,), state targets (S,), rewards ()."""

    input_mean: torch.Tensor
    input_std: torch.Tensor
    target_mean: torch.Tensor
    target_std: torch.Tensor
    reward_mean: torch.Tensor
    reward_std: torch.Tensor
    normalize: bool
    delta: bool

    def stats(self) -> dict[str, np.ndarray]:
        return {f.name: getattr(self, f.name).detach().numpy() for f in dataclasses.fields(self) if f.name not in ("normalize", "delta")}


def column_stats(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-column mean and population std (N, D) -> (D,), (D,); a std below MIN_STD becomes 1."""
    std = x.std(dim=0, correction=0)
    return x.mean(dim=0), torch.where(std < MIN_STD, torch.ones_like(std), std)


def fit_normalizer_torch(states, actions, next_states, rewards, *, normalize: bool, delta: bool) -> TorchNormalizer:
    s, a = states.shape[1], actions.shape[1]
    zeros = functools.partial(torch.zeros, dtype=torch.float64)
    ones = functools.partial(torch.ones, dtype=torch.float64)
    if not normalize:
        return TorchNormalizer(zeros(s + a), ones(s + a), zeros(s), ones(s), zeros(()), ones(()), False, delta)
    input_mean, input_std = column_stats(torch.cat([states, actions], dim=1))
    target_mean, target_std = column_stats(next_states - states if delta else next_states)
    reward_mean, reward_std = column_stats(rewards[:, None])
    return TorchNormalizer(input_mean, input_std, target_mean, target_std, reward_mean[0], reward_std[0], True, delta)


def normalized_inputs(norm: TorchNormalizer, states, actions) -> torch.Tensor:
    """(N, S + A): the network's input, standardised when `normalize`."""
    x = torch.cat([states, actions], dim=1)
    return (x - norm.input_mean) / norm.input_std if norm.normalize else x


def training_targets(norm: TorchNormalizer, states, next_states, rewards):
    """(state target (N, S), reward target (N,)): next - state with `delta`, standardised with `normalize`."""
    target = next_states - states if norm.delta else next_states
    if norm.normalize:
        return (target - norm.target_mean) / norm.target_std, (rewards - norm.reward_mean) / norm.reward_std
    return target, rewards


def to_environment_units(norm: TorchNormalizer, states, mean, logvar, reward):
    """Network outputs -> environment units: mean*std + mean (+ state), logvar + 2 log std, reward*std + mean."""
    if norm.normalize:
        mean = mean * norm.target_std + norm.target_mean
        logvar = logvar + 2 * torch.log(norm.target_std)
        reward = reward * norm.reward_std + norm.reward_mean
    if norm.delta:
        mean = states + mean
    return mean, logvar, reward


def mlp(params: dict[str, torch.Tensor], x: torch.Tensor, depth: int) -> torch.Tensor:
    """The world model's MLP: `depth` Linear-ReLU layers, then the linear head (N, head width)."""
    for i in range(depth):
        x = torch.relu(x @ params[f"hidden.{i}.kernel"] + params[f"hidden.{i}.bias"])
    return x @ params["head.kernel"] + params["head.bias"]


def split_heads(params: dict[str, torch.Tensor], out: torch.Tensor, state_dim: int, config: ModelConfig) -> dict[str, torch.Tensor]:
    """The head's columns [mean (S) | raw log-variance (S) | reward | termination logit] by name,
    the log-variance soft-bounded."""
    s, heads = state_dim, {}
    heads["mean"], column = out[:, :s], s
    if config.probabilistic:
        heads["logvar"] = soft_bound_logvar_torch(out[:, s : 2 * s], params["min_logvar"], params["max_logvar"])
        column += s
    if config.reward_head:
        heads["reward"], column = out[:, column], column + 1
    if config.termination_head:
        heads["termination_logit"] = out[:, column]
    return heads


def network_input(data: dict[str, torch.Tensor], config: ModelConfig) -> tuple[TorchNormalizer, torch.Tensor]:
    """The normaliser fitted on the rows `data` and the network's input for them."""
    norm = fit_normalizer_torch(data["states"], data["actions"], data["next_states"], data["rewards"], normalize=config.normalize, delta=config.delta)
    return norm, normalized_inputs(norm, data["states"], data["actions"])


def objective_torch(params, data: dict[str, torch.Tensor], state_dim: int, config: ModelConfig):
    """The sum of the terms `config`'s heads call for, from environment-unit rows `data`
    (states, actions, next_states, rewards, terminated, mask): (loss, {term: value})."""
    norm, x = network_input(data, config)
    heads = split_heads(params, mlp(params, x, len(config.hidden_sizes)), state_dim, config)
    target, reward = training_targets(norm, data["states"], data["next_states"], data["rewards"])
    mask, terms = data["mask"], {}
    if config.probabilistic:
        terms["nll"] = gaussian_nll(heads["mean"], heads["logvar"], target, mask)
        terms["logvar_bounds"] = logvar_bound_penalty(params["min_logvar"], params["max_logvar"])
    else:
        terms["mse"] = masked_mse(heads["mean"], target, mask)
    if config.reward_head:
        terms["reward_mse"] = masked_mse(heads["reward"], reward, mask)
    if config.termination_head:
        terms["termination_bce"] = binary_cross_entropy(heads["termination_logit"], data["terminated"], mask)
    return sum(terms.values()), terms


def torch_grads(loss: torch.Tensor, named: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    grads = torch.autograd.grad(loss, list(named.values()))
    return {name: g.numpy() for name, g in zip(named, grads)}


# ----------------------------------------------------------------------------------- inputs


def random_mask(rng: np.random.Generator, rows: int) -> np.ndarray:
    """0/1 float32 row mask with about 30% zeros, at least one zero (for rows >= 2) and one one."""
    mask = (rng.random(rows) > 0.3).astype(np.float32)
    mask[0] = 1.0
    if rows > 1:
        mask[-1] = 0.0
    return mask


def gaussian_inputs(rows: int, dims: int, seed: int, *, calibrated: bool) -> dict[str, np.ndarray]:
    """float32 mean, raw log-variance, learned-looking bounds, target, an in-bounds logvar and a mask.

    A fifth of the raw log-variances lie far outside the bounds (+-30 to +-1e3), where the soft
    clamp saturates; the rest straddle them. `calibrated` targets are drawn from the predicted
    Gaussian (residuals of the size the log-variance claims, as training makes them); otherwise
    they are independent of it, so residuals of O(1) meet variances down to e^-10."""
    rng = np.random.default_rng(seed)
    f32 = lambda x: np.asarray(x, np.float32)  # noqa: E731
    raw = rng.normal(-3.0, 5.0, (rows, dims))
    far = rng.random((rows, dims)) < 0.2
    raw[far] = rng.choice([-1.0, 1.0], far.sum()) * 10 ** rng.uniform(1.5, 3.0, far.sum())
    x = {
        "mean": f32(rng.normal(0, 2, (rows, dims))),
        "raw": f32(raw),
        "min_logvar": f32(rng.uniform(-10.5, -6.0, dims)),
        "max_logvar": f32(rng.uniform(-0.5, 1.0, dims)),
        "logvar": f32(rng.uniform(-6.0, 1.0, (rows, dims))),
        "mask": random_mask(rng, rows),
    }
    if calibrated:
        logvar = soft_bound_logvar_torch(*(as_torch(x[k]) for k in ("raw", "min_logvar", "max_logvar"))).numpy()
        x["target"] = f32(x["mean"] + np.exp(0.5 * logvar) * rng.standard_normal((rows, dims)))
    else:
        x["target"] = f32(rng.normal(0, 2, (rows, dims)))
    return x


def classification_inputs(rows: int, dims: int, seed: int) -> dict[str, np.ndarray]:
    """float32 termination logits (some at +-40 and +-100, where the sigmoid saturates), 0/1 labels,
    regression predictions/targets (B, S) and (B,), and a mask."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 3, rows)
    saturated = rng.random(rows) < 0.2
    saturated[0] = False  # row 0 is always valid: the gradient is never all ~0 (where only the sign compares)
    logits[saturated] = rng.choice([-100.0, -40.0, 40.0, 100.0], saturated.sum())
    return {
        "logits": logits.astype(np.float32),
        "labels": (rng.random(rows) < 0.4).astype(np.float32),
        "prediction": rng.normal(0, 2, (rows, dims)).astype(np.float32),
        "target": rng.normal(0, 2, (rows, dims)).astype(np.float32),
        "reward_prediction": rng.normal(0, 2, rows).astype(np.float32),
        "reward": rng.normal(0, 2, rows).astype(np.float32),
        "mask": random_mask(rng, rows),
    }


def environment_rows(rows: int, state_dim: int, action_dim: int, seed: int) -> dict[str, np.ndarray]:
    """float32 transitions with per-column offsets and scales (0.1 to 10), the last action column
    constant (its std is replaced by 1), rewards, termination flags and a mask."""
    rng = np.random.default_rng(seed)
    offset = lambda d: rng.normal(0, 2, d)  # noqa: E731
    scale = lambda d: 10 ** rng.uniform(-1, 1, d)  # noqa: E731
    states = offset(state_dim) + scale(state_dim) * rng.standard_normal((rows, state_dim))
    next_states = states + offset(state_dim) * 0.1 + scale(state_dim) * 0.1 * rng.standard_normal((rows, state_dim))
    actions = offset(action_dim) + scale(action_dim) * rng.standard_normal((rows, action_dim))
    actions[:, -1] = 0.5
    return {
        "states": states.astype(np.float32),
        "actions": actions.astype(np.float32),
        "next_states": next_states.astype(np.float32),
        "rewards": (1.0 + 3.0 * rng.standard_normal(rows)).astype(np.float32),
        "terminated": (rng.random(rows) < 0.3).astype(np.float32),
        "mask": random_mask(rng, rows),
    }


# ----------------------------------------------------------------------------------- checks


def compare_to_scales(check: str, entries: dict[str, tuple], tolerance: tol.ScaledClose, scale_name: str, detail: str = "") -> Comparison:
    """The worst over `entries` {name: (jax, torch, scale)} of max|jax - torch| / scale, where each
    scale is the size the float32 rounding grows with (`CLAMP_GRADIENT`), not max|torch|."""
    worst = None
    for name, (jax_value, torch_value, scale) in entries.items():
        a, b = np.asarray(jax_value, np.float64), np.asarray(torch_value, np.float64)
        if a.shape != b.shape:
            return Comparison(check, f"shape {a.shape}", f"shape {b.shape}", np.inf, np.inf, f"{tolerance.rtol:g} x {scale_name}", False, name)
        diff = np.abs(a - b)
        i = int(np.argmax(diff))
        row = (float(diff.flat[i]) / scale, name, a.flat[i].item(), b.flat[i].item(), float(diff.flat[i]))
        worst = row if worst is None or row > worst else worst
    rel, name, jax_worst, torch_worst, abs_diff = worst
    return Comparison(check, jax_worst, torch_worst, abs_diff, rel, f"{tolerance.rtol:g} x {scale_name}", rel <= tolerance.rtol, f"worst: {name}" + (f"; {detail}" if detail else ""))


def clamp_gradient_scales(upstream: torch.Tensor) -> tuple[float, float]:
    """(scale of the raw log-variance's gradient, scale of a bound's gradient) for an upstream
    gradient (B, S) flowing into the soft clamp: max|upstream| and max over dims of sum over rows."""
    magnitude = upstream.detach().abs()
    return float(magnitude.max()), float(magnitude.sum(dim=0).max())


def gaussian_nll_checks(label: str, rows: int, dims: int, seed: int, *, calibrated: bool = True) -> list[Comparison]:
    """Soft bounds, Gaussian NLL and the bound penalty: values, and gradients w.r.t. the mean, the
    raw log-variance and both bounds (through the soft clamp, as the engine trains them)."""
    x = gaussian_inputs(rows, dims, seed, calibrated=calibrated)
    cotangent = np.random.default_rng(seed + 1).standard_normal((rows, dims)).astype(np.float32)
    names, bounds = ("mean", "raw", "min_logvar", "max_logvar"), ("raw", "min_logvar", "max_logvar")
    j = {k: jnp.asarray(v) for k, v in x.items()}

    def jax_bounded_nll(mean, raw, min_logvar, max_logvar):
        logvar = soft_bound_logvar(raw, min_logvar, max_logvar)
        return objectives.gaussian_nll(mean, logvar, j["target"], j["mask"]) + objectives.logvar_bound_penalty(min_logvar, max_logvar)

    jax_value, jax_grads = jax.jit(jax.value_and_grad(jax_bounded_nll, argnums=(0, 1, 2, 3)))(*(j[n] for n in names))
    jax_grads = dict(zip(names, map(np.asarray, jax_grads)))
    jax_bounded, vjp = jax.vjp(jax.jit(soft_bound_logvar), *(j[n] for n in bounds))
    jax_vjp = dict(zip(bounds, map(np.asarray, vjp(jnp.asarray(cotangent)))))
    jax_nll, jax_nll_grads = jax.jit(jax.value_and_grad(objectives.gaussian_nll, argnums=(0, 1)))(j["mean"], j["logvar"], j["target"], j["mask"])
    jax_penalty, jax_penalty_grads = jax.value_and_grad(objectives.logvar_bound_penalty, argnums=(0, 1))(j["min_logvar"], j["max_logvar"])

    def torch_bounded_nll(t):
        """(NLL of the soft-bounded log-variance + penalty, the bounded log-variance, dL/dlogvar, grads)."""
        logvar = soft_bound_logvar_torch(t["raw"], t["min_logvar"], t["max_logvar"])
        loss = gaussian_nll(t["mean"], logvar, t["target"], t["mask"]) + logvar_bound_penalty(t["min_logvar"], t["max_logvar"])
        (upstream,) = torch.autograd.grad(loss, logvar, retain_graph=True)
        return loss, logvar, upstream, torch_grads(loss, {n: t[n] for n in names})

    t = {k: as_torch(v, requires_grad=k in names + ("logvar",)) for k, v in x.items()}
    torch_vjp = dict(zip(bounds, torch.autograd.grad(soft_bound_logvar_torch(*(t[n] for n in bounds)), [t[n] for n in bounds], as_torch(cotangent))))
    torch_value, torch_logvar, upstream, torch_value_grads = torch_bounded_nll(t)
    torch_nll = gaussian_nll(t["mean"], t["logvar"], t["target"], t["mask"])
    torch_penalty = logvar_bound_penalty(t["min_logvar"], t["max_logvar"])

    cotangent_scales = clamp_gradient_scales(as_torch(cotangent))
    raw_scale, bound_scale = clamp_gradient_scales(upstream)
    bound_scale += BOUND_PENALTY_WEIGHT
    def scaled(jax_grads, torch_grads, scales):
        return {n: (jax_grads[n], torch_grads[n], scale) for n, scale in zip(bounds, scales)}

    # The reference's own float32 error on the same gradients, for comparison.
    torch32 = torch_bounded_nll({k: torch.tensor(v, requires_grad=k in names) for k, v in x.items()})[3]
    torch32_error = max(np.abs(torch32[n] - torch_value_grads[n]).max() / s for n, s in zip(bounds, (raw_scale, bound_scale, bound_scale)))

    outside = np.mean((x["raw"] < x["min_logvar"]) | (x["raw"] > x["max_logvar"]))
    detail = f"{int(x['mask'].sum())} valid rows, {outside:.0%} raw logvars outside the bounds"
    label = f"{label} B={rows} S={dims} seed {seed} {'calibrated' if calibrated else 'mismatched'}"
    return [
        compare(f"{label}: soft-bounded logvar", jax_bounded, torch_logvar.detach().numpy(), ELEMENTWISE, detail),
        compare_to_scales(
            f"{label}: soft bound VJP (raw, min, max)",
            scaled(jax_vjp, {n: g.numpy() for n, g in torch_vjp.items()}, (cotangent_scales[0], cotangent_scales[1], cotangent_scales[1])),
            CLAMP_GRADIENT,
            "|cotangent|",
        ),
        compare(f"{label}: gaussian nll (given logvar)", jax_nll, torch_nll.item(), LOSS_VALUE),
        compare_dicts(
            f"{label}: gaussian nll grad (mean, logvar)",
            dict(zip(("mean", "logvar"), map(np.asarray, jax_nll_grads))),
            torch_grads(torch_nll, {"mean": t["mean"], "logvar": t["logvar"]}),
            LOSS_GRADIENT,
        ),
        compare(f"{label}: bound penalty", jax_penalty, torch_penalty.item(), LOSS_VALUE),
        compare_dicts(
            f"{label}: bound penalty grad (min, max)",
            dict(zip(("min_logvar", "max_logvar"), map(np.asarray, jax_penalty_grads))),
            torch_grads(torch_penalty, {"min_logvar": t["min_logvar"], "max_logvar": t["max_logvar"]}),
            LOSS_GRADIENT,
        ),
        compare(f"{label}: nll(soft bound) + penalty", jax_value, torch_value.item(), LOSS_VALUE, detail),
        compare(f"{label}: nll(soft bound) + penalty grad (mean)", jax_grads["mean"], torch_value_grads["mean"], LOSS_GRADIENT),
        compare_to_scales(
            f"{label}: nll(soft bound) + penalty grad (raw, min, max)",
            scaled(jax_grads, torch_value_grads, (raw_scale, bound_scale, bound_scale)),
            CLAMP_GRADIENT,
            "|dL/dlogvar|",
            f"torch float32: {torch32_error:.1e}",
        ),
    ]


def classification_checks(label: str, rows: int, dims: int, seed: int) -> list[Comparison]:
    """Masked BCE with logits (value, gradient w.r.t. the logits) and masked MSE for (B, S) and (B,)."""
    x = classification_inputs(rows, dims, seed)
    j = {k: jnp.asarray(v) for k, v in x.items()}
    t = {k: as_torch(v, requires_grad=k in ("logits", "prediction", "reward_prediction")) for k, v in x.items()}
    label = f"{label} B={rows} S={dims} seed {seed}"
    detail = f"{int(x['mask'].sum())} valid rows, {int((np.abs(x['logits']) >= 40).sum())} saturated logits"
    rows_out = []
    for name, jax_fn, torch_fn, argument, labels in (
        ("bce", objectives.binary_cross_entropy, binary_cross_entropy, "logits", "labels"),
        ("masked mse (B, S)", objectives.masked_mse, masked_mse, "prediction", "target"),
        ("masked mse (B,)", objectives.masked_mse, masked_mse, "reward_prediction", "reward"),
    ):
        jax_value, jax_grad = jax.jit(jax.value_and_grad(jax_fn))(j[argument], j[labels], j["mask"])
        torch_value = torch_fn(t[argument], t[labels], t["mask"])
        rows_out.append(compare(f"{label}: {name}", jax_value, torch_value.item(), LOSS_VALUE, detail))
        rows_out.append(compare(f"{label}: {name} grad ({argument})", jax_grad, torch_grads(torch_value, {argument: t[argument]})[argument], LOSS_GRADIENT))
    return rows_out


def normalization_checks(label: str, rows: int, state_dim: int, action_dim: int, seed: int, *, normalize: bool, delta: bool) -> list[Comparison]:
    """fit_normalizer's statistics, the network's inputs, the training targets and the way back to
    environment units (mean, log-variance, reward; the termination logit passes through)."""
    x = environment_rows(rows, state_dim, action_dim, seed)
    t = {k: as_torch(v) for k, v in x.items()}
    norm = fit_normalizer(x["states"], x["actions"], x["next_states"], x["rewards"], normalize=normalize, delta=delta)
    norm_t = fit_normalizer_torch(t["states"], t["actions"], t["next_states"], t["rewards"], normalize=normalize, delta=delta)
    label = f"{label} normalize={normalize} delta={delta}"

    jax_states, jax_actions = norm.inputs(jnp.asarray(x["states"]), jnp.asarray(x["actions"]))
    jax_target, jax_reward = norm.training_targets(jnp.asarray(x["states"]), jnp.asarray(x["next_states"]), jnp.asarray(x["rewards"]))
    torch_target, torch_reward = training_targets(norm_t, t["states"], t["next_states"], t["rewards"])

    # Network outputs in training units, with log-variances in a realistic range.
    rng = np.random.default_rng(seed + 1)
    outputs = {
        "mean": rng.standard_normal((rows, state_dim)).astype(np.float32),
        "logvar": rng.uniform(-8.0, 0.5, (rows, state_dim)).astype(np.float32),
        "reward": rng.standard_normal(rows).astype(np.float32),
        "termination_logit": rng.standard_normal(rows).astype(np.float32),
    }
    env = norm.to_environment_units(jnp.asarray(x["states"]), Prediction(**{k: jnp.asarray(v) for k, v in outputs.items()}))
    env_t = to_environment_units(norm_t, t["states"], *(as_torch(outputs[k]) for k in ("mean", "logvar", "reward")))
    return [
        compare_dicts(f"{label}: fitted statistics", {k: np.asarray(v) for k, v in norm.to_arrays().items()}, norm_t.stats(), ELEMENTWISE),
        compare(f"{label}: network input", jnp.concatenate([jax_states, jax_actions], axis=1), normalized_inputs(norm_t, t["states"], t["actions"]).numpy(), STANDARDISED),
        compare(f"{label}: state target", jax_target, torch_target.numpy(), STANDARDISED),
        compare(f"{label}: reward target", jax_reward, torch_reward.numpy(), STANDARDISED),
        compare_dicts(
            f"{label}: outputs in environment units",
            {k: np.asarray(getattr(env, k)) for k in ("mean", "logvar", "reward", "termination_logit")},
            {"mean": env_t[0].numpy(), "logvar": env_t[1].numpy(), "reward": env_t[2].numpy(), "termination_logit": outputs["termination_logit"]},
            ELEMENTWISE,
        ),
    ]


FULL_CONFIG = ModelConfig(hidden_sizes=(32, 16), probabilistic=True, reward_head=True, termination_head=True, delta=True, normalize=True)
DETERMINISTIC_CONFIG = ModelConfig(hidden_sizes=(24, 24, 12), reward_head=True)


def params_from_flat(spec: ModelSpec, flat: dict[str, np.ndarray]) -> nnx.State:
    """A member's parameter state for `spec` holding the float32 arrays `flat` (named as `flat_params`)."""
    template = nnx.to_flat_state(init_params(spec, jax.random.key(0)))
    return nnx.from_flat_state([(path, leaf.replace(value=jnp.asarray(flat[".".join(map(str, path))], jnp.float32))) for path, leaf in template])


def model_params(spec: ModelSpec, seed: int) -> nnx.State:
    """A member's parameters from `init_params`, with bounds drawn away from their initial values
    and the head's log-variance columns scaled up, so raw log-variances cross the bounds."""
    flat = {name: np.array(value) for name, value in flat_params(init_params(spec, jax.random.key(seed))).items()}
    if spec.config.probabilistic:
        rng, s = np.random.default_rng(seed), spec.state_dim
        flat["min_logvar"] = rng.uniform(-4.0, -1.0, s)
        flat["max_logvar"] = rng.uniform(-0.5, 0.5, s)
        flat["head.kernel"][:, s : 2 * s] *= 30.0
    return params_from_flat(spec, flat)


def objective_checks(label: str, spec: ModelSpec, rows: int, seed: int) -> list[Comparison]:
    """`make_objective` on a Batch built by a fitted Normalizer (as the engine builds it) vs the same
    sum of terms in torch from the environment-unit rows: the loss, each term, every gradient."""
    x = environment_rows(rows, spec.state_dim, spec.action_dim, seed)
    config = spec.config
    norm = fit_normalizer(x["states"], x["actions"], x["next_states"], x["rewards"], normalize=config.normalize, delta=config.delta)
    states, actions = norm.inputs(jnp.asarray(x["states"]), jnp.asarray(x["actions"]))
    target, reward = norm.training_targets(jnp.asarray(x["states"]), jnp.asarray(x["next_states"]), jnp.asarray(x["rewards"]))
    batch = Batch(states, actions, target, reward, jnp.asarray(x["terminated"]), jnp.asarray(x["mask"]))

    params = model_params(spec, seed)
    objective = objectives.make_objective(graphdef_of(spec), config)
    (jax_loss, jax_terms), jax_grads = jax.jit(jax.value_and_grad(objective, has_aux=True))(params, batch, jax.random.key(0))

    torch_params = {name: as_torch(value, requires_grad=True) for name, value in flat_params(params).items()}
    data = {k: as_torch(v) for k, v in x.items()}
    torch_loss, torch_terms = objective_torch(torch_params, data, spec.state_dim, config)

    detail = f"{spec.state_dim}+{spec.action_dim}, hidden {config.hidden_sizes}, B={rows}, {int(x['mask'].sum())} valid"
    if config.probabilistic:
        with torch.no_grad():
            s = spec.state_dim
            raw = mlp(torch_params, network_input(data, config)[1], len(config.hidden_sizes))[:, s : 2 * s]
            outside = ((raw < torch_params["min_logvar"]) | (raw > torch_params["max_logvar"])).double().mean()
        detail += f", {float(outside):.0%} raw logvar outside bounds"
    rows_out = [
        compare(f"{label}: loss", jax_loss, torch_loss.item(), LOSS_VALUE, detail),
        compare_values(f"{label}: terms", sorted(jax_terms), sorted(torch_terms)),
    ]
    rows_out += [compare(f"{label}: {name}", jax_terms[name], torch_terms[name].item(), LOSS_VALUE) for name in torch_terms if name in jax_terms]
    rows_out.append(compare_dicts(f"{label}: gradients", flat_params(jax_grads), torch_grads(torch_loss, torch_params), MODEL_GRADIENT))
    return rows_out


# ---------------------------------------------------------------------------- mbrl-lib (optional)


def mbrl_available() -> bool:
    """Whether mbrl-lib's GaussianMLP imports (it needs hydra-core, omegaconf and termcolor too)."""
    try:
        import mbrl.models.gaussian_mlp  # noqa: F401
    except ImportError:
        return False
    return True


def mbrl_gaussian_mlp_checks(label: str, state_dim: int, action_dim: int, hid_size: int, num_layers: int, rows: int, seed: int) -> list[Comparison]:
    """mbrl-lib's GaussianMLP (one member, learned bounds) with its weights copied into a wm_jax
    probabilistic model: forward mean and log-variance, `loss` (its `_nll_loss`) = our objective,
    and every gradient. Both sides float32, so the suite's forward/loss/gradient tolerances apply;
    measured worst over 12 draws (1 to 4 layers of 8 to 200, B from 1 to 256): forward 5.2e-7 x
    max|torch|, loss 2.5e-7 relative, gradients 2.0e-6 x max|torch|."""
    from mbrl.models.gaussian_mlp import GaussianMLP

    in_size, out_size = state_dim + action_dim, state_dim
    torch.manual_seed(seed)
    model = GaussianMLP(
        in_size, out_size, "cpu", num_layers=num_layers, ensemble_size=1, hid_size=hid_size,
        deterministic=False, learn_logvar_bounds=True, activation_fn_cfg={"_target_": "torch.nn.ReLU"},
    )
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        model.min_logvar.copy_(torch.from_numpy(rng.uniform(-4.0, -1.0, (1, out_size))))
        model.max_logvar.copy_(torch.from_numpy(rng.uniform(-0.5, 0.5, (1, out_size))))
        model.mean_and_logvar.weight[..., out_size:] *= 30.0  # raw log-variances cross the bounds
    # mbrl's ensemble layers: weight (members, in, out), bias (members, 1, out); bounds (1, out).
    layers = [block[0] for block in model.hidden_layers]
    named = {}
    for i, layer in enumerate(layers):
        named[f"hidden.{i}.kernel"], named[f"hidden.{i}.bias"] = layer.weight, layer.bias
    named["head.kernel"], named["head.bias"] = model.mean_and_logvar.weight, model.mean_and_logvar.bias
    named["min_logvar"], named["max_logvar"] = model.min_logvar, model.max_logvar
    ours = lambda name, value: value.reshape(value.shape[-2:] if name.endswith("kernel") else value.shape[-1:])  # noqa: E731
    spec = ModelSpec(state_dim, action_dim, ModelConfig(hidden_sizes=(hid_size,) * len(layers), probabilistic=True))
    params = params_from_flat(spec, {name: ours(name, p.detach().numpy()) for name, p in named.items()})

    model_in = rng.normal(0, 1, (rows, in_size)).astype(np.float32)
    target = rng.normal(0, 1, (rows, out_size)).astype(np.float32)
    ones = jnp.ones(rows)
    batch = Batch(jnp.asarray(model_in[:, :state_dim]), jnp.asarray(model_in[:, state_dim:]), jnp.asarray(target), 0 * ones, 0 * ones, ones)
    objective = objectives.make_objective(graphdef_of(spec), spec.config)
    (jax_loss, _), jax_grads = jax.jit(jax.value_and_grad(objective, has_aux=True))(params, batch, jax.random.key(0))
    jax_out = network_outputs(graphdef_of(spec), params, batch.states, batch.actions)

    mbrl_loss, _ = model.loss(torch.from_numpy(model_in), torch.from_numpy(target))
    mbrl_grads = dict(zip(named, torch.autograd.grad(mbrl_loss, list(named.values()))))
    with torch.no_grad():
        mbrl_mean, mbrl_logvar = model(torch.from_numpy(model_in))
    label = f"{label} {state_dim}+{action_dim}, {len(layers)}x{hid_size}, B={rows}"
    return [
        compare_values(
            f"{label}: parameter shapes",
            [(k, tuple(v.shape)) for k, v in sorted(flat_params(params).items())],
            [(k, tuple(ours(k, v.detach()).shape)) for k, v in sorted(named.items())],
        ),
        compare(f"{label}: forward mean", jax_out.mean, mbrl_mean.numpy(), tol.FORWARD),
        compare(f"{label}: forward logvar", jax_out.logvar, mbrl_logvar.numpy(), tol.FORWARD),
        compare(f"{label}: loss = mbrl _nll_loss", jax_loss, mbrl_loss.item(), tol.LOSS),
        compare_dicts(f"{label}: gradients", flat_params(jax_grads), {k: ours(k, g.numpy()) for k, g in mbrl_grads.items()}, tol.GRADIENT),
    ]


# ------------------------------------------------------------------------------ the report

# (rows, state dims, seed, calibrated targets)
NLL_CASES = ((32, 3, 0, True), (7, 1, 1, True), (256, 11, 2, True), (32, 3, 3, False), (256, 11, 4, False))
FULL_SPEC = ModelSpec(5, 2, FULL_CONFIG)
DETERMINISTIC_SPEC = ModelSpec(3, 1, DETERMINISTIC_CONFIG)


def report_cases() -> list[Case]:
    """Check 10, the engine's losses, for `python -m parity_tests` (mbrl-lib's only when it imports)."""
    cases = [
        Case(f"10 gaussian nll + soft bounds B={b} S={s}{'' if c else ' mismatched'}", functools.partial(gaussian_nll_checks, "nll", b, s, seed, calibrated=c))
        for b, s, seed, c in NLL_CASES
    ]
    cases += [Case(f"10 bce + masked mse B={b}", functools.partial(classification_checks, "bce/mse", b, 3, seed)) for b, _, seed, _ in NLL_CASES[:2]]
    cases += [
        Case(f"10 normalisation normalize={n} delta={d}", functools.partial(normalization_checks, "normalisation", 200, 4, 3, 0, normalize=n, delta=d))
        for n in (False, True)
        for d in (False, True)
    ]
    cases.append(Case("10 objective probabilistic+reward+termination", functools.partial(objective_checks, "objective prob+reward+term", FULL_SPEC, 64, 0)))
    cases.append(Case("10 objective deterministic+reward", functools.partial(objective_checks, "objective mse+reward", DETERMINISTIC_SPEC, 64, 1)))
    if mbrl_available():
        cases.append(Case("10 mbrl-lib GaussianMLP nll", functools.partial(mbrl_gaussian_mlp_checks, "mbrl-lib", 4, 2, 32, 3, 64, 0)))
    return cases
