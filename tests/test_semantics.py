"""Input and parameter semantics: weak types, dtype promotion as jax.numpy,
kink conventions of higher derivatives, parameters checked as computed with,
errors that name the function, and the guard on JAX's private names.

Each test here failed before the fix it covers (issue 11).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import jax
import jaxlib
from packaging.specifiers import SpecifierSet

from jaxact._src import jax_internals

ROOT = Path(__file__).resolve().parent.parent


def run_python(code: str, **env) -> subprocess.CompletedProcess:
    """``code`` in a fresh interpreter at the repository root (JAX reads flags at import)."""
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


# --------------------------------------------------------------------------
# private JAX names (issue 11 item 10)


def test_pinned_jax_range_is_the_supported_one_and_holds_the_installed_jax():
    # (tomllib is Python 3.11+, and the project supports 3.10.)
    pyproject = (ROOT / "pyproject.toml").read_text()
    pins = dict(re.findall(r'^\s*"(jax|jaxlib)([<>=!~][^"]*)",', pyproject, re.MULTILINE))
    assert pins == {"jax": jax_internals.SUPPORTED_JAX, "jaxlib": jax_internals.SUPPORTED_JAX}
    supported = SpecifierSet(jax_internals.SUPPORTED_JAX)
    assert jax.__version__ in supported
    assert jaxlib.__version__ in supported


def _import_fails_loudly(patch: str, missing: str) -> None:
    result = run_python(f"{patch}\nimport jaxact")
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("ImportError: jaxact:"), result.stderr
    assert missing in last_line
    assert f"jax{jax_internals.SUPPORTED_JAX}" in last_line


def test_import_fails_loudly_without_eager_constant_folding():
    _import_fails_loudly(
        "import jax._src.config as c; del c.eager_constant_folding",
        "jax._src.config.eager_constant_folding",
    )


def test_import_fails_loudly_without_the_weak_type_conversion():
    # A stand-in that still serves JAX's own callers but has no weak_type argument.
    _import_fails_loudly(
        "import jax._src.lax.lax as lax\n"
        "original = lax._convert_element_type\n"
        "def stub(operand, new_dtype=None, **kwargs):\n"
        "    return original(operand, new_dtype, **kwargs)\n"
        "lax._convert_element_type = stub",
        "jax._src.lax.lax._convert_element_type",
    )


def test_import_succeeds_unpatched():
    result = run_python("import jaxact; print(float(jaxact.sigmoid(0.0)))")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0.5"
