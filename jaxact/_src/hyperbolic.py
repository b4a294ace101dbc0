"""The hyperbolic tangent, and mish, built on tanh of softplus."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxact._src.checks import as_float_array
from jaxact._src.jvp import unary_activation
from jaxact._src.numerics import (
    exp,
    exp_rescaled,
    exp_short,
    horner,
    one_plus_small,
    series_near_root,
    square_of_one_plus,
    two_product_error,
    two_sum,
)

# Below this |x|, tanh is an odd polynomial; above it, exp(-2|x|) <= 1/3
# and (1 - exp(-2|x|)) / (1 + exp(-2|x|)) loses nothing to cancellation.
_TANH_SWITCH = 0.55

# float32: R in tanh(a) = a + a^3 R(a^2) for a <= 0.55, a minimax fit
# (`python -m benchmarks.fit`) with relative error 1e-9, a sixtieth of an
# ULP. Five terms, where the Taylor series needs nine.
_TANH_SERIES_FLOAT32 = (-0.3333331755967226, 0.1333258613873605, -0.053852309950945886,
                        0.02107167926743925, -0.0062742398727887285)

# float64: R(s) = P(s) / Q(s), s = a^2, the [3/3] Pade approximant of R's
# Taylor series (c_2, ..., c_8 of tanh_taylor_coefficient), highest power
# last; within 0.013 of a float64 ULP of tanh(a) for a <= 0.55 (mpmath, 50
# digits; a test recomputes both). Six multiply-adds and a division that
# the large-|x| branch shares, where the Taylor series needs 18 terms.
#   p, q = mpmath.pade([tanh_taylor_coefficient(k) for k in range(2, 9)], 3, 3)
_TANH_PADE_P_FLOAT64 = (-0.3333333333333333, -0.02142857142857143, -0.0002442002442002442,
                        -1.7619065238112858e-08)
_TANH_PADE_Q_FLOAT64 = (1.0, 0.4642857142857143, 0.02454212454212454, 0.0002553002553002553)

# tanh(x) rounds to +-1 above this |x| in float32 and in float64
# (1 - tanh(20) = 8e-18 < 2^-54), so clamping |x| there changes no result and
# keeps exp(-2|x|) far from underflow.
_TANH_SATURATION = 20.0


@jax.jit
def _tanh_and_derivative(x: jax.Array):
    a = jnp.abs(x)
    is_small = a < _TANH_SWITCH
    # Small |x|: x + x^3 R(x^2), whose leading term is exact. (Clipped with
    # where: the polynomial is discarded above the switch point.)
    small = jnp.where(is_small, a, 0)
    small_sq = small * small
    # Large |x|: tanh = (1 - e) / (1 + e) with e = exp(-2|x|) <= 1/3, so 1 - e
    # does not cancel, and nothing overflows.
    e = exp_short(-2 * jnp.minimum(a, _TANH_SATURATION))  # jnp.minimum keeps NaN
    if x.dtype == jnp.float32:
        tanh_small = small + small * (small_sq * horner(_TANH_SERIES_FLOAT32, small_sq))
        magnitude = jnp.where(is_small, tanh_small, (1 - e) / (1 + e))
    else:
        # small + small^3 P / Q below the switch (small is 0 above it), one
        # division for both branches; the quotient is at most a tenth of
        # tanh below the switch, so its roundings count a tenth.
        numerator = jnp.where(is_small, small * small_sq * horner(_TANH_PADE_P_FLOAT64, small_sq),
                              1 - e)
        denominator = jnp.where(is_small, horner(_TANH_PADE_Q_FLOAT64, small_sq), 1 + e)
        magnitude = small + numerator / denominator
    y = jnp.copysign(magnitude, x)
    # sech^2 from exp(-2|x|) directly at every x: 1 - tanh^2 would round to 0
    # for |x| > 9 in float32, and 4e / (1 + e)^2 has no cancellation anywhere
    # (its sensitivity to e's rounding, (1 - e) / (1 + e), is below 1). So the
    # derivative's pass needs no polynomial in x.
    return y, _sech_squared(-2 * a)


# sech^2 = 4 exp(z) / (1 + exp(z))^2, z = -2|x|, stays normal down to z ~ -88.7
# (|x| ~ 44.4), below float32's underflow of exp(z) itself at z ~ -87.3 (XLA
# flushes subnormals). So it is computed from s = exp(z + 2), normal wherever
# the result is (2 > ln 4): 4 exp(z) = s exp(ln 4 - 2), exp(z) = s exp(-2).
# z + 2 is exact for |z| >= 2 (a multiple of z's ULP) and off by at most
# 2^-25 below, a relative 3e-8 in s. Using s alone keeps the derivative's pass
# to a single exp; the value's pass uses exp(z).
_SECH_SHIFT = 2.0
_SECH_SCALE = math.exp(math.log(4.0) - _SECH_SHIFT)
_SECH_UNSHIFT = math.exp(-_SECH_SHIFT)


# float64: exp(z) underflows only below z ~ -708, so the shift is needed only
# there; elsewhere exp(z) itself saves the rounding of z + 2 (up to an ULP of
# the result for |z| < 2) and of the two scalings (4 e is exact).
_SECH_DEEP_FLOAT64 = -700.0


def _sech_squared(z: jax.Array) -> jax.Array:
    """sech^2(x) = 4 e / (1 + e)^2 with z = -2|x| and e = exp(z)."""
    if z.dtype == jnp.float32:
        shifted = exp(z + _SECH_SHIFT)
        return (shifted * _SECH_SCALE) / square_of_one_plus(shifted * _SECH_UNSHIFT)
    deep = z < _SECH_DEEP_FLOAT64  # z + 2 is exact there
    shifted = exp(jnp.where(deep, z + _SECH_SHIFT, z))
    e = jnp.where(deep, shifted * _SECH_UNSHIFT, shifted)
    return jnp.where(deep, shifted * _SECH_SCALE, 4 * shifted) / square_of_one_plus(e)


def _tanh_for_bfloat16(x: jax.Array) -> jax.Array:
    """tanh of a float32 x that was a bfloat16, by XLA's own tanh.

    XLA's float32 tanh is cheaper than _tanh_and_derivative's and within
    5 ULP, far inside the 2^16 float32 ULPs of a bfloat16 ULP: rounded to
    bfloat16 it gives the same bits at every bfloat16 input (a test checks
    all 2^16), so a bfloat16 tanh costs what jnp.tanh's does.
    """
    return jnp.tanh(x)


_tanh = unary_activation(_tanh_and_derivative, cpu_bfloat16_value=_tanh_for_bfloat16,
                         second_derivative=lambda x, y, dy: -2 * y * dy, flush_on_cpu=False)


def tanh(x: ArrayLike, /) -> jax.Array:
    r"""Hyperbolic tangent.

    .. math::
        \tanh(x) = \frac{e^{x} - e^{-x}}{e^{x} + e^{-x}}

    Args:
        x: input array or number; integers and bool promote as in ``jnp.tanh``.

    Returns:
        An array of the same shape and floating dtype as ``x``, in [-1, 1].
        Odd: ``tanh(-x) == -tanh(x)`` exactly, and ``tanh(-0.0)`` is ``-0.0``.

    Derivative: :math:`\tanh'(x) = \mathrm{sech}^2(x) = 4e^{-2|x|}/(1 + e^{-2|x|})^2`,
    computed from :math:`e^{-2|x|}` rather than as :math:`1 - \tanh^2(x)`, so
    it stays accurate where ``jnp.tanh``'s gradient is exactly 0 (:math:`|x| > 9`
    in float32). Higher derivatives follow from its own rule,
    :math:`(\mathrm{sech}^2)' = -2\tanh\,\mathrm{sech}^2`: polynomials in
    the value and the derivative.

    Accuracy: float32 value within 2.5 ULP and derivative within 4 ULP,
    half precision the float32 result rounded once (:doc:`/accuracy`).

    bfloat16 inputs give the float32 result rounded once, as for every
    function; on the CPU it is computed with XLA's cheaper float32 tanh,
    which rounds to the same bfloat16 at every input (checked on all 2^16),
    so a bfloat16 tanh costs what ``jnp.tanh``'s does.

    Limits: ``tanh(±inf) = ±1``, derivative 0; NaN gives NaN.

    Example:
        >>> import jax
        >>> import jax.numpy as jnp
        >>> import jaxact
        >>> jaxact.tanh(jnp.array([-0.5, 0.0, 0.5]))
        Array([-0.46211717,  0.        ,  0.46211717], dtype=float32)
        >>> float(jax.grad(jaxact.tanh)(10.0))  # 4 exp(-20); jnp.tanh gives 0.0
        8.244614e-09

    See also: :func:`sigmoid` (:math:`\tanh(x) = 2\sigma(2x) - 1`).
    """
    x = as_float_array("tanh", x)
    return _tanh(x)


# --------------------------------------------------------------------------
# mish


# Beyond this |x| every result below is exact as computed from the clamped
# input (exp(-800) is 0 even in float64); the clamp keeps inf out of inf * 0.
_SATURATION = 800.0

# mish'(x) = e h / D^2 for x <= 0 (see _mish_and_derivative) is 0 where
# h = 4 (1 + x) + e (6 + 4x) + 4 e^2 + e^3 = 0, e = e^x, at x0 below
# (mpmath.findroot, 40 digits). Near x0, h cancels: e's rounding alone would
# be amplified without bound. Within _MISH_ROOT_WINDOW of x0, mish' is its
# Taylor series in the exact offset d = x - x0 instead: mish'(x0 + d) =
# d (c_0 + c_1 d + ...), the c_k from mpmath.taylor at 80 digits
# (a test recomputes root and coefficients). The window is
# wide because outside it mish' = t + x t' (below) also cancels, by a
# factor up to 2.3 at its edges. Terms shrink by about 1/2.8 (the nearest
# singularities of tanh(softplus)) per unit of d: 13 for float32, 24 for
# float64.
_MISH_SLOPE_ROOT = "-1.192431214515495212137588340420739405601"
_MISH_ROOT_WINDOW = 0.45
_MISH_SLOPE_ROOT_FLOAT = float(_MISH_SLOPE_ROOT)
_MISH_SLOPE_SERIES = (
    0.2669479140495345, 0.20473126408010586, 0.04190782104360987, -0.020271822716684245,
    -0.01582112656173338, -0.0033606849270232685, 0.0010924055409445854,
    0.0009898181021289196, 0.00025412936386191073, -4.1961496031696126e-05,
    -5.582891567360688e-05, -1.72992708103044e-05, 9.427361327376651e-07,
    2.9088199364912223e-06, 1.071676702702074e-06, 2.6879417855557728e-08,
    -1.4117255919499382e-07, -6.174424363104907e-08, -5.460186173028381e-09,
    6.3895954615089855e-09, 3.3604012383661332e-09, 4.817646300218697e-10,
    -2.6751871594311224e-10, -1.7442209713382678e-10, -3.3904729895707114e-11,
    1.0101727316036154e-11, 8.681382594457511e-12, 2.124385967466607e-12,
    -3.20344479568135e-13, -4.153673469447499e-13,
)


def _reciprocal_of_denominator(e: jax.Array, positive: jax.Array) -> jax.Array:
    """1 / D within 1.2% (x > 0) and 0.05% (x <= 0), for e in [0, 1]: a
    least-squares cubic in the relative error, enough for corrections below
    2^-23 themselves, without a division (whose result XLA would write to
    memory when several operations use it)."""
    coefficients = [
        jnp.where(positive, high, low)
        for high, low in [(0.989258, 0.499951), (-1.855834, -0.500528),
                          (1.634089, 0.263311), (-0.569853, -0.062829)]
    ]
    return horner(coefficients, e)


@jax.jit
def _mish_and_derivative(x: jax.Array):
    """mish = x tanh(softplus(x)) and its derivative, from one exp.

    Not composed from tanh and softplus: with e = exp(-|x|), t =
    tanh(softplus(x)) = N / D with
    x < 0:  N = 2e + e^2, D = N + 2, and t' = 4 e (1 + e) / D^2;
    x >= 0: N = 1 + 2e,   D = N + 2 e^2, and t' = 4 e^2 (1 + e) / D^2;
    mish = x t and mish' = t + x t'. N, D and the quotient N / D are carried
    with their rounding errors (and e's, from exp_with_error), so the value
    is rounded about once (without that, float32 values exceed the 2.5 ULP
    bound).
    """
    bounded = jnp.clip(x, -_SATURATION, _SATURATION)  # keeps NaN
    # x = 0 takes the x > 0 forms (the same values), in which e = exp(-x):
    # jnp.abs has derivative 1 at 0, and autodiff of the derivative (second
    # derivatives) must see e' = -e there.
    positive = x >= 0
    # e rescaled where it or the error terms built from it would underflow:
    # for x <= 0 both results are proportional to e, and mish(x) ~ x e^x is
    # a normal float32 down to x = -92.5 although e^x underflows below
    # -87.3. For x > 47, e is only added to 1 or squared, where its scale
    # does not matter.
    e, delta, rescale = exp_rescaled(-jnp.abs(bounded), error_free_products=True)
    rescale = jnp.where(positive, 1, rescale)
    e_lo = e * delta
    square = e * e
    square_lo = two_product_error(e, e, square)
    two_e = 2 * e
    # N = first + second (+ their errors), D = N + third.
    first = jnp.where(positive, 1, two_e)
    second = jnp.where(positive, two_e, square)
    second_lo = jnp.where(positive, 2 * e_lo, square_lo + e_lo * (2 + two_e))
    numerator, numerator_lo = two_sum(first, second)
    numerator_lo = numerator_lo + second_lo
    third = jnp.where(positive, 2 * square, 2)
    third_lo = jnp.where(positive, 2 * square_lo + 2 * two_e * e_lo, 0)
    denominator, denominator_lo = two_sum(numerator, third)
    denominator_lo = denominator_lo + (numerator_lo + third_lo)
    # N / D = t + t_lo: the residual N - t D is exact (Dekker) up to the lo
    # parts. t from a reciprocal: the one division then has one use.
    reciprocal = _reciprocal_of_denominator(e, positive)
    t = numerator * (1 / denominator)
    product = t * denominator
    residual = (numerator - product) - two_product_error(t, denominator, product)
    t_lo = (residual + (numerator_lo - t * denominator_lo)) * reciprocal
    # x is clamped only from below (mish(inf) = inf); the small term uses
    # the clamped x (inf * 0 would be NaN).
    y = (jnp.maximum(x, -_SATURATION) * t + bounded * t_lo) * rescale
    # mish(-0.0) = -0.0, as x * t gives (copysign, not x: a subnormal x
    # compares equal to 0 on the CPU and must not pass through, see
    # jvp.upcast).
    y = jnp.where(x == 0, jnp.copysign(jnp.zeros_like(y), x), y)

    # t' = 4 e w (1 + e) / D^2, w = e (x >= 0) or 1, corrected for the
    # errors of e (once or twice), of 1 + e, of D and of D^2 (1 / (1 + e)
    # ~ 1.5 - (1 + e) / 2 within 12%: enough for a correction).
    weight = jnp.where(positive, e, 1)
    one_plus_e, one_plus_e_lo = one_plus_small(e)
    denominator_sq = denominator * denominator
    denominator_sq_lo = two_product_error(denominator, denominator, denominator_sq)
    t_slope = ((4 * e) * weight) * one_plus_e
    t_slope = t_slope + t_slope * (
        delta * jnp.where(positive, 2, 1)
        + one_plus_e_lo * (1.5 - 0.5 * one_plus_e)
        - reciprocal * (2 * denominator_lo + denominator_sq_lo * reciprocal)
    )
    t_slope = t_slope / denominator_sq
    slope = (t + bounded * t_slope) + t_lo
    # Left of the root t + x t' cancels (by 2.9 at x = -1.7); there mish' =
    # e h / D^2 instead, h = 4 (1 + x) + e (6 + 4x + e (4 + e)) dominated by
    # its exact first term (1 + x is exact for x in [-2, -0.5]).
    # The roundings of the last sum of h and of D^2 are carried as well, or
    # they would add up to most of the 4 ULP bound near x = -6.6.
    h, h_lo = two_sum(4 * (1 + bounded), e * ((6 + 4 * bounded) + e * (4 + e)))
    h_lo = h_lo + e_lo * ((6 + 4 * bounded) + e * (8 + 3 * e))
    left_numerator = e * h
    left_numerator = left_numerator + (
        left_numerator * (
            delta - reciprocal * (2 * denominator_lo + denominator_sq_lo * reciprocal)
        )
        + e * h_lo
    )
    left = x < _MISH_SLOPE_ROOT_FLOAT
    slope = jnp.where(left, left_numerator / denominator_sq, slope) * rescale
    near_root, slope_near_root = series_near_root(
        x, _MISH_SLOPE_ROOT, _MISH_SLOPE_SERIES, _MISH_ROOT_WINDOW
    )
    return y, jnp.where(near_root, slope_near_root, slope)


# mish'' and mish''' as rational functions of e = exp(-|x|), from t =
# tanh(softplus(x)) = N / D (see _mish_and_derivative): mish'' = 2 t' + x t''
# and mish''' = 3 t'' + x t''' are
#   x >= 0:  4 e^2 P(e) / D^k,  D = 1 + 2e + 2e^2,
#   x < 0:   4 e   P(e) / D^k,  D = 2 + 2e + e^2,
# k = 3 and 4, where P's coefficient of e^i is a + b x, the pairs (a, b)
# below for x >= 0, lowest power first; for x < 0 the same pairs in reverse
# order (in u = e^x both sides are one rational function, and e is u or
# 1 / u). The two sides agree at 0 (mish''(0) = 16/25, mish'''(0) = -12/125).
# The terms of P, times 4 e^w / D^k, add up in magnitude to at most 1.1
# (mish'') and 1.25 (mish''') times the largest |mish''| or |mish'''| within
# 1 of x, so P's roundings stay a few ULP of that local scale everywhere,
# the roots of P included (mish'' at 1.49 and -2.26, mish''' at 2.11,
# -0.088 and -3.27). The difference quotients that autodiff of t + x t'
# forms instead cancel without bound for large x, where 1 - t and t' are
# about 2 e^2.
_MISH_SECOND_SERIES = ((2, -2), (6, -3), (8, 2), (4, 2))
_MISH_THIRD_SERIES = ((-6, 4), (-21, 5), (-24, -24), (0, -32), (24, 0), (12, 4))


def _mish_rational(x: jax.Array, series, power: int) -> jax.Array:
    """4 e^w P(e) / D^power as above (w = 2 for x >= 0, 1 below)."""
    bounded = jnp.clip(x, -_SATURATION, _SATURATION)  # keeps NaN; no inf * 0 at +-inf
    positive = x >= 0
    # mish'' ~ (x + 2) e^x and mish''' ~ (x + 3) e^x stay normal about 2
    # below where e^x flushes to 0: e is rescaled there and the result is
    # scaled back last (by the square of the factor where it is
    # proportional to e^2); e then rounds away wherever it is added to a
    # number near 1 or to a + b x.
    e, delta, rescale = exp_rescaled(jnp.where(positive, -bounded, bounded))
    rescale = jnp.where(positive, rescale * rescale, rescale)
    coefficients = [
        jnp.where(positive, high[0] + high[1] * bounded, low[0] + low[1] * bounded)
        for high, low in zip(series, reversed(series), strict=True)
    ]
    polynomial = horner(coefficients, e)
    denominator, denominator_lo = two_sum(
        jnp.where(positive, 1, 2), jnp.where(positive, 2 * (e * (1 + e)), e * (2 + e)))
    # e (e P) for x >= 0: e^2 alone flushes to 0 (x > 43.6 in float32)
    # while the result is still normal.
    weighted = jnp.where(positive, e * polynomial, polynomial)
    result = ((4 * e) * weighted) / denominator**power
    # First-order corrections for the rounding errors of e (delta, relative)
    # and of D (D_lo), which the result, proportional to e^w / D^k,
    # multiplies by w and k.
    correction = delta * jnp.where(positive, 2, 1) - power * (denominator_lo / denominator)
    return (result + result * correction) * rescale


@jax.custom_jvp
def _mish_second(x: jax.Array) -> jax.Array:
    return _mish_rational(x, _MISH_SECOND_SERIES, 3)


# mish''' in closed form as well, not by autodiff of mish'': reverse mode
# would carry the cotangent of P through the factor e^x, which flushes to 0
# in the rescaled tail, and near x = 0 the autodiff terms cancel.
@_mish_second.defjvp
def _mish_second_jvp(primals, tangents):
    (x,), (x_dot,) = primals, tangents
    return _mish_second(x), x_dot * _mish_rational(x, _MISH_THIRD_SERIES, 4)


_mish = unary_activation(_mish_and_derivative,
                         second_derivative=lambda x, y, dy: _mish_second(x),
                         eager_chunk=4, flush_on_cpu=False)


def mish(x: ArrayLike) -> jax.Array:
    r"""Mish (Misra, 2019), a self-regularised non-monotonic activation.

    .. math::
        \mathrm{mish}(x) = x \tanh(\mathrm{softplus}(x)) = x \tanh(\log(1 + e^{x}))

    Args:
        x: input array or number (integers promote to the default float dtype).

    Returns:
        An array of the same shape and floating dtype as ``x``, in
        [-0.3088, inf].

    Derivative: :math:`\tanh(s) + x\,\mathrm{sech}^2(s)\,\sigma(x)` with
    :math:`s = \mathrm{softplus}(x)`. Value and derivative are rational
    functions of one :math:`e^{-|x|}` (not tanh composed with softplus), and
    near the derivative's root x = -1.1924 the derivative is its Taylor
    series in the exact offset from the root. ``jax.nn.mish``'s value and
    gradient are 0 below x = -87.3 in float32 (100% error) where the true
    values are normal floats; here they stay accurate down to underflow.
    Smooth everywhere. The second and third derivatives have rules of their
    own, closed forms in :math:`e^{-|x|}` as well (not autodiff of the
    derivative's arithmetic, which cancels for large x), accurate down to
    underflow in float32 and float64.

    Accuracy: float32 value within 2.5 ULP and derivative within 4 ULP
    wherever the result is a normal float (:doc:`/accuracy`).

    Limits: ``mish(inf) = inf``, ``mish(-inf) = 0``; derivative 1 and 0;
    NaN gives NaN.

    Example:
        >>> import jax
        >>> import jax.numpy as jnp
        >>> import jaxact
        >>> jaxact.mish(jnp.array([-1.0, 0.0, 1.0]))
        Array([-0.30340147,  0.        ,  0.8650984 ], dtype=float32)

    See also: :func:`tanh`, ``jaxact.softplus``, ``jaxact.silu``.
    """
    x = as_float_array("mish", x)
    return _mish(x)
