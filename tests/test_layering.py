"""The packages of the repository import one another one way only.

``jaxact`` is the library and imports none of the others. ``harness`` (the
timer, the result files, the float64 references) imports only the library.
``benchmarks`` and ``experiments`` import the library and ``harness``, never
each other, so either can be read, run or removed alone. The library's tests
(``tests/*.py``) check the library, with ``harness``'s references at most;
the tests of the benchmarks and of the experiments keep to their own side.

Read from the source with ``ast``, so a forbidden import fails here even where
no test imports the module that holds it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("jaxact", "harness", "benchmarks", "experiments", "tests")

# Where the files lie -> the top-level packages they must not import.
FORBIDDEN = {
    "jaxact": {"harness", "benchmarks", "experiments", "tests"},
    "harness": {"benchmarks", "experiments", "tests"},
    "benchmarks": {"experiments", "tests"},
    "experiments": {"benchmarks", "tests"},
    "tests": {"benchmarks", "experiments"},
    "tests/benchmarks": {"experiments"},
    "tests/experiments": {"benchmarks"},
}


def imported_packages(source: str, filename: str = "<source>") -> set[str]:
    """The top-level packages a module imports: import statements at any depth,
    and ``importlib.import_module`` of a name whose package is written out."""
    found = set()
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
        elif (isinstance(node, ast.Call) and node.args
              and isinstance(node.func, ast.Attribute | ast.Name)
              and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"):
            name = node.args[0]
            if isinstance(name, ast.JoinedStr) and name.values:
                name = name.values[0]  # f"experiments.{name}": its written-out start
            if isinstance(name, ast.Constant) and isinstance(name.value, str):
                found.add(name.value.split(".")[0])
    return found


def _area(path: Path) -> str:
    """The key of FORBIDDEN that governs ``path`` (the deepest folder listed)."""
    parts = path.relative_to(REPO).parts
    for depth in range(len(parts) - 1, 0, -1):
        key = "/".join(parts[:depth])
        if key in FORBIDDEN:
            return key
    raise AssertionError(f"{path} lies in no area of FORBIDDEN")


def _modules() -> list[Path]:
    return sorted(path for package in PACKAGES for path in (REPO / package).rglob("*.py"))


def test_every_package_is_checked():
    areas = {_area(path) for path in _modules()}
    assert areas == set(FORBIDDEN)


@pytest.mark.parametrize("path", _modules(), ids=lambda path: str(path.relative_to(REPO)))
def test_no_forbidden_import(path):
    area = _area(path)
    imported = imported_packages(path.read_text(encoding="utf-8"), str(path))
    forbidden = sorted(imported & FORBIDDEN[area])
    assert not forbidden, f"{path.relative_to(REPO)} imports {', '.join(forbidden)}"


@pytest.mark.parametrize("statement", [
    "import benchmarks.timing",
    "from benchmarks import references",
    "from benchmarks.timing import machine_line",
    "def f():\n    import benchmarks",
    "importlib.import_module('benchmarks.bench')",
    "import_module(f'benchmarks.{name}')",
])
def test_the_checker_sees_each_form_of_import(statement):
    assert "benchmarks" in imported_packages(statement)


def test_the_checker_ignores_relative_imports_and_other_names():
    assert imported_packages("from . import timing\nfrom .files import write_text\n"
                             "import benchmarking\nx = 'benchmarks'") == {"benchmarking"}
