"""`wm-jax parity` outside a clone of the repository: one line saying how to get the suite."""

from wm_jax.cli import main


def test_parity_command_says_how_to_get_the_suite_when_it_is_absent(tmp_path, monkeypatch, capsys):
    from wm_jax import cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(cli, "__file__", str(tmp_path / "site-packages" / "wm_jax" / "cli.py"))
    assert main(["parity"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "parity_tests/" in err and "git clone" in err and "\n" not in err
