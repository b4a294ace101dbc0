"""The ``accuracy-table`` directive: a table of float32 errors read from a results file.

``benchmarks/results/accuracy*.json`` is what ``make accuracy`` (python -m
benchmarks.accuracy) writes. The directive renders it when the docs are built,
so the Accuracy page cannot drift from the measurement::

    ```{accuracy-table} benchmarks/results/accuracy.json
    :functions: selu
    ```

The argument is a path from the repository root. ``:functions:`` keeps only the
named functions (a row's function name up to its first space). Each row is one
function and quantity (f, f' or df/dalpha); each cell the maximum error in ULP
over the inputs whose true result is a normal float32, and the count of
results that are inf or NaN where the true result is finite.
"""

from __future__ import annotations

import json
import math
import pathlib

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util.docutils import SphinxDirective

ROOT = pathlib.Path(__file__).resolve().parents[2]
MAIN = "normal input, normal result"
# The groups over which results.json counts inf or NaN results of finite
# references (what benchmarks/results/accuracy.md calls NaN/inf).
FINITE_INPUT_GROUPS = (MAIN, "zero or subnormal input", "result below 2^-126 (subnormal or 0)")
# Columns in this order when the file has them; "naive" is the plain formula
# compared where jax.nn has no such function (generalized_logistic).
IMPLEMENTATIONS = ("jaxact", "jax.nn", "naive", "lax HIGHEST")


def format_ulp(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if math.isinf(value):
        return "inf"
    if value >= 1e4:
        return f"{value:.1e}"
    return f"{value:.3g}"


def cell(row: dict) -> str:
    main = row["groups"][MAIN]
    max_ulp = main.get("max_ulp")
    if max_ulp is None and main["nonfinite_error"]:
        max_ulp = math.inf  # JSON has no inf: the results file writes null
    text = format_ulp(max_ulp)
    nonfinite = sum(row["groups"][g]["nonfinite_error"] for g in FINITE_INPUT_GROUPS)
    if nonfinite:
        text += f" ({nonfinite:,} inf/NaN)"
    return text


def summary(result: dict) -> str:
    if result["stride"] == 1:
        inputs = "all 2^32 float32 inputs"
    else:
        inputs = f"{result['samples']:,} float32 inputs (one in every {result['stride']})"
    return (
        f"{inputs}; {result['machine']}; {result['date'][:10]}; {result['seconds']:.0f} s."
    )


def table_rows(result: dict, functions: set[str] | None = None):
    """Header and body rows: one per (function, quantity), one column per implementation."""
    cells: dict[tuple[str, str], dict[str, str]] = {}
    p9999: dict[tuple[str, str], str] = {}
    present = set()
    for row in result["rows"]:
        if functions is not None and row["function"].split(" ")[0] not in functions:
            continue
        key = (row["function"], row["quantity"])
        cells.setdefault(key, {})[row["implementation"]] = cell(row)
        present.add(row["implementation"])
        if row["implementation"] == "jaxact":
            p9999[key] = format_ulp(row["groups"][MAIN].get("p9999_ulp"))
    columns = [name for name in IMPLEMENTATIONS if name in present]
    columns += sorted(present - set(columns))
    header = ["function", "quantity", *(f"{name} max" for name in columns), "jaxact 99.99 %"]
    body = [
        [*key, *(row.get(name, "–") for name in columns), p9999.get(key, "–")]
        for key, row in cells.items()
    ]
    return header, body


def _table(header: list[str], body: list[list[str]]) -> nodes.table:
    table = nodes.table(classes=["accuracy-table"])
    group = nodes.tgroup(cols=len(header))
    table += group
    for _ in header:
        group += nodes.colspec(colwidth=1)
    head = nodes.thead()
    group += head
    for cells in [header]:
        head += _row(cells)
    tbody = nodes.tbody()
    group += tbody
    for cells in body:
        tbody += _row(cells)
    return table


def _row(cells: list[str]) -> nodes.row:
    row = nodes.row()
    for text in cells:
        entry = nodes.entry()
        entry += nodes.paragraph(text=text)
        row += entry
    return row


class AccuracyTable(SphinxDirective):
    required_arguments = 1
    option_spec = {"functions": directives.unchanged}

    def run(self):
        path = ROOT / self.arguments[0]
        self.env.note_dependency(str(path))
        try:
            result = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            message = f"accuracy-table: cannot read {self.arguments[0]}: {error}"
            raise self.error(message) from None
        functions = None
        if "functions" in self.options:
            functions = set(self.options["functions"].replace(",", " ").split())
        header, body = table_rows(result, functions)
        if not body:
            raise self.error(f"accuracy-table: no rows for {sorted(functions or [])}")
        caption = nodes.paragraph(text=f"{self.arguments[0]}: {summary(result)}")
        return [caption, _table(header, body)]


def setup(app):
    app.add_directive("accuracy-table", AccuracyTable)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
