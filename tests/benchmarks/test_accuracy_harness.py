"""The `make accuracy` harness: its ULP unit, its histogram statistics, its references."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks import accuracy
from tests.helpers import ulp_error


def test_harness_ulp_error_is_the_helpers_definition():
    rng = np.random.default_rng(1)
    reference = np.exp2(rng.uniform(-120, 120, 4096)) * rng.choice([-1, 1], 4096)
    got = (reference * (1 + rng.normal(0, 3e-7, 4096))).astype(np.float32)
    with jax.enable_x64(True):
        x = jnp.ones(4096, jnp.float32)
        parts = accuracy.ReferenceParts(accuracy.input_groups(x), jnp.asarray(reference))
        error, _, _ = accuracy.ulp_errors(parts, jnp.asarray(got))
        error = np.asarray(error, np.float64)
    assert error.max() > 2  # the test data must exercise errors of several ULPs
    np.testing.assert_allclose(error, ulp_error(got, reference), rtol=1e-6)


def test_harness_percentile_max_and_special_inputs():
    size = 10_000
    x = np.full(size, 0.5, np.float32)
    reference = np.full(size, 0.75)
    spacing = 2.0**-24  # float32 spacing in [0.5, 1)
    got = reference.copy()
    got[:2] += 5 * spacing  # two of 10,000 at 5 ULP: the 99.99th percentile is 5
    got[2] += 3 * spacing
    x[3], got[3] = np.nan, 0.0  # NaN input, silent 0 out: flagged
    x[4], got[4] = np.nan, np.nan  # NaN input, NaN out: fine
    with jax.enable_x64(True):
        x_array = jnp.asarray(x)
        reference_array = accuracy._nan_in_nan_out(jnp, x_array, jnp.asarray(reference))
        parts = accuracy.ReferenceParts(accuracy.input_groups(x_array), reference_array)
        got_array = jnp.asarray(got.astype(np.float32))
        codes = np.asarray(accuracy.error_codes(parts, got_array))
        errors, groups = jax.device_get(accuracy.errors_and_groups(parts, got_array))
    worst = {accuracy.MAIN: (float(np.max(np.where(groups == accuracy.MAIN, errors, -1))), 0.5)}
    summary = accuracy.summarise(np.bincount(codes, minlength=accuracy.NUM_CODES), worst)
    main = summary[accuracy.MAIN]
    assert main["count"] == size - 2
    assert main["max_ulp"] == 5.0
    assert 4.96 <= main["p9999_ulp"] <= 5.0
    nan_group = summary[accuracy.NAN_INPUT]
    assert nan_group["count"] == 2 and nan_group["flagged"] == 1




def test_references_agree_in_numpy_and_xla():
    # The tests evaluate harness.references in numpy, the harness in XLA:
    # both must give the same float64 reference, far below one float32 ULP.
    with jax.enable_x64(True):
        worst = accuracy.reference_self_check(accuracy.functions(), num_samples=1 << 12)
    assert worst < 1e-3
