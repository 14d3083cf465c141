"""The documentation site and the README: the site builds with `mkdocs build --strict`, its CLI reference is
the commands' own help, and every code example on every page runs, in page order, in a scratch directory.

A page shows the command a user would run, with its real budget; the test runs the same command with the
budgets of `SMALL_BUDGETS` (fewer epochs, transitions, episodes), so that every example runs in seconds and
a renamed flag, a changed file layout or a broken Python example fails here."""

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
FENCE = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)

# Per command: the budget flags a page's example runs with in the tests. A flag the example gives with a
# larger value, or leaves at its default, takes the value here (those of `ONLY_WHERE_GIVEN` only where the page
# gives them: they exclude each other); a smaller value the page chose stays.
SMALL_BUDGETS: dict[str, dict[str, float]] = {
    "collect": {"--transitions": 600, "--episodes": 4},
    "train": {"--epochs": 2, "--checkpoint-every": 1},
    "sweep": {"--epochs": 2, "--seeds": 2},
    "mbrl": {
        "--max-transitions": 260,
        "--initial-transitions": 200,
        "--epochs": 2,
        "--eval-episodes": 1,
        "--planner.candidates": 16,
        "--planner.iterations": 1,
        "--planner.horizon": 5,
    },
    "dream": {
        "--max-transitions": 300,
        "--initial-transitions": 200,
        "--epochs": 2,
        "--generations": 2,
        "--population": 8,
        "--eval-episodes": 1,
    },
    "dream --controller ppo": {"--ppo.updates": 2, "--ppo.envs": 16, "--ppo.steps": 16},
    "sac": {
        "--checkpoint-every": 100,
        "--total-transitions": 300,
        "--initial-transitions": 100,
        "--eval-every": 150,
        "--eval-episodes": 1,
    },
    "mbpo": {
        "--total-transitions": 300,
        "--initial-transitions": 100,
        "--epoch-length": 100,
        "--rollouts-per-step": 5,
        "--sac.updates-per-step": 2,
        "--epochs": 2,
        "--eval-every": 150,
        "--eval-episodes": 1,
    },
}
ONLY_WHERE_GIVEN = {"--transitions", "--episodes", "--checkpoint-every"}
# One process per test worker runs the pages' python blocks and plain wm-jax commands (through the CLI's own
# `main`), so imports and compiled programs are shared between pages as they are within one; each request is
# a JSON line, each outcome a line of stdout, and what the examples print goes to stderr. A page starts
# with a fresh namespace, working directory and environment. A command with its own environment variables,
# or one that runs beside others, gets a process of its own.
DRIVER = """
import contextlib, json, os, sys, traceback
namespace = {}
for line in sys.stdin:
    request = json.loads(line)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            status = 0
            if "page" in request:
                os.chdir(request["page"])
                os.environ.update(request["env"])
                namespace = {"__name__": "__main__"}
            elif "python" in request:
                path = request["python"]
                exec(compile(open(path).read(), path, "exec"), namespace)
            else:
                from wm_jax.cli import main
                try:
                    status = main(request["argv"])
                except SystemExit as exit:
                    status = exit.code
        print("exit", status, flush=True)
    except BaseException:
        traceback.print_exc()
        print("exit failed", flush=True)
"""


class Driver:
    """The process that runs the pages' examples in turn (`DRIVER`); its stderr is the examples' log."""

    def __init__(self, directory: Path):
        self.log = directory / "examples.log"
        with open(self.log, "w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", DRIVER],
                cwd=directory,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )

    def run(self, request: dict) -> tuple[str, str]:
        """(the exit status, the log's end) of one request."""
        offset = self.log.stat().st_size
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        outcome = self.process.stdout.readline().split()
        with open(self.log) as log:
            log.seek(offset)
            return (outcome[1] if len(outcome) == 2 else "no answer"), log.read()[-3000:]

    def close(self):
        self.process.stdin.close()
        self.process.wait(timeout=60)


def blocks(page: Path) -> list[tuple[str, str]]:
    """The page's fenced blocks, (language, body), in page order."""
    return FENCE.findall(page.read_text())


def examples(page: Path, language: str) -> list[str]:
    return [body for lang, body in blocks(page) if lang == language]


def shell_commands(body: str) -> list[list[str]]:
    """The commands of a bash block (continued lines joined, comments dropped); the install line is what CI
    itself runs. A command ending in `&` keeps its `&` as its last word: it runs beside the next ones."""
    commands = []
    for line in body.replace("\\\n", " ").splitlines():
        line = line.split(" #")[0].strip()
        if line and not line.startswith("#") and "pip install" not in line:
            commands.append(shlex.split(line))
    return commands


def small(argv: list[str]) -> list[str]:
    """`argv` (a wm-jax command's arguments) with the budgets of `SMALL_BUDGETS`."""
    if not argv or "--resume" in argv:  # a resumed run takes its own settings
        return argv
    command = argv[0]
    if command == "demo":
        return argv if "--quick" in argv else [*argv, "--quick"]
    budgets = dict(SMALL_BUDGETS.get(command, {}))
    if command == "dream" and "ppo" in argv:  # CMA-ES's flags do not apply to PPO
        budgets = {k: v for k, v in budgets.items() if k not in ("--generations", "--population")}
        budgets.update(SMALL_BUDGETS["dream --controller ppo"])
    if command in ("mbrl", "dream") and "--data" in argv:  # the file's rows replace the random start
        budgets.pop("--initial-transitions", None)
    argv = list(argv)
    for flag, value in budgets.items():
        if flag in argv:
            at = argv.index(flag) + 1
            if float(argv[at]) > value:
                argv[at] = f"{value:g}"
        elif flag not in ONLY_WHERE_GIVEN:
            argv += [flag, f"{value:g}"]
    return argv


