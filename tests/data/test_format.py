"""The versioned .npz format: save and load, provenance, validation, version-1 files, and the loader fuzzed
with random and damaged files (each loads or raises a one-line user error, never anything else)."""

from __future__ import annotations

import io
import itertools
import json

import numpy as np
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from tests.helpers import FUZZ, gist, header_flips
from wm_jax.data import (
    FORMAT_VERSION,
    DataError,
    Dataset,
    check_data_matches_model,
    collect_dataset,
    load_dataset,
    recorded_env_id,
    save_dataset,
)
from wm_jax.errors import UserError
from wm_jax.transitions import Transitions


def test_save_then_load_round_trips_arrays_and_metadata(tmp_path, cartpole_dataset):
    path = tmp_path / "d.npz"
    save_dataset(cartpole_dataset, path)
    loaded = load_dataset(path)
    for x, y in zip(cartpole_dataset.transitions, loaded.transitions):
        np.testing.assert_array_equal(x, y)
        assert x.dtype == y.dtype
    assert loaded.info == cartpole_dataset.info
    with np.load(path) as archive:
        metadata = json.loads(str(archive["metadata"]))
    assert metadata["format_version"] == FORMAT_VERSION == 2
    assert metadata["env_id"] == "CartPole-v1"
    assert metadata["action_space"] == {"type": "Discrete", "n": 2}
    assert metadata["observation_space"]["shape"] == [4] and metadata["observation_space"]["high"][1] == "inf"
    assert metadata["collection"]["backend"] == "gymnasium" and metadata["collection"]["seed"] == 0


def test_box_spaces_are_recorded_with_their_bounds(tmp_path):
    path = tmp_path / "p.npz"
    save_dataset(collect_dataset("Pendulum-v1", seed=0, transitions=30), path)
    with np.load(path) as archive:
        metadata = json.loads(str(archive["metadata"]))
    assert metadata["action_space"] == {"type": "Box", "shape": [1], "low": [-2.0], "high": [2.0]}


def _write(path, data: Transitions, info):
    np.savez(path, **data._asdict(), metadata=np.asarray(json.dumps(info.to_json())))


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: {"states": d.states.astype(np.float64)}, "states must be float32"),
        (lambda d: {"actions": d.actions.astype(np.float32)[:, None]}, "Discrete actions must be integer"),
        (lambda d: {"actions": np.where(np.arange(len(d.actions)) == 3, 7, d.actions).astype(np.int32)}, r"\[0, 2\)"),
        (lambda d: {"next_states": d.next_states[:-1]}, "next_states has"),
        (lambda d: {"next_states": d.next_states[:, :3]}, "columns"),
        (
            lambda d: {"states": np.where(np.arange(len(d.states))[:, None] == 5, np.nan, d.states).astype(np.float32)},
            "non-finite values \\(first in row 5\\)",
        ),
        (lambda d: {"episode": d.episode[::-1].copy()}, "must not decrease"),
        (lambda d: {"step": (d.step * 2).astype(np.int32)}, "count up by one"),
        (lambda d: {"truncated": np.zeros_like(d.truncated)}, "ends without terminated or truncated"),
        (lambda d: {"terminated": d.terminated | (d.step == 0)}, "the next row continues it"),
        (lambda d: {"next_states": (d.next_states + np.float32(1e-3)).astype(np.float32)}, "is not row"),
    ],
)
def test_loading_rejects_bad_arrays_with_a_message_saying_what_is_wrong(tmp_path, cartpole_dataset, change, message):
    path = tmp_path / "bad.npz"
    data = cartpole_dataset.transitions
    _write(path, data._replace(**change(data)), cartpole_dataset.info)
    with pytest.raises(DataError, match=message):
        load_dataset(path)


def test_loading_reports_missing_keys_missing_files_and_non_npz_files(tmp_path, cartpole_small):
    np.savez(tmp_path / "partial.npz", states=cartpole_small.states)
    with pytest.raises(DataError, match="missing keys actions"):
        load_dataset(tmp_path / "partial.npz")
    with pytest.raises(DataError, match="no such file"):
        load_dataset(tmp_path / "absent.npz")
    (tmp_path / "text.npz").write_text("not an archive")
    with pytest.raises(DataError, match="not a .npz archive"):
        load_dataset(tmp_path / "text.npz")


