"""The test matrix of every elementwise activation: values, kinks, limits, NaN,
dtypes, transformations, input rules, identities and sharding.

Accuracy sweeps are in test_accuracy.py; here each reference is a closed form
evaluated in Python float64 (``math``), written beside the test.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P
from jax.test_util import check_grads

import jaxact
from tests.helpers import assert_trees_allclose, assert_ulp_close

gl_half = functools.partial(jaxact.generalized_logistic, alpha=0.5)
gl_two = functools.partial(jaxact.generalized_logistic, alpha=2.0)
elu_07 = functools.partial(jaxact.elu, alpha=0.7)

SMOOTH = {
    "sigmoid": jaxact.sigmoid,
    "tanh": jaxact.tanh,
    "elu": jaxact.elu,
    "elu(alpha=0.7)": elu_07,
    "softplus": jaxact.softplus,
    "log_sigmoid": jaxact.log_sigmoid,
    "generalized_logistic(alpha=0.5)": gl_half,
    "generalized_logistic(alpha=2)": gl_two,
}
ALL = {**SMOOTH, "relu": jaxact.relu, "leaky_relu": jaxact.leaky_relu}


def derivative(fn, x):
    """Elementwise derivative, one jvp with a tangent of ones."""
    x = jnp.asarray(x)
    return jax.jvp(fn, (x,), (jnp.ones_like(x),))[1]


def f32(value) -> np.float32:
    return np.float32(value)


# --------------------------------------------------------------------------
# exact values and kinks


@pytest.mark.parametrize(
    "fn, x, expected",
    [
        (jaxact.sigmoid, 0.0, 0.5),
        (jaxact.tanh, 0.0, 0.0),
        (jaxact.elu, 0.0, 0.0),
        (jaxact.relu, -3.0, 0.0),
        (jaxact.relu, 3.0, 3.0),
        (jaxact.leaky_relu, 3.0, 3.0),
        (jaxact.leaky_relu, -2.0, f32(0.01) * f32(-2.0)),  # the slope is cast to x's dtype
        (gl_two, 0.0, 0.25),  # (1/2)^2
        (jaxact.elu, 5.0, 5.0),
        (jaxact.softplus, -200.0, 0.0),  # log1p(e^-200) is below the subnormals
        (jaxact.log_sigmoid, -100.0, -100.0),  # -100 - log1p(e^-100) rounds to -100
    ],
)
def test_exact_values(fn, x, expected):
    got = fn(jnp.float32(x))
    assert got.dtype == jnp.float32
    assert float(got) == float(expected)


@pytest.mark.parametrize(
    "fn, x, expected",
    [
        (jaxact.softplus, 0.0, math.log(2.0)),
        (jaxact.log_sigmoid, 0.0, -math.log(2.0)),
        (gl_half, 0.0, math.sqrt(0.5)),
        (jaxact.tanh, 0.5, math.tanh(0.5)),
        (jaxact.elu, -1.0, math.expm1(-1.0)),
        (jaxact.sigmoid, 3.0, 1 / (1 + math.exp(-3.0))),
    ],
)
def test_values_within_one_ulp(fn, x, expected):
    assert_ulp_close(fn(jnp.float32(x)), expected, 1.0, context=f"{fn}({x})")


def test_tanh_is_odd_and_keeps_negative_zero():
    x = jnp.asarray([0.0, 1e-30, 0.3, 2.0, 9.5, 50.0], jnp.float32)
    np.testing.assert_array_equal(np.asarray(jaxact.tanh(-x)), -np.asarray(jaxact.tanh(x)))
    assert math.copysign(1.0, float(jaxact.tanh(jnp.float32(-0.0)))) == -1.0


def test_kink_conventions_exact():
    grad = jax.grad
    # relu'(0) = 0 and leaky_relu'(0) = 1, as jax.nn.
    assert float(grad(jaxact.relu)(0.0)) == 0.0
    assert float(grad(jaxact.leaky_relu)(0.0)) == 1.0
    # ELU at 0 follows the source's x <= 0 branch: alpha e^0 = alpha.
    assert float(grad(jaxact.elu)(0.0)) == 1.0
    assert float(grad(elu_07)(0.0)) == float(f32(0.7))
    assert float(grad(jaxact.relu)(2.0)) == 1.0
    assert float(grad(jaxact.relu)(-2.0)) == 0.0
    assert float(grad(jaxact.leaky_relu)(-2.0)) == float(f32(0.01))
    assert float(grad(lambda x: jaxact.leaky_relu(x, 0.2))(-2.0)) == float(f32(0.2))


def test_derivatives_at_zero():
    assert float(jax.grad(jaxact.sigmoid)(0.0)) == 0.25
    assert float(jax.grad(jaxact.tanh)(0.0)) == 1.0
    assert float(jax.grad(jaxact.softplus)(0.0)) == 0.5
    assert float(jax.grad(jaxact.log_sigmoid)(0.0)) == 0.5
    assert float(jax.grad(gl_two)(0.0)) == 0.25  # 2 * (1/4) * (1/2)


# --------------------------------------------------------------------------
# the points where jax.nn's gradient is exactly 0 (float32)


@pytest.mark.parametrize(
    "fn, x, expected",
    [
        (jaxact.sigmoid, 30.0, math.exp(-30) / (1 + math.exp(-30)) ** 2),
        (jaxact.sigmoid, 80.0, math.exp(-80) / (1 + math.exp(-80)) ** 2),
        (jaxact.sigmoid, -30.0, math.exp(-30) / (1 + math.exp(-30)) ** 2),
        (jaxact.tanh, 10.0, 1 / math.cosh(10.0) ** 2),
        (jaxact.tanh, -20.0, 1 / math.cosh(20.0) ** 2),
        (jaxact.tanh, 40.0, 1 / math.cosh(40.0) ** 2),
        (jaxact.elu, -30.0, math.exp(-30.0)),
        (jaxact.elu, -80.0, math.exp(-80.0)),
        (jaxact.softplus, -30.0, 1 / (1 + math.exp(30.0))),
        (jaxact.log_sigmoid, 30.0, 1 / (1 + math.exp(30.0))),
        (gl_two, 30.0, 2 * (1 + math.exp(-30)) ** -2 / (1 + math.exp(30.0))),
        (gl_half, -60.0, 0.5 * (1 + math.exp(60)) ** -0.5 / (1 + math.exp(-60.0))),
    ],
)
def test_gradient_where_jax_nn_gives_zero(fn, x, expected):
    got = jax.grad(fn)(jnp.float32(x))
    assert float(got) > 0
    assert_ulp_close(got, expected, 4.0, context=f"grad at {x}")


def test_generalized_logistic_gradient_finite_below_minus_88():
    # The naive (1 + exp(-x)) ** -alpha overflows there and its gradient is NaN.
    x = jnp.asarray([-89.0, -100.0, -1000.0, -3e38], jnp.float32)
    for alpha in (0.5, 2.0):
        dx = derivative(functools.partial(jaxact.generalized_logistic, alpha=alpha), x)
        d_alpha = jax.vmap(jax.grad(jaxact.generalized_logistic, argnums=1), (0, None))(
            x, jnp.float32(alpha)
        )
        assert np.all(np.isfinite(np.asarray(dx))) and np.all(np.asarray(dx) >= 0)
        assert np.all(np.isfinite(np.asarray(d_alpha))) and np.all(np.asarray(d_alpha) <= 0)
    # alpha = 0.5 at x = -100: f = e^-50, df/dx = 0.5 e^-50, both normal float32.
    got = jax.grad(gl_half)(jnp.float32(-100.0))
    expected = 0.5 * (1 + math.exp(100.0)) ** -0.5 / (1 + math.exp(-100.0))
    assert_ulp_close(got, expected, 4.0, context="d/dx generalized_logistic(-100, 0.5)")


# --------------------------------------------------------------------------
# infinities and NaN

LIMITS = {
    # name: (f(-inf), f(inf), f'(-inf), f'(inf))
    "sigmoid": (0.0, 1.0, 0.0, 0.0),
    "tanh": (-1.0, 1.0, 0.0, 0.0),
    "elu": (-1.0, math.inf, 0.0, 1.0),
    "elu(alpha=0.7)": (-float(f32(0.7)), math.inf, 0.0, 1.0),
    "softplus": (0.0, math.inf, 0.0, 1.0),
    "log_sigmoid": (-math.inf, 0.0, 1.0, 0.0),
    "generalized_logistic(alpha=0.5)": (0.0, 1.0, 0.0, 0.0),
    "generalized_logistic(alpha=2)": (0.0, 1.0, 0.0, 0.0),
    "relu": (0.0, math.inf, 0.0, 1.0),
    "leaky_relu": (-math.inf, math.inf, float(f32(0.01)), 1.0),
}


@pytest.mark.parametrize("name", list(LIMITS))
def test_limits_at_infinity(name):
    fn = ALL[name]
    x = jnp.asarray([-np.inf, np.inf], jnp.float32)
    value_neg, value_pos, slope_neg, slope_pos = LIMITS[name]
    np.testing.assert_array_equal(np.asarray(fn(x)), [value_neg, value_pos])
    np.testing.assert_array_equal(np.asarray(derivative(fn, x)), [slope_neg, slope_pos])


@pytest.mark.parametrize(
    "fn, arg",
    [
        (jaxact.elu, 1.0),
        (jaxact.generalized_logistic, 0.5),
        (jaxact.generalized_logistic, 2.0),
        (jaxact.leaky_relu, 0.01),
    ],
)
def test_parameter_derivative_at_infinity_is_its_limit(fn, arg):
    x = jnp.asarray([-np.inf, np.inf], jnp.float32)
    d_param = jax.vmap(jax.grad(fn, argnums=1), (0, None))(x, jnp.float32(arg))
    # elu: d/dalpha = e^x - 1 -> -1, 0; generalized logistic: f log sigma -> 0, 0;
    # leaky_relu: d/dslope = x -> -inf for x -> -inf (its true limit), 0.
    expected = {
        jaxact.elu: [-1.0, 0.0],
        jaxact.generalized_logistic: [0.0, 0.0],
        jaxact.leaky_relu: [-np.inf, 0.0],
    }[fn]
    np.testing.assert_array_equal(np.asarray(d_param), expected)


@pytest.mark.parametrize("name", list(ALL))
def test_nan_in_nan_out(name):
    fn = ALL[name]
    x = jnp.asarray([np.nan, 1.0, -np.nan], jnp.float32)
    value = np.asarray(fn(x))
    slope = np.asarray(derivative(fn, x))
    assert np.isnan(value[0]) and np.isnan(value[2]) and not np.isnan(value[1])
    # A NaN input must not come back as a silent 0 gradient either.
    assert np.isnan(slope[0]) and np.isnan(slope[2]), f"{name}'(NaN) = {slope[0]}"


def _log_spaced_both_signs(dtype=np.float32):
    finfo = np.finfo(dtype)
    magnitudes = np.geomspace(float(finfo.smallest_subnormal), float(finfo.max), 4000)
    magnitudes = magnitudes.astype(dtype)
    return np.concatenate([-magnitudes, [0.0, -0.0, np.inf, -np.inf], magnitudes]).astype(dtype)


@pytest.mark.parametrize("name", list(ALL))
def test_derivative_never_nan_or_inf(name):
    fn = ALL[name]
    x = jnp.asarray(_log_spaced_both_signs())
    slope = np.asarray(derivative(fn, x))
    bad = ~np.isfinite(slope)
    assert not bad.any(), f"{name}': {slope[bad][:3]} at x = {np.asarray(x)[bad][:3]}"
    # The reverse mode must agree with the forward mode everywhere.
    reverse = np.asarray(jax.vmap(jax.grad(fn))(x))
    np.testing.assert_array_equal(reverse, slope)


@pytest.mark.parametrize("fn", [jaxact.elu, jaxact.generalized_logistic])
def test_parameter_derivative_never_nan_or_inf(fn):
    # leaky_relu's slope derivative is x itself: infinite at x = -inf, correctly.
    x = jnp.asarray(_log_spaced_both_signs())
    for alpha in (0.5, 1.0, 2.0):
        d_alpha = np.asarray(jax.vmap(jax.grad(fn, argnums=1), (0, None))(x, jnp.float32(alpha)))
        bad = ~np.isfinite(d_alpha)
        assert not bad.any(), f"alpha={alpha}: {d_alpha[bad][:3]} at {np.asarray(x)[bad][:3]}"


# --------------------------------------------------------------------------
# dtypes

HALF_AND_SINGLE = [jnp.bfloat16, jnp.float16, jnp.float32]


@pytest.mark.parametrize("dtype", HALF_AND_SINGLE, ids=lambda d: jnp.dtype(d).name)
@pytest.mark.parametrize("name", list(ALL))
def test_dtype_kept(name, dtype):
    fn = ALL[name]
    x = jnp.asarray([-3.0, -0.5, 0.0, 0.5, 3.0], dtype)
    assert fn(x).dtype == jnp.dtype(dtype)
    assert derivative(fn, x).dtype == jnp.dtype(dtype)
    assert jax.grad(lambda v: fn(v).sum())(x).dtype == jnp.dtype(dtype)


@pytest.mark.parametrize("name", list(ALL))
def test_dtype_kept_float64(name):
    fn = ALL[name]
    with jax.enable_x64(True):
        x = jnp.asarray([-3.0, -0.5, 0.0, 0.5, 3.0], jnp.float64)
        assert fn(x).dtype == jnp.float64
        assert derivative(fn, x).dtype == jnp.float64


def test_parameter_promotes_with_x_as_in_jax_nn():
    # A float32 parameter makes a bfloat16 x float32, as jax.nn's arithmetic
    # promotes it; a Python float keeps bfloat16 (tests/test_dtypes.py
    # compares every combination with jax.nn).
    x = jnp.asarray([-1.0, 1.0], jnp.bfloat16)
    alpha = jnp.asarray(0.5, jnp.float32)
    assert jaxact.elu(x, alpha).dtype == jax.nn.elu(x, alpha).dtype == jnp.float32
    assert jaxact.generalized_logistic(x, alpha).dtype == jnp.float32
    assert jaxact.leaky_relu(x, alpha).dtype == jnp.float32
    assert jaxact.elu(x, 0.5).dtype == jnp.bfloat16


def test_integer_and_bool_inputs_promote_to_default_float():
    ints = jnp.asarray([-2, 0, 3], jnp.int32)
    bools = jnp.asarray([True, False])
    for name, fn in SMOOTH.items():
        assert fn(ints).dtype == jnp.float32, name
        assert fn(bools).dtype == jnp.float32, name
        np.testing.assert_array_equal(
            np.asarray(fn(ints)), np.asarray(fn(ints.astype(jnp.float32))), err_msg=name
        )
    assert jaxact.leaky_relu(ints).dtype == jnp.float32
    assert jaxact.sigmoid(3).dtype == jnp.float32
    with jax.enable_x64(True):
        assert jaxact.sigmoid(jnp.asarray([1, 2], jnp.int64)).dtype == jnp.float64


def test_relu_keeps_integer_dtypes():
    for dtype in (jnp.int8, jnp.int32, jnp.uint8):
        x = jnp.asarray([0, 1, 5], dtype)
        assert jaxact.relu(x).dtype == jnp.dtype(dtype)
    got = jaxact.relu(jnp.asarray([-3, 0, 4], jnp.int32))
    assert got.dtype == jnp.int32
    np.testing.assert_array_equal(np.asarray(got), [0, 0, 4])


# --------------------------------------------------------------------------
# input rules


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus",
                                  "log_sigmoid", "generalized_logistic"])
def test_bad_inputs_raise_type_error_naming_the_function(name):
    fn = getattr(jaxact, name)
    with pytest.raises(TypeError, match=rf"{name}.*complex64"):
        fn(jnp.asarray([1 + 2j], jnp.complex64))
    for bad in ([1.0, 2.0], "1.0", None):
        with pytest.raises(TypeError, match=name):
            fn(bad)


@pytest.mark.parametrize("alpha", [0.0, -1.0, np.asarray([1.0, -0.5])])
def test_generalized_logistic_rejects_nonpositive_alpha(alpha):
    with pytest.raises(ValueError, match="alpha"):
        jaxact.generalized_logistic(jnp.ones(2), alpha)


@pytest.mark.parametrize("alpha", [-1e-3, -1.0, np.asarray([1.0, -0.5])])
def test_elu_rejects_negative_alpha(alpha):
    with pytest.raises(ValueError, match="alpha"):
        jaxact.elu(jnp.ones(2), alpha)


def test_elu_accepts_zero_alpha():
    np.testing.assert_array_equal(np.asarray(jaxact.elu(jnp.asarray([-2.0, 3.0]), 0.0)), [0, 3])


def test_complex_parameter_is_a_type_error():
    with pytest.raises(TypeError, match="alpha"):
        jaxact.elu(jnp.ones(2), 1 + 1j)
    with pytest.raises(TypeError, match="negative_slope"):
        jaxact.leaky_relu(jnp.ones(2), 1j)


# --------------------------------------------------------------------------
# second derivatives and parameter gradients, float64

# None is a kink; the functions are elementwise, so one array checks them all.
SMOOTH_POINTS = [-7.5, -2.0, -0.3, 0.4, 1.5, 6.0]


@pytest.mark.parametrize("name", list(ALL))
def test_check_grads_order_2_float64(name):
    fn = ALL[name]
    with jax.enable_x64(True):
        check_grads(fn, (jnp.asarray(SMOOTH_POINTS, jnp.float64),), order=2,
                    modes=["fwd", "rev"])


@pytest.mark.parametrize("name", list(SMOOTH))
def test_second_derivative_float32_matches_float64(name):
    # float32 takes exp from jaxact's own kernel (rounding with a magic
    # constant, 2^n from bits), through which autodiff alone would give 0;
    # float64 takes jnp.exp. Both must give the same second derivatives.
    fn = SMOOTH[name]
    # Jitted: one program per dtype instead of the nested grads' operations
    # compiled one by one.
    second = jax.jit(jax.vmap(jax.grad(jax.grad(fn))))
    got = second(jnp.asarray(SMOOTH_POINTS, jnp.float32))
    with jax.enable_x64(True):
        want = np.asarray(second(jnp.asarray(SMOOTH_POINTS, jnp.float64)))
    np.testing.assert_allclose(np.asarray(got, np.float64), want, rtol=1e-4, atol=1e-30)


@pytest.mark.parametrize("name", list(SMOOTH))
def test_second_derivative_of_a_composition_float64(name):
    # d^2/dx^2 f(x)^2 = 2 f'^2 + 2 f f'' needs the derivative of the value that
    # the JVP rule returns, not only of the derivative it returns.
    fn = SMOOTH[name]
    with jax.enable_x64(True):
        x = jnp.asarray(SMOOTH_POINTS, jnp.float64)
        check_grads(lambda v: fn(v) ** 2, (x,), order=2, modes=["fwd", "rev"])


def test_bfloat16_tanh_second_derivative_goes_through_the_rule():
    # On the CPU a bfloat16 tanh takes its value from XLA's tanh, whose
    # derivative autodiff would take as 1 - tanh^2, exactly 0 far out.
    x = jnp.asarray(SMOOTH_POINTS, jnp.bfloat16)
    for fn in (jaxact.tanh, lambda v: jaxact.tanh(v) ** 2):
        second = jax.vmap(jax.grad(jax.grad(fn)))
        got = np.asarray(second(x), np.float32)
        want = np.asarray(second(x.astype(jnp.float32)))
        np.testing.assert_allclose(got, want, rtol=2e-2, atol=1e-6)
        assert np.all(got != 0)


@pytest.mark.parametrize(
    "fn, param",
    [
        (jaxact.generalized_logistic, 0.5),
        (jaxact.generalized_logistic, 2.0),
        (jaxact.elu, 0.7),
        (jaxact.leaky_relu, 0.2),
    ],
)
def test_check_grads_order_2_with_parameter_float64(fn, param):
    with jax.enable_x64(True):
        x = jnp.asarray(SMOOTH_POINTS, jnp.float64)
        check_grads(fn, (x, jnp.full_like(x, param)), order=2, modes=["fwd", "rev"])


# --------------------------------------------------------------------------
# transformations


@pytest.mark.parametrize("name", list(ALL))
def test_transformations_agree(name):
    fn = ALL[name]
    x = jnp.asarray(np.linspace(-4.0, 4.0, 24).reshape(2, 3, 4) + 0.05, jnp.float32)
    value = fn(x)
    slope = derivative(fn, x)
    flat = x.ravel()

    assert fn(jnp.float32(0.7)).shape == ()
    assert_trees_allclose(jax.vmap(jax.vmap(fn))(x), value, rtol=0)
    assert_trees_allclose(jax.vmap(jax.grad(fn))(flat), slope.ravel(), rtol=0)
    _, pullback = jax.vjp(fn, x)
    assert_trees_allclose(pullback(jnp.ones_like(x))[0], slope, rtol=0)
    for jacobian in (jax.jacfwd, jax.jacrev):
        jac = jacobian(fn)(flat)
        assert_trees_allclose(jac, jnp.diag(slope.ravel()), rtol=0)
    # hessian on 0-d input equals the derivative of the derivative.
    # At 1.7 no second derivative here is near a zero, where forward-over-
    # reverse and reverse-over-reverse would differ by cancellation alone.
    point = jnp.float32(1.7)
    second = jax.hessian(fn)(point)
    assert second.shape == ()
    assert_ulp_close(second, float(jax.grad(jax.grad(fn))(point)), 4.0,
                     context=f"{name} hessian")

    def scan_step(carry, row):
        return carry + fn(row).sum(), fn(row)

    total, rows = jax.lax.scan(scan_step, jnp.float32(0), x.reshape(6, 4))
    assert_trees_allclose(rows, value.reshape(6, 4), rtol=0)
    # A float32 running sum of 24 terms: each addition rounds by <= 2^-24 of
    # the partial sum, which never exceeds the sum of magnitudes.
    magnitudes = float(np.abs(np.asarray(value, np.float64)).sum())
    assert abs(float(total) - float(np.asarray(value, np.float64).sum())) <= (
        24 * 2.0**-24 * magnitudes)

    checkpointed = jax.grad(lambda v: jax.checkpoint(fn)(v).sum())(x)
    assert_trees_allclose(checkpointed, slope, rtol=0)


@pytest.mark.parametrize("name", list(ALL))
def test_jit_and_no_jit_agree(name):
    fn = ALL[name]
    x = jnp.asarray(_log_spaced_both_signs()[::7])
    jitted = jax.jit(fn)(x)
    with jax.disable_jit():
        eager = fn(x)
        eager_slope = derivative(fn, x)
    jitted_slope = jax.jit(functools.partial(derivative, fn))(x)
    # Under disable_jit each function still runs its compiled kernel: op by op
    # it could not contract a*b + c into one rounding as the fused kernel does
    # (sigmoid' at x = -0.46192208 was 0.23712453 jitted, 0.23712456 op by op).
    for got, expected in [(jitted, eager), (jitted_slope, eager_slope)]:
        assert_trees_allclose(got, expected, rtol=0)


@pytest.mark.parametrize(
    "fn, params",
    [
        (jaxact.elu, [0.5, 1.0, 1.5, 2.0]),
        (jaxact.generalized_logistic, [0.5, 1.0, 1.5, 2.0]),
        (jaxact.leaky_relu, [0.0, 0.01, 0.2, 0.5]),
    ],
)
def test_traced_parameter_broadcasts_and_is_differentiable(fn, params):
    x = jnp.asarray(np.linspace(-3, 3, 12).reshape(3, 4), jnp.float32)
    param = jnp.asarray(params, jnp.float32)  # one per column

    got = jax.jit(fn)(x, param)
    for column, value in enumerate(params):
        expected = fn(x[:, column], value)
        assert_trees_allclose(got[:, column], expected, rtol=0)

    grad_param = jax.jit(jax.grad(lambda p: fn(x, p).sum()))(param)
    assert grad_param.shape == param.shape
    for column, value in enumerate(params):
        per_column = jax.grad(lambda p, column=column: fn(x[:, column], p).sum())(
            jnp.float32(value))
        assert_trees_allclose(grad_param[column], per_column, rtol=1e-6)


def test_parameter_gradients_closed_form():
    x = jnp.asarray([-2.0, -0.5, 1.0], jnp.float32)
    d_elu = jax.vmap(jax.grad(jaxact.elu, argnums=1), (0, None))(x, jnp.float32(1.3))
    assert_ulp_close(d_elu, [math.expm1(-2.0), math.expm1(-0.5), 0.0], 2.0, context="elu d/da")
    d_slope = jax.vmap(jax.grad(jaxact.leaky_relu, argnums=1), (0, None))(x, jnp.float32(0.1))
    np.testing.assert_array_equal(np.asarray(d_slope), [-2.0, -0.5, 0.0])
    d_gl = jax.vmap(jax.grad(jaxact.generalized_logistic, argnums=1), (0, None))(
        x, jnp.float32(2.0))
    expected = [(1 + math.exp(-v)) ** -2 * -math.log1p(math.exp(-v)) for v in (-2.0, -0.5, 1.0)]
    assert_ulp_close(d_gl, expected, 4.0, context="generalized_logistic d/dalpha")


# --------------------------------------------------------------------------
# identities and bounds (hypothesis)

LARGE = float(np.float32(1e30))  # bounds must be float32 values for width=32
# One shape, so each function compiles once for all examples.
finite_float32 = hnp.arrays(
    np.float32, 32,
    elements=st.floats(-LARGE, LARGE, allow_nan=False, width=32),
)
PROPERTY_SETTINGS = settings(max_examples=60, deadline=None)


@PROPERTY_SETTINGS
@given(finite_float32)
def test_sigmoid_symmetry(x):
    total = np.asarray(jaxact.sigmoid(-x), np.float64) + np.asarray(jaxact.sigmoid(x), np.float64)
    # sigma(-x) = 1 - sigma(x), to within a couple of ULPs of 1.
    assert np.max(np.abs(total - 1)) <= 2 * 2.0**-23


@PROPERTY_SETTINGS
@given(finite_float32)
def test_tanh_from_sigmoid(x):
    twice = np.asarray(jaxact.sigmoid(2 * x), np.float64)
    tanh = np.asarray(jaxact.tanh(x), np.float64)
    # Each side is within a few ULPs of a number in [-1, 1]: 2^-22 absolute is 4 ULPs of 1.
    assert np.max(np.abs(tanh - (2 * twice - 1))) <= 2.0**-22


@PROPERTY_SETTINGS
@given(finite_float32)
def test_generalized_logistic_alpha_one_is_sigmoid(x):
    sigmoid = jaxact.sigmoid(x)
    # The general kernel for every alpha, so a Python float, an array and a
    # traced alpha give the same bits, equal to the sigmoid within ULPs.
    default = jaxact.generalized_logistic(x)
    for alpha in (1.0, jnp.float32(1.0)):
        np.testing.assert_array_equal(
            np.asarray(jaxact.generalized_logistic(x, alpha)), np.asarray(default))
        traced = jax.jit(jaxact.generalized_logistic)(x, alpha)
        np.testing.assert_array_equal(np.asarray(traced), np.asarray(default))
    assert_ulp_close(default, np.asarray(sigmoid, np.float64), 2.0, context="alpha = 1")


@PROPERTY_SETTINGS
@given(finite_float32)
def test_monotone(x):
    x = np.sort(x)
    for name, fn in ALL.items():
        values = np.asarray(fn(x), np.float64)
        assert np.all(np.diff(values) >= 0), name


@PROPERTY_SETTINGS
@given(finite_float32)
def test_ranges(x):
    sigmoid = np.asarray(jaxact.sigmoid(x))
    assert np.all((sigmoid >= 0) & (sigmoid <= 1))
    tanh = np.asarray(jaxact.tanh(x))
    assert np.all((tanh >= -1) & (tanh <= 1))
    assert np.all(np.asarray(elu_07(x)) >= -f32(0.7))
    softplus = np.asarray(jaxact.softplus(x))
    assert np.all(softplus >= 0) and np.all(softplus >= x)
    log_sigmoid = np.asarray(jaxact.log_sigmoid(x))
    assert np.all(log_sigmoid <= 0) and np.all(log_sigmoid <= np.minimum(x, 0))
    for fn in (gl_half, gl_two):
        values = np.asarray(fn(x))
        assert np.all((values >= 0) & (values <= 1))
    assert np.all(np.asarray(jaxact.relu(x)) >= 0)


@pytest.mark.parametrize("name", list(ALL))
def test_same_results_inside_ensure_compile_time_eval(name):
    # That context evaluates operations on constants while tracing; the
    # barriers that keep XLA from folding the exp's rounding must survive it.
    fn = ALL[name]
    x = jnp.asarray([-3.0, -0.6, 0.6, 2.0, 30.0], jnp.float32)
    second = jax.vmap(jax.grad(jax.grad(fn)))
    want = (fn(x), derivative(fn, x), jax.vmap(jax.grad(fn))(x), second(x))
    with jax.ensure_compile_time_eval():
        got = (fn(x), derivative(fn, x), jax.vmap(jax.grad(fn))(x), second(x))
    assert_trees_allclose(got, want, rtol=0)


def test_bfloat16_tanh_uses_xlas_tanh_on_the_cpu_only():
    # On the CPU a bfloat16 tanh is XLA's float32 tanh rounded (equal to
    # jaxact's float32 tanh rounded at every input: see
    # test_half_precision_is_the_float32_result_rounded_once); elsewhere,
    # where XLA's tanh is another approximation, jaxact's own arithmetic.
    spec = jax.ShapeDtypeStruct((8,), jnp.bfloat16)
    for platform, uses_xla_tanh in (("cuda", False), ("rocm", False), ("cpu", True)):
        module = jax.export.export(jax.jit(jaxact.tanh), platforms=[platform])(spec).mlir_module()
        assert ("stablehlo.tanh" in module) == uses_xla_tanh, platform
        assert "gather" not in module, platform
    float16 = jax.export.export(jax.jit(jaxact.tanh), platforms=["cpu"])(
        jax.ShapeDtypeStruct((8,), jnp.float16)).mlir_module()
    assert "stablehlo.tanh" not in float16


# --------------------------------------------------------------------------
# sharding


def _assert_shards_match_blocks(got, fn, *args):
    """Each shard of ``got`` has the bits of ``fn`` on that shard's block, on one device.

    The reference is the block, not the whole array: XLA compiles a kernel
    for the shape it runs on, and since jax 0.12 its CPU code for a few small
    2-D shapes ((4, 3), (4, 4)) vectorises part of the array so that LLVM
    leaves one ``a * b + c`` uncontracted there (two roundings where the rest
    has an FMA): a (4, 3) array gives different bits from the same values
    as (12,) or (16, 6), with no sharding involved. What sharding must not
    change is the program each device runs.
    """
    jitted = jax.jit(fn)
    for shard in got.addressable_shards:
        want = jitted(*(jnp.asarray(np.asarray(arg)[shard.index]) for arg in args))
        np.testing.assert_array_equal(np.asarray(shard.data, np.float32),
                                      np.asarray(want, np.float32), err_msg=str(shard.index))


def test_sharded_inputs_match_unsharded():
    assert jax.device_count() >= 8, "tests/conftest.py asks for 8 host devices"
    mesh = Mesh(np.asarray(jax.devices()[:8]).reshape(4, 2), ("data", "model"))
    sharding = NamedSharding(mesh, P("data", "model"))
    x = jnp.asarray(np.linspace(-30, 30, 16 * 6).reshape(16, 6), jnp.float32)
    x_sharded = jax.device_put(x, sharding)
    alpha = jax.device_put(jnp.full((16, 6), 0.7, jnp.float32), sharding)
    for name, fn in ALL.items():
        got = jax.jit(fn)(x_sharded)
        assert got.sharding.is_equivalent_to(sharding, x.ndim), name
        _assert_shards_match_blocks(got, fn, x)
        grad_fn = jax.grad(lambda v, fn=fn: fn(v).sum())
        _assert_shards_match_blocks(jax.jit(grad_fn)(x_sharded), grad_fn, x)
    # bfloat16 tanh: XLA's tanh on the CPU, shard by shard.
    x_half = x.astype(jnp.bfloat16)
    got = jax.jit(jaxact.tanh)(jax.device_put(x_half, sharding))
    assert got.sharding.is_equivalent_to(sharding, x.ndim)
    _assert_shards_match_blocks(got, jaxact.tanh, x_half)
    for fn in (jaxact.elu, jaxact.generalized_logistic, jaxact.leaky_relu):
        got = jax.jit(fn)(x_sharded, alpha)
        _assert_shards_match_blocks(got, fn, x, alpha)
        grad_alpha = jax.jit(jax.grad(lambda a, fn=fn: fn(x_sharded, a).sum()))(alpha)
        assert np.all(np.isfinite(np.asarray(grad_alpha)))
