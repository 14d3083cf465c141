"""The documentation site: it builds with `mkdocs build --strict`, its CLI reference is the commands' own
help, and every code example in it runs (small budgets, in a scratch directory, in page order)."""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted((ROOT / "docs").rglob("*.md"))
FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)


def examples(page: Path, language: str) -> list[str]:
    return [body for lang, body in FENCE.findall(page.read_text()) if lang == language]


def shell_commands(body: str) -> list[list[str]]:
    """The commands of a bash block (continued lines joined); the install line is what CI itself runs."""
    commands = []
    for line in body.replace("\\\n", " ").splitlines():
        line = line.split(" #")[0].strip()
        if line and "pip install" not in line:
            commands.append(shlex.split(line))
    return commands


def test_the_cli_reference_is_the_commands_own_help():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import cli_reference
    finally:
        sys.path.pop(0)
    assert cli_reference.main(["--check"]) == 0, "docs/cli.md is stale: run python scripts/cli_reference.py"


@pytest.mark.slow  # a whole site build (a few seconds)
def test_the_site_builds_strictly(tmp_path):
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert build.returncode == 0, build.stderr[-3000:]
    assert (tmp_path / "site" / "index.html").exists()


def test_every_example_is_python_or_bash():
    """A fence in another language would escape the examples' test: every fenced block is one of these."""
    allowed = {"python", "bash", "text"}
    for page in PAGES:
        for language, _ in FENCE.findall(page.read_text()):
            assert language in allowed, f"{page.relative_to(ROOT)}: a ```{language} block is not run by the tests"


@pytest.mark.slow  # runs the commands and programs the pages show
@pytest.mark.parametrize(
    "page", [p for p in PAGES if examples(p, "python") or examples(p, "bash")], ids=lambda p: p.stem
)
def test_the_pages_examples_run(page, tmp_path):
    for body in examples(page, "bash"):
        for argv in shell_commands(body):
            assert argv[0] == "wm-jax", f"{page.name}: only wm-jax commands are run: {argv}"
            done = subprocess.run(
                [sys.executable, "-m", "wm_jax", *argv[1:]], cwd=tmp_path, capture_output=True, text=True
            )
            assert done.returncode == 0, f"{page.name}: {' '.join(argv)}\n{done.stderr[-2000:]}"
    for body in examples(page, "python"):
        done = subprocess.run([sys.executable, "-c", body], cwd=tmp_path, capture_output=True, text=True)
        assert done.returncode == 0, f"{page.name}: python example failed\n{done.stderr[-2000:]}"
