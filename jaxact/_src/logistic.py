"""The logistic family: sigmoid, softplus, log_sigmoid, the generalized logistic,
silu (swish) and log1mexp.

All are built on ``e = exp(-|x|)``, which lies in (0, 1] and never overflows.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxact._src.checks import as_float_array, as_kernel_parameter, promoted
from jaxact._src.jvp import binary_activation, compute_dtype, unary_activation
from jaxact._src.numerics import (
    _log1p_series_coefficients,
    exp,
    exp_reduced,
    exp_rescaled,
    exp_with_error,
    expm1_nonpositive,
    expm1_reduced,
    fast_two_sum,
    horner,
    log1p_exp_neg,
    log1p_small,
    one_plus_small,
    opaque,
    series_near_root,
    square_of_one_plus,
    two_product_error,
    two_sum,
)


def _logistic_from_exp(x: jax.Array, e: jax.Array) -> jax.Array:
    """sigma(x) given e = exp(-|x|): 1 / (1 + e) for x >= 0, e / (1 + e) below.

    Neither half is formed as 1 - sigma(.), which would cancel to 0 for large |x|.
    """
    return jnp.where(x >= 0, 1, e) / (1 + e)


@jax.jit
def _logistic_and_derivative(x: jax.Array):
    e = exp(-jnp.abs(x))
    # sigma'(x) = sigma(x) sigma(-x) = e / (1 + e)^2: the source's S(1 - S)
    # without forming 1 - S, which is exactly 0 once S rounds to 1.
    return _logistic_from_exp(x, e), e / square_of_one_plus(e)


# sigma'' = sigma' (1 - 2 sigma): 1 - 2 sigma is exact from the rounded sigma
# (Sterbenz, for sigma >= 1/4), and where it is near 0 so is sigma''.
_sigmoid = unary_activation(_logistic_and_derivative,
                            second_derivative=lambda x, y, dy: dy * (1 - 2 * y),
                            flush_on_cpu=False)


def sigmoid(x: ArrayLike) -> jax.Array:
    r"""Logistic sigmoid.

    .. math::
        \sigma(x) = \frac{1}{1 + e^{-x}}

    Args:
        x: input array or number; integers and bool promote as in ``jnp.tanh``
            (float32, or float64 for 64-bit integers).

    Returns:
        An array of the same shape and floating dtype as ``x``, in [0, 1].

    Derivative: :math:`\sigma'(x) = \sigma(x)\,\sigma(-x)`, the source's
    :math:`S(1 - S)` evaluated without forming :math:`1 - S`, so it stays
    accurate (about :math:`e^{-|x|}`) where ``jax.nn.sigmoid``'s gradient is
    exactly 0 (x > 17 in float32). Higher derivatives follow from its own
    rule, :math:`\sigma'' = \sigma'(1 - 2\sigma)`: polynomials in
    :math:`\sigma` and :math:`\sigma'`.

    Accuracy: float32 value within 2.5 ULP and derivative within 4 ULP,
    half precision the float32 result rounded once (:doc:`/accuracy`).

    Limits: ``sigmoid(inf) = 1``, ``sigmoid(-inf) = 0``, derivative 0 at both;
    NaN gives NaN.

    Example:
        >>> import jax
        >>> import jax.numpy as jnp
        >>> import jaxact
        >>> jaxact.sigmoid(jnp.array([-1.0, 0.0, 1.0]))
        Array([0.26894143, 0.5       , 0.7310586 ], dtype=float32)
        >>> float(jax.grad(jaxact.sigmoid)(30.0))  # exp(-30); jax.nn gives 0.0
        9.357623e-14

    See also: :func:`generalized_logistic`, :func:`log_sigmoid`, :func:`tanh`.
    """
    x = as_float_array("sigmoid", x)
    return _sigmoid(x)


@jax.jit
def _softplus_and_derivative(x: jax.Array):
    e = exp(-jnp.abs(x))
    y = jnp.maximum(x, 0) + log1p_small(e)
    return y, _logistic_from_exp(x, e)


_softplus = unary_activation(_softplus_and_derivative, flush_on_cpu=False)


def softplus(x: ArrayLike) -> jax.Array:
    r"""Softplus, the smooth ReLU.

    .. math::
        \mathrm{softplus}(x) = \log(1 + e^{x}) = \max(x, 0) + \log(1 + e^{-|x|})

    Args:
        x: input array or number; integers and bool promote as in ``jnp.tanh``.

    Returns:
        An array of the same shape and floating dtype as ``x``, in [0, inf].

    Derivative: :math:`\mathrm{softplus}'(x) = \sigma(x)`.

    Accuracy: float32 value within 2.5 ULP and derivative within 4 ULP,
    half precision the float32 result rounded once (:doc:`/accuracy`).

    Limits: ``softplus(inf) = inf``, ``softplus(-inf) = 0``; derivative 1 and
    0; NaN gives NaN. The second form above never overflows.

    Example:
        >>> import jax.numpy as jnp
        >>> import jaxact
        >>> jaxact.softplus(jnp.array([0.0, 100.0]))  # log 2, and no overflow
        Array([  0.6931472, 100.       ], dtype=float32)

    See also: :func:`log_sigmoid`, :func:`relu`.
    """
    x = as_float_array("softplus", x)
    return _softplus(x)


@jax.jit
def _log_sigmoid_and_derivative(x: jax.Array):
    y, dy = _softplus_and_derivative(-x)  # log sigma(x) = -softplus(-x)
    return -y, dy


_log_sigmoid = unary_activation(_log_sigmoid_and_derivative, flush_on_cpu=False)


def log_sigmoid(x: ArrayLike) -> jax.Array:
    r"""Logarithm of the sigmoid.

    .. math::
        \log \sigma(x) = -\mathrm{softplus}(-x) = \min(x, 0) - \log(1 + e^{-|x|})

    Args:
        x: input array or number; integers and bool promote as in ``jnp.tanh``.

    Returns:
        An array of the same shape and floating dtype as ``x``, in [-inf, 0].

    Derivative: :math:`\sigma(-x)`, never formed as :math:`1 - \sigma(x)`.

    Accuracy: float32 value within 2.5 ULP and derivative within 4 ULP,
    half precision the float32 result rounded once (:doc:`/accuracy`).

    Limits: ``log_sigmoid(inf) = 0``, ``log_sigmoid(-inf) = -inf``; derivative
    0 and 1; NaN gives NaN.

    Example:
        >>> import jax.numpy as jnp
        >>> import jaxact
        >>> jaxact.log_sigmoid(jnp.array([-100.0, 0.0]))
        Array([-100.       ,   -0.6931472], dtype=float32)

    See also: :func:`softplus`, :func:`sigmoid`.
    """
    x = as_float_array("log_sigmoid", x)
    return _log_sigmoid(x)


# --------------------------------------------------------------------------
# generalized logistic


# Inputs of exp below this are within a factor 2^11 of float32's underflow
# threshold (log(tiny) = -87.3); products that end above it can still need them.
_UNDERFLOW_ZONE = -80.0
# The shift c must make z + c exact: for |z| >= 64 (the only z it is used on) any
# c that is a multiple of 2^-17 does, and 16.5 is. exp(-16.5) is a normal
# float32, so scaling back costs one rounding.
_UNDERFLOW_SHIFT = 16.5
_UNDERFLOW_UNSCALE = math.exp(-_UNDERFLOW_SHIFT)


def _underflow_scaled(z: jax.Array, in_zone: jax.Array) -> jax.Array:
    """exp(z + 16.5) where ``in_zone``, else exp(z)."""
    return exp(jnp.where(in_zone, z + _UNDERFLOW_SHIFT, z))


def _generalized_logistic_saturation(x: jax.Array, alpha: jax.Array):
    """Where x = -inf or alpha = inf (and neither is NaN), and x, alpha
    replaced there by finite stand-ins (see _generalized_logistic_parts)."""
    saturated = ((x == -jnp.inf) & ~jnp.isnan(alpha)) | ((alpha == jnp.inf) & ~jnp.isnan(x))
    return saturated, jnp.where(x == -jnp.inf, 0, x), jnp.where(alpha == jnp.inf, 1, alpha)


@jax.jit
def _generalized_logistic_parts(x: jax.Array, alpha: jax.Array):
    """Returns (y, dy/dx, dy/dalpha) for y = sigma(x)**alpha.

    y = exp(E) with E = alpha log sigma(x) = alpha (min(x, 0) - L), where
    L = log(1 + exp(-|x|)). Rounding E to working precision would cost up to
    |E| half-ULPs in y (about 100 ULP for E near -88), and an error in L is
    multiplied by alpha; so E is carried as an unevaluated sum hi + lo, built
    from error-free products and sums, and exp(hi + lo) = exp(hi) (1 + lo).

    dy/dx = alpha y sigma(-x) = alpha exp(E - max(x, 0) - L) is built the same
    way rather than as a product of rounded factors.
    """
    # At x = -inf all three outputs are 0, but differentiating them there (a
    # second derivative) multiplies dE/dalpha = -inf by exp(E) = 0: NaN. And
    # at alpha = inf, f is 0 for x < inf (sigma(x) < 1), 1 at x = inf, and
    # every derivative 0; computed, inf * 0 makes them NaN. So both are
    # replaced by finite values and the limits selected at the end; the
    # derivatives of a selected constant are 0, the limits of the second
    # derivatives too. (A NaN x or alpha stays NaN.)
    saturated, x_finite, alpha_finite = _generalized_logistic_saturation(x, alpha)
    y, dy_dx, dy_dalpha = _generalized_logistic_finite_parts(x_finite, alpha_finite)
    limit = jnp.where(x == jnp.inf, 1, 0).astype(y.dtype)
    return (
        jnp.where(saturated, limit, y),
        jnp.where(saturated, 0, dy_dx),
        jnp.where(saturated, 0, dy_dalpha),
    )


def _generalized_logistic_finite_parts(x: jax.Array, alpha: jax.Array):
    """_generalized_logistic_parts for x > -inf and alpha < inf."""
    a = jnp.abs(x)
    log1p_hi, log1p_lo = log1p_exp_neg(a)
    # where, not minimum and maximum: at x = 0 these split the derivative
    # between x and 0, while |x| (in L) takes the x >= 0 side; every
    # derivative order must see one side (f''(0) was alpha^2/8, not
    # alpha (alpha - 1) / 2^(alpha + 2)).
    nonnegative = x >= 0
    x_neg = jnp.where(nonnegative, 0, x)
    x_pos = jnp.where(nonnegative, x, 0)
    # Dekker's split overflows for |x| near the top of the range, where y has
    # long underflowed to 0 anyway: feed it a harmless value there.
    finite_x = jnp.where(a < 1e30, x_neg, 0)
    scaled_x = alpha * x_neg
    scaled_x_err = two_product_error(alpha, finite_x, alpha * finite_x)
    scaled_log1p = alpha * log1p_hi
    scaled_log1p_err = two_product_error(alpha, log1p_hi, scaled_log1p)
    exponent, sum_err = two_sum(scaled_x, -scaled_log1p)
    exponent_lo = (scaled_x_err - scaled_log1p_err) + (sum_err - alpha * log1p_lo)
    # Infinite x makes the error terms inf - inf; the exponent itself is right.
    exponent_lo = jnp.where(jnp.isfinite(exponent), exponent_lo, 0)
    y = exp(exponent) * (1 + exponent_lo)

    grad_exponent, err1 = two_sum(exponent, -x_pos)
    grad_exponent, err2 = two_sum(grad_exponent, -log1p_hi)
    grad_exponent_lo = exponent_lo + (err1 + err2) - log1p_lo
    grad_exponent_lo = jnp.where(jnp.isfinite(grad_exponent), grad_exponent_lo, 0)

    # Near float32's underflow, exp is taken of the exponent + 16.5 and scaled
    # back after the product, so alpha exp(E') and y log sigma keep the digits
    # that exp(E') or y alone would lose to flushing.
    small_grad = grad_exponent < _UNDERFLOW_ZONE
    dy_dx = (
        alpha
        * (_underflow_scaled(grad_exponent, small_grad) * (1 + grad_exponent_lo))
        * jnp.where(small_grad, _UNDERFLOW_UNSCALE, 1)
    )
    small_y = exponent < _UNDERFLOW_ZONE
    y_scaled = _underflow_scaled(exponent, small_y) * (1 + exponent_lo)
    log_sigma = x_neg - (log1p_hi + log1p_lo)
    # y -> 0 faster than log_sigma -> -inf: the limit of y * log_sigma is 0.
    dy_dalpha = jnp.where(
        y_scaled == 0, 0, (y_scaled * log_sigma) * jnp.where(small_y, _UNDERFLOW_UNSCALE, 1)
    )
    return y, dy_dx, dy_dalpha


def _generalized_logistic_second_partial(i: int, j: int, x: jax.Array, alpha: jax.Array,
                                         first) -> jax.Array:
    """The second partials of y = sigma(x)^alpha from accurate kernels.

    With s = sigma(x), t = sigma(-x) (so s' = s t, t' = -s t),
    dy/dx = alpha y t and dy/dalpha = y log s:
        d2y/dx2       = alpha (dy/dx) t + alpha y t' = dy/dx (alpha t - s),
        d2y/dx dalpha = d/dalpha (alpha y t)          = t (y + alpha dy/dalpha),
        d2y/dalpha2   = d/dalpha (y log s)            = dy/dalpha log s,
    each a product of the first-order kernels with sigmoid and log_sigmoid,
    whose own rules make every higher derivative a composition of accurate
    kernels again. At 0 the first is alpha (alpha - 1) / 2^(alpha + 2), as
    the one-sided formulas of the first derivative give.

    Where x = -inf or alpha = inf every derivative is 0 (see
    _generalized_logistic_parts); the products there would be 0 * inf, so
    they are taken of finite stand-ins and the limit selected.
    """
    saturated, x, alpha = _generalized_logistic_saturation(x, alpha)
    if (i, j) == (1, 1):
        second = first(1) * (alpha * _sigmoid(-x) - _sigmoid(x))
    elif (i, j) == (1, 2):
        second = _sigmoid(-x) * (first(0) + alpha * first(2))
    else:
        second = first(2) * _log_sigmoid(x)
    return jnp.where(saturated, 0, second)


# alpha = 1 goes through this kernel too, not sigmoid's: a Python float, an
# array and a traced alpha must give the same bits.
_generalized_logistic = binary_activation(
    _generalized_logistic_parts, default_param=1.0,
    second_partial=_generalized_logistic_second_partial, eager_chunk=4, flush_on_cpu=False
)


def generalized_logistic(x: ArrayLike, alpha: ArrayLike = 1.0) -> jax.Array:
    r"""Generalized logistic function, the sigmoid raised to a power.

    .. math::
        f(x; \alpha) = (1 + e^{-x})^{-\alpha} = \sigma(x)^{\alpha}, \quad \alpha > 0

    ``alpha = 1`` is the sigmoid.

    Args:
        x: input array or number; integers and bool promote as in ``jnp.tanh``.
        alpha: the exponent, > 0; a number or an array that broadcasts
            against ``x``. It may be traced, and the function is
            differentiable with respect to it. Used in
            ``x``'s dtype (float32 for bfloat16 and float16 inputs).

    Returns:
        An array of ``x``'s floating dtype, of the broadcast shape, in [0, 1].

    Raises:
        ValueError: if a concrete ``alpha`` is not > 0 in the dtype it is
            used in (1e-50 is 0 in float32); if ``alpha`` does not broadcast
            against ``x``, or is empty where ``x`` is not.

    Derivatives: :math:`\partial f/\partial x = \alpha f(x)\,\sigma(-x)` and
    :math:`\partial f/\partial \alpha = f(x) \log\sigma(x)`. Computed as
    :math:`\exp(\alpha \log\sigma(x))` with the exponent carried in extra
    precision, so there is no overflow for x < -88 where the naive
    ``(1 + exp(-x)) ** -alpha`` gives inf and NaN gradients. Higher
    derivatives, in x and in alpha, follow from the rule of the partials,
    :math:`\partial^2 f/\partial x^2 = \partial_x f\,(\alpha\sigma(-x) - \sigma(x))`,
    :math:`\partial^2 f/\partial x\,\partial\alpha = \sigma(-x)(f + \alpha\,\partial_\alpha f)`,
    :math:`\partial^2 f/\partial \alpha^2 = \partial_\alpha f \log\sigma(x)`:
    products of the partials with the sigmoid and log_sigmoid kernels.

    Accuracy: float32 value within 2.5 ULP and both derivatives within 4 ULP,
    half precision the float32 result rounded once (:doc:`/accuracy`).

    Limits: ``f(inf) = 1``, ``f(-inf) = 0``, every derivative 0 there. An
    infinite alpha (or one that overflows to inf in the dtype it is used
    in) gives the limit alpha -> inf: 0 for x < inf, 1 at x = inf, every
    derivative 0. NaN gives NaN, at every order.

    Example:
        >>> import jax.numpy as jnp
        >>> import jaxact
        >>> jaxact.generalized_logistic(jnp.array([0.0, 1.0]), alpha=2.0)
        Array([0.25      , 0.53444666], dtype=float32)

    See also: :func:`sigmoid`, :func:`log_sigmoid`.
    """
    x = promoted("generalized_logistic", as_float_array("generalized_logistic", x), "alpha", alpha)
    alpha = as_kernel_parameter(
        "generalized_logistic", "alpha", alpha, compute_dtype(x.dtype),
        minimum=0.0, inclusive=False, x_shape=x.shape,
    )
    return _generalized_logistic(x, alpha)


# --------------------------------------------------------------------------
# silu (swish) and log1mexp


# Beyond this |x| every result below is exact as computed from the clamped
# input: exp(-800) is 0 even in float64 (underflow at -745), so silu and its
# derivative are already x, 0, 1 or 0 there. The clamp keeps inf out of the
# products inf * 0.
_SATURATION = 800.0

# silu'(x) = sigma(x) (1 + x sigma(-x)) = e^x (1 + x + e^x) / (1 + e^x)^2 for
# x < 0 is 0 where 1 + x + e^x = 0, at x0 below (mpmath.findroot, 40 digits).
# Near x0, 1 + x + e^x cancels: the rounding of e^x alone would be amplified
# e^x / |1 + x + e^x| times, without bound. Within _SILU_ROOT_WINDOW of x0
# silu' is its Taylor series in the exact offset d = x - x0 instead:
# silu'(x0 + d) = d (c_0 + c_1 d + ...), the c_k from mpmath.taylor at 60
# digits (a test recomputes root and coefficients). Terms shrink
# by about 1/3.4 (the nearest singularities of sigma, x0 +- i pi) per unit of
# d: 8 terms for float32, 17 for float64.
_SILU_SLOPE_ROOT = "-1.278464542761073795109358739022980155439"
_SILU_ROOT_WINDOW = 0.25
_SILU_SLOPE_SERIES = (
    0.2178117057198001, 0.1466487969969469, 0.018874814223782312, -0.015222655223188032,
    -0.006606589138356696, 0.000126627410081122, 0.0007985218818397998,
    0.00018570724361186496, -4.090534237428612e-05, -2.9733542213263917e-05,
    -2.942631888842464e-06, 2.346029682463866e-06, 8.599695028268575e-07,
    -3.051244750055421e-08, -9.266646309267441e-08, -1.8877622907727957e-08,
    4.619379769031606e-09, 2.9177603026903803e-09, 2.3648315053103244e-10,
    -2.251366201881081e-10,
)


def _reciprocal_estimate(q: jax.Array) -> jax.Array:
    """1 / q within 1.8% for q in [1, 2] (a least-squares quadratic in the
    relative error): enough for corrections that are below 2^-23 themselves,
    without a division."""
    return 2.07294014 - q * (1.39872702 - 0.30780061 * q)


def _silu_value(x: jax.Array, bounded: jax.Array) -> jax.Array:
    """silu(x) = x sigma(x), with e = exp(-|x|) = scale m exp(r) from exp_reduced.

    Numerator and denominator divided by exp(r): sigma(|x|) = 1 / ((1 + m) +
    m expm1(r)) and sigma(-|x|) = m / ((1 + e^-r) + ...) = m / ((1 + m) +
    expm1(-r)), with m a power of 2. So x m is exact, 1 + m is exact (where m
    >= 2^-23; below, the small terms are summed first), m expm1(r) is exact,
    and the denominator rounds once: e's own rounding, which carries to the
    result in full for x < 0, never happens. The scale (2^-64 below
    x = -69, where it keeps m normal) is applied last, exactly wherever the
    result is normal.
    """
    negative = x < 0
    m, r, scale = exp_reduced(-jnp.abs(bounded), jnp.zeros_like(x))
    m_scaled = m * scale
    one = opaque(1.0, x.dtype)  # (1 + a) + b is not reassociated
    signed_r = jnp.where(negative, -r, r)
    # float64's r is exp_reduced's tiny shift correction (|r| < 1e-13), for
    # which r is expm1(r) to far below an ULP.
    w = expm1_reduced(signed_r) if x.dtype == jnp.float32 else signed_r
    tail = jnp.where(negative, w, (m * w) * scale)
    small_m = m_scaled < 2.0**-23
    denominator = jnp.where(small_m, one + (tail + m_scaled), (one + m_scaled) + tail)
    # x is clamped from below only (silu(inf) = inf; inf * 0 would be NaN).
    numerator = jnp.where(negative, jnp.maximum(x, -_SATURATION) * m, x)
    return (numerator / denominator) * jnp.where(negative, scale, 1)


@jax.jit
def _silu_and_derivative(x: jax.Array):
    bounded = jnp.clip(x, -_SATURATION, _SATURATION)  # keeps NaN
    y = _silu_value(x, bounded)
    positive = x >= 0
    # e = exp(-|x|) (1 + delta), rescaled where it would underflow: silu(x) ~
    # x e^x is a normal float32 down to x = -103 although e^x underflows
    # below -87.3.
    e, delta, rescale = exp_rescaled(-jnp.abs(bounded))
    # 1 + e = q + q_lo exactly. Every result below is m (...) / q^k with
    # m = 1 for x >= 0 and e for x < 0, so the rescaling applies to x < 0
    # only. For x > 79, 1 + e and 1 + e + x e are 1 however e is scaled, but
    # their derivatives (silu'' ~ -x e^-x, normal up to x = 87) are not:
    # there e is scaled back.
    e = jnp.where(positive, e * rescale, e)
    q, q_lo = one_plus_small(e)
    m = jnp.where(positive, 1, e)
    rescale = jnp.where(positive, 1, rescale)
    # The roundings of e and of 1 + e, as relative errors of m and of q, so
    # that the derivative is corrected to first order instead of carrying
    # them (about one ULP each). The correction is applied before the one
    # division, whose result XLA would otherwise write to memory for a
    # second fusion.
    m_error = jnp.where(positive, 0, delta)
    q_error = (q_lo + e * delta) * _reciprocal_estimate(q)
    # silu' = sigma(x) (1 + x sigma(-x)) = m g / (1 + e)^2 with
    # x >= 0: g = 1 + e + x e (no cancellation: all terms >= 0);
    # x < 0:  g = (1 + x) + e, which cancels near the root (series there).
    # e's rounding enters g as e delta (1 + x) and e delta. For x < 0 the
    # rounding of g itself and of q^2 are carried too (g_lo, square_lo):
    # near x = -0.8 they add up to more than the 4 ULP bound.
    g_negative, g_lo = two_sum(1 + bounded, e)
    g = jnp.where(positive, (q + bounded * e) + e * (delta * (1 + bounded)), g_negative)
    g_lo = jnp.where(positive, 0, g_lo + e * delta)
    square = q * q
    square_lo = two_product_error(q, q, square)
    reciprocal = _reciprocal_estimate(q)
    numerator = m * g
    correction = numerator * (
        m_error - 2 * q_error - square_lo * (reciprocal * reciprocal)
    ) + m * g_lo
    slope = ((numerator + correction) / square) * rescale
    near_root, slope_near_root = series_near_root(
        x, _SILU_SLOPE_ROOT, _SILU_SLOPE_SERIES, _SILU_ROOT_WINDOW
    )
    return y, jnp.where(near_root, slope_near_root, slope)


_silu = unary_activation(_silu_and_derivative, flush_on_cpu=False)


def silu(x: ArrayLike) -> jax.Array:
    r"""SiLU, also called swish (Elfwing et al., 2017; Ramachandran et al., 2017).

    .. math::
        \mathrm{silu}(x) = x \, \sigma(x) = \frac{x}{1 + e^{-x}}

    ``swish`` is the same function object, as in ``jax.nn``.

    Args:
        x: input array or number (integers promote to the default float dtype).

    Returns:
        An array of the same shape and floating dtype as ``x``, in
        [-0.2785, inf].

    Derivative: :math:`\sigma(x)\,(1 + x\,\sigma(-x))`, computed from one
    :math:`e^{-|x|}` with no cancellation: near its root x = -1.2785 the
    factor :math:`1 + x + e^{x}` is a series in the exact offset from the
    root. ``jax.nn.silu``'s value and gradient are 0 for x below about -17
    in float32 (100% error); here both stay accurate down to underflow.
    Smooth everywhere; second and third derivatives by autodiff of the
    closed-form derivative (tested against mpmath in float64).

    Accuracy: float32 value within 2.5 ULP and derivative within 4 ULP
    wherever the result is a normal float (:doc:`/accuracy`).

    Limits: ``silu(inf) = inf``, ``silu(-inf) = 0``; derivative 1 and 0;
    NaN gives NaN.

    Example:
        >>> import jax
        >>> import jax.numpy as jnp
        >>> import jaxact
        >>> jaxact.silu(jnp.array([-1.0, 0.0, 1.0]))
        Array([-0.26894143,  0.        ,  0.7310586 ], dtype=float32)
        >>> float(jax.grad(jaxact.silu)(-90.0))  # jax.nn gives 0.0
        -7.2927e-38

    See also: :func:`sigmoid`, ``jaxact.mish``.
    """
    x = as_float_array("silu", x)
    return _silu(x)


swish = silu


# log1mexp's switch points. Below ln 2, 1 - e^-x = -expm1(-x) <= 1/2 comes
# from the accurate expm1 and its log has sensitivity 1 / |log(1/2)| <= 1.44
# to that expm1's error. Above, e = e^-x < 1/2 and 1 - e has no
# cancellation; above 1.5 (e <= 0.223) log1p(-e) is its alternating-free
# series -e - e^2/2 - ..., with no log at all.
_LOG1MEXP_EXPM1_BELOW = math.log(2.0)
_LOG1MEXP_SERIES_ABOVE = 1.5


@jax.jit
def _log1mexp_and_derivative(x: jax.Array):
    small = x <= _LOG1MEXP_EXPM1_BELOW
    # Each branch sees only inputs in its own range (no inf or NaN in a
    # discarded branch, nor in its derivatives).
    near = jnp.where(small, x, _LOG1MEXP_EXPM1_BELOW)
    far = jnp.where(small, 2 * _LOG1MEXP_EXPM1_BELOW, x)
    expm1_neg, exp_neg = expm1_nonpositive(-near)  # e^-x - 1 in [-1/2, 0]
    value_near = jnp.log(-expm1_neg)
    # d/dx log(1 - e^-x) = e^-x / (1 - e^-x) = 1 / expm1(x).
    # (|.|: at x = 0, expm1 is +0.0 and the slope must be +inf.) Near 0 the
    # quotient's derivatives are differences of terms in 1 / expm1(x)^k that
    # overflow (-inf - (-inf), NaN, at x = 0). Below eps the slope is
    # 1 / |x| - 1/2 instead, the series 1/x - 1/2 + x/12 - ... to a relative
    # x^2 / 12, whose derivatives (-1/x^2, 2/x^3) are the slope's to the
    # same precision and their limits at 0 (-inf, +inf); the quotient is of
    # masked operands there.
    tiny_x = near < float(jnp.finfo(x.dtype).eps)
    slope_near = jnp.where(
        tiny_x,
        1 / jnp.abs(near) - 0.5,
        jnp.where(tiny_x, 1, exp_neg) / jnp.where(tiny_x, 1, jnp.abs(expm1_neg)),
    )

    e, delta = exp_with_error(-far)
    e_lo = e * delta
    # 1 - e(1 + delta) = q + q_lo - e_lo, exactly up to e's residual error.
    q, q_lo = fast_two_sum(1.0, -e)
    q_lo = q_lo - e_lo
    value_middle = jnp.log(q) + q_lo / q
    # log1p(-e) = t + t^2 P(t) with t = -e; e's error enters as -e_lo / (1 - e),
    # and 1 / (1 - e) = 1 + e + e^2 to 1% for e <= 0.223.
    t = -e
    series = t + t * (t * horner(_log1p_series_coefficients(x.dtype), t))
    value_far = series - e_lo * (1 + e * (1 + e))
    value_far = jnp.where(x < _LOG1MEXP_SERIES_ABOVE, value_middle, value_far)
    slope_far = e / q

    # Undefined below 0: NaN, as log of a negative number (jax.nn.log1mexp
    # gives NaN there too). log1mexp(0) = log(0) = -inf, slope +inf.
    undefined = x < 0
    y = jnp.where(undefined, jnp.nan, jnp.where(small, value_near, value_far))
    slope = jnp.where(undefined, jnp.nan, jnp.where(small, slope_near, slope_far))
    return y, slope


_log1mexp = unary_activation(_log1mexp_and_derivative, eager_chunk=4, flush_on_cpu=False)


def log1mexp(x: ArrayLike) -> jax.Array:
    r"""log(1 - exp(-x)), accurate for every x > 0 (Mächler, 2012).

    .. math::
        \mathrm{log1mexp}(x) = \log(1 - e^{-x}), \quad x \ge 0

    Args:
        x: input array or number (integers promote to the default float dtype).

    Returns:
        An array of the same shape and floating dtype as ``x``, in [-inf, 0].

    Three forms, each free of cancellation where used: x <= ln 2,
    :math:`\log(-\mathrm{expm1}(-x))` with an accurate expm1; ln 2 < x < 1.5,
    :math:`\log(1 - e^{-x})` with 1 - e^{-x} carried exactly; x >= 1.5, the
    series of :math:`\log(1 - e)` in :math:`e = e^{-x} \le 0.223`.

    Derivative: :math:`1 / \mathrm{expm1}(x) = e^{-x} / (1 - e^{-x})`,
    from the same pieces.

    Accuracy: float32 value within 2.5 ULP and derivative within 4 ULP
    wherever the result is a normal float (:doc:`/accuracy`).

    Limits: ``log1mexp(0) = -inf`` with derivative inf (second derivative
    -inf, third +inf: the limits as x -> 0+), ``log1mexp(inf) = 0`` with
    derivative 0; x < 0 (outside the domain) and
    NaN give NaN, value and derivative.

    Example:
        >>> import jax.numpy as jnp
        >>> import jaxact
        >>> jaxact.log1mexp(jnp.array([1e-6, 1.0, 30.0]))
        Array([-1.3815511e+01, -4.5867512e-01, -9.3576229e-14], dtype=float32)

    See also: :func:`log_sigmoid`, :func:`softplus`.
    """
    x = as_float_array("log1mexp", x)
    return _log1mexp(x)
