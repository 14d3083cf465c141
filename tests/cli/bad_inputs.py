"""Bad input, tried systematically: the one table of bad inputs and what each must get.

Shared by `tests/cli/test_bad_input.py` (every row is a test) and `scripts/bad_input_table.py` (prints
the README's table from a real run of every row). Plain Python and numpy only: importing this
module imports no pytest and runs nothing.

A row builds its input (files under its own directory, from a small `World` of good files made
once) and names the fragment its one-line `error: ...` must contain. Every row runs through the
real CLI entry point (`wm_jax.cli.main`) and must exit 2 with exactly one stderr line, no
traceback, and every file of the world (inputs and earlier good outputs) byte-identical after.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np


@dataclasses.dataclass(frozen=True)
class World:
    """Good files every row may read or aim at: data from three environments, trained models, and
    earlier good outputs (a run directory, a data file, predictions, scores) that bad runs must not touch."""

    root: Path

    def __getattr__(self, name: str) -> str:
        if name in WORLD_FILES:
            return str(self.root / WORLD_FILES[name])
        raise AttributeError(name)


WORLD_FILES = {
    "cartpole": "cartpole.npz",
    "mountaincar": "mountaincar.npz",
    "acrobot": "acrobot.npz",
    "one_transition": "one_transition.npz",
    "model": "model",  # a CartPole model, and the earlier good output of every `train --out` row
    "ensemble": "ensemble",  # a 2-member CartPole ensemble: another architecture
    "collected": "collected.npz",  # the earlier good output of every `collect --out` row
    "predictions": "predictions.npz",  # ... of every `predict --out` row
    "scores": "scores.json",  # an earlier good `evaluate --json` output
    "checkpointed": "checkpointed",  # an earlier `train --checkpoint-every` run, its checkpoints beside its model
}


def build_world(root: Path) -> World:
    """Collect and train the good files (seconds: 1,300 transitions and two 1-epoch models)."""
    from wm_jax.cli import main

    world = World(Path(root))
    w = world
    steps = [
        ["collect", "--out", w.cartpole, "--transitions", "400", "--seed", "1"],
        ["collect", "--env", "MountainCar-v0", "--out", w.mountaincar, "--transitions", "300"],
        ["collect", "--env", "Acrobot-v1", "--out", w.acrobot, "--transitions", "300"],
        ["collect", "--out", w.one_transition, "--transitions", "1"],
        ["collect", "--out", w.collected, "--transitions", "50", "--seed", "2"],
        ["train", "--data", w.cartpole, "--out", w.model, "--epochs", "1", "--horizon", "5"],
        [
            "train",
            "--data",
            w.cartpole,
            "--out",
            w.ensemble,
            "--model",
            "ensemble",
            "--members",
            "2",
            "--epochs",
            "1",
            "--horizon",
            "5",
        ],
        ["predict", "--checkpoint", w.model, "--data", w.cartpole, "--out", w.predictions],
        ["evaluate", "--checkpoint", w.model, "--data", w.cartpole, "--horizon", "5", "--json", w.scores],
        ["train", "--data", w.cartpole, "--out", w.checkpointed, "--epochs", "1", "--checkpoint-every", "1"],
    ]
    for argv in steps:
        code = main(argv)
        if code != 0:
            raise RuntimeError(f"building the world failed (exit {code}): wm-jax {' '.join(argv)}")
    return world


def snapshot(root: str | os.PathLike) -> dict[str, str]:
    """{relative path: sha256 of the bytes, or "dir"} of everything under `root`."""
    result = {}
    for directory, dirs, files in os.walk(root):
        for name in dirs:
            result[os.path.relpath(os.path.join(directory, name), root)] = "dir"
        for name in files:
            path = os.path.join(directory, name)
            with open(path, "rb") as handle:
                result[os.path.relpath(path, root)] = hashlib.sha256(handle.read()).hexdigest()
    return result


# ------------------------------------------------------------------ building bad inputs


def _arrays(path: str) -> dict[str, np.ndarray]:
    with np.load(path) as archive:
        return {name: archive[name] for name in archive.files}


def _data(name: str, change: Callable[[dict], dict]) -> Callable[[World, Path], str]:
    """A data file `name` in the row's directory: the world's CartPole file with `change` applied to its arrays."""

    def build(w: World, d: Path) -> str:
        arrays = change(_arrays(w.cartpole))
        path = d / name
        np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
        return str(path)

    return build


def _replace(**fields) -> Callable[[dict], dict]:
    def change(arrays: dict) -> dict:
        return {**arrays, **{k: (v(arrays) if callable(v) else v) for k, v in fields.items()}}

    return change


def _rows(count: int) -> Callable[[dict], dict]:
    return lambda arrays: {k: (v if k == "metadata" else v[:count]) for k, v in arrays.items()}


def _metadata(**fields) -> Callable[[dict], dict]:
    def change(arrays: dict) -> dict:
        meta = json.loads(str(arrays["metadata"]))
        return {**arrays, "metadata": np.asarray(json.dumps({**meta, **fields}))}

    return change


def _at_row(row: int, value, key: str = "states") -> Callable[[dict], dict]:
    def change(arrays: dict) -> dict:
        array = arrays[key].copy()
        array[row] = value
        return {**arrays, key: array}

    return change


def _bytes(name: str, content: Callable[[World], bytes]) -> Callable[[World, Path], str]:
    def build(w: World, d: Path) -> str:
        path = d / name
        path.write_bytes(content(w))
        return str(path)

    return build


def _half(path: str) -> bytes:
    raw = Path(path).read_bytes()
    return raw[: len(raw) // 2]


def _compression_method(path: str, method: int) -> bytes:
    """The archive at `path` with its first central-directory entry claiming compression `method`."""
    raw = bytearray(Path(path).read_bytes())
    entry = raw.find(b"PK\x01\x02")
    raw[entry + 10 : entry + 12] = method.to_bytes(2, "little")
    return bytes(raw)


def _checkpoint(name: str, change: Callable[[World, Path], None]) -> Callable[[World, Path], str]:
    """A copy `name` of the world's CartPole model in the row's directory, with `change(world, copy)` applied."""

    def build(w: World, d: Path) -> str:
        copy = d / name
        shutil.copytree(w.model, copy)
        change(w, copy)
        return str(copy)

    return build


def _described(edit: Callable[[dict], dict]) -> Callable[[World, Path], None]:
    """Edit the model's description consistently: model.json and the copy inside params.npz (a newer
    wm-jax's export, or a hand edit done thoroughly)."""

    def change(w: World, copy: Path) -> None:
        arrays = _arrays(str(copy / "params.npz"))
        description = json.dumps(edit(json.loads(arrays["model.json"].tobytes())), indent=2).encode()
        arrays["model.json"] = np.frombuffer(description, np.uint8)
        np.savez(copy / "params.npz", **arrays)
        (copy / "model.json").write_bytes(description)

    return change


