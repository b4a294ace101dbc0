"""Float64 references of the elementwise activations and their derivatives.

One set, shared by ``tests/test_accuracy.py`` (in numpy) and the ``make accuracy``
harness (in XLA, for speed). Each ``ref_NAME(xp, x)`` is written against an
array module ``xp`` (``numpy`` or ``jax.numpy``) and returns
``{"f": value, "f'": derivative in x}``, plus ``"df/dalpha"`` for a function
with a parameter alpha. The argument ``x`` is float64.

Each is accurate to a few float64 ULPs, about 2^-29 float32 ULPs: none
subtracts nearly equal numbers, and the only transcendental calls are exp,
expm1 and log1p at arguments where they are well conditioned. The harness
checks XLA's float64 versions against numpy's libm
(``benchmarks.accuracy.reference_self_check``).
"""

from __future__ import annotations

import functools
import math

import numpy as np

# jax.nn.leaky_relu's default slope; the float32 rounding of 0.01 is part of
# what the float32 results are judged on.
LEAKY_SLOPE = 0.01


def logistic_terms(xp, x):
    """(sigma(x), sigma(-x), log(1 + exp(-|x|))), each to a few float64 ULPs."""
    # e = exp(-|x|) lies in (0, 1]: it never overflows, and 1 + e lies in
    # [1, 2], so sigma(|x|) = 1 / (1 + e) and sigma(-|x|) = e / (1 + e) carry
    # only the rounding of e, of the sum and of the quotient.
    e = xp.exp(-xp.abs(x))
    sig_abs = 1 / (1 + e)
    sig_neg_abs = e * sig_abs
    sig = xp.where(x >= 0, sig_abs, sig_neg_abs)
    sig_of_neg = xp.where(x >= 0, sig_neg_abs, sig_abs)
    # log(1 + e) through log1p: log(1 + e) formed directly would lose e's
    # digits below float64's eps for large |x|.
    return sig, sig_of_neg, xp.log1p(e)


def at_infinities(xp, x, value, at_minus_inf, at_plus_inf):
    """``value`` with its limits at x = -inf and +inf, where a product of
    the formula is inf * 0 (or inf / inf) and would give NaN."""
    return xp.where(x == -math.inf, at_minus_inf, xp.where(x == math.inf, at_plus_inf, value))


def ref_sigmoid(xp, x):
    sig, sig_of_neg, _ = logistic_terms(xp, x)
    # sigma'(x) = sigma(x) sigma(-x): a product of two accurate factors.
    return {"f": sig, "f'": sig * sig_of_neg}


def ref_tanh(xp, x):
    # tanh(|x|) = -m / (2 + m) with m = expm1(-2|x|) in [-1, 0]: expm1 keeps
    # m's relative accuracy near 0 (where tanh x ~ x), 2 + m lies in [1, 2].
    m = xp.expm1(-2 * xp.abs(x))
    value = xp.where(x < 0, m / (2 + m), -m / (2 + m))
    # sech^2(x) = 4 e / (1 + e)^2 with e = exp(-2|x|) in (0, 1]: no 1 - tanh^2.
    e = xp.exp(-2 * xp.abs(x))
    return {"f": value, "f'": 4 * e / ((1 + e) * (1 + e))}


def ref_relu(xp, x):
    # jax.nn's convention at the kink: relu'(0) = 0.
    return {"f": xp.maximum(x, 0), "f'": xp.where(x > 0, 1.0, 0.0)}


def ref_leaky_relu(xp, x, negative_slope=LEAKY_SLOPE):
    return {
        "f": xp.where(x >= 0, x, negative_slope * x),
        "f'": xp.where(x >= 0, 1.0, negative_slope),
    }


def ref_elu(xp, x, alpha=1.0):
    # expm1 and exp of x <= 0 only (x > 0 is the identity): expm1 keeps the
    # relative accuracy of e^x - 1 near 0, and e^x is computed directly rather
    # than as expm1(x) + 1, which would lose e^x entirely below -37.
    negative = xp.minimum(x, 0)
    expm1 = xp.expm1(negative)
    return {
        "f": xp.where(x > 0, x, alpha * expm1),
        "f'": xp.where(x > 0, 1.0, alpha * xp.exp(negative)),
        "df/dalpha": xp.where(x > 0, 0.0, expm1),
    }


