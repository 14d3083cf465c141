"""Bad input, tried systematically: every row of `bad_inputs.TABLE` through the real CLI, then fuzzing.

Each row must exit 2 with exactly one stderr line, `error: <message>` naming the problem, no
traceback, and leave every file of the world (the inputs and earlier good outputs) byte-identical.
The fuzz tests feed the data and checkpoint loaders random and damaged files, and `wm-jax train`
random numbers: each must succeed or raise (print) a one-line user error, never anything else.
The README's table is `scripts/bad_input_table.py`'s printout of the same rows.
"""

from __future__ import annotations

import io
import itertools
import json
import math
import os
import shutil

import numpy as np
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from bad_inputs import TABLE, build_world, row_argv, snapshot
from wm_jax.cli import main
from wm_jax.config import MAX_EPOCHS, MAX_MEMBERS, MAX_SEED
from wm_jax.errors import UserError

# FUZZ_EXAMPLES=2000 hunts longer (about 30 s for the two loaders).
FUZZ = settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", 30)), deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return build_world(tmp_path_factory.mktemp("world"))


def run_cli(argv, capsys) -> tuple[int, str]:
    """(exit status, stderr) of `wm-jax argv` run in-process; tyro's own rejections raise SystemExit."""
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as error:
        code = error.code
    return code, capsys.readouterr().err


def assert_one_line_error(code, err, expect: str = "") -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, f"exit {code}, stderr:\n{err}"
    assert "Traceback" not in err, err
    assert len(lines) == 1, f"{len(lines)} stderr lines:\n{err}"
    assert lines[0].startswith("error: "), lines[0]
    assert expect in lines[0], f"{expect!r} not in {lines[0]!r}"
    return lines[0]


def test_the_table_ids_are_unique():
    ids = [row.id for row in TABLE]
    assert len(ids) == len(set(ids)) and len(ids) >= 40


@pytest.mark.parametrize("row", [pytest.param(row, id=row.id) for row in TABLE])
@pytest.mark.slow  # the world: 9 commands (collect, train, predict, evaluate) first
def test_bad_input_gets_one_line_error_exit_2_and_damages_nothing(row, world, tmp_path, capsys):
    argv = row_argv(row, world, tmp_path)
    before = snapshot(world.root)
    code, err = run_cli(argv, capsys)
    assert_one_line_error(code, err, row.expect)
    assert snapshot(world.root) == before, "a file already on disk changed (or one appeared)"


def test_command_lines_tyro_rejects_are_one_line_errors(capsys):
    """tyro's own report is a multi-line box; main() turns each kind of parse failure into one line."""
    for argv, expect in ((["train", "--model", "foo"], "--model: invalid choice 'foo'; choose from simple"),
                         (["train", "--learning-rate", "abc"], "--learning-rate: could not convert string to float: 'abc'"),
                         (["collect", "--backend", "x", "--out", "o.npz"], "--backend: invalid choice 'x'"),
                         (["train", "--epochs"], "--epochs: expects a value"),
                         (["collect"], "missing --out")):
        assert main(argv) == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and expect in lines[0], lines


# ------------------------------------------------------------------ make_train's capacity


def _counting_program(capacity, data):
    """A run whose "loss" is the sum of the 1-based row numbers (stored in states[:, 0]) of the rows
    each minibatch trains on: each epoch's loss x batches is n(n+1)/2 iff every row is used once."""
    import jax.numpy as jnp

    from wm_jax.config import ModelConfig, TrainConfig
    from wm_jax.models import spec_for_env
    from wm_jax.training import make_train

    spec = spec_for_env("CartPole-v1", ModelConfig())

    def objective(params, batch, key):
        return jnp.sum(batch.mask * batch.states[:, 0]), {}

    return make_train(spec, TrainConfig(epochs=2, batch_size=64), capacity, objective=objective)


