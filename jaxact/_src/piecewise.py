"""Piecewise-polynomial activations: hard_sigmoid, hard_silu, hard_tanh,
sparse_plus and sparse_sigmoid.

Each is linear or quadratic between its kinks. The piecewise-linear ones
round as jax.nn's do in float32 (bit for bit); the quadratic pieces of
hard_silu and sparse_plus carry the sum inside them exactly and round less.
The derivatives take jax.nn's value at each kink, found by evaluating
``jax.grad(jax.nn.NAME)`` there. Where jaxact
differs, it says so: NaN inputs give NaN derivatives, and ±inf give the
limits where jax.nn gives NaN.
"""

from __future__ import annotations

from fractions import Fraction

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxact._src.checks import as_float_array, as_real_array
from jaxact._src.jvp import (
    cast,
    guard_inputs,
    is_narrow,
    kernel,
    own_or_wide,
    unary_activation,
    upcast,
)
from jaxact._src.numerics import fast_two_sum, nan_marker, rounded


def _sixth(dtype) -> tuple[float, float]:
    """1/6 as hi + lo, hi rounded to ``dtype``: p * hi + p * lo is p / 6 to
    within a rounding. (A float32 hi in float64 would leave lo at 2^-27
    relative, which is flushed to 0 for products below 2^-995, with it
    float32's precision: hard_silu(1e-300).)"""
    hi = float(np.asarray(1 / 6, dtype))
    return hi, float(Fraction(1, 6) - Fraction(hi))


def _zero_or_nan(x: jax.Array) -> jax.Array:
    """0 where x is a number, NaN where x is NaN: the derivative off the slopes.

    A nan_marker, so that the derivatives of the derivative (every order)
    are NaN at a NaN input too, not the 0 of a constant.
    """
    return nan_marker(x)


# --------------------------------------------------------------------------
# hard_sigmoid and hard_silu


def _hard_sigmoid_value(x: jax.Array) -> jax.Array:
    # relu6(x + 3) / 6, the operations and roundings of jax.nn.hard_sigmoid.
    return jnp.minimum(jnp.maximum(x + 3, 0), 6) / 6


@jax.jit
def _hard_sigmoid_and_derivative(x: jax.Array):
    # hard_sigmoid'(±3) = 0, as jax.nn (relu6' is 0 at 0 and at 6).
    inside = (x > -3) & (x < 3)
    return _hard_sigmoid_value(x), jnp.where(inside, 1 / 6, _zero_or_nan(x)).astype(x.dtype)


_hard_sigmoid = unary_activation(_hard_sigmoid_and_derivative, flush_on_cpu=False)


def hard_sigmoid(x: ArrayLike) -> jax.Array:
    r"""Hard sigmoid, the piecewise-linear sigmoid.

    .. math::
        \mathrm{hard\_sigmoid}(x) = \frac{\mathrm{relu6}(x + 3)}{6}
            = \min(\max(x + 3, 0), 6) / 6

    Args:
        x: input array or number (integers promote to the default float dtype).

    Returns:
        An array of the same shape and floating dtype as ``x``, in [0, 1].

    Derivative: 1/6 for -3 < x < 3 and 0 elsewhere, so
    ``hard_sigmoid'(-3) = hard_sigmoid'(3) = 0`` as ``jax.nn.hard_sigmoid``.

    Accuracy: value equal to ``jax.nn.hard_sigmoid``'s bit for bit (x + 3
    rounds, then XLA multiplies by the rounded 1/6); derivative 1/6 rounded
    once (:doc:`/accuracy`).

    Limits: ``hard_sigmoid(inf) = 1``, ``hard_sigmoid(-inf) = 0``, derivative
    0 at both; NaN gives NaN, derivatives of every order included (jax.nn's
    derivative is 0).

    Example:
        >>> import jax.numpy as jnp
        >>> import jaxact
        >>> jaxact.hard_sigmoid(jnp.array([-4.0, 0.0, 1.5]))
        Array([0.  , 0.5 , 0.75], dtype=float32)

    See also: ``jaxact.relu6``, :func:`hard_silu`, ``jaxact.sigmoid``.
    """
    x = as_float_array("hard_sigmoid", x)
    return _hard_sigmoid(x)


