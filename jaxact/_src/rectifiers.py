"""The rectifier family: relu, leaky_relu, elu, and relu6, selu, celu."""

from __future__ import annotations

import functools
import math
from fractions import Fraction

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxact._src.checks import (
    as_float_array,
    as_kernel_parameter,
    as_real_array,
    promoted,
)
from jaxact._src.jvp import (
    binary_activation,
    cast,
    compute_dtype,
    guard_inputs,
    is_narrow,
    kernel,
    own_or_wide,
    unary_activation,
    upcast,
)
from jaxact._src.logistic import _UNDERFLOW_UNSCALE, _UNDERFLOW_ZONE, _underflow_scaled
from jaxact._src.numerics import (
    expm1_nonpositive,
    horner,
    nan_marker,
    rounded,
    terms_needed,
    two_product_error,
)


@jax.custom_jvp
def _relu_rule(x: jax.Array) -> jax.Array:
    (x,) = guard_inputs(x)
    # jnp.maximum propagates NaN, so relu(NaN) is NaN rather than 0. A
    # subnormal x is 0, on every path (see jvp.own_or_wide; the result is x
    # or 0, so its cast back is exact).
    y = jnp.maximum(own_or_wide(x), 0)
    return cast(y, x.dtype) if is_narrow(x.dtype) else y


@_relu_rule.defjvp
def _relu_jvp(primals, tangents):
    (x,), (x_dot,) = primals, tangents
    # relu'(0) = 0, as jax.nn.relu: the subgradient that keeps units at 0 off.
    # A NaN input has NaN derivatives of every order (nan_marker). The
    # tangent must stay linear in x_dot (a constant NaN branch would be
    # dropped by transposition), so the NaN enters as a factor.
    # A narrow x and its tangent in float32 (float8_e8m0fnu has no 0).
    wide = upcast(x)
    wide_dot = cast(x_dot, wide.dtype) if is_narrow(x.dtype) else x_dot
    slope = jnp.where(wide > 0, 1, 0) + nan_marker(wide)
    slope = slope.astype(wide_dot.dtype)
    return _relu_rule(x), cast(wide_dot * slope, x_dot.dtype)


_relu = kernel(_relu_rule)


def relu(x: ArrayLike) -> jax.Array:
    r"""Rectified linear unit.

    .. math::
        \mathrm{relu}(x) = \max(x, 0)

    Args:
        x: input array or number. Unlike the smooth functions, integer inputs
            keep their dtype.

    Returns:
        An array of the same shape and dtype as ``x``.

    Derivative: 1 for x > 0 and 0 for x <= 0; ``relu'(0) = 0``, as ``jax.nn.relu``.

    Accuracy: exact.

    Limits: ``relu(inf) = inf``, ``relu(-inf) = 0``; NaN gives NaN, and NaN
    derivatives of every order.

    Example:
        >>> import jax.numpy as jnp
        >>> import jaxact
        >>> jaxact.relu(jnp.array([-2.0, 0.0, 3.0]))
        Array([0., 0., 3.], dtype=float32)

    See also: :func:`leaky_relu`, :func:`elu`, ``jaxact.prelu``.
    """
    return _relu(as_real_array("relu", x))


@jax.jit
def leaky_value(x: jax.Array, negative_slope: jax.Array) -> jax.Array:
    """x for x > 0, else negative_slope * x, with the limits of every slope.

    The value of leaky_relu and of prelu, so that the two agree bit for bit.
    """
    # With a zero slope the limit at -inf is 0, but 0 * -inf is NaN: give that
    # product the lowest finite value instead (NaN stays NaN through maximum).
    # The bound is a Python float so that a weakly typed x stays weakly typed.
    lowest = float(jnp.finfo(x.dtype).min)
    negative_part = negative_slope * jnp.where(negative_slope == 0, jnp.maximum(x, lowest), x)
    # Likewise an infinite slope times x = 0 is NaN, where the value is 0 for
    # every slope: x * 0 keeps x's sign (so leaky_relu(+0.0, -0.7) is +0.0, as
    # jax.nn's), and flushes a subnormal x as the product would.
    negative_part = jnp.where(x == 0, x * 0, negative_part)
    # The value selects on x > 0 (the two branches agree at 0): the CPU treats a
    # subnormal x as 0, and x >= 0 would pass a negative subnormal through
    # unflushed, above the flushed values of its normal neighbours.
    return jnp.where(x > 0, x, negative_part)


