"""silu/swish, mish, log1mexp, soft_sign and squareplus: accuracy, derivatives
of every order, limits, dtypes, input rules and transformations.

The float64 references ``ref_NAME(xp, x) -> (value, derivative)`` (from
``harness.references``, shared with ``make accuracy``) take the array
module ``xp`` (numpy, or jax.numpy under float64) and avoid every
cancellation, so that they are within a few float64 ULPs of the truth for
float32 inputs; the float64 checks use mpmath instead.
"""

from __future__ import annotations

import functools
import inspect
import math

import jax
import jax.numpy as jnp
import ml_dtypes
import mpmath
import numpy as np
import pytest

import jaxact
from harness import references
from tests import helpers
from tests.helpers import assert_rounded_once, jax_nn_has_defect, ulp_error, value_and_slope

FORWARD_MAX_ULP = 2.5
DERIVATIVE_MAX_ULP = 4.0
FLOAT64_MAX_ULP = 4.0
FLOAT32_TINY = float(np.finfo(np.float32).tiny)
FLOAT64_TINY = float(np.finfo(np.float64).tiny)


# --------------------------------------------------------------------------
# float64 references


ref_soft_sign = value_and_slope(references.ref_soft_sign)
ref_squareplus = value_and_slope(references.ref_squareplus)
ref_silu = value_and_slope(references.ref_silu)
ref_mish = value_and_slope(references.ref_mish)
ref_log1mexp = value_and_slope(references.ref_log1mexp)


def ref_squareplus_d_b(xp, x, b=4.0):
    return references.ref_squareplus(xp, x, b)["df/db"]


soft_sign = jaxact.soft_sign
squareplus = jaxact.squareplus
silu = jaxact.silu
mish = jaxact.mish

FLOAT32_CASES = {
    "log1mexp": (jaxact.log1mexp, ref_log1mexp),
    "mish": (mish, ref_mish),
    "silu": (silu, ref_silu),
    "soft_sign": (jaxact.soft_sign, ref_soft_sign),
    "squareplus": (jaxact.squareplus, ref_squareplus),
    "squareplus(b=0.3)": (
        functools.partial(squareplus, b=0.3),
        functools.partial(ref_squareplus, b=float(np.float32(0.3))),
    ),
}
UNARY = {
    "log1mexp": jaxact.log1mexp,
    "mish": jaxact.mish,
    "silu": jaxact.silu,
    "soft_sign": jaxact.soft_sign,
    "squareplus": jaxact.squareplus,
}

JAX_NN = {name: getattr(jax.nn, name) for name in UNARY}


def derivative(fn, x):
    x = jnp.asarray(x)
    return jax.jvp(fn, (x,), (jnp.ones_like(x),))[1]


@functools.cache
def _value_and_derivative(fn):
    return jax.jit(lambda x: jax.jvp(fn, (x,), (jnp.ones_like(x),)))


# --------------------------------------------------------------------------
# float32: a strided sweep over every bit pattern, plus dense grids where
# jax.nn fails


@functools.cache
def float32_sweep() -> np.ndarray:
    # Every 4099th bit pattern (about a million, all binades of both signs),
    # then dense grids around the roots of the derivatives and where jax.nn
    # loses everything (x < -17 for silu and mish, x ~ -130 for squareplus).
    patterns = np.arange(0, 1 << 32, 4099, dtype=np.uint64).astype(np.uint32)
    x = patterns.view(np.float32)
    rng = np.random.default_rng(20261202)
    dense = [
        rng.uniform(-104, -17, 1 << 15),
        rng.uniform(-200, -100, 1 << 14),
        rng.uniform(-3, 3, 1 << 15),
        rng.uniform(-1e-3, 1e-3, 1 << 12),
        rng.uniform(0.5, 1.0, 1 << 12),  # log1mexp's switch point ln 2
    ]
    x = np.concatenate([x, *[d.astype(np.float32) for d in dense]])
    return x[np.isfinite(x) & (np.abs(x) >= FLOAT32_TINY)]