@pytest.mark.slow  # four training programs
def test_make_train_capacity_trains_on_every_row_once_and_refuses_less_than_the_data(world):
    import jax

    from wm_jax.config import ConfigError
    from wm_jax.data import load_dataset

    data = load_dataset(world.cartpole).transitions
    n = data.size
    data = data._replace(states=data.states.copy())
    data.states[:, 0] = np.arange(1, n + 1)
    batches = math.ceil(n / 64)
    for capacity in (0, n, 2 * n + 3):  # exactly the data, and padded: never a prefix, never a repeat
        program = _counting_program(capacity, data)
        _, metrics = program.run(program.init(jax.random.key(0)), data, jax.random.key(1))
        np.testing.assert_allclose(np.asarray(metrics.loss_curve) * batches, n * (n + 1) / 2, rtol=1e-6)
    with pytest.raises(ConfigError, match=f"capacity {n - 1} is smaller than the {n} rows given"):
        program = _counting_program(n - 1, data)
        program.run(program.init(jax.random.key(0)), data, jax.random.key(1))
    with pytest.raises(ConfigError, match="capacity must be an integer >= 0, got -5"):
        _counting_program(-5, data)
    program = _counting_program(0, data)
    with pytest.raises(ConfigError, match=f"permutations order {n - 1} rows, the data has {n}"):
        program.run(program.init(jax.random.key(0)), data, jax.random.key(1), np.zeros((2, n - 1), np.int32))


# ------------------------------------------------------------------ fuzzing the loaders


def _gist(message: str) -> str:
    """A message without its paths and numbers, for hypothesis's statistics (--hypothesis-show-statistics)."""
    words = [w for w in message.split() if "/" not in w and not any(c.isdigit() for c in w)]
    return " ".join(words[:6])

DTYPES = [np.float32, np.float64, np.int32, np.int64, np.uint8, np.bool_, np.complex64, "U3", "S2", object]
KEYS = ["states", "actions", "next_states", "rewards", "terminated", "truncated", "episode", "step", "metadata",
        "env_id", "junk"]


@st.composite
def arrays(draw):
    dtype = draw(st.sampled_from(DTYPES))
    shape = tuple(draw(st.lists(st.integers(0, 4), max_size=3)))
    size = int(np.prod(shape, dtype=np.int64))
    if dtype is object:
        return np.array([None] * size, dtype=object).reshape(shape)
    if np.dtype(dtype).kind in "US":
        return np.array(draw(st.lists(st.text("ab{}:[]1", max_size=3), min_size=size, max_size=size)) or [],
                        dtype=dtype).reshape(shape)
    values = draw(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), min_size=size, max_size=size))
    with np.errstate(invalid="ignore", over="ignore"):
        return np.nan_to_num(np.array(values, np.float64), nan=0, posinf=0, neginf=0).astype(dtype).reshape(shape) \
            if np.dtype(dtype).kind in "iub" else np.array(values, np.float64).astype(dtype).reshape(shape)


def header_flips(archive: bytes):
    """`archive` with a few bytes of its zip headers (local, central directory, end record) flipped:
    where damage meets zipfile's parsing rather than a CRC check."""
    starts = [i for i in range(len(archive) - 3) if archive[i:i + 2] == b"PK" and archive[i + 2] in (1, 3, 5)]

    def flip(changes):
        damaged = bytearray(archive)
        for start, offset, value in changes:
            damaged[min(starts[start % len(starts)] + offset, len(damaged) - 1)] = value
        return bytes(damaged)

    return st.lists(st.tuples(st.integers(0, len(starts) - 1), st.integers(0, 45), st.integers(0, 255)),
                    min_size=1, max_size=4).map(flip)


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
            leaves, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
            max_leaves=5)
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
            event(_gist(str(error)))

    check()