def _version_1_file(path, data: Transitions, env_id="CartPole-v1", cut_last=True):
    """What `wm-jax collect` wrote before format 2: a float action column, no episodes, no metadata,
    and the budget-cut last episode left unmarked."""
    truncated = data.truncated.copy()
    if cut_last:
        truncated[-1] = False
    extra = {"env_id": np.asarray(env_id)} if env_id else {}
    np.savez(
        path,
        states=data.states,
        actions=data.actions.astype(np.float32)[:, None],
        next_states=data.next_states,
        rewards=data.rewards,
        terminated=data.terminated,
        truncated=truncated,
        **extra,
    )


def test_version_1_files_load_with_episodes_recovered_and_the_cut_episode_marked(tmp_path, cartpole_dataset):
    data = cartpole_dataset.transitions
    _version_1_file(tmp_path / "v1.npz", data)
    loaded = load_dataset(tmp_path / "v1.npz")
    assert loaded.info.format_version == 1 and loaded.info.env_id == "CartPole-v1"
    for field in Transitions._fields:
        np.testing.assert_array_equal(getattr(loaded.transitions, field), getattr(data, field), err_msg=field)
    assert loaded.info.cut_episodes == (int(data.episode[-1]),)


def test_the_recorded_environment_is_read_from_the_metadata_without_reading_the_rows(
    tmp_path, cartpole_dataset, cartpole_small, monkeypatch
):
    """`recorded_env_id` (how a command learns its defaults from `--data FILE` before the run loads FILE) reads
    the metadata entry of a version-2 file and the id entry of a version-1 file, and no array of rows."""
    save_dataset(cartpole_dataset, tmp_path / "v2.npz")
    _version_1_file(tmp_path / "v1.npz", cartpole_small)
    _version_1_file(tmp_path / "v1-no-env.npz", cartpole_small, env_id=None)
    read = []
    get = np.lib.npyio.NpzFile.__getitem__
    monkeypatch.setattr(np.lib.npyio.NpzFile, "__getitem__", lambda self, key: read.append(key) or get(self, key))
    assert recorded_env_id(tmp_path / "v2.npz") == "CartPole-v1" and read == ["metadata"]
    read.clear()
    assert recorded_env_id(tmp_path / "v1.npz") == "CartPole-v1" and read == ["env_id"]
    assert recorded_env_id(tmp_path / "v1-no-env.npz") is None
    (tmp_path / "text.npz").write_text("not an archive")
    with pytest.raises(DataError, match="not a readable data file"):
        recorded_env_id(tmp_path / "text.npz")
    with pytest.raises(DataError, match="not a readable data file"):
        recorded_env_id(tmp_path / "missing.npz")


def test_version_1_file_without_env_keeps_float_actions_and_cannot_be_scored_by_an_env_model(tmp_path, cartpole_small):
    _version_1_file(tmp_path / "v1.npz", cartpole_small, env_id=None)
    loaded = load_dataset(tmp_path / "v1.npz")
    assert loaded.info.env_id is None and loaded.transitions.actions.shape == (600, 1)
    with pytest.raises(DataError, match="takes Discrete"):
        check_data_matches_model(loaded, "CartPole-v1", 4, "v1.npz")


def test_a_flat_float_action_column_without_env_is_continuous_until_env_declares_it(tmp_path, cartpole_small):
    """Another tool's file: CartPole's actions as a float column (N,), no environment recorded. It loads as one
    continuous action (N, 1); declared as CartPole-v1 (`--env`), its whole numbers become Discrete indices."""
    from wm_jax.data import declare_env

    data = cartpole_small
    np.savez(
        tmp_path / "flat.npz",
        states=data.states,
        actions=data.actions.astype(np.float32),
        next_states=data.next_states,
        rewards=data.rewards,
        terminated=data.terminated,
        truncated=data.truncated,
    )
    loaded = load_dataset(tmp_path / "flat.npz")
    assert loaded.info.env_id is None and loaded.transitions.actions.shape == (600, 1)
    declared = declare_env(loaded, "CartPole-v1")
    assert declared.transitions.actions.dtype == np.int32
    np.testing.assert_array_equal(declared.transitions.actions, data.actions)


