"""Saved parameters round-trip and bad checkpoints are reported, not crashed on."""

import json

import jax
import numpy as np
import pytest

from wm_jax.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from wm_jax.config import tutorial_model_config
from wm_jax.models import ModelSpec, init_ensemble_params


def test_checkpoint_round_trips_spec_and_parameters_exactly(tmp_path):
    spec = ModelSpec(4, 1, tutorial_model_config("ensemble", members=3))
    params = init_ensemble_params(spec, jax.random.key(0))
    save_checkpoint(str(tmp_path), spec, params)
    loaded_spec, loaded = load_checkpoint(str(tmp_path))
    assert loaded_spec == spec
    assert jax.tree.structure(loaded) == jax.tree.structure(params)
    for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(loaded)):
        np.testing.assert_array_equal(a, b)


def test_checkpoint_with_wrong_shapes_or_missing_files_is_a_clear_error(tmp_path):
    spec = ModelSpec(4, 1, tutorial_model_config("simple"))
    save_checkpoint(str(tmp_path), spec, init_ensemble_params(spec, jax.random.key(0)))
    model = json.loads((tmp_path / "model.json").read_text())
    (tmp_path / "model.json").write_text(json.dumps({**model, "state_dim": 6}))
    with pytest.raises(CheckpointError, match="expected shape"):
        load_checkpoint(str(tmp_path))
    (tmp_path / "params.npz").unlink()
    with pytest.raises(CheckpointError, match="no such file"):
        load_checkpoint(str(tmp_path))