# A third of the sweep at least has normal results (log1mexp sees |x| only).
assert_normal_results_within = functools.partial(
    helpers.assert_normal_results_within, min_fraction=0.3
)


@pytest.mark.parametrize("name", list(FLOAT32_CASES))
def test_float32_value_and_derivative_within_bounds(name):
    # Every binade of both signs: also the check that no derivative is NaN
    # or inf where the true one is finite (tiny results must be finite).
    fn, reference = FLOAT32_CASES[name]
    x = float32_sweep()
    if name.startswith("log1mexp"):
        x = np.abs(x)
    value, slope = _value_and_derivative(fn)(jnp.asarray(x))
    assert value.dtype == jnp.float32 and slope.dtype == jnp.float32
    expected_value, expected_slope = reference(np, x.astype(np.float64))
    assert_normal_results_within(x, value, expected_value, FORWARD_MAX_ULP, f"{name} value")
    assert_normal_results_within(
        x, slope, expected_slope, DERIVATIVE_MAX_ULP, f"{name} derivative"
    )


@pytest.mark.parametrize("b", [4.0, 0.3, 1e6])
def test_squareplus_b_derivative_within_bound(b):
    x = float32_sweep()
    b32 = np.float32(b)
    d_b = jax.jit(jax.vmap(jax.grad(squareplus, argnums=1), (0, None)))(jnp.asarray(x), b32)
    assert d_b.dtype == jnp.float32
    expected = ref_squareplus_d_b(np, x.astype(np.float64), float(b32))
    assert_normal_results_within(x, d_b, expected, DERIVATIVE_MAX_ULP, f"squareplus d/db, b={b}")


def test_squareplus_far_from_zero_where_jax_nn_fails():
    # jax.nn: thousands of ULP at x ~ -130 (x + sqrt(x^2 + b) cancels) and
    # inf above 1.8e19 (x^2 overflows); here every such point is in bounds.
    x = np.float32([-130.0, -1e4, -3e18, -1e25, 1e20, 3e38, -3e38, 2e19])
    value, slope = _value_and_derivative(squareplus)(jnp.asarray(x))
    expected_value, expected_slope = ref_squareplus(np, x.astype(np.float64))
    assert_normal_results_within(x, value, expected_value, FORWARD_MAX_ULP, "value")
    assert_normal_results_within(x, slope, expected_slope, DERIVATIVE_MAX_ULP, "slope")
    jax_nn_error = ulp_error(jax.nn.squareplus(jnp.asarray(x[:1])), expected_value[:1])
    if jax_nn_has_defect("squareplus"):
        assert jax_nn_error.max() > 100  # the region is worth the test
    else:
        assert jax_nn_error.max() <= FORWARD_MAX_ULP  # the fix the table records


# --------------------------------------------------------------------------
# half precision: the float32 result rounded once


@pytest.mark.parametrize("dtype", [ml_dtypes.bfloat16, np.float16], ids=["bfloat16", "float16"])
@pytest.mark.parametrize("name", list(UNARY))
def test_half_precision_is_the_float32_result_rounded_once(name, dtype):
    fn = UNARY[name]
    x = np.arange(1 << 16, dtype=np.uint16).view(dtype)  # every pattern, NaN and inf too
    if name == "log1mexp":
        x = x[~(x.astype(np.float32) < 0)]
    evaluate = _value_and_derivative(fn)
    value, slope = evaluate(jnp.asarray(x))
    value32, slope32 = evaluate(jnp.asarray(x.astype(np.float32)))
    for quantity, got, wide in [("value", value, value32), ("derivative", slope, slope32)]:
        assert_rounded_once(got, wide, dtype, f"{name} {quantity}", x)


# --------------------------------------------------------------------------
# float64 against mpmath: values, first derivatives on a grid


MPMATH_DIGITS = 40


def _float64_points(low=1e-8, high=700.0, count=600) -> np.ndarray:
    magnitudes = np.geomspace(low, high, count)
    return np.concatenate([-magnitudes[::-1], [0.0], magnitudes])


