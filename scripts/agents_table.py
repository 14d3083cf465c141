"""Print the results page's table of agents (docs/results.md), from `wm-jax mbrl`, `wm-jax dream`, `wm-jax sac` and `wm-jax mbpo` runs.

    for s in 0 1 2; do wm-jax mbrl --env CartPole-v1 --seed $s --out runs/agents/mbrl-CartPole-v1-seed$s; done
    python scripts/agents_table.py runs/agents

Each run directory is named METHOD-ENV-seedS and holds mbrl.json, dream.json, sac.json or mbpo.json.
"""

import glob
import json
import os
import re
import sys

import numpy as np


def main(root: str) -> None:
    groups = {}
    for path in sorted(glob.glob(os.path.join(root, "*", "*.json"))):
        name = os.path.basename(os.path.dirname(path))
        match = re.match(r"(.+)-seed(\d+)$", name)
        if not match or os.path.basename(path) not in ("mbrl.json", "dream.json", "sac.json", "mbpo.json"):
            continue
        with open(path) as handle:
            record = json.load(handle)
        groups.setdefault(match.group(1), []).append((int(match.group(2)), record))
    print(
        "| run | seeds | real transitions | eval return per seed (mean of the final evaluation: 20 fresh episodes; 10 for sac and mbpo) | mean ± std over seeds | dream return | wall time per run |"
    )
    print("| --- | --- | ---: | --- | ---: | ---: | ---: |")
    for group, runs in groups.items():
        runs.sort()
        means = [r["eval_return_mean"] for _, r in runs]
        dream = [r.get("dream_return_mean") for _, r in runs]
        seconds = [r["seconds"]["total"] if isinstance(r["seconds"], dict) else r["seconds"] for _, r in runs]
        dream_cell = "" if dream[0] is None else " / ".join(f"{d:.1f}" for d in dream)
        print(
            f"| {group} | {', '.join(str(s) for s, _ in runs)} | {max(r['real_transitions_used'] for _, r in runs)} | "
            f"{' / '.join(f'{m:.1f}' for m in means)} | {np.mean(means):.1f} ± {np.std(means):.1f} | {dream_cell} | "
            f"{np.median(seconds):.0f} s |"
        )


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "runs/agents")
