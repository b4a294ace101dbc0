"""The experiments suite: a quick run end to end and the report command (resuming: test_runner.py).

The quick run is shared by the tests of this file (a module fixture): it is
the expensive part, and each test checks a different property of it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from experiments import EXPERIMENT_NAMES
from experiments.__main__ import main


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("quick")
    assert main(["all", "--quick", "--seeds", "2", "--out", str(out)]) == 0
    return out


def test_every_experiment_writes_png_json_and_report_rows(quick_run):
    claims = []
    for name in EXPERIMENT_NAMES:
        png = quick_run / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
        results = json.loads((quick_run / f"{name}.json").read_text())
        assert results["meta"]["experiment"] == name
        assert results["meta"]["quick"] is True
        assert results["claims"], f"{name} states no claim"
        claims += results["claims"]
    report = (quick_run / "REPORT.md").read_text()
    rows = [line for line in report.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) == len(claims) + 1  # the header row
    for row, expected in zip(rows[1:], claims, strict=True):
        assert expected["claim"].replace("|", "\\|") in row
        assert f"**{expected['verdict']}**" in row
        verdict = expected["verdict"]
        assert verdict in ("holds", "does not hold") or verdict.startswith("depends on "), verdict


def test_no_temporary_files_left(quick_run):
    assert not [path.name for path in quick_run.iterdir() if path.name.endswith(".tmp")]


def test_missing_data_dir_is_one_clear_error(tmp_path, capsys):
    missing = tmp_path / "no-such-dir"
    code = main(["prelu", "--quick", "--dataset", "mnist", "--data-dir", str(missing),
                 "--out", str(tmp_path / "out")])
    assert code == 2
    assert str(missing) in capsys.readouterr().err
    assert not (tmp_path / "out" / "prelu.json").exists()


def test_report_command_redraws_from_json_alone(quick_run):
    report = (quick_run / "REPORT.md").read_text()
    (quick_run / "curves.png").unlink()
    assert main(["report", "--out", str(quick_run)]) == 0
    assert (quick_run / "curves.png").read_bytes()[:4] == b"\x89PNG"
    assert (quick_run / "REPORT.md").read_text() == report


def test_curves_has_a_panel_set_of_the_modern_functions(quick_run):
    # The second panel set: the jax.nn functions beyond the classic eight, with
    # finite values and derivatives over the whole plotted range.
    results = json.loads((quick_run / "curves.json").read_text())
    modern = results["modern"]
    assert modern and set(modern) <= set(results["curves"])
    labels = {label for family in modern for label in results["curves"][family]}
    for name in ("silu", "mish", "selu", "soft_sign", "hard_tanh", "sparse_plus", "relu6"):
        assert name in labels, name
    for family in modern:
        for label, curve in results["curves"][family].items():
            for key in ("value", "derivative"):
                values = curve[key]
                assert all(v is not None and abs(v) < float("inf") for v in values), (label, key)
