"""The experiment runner's bookkeeping: where results go, resuming, locking, errors.

Training is stubbed (``stub_experiments``): these tests check what
``python -m experiments`` writes, skips and refuses, not what it measures, so
each takes a fraction of a second (the experiments' own tests run them end to
end). The tiny MNIST files come from the data readers' tests (``test_data.py``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

import experiments
import experiments.__main__ as runner
from experiments import EXPERIMENT_NAMES
from experiments.common import claim, write_text

# Wherever this file lies under tests/, the checkout is the one holding the package.
REPO = Path(experiments.__file__).resolve().parents[1]


class StubExperiment:
    """Stands in for an experiment module: records its runs, writes tiny files."""

    def __init__(self, name: str, calls: list):
        self.name = name
        self.calls = calls

    def run(self, options):
        self.calls.append(self.name)
        return {"value": len(self.calls), "data_dir": options.data_dir}

    def plot(self, results, path):
        write_text(path, f"figure of {self.name}: {results['value']}\n")

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
    # The runner's own files in the committed directory are not results either.
    probes = [quick / "REPORT.md", committed / runner._MANIFEST, committed / runner._LOCK]
    for probe in probes:
        probe = probe.relative_to(REPO)
        ignored = subprocess.run(["git", "check-ignore", "-q", str(probe)], cwd=REPO)
        assert ignored.returncode == 0, f"{probe} is not git-ignored"
    tracked = subprocess.run(["git", "ls-files", str(committed.relative_to(REPO))], cwd=REPO,
                             capture_output=True, text=True, check=True).stdout.split()
    assert not [path for path in tracked if Path(path).name.startswith(".")], tracked


# --------------------------------------------------------------------------
# Resuming `all`

QUICK = ["--quick", "--seeds", "1"]


def _interrupt_at(monkeypatch, name: str) -> None:
    """Makes the stub of ``name`` raise KeyboardInterrupt, as Ctrl-C would."""
    stub = runner._experiment(name)

    def interrupted(options):
        raise KeyboardInterrupt

    monkeypatch.setattr(stub, "run", interrupted)


def _interrupted_all(tmp_path, monkeypatch, calls, args=(), at="dead_relu") -> Path:
    """An `all` run stopped by Ctrl-C at experiment ``at``; returns its --out."""
    out = tmp_path / "out"
    with monkeypatch.context() as patch:
        _interrupt_at(patch, at)
        assert runner.main(["all", *QUICK, "--out", str(out), *args]) == 130
    done = EXPERIMENT_NAMES[: EXPERIMENT_NAMES.index(at)]
    assert calls == list(done)
    calls.clear()
    return out


def _mtimes(out: Path) -> dict[str, int]:
    return {path.name: path.stat().st_mtime_ns for path in out.glob("*.json")}


def test_interrupted_all_resumes_with_the_experiments_it_wrote(
        tmp_path, monkeypatch, stub_experiments, capsys):
    out = _interrupted_all(tmp_path, monkeypatch, stub_experiments)
    done = EXPERIMENT_NAMES[: EXPERIMENT_NAMES.index("dead_relu")]
    before = _mtimes(out)
    assert runner.main(["all", *QUICK, "--out", str(out)]) == 0
    assert stub_experiments == list(EXPERIMENT_NAMES[len(done):])
    printed = capsys.readouterr().out
    for name in done:
        assert f"{name}: finished before the interruption, skipped" in printed
        assert (out / f"{name}.json").stat().st_mtime_ns == before[f"{name}.json"]
    rows = [line for line in (out / "REPORT.md").read_text().splitlines() if "**holds**" in line]
    assert len(rows) == len(EXPERIMENT_NAMES)  # one stub claim each, resumed or not
    # A completed run is measured afresh the next time.
    stub_experiments.clear()
    assert runner.main(["all", *QUICK, "--out", str(out)]) == 0
    assert stub_experiments == list(EXPERIMENT_NAMES)


def _same(data, tmp_path):
    return ["--dataset", "fashion-mnist", "--data-dir", str(data)]


def _other_dir_same_contents(data, tmp_path):
    shutil.copytree(data, tmp_path / "copy")
    return ["--dataset", "fashion-mnist", "--data-dir", str(tmp_path / "copy")]


def _same_dir_other_contents(data, tmp_path):
    from tests.experiments.test_data import write_mnist

    write_mnist(data, seed=1)
    return _same(data, tmp_path)


@pytest.mark.parametrize("changed_args", [
    lambda data, tmp_path: ["--seeds", "2", *_same(data, tmp_path)],
    lambda data, tmp_path: ["--dataset", "mnist", "--data-dir", str(data)],
    _other_dir_same_contents,
    _same_dir_other_contents,
    lambda data, tmp_path: ["--force", *_same(data, tmp_path)],
], ids=["seeds", "dataset", "data-dir", "data-contents", "force"])
def test_resume_is_keyed_on_every_option(
        tmp_path, monkeypatch, stub_experiments, changed_args):
    import experiments.common as common
    from tests.experiments.test_data import write_mnist

    data = tmp_path / "data"
    write_mnist(data)
    out = _interrupted_all(tmp_path, monkeypatch, stub_experiments, _same(data, tmp_path))
    monkeypatch.setattr(common, "_DATA_CACHE", {})  # as a new process reads the files again
    args = changed_args(data, tmp_path)
    # The last "--seeds" wins, so the seeds case really runs with 2.
    assert runner.main(["all", *QUICK, "--out", str(out), *args]) == 0
    assert stub_experiments == list(EXPERIMENT_NAMES)


def test_resume_with_the_same_data_reads_it_again_and_skips(
        tmp_path, monkeypatch, stub_experiments):
    import experiments.common as common
    from tests.experiments.test_data import write_mnist

    data = tmp_path / "data"
    write_mnist(data)
    out = _interrupted_all(tmp_path, monkeypatch, stub_experiments, _same(data, tmp_path))
    monkeypatch.setattr(common, "_DATA_CACHE", {})
    relative = os.path.relpath(data)  # the same directory, spelled otherwise
    assert runner.main(["all", *QUICK, "--out", str(out), "--dataset", "fashion-mnist",
                        "--data-dir", relative]) == 0
    assert stub_experiments == list(EXPERIMENT_NAMES[EXPERIMENT_NAMES.index("dead_relu"):])


def test_resume_reruns_an_experiment_whose_files_another_run_rewrote(
        tmp_path, monkeypatch, stub_experiments):
    out = _interrupted_all(tmp_path, monkeypatch, stub_experiments)
    # Between the interruption and the resume, one experiment is run alone with
    # other options and one figure is edited by hand.
    assert runner.main(["saturation", "--seeds", "3", "--out", str(out)]) == 0
    (out / "curves.png").write_text("edited")
    stub_experiments.clear()
    assert runner.main(["all", *QUICK, "--out", str(out)]) == 0
    assert stub_experiments[:2] == ["curves", "saturation"]
    assert "zero_centred" not in stub_experiments
    assert json.loads((out / "saturation.json").read_text())["meta"]["seeds"] == 1


def test_results_of_an_unrelated_earlier_run_are_never_reused(
        tmp_path, monkeypatch, stub_experiments):
    out = tmp_path / "out"
    # Results from elsewhere (a copy, a commit, an older runner): no manifest of ours.
    assert runner.main(["all", *QUICK, "--out", str(out)]) == 0
    (out / runner._MANIFEST).unlink()
    (out / ".all-in-progress.json").write_text('{"dataset": "digits", "seeds": 1, "quick": true}')
    stub_experiments.clear()
    assert runner.main(["all", *QUICK, "--out", str(out)]) == 0
    assert stub_experiments == list(EXPERIMENT_NAMES)


# --------------------------------------------------------------------------
# Interruption, concurrency, temporary files


def test_ctrl_c_exits_130_leaving_no_half_written_file(
        tmp_path, monkeypatch, stub_experiments, capsys):
    import harness.files as files

    out = tmp_path / "out"
    real_replace = os.replace

    def interrupted_replace(source, target):
        if str(target).endswith("zero_centred.json"):
            raise KeyboardInterrupt  # Ctrl-C between writing the data and renaming it
        real_replace(source, target)

    monkeypatch.setattr(files.os, "replace", interrupted_replace)
    assert runner.main(["all", *QUICK, "--out", str(out)]) == 130
    err = capsys.readouterr().err
    assert err.startswith("python -m experiments: interrupted") and "Traceback" not in err
    assert sorted(path.name for path in out.iterdir() if path.name.endswith(".tmp")) == []
    assert not (out / "zero_centred.json").exists()
    # The figure written before the interruption is redrawn: only the manifest counts.
    monkeypatch.setattr(files.os, "replace", real_replace)
    stub_experiments.clear()
    assert runner.main(["all", *QUICK, "--out", str(out)]) == 0
    assert stub_experiments[0] == "zero_centred"


def test_second_run_on_the_same_out_is_refused_with_a_clear_error(
        tmp_path, stub_experiments, capsys):
    out = tmp_path / "out"
    out.mkdir()
    with runner._exclusive(out):  # a first run holds the directory
        assert runner.main(["curves", *QUICK, "--out", str(out)]) == 2
        assert runner.main(["report", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{out}: another run is writing here (pid {os.getpid()}" in err
    assert "Traceback" not in err and stub_experiments == []
    # Released when the first run ends (also when its process is killed).
    assert runner.main(["curves", *QUICK, "--out", str(out)]) == 0


def test_next_run_removes_temporary_files_a_killed_run_left(tmp_path, stub_experiments):
    out = tmp_path / "out"
    out.mkdir()
    orphans = [".curves.json.k2_x9a.tmp", ".REPORT.md.abcdefgh.tmp", ".maxout.png.0aZ.tmp"]
    others = [".notes.txt.abcdefgh.tmp", "mine.tmp", ".curves.json.tmp"]
    for name in orphans + others:
        (out / name).write_text("partial")
    assert runner.main(["saturation", *QUICK, "--out", str(out)]) == 0
    assert sorted(path.name for path in out.iterdir() if path.name.endswith(".tmp")) == sorted(
        others)


# --------------------------------------------------------------------------
# Bad input: one line naming the file, exit status 2, before any work


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.startswith("python -m experiments: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


def test_out_that_is_a_file_fails_before_any_work(tmp_path, stub_experiments, capsys):
    path = tmp_path / "results"
    path.write_text("not a directory")
    for out in (path, path / "sub"):
        assert runner.main(["all", *QUICK, "--out", str(out)]) == 2
        assert str(out) in _one_line_error(capsys)
    assert stub_experiments == []


def test_read_only_out_fails_before_any_work(tmp_path, monkeypatch, stub_experiments, capsys):
    out = tmp_path / "read-only"
    out.mkdir()
    out.chmod(0o555)
    if os.geteuid() == 0:  # root writes anywhere: refuse as a read-only file system would
        def read_only_open(path, *args, **kwargs):
            raise PermissionError(13, "Permission denied", str(path))

        import harness.runs

        monkeypatch.setattr(harness.runs, "open", read_only_open, raising=False)
    try:
        assert runner.main(["all", *QUICK, "--out", str(out)]) == 2
    finally:
        out.chmod(0o755)
    assert f"{out}: cannot write to --out (Permission denied)" in _one_line_error(capsys)
    assert stub_experiments == []


def test_report_without_results_is_an_error(tmp_path, capsys):
    missing = tmp_path / "missing"
    assert runner.main(["report", "--out", str(missing)]) == 2
    assert str(missing) in _one_line_error(capsys)
    assert not missing.exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert runner.main(["report", "--out", str(empty)]) == 2
    assert "no experiment results" in _one_line_error(capsys)
    assert not (empty / "REPORT.md").exists()


@pytest.mark.parametrize(
    "damage", ["truncated", "not-an-object", "no-claims", "binary", "no-numbers"])
def test_unreadable_result_names_its_file(tmp_path, stub_experiments, capsys, damage):
    out = tmp_path / "out"
    assert runner.main(["curves", *QUICK, "--out", str(out)]) == 0
    assert runner.main(["saturation", *QUICK, "--out", str(out)]) == 0
    capsys.readouterr()
    path = out / "curves.json"
    text = path.read_text()
    damaged = {
        "truncated": text[: len(text) // 2],
        "not-an-object": "[1, 2]",
        "no-claims": json.dumps({**json.loads(text), "claims": None}),
        # What the figure is drawn from: only `report` redraws figures.
        "no-numbers": json.dumps({k: v for k, v in json.loads(text).items() if k != "value"}),
    }
    if damage == "binary":
        path.write_bytes(b"\xff\xfe\x00garbage")
    else:
        path.write_text(damaged[damage])
    report = (out / "REPORT.md").read_text()
    assert runner.main(["report", "--out", str(out)]) == 2
    assert str(path) in _one_line_error(capsys)
    assert (out / "REPORT.md").read_text() == report
    # A run that regenerates the report reports it alike.
    if damage != "no-numbers":
        assert runner.main(["saturation", *QUICK, "--out", str(out)]) == 2
        assert str(path) in _one_line_error(capsys)


@pytest.mark.parametrize("problem", ["missing-file", "0-images"])
def test_bad_data_files_fail_before_any_work(tmp_path, stub_experiments, capsys, problem):
    import numpy as np

    from tests.experiments.test_data import write_idx, write_mnist

    data = tmp_path / "data"
    write_mnist(data)
    bad = data / "t10k-images-idx3-ubyte"
    if problem == "missing-file":
        bad.unlink()
    else:
        write_idx(bad, np.zeros((0, 4, 4), np.uint8))
        write_idx(data / "t10k-labels-idx1-ubyte", np.zeros(0, np.uint8))
    out = tmp_path / "out"
    assert runner.main(["all", *QUICK, "--dataset", "mnist", "--data-dir", str(data),
                        "--out", str(out)]) == 2
    assert str(bad) in _one_line_error(capsys)
    assert stub_experiments == []


def test_sigint_to_the_command_exits_130_in_one_line(tmp_path):
    import signal
    import sys
    import time

    out = tmp_path / "out"
    # SIGINT as in a terminal: a test run started in the background by a
    # non-interactive shell ignores SIGINT, the command would inherit that
    # and run to the end (exit 0). (The full run, not --quick, which could
    # finish before the signal lands; interrupted, it costs no more.)
    process = subprocess.Popen(
        [sys.executable, "-m", "experiments", "curves", "--out", str(out)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 120
        # The lock names the run once it holds --out: the work starts right after.
        while not (out / runner._LOCK).exists() or not (out / runner._LOCK).read_text():
            assert process.poll() is None and time.monotonic() < deadline, process.poll()
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 130, err
    assert err.strip().splitlines()[-1] == "python -m experiments: interrupted", err
    assert "Traceback" not in err
    assert not (out / "curves.json").exists()
    assert not [path.name for path in out.iterdir() if path.name.endswith(".tmp")]


def test_ctrl_c_dropped_inside_a_gc_callback_is_raised_again(monkeypatch):
    # CPython drops an exception raised in a gc callback (jax has one), a
    # weakref callback or a __del__: the command's hook raises it again.
    import gc
    import signal
    import sys
    import time

    dropped = []

    def callback(phase, info):
        if not dropped:
            dropped.append(phase)
            raise KeyboardInterrupt

    monkeypatch.setattr(sys, "unraisablehook", runner._redeliver_dropped_interrupt)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    # Only the collection below may run the callback: an automatic one (in
    # any thread) before the `with` would raise the interrupt outside it.
    was_enabled = gc.isenabled()
    gc.disable()
    gc.callbacks.append(callback)
    try:
        with pytest.raises(KeyboardInterrupt):
            gc.collect()
            for _ in range(50):
                time.sleep(0.1)
    finally:
        gc.callbacks.remove(callback)
        signal.signal(signal.SIGINT, previous)
        if was_enabled:
            gc.enable()
    assert dropped == ["start"]
