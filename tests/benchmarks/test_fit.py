"""`python -m benchmarks.fit` reproduces the polynomial coefficients jaxact uses."""

from __future__ import annotations

import importlib

import mpmath
import numpy as np
import pytest

from benchmarks import fit


@pytest.mark.parametrize(
    "module, name, refit",
    [
        ("numerics", "_EXP_COEFFICIENTS", lambda: fit.fit_exp(6)),
        ("numerics", "_EXP_SHORT_COEFFICIENTS", lambda: fit.fit_exp(5)),
        ("hyperbolic", "_TANH_SERIES_FLOAT32", lambda: fit.fit_tanh(5, 0.55)),
    ],
)
def test_stored_coefficients_are_the_fit_rounded_to_float32(module, name, refit):
    stored = getattr(importlib.import_module(f"jaxact._src.{module}"), name)

    with mpmath.workdps(40):
        coefficients, error = refit()
    assert error < 2.0**-24 / 8  # an eighth of float32's rounding, before rounding
    np.testing.assert_array_equal(
        np.float32(stored), np.float32(coefficients)
    )