def test_dataset_is_a_pair_of_rows_and_provenance(cartpole_dataset):
    assert isinstance(cartpole_dataset, Dataset) and cartpole_dataset.info.env_id == "CartPole-v1"


# ------------------------------------------------------------------ fuzzing the loader

DTYPES = [np.float32, np.float64, np.int32, np.int64, np.uint8, np.bool_, np.complex64, "U3", "S2", object]
KEYS = [
    "states",
    "actions",
    "next_states",
    "rewards",
    "terminated",
    "truncated",
    "episode",
    "step",
    "metadata",
    "env_id",
    "junk",
]


@st.composite
def arrays(draw):
    dtype = draw(st.sampled_from(DTYPES))
    shape = tuple(draw(st.lists(st.integers(0, 4), max_size=3)))
    size = int(np.prod(shape, dtype=np.int64))
    if dtype is object:
        return np.array([None] * size, dtype=object).reshape(shape)
    if np.dtype(dtype).kind in "US":
        return np.array(
            draw(st.lists(st.text("ab{}:[]1", max_size=3), min_size=size, max_size=size)) or [], dtype=dtype
        ).reshape(shape)
    values = draw(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), min_size=size, max_size=size))
    with np.errstate(invalid="ignore", over="ignore"):
        return (
            np.nan_to_num(np.array(values, np.float64), nan=0, posinf=0, neginf=0).astype(dtype).reshape(shape)
            if np.dtype(dtype).kind in "iub"
            else np.array(values, np.float64).astype(dtype).reshape(shape)
        )


@st.composite
def data_files(draw, good: dict):
    """Bytes of a would-be data file: random bytes, a random archive, or the good file with some arrays swapped."""
    kind = draw(st.sampled_from(["bytes", "random archive", "edited good file", "edited metadata", "damaged headers"]))
    if kind == "bytes":
        head = draw(st.sampled_from([b"", b"PK\x03\x04", b"PK\x05\x06", b"\x93NUMPY"]))
        return head + draw(st.binary(max_size=200))
    if kind == "damaged headers":
        buffer = io.BytesIO()
        np.savez(buffer, **good)
        return draw(header_flips(buffer.getvalue()))
    if kind == "random archive":
        contents = draw(st.dictionaries(st.sampled_from(KEYS), arrays(), max_size=9))
    elif kind == "edited good file":
        contents = {**good, **draw(st.dictionaries(st.sampled_from(KEYS), arrays(), min_size=1, max_size=3))}
        for key in draw(st.lists(st.sampled_from(KEYS), max_size=2)):
            contents.pop(key, None)
    else:
        meta = json.loads(str(good["metadata"]))
        leaves = st.none() | st.booleans() | st.integers(-3, 300) | st.text(max_size=5)
        json_values = st.recursive(
            leaves,
            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
            max_leaves=5,
        )
        meta.update(draw(st.dictionaries(st.sampled_from(sorted(meta) + ["x"]), json_values, max_size=3)))
        contents = {**good, "metadata": np.asarray(json.dumps(meta))}
    buffer = io.BytesIO()
    np.savez(buffer, **contents)
    return buffer.getvalue()


@pytest.mark.slow  # the world first; hypothesis examples
def test_fuzz_the_dataset_loader_loads_or_raises_a_user_error(world, tmp_path):
    from wm_jax.data import load_dataset

    with np.load(world.cartpole) as archive:
        good = {name: archive[name][:30] if archive[name].ndim else archive[name] for name in archive.files}
    counter = itertools.count()

    @FUZZ
    @given(content=data_files(good))
    def check(content):
        path = tmp_path / f"fuzz{next(counter)}.npz"
        path.write_bytes(content)
        try:
            load_dataset(path)
            event("loaded")
        except UserError as error:
            assert "\n" not in str(error), str(error)
            event(gist(str(error)))

    check()
