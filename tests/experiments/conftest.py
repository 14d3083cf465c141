"""A model trained by `wm-jax train` with every engine option on, which the train, evaluate and
predict commands' tests read (made once per session; no test writes into it)."""

import pytest

from wm_jax.cli import main


@pytest.fixture(scope="session")
def engine_dataset(tmp_path_factory):
    """The path of a data file of 1,200 CartPole transitions (seed 2)."""
    path = tmp_path_factory.mktemp("data") / "cartpole.npz"
    assert main(["collect", "--out", str(path), "--transitions", "1200", "--seed", "2"]) == 0
    return str(path)


@pytest.fixture(scope="session")
def trained(tmp_path_factory, engine_dataset):
    """The run directory of a 4-member PETS-style ensemble trained on `engine_dataset` (6 epochs)."""
    out = tmp_path_factory.mktemp("run") / "pets"
    code = main(
        [
            "train",
            "--data",
            engine_dataset,
            "--out",
            str(out),
            "--model",
            "ensemble",
            "--members",
            "4",
            "--epochs",
            "6",
            "--horizon",
            "8",
            "--delta",
            "--normalize",
            "--probabilistic",
            "--reward-head",
            "--termination-head",
            "--bootstrap",
            "--early-stopping-patience",
            "3",
            "--elites",
            "3",
            "--plots",
        ]
    )
    assert code == 0
    return out