@jax.jit
def _hard_silu_and_derivative(x: jax.Array):
    # x (x + 3) / 6 between the kinks, with x + 3 carried exactly (|x| < 3
    # there, so Fast2Sum applies) and 1/6 in two parts: two roundings in
    # all, where jax.nn's x * (fl(x + 3) * fl(1/6)) has four (up to 4 ULP
    # in the worst case).
    shifted, shifted_lo = fast_two_sum(3.0, x)
    # Each product rounded before its add (numerics.rounded): an FMA in some
    # loops and not in others would make y depend on the array's shape.
    product = rounded(x * shifted) + rounded(x * shifted_lo)
    sixth_hi, sixth_lo = _sixth(x.dtype)
    quadratic = rounded(product * sixth_hi) + rounded(product * sixth_lo)
    # -0.0 below the kink, the sign jax.nn's x * 0 gives; also the limit at
    # -inf (jax.nn: -inf * 0 = NaN). At x = ±0 the correction terms would
    # add +0.0 to -0.0: the zero of x's sign, as x * hard_sigmoid(x) gives
    # (copysign, not x: a subnormal x compares equal to 0 on the CPU and must
    # not pass through, see jvp.upcast).
    zero = jnp.copysign(jnp.zeros_like(x), x)
    y = jnp.where(
        x >= 3, x, jnp.where(x <= -3, -0.0, jnp.where(x == 0, zero, quadratic))
    )
    # (2x + 3) / 6 = hard_sigmoid(x) + x / 6 without the cancellation of that
    # sum near x = -1.5: 2x + 3 is exact there (Sterbenz). The kinks take
    # jax.nn's values: 0 at -3, 1 at 3.
    dy = jnp.where(
        (x > -3) & (x < 3), (2 * x + 3) / 6, jnp.where(x >= 3, 1, _zero_or_nan(x))
    )
    return y, dy.astype(x.dtype)


_hard_silu = unary_activation(_hard_silu_and_derivative, flush_on_cpu=False)


def hard_silu(x: ArrayLike) -> jax.Array:
    r"""Hard SiLU (hard swish; Howard et al., 2019).

    .. math::
        \mathrm{hard\_silu}(x) = x \cdot \mathrm{hard\_sigmoid}(x)

    :func:`hard_silu` and :func:`hard_swish` are the same function.

    Args:
        x: input array or number (integers promote to the default float dtype).

    Returns:
        An array of the same shape and floating dtype as ``x``, in [-3/8, inf].

    Derivative: (2x + 3) / 6 for -3 < x < 3, 0 below and 1 above;
    ``hard_silu'(-3) = 0`` and ``hard_silu'(3) = 1``, as ``jax.nn.hard_silu``.
    The derivative is formed as (2x + 3) / 6, where jax.nn's
    ``hard_sigmoid(x) + x / 6`` cancels near x = -1.5.

    Accuracy: value within 2 ULP (two roundings, where jax.nn's formula has
    four), -0.0 for x <= -3 as jax.nn; derivative within 4 ULP (:doc:`/accuracy`).

    Limits: ``hard_silu(inf) = inf``, ``hard_silu(-inf) = -0.0`` (jax.nn:
    NaN), derivatives 1 and 0; NaN gives NaN.

    Example:
        >>> import jax.numpy as jnp
        >>> import jaxact
        >>> jaxact.hard_silu(jnp.array([-1.5, 0.0, 4.0]))
        Array([-0.375,  0.   ,  4.   ], dtype=float32)

    See also: :func:`hard_sigmoid`, ``jaxact.silu``.
    """
    x = as_float_array("hard_silu", x)
    return _hard_silu(x)


hard_swish = hard_silu


# --------------------------------------------------------------------------
# hard_tanh


@jax.custom_jvp
def _hard_tanh_rule(x: jax.Array) -> jax.Array:
    (x,) = guard_inputs(x)
    if jnp.issubdtype(x.dtype, jnp.unsignedinteger):
        # No value is below -1; comparing with -1 would wrap it to the
        # dtype's maximum (jax.nn.hard_tanh(uint8 1) is 255).
        return jnp.where(x > 1, 1, x)
    # The selects of jax.nn.hard_tanh: exact, and a bool input promotes to
    # the default integer dtype as it does there. A subnormal x is 0, on
    # every path (see jvp.own_or_wide; the result is x or ±1, so its cast back
    # is exact).
    wide = own_or_wide(x)
    y = jnp.where(wide > 1, 1, jnp.where(wide < -1, -1, wide))
    return cast(y, x.dtype) if is_narrow(x.dtype) else y


