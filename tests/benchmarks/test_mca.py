"""benchmarks.mca: static cycles per element of the compiled loops."""

from __future__ import annotations

import pytest

from benchmarks import mca


@pytest.mark.skipif(bool(mca.tools_missing()), reason="objdump or llvm-mca not on the PATH")
def test_static_profile_orders_kernels_by_their_arithmetic():
    rows = mca.static_profile(["relu", "gelu"])
    assert isinstance(rows, list), rows
    cost = {(row["name"], row["mode"]): row for row in rows}
    assert set(cost) == {(name, mode) for name in ("relu", "gelu")
                         for mode in ("forward", "forward+vjp")}
    for row in rows:
        assert row["jaxact_cycles"] > 0 and row["reference_cycles"] > 0, row
        assert row["ratio"] == pytest.approx(row["jaxact_cycles"] / row["reference_cycles"])
    # An accurate gelu is dozens of operations per element, relu one: a
    # profile that could not tell them apart (a wrong loop, a wrong step)
    # fails here.
    for mode in ("forward", "forward+vjp"):
        assert cost["gelu", mode]["jaxact_cycles"] > 4 * cost["relu", mode]["jaxact_cycles"]
    # forward+vjp runs the forward's loop and a derivative's.
    assert cost["gelu", "forward+vjp"]["jaxact_cycles"] > cost["gelu", "forward"]["jaxact_cycles"]


def test_missing_tools_give_a_reason_not_rows(monkeypatch):
    monkeypatch.setattr(mca.shutil, "which", lambda tool: None)
    assert mca.static_profile(["relu"]) == "not measured: objdump, llvm-mca not on the PATH"
