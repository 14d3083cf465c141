"""The tree is lint-clean and formatted (ruff, configured in pyproject.toml): CI fails otherwise."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def ruff(*args: str) -> subprocess.CompletedProcess:
    executable = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    assert executable, "ruff is not installed: it comes with the test extra (pip install -e '.[test]')"
    return subprocess.run([executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("args", [("check", "."), ("format", "--check", ".")], ids=["lint", "format"])
def test_the_tree_is_ruff_clean(args):
    result = ruff(*args)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
