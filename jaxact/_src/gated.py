"""Gated activations: glu, one half of the input gated by the sigmoid of the other."""

from __future__ import annotations

import functools
import operator

import jax
from jax.typing import ArrayLike

from jaxact._src.checks import as_float_array
from jaxact._src.jvp import cast, upcast
from jaxact._src.logistic import sigmoid


@functools.partial(jax.jit, static_argnames="axis")
def _glu(x: jax.Array, axis: int) -> jax.Array:
    values, gates = jax.numpy.split(x, 2, axis)
    # Half precision in float32, rounded once at the end, as every other
    # activation: jax.nn rounds sigmoid(gates) and the product separately.
    return cast(upcast(values) * sigmoid(upcast(gates)), x.dtype)


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
    :math:`a\,\sigma(b)\,\sigma(-b)` with respect to ``b``, through
    ``jaxact.sigmoid``'s rule, so they stay accurate where jax.nn's sigmoid
    gradient is 0 (b > 17 in float32).

    Accuracy: the product of two accurate factors: within 2.5 ULP in value,
    and 4 ULP in each partial derivative, in float32 (enforced by
    ``tests/test_gated.py``); half precision is the float32 result rounded
    once.

    Limits and NaN: those of ``a * sigmoid(b)``: ``glu = a`` for b = inf and
    ``0 * a`` for b = -inf; NaN in either half gives NaN.

    Example:
        >>> import jax.numpy as jnp
        >>> import jaxact
        >>> jaxact.glu(jnp.array([2.0, -1.0, 0.0, 30.0]))
        Array([ 1., -1.], dtype=float32)

    See also: ``jaxact.sigmoid``.
    """
    x = as_float_array("glu", x)
    return _glu(x, axis=_checked_axis(x, axis))
