"""Errors: running out of memory is one line; other runtime errors still raise."""

import pytest


def test_running_out_of_memory_is_one_line_and_other_runtime_errors_still_raise(capsys):
    """MemoryError and XLA's RESOURCE_EXHAUSTED are the user's to fix (smaller sizes); other bugs stay loud."""
    from wm_jax.errors import exit_code_of

    def exhausted():
        raise RuntimeError("RESOURCE_EXHAUSTED: Out of memory while trying to allocate 4.00GiB")

    def no_memory():
        raise MemoryError()

    for failing, expect in ((exhausted, "out of device memory"), (no_memory, "out of memory")):
        assert exit_code_of(failing) == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"error: {expect}"), lines

    def bug():
        raise RuntimeError("an internal error")

    with pytest.raises(RuntimeError, match="internal"):
        exit_code_of(bug)
