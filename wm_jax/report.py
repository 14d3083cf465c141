"""Framework-free reporting: the metrics.json schema, text tables and PNG plots.

Shared by the JAX demo, the PyTorch reference demo and `wm-jax train`, so both frameworks
write the same schema and print the same report. Imports no JAX.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from .atomic import atomic_write

# The record each command writes when its run has finished, and only then.
RECORDS = {
    "train": "metrics.json",
    "sweep": "sweep.json",
    "mbrl": "mbrl.json",
    "dream": "dream.json",
    "sac": "sac.json",
    "mbpo": "mbpo.json",
}


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


def train_metrics(result) -> dict:
    """metrics.json of `wm-jax train`, from its `experiments.train.TrainResult`."""
    run, fitted, scores, params = result.run, result.fitted, result.scores, result.params
    model, model_cfg = fitted.ensemble, run.model
    train_cfg = run.training.for_model(model_cfg)
    metrics = model_metrics(
        model=model_cfg.kind,
        members=model_cfg.members,
        epochs=train_cfg.epochs,
        batch_size=train_cfg.batch_size,
        learning_rate=train_cfg.learning_rate,
        weight_decay=train_cfg.weight_decay,
        dropout_rate=model_cfg.dropout_rate,
        params=params,
        loss_curve=fitted.loss_curve,
        train_scores=scores.train,
        eval_scores=scores.held_out,
        train_seconds=fitted.train_seconds,
        compile_seconds=fitted.compile_seconds,
        seed=run.seed,
        backend="jax",
    )
    metrics.update(
        env_id=model.spec.env_id,
        action_encoding=model.spec.action_encoding,
        data=run.data,
        split=result.split.record,
        hidden_sizes=list(model_cfg.hidden_sizes),
        train=split_record(scores.train_split, rollout=False),
        held_out=split_record(scores.held_out_split),
        model_options={
            name: getattr(model_cfg, name)
            for name in ("delta", "normalize", "probabilistic", "reward_head", "termination_head")
        },
        training={
            "bootstrap": train_cfg.bootstrap,
            "early_stopping_patience": train_cfg.early_stopping_patience,
            "calibrated": train_cfg.calibrate,
            "variance_log_scale": np.asarray(model.calibration.log_scale).tolist(),
            "epochs_trained": fitted.epochs_trained,
            "elites": np.asarray(model.elites).tolist(),
            "validation_scores": None
            if fitted.validation_scores is None
            else np.asarray(fitted.validation_scores).tolist(),
        },
    )
    return metrics


def train_summary(result) -> str:
    """The line `wm-jax train` prints, from its `experiments.train.TrainResult`."""
    fitted, scores, held_out = result.fitted, result.scores, result.scores.held_out_split
    uncertainty = held_out.heads.uncertainty
    spread = (
        ""
        if uncertainty is None
        else f"held-out NLL {uncertainty.nll:.3g}, 90% interval coverage {uncertainty.coverage[0.9].mean():.1%}; "
    )
    return (
        f"{result.run.model.kind} model ({result.params} params) on {fitted.ensemble.spec.env_id or 'data'}: held-out "
        f"one-step MSE {scores.held_out.mse:.3e} (identity {held_out.baseline_one_step_mse('identity'):.3e}, linear "
        f"{held_out.baseline_one_step_mse('linear'):.3e}), train {scores.train.mse:.3e}; {spread}"
        f"{fitted.epochs_trained} epochs in {fitted.train_seconds:.2f} s + "
        f"{fitted.compile_seconds:.2f} s compiling; wrote {result.run.out}"
    )


def write_sweep(run, outcome, env_id: str | None) -> None:
    """DIR/sweep.csv, sweep.json and sweep.png of `wm-jax sweep` (`run` a SweepRun, `outcome` its SweepOutcome)."""
    import os

    result, grid = outcome.result, outcome.grid
    rows, best = result.rows(), result.best
    columns = list(rows[0])
    csv = (
        "\n".join(
            [",".join(columns)] + [",".join("" if row[c] is None else str(row[c]) for c in columns) for row in rows]
        )
        + "\n"
    )
    atomic_write(os.path.join(run.out, "sweep.csv"), lambda handle: handle.write(csv.encode()))
    write_json(
        os.path.join(run.out, RECORDS["sweep"]),
        {
            "env_id": env_id,
            "data": run.data,
            "split": outcome.split_record,
            "model": run.model.kind,
            "members": run.model.members,
            "hidden_sizes": list(run.model.hidden_sizes),
            "epochs": run.training.epochs,
            "batch_size": run.training.batch_size,
            "grid": {
                "learning_rates": list(grid.learning_rates),
                "weight_decays": list(grid.weight_decays),
                "seeds": list(grid.seeds),
            },
            "chosen_by": "lowest mean validation MSE over seeds, then the seed with the lowest validation MSE",
            "best": None if best is None else rows[best],
            "configurations": rows,
            "summary": result.summary(),
            "compile_seconds": result.compile_seconds,
            "train_seconds": result.train_seconds,
            "loss_curves": np.asarray(result.loss_curves).mean(axis=2).tolist(),
        },
    )
    plot_sweep(
        rows,
        "held_out_mse",
        os.path.join(run.out, "sweep.png"),
        f"{len(grid)} configurations on {env_id or 'data'}: held-out MSE",
    )


def _mean_std(stats: dict) -> str:
    return "diverged" if stats["mean"] is None else f"{stats['mean']:.3e} ± {stats['std']:.1e}"


def sweep_summary(run, outcome) -> str:
    """The table and the choice `wm-jax sweep` prints."""
    result = outcome.result
    rows, best = result.rows(), result.best
    chosen = result.configurations[best]
    table = [
        [
            f"{item['learning_rate']:g}",
            f"{item['weight_decay']:g}",
            _mean_std(item["validation_mse"]),
            _mean_std(item["held_out_mse"]),
            f"{item['diverged']}/{item['seeds']}",
        ]
        for item in result.summary()
    ]
    return "\n".join(
        [
            format_table(["lr", "weight decay", "validation MSE", "held-out MSE", "diverged"], table),
            f"chosen on validation: lr {chosen.learning_rate:g}, weight decay {chosen.weight_decay:g}, seed "
            f"{chosen.seed}: validation MSE {rows[best]['validation_mse']:.3e}, held-out MSE "
            f"{rows[best]['held_out_mse']:.3e}; {len(outcome.grid)} configurations in {result.train_seconds:.2f} s + "
            f"{result.compile_seconds:.2f} s compiling; wrote {run.out}",
        ]
    )


# ------------------------------------------------------------------ evaluation records (JSON)


def json_floats(values) -> list:
    """Floats for JSON, with NaN (no start state long enough, a diverged run) written as null."""
    return [None if not math.isfinite(v) else float(v) for v in np.asarray(values, dtype=float).ravel()]


def model_record(evaluation, rollout: bool = True) -> dict:
    """A model's one-step and rollout MSE on a split (an `evaluation.summary.SplitEvaluation`), for the
    ensemble mean and per member; `rollout=False` (the training split, scored one step ahead) leaves
    the rollout entry out."""
    errors = evaluation.model
    record = {
        "transitions": evaluation.transitions,
        "episodes": evaluation.episodes,
        "one_step_mse": float(errors.mse[0, 0]),
        "member_one_step_mse": json_floats(errors.mse[1:, 0]),
    }
    if rollout:
        record["rollout"] = {
            "horizons": errors.horizons.tolist(),
            "mse": json_floats(errors.mse[0]),
            "member_mse": [json_floats(row) for row in errors.mse[1:]],
            "start_states": errors.counts.tolist(),
        }
    return record


def baselines_record(baselines: dict) -> dict:
    """name -> {one_step_mse, rollout_mse} of each baseline's `RolloutErrors`."""
    return {
        name: {"one_step_mse": float(errors.mse[0, 0]), "rollout_mse": json_floats(errors.mse[0])}
        for name, errors in baselines.items()
    }