def _damaged_checkpoints(good_params: bytes, good_description: dict):
    truncations = st.integers(0, len(good_params) - 1).map(lambda k: ("params", good_params[:k]))

    def flip(positions):
        damaged = bytearray(good_params)
        for position, bit in positions:
            damaged[position % len(damaged)] ^= 1 << bit
        return "params", bytes(damaged)

    positions = st.tuples(st.integers(0, len(good_params) - 1), st.integers(0, 7))
    flips = st.lists(positions, min_size=1, max_size=8).map(flip)
    json_values = st.none() | st.booleans() | st.integers(-2, 70) | st.floats(allow_nan=False) | st.text(max_size=6) | \
        st.lists(st.integers(-2, 70), max_size=3)

    def edit(changes, removed, thorough):
        description = {k: v for k, v in good_description.items() if k not in removed}
        description.update(changes)
        return ("description" if thorough else "model.json"), description

    edits = st.builds(edit, st.dictionaries(st.sampled_from(sorted(good_description) + ["extra"]), json_values,
                                            max_size=3),
                      st.sets(st.sampled_from(sorted(good_description)), max_size=2), st.booleans())
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
            event(_gist(str(error)))

    check()


# ------------------------------------------------------------------ fuzzing the numeric flags

# Each flag: a valid value that keeps a run tiny, or an invalid one (never a valid but long run).
EPOCHS = st.one_of(st.sampled_from([1, 2]), st.integers(max_value=0), st.integers(min_value=MAX_EPOCHS + 1))
BATCH = st.one_of(st.sampled_from([32, 64]), st.integers(max_value=0), st.integers(min_value=400))  # 400: all the data
MEMBERS = st.one_of(st.none(), st.sampled_from([1, 2]), st.integers(max_value=0),
                    st.integers(min_value=MAX_MEMBERS + 1))
LR = st.one_of(st.sampled_from([1e-3, math.nan, math.inf, -math.inf, -1.0, 0.0, -0.0, 1e30, 1e-300]),
               st.floats(allow_nan=True, allow_infinity=True))
SEED = st.one_of(st.integers(0, 3), st.integers(max_value=-1), st.integers(min_value=MAX_SEED + 1))


@pytest.mark.slow  # the world first; trains
def test_fuzz_train_numeric_flags_exit_0_or_one_error_line(world, tmp_path, capsys):
    counter = itertools.count()

    @FUZZ
    @given(epochs=EPOCHS, batch=BATCH, members=MEMBERS, lr=LR, seed=SEED)
    @example(epochs=1, batch=64, members=2, lr=1e-3, seed=0)  # at least one run trains
    def check(epochs, batch, members, lr, seed):
        out = tmp_path / f"run{next(counter)}"
        ensemble = [] if members is None else ["--model", "ensemble", "--members", str(members)]
        argv = ["train", "--data", world.cartpole, "--out", str(out), "--epochs", str(epochs), "--batch-size",
                str(batch), "--learning-rate", repr(lr), "--seed", str(seed), "--horizon", "5", *ensemble]
        code, err = run_cli(argv, capsys)
        if code == 0:
            assert (out / "params.npz").exists() and "Traceback" not in err
            event("trained")
        else:
            event(_gist(assert_one_line_error(code, err)))
            assert not out.exists(), "a failed run left an output directory"

    check()


def test_running_out_of_memory_is_one_line_and_other_runtime_errors_still_raise(capsys):
    """MemoryError and XLA's RESOURCE_EXHAUSTED are the user's to fix (smaller sizes); other bugs stay loud."""
    from wm_jax.errors import exit_code_of

    def exhausted():
        raise RuntimeError("RESOURCE_EXHAUSTED: Out of memory while trying to allocate 4.00GiB")

    def no_memory():
        raise MemoryError()

    for failing, expect in ((exhausted, "out of device memory"), (no_memory, "out of memory")):
        assert exit_code_of(failing) == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"error: {expect}"), lines

    def bug():
        raise RuntimeError("an internal error")

    with pytest.raises(RuntimeError, match="internal"):
        exit_code_of(bug)