@_hard_tanh_rule.defjvp
def _hard_tanh_jvp(primals, tangents):
    (x,), (x_dot,) = primals, tangents
    # hard_tanh'(±1) = 1, as jax.nn.hard_tanh. The tangent stays linear in
    # x_dot (a select between x_dot and a multiple of it), with a NaN
    # input's NaN as a factor (see relu's rule).
    # A narrow tangent is selected in float32 too: the transposed select adds
    # zeros, which float8_e8m0fnu does not have.
    wide = upcast(x)
    wide_dot = cast(x_dot, wide.dtype) if is_narrow(x.dtype) else x_dot
    off_slope = _zero_or_nan(wide).astype(wide_dot.dtype)
    tangent = jnp.where((wide >= -1) & (wide <= 1), wide_dot, wide_dot * off_slope)
    return _hard_tanh_rule(x), cast(tangent, x_dot.dtype)


# One jitted call (see jvp.kernel): an eager call takes jax's fast path.
_hard_tanh = kernel(_hard_tanh_rule)


def hard_tanh(x: ArrayLike) -> jax.Array:
    r"""Hard tanh, the identity clipped to [-1, 1].

    .. math::
        \mathrm{hard\_tanh}(x) = \begin{cases} -1 & x < -1 \\
            x & -1 \le x \le 1 \\ 1 & 1 < x \end{cases}

    Args:
        x: input array or number. As ``jax.nn.hard_tanh``, integer inputs
            keep their dtype and bool inputs become integers. (For unsigned
            integers, jax.nn compares with a wrapped -1 and returns the
            dtype's maximum for 1; jaxact returns min(x, 1).)

    Returns:
        An array of the same shape as ``x``, in [-1, 1].

    Derivative: 1 for -1 <= x <= 1 and 0 elsewhere; ``hard_tanh'(±1) = 1``,
    as ``jax.nn.hard_tanh``. Second and higher derivatives are 0.

    Accuracy: exact (equal to ``jax.nn.hard_tanh`` bit for bit).

    Limits: ``hard_tanh(±inf) = ±1``, derivative 0; NaN gives NaN,
    derivatives of every order included (jax.nn's derivative is 1).

    Example:
        >>> import jax.numpy as jnp
        >>> import jaxact
        >>> jaxact.hard_tanh(jnp.array([-3.0, 0.5, 2.0]))
        Array([-1. ,  0.5,  1. ], dtype=float32)

    See also: ``jaxact.tanh``, :func:`sparse_sigmoid`.
    """
    x = as_real_array("hard_tanh", x)
    return _hard_tanh(x)


# --------------------------------------------------------------------------
# sparse_plus and sparse_sigmoid (Blondel et al., 2020)


@jax.jit
def _sparse_plus_and_derivative(x: jax.Array):
    shifted = x + 1
    # (x + 1)^2 / 4 with x + 1 carried exactly (|x| < 1 between the kinks,
    # so Fast2Sum applies): (s + s_lo)^2 = s^2 + 2 s s_lo to working
    # precision, one rounding where jax.nn's fl(x + 1)^2 has three (its
    # rounding of x + 1 counts twice). The outer branches are
    # where-selected, so inf never meets the square.
    exact_shifted, shifted_lo = fast_two_sum(1.0, x)
    # Both products rounded before the add, as in hard_silu.
    square = rounded(exact_shifted * exact_shifted) + rounded(2 * (exact_shifted * shifted_lo))
    y = jnp.where(x <= -1, 0, jnp.where(x >= 1, x, square * 0.25))
    # sparse_plus' = sparse_sigmoid, continuous; written with the same
    # selects so that its own derivative at ±1 is jax.nn's second derivative
    # there (0), not sparse_sigmoid's kink value.
    dy = jnp.where(x <= -1, 0, jnp.where(x >= 1, 1, shifted / 2)) + _zero_or_nan(x)
    return y, dy.astype(x.dtype)


