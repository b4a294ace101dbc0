"""glu: x split in halves a, b along an axis, a * sigmoid(b).

The reference ``ref_glu(xp, a, b)`` (``harness.references.ref_glu``)
returns the value and both partial derivatives in float64, each a product of
factors that do not cancel (sigma(b) = 1 / (1 + e^-b) for b >= 0 and
e^b / (1 + e^b) below).
"""

from __future__ import annotations

import functools
import inspect

import jax
import jax.numpy as jnp
import ml_dtypes
import mpmath
import numpy as np
import pytest

import jaxact
from harness import references
from tests.helpers import assert_rounded_once, ulp_error

FLOAT32_TINY = float(np.finfo(np.float32).tiny)
FLOAT64_TINY = float(np.finfo(np.float64).tiny)
# The bounds, wherever the result is a normal float32.
VALUE_MAX_ULP = 2.5
DERIVATIVE_MAX_ULP = 4.0


def _sigmoids(xp, b):
    sig, sig_of_neg, _ = references.logistic_terms(xp, b)
    return sig, sig_of_neg


def ref_glu(xp, a, b):
    """(glu, d glu / da, d glu / db) for the halves a and b."""
    out = references.ref_glu(xp, a, b)
    return out["f"], out["df/da"], out["df/db"]


def _glu_and_partials(x):
    """glu(x) for x of shape (n, 2) and its partials in a = x[:, 0], b = x[:, 1]."""
    value, pullback = jax.vjp(jaxact.glu, x)
    (partials,) = pullback(jnp.ones_like(value))
    return value[:, 0], partials[:, 0], partials[:, 1]


glu_and_partials = jax.jit(_glu_and_partials)


@functools.cache
def float32_inputs() -> np.ndarray:
    """Rows (a, b): b every 1021st float32 bit pattern (normal, finite) and a
    dense grid over [-104, 104] (where jax.nn's sigmoid gradient is 0 beyond
    17), a log-uniform magnitude of either sign."""
    patterns = np.arange(0, 2**32, 1021 * 4, dtype=np.uint64).astype(np.uint32).view(np.float32)
    patterns = patterns[np.isfinite(patterns) & (np.abs(patterns) >= FLOAT32_TINY)]
    gates = np.concatenate([patterns, np.linspace(-104, 104, 1 << 16, dtype=np.float32)])
    rng = np.random.default_rng(20261202)
    values = (np.exp2(rng.uniform(-60, 60, gates.size)) * rng.choice([-1, 1], gates.size))
    return np.stack([values.astype(np.float32), gates], axis=1)


def test_signature_is_jax_nn():
    ours = inspect.signature(jaxact.glu).parameters
    theirs = inspect.signature(jax.nn.glu).parameters
    assert [(p.name, p.kind, p.default) for p in ours.values()] == [
        (p.name, p.kind, p.default) for p in theirs.values()
    ]
    assert "glu" in jaxact.__all__


def test_values_close_to_jax_nn_where_it_is_accurate():
    x = jnp.asarray(float32_inputs())
    moderate = np.abs(np.asarray(x[:, 1])) < 15
    ours = np.asarray(jaxact.glu(x))[moderate, 0]
    theirs = np.asarray(jax.nn.glu(x))[moderate, 0]
    normal = np.abs(theirs) >= 1e-30
    np.testing.assert_allclose(ours[normal], theirs[normal], rtol=1e-6)


def test_large_values_with_an_underflowing_gate():
    # sigma(-95) = 5.5e-42 is not a normal float32, a sigma(b) is.
    x = jnp.asarray([[3.5e10, -95.0], [-1e30, -100.0], [1e20, 90.0], [3e38, -170.0],
                     [-2e37, 160.0]], jnp.float32)
    value, d_a, d_b = glu_and_partials(x)
    expected = ref_glu(np, np.asarray(x[:, 0], np.float64), np.asarray(x[:, 1], np.float64))
    assert np.asarray(jax.nn.glu(x))[0, 0] == 0  # jax.nn underflows
    for got, reference in [(value, expected[0]), (d_b, expected[2])]:
        assert ulp_error(got, reference).max() <= 2.5, (got, reference)


