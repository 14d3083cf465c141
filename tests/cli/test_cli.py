"""The command line's parsing: tyro's private parse-error events, which `wm_jax.cli` turns into one
line, are still there (this test fails when they move)."""


def test_tyro_still_offers_the_parse_error_events_the_cli_turns_into_one_line():
    from wm_jax.cli import tyro_parse_events

    events = tyro_parse_events()
    assert events is not None, "tyro._errors or its on_parse_error hook is gone: see wm_jax.cli.tyro_parse_events"
    for name in ("InvalidChoice", "InstantiationFailure", "BadValue", "UnrecognizedArgs", "MissingArgs"):
        assert hasattr(events, name), name
