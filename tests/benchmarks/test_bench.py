"""Smoke test of `make bench QUICK=1`: the harness runs and writes complete tables.

Nothing here is about speed: at the quick sizes the times mean nothing. What is
checked is that every contender row is present and every ratio is a finite,
positive number, so that the full run cannot fail on a missing row. The run
measures two functions of the registry, one with a jax.nn counterpart and lax's
accurate version and one compared with a formula: every code path, at a fraction
of the time of all of them.
"""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

EXPECTED_CONTENDERS = {
    "sigmoid": {"jaxact", "jax.nn", "lax accuracy=HIGHEST", "floor x*s"},
    "generalized_logistic": {"jaxact", "naive (1+exp(-x))**-alpha", "floor x*s"},
}


def _finite_positive(value) -> bool:
    return isinstance(value, float) and math.isfinite(value) and value > 0


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    # The real command line, as `make bench QUICK=1` runs it, in a fresh process.
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench", "--quick", "--out", str(out),
         "--functions", *EXPECTED_CONTENDERS],
        cwd=REPO, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    return out, completed.stdout


def test_writes_all_three_files_and_prints_the_table(quick_run):
    out, stdout = quick_run
    assert sorted(p.name for p in out.iterdir()) == ["bench.json", "bench.md", "bench_scaling.png"]
    assert (out / "bench_scaling.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    markdown = (out / "bench.md").read_text()
    assert stdout.strip() == markdown.strip()
    for heading in ("## Targets", "## Elementwise, float32", "## Elementwise, bfloat16",
                    "## PReLU (channel-wise) and Maxout", "## MLP SGD step", "## Scaling",
                    "## Profile"):
        assert heading in markdown
    assert "jax 0" in markdown and "cores" in markdown  # the machine line


def test_every_elementwise_contender_row_is_present_with_sane_ratios(quick_run):
    results = json.loads((quick_run[0] / "bench.json").read_text())
    rows = results["elementwise"]
    for dtype in ("float32", "bfloat16"):
        for mode in ("forward", "forward+vjp"):
            for name, expected in EXPECTED_CONTENDERS.items():
                found = {r["contender"]: r for r in rows
                         if (r["dtype"], r["mode"], r["name"]) == (dtype, mode, name)}
                assert set(found) == expected, (dtype, mode, name)
                for contender, row in found.items():
                    assert row["min_s"] <= row["median_s"] <= row["max_s"], contender
                    for key in ("median_s", "ratio_reference", "ratio_floor"):
                        assert _finite_positive(row[key]), (dtype, mode, name, contender, key)
                assert found[row["reference"]]["ratio_reference"] == 1.0


def test_parametric_mlp_and_scaling_rows(quick_run):
    results = json.loads((quick_run[0] / "bench.json").read_text())
    contenders = {(r["group"], r["mode"], r["contender"]) for r in results["parametric"]}
    for mode in ("forward", "forward+vjp"):
        for label in ("jaxact.prelu", "jax.nn.leaky_relu", "jaxact.leaky_relu", "floor x*s"):
            assert ("prelu", mode, label) in contenders
    for mode in ("forward", "forward+backward"):
        for label in ("jaxact.Maxout", "Dense floor", "matmul+reshape+max", "separate matmuls"):
            assert ("maxout", mode, label) in contenders
    assert all(_finite_positive(r["ratio_reference"]) for r in results["parametric"])

    mlp = results["mlp"]
    assert {r["name"] for r in mlp} == set(EXPECTED_CONTENDERS)
    assert len(mlp) == 2 * len(EXPECTED_CONTENDERS)
    for row in mlp:
        for key in ("median_s", "ratio_reference", "compile_median_s", "compile_ratio",
                    "temp_ratio"):
            assert _finite_positive(row[key]), (row["name"], row["contender"], key)

    sizes = results["config"]["scaling_sizes"]
    assert sorted((r["name"], r["contender"], r["n"]) for r in results["scaling"]) == sorted(
        (name, label, n) for name, labels in EXPECTED_CONTENDERS.items()
        for label in labels - {"lax accuracy=HIGHEST", "floor x*s"} for n in sizes
    )
    for row in results["scaling"]:
        assert _finite_positive(row["ns_per_element"]) and _finite_positive(
            row["ratio_reference"]), row


def test_targets_table_covers_every_target(quick_run):
    results = json.loads((quick_run[0] / "bench.json").read_text())
    targets = results["targets"]
    # Per function: 2 modes x 2 dtypes, 3 MLP figures; prelu and Maxout once.
    assert len(targets) == len(EXPECTED_CONTENDERS) * (4 + 3) + 2
    for target in targets:
        assert target["passed"] in (True, False, None)
        if target["passed"] is not None:
            assert target["passed"] == (target["measured"] <= target["limit"])


def test_timeit_interleaved_runs_each_contender_once_per_rep():
    from benchmarks.timing import Eager, timeit_interleaved

    calls = []
    times = timeit_interleaved(
        {"a": Eager(lambda: calls.append("a")), "b": Eager(lambda: calls.append("b"))},
        reps=3, number=2,
    )
    assert {k: len(v) for k, v in times.items()} == {"a": 3, "b": 3}
    assert all(t >= 0 for v in times.values() for t in v)
    # One untimed warm-up each, then per rep each contender's `number` calls back to back.
    assert calls[:2] == ["a", "b"]
    reps = [calls[i:i + 4] for i in range(2, len(calls), 4)]
    assert len(reps) == 3
    for rep in reps:
        assert rep[0] == rep[1] and rep[2] == rep[3] and {rep[0], rep[2]} == {"a", "b"}
    with pytest.raises(ValueError, match="timeit_interleaved"):
        timeit_interleaved({"a": Eager(lambda: None)}, reps=0)