def _mp_soft_sign(x):
    return [x / (abs(x) + 1), 1 / (abs(x) + 1) ** 2]


def _mp_squareplus(x, b=4):
    r = mpmath.sqrt(x * x + b)
    return [(x + r) / 2, (1 + x / r) / 2]


def _mp_silu(x):
    # silu = x s with s = sigma(x) and c = sigma(-x) = 1 - s formed without
    # 1 - s; s' = s c, s'' = s' (c - s), s''' = s' ((c - s)^2 - 2 s').
    s, c = 1 / (1 + mpmath.exp(-x)), 1 / (1 + mpmath.exp(x))
    d1 = s * c
    d2 = d1 * (c - s)
    d3 = d1 * ((c - s) ** 2 - 2 * d1)
    return [x * s, s + x * d1, 2 * d1 + x * d2, 3 * d2 + x * d3]


def _mp_log1mexp(x):
    # log1p(-e^-x): log(-expm1(-x)) would need more than 40 digits for x > 92.
    return [mpmath.log1p(-mpmath.exp(-x)), 1 / mpmath.expm1(x)]


def _mp_mish(x):
    # t = tanh(sp), sp = softplus(x); t' = sech^2(sp) s with s = sigma(x),
    # c = sigma(-x) formed without 1 - s, sech^2 without 1 - t^2.
    e = mpmath.exp(x)
    t = mpmath.tanh(mpmath.log1p(e))
    sech2 = 1 / mpmath.cosh(mpmath.log1p(e)) ** 2
    s, c = e / (1 + e), 1 / (1 + e)
    d1 = sech2 * s
    # d/dx: t -> d1, sech2 -> -2 t d1, s -> s c, c -> -s c
    d2 = -2 * t * d1 * s + sech2 * s * c
    d_sech2 = -2 * t * d1
    d3 = (-2 * (d1 * d1 * s + t * d2 * s + t * d1 * s * c)
          + d_sech2 * s * c + sech2 * s * c * (c - s))
    return [x * t, t + x * d1, 2 * d1 + x * d2, 3 * d2 + x * d3]


MP_FUNCTIONS = {
    "log1mexp": _mp_log1mexp,
    "mish": _mp_mish,
    "silu": _mp_silu,
    "soft_sign": _mp_soft_sign,
    "squareplus": _mp_squareplus,
}


@functools.cache
def _mpmath_derivatives(name: str, points: tuple[float, ...]) -> np.ndarray:
    """[f, f', ...] at each point (one row per point), from mpmath at 40 digits."""
    fn = MP_FUNCTIONS[name]
    with mpmath.workdps(MPMATH_DIGITS):
        return np.array([[float(v) for v in fn(mpmath.mpf(p))] for p in points])


def _check_float64(name, got, expected, max_ulp, context):
    got = np.asarray(got)
    normal = np.abs(expected) >= FLOAT64_TINY
    error = ulp_error(got[normal], expected[normal])
    worst = int(np.argmax(error))
    assert error[worst] <= max_ulp, (
        f"{name} float64 {context}: {error[worst]:.3g} ULP > {max_ulp} at "
        f"point {worst}: got {got[normal][worst]!r}, mpmath {expected[normal][worst]!r}"
    )


@pytest.mark.parametrize("name", list(MP_FUNCTIONS))
def test_float64_value_and_derivative_within_4_ulp_of_mpmath(name):
    x = _float64_points()
    if name == "log1mexp":
        x = x[x > 0]
    with jax.enable_x64(True):
        value, slope = jax.jvp(UNARY[name], (jnp.asarray(x),), (jnp.ones(x.shape),))
        assert value.dtype == jnp.float64 and slope.dtype == jnp.float64
    expected = _mpmath_derivatives(name, tuple(float(p) for p in x))
    _check_float64(name, value, expected[:, 0], FLOAT64_MAX_ULP, "value")
    _check_float64(name, slope, expected[:, 1], FLOAT64_MAX_ULP, "derivative")