def _leaky_relu_parts(x: jax.Array, negative_slope: jax.Array):
    positive = x >= 0
    y = leaky_value(x, negative_slope)
    # A NaN input has NaN derivatives of every order, in both directions.
    nan = nan_marker(x, negative_slope)
    dy_dx = cast(jnp.where(positive, 1, negative_slope), x.dtype) + nan
    dy_dslope = jnp.where(positive, 0, x) + nan
    return y, dy_dx, dy_dslope


_leaky_relu = binary_activation(_leaky_relu_parts, default_param=0.01, flush_on_cpu=False)


def leaky_relu(x: ArrayLike, negative_slope: ArrayLike = 0.01) -> jax.Array:
    r"""Leaky rectified linear unit (Maas et al., 2013).

    .. math::
        \mathrm{leaky\_relu}(x) = \begin{cases} x & x \ge 0 \\
            \mathrm{negative\_slope} \cdot x & x < 0 \end{cases}

    With the default slope 0.01 this is the source's :math:`\max(0.01x, x)`.

    Args:
        x: input array or number; integers and bool promote as in ``jnp.tanh``.
        negative_slope: slope for x < 0; a number or an array that broadcasts
            against ``x``, possibly traced; differentiable. Used in
            ``x``'s dtype (float32 for bfloat16 and float16 inputs).

    Returns:
        An array of ``x``'s floating dtype and the broadcast shape.

    Raises:
        ValueError: if ``negative_slope`` does not broadcast against ``x``, or
            is empty where ``x`` is not.

    Derivatives: 1 for x >= 0 and ``negative_slope`` for x < 0, so
    ``leaky_relu'(0) = 1`` as ``jax.nn.leaky_relu``; with respect to the
    slope, x for x < 0 and 0 otherwise.

    Accuracy: the product ``negative_slope * x`` rounded once.

    Higher derivatives are those of the branch taken: 0 at x = 0.

    Limits: ``leaky_relu(inf) = inf``, ``leaky_relu(-inf) = -inf`` (for a
    positive slope); an infinite slope gives the limits (``leaky_relu(-1.0,
    inf) = -inf``, and x itself at x = ±0, where every slope gives 0); NaN
    gives NaN, and NaN derivatives of every order with respect to both
    arguments. ``leaky_relu(-0.0)`` is -0.0, as ``jax.nn``'s.

    Example:
        >>> import jax.numpy as jnp
        >>> import jaxact
        >>> jaxact.leaky_relu(jnp.array([-2.0, 3.0]))
        Array([-0.02,  3.  ], dtype=float32)

    See also: :func:`relu`, ``jaxact.prelu`` (learned slopes).
    """
    x = promoted("leaky_relu", as_float_array("leaky_relu", x), "negative_slope", negative_slope)
    negative_slope = as_kernel_parameter(
        "leaky_relu", "negative_slope", negative_slope, compute_dtype(x.dtype),
        minimum=-math.inf, inclusive=True, x_shape=x.shape,
    )
    return _leaky_relu(x, negative_slope)


@jax.jit
def _elu_parts(x: jax.Array, alpha: jax.Array):
    positive = x > 0
    # Double where: the exponential branch sees only x <= 0, so it cannot
    # overflow for large x and poison the gradient with inf * 0. (where, not
    # minimum: at x = 0 minimum would split the derivative between x and 0,
    # and the second derivative there would be alpha/2, not the x <= 0
    # branch's alpha.)
    expm1_x, exp_x = expm1_nonpositive(jnp.where(positive, 0, x))
    negative = alpha * expm1_x
    # expm1 gives +0 at x = -0, and elu(-0.0) is -0.0 as jax.nn.elu's: where
    # the product is 0, alpha * x has its value with the right sign and its
    # derivatives at 0 (alpha and 0). (The max keeps 0 * -inf from a zero
    # alpha out.)
    negative = jnp.where(negative == 0, alpha * jnp.maximum(x, -1), negative)
    y = jnp.where(positive, x, negative)
    # A NaN input has NaN derivatives of every order, in both directions.
    nan = nan_marker(x, alpha)
    dy_dx = jnp.where(positive, 1, alpha * exp_x) + nan
    dy_dalpha = jnp.where(positive, 0, expm1_x) + nan
    return y, dy_dx, dy_dalpha


_elu = binary_activation(_elu_parts, default_param=1.0, flush_on_cpu=False)