def uncertainty_record(uncertainty) -> dict:
    """An `evaluation.heads.Uncertainty` as metrics.json and `evaluate --json` write it."""
    from .evaluation.heads import OOD_SCALE

    in_std = float(uncertainty.epistemic_std.mean())
    record = {
        "predictive": "moment-matched Gaussian of the elite members (aleatoric + epistemic variance)"
        + (", recalibrated on validation data (variance scale and interval levels)" if uncertainty.calibrated else ""),
        "nll": uncertainty.nll,
        "coverage": {
            f"{level:.0%}": {"per_dim": json_floats(per_dim), "mean": float(per_dim.mean())}
            for level, per_dim in uncertainty.coverage.items()
        },
        "reliability": {
            "levels": json_floats(uncertainty.reliability.levels),
            "coverage": json_floats(uncertainty.reliability.overall),
        },
        "mean_aleatoric_std": uncertainty.mean_aleatoric_std,
        "epistemic_std": {"in_distribution": in_std},
    }
    if uncertainty.ood_epistemic_std is not None:
        out_std = float(uncertainty.ood_epistemic_std.mean())
        record["epistemic_std"].update(
            out_of_distribution=out_std,
            ratio=out_std / in_std if in_std > 0 else None,
            out_of_distribution_states=f"each state moved {OOD_SCALE:g}x as far from the data's mean, same actions",
        )
    return record


