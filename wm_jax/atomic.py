"""The one atomic-write helper: a file appears whole at its path, or the old one stays untouched.

Data is written to a temporary file in the same directory, flushed to disk, then renamed over
the target (a rename within one filesystem is atomic). The temporary file is removed if writing
fails, and the result gets ordinary permissions (0666 minus the umask, usually 0644), not the
0600 that `tempfile` gives.
"""

from __future__ import annotations

import os
import tempfile
from typing import IO, Callable


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], None]) -> None:
    """Call `write(handle)` on a binary temporary file, then move it to `path` in one step."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".tmp", delete=False)
    try:
        with handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(handle.name, 0o666 & ~_umask())
        os.replace(handle.name, path)
    except BaseException:
        if os.path.exists(handle.name):
            os.unlink(handle.name)
        raise
