"""Collection settings for the whole repository (tests/, parity_tests/, bench/).

The parity suite stays byte-for-byte as its proof was reviewed, so its slow tests are marked
here, by name, instead of in its files: the property-based checks over random shapes (many
compilations each) and the checks that train whole runs in JAX and torch. What they check is
unchanged; `pytest -m "not slow"` just leaves them to the full run.
"""

import os

import pytest

from wm_jax.compilation import with_quick_compile

# Compile the tests' programs with XLA's quicker CPU settings (`wm_jax.compilation.QUICK_COMPILE_XLA_FLAGS`:
# about a third less compile time; the same bits for training and planning, SAC's from about the seventh
# digit). Set before any JAX backend starts, so every worker and every command a test starts as a
# subprocess inherits them. WM_JAX_TEST_DEFAULT_COMPILE=1 runs the suite under XLA's defaults instead.
if os.environ.get("WM_JAX_TEST_DEFAULT_COMPILE") != "1":
    os.environ["XLA_FLAGS"] = with_quick_compile(os.environ.get("XLA_FLAGS", ""))

PARITY_SLOW = (
    "_for_any_shape",  # hypothesis: a new architecture, so new programs, per example
    "test_tutorial_training_run_matches",
    "test_independent_runs_are_indistinguishable",
    "test_ensemble_training_run_matches_torch_train_ensemble",
    "test_ensemble_members_equal_single_models",
    "test_init_distribution_matches_torch_default",
)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.nodeid.startswith("parity_tests/") and any(name in item.name for name in PARITY_SLOW):
            item.add_marker(pytest.mark.slow)


# Each worker is a JAX process (about 1-2 GB at its peak here, more in the tests that start
# subprocesses of their own), so `-n auto` takes one worker per core up to four.
MAX_WORKERS = 4


def pytest_xdist_auto_num_workers(config):
    import os

    return max(
        1, min(MAX_WORKERS, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count())
    )


# Property-based tests draw the same examples on every run (CI reproducible; a failure reproduces
# as is). HYPOTHESIS_PROFILE=explore draws fresh ones, to hunt for new failures.
def _hypothesis_profiles():
    import os

    from hypothesis import settings

    settings.register_profile("ci", derandomize=True)
    settings.register_profile("explore", derandomize=False)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


_hypothesis_profiles()
