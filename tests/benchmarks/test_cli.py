"""The command lines of `make bench` and `make accuracy`: where results go, locking, errors.

The measurements are stubbed (``stub_bench``, ``stub_accuracy``): these tests
check what ``python -m benchmarks.bench`` and ``python -m benchmarks.accuracy``
write, refuse and report, not what they measure, so each takes milliseconds
(``test_bench.py`` runs the real bench once, end to end).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

import benchmarks
from benchmarks import accuracy, bench
from harness import runs

REPO = Path(benchmarks.__file__).resolve().parents[1]


def _status(main, argv) -> int:
    """The exit status of ``main(argv)``, whether it returns it or argparse exits."""
    try:
        return main(argv)
    except SystemExit as exit_:
        return exit_.code


def _one_line_error(capsys, prog: str) -> str:
    captured = capsys.readouterr()
    err = captured.err
    assert err.startswith(f"python -m {prog}: ") and err.count("\n") == 1, err
    assert "Traceback" not in err and "usage:" not in err
    return err


def _bench_result(quick=False, names=None, suites=bench.SUITES, isas=bench.ISA_LEVELS,
                  dtypes=bench.DTYPES) -> dict:
    """What bench.run returns, with no rows: enough for the command to write it."""
    return {"machine": {"date": "2026-01-01 00:00 UTC"},
            "config": {"quick": quick, "functions": list(names or bench.ELEMENTWISE),
                       "suites": list(suites), "isas": list(isas), "dtypes": list(dtypes)},
            **{suite: [] for suite in bench.SUITES}, "targets": [], "wall_s": 1.0}


@pytest.fixture
def stub_bench(tmp_path, monkeypatch) -> list:
    """Stubs the measuring and the report; the default directories lie in tmp_path.

    Returns the list of run() calls, as keyword dicts."""
    calls: list = []

    def run(**kwargs):
        calls.append(kwargs)
        return _bench_result(**kwargs)

    monkeypatch.setattr(bench, "run", run)
    monkeypatch.setattr(bench, "render_markdown", lambda results: "# bench\n")
    monkeypatch.setattr(bench, "DEFAULT_OUT", tmp_path / "results")
    monkeypatch.setattr(bench, "DEFAULT_QUICK_OUT", tmp_path / "results-quick")
    return calls


@pytest.fixture
def stub_accuracy(tmp_path, monkeypatch) -> list:
    calls: list = []

    def run(chunk_bits, stride, show_progress=True, names=None):
        calls.append({"chunk_bits": chunk_bits, "stride": stride, "names": names})
        return {"stride": stride, "estimated_full_seconds": 60.0, "rows": []}

    monkeypatch.setattr(accuracy, "run", run)
    monkeypatch.setattr(accuracy, "to_markdown", lambda result, command: "# accuracy\n")
    monkeypatch.setattr(accuracy, "RESULTS", tmp_path / "results")
    monkeypatch.setattr(accuracy, "QUICK_RESULTS", tmp_path / "results-quick")
    return calls


def _files(directory: Path) -> list[str]:
    """The results in a directory (the lock file left out)."""
    return sorted(path.name for path in directory.iterdir() if not path.name.endswith(".lock"))


# --------------------------------------------------------------------------
# Where results go: a quick or partial run never over the committed ones


@pytest.mark.parametrize("argv", [["--quick"], ["--functions", "tanh"], ["--suites", "eager"],
                                  ["--quick", "--functions", "sigmoid", "--suites", "eager"],
                                  ["--isa", "AVX2"], ["--dtypes", "float32", "bfloat16"]])
def test_partial_bench_writes_beside_the_committed_results(tmp_path, stub_bench, argv):
    assert bench.main(argv) == 0
    assert _files(tmp_path / "results-quick") == ["bench.json", "bench.md"]
    assert not (tmp_path / "results").exists()


def test_full_bench_writes_the_committed_results(tmp_path, stub_bench):
    assert bench.main([]) == 0
    assert _files(tmp_path / "results") == ["bench.json", "bench.md"]
    # Naming every function, suite, ISA level and dtype is a full run too.
    assert bench.main(["--functions", *bench.ELEMENTWISE, "--suites", *bench.SUITES,
                       "--isa", *bench.ISA_LEVELS, "--dtypes", *bench.DTYPES]) == 0
    assert stub_bench[-1]["isas"] == list(bench.ISA_LEVELS)
    assert stub_bench[-1]["dtypes"] == list(bench.DTYPES)
    assert not (tmp_path / "results-quick").exists()


def test_explicit_out_is_honoured_for_a_quick_bench(tmp_path, stub_bench):
    assert bench.main(["--quick", "--out", str(tmp_path / "mine")]) == 0
    assert _files(tmp_path / "mine") == ["bench.json", "bench.md"]
    assert not (tmp_path / "results").exists() and not (tmp_path / "results-quick").exists()


def _write_part(path: Path, **kwargs) -> Path:
    path.write_text(json.dumps(_bench_result(**kwargs)))
    return path


def test_merge_writes_the_committed_results_only_when_the_parts_make_a_full_run(
        tmp_path, stub_bench):
    half = len(bench.SUITES) // 2
    first = _write_part(tmp_path / "a.json", suites=bench.SUITES[:half])
    second = _write_part(tmp_path / "b.json", suites=bench.SUITES[half:])
    quick = _write_part(tmp_path / "q.json", quick=True, suites=bench.SUITES[half:])
    assert bench.main(["--merge", str(first), str(quick)]) == 0
    assert not (tmp_path / "results").exists()
    assert bench.main(["--merge", str(first)]) == 0
    assert not (tmp_path / "results").exists()
    assert bench.main(["--merge", str(first), str(second)]) == 0
    merged = json.loads((tmp_path / "results" / "bench.json").read_text())
    assert len(merged["config"]["parts"]) == 2 and stub_bench == []
    # Every suite, but one ISA level only: not a full run.
    (tmp_path / "results" / "bench.json").unlink()
    default_only = [_write_part(tmp_path / f"{name}.json", suites=suites, isas=["default"])
                    for name, suites in (("c", bench.SUITES[:half]), ("d", bench.SUITES[half:]))]
    assert bench.main(["--merge", *map(str, default_only)]) == 0
    assert not (tmp_path / "results" / "bench.json").exists()


@pytest.mark.parametrize("argv, name", [
    (["--quick"], "accuracy_quick"),
    (["--stride", "1048576"], "accuracy_quick"),
    (["--functions", "selu"], "accuracy"),
])
def test_partial_accuracy_writes_beside_the_committed_results(
        tmp_path, stub_accuracy, argv, name):
    assert accuracy.main(argv) == 0
    assert _files(tmp_path / "results-quick") == [f"{name}.json", f"{name}.md"]
    assert not (tmp_path / "results").exists()


def test_full_accuracy_writes_the_committed_results(tmp_path, stub_accuracy):
    assert accuracy.main([]) == 0
    assert _files(tmp_path / "results") == ["accuracy.json", "accuracy.md"]
    assert stub_accuracy == [{"chunk_bits": 22, "stride": 1, "names": None}]


def test_the_default_quick_directories_are_apart_and_git_ignored():
    pairs = [(bench.DEFAULT_OUT, bench.DEFAULT_QUICK_OUT),
             (accuracy.RESULTS, accuracy.QUICK_RESULTS)]
    for committed, quick in pairs:
        assert quick != committed and committed not in quick.parents
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    probes = [bench.DEFAULT_QUICK_OUT / "bench.json", accuracy.QUICK_RESULTS / "accuracy.md",
              bench.DEFAULT_OUT / ".bench.lock", accuracy.RESULTS / ".accuracy.lock",
              accuracy.RESULTS / ".accuracy_quick.lock"]
    for probe in probes:
        probe = probe.relative_to(REPO)
        ignored = subprocess.run(["git", "check-ignore", "-q", str(probe)], cwd=REPO)
        assert ignored.returncode == 0, f"{probe} is not git-ignored"


# --------------------------------------------------------------------------
# --out DIR/


def test_out_with_a_trailing_slash_is_a_directory(tmp_path, stub_accuracy, stub_bench):
    directory = tmp_path / "new"
    assert accuracy.main(["--quick", "--out", f"{directory}/"]) == 0
    assert _files(directory) == ["accuracy_quick.json", "accuracy_quick.md"]
    assert not (tmp_path / "new.json").exists()
    # An existing directory, without the slash, alike; a path in it is a prefix.
    assert accuracy.main(["--out", str(directory)]) == 0
    assert accuracy.main(["--out", str(directory / "mine")]) == 0
    assert _files(directory) == ["accuracy.json", "accuracy.md", "accuracy_quick.json",
                                 "accuracy_quick.md", "mine.json", "mine.md"]
    assert bench.main(["--quick", "--out", f"{tmp_path / 'bench'}/"]) == 0
    assert _files(tmp_path / "bench") == ["bench.json", "bench.md"]


# --------------------------------------------------------------------------
# One run at a time per output


def test_a_held_lock_makes_a_second_bench_fail_at_once(tmp_path, stub_bench, capsys):
    out = tmp_path / "out"
    out.mkdir()
    with runs.exclusive(out, ".bench.lock"):  # a first run holds the directory
        assert bench.main(["--quick", "--out", str(out)]) == 2
        err = _one_line_error(capsys, "benchmarks.bench")
    assert f"{out}: another run is writing here (pid {os.getpid()}" in err
    assert "lock .bench.lock" in err and stub_bench == []
    assert bench.main(["--quick", "--out", str(out)]) == 0  # released when the run ends


def test_a_lock_held_by_another_process_names_it(tmp_path, stub_bench, capsys):
    import sys

    out = tmp_path / "out"
    out.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; from pathlib import Path; from harness import runs\n"
         "with runs.exclusive(Path(sys.argv[1]), '.bench.lock'):\n"
         "    print('held', flush=True); sys.stdin.read()", str(out)],
        cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "held\n"
        assert bench.main(["--quick", "--out", str(out)]) == 2
        err = _one_line_error(capsys, "benchmarks.bench")
        assert f"another run is writing here (pid {holder.pid}, started " in err
    finally:
        holder.communicate(timeout=60)  # closing its stdin ends it
    assert holder.returncode == 0 and stub_bench == []
    assert bench.main(["--quick", "--out", str(out)]) == 0


def test_a_held_lock_makes_a_second_accuracy_run_fail_at_once(tmp_path, stub_accuracy, capsys):
    out = tmp_path / "out"
    out.mkdir()
    with runs.exclusive(out, ".accuracy_quick.lock"):
        assert accuracy.main(["--quick", "--out", f"{out}/"]) == 2
        err = _one_line_error(capsys, "benchmarks.accuracy")
        assert f"pid {os.getpid()}" in err and "lock .accuracy_quick.lock" in err
        # Another output in the same directory has a lock of its own.
        assert accuracy.main(["--quick", "--out", str(out / "other")]) == 0
    assert len(stub_accuracy) == 1


# --------------------------------------------------------------------------
# Bad arguments: one line, exit status 2, before any work


def _bad_out(tmp_path: Path) -> dict[str, Path]:
    a_file = tmp_path / "a-file"
    a_file.write_text("not a directory")
    return {"file": a_file, "under-a-file": a_file / "sub"}


@pytest.mark.parametrize("problem", ["file", "under-a-file"])
def test_bench_out_that_is_a_file_fails_before_any_work(tmp_path, stub_bench, capsys, problem):
    out = _bad_out(tmp_path)[problem]
    assert bench.main(["--quick", "--out", str(out)]) == 2
    assert str(out) in _one_line_error(capsys, "benchmarks.bench")
    assert stub_bench == []


def test_accuracy_out_under_a_file_fails_before_any_work(tmp_path, stub_accuracy, capsys):
    out = _bad_out(tmp_path)["under-a-file"] / "accuracy"
    assert accuracy.main(["--quick", "--out", str(out)]) == 2
    assert str(out.parent) in _one_line_error(capsys, "benchmarks.accuracy")
    directory = tmp_path / "d"
    (directory / "accuracy_quick.json").mkdir(parents=True)  # where a file must go
    assert accuracy.main(["--quick", "--out", str(directory)]) == 2
    assert "accuracy_quick.json: is a directory" in _one_line_error(capsys, "benchmarks.accuracy")
    assert stub_accuracy == []


@pytest.mark.parametrize("runner", ["bench", "accuracy"])
def test_read_only_out_fails_before_any_work(
        tmp_path, monkeypatch, stub_bench, stub_accuracy, capsys, runner):
    out = tmp_path / "read-only"
    out.mkdir()
    out.chmod(0o555)
    if os.geteuid() == 0:  # root writes anywhere: refuse as a read-only file system would
        def read_only_open(path, *args, **kwargs):
            raise PermissionError(13, "Permission denied", str(path))

        monkeypatch.setattr(runs, "open", read_only_open, raising=False)
    main = bench.main if runner == "bench" else accuracy.main
    try:
        assert main(["--quick", "--out", f"{out}/"]) == 2
    finally:
        out.chmod(0o755)
    err = _one_line_error(capsys, f"benchmarks.{runner}")
    assert f"{out}: cannot write to --out (Permission denied)" in err
    assert stub_bench == [] and stub_accuracy == []


@pytest.mark.parametrize("damage", ["truncated", "not-an-object", "not-a-bench-result",
                                    "missing", "binary"])
def test_bad_merge_file_names_it_before_any_work(tmp_path, stub_bench, capsys, damage):
    good = _write_part(tmp_path / "good.json", suites=["eager"])
    bad = tmp_path / "bad.json"
    text = good.read_text()
    contents = {"truncated": text[: len(text) // 2], "not-an-object": "[1, 2]",
                "not-a-bench-result": json.dumps({"rows": []}), "binary": None, "missing": None}
    if damage == "binary":
        bad.write_bytes(b"\xff\xfe\x00garbage")
    elif damage != "missing":
        bad.write_text(contents[damage])
    out = tmp_path / "out"
    assert bench.main(["--merge", str(good), str(bad), "--out", str(out)]) == 2
    assert str(bad) in _one_line_error(capsys, "benchmarks.bench")
    assert not out.exists()


@pytest.mark.parametrize("argv", [
    ["--functions", "no_such_function"],
    ["--suites", "no_such_suite"],
    ["--functions"],
    ["--merge", "x.json", "--quick"],
    ["--merge", "x.json", "--suites", "eager"],
    ["--merge", "x.json", "--isa", "AVX2"],
    ["--isa", "AVX512"],
    ["--dtypes", "float16"],
    ["--no-such-option"],
])
def test_bad_bench_arguments_are_one_line_before_any_work(tmp_path, stub_bench, capsys, argv):
    assert _status(bench.main, [*argv, "--out", str(tmp_path / "out")]) == 2
    _one_line_error(capsys, "benchmarks.bench")
    assert stub_bench == [] and not (tmp_path / "out").exists()


@pytest.mark.parametrize("argv, message", [
    (["--chunk-bits", "-3"], "--chunk-bits must be from 0 to 28, got -3"),
    (["--chunk-bits", "29"], "--chunk-bits must be from 0 to 28, got 29"),
    (["--chunk-bits", "x"], "--chunk-bits"),
    (["--stride", "3"], "--stride must be a power of 2"),
    (["--stride", "0"], "--stride must be a power of 2"),
    (["--stride", "-4"], "--stride must be a power of 2"),
    (["--stride", str(1 << 33)], "--stride must be a power of 2 from 1 to 2^32"),
    (["--functions", "selu", "no_such_function"], "unknown function(s) no_such_function"),
    (["--out", ""], "--out is empty"),
])
def test_bad_accuracy_arguments_are_one_line_before_any_work(
        tmp_path, stub_accuracy, capsys, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    assert _status(accuracy.main, argv) == 2
    assert message in _one_line_error(capsys, "benchmarks.accuracy")
    assert stub_accuracy == [] and list(tmp_path.iterdir()) == []