_sparse_plus = unary_activation(_sparse_plus_and_derivative, flush_on_cpu=False)


def sparse_plus(x: ArrayLike) -> jax.Array:
    r"""Sparse plus, the piecewise-quadratic softplus (Blondel et al., 2020).

    .. math::
        \mathrm{sparse\_plus}(x) = \begin{cases} 0 & x \le -1 \\
            \frac{1}{4}(x + 1)^2 & -1 < x < 1 \\ x & 1 \le x \end{cases}

    Args:
        x: input array or number (integers promote to the default float dtype).

    Returns:
        An array of the same shape and floating dtype as ``x``, in [0, inf].

    Derivative: :func:`sparse_sigmoid`, (x + 1) / 2 between the kinks,
    continuous: 0 at -1 and 1 at 1, as ``jax.nn.sparse_plus``. The second
    derivative is 1/2 for -1 < x < 1 and 0 elsewhere, ±1 included (as
    jax.nn).

    Accuracy: value within 1.5 ULP (x + 1 carried exactly, then one
    rounding); derivative within 0.5 ULP (:doc:`/accuracy`).

    Limits: ``sparse_plus(inf) = inf``, ``sparse_plus(-inf) = 0``,
    derivatives 1 and 0 (jax.nn: NaN); NaN gives NaN.

    Example:
        >>> import jax.numpy as jnp
        >>> import jaxact
        >>> jaxact.sparse_plus(jnp.array([-2.0, 0.0, 3.0]))
        Array([0.  , 0.25, 3.  ], dtype=float32)

    See also: :func:`sparse_sigmoid`, ``jaxact.softplus``.
    """
    x = as_float_array("sparse_plus", x)
    return _sparse_plus(x)


@jax.jit
def _sparse_sigmoid_and_derivative(x: jax.Array):
    # 0.5 * clip(x + 1, 0, 2), the roundings of jax.nn.sparse_sigmoid.
    y = 0.5 * jnp.minimum(jnp.maximum(x + 1, 0), 2)
    # sparse_sigmoid'(±1) = 1/4, as jax.nn: its clip splits the derivative
    # evenly between the tied arguments, the mean of the one-sided slopes.
    magnitude = jnp.abs(x)
    dy = jnp.where(
        magnitude < 1, 0.5, jnp.where(magnitude == 1, 0.25, _zero_or_nan(x))
    )
    return y, dy.astype(x.dtype)


_sparse_sigmoid = unary_activation(_sparse_sigmoid_and_derivative, flush_on_cpu=False)


def sparse_sigmoid(x: ArrayLike) -> jax.Array:
    r"""Sparse sigmoid, the derivative of :func:`sparse_plus` (Blondel et al., 2020).

    .. math::
        \mathrm{sparse\_sigmoid}(x) = \begin{cases} 0 & x \le -1 \\
            \frac{1}{2}(x + 1) & -1 < x < 1 \\ 1 & 1 \le x \end{cases}

    Args:
        x: input array or number (integers promote to the default float dtype).

    Returns:
        An array of the same shape and floating dtype as ``x``, in [0, 1].

    Derivative: 1/2 for -1 < x < 1 and 0 for :math:`|x| > 1`; at the kinks
    ``sparse_sigmoid'(±1) = 1/4``, the mean of the one-sided slopes, as
    ``jax.nn.sparse_sigmoid``. Second and higher derivatives are 0.

    Accuracy: value within 0.5 ULP (one rounding, x + 1, and an exact
    halving) and equal to ``jax.nn.sparse_sigmoid``'s bit for bit; derivative
    exact (:doc:`/accuracy`).

    Limits: ``sparse_sigmoid(inf) = 1``, ``sparse_sigmoid(-inf) = 0``,
    derivative 0 at both; NaN gives NaN, derivatives of every order included (jax.nn's
    derivative is 0).

    Example:
        >>> import jax.numpy as jnp
        >>> import jaxact
        >>> jaxact.sparse_sigmoid(jnp.array([-2.0, 0.0, 0.5]))
        Array([0.  , 0.5 , 0.75], dtype=float32)

    See also: :func:`sparse_plus`, :func:`hard_sigmoid`.
    """
    x = as_float_array("sparse_sigmoid", x)
    return _sparse_sigmoid(x)