def heads_record(heads) -> dict:
    """The uncertainty, reward and termination entries of an `evaluation.heads.HeadScores` (those it has)."""
    record = {}
    if heads.uncertainty is not None:
        record["uncertainty"] = uncertainty_record(heads.uncertainty)
    if heads.reward is not None:
        record["reward"] = {"mse": heads.reward.mse, "member_mse": json_floats(heads.reward.member_mse)}
    if heads.termination is not None:
        auroc = heads.termination.auroc
        record["termination"] = {
            "accuracy": heads.termination.accuracy,
            "auroc": None if np.isnan(auroc) else auroc,
            "terminations": heads.termination.positives,
            "transitions": heads.termination.count,
        }
    return record


def split_record(evaluation, rollout: bool = True) -> dict:
    """A `SplitEvaluation` as metrics.json's train and held_out entries and `evaluate --json` write it."""
    return {
        **model_record(evaluation, rollout),
        "baselines": baselines_record(evaluation.baselines),
        **(heads_record(evaluation.heads) if evaluation.heads is not None else {}),
    }


def evaluation_json(run, evaluation) -> dict:
    """`wm-jax evaluate --json`: `run` an EvaluateRun, `evaluation` its Evaluation."""
    spec, model = evaluation.model.spec, evaluation.model
    return {
        "model": spec.config.kind,
        "members": spec.config.members,
        "env_id": spec.env_id,
        "elites": np.asarray(model.elites).tolist(),
        "mode": run.mode,
        "sample": run.sample,
        "data": run.data,
        "per_dim_mse": evaluation.scores.per_dim_mse,
        **split_record(evaluation.split),
    }


def _rollout_table(run, evaluation) -> str:
    from .evaluation.summary import TABLE_HORIZONS, at_horizon

    split, config = evaluation.split, evaluation.model.spec.config
    horizons = [h for h in TABLE_HORIZONS if h <= run.horizon]
    elites = len(evaluation.model.elites)
    tracks = split.model.mse
    rows = [
        [
            "model" + (f" ({run.mode} of {elites})" if config.members > 1 else ""),
            *(at_horizon(tracks[0], h) for h in horizons),
        ]
    ]
    if config.members > 1:
        rows += [[f"  member {i}", *(at_horizon(m, h) for h in horizons)] for i, m in enumerate(tracks[1:])]
    rows += [
        [f"baseline: {name}", *(at_horizon(errors.mse[0], h) for h in horizons)]
        for name, errors in split.baselines.items()
    ]
    return format_table(["MSE at horizon", *map(str, horizons)], rows)


