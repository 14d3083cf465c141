"""Run the engine's options on all five environments and print the results page's tables (docs/results.md).

    python scripts/options_table.py runs/options            # trains every row (about 10 minutes on 2 cores)
    python scripts/options_table.py runs/options --tables   # only print the tables from finished runs

Each environment gets one dataset (`wm-jax collect`, 10,000 random-policy transitions, seed 0) and
every configuration is `wm-jax train` on it with the same held-out episodes (eval fraction 0.2,
seed 0) and the tutorial's budget (100 epochs, batch 32, Adam 1e-3). Tables read each run's
metrics.json; the summary is also written to DIR/summary.json.
"""

import json
import math
import os
import subprocess
import sys

ENVS = ("CartPole-v1", "Acrobot-v1", "MountainCar-v0", "MountainCarContinuous-v0", "Pendulum-v1")
HORIZON = 20
CONFIGS = {
    "raw (tutorial)": ["--model", "simple"],
    "delta": ["--model", "simple", "--delta"],
    "normalize": ["--model", "simple", "--normalize"],
    "delta + normalize": ["--model", "simple", "--delta", "--normalize"],
    "ensemble (tutorial)": ["--model", "ensemble"],
    "ensemble, delta + normalize": ["--model", "ensemble", "--delta", "--normalize"],
    "probabilistic ensemble": [
        "--model",
        "ensemble",
        "--probabilistic",
        "--delta",
        "--normalize",
        "--bootstrap",
        "--reward-head",
        "--termination-head",
    ],
    "probabilistic, calibrated": [
        "--model",
        "ensemble",
        "--probabilistic",
        "--delta",
        "--normalize",
        "--bootstrap",
        "--reward-head",
        "--termination-head",
        "--calibrate",
    ],
}
PROBABILISTIC = ("probabilistic ensemble", "probabilistic, calibrated")


def slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name).strip("-")


def run_all(root: str) -> None:
    for env in ENVS:
        data = os.path.join(root, env, "data.npz")
        if not os.path.exists(data):
            subprocess.run(["wm-jax", "collect", "--env", env, "--out", data, "--transitions", "10000"], check=True)
        for name, flags in CONFIGS.items():
            out = os.path.join(root, env, slug(name))
            if not os.path.exists(os.path.join(out, "metrics.json")):
                subprocess.run(["wm-jax", "train", "--data", data, "--out", out, *flags], check=True)


def load(root: str, env: str, name: str) -> dict | None:
    path = os.path.join(root, env, slug(name), "metrics.json")
    if not os.path.exists(path):
        return None
    with open(path) as handle:
        return json.load(handle)


def cell(value) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.1e}"


def pair(block: dict) -> tuple[float, float]:
    return block["one_step_mse"], block["rollout"]["mse"][HORIZON - 1]


def tables(root: str) -> dict:
    summary = {}
    print(
        f"Held-out one-step MSE / {HORIZON}-step rollout MSE (simple model unless named; in brackets, how many "
        f"times lower the one-step MSE is than the tutorial's recipe for the same model kind):\n"
    )
    print("| env | " + " | ".join(CONFIGS) + " | linear |")
    print("| --- |" + " ---: |" * (len(CONFIGS) + 1))
    for env in ENVS:
        runs = {name: load(root, env, name) for name in CONFIGS}
        if runs["raw (tutorial)"] is None:
            continue
        raw = pair(runs["raw (tutorial)"]["held_out"])
        cells, summary[env] = [], {}
        for name, metrics in runs.items():
            if metrics is None:
                cells.append("n/a")
                continue
            one, twenty = pair(metrics["held_out"])
            summary[env][name] = {"one_step_mse": one, f"rollout_mse_h{HORIZON}": twenty}
            # Each option against the tutorial's recipe for the same model kind.
            base = (
                raw
                if not name.startswith(("ensemble", "probabilistic"))
                else pair(runs["ensemble (tutorial)"]["held_out"])
                if runs["ensemble (tutorial)"]
                else None
            )
            factor = base[0] / one if base is not None and one > 0 else None
            ratio = (
                ""
                if factor is None or "tutorial" in name
                else f" ({factor:.1f}x)"
                if factor < 10
                else f" ({factor:.0f}x)"
            )
            cells.append(f"{cell(one)}{ratio} / {cell(twenty)}")
        linear = runs["raw (tutorial)"]["held_out"]["baselines"]["linear"]
        summary[env]["linear"] = {
            "one_step_mse": linear["one_step_mse"],
            f"rollout_mse_h{HORIZON}": linear["rollout_mse"][HORIZON - 1],
        }
        cells.append(f"{cell(linear['one_step_mse'])} / {cell(linear['rollout_mse'][HORIZON - 1])}")
        print(f"| {env} | " + " | ".join(cells) + " |")

    print(
        "\nProbabilistic ensembles (E=5, delta + normalize, bootstrap, reward and termination heads; calibrated: "
        "variances recalibrated on a validation split of the training data), held out:\n"
    )
    print(
        "| env | model | NLL | 50% coverage | 90% coverage | epistemic std in / out of distribution | reward MSE | termination accuracy / AUROC |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for env, name in ((env, name) for env in ENVS for name in PROBABILISTIC):
        metrics = load(root, env, name)
        if metrics is None:
            continue
        held = metrics["held_out"]
        u = held["uncertainty"]
        eps = u["epistemic_std"]
        term = held.get("termination", {})
        auroc = term.get("auroc")
        summary.setdefault(env, {})[name + " (uncertainty)"] = {
            "nll": u["nll"],
            "coverage_50": u["coverage"]["50%"]["mean"],
            "coverage_90": u["coverage"]["90%"]["mean"],
            "coverage_90_per_dim": u["coverage"]["90%"]["per_dim"],
            "epistemic_in": eps["in_distribution"],
            "epistemic_out": eps["out_of_distribution"],
            "epistemic_ratio": eps["ratio"],
            "reward_mse": held.get("reward", {}).get("mse"),
            "termination": term,
        }
        print(
            f"| {env} | {name} | {u['nll']:.2f} | {u['coverage']['50%']['mean']:.1%} | {u['coverage']['90%']['mean']:.1%} | "
            f"{eps['in_distribution']:.2e} / {eps['out_of_distribution']:.2e} ({eps['ratio']:.1f}x) | "
            f"{cell(held.get('reward', {}).get('mse'))} | "
            + (
                f"{term['accuracy']:.1%} / {'n/a (no terminations)' if auroc is None else f'{auroc:.3f}'}"
                if term
                else "n/a"
            )
            + " |"
        )
    with open(os.path.join(root, "summary.json"), "w") as handle:
        json.dump(summary, handle, indent=2)
    return summary


if __name__ == "__main__":
    root = sys.argv[1] if len(sys.argv) > 1 else "runs/options"
    if "--tables" not in sys.argv:
        run_all(root)
    tables(root)
