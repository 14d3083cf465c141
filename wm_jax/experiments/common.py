"""What several runs share: flattened configs, held-out splits, checkpointed runs and their resume.

A run configuration (`TrainRun`, `MbrlRun`, ...) nests the library's own config dataclasses
(`ModelConfig`, `TrainConfig`, `MBRLConfig`) under `Flat`, so each setting is declared once and
the command line shows it as a plain flag (`--hidden-sizes`, `--learning-rate`) while deeper
levels keep their prefix (`--planner.horizon`).

A checkpointed run saves its configuration, as the library's dataclasses (not flag names), in
its checkpoints; `--resume DIR` rebuilds the run from them, so the resumed run is the same run.
Where it runs (devices, processes) and how it reports may change.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import typing
from typing import Annotated, Any

import tyro

from ..config import ConfigError

# Nest a config dataclass in a run without a flag prefix (its fields read `--epochs`, not `--training.epochs`).
Flat = tyro.conf.arg(name="", prefix_name=False)
# `--wandb`, declared once for every run that logs scalars (train, sweep, mbrl, dream, sac, mbpo).
WandbFlag = Annotated[
    bool,
    tyro.conf.arg(
        help="also log the same scalars as --log-dir to Weights & Biases: an offline run in DIR/wandb unless "
        "WANDB_MODE says otherwise (`wandb sync` uploads it; needs pip install 'wm-jax[wandb]')"
    ),
]
# Bumped when a run configuration's layout changes; a checkpoint with another version is refused.
RUN_CONFIG_VERSION = 2
# Fields that say where a run goes and how it reports, never what it computes: not saved in checkpoints.
NOT_SAVED = (
    "out",
    "resume",
    "progress",
    "log_dir",
    "wandb",
    "render",
    "baseline",
    "plots",
    "devices",
    "coordinator",
    "num_processes",
    "process_id",
    "cluster",
)


# Of those, how a run reports: saved beside its checkpoints (not compared) and carried over to a resume that
# does not give them again, so a resumed run logs, renders and plots where the interrupted one did.
CARRIED_OVER = ("log_dir", "wandb", "render", "baseline")
# Paths among them, made absolute when saved: a resume may start from another directory.
CARRIED_PATHS = ("log_dir", "baseline")


def command_of(run) -> str:
    """The `wm-jax` command a run configuration belongs to (`MbpoRun` -> "mbpo")."""
    return type(run).__name__.removesuffix("Run").lower()


def saved_settings(run) -> dict:
    """The settings that define a checkpointed run, as nested JSON-able dicts of the library's configs."""
    return {name: value for name, value in dataclasses.asdict(run).items() if name not in NOT_SAVED}


def _field_types(cls) -> dict[str, Any]:
    return typing.get_type_hints(cls, include_extras=False)


def config_from_dict(cls, settings: dict):
    """Rebuild the dataclass `cls` (nested dataclasses included) from `dataclasses.asdict`-style dicts."""
    hints = _field_types(cls)
    values = {}
    for field in dataclasses.fields(cls):
        if field.name not in settings:
            continue
        value, hint = settings[field.name], hints[field.name]
        if dataclasses.is_dataclass(hint) and isinstance(value, dict):
            value = config_from_dict(hint, value)
        elif isinstance(value, list):
            value = tuple(value)  # JSON turns tuples (hidden sizes) into lists
        values[field.name] = value
    return cls(**values)


def _flag_paths(cls, prefix: str = "", path: tuple = ()) -> dict[tuple, str]:
    """(field path in `dataclasses.asdict`) -> the flag that sets it, for a run configuration `cls`."""
    hints = typing.get_type_hints(cls, include_extras=True)
    flags = {}
    for field in dataclasses.fields(cls):
        hint = hints[field.name]
        markers = getattr(hint, "__metadata__", ())
        base = typing.get_args(hint)[0] if markers else hint
        if dataclasses.is_dataclass(base):
            flat = any(getattr(marker, "prefix_name", None) is False for marker in markers)
            flags.update(_flag_paths(base, prefix if flat else f"{prefix}{field.name}.", (*path, field.name)))
        else:
            named = [marker.name for marker in markers if getattr(marker, "name", None)]
            flags[(*path, field.name)] = "--" + prefix + (named[0] if named else field.name).replace("_", "-")
    return flags