def _edit_model_json(edit: Callable[[dict], dict]) -> Callable[[World, Path], None]:
    def change(w: World, copy: Path) -> None:
        (copy / "model.json").write_text(json.dumps(edit(json.loads((copy / "model.json").read_text()))))

    return change


def _params_from(source: str, *, keep_description: bool = True) -> Callable[[World, Path], None]:
    """params.npz of another model copied next to this model's model.json."""

    def change(w: World, copy: Path) -> None:
        arrays = _arrays(os.path.join(getattr(w, source), "params.npz"))
        if not keep_description:
            arrays.pop("model.json")  # an export from before params.npz carried its description
        np.savez(copy / "params.npz", **arrays)

    return change


def _nan_params(w: World, copy: Path) -> None:
    arrays = _arrays(str(copy / "params.npz"))
    kernel = next(k for k in arrays if k.endswith("kernel"))
    arrays[kernel] = np.full_like(arrays[kernel], np.nan)
    np.savez(copy / "params.npz", **arrays)


def _write(name: str, content) -> Callable[[World, Path], None]:
    def change(w: World, copy: Path) -> None:
        if content is None:
            (copy / name).unlink()
        elif isinstance(content, bytes):
            (copy / name).write_bytes(content)
        else:
            (copy / name).write_bytes(content(copy / name))

    return change


# ------------------------------------------------------------------ commands


def _format(args, w: World, d: Path) -> list[str]:
    """ "{name}" in an argument is the world's file `name`, "{dir}" the row's directory."""
    return [a.format(dir=d, **{name: getattr(w, name) for name in WORLD_FILES}) for a in args]


def _resolve(ref: Callable[[World, Path], str] | str, w: World, d: Path) -> str:
    """A world file named by its key ("cartpole"), or a path a row builds under its directory."""
    return getattr(w, ref) if isinstance(ref, str) else ref(w, d)


def train(data: Callable[[World, Path], str] | str = "cartpole", *flags: str) -> Callable[[World, Path], list[str]]:
    """`wm-jax train` on `data` (a world file's name or a builder), into the world's earlier good run."""

    def argv(w: World, d: Path) -> list[str]:
        path = _resolve(data, w, d)
        return ["train", "--data", path, "--out", w.model, *_format(flags, w, d)]

    return argv


def _on_checkpoint(name: str, data, flags, checkpoint, out: list[str]) -> Callable[[World, Path], list[str]]:
    """`wm-jax NAME --checkpoint CHECKPOINT --data DATA [OUT] FLAGS`, each a world file's name or a builder."""

    def argv(w: World, d: Path) -> list[str]:
        return [
            name,
            "--checkpoint",
            _resolve(checkpoint, w, d),
            "--data",
            _resolve(data, w, d),
            *_format(out, w, d),
            *_format(flags, w, d),
        ]

    return argv


def evaluate(
    data: Callable[[World, Path], str] | str = "cartpole",
    *flags: str,
    checkpoint: Callable[[World, Path], str] | str = "model",
) -> Callable[[World, Path], list[str]]:
    return _on_checkpoint("evaluate", data, flags, checkpoint, [])


def predict(
    data: Callable[[World, Path], str] | str = "cartpole",
    *flags: str,
    checkpoint: Callable[[World, Path], str] | str = "model",
) -> Callable[[World, Path], list[str]]:
    """Into the world's earlier good predictions."""
    return _on_checkpoint("predict", data, flags, checkpoint, ["--out", "{predictions}"])


def agent_on(name: str, data: Callable[[World, Path], str]) -> Callable[[World, Path], list[str]]:
    """`wm-jax NAME --data FILE` (mbrl or dream, no --env) on a data file the row builds, into its directory."""
    return lambda w, d: [name, "--data", data(w, d), "--out", str(d / name)]


def command(*args: str) -> Callable[[World, Path], list[str]]:
    """Any command line, its arguments formatted as `_format` does."""

    def argv(w: World, d: Path) -> list[str]:
        return _format(args, w, d)

    return argv


def sweep(*flags: str) -> Callable[[World, Path], list[str]]:
    """`wm-jax sweep` on the CartPole data, into the world's earlier good run."""
    return command("sweep", "--data", "{cartpole}", "--out", "{model}", *flags)


def collect(*flags: str) -> Callable[[World, Path], list[str]]:
    """`wm-jax collect` into the world's earlier good data file (unless the flags name another --out)."""
    out = [] if "--out" in flags else ["--out", "{collected}"]
    return command("collect", *out, *flags)


# ------------------------------------------------------------------ the table


@dataclasses.dataclass(frozen=True)
class Row:
    id: str
    bad_input: str  # the README's words
    argv: Callable[[World, Path], list[str]]  # builds the input under the row's directory
    expect: str  # a fragment of the one-line error


