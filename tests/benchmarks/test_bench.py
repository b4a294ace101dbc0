"""Smoke test of `make bench QUICK=1`: the harness runs and writes complete tables.

Nothing here is about speed: at the quick sizes the times mean nothing. What is
checked is that every contender row is present and every ratio is a finite,
positive number, so that the full run cannot fail on a missing row, and that
the contenders of each row compute the same thing. The run measures two
functions of the registry, one with a jax.nn counterpart, lax's accurate version
and the PINN step, one compared with a formula: every code path, at a fraction
of the time of all of them. It runs at the default ISA level in float32 and
bfloat16, in one process; a second run measures the float64 and AVX2 rows of
tanh, in the process of their own that the bench starts for them.
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
from benchmarks.report import render_markdown
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
    return out, _bench(out, "--functions", *EXPECTED_CONTENDERS, "--isa", "default",
                       "--dtypes", "float32", "bfloat16")


def _bench(out, *argv) -> str:
    """Runs the quick bench's command line in a fresh process; its stdout."""
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.bench", "--quick", "--out", str(out), *argv],
        cwd=REPO, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    return completed.stdout


@pytest.fixture(scope="module")
def results(quick_run):
    return json.loads((quick_run[0] / "bench.json").read_text())


@pytest.fixture(scope="module")
def isa_results(tmp_path_factory):
    """tanh's float64 rows at the AVX2 level: a pass that the bench must run in a
    process of its own (XLA_FLAGS capped, JAX_ENABLE_X64 on)."""
    out = tmp_path_factory.mktemp("bench-avx2-float64")
    _bench(out, "--functions", "tanh", "--suites", "elementwise", "models", "--isa", "AVX2",
           "--dtypes", "float64")
    return json.loads((out / "bench.json").read_text())