def elu(x: ArrayLike, alpha: ArrayLike = 1.0) -> jax.Array:
    r"""Exponential linear unit (Clevert et al., 2015).

    .. math::
        \mathrm{elu}(x) = \begin{cases} x & x > 0 \\
            \alpha (e^{x} - 1) & x \le 0 \end{cases}

    Args:
        x: input array or number; integers and bool promote as in ``jnp.tanh``.
        alpha: the negative saturation value, >= 0; a number or an array that
            broadcasts against ``x``, possibly traced; differentiable. Used in
            ``x``'s dtype (float32 for bfloat16 and float16 inputs).

    Returns:
        An array of ``x``'s floating dtype and the broadcast shape, in [-alpha, inf].

    Raises:
        ValueError: if a concrete ``alpha`` is negative, or infinite in the
            dtype it is used in (1e300 in float32); if ``alpha`` does not
            broadcast against ``x``, or is empty where ``x`` is not.

    Derivatives: 1 for x > 0 and :math:`\alpha e^{x}` for x <= 0 (at 0 the
    source's x <= 0 branch gives ``elu'(0) = alpha``); with respect to alpha,
    :math:`e^{x} - 1` for x <= 0 and 0 otherwise. Derivatives of every order
    at 0 are the x <= 0 branch's: ``elu''(0) = alpha``, and both mixed
    second partials are 1. :math:`\alpha e^{x}` is
    computed directly, not as ``expm1(x) + 1``, which is exactly 0 for
    x < -17 in float32.

    Accuracy: float32 value within 2.5 ULP and both derivatives within 4 ULP,
    half precision the float32 result rounded once (:doc:`/accuracy`).

    Limits: ``elu(inf) = inf``, ``elu(-inf) = -alpha``, derivative 0 at -inf;
    NaN gives NaN, and NaN derivatives of every order with respect to both
    arguments. ``elu(-0.0)`` is -0.0, as ``jax.nn.elu``'s.

    Example:
        >>> import jax.numpy as jnp
        >>> import jaxact
        >>> jaxact.elu(jnp.array([-1.0, 2.0]))
        Array([-0.63212055,  2.        ], dtype=float32)

    See also: :func:`relu`, :func:`leaky_relu`.
    """
    x = promoted("elu", as_float_array("elu", x), "alpha", alpha)
    alpha = as_kernel_parameter(
        "elu", "alpha", alpha, compute_dtype(x.dtype),
        minimum=0.0, inclusive=True, finite=True, x_shape=x.shape,
    )
    return _elu(x, alpha)


# --------------------------------------------------------------------------
# relu6, selu and celu


@jax.jit
def _relu6_and_derivative(x: jax.Array):
    # min and max are exact, so the value equals jax.nn.relu6's bit for bit.
    y = jnp.minimum(jnp.maximum(x, 0), 6)
    # relu6'(0) = relu6'(6) = 0, as jax.nn.relu6; a NaN input is in no branch
    # and gets NaN derivatives of every order (jax.nn gives 0).
    dy = jnp.where((x > 0) & (x < 6), 1, nan_marker(x))
    return y, dy.astype(x.dtype)


_relu6 = unary_activation(_relu6_and_derivative, flush_on_cpu=False)


def relu6(x: ArrayLike) -> jax.Array:
    r"""Rectified linear unit capped at 6.

    .. math::
        \mathrm{relu6}(x) = \min(\max(x, 0), 6)

    Args:
        x: input array or number. Unlike :func:`relu`, integer and bool
            inputs promote to the default float dtype, as ``jax.nn.relu6``.

    Returns:
        An array of the same shape and floating dtype as ``x``, in [0, 6].

    Derivative: 1 for 0 < x < 6 and 0 elsewhere; ``relu6'(0) = relu6'(6) = 0``,
    as ``jax.nn.relu6``. Second and higher derivatives are 0.

    Accuracy: exact (equal to ``jax.nn.relu6`` bit for bit).

    Limits: ``relu6(inf) = 6``, ``relu6(-inf) = 0``, derivative 0 at both;
    NaN gives NaN, derivatives of every order included (jax.nn's derivative
    there is 0).

    Example:
        >>> import jax.numpy as jnp
        >>> import jaxact
        >>> jaxact.relu6(jnp.array([-2.0, 3.0, 8.0]))
        Array([0., 3., 6.], dtype=float32)

    See also: :func:`relu`, ``jaxact.hard_sigmoid``.
    """
    x = as_float_array("relu6", x)
    return _relu6(x)


# The constants of Klambauer et al. (2017), eq. 14, to the digits jax.nn uses.
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