def ref_softplus(xp, x):
    sig, _, log1p_e = logistic_terms(xp, x)
    # max(x, 0) + log1p(e^-|x|): both terms are >= 0, so the sum cannot cancel.
    return {"f": xp.maximum(x, 0) + log1p_e, "f'": sig}


def ref_log_sigmoid(xp, x):
    _, sig_of_neg, log1p_e = logistic_terms(xp, x)
    # min(x, 0) - log1p(e^-|x|): both terms are <= 0, no cancellation.
    return {"f": xp.minimum(x, 0) - log1p_e, "f'": sig_of_neg}


def ref_generalized_logistic(xp, x, alpha):
    _, sig_of_neg, log1p_e = logistic_terms(xp, x)
    log_sig = xp.minimum(x, 0) - log1p_e
    # y = exp(alpha log sigma(x)). The exponent's absolute error is a few
    # float64 ULPs of |alpha log sigma| <= 104 wherever y is a float32
    # (normal or subnormal), so y's relative error stays below 2^-44.
    value = xp.exp(alpha * log_sig)
    # d/dalpha = y log sigma(x); its limit at x = -inf is 0 (y -> 0 much
    # faster than log sigma -> -inf), where the product would be 0 * inf.
    d_alpha = xp.where(value == 0, 0.0, value * log_sig)
    return {"f": value, "f'": alpha * value * sig_of_neg, "df/dalpha": d_alpha}


# --------------------------------------------------------------------------
# The smooth activations of issue 10: silu, mish, log1mexp, soft_sign, squareplus.


def ref_soft_sign(xp, x):
    value = at_infinities(xp, x, x / (xp.abs(x) + 1), -1.0, 1.0)
    return {"f": value, "f'": 1 / (xp.abs(x) + 1) ** 2}


def ref_squareplus(xp, x, b=4.0):
    # (x + r) / 2 = b / (2 (r - x)): the second form for x < 0, where the
    # first cancels. x^2 of a float32 is exact in float64.
    r = xp.sqrt(x * x + b)
    y = xp.where(x >= 0, (x + r) / 2, b / (2 * (r + xp.abs(x))))
    return {"f": y, "f'": at_infinities(xp, x, y / r, 0.0, 1.0), "df/db": 1 / (4 * r)}


def ref_silu(xp, x):
    # sigma(x) = m / (1 + e) with e = exp(-|x|), m = 1 (x >= 0) or e (x < 0);
    # silu' = m g / (1 + e)^2 with g = 1 + e + x e (x >= 0), 1 + x + e (x < 0).
    # The latter cancels near x0 = -1.2785: float64 keeps 2^-52 / |x - x0| of
    # relative accuracy there, far below a float32 ULP at the sweep's points.
    e = xp.exp(-xp.abs(x))
    m = xp.where(x >= 0, 1.0, e)
    g = xp.where(x >= 0, 1 + e + x * e, (1 + x) + e)
    return {"f": at_infinities(xp, x, x * m / (1 + e), 0.0, math.inf),
            "f'": at_infinities(xp, x, m * g / (1 + e) ** 2, 0.0, 1.0)}


def ref_mish(xp, x):
    # tanh(softplus(x)) = N / D from e = exp(-|x|): N = 2e + e^2, D = N + 2
    # for x < 0; N = 1 + 2e, D = N + 2e^2 for x >= 0. mish' = t + x t' with
    # t' = 4 e w (1 + e) / D^2 (w = e for x >= 0, else 1) cancels near the
    # root x0 = -1.1924 and left of it, so there it is e h / D^2 with
    # h = 4 (1 + x) + e (6 + 4x + e (4 + e)), which cancels only near x0
    # (float64 keeps 2^-52 / |x - x0| there, far below a float32 ULP).
    e = xp.exp(-xp.abs(x))
    positive = x >= 0
    n = xp.where(positive, 1 + 2 * e, e * (e + 2))
    d = n + xp.where(positive, 2 * e * e, 2.0)
    t = n / d
    t_slope = 4 * e * xp.where(positive, e, 1.0) * (1 + e) / d**2
    h = 4 * (1 + x) + e * ((6 + 4 * x) + e * (4 + e))
    slope = xp.where(x < -1.1924312145154952, e * h / d**2, t + x * t_slope)
    return {"f": at_infinities(xp, x, x * t, 0.0, math.inf),
            "f'": at_infinities(xp, x, slope, 0.0, 1.0)}


