"""The logistic family: sigmoid, softplus, log_sigmoid and the generalized logistic.

All are built on ``e = exp(-|x|)``, which lies in (0, 1] and never overflows.
"""

from __future__ import annotations

import math
import numbers

import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from jaxact._src.checks import as_float_array, as_parameter
from jaxact._src.jvp import binary_activation, compute_dtype, unary_activation
from jaxact._src.numerics import (
    exp,
    log1p_exp_neg,
    log1p_small,
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


_sigmoid = unary_activation(_logistic_and_derivative)


def sigmoid(x: ArrayLike) -> jax.Array:
    r"""Logistic sigmoid.

    .. math::
        \sigma(x) = \frac{1}{1 + e^{-x}}

    Args:
        x: input array or number. Integer and bool inputs promote to the
            default float dtype.

    Returns:
        An array of the same shape and floating dtype as ``x``, in [0, 1].

    Derivative: :math:`\sigma'(x) = \sigma(x)\,\sigma(-x)`, the source's
    :math:`S(1 - S)` evaluated without forming :math:`1 - S`, so it stays
    accurate (about :math:`e^{-|x|}`) where ``jax.nn.sigmoid``'s gradient is
    exactly 0 (x > 17 in float32).

    Accuracy, as the tests check it (``tests/test_accuracy.py``): float32
    value within 2.5 ULP and derivative within 4 ULP of a float64 reference
    over every binade; float64 value and x-derivative within 4 ULP of mpmath;
    bfloat16 and float16 the float32 result rounded once. Maxima over all
    2^32 float32 inputs, beside jax.nn's: ``benchmarks/results/accuracy.md``
    (``make accuracy``).

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
    return _sigmoid(as_float_array("sigmoid", x))


@jax.jit
def _softplus_and_derivative(x: jax.Array):
    e = exp(-jnp.abs(x))
    y = jnp.maximum(x, 0) + log1p_small(e)
    return y, _logistic_from_exp(x, e)


_softplus = unary_activation(_softplus_and_derivative)


def softplus(x: ArrayLike) -> jax.Array:
    r"""Softplus, the smooth ReLU.

    .. math::
        \mathrm{softplus}(x) = \log(1 + e^{x}) = \max(x, 0) + \log(1 + e^{-|x|})

    Args:
        x: input array or number (integers promote to the default float dtype).

    Returns:
        An array of the same shape and floating dtype as ``x``, in [0, inf].

    Derivative: :math:`\mathrm{softplus}'(x) = \sigma(x)`.

    Accuracy, as the tests check it (``tests/test_accuracy.py``): float32
    value within 2.5 ULP and derivative within 4 ULP of a float64 reference
    over every binade; float64 value and x-derivative within 4 ULP of mpmath;
    bfloat16 and float16 the float32 result rounded once. Maxima over all
    2^32 float32 inputs, beside jax.nn's: ``benchmarks/results/accuracy.md``
    (``make accuracy``).

    Limits: ``softplus(inf) = inf``, ``softplus(-inf) = 0``; derivative 1 and
    0; NaN gives NaN. The second form above never overflows.

    Example:
        >>> import jax.numpy as jnp
        >>> import jaxact
        >>> jaxact.softplus(jnp.array([0.0, 100.0]))  # log 2, and no overflow
        Array([  0.6931472, 100.       ], dtype=float32)

    See also: :func:`log_sigmoid`, :func:`relu`.
    """
    return _softplus(as_float_array("softplus", x))


@jax.jit
def _log_sigmoid_and_derivative(x: jax.Array):
    y, dy = _softplus_and_derivative(-x)  # log sigma(x) = -softplus(-x)
    return -y, dy


_log_sigmoid = unary_activation(_log_sigmoid_and_derivative)


def log_sigmoid(x: ArrayLike) -> jax.Array:
    r"""Logarithm of the sigmoid.

    .. math::
        \log \sigma(x) = -\mathrm{softplus}(-x) = \min(x, 0) - \log(1 + e^{-|x|})

    Args:
        x: input array or number (integers promote to the default float dtype).

    Returns:
        An array of the same shape and floating dtype as ``x``, in [-inf, 0].

    Derivative: :math:`\sigma(-x)`, never formed as :math:`1 - \sigma(x)`.

    Accuracy, as the tests check it (``tests/test_accuracy.py``): float32
    value within 2.5 ULP and derivative within 4 ULP of a float64 reference
    over every binade; float64 value and x-derivative within 4 ULP of mpmath;
    bfloat16 and float16 the float32 result rounded once. Maxima over all
    2^32 float32 inputs, beside jax.nn's: ``benchmarks/results/accuracy.md``
    (``make accuracy``).

    Limits: ``log_sigmoid(inf) = 0``, ``log_sigmoid(-inf) = -inf``; derivative
    0 and 1; NaN gives NaN.

    Example:
        >>> import jax.numpy as jnp
        >>> import jaxact
        >>> jaxact.log_sigmoid(jnp.array([-100.0, 0.0]))
        Array([-100.       ,   -0.6931472], dtype=float32)

    See also: :func:`softplus`, :func:`sigmoid`.
    """
    return _log_sigmoid(as_float_array("log_sigmoid", x))


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
    a = jnp.abs(x)
    log1p_hi, log1p_lo = log1p_exp_neg(a)
    x_neg = jnp.minimum(x, 0)
    x_pos = jnp.maximum(x, 0)
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


_generalized_logistic = binary_activation(_generalized_logistic_parts)


def generalized_logistic(x: ArrayLike, alpha: ArrayLike = 1.0) -> jax.Array:
    r"""Generalized logistic function, the sigmoid raised to a power.

    .. math::
        f(x; \alpha) = (1 + e^{-x})^{-\alpha} = \sigma(x)^{\alpha}, \quad \alpha > 0

    ``alpha = 1`` is the sigmoid.

    Args:
        x: input array or number (integers promote to the default float dtype).
        alpha: the exponent, > 0; a number or an array that broadcasts
            against ``x``. It may be traced, and the function is
            differentiable with respect to it. Used in
            ``x``'s dtype (float32 for bfloat16 and float16 inputs).

    Returns:
        An array of ``x``'s floating dtype, of the broadcast shape, in [0, 1].

    Raises:
        ValueError: if a concrete ``alpha`` is not > 0.

    Derivatives: :math:`\partial f/\partial x = \alpha f(x)\,\sigma(-x)` and
    :math:`\partial f/\partial \alpha = f(x) \log\sigma(x)`. Computed as
    :math:`\exp(\alpha \log\sigma(x))` with the exponent carried in extra
    precision, so there is no overflow for x < -88 where the naive
    ``(1 + exp(-x)) ** -alpha`` gives inf and NaN gradients.

    Accuracy, as the tests check it (``tests/test_accuracy.py``): float32
    value within 2.5 ULP and both derivatives within 4 ULP of a float64 reference
    over every binade; float64 value and x-derivative within 4 ULP of mpmath;
    bfloat16 and float16 the float32 result rounded once. Maxima over all
    2^32 float32 inputs, beside jax.nn's: ``benchmarks/results/accuracy.md``
    (``make accuracy``).
    The tests check alpha = 0.5 and 2.

    Limits: ``f(inf) = 1``, ``f(-inf) = 0``, both derivatives 0 there; NaN
    gives NaN.

    Example:
        >>> import jax.numpy as jnp
        >>> import jaxact
        >>> jaxact.generalized_logistic(jnp.array([0.0, 1.0]), alpha=2.0)
        Array([0.25      , 0.53444666], dtype=float32)

    See also: :func:`sigmoid`, :func:`log_sigmoid`.
    """
    x = as_float_array("generalized_logistic", x)
    if isinstance(alpha, numbers.Real) and not isinstance(alpha, bool) and alpha == 1:
        return _sigmoid(x)
    alpha = as_parameter(
        "generalized_logistic", "alpha", alpha, compute_dtype(x.dtype),
        minimum=0.0, inclusive=False,
    )
    return _generalized_logistic(x, alpha)
