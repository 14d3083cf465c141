"""Print the results page's per-environment table (docs/results.md) from `wm-jax demo --env ENV --out DIR/demo-ENV` runs.

for e in CartPole-v1 Acrobot-v1 MountainCar-v0 MountainCarContinuous-v0 Pendulum-v1; do
    wm-jax demo --env $e --out runs/demo-$e; done
python scripts/env_table.py runs
"""

import json
import math
import os
import sys

ENVS = ("CartPole-v1", "Acrobot-v1", "MountainCar-v0", "MountainCarContinuous-v0", "Pendulum-v1")
HORIZON = 20


def cell(value) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.1e}"


def main(root: str) -> None:
    print(f"| env | held-out episodes | starts at H={HORIZON} | simple | regularized | ensemble | identity | linear |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for env in ENVS:
        path = os.path.join(root, f"demo-{env}", "metrics.json")
        if not os.path.exists(path):
            continue
        with open(path) as handle:
            metrics = json.load(handle)
        models = metrics["models"]
        baselines = metrics["baselines"]["held_out"]
        block = models["simple"]["held_out"]
        starts = block["rollout"]["start_states"][HORIZON - 1]

        def pair(one_step, rollout):
            return f"{cell(one_step)} / {cell(rollout[HORIZON - 1])}"

        cells = [
            pair(models[k]["held_out"]["one_step_mse"], models[k]["held_out"]["rollout"]["mse"])
            for k in ("simple", "regularized", "ensemble")
        ]
        cells += [pair(baselines[k]["one_step_mse"], baselines[k]["rollout_mse"]) for k in ("identity", "linear")]
        print(f"| {env} | {block['episodes']} | {starts} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "runs")