def ref_log1mexp(xp, x):
    # Maechler's switch at ln 2: log(-expm1(-x)) below, log1p(-exp(-x))
    # above; each branch masked to its own range.
    small = x <= math.log(2.0)
    below = xp.log(-xp.expm1(-xp.where(small, x, 1.0)))
    above = xp.log1p(-xp.exp(-xp.where(small, 1.0, x)))
    # 1 / expm1(x) = e^-x / (1 - e^-x), finite for every x > 0; +inf at
    # x = 0 (also -0, where 1 / expm1 would give -inf); NaN below 0, outside
    # the domain, like the value there.
    e = xp.exp(-x)
    slope = xp.where(small, 1 / xp.expm1(xp.where(small, x, 1.0)), e / (1 - e))
    slope = xp.where(x < 0, math.nan, xp.where(x == 0, math.inf, slope))
    return {"f": xp.where(small, below, above), "f'": slope}


# --------------------------------------------------------------------------
# gelu, exact (erf) and tanh forms.

# The tanh form's constant is the decimal 0.044715 (the formula as published),
# in mpmath and in jaxact; float64 holds it to 1e-17 relative.
GELU_TANH_C = 0.044715
GELU_TANH_C_DECIMAL = "0.044715"
# Within this distance of a derivative's zero the float64 formula's absolute
# error (1e-16) would exceed 2^-10 float32 ULP of the result; the cubic Taylor
# polynomial's truncation there is below 1e-13 relative.
GELU_ROOT_RADIUS = 1e-4


def _erfc(xp, z):
    if xp is np:
        import scipy.special

        return scipy.special.erfc(z)
    import jax.scipy.special

    return jax.scipy.special.erfc(z)


def mp_gelu_erf_derivative(x):
    import mpmath

    return mpmath.ncdf(x) + x * mpmath.npdf(x)


def mp_gelu_tanh(x):
    import mpmath

    v = 2 * mpmath.sqrt(2 / mpmath.pi) * (x + mpmath.mpf(GELU_TANH_C_DECIMAL) * x**3)
    return x / (1 + mpmath.exp(-v))


def _root_taylor(mp_derivative, guess):
    """(x0 hi, x0 lo, [g''(x0), g'''(x0)/2, g''''(x0)/6]) at the zero x0 of g'."""
    import mpmath

    with mpmath.workdps(40):
        root = mpmath.findroot(mp_derivative, guess)
        hi = float(root)
        coefficients = [
            float(mpmath.diff(mp_derivative, root, k) / mpmath.factorial(k)) for k in (1, 2, 3)
        ]
        return hi, float(root - hi), coefficients


@functools.cache
def gelu_roots():
    """The Taylor data of :func:`_root_taylor` at the zero of each gelu derivative,
    (exact form, tanh form). mpmath (a test dependency) is imported only here."""
    import mpmath

    return (_root_taylor(mp_gelu_erf_derivative, -0.75),
            _root_taylor(lambda t: mpmath.diff(mp_gelu_tanh, t), -0.75))


def _near_root(xp, x, root, derivative):
    hi, lo, (c1, c2, c3) = root
    d = (x - hi) - lo  # x - hi is exact near the zero (Sterbenz)
    taylor = d * (c1 + d * (c2 + d * c3))
    return xp.where(xp.abs(d) < GELU_ROOT_RADIUS, taylor, derivative)


def ref_gelu_erf(xp, x):
    """x Phi(x) and Phi(x) + x phi(x) in float64 (x a float32 value, so x^2 is exact)."""
    cdf = 0.5 * _erfc(xp, -x * math.sqrt(0.5))
    # The relative error of erfc's rounded argument is multiplied by x^2
    # (< 200 wherever the float32 result is normal): 2e-14, far below 2^-24.
    density = xp.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
    derivative = _near_root(xp, x, gelu_roots()[0], cdf + x * density)
    return {"f": at_infinities(xp, x, x * cdf, 0.0, math.inf),
            "f'": at_infinities(xp, x, derivative, 0.0, 1.0)}


