"""Saved parameters round-trip and bad checkpoints are reported, not crashed on."""

import json

import jax
import numpy as np
import pytest

from wm_jax.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from wm_jax.config import tutorial_model_config
from wm_jax.models import ModelSpec, ensemble_of, init_ensemble_params, spec_for_env


@pytest.mark.parametrize("encoding", ["index", "onehot"])
def test_checkpoint_round_trips_spec_and_parameters_exactly(tmp_path, encoding):
    spec = spec_for_env("Acrobot-v1", tutorial_model_config("ensemble", members=3), encoding)
    params = init_ensemble_params(spec, jax.random.key(0))
    save_checkpoint(str(tmp_path), ensemble_of(spec, params))
    model = load_checkpoint(str(tmp_path))
    loaded = model.params
    assert model.spec == spec
    assert jax.tree.structure(loaded) == jax.tree.structure(params)
    for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(loaded)):
        np.testing.assert_array_equal(a, b)


def test_checkpoint_with_wrong_shapes_or_missing_files_is_a_clear_error(tmp_path):
    spec = ModelSpec(4, 1, tutorial_model_config("simple"))
    save_checkpoint(str(tmp_path), ensemble_of(spec, init_ensemble_params(spec, jax.random.key(0))))
    model = json.loads((tmp_path / "model.json").read_text())
    (tmp_path / "model.json").write_text(json.dumps({**model, "state_dim": 6}))
    # params.npz carries its own description: an edited (or another run's) model.json is refused.
    with pytest.raises(CheckpointError, match="disagree"):
        load_checkpoint(str(tmp_path))
    # An export from before the description travelled inside params.npz is checked shape by shape.
    with np.load(tmp_path / "params.npz") as archive:
        arrays = {name: archive[name] for name in archive.files if name != "model.json"}
    np.savez(tmp_path / "params.npz", **arrays)
    with pytest.raises(CheckpointError, match="expected shape"):
        load_checkpoint(str(tmp_path))
    (tmp_path / "model.json").write_text(json.dumps({**model, "format_version": 2}))
    with pytest.raises(CheckpointError, match="newer than this wm-jax reads"):
        load_checkpoint(str(tmp_path))
    (tmp_path / "params.npz").write_bytes((tmp_path / "params.npz").read_bytes()[:300])
    with pytest.raises(CheckpointError, match="unreadable"):
        load_checkpoint(str(tmp_path))
    (tmp_path / "params.npz").unlink()
    with pytest.raises(CheckpointError, match="no such file"):
        load_checkpoint(str(tmp_path))


def test_written_files_get_ordinary_permissions_and_leave_no_temporary_files(tmp_path):
    import os

    spec = ModelSpec(4, 1, tutorial_model_config("simple"))
    old_umask = os.umask(0o022)
    try:
        save_checkpoint(str(tmp_path), ensemble_of(spec, init_ensemble_params(spec, jax.random.key(0))), {"linear": {}})
    finally:
        os.umask(old_umask)
    assert sorted(os.listdir(tmp_path)) == ["baselines.json", "model.json", "params.npz"]
    for name in os.listdir(tmp_path):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o644, name


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    from wm_jax.atomic import atomic_write

    target = tmp_path / "f.bin"
    target.write_bytes(b"old")

    def fail(handle):
        handle.write(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(target, fail)
    assert target.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["f.bin"]
