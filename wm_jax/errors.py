"""User-facing errors: bad input becomes one clear line on stderr and a non-zero exit, never a traceback.

Every module's input error (ConfigError, DataError, CheckpointError, BridgeError) subclasses
`UserError`, so the CLI catches one type. This module imports nothing else from the package, so
importing it (as the PyTorch reference's demo does) never pulls in JAX.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

EXIT_USER_ERROR = 2


class UserError(ValueError):
    """Input the user can fix: printed as `error: <message>` with exit status 2."""


def exit_code_of(command: Callable[[], object]) -> int:
    """Run `command`; a user error prints `error: ...` and returns 2, Ctrl-C returns 130."""
    try:
        command()
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    except MemoryError:
        print("error: out of memory: the requested sizes do not fit this machine; try smaller ones", file=sys.stderr)
        return EXIT_USER_ERROR
    except RuntimeError as error:
        # XLA's allocator failing on a device (JaxRuntimeError RESOURCE_EXHAUSTED) is the same
        # user-fixable problem; matched by name so this module never imports JAX.
        if "RESOURCE_EXHAUSTED" not in str(error):
            raise
        print(
            "error: out of device memory: the requested sizes do not fit this device; try smaller ones", file=sys.stderr
        )
        return EXIT_USER_ERROR
    except KeyboardInterrupt as interrupt:
        # A loop that stopped at a chunk boundary says what it kept (`interrupts.Interrupted`).
        print(f"interrupted: {interrupt}" if str(interrupt) else "interrupted", file=sys.stderr)
        return 130
    return 0
