"""The curves experiment draws the modern jax.nn functions as a second panel set."""

from __future__ import annotations

import numpy as np

from experiments import curves
from experiments.common import RunOptions


def test_modern_panel_set_has_every_function_with_finite_values_and_derivatives(tmp_path):
    results = curves.run(RunOptions(quick=True))
    modern = results["modern"]
    assert modern and set(modern) <= set(results["curves"])
    labels = {label for family in modern for label in results["curves"][family]}
    for name in ("silu", "mish", "selu", "soft_sign", "hard_tanh", "sparse_plus", "relu6"):
        assert name in labels, name
    for family in modern:
        for label, curve in results["curves"][family].items():
            assert np.all(np.isfinite(curve["value"])), label
            assert np.all(np.isfinite(curve["derivative"])), label
    results["figure"] = "curves.png"
    curves.plot(results, tmp_path / "curves.png")
    assert (tmp_path / "curves.png").read_bytes()[:4] == b"\x89PNG"