def run_examples(page: Path, scratch: Path, driver: Driver) -> None:
    """Every bash and python block of `page`, in page order, in `scratch`. One process runs them (`DRIVER`),
    so a later python block uses what an earlier one defined. A python block whose first line is
    `# file: NAME` is a file the page asks the reader to write: it is saved as NAME, for the commands after
    it to use. A command may start with `NAME=value` words, which set its environment, or end with `&`, to
    run beside the next ones until `wait` or the block's end; either runs as a process of its own."""
    # stable-baselines3 makes a log folder per agent, in /tmp unless SB3_LOGDIR names one.
    page_env = {
        "MPLBACKEND": "Agg",
        "MINARI_DATASETS_PATH": str(scratch / "minari"),
        "SB3_LOGDIR": str(scratch / "sb3"),
    }
    env = {**os.environ, **page_env}
    status, log = driver.run({"page": str(scratch), "env": page_env})
    assert status == "0", log
    for number, (language, body) in enumerate(blocks(page)):
        if language == "bash":
            background = []
            for argv in shell_commands(body):
                alongside = argv[-1] == "&"
                argv = argv[:-1] if alongside else argv
                if argv == ["wait"]:
                    continue
                variables = {}
                while argv and re.fullmatch(r"[A-Z_]+=\S*", argv[0]):
                    name, value = argv.pop(0).split("=", 1)
                    variables[name] = value
                assert argv[0] == "wm-jax", f"{page.name}: only wm-jax commands are run: {argv}"
                arguments = small(argv[1:])
                shown = f"{page.name}: wm-jax {shlex.join(arguments)}"
                own_process = alongside or variables or {"--coordinator", "--cluster"} & set(arguments)
                if not own_process:  # jax.distributed is joined once per process
                    status, log = driver.run({"argv": arguments})
                    assert status == "0", f"{shown}: exit {status}\n{log}"
                    continue
                command = [sys.executable, "-m", "wm_jax", *arguments]
                process = subprocess.Popen(
                    command, cwd=scratch, env={**env, **variables}, stderr=subprocess.PIPE, text=True
                )
                if alongside:
                    background.append((shown, process))
                    continue
                _, stderr = process.communicate(timeout=600)
                assert process.returncode == 0, f"{shown}\n{stderr[-2000:]}"
            for shown, process in background:
                _, stderr = process.communicate(timeout=600)
                assert process.returncode == 0, f"{shown}\n{stderr[-2000:]}"
        elif language == "python" and body.startswith("# file: "):
            name, _, source = body.partition("\n")
            (scratch / name.removeprefix("# file: ").strip()).write_text(source)
        elif language == "python":
            source = scratch / f"example_{number}.py"
            source.write_text(body)
            status, log = driver.run({"python": str(source)})
            assert status == "0", f"{page.name}: python example {number} failed\n{body}\n{log}"


def test_the_cli_reference_is_the_commands_own_help():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import cli_reference
    finally:
        sys.path.pop(0)
    assert cli_reference.main(["--check"]) == 0, "docs/cli.md is stale: run python scripts/cli_reference.py"


@pytest.mark.slow  # a whole site build (a few seconds)
def test_the_site_builds_strictly(tmp_path):
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert build.returncode == 0, build.stderr[-3000:]
    assert (tmp_path / "site" / "index.html").exists()


def test_every_example_is_python_or_bash():
    """A fence in another language would escape the examples' test: every fenced block is one of these."""
    allowed = {"python", "bash", "text"}
    for page in PAGES:
        fences = sum(line.startswith("```") for line in page.read_text().splitlines())
        assert fences == 2 * len(blocks(page)), f"{page.relative_to(ROOT)}: a fence without a language"
        for language, _ in FENCE.findall(page.read_text()):
            assert language in allowed, f"{page.relative_to(ROOT)}: a ```{language} block is not run by the tests"


def test_the_api_page_documents_every_public_name():
    """Every name of `import wm_jax as wm` has its entry on the Python API page, under its own name."""
    from wm_jax import _EXPORTS

    page = (ROOT / "docs" / "api.md").read_text()
    for name, (module, attribute) in _EXPORTS.items():
        assert f"::: {module}.{attribute}\n" in page and f'heading: "wm.{name}"' in page, name


@pytest.fixture(scope="module")
def example_driver(tmp_path_factory):
    driver = Driver(tmp_path_factory.mktemp("examples"))
    yield driver
    driver.close()


@pytest.mark.slow  # runs the commands and programs the pages show
@pytest.mark.parametrize(
    "page", [p for p in PAGES if examples(p, "python") or examples(p, "bash")], ids=lambda p: p.stem
)
def test_the_pages_examples_run(page, tmp_path, example_driver):
    run_examples(page, tmp_path, example_driver)


def test_examples_run_with_small_budgets():
    """The budgets a page shows are replaced where larger, added where left to the defaults, kept where
    smaller; a resumed run keeps its own."""
    assert small(["train", "--data", "d.npz", "--epochs", "300"]) == ["train", "--data", "d.npz", "--epochs", "2"]
    assert small(["collect", "--transitions", "100"]) == ["collect", "--transitions", "100"]
    assert "--ppo.updates" in small(["dream", "--controller", "ppo"])
    assert "--ppo.updates" not in small(["dream", "--controller", "linear"])
    assert small(["train", "--resume", "run"]) == ["train", "--resume", "run"]
    assert small(["demo"]) == ["demo", "--quick"]
    assert shell_commands("wm-jax a \\\n  --b 1 &  # note\n# a comment\nwait\n") == [
        ["wm-jax", "a", "--b", "1", "&"],
        ["wait"],
    ]