@functools.cache
def _first_overflowing(scale: float, dtype) -> float:
    """The least x of ``dtype`` whose exact product with ``scale`` rounds to inf.

    The product rounds to inf from the midpoint between the largest finite
    value and 2^(emax + 1) on (ties go to the even one, inf).
    """
    dtype = np.dtype(dtype)
    largest = Fraction(float(np.finfo(dtype).max))
    midpoint = largest + (Fraction(2) ** (int(np.finfo(dtype).maxexp)) - largest) / 2
    x = np.asarray(float(midpoint / Fraction(scale)), dtype)
    while Fraction(float(x)) * Fraction(scale) < midpoint:
        x = np.nextafter(x, np.asarray(np.inf, dtype))
    while Fraction(float(np.nextafter(x, np.asarray(0, dtype)))) * Fraction(scale) >= midpoint:
        x = np.nextafter(x, np.asarray(0, dtype))
    return float(x)


def _constant_in_two_parts(value: float, dtype) -> tuple[float, float]:
    """(hi, lo): hi is ``value`` rounded to ``dtype``, lo the rest (in float64)."""
    hi = float(np.asarray(value, dtype=dtype))
    return hi, value - hi


@jax.jit
def _selu_and_derivative(x: jax.Array):
    # scale * alpha as one constant in two parts: a rounded constant alone
    # would add up to half an ULP to every negative result, and scale * elu
    # (jax.nn) rounds twice more.
    scale_alpha_hi, scale_alpha_lo = _constant_in_two_parts(_SELU_SCALE * _SELU_ALPHA, x.dtype)
    # The elu kernel on x <= 0 only (double where: no overflow for large x);
    # where, not minimum, so that 0 is in the x <= 0 branch for every
    # derivative order (minimum would split the tie).
    x_nonpositive = jnp.where(x > 0, 0, x)
    expm1_x, _ = expm1_nonpositive(x_nonpositive)
    # The value selects on x < 0 (both pieces are 0 at 0), so that -0.0
    # gives scale * -0.0 = -0.0; scale * x rounds as jax.nn.selu's, except
    # in the top binade: the rounded scale is larger than the exact one in
    # float32, and scale * x overflowed to inf at x = 3.2386221e38, whose
    # true result rounds to the largest float32 (the one such input of all
    # 2^32). There the product is formed from the halved x with
    # the scale in two parts, neither of which overflows.
    scale_hi, scale_lo = _constant_in_two_parts(_SELU_SCALE, x.dtype)
    half_x = 0.5 * x
    # Products of a constant in two parts are rounded before their add
    # (numerics.rounded): an FMA in some loops and not in others would make
    # the result depend on the array's shape.
    top_binade = 2 * (rounded(scale_hi * half_x) + rounded(scale_lo * half_x))
    # Whether the exact product overflows is decided against its threshold:
    # the two rounded parts above can round across it.
    top_binade = jnp.where(x >= _first_overflowing(_SELU_SCALE, x.dtype), jnp.inf,
                           jnp.minimum(top_binade, float(jnp.finfo(x.dtype).max)))
    # (Not at x = inf, where the two parts would give inf - inf.)
    top = (x >= float(jnp.finfo(x.dtype).max) / 2) & (x < jnp.inf)
    positive = jnp.where(top, top_binade, _SELU_SCALE * x)
    y = jnp.where(
        x < 0, rounded(scale_alpha_hi * expm1_x) + rounded(scale_alpha_lo * expm1_x), positive
    )
    # scale * alpha * e^x is a normal float32 down to x = -87.9, but e^x
    # alone is flushed to 0 below -87.3: near there, exp is taken of
    # x + 16.5 and e^-16.5 is folded into the constant (as the generalized
    # logistic does).
    low = x_nonpositive < _UNDERFLOW_ZONE
    low_hi, low_lo = _constant_in_two_parts(
        _SELU_SCALE * _SELU_ALPHA * _UNDERFLOW_UNSCALE, x.dtype
    )
    exp_x = _underflow_scaled(x_nonpositive, low)
    negative_slope = rounded(exp_x * jnp.where(low, low_hi, scale_alpha_hi)) + rounded(
        exp_x * jnp.where(low, low_lo, scale_alpha_lo)
    )
    # selu'(0) = scale * alpha, the x <= 0 branch, as jax.nn.selu.
    dy = jnp.where(x > 0, _SELU_SCALE, negative_slope)
    return y, dy.astype(x.dtype)


_selu = unary_activation(_selu_and_derivative, flush_on_cpu=False)


