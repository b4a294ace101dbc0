"""The API reference lists every public name (the check `make docs` also runs)."""

import importlib.util
import inspect
import json
import pathlib
import shutil

import pytest

DOCS = pathlib.Path(__file__).resolve().parents[1] / "docs"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, DOCS / "_ext" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


api_coverage = _load("api_coverage")


def test_every_public_name_is_in_the_api_pages():
    assert api_coverage.coverage_problems() == []


def test_the_public_names_include_every_module_level_list():
    import jaxact
    import jaxact.diagnostics
    import jaxact.nnx

    public = api_coverage.public_names()
    functions = [name for name in jaxact.__all__ if not inspect.ismodule(getattr(jaxact, name))]
    assert {f"jaxact.{name}" for name in functions} <= public
    assert {f"jaxact.diagnostics.{name}" for name in jaxact.diagnostics.__all__} <= public
    assert {f"jaxact.nnx.{name}" for name in jaxact.nnx.__all__} <= public
    assert "module:jaxact.diagnostics" in public


def test_a_name_left_out_or_not_public_is_reported(tmp_path):
    api = tmp_path / "api"
    shutil.copytree(DOCS / "api", api, ignore=shutil.ignore_patterns("generated"))
    functions = api / "functions.rst"
    text = functions.read_text()
    assert "\n   squareplus\n" in text
    functions.write_text(text.replace("\n   squareplus\n", "\n   squareplus_typo\n"))
    assert api_coverage.coverage_problems(api) == [
        "jaxact.squareplus is public but not in docs/api/*.rst",
        "jaxact.squareplus_typo is in docs/api/*.rst but not public",
    ]


def test_a_module_needs_its_own_entry(tmp_path):
    api = tmp_path / "api"
    shutil.copytree(DOCS / "api", api, ignore=shutil.ignore_patterns("generated"))
    page = api / "diagnostics.rst"
    page.write_text(page.read_text().replace(".. automodule:: jaxact.diagnostics\n", ""))
    assert api_coverage.coverage_problems(api) == [
        "module:jaxact.diagnostics is public but not in docs/api/*.rst"
    ]


def _row(function, quantity, implementation, max_ulp, nonfinite=0):
    groups = {name: {"nonfinite_error": 0} for name in (
        "normal input, normal result", "zero or subnormal input",
        "result below 2^-126 (subnormal or 0)")}
    groups["normal input, normal result"].update(
        max_ulp=max_ulp, p9999_ulp=max_ulp, nonfinite_error=nonfinite)
    return {"function": function, "quantity": quantity, "implementation": implementation,
            "groups": groups}


def test_accuracy_tables_render_every_row_and_an_inf_the_json_wrote_as_null():
    pytest.importorskip("sphinx")  # the `docs` extra; the rest of this file needs none
    accuracy_tables = _load("accuracy_tables")
    result = {"rows": [
        _row("gelu", "f", "jaxact", 1.93), _row("gelu", "f", "jax.nn", 16777213.0),
        _row("gelu", "f'", "jaxact", 3.05), _row("gelu", "f'", "jax.nn", None, 536870912),
        _row("tanh", "f'", "lax HIGHEST", 3.5),
    ]}
    header, body = accuracy_tables.table_rows(result)
    assert header == ["function", "quantity", "jaxact max", "jax.nn max", "lax HIGHEST max",
                      "jaxact 99.99 %"]
    assert body == [
        ["gelu", "f", "1.93", "1.7e+07", "–", "1.93"],
        ["gelu", "f'", "3.05", "inf (536,870,912 inf/NaN)", "–", "3.05"],
        ["tanh", "f'", "–", "–", "3.5", "–"],
    ]


def test_accuracy_tables_cover_the_committed_results():
    pytest.importorskip("sphinx")
    accuracy_tables = _load("accuracy_tables")
    for path in sorted((DOCS.parent / "benchmarks" / "results").glob("accuracy*.json")):
        result = json.loads(path.read_text())
        _, body = accuracy_tables.table_rows(result)
        keys = {(row["function"], row["quantity"]) for row in result["rows"]}
        assert {(row[0], row[1]) for row in body} == keys, path.name
