"""The hyperbolic tangent."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxact._src.checks import as_float_array
from jaxact._src.jvp import unary_activation
from jaxact._src.numerics import (
    exp,
    exp_short,
    horner,
    square_of_one_plus,
    tanh_taylor_coefficient,
    terms_needed,
)

# Below this |x|, tanh is an odd polynomial; above it, exp(-2|x|) <= 1/3
# and (1 - exp(-2|x|)) / (1 + exp(-2|x|)) loses nothing to cancellation.
_TANH_SWITCH = 0.55

# float32: R in tanh(a) = a + a^3 R(a^2) for a <= 0.55, a minimax fit
# (`python -m benchmarks.fit`) with relative error 1e-9, a sixtieth of an
# ULP. Five terms, where the Taylor series needs nine.
_TANH_SERIES_FLOAT32 = (-0.3333331755967226, 0.1333258613873605, -0.053852309950945886,
                        0.02107167926743925, -0.0062742398727887285)

# tanh(x) rounds to +-1 above this |x| in float32 and in float64
# (1 - tanh(20) = 8e-18 < 2^-54), so clamping |x| there changes no result and
# keeps exp(-2|x|) far from underflow.
_TANH_SATURATION = 20.0


@functools.cache
def _tanh_coefficients(dtype) -> Sequence[float]:
    """R's coefficients in tanh(x) = x + x^3 R(x^2) for |x| <= 0.55.

    float32: the minimax fit above. Other dtypes: the Taylor coefficients
    c_2, c_3, ...; terms shrink by (2 * 0.55 / pi)^2 <= 0.123, so float64 needs
    19 of them.
    """
    if jnp.dtype(dtype) == jnp.float32:
        return _TANH_SERIES_FLOAT32
    n = terms_needed(
        lambda k: abs(float(tanh_taylor_coefficient(k + 1))) * _TANH_SWITCH ** (2 * k), dtype
    )
    return [float(tanh_taylor_coefficient(k)) for k in range(2, n + 1)]


@jax.jit
def _tanh_and_derivative(x: jax.Array):
    a = jnp.abs(x)
    is_small = a < _TANH_SWITCH
    # Small |x|: x + x^3 R(x^2), whose leading term is exact. (Clipped with
    # where: the polynomial is discarded above the switch point.)
    small = jnp.where(is_small, a, 0)
    small_sq = small * small
    tanh_small = small + small * (small_sq * horner(_tanh_coefficients(x.dtype), small_sq))
    # Large |x|: tanh = (1 - e) / (1 + e) with e = exp(-2|x|) <= 1/3, so 1 - e
    # does not cancel, and nothing overflows.
    e = exp_short(-2 * jnp.minimum(a, _TANH_SATURATION))  # jnp.minimum keeps NaN
    y = jnp.copysign(jnp.where(is_small, tanh_small, (1 - e) / (1 + e)), x)
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


def _sech_squared(z: jax.Array) -> jax.Array:
    """sech^2(x) = 4 e / (1 + e)^2 with z = -2|x| and e = exp(z)."""
    shifted = exp(z + _SECH_SHIFT)
    return (shifted * _SECH_SCALE) / square_of_one_plus(shifted * _SECH_UNSHIFT)


_tanh = unary_activation(_tanh_and_derivative, bfloat16_table=True)


def tanh(x: ArrayLike) -> jax.Array:
    r"""Hyperbolic tangent.

    .. math::
        \tanh(x) = \frac{e^{x} - e^{-x}}{e^{x} + e^{-x}}

    Args:
        x: input array or number (integers promote to the default float dtype).

    Returns:
        An array of the same shape and floating dtype as ``x``, in [-1, 1].
        Odd: ``tanh(-x) == -tanh(x)`` exactly, and ``tanh(-0.0)`` is ``-0.0``.

    Derivative: :math:`\tanh'(x) = \mathrm{sech}^2(x) = 4e^{-2|x|}/(1 + e^{-2|x|})^2`,
    computed from :math:`e^{-2|x|}` rather than as :math:`1 - \tanh^2(x)`, so
    it stays accurate where ``jnp.tanh``'s gradient is exactly 0 (|x| > 9 in
    float32).

    Accuracy, as the tests check it (``tests/test_accuracy.py``): float32
    value within 2.5 ULP and derivative within 4 ULP of a float64 reference
    over every binade; float64 value and x-derivative within 4 ULP of mpmath;
    bfloat16 and float16 the float32 result rounded once. Maxima over all
    2^32 float32 inputs, beside jax.nn's: ``benchmarks/results/accuracy.md``
    (``make accuracy``).

    bfloat16 inputs give the float32 result rounded once, as for every
    function; on the CPU they read it from a table of all 2^16 inputs, which
    is faster than computing it (0.82x ``jnp.tanh``'s time, measured).

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
    return _tanh(as_float_array("tanh", x))
