"""`python -m wm_jax` is the `wm-jax` command."""

import sys

from .cli import main

sys.exit(main())
