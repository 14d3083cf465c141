"""`python -m wm_torch_ref [--quick] [--out DIR] [--seed S] ...`: the tutorial demo on the PyTorch reference.

The driver (data, report, plots, metrics.json) is `wm_jax.demo`, shared with the JAX demo, so the
two print the same report from the same data. Run with --help for every option.
"""

import sys

from wm_jax.demo import DemoOptions, demo_main

from .backend import TorchBackend

if __name__ == "__main__":
    # Default to torch_demo_out/ so a reference run never overwrites the JAX demo's demo_out/.
    sys.exit(demo_main(TorchBackend(), defaults=DemoOptions(out="torch_demo_out"), prog="python -m wm_torch_ref"))
