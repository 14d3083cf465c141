"""Every module, function or file a docstring in `wm_jax/` names exists.

A reference is checked when it is unmistakably one of ours, so ordinary code in backticks
(`jax.random.key`, `np.ndarray`, `x.shape`, `--flag`) passes untouched:
- a dotted name in backticks whose first part is `wm_jax`, one of its top-level modules or
  packages (`models.prediction`, `training.training_mesh`), or a module beside the docstring's own
  (`scores.score` in `wm_jax/evaluation/`); or `wm_jax.`... anywhere in the text. It must name a
  module under wm_jax, or an attribute (or dataclass field) of one. A function's docstring may
  use its parameters' attributes (`config.epochs`) even where a module has the parameter's name;
- a path ending in .py, .md or .json whose first folder is a top-level folder of the repository
  (`tests/envs/test_spec.py`), in backticks or not. It must name a file there (a glob when it holds `*`).
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import importlib.util
import pathlib
import re
from typing import NamedTuple

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "wm_jax"
TOP_LEVEL_FOLDERS = {path.name for path in ROOT.iterdir() if path.is_dir() and not path.name.startswith(".")}

BACKTICKED = re.compile(r"`([^`\n]+)`")
DOTTED = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")
WM_JAX_IN_PROSE = re.compile(r"(?<![\w./-])wm_jax(?:\.\w+)+")
FILE_PATH = re.compile(r"(?<![\w./-])((?:[\w*-]+/)+[\w*.-]+\.(?:py|md|json))\b")


class Docstring(NamedTuple):
    line: int
    text: str
    package: str  # the dotted package the docstring's module is in, e.g. "wm_jax.evaluation"
    parameters: frozenset[str] = frozenset()  # a function's argument names


def modules_in(package: str) -> set[str]:
    """The modules and subpackages of `package` ("wm_jax.evaluation"), by their last name."""
    folder = ROOT.joinpath(*package.split("."))
    return {path.stem for path in folder.glob("*.py") if path.stem != "__init__"} | {
        path.name for path in folder.iterdir() if (path / "__init__.py").is_file()
    }


def docstrings(path: pathlib.Path, package: str = "wm_jax") -> list[Docstring]:
    """The module's, each class's and function's docstring, and the strings that document a class's
    fields (a string statement in the class body)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            text = ast.get_docstring(node, clean=False)
            if text:
                found.append(Docstring(getattr(node, "lineno", 1), text, package, _parameters(node)))
        if isinstance(node, ast.ClassDef):
            found += [
                Docstring(statement.lineno, statement.value.value, package)
                for statement in node.body[1:]
                if isinstance(statement, ast.Expr)
                and isinstance(statement.value, ast.Constant)
                and isinstance(statement.value.value, str)
            ]
    return found


def _parameters(node: ast.AST) -> frozenset[str]:
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return frozenset()
    arguments = node.args
    return frozenset(
        a.arg
        for a in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs, arguments.vararg, arguments.kwarg)
        if a is not None
    )


def dotted_references(doc: Docstring) -> dict[str, list[str]]:
    """Each dotted name `doc` gives that must be ours (see the module docstring), with the full names
    it may stand for: relative to the docstring's package, or to wm_jax."""
    found = {name.rstrip("."): [name.rstrip(".")] for name in WM_JAX_IN_PROSE.findall(doc.text)}
    top_level, beside = modules_in("wm_jax"), modules_in(doc.package)
    for span in BACKTICKED.findall(doc.text):
        # `make_train(spec, config)` names make_train; `wm_jax.models.prediction.predict(...)` the function.
        name = span.split("(")[0].strip()
        first = name.split(".")[0]
        if not DOTTED.fullmatch(name) or first in doc.parameters or name.endswith((".py", ".md", ".json")):
            continue
        if first == "wm_jax":
            found[name] = [name]
        elif first in beside or first in top_level:
            found[name] = [
                f"{package}.{name}"
                for package in dict.fromkeys([doc.package, "wm_jax"])
                if first in modules_in(package)
            ]
    return found


def file_references(text: str) -> set[str]:
    return {path for path in FILE_PATH.findall(text) if path.split("/")[0] in TOP_LEVEL_FOLDERS}


def _has_attribute(owner, name: str) -> bool:
    if hasattr(owner, name):
        return True
    # A dataclass field without a default is no class attribute.
    return dataclasses.is_dataclass(owner) and name in {field.name for field in dataclasses.fields(owner)}


