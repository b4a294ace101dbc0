"""Sphinx configuration of jaxact's documentation (`make docs`)."""

import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "docs" / "_ext"))

import jaxact  # noqa: E402

project = "jaxact"
author = "The jaxact maintainers"
copyright = "the jaxact maintainers"
release = jaxact.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "myst_parser",
    "api_coverage",
    "accuracy_tables",
    "claims_report",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "api/generated/*.rst.txt"]
templates_path = ["_templates"]

autosummary_generate = True
autodoc_typehints = "signature"
# The functions' annotations are postponed (from __future__ import annotations),
# so this keeps `ArrayLike` instead of spelling out the union it stands for.
autodoc_type_aliases = {"ArrayLike": "jax.typing.ArrayLike"}
autodoc_member_order = "bysource"
napoleon_google_docstring = True
napoleon_numpy_docstring = False

myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3

html_theme = "furo"
html_title = f"jaxact {release}"
