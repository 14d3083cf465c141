"""Framework-free reporting: the metrics.json schema, text tables and PNG plots.

Shared by the JAX demo, the PyTorch reference demo and `wm-jax train`, so both frameworks
write the same schema and print the same report. Imports no JAX.
"""

from __future__ import annotations

import json
from typing import Sequence

import numpy as np

from .atomic import atomic_write

def model_metrics(
    *,
    model: str,
    members: int,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    weight_decay: float,
    dropout_rate: float,
    params: int,
    loss_curve: np.ndarray,
    train_scores,
    eval_scores=None,
    train_seconds: float,
    compile_seconds: float,
    seed: int,
    backend: str,
) -> dict:
    """One trained model's entry of metrics.json. `loss_curve` is (epochs trained, members): fewer
    rows than `epochs` when early stopping ended the run; `*_scores` are evaluation.Scores-like
    (mse, per_dim_mse, member_mse)."""
    curve = np.asarray(loss_curve, dtype=float).reshape(-1, members)
    metrics = {
        "backend": backend,
        "model": model,
        "members": members,
        "epochs": epochs,
        "epochs_trained": int(curve.shape[0]),
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "weight_decay": weight_decay,
        "dropout_rate": dropout_rate,
        "seed": seed,
        "params": params,
        "train_mse": train_scores.mse,
        "train_per_dim_mse": train_scores.per_dim_mse,
        "member_train_mse": train_scores.member_mse,
        "loss_curve": curve.mean(axis=1).tolist(),
        "member_loss_curves": curve.T.tolist(),
        "train_seconds": train_seconds,
        "compile_seconds": compile_seconds,
    }
    if eval_scores is not None:
        metrics.update(
            eval_mse=eval_scores.mse,
            eval_per_dim_mse=eval_scores.per_dim_mse,
            member_eval_mse=eval_scores.member_mse,
        )
    return metrics


def write_json(path: str, payload: dict) -> None:
    """Write JSON atomically (never a half-written file at `path`)."""
    atomic_write(path, lambda handle: handle.write(json.dumps(payload, indent=2).encode()))


