"""Shared fixtures: small real CartPole datasets and the bad-input table's world of good files, made
once per session. Fixtures only one folder uses live in that folder's conftest.py; plain helpers
that several folders share are in tests/helpers.py."""

import os

import pytest

from wm_jax.data import collect_transitions


@pytest.fixture(scope="session")
def cartpole_small():
    """600 random-policy CartPole transitions (seed 0)."""
    return collect_transitions("CartPole-v1", seed=0, transitions=600)


@pytest.fixture(scope="session")
def dataset(tmp_path_factory):
    """The path of a data file of 400 CartPole transitions (seed 1), written by `wm-jax collect`."""
    from wm_jax.cli import main

    path = tmp_path_factory.mktemp("data") / "cartpole.npz"
    assert main(["collect", "--out", str(path), "--transitions", "400", "--seed", "1"]) == 0
    return str(path)


@pytest.fixture(scope="session")
def world(tmp_path_factory):
    """The good files of the bad-input table (`tests/cli/bad_inputs.py`): data, models and earlier outputs.

    The bad-input rows, the loader fuzzing and make_train's capacity test read them; none may change them.
    """
    from tests.cli.bad_inputs import build_world

    return build_world(tmp_path_factory.mktemp("world"))


@pytest.fixture(scope="session", autouse=True)
def persistent_compilation_cache(tmp_path_factory):
    """Many tests compile the same small programs; an on-disk cache compiles each once per run.

    The cache starts empty on every run (as on a new machine), so no test depends on a warm one.
    It lives in the run's temporary root: under pytest-xdist every worker shares it, and the
    exported WM_JAX_CACHE_DIR points the CLIs that tests start as subprocesses at it too, instead
    of the user's ~/.cache/wm_jax (which would make their timings depend on earlier runs).
    """
    from wm_jax.compilation import CACHE_DIR_ENV, enable_persistent_cache

    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):  # each worker's basetemp is a folder of the run's root
        root = root.parent
    path = enable_persistent_cache(root / "jax_cache")
    previous = os.environ.get(CACHE_DIR_ENV)
    os.environ[CACHE_DIR_ENV] = path
    yield path
    if previous is None:
        os.environ.pop(CACHE_DIR_ENV, None)
    else:
        os.environ[CACHE_DIR_ENV] = previous
