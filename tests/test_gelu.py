"""gelu, exact and tanh forms: accuracy against float64 and mpmath, the half
precisions, higher derivatives, limits, dtypes, input rules and transformations.

The float64 references ``ref_gelu_erf`` and ``ref_gelu_tanh`` take the array
module ``xp`` (numpy, or jax.numpy under float64) and return (value,
derivative); near the zero of each derivative, where float64 itself cancels,
they switch to a Taylor polynomial about the zero with mpmath coefficients.
"""

from __future__ import annotations

import math

import jax
import mpmath
import numpy as np

FORWARD_MAX_ULP = 2.5
DERIVATIVE_MAX_ULP = 4.0
FLOAT64_MAX_ULP = 4.0
FLOAT32_TINY = float(np.finfo(np.float32).tiny)

mpmath.mp.dps = 40
_TANH_C = 0.044715


def _erfc(xp, z):
    if xp is np:
        import scipy.special

        return scipy.special.erfc(z)
    return jax.scipy.special.erfc(z)


def _mp_gelu_erf_derivative(x):
    return mpmath.ncdf(x) + x * mpmath.npdf(x)


def _mp_gelu_tanh(x):
    v = 2 * mpmath.sqrt(2 / mpmath.pi) * (x + mpmath.mpf(_TANH_C) * x**3)
    return x / (1 + mpmath.exp(-v))


def _mp_gelu_tanh_derivative(x):
    return mpmath.diff(_mp_gelu_tanh, x)


def _root_taylor(mp_derivative, guess):
    """(x0 hi, x0 lo, [g''(x0), g'''(x0)/2, g''''(x0)/6]) at the zero x0 of g'."""
    root = mpmath.findroot(mp_derivative, guess)
    hi = float(root)
    coefficients = [
        float(mpmath.diff(mp_derivative, root, k) / mpmath.factorial(k)) for k in (1, 2, 3)
    ]
    return hi, float(root - hi), coefficients


_ERF_ROOT = _root_taylor(_mp_gelu_erf_derivative, -0.75)
_TANH_ROOT = _root_taylor(_mp_gelu_tanh_derivative, -0.75)
# Within this distance of the zero the float64 formula's absolute error
# (1e-16) would exceed 2^-10 float32 ULP of the result; the cubic Taylor
# polynomial's truncation there is below 1e-13 relative.
_ROOT_RADIUS = 1e-4


def _near_root(xp, x, root, derivative):
    hi, lo, (c1, c2, c3) = root
    d = (x - hi) - lo  # x - hi is exact near the zero (Sterbenz)
    taylor = d * (c1 + d * (c2 + d * c3))
    return xp.where(xp.abs(d) < _ROOT_RADIUS, taylor, derivative)


def ref_gelu_erf(xp, x):
    """x Phi(x) and Phi(x) + x phi(x) in float64 (x a float32 value, so x^2 is exact)."""
    cdf = 0.5 * _erfc(xp, -x * math.sqrt(0.5))
    # The relative error of erfc's rounded argument is multiplied by x^2
    # (< 200 wherever the float32 result is normal): 2e-14, far below 2^-24.
    density = xp.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
    return x * cdf, _near_root(xp, x, _ERF_ROOT, cdf + x * density)


def ref_gelu_tanh(xp, x):
    """The tanh form's own formula in float64, as x sigma(v): 1 + tanh(v/2)
    would cancel in float64 too. v's relative error (1e-16) is multiplied by
    |v| < 100 in exp(-|v|) where the float32 result is normal."""
    c = 2 * math.sqrt(2 / math.pi)
    v = c * (x + _TANH_C * x**3)
    dv = c * (1 + 3 * _TANH_C * x * x)
    e = xp.exp(-xp.abs(v))
    sigma = xp.where(v >= 0, 1.0, e) / (1 + e)
    sigma_neg = xp.where(v >= 0, e, 1.0) / (1 + e)
    return x * sigma, _near_root(xp, x, _TANH_ROOT, sigma * (1 + x * dv * sigma_neg))