def ref_gelu_tanh(xp, x):
    """The tanh form's own formula in float64, as x sigma(v): 1 + tanh(v/2)
    would cancel in float64 too. v's relative error (1e-16) is multiplied by
    |v| < 100 in exp(-|v|) where the float32 result is normal."""
    c = 2 * math.sqrt(2 / math.pi)
    v = c * (x + GELU_TANH_C * x**3)
    dv = c * (1 + 3 * GELU_TANH_C * x * x)
    e = xp.exp(-xp.abs(v))
    sigma = xp.where(v >= 0, 1.0, e) / (1 + e)
    sigma_neg = xp.where(v >= 0, e, 1.0) / (1 + e)
    derivative = sigma * (1 + x * dv * sigma_neg)
    derivative = _near_root(xp, x, gelu_roots()[1], derivative)
    return {"f": at_infinities(xp, x, x * sigma, 0.0, math.inf),
            "f'": at_infinities(xp, x, derivative, 0.0, 1.0)}


# --------------------------------------------------------------------------
# The piecewise and ELU-family activations of issue 10.

SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def ref_relu6(xp, x):
    return {"f": xp.minimum(xp.maximum(x, 0.0), 6.0),
            "f'": xp.where((x > 0) & (x < 6), 1.0, 0.0)}


def ref_hard_sigmoid(xp, x):
    value = xp.minimum(xp.maximum(x + 3, 0.0), 6.0) / 6
    return {"f": value, "f'": xp.where((x > -3) & (x < 3), 1 / 6, 0.0)}


def ref_hard_silu(xp, x):
    value = at_infinities(xp, x, x * xp.minimum(xp.maximum(x + 3, 0.0), 6.0) / 6, 0.0, math.inf)
    inside = (x > -3) & (x < 3)
    return {"f": value, "f'": xp.where(inside, (2 * x + 3) / 6, xp.where(x >= 3, 1.0, 0.0))}


def ref_hard_tanh(xp, x):
    return {"f": xp.minimum(xp.maximum(x, -1.0), 1.0), "f'": xp.where(xp.abs(x) <= 1, 1.0, 0.0)}


def ref_sparse_plus(xp, x):
    quadratic = (x + 1) ** 2 / 4
    value = xp.where(x <= -1, 0.0, xp.where(x >= 1, x, quadratic))
    return {"f": value, "f'": xp.where(x <= -1, 0.0, xp.where(x >= 1, 1.0, (x + 1) / 2))}


def ref_sparse_sigmoid(xp, x):
    value = xp.minimum(xp.maximum(x + 1, 0.0), 2.0) / 2
    magnitude = xp.abs(x)
    return {"f": value, "f'": xp.where(magnitude < 1, 0.5, xp.where(magnitude == 1, 0.25, 0.0))}


def ref_selu(xp, x):
    negative = xp.minimum(x, 0.0)
    value = SELU_SCALE * xp.where(x > 0, x, SELU_ALPHA * xp.expm1(negative))
    return {"f": value, "f'": SELU_SCALE * xp.where(x > 0, 1.0, SELU_ALPHA * xp.exp(negative))}


def ref_celu(xp, x, alpha=1.0):
    """celu, its derivative in x and in alpha.

    x / alpha rounds once in float64: 2^-53 relative, below 2^-40 float32
    ULPs even after exp multiplies it by |t| <= 1000.

    d/dalpha alpha expm1(x / alpha) = expm1(t) - t e^t, t = x / alpha <= 0.
    The difference cancels as t -> 0 (it is -t^2/2 - t^3/3 - t^4/8 - ...);
    for |t| < 1e-3 the series, whose first omitted term is 1e-9 relative,
    replaces it; above, float64 loses at most 2^-53 * 2 / |t| < 2^-41.
    """
    t = xp.minimum(x, 0.0) / alpha
    series = -t * t * (1 / 2 + t * (1 / 3 + t * (1 / 8 + t / 30)))
    direct = xp.expm1(t) - t * xp.exp(t)
    return {
        "f": xp.where(x > 0, x, alpha * xp.expm1(t)),
        "f'": xp.where(x > 0, 1.0, xp.exp(t)),
        "df/dalpha": at_infinities(
            xp, x, xp.where(x > 0, 0.0, xp.where(t > -1e-3, series, direct)), -1.0, 0.0),
    }


# --------------------------------------------------------------------------
# glu: not elementwise; a function of the halves a and b.


def ref_glu(xp, a, b):
    """glu = a sigma(b) and its partials in a and b, each a product of factors
    that do not cancel."""
    sig, sig_of_neg, _ = logistic_terms(xp, b)
    return {"f": a * sig, "df/da": sig, "df/db": a * sig * sig_of_neg}
