"""Smoke test of `make device-check`: the check runs here (CPU) and reports completely.

One smoke run (a few functions at small sizes) is shared by the tests: each
part of the report is present, jaxact's errors are within the bounds its
docstrings state, the exit status says whether any call path gave other
bits, and a smoke run writes only where it is told to.
"""

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks import device_check


@pytest.fixture(scope="module")
def smoke():
    return device_check.run(smoke=True, log=lambda message: None)


def test_the_sample_spans_every_kind_of_float32():
    x = device_check.sample(12)
    assert x.size == (1 << 12) + 3 and x.dtype == np.float32
    bits = x.view(np.uint32)
    assert np.all(np.diff(bits[:1 << 12].astype(np.int64)) > 0)  # one per block, in order
    assert np.isnan(x).any() and np.isposinf(x).any() and np.isneginf(x).any()
    assert ((x != 0) & (np.abs(x) < np.finfo(np.float32).tiny)).any()  # subnormals
    assert (bits % 2 == 1).any()  # not only patterns with zero low bits


def test_every_smoke_function_is_measured_within_its_stated_bounds(smoke):
    names = set(device_check.SMOKE_NAMES)
    assert {r["name"] for r in smoke["accuracy"]} == names
    for row in smoke["accuracy"]:
        if row["implementation"] != "jaxact":
            continue
        # Every jaxact docstring states at most 2.5 ULP for the float32 value
        # and 4 for the derivative over every binade.
        bound = 2.5 if row["quantity"] == "f" else 4.0
        assert row["max_ulp"] <= bound, row
        assert row["special_wrong"] == 0, row
    # jax.nn's sigmoid gradient is 0 in the tails: the check must see it.
    jax_nn = {(r["name"], r["quantity"]): r["max_ulp"] for r in smoke["accuracy"]
              if r["implementation"] == "jax.nn"}
    assert jax_nn[("sigmoid", "f'")] > 1e6


def test_bits_are_compared_on_every_path(smoke):
    cases = {(r["name"], r["quantity"], r["dtype"]) for r in smoke["bits"]}
    assert cases == {(name, quantity, dtype) for name in device_check.SMOKE_NAMES
                     for quantity, dtype in (("f", "float32"), ("f", "bfloat16"),
                                             ("f'", "float32"))}
    for row in smoke["bits"]:
        assert row["size"] == device_check.EAGER_SIZE[row["dtype"]]
        for path in ("constant", "eager", "disable_jit"):
            assert isinstance(row[path], int) and 0 <= row[path] <= row["size"]


def test_bit_patterns_treat_every_nan_alike():
    x = np.asarray([np.nan, -np.nan, 1.0, -0.0, 0.0], np.float32)
    y = x.copy()
    y.view(np.uint32)[0] |= 1  # another NaN payload
    bits = device_check._bits
    assert list(bits(x) == bits(y)) == [True, True, True, True, True]
    assert bits(x)[3] != bits(x)[4]  # -0 and +0 differ


def test_the_report_names_the_machine_and_every_table(smoke, tmp_path, monkeypatch):
    monkeypatch.setattr(device_check, "run", lambda smoke: smoke_result)
    smoke_result = smoke
    status = device_check.main(["--smoke", "--out", str(tmp_path)])
    assert status == (1 if any(device_check._differs(r) for r in smoke["bits"]) else 0)
    report = (tmp_path / "device-cpu.md").read_text()
    info = smoke["machine"]
    for text in (f"platform: {info['platform_name']}", f"device kind: {info['device_kind']}",
                 f"host CPU: {info['cpu']}", f"jax {info['jax']}", "## Accuracy",
                 "## Same bits on every call path", "## Speed"):
        assert text in report, text
    speed = {(r["name"], r["mode"]) for r in smoke["speed"]}
    assert speed == {(n, m) for n in device_check.SMOKE_NAMES for m in ("forward", "forward+vjp")}
    assert all(math.isfinite(r["ratio"]) and r["ratio"] > 0 for r in smoke["speed"])


def test_a_smoke_run_writes_only_where_told(smoke, tmp_path, monkeypatch):
    # The committed results must never be overwritten by a smoke run.
    monkeypatch.setattr(device_check, "run", lambda smoke: smoke_result)
    smoke_result = smoke
    monkeypatch.setattr(device_check, "RESULTS", tmp_path)
    device_check.main(["--smoke"])
    assert list(tmp_path.iterdir()) == []


# What the project's GPU machines lack: they have jax, numpy, scipy, optax,
# flax and equinox, and no network to install the test and experiment extras.
NOT_ON_GPU_MACHINES = ("tqdm", "mpmath", "filelock", "matplotlib", "sklearn", "hypothesis",
                       "pytest")


def test_the_check_imports_with_only_what_a_gpu_machine_has():
    # Each missing package made unimportable (a None entry in sys.modules);
    # the check module imported (it imported tqdm through the bench before).
    blocked = "; ".join(f"sys.modules[{name!r}] = None" for name in NOT_ON_GPU_MACHINES)
    code = f"import sys; {blocked}; import benchmarks.device_check"
    repo = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
