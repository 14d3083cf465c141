"""`wm-jax`: the command line, a thin table over the library.

Each command is a run configuration (a dataclass of the library's typed configs, turned into flags
by tyro) and the library function that does its work, both in `wm_jax.experiments` (or
`wm_jax.demo`). `main` looks the command up, imports only its module, parses its flags, sets up
the devices, calls the function and prints its summary. Every user error is one line and exit
status 2; Ctrl-C is one line and 130 (`errors.exit_code_of`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import sys

from .errors import EXIT_USER_ERROR, UserError, exit_code_of


@dataclasses.dataclass(frozen=True)
class Command:
    """One subcommand: where its run configuration and function live, and its line in `wm-jax --help`."""

    module: str
    config: str  # the run configuration dataclass
    run: str  # run(config) -> result
    summary: str | None  # summary(config, result) -> the line(s) printed; None when `run` prints itself
    help: str
    default: str | None = None  # default(argv) -> the configuration the flags start from (per-environment)
    uses_jax: bool = True


COMMANDS = {
    "collect": Command(
        "wm_jax.experiments.collect",
        "CollectRun",
        "collect_to_file",
        "summarize",
        "collect random-policy transitions into a data file",
    ),
    "data import-minari": Command(
        "wm_jax.experiments.collect",
        "ImportMinariRun",
        "import_minari_to_file",
        "summarize_import",
        "read a Minari dataset into a data file",
        uses_jax=False,
    ),
    "data export-minari": Command(
        "wm_jax.experiments.collect",
        "ExportMinariRun",
        "export_minari_from_file",
        "summarize_export",
        "write a data file as a Minari dataset",
        uses_jax=False,
    ),
    "train": Command(
        "wm_jax.experiments.train",
        "TrainRun",
        "train_and_evaluate",
        "summarize",
        "train a world model on a data file and score it on held-out episodes",
    ),
    "sweep": Command(
        "wm_jax.experiments.sweep",
        "SweepRun",
        "sweep_and_choose",
        "summarize",
        "train a grid of learning rates, weight decays and seeds in one program; choose on validation",
    ),
    "evaluate": Command(
        "wm_jax.experiments.evaluate",
        "EvaluateRun",
        "evaluate_checkpoint",
        "summarize",
        "score a trained model on a data file: one-step and rollout MSE, baselines, uncertainty",
    ),
    "predict": Command(
        "wm_jax.experiments.evaluate",
        "PredictRun",
        "predict_to_file",
        "summarize_prediction",
        "write a trained model's predictions and predictive intervals on a data file",
    ),
    "mbrl": Command(
        "wm_jax.experiments.agents",
        "MbrlRun",
        "model_based_rl",
        "summarize_mbrl",
        "model-based RL: MPC with an ensemble, retrained on what it sees",
        default="default_mbrl_run",
    ),
    "dream": Command(
        "wm_jax.experiments.agents",
        "DreamRun",
        "dream",
        "summarize_dream",
        "train a controller inside the learned model (linear by CMA-ES, or PPO), then run it for real",
        default="default_dream_run",
    ),
    "mbpo": Command(
        "wm_jax.experiments.agents",
        "MbpoRun",
        "model_based_policy_optimisation",
        "summarize_mbpo",
        "model-based policy optimisation: SAC trained on short rollouts of the model (MBPO)",
        default="default_mbpo_run",
    ),
    "sac": Command(
        "wm_jax.experiments.agents",
        "SacRun",
        "soft_actor_critic",
        "summarize_sac",
        "soft actor-critic in the real environment: the model-free baseline",
    ),
    "demo": Command(
        "wm_jax.demo",
        "DemoOptions",
        "jax_demo",
        None,
        "the tutorial's demo: collect, train three world models, compare them with baselines",
    ),
    "parity": Command(
        "wm_jax.cli",
        "Parity",
        "run_parity",
        None,
        "compare this library with the PyTorch reference and print the parity table",
        uses_jax=False,
    ),
}


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = ["usage: wm-jax COMMAND [FLAGS]   (wm-jax COMMAND --help lists a command's flags)", "", "commands:"]
    lines += [f"  {name.ljust(width)}  {command.help}" for name, command in COMMANDS.items()]
    return "\n".join(lines)


@dataclasses.dataclass(frozen=True)
class Parity:
    """Compare this library with the PyTorch reference (needs the `test` extra) and print the parity table."""

    json: str | None = None
    """also write every comparison to this JSON file"""
    only: str | None = None
    """run only the checks whose name contains this text (e.g. forward)"""


def run_parity(options: Parity) -> None:
    """`wm-jax parity`: the parity suite's report, from a source checkout."""
    from .atomic import check_output_path

    if options.json is not None:
        check_output_path(options.json)
    parity_main = _parity_report()
    if parity_main is None:
        raise UserError(
            "the parity suite is not installed with the package; it is the parity_tests/ folder of a "
            "source checkout: git clone the wm-jax repository, pip install -e '.[test]' there, and "
            "run `wm-jax parity` (or `python -m parity_tests`) from it"
        )
    argv = [*(["--json", options.json] if options.json else []), *(["--only", options.only] if options.only else [])]
    code = parity_main(argv)
    if code:
        raise SystemExit(code)