# Second and third derivatives (PINN Hessians), silu's by autodiff of the
# closed-form first derivative, mish's closed forms of their own (see
# test_derivative_orders for both dtypes): relative error 1e-12, except within 16 float64
# epsilons of the largest value where the derivative itself crosses 0
# (measured: silu'' 1.2e-14 relative next to its root at 2.40, silu''' 9.6
# epsilons of its largest value next to its root at 0).
HIGHER_ORDER = ["silu", "mish"]


@pytest.mark.parametrize("name", HIGHER_ORDER)
def test_float64_second_and_third_derivatives_against_mpmath(name):
    x = _float64_points(1e-6, 600.0, 100)
    expected = _mpmath_derivatives(name, tuple(float(p) for p in x))
    with jax.enable_x64(True):
        second = jax.grad(jax.grad(UNARY[name]))
        third = jax.grad(second)
        points = jnp.asarray(x)
        got = [np.asarray(jax.jit(jax.vmap(second))(points)),
               np.asarray(jax.jit(jax.vmap(third))(points))]
        hessian = jax.jit(jax.hessian(lambda v: UNARY[name](v).sum()))(points[::20])
        # jax.hessian goes forward-over-reverse: the same rule, other roundings.
        np.testing.assert_allclose(
            np.diag(np.asarray(hessian)), got[0][::20],
            rtol=1e-12, atol=16 * 2.0**-52 * np.abs(got[0]).max(),
        )
    for order, values in zip((2, 3), got, strict=True):
        reference = expected[:, order]
        allowed = 1e-12 * np.abs(reference) + 16 * 2.0**-52 * np.abs(reference).max()
        error = np.abs(values - reference)
        worst = int(np.argmax(error / allowed))
        assert error[worst] <= allowed[worst], (
            f"{name} order {order} at x = {x[worst]!r}: {values[worst]!r}, "
            f"mpmath {reference[worst]!r}"
        )


# --------------------------------------------------------------------------
# the function surface: names, signatures, kinks, limits, dtypes, errors


@pytest.mark.parametrize("name", list(UNARY))
def test_signature_is_jax_nn_s(name):
    # Names, kinds and defaults; the annotations are spelled differently.
    def parameters(fn):
        return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]

    assert parameters(UNARY[name]) == parameters(JAX_NN[name])


@pytest.mark.parametrize("name", ["silu", "mish", "soft_sign"])
def test_negative_zero_kept_as_jax_nn(name):
    got = float(UNARY[name](jnp.float32(-0.0)))
    assert got == 0.0 and math.copysign(1.0, got) == -1.0


def test_kinks_as_jax_nn():
    # soft_sign'' jumps at 0 (-2 sign(x) / (1 + |x|)^3): jaxact takes the
    # right-hand limit -2, as jax.nn did before JAX 0.12 (which gives -0.0,
    # sign(0) = 0: the mean of neither side).
    assert float(jax.grad(jax.grad(soft_sign))(0.0)) == -2.0
    expected_jax_nn = -2.0 if jax.__version_info__ < (0, 12) else 0.0
    assert float(jax.grad(jax.grad(jax.nn.soft_sign))(0.0)) == expected_jax_nn
    assert float(jax.grad(soft_sign)(0.0)) == 1.0
    # squareplus'(0) = 1/2 for every b; with b = 0 (relu) jax.nn gives NaN.
    assert float(jax.grad(squareplus)(0.0)) == 0.5
    assert float(jax.grad(squareplus)(0.0, 0.0)) == 0.5
    assert float(squareplus(0.0)) == 1.0


