"""The rectifier family: relu, leaky_relu and elu."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxact._src.checks import as_float_array, as_parameter, as_real_array
from jaxact._src.jvp import binary_activation, cast, compute_dtype
from jaxact._src.numerics import expm1_nonpositive


@jax.custom_jvp
@jax.jit
def _relu(x: jax.Array) -> jax.Array:
    # jnp.maximum propagates NaN, so relu(NaN) is NaN rather than 0.
    return jnp.maximum(x, 0)


@_relu.defjvp
def _relu_jvp(primals, tangents):
    (x,), (x_dot,) = primals, tangents
    # relu'(0) = 0, as jax.nn.relu: the subgradient that keeps units at 0 off.
    # A NaN input is neither > 0 nor <= 0, and its derivative is NaN.
    # The tangent must stay linear in x_dot (a constant NaN branch would be
    # dropped by transposition), so the NaN enters as a factor.
    slope = jnp.where(x > 0, 1, jnp.where(x <= 0, 0, jnp.nan)).astype(x_dot.dtype)
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

    Limits: ``relu(inf) = inf``, ``relu(-inf) = 0``; NaN gives NaN.

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
    # The value selects on x > 0 (the two branches agree at 0): the CPU treats a
    # subnormal x as 0, and x >= 0 would pass a negative subnormal through
    # unflushed, above the flushed values of its normal neighbours.
    y = jnp.where(x > 0, x, negative_part)
    # A NaN input is neither branch: its derivative is NaN too, not the slope.
    dy_dx = cast(jnp.where(positive, 1, jnp.where(x < 0, negative_slope, jnp.nan)), x.dtype)
    dy_dslope = jnp.where(positive, 0, x)
    return y, dy_dx, dy_dslope


_leaky_relu = binary_activation(_leaky_relu_parts)


def leaky_relu(x: ArrayLike, negative_slope: ArrayLike = 0.01) -> jax.Array:
    r"""Leaky rectified linear unit (Maas et al., 2013).

    .. math::
        \mathrm{leaky\_relu}(x) = \begin{cases} x & x \ge 0 \\
            \mathrm{negative\_slope} \cdot x & x < 0 \end{cases}

    With the default slope 0.01 this is the source's :math:`\max(0.01x, x)`.

    Args:
        x: input array or number (integers promote to the default float dtype).
        negative_slope: slope for x < 0; a number or an array that broadcasts
            against ``x``, possibly traced; differentiable. Used in
            ``x``'s dtype (float32 for bfloat16 and float16 inputs).

    Returns:
        An array of ``x``'s floating dtype and the broadcast shape.

    Derivatives: 1 for x >= 0 and ``negative_slope`` for x < 0, so
    ``leaky_relu'(0) = 1`` as ``jax.nn.leaky_relu``; with respect to the
    slope, x for x < 0 and 0 otherwise.

    Accuracy: the product ``negative_slope * x`` rounded once.

    Limits: ``leaky_relu(inf) = inf``, ``leaky_relu(-inf) = -inf`` (for a
    positive slope); NaN gives NaN.

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
        minimum=-math.inf, inclusive=True,
    )
    return _leaky_relu(x, negative_slope)


@jax.jit
def _elu_parts(x: jax.Array, alpha: jax.Array):
    # Double where: the exponential branch sees only x <= 0, so it cannot
    # overflow for large x and poison the gradient with inf * 0.
    expm1_x, exp_x = expm1_nonpositive(jnp.minimum(x, 0))
    positive = x > 0
    y = jnp.where(positive, x, alpha * expm1_x)
    dy_dx = jnp.where(positive, 1, alpha * exp_x)
    dy_dalpha = jnp.where(positive, 0, expm1_x)
    return y, dy_dx, dy_dalpha


_elu = binary_activation(_elu_parts)


def elu(x: ArrayLike, alpha: ArrayLike = 1.0) -> jax.Array:
    r"""Exponential linear unit (Clevert et al., 2015).

    .. math::
        \mathrm{elu}(x) = \begin{cases} x & x > 0 \\
            \alpha (e^{x} - 1) & x \le 0 \end{cases}

    Args:
        x: input array or number (integers promote to the default float dtype).
        alpha: the negative saturation value, >= 0; a number or an array that
            broadcasts against ``x``, possibly traced; differentiable. Used in
            ``x``'s dtype (float32 for bfloat16 and float16 inputs).

    Returns:
        An array of ``x``'s floating dtype and the broadcast shape, in [-alpha, inf].

    Raises:
        ValueError: if a concrete ``alpha`` is negative.

    Derivatives: 1 for x > 0 and :math:`\alpha e^{x}` for x <= 0 (at 0 the
    source's x <= 0 branch gives ``elu'(0) = alpha``); with respect to alpha,
    :math:`e^{x} - 1` for x <= 0 and 0 otherwise. :math:`\alpha e^{x}` is
    computed directly, not as ``expm1(x) + 1``, which is exactly 0 for
    x < -17 in float32.

    Accuracy, as the tests check it (``tests/test_accuracy.py``): float32
    value within 2.5 ULP and both derivatives within 4 ULP of a float64 reference
    over every binade; float64 value and x-derivative within 4 ULP of mpmath;
    bfloat16 and float16 the float32 result rounded once. Maxima over all
    2^32 float32 inputs, beside jax.nn's: ``benchmarks/results/accuracy.md``
    (``make accuracy``).

    Limits: ``elu(inf) = inf``, ``elu(-inf) = -alpha``, derivative 0 at -inf;
    NaN gives NaN.

    Example:
        >>> import jax.numpy as jnp
        >>> import jaxact
        >>> jaxact.elu(jnp.array([-1.0, 2.0]))
        Array([-0.63212055,  2.        ], dtype=float32)

    See also: :func:`relu`, :func:`leaky_relu`.
    """
    x = as_float_array("elu", x)
    alpha = as_parameter(
        "elu", "alpha", alpha, compute_dtype(x.dtype), minimum=0.0, inclusive=True
    )
    return _elu(x, alpha)
