"""`wm-jax sweep` end to end: a table, a plot and a model `wm-jax evaluate` can read, and a sweep
where every configuration diverges."""

import csv
import json

import numpy as np
import pytest

from wm_jax.cli import main


@pytest.mark.slow  # end to end: collect, sweep, evaluate
def test_wm_jax_sweep_writes_a_table_a_plot_and_a_model_evaluate_reads(tmp_path, capsys):
    data, held_out = str(tmp_path / "train.npz"), str(tmp_path / "held_out.npz")
    assert main(["collect", "--out", data, "--transitions", "500", "--seed", "3"]) == 0
    assert main(["collect", "--out", held_out, "--transitions", "200", "--seed", "4"]) == 0
    out = tmp_path / "sweep"
    assert (
        main(
            [
                "sweep",
                "--data",
                data,
                "--eval-data",
                held_out,
                "--learning-rates",
                "1e-3",
                "1e-2",
                "--weight-decays",
                "0",
                "1e-4",
                "--seeds",
                "2",
                "--model",
                "ensemble",
                "--members",
                "2",
                "--epochs",
                "2",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "chosen on validation" in printed
    with open(out / "sweep.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 8 and sum(row["best"] == "True" for row in rows) == 1
    assert {(row["learning_rate"], row["weight_decay"]) for row in rows} == {
        ("0.001", "0.0"),
        ("0.001", "0.0001"),
        ("0.01", "0.0"),
        ("0.01", "0.0001"),
    }
    record = json.loads((out / "sweep.json").read_text())
    assert record["grid"]["seeds"] == [0, 1] and len(record["summary"]) == 4
    assert (out / "sweep.png").stat().st_size > 10_000
    best = record["best"]
    saved = json.loads((out / "best" / "baselines.json").read_text())["sweep"]
    assert saved == {"learning_rate": best["learning_rate"], "weight_decay": best["weight_decay"], "seed": best["seed"]}
    scores = tmp_path / "scores.json"
    assert (
        main(
            ["evaluate", "--checkpoint", str(out / "best"), "--data", held_out, "--horizon", "5", "--json", str(scores)]
        )
        == 0
    )
    evaluated = json.loads(scores.read_text())
    assert evaluated["members"] == 2
    assert np.mean(evaluated["per_dim_mse"]) == pytest.approx(best["held_out_mse"], rel=1e-4)


@pytest.mark.slow  # end to end: collect and sweep
def test_a_sweep_where_every_configuration_diverges_writes_its_table_and_chooses_none(tmp_path, capsys):
    data = str(tmp_path / "train.npz")
    assert main(["collect", "--out", data, "--transitions", "300", "--seed", "3"]) == 0
    out = tmp_path / "sweep"
    code = main(["sweep", "--data", data, "--learning-rates", "1e9", "1e10", "--epochs", "2", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "every configuration diverged" in err and "Traceback" not in err
    record = json.loads((out / "sweep.json").read_text())
    assert record["best"] is None and all(row["diverged"] for row in record["configurations"])
    assert not (out / "best").exists()