def resolves(full_name: str) -> bool:
    """Whether `full_name` ("wm_jax.models.prediction.predict") names a module, or an attribute of one."""
    parts = full_name.split(".")
    owner = importlib.import_module(parts[0])
    for index in range(1, len(parts)):
        module_name = ".".join(parts[: index + 1])
        if hasattr(owner, "__path__") and importlib.util.find_spec(module_name) is not None:  # a package's module
            owner = importlib.import_module(module_name)
        elif _has_attribute(owner, parts[index]):
            owner = getattr(owner, parts[index], None)
        else:
            return False
    return True


def file_exists(reference: str) -> bool:
    return any(ROOT.glob(reference)) if "*" in reference else (ROOT / reference).is_file()


def broken_references(doc: Docstring) -> list[str]:
    """What `doc` names that does not exist, each with the reason."""
    return [
        f"`{name}` names no module or attribute under wm_jax"
        for name, candidates in sorted(dotted_references(doc).items())
        if not any(resolves(candidate) for candidate in candidates)
    ] + [
        f"`{name}` names no file in the repository"
        for name in sorted(file_references(doc.text))
        if not file_exists(name)
    ]


def _package_of(path: pathlib.Path) -> str:
    return ".".join(path.parent.relative_to(ROOT).parts)


def test_every_reference_in_a_docstring_names_something_that_exists():
    broken = [
        f"{path.relative_to(ROOT)}:{doc.line}: {problem}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for doc in docstrings(path, _package_of(path))
        for problem in broken_references(doc)
    ]
    assert not broken, "docstrings name things that do not exist:\n" + "\n".join(broken)


def test_every_kind_of_docstring_is_read(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text('''"""module"""


class Options:
    """class"""

    out: str = "x"
    """field"""

    def method(self):
        """method"""


async def task():
    """coroutine"""
''')
    assert sorted(doc.text for doc in docstrings(probe)) == ["class", "coroutine", "field", "method", "module"]


@pytest.mark.parametrize(
    "text, package",
    [
        ("see `models.calibration`", "wm_jax"),
        ("see `wm_jax.models.prediction.no_such_function`", "wm_jax"),
        ("as wm_jax.training.no_such_module does", "wm_jax"),
        ("scored by `scores.member_predictions`", "wm_jax.evaluation"),
        ("one `spec.EnvSpec.no_such_field` per environment", "wm_jax.envs"),
        ("tested in `tests/test_foo.py`", "wm_jax"),
        ("tested in tests/test_foo.py, as the README says", "wm_jax"),
    ],
)
def test_the_check_catches_a_reference_to_nothing(text, package):
    assert broken_references(Docstring(1, text, package)), f"{text!r} names nothing, yet the check passed it"


@pytest.mark.parametrize(
    "text, package",
    [
        (
            "`jax.random.key`, `np.ndarray`, `x.shape`, `--flag`, `state.params`, `wm-jax train`, DIR/metrics.json",
            "wm_jax",
        ),
        (
            "`wm_jax.models.prediction`, `models.prediction`, `training.training_mesh`, "
            "`evaluation.summary.at_horizon`",
            "wm_jax",
        ),
        (
            "`TrainConfig.epochs` via `config.TrainConfig.epochs`, `tests/envs/test_*.py`, `make_train(spec, config)`",
            "wm_jax",
        ),
        ("`envs.spec.EnvSpec.planning_objective` and `data.Dataset`; wm_jax.report builds it. The end.", "wm_jax"),
        ("`scores.scores_from_predictions` beside `summary.at_horizon`, and `evaluation.heads`", "wm_jax.evaluation"),
        ("`spec.EnvSpec` (see `spec.py`) and `models.spec.ModelSpec`", "wm_jax.envs"),
    ],
)
def test_the_check_passes_code_and_real_references(text, package):
    assert broken_references(Docstring(1, text, package)) == []


def test_a_function_parameter_named_like_a_module_is_the_parameter():
    text = "`config.validation_fraction` of the run"
    assert broken_references(Docstring(1, text, "wm_jax.training", frozenset({"spec", "config"}))) == []
    assert broken_references(Docstring(1, text, "wm_jax.training")), "without the parameter it is wm_jax.config"