def _assert_normal_within(x, got, reference, bound, context):
    got = np.asarray(got)
    normal = (np.abs(reference) >= FLOAT32_TINY) & (np.abs(reference) <= np.finfo(np.float32).max)
    assert normal.sum() > 0.3 * reference.size, context
    error = ulp_error(got[normal], reference[normal])
    worst = int(np.argmax(error))
    assert error[worst] <= bound, (
        f"{context}: {error[worst]:.3g} ULP > {bound} at (a, b) = {x[normal][worst]!r}: "
        f"got {got[normal][worst]!r}, expected {reference[normal][worst]!r}"
    )
    tiny = np.abs(reference) < FLOAT32_TINY
    assert np.all(np.isfinite(got[tiny])), f"{context}: NaN/inf where the result is tiny"


def test_float32_value_and_partials_against_float64():
    x = float32_inputs()
    value, d_a, d_b = glu_and_partials(jnp.asarray(x))
    expected = ref_glu(np, x[:, 0].astype(np.float64), x[:, 1].astype(np.float64))
    for name, got, reference, bound in [
        ("value", value, expected[0], VALUE_MAX_ULP),
        ("d/da", d_a, expected[1], DERIVATIVE_MAX_ULP),
        ("d/db", d_b, expected[2], DERIVATIVE_MAX_ULP),
    ]:
        _assert_normal_within(x, got, reference, bound, f"glu {name}")


def test_gate_gradient_where_jax_nn_is_zero():
    x = jnp.asarray([[1.0, 30.0], [2.0, 80.0]], jnp.float32)
    _, _, d_b = glu_and_partials(x)
    _, jax_nn_pullback = jax.vjp(jax.nn.glu, x)
    assert np.all(np.asarray(jax_nn_pullback(jnp.ones((2, 1)))[0])[:, 1] == 0)
    expected = np.array([np.exp(-30.0), 2 * np.exp(-80.0)])
    np.testing.assert_allclose(np.asarray(d_b), expected, rtol=4e-7)


@pytest.mark.parametrize("dtype", [ml_dtypes.bfloat16, np.float16], ids=["bfloat16", "float16"])
def test_half_precision_is_the_float32_result_rounded_once(dtype):
    gates = np.arange(1 << 16, dtype=np.uint16).view(dtype)
    for value in (0.75, -3.0):
        x = np.stack([np.full(gates.shape, value, dtype), gates], axis=1)
        got = glu_and_partials(jnp.asarray(x))
        wide = glu_and_partials(jnp.asarray(x.astype(np.float32)))
        for name, half, single in zip(("value", "d/da", "d/db"), got, wide, strict=True):
            assert_rounded_once(half, single, dtype, f"glu {name} {np.dtype(dtype).name}", gates)


def test_float64_against_mpmath():
    b = np.concatenate([-np.geomspace(1e-10, 700, 400)[::-1], [0.0], np.geomspace(1e-10, 700, 400)])
    a = np.full_like(b, -1.7)
    expected = [[], [], []]
    with mpmath.workdps(30):
        for gate in b:
            gate = mpmath.mpf(float(gate))
            sigma = 1 / (1 + mpmath.exp(-gate))
            sigma_of_neg = 1 / (1 + mpmath.exp(gate))  # not 1 - sigma: that cancels
            for row, v in zip(expected, (-1.7 * sigma, sigma, -1.7 * sigma * sigma_of_neg),
                              strict=True):
                row.append(float(v))
    with jax.enable_x64(True):
        got = jax.jit(_glu_and_partials)(jnp.asarray(np.stack([a, b], axis=1)))
        assert all(g.dtype == jnp.float64 for g in got)
    for name, values, reference in zip(("value", "d/da", "d/db"), got, expected, strict=True):
        reference = np.array(reference)
        normal = np.abs(reference) >= FLOAT64_TINY
        error = ulp_error(np.asarray(values)[normal], reference[normal])
        assert error.max() <= 4.0, f"glu float64 {name}: {error.max():.3g} ULP"


def test_axis_and_shapes_as_jax_nn():
    x = jnp.asarray(np.random.default_rng(0).normal(size=(4, 6, 8)), jnp.float32)
    for axis in (0, 1, 2, -1, -2, -3):
        got = jaxact.glu(x, axis=axis)
        expected = jax.nn.glu(x, axis=axis)
        assert got.shape == expected.shape
        np.testing.assert_allclose(np.asarray(got), np.asarray(expected), rtol=1e-6, atol=1e-7)
    a, b = jnp.split(x, 2, axis=1)
    np.testing.assert_allclose(np.asarray(jaxact.glu(x, 1)), np.asarray(a * jaxact.sigmoid(b)),
                               rtol=3e-7)