def evaluation_summary(run, evaluation) -> str:
    """What `wm-jax evaluate` prints: the rollout table, then uncertainty and the heads."""
    spec, split = evaluation.model.spec, evaluation.split
    lines = [
        f"{spec.config.kind} model for {spec.env_id or 'unknown env'}, {split.transitions} transitions in "
        f"{split.episodes} episodes; rollouts: {run.mode}{' sampled' if run.sample else ''}",
        _rollout_table(run, evaluation),
    ]
    counts = np.asarray(split.model.counts)
    if counts.size and counts[-1] == 0:  # no episode is that long: those horizons have no rollout to score
        longest = int(np.count_nonzero(counts))
        lines.append(
            f"   (no episode in the data has more than {longest} steps: horizons {longest + 1}-{counts.size} "
            f"start nowhere, so they show nan; --horizon {longest} stops there)"
        )
    if evaluation.linear is None:
        lines.append("   (no linear baseline: the checkpoint has no baselines.json)")
    uncertainty, reward, termination = split.heads
    if uncertainty is None:
        lines.append("no predictive spread (one deterministic member): no NLL or calibration")
    else:
        lines.append(
            f"NLL {uncertainty.nll:.4g}; interval coverage 50%: {uncertainty.coverage[0.5].mean():.1%}, "
            f"90%: {uncertainty.coverage[0.9].mean():.1%}; epistemic std {uncertainty.epistemic_std.mean():.3g} "
            f"in distribution, {uncertainty.ood_epistemic_std.mean():.3g} out of distribution"
        )
    if reward is not None:
        lines.append(f"reward MSE {reward.mse:.4g}")
    if termination is not None:
        auroc = termination.auroc
        lines.append(
            f"termination accuracy {termination.accuracy:.1%}, AUROC "
            f"{'n/a (one class)' if np.isnan(auroc) else f'{auroc:.3f}'}"
        )
    return "\n".join(lines)


def _agent_config(run) -> dict:
    """An mbrl or dream run's settings as its record gives them: with `--data`, the data file's rows replaced
    the random first transitions, so `initial_transitions` is None (it played no part)."""
    import dataclasses

    config = dataclasses.asdict(run.config)
    if run.data is not None:
        config["initial_transitions"] = None
    return config


def write_mbrl(run, result, frames) -> None:
    """DIR/mbrl.json, learning_curve.png and (with frames) episode.gif of `wm-jax mbrl`."""
    import os

    summary = {
        "env_id": run.env,
        "seed": run.seed,
        "iterations": result.iterations,
        "eval_returns": result.eval_returns,
        "eval_return_mean": result.eval_return_mean,
        "eval_return_std": float(np.std(result.eval_returns)),
        "real_transitions_used": result.real_transitions_used,
        # The first transitions: this data file's, or --initial-transitions random ones where None.
        "initial_data": run.data,
        "seconds": result.seconds,
        "config": _agent_config(run),
    }
    write_json(os.path.join(run.out, RECORDS["mbrl"]), summary)
    episodes = Curve(
        "training episode (MPC)",
        [r["real_transitions"] for r in result.iterations],
        [r["train_return"] for r in result.iterations],
    )
    path = os.path.join(run.out, "learning_curve.png")
    title = f"MPC on {run.env} (seed {run.seed})"
    plot_learning_curve([episodes], path, title, "episode return", result.eval_returns, result.real_transitions_used)
    if frames:
        save_gif(frames, os.path.join(run.out, "episode.gif"))


def dream_record(run, result) -> dict:
    """DIR/dream.json of `wm-jax dream`: the run's settings, its iterations and evaluation (a
    `planning.dream.DreamResult`), and what its learner reports about itself."""

    return {
        "env_id": run.env,
        "seed": run.seed,
        "reward": result.reward,
        "iterations": result.iterations,
        "dream_return_mean": result.dream_return_mean,
        "eval_returns": result.eval_returns,
        "eval_return_mean": result.eval_return_mean,
        "eval_return_std": result.eval_return_std,
        "real_transitions_used": result.real_transitions_used,
        # The first transitions: this data file's, or --initial-transitions random ones where None.
        "initial_data": run.data,
        "config": _agent_config(run),
        **result.learner,
        "seconds": result.seconds,
    }


