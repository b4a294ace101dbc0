"""Fails the docs build when a public name of jaxact is not in the API reference.

The public names are ``jaxact.__all__`` and the ``__all__`` of jaxact's own
submodules (``jaxact.diagnostics``, ``jaxact.nnx``). A name is documented when an
``autosummary`` table or an ``auto*`` directive of ``docs/api/*.rst`` lists it;
every submodule in ``jaxact.__all__`` needs a ``module`` or ``automodule``
directive (a re-exported namespace such as ``jaxact.nn``, whose other names are
JAX's, needs only that).
The page scan has no Sphinx import, so ``tests/test_docs.py`` runs it in the
test suite; the Sphinx hook also checks that autodoc documented every name.
"""

from __future__ import annotations

import importlib
import pathlib
import re
import types

API_DIR = pathlib.Path(__file__).resolve().parents[1] / "api"
# Submodules whose every name in __all__ is documented. jaxact.nnx needs flax,
# so `import jaxact` does not import it and jaxact.__all__ does not name it.
MODULES_WITH_MEMBERS = ("jaxact.diagnostics", "jaxact.nnx")

_DIRECTIVE = re.compile(r"^\.\. (\w+)::\s*(\S*)")
_AUTO_OBJECTS = {"autofunction", "autoclass", "autodata", "autoattribute"}


def public_names() -> set[str]:
    """Every public name, fully qualified (submodules as ``module:NAME``)."""
    jaxact = importlib.import_module("jaxact")
    names: set[str] = set()
    for name in jaxact.__all__:
        if isinstance(getattr(jaxact, name), types.ModuleType):
            names.add(f"module:jaxact.{name}")
        else:
            names.add(f"jaxact.{name}")
    for module_name in MODULES_WITH_MEMBERS:
        names.add(f"module:{module_name}")
        module = importlib.import_module(module_name)
        names.update(f"{module_name}.{name}" for name in module.__all__)
    return names


def documented_names(api_dir: pathlib.Path = API_DIR) -> set[str]:
    """The names the API pages list, qualified as ``public_names`` qualifies them."""
    names: set[str] = set()
    for page in sorted(api_dir.glob("*.rst")):
        current = None
        in_table = False
        for line in page.read_text().splitlines():
            match = _DIRECTIVE.match(line)
            if match:
                directive, argument = match.groups()
                in_table = directive == "autosummary"
                if directive in ("module", "currentmodule", "automodule"):
                    current = argument
                    if directive != "currentmodule":
                        names.add(f"module:{argument}")
                elif directive in _AUTO_OBJECTS:
                    names.add(_qualify(current, argument))
                continue
            if not in_table:
                continue
            if line and not line[0].isspace():
                in_table = False
                continue
            entry = line.strip()
            if entry and not entry.startswith(":"):
                names.add(_qualify(current, entry))
    return names


def _qualify(module: str | None, name: str) -> str:
    if module is None or name.startswith(module + "."):
        return name
    return f"{module}.{name}"


def coverage_problems(api_dir: pathlib.Path = API_DIR) -> list[str]:
    """One line per public name the pages leave out and per listed name that is not public."""
    public = public_names()
    listed = documented_names(api_dir)
    problems = [f"{name} is public but not in docs/api/*.rst" for name in sorted(public - listed)]
    problems += [f"{name} is in docs/api/*.rst but not public" for name in sorted(listed - public)]
    return problems


def _check_pages(app) -> None:
    from sphinx.util import logging

    logger = logging.getLogger(__name__)
    for problem in coverage_problems():
        logger.warning("API coverage: %s", problem)


def _check_documented(app, env) -> None:
    """After reading: every public name became a Python object of the reference."""
    from sphinx.util import logging

    logger = logging.getLogger(__name__)
    domain = env.get_domain("py")
    objects = set(domain.objects)
    modules = set(domain.modules) if hasattr(domain, "modules") else set()
    for name in sorted(public_names()):
        if name.startswith("module:"):
            if name.removeprefix("module:") not in modules | objects:
                logger.warning("API coverage: %s has no module entry", name)
        elif name not in objects:
            logger.warning("API coverage: %s was not documented by autodoc", name)


def setup(app):
    app.connect("builder-inited", _check_pages)
    app.connect("env-check-consistency", _check_documented)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