def test_limits_and_nan():
    x = jnp.asarray([[2.0, jnp.inf], [2.0, -jnp.inf], [jnp.nan, 1.0], [1.0, jnp.nan]])
    got = np.asarray(jaxact.glu(x))[:, 0]
    assert got[0] == 2.0 and got[1] == 0.0
    assert np.isnan(got[2]) and np.isnan(got[3])
    _, d_a, d_b = glu_and_partials(x[:2])
    np.testing.assert_array_equal(np.asarray(d_a), [1.0, 0.0])
    np.testing.assert_array_equal(np.asarray(d_b), [0.0, 0.0])


def test_dtypes_and_integer_inputs():
    for dtype in (jnp.bfloat16, jnp.float16, jnp.float32):
        assert jaxact.glu(jnp.ones(4, dtype)).dtype == dtype
    # jax.nn.glu rejects integers (lax.logistic does); jaxact promotes them
    # as its sigmoid does.
    got = jaxact.glu(jnp.asarray([3, -1, 0, 2], jnp.int32))
    assert got.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(got), [3 * 0.5, -1 / (1 + np.exp(-2.0))], rtol=1e-6)
    assert jaxact.glu(jnp.asarray([True, False])).dtype == jnp.float32
    with jax.enable_x64(True):
        assert jaxact.glu(jnp.ones(2)).dtype == jnp.float64


def test_errors_name_glu_and_the_argument():
    with pytest.raises(ValueError, match="jaxact.glu: the size of x along axis -1 must be even"):
        jaxact.glu(jnp.ones((2, 3)))
    with pytest.raises(ValueError, match="jaxact.glu: axis 2 is out of range"):
        jaxact.glu(jnp.ones((2, 4)), axis=2)
    with pytest.raises(ValueError, match="jaxact.glu: axis -3 is out of range"):
        jaxact.glu(jnp.ones((2, 4)), axis=-3)
    with pytest.raises(ValueError, match="jaxact.glu: x must have at least one dimension"):
        jaxact.glu(1.0)
    with pytest.raises(TypeError, match="jaxact.glu: axis must be an integer"):
        jaxact.glu(jnp.ones(4), axis=1.0)
    with pytest.raises(TypeError, match="jaxact.glu: x must be an array"):
        jaxact.glu([1.0, 2.0])
    with pytest.raises(TypeError, match="jaxact.glu: x must be real"):
        jaxact.glu(jnp.ones(2, jnp.complex64))


def test_jit_vmap_grad_compose():
    x = jnp.asarray(np.random.default_rng(1).normal(size=(5, 4)), jnp.float32)
    eager = jaxact.glu(x)
    np.testing.assert_array_equal(np.asarray(jax.jit(jaxact.glu, static_argnums=1)(x, -1)),
                                  np.asarray(eager))
    np.testing.assert_array_equal(np.asarray(jax.vmap(jaxact.glu)(x)), np.asarray(eager))
    grad = jax.grad(lambda v: jaxact.glu(v).sum())(x)
    a, b = np.split(np.asarray(x, np.float64), 2, axis=-1)
    _, d_a, d_b = ref_glu(np, a, b)
    np.testing.assert_allclose(np.asarray(grad), np.concatenate([d_a, d_b], -1), rtol=1e-6)
    per_row = jax.vmap(jax.grad(lambda v: jaxact.glu(v).sum()))(x)
    np.testing.assert_allclose(np.asarray(per_row), np.asarray(grad), rtol=1e-7)
    hessian = jax.hessian(lambda v: jaxact.glu(v).sum())(x[0])
    assert np.all(np.isfinite(np.asarray(hessian)))
    # d2/db2 = a sigma(b) sigma(-b) (sigma(-b) - sigma(b))
    sig, sig_neg = _sigmoids(np, np.float64(x[0, 3]))
    np.testing.assert_allclose(float(hessian[3, 3]),
                               float(x[0, 1]) * sig * sig_neg * (sig_neg - sig), rtol=1e-5)