def write_dream(run, result) -> None:
    """DIR/dream.json (`dream_record`) and learning_curve.png of `wm-jax dream`: each iteration's dream return
    and its real episodes' return against the real transitions used, and the final evaluation."""
    import os

    write_json(os.path.join(run.out, RECORDS["dream"]), dream_record(run, result))
    played = [r for r in result.iterations if "train_return" in r]  # the last iteration only dreams
    curves = [
        Curve(
            "dream return (in the model trained on the data so far)",
            [r.get("model_transitions", r["real_transitions"]) for r in result.iterations],
            [r["dream_return"] for r in result.iterations],
        ),
        Curve(
            "real episodes (exploring)", [r["real_transitions"] for r in played], [r["train_return"] for r in played]
        ),
    ]
    title = f"{run.config.controller} controller trained in the dream, {run.env} (seed {run.seed})"
    path = os.path.join(run.out, "learning_curve.png")
    plot_learning_curve(curves, path, title, "episode return", result.eval_returns, result.real_transitions_used)


def write_sac(run, result) -> None:
    """DIR/sac.json and learning_curve.png of `wm-jax sac`."""
    _write_policy_run(run, result, RECORDS["sac"], f"SAC on {run.env} (seed {run.seed})", {})


def write_mbpo(run, result, model: dict, baseline: dict | None = None) -> None:
    """DIR/mbpo.json and learning_curve.png of `wm-jax mbpo`; `model` is `run_mbpo`'s record of the model,
    `baseline` a `wm-jax sac` run's sac.json, whose curve is drawn beside MBPO's."""
    import dataclasses

    extra = {"model": model, "mbpo": dataclasses.asdict(run.config), "sac": dataclasses.asdict(run.sac)}
    curves = []
    if baseline is not None:
        extra["baseline"] = {"path": run.baseline, "eval_return_mean": baseline["eval_return_mean"]}
        curves.append(evaluation_curve(f"SAC baseline (seed {baseline['seed']})", baseline["curve"]))
    _write_policy_run(run, result, RECORDS["mbpo"], f"MBPO on {run.env} (seed {run.seed})", extra, curves)


def evaluation_curve(label: str, curve: list[dict]) -> Curve:
    """A policy's evaluation rows (sac.json's or mbpo.json's "curve") as a plotted line."""
    rows = [(row["real_transitions"], row["eval_return_mean"], row["eval_return_std"]) for row in curve]
    return Curve(label, *zip(*rows))


def _write_policy_run(run, result, name: str, title: str, extra: dict, curves: Sequence[Curve] = ()) -> None:
    import dataclasses
    import os

    summary = {
        "env_id": run.env,
        "seed": run.seed,
        "curve": result.curve,
        "eval_returns": result.eval_returns,
        "eval_return_mean": float(np.mean(result.eval_returns)),
        "eval_return_std": float(np.std(result.eval_returns)),
        "real_transitions_used": run.loop.total_transitions,
        "seconds": result.seconds,
        "loop": dataclasses.asdict(run.loop),
        "config": dataclasses.asdict(run.config),
        **extra,
    }
    write_json(os.path.join(run.out, name), summary)
    curves = [evaluation_curve(name.removesuffix(".json").upper(), result.curve), *curves]
    path = os.path.join(run.out, "learning_curve.png")
    plot_learning_curve(curves, path, title, "greedy policy's return on fresh episodes (mean ± std)")


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
                ax.plot(
                    x + offset,
                    row[score],
                    "o",
                    markersize=12,
                    markerfacecolor="none",
                    markeredgecolor="C3",
                    label="chosen (lowest validation MSE)",
                )
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


class Curve(NamedTuple):
    """One line of a learning-curve plot: returns (and their spread, if any) against real transitions used."""

    label: str
    transitions: Sequence[int]
    returns: Sequence[float]
    spread: Sequence[float] | None = None