def command_flags(cls) -> set[str]:
    """Every flag of the run configuration `cls`, as the command line spells it."""
    return set(_flag_paths(cls).values())


def _leaves(settings: dict, path: tuple = ()) -> dict[tuple, Any]:
    leaves = {}
    for name, value in settings.items():
        leaves.update(_leaves(value, (*path, name)) if isinstance(value, dict) else {(*path, name): value})
    return leaves


def resumed_run(run, default):
    """The interrupted run's own configuration, read from `run.resume`/checkpoints, placed on `run`'s
    devices and reporting as `run` asks. `default` is the run a bare `--resume DIR` would give: any
    setting of `run` that differs from it is refused, since the checkpoint decides them."""
    from ..training import CHECKPOINTS_DIR, RunCheckpoints

    directory = run.resume
    record = RunCheckpoints.of_run(os.path.join(directory, CHECKPOINTS_DIR))
    description, notes = record.get("description", {}), record.get("notes", {})
    _refuse_another_commands_run(run, default, directory, description, notes)
    given, defaults = _leaves(saved_settings(run)), _leaves(saved_settings(default))
    flags = _flag_paths(type(run))
    extra = [flags.get(path, "--" + path[-1]) for path, value in given.items() if value != defaults.get(path)]
    # `default` is built for run.env (its recommended settings), so another environment shows only here.
    saved_env = description.get("run", {}).get("env")
    if hasattr(run, "env") and saved_env is not None and run.env not in (saved_env, _field_default(run, "env")):
        extra.insert(0, "--env")
    if run.out not in (directory, _field_default(run, "out")):
        extra.append("--out (a resumed run continues in its own directory)")
    if extra:
        raise ConfigError(f"--resume takes the run's settings from its checkpoints; drop {', '.join(extra)}")
    if description.get("config_version") != RUN_CONFIG_VERSION:
        raise ConfigError(
            f"{directory}: these checkpoints were written by an earlier wm-jax, which saved its "
            "settings by flag name; finish the run with that version or start it again"
        )
    from ..report import RECORDS

    finished = os.path.join(directory, RECORDS.get(command_of(run), ""))
    if os.path.isfile(finished):
        # Resuming would only write the record again, with this process's seconds (none) as the run's.
        raise ConfigError(
            f"{directory}: this run finished (its record {os.path.basename(finished)} is there); nothing to resume"
        )
    try:
        saved = config_from_dict(type(run), description["run"])
    except (KeyError, TypeError, ValueError) as error:
        raise ConfigError(f"{directory}: the checkpoint's settings are unreadable ({error})") from None
    kept = {name: getattr(run, name) for name in NOT_SAVED if hasattr(run, name) and name not in ("out", "resume")}
    if hasattr(run, "devices") and not run.devices:
        # The devices the run started on, so a resume on the same host is bit-identical.
        kept["devices"] = int(notes.get("devices", 0))
    for name, value in notes.get("reporting", {}).items():
        if name in kept and kept[name] == _field_default(run, name):
            kept[name] = value
    # The run continues where its checkpoints are, even if its directory has moved since.
    return dataclasses.replace(saved, out=directory, resume=directory, **kept)


def _field_default(run, name: str):
    field = next(field for field in dataclasses.fields(run) if field.name == name)
    return field.default


def _refuse_another_commands_run(run, default, directory: str, description: dict, notes: dict) -> None:
    """One line naming the command to resume with, where `directory` holds another command's checkpoints."""
    command = notes.get("command")
    if command is None:  # checkpoints from before the note: their settings' names tell
        settings = description.get("run")
        if not isinstance(settings, dict) or set(settings) == set(saved_settings(default)):
            return
        command = "another command"
    elif command == command_of(run):
        return
    else:
        command = f"`wm-jax {command}`"
    raise ConfigError(
        f"{directory}: these are the checkpoints of {command}'s run, not of `wm-jax {command_of(run)}`'s; "
        "resume it with the command that started it"
    )


