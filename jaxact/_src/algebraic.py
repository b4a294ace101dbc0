"""Algebraic activations, built from +, *, / and sqrt only: soft_sign and squareplus."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.custom_derivatives import SymbolicZero
from jax.typing import ArrayLike

from jaxact._src.checks import as_float_array, as_kernel_parameter, promoted
from jaxact._src.jvp import binary_activation, compute_dtype, unary_activation
from jaxact._src.numerics import separate, two_sum, upper_half


@jax.jit
def _soft_sign_and_derivative(x: jax.Array):
    # Clamped to the largest finite value, x / (1 + |x|) is +-1 at +-inf
    # instead of inf / inf = NaN; jnp.clip keeps NaN, and -0.0 gives -0.0.
    largest = jnp.finfo(x.dtype).max
    clipped = jnp.clip(x, -largest, largest)
    magnitude = jnp.abs(clipped)
    denominator, denominator_err = two_sum(magnitude, jnp.ones_like(magnitude))
    y = clipped / denominator
    # 1 / (1 + |x|)^2 with 1 + |x| = d + d_err exactly: (d + d_err)^2 =
    # d (d + 2 d_err) to first order, so the rounding of 1 + |x| does not
    # count twice in the derivative. It is 0 once the square
    # overflows (|x| > 1.8e19 in float32), where the true value is below the
    # smallest normal float32 anyway. jnp.abs has derivative 1 at 0, so the
    # second derivative at 0 is -2, the right-hand limit, as jax.nn's.
    return y, 1 / (denominator * (denominator + 2 * denominator_err))


_soft_sign = unary_activation(_soft_sign_and_derivative, flush_on_cpu=False)


def soft_sign(x: ArrayLike) -> jax.Array:
    r"""Soft-sign activation.

    .. math::
        \mathrm{soft\_sign}(x) = \frac{x}{|x| + 1}

    Args:
        x: input array or number (integers promote to the default float dtype).

    Returns:
        An array of the same shape and floating dtype as ``x``, in [-1, 1];
        ``soft_sign(-0.0)`` is ``-0.0``.

    Derivative: :math:`1 / (1 + |x|)^2`, in closed form rather than by
    autodiff of the quotient (``jax.nn.soft_sign``'s gradient is off by up to
    122 ULP in float32). It is smooth at 0 with value 1; the second
    derivative :math:`-2\,\mathrm{sign}(x) / (1 + |x|)^3` jumps there and is
    taken as its right-hand limit -2, as ``jax.nn.soft_sign``'s.

    Accuracy: float32 value within 2.5 ULP and derivative within 4 ULP
    wherever the result is a normal float (:doc:`/accuracy`).

    Limits: ``soft_sign(±inf) = ±1``, derivative 0 there; NaN gives NaN.

    Example:
        >>> import jax
        >>> import jax.numpy as jnp
        >>> import jaxact
        >>> jaxact.soft_sign(jnp.array([-3.0, 0.0, 1.0]))
        Array([-0.75,  0.  ,  0.5 ], dtype=float32)
        >>> float(jax.grad(jaxact.soft_sign)(1.0))
        0.25

    See also: :func:`tanh`, :func:`squareplus`.
    """
    x = as_float_array("soft_sign", x)
    return _soft_sign(x)


def _squareplus_thresholds(dtype) -> tuple[float, float, float]:
    """(far, big_b, scale) for squareplus in ``dtype``.

    far: |x| > far * sqrt(b) means b / x^2 < 2^-(nmant + 3), where the first
    term of the expansion in b / x^2 gives the result to far below an ULP
    (float32: 2^13). big_b: above it x^2 + b could overflow for |x| <= far *
    sqrt(b), so b and x are scaled by the power of two ``scale`` (exact).
    """
    info = jnp.finfo(dtype)
    far_exponent = (info.nmant + 4) // 2
    big_b = 2.0 ** (info.maxexp - 2 * far_exponent - 4)
    return 2.0**far_exponent, big_b, 2.0 ** -(info.maxexp // 2)


def _rough_reciprocal(v: jax.Array) -> jax.Array:
    """1 / v within 12.5% for positive normal v, from the bits (2 bits(1) -
    bits(v)): no division. Finite, not inf, at v = 0. Enough for a
    correction term that is itself below an ULP."""
    info = jnp.finfo(v.dtype)
    uint = jnp.dtype(f"uint{info.bits}")
    two_ones = 2 * int(np.array(1, v.dtype).view(uint))
    bits = jax.lax.bitcast_convert_type(v, uint)
    return jax.lax.bitcast_convert_type(jnp.array(two_ones, uint) - bits, v.dtype)


@jax.custom_jvp
def _root(total: jax.Array) -> jax.Array:
    """sqrt(total), whose derivative is 0 rather than inf where total is 0.

    total = x^2 + b is 0 only at x = b = 0, the kink of relu, where the first
    derivative is a selected constant; there, and wherever b = 0 leaves the
    near branch unused, the infinite slope of sqrt times a zero cotangent
    made every second derivative NaN.
    """
    return jnp.sqrt(total)


@_root.defjvp
def _root_jvp(primals, tangents):
    (total,), (total_dot,) = primals, tangents
    root = _root(total)
    return root, total_dot * jnp.where(root > 0, 0.5 / jnp.where(root > 0, root, 1), 0)


@jax.custom_jvp
def _quotient(numerator: jax.Array, denominator: jax.Array) -> jax.Array:
    """numerator / denominator, with derivatives that stay finite where it is 0.

    Its tangent is (numerator' - quotient denominator') / denominator, never
    through denominator^2 as autodiff's is: for b = 0 the far quotient
    b / (4 |x|) is 0 while |x|^2 underflows at tiny x, and 0 / 0 met a zero
    cotangent in a second derivative (NaN). Where the denominator is 0 too
    (the near branch, discarded when b = 0) the tangent is 0.
    """
    return numerator / denominator


@_quotient.defjvp
def _quotient_jvp(primals, tangents):
    (numerator, denominator), (numerator_dot, denominator_dot) = primals, tangents
    quotient = _quotient(numerator, denominator)
    # Every factor masked, not just the result: the transpose multiplies a
    # zero cotangent by each of them.
    usable = denominator != 0
    safe = jnp.where(usable, denominator, 1)
    safe_quotient = jnp.where(usable, quotient, 0)
    slope = jnp.where(usable, (numerator_dot - safe_quotient * denominator_dot) / safe, 0)
    return quotient, slope


@jax.custom_jvp
def _slope(x: jax.Array, b: jax.Array, y: jax.Array, r: jax.Array) -> jax.Array:
    """dy/dx = y / r, given y and r = sqrt(x^2 + b) as computed from x and b.

    Its own derivatives are the closed forms d/dx = b / (2 r^3) and d/db =
    -x / (4 r^3) (see the rule below), not autodiff of y / r: for x >> sqrt(b)
    that is the difference of two terms near 1 / r whose difference is
    b / (2 r^3), which cancels. The tangents of y and r are ignored: they are
    functions of x and b, whose tangents the closed forms already take.
    """
    relu_kink = (x == 0) & (b == 0)
    special = relu_kink | (x == jnp.inf)
    ratio = jnp.where(special, 0, y) / jnp.where(special, 1, r)
    return jnp.where(relu_kink, 0.5, jnp.where(x == jnp.inf, 1, ratio))


@jax.custom_jvp
def _radius(x: jax.Array, b: jax.Array, r: jax.Array) -> jax.Array:
    """r = sqrt(x^2 + b) as computed, with the closed-form tangent (x dx + db / 2) / r.

    Differentiated as computed, r's tangent would go through the near
    branch's error-free arithmetic, whose terms overflow or divide 0 by 0
    for tiny b and x (a third derivative).
    """
    return r


def _radius_jvp(primals, tangents):
    x, b, r = primals
    x_dot, b_dot, _ = tangents
    # 0 where r is 0 (the kink of b = 0) or infinite (x infinite: the limits
    # there are constants).
    masked = (r == 0) | jnp.isinf(r)
    safe_r = jnp.where(masked, 1, r)
    r_dot = jnp.zeros_like(r)
    if not isinstance(x_dot, SymbolicZero):
        r_dot = r_dot + x_dot * jnp.where(masked, 0, x / safe_r)
    if not isinstance(b_dot, SymbolicZero):
        r_dot = r_dot + b_dot * jnp.where(masked, 0, 0.5 / safe_r)
    return _radius(x, b, r), r_dot


_radius.defjvp(_radius_jvp, symbolic_zeros=True)


def _slope_jvp(primals, tangents):
    x, b, y, r = primals
    x_dot, b_dot, _, _ = tangents
    r = _radius(x, b, r)
    # Divided by r three times (r^3 overflows for |x| > 7e12 in float32, and
    # underflows for |x| and b small) and masked where r is 0 (the kink of
    # b = 0, where both are 0 by the kink convention) or x infinite (limits
    # 0). NaN reaches every order through r. A product of reciprocals, not
    # a chain of quotients: XLA's simplifier rewrites (a / r) / r as
    # a / (r * r), in the rule and in its autodiff, which is 0 / 0 or
    # overflows where r^2 or r^3 underflows (|x| and b tiny). The reciprocal
    # is separated so that the products are not rewritten into a quotient.
    # With b = 0 (relu) the curvature is 0 at every x but NaN, masked as
    # well: 1 / r overflows where x is tiny.
    flat = ((x == 0) & (b == 0)) | jnp.isinf(x)
    straight = flat | ((b == 0) & ~jnp.isnan(x))

    def over_r_cubed(numerator, masked):
        safe_r = jnp.where(masked, 1, r)
        reciprocal = separate(1 / safe_r)
        quotient = ((numerator * reciprocal) * reciprocal) * reciprocal
        return jnp.where(masked, 0, quotient)

    curvature = over_r_cubed(0.5 * b, straight)
    along_b = -over_r_cubed(0.25 * x, flat)
    # Symbolic zeros: a direction that is not differentiated adds no term (a
    # zero tangent times along_b, infinite for b = 0 at tiny x, is NaN).
    slope_dot = jnp.zeros_like(curvature)
    if not isinstance(x_dot, SymbolicZero):
        slope_dot = slope_dot + x_dot * curvature
    if not isinstance(b_dot, SymbolicZero):
        slope_dot = slope_dot + b_dot * along_b
    return _slope(x, b, y, r), slope_dot


_slope.defjvp(_slope_jvp, symbolic_zeros=True)


@jax.jit
def _squareplus_parts(x: jax.Array, b: jax.Array):
    """(y, dy/dx, dy/db) for y = (x + r) / 2 with r = sqrt(x^2 + b).

    x + r cancels for x < 0; there y = b / (2 (r - x)) instead, the same
    number. x^2 + b (the sum, not the square), sqrt and r + |x| are carried
    with their rounding errors. Far from 0 (b / x^2 below the precision) the
    expansion r = |x| + b / (2|x|) is used instead, which cannot overflow.
    """
    far, big_b, scale = _squareplus_thresholds(x.dtype)
    magnitude = jnp.abs(x)
    # Also every x != 0 for b = 0 (relu), where x^2 may underflow.
    far_magnitude = far * jnp.sqrt(b)
    is_far = magnitude > far_magnitude
    # Clamped rather than selected (the same for the near values, and XLA
    # fuses a min into all its consumers; a select it wrote to memory).
    near_magnitude = jnp.minimum(magnitude, far_magnitude)
    # Only a huge b needs scaling; for a scalar b (the usual case) this select
    # is a scalar. A per-element scale factor (as for large |x| before) split
    # XLA's CPU fusion into 4 passes over memory.
    factor = jnp.where(b > big_b, scale, 1)
    scaled_x = near_magnitude * factor
    scaled_b = (b * factor) * factor
    square = scaled_x * scaled_x
    # The rounding of x^2 itself is not carried: it moves r by a quarter ULP
    # at most, and the Dekker product that would carry it was a sixth of
    # the arithmetic.
    total, total_err = two_sum(square, scaled_b)
    root = _root(total)
    # r = root + correction to about twice the working precision: the
    # residual t + t_err - root^2 is formed exactly (t - fl(root^2) cancels
    # exactly, Sterbenz) and sqrt(root^2 + res) = root + res / (2 root). 0 / 0
    # where t = 0 (x = b = 0) means no correction.
    root_hi = upper_half(root)
    root_lo = root - root_hi
    residual = (
        ((total - root_hi * root_hi) - 2 * (root_hi * root_lo)) - root_lo * root_lo
    ) + total_err
    correction = residual * (0.5 * _rough_reciprocal(root))
    # r + |x| = sum_hi + sum_lo, the same to twice the working precision, so
    # that the result below is rounded about once: with r and r + |x| each
    # rounded, y would exceed the 2.5 ULP bound in float32.
    sum_hi, sum_err = two_sum(root, scaled_x)
    sum_lo = sum_err + correction
    # x >= 0: (x + r) / 2 adds two non-negative numbers. x < 0: b / (2 (r -
    # x)), whose denominator adds two positive numbers. Rounding s + s_lo
    # there costs at most half an ULP and saves a division, which is what
    # this costs beyond jax.nn's one sqrt.
    unscale = 1 / factor
    near_y = jnp.where(
        x >= 0,
        unscale * (0.5 * (sum_hi + sum_lo)),
        _quotient(b, 2 * (sum_hi + sum_lo)) * factor,
    )
    near_r = unscale * (root + correction)
    # Far: r = |x| (1 + b / (2 x^2)), y = x + b / (4 x) or b / (4 |x|); the
    # next terms are below 2^-(nmant + 5) relative. Infinite x gives inf or 0.
    # (b / 4 first: 4 |x| overflows for |x| > 8.5e37 in float32. One
    # quotient for both signs and r.)
    # The magnitude is masked where near: 1 / x^2, the quotient's
    # derivative, is inf at x = 0 (and overflows for |x| below the square
    # root of the smallest normal), and inf times a zero cotangent is NaN in
    # the second derivative.
    far_quotient = _quotient(0.25 * b, jnp.where(is_far, magnitude, 1))
    far_y = jnp.where(x > 0, x + far_quotient, far_quotient)
    far_r = magnitude + 2 * far_quotient
    y = jnp.where(is_far, far_y, near_y)
    r = jnp.where(is_far, far_r, near_r)
    # dy/dx = (1 + x / r) / 2 = y / r, again without cancellation; at x = 0
    # it is 1/2 (exactly: there y = r / 2 to the bit), and its derivative
    # there b / (2 r^3). With b = 0 (the kink of relu) y / r is 0 / 0 at
    # x = 0, and at x = inf it is inf / inf: there the limits 1/2 and 1 are
    # selected, and the quotient is of masked operands, whose derivatives
    # (of any order) are finite.
    dy_dx = _slope(x, b, y, r)
    # dy/db = 1 / (4 r): inf at x = b = 0, the true limit.
    dy_db = 0.25 / r
    return y, dy_dx, dy_db


_squareplus = binary_activation(_squareplus_parts, default_param=4.0, flush_on_cpu=False)


def squareplus(x: ArrayLike, b: ArrayLike = 4) -> jax.Array:
    r"""Squareplus activation (Barron, 2021), a smooth ReLU made of a square root.

    .. math::
        \mathrm{squareplus}(x) = \frac{x + \sqrt{x^2 + b}}{2}, \quad b \ge 0

    Args:
        x: input array or number (integers promote to the default float dtype).
        b: smoothness, >= 0; a number or an array that broadcasts against
            ``x``, possibly traced; differentiable. Used in ``x``'s dtype
            (float32 for bfloat16 and float16 inputs). ``b = 0`` is relu.

    Returns:
        An array of ``x``'s floating dtype and the broadcast shape, in [0, inf].

    Raises:
        ValueError: if a concrete ``b`` is negative.

    Derivatives: :math:`\partial/\partial x = (1 + x/\sqrt{x^2+b})/2`, which
    is 1/2 at x = 0 for every b (also b = 0); :math:`\partial/\partial b =
    1/(4\sqrt{x^2+b})`. For x < 0 the value is computed as
    :math:`b / (2(\sqrt{x^2+b} - x))`, without the cancellation that costs
    ``jax.nn.squareplus`` thousands of ULP there, and the square root is
    corrected by its exact residual. Far from 0 (:math:`|x| > 2^{13}\sqrt{b}` in
    float32) :math:`\sqrt{x^2+b} = |x| + b/(2|x|)` to the working precision,
    so nothing overflows (``jax.nn.squareplus`` before JAX 0.12 gives inf for
    :math:`|x| > 1.8 \cdot 10^{19}` in float32) and b = 0 gives relu exactly;
    a b so large that x^2 + b could
    overflow is scaled by a power of two.

    Accuracy (default b): float32 value within 2.5 ULP and derivatives within
    4 ULP wherever the result is a normal float (:doc:`/accuracy`).

    Limits: ``squareplus(inf) = inf``, ``squareplus(-inf) = 0``; derivative
    1 and 0; NaN gives NaN.

    Example:
        >>> import jax.numpy as jnp
        >>> import jaxact
        >>> jaxact.squareplus(jnp.array([-1.5, 0.0, 1.5]))
        Array([0.5, 1. , 2. ], dtype=float32)

    See also: :func:`softplus`, :func:`relu`.
    """
    x = promoted("squareplus", as_float_array("squareplus", x), "b", b)
    b = as_kernel_parameter(
        "squareplus", "b", b, compute_dtype(x.dtype),
        x_shape=x.shape, minimum=0.0, inclusive=True
    )
    return _squareplus(x, b)