def test_writes_all_three_files_and_prints_the_table(quick_run):
    out, stdout = quick_run
    # Besides the results, only the lock file of the run (git-ignored).
    assert sorted(p.name for p in out.iterdir()) == [
        ".bench.lock", "bench.json", "bench.md", "bench_scaling.png"]
    assert (out / "bench_scaling.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    markdown = (out / "bench.md").read_text()
    assert stdout.strip() == markdown.strip()
    for heading in ("## Targets", "## Elementwise, float32, default ISA",
                    "## Elementwise, bfloat16, default ISA", "## In cache",
                    "## Eager (un-jitted) calls", "## PReLU and Maxout", "## Small MLP SGD step",
                    "## MLP SGD step", "## Models", "## Scaling", "## Profile"):
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
    # Of the models, only the PINN's activation (tanh) is among the functions run.
    assert {(r["model"], r["dtype"], r["name"], r["contender"], r["isa"])
            for r in results["models"]} == {("pinn", "float32", "tanh", "jaxact", "default"),
                                            ("pinn", "float32", "tanh", "jax.nn", "default")}
    for row in results["models"]:
        for key in ("median_s", "ratio_reference", "compile_median_s", "compile_ratio",
                    "compile_cpu_ratio", "temp_ratio", "hlo_ratio"):
            assert _finite_positive(row[key]), (row["contender"], key)
        assert isinstance(row["temp_bytes"], int) and row["hlo_instructions"] > 0


def test_in_cache_rows(results):
    sizes = results["config"]["in_cache_sizes"]
    assert sorted((r["name"], r["mode"], r["contender"], r["n"]) for r in results["in_cache"]) \
        == sorted((name, mode, label, n) for name, labels in EXPECTED_CONTENDERS.items()
                  for mode in ("forward", "forward+vjp")
                  for label in labels - {"lax accuracy=HIGHEST", "floor x*s"} for n in sizes)
    for row in results["in_cache"]:
        assert row["dtype"] == "float32" and row["isa"] == "default"
        assert _finite_positive(row["ns_per_element"]) and _finite_positive(
            row["ratio_reference"]), row


def test_float64_and_avx2_rows_come_from_a_process_set_up_for_them(isa_results):
    # The pass ran in its own process, with XLA capped at AVX2 and float64 on.
    [pass_] = isa_results["passes"]
    assert pass_["isa"] == "AVX2" and pass_["x64"] is True
    assert pass_["xla_isa"].endswith("XLA max ISA AVX2")
    rows = isa_results["elementwise"]
    assert {(r["name"], r["mode"], r["dtype"], r["isa"]) for r in rows} == {
        ("tanh", mode, "float64", "AVX2") for mode in ("forward", "forward+vjp")}
    assert {r["contender"] for r in rows} == EXPECTED_CONTENDERS["tanh"]
    assert all(_finite_positive(r["ratio_reference"]) for r in rows)
    assert {(r["model"], r["dtype"], r["isa"]) for r in isa_results["models"]} == {
        ("pinn", "float64", "AVX2")}
    # Every target names the level; each of tanh's two modes, and the PINN's
    # step time, compile time and memory.
    assert len(isa_results["targets"]) == 2 + 3
    assert {t["isa"] for t in isa_results["targets"]} == {"AVX2"}
    markdown = render_markdown(isa_results)
    assert "## Elementwise, float64, AVX2 ISA" in markdown and "| float64 AVX2 |" in markdown


def test_plan_runs_each_isa_level_and_float64_in_a_process_of_its_own():
    from benchmarks.bench import DTYPE_SUITES, ISA_LEVELS, ISA_SUITES, SUITES, Pass, plan

    assert plan(SUITES, ISA_LEVELS, ["float32", "bfloat16", "float64"]) == [
        Pass("default", False, SUITES, ("float32", "bfloat16")),
        Pass("default", True, DTYPE_SUITES, ("float64",)),
        Pass("AVX2", False, ISA_SUITES, ("float32", "bfloat16")),
        Pass("AVX2", True, ("elementwise", "models"), ("float64",)),
    ]
    # The suites measured in float32 only have no float64 pass.
    assert plan(["eager", "in_cache"], ISA_LEVELS, ["float64"]) == [
        Pass("default", False, ("in_cache", "eager"), ()),
        Pass("AVX2", False, ("in_cache",), ())]
    assert plan(["scaling"], ["AVX2"], ["float32"]) == []


def test_a_pass_process_gets_its_isa_cap_and_x64_mode(monkeypatch):
    from benchmarks import bench

    monkeypatch.setenv("XLA_FLAGS", "--xla_cpu_max_isa=SSE4_2 --xla_force_host_platform_"
                       "device_count=2")
    avx2 = bench._pass_environment(bench.Pass("AVX2", True, ("elementwise",), ("float64",)))
    assert avx2["XLA_FLAGS"].split() == ["--xla_force_host_platform_device_count=2",
                                         "--xla_cpu_max_isa=AVX2"]
    assert avx2["JAX_ENABLE_X64"] == "1"
    default = bench._pass_environment(bench.Pass("default", False, ("eager",), ()))
    assert default["XLA_FLAGS"] == "--xla_force_host_platform_device_count=2"
    assert default["JAX_ENABLE_X64"] == "0"
    # This process (no cap, float64 off) runs the default float32 pass itself.
    monkeypatch.delenv("XLA_FLAGS")
    assert bench.runs_here(bench.Pass("default", False, ("eager",), ()))
    assert not bench.runs_here(bench.Pass("default", True, ("elementwise",), ("float64",)))
    assert not bench.runs_here(bench.Pass("AVX2", False, ("elementwise",), ("float32",)))


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
    # Per function: 2 modes x 2 dtypes, 2 in-cache modes, its scaling row (the
    # quick sizes all lie below 2^22), 2 eager modes, the small MLP step, the
    # 20-layer step's time, compile time and memory. Then the PINN step's time,
    # compile time and memory (tanh), prelu against the autodiff PReLU and the
    # library's (2 groups), prelu forward against leaky_relu, Maxout forward and
    # forward+backward.
    per_function = 4 + 2 + 1 + 2 + 1 + 3
    assert len(targets) == len(EXPECTED_CONTENDERS) * per_function + 3 + 4 + 1 + 2
    assert {t["isa"] for t in targets} == {"default"}
    limits = {t["target"]: t["limit"] for t in targets}
    assert limits["Maxout forward vs Dense floor"] == 1.10
    assert limits["Maxout forward+backward vs Dense floor"] == 1.00
    assert limits["3-layer MLP step (tanh) vs jax.nn: compile time"] == 1.5
    assert limits["pinn step (tanh, float32) vs jax.nn: time"] == 1.02
    for target in targets:
        assert target["passed"] in (True, False, None)
        if target["passed"] is not None:
            assert target["passed"] == (target["measured"] <= target["limit"])


def test_scaling_and_in_cache_targets_take_the_worst_size_of_each_range():
    from benchmarks.targets import check_targets

    def row(n, ratio, isa="default", mode=None):
        return {"name": "gelu", "contender": "jaxact", "reference": "jax.nn", "n": n,
                "ratio_reference": ratio, "isa": isa, **({"mode": mode} if mode else {})}

    results = {suite: [] for suite in ("elementwise", "eager", "parametric", "mlp_small",
                                       "mlp", "models")}
    results["scaling"] = [row(1 << 12, 1.2), row(1 << 20, 1.3), row(1 << 22, 1.05),
                          row(1 << 26, 1.12)]
    results["in_cache"] = [row(1 << 16, 1.2, isa, "forward") for isa in ("AVX2", "default")]
    results["in_cache"] += [row(1 << 18, 1.26, "AVX2", "forward")]
    got = [(t["target"], t["isa"], t["measured"], t["limit"], t["passed"])
           for t in check_targets(results)]
    assert got == [
        ("gelu forward float32 vs jax.nn in cache, every size 2^16–2^18 (worst: 2^16)",
         "default", 1.2, 1.25, True),
        # Beside the default level's row, though measured first.
        ("gelu forward float32 vs jax.nn in cache, every size 2^16–2^18 (worst: 2^18)",
         "AVX2", 1.26, 1.25, False),
        ("gelu forward float32 vs jax.nn at every size 2^12–2^20 (worst: 2^20)", "default",
         1.3, 1.25, False),
        ("gelu forward float32 vs jax.nn at every size 2^22–2^26 (worst: 2^26)", "default",
         1.12, 1.10, False),
    ]


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


@pytest.mark.parametrize("model", ["pinn", "gpt2", "llama"])
def test_models_are_the_same_with_either_library(model):
    from benchmarks.models import MODELS

    sizes = {"widths": [2, 16, 16, 1], "points": 32} if model == "pinn" else {
        "vocab": 16, "seq": 4, "batch": 2, "width": 8, "heads": 2, "layers": 1, "hidden": 16}
    spec = MODELS[model]
    params, batch = spec.init(jax.random.key(1), sizes, jnp.float32)
    reference = {"gelu": jax.nn.gelu, "silu": jax.nn.silu, "tanh": jax.nn.tanh}
    # The PINN's gradient holds third derivatives of tanh; a decoder's loss
    # is enough to show the model is the same (and compiles in a third of
    # the time of its gradient).
    transform = jax.value_and_grad if model == "pinn" else (lambda loss: loss)
    ours, theirs = (jax.jit(transform(spec.loss(fn, sizes)))(params, *batch)
                    for fn in (getattr(jaxact, spec.activation), reference[spec.activation]))
    assert float(jax.tree.leaves(ours)[0]) > 0  # a nonzero loss
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


def test_merge_of_partial_runs_is_the_whole_run(results, isa_results):
    from benchmarks.bench import SUITES, merge

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
    # A part at another ISA level and dtype adds its rows, targets and pass.
    both = merge([results, isa_results])
    assert both["config"]["isas"] == ["default", "AVX2"]
    assert both["config"]["dtypes"] == ["float32", "bfloat16", "float64"]
    assert both["passes"] == results["passes"] + isa_results["passes"]
    assert len(both["targets"]) == len(results["targets"]) + len(isa_results["targets"])
    markdown = render_markdown(both)
    assert "(ISA levels: default, AVX2)" in markdown
    assert "| float32 default | bfloat16 default | float64 AVX2 |" in markdown


def test_the_avx2_pass_is_left_out_on_a_cpu_without_avx2(monkeypatch):
    from benchmarks import bench

    monkeypatch.setattr(bench, "cpu_isa_extensions", lambda: [])
    monkeypatch.setattr(bench, "_run_in_child", lambda *args: pytest.fail("a pass ran"))
    results = bench.run(quick=True, names=["relu"], suites=["elementwise"], isas=["AVX2"],
                        dtypes=["float32"])
    assert results["elementwise"] == [] and results["targets"] == []
    assert [p["xla_isa"] for p in results["passes"]] == ["not run: the CPU has no AVX2"]
