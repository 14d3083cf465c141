"""Run and print the results page's MuJoCo held-out table (docs/results.md): the tutorial model and the PETS network on random
data of each MuJoCo task, with the identity and linear baselines, one step and 20 steps ahead.

    python scripts/mujoco_table.py runs/mujoco            # collect, train both models, print the table
    python scripts/mujoco_table.py runs/mujoco --print    # only print it from earlier runs

Each task: `wm-jax collect --env TASK --transitions 10000` (random policy, the task's own episode
limit), then `wm-jax train` of the tutorial's simple model and of the PETS network (5 Gaussian members,
4 x 200, deltas, normalisation, bootstrap), 100 epochs each, 20% of episodes held out.
"""

import json
import math
import os
import subprocess
import sys

TASKS = (
    "HalfCheetah-v5",
    "Hopper-v5",
    "Walker2d-v5",
    "Ant-v5",
    "InvertedPendulum-v5",
    "InvertedDoublePendulum-v5",
    "Reacher-v5",
    "Swimmer-v5",
    "Pusher-v5",
)
TRANSITIONS, HORIZON = 10_000, 20
MODELS = {
    "tutorial": [],
    "pets": ["--model", "ensemble", "--hidden-sizes", "200", "200", "200", "200"]
    + ["--probabilistic", "--delta", "--normalize", "--bootstrap"],
}
WM_JAX = [sys.executable, "-m", "wm_jax"]


def run(root: str) -> None:
    for task in TASKS:
        folder = os.path.join(root, task)
        data = os.path.join(folder, "data.npz")
        if not os.path.exists(data):
            subprocess.run(
                [*WM_JAX, "collect", "--env", task, "--transitions", str(TRANSITIONS), "--out", data], check=True
            )
        for name, flags in MODELS.items():
            out = os.path.join(folder, name)
            if not os.path.exists(os.path.join(out, "metrics.json")):
                command = [*WM_JAX, "train", "--data", data, "--out", out, "--horizon", str(HORIZON), *flags]
                subprocess.run(command, check=True)


def cell(value) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.1e}"


def table(root: str) -> None:
    print(
        f"| task | dims (s, a) | held-out episodes | starts at H={HORIZON} | tutorial model | PETS network | identity | linear |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for task in TASKS:
        paths = {name: os.path.join(root, task, name, "metrics.json") for name in MODELS}
        if not all(os.path.exists(p) for p in paths.values()):
            continue
        metrics = {name: json.load(open(path)) for name, path in paths.items()}
        held_out = {name: m["held_out"] for name, m in metrics.items()}
        model = json.load(open(os.path.join(root, task, "tutorial", "model.json")))
        baselines = held_out["tutorial"]["baselines"]

        def pair(one_step, curve):
            return f"{cell(one_step)} / {cell(curve[HORIZON - 1])}"

        cells = [pair(held_out[n]["one_step_mse"], held_out[n]["rollout"]["mse"]) for n in MODELS]
        cells += [pair(baselines[b]["one_step_mse"], baselines[b]["rollout_mse"]) for b in ("identity", "linear")]
        split = metrics["tutorial"]["split"]
        starts = held_out["tutorial"]["rollout"]["start_states"][HORIZON - 1]
        dims = f"{model['state_dim']}, {model['action_dim']}"
        print(f"| {task} | {dims} | {len(split['held_out_episodes'])} | {starts} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    root = sys.argv[1]
    if "--print" not in sys.argv:
        run(root)
    table(root)
