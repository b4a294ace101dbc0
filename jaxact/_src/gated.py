"""Gated activations: glu, one half of the input gated by the sigmoid of the other."""

from __future__ import annotations

import functools
import math
import operator

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxact._src.checks import as_float_array
from jaxact._src.jvp import binary_activation
from jaxact._src.logistic import _logistic_from_exp
from jaxact._src.numerics import exp, square_of_one_plus


def _gate_shift(dtype) -> float:
    """87 for float32, 708 for float64: the largest integer s with e^-s normal.

    For |b| <= s, e = exp(-|b|) is a normal float. Beyond, exp is taken of
    s - |b| (exact: s and b are multiples of b's ULP) and a is multiplied
    by e^-s instead; that factor is applied as C * 2^-64 with C = e^-s 2^64
    in two parts, so that a C rounds once and the power of two is exact. If
    a e^-s is not a normal float, neither is a e^-|b| <= a e^-s. This keeps
    a e^-|b| right down to |b| = 2s (float32: 174; beyond, a normal result
    needs |a| > 5.8e37).
    """
    return float(math.floor(-math.log(float(jnp.finfo(dtype).tiny))))


_POWER = 2.0**64


@jax.jit
def _glu_parts(values: jax.Array, gates: jax.Array):
    """(a sigma(b), sigma(b), a sigma(b) sigma(-b)) for a = values, b = gates.

    Neither is formed as a times a rounded sigmoid: the value is
    a / (1 + e^-b), the gate derivative a e / (1 + e)^2 with e = exp(-|b|);
    and where e alone would underflow while a e is a normal float, they
    use the scaling above.
    """
    shift = _gate_shift(values.dtype)
    magnitude = jnp.abs(gates)
    low = magnitude > shift
    e = exp(jnp.where(low, shift - magnitude, -magnitude))
    # Where low, e^-|b| is at most e^-s and 1 + e^-|b| is 1.
    e_true = jnp.where(low, 0, e)
    scale = math.exp(-shift) * _POWER
    scale_hi = float(np.asarray(scale, values.dtype))
    scale_lo = scale - scale_hi

    def unscaled(v):
        return jnp.where(low, (v * scale_hi + v * scale_lo) * (1 / _POWER), v)

    scaled_values = unscaled(values)
    # The value (its own pass; see jvp.separate) as a / (1 + e^-b) for
    # both signs of b, with one exp of -b: for b < 0, e^-b = e^|b| <= e^s
    # cannot overflow, and this rounds once less than a e / (1 + e).
    exp_of_minus_b = exp(jnp.where(low, shift - magnitude, -gates))
    y = jnp.where(
        low,
        jnp.where(gates >= 0, values, scaled_values * exp_of_minus_b),
        values / (1 + exp_of_minus_b),
    )
    # sigma(b) = e^-|b| where low: a normal float down to |b| = 87.3.
    dy_dvalues = _logistic_from_exp(gates, unscaled(e))
    # sigma(b) sigma(-b) = e / (1 + e)^2, for either sign of b.
    dy_dgates = (scaled_values * e) / square_of_one_plus(e_true)
    return y, dy_dvalues, dy_dgates


_glu_of_halves = binary_activation(_glu_parts)


@functools.partial(jax.jit, static_argnames="axis")
def _glu(x: jax.Array, axis: int) -> jax.Array:
    values, gates = jnp.split(x, 2, axis)
    return _glu_of_halves(values, gates)


def _checked_axis(x: jax.Array, axis) -> int:
    try:
        axis = operator.index(axis)
    except TypeError:
        raise TypeError(
            f"jaxact.glu: axis must be an integer, got {type(axis).__name__}"
        ) from None
    if x.ndim == 0:
        raise ValueError("jaxact.glu: x must have at least one dimension, got a scalar")
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(
            f"jaxact.glu: axis {axis} is out of range for x with {x.ndim} dimensions"
        )
    size = x.shape[axis]
    if size % 2:
        raise ValueError(
            f"jaxact.glu: the size of x along axis {axis} must be even, got {size}"
        )
    return axis % x.ndim


def glu(x: ArrayLike, axis: int = -1) -> jax.Array:
    r"""Gated linear unit (Dauphin et al., 2017).

    .. math::
        \mathrm{glu}(x) = a \cdot \sigma(b), \quad
        a = x[\ldots, :n/2, \ldots], \; b = x[\ldots, n/2:, \ldots]

    where ``x`` is split into two halves of size n/2 along ``axis``.

    Args:
        x: input array (integers promote to the default float dtype).
        axis: the axis to split, a static integer (default: the last). The
            size of ``x`` along it must be even.

    Returns:
        An array of ``x``'s floating dtype, of ``x``'s shape with the size
        along ``axis`` halved.

    Raises:
        TypeError: if ``axis`` is not an integer.
        ValueError: if ``x`` is a scalar, ``axis`` is out of range, or the
            size along ``axis`` is odd.

    Derivatives: :math:`\sigma(b)` with respect to ``a`` and
    :math:`a\,\sigma(b)\,\sigma(-b)` with respect to ``b``, in closed form
    (jaxact's sigmoid kernel, :math:`e = e^{-|b|}`), so they stay accurate
    where jax.nn's gradient is 0 (b > 17 in float32). The products with
    ``a`` are formed before dividing by :math:`1 + e`, and scaled where
    :math:`e` alone would underflow, so that they are right when the result
    is a normal float down to :math:`|b| = 174` (jax.nn's ``a * sigmoid(b)`` is 0
    for b < -88 even when a is large).

    Accuracy: float32 value within 2.5 ULP and partial derivatives within 4
    ULP wherever the result is a normal float, half precision the float32
    result rounded once (:doc:`/accuracy`).

    Limits and NaN: ``glu = a`` for b = inf and 0 for b = -inf (a finite);
    NaN in either half gives NaN.

    Example:
        >>> import jax.numpy as jnp
        >>> import jaxact
        >>> jaxact.glu(jnp.array([2.0, -1.0, 0.0, 30.0]))
        Array([ 1., -1.], dtype=float32)

    See also: ``jaxact.sigmoid``.
    """
    x = as_float_array("glu", x)
    return _glu(x, axis=_checked_axis(x, axis))