LIMITS = {
    # name: ((value at -inf, value at inf), (derivative at -inf, at inf))
    "silu": ((0.0, math.inf), (0.0, 1.0)),
    "mish": ((0.0, math.inf), (0.0, 1.0)),
    "soft_sign": ((-1.0, 1.0), (0.0, 0.0)),
    "squareplus": ((0.0, math.inf), (0.0, 1.0)),
}


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
@pytest.mark.parametrize("name", list(LIMITS))
def test_limits_at_infinity_and_nan(name, dtype):
    # (bfloat16 and float16 infinities: the half-precision test above.)
    with jax.enable_x64(dtype == jnp.float64):
        x = jnp.asarray([-jnp.inf, jnp.inf, jnp.nan], dtype)
        value, slope = _value_and_derivative(UNARY[name])(x)
        assert value.dtype == dtype and slope.dtype == dtype
        value, slope = np.asarray(value, np.float64), np.asarray(slope, np.float64)
    (low, high), (slope_low, slope_high) = LIMITS[name]
    np.testing.assert_array_equal(value[:2], [low, high])
    np.testing.assert_array_equal(slope[:2], [slope_low, slope_high])
    assert np.isnan(value[2]) and np.isnan(slope[2])


def test_squareplus_limits_in_b():
    # b derivative 1 / (4 sqrt(x^2 + b)): 0 at +-inf, inf at x = b = 0.
    grad_b = jax.vmap(jax.grad(squareplus, argnums=1), (0, None))
    got = np.asarray(grad_b(jnp.float32([-jnp.inf, jnp.inf, 0.0]), jnp.float32(0.0)))
    np.testing.assert_array_equal(got, [0.0, 0.0, np.inf])
    assert float(squareplus(-3.0, 0.0)) == 0.0 and float(squareplus(3.0, 0.0)) == 3.0


def test_squareplus_far_region_and_relu_limit():
    # |x| > 2^13 sqrt(b) uses r = |x| + b / (2|x|): check it where 4|x| would
    # overflow, for a large b, and for b = 0 (relu) at tiny normal x, where
    # x^2 underflows.
    x = np.float32([-3e38, -1.6e38, -1e25, -2e4, 2e4, 1e25, 3e38])
    for b in (np.float32(1e6), np.float32(1e30), np.float32(4.0)):
        value, slope = jax.jvp(
            lambda x, b=b: squareplus(x, b), (jnp.asarray(x),), (jnp.ones_like(jnp.asarray(x)),)
        )
        expected_value, expected_slope = ref_squareplus(np, x.astype(np.float64), float(b))
        assert_normal_results_within(x, value, expected_value, FORWARD_MAX_ULP, f"b={b}")
        assert_normal_results_within(x, slope, expected_slope, DERIVATIVE_MAX_ULP, f"b={b}")
    tiny = np.float32([1.2e-38, 3e-30, 1e-20, -1e-20, -3e-30])
    value, slope = jax.jvp(
        lambda x: squareplus(x, 0.0), (jnp.asarray(tiny),), (jnp.ones_like(jnp.asarray(tiny)),)
    )
    np.testing.assert_array_equal(value, np.maximum(tiny, 0))
    np.testing.assert_array_equal(slope, (tiny > 0).astype(np.float32))


@pytest.mark.parametrize("name", list(UNARY))
def test_int_and_bool_promoted_as_jax_nn(name):
    # (Float dtypes are kept: asserted by the float32, half-precision and
    # float64 tests.)
    for ints in (jnp.asarray([1, 2]), jnp.asarray([True, False]), 3):
        try:
            expected = JAX_NN[name](ints).dtype
        except TypeError:  # jax.nn.silu rejects integers: promoted as jnp.tanh does
            expected = jnp.result_type(float)
        assert UNARY[name](ints).dtype == expected


@pytest.mark.parametrize("name", list(UNARY))
def test_weak_type_kept_as_jax_nn(name):
    assert (UNARY[name](0.5) * jnp.ones(3, jnp.bfloat16)).dtype == jnp.bfloat16
    assert UNARY[name](0.5).weak_type == JAX_NN[name](0.5).weak_type


@pytest.mark.parametrize("name", list(UNARY))
def test_bad_input_error_names_the_function(name):
    with pytest.raises(TypeError, match=f"jaxact.{name}: x must be"):
        UNARY[name]("1.0")
    with pytest.raises(TypeError, match=f"jaxact.{name}: x must be real"):
        UNARY[name](jnp.asarray([1 + 1j]))


