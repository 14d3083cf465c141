"""Saved parameters round-trip and bad checkpoints are reported, not crashed on; the loader fuzzed with
damaged files (each loads or raises a one-line user error, never anything else)."""

from __future__ import annotations

import io
import itertools
import json
import shutil

import jax
import numpy as np
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from tests.helpers import FUZZ, gist, header_flips
from wm_jax.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from wm_jax.config import tutorial_model_config
from wm_jax.errors import UserError
from wm_jax.models import ModelSpec, ensemble_of, init_ensemble_params, spec_for_env


@pytest.mark.parametrize("encoding", ["index", "onehot"])
def test_checkpoint_round_trips_spec_and_parameters_exactly(tmp_path, encoding):
    spec = spec_for_env("Acrobot-v1", tutorial_model_config("ensemble", members=3), encoding)
    params = init_ensemble_params(spec, jax.random.key(0))
    save_checkpoint(ensemble_of(spec, params), str(tmp_path))
    model = load_checkpoint(str(tmp_path))
    loaded = model.params
    assert model.spec == spec
    assert jax.tree.structure(loaded) == jax.tree.structure(params)
    for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(loaded)):
        np.testing.assert_array_equal(a, b)


def test_the_model_comes_first_as_in_save_dataset_and_the_earlier_order_still_works(tmp_path):
    spec = ModelSpec(4, 1, tutorial_model_config("simple"))
    model = ensemble_of(spec, init_ensemble_params(spec, jax.random.key(0)))
    save_checkpoint(model, tmp_path / "first")  # a PathLike as well as a str
    save_checkpoint(str(tmp_path / "earlier"), model)
    for name in ("first", "earlier"):
        loaded = load_checkpoint(str(tmp_path / name))
        assert all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(model.params), jax.tree.leaves(loaded.params)))

    class Fitted:  # what fit returns holds the model as .ensemble
        ensemble = model

    save_checkpoint(Fitted(), tmp_path / "fitted")
    assert (tmp_path / "fitted" / "params.npz").exists()
    with pytest.raises(TypeError, match=r"expected a model \(an Ensemble, or what fit returns\), got dict"):
        save_checkpoint({"params": model.params}, tmp_path / "not-a-model")
    assert not (tmp_path / "not-a-model").exists()


def test_checkpoint_with_wrong_shapes_or_missing_files_is_a_clear_error(tmp_path):
    spec = ModelSpec(4, 1, tutorial_model_config("simple"))
    save_checkpoint(ensemble_of(spec, init_ensemble_params(spec, jax.random.key(0))), str(tmp_path))
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


# ------------------------------------------------------------------ fuzzing the loader


def _damaged_checkpoints(good_params: bytes, good_description: dict):
    truncations = st.integers(0, len(good_params) - 1).map(lambda k: ("params", good_params[:k]))

    def flip(positions):
        damaged = bytearray(good_params)
        for position, bit in positions:
            damaged[position % len(damaged)] ^= 1 << bit
        return "params", bytes(damaged)

    positions = st.tuples(st.integers(0, len(good_params) - 1), st.integers(0, 7))
    flips = st.lists(positions, min_size=1, max_size=8).map(flip)
    json_values = (
        st.none()
        | st.booleans()
        | st.integers(-2, 70)
        | st.floats(allow_nan=False)
        | st.text(max_size=6)
        | st.lists(st.integers(-2, 70), max_size=3)
    )

    def edit(changes, removed, thorough):
        description = {k: v for k, v in good_description.items() if k not in removed}
        description.update(changes)
        return ("description" if thorough else "model.json"), description

    edits = st.builds(
        edit,
        st.dictionaries(st.sampled_from(sorted(good_description) + ["extra"]), json_values, max_size=3),
        st.sets(st.sampled_from(sorted(good_description)), max_size=2),
        st.booleans(),
    )
    headers = header_flips(good_params).map(lambda damaged: ("params", damaged))
    return st.one_of(truncations, flips, headers, edits)


@pytest.mark.slow  # the world first; hypothesis examples
def test_fuzz_the_checkpoint_loader_loads_or_raises_a_user_error(world, tmp_path):
    from wm_jax.checkpoint import load_checkpoint

    good_params = (world.root / "model" / "params.npz").read_bytes()
    good_description = json.loads((world.root / "model" / "model.json").read_text())
    counter = itertools.count()

    @FUZZ
    @given(damage=_damaged_checkpoints(good_params, good_description))
    def check(damage):
        directory = tmp_path / f"ck{next(counter)}"
        shutil.copytree(world.model, directory)
        what, value = damage
        if what == "params":
            (directory / "params.npz").write_bytes(value)
        else:
            text = json.dumps(value, indent=2).encode()
            (directory / "model.json").write_bytes(text)
            if what == "description":  # both copies edited alike: the fields themselves are checked
                with np.load(io.BytesIO(good_params)) as npz:
                    contents = {name: npz[name] for name in npz.files}
                contents["model.json"] = np.frombuffer(text, np.uint8)
                np.savez(directory / "params.npz", **contents)
        try:
            load_checkpoint(str(directory))
            event("loaded")
        except UserError as error:
            assert "\n" not in str(error), str(error)
            event(gist(str(error)))

    check()