class ParseError(UserError):
    """A command line tyro rejects (unknown choice, unparsable number, unknown flag), as one line."""


class RefusedValue(ParseError):
    """A value a config refused while tyro built it (its message names the flag as the config spells it)."""


def parse_error_message(event) -> str | None:
    """One line for a tyro parse failure (tyro's own report is a multi-line box), or None to leave it to tyro."""
    events = tyro_parse_events()

    def flag(argument) -> str:
        return "/".join(argument.lowered.name_or_flags) or str(argument.lowered.metavar)

    if isinstance(event, events.InvalidChoice):
        return f"{flag(event.argument)}: invalid choice {event.value!r}; choose from {', '.join(event.choices)}"
    if isinstance(event, events.InstantiationFailure):
        return f"{flag(event.argument) if event.argument is not None else event.prog}: {event.message}"
    if isinstance(event, events.BadValue):
        if event.offending_value is None:
            return f"{flag(event.argument)}: expects a value"
        return f"{flag(event.argument)}: cannot take the value {event.offending_value!r}"
    if isinstance(event, events.UnrecognizedArgs):
        return f"unrecognized arguments: {' '.join(event.tokens)} (see {event.prog} --help)"
    if isinstance(event, events.MissingArgs):
        missing = ", ".join(flag(a.arg) for a in event.missing_arguments)
        return f"missing {missing} (see {event.prog} --help)"
    return None


def tyro_parse_events():
    """tyro's parse-failure events and their hook (`on_parse_error`), or None where tyro lacks them.

    tyro offers no public way to replace its multi-line error box, so this is the one place that
    reaches into its private, experimental `_errors` module (tyro >= 1.0); a test fails if it moves.
    """
    try:
        from tyro import _errors as events
    except ImportError:
        return None
    return events if hasattr(events, "on_parse_error") else None


@contextlib.contextmanager
def one_line_parse_errors():
    """Inside this block, a command line tyro rejects raises `ParseError` (one line) instead of tyro
    printing its multi-line box; `main` wraps its tyro call in it and prints the error as any other."""
    events = tyro_parse_events()
    if events is None:
        yield
        return

    def hook(event) -> None:
        message = parse_error_message(event)
        if message is not None:
            raise (RefusedValue if isinstance(event, events.InstantiationFailure) else ParseError)(message)

    with events.on_parse_error(hook):
        yield