def selu(x: ArrayLike) -> jax.Array:
    r"""Scaled exponential linear unit (Klambauer et al., 2017).

    .. math::
        \mathrm{selu}(x) = \lambda \begin{cases} x & x > 0 \\
            \alpha (e^{x} - 1) & x \le 0 \end{cases}

    with :math:`\lambda = 1.0507009873554804934193349852946` and
    :math:`\alpha = 1.6732632423543772848170429916717`, the constants of
    ``jax.nn.selu``.

    Args:
        x: input array or number (integers promote to the default float dtype).

    Returns:
        An array of the same shape and floating dtype as ``x``, in
        :math:`[-\lambda\alpha, \infty]`.

    Derivative: :math:`\lambda` for x > 0 and :math:`\lambda\alpha e^{x}` for
    x <= 0, so ``selu'(0) = lambda * alpha`` as ``jax.nn.selu``. The
    exponential is computed directly, not as ``expm1(x) + 1``, which makes
    jax.nn's derivative exactly 0 for x < -17 in float32.

    Accuracy: float32 value within 2.5 ULP and derivative within 4 ULP
    wherever the result is a normal float (:doc:`/accuracy`).

    Limits: ``selu(inf) = inf``, ``selu(-inf) = -lambda * alpha``, derivative
    :math:`\lambda` and 0 there; NaN gives NaN.

    Example:
        >>> import jax.numpy as jnp
        >>> import jaxact
        >>> jaxact.selu(jnp.array([-1.0, 2.0]))
        Array([-1.1113307,  2.101402 ], dtype=float32)

    See also: :func:`elu`, :func:`celu`.
    """
    x = as_float_array("selu", x)
    return _selu(x)


# Below this, x / alpha makes exp underflow in every dtype jaxact computes in
# (float32 and float64: exp(-1000) is 0), and the correction term below is
# not needed; above it, Dekker's split of x / alpha cannot overflow.
_CELU_NEGLIGIBLE_T = -1000.0
# d/dalpha celu = g(t) = expm1(t) - t e^t, t = x / alpha <= 0, cancels near
# t = 0 (g ~ -t^2 / 2). On [-1.3, 0] it is a series; below, e^t (1 - t) - 1,
# which multiplies the error of e^t by e^t (1 - t) / |g| <= 0.63 / 0.37.
# The switch balances the two: the series' alternating terms cancel more as
# |t| grows, and the other form's error grows as |t| shrinks.
_CELU_SERIES_SWITCH = -1.3


@functools.cache
def _celu_alpha_series(dtype) -> list[float]:
    """c_k = (k + 1) / (k + 2)! in g(t) = -t^2 (c_0 + c_1 t + ...), -1.3 <= t <= 0.

    g(t) = sum_(n >= 2) (1 - n) t^n / n!; terms are summed until the first
    omitted one is below an eighth of an ULP of the sum, which is at least
    |g(-1.3)| / 1.3^2 = 0.22.
    """
    def term(k):
        return (k + 1) / math.factorial(k + 2) * 1.3**k / 0.22

    n = terms_needed(term, dtype)
    return [(k + 1) / math.factorial(k + 2) for k in range(n)]


