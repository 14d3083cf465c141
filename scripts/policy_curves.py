"""Plot MBPO's learning curves beside SAC's (the model-free baseline) from `wm-jax mbpo` / `wm-jax sac` runs.

    for s in 0 1 2; do
      wm-jax mbpo --env Pendulum-v1 --seed $s --out runs/agents/mbpo-Pendulum-v1-seed$s
      wm-jax sac --env Pendulum-v1 --seed $s --total-transitions 5000 --eval-every 500 \\
          --out runs/agents/sac-Pendulum-v1-seed$s
    done
    python scripts/policy_curves.py runs/agents Pendulum-v1 docs/pendulum_mbpo_vs_sac.png

Each run directory is named METHOD-ENV-seedS and holds mbpo.json or sac.json; every seed is one line.
"""

import glob
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from wm_jax.report import pyplot, save_figure  # noqa: E402


def main(root: str, env_id: str, out: str) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 5))
    for color, method in (("C0", "mbpo"), ("C1", "sac")):
        paths = sorted(glob.glob(os.path.join(root, f"{method}-{env_id}-seed*", f"{method}.json")))
        for i, path in enumerate(paths):
            with open(path) as handle:
                curve = json.load(handle)["curve"]
            ax.plot(
                [row["real_transitions"] for row in curve],
                [row["eval_return_mean"] for row in curve],
                "o-",
                color=color,
                alpha=0.8,
                label=f"{method.upper()} ({len(paths)} seed{'s' * (len(paths) != 1)})" if i == 0 else None,
            )
    ax.set_xlabel("real transitions used")
    ax.set_ylabel("greedy policy's return on fresh episodes")
    ax.set_title(f"MBPO and SAC on {env_id}")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    save_figure(fig, out, dpi=120)


if __name__ == "__main__":
    main(*sys.argv[1:4])
