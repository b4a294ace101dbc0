"""The package as pip sees it: declared dependencies, version, license, py.typed.

The quick tests read the sources. ``test_wheel_and_sdist_install_in_fresh_venvs``
builds the wheel and the sdist, checks them with twine and installs the wheel
into a fresh venv, which downloads or unpacks JAX: it runs only with
JAXACT_PACKAGE_CHECK=1, as ``make package-check`` sets it.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest

import jaxact

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROJECT = PYPROJECT["project"]
# Import names that differ from the distribution's name on PyPI.
DISTRIBUTION = {"sklearn": "scikit-learn"}


def _requirement_names(lines) -> set[str]:
    names = set()
    for line in lines:
        line = line.split("#")[0].strip()
        if line:
            names.add(re.match(r"[A-Za-z0-9_.-]+", line).group(0).lower())
    return names


def _runtime() -> set[str]:
    return _requirement_names((ROOT / "jaxact" / "requirements.txt").read_text().splitlines())


def _extra(name: str) -> set[str]:
    return _requirement_names(PROJECT["optional-dependencies"][name])


def _third_party_imports(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module.split(".")[0])
    standard = sys.stdlib_module_names | {"__future__", "jaxact"}
    return {DISTRIBUTION.get(module, module) for module in modules - standard}


def test_dependencies_match_the_imports():
    # What `import jaxact` imports is a runtime dependency; jaxact.nnx may
    # import the flax extra's packages too.
    library = ROOT / "jaxact"
    for path in library.rglob("*.py"):
        declared = _runtime() | (_extra("flax") if path.name == "nnx.py" else set())
        missing = _third_party_imports(path) - declared
        assert not missing, (path.relative_to(ROOT), missing)
    assert "flax" in _third_party_imports(library / "nnx.py")
    assert "flax" not in _runtime()


def test_development_tools_are_in_the_dev_extra():
    assert {"ruff", "mypy", "build", "twine"} <= _extra("dev")
    assert not {"ruff", "mypy", "build", "twine"} & (_extra("test") | _runtime())


def test_version_is_stated_once():
    # setuptools reads jaxact.__version__; pyproject states no version of its own.
    assert "version" not in PROJECT and "version" in PROJECT["dynamic"]
    attr = PYPROJECT["tool"]["setuptools"]["dynamic"]["version"]["attr"]
    assert attr == "jaxact.__version__"
    assert re.fullmatch(r"\d+\.\d+\.\d+", jaxact.__version__)


def test_license_and_py_typed_are_shipped():
    assert PROJECT["license"] == "Apache-2.0" and PROJECT["license-files"] == ["LICENSE"]
    license_text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in license_text and "Version 2.0, January 2004" in license_text
    assert (ROOT / "jaxact" / "py.typed").is_file()
    assert "py.typed" in PYPROJECT["tool"]["setuptools"]["package-data"]["jaxact"]
    assert "Typing :: Typed" in PROJECT["classifiers"]


# --------------------------------------------------------------------------
# the built distributions, installed as a user installs them


def _run(*args, cwd=None) -> str:
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True)
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.mark.skipif(
    os.environ.get("JAXACT_PACKAGE_CHECK") != "1",
    reason="installs JAX into a fresh venv; `make package-check` runs it",
)
def test_wheel_and_sdist_install_in_fresh_venvs(tmp_path):
    dist = tmp_path / "dist"
    # build makes the sdist, then the wheel from the unpacked sdist, so a file
    # the sdist lacks fails the wheel's build.
    _run(sys.executable, "-m", "build", "--outdir", str(dist), str(ROOT))
    (wheel,) = dist.glob("jaxact-*.whl")
    (sdist,) = dist.glob("jaxact-*.tar.gz")
    version = jaxact.__version__
    assert wheel.name == f"jaxact-{version}-py3-none-any.whl"
    _run(sys.executable, "-m", "twine", "check", "--strict", str(wheel), str(sdist))

    wheel_files = set(zipfile.ZipFile(wheel).namelist())
    info = f"jaxact-{version}.dist-info"
    assert {"jaxact/py.typed", "jaxact/requirements.txt", "jaxact/nn.py", "jaxact/nnx.py"} <= (
        wheel_files
    )
    assert f"{info}/licenses/LICENSE" in wheel_files
    assert {name.split("/")[0] for name in wheel_files} == {"jaxact", info}
    sdist_files = {name.split("/", 1)[1] for name in tarfile.open(sdist).getnames() if "/" in name}
    assert {"LICENSE", "README.md", "pyproject.toml", "jaxact/requirements.txt"} <= sdist_files
    assert "jaxact/py.typed" in sdist_files

    # Run from tmp_path so that the repository's jaxact/ is not on sys.path.
    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", str(venv))
    python = str(venv / "bin" / "python")
    pip = (python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check")
    _run(*pip, str(wheel), cwd=tmp_path)
    imported = _run(
        python, "-c",
        "import importlib.metadata, pathlib, jaxact, jaxact.nn;"
        "print(jaxact.__version__, importlib.metadata.version('jaxact'),"
        " (pathlib.Path(jaxact.__file__).parent / 'py.typed').is_file(),"
        " jaxact.nn.softmax is __import__('jax').nn.softmax, jaxact.__file__)",
        cwd=tmp_path,
    ).split()  # fmt: skip
    assert imported[:4] == [version, version, "True", "True"]
    assert Path(imported[4]).is_relative_to(venv)
    # Without the extra, jaxact.nnx needs flax, which is not there...
    without = subprocess.run(
        [python, "-c", "import jaxact.nnx"], cwd=tmp_path, capture_output=True, text=True
    )
    assert without.returncode != 0 and "No module named 'flax'" in without.stderr
    # ... and the flax extra brings it.
    _run(*pip, f"{wheel}[flax]", cwd=tmp_path)
    _run(python, "-c", "import jaxact.nnx; jaxact.nnx.PReLU(3)", cwd=tmp_path)
