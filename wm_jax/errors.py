"""User-facing errors: bad input becomes one clear line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import sys
from typing import Callable

from .checkpoint import CheckpointError
from .config import ConfigError
from .data import DataError

USER_ERRORS = (DataError, ConfigError, CheckpointError)
EXIT_USER_ERROR = 2


def exit_code_of(command: Callable[[], object]) -> int:
    """Run `command`; a user error prints `error: ...` and returns 2, Ctrl-C returns 130."""
    try:
        command()
    except USER_ERRORS as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0
