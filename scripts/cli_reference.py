"""Write the docs' CLI reference (docs/cli.md) from the commands' own `--help`, never by hand.

    python scripts/cli_reference.py            # rewrite docs/cli.md
    python scripts/cli_reference.py --check    # exit 1 if docs/cli.md differs from the commands' help

tests/test_docs.py runs the check, so a flag added without regenerating the page fails CI.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
PAGE = ROOT / "docs" / "cli.md"


def help_text(argv: list[str]) -> str:
    """What `wm-jax ARGV --help` prints, at a fixed width (the page must not depend on the terminal)."""
    from wm_jax.cli import main

    os.environ["COLUMNS"] = "100"
    with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.suppress(SystemExit):
        main([*argv, "--help"])
    return "\n".join(line.rstrip() for line in out.getvalue().rstrip().splitlines()) + "\n"


def page() -> str:
    from wm_jax.cli import COMMANDS

    parts = [
        "# Command-line reference\n",
        "Generated from each command's own `--help` by `scripts/cli_reference.py`; a test keeps it current.\n",
        "```text\n" + help_text([]) + "```\n",
    ]
    for name in COMMANDS:
        parts.append(f"## wm-jax {name}\n")
        parts.append("```text\n" + help_text(name.split()) + "```\n")
    return "\n".join(parts)


def main(argv: list[str]) -> int:
    text = page()
    if "--check" in argv:
        if not PAGE.exists() or PAGE.read_text() != text:
            print(f"{PAGE.relative_to(ROOT)} is out of date: run python scripts/cli_reference.py", file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