def test_squareplus_rejects_negative_b():
    with pytest.raises(ValueError, match="jaxact.squareplus: b must be >= 0"):
        squareplus(1.0, -1.0)
    with pytest.raises(TypeError, match="jaxact.squareplus: b must be"):
        squareplus(1.0, "4")


def test_squareplus_b_broadcasts_traced_and_differentiable():
    x = jnp.asarray([[-2.0, 0.5, 3.0]], jnp.float32)
    b = jnp.asarray([[1.0], [4.0]], jnp.float32)
    got = jax.jit(squareplus)(x, b)
    assert got.shape == (2, 3)
    expected, _ = ref_squareplus(np, np.asarray(x, np.float64), np.asarray(b, np.float64))
    assert ulp_error(got, expected).max() <= FORWARD_MAX_ULP
    grad_b = jax.grad(lambda b: squareplus(x, b).sum())(b)
    expected_b = ref_squareplus_d_b(np, np.asarray(x, np.float64), np.asarray(b, np.float64))
    assert ulp_error(grad_b, expected_b.sum(axis=1, keepdims=True)).max() <= 8


@pytest.mark.parametrize("name", list(UNARY))
def test_jit_vmap_grad_compose(name):
    x = jnp.linspace(0.1 if name == "log1mexp" else -5.0, 5.0, 24, dtype=jnp.float32)
    fn = UNARY[name]
    np.testing.assert_array_equal(np.asarray(jax.jit(fn)(x)), np.asarray(fn(x)))
    per_point = jax.jit(jax.vmap(jax.grad(fn)))(x)
    summed = jax.jit(jax.grad(lambda v: fn(v).sum()))(x)
    np.testing.assert_array_equal(np.asarray(summed), np.asarray(per_point))
    np.testing.assert_array_equal(np.asarray(per_point), np.asarray(derivative(fn, x)))


# --------------------------------------------------------------------------
# the constants behind the accuracy


def test_silu_is_swish_and_jax_nn_fails_where_it_holds():
    assert jaxact.swish is jaxact.silu
    x = np.float32([-30.0, -88.0, -90.0, -91.0])  # x e^x is normal down to -92.5
    value, slope = _value_and_derivative(silu)(jnp.asarray(x))
    expected_value, expected_slope = ref_silu(np, x.astype(np.float64))
    assert ulp_error(value, expected_value).max() <= FORWARD_MAX_ULP
    assert ulp_error(slope, expected_slope).max() <= DERIVATIVE_MAX_ULP
    # jax.nn: 0 below -87.3 where x e^x is still a normal float32.
    assert np.all(np.asarray(jax.nn.silu(jnp.asarray(x[1:]))) == 0)


def _silu_slope_factor(x):
    return 1 + x + mpmath.exp(x)


def _mish_slope_factor(x):
    e = mpmath.exp(x)
    return 4 * (1 + x) + e * (6 + 4 * x + e * (4 + e))


ROOTS = {
    # name: (module, the function whose simple root is f's root)
    "silu": ("logistic", _silu_slope_factor),
    "mish": ("hyperbolic", _mish_slope_factor),
}


def _stored(name, suffix):
    import importlib

    module = importlib.import_module(f"jaxact._src.{ROOTS[name][0]}")
    return getattr(module, f"_{name.upper()}_{suffix}")


@pytest.mark.parametrize("name", list(ROOTS))
def test_stored_root_and_series_are_mpmath_s(name):
    stored_root = _stored(name, "SLOPE_ROOT")
    series = _stored(name, "SLOPE_SERIES")
    with mpmath.workdps(60):
        exact = mpmath.findroot(ROOTS[name][1], mpmath.mpf(stored_root))
        assert abs(exact - mpmath.mpf(stored_root)) < mpmath.mpf(10) ** -38
        taylor = mpmath.taylor(lambda x: MP_FUNCTIONS[name](x)[1], exact, len(series))
    assert abs(taylor[0]) < 1e-40
    np.testing.assert_allclose(series, [float(c) for c in taylor[1:]], rtol=1e-14)


