"""The rectifier family: relu, leaky_relu and elu."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxact._src.checks import as_float_array, as_parameter, as_real_array, weak_as_inputs
from jaxact._src.jvp import binary_activation, cast, compute_dtype
from jaxact._src.numerics import expm1_nonpositive, nan_marker


@jax.custom_jvp
@jax.jit
def _relu(x: jax.Array) -> jax.Array:
    # jnp.maximum propagates NaN, so relu(NaN) is NaN rather than 0.
    return jnp.maximum(x, 0)


@_relu.defjvp
def _relu_jvp(primals, tangents):
    (x,), (x_dot,) = primals, tangents
    # relu'(0) = 0, as jax.nn.relu: the subgradient that keeps units at 0 off.
    # A NaN input has NaN derivatives of every order (nan_marker). The
    # tangent must stay linear in x_dot (a constant NaN branch would be
    # dropped by transposition), so the NaN enters as a factor.
    slope = jnp.where(x > 0, 1, 0).astype(x_dot.dtype) + nan_marker(x).astype(x_dot.dtype)
    return _relu(x), x_dot * slope


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
def _leaky_relu_parts(x: jax.Array, negative_slope: jax.Array):
    positive = x >= 0
    # With a zero slope the limit at -inf is 0, but 0 * -inf is NaN: give that
    # product the lowest finite value instead (NaN stays NaN through maximum).
    lowest = jnp.finfo(x.dtype).min
    negative_part = negative_slope * jnp.where(negative_slope == 0, jnp.maximum(x, lowest), x)
    # Likewise an infinite slope times x = 0 is NaN, where the value is 0 for
    # every slope: x * 0 keeps x's sign, and flushes a subnormal x as the
    # product would.
    negative_part = jnp.where(x == 0, x * 0, negative_part)
    # The value selects on x > 0 (the two branches agree at 0): the CPU treats a
    # subnormal x as 0, and x >= 0 would pass a negative subnormal through
    # unflushed, above the flushed values of its normal neighbours.
    y = jnp.where(x > 0, x, negative_part)
    # A NaN input has NaN derivatives of every order, in both directions.
    nan = nan_marker(x, negative_slope)
    dy_dx = cast(jnp.where(positive, 1, negative_slope), x.dtype) + nan
    dy_dslope = jnp.where(positive, 0, x) + nan
    return y, dy_dx, dy_dslope


_leaky_relu = binary_activation(_leaky_relu_parts)


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
    x = as_float_array("leaky_relu", x)
    negative_slope = as_parameter(
        "leaky_relu", "negative_slope", negative_slope, compute_dtype(x.dtype),
        minimum=-math.inf, inclusive=True, x_shape=x.shape,
    )
    return weak_as_inputs(_leaky_relu(x, negative_slope), x, negative_slope)


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


_elu = binary_activation(_elu_parts)


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

    Accuracy (float32, all inputs, ``make accuracy``): value within 1.4 ULP,
    derivative within 0.99 ULP (jax.nn: 5.7 and 1.7e7).

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
    x = as_float_array("elu", x)
    alpha = as_parameter(
        "elu", "alpha", alpha, compute_dtype(x.dtype),
        minimum=0.0, inclusive=True, finite=True, x_shape=x.shape,
    )
    return weak_as_inputs(_elu(x, alpha), x, alpha)
