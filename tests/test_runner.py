"""The experiment runner's bookkeeping: where results go, resuming, locking, errors.

Training is stubbed (``stub_experiments``): these tests check what
``python -m experiments`` writes, skips and refuses, not what it measures, so
each takes a fraction of a second. ``tests/test_experiments.py`` runs the real
experiments end to end.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

import experiments.__main__ as runner
from experiments import EXPERIMENT_NAMES
from experiments.common import claim, write_text

REPO = Path(__file__).resolve().parents[1]


class StubExperiment:
    """Stands in for an experiment module: records its runs, writes tiny files."""

    def __init__(self, name: str, calls: list):
        self.name = name
        self.calls = calls

    def run(self, options):
        self.calls.append(self.name)
        return {"value": len(self.calls), "data_dir": options.data_dir}

    def plot(self, results, path):
        write_text(path, f"figure of {self.name}\n")

    def claims(self, results):
        return [claim(f"{self.name}-1", f"claim of {self.name}", str(results["value"]),
                      "holds", results["figure"])]


@pytest.fixture
def stub_experiments(monkeypatch) -> list:
    """Replaces every experiment by a stub; returns the list of names run, in order."""
    calls: list = []
    stubs = {name: StubExperiment(name, calls) for name in EXPERIMENT_NAMES}
    monkeypatch.setattr(runner, "_experiment", stubs.__getitem__)
    return calls


# --------------------------------------------------------------------------
# Where results go


def test_quick_run_writes_beside_the_committed_results_not_over_them(
        tmp_path, monkeypatch, stub_experiments):
    committed, quick = tmp_path / "results", tmp_path / "results-quick"
    monkeypatch.setattr(runner, "DEFAULT_OUT", committed)
    monkeypatch.setattr(runner, "DEFAULT_QUICK_OUT", quick)
    assert runner.main(["curves", "--quick", "--seeds", "1"]) == 0
    assert (quick / "curves.json").exists() and (quick / "REPORT.md").exists()
    assert not committed.exists()
    # A full run still writes to the committed directory.
    assert runner.main(["curves", "--seeds", "1"]) == 0
    assert json.loads((committed / "curves.json").read_text())["meta"]["quick"] is False


def test_explicit_out_is_honoured_for_quick_runs(tmp_path, monkeypatch, stub_experiments):
    monkeypatch.setattr(runner, "DEFAULT_OUT", tmp_path / "results")
    monkeypatch.setattr(runner, "DEFAULT_QUICK_OUT", tmp_path / "results-quick")
    assert runner.main(["curves", "--quick", "--seeds", "1", "--out", str(tmp_path / "x")]) == 0
    assert (tmp_path / "x" / "curves.json").exists()
    assert not (tmp_path / "results").exists() and not (tmp_path / "results-quick").exists()


def test_default_quick_directory_is_apart_and_git_ignored():
    committed, quick = runner.DEFAULT_OUT, runner.DEFAULT_QUICK_OUT
    assert quick != committed and committed not in quick.parents
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    probe = quick.relative_to(REPO) / "REPORT.md"
    ignored = subprocess.run(["git", "check-ignore", "-q", str(probe)], cwd=REPO)
    assert ignored.returncode == 0, f"{probe} is not git-ignored"