def format_table(headers: Sequence[str], rows: Sequence[Sequence], indent: str = "   ") -> str:
    """A plain aligned text table; floats in 4 significant digits scientific or fixed."""

    def cell(value) -> str:
        if isinstance(value, float):
            return f"{value:.3e}" if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e4) else f"{value:.4f}"
        return str(value)

    text = [[cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in text)) for i, h in enumerate(headers)]
    lines = [" | ".join(h.ljust(w) for h, w in zip(headers, widths)), "-+-".join("-" * w for w in widths)]
    lines += [" | ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in text]
    return "\n".join(indent + line for line in lines)


def pyplot():
    """matplotlib.pyplot on the Agg backend (files only, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_loss_curves(curves: dict[str, np.ndarray], path: str, title: str) -> None:
    """Training loss per epoch for each model; ensembles show each member thin and the mean bold."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 5))
    for name, curve in curves.items():
        curve = np.asarray(curve).reshape(len(curve), -1)
        epochs = np.arange(1, curve.shape[0] + 1)
        (line,) = ax.plot(epochs, curve.mean(axis=1), linewidth=2, label=name)
        if curve.shape[1] > 1:
            ax.plot(epochs, curve, color=line.get_color(), linewidth=0.6, alpha=0.35)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training MSE (mean over minibatches)")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path, dpi=120)


def plot_trajectory(
    true_next: np.ndarray, predictions: dict[str, np.ndarray], labels: Sequence[str], path: str, title: str
) -> None:
    """One panel per state dimension: the true next state and each model's one-step prediction."""
    plt = pyplot()
    dims = true_next.shape[1]
    fig, axes = plt.subplots(dims, 1, figsize=(8, 2.2 * dims), sharex=True, squeeze=False)
    steps = np.arange(1, true_next.shape[0] + 1)
    for d, ax in enumerate(axes[:, 0]):
        ax.plot(steps, true_next[:, d], "k-o", markersize=3, linewidth=2, label="true")
        for name, pred in predictions.items():
            ax.plot(steps, pred[:, d], "--x", markersize=4, linewidth=1, label=name)
        ax.set_ylabel(labels[d])
        ax.grid(True, alpha=0.3)
    axes[0, 0].legend(loc="best", fontsize=8)
    axes[0, 0].set_title(title)
    axes[-1, 0].set_xlabel("step")
    axes[-1, 0].xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    fig.tight_layout()
    save_figure(fig, path, dpi=110)


def plot_rollout_errors(curves: dict[str, np.ndarray], horizons: np.ndarray, path: str, title: str) -> None:
    """Open-loop rollout MSE against horizon, one line per model or baseline, on a log scale."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 5))
    for name, mse in curves.items():
        style = "--" if name.startswith("baseline") else "-"
        ax.plot(horizons, mse, style, linewidth=2 if not name.startswith("  ") else 0.8, label=name.strip())
    ax.set_yscale("log")
    ax.set_xlabel("horizon H (steps of open-loop prediction)")
    ax.set_ylabel("MSE against the real state H steps later")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path, dpi=120)


def plot_sweep(rows: Sequence[dict], score: str, path: str, title: str) -> None:
    """`score` (held_out_mse or validation_mse) of every sweep configuration, one column per
    (learning rate, weight decay): a dot per seed, a bar at their mean, the chosen run circled.
    Diverged runs are drawn as crosses at the top edge."""
    plt = pyplot()
    pairs = list(dict.fromkeys((row["learning_rate"], row["weight_decay"]) for row in rows))
    fig, ax = plt.subplots(figsize=(max(6.0, 0.6 * len(pairs) + 2), 4.5))
    finite = [row[score] for row in rows if not row["diverged"] and row[score] is not None]
    top = max(finite) * 2 if finite else 1.0
    for x, pair in enumerate(pairs):
        group = [row for row in rows if (row["learning_rate"], row["weight_decay"]) == pair]
        values = [row[score] for row in group if not row["diverged"]]
        jitter = np.linspace(-0.15, 0.15, len(group)) if len(group) > 1 else np.zeros(1)
        for offset, row in zip(jitter, group):
            if row["diverged"]:
                ax.plot(x + offset, top, "rx")
            else:
                ax.plot(x + offset, row[score], "o", color="C0", alpha=0.6, markersize=4)
            if row["best"]:
                ax.plot(x + offset, row[score], "o", markersize=12, markerfacecolor="none", markeredgecolor="C3",
                        label="chosen (lowest validation MSE)")
        if values:
            ax.hlines(np.mean(values), x - 0.3, x + 0.3, colors="k", linewidth=2)
    ax.set_xticks(range(len(pairs)))
    ax.set_xticklabels([f"lr {lr:g}\nwd {wd:g}" for lr, wd in pairs], fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel(score.replace("_", " ").replace("mse", "one-step MSE"))
    ax.set_title(title)
    ax.grid(True, which="both", axis="y", alpha=0.3)
    if any(row["best"] for row in rows):
        ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    save_figure(fig, path, dpi=120)


def save_figure(fig, path: str, dpi: int) -> None:
    """Write a matplotlib figure atomically (a crash never leaves half a PNG), then close it."""
    atomic_write(path, lambda handle: fig.savefig(handle, format="png", dpi=dpi))
    pyplot().close(fig)


def plot_learning_curve(real_transitions: Sequence[int], returns: Sequence[float], eval_returns: Sequence[float],
                        path: str, title: str) -> None:
    """Real-environment return of each training episode against the real transitions used so far,
    with the final agent's evaluation returns (mean and spread) at the end."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 5))
    ax.plot(real_transitions, returns, "o-", label="training episode (MPC)")
    mean, std = float(np.mean(eval_returns)), float(np.std(eval_returns))
    ax.errorbar([real_transitions[-1]], [mean], yerr=[std], fmt="s", color="C3", capsize=4,
                label=f"final agent, {len(eval_returns)} evaluation episodes: {mean:.1f} ± {std:.1f}")
    ax.set_xlabel("real transitions used")
    ax.set_ylabel("episode return")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path, dpi=120)


def save_gif(frames: Sequence[np.ndarray], path: str, fps: int = 30) -> None:
    """An animated GIF of rgb frames (Pillow, which matplotlib already depends on), written atomically."""
    from PIL import Image

    images = [Image.fromarray(np.asarray(frame)) for frame in frames]
    atomic_write(path, lambda f: images[0].save(f, format="GIF", save_all=True, append_images=images[1:],
                                                duration=int(1000 / fps), loop=0))
