"""Run every bad input of `tests/cli/bad_inputs.py` through the CLI and print the docs' robustness page.

    python scripts/bad_input_table.py > docs/robustness.md     # about 20 s on 2 cores

Each row's input is built from a small world of good files (collected and trained first, in a
temporary directory), then `wm-jax <command>` runs in-process; the table shows the command and
the stderr it really got (paths relative to the world). A row that does not get exactly one
`error: ...` line with exit status 2, or that changes a file already on disk, is flagged in the
table and makes the script exit 1. The same rows are the tests of tests/cli/test_bad_input.py.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository, so its tests/ package imports

from tests.cli.bad_inputs import TABLE, build_world, row_argv, shown, snapshot  # noqa: E402

BOX = "╭╮╰╯│─"


def run(argv: list[str]) -> tuple[int, str]:
    from wm_jax.cli import main

    err, out = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            code = main(argv)
        except SystemExit as error:  # tyro rejecting the command line itself
            code = error.code
    return code, err.getvalue()


def cell(text: str) -> str:
    text = text.replace("|", "\\|")
    return f"`` {text} ``" if "`" in text else f"`{text}`"


PAGE_INTRO = """# Robustness

Bad input gets one `error: ...` line on stderr and exit status 2, never a traceback, and a failed run
never damages files already on disk (outputs are written atomically). Every bad input tried so far, and
what it gets: each row ran against a few good files (`cartpole.npz`, `mountaincar.npz`, `acrobot.npz`, a
CartPole `model` and a 2-member `ensemble`), and the earlier good outputs it aims at (`model`,
`collected.npz`, `predictions.npz`) were byte-identical afterwards. `python scripts/bad_input_table.py >
docs/robustness.md` regenerates this page; the same rows are the tests of `tests/cli/test_bad_input.py`.

Command lines the argument parser itself rejects (an unknown choice, a value that is not a number, a
missing flag, an unknown command) get one line too, and so does running out of host or device memory
(`error: out of memory: ...`). Beside the table, property-based tests feed damaged data files and model
directories to the loaders and random values to `wm-jax train`'s numeric flags. Ctrl-C stops a run at
the next chunk boundary, keeps its last checkpoint and exits with status 130.
"""


def main() -> int:
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        with contextlib.redirect_stdout(io.StringIO()):
            world = build_world(Path(tmp) / "world")
        rows = []
        for index, row in enumerate(TABLE):
            directory = Path(tmp) / f"row{index}"
            directory.mkdir()
            argv = row_argv(row, world, directory)
            before = snapshot(world.root)
            code, err = run(argv)
            damaged = snapshot(world.root) != before
            lines = [line for line in err.splitlines() if line.strip()]
            relative = [shown([line], world, directory).removeprefix("wm-jax ") for line in lines]
            if code == 2 and len(lines) == 1 and lines[0].startswith("error: ") and not damaged:
                got = cell(relative[0])
            else:
                bad += 1
                text = " ".join("".join(" " if c in BOX else c for c in " ".join(relative)).split())
                got = f"**exit {code}, {len(lines)} stderr lines**: {cell(text[:120] + '...')}"
                if damaged:
                    got += " **and a file on disk changed**"
            rows.append(f"| {row.bad_input} | {cell(shown(argv, world, directory))} | {got} |")
    print(PAGE_INTRO)
    print("| bad input | command | what it gets |")
    print("| --- | --- | --- |")
    print("\n".join(rows))
    print(f"\n{len(TABLE)} rows, {len(TABLE) - bad} get one `error:` line and exit 2", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    os.environ.setdefault("JAX_PLATFORMS", "cpu")
    sys.exit(main())
