"""`wm-jax collect` end to end."""

from wm_jax.cli import main


def test_collect_is_deterministic_per_seed(tmp_path, dataset):
    again = tmp_path / "again.npz"
    assert main(["collect", "--out", str(again), "--transitions", "400", "--seed", "1"]) == 0
    import numpy as np

    with np.load(dataset) as a, np.load(again) as b:
        for key in ("states", "actions", "next_states", "rewards", "terminated", "truncated"):
            np.testing.assert_array_equal(a[key], b[key])