@jax.jit
def _celu_parts(x: jax.Array, alpha: jax.Array):
    # where, not minimum: at 0 the x <= 0 branch (celu''(0) = 1 / alpha),
    # where minimum would split the tie; -0.0 and NaN pass through.
    x_neg = jnp.where(x > 0, 0, x)
    t = x_neg / alpha
    # x / alpha rounded to t would cost |t| half-ULPs in exp(t) (40 ULP near
    # t = -87): carry its remainder, t + t_lo = x / alpha to second order.
    # x_neg - t * alpha is exact (Sterbenz) given the exact product error.
    usable = t > _CELU_NEGLIGIBLE_T
    t_safe = jnp.where(usable, t, 0)
    product = t_safe * alpha
    # x_neg is written out again from x rather than reused: XLA's CPU fusion
    # keeps a select that feeds a divide and other users in memory, an
    # extra activation-sized array per layer of a network (x <= 0 equals
    # not x > 0 here, as usable is false for NaN).
    remainder = (jnp.where(usable & (x <= 0), x, 0) - product) \
        - two_product_error(t_safe, alpha, product)
    t_lo = remainder / alpha
    # alpha = inf (the limit celu = x) or a Dekker split that overflowed
    # for a huge alpha: there t is exact or the remainder is negligible.
    t_lo = jnp.where(jnp.isfinite(t_lo), t_lo, 0)
    expm1_t, exp_t = expm1_nonpositive(t)
    exp_t_lo = exp_t * t_lo
    # A NaN alpha takes the other branch, which is NaN: celu(x, NaN) is NaN
    # for every x, as jax.nn.celu (max(x, 0) + alpha expm1(min(x, 0) / alpha)).
    positive = (x > 0) & ~jnp.isnan(alpha)
    # For |t| < eps/4, alpha expm1(t) = x (1 + t/2 + ...) rounds to x; taking
    # x there also covers a t that underflowed (|x| < alpha * 2^-126),
    # alpha = inf (the limit) and -0.0.
    negative_part = jnp.where(
        jnp.abs(t) < jnp.finfo(t.dtype).eps / 4, x, alpha * (expm1_t + exp_t_lo)
    )
    y = jnp.where(positive, x, negative_part)
    # celu'(0) = 1 from both sides; the x <= 0 branch is taken at 0, so
    # celu''(0) = 1 / alpha, as elu.
    dy_dx = jnp.where(positive, 1, exp_t + exp_t_lo)
    # d/dalpha alpha expm1(x / alpha) = expm1(t) - t e^t, and its derivative
    # in t is -t e^t, which carries t_lo.
    series_t = jnp.maximum(t, _CELU_SERIES_SWITCH)
    series = -(series_t * series_t) * horner(_celu_alpha_series(t.dtype), series_t)
    # x / alpha can overflow to -inf, where 0 * inf would be NaN.
    finite_t = jnp.maximum(t, _CELU_NEGLIGIBLE_T)
    direct = exp_t * (1 - finite_t) - 1
    g = jnp.where(t >= _CELU_SERIES_SWITCH, series, direct) - finite_t * exp_t_lo
    dy_dalpha = jnp.where(positive, 0, g)
    return y, dy_dx, dy_dalpha


_celu = binary_activation(_celu_parts, default_param=1.0)


def celu(x: ArrayLike, alpha: ArrayLike = 1.0) -> jax.Array:
    r"""Continuously differentiable exponential linear unit (Barron, 2017).

    .. math::
        \mathrm{celu}(x) = \begin{cases} x & x > 0 \\
            \alpha \left(e^{x/\alpha} - 1\right) & x \le 0 \end{cases}

    Args:
        x: input array or number (integers promote to the default float dtype).
        alpha: > 0; a number or an array that broadcasts against ``x``,
            possibly traced; differentiable. Used in ``x``'s dtype (float32
            for bfloat16 and float16 inputs). ``alpha = inf`` gives the
            limit, ``celu(x) = x``.

    Returns:
        An array of ``x``'s floating dtype and the broadcast shape, in
        [-alpha, inf].

    Raises:
        ValueError: if a concrete ``alpha`` is not > 0.

    Derivatives: 1 for x > 0 and :math:`e^{x/\alpha}` for x <= 0, continuous
    at 0 (``celu'(0) = 1``, as jax.nn); the second derivative at 0 is taken
    from the x <= 0 branch, :math:`1/\alpha`, as :func:`elu` (jax.nn splits
    the ties of its max and min and gives :math:`1/(4\alpha)`). With respect
    to alpha, :math:`e^{t} - 1 - t e^{t}` with :math:`t = x/\alpha` for
    x <= 0 and 0 otherwise, summed as a series near t = 0 where the formula
    cancels. ``x / alpha`` is carried with its
    rounding error, which the exponential would otherwise multiply by :math:`|t|`.

    Accuracy: float32 value within 2.5 ULP and both derivatives within 4 ULP
    wherever the result is a normal float (:doc:`/accuracy`).

    Limits: ``celu(inf) = inf``, ``celu(-inf) = -alpha``, derivatives 1 and
    0 there; NaN gives NaN. ``celu(-0.0) = -0.0``, as :func:`elu` (jax.nn's
    sum gives +0.0).

    Example:
        >>> import jax.numpy as jnp
        >>> import jaxact
        >>> jaxact.celu(jnp.array([-1.0, 2.0]), alpha=0.5)
        Array([-0.43233237,  2.        ], dtype=float32)

    See also: :func:`elu`, :func:`selu`.
    """
    x = promoted("celu", as_float_array("celu", x), "alpha", alpha)
    alpha = as_kernel_parameter(
        "celu", "alpha", alpha, compute_dtype(x.dtype),
        x_shape=x.shape, minimum=0.0, inclusive=False
    )
    return _celu(x, alpha)
