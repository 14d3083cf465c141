"""The one atomic-write helper: a file appears whole at its path, or the old one stays untouched.

Data is written to a temporary file in the same directory, flushed to disk, then renamed over
the target (a rename within one filesystem is atomic). A target that exists and is not a regular file
(/dev/null, a named pipe) is written into in place, never replaced. The temporary file is removed if writing
fails, and the result gets ordinary permissions (0666 minus the umask, usually 0644), not the
0600 that `tempfile` gives.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from typing import IO

from .errors import UserError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], None]) -> None:
    """Call `write(handle)` on a binary temporary file, then move it to `path` in one step. A place
    where no file can be created is a one-line UserError naming `path`."""
    path = os.fspath(path)
    _refuse_empty(path)
    if os.path.exists(path) and not os.path.isfile(path) and not os.path.isdir(path):
        _write_into_device(path, write)
        return
    directory = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(directory, exist_ok=True)
        handle = tempfile.NamedTemporaryFile(
            dir=directory, prefix=f".{os.path.basename(path)}.", suffix=".tmp", delete=False
        )
    except OSError as error:  # say so of `path`, not of the temporary file's made-up name
        raise UserError(f"{path}: cannot be written ({error.strerror or error})") from None
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


def _refuse_empty(path: str) -> None:
    if not path:  # an unset shell variable (`--out "$OUT"`): not the working directory, not a file named ""
        raise UserError("an output path is empty")


def _write_into_device(path: str, write: Callable[[IO[bytes]], None]) -> None:
    """Write into an existing file that is not a regular one (/dev/null, a named pipe) in place: renaming a
    temporary file over it would replace the device with a plain file."""
    import io

    content = io.BytesIO()  # writers such as zipfile seek and tell, which a device cannot
    write(content)
    try:
        with open(path, "wb") as handle:
            handle.write(content.getvalue())
    except OSError as error:
        raise UserError(f"{path}: cannot be written ({error.strerror or error})") from None


def check_output_path(path: str | os.PathLike, *, directory: bool = False) -> None:
    """Refuse, before any work is done, an output path that cannot be written.

    `directory`: the path is a directory to create (or reuse); otherwise a file to create or replace.
    A path whose nearest existing ancestor is a file (`--out data.npz/sub`), a file where a
    directory is wanted, a directory where a file is wanted, or a place where no file can be
    created (a read-only mount, `/proc`, a directory without write permission) is a one-line
    UserError. The last is found by trying: a temporary file is created in the nearest existing
    directory and removed at once, since permission bits alone do not say (root, read-only mounts).
    """
    path = os.fspath(path)
    _refuse_empty(path)
    if directory and os.path.exists(path) and not os.path.isdir(path):
        raise UserError(f"{path}: exists and is not a directory")
    if not directory and os.path.isdir(path):
        raise UserError(f"{path}: is a directory, expected a file name")
    ancestor = path if directory else os.path.dirname(path)  # "" is the working directory
    while ancestor and not os.path.exists(ancestor):
        ancestor = os.path.dirname(ancestor)
    if ancestor and not os.path.isdir(ancestor):
        raise UserError(f"{path}: cannot be created, {ancestor} is a file, not a directory")
    _check_can_create_files_in(ancestor or ".", path)


def _check_can_create_files_in(directory: str, path: str) -> None:
    """A one-line UserError unless a file can be created (and removed) in `directory`."""
    try:
        handle, probe = tempfile.mkstemp(dir=directory, prefix=".wm-jax-write-check.", suffix=".tmp")
    except OSError as error:
        raise UserError(f"{path}: cannot be written ({error.strerror or error} in {directory})") from None
    os.close(handle)
    os.unlink(probe)