def plot_learning_curve(
    curves: Sequence[Curve],
    path: str,
    title: str,
    ylabel: str,
    final_returns: Sequence[float] | None = None,
    final_at: int | None = None,
) -> None:
    """Returns against the real transitions used so far, one line per curve (error bars where it has a
    spread); `final_returns`, the final agent's evaluation episodes, are marked (mean and spread) at
    `final_at` real transitions (default: the first curve's end)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 5))
    for color, curve in enumerate(curves):
        style = {"fmt": "o-", "capsize": 3, "color": f"C{color}", "label": curve.label}
        ax.errorbar(curve.transitions, curve.returns, yerr=curve.spread, **style)
    if final_returns is not None:
        mean, std = float(np.mean(final_returns)), float(np.std(final_returns))
        ax.errorbar(
            [curves[0].transitions[-1] if final_at is None else final_at],
            [mean],
            yerr=[std],
            fmt="s",
            color="C3",
            capsize=4,
            label=f"final agent, {len(final_returns)} evaluation episodes: {mean:.1f} ± {std:.1f}",
        )
    ax.set_xlabel("real transitions used")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path, dpi=120)


def save_gif(frames: Sequence[np.ndarray], path: str, fps: int = 30) -> None:
    """An animated GIF of rgb frames (Pillow, which matplotlib already depends on), written atomically."""
    from PIL import Image

    images = [Image.fromarray(np.asarray(frame)) for frame in frames]
    atomic_write(
        path,
        lambda f: images[0].save(
            f, format="GIF", save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0
        ),
    )


# The tutorial demo's report: `demo.run_demo` computes, these build its text, plots and metrics.json.
# `trained` maps a model kind to its `demo.TrainedModel`, `evaluation` is a `demo.DemoEvaluation`,
# `opts` the resolved `demo.DemoOptions`.

DEMO_MODEL_TITLES = {
    "simple": "Simple World Model",
    "regularized": "Regularized World Model (dropout 0.2, weight decay 1e-4)",
    "ensemble": "Ensemble of {members} World Models",
}
DEMO_ONE_STEP_HEADING = (
    "6. Comparing one-step prediction accuracy (MSE, eval mode) with two baselines fitted on the training split..."
)


def demo_heading(backend: str) -> str:
    rule = "=" * 60
    return f"{rule}\nWorld Models - Demo, backend: {backend}\n{rule}\n"


def demo_model_summary(params: int, input_shape: tuple[int, ...], output_shape: tuple[int, ...]) -> str:
    """Step 1: an untrained simple model's size and test forward pass."""
    return (
        f"1. Defining Simple World Model...\n   Model created with {params} parameters\n"
        f"   Test forward pass successful: input shape {input_shape} -> output shape {output_shape}\n"
    )


def demo_data_summary(opts, dataset, split, action_width: int, max_episode_steps: int) -> str:
    """Step 2: the collected `dataset` (a `data.Dataset`) and its `split` (a `data.EpisodeSplit`)."""
    data, train, held_out = dataset.transitions, split.train, split.held_out
    return "\n".join(
        [
            f"2. Collecting data from {opts.env} ({opts.collect_backend}; random policy, episodes capped at "
            f"{max_episode_steps} steps)...",
            f"   Collected {data.size} transitions from {data.episode_count} episodes "
            f"({len(dataset.info.cut_episodes)} cut short by the budget)",
            f"   States shape: {data.states.shape}",
            f"   Actions shape: {data.actions.shape} ({opts.action_encoding} encoding -> {action_width} network input "
            "column(s))",
            f"   Next states shape: {data.next_states.shape}",
            f"   Split by episode (seed {opts.seed}): {train.size} training transitions in {train.episode_count} "
            f"episodes / {held_out.size} held-out in {held_out.episode_count} episodes; no episode on both sides\n",
        ]
    )


def demo_training_heading(step: int, kind: str, members: int) -> str:
    return f"{step}. Training {DEMO_MODEL_TITLES[kind].format(members=members)}..."


def demo_training_done(model) -> str:
    return (
        f"   Final training loss: {float(model.loss_curve[-1].mean()):.6f}  "
        f"({model.train_seconds:.2f} s training, {model.compile_seconds:.2f} s compiling)\n"
    )


