"""Atomic writes: ordinary permissions, no temporary files left, and a failed write keeps the old file."""

import jax
import pytest

from wm_jax.checkpoint import save_checkpoint
from wm_jax.config import tutorial_model_config
from wm_jax.models import ModelSpec, ensemble_of, init_ensemble_params


def test_written_files_get_ordinary_permissions_and_leave_no_temporary_files(tmp_path):
    import os

    spec = ModelSpec(4, 1, tutorial_model_config("simple"))
    old_umask = os.umask(0o022)
    try:
        save_checkpoint(ensemble_of(spec, init_ensemble_params(spec, jax.random.key(0))), str(tmp_path), {"linear": {}})
    finally:
        os.umask(old_umask)
    assert sorted(os.listdir(tmp_path)) == ["baselines.json", "model.json", "params.npz"]
    for name in os.listdir(tmp_path):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o644, name


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    from wm_jax.atomic import atomic_write

    target = tmp_path / "f.bin"
    target.write_bytes(b"old")

    def fail(handle):
        handle.write(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(target, fail)
    assert target.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["f.bin"]


def test_a_place_where_no_file_can_be_created_is_one_line_naming_the_path(tmp_path):
    """Not an OSError about the temporary file's made-up name: the path the caller gave."""
    from wm_jax.atomic import atomic_write
    from wm_jax.errors import UserError

    (tmp_path / "file").write_text("")
    target = tmp_path / "file" / "data.npz"  # its parent is a file, so nothing can be created there
    with pytest.raises(UserError, match=rf"^{target}: cannot be written \(\w"):
        atomic_write(target, lambda handle: handle.write(b"data"))


def test_a_device_or_pipe_is_written_into_never_replaced(tmp_path):
    """`--out /dev/null` throws the output away: the device stays a device (renaming a temporary file over it,
    as root, made it a plain file). A named pipe stands in for the device here."""
    import os
    import stat
    import threading

    import numpy as np

    from wm_jax.atomic import atomic_write

    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    received = []
    reader = threading.Thread(target=lambda: received.append(pipe.read_bytes()))
    reader.start()
    # np.savez seeks and tells, which a pipe cannot: the bytes are made first, then written in one go.
    atomic_write(pipe, lambda handle: np.savez(handle, x=np.arange(3)))
    reader.join(timeout=10)
    assert stat.S_ISFIFO(os.stat(pipe).st_mode), "the pipe was replaced"
    assert received and received[0][:2] == b"PK"


def test_an_empty_output_path_is_refused(tmp_path):
    from wm_jax.atomic import atomic_write, check_output_path
    from wm_jax.errors import UserError

    for check in (lambda: check_output_path(""), lambda: check_output_path("", directory=True)):
        with pytest.raises(UserError, match="an output path is empty"):
            check()
    with pytest.raises(UserError, match="an output path is empty"):
        atomic_write("", lambda handle: handle.write(b"x"))
