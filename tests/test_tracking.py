"""The run log (`--log-dir`): what is written is read back, and a directory that cannot be written is refused."""

import math

import pytest

from wm_jax.errors import UserError
from wm_jax.tracking import RunLog, read_scalars


def test_scalars_are_read_back_with_their_steps_and_nested_names(tmp_path):
    with RunLog(str(tmp_path)) as log:
        log.scalar("train/loss", 0.5, 1)
        log.scalar("train/loss", 0.25, 2)
        log.members("train/loss", [1.0, 2.0], 2)
        log.scalars("held_out", {"mse": 0.125, "coverage": {"50%": 0.5}, "label": "x", "best": True}, 3)
        log.scalar("skipped", math.nan, 1)  # TensorBoard cannot plot a NaN: left out
    scalars = read_scalars(str(tmp_path))
    assert scalars["train/loss"] == [(1, 0.5), (2, 0.25)]
    assert scalars["train/loss/member_1"] == [(2, 2.0)]
    assert scalars["held_out/mse"] == [(3, 0.125)] and scalars["held_out/coverage/50_"] == [(3, 0.5)]
    assert "held_out/label" not in scalars and "held_out/best" not in scalars and "skipped" not in scalars


def test_no_log_dir_writes_nothing(tmp_path):
    with RunLog(None) as log:
        log.scalar("a", 1.0, 1)
    assert list(tmp_path.iterdir()) == []


def test_a_log_dir_that_cannot_be_written_is_one_line():
    with pytest.raises(UserError, match=r"--log-dir /proc/wm-jax-logs: cannot be written"):
        RunLog("/proc/wm-jax-logs")
