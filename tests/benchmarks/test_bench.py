"""Smoke test of `make bench QUICK=1`: the harness runs and writes complete tables.

Nothing here is about speed: at the quick sizes the times mean nothing. What is
checked is that every contender row is present and every ratio is a finite,
positive number, so that the full run cannot fail on a missing row, and that
the contenders of each row compute the same thing. The run measures two
functions of the registry, one with a jax.nn counterpart, lax's accurate version
and the PINN step, one compared with a formula: every code path, at a fraction
of the time of all of them.
"""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxact
from tests.helpers import assert_trees_allclose, mlp_apply, mlp_init

REPO = Path(__file__).resolve().parents[2]

EXPECTED_CONTENDERS = {
    "tanh": {"jaxact", "jax.nn", "lax accuracy=HIGHEST", "floor x*s"},
    "generalized_logistic": {"jaxact", "naive (1+exp(-x))**-alpha", "floor x*s"},
}
PRELU_CONTENDERS = {"jaxact.prelu", "autodiff jnp.where", "jax.nn.leaky_relu",
                    "jaxact.leaky_relu", "floor x*s"}


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


@pytest.fixture(scope="module")
def results(quick_run):
    return json.loads((quick_run[0] / "bench.json").read_text())


def test_writes_all_three_files_and_prints_the_table(quick_run):
    out, stdout = quick_run
    # Besides the results, only the lock file of the run (git-ignored).
    assert sorted(p.name for p in out.iterdir()) == [
        ".bench.lock", "bench.json", "bench.md", "bench_scaling.png"]
    assert (out / "bench_scaling.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    markdown = (out / "bench.md").read_text()
    assert stdout.strip() == markdown.strip()
    for heading in ("## Targets", "## Elementwise, float32", "## Elementwise, bfloat16",
                    "## Eager (un-jitted) calls", "## PReLU and Maxout", "## Small MLP SGD step",
                    "## MLP SGD step", "## PINN-style step", "## Scaling", "## Profile"):
        assert heading in markdown
    assert "jax 0" in markdown and "cores" in markdown  # the machine line


def test_every_elementwise_contender_row_is_present_with_sane_ratios(results):
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


def test_eager_rows(results):
    rows = {(r["name"], r["mode"], r["contender"]): r for r in results["eager"]}
    assert len(rows) == len(EXPECTED_CONTENDERS) * 2 * 2
    for name, expected in EXPECTED_CONTENDERS.items():
        reference = (expected - {"jaxact", "lax accuracy=HIGHEST", "floor x*s"}).pop()
        for mode in ("forward", "grad"):
            for label in ("jaxact", reference):
                row = rows[(name, mode, label)]
                assert row["n"] == 128
                assert _finite_positive(row["median_s"]) and _finite_positive(
                    row["ratio_reference"])
                assert isinstance(row["python_calls"], int) and row["python_calls"] >= 0


def test_parametric_rows(results):
    found = {(r["group"], r["mode"], r["contender"]): r for r in results["parametric"]}
    libraries = {"prelu": "equinox.nn.PReLU", "prelu shared": "flax.nnx.PReLU"}
    for group, library in libraries.items():
        for mode in ("forward", "forward+vjp"):
            for label in PRELU_CONTENDERS | {library}:
                row = found[(group, mode, label)]
                if row["status"] != "ok":
                    # Absent rows carry their reason and no invented numbers.
                    assert label == library and row["status"].startswith("absent (")
                    assert row["median_s"] is None and row["ratio_reference"] is None
                    continue
                assert _finite_positive(row["ratio_reference"]), (group, mode, label)
                assert _finite_positive(row["ratio_leaky_relu"]), (group, mode, label)
    for mode in ("forward", "forward+backward"):
        for label in ("jaxact.Maxout", "Dense floor", "matmul+reshape+max", "separate matmuls"):
            assert _finite_positive(found[("maxout", mode, label)]["ratio_reference"])


def test_model_rows(results):
    for model, keys in (
        ("mlp_small", ("median_s", "ratio_reference")),
        ("mlp", ("median_s", "ratio_reference", "compile_median_s", "compile_ratio",
                 "arrays_per_layer", "temp_ratio_relu")),
    ):
        rows = results[model]
        assert {r["name"] for r in rows} == set(EXPECTED_CONTENDERS), model
        assert len(rows) == 2 * len(EXPECTED_CONTENDERS), model
        for row in rows:
            for key in keys:
                assert _finite_positive(row[key]), (model, row["name"], row["contender"], key)
    assert {(r["name"], r["contender"]) for r in results["pinn"]} == {
        ("tanh", "jaxact"), ("tanh", "jax.nn")}
    assert all(_finite_positive(r["ratio_reference"]) for r in results["pinn"])


def test_scaling_rows(results):
    sizes = results["config"]["scaling_sizes"]
    assert sorted((r["name"], r["contender"], r["n"]) for r in results["scaling"]) == sorted(
        (name, label, n) for name, labels in EXPECTED_CONTENDERS.items()
        for label in labels - {"lax accuracy=HIGHEST", "floor x*s"} for n in sizes
    )
    for row in results["scaling"]:
        assert _finite_positive(row["ns_per_element"]) and _finite_positive(
            row["ratio_reference"]), row


def test_targets_table_covers_every_target(results):
    targets = results["targets"]
    # Per function: 2 modes x 2 dtypes, its scaling row, 2 eager modes, the small
    # MLP step, the 20-layer step's time, compile time and memory. Then the PINN
    # step (tanh), prelu against the autodiff PReLU and the library's (2 groups),
    # prelu forward against leaky_relu, Maxout.
    per_function = 4 + 1 + 2 + 1 + 3
    assert len(targets) == len(EXPECTED_CONTENDERS) * per_function + 1 + 4 + 1 + 1
    for target in targets:
        assert target["passed"] in (True, False, None)
        if target["passed"] is not None:
            assert target["passed"] == (target["measured"] <= target["limit"])


def test_timeit_interleaved_runs_each_contender_once_per_rep():
    from harness.timing import Eager, timeit_interleaved

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


# --------------------------------------------------------------------------
# the contenders of a row compute the same thing, so the ratio compares like with like


def test_mlp_step_is_the_helpers_mlp_and_the_same_with_either_library():
    from benchmarks.models import _mlp_step_factory

    key_params, key_x, key_y = jax.random.split(jax.random.key(0), 3)
    layers = mlp_init(key_params, (16, 16, 16, 16))
    params = [(layer["w"], layer["b"]) for layer in layers]
    x = jax.random.normal(key_x, (8, 16))
    y = jax.random.normal(key_y, (8, 16))
    expected_loss = jnp.mean((mlp_apply(layers, x, jax.nn.tanh)[0] - y) ** 2)
    steps = [jax.jit(_mlp_step_factory(fn))(params, x, y) for fn in (jaxact.tanh, jax.nn.tanh)]
    for _, loss in steps:
        np.testing.assert_allclose(loss, expected_loss, rtol=1e-6)
    assert_trees_allclose(steps[0], steps[1], rtol=1e-5, atol=1e-7)


def test_pinn_step_is_the_same_with_either_library():
    from benchmarks.models import PINN_SIZES, _pinn_step_factory

    keys = jax.random.split(jax.random.key(1), len(PINN_SIZES))
    params = [(jax.random.normal(k, (n_in, n_out)) / np.sqrt(n_in), jnp.zeros(n_out))
              for k, n_in, n_out in zip(keys[:-1], PINN_SIZES[:-1], PINN_SIZES[1:], strict=True)]
    points = jax.random.uniform(keys[-1], (32, 2), minval=-1.0, maxval=1.0)
    ours, theirs = (jax.jit(_pinn_step_factory(fn))(params, points)
                    for fn in (jaxact.tanh, jax.nn.tanh))
    assert float(ours[1]) > 0  # a nonzero Laplacian, so the gradient is exercised
    # Third derivatives of tanh through two float32 implementations.
    assert_trees_allclose(ours, theirs, rtol=1e-4, atol=1e-6)


def test_prelu_contenders_agree():
    from benchmarks import parametric

    x = jax.random.normal(jax.random.key(2), (32, 8))
    cotangent = jax.random.normal(jax.random.key(3), (32, 8))
    slopes = jnp.linspace(0.1, 0.4, 8)
    for slope, library in ((slopes, {"equinox": parametric._equinox(slopes)}),
                           (jnp.float32(parametric.INIT_SLOPE), {"flax": parametric._flax()})):
        contenders, absent = parametric._prelu_contenders(slope, library)
        results = {}
        for label, (apply, parameter) in contenders.items():
            if "leaky_relu" in label:
                continue
            y, pullback = jax.vjp(apply, x, parameter)
            grad_x, grad_parameter = pullback(cotangent)
            leaves = jax.tree_util.tree_leaves(grad_parameter)
            assert len(leaves) == 1, label
            results[label] = (y, grad_x, jnp.reshape(leaves[0], jnp.shape(slope)))
        assert len(results) == 3 - len(absent)
        expected = results["autodiff jnp.where"]
        for got in results.values():
            assert_trees_allclose(got, expected, rtol=1e-6, atol=1e-6)


def test_merge_of_partial_runs_is_the_whole_run(results):
    from benchmarks.bench import SUITES, merge
    from benchmarks.report import render_markdown

    halves = [set(SUITES[:3]), set(SUITES[3:])]
    parts = [{**results, "config": {**results["config"], "suites": sorted(half)},
              **{suite: results[suite] if suite in half else [] for suite in SUITES}}
             for half in halves]
    merged = merge(parts)
    for suite in SUITES:
        assert merged[suite] == results[suite], suite
    assert merged["targets"] == results["targets"]
    assert len(merged["config"]["parts"]) == 2
    assert "Assembled from 2 partial runs" in render_markdown(merged)
