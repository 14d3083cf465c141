"""Collection settings for the whole repository (tests/, parity_tests/, bench/).

The parity suite stays byte-for-byte as its proof was reviewed, so its slow tests are marked
here, by name, instead of in its files: the property-based checks over random shapes (many
compilations each) and the checks that train whole runs in JAX and torch. What they check is
unchanged; `pytest -m "not slow"` just leaves them to the full run.
"""

import pytest

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
