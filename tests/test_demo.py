"""`wm-jax demo`: the report, plots and metrics, and the PyTorch reference's demo beside it."""

import json
from pathlib import Path

import pytest

from wm_jax.cli import main


@pytest.mark.slow  # the whole demo
def test_demo_quick_writes_report_plots_and_metrics(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--quick", "--out", str(out), "--transitions", "300", "--epochs", "2"]) == 0
    text = capsys.readouterr().out
    for step in range(1, 10):
        assert f"\n{step}. " in text or text.startswith(f"{step}. "), f"step {step} missing from the report"
    assert "2596 parameters" in text
    assert (out / "world_models_training.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "trajectory_predictions.png").stat().st_size > 10_000
    assert (out / "rollout_error.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "baseline: linear" in text and "baseline: identity" in text
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["models"]) == {"simple", "regularized", "ensemble"}
    assert metrics["models"]["ensemble"]["members"] == 5
    assert metrics["split"]["method"] == "by episode" and metrics["split"]["held_out_episodes"]
    for kind in ("simple", "regularized", "ensemble"):
        block = metrics["models"][kind]["held_out"]
        assert block["rollout"]["horizons"][0] == 1 and block["one_step_mse"] > 0
    assert set(metrics["baselines"]["held_out"]) == {"identity", "linear"}


def _key_structure(value):
    if isinstance(value, dict):
        return {k: _key_structure(v) for k, v in value.items()}
    return type(value).__name__ if not isinstance(value, (int, float)) else "number"


@pytest.mark.slow  # two whole demos (JAX and torch)
def test_torch_reference_demo_writes_the_same_metrics_schema_from_the_same_data(tmp_path, capsys):
    """Side by side means comparable: same data split, same report steps, same metrics.json keys."""
    from wm_jax.demo import DemoOptions, JaxBackend, run_demo
    from wm_torch_ref.backend import TorchBackend

    options = dict(transitions=200, epochs=2, members=2, trajectory_steps=5)
    jax_run = run_demo(JaxBackend(), DemoOptions(out=str(tmp_path / "jax"), **options))
    torch_run = run_demo(TorchBackend(), DemoOptions(out=str(tmp_path / "torch"), **options))
    jax_metrics, torch_metrics = (json.loads(Path(run.metrics_path).read_text()) for run in (jax_run, torch_run))
    assert _key_structure(jax_metrics) == _key_structure(torch_metrics)
    for run, metrics in ((jax_run, jax_metrics), (torch_run, torch_metrics)):  # the typed result is what was written
        assert list(run.models) == ["simple", "regularized", "ensemble"]
        assert metrics["trajectory"]["one_step_mse"] == run.trajectory_mse
        assert run.split.held_out.size == metrics["data"]["held_out"] and run.options.action_encoding == "index"
    assert jax_metrics["data"] == torch_metrics["data"]
    assert torch_metrics["models"]["simple"]["params"] == jax_metrics["models"]["simple"]["params"] == 2596
    assert (tmp_path / "torch" / "world_models_training.png").exists()