def reporting_notes(run) -> dict:
    """The settings of `CARRIED_OVER` that `run` has, as saved beside its checkpoints."""
    notes = {}
    for name in CARRIED_OVER:
        if hasattr(run, name):
            value = getattr(run, name)
            notes[name] = os.path.abspath(value) if name in CARRIED_PATHS and value is not None else value
    return notes


def run_description(run, **extra) -> dict:
    """What a checkpoint must match to be resumed: the run's configuration (and, e.g., its data's fingerprint)."""
    # Through JSON, as the checkpoint stores it (tuples become lists), so a resumed run compares equal.
    return json.loads(json.dumps({"config_version": RUN_CONFIG_VERSION, "run": saved_settings(run), **extra}))


def open_checkpoints(run, resuming: bool, mesh, unit: str, describe=dict):
    """The run's `RunCheckpoints` in OUT/checkpoints, described by `run_description(run, **describe())` (say,
    the training rows' fingerprint, computed only when checkpoints are kept); a fresh run refuses a directory
    that already has some. None where the run keeps none (--checkpoint-every 0); a fresh run still refuses an
    --out that holds an earlier run's checkpoints then."""
    import jax

    from ..training import CHECKPOINTS_DIR, RunCheckpoints

    if not run.checkpoint_every:
        if not resuming:
            refuse_earlier_checkpoints(run.out)
        return None
    description = run_description(run, **describe())
    notes = {
        "devices": 1 if mesh is None else int(mesh.devices.size),
        "processes": jax.process_count(),
        "command": command_of(run),
        "reporting": reporting_notes(run),
    }
    checkpoints = RunCheckpoints(
        os.path.join(run.out, CHECKPOINTS_DIR),
        every=run.checkpoint_every,
        keep=run.keep,
        description=description,
        notes=notes,
    )
    try:
        if resuming:
            checkpoints.resumable()
            print(f"resuming {run.out} after {unit} {checkpoints.latest_epoch()}", file=sys.stderr)
        elif checkpoints.latest_epoch() is not None:
            _refuse_earlier_run(run.out)
    except BaseException:
        checkpoints.close()  # orbax's manager cleans up in a thread of its own: left open, it fails at exit
        raise
    return checkpoints


def refuse_settings_beside_resume(cls, argv: list[str]) -> None:
    """A command line with `--resume` gives only where the run goes and how it reports (`NOT_SAVED`): any other
    flag, even one set to its default, is refused in one line, since the checkpoint decides it."""
    flags = _flag_paths(cls)
    allowed = {flag for path, flag in flags.items() if path[0] in NOT_SAVED and path[0] != "out"}
    given = []
    for token in argv:
        flag = token.split("=", 1)[0]
        # tyro spells a boolean's off switch --no-NAME (--prefix.no-NAME): the same setting as --NAME.
        head, _, name = flag.rpartition(".") if "." in flag else ("-", "", flag[2:])
        positive = f"{head}.{name[3:]}" if "." in flag else f"--{name[3:]}"
        if name.startswith("no-") and positive in allowed:
            continue
        if flag.startswith("--") and flag not in allowed and flag not in given:
            given.append(flag)
    if given:
        raise ConfigError(f"--resume takes the run's settings from its checkpoints; drop {', '.join(given)}")


def refuse_inapplicable_flags(run, argv: list[str]) -> None:
    """A flag the run's other settings make moot (PPO's with the linear controller, say), from the run's
    `inapplicable()` (flag or prefix -> why), is refused in one line: the run would ignore it."""
    rules = run.inapplicable() if hasattr(run, "inapplicable") else {}
    for token in argv:
        flag = token.split("=", 1)[0]
        for prefix, why in rules.items():
            if flag == prefix or (prefix.endswith(".") and flag.startswith(prefix)):
                raise ConfigError(f"{flag} {why}")