def _parity_report():
    """`parity_tests.report.main`, from the current directory or from the checkout this package was
    installed from in editable mode; None when neither has the suite or torch is missing."""
    import importlib
    from pathlib import Path

    checkout = Path(__file__).resolve().parents[1]
    for root in (Path.cwd(), checkout):
        if (root / "parity_tests" / "report.py").is_file():
            if str(root) not in sys.path:
                sys.path.insert(0, str(root))
            try:
                return importlib.import_module("parity_tests.report").main
            except ImportError as error:
                print(
                    f"error: the parity report needs the test extra (pip install -e '.[test]'): {error}",
                    file=sys.stderr,
                )
                sys.exit(2)
    return None


def flags_as_given(message: str, config) -> str:
    """`message` with each flag it names as the command spells it: a config nested under a prefix (mbpo's
    `--sac.tau`) names its own fields as it does where it is not (sac's `--tau`)."""
    import re

    from .experiments.common import command_flags

    flags = command_flags(config)

    def spelled(found) -> str:
        flag = found.group(0)
        nested = [given for given in flags if given.endswith("." + flag[2:])]
        return nested[0] if flag not in flags and len(nested) == 1 else flag

    return re.sub(r"(?<![\w.-])--[a-z][a-z0-9-]*", spelled, message)


def parse(name: str, argv: list[str]):
    """The run configuration of `wm-jax NAME ARGV` (tyro's --help exits here)."""
    import tyro

    command = COMMANDS[name]
    module = importlib.import_module(command.module)
    config = getattr(module, command.config)
    default = getattr(module, command.default)(argv) if command.default else None
    try:
        with one_line_parse_errors():
            run = tyro.cli(config, args=argv, prog=f"wm-jax {name}", default=default)
    except RefusedValue as error:
        raise RefusedValue(flags_as_given(str(error), config)) from None
    from .experiments.common import refuse_inapplicable_flags, refuse_settings_beside_resume

    if getattr(run, "resume", None) is not None:
        refuse_settings_beside_resume(config, argv)
    refuse_inapplicable_flags(run, argv)
    return run


def prepare_devices(config) -> int:
    """One XLA device per core (so ensemble members train on every core), joining a multi-process run
    when asked, and the persistent compilation cache; a nonzero exit status on a user error."""
    from .compilation import enable_persistent_cache
    from .devices import DistributedOptions, start_distributed, use_all_cpu_cores

    # --devices N asks for N; a count set in the environment is respected.
    use_all_cpu_cores(getattr(config, "devices", 0) or None)
    if isinstance(config, DistributedOptions):
        code = exit_code_of(lambda: start_distributed(config))
        if code:
            return code
    # A second run of the same command then loads its compiled programs from disk.
    enable_persistent_cache()
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] in (["-h"], ["--help"]):
        print(usage())
        return 0
    if argv[:1] == ["--version"]:
        from . import __version__

        print(f"wm-jax {__version__}")
        return 0
    groups = {name.split()[0] for name in COMMANDS if " " in name}  # two-word commands: `wm-jax data import-minari`
    if argv and argv[0] in groups:
        argv = [" ".join(argv[:2]), *argv[2:]]
    if not argv or argv[0] not in COMMANDS:
        found = f"unknown command {argv[0]!r}; " if argv else ""
        print(f"error: {found}give one of: {', '.join(COMMANDS)} (see wm-jax --help)", file=sys.stderr)
        return EXIT_USER_ERROR
    name, command = argv[0], COMMANDS[argv[0]]
    try:
        config = parse(name, argv[1:])
        if getattr(config, "wandb", False):  # an optional extra that is missing fails before any work
            from .tracking import require_wandb

            require_wandb()
    except UserError as error:  # tyro's parse failures (ParseError), and configs refusing their values
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USER_ERROR
    if command.uses_jax:
        code = prepare_devices(config)
        if code:
            return code
    module = importlib.import_module(command.module)

    def run_and_report():
        result = getattr(module, command.run)(config)
        if command.summary is not None and result is not None:
            print(getattr(module, command.summary)(config, result))

    return exit_code_of(run_and_report)


if __name__ == "__main__":
    sys.exit(main())
