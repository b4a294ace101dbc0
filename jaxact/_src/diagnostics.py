"""Training diagnostics: dead units, saturated units, activation and gradient statistics.

Units are the last axis of an activation array (channels-last, as in
``jax.nn`` and flax): a dense layer's output of shape (batch, units) or a
convolution's of shape (batch, height, width, channels) both have one unit per
entry of the last axis. Statistics reduce over every leading axis.

Every function checks its arguments when it is traced (shapes and dtypes are
known then) and otherwise uses only array operations, so it can be called
inside a user's jitted training step, under ``vmap`` (over seeds, say) and on
sharded arrays, without a host round trip.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxact._src.checks import as_float_array, as_parameter, as_real_array, is_concrete
from jaxact._src.jvp import is_narrow


def _upcast(x: jax.Array) -> jax.Array:
    # Sums of squares of values narrower than float32 overflow (float16, the
    # float8 and float4 types) or lose most digits (bfloat16), and a small
    # threshold may not even be representable: compute in float32 and round
    # once at the end.
    return x.astype(jnp.float32) if is_narrow(x.dtype) else x


def _check_units_axis(fn_name: str, arg_name: str, x: jax.Array) -> None:
    if x.ndim == 0:
        raise ValueError(
            f"jaxact.{fn_name}: {arg_name} must have at least one axis (units are the "
            f"last axis), got a scalar"
        )
    if x.shape[-1] == 0:
        raise ValueError(f"jaxact.{fn_name}: {arg_name} has no units (shape {x.shape})")


def _as_activations(fn_name: str, arg_name: str, h: ArrayLike) -> jax.Array:
    h = as_real_array(fn_name, h, arg_name)
    if h.dtype == jnp.bool_:
        raise TypeError(
            f"jaxact.{fn_name}: {arg_name} must hold activation values, got dtype bool "
            "(an `active` mask goes to update_active_units or dead_fraction)"
        )
    _check_units_axis(fn_name, arg_name, h)
    return h


def _as_active_mask(fn_name: str, arg_name: str, active: ArrayLike) -> jax.Array:
    active = as_real_array(fn_name, active, arg_name)
    if active.dtype != jnp.bool_:
        raise TypeError(
            f"jaxact.{fn_name}: {arg_name} must be a bool mask (from active_units), "
            f"got dtype {active.dtype}"
        )
    _check_units_axis(fn_name, arg_name, active)
    return active


@jax.jit
def _active_units(h: jax.Array) -> jax.Array:
    return jnp.any(h > 0, axis=tuple(range(h.ndim - 1)))


def active_units(h: ArrayLike) -> jax.Array:
    r"""Which units are active for at least one sample of a batch.

    .. math::
        \mathrm{active}_j = \exists\, i : h_{i,j} > 0

    where :math:`i` runs over every leading axis (samples, and positions of a
    convolution) and :math:`j` over the last axis (units). For the ReLU
    family, a unit whose output is never positive passes no gradient back:
    it is "dead" on this batch (see :func:`dead_fraction`).

    Args:
        h: post-activation values, shape (..., units), integer or float, at
            least one axis. A 1-D ``h`` is one sample.

    Returns:
        A bool array of shape (units,).

    Raises:
        TypeError: if ``h`` is not an array or number, is complex, or is bool.
        ValueError: if ``h`` is a scalar or has no units.

    NaN entries count as not active (a bool cannot carry NaN): check
    :func:`activation_stats` for NaN when a unit looks dead unexpectedly.
    ``+inf`` is active and ``-inf`` is not.

    Example:
        >>> import jax.numpy as jnp
        >>> from jaxact import diagnostics
        >>> h = jnp.array([[0.0, 1.5, 0.0],
        ...                [0.0, 0.0, 2.0]])
        >>> diagnostics.active_units(h)
        Array([False,  True,  True], dtype=bool)

    See also: :func:`update_active_units`, :func:`dead_fraction`.
    """
    return _active_units(_as_activations("active_units", "h", h))


@jax.jit
def _update_active_units(active: jax.Array, h: jax.Array) -> jax.Array:
    return active | _active_units(h)


def update_active_units(active: ArrayLike, h: ArrayLike) -> jax.Array:
    r"""Accumulates :func:`active_units` over a stream of batches.

    .. math::
        \mathrm{active}' = \mathrm{active} \lor \mathrm{active\_units}(h)

    Starting from all ``False`` and folding in every batch of a data set gives
    exactly ``active_units`` of the whole data set at once, without holding it
    in memory: a unit is dead on the data set when it stays ``False``.

    Args:
        active: bool array of shape (units,), the mask so far (start with
            ``jnp.zeros(units, bool)``).
        h: the next batch of post-activation values, shape (..., units).

    Returns:
        The updated bool mask of shape (units,).

    Raises:
        TypeError: if ``active`` is not bool, or ``h`` is bool or not an array.
        ValueError: if ``active`` is not of shape (units,) for ``h``'s units.

    Example:
        >>> import jax.numpy as jnp
        >>> from jaxact import diagnostics
        >>> active = jnp.zeros(3, bool)
        >>> for batch in (jnp.array([[1.0, 0.0, 0.0]]), jnp.array([[0.0, 0.0, 2.0]])):
        ...     active = diagnostics.update_active_units(active, batch)
        >>> active
        Array([ True, False,  True], dtype=bool)

    See also: :func:`active_units`, :func:`dead_fraction`.
    """
    active = _as_active_mask("update_active_units", "active", active)
    h = _as_activations("update_active_units", "h", h)
    if active.shape != h.shape[-1:]:
        raise ValueError(
            f"jaxact.update_active_units: active must have shape {h.shape[-1:]} "
            f"(the units of h, shape {h.shape}), got {active.shape}"
        )
    return _update_active_units(active, h)


@jax.jit
def _fraction_false(mask: jax.Array) -> jax.Array:
    # An integer count, so the fraction is exact however many units there are
    # (a float32 running sum stops counting at 2**24).
    count = jnp.sum(~mask, dtype=jnp.int32)
    return count.astype(jnp.float32) / np.float32(mask.size)


def dead_fraction(active: ArrayLike) -> jax.Array:
    r"""Fraction of units that were never active.

    .. math::
        \mathrm{dead} = \frac{1}{n} \sum_{j=1}^{n} [\lnot\,\mathrm{active}_j]

    Args:
        active: bool mask from :func:`active_units` or
            :func:`update_active_units`, shape (units,); masks of several
            layers concatenated, or stacked into more axes, count every entry.

    Returns:
        A float32 scalar in [0, 1].

    Raises:
        TypeError: if ``active`` is not a bool array.
        ValueError: if ``active`` is a scalar or empty.

    Example:
        >>> import jax.numpy as jnp
        >>> from jaxact import diagnostics
        >>> diagnostics.dead_fraction(jnp.array([True, False, True, False]))
        Array(0.5, dtype=float32)

    See also: :func:`active_units`, :func:`saturated_fraction`.
    """
    active = _as_active_mask("dead_fraction", "active", active)
    if active.size == 0:
        raise ValueError(f"jaxact.dead_fraction: active is empty (shape {active.shape})")
    return _fraction_false(active)


def _as_threshold(threshold: ArrayLike, dtype) -> jax.Array:
    value = as_parameter(
        "saturated_fraction", "threshold", threshold, dtype, minimum=0.0, inclusive=False
    )
    if value.ndim != 0:
        raise ValueError(
            f"jaxact.saturated_fraction: threshold must be a scalar, got shape {value.shape}"
        )
    # as_parameter lets NaN through (NaN in, NaN out), but a NaN threshold
    # would silently report 0 saturated units.
    if is_concrete(threshold) and np.isnan(np.asarray(threshold, dtype=np.float64)):
        raise ValueError("jaxact.saturated_fraction: threshold must be > 0, got nan")
    return value


@jax.jit
def _fraction_below(derivative: jax.Array, threshold: jax.Array) -> jax.Array:
    count = jnp.sum(jnp.abs(derivative) < threshold, dtype=jnp.int32)
    fraction = count.astype(jnp.float32) / np.float32(derivative.size)
    # A NaN derivative compares False and would pass for "not saturated".
    return jnp.where(jnp.any(jnp.isnan(derivative)), jnp.float32(jnp.nan), fraction)


def saturated_fraction(
    z: ArrayLike,
    activation: Callable[[jax.Array], jax.Array],
    *,
    threshold: ArrayLike = 0.01,
) -> jax.Array:
    r"""Fraction of pre-activations where the activation's derivative is below a threshold.

    .. math::
        \mathrm{saturated} = \frac{1}{|z|} \sum_{i} \big[\, |f'(z_i)| < \tau \,\big]

    A saturated entry passes back less than ``threshold`` times the gradient
    it receives: the source's "gradient ≈ 0 at both ends" of sigmoid and tanh,
    and every z <= 0 of ReLU (``relu'(z) = 0`` there).

    The derivative is one forward-mode pass, ``jax.jvp(activation, (z,),
    (ones,))``, which for an elementwise function is exactly
    :math:`f'(z_i)` at every entry (the same numbers as ``vmap(grad(f))``).
    Unlike ``vmap(grad(f))`` it also works for activations with one
    parameter per channel, such as a channel-wise PReLU, that broadcast
    against the whole of ``z``. It uses the activation's own derivative rule
    (jaxact's accurate ``custom_jvp`` rules, for jaxact functions).

    Args:
        z: pre-activation values, any shape with at least one entry; integers
            promote to the default float dtype.
        activation: an elementwise function of one array returning an array
            of the same shape, such as ``jaxact.tanh`` or
            ``lambda v: jaxact.leaky_relu(v, 0.1)``.
        threshold: the scalar :math:`\tau > 0`, possibly traced.

    Returns:
        A float32 scalar in [0, 1]; NaN if any derivative is NaN (a NaN in
        ``z``, for instance), since a fraction that ignored it would look
        healthy. ``z = ±inf`` counts by the derivative's limit (saturated for
        sigmoid and tanh).

    Raises:
        TypeError: if ``z`` is not a real array or number, or ``activation``
            is not callable or returns a non-float array.
        ValueError: if ``z`` is empty, ``threshold`` is not a positive scalar,
            or ``activation`` changes the shape (it is not elementwise).

    Example:
        >>> import jax.numpy as jnp
        >>> import jaxact
        >>> from jaxact import diagnostics
        >>> z = jnp.array([-8.0, -1.0, 0.0, 1.0, 8.0])
        >>> diagnostics.saturated_fraction(z, jaxact.sigmoid)  # sigmoid'(±8) = 3.4e-4
        Array(0.4, dtype=float32)
        >>> diagnostics.saturated_fraction(z, jaxact.relu)  # relu'(z) = 0 for z <= 0
        Array(0.6, dtype=float32)

    See also: :func:`dead_fraction`.
    """
    z = as_float_array("saturated_fraction", z, "z")
    if not callable(activation):
        raise TypeError(
            f"jaxact.saturated_fraction: activation must be callable, "
            f"got {type(activation).__name__}"
        )
    if z.size == 0:
        raise ValueError(f"jaxact.saturated_fraction: z is empty (shape {z.shape})")
    compute_dtype = _upcast(z).dtype
    threshold = _as_threshold(threshold, compute_dtype)
    _, derivative = jax.jvp(activation, (z,), (jnp.ones_like(z),))
    derivative = jnp.asarray(derivative)
    if derivative.shape != z.shape:
        raise ValueError(
            "jaxact.saturated_fraction: activation must be elementwise, but it maps z of "
            f"shape {z.shape} to shape {derivative.shape}"
        )
    if not jnp.issubdtype(derivative.dtype, jnp.floating):
        raise TypeError(
            "jaxact.saturated_fraction: activation must return a float array, "
            f"got dtype {derivative.dtype}"
        )
    return _fraction_below(derivative.astype(compute_dtype), threshold)


@jax.jit
def _mean_and_std(h: jax.Array) -> tuple[jax.Array, jax.Array]:
    x = _upcast(h)
    # Computed on x / 2^e with 2^e >= max |x|: the sum of [[3e38, 3e38]]
    # overflowed to an infinite mean, and x - mean to an infinite std. A power
    # of two scales exactly (short of the subnormals, negligible beside the
    # largest entry), so every other result is unchanged; mean and std are at
    # most max |x| and scale back without overflow.
    largest = jnp.max(jnp.abs(x))
    usable = (largest > 0) & jnp.isfinite(largest)
    # Zero, inf and NaN need no scaling: the results are then 0, inf or NaN.
    exponent = jnp.where(usable, jnp.frexp(largest)[1], 0)
    scaled = jnp.ldexp(x, -exponent)
    mean = jnp.mean(scaled)
    # Two passes: the one-pass E[x^2] - E[x]^2 cancels when |mean| >> std.
    std = jnp.sqrt(jnp.mean(jnp.square(scaled - mean)))
    return (
        jnp.ldexp(mean, exponent).astype(h.dtype),
        jnp.ldexp(std, exponent).astype(h.dtype),
    )


def activation_stats(h: ArrayLike) -> dict[str, jax.Array]:
    r"""Mean and standard deviation of one layer's activations.

    .. math::
        \mu = \frac{1}{N} \sum_i h_i, \qquad
        \sigma = \sqrt{\frac{1}{N} \sum_i (h_i - \mu)^2}

    over all :math:`N` entries of ``h`` (population standard deviation,
    ``ddof = 0``). The source's zero-centring argument is about :math:`\mu`:
    sigmoid outputs have :math:`\mu > 0`, tanh and ELU nearer 0.

    Args:
        h: one layer's activations, shape (..., units), at least one axis;
            integers promote to the default float dtype.

    Returns:
        ``{"mean": mu, "std": sigma}``, scalars of ``h``'s float dtype
        (half-precision inputs are accumulated in float32). They do not
        overflow while the true values are finite (``[[3e38, 3e38]]`` has
        mean 3e38 and std 0). NaN in ``h`` gives NaN in both; an infinite
        entry gives an infinite or NaN result.

    Raises:
        TypeError: if ``h`` is not a real array or number.
        ValueError: if ``h`` is a scalar or empty.

    Example:
        >>> import jax.numpy as jnp
        >>> from jaxact import diagnostics
        >>> stats = diagnostics.activation_stats(jnp.array([[1.0, 3.0], [1.0, 3.0]]))
        >>> stats["mean"], stats["std"]
        (Array(2., dtype=float32), Array(1., dtype=float32))

    See also: :func:`gradient_norms`.
    """
    h = as_float_array("activation_stats", h, "h")
    _check_units_axis("activation_stats", "h", h)
    if h.size == 0:
        raise ValueError(f"jaxact.activation_stats: h is empty (shape {h.shape})")
    mean, std = _mean_and_std(h)
    return {"mean": mean, "std": std}


@jax.jit
def _l2_norm(leaf: jax.Array) -> jax.Array:
    x = _upcast(leaf)
    # Scaling by the largest magnitude keeps the squares in range: unscaled,
    # float32 gradients below ~1e-19 square to 0 and a vanishing gradient
    # reads as exactly 0, and entries above ~1e19 overflow to inf.
    scale = jnp.max(jnp.abs(x))
    usable = (scale > 0) & jnp.isfinite(scale)
    # Zero, inf and NaN need no scaling: the sum below is then 0, inf or NaN.
    scale = jnp.where(usable, scale, jnp.ones_like(scale))
    norm = scale * jnp.sqrt(jnp.sum(jnp.square(x / scale)))
    return norm.astype(leaf.dtype)


def _leaf_norm(path, leaf) -> jax.Array:
    where = jax.tree_util.keystr(path) or "(root)"
    if getattr(leaf, "dtype", None) == jax.dtypes.float0:
        # Checked first: jnp cannot even read a float0 array's dtype.
        raise TypeError(
            f"jaxact.gradient_norms: grads leaf {where} must be a float array, got dtype "
            f"float0 (the gradient of an integer input under grad(allow_int=True))"
        )
    try:
        array = as_float_array("gradient_norms", leaf, f"grads leaf {where}")
    except TypeError:
        raise TypeError(
            f"jaxact.gradient_norms: grads leaf {where} must be a float array, "
            f"got {type(leaf).__name__}"
        ) from None
    leaf_dtype = jnp.result_type(leaf)
    if not jnp.issubdtype(leaf_dtype, jnp.floating):
        # Gradients are never integer; an integer leaf (or float0 from
        # grad(allow_int=True)) means parameters and gradients were mixed up.
        raise TypeError(
            f"jaxact.gradient_norms: grads leaf {where} must be a float array, "
            f"got dtype {leaf_dtype}"
        )
    if array.size == 0:
        return jnp.zeros((), array.dtype)
    return _l2_norm(array)


def gradient_norms(grads: Any) -> Any:
    r"""The L2 norm of every leaf of a pytree of gradients.

    .. math::
        \|g\|_2 = \sqrt{\sum_i g_i^2}

    one per leaf, so a tree of per-layer gradients gives per-layer norms: the
    measure of vanishing (sigmoid, tanh) and exploding gradients. The sum is
    scaled by the largest entry, so gradients as small as the dtype's
    smallest normal number give their true norm rather than 0.

    Args:
        grads: any pytree of float arrays (``None`` leaves are kept as ``None``),
            for example the output of ``jax.grad``.

    Returns:
        A pytree of the same structure whose leaves are scalars of each leaf's
        dtype (types narrower than float32 are accumulated in float32). An empty leaf has
        norm 0; NaN anywhere in a leaf gives NaN, and an infinite entry inf.

    Raises:
        TypeError: naming the leaf's path, if a leaf is not a float array.

    Example:
        >>> import jax.numpy as jnp
        >>> from jaxact import diagnostics
        >>> grads = {"w": jnp.array([[3.0, 0.0], [0.0, 4.0]]), "b": jnp.array([1e-30])}
        >>> norms = diagnostics.gradient_norms(grads)
        >>> norms["w"], norms["b"]
        (Array(5., dtype=float32), Array(1.e-30, dtype=float32))

    See also: :func:`activation_stats`.
    """
    return jax.tree_util.tree_map_with_path(_leaf_norm, grads)
