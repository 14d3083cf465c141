"""The two private APIs the package uses, each behind one function: these tests fail when they move."""

import subprocess
import sys


def test_tyro_still_offers_the_parse_error_events_the_cli_turns_into_one_line():
    from wm_jax.cli import tyro_parse_events

    events = tyro_parse_events()
    assert events is not None, "tyro._errors or its on_parse_error hook is gone: see wm_jax.cli.tyro_parse_events"
    for name in ("InvalidChoice", "InstantiationFailure", "BadValue", "UnrecognizedArgs", "MissingArgs"):
        assert hasattr(events, name), name


def test_jax_still_tells_whether_its_backends_have_started():
    """Before the first computation the device count can still change; after it, it cannot."""
    script = ("from wm_jax.devices import jax_backends_started as started; import jax.numpy as jnp; "
              "before = started(); jnp.zeros(1).block_until_ready(); print(before, started())")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.stdout.split() == ["False", "True"], result.stderr[-2000:]
