"""The cost experiment's verdict rule: three-way, so machine load cannot flip it."""

from __future__ import annotations

import numpy as np
import pytest

from experiments import cost
from experiments.common import DOES_NOT_HOLD, HOLDS


def _results(sigmoid_ratios) -> dict:
    names = ("relu", "leaky_relu", "prelu", "elu", "sigmoid", "tanh")
    mode = {name: {"median_s": 1.0, "ratio_to_relu": np.ones(8)} for name in names}
    mode["sigmoid"] = {"median_s": 1.0, "ratio_to_relu": np.asarray(sigmoid_ratios)}
    return {
        "n": 1024, "reps": 8, "cpu_count": 2,
        "load_average_before": 9.5, "load_average_after": 10.0,
        "operations": {name: {"flops": 3.0, "transcendentals": 0.0} for name in names},
        "modes": {"forward": mode, "forward+backward": mode},
        "figure": "cost.png",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("ratios", "verdict"),
    [
        ([2.0, 2.1, 2.2, 2.3, 2.4, 2.5, 2.6, 2.7], HOLDS),
        ([0.8, 0.85, 0.9, 0.95, 1.0, 1.05, 1.1, 1.15], DOES_NOT_HOLD),
        # A loaded machine: half the reps look costly, half do not.
        ([0.9, 0.9, 1.0, 1.0, 1.5, 1.6, 2.0, 2.2], "depends on machine load"),
    ],
)
def test_exp_costly_verdict_is_three_way(ratios, verdict):
    row = cost.claims(_results(ratios))[0]
    assert row["id"] == "sigmoid-exp-costly"
    assert row["verdict"].startswith(verdict)


def test_exp_costly_row_states_its_conditions():
    measured = cost.claims(_results([2.0] * 8))[0]["measured"]
    assert "1024 float32 values" in measured and "8 paired reps" in measured
    assert "load average 9.5 → 10.0 on 2 CPUs" in measured
    assert "flops per element" in measured