def demo_one_step_report(trained: dict, evaluation, members: int, labels: Sequence[str]) -> str:
    """Step 6's tables: train and held-out one-step MSE of each model (an ensemble's members too) and
    baseline, the held-out MSE per state dimension, and the model with the lowest."""
    scores, baselines = evaluation.one_step, evaluation.baselines
    rows = []
    for kind, (on_train, on_held_out) in scores.items():
        rows.append(
            [
                f"{kind}" + (f" (mean of {members})" if kind == "ensemble" else ""),
                trained[kind].params,
                on_train.mse,
                on_held_out.mse,
            ]
        )
        if kind == "ensemble":
            rows += [
                [f"  member {i}", trained[kind].params // members, t, h]
                for i, (t, h) in enumerate(zip(on_train.member_mse, on_held_out.member_mse))
            ]
    for name in baselines["held_out"]:
        rows.append(
            [
                f"baseline: {name}",
                evaluation.linear_params if name == "linear" else 0,
                float(baselines["train"][name].mse[0, 0]),
                float(baselines["held_out"][name].mse[0, 0]),
            ]
        )
    best = min(scores, key=lambda k: scores[k][1].mse)
    return "\n".join(
        [
            format_table(["model", "params", "train MSE", "held-out MSE"], rows),
            "\n   Held-out MSE per state dimension:",
            format_table(["model", *labels], [[k, *h.per_dim_mse] for k, (_, h) in scores.items()]),
            f"   Lowest held-out one-step MSE: {best}\n",
        ]
    )


def demo_rollout_curves(evaluation, members: int) -> dict[str, np.ndarray]:
    """Held-out rollout MSE per horizon 1..H (NaN where no start state reaches it), by the name the
    table and the plot give it: each model, an ensemble's members, then the baselines."""
    curves = {}
    for kind, held_out in evaluation.held_out.items():
        tracks = held_out.model.mse
        curves[kind + (f" (mean of {members})" if kind == "ensemble" else "")] = tracks[0]
        if kind == "ensemble":
            for i, member in enumerate(tracks[1:]):
                curves[f"  member {i}"] = member
    for name, errors in evaluation.baselines["held_out"].items():
        curves[f"baseline: {name}"] = errors.mse[0]
    return curves


def demo_rollout_report(curves: dict[str, np.ndarray], start_states: Sequence[int], horizon: int) -> str:
    """Step 7's table: each curve at the table's horizons up to `horizon`, and how many start states each had."""
    from .evaluation.summary import TABLE_HORIZONS, at_horizon

    horizons = [h for h in TABLE_HORIZONS if h <= horizon]
    rows = [[name, *(at_horizon(curve, h) for h in horizons)] for name, curve in curves.items()]
    rows.append(["start states", *(int(start_states[h - 1]) for h in horizons)])
    return "\n".join(
        [
            "7. Open-loop rollouts on held-out episodes: start from a real state, feed the recorded actions,",
            "   MSE against the real state H steps later (never across an episode's end)...",
            format_table(["MSE at horizon H", *map(str, horizons)], rows),
        ]
    )


def write_demo_rollout_plot(curves: dict[str, np.ndarray], opts, backend: str) -> str:
    """DIR/rollout_error.png of the `demo_rollout_curves`; returns the line saying where it is."""
    import os

    path = os.path.join(opts.out, "rollout_error.png")
    plot_rollout_errors(
        curves,
        np.arange(1, opts.horizon + 1),
        path,
        f"Open-loop rollout error on held-out {opts.env} episodes ({backend})",
    )
    return f"   Rollout error plot saved to {path}\n"


def write_demo_training_plot(trained: dict, opts, backend: str) -> str:
    """DIR/world_models_training.png of every model's loss curve; returns step 8's line."""
    import os

    path = os.path.join(opts.out, "world_models_training.png")
    plot_loss_curves(
        {kind: model.loss_curve for kind, model in trained.items()},
        path,
        f"World model training on {opts.env} ({backend})",
    )
    return f"8. Training curves saved to {path}\n"


def demo_trajectory_heading(steps: int) -> str:
    return f"9. Testing predictions on a real {steps}-step trajectory (one step ahead from true states)..."


def demo_trajectory_report(trajectory, predictions: dict[str, np.ndarray], trajectory_mse: dict[str, float]) -> str:
    """Step 9's table: the true next states of `trajectory` (a Transitions) beside the ensemble's one-step
    predictions (each (steps, state_dim)), then every model's MSE over the trajectory."""
    true_next, ensemble = trajectory.next_states, predictions["ensemble"]
    errors = np.abs(ensemble - true_next)
    rows = [
        [
            t + 1,
            np.array2string(true_next[t], precision=3, suppress_small=True),
            np.array2string(ensemble[t], precision=3, suppress_small=True),
            float(errors[t].max()),
        ]
        for t in range(trajectory.size)
    ]
    return "\n".join(
        [
            format_table(["step", "true next state", "ensemble prediction", "max abs error"], rows),
            "   One-step MSE over the trajectory: " + ", ".join(f"{k} {v:.3e}" for k, v in trajectory_mse.items()),
        ]
    )


def write_demo_trajectory_plot(
    trajectory, predictions: dict[str, np.ndarray], labels: Sequence[str], opts, backend: str
) -> str:
    """DIR/trajectory_predictions.png, one panel per state dimension; returns the line saying where it is."""
    import os

    path = os.path.join(opts.out, "trajectory_predictions.png")
    plot_trajectory(
        trajectory.next_states,
        predictions,
        labels,
        path,
        f"One-step predictions on a random {opts.env} trajectory ({backend})",
    )
    return f"   Trajectory plot saved to {path}\n"


def demo_metrics(
    *,
    backend: str,
    opts,
    dataset,
    split,
    action_width: int,
    configs: dict,
    trained: dict,
    evaluation,
    trajectory_mse: dict[str, float],
    trajectory_steps: int,
    seconds: float,
) -> dict:
    """The demo's metrics.json; `configs` maps each kind to the (ModelConfig, TrainConfig) it trained with."""
    data, train = dataset.transitions, split.train
    return {
        "backend": backend,
        "env": opts.env,
        "seed": opts.seed,
        "action_encoding": opts.action_encoding,
        "data": {
            "transitions": data.size,
            "episodes": data.episode_count,
            "train": train.size,
            "held_out": split.held_out.size,
            "state_dim": data.state_dim,
            "action_dim": action_width,
            "collection": dataset.info.collection,
            "cut_episodes": list(dataset.info.cut_episodes),
        },
        "split": {
            "method": "by episode",
            "seed": split.seed,
            "eval_fraction": opts.eval_fraction,
            "held_out_episodes": split.held_out_episodes.tolist(),
            "train_episodes": train.episode_count,
        },
        "baselines": {part: baselines_record(errors) for part, errors in evaluation.baselines.items()},
        "models": {
            kind: {
                **_demo_model_metrics(kind, configs[kind], model, evaluation.one_step[kind], opts.seed, backend),
                "held_out": model_record(evaluation.held_out[kind]),
            }
            for kind, model in trained.items()
        },
        "trajectory": {"steps": trajectory_steps, "one_step_mse": trajectory_mse},
        "total_seconds": seconds,
    }


def _demo_model_metrics(kind: str, configs: tuple, model, scores: tuple, seed: int, backend: str) -> dict:
    model_cfg, train_cfg = configs
    return model_metrics(
        model=kind,
        members=model.loss_curve.shape[1],
        epochs=train_cfg.epochs,
        batch_size=train_cfg.batch_size,
        learning_rate=train_cfg.learning_rate,
        weight_decay=train_cfg.weight_decay,
        dropout_rate=model_cfg.dropout_rate,
        params=model.params,
        loss_curve=model.loss_curve,
        train_scores=scores[0],
        eval_scores=scores[1],
        train_seconds=model.train_seconds,
        compile_seconds=model.compile_seconds,
        seed=seed,
        backend=backend,
    )
