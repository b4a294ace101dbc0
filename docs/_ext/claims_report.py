"""The ``claims-report`` directive: experiments/results/REPORT.md inside a docs page.

The report links its figures by file name (``[curves.png](curves.png)``), which
is right beside the report but not in the docs. The directive reads the report
when the docs are built, drops its title (the page has its own), turns each
figure link into a download link to the committed figure, and shows the
figures after the table. Use it in a MyST page::

    ```{claims-report}
    ```
"""

from __future__ import annotations

import os
import pathlib
import re

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective

ROOT = pathlib.Path(__file__).resolve().parents[2]
REPORT = ROOT / "experiments" / "results" / "REPORT.md"
_FIGURE_LINK = re.compile(r"\[([^\]]+)\]\(([\w.-]+\.png)\)")


class ClaimsReport(SphinxDirective):
    has_content = False

    def run(self):
        self.env.note_dependency(str(REPORT))
        docdir = pathlib.Path(self.env.doc2path(self.env.docname)).parent
        results = pathlib.Path(os.path.relpath(REPORT.parent, docdir)).as_posix()
        lines = REPORT.read_text().splitlines()
        if lines and lines[0].startswith("# "):
            lines = lines[1:]
        figures = []

        def download(match: re.Match) -> str:
            name = match.group(2)
            if name not in figures:
                figures.append(name)
            return f"{{download}}`{match.group(1)} <{results}/{name}>`"

        text = [_FIGURE_LINK.sub(download, line) for line in lines]
        for name in figures:
            text += ["", f"![{name}]({results}/{name})"]
        node = nodes.container()
        self.state.nested_parse(StringList(text, source=str(REPORT)), 0, node)
        return node.children


def setup(app):
    app.add_directive("claims-report", ClaimsReport)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
