"""Bad input, tried systematically: every row of `bad_inputs.TABLE` through the real CLI, then fuzzing.

Each row must exit 2 with exactly one stderr line, `error: <message>` naming the problem, no
traceback, and leave every file of the world (the inputs and earlier good outputs) byte-identical.
The fuzz test feeds `wm-jax train` random numbers: each run must succeed or print a one-line user
error, never anything else. Further rows of bad command lines, each with the message it must get,
close the file. The docs' robustness page is `scripts/bad_input_table.py`'s printout of the table's rows;
the loaders are fuzzed beside their tests (tests/data/test_format.py, tests/test_checkpoint.py)."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import event, example, given
from hypothesis import strategies as st

from tests.cli.bad_inputs import TABLE, row_argv, snapshot
from tests.helpers import FUZZ, gist
from wm_jax.cli import main
from wm_jax.config import MAX_EPOCHS, MAX_MEMBERS, MAX_SEED


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
    for argv, expect in (
        (["train", "--model", "foo"], "--model: invalid choice 'foo'; choose from simple"),
        (["train", "--learning-rate", "abc"], "--learning-rate: could not convert string to float: 'abc'"),
        (["collect", "--backend", "x", "--out", "o.npz"], "--backend: invalid choice 'x'"),
        (["train", "--epochs"], "--epochs: expects a value"),
        (["collect"], "missing --out"),
        # A nested config's refusal names the flag as this command spells it (sac's --tau is mbpo's --sac.tau).
        (["mbpo", "--sac.tau", "2"], "wm-jax mbpo: --sac.tau must be in (0, 1], got 2.0"),
        (["mbpo", "--batch-size", "0"], "unrecognized arguments: --batch-size 0"),
    ):
        assert main(argv) == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and expect in lines[0], lines


# ------------------------------------------------------------------ fuzzing the numeric flags

# Each flag: a valid value that keeps a run tiny, or an invalid one (never a valid but long run).
EPOCHS = st.one_of(st.sampled_from([1, 2]), st.integers(max_value=0), st.integers(min_value=MAX_EPOCHS + 1))
BATCH = st.one_of(st.sampled_from([32, 64]), st.integers(max_value=0), st.integers(min_value=400))  # 400: all the data
MEMBERS = st.one_of(
    st.none(), st.sampled_from([1, 2]), st.integers(max_value=0), st.integers(min_value=MAX_MEMBERS + 1)
)
LR = st.one_of(
    st.sampled_from([1e-3, math.nan, math.inf, -math.inf, -1.0, 0.0, -0.0, 1e30, 1e-300]),
    st.floats(allow_nan=True, allow_infinity=True),
)
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
        argv = [
            "train",
            "--data",
            world.cartpole,
            "--out",
            str(out),
            "--epochs",
            str(epochs),
            "--batch-size",
            str(batch),
            "--learning-rate",
            repr(lr),
            "--seed",
            str(seed),
            "--horizon",
            "5",
            *ensemble,
        ]
        code, err = run_cli(argv, capsys)
        if code == 0:
            assert (out / "params.npz").exists() and "Traceback" not in err
            event("trained")
        else:
            event(gist(assert_one_line_error(code, err)))
            assert not out.exists(), "a failed run left an output directory"

    check()


# ------------------------------------------------------------------ more bad command lines and their messages


@pytest.mark.parametrize(
    "argv, message",
    [
        (["collect", "--env", "Nope-v9", "--out", "{tmp}/x.npz", "--transitions", "5"], "supported: CartPole-v1"),
        (["train", "--data", "{tmp}/absent.npz", "--out", "{tmp}/o"], "no such file"),
        (["train", "--data", "{data}", "--out", "{tmp}/o", "--epochs", "0"], "epochs must be >= 1"),
        (["train", "--data", "{data}", "--out", "{tmp}/o", "--batch-size", "0"], "batch size must be >= 1"),
        (
            ["train", "--data", "{data}", "--out", "{tmp}/o", "--members", "3"],
            "applies only to an ensemble (--model ensemble)",
        ),
        (["train", "--data", "{tmp}/garbage.npz", "--out", "{tmp}/o"], "not a .npz archive"),
        (["evaluate", "--checkpoint", "{tmp}", "--data", "{data}"], "no such file"),
        (
            ["train", "--data", "{data}", "--out", "{tmp}/o", "--eval-fraction", "1.5"],
            "eval fraction must be in (0, 1)",
        ),
        (
            ["train", "--data", "{data}", "--out", "{tmp}/o", "--eval-fraction", "0.2", "--eval-data", "{data}"],
            "not both",
        ),
        (["train", "--data", "{data}", "--out", "{tmp}/o", "--action-encoding", "continuous"], "Discrete actions"),
        (["collect", "--out", "{tmp}/x.npz", "--transitions", "0", "--backend", "jax"], "transitions must be >= 1"),
        (["collect", "--out", "{tmp}/x.npz", "--transitions", "10", "--num-envs", "4"], "only to the jax backend"),
        (
            ["train", "--data", "{data}", "--out", "{tmp}/o", "--model", "ensemble", "--members", "3", "--elites", "4"],
            "exceeds the 3 members",
        ),
        (["train", "--data", "{data}", "--out", "{tmp}/o", "--early-stopping-patience", "-1"], "patience must be >= 0"),
        (["train", "--data", "{data}", "--out", "{tmp}/o", "--validation-fraction", "0"], "validation fraction"),
        (["predict", "--checkpoint", "{tmp}", "--data", "{data}", "--out", "{tmp}"], "is a directory"),
    ],
)
def test_bad_input_is_one_line_error_and_exit_2(tmp_path, dataset, capsys, argv, message):
    (tmp_path / "garbage.npz").write_text("garbage")
    argv = [a.format(tmp=tmp_path, data=dataset) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err and "Traceback" not in err
