"""The command line's parsing: tyro's private parse-error events, which `wm_jax.cli` turns into one
line, are still there (this test fails when they move)."""


def test_tyro_still_offers_the_parse_error_events_the_cli_turns_into_one_line():
    from wm_jax.cli import tyro_parse_events

    events = tyro_parse_events()
    assert events is not None, "tyro._errors or its on_parse_error hook is gone: see wm_jax.cli.tyro_parse_events"
    for name in ("InvalidChoice", "InstantiationFailure", "BadValue", "UnrecognizedArgs", "MissingArgs"):
        assert hasattr(events, name), name


def test_no_command_imports_jax_for_its_help():
    """`wm-jax COMMAND --help` stays fast: building any command's flags (its defaults per environment
    included) imports neither JAX nor Flax, nor wandb (imported only by runs given --wandb)."""
    import subprocess
    import sys

    from wm_jax.cli import COMMANDS

    script = (
        "import contextlib, io, sys\n"
        "from wm_jax.cli import main\n"
        "for name in sys.argv[1:]:\n"
        "    with contextlib.redirect_stdout(io.StringIO()):\n"
        "        try:\n"
        "            main(name.split() + ['--help'])\n"
        "        except SystemExit:\n"
        "            pass\n"
        "    loaded = [m for m in ('jax', 'flax', 'wandb') if m in sys.modules]\n"
        "    assert not loaded, f'{name} --help imported {loaded}'\n"
    )
    result = subprocess.run([sys.executable, "-c", script, *COMMANDS], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