def test_float64_tanh_pade_coefficients_are_mpmath_s_and_within_a_fiftieth_ulp():
    # The [3/3] Pade approximant of R in tanh(a) = a + a^3 R(a^2), the
    # float64 series below the switch point, recomputed from the exact
    # Taylor coefficients; and its error, relative to tanh(a), on (0, 0.55].
    from jaxact._src import hyperbolic
    from jaxact._src.numerics import tanh_taylor_coefficient

    with mpmath.workdps(50):
        taylor = [mpmath.mpf(c.numerator) / c.denominator
                  for c in map(tanh_taylor_coefficient, range(2, 9))]
        p, q = mpmath.pade(taylor, 3, 3)
        np.testing.assert_array_equal(hyperbolic._TANH_PADE_P_FLOAT64, [float(c) for c in p])
        np.testing.assert_array_equal(hyperbolic._TANH_PADE_Q_FLOAT64, [float(c) for c in q])
        worst = 0
        for a in mpmath.linspace(mpmath.mpf(hyperbolic._TANH_SWITCH) / 200,
                                 hyperbolic._TANH_SWITCH, 200):
            s = a * a
            ratio = (sum(c * s**k for k, c in enumerate(p))
                     / sum(c * s**k for k, c in enumerate(q)))
            approx = a + a**3 * ratio
            worst = max(worst, abs(approx / mpmath.tanh(a) - 1))
    assert worst < 2.0**-53 / 50, float(worst)


@pytest.mark.parametrize("name", list(ROOTS))
def test_derivative_next_to_its_root_within_bound(name):
    # The float32 numbers around the root of f', where the closed form
    # cancels completely, against mpmath.
    root = np.float32(float(_stored(name, "SLOPE_ROOT")))
    steps = np.arange(-64, 65)
    x = (root.view(np.int32) + steps).astype(np.int32).view(np.float32)
    slope = np.asarray(derivative(UNARY[name], jnp.asarray(x)))
    expected = _mpmath_derivatives(name, tuple(float(p) for p in x))[:, 1]
    assert ulp_error(slope, expected).max() <= DERIVATIVE_MAX_ULP


def test_rescale_constant_is_nearly_a_float32():
    from jaxact._src import numerics

    with mpmath.workdps(40):
        exact = mpmath.exp(-mpmath.mpf(numerics._RESCALE_SHIFT))
        rounded = mpmath.mpf(float(np.float32(numerics._RESCALE)))
        assert abs(rounded / exact - 1) < mpmath.mpf(2) ** -38


def test_log1mexp_domain_and_limits():
    x = jnp.asarray([0.0, jnp.inf, -1.0, -jnp.inf, jnp.nan], jnp.float32)
    value, slope = _value_and_derivative(jaxact.log1mexp)(x)
    value, slope = np.asarray(value, np.float64), np.asarray(slope, np.float64)
    np.testing.assert_array_equal(value[:2], [-np.inf, 0.0])
    np.testing.assert_array_equal(slope[:2], [np.inf, 0.0])
    # Outside the domain and NaN: NaN, value and derivative.
    assert np.all(np.isnan(value[2:])) and np.all(np.isnan(slope[2:]))
    # Second derivative -e^x / expm1(x)^2 at the switch points, as mpmath.
    with jax.enable_x64(True):
        points = jnp.asarray([math.log(2.0), 1.5, 0.3, 40.0])
        second = jax.jit(jax.vmap(jax.grad(jax.grad(jaxact.log1mexp))))(points)
    with mpmath.workdps(40):
        expected = [float(-mpmath.exp(p) / mpmath.expm1(p) ** 2) for p in np.asarray(points)]
    np.testing.assert_allclose(np.asarray(second), expected, rtol=1e-13)