BIG = str(10**12)
# What a fresh run into the world's checkpointed run is told.
EARLIER_RUN = "checkpointed already holds a finished run (its metrics.json is there): write into another --out"

TABLE = [
    # -- command-line flags
    Row("epochs-zero", "`--epochs 0`", train("cartpole", "--epochs", "0"), "epochs must be >= 1, got 0"),
    Row("epochs-negative", "`--epochs -1`", train("cartpole", "--epochs", "-1"), "epochs must be >= 1, got -1"),
    Row("epochs-absurd", "`--epochs 10**12`", train("cartpole", "--epochs", BIG), "epochs must be <= 1000000"),
    Row("batch-zero", "`--batch-size 0`", train("cartpole", "--batch-size", "0"), "batch size must be >= 1, got 0"),
    Row(
        "batch-larger-than-data",
        "a batch size larger than the training data",
        train("cartpole", "--batch-size", "100000"),
        "--batch-size 100000 is larger than the",
    ),
    Row(
        "batch-absurd", "`--batch-size 10**12`", train("cartpole", "--batch-size", BIG), f"--batch-size {BIG} is larger"
    ),
    Row(
        "members-zero",
        "`--members 0`",
        train("cartpole", "--model", "ensemble", "--members", "0"),
        "members must be in [1, 10000], got 0",
    ),
    Row(
        "members-negative",
        "`--members -3`",
        train("cartpole", "--model", "ensemble", "--members", "-3"),
        "members must be in [1, 10000], got -3",
    ),
    Row(
        "members-absurd",
        "`--members 10**9`",
        train("cartpole", "--model", "ensemble", "--members", str(10**9)),
        "members must be in [1, 10000]",
    ),
    Row(
        "members-without-ensemble",
        "`--members` without `--model ensemble`",
        train("cartpole", "--members", "3"),
        "members applies only to an ensemble (--model ensemble), got 3 members for a simple model",
    ),
    Row(
        "transitions-zero",
        "`collect --transitions 0`",
        collect("--transitions", "0"),
        "transitions must be >= 1, got 0",
    ),
    Row(
        "transitions-negative",
        "`collect --transitions -5`",
        collect("--transitions", "-5"),
        "transitions must be >= 1, got -5",
    ),
    Row(
        "transitions-absurd",
        "`collect --transitions 10**12`",
        collect("--transitions", BIG),
        "exceed the 2147483647 rows a data file holds",
    ),
    Row("episodes-zero", "`collect --episodes 0`", collect("--episodes", "0"), "episodes must be >= 1, got 0"),
    Row(
        "max-episode-steps-zero",
        "`collect --max-episode-steps 0`",
        collect("--transitions", "10", "--max-episode-steps", "0"),
        "max episode steps must be >= 1",
    ),
    Row(
        "num-envs-zero",
        "`collect --backend jax --num-envs 0`",
        collect("--transitions", "10", "--backend", "jax", "--num-envs", "0"),
        "num_envs must be >= 1",
    ),
    Row("horizon-zero", "`--horizon 0`", train("cartpole", "--horizon", "0"), "--horizon must be >= 1, got 0"),
    Row(
        "horizon-absurd-train",
        "`train --horizon 10**9`",
        train("cartpole", "--horizon", str(10**9)),
        "held-out transitions; use at most",
    ),
    Row(
        "horizon-absurd-evaluate",
        "`evaluate --horizon 10**9`",
        evaluate("cartpole", "--horizon", str(10**9)),
        "is longer than the 400 transitions in",
    ),
    Row(
        "eval-fraction-out-of-range",
        "`--eval-fraction 1.5`",
        train("cartpole", "--eval-fraction", "1.5"),
        "eval fraction must be in (0, 1), got 1.5",
    ),
    Row(
        "eval-fraction-nan",
        "`--eval-fraction nan`",
        train("cartpole", "--eval-fraction", "nan"),
        "eval fraction must be in (0, 1), got nan",
    ),
    Row(
        "elites-too-many",
        "`--elites` above `--members`",
        train("cartpole", "--model", "ensemble", "--members", "3", "--elites", "4"),
        "exceeds the 3 members",
    ),
    Row(
        "mbrl-max-transitions-zero",
        "`mbrl --max-transitions 0`",
        command("mbrl", "--max-transitions", "0", "--out", "{dir}/mbrl"),
        "max transitions must be in [2, 100,000,000], got 0",
    ),
    Row(
        "mbrl-max-transitions-absurd",
        "`mbrl --max-transitions 10**12`",
        command("mbrl", "--max-transitions", str(10**12), "--out", "{dir}/mbrl"),
        "max transitions must be in [2, 100,000,000]",
    ),
    Row(
        "mbrl-data-of-another-env",
        "`mbrl --data` of another environment",
        command("mbrl", "--env", "CartPole-v1", "--data", "{mountaincar}", "--out", "{dir}/mbrl"),
        "recorded as data of MountainCar-v0; --env CartPole-v1 disagrees",
    ),
    Row(
        "mbrl-data-records-no-env",
        "`mbrl --data` of a file that records no environment, without `--env`",
        agent_on("mbrl", _data("noenv.npz", _metadata(env_id=""))),
        "records no environment: give --env ID",
    ),
    Row(
        "mbrl-data-env-not-makeable",
        "`mbrl --data` of an environment gymnasium cannot make here, without `--env`",
        agent_on("mbrl", _data("elsewhere.npz", _metadata(env_id="NoSuchEnv-v0"))),
        "unsupported environment 'NoSuchEnv-v0'",
    ),
    Row(
        "dream-data-without-episode-starts",
        "`dream --data` whose rows start no episode (all past step 0)",
        agent_on(
            "dream", _data("mid.npz", lambda a: {k: (v if k == "metadata" else v[a["step"] > 0]) for k, v in a.items()})
        ),
        "holds no episode's first step (step 0)",
    ),
    Row(
        "dream-data-of-another-env",
        "`dream --data` of another environment",
        command("dream", "--env", "CartPole-v1", "--data", "{mountaincar}", "--out", "{dir}/dream"),
        "recorded as data of MountainCar-v0; --env CartPole-v1 disagrees",
    ),
    Row(
        "mbrl-data-over-budget",
        "`mbrl --data` with more rows than `--max-transitions`",
        command("mbrl", "--data", "{cartpole}", "--max-transitions", "300", "--out", "{dir}/mbrl"),
        "the initial data has 400 transitions; the run takes 1 to --max-transitions 300",
    ),
    Row(
        "mbrl-data-initial-transitions",
        "`mbrl --data FILE --initial-transitions 50`, which the file's rows replace",
        command("mbrl", "--data", "{cartpole}", "--initial-transitions", "50", "--out", "{dir}/mbrl"),
        "--initial-transitions sets the random start, which --data replaces with the file's rows",
    ),
    Row(
        "dream-data-initial-transitions",
        "`dream --data FILE --initial-transitions 50`, which the file's rows replace",
        command("dream", "--data", "{cartpole}", "--initial-transitions", "50", "--out", "{dir}/dream"),
        "--initial-transitions sets the random start, which --data replaces with the file's rows",
    ),
    Row(
        "mbrl-candidates-absurd",
        "`mbrl --planner.candidates 10**9`",
        command("mbrl", "--planner.candidates", str(10**9), "--out", "{dir}/mbrl"),
        "planner candidates must be <= 1,000,000",
    ),
    Row(
        "mbrl-horizon-absurd",
        "`mbrl --planner.horizon 10**9`",
        command("mbrl", "--planner.horizon", str(10**9), "--out", "{dir}/mbrl"),
        "planner horizon must be <= 10,000",
    ),
    Row(
        "mbrl-seed-negative",
        "`mbrl --seed -1`",
        command("mbrl", "--seed", "-1", "--out", "{dir}/mbrl"),
        "seed must be an integer in [0, 2**63 - 1], got -1",
    ),
    Row(
        "dream-ppo-flag-with-linear",
        "`dream --ppo.updates 3` with the linear controller, which would ignore it",
        command("dream", "--ppo.updates", "3", "--out", "{dir}/dream"),
        "--ppo.updates sets PPO, which trains only with --controller ppo",
    ),
    Row(
        "dream-cma-flag-with-ppo",
        "`dream --controller ppo --generations 3`, which PPO would ignore",
        command("dream", "--controller", "ppo", "--generations", "3", "--out", "{dir}/dream"),
        "--generations sets CMA-ES",
    ),
    Row(
        "mbrl-sample-deterministic",
        "`mbrl --planner.sample` without --probabilistic (no Gaussian to sample)",
        command("mbrl", "--planner.sample", "--out", "{dir}/mbrl"),
        "it needs --probabilistic",
    ),
    Row(
        "dream-population-one",
        "`dream --population 1` (CMA-ES ranks at least two candidates)",
        command("dream", "--population", "1", "--out", "{dir}/dream"),
        "--population must be >= 2",
    ),
    Row(
        "dream-population-absurd",
        "`dream --population 10**9`",
        command("dream", "--population", str(10**9), "--out", "{dir}/dream"),
        "--population must be <= 100,000",
    ),
    Row(
        "dream-seed-negative",
        "`dream --seed -1`",
        command("dream", "--seed", "-1", "--out", "{dir}/dream"),
        "seed must be an integer in [0, 2**63 - 1], got -1",
    ),
    Row("unknown-command", "an unknown command", command("bogus"), "unknown command 'bogus'"),
    Row(
        "mbrl-horizon-zero",
        "`mbrl --planner.horizon 0`",
        command("mbrl", "--planner.horizon", "0", "--out", "{dir}/mbrl"),
        "planner horizon must be >= 1, got 0",
    ),
    Row(
        "mbrl-members-absurd",
        "`mbrl --members 10**9`",
        command("mbrl", "--members", str(10**9), "--out", "{dir}/mbrl"),
        "members must be in [1, 10000]",
    ),
    Row(
        "dream-members-negative",
        "`dream --members -3`",
        command("dream", "--members", "-3", "--out", "{dir}/dream"),
        "--members must be >= 1, got -3",
    ),
    Row(
        "sweep-lr-not-numbers",
        "`sweep --learning-rates 1e-3 fast`",
        sweep("--learning-rates", "1e-3", "fast"),
        "--learning-rates: Could not find valid parse for arguments: ['1e-3', 'fast']",
    ),
    Row(
        "sweep-lr-zero",
        "`sweep --learning-rates 0 1e-3`",
        sweep("--learning-rates", "0", "1e-3"),
        "learning rates must be > 0 and finite, got 0.0",
    ),
    Row(
        "sweep-lr-repeated",
        "`sweep --learning-rates 1e-3 0.001`",
        sweep("--learning-rates", "1e-3", "0.001"),
        "the sweep's learning rates repeat a value",
    ),
    Row(
        "sweep-weight-decay-nan",
        "`sweep --weight-decays 0 nan`",
        sweep("--weight-decays", "0", "nan"),
        "weight decays must be >= 0 and finite, got nan",
    ),
    Row(
        "sweep-single-learning-rate",
        "`sweep --learning-rate` (a train flag)",
        sweep("--learning-rate", "0.1"),
        "a sweep tries --learning-rates and --weight-decays",
    ),
    Row("sweep-seeds-zero", "`sweep --seeds 0`", sweep("--seeds", "0"), "--seeds must be >= 1, got 0"),
    Row(
        "sweep-too-many-members",
        "`sweep` of 20 seeds x 10,000 members",
        sweep("--model", "ensemble", "--members", "10000", "--seeds", "20"),
        "20 configurations x 10000 members exceeds 160,000 members in one program",
    ),
    Row(
        "sweep-batch-larger-than-data",
        "`sweep` with a batch size larger than the training data",
        sweep("--batch-size", "100000"),
        "--batch-size 100000 is larger than the",
    ),
    Row(
        "unknown-model",
        "unknown model `--model foo`",
        train("cartpole", "--model", "foo"),
        "--model: invalid choice 'foo'",
    ),
    Row(
        "unknown-env",
        "unknown environment `--env Foo-v9`",
        collect("--env", "Foo-v9", "--transitions", "10"),
        "unsupported environment 'Foo-v9'; supported: CartPole-v1",
    ),
    Row(
        "unknown-env-mbrl",
        "`mbrl --env Foo-v9`",
        command("mbrl", "--env", "Foo-v9", "--out", "{dir}/mbrl"),
        "unsupported environment 'Foo-v9'",
    ),
    Row(
        "env-disagrees-with-data",
        "`--env` naming another environment than the data records",
        train("cartpole", "--env", "Pendulum-v1"),
        "recorded as data of CartPole-v1; --env Pendulum-v1 disagrees",
    ),
    Row(
        "minari-unknown-dataset",
        "a Minari dataset that is not there",
        command("data", "import-minari", "nobody/nothing-v0", "--out", "{dir}/imported.npz"),
        "no local Minari dataset 'nobody/nothing-v0'",
    ),
    Row(
        "lr-nan",
        "`--learning-rate nan`",
        train("cartpole", "--learning-rate", "nan"),
        "learning rate must be > 0 and finite, got nan",
    ),
    Row(
        "lr-negative",
        "`--learning-rate -1`",
        train("cartpole", "--learning-rate", "-1"),
        "learning rate must be > 0 and finite, got -1.0",
    ),
    Row(
        "lr-inf",
        "`--learning-rate inf`",
        train("cartpole", "--learning-rate", "inf"),
        "learning rate must be > 0 and finite, got inf",
    ),
    Row(
        "lr-not-a-number",
        "`--learning-rate abc`",
        train("cartpole", "--learning-rate", "abc"),
        "--learning-rate: could not convert string to float",
    ),
    Row(
        "weight-decay-nan",
        "`--weight-decay nan`",
        train("cartpole", "--weight-decay", "nan"),
        "weight decay must be >= 0 and finite, got nan",
    ),
    Row(
        "seed-negative-collect",
        "`collect --seed -1`",
        collect("--transitions", "10", "--seed", "-1"),
        "seed must be an integer in [0, 2**63 - 1], got -1",
    ),
    Row(
        "seed-negative-train",
        "`train --seed -1`",
        train("cartpole", "--seed", "-1"),
        "seed must be an integer in [0, 2**63 - 1], got -1",
    ),
    Row(
        "seed-too-large",
        "`--seed 2**70`",
        collect("--transitions", "10", "--backend", "jax", "--seed", str(2**70)),
        "seed must be an integer in [0, 2**63 - 1]",
    ),
    Row(
        "out-inside-a-file-collect",
        "`collect --out` inside a file",
        collect("--transitions", "10", "--out", "{cartpole}/sub.npz"),
        "cartpole.npz/sub.npz: cannot be created, ",
    ),
    Row(
        "out-inside-a-file-train",
        "`train --out` inside a file",
        command("train", "--data", "{cartpole}", "--out", "{cartpole}/run"),
        "is a file, not a directory",
    ),
    Row(
        "out-inside-a-file-mbrl",
        "`mbrl --out` inside a file",
        command("mbrl", "--out", "{cartpole}/run"),
        "is a file, not a directory",
    ),
    Row(
        "evaluate-sample-deterministic",
        "`evaluate --sample` of a deterministic model (no Gaussian to sample)",
        command("evaluate", "--checkpoint", "{model}", "--data", "{cartpole}", "--horizon", "5", "--sample"),
        "is a deterministic model",
    ),
    Row(
        "predict-levels-deterministic",
        "`predict --levels` of a deterministic single model (no spread to draw intervals from)",
        predict("cartpole", "--levels", "0.9"),
        "no predictive spread",
    ),
    Row(
        "predict-levels-repeated",
        "`predict --levels 0.333333333 0.3333333334` (one key, lower_0.333333, for both)",
        predict("cartpole", "--levels", "0.333333333", "0.3333333334"),
        "repeat a level",
    ),
    Row(
        "out-inside-a-file-predict",
        "`predict --out` inside a file",
        command("predict", "--checkpoint", "{model}", "--data", "{cartpole}", "--out", "{cartpole}/p.npz"),
        "is a file, not a directory",
    ),
    Row(
        "json-inside-a-file-evaluate",
        "`evaluate --json` inside a file",
        evaluate("cartpole", "--json", "{cartpole}/s.json"),
        "is a file, not a directory",
    ),
    # A place where nothing can be created (/proc refuses even root): one line before any work.
    Row(
        "out-unwritable-collect",
        "`collect --out` where nothing can be created",
        collect("--transitions", "10", "--out", "/proc/wm-jax/data.npz"),
        "/proc/wm-jax/data.npz: cannot be written",
    ),
    Row(
        "out-unwritable-train",
        "`train --out` where nothing can be created",
        command("train", "--data", "{cartpole}", "--out", "/proc/wm-jax/run"),
        "/proc/wm-jax/run: cannot be written",
    ),
    Row(
        "out-unwritable-sweep",
        "`sweep --out` where nothing can be created",
        command("sweep", "--data", "{cartpole}", "--out", "/proc/wm-jax/sweep"),
        "/proc/wm-jax/sweep: cannot be written",
    ),
    Row(
        "json-unwritable-evaluate",
        "`evaluate --json` where nothing can be created",
        evaluate("cartpole", "--json", "/proc/wm-jax/s.json"),
        "/proc/wm-jax/s.json: cannot be written",
    ),
    Row(
        "plots-unwritable-evaluate",
        "`evaluate --plots` where nothing can be created",
        evaluate("cartpole", "--plots", "/proc/wm-jax/plots"),
        "/proc/wm-jax/plots: cannot be written",
    ),
    Row(
        "out-unwritable-predict",
        "`predict --out` where nothing can be created",
        command("predict", "--checkpoint", "{model}", "--data", "{cartpole}", "--out", "/proc/wm-jax/p.npz"),
        "/proc/wm-jax/p.npz: cannot be written",
    ),
    Row(
        "out-unwritable-mbrl",
        "`mbrl --out` where nothing can be created",
        command("mbrl", "--out", "/proc/wm-jax/mbrl"),
        "/proc/wm-jax/mbrl: cannot be written",
    ),
    Row(
        "out-unwritable-dream",
        "`dream --out` where nothing can be created",
        command("dream", "--out", "/proc/wm-jax/dream"),
        "/proc/wm-jax/dream: cannot be written",
    ),
    Row(
        "out-unwritable-sac",
        "`sac --out` where nothing can be created",
        command("sac", "--out", "/proc/wm-jax/sac"),
        "/proc/wm-jax/sac: cannot be written",
    ),
    Row(
        "sac-discrete-actions",
        "`sac --env CartPole-v1` (a Discrete action space)",
        command("sac", "--env", "CartPole-v1", "--out", "{dir}/sac"),
        "SAC acts in continuous (Box) action spaces; CartPole-v1's is Discrete(n=2)",
    ),
    Row(
        "sac-warm-up-too-long",
        "`sac --initial-transitions` not below `--total-transitions`",
        command("sac", "--total-transitions", "100", "--initial-transitions", "100", "--out", "{dir}/sac"),
        "--initial-transitions (100) must be below --total-transitions (100)",
    ),
    Row(
        "sac-gamma-above-one",
        "`sac --gamma 1.5`",
        command("sac", "--gamma", "1.5", "--out", "{dir}/sac"),
        "--gamma must be in [0, 1], got 1.5",
    ),
    Row(
        "out-unwritable-mbpo",
        "`mbpo --out` where nothing can be created",
        command("mbpo", "--out", "/proc/wm-jax/mbpo"),
        "/proc/wm-jax/mbpo: cannot be written",
    ),
    Row(
        "mbpo-discrete-actions",
        "`mbpo --env CartPole-v1` (a Discrete action space)",
        command("mbpo", "--env", "CartPole-v1", "--out", "{dir}/mbpo"),
        "SAC acts in continuous (Box) action spaces; CartPole-v1's is Discrete(n=2)",
    ),
    Row(
        "mbpo-rollout-schedule-backwards",
        "`mbpo --rollout-schedule 10 5 1 1` (ends before it starts)",
        command("mbpo", "--rollout-schedule", "10", "5", "1", "1", "--out", "{dir}/mbpo"),
        "--rollout-schedule A B KA KB needs 0 <= A <= B",
    ),
    Row(
        "mbpo-real-ratio-above-one",
        "`mbpo --real-ratio 2`",
        command("mbpo", "--real-ratio", "2", "--out", "{dir}/mbpo"),
        "--real-ratio must be in [0, 1], got 2.0",
    ),
    Row(
        "mbpo-baseline-missing",
        "`mbpo --baseline` naming no file",
        command("mbpo", "--baseline", "{dir}/absent/sac.json", "--out", "{dir}/mbpo"),
        "sac.json: cannot read it (No such file or directory)",
    ),
    Row(
        "mbpo-baseline-not-sac",
        "`mbpo --baseline` naming a file that is not a SAC run's sac.json",
        command("mbpo", "--env", "Pendulum-v1", "--baseline", "{cartpole}", "--out", "{dir}/mbpo"),
        "not the sac.json of a `wm-jax sac` run",
    ),
    Row(
        "out-unwritable-demo",
        "`demo --out` where nothing can be created",
        command("demo", "--out", "/proc/wm-jax/demo"),
        "/proc/wm-jax/demo: cannot be written",
    ),
    Row(
        "out-is-a-directory",
        "`collect --out` naming a directory",
        collect("--transitions", "10", "--out", "{model}"),
        "is a directory, expected a file name",
    ),
    Row(
        "out-is-a-file",
        "`train --out` naming a file",
        command("train", "--data", "{cartpole}", "--out", "{collected}"),
        "exists and is not a directory",
    ),
    # -- datasets
    Row("data-missing", "a data file that does not exist", train(lambda w, d: str(d / "absent.npz")), "no such file"),
    Row("data-empty", "an empty dataset (0 rows)", train(_data("empty.npz", _rows(0))), "holds no transitions"),
    Row(
        "data-one-row",
        "a dataset of one transition",
        train("one_transition"),
        "one_transition.npz: holds only 1 episode, and a held-out split takes whole episodes",
    ),
    Row(
        "data-nan",
        "NaN in the states",
        train(_data("nan.npz", _at_row(5, np.nan))),
        "states has 4 non-finite values (first in row 5)",
    ),
    Row(
        "data-inf",
        "Inf in the next states",
        train(_data("inf.npz", _at_row(7, np.inf, "next_states"))),
        "next_states has 4 non-finite values (first in row 7)",
    ),
    Row(
        "data-huge",
        "huge magnitudes (1e30)",
        train(_data("huge.npz", _replace(rewards=lambda a: np.full_like(a["rewards"], 1e30)))),
        "rewards has 400 values beyond +-1e+15",
    ),
    Row(
        "data-wrong-rank",
        "states of the wrong rank",
        train(_data("rank.npz", _replace(states=lambda a: a["states"][:, :, None]))),
        "states must be float32 (N, dim), got float32 (400, 4, 1)",
    ),
    Row(
        "data-mismatched-lengths",
        "arrays of mismatched lengths",
        train(_data("short.npz", _replace(rewards=lambda a: a["rewards"][:-3]))),
        "rewards has 397 rows, states has 400",
    ),
    Row(
        "data-wrong-dtype",
        "float64 states",
        train(_data("f64.npz", _replace(states=lambda a: a["states"].astype(np.float64)))),
        "states must be float32 (N, dim), got float64",
    ),
    Row(
        "data-string-array",
        "a string array",
        train(_data("strings.npz", _replace(actions=lambda a: np.array(["left"] * len(a["actions"]))))),
        "actions must be integer indices (N,), got <U4",
    ),
    Row(
        "data-missing-key",
        "a missing key",
        train(_data("no_actions.npz", _replace(actions=None))),
        "missing arrays actions",
    ),
    Row(
        "data-text-as-npz",
        "a text file renamed .npz",
        train(_bytes("text.npz", lambda w: b"hello, world\n")),
        "not a .npz archive",
    ),
    Row(
        "data-truncated",
        "a truncated archive",
        train(_bytes("truncated.npz", lambda w: _half(w.cartpole))),
        "a truncated .npz archive",
    ),
    Row(
        "data-unknown-compression",
        "an archive whose compression method field is damaged",
        train(_bytes("compression.npz", lambda w: _compression_method(w.cartpole, 99))),
        "not a readable data file (NotImplementedError: That compression method is not supported)",
    ),
    Row(
        "data-empty-file",
        "an empty file",
        train(_bytes("zero.npz", lambda w: b"")),
        "an empty file, not a .npz archive",
    ),
    Row("data-is-a-directory", "a directory as --data", train("model"), "is a directory, expected a .npz file"),
    Row(
        "data-metadata-not-an-object",
        "metadata that is not a JSON object",
        train(_data("meta.npz", _replace(metadata=np.asarray("[1, 2]")))),
        "metadata must be a JSON object, got list",
    ),
    Row(
        "data-unknown-env",
        "data from an environment gymnasium cannot make, with no spaces recorded",
        train(_data("foo_env.npz", _metadata(env_id="Foo-v9", observation_space=None, action_space=None))),
        "unsupported environment 'Foo-v9'",
    ),
    Row(
        "data-newer-format",
        "data in a newer format version",
        train(_data("v99.npz", _metadata(format_version=99))),
        "format version 99 is not supported",
    ),
    Row(
        "data-bad-action",
        "an action index outside the action space",
        train(_data("action7.npz", _at_row(0, 7, "actions"))),
        "action indices must lie in [0, 2)",
    ),
    Row(
        "data-broken-episode",
        "an episode whose next state is not the next row's state",
        train(_data("broken.npz", _at_row(3, 9.0, "next_states"))),
        "row 3's next state is not row 4's state",
    ),
    Row(
        "data-other-env-evaluate",
        "MountainCar data for a CartPole model (`evaluate`)",
        evaluate("mountaincar"),
        "collected from MountainCar-v0, but the model is for CartPole-v1",
    ),
    Row(
        "data-other-env-predict",
        "Acrobot data for a CartPole model (`predict`)",
        predict("acrobot"),
        "collected from Acrobot-v1, but the model is for CartPole-v1",
    ),
    Row(
        "eval-data-other-env",
        "`--eval-data` from another environment",
        train("cartpole", "--eval-data", "{mountaincar}"),
        "collected from MountainCar-v0, but the model is for CartPole-v1",
    ),
    Row(
        "eval-data-is-training-data",
        "the training file itself as `--eval-data`",
        train("cartpole", "--eval-data", "{cartpole}"),
        "every row of it is in the training data",
    ),
    Row(
        "eval-data-is-training-data-sweep",
        "the training file itself as the sweep's `--eval-data`",
        sweep("--eval-data", "{cartpole}"),
        "every row of it is in the training data",
    ),
    # -- checkpoints
    Row(
        "checkpoint-missing",
        "a checkpoint directory that does not exist",
        evaluate(checkpoint=lambda w, d: str(d / "absent")),
        "model.json: no such file",
    ),
    Row(
        "checkpoint-is-a-file",
        "a data file as --checkpoint",
        evaluate(checkpoint="cartpole"),
        "a directory written by `wm-jax train`?",
    ),
    Row(
        "checkpoint-truncated",
        "a truncated params.npz",
        evaluate(checkpoint=_checkpoint("truncated", _write("params.npz", lambda p: _half(str(p))))),
        "params.npz: unreadable, a truncated .npz archive",
    ),
    Row(
        "checkpoint-truncated-predict",
        "a truncated params.npz (`predict`)",
        predict(checkpoint=_checkpoint("truncated", _write("params.npz", lambda p: _half(str(p))))),
        "params.npz: unreadable, a truncated .npz archive",
    ),
    Row(
        "checkpoint-unknown-compression",
        "a params.npz whose compression method field is damaged",
        evaluate(
            checkpoint=_checkpoint("compression", _write("params.npz", lambda p: _compression_method(str(p), 99)))
        ),
        "params.npz: unreadable (NotImplementedError: That compression method is not supported)",
    ),
    Row(
        "checkpoint-not-an-archive",
        "a text file as params.npz",
        evaluate(checkpoint=_checkpoint("text_params", _write("params.npz", b"hello"))),
        "params.npz: unreadable, not a .npz archive",
    ),
    Row(
        "checkpoint-other-architecture",
        "another architecture's params.npz (2 members) next to this model.json",
        evaluate(checkpoint=_checkpoint("mixed", _params_from("ensemble"))),
        "disagree (edited, or copied from different runs)",
    ),
    Row(
        "checkpoint-other-architecture-old",
        "another architecture's params.npz from before it carried its description",
        evaluate(checkpoint=_checkpoint("mixed_old", _params_from("ensemble", keep_description=False))),
        "params.npz: head.bias: expected shape (1, 4), got (2, 4)",
    ),
    Row(
        "checkpoint-edited-model-json",
        "a hand-edited model.json (hidden sizes)",
        evaluate(checkpoint=_checkpoint("edited", _edit_model_json(lambda m: {**m, "hidden_sizes": [128, 64]}))),
        "disagree",
    ),
    Row(
        "checkpoint-newer-format",
        'a newer export: `"format_version": 99`',
        evaluate(checkpoint=_checkpoint("newer", _described(lambda m: {**m, "format_version": 99}))),
        "format version 99 is newer than this wm-jax reads (1)",
    ),
    Row(
        "checkpoint-other-env",
        "a CartPole model asked to evaluate Acrobot data",
        evaluate("acrobot"),
        "collected from Acrobot-v1, but the model is for CartPole-v1",
    ),
    Row(
        "checkpoint-nan",
        "NaN parameters",
        evaluate(checkpoint=_checkpoint("nan_params", _nan_params)),
        "parameters contain non-finite values",
    ),
    Row(
        "checkpoint-missing-model-json",
        "a checkpoint without model.json",
        evaluate(checkpoint=_checkpoint("no_model_json", _write("model.json", None))),
        "model.json: no such file",
    ),
    Row(
        "checkpoint-bad-baselines",
        "a baselines.json that is not a JSON object",
        evaluate(
            "cartpole", "--horizon", "5", checkpoint=_checkpoint("bad_baselines", _write("baselines.json", b"[]"))
        ),
        "baselines.json: expected a JSON object, got list",
    ),
    Row(
        "resume-without-checkpoints",
        "`train --resume` of a run without checkpoints",
        command("train", "--resume", "{model}"),
        "no checkpoints here",
    ),
    Row(
        "resume-a-finished-run",
        "`train --resume` of a run that finished (its record would be written again, with no training time)",
        command("train", "--resume", "{checkpointed}"),
        "this run finished (its record metrics.json is there); nothing to resume",
    ),
    Row(
        "out-holds-checkpoints",
        "`train --out` into an earlier run that saved checkpoints",
        command("train", "--data", "{cartpole}", "--out", "{checkpointed}", "--epochs", "1"),
        EARLIER_RUN,
    ),
    Row(
        "out-holds-checkpoints-checkpointing",
        "`train --out --checkpoint-every` into an earlier run that saved checkpoints",
        command("train", "--data", "{cartpole}", "--out", "{checkpointed}", "--checkpoint-every", "1"),
        EARLIER_RUN,
    ),
    Row(
        "mbrl-out-holds-checkpoints",
        "`mbrl --out` into an earlier run that saved checkpoints",
        command("mbrl", "--out", "{checkpointed}", "--max-transitions", "250"),
        EARLIER_RUN,
    ),
    Row(
        "sac-out-holds-checkpoints",
        "`sac --out` into an earlier run that saved checkpoints",
        command("sac", "--out", "{checkpointed}"),
        EARLIER_RUN,
    ),
    Row(
        "train-model-beyond-memory",
        "`train --hidden-sizes 100000 x 4 --model ensemble --members 64`, beyond any machine's memory",
        command(
            "train",
            "--data",
            "{cartpole}",
            "--out",
            "{dir}/run",
            "--model",
            "ensemble",
            "--members",
            "64",
            "--hidden-sizes",
            "100000",
            "100000",
            "100000",
            "100000",
        ),
        "GB, over half of this machine's",
    ),
    Row(
        "out-empty",
        "`collect --out ''` (an unset shell variable)",
        command("collect", "--out", "", "--transitions", "10"),
        "an output path is empty",
    ),
    Row(
        "train-out-empty",
        "`train --out ''`, refused before training",
        command("train", "--data", "{cartpole}", "--out", ""),
        "an output path is empty",
    ),
    Row(
        "log-dir-unwritable",
        "`train --log-dir` where nothing can be created",
        command("train", "--data", "{cartpole}", "--out", "{dir}/run", "--log-dir", "/proc/wm-jax/logs"),
        "--log-dir /proc/wm-jax/logs: cannot be written",
    ),
    Row(
        "mbpo-resume-without-checkpoints",
        "`mbpo --resume` of a directory without checkpoints",
        command("mbpo", "--resume", "{model}"),
        "no checkpoints here",
    ),
    Row(
        "mbpo-buffers-beyond-memory",
        "`mbpo` whose model buffer would not fit in any machine's memory",
        command(
            "mbpo", "--rollouts-per-step", "1000000", "--rollout-schedule", "0", "1", "1", "1000", "--out", "{dir}/m"
        ),
        "GB, over half of this machine's",
    ),
    Row(
        "sac-checkpoint-every-negative",
        "`sac --checkpoint-every -5`",
        command("sac", "--checkpoint-every", "-5", "--out", "{dir}/sac"),
        "--checkpoint-every must be >= 1, got -5",
    ),
]


def row_argv(row: Row, world: World, directory: Path) -> list[str]:
    """The row's command line, its input files built under `directory`."""
    return row.argv(world, Path(directory))


def shown(argv: list[str], world: World, directory: Path) -> str:
    """The command as the README shows it: paths relative to the world and the row's directory."""
    text = " ".join(["wm-jax", *argv])
    for prefix in (str(directory) + os.sep, str(world.root) + os.sep):
        text = text.replace(prefix, "")
    return text