def refuse_earlier_checkpoints(out: str) -> None:
    """A fresh run that saves no checkpoints still refuses an --out that holds an earlier run's: left beside
    the new run's outputs, they would make `--resume OUT` continue the earlier run over them."""
    from ..training import CHECKPOINTS_DIR

    directory = os.path.join(out, CHECKPOINTS_DIR)
    if os.path.isdir(directory) and any(name.isdigit() for name in os.listdir(directory)):
        _refuse_earlier_run(out)


def _refuse_earlier_run(out: str) -> typing.NoReturn:
    from ..report import RECORDS

    records = [name for name in RECORDS.values() if os.path.isfile(os.path.join(out, name))]
    if records:  # nothing to continue: --resume refuses a finished run
        raise ConfigError(f"{out} already holds a finished run (its {records[0]} is there): write into another --out")
    raise ConfigError(
        f"{out} already holds a run's checkpoints: continue it with --resume {out}, or write into another --out"
    )


@dataclasses.dataclass(frozen=True)
class HeldOutSplit:
    """Which rows train and which are held out, and how they were chosen (recorded in metrics.json)."""

    train: Any  # Transitions
    held_out: Any  # Transitions
    record: dict


def _refuse_training_rows_as_held_out(train, held_out, eval_data: str) -> None:
    """Refuse a held-out file every row of which is a training row (the training file itself, a copy, a
    part of it): its scores would measure the fit, not how the model does on data it never saw."""
    import numpy as np

    def rows(t):  # each (state, next state) pair as bytes, comparable across files
        pairs = np.ascontiguousarray(np.concatenate([t.states, t.next_states], axis=1), dtype=np.float32)
        return pairs.view(np.dtype((np.void, pairs.dtype.itemsize * pairs.shape[1]))).ravel()

    if held_out.states.shape[0] and np.isin(rows(held_out), rows(train)).all():
        raise ConfigError(
            f"--eval-data {eval_data}: every row of it is in the training data, so its scores would measure the "
            "fit, not generalisation: give a file of other episodes, or --eval-fraction F to hold some back"
        )


def held_out_split(
    data_path: str,
    dataset,
    spec,
    eval_data: str | None,
    eval_fraction: float | None,
    seed: int,
    env: str | None = None,
) -> HeldOutSplit:
    """A separate held-out file (of environment `env` where it records none), or whole episodes of the
    data held back (`eval_fraction`, default 0.2)."""
    from ..data import check_data_matches_model, declare_env, load_dataset, split_by_episode

    if eval_data is not None and eval_fraction is not None:
        raise ConfigError("give --eval-data or --eval-fraction, not both")
    if eval_data is not None:
        held_out_set = load_dataset(eval_data)
        if env is not None:
            held_out_set = declare_env(held_out_set, env, eval_data)
        check_data_matches_model(held_out_set, spec.env_id, spec.state_dim, eval_data)
        _refuse_training_rows_as_held_out(dataset.transitions, held_out_set.transitions, eval_data)
        return HeldOutSplit(
            dataset.transitions, held_out_set.transitions, {"method": "separate file", "eval_data": eval_data}
        )
    fraction = 0.2 if eval_fraction is None else eval_fraction
    if dataset.transitions.episode_count < 2:
        raise ConfigError(
            f"{data_path}: holds only {dataset.transitions.episode_count} episode, and a held-out "
            "split takes whole episodes: collect more, or give --eval-data FILE"
        )
    parts = split_by_episode(dataset.transitions, fraction, seed=seed)
    return HeldOutSplit(
        parts.train,
        parts.held_out,
        {
            "method": "by episode",
            "seed": seed,
            "eval_fraction": fraction,
            "held_out_episodes": parts.held_out_episodes.tolist(),
        },
    )


def check_batch_fits(batch_size: int, rows: int) -> None:
    if batch_size > rows:
        raise ConfigError(
            f"--batch-size {batch_size} is larger than the {rows} training transitions; use at most {rows}"
        )


def progress_bar(total: int, desc: str, unit: str, initial: int = 0, enabled: bool = True):
    """A tqdm bar on stderr (only where it is a terminal unless `enabled` forces it)."""
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit=unit, file=sys.stderr, disable=not enabled)
