"""Parametric activations: PReLU and Maxout, as functions and as pytrees.

``prelu`` and ``maxout`` are pure functions; ``PReLU`` and ``Maxout`` are small
frozen dataclasses registered as pytrees, whose array fields are the learned
values and whose integer settings are static. They need no framework: jit,
grad, vmap and optax see them as ordinary trees of arrays, and an equinox
module can hold them as fields. For flax.nnx, ``jaxact.nnx`` has the same
layers as ``nnx.Module`` with ``nnx.Param`` state. Both pytrees can be
arguments of a ``jax.export``-ed function, whose serialization knows them.

Both layers return the input's dtype, as flax layers do, and the gradients
come back in the parameters' own dtype. ``prelu`` follows the half-precision
policy of every jaxact function: a bfloat16 or float16 input is computed in
float32 with the float32 slope and rounded once (so it equals
``jaxact.leaky_relu`` bit for bit for a scalar slope); ``Maxout`` casts its
parameters to the input's dtype, since its matmul is where the time goes.
"""

from __future__ import annotations

import dataclasses
import functools
import operator

import jax
import jax.numpy as jnp
from jax.custom_derivatives import SymbolicZero
from jax.typing import ArrayLike

from jaxact._src.checks import as_float_array, as_real_array
from jaxact._src.jvp import cast, compute_dtype, guard_inputs, kernel, narrowed, upcast
from jaxact._src.rectifiers import leaky_value

# --------------------------------------------------------------------------
# argument checks shared by the functions and the layers


def _float_parameter(fn_name: str, arg_name: str, value: ArrayLike) -> jax.Array:
    """Returns a learned parameter as an array, refusing integer and bool dtypes.

    Unlike the input ``x``, a parameter is never promoted: an integer slope or
    weight cannot be trained, and casting it silently would hide the mistake.
    """
    value = as_real_array(fn_name, value, arg_name)
    if not jnp.issubdtype(value.dtype, jnp.floating):
        raise TypeError(
            f"jaxact.{fn_name}: {arg_name} must have a floating dtype, got {value.dtype} "
            f"(pass e.g. 0.25 rather than an integer)"
        )
    return value


def _float_dtype(fn_name: str, dtype) -> jnp.dtype:
    dtype = jnp.dtype(dtype)
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(f"jaxact.{fn_name}: dtype must be a floating dtype, got {dtype}")
    return dtype


def _python_int(fn_name: str, arg_name: str, value) -> int:
    """``value`` as a Python int; bools and non-integers are refused by name."""
    if isinstance(value, bool):
        raise TypeError(f"jaxact.{fn_name}: {arg_name} must be an int, got bool")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(
            f"jaxact.{fn_name}: {arg_name} must be an int, got {type(value).__name__}"
        ) from None


def _count(fn_name: str, arg_name: str, value) -> int:
    """Checks a Python integer setting such as ``num_pieces`` (>= 1)."""
    count = _python_int(fn_name, arg_name, value)
    if count < 1:
        raise ValueError(f"jaxact.{fn_name}: {arg_name} must be >= 1, got {count}")
    return count


def _axis(fn_name: str, arg_name: str, axis, ndim: int) -> int:
    """Returns ``axis`` as a non-negative index into an array of ``ndim`` dimensions."""
    axis = _python_int(fn_name, arg_name, axis)
    if not -ndim <= axis < ndim:
        raise ValueError(
            f"jaxact.{fn_name}: {arg_name}={axis} is out of range for an input with "
            f"{ndim} dimension{'s' if ndim != 1 else ''}"
        )
    return axis % ndim


# --------------------------------------------------------------------------
# PReLU


def _prelu_value(x: jax.Array, negative_slope: jax.Array) -> jax.Array:
    # leaky_relu's value, on the same float32 operands for half precision, so
    # the two agree bit for bit for a scalar slope.
    return leaky_value(x, negative_slope)


# prelu is piecewise linear in x and linear in the slope, so every derivative
# of order two or more is 0 or the indicator of the slope's side. Each is a
# custom_jvp of its own, for two reasons. At the kink y = 0 every order keeps
# the documented branch (y <= 0), so the mixed partials agree (1 both ways;
# autodiff of min(y, -0.0) splits the tie and gives 1/2). And a NaN input
# stays NaN at every order, where plain autodiff of a select or a constant
# gives 0.


def _sum_of_terms(shape_like: jax.Array, terms: list) -> jax.Array:
    if not terms:
        return jnp.zeros_like(shape_like)
    return sum(terms[1:], terms[0])


def _nan_carrying_jvp(function):
    """The JVP rule of ``function(x, slope)`` whose partials are both 0 but for NaN.

    The slope is an argument of these functions only so that a derivative in
    the slope carries a NaN input too.
    """

    def jvp(primals, tangents):
        (x, slope), (x_dot, slope_dot) = primals, tangents
        terms = [
            dot * _zero_unless_nan(x, slope)
            for dot in (x_dot, slope_dot)
            if not isinstance(dot, SymbolicZero)
        ]
        primal = function(x, slope)
        return primal, _sum_of_terms(primal, terms)

    function.defjvp(jvp, symbolic_zeros=True)
    return function


@_nan_carrying_jvp
@jax.custom_jvp
def _zero_unless_nan(x: jax.Array, negative_slope: jax.Array) -> jax.Array:
    """0, or NaN where x is NaN: a vanishing derivative that still carries NaN."""
    del negative_slope
    return jnp.where(jnp.isnan(x), x, jnp.zeros_like(x))


@_nan_carrying_jvp
@jax.custom_jvp
def _slope_side(x: jax.Array, negative_slope: jax.Array) -> jax.Array:
    """1 for x <= 0 (the slope's side, the kink included), 0 for x > 0, NaN for NaN."""
    del negative_slope
    return jnp.where(x > 0, 0, jnp.where(x <= 0, 1, jnp.nan)).astype(x.dtype)


@jax.custom_jvp
def _d_dx(x: jax.Array, negative_slope: jax.Array) -> jax.Array:
    """df/dx: 1 for x > 0, the slope for x <= 0, NaN for a NaN input."""
    return jnp.where(x > 0, 1, jnp.where(x <= 0, negative_slope, jnp.nan)).astype(x.dtype)


def _d_dx_jvp(primals, tangents):
    (x, slope), (x_dot, slope_dot) = primals, tangents
    terms = []
    if not isinstance(x_dot, SymbolicZero):
        terms.append(x_dot * _zero_unless_nan(x, slope))
    if not isinstance(slope_dot, SymbolicZero):
        terms.append(slope_dot * _slope_side(x, slope))
    primal = _d_dx(x, slope)
    return primal, _sum_of_terms(primal, terms)


_d_dx.defjvp(_d_dx_jvp, symbolic_zeros=True)


@jax.custom_jvp
def _d_dslope(x: jax.Array, negative_slope: jax.Array) -> jax.Array:
    """df/da per position: x for x <= 0, 0 for x > 0 (NaN for NaN).

    min(x, -0.0), which differs from min(x, 0) only in the sign of a zero.
    The slope is an argument only so that d²f/da² (0) carries a NaN input.
    Why this form: XLA's CPU backend fuses a multiply and a min into the
    reduction that sums df/da over the positions sharing a slope, but not a
    select, nor a broadcast that other fusions use too, and the 0 of
    ``x > 0`` is such a broadcast; -0.0 is a constant of its own. Written
    with a select or with min(x, 0), the masked product was written out as
    a full-size array and read back: one more pass over memory.
    """
    del negative_slope
    return jnp.minimum(x, -0.0)


def _d_dslope_jvp(primals, tangents):
    (x, slope), (x_dot, slope_dot) = primals, tangents
    terms = []
    if not isinstance(x_dot, SymbolicZero):
        terms.append(x_dot * _slope_side(x, slope))
    if not isinstance(slope_dot, SymbolicZero):
        terms.append(slope_dot * _zero_unless_nan(x, slope))
    primal = _d_dslope(x, slope)
    return primal, _sum_of_terms(primal, terms)


_d_dslope.defjvp(_d_dslope_jvp, symbolic_zeros=True)


@jax.custom_jvp
def _prelu_rule(x: jax.Array, negative_slope: jax.Array) -> jax.Array:
    x, negative_slope = guard_inputs(x, negative_slope)
    # Half precision: computed in float32 with the float32 slope and rounded
    # once, the policy of every jaxact function (and so leaky_relu's result).
    return narrowed(_prelu_value(upcast(x), negative_slope), x.dtype)


def _prelu_jvp(primals, tangents):
    (x, slope), (x_dot, slope_dot) = primals, tangents
    # The value through the rule itself, so that a derivative of this rule's
    # primal output goes through the rule again.
    y = _prelu_rule(x, slope)
    # Behind the barrier, so that XLA folds nothing of a constant input (it
    # would turn min(x, -0.0) into +0 where x is 0).
    x, slope = guard_inputs(x, slope)
    wide = upcast(x)
    # Symbolic zeros let an untrained slope (or a constant input) skip its term
    # instead of multiplying a full-size array of zeros. slope_dot has the
    # slope's shape, so the transpose sums df/da over every position that
    # shares a slope.
    terms = []
    if not isinstance(x_dot, SymbolicZero):
        terms.append(cast(x_dot, wide.dtype) * _d_dx(wide, slope))
    if not isinstance(slope_dot, SymbolicZero):
        terms.append(_d_dslope(wide, slope) * slope_dot)
    return y, cast(_sum_of_terms(wide, terms), x.dtype)


_prelu_rule.defjvp(_prelu_jvp, symbolic_zeros=True)
_prelu = kernel(_prelu_rule)


def _broadcastable_slope(x: jax.Array, slope: jax.Array, channel_axis) -> jax.Array:
    """Reshapes ``slope`` so that it broadcasts against ``x`` as ``prelu`` documents."""
    if x.ndim == 0:
        if slope.ndim != 0:
            raise ValueError(
                f"jaxact.prelu: x is a scalar, so negative_slope must be a scalar too, "
                f"got shape {slope.shape}"
            )
        return slope
    axis = _axis("prelu", "channel_axis", channel_axis, x.ndim)
    if slope.ndim == 0:
        return slope
    if slope.ndim == 1:
        channels = x.shape[axis]
        if slope.shape[0] not in (channels, 1):
            raise ValueError(
                f"jaxact.prelu: negative_slope has {slope.shape[0]} values but x has "
                f"{channels} channels along channel_axis={channel_axis} (x.shape = {x.shape})"
            )
        return slope.reshape(slope.shape + (1,) * (x.ndim - 1 - axis))
    try:
        broadcast = jnp.broadcast_shapes(slope.shape, x.shape)
    except ValueError:
        broadcast = None
    if broadcast != x.shape:
        raise ValueError(
            f"jaxact.prelu: negative_slope of shape {slope.shape} does not broadcast to "
            f"x's shape {x.shape}"
        )
    return slope


def prelu(x: ArrayLike, negative_slope: ArrayLike, *, channel_axis: int = -1) -> jax.Array:
    r"""Parametric rectified linear unit (He et al., 2015) with learned slopes.

    .. math::
        \mathrm{prelu}(y_i) = \begin{cases} y_i & y_i > 0 \\
            a_i\, y_i & y_i \le 0 \end{cases}

    where :math:`a_i` is the slope of the channel (or group of positions) that
    :math:`y_i` belongs to.

    Args:
        x: input array (integers promote to the default float dtype).
        negative_slope: the slopes :math:`a`, a floating array; it may be traced
            and is differentiable. Its shape says which positions share a slope:

            * a scalar: one slope for all of ``x`` (the paper's channel-shared
              variant);
            * a vector of length ``x.shape[channel_axis]``: one slope per channel
              (channel-wise), applied along ``channel_axis``;
            * an array of two or more dimensions that broadcasts to ``x.shape``
              under numpy rules: positions share a slope along the axes where
              it has size 1 or no axis. For ``x`` of shape ``(N, H, W, C)``,
              shape ``(H, W, C)`` gives every position of an example its own
              slope and ``(H, 1, C)`` shares each slope along W (Keras'
              ``shared_axes=[2]``).

            It is used in ``x``'s dtype, and in float32 for bfloat16 and
            float16 inputs, which are computed in float32 and rounded once
            (the policy of :func:`jaxact.leaky_relu`, whose results prelu
            matches bit for bit for a scalar slope).
        channel_axis: the axis of ``x`` that a vector of slopes runs along;
            -1 (channels last) by default. Ignored for other slope shapes, but
            still checked to be in range.

    Returns:
        An array of ``x``'s shape and floating dtype, weakly typed when ``x``
        and ``negative_slope`` both are (Python scalars), as ``jnp`` gives.

    Raises:
        TypeError: if ``negative_slope`` is not floating or ``channel_axis`` not an int.
        ValueError: if ``channel_axis`` is out of range or the slope does not fit
            ``x`` (wrong length, empty, or not broadcastable to ``x.shape``).

    Derivatives, as the source writes them: :math:`\partial f/\partial y_i = 1`
    for :math:`y_i > 0` and :math:`a_i` for :math:`y_i \le 0` (so at the kink
    :math:`f'(0) = a`); :math:`\partial f/\partial a = \sum_i y_i` over the
    positions :math:`y_i \le 0` that share the slope :math:`a`. Higher
    orders keep the kink on the :math:`y \le 0` side: the mixed partials
    :math:`\partial^2 f/\partial y\,\partial a` are 1 there in either
    order, and :math:`\partial^2 f/\partial y^2 = \partial^2 f/\partial a^2 = 0`.

    Limits: ``prelu(inf) = inf``; ``prelu(-inf) = -inf * a`` for ``a != 0`` and
    0 for ``a = 0`` (the limit, not ``0 * -inf``); NaN in ``x`` or in a slope
    it uses gives NaN, and a NaN in ``x`` gives NaN derivatives too (not the
    slope) at every order. At ``x = inf`` the slope's derivative is 0.

    Accuracy: exact for ``y > 0``; below, the product :math:`a_i y_i` rounded
    once in float32 and float64, and for bfloat16 and float16 that float32
    result rounded once more to the input's dtype (``leaky_relu``'s bits).

    Example:
        >>> import jax.numpy as jnp
        >>> import jaxact
        >>> x = jnp.array([[-1.0, -1.0], [2.0, -4.0]])
        >>> jaxact.prelu(x, jnp.array([0.25, 0.5]))  # one slope per column
        Array([[-0.25, -0.5 ],
               [ 2.  , -2.  ]], dtype=float32)

    See also: :class:`PReLU`, :func:`jaxact.leaky_relu` (a fixed slope).

    Reference: K. He, X. Zhang, S. Ren, J. Sun, "Delving Deep into Rectifiers",
    ICCV 2015.
    """
    x = as_float_array("prelu", x)
    slope = _float_parameter("prelu", "negative_slope", negative_slope)
    slope = _broadcastable_slope(x, slope, channel_axis)
    return _prelu(x, cast(slope, compute_dtype(x.dtype)))


@functools.partial(
    jax.tree_util.register_dataclass, data_fields=["negative_slope"], meta_fields=[]
)
@dataclasses.dataclass(frozen=True, eq=False)
class PReLU:
    """PReLU layer: a pytree whose one array field holds the learned slopes.

    ``negative_slope`` is a scalar (one slope shared by every channel), a
    vector with one slope per channel, or any array that broadcasts against
    the input, exactly as :func:`prelu` takes it. The field is a pytree leaf,
    so ``jax.grad`` gives a ``PReLU`` of slope gradients, optax updates it,
    and stacking the slopes of several layers (``jax.tree.map(jnp.stack, ...)``)
    gives an ensemble that ``jax.vmap`` runs in one call.

    He et al. give the slopes no weight decay: see
    :func:`jaxact.weight_decay_mask`.

    Example:
        >>> import jax.numpy as jnp
        >>> import jaxact
        >>> layer = jaxact.PReLU.init(3)
        >>> layer(jnp.array([-4.0, 0.0, 4.0]))
        Array([-1.,  0.,  4.], dtype=float32)
    """

    negative_slope: jax.Array

    @classmethod
    def init(
        cls,
        num_channels: int | None = None,
        *,
        negative_slope_init: float = 0.25,
        dtype=jnp.float32,
    ):
        """Returns a PReLU with every slope set to ``negative_slope_init``.

        Args:
            num_channels: the number of channels for channel-wise slopes, or
                ``None`` for one slope shared by all channels.
            negative_slope_init: the initial slope; 0.25 is the value He et al.
                start from.
            dtype: floating dtype of the slopes.
        """
        dtype = _float_dtype("PReLU.init", dtype)
        shape: tuple[int, ...] = ()
        if num_channels is not None:
            shape = (_count("PReLU.init", "num_channels", num_channels),)
        slope = as_real_array("PReLU.init", negative_slope_init, "negative_slope_init")
        return cls(negative_slope=jnp.full(shape, slope, dtype=dtype))

    def __call__(self, x: ArrayLike, *, channel_axis: int = -1) -> jax.Array:
        """Applies :func:`prelu` with this layer's slopes along ``channel_axis``."""
        return prelu(x, self.negative_slope, channel_axis=channel_axis)


# --------------------------------------------------------------------------
# Maxout


# Both functions below give the first maximum of each unit's pieces, the
# piece that argmax picks: of pieces equal to the maximum the lowest index,
# and of NaN pieces (NaN counts as the maximum) the first. Their value is that
# piece itself, so the two agree bit for bit, down to which of two tied zeros
# (-0.0 or +0.0) comes out. Two forms, because XLA's CPU backend needs
# different ones for the value alone and for the value with its winner:
#
# * The value alone is a chain of compares and selects over slices of the
#   piece axis. A reduction over the piece axis (jnp.max) that follows the
#   matmul is fused into the matmul's own (YNNPACK) fusion, where a reduction
#   over a short minor axis runs slower than the matmul itself; and an
#   elementwise maximum is fused into a reduction that consumes the result
#   (a loss summing it against a cotangent), leaving each strided slice to
#   be written out on its own.
#   Compares and selects stay in one loop fusion that reads the matmul's
#   output once.
# * The value with the index of its piece, as the derivative needs it, is one
#   variadic reduction (jnp.argmax's form), which writes the winners out
#   once. Computed by the chain, the winners are fused into the gradient's
#   select and computed again for each of its elements.
#
# On other backends each form is one elementwise or reduction fusion.


def _select_first_maximum(grouped: jax.Array, piece_axis: int) -> jax.Array:
    pieces = [jax.lax.index_in_dim(grouped, piece, piece_axis, keepdims=False)
              for piece in range(grouped.shape[piece_axis])]
    best = pieces[0]
    for piece in pieces[1:]:
        # A later piece replaces the best so far only if it is greater, or NaN
        # where the best so far is not.
        takes = piece > best
        if jnp.issubdtype(grouped.dtype, jnp.inexact):
            takes = takes | (jnp.isnan(piece) & ~jnp.isnan(best))
        best = jnp.where(takes, piece, best)
    return best


def _lowest(dtype) -> jax.Array:
    """The value that no element of ``dtype`` is below (NaN aside)."""
    if jnp.issubdtype(dtype, jnp.inexact):
        return jnp.array(-jnp.inf, dtype)
    if jnp.issubdtype(dtype, jnp.integer):
        return jnp.array(jnp.iinfo(dtype).min, dtype)
    return jnp.array(False, dtype)


def _pick_first_maximum(left, right):
    (left_value, left_index), (right_value, right_index) = left, right
    left_nan, right_nan = left_value != left_value, right_value != right_value
    tied = (left_value == right_value) | (left_nan & right_nan)
    # Commutative and associative (a total order on (value, index) pairs), so
    # the result does not depend on the order in which XLA combines pieces.
    left_wins = ((left_value > right_value) | (left_nan & ~right_nan)
                 | (tied & (left_index < right_index)))
    return (jnp.where(left_wins, left_value, right_value),
            jnp.where(left_wins, left_index, right_index))


@functools.partial(jax.custom_jvp, nondiff_argnums=(1,))
def _first_maximum_and_winner(grouped: jax.Array, piece_axis: int):
    """The first maximum over ``piece_axis`` and its piece index (int32), kept as an axis."""
    num_pieces = grouped.shape[piece_axis]
    index = jax.lax.broadcasted_iota(jnp.int32, grouped.shape, piece_axis)
    value, winner = jax.lax.reduce(
        (grouped, index), (_lowest(grouped.dtype), jnp.int32(num_pieces)),
        _pick_first_maximum, (piece_axis,))
    return jnp.expand_dims(value, piece_axis), jnp.expand_dims(winner, piece_axis)


def _winning_tangent(grouped_dot: jax.Array, winner: jax.Array, piece_axis: int) -> jax.Array:
    # The whole tangent of a unit comes from one piece, the first maximum.
    # jnp.max's own rule instead counts the tied pieces and divides by that
    # count: a comparison, a sum over the pieces and a division per element
    # more than this select on the winner.
    index = jax.lax.broadcasted_iota(winner.dtype, grouped_dot.shape, piece_axis)
    return jnp.sum(jnp.where(index == winner, grouped_dot, 0), axis=piece_axis, keepdims=True)


@_first_maximum_and_winner.defjvp
def _first_maximum_and_winner_jvp(piece_axis, primals, tangents):
    (grouped,), (grouped_dot,) = primals, tangents
    # Through the function itself, so that every order of derivative takes
    # the same winner (JAX differentiates no variadic reduction).
    value, winner = _first_maximum_and_winner(grouped, piece_axis)
    winner_dot = jnp.zeros(winner.shape, jax.dtypes.float0)
    return (value, winner), (_winning_tangent(grouped_dot, winner, piece_axis), winner_dot)


@functools.partial(jax.custom_jvp, nondiff_argnums=(1,))
@functools.partial(jax.jit, static_argnums=1)
def _max_over_pieces(grouped: jax.Array, piece_axis: int) -> jax.Array:
    return _select_first_maximum(grouped, piece_axis)


@_max_over_pieces.defjvp
def _max_over_pieces_jvp(piece_axis, primals, tangents):
    (grouped,), (grouped_dot,) = primals, tangents
    value, winner = _first_maximum_and_winner(grouped, piece_axis)
    y_dot = _winning_tangent(grouped_dot, winner, piece_axis)
    return jnp.squeeze(value, piece_axis), jnp.squeeze(y_dot, piece_axis)


def _maxout(z: jax.Array, num_pieces: int, axis: int, fn_name: str) -> jax.Array:
    features = z.shape[axis]
    if features % num_pieces:
        raise ValueError(
            f"jaxact.{fn_name}: {features} features along axis {axis} do not divide "
            f"into groups of num_pieces={num_pieces}"
        )
    # Contiguous groups: a reshape of the feature axis into (units, pieces),
    # which costs nothing. Grouping with stride (pieces, units) was measured
    # no faster once the gradient goes through the select on the winner above.
    grouped = z.reshape(z.shape[:axis] + (features // num_pieces, num_pieces) + z.shape[axis + 1:])
    return _max_over_pieces(grouped, axis + 1)


def maxout(z: ArrayLike, num_pieces: int, *, axis: int = -1) -> jax.Array:
    r"""Maxout (Goodfellow et al., 2013): the maximum over groups of pre-activations.

    .. math::
        h_i = \max_{j = 0}^{k - 1} z_{ik + j}, \quad k = \mathrm{num\_pieces}

    Groups are contiguous: along ``axis``, features ``0 .. k-1`` form unit 0,
    features ``k .. 2k-1`` unit 1, and so on, so feature ``f`` is piece
    ``f % k`` of unit ``f // k``.

    Args:
        z: pre-activations (ints keep their dtype, as in :func:`jaxact.relu`).
        num_pieces: k, the number of pieces per unit, an int >= 1 that divides
            ``z.shape[axis]``.
        axis: the feature axis (default -1, channels last).

    Returns:
        An array of ``z``'s dtype with ``z.shape[axis] // num_pieces`` units along ``axis``.

    Raises:
        TypeError: if ``num_pieces`` or ``axis`` is not an int.
        ValueError: if ``num_pieces`` < 1, ``axis`` is out of range, or the
            feature count does not divide by ``num_pieces``.

    Derivative: the gradient of a unit goes entirely to its winning piece.
    Ties: the piece with the lowest index among those equal to the maximum
    takes all of the gradient (the first maximum, as ``jnp.argmax``), where
    ``jnp.max`` would split it evenly among them; the value is that piece's
    (of tied zeros, the first one's sign). A NaN piece makes the unit NaN,
    and the first NaN piece takes the gradient.

    Limits: ±inf pieces take part in the maximum like any other value.

    Example:
        >>> import jax.numpy as jnp
        >>> import jaxact
        >>> jaxact.maxout(jnp.array([1.0, 5.0, -2.0, -3.0]), num_pieces=2)
        Array([ 5., -2.], dtype=float32)

    See also: :class:`Maxout`.

    Reference: I. Goodfellow, D. Warde-Farley, M. Mirza, A. Courville,
    Y. Bengio, "Maxout Networks", ICML 2013.
    """
    z = as_real_array("maxout", z, "z")
    num_pieces = _count("maxout", "num_pieces", num_pieces)
    if z.ndim == 0:
        raise ValueError("jaxact.maxout: z must have at least one dimension, got a scalar")
    axis = _axis("maxout", "axis", axis, z.ndim)
    return _maxout(z, num_pieces, axis, "maxout")


@functools.partial(
    jax.tree_util.register_dataclass,
    data_fields=["weight", "bias"],
    meta_fields=["num_pieces"],
)
@dataclasses.dataclass(frozen=True, eq=False)
class Maxout:
    r"""Maxout layer: one matmul to all the pieces, then the maximum over each unit's pieces.

    .. math::
        h_i(x) = \max_j \left(x^\top W_{ij} + b_{ij}\right)

    Layout: ``weight`` has shape ``(in_features, out_features * num_pieces)``
    and ``bias`` shape ``(out_features * num_pieces,)``; column
    ``i * num_pieces + j`` holds piece j of unit i (:math:`W_{ij}`, :math:`b_{ij}`),
    the contiguous grouping of :func:`maxout`. This is the layout of a Dense
    layer of width ``out_features * num_pieces``, so all the pieces come from a
    single matmul and the maximum needs no copy.

    With ``num_pieces = 1`` the layer is a plain Dense (affine) layer. The
    gradient of a unit goes to its winning piece (ties: the lowest piece index),
    see :func:`maxout`.

    Example:
        >>> import jax
        >>> import jaxact
        >>> layer = jaxact.Maxout.init(jax.random.key(0), 8, 4, num_pieces=3)
        >>> layer.weight.shape, layer(jax.numpy.ones((2, 8))).shape
        ((8, 12), (2, 4))
    """

    weight: jax.Array
    bias: jax.Array
    num_pieces: int

    @classmethod
    def init(
        cls,
        key: jax.Array,
        in_features: int,
        out_features: int,
        num_pieces: int,
        *,
        dtype=jnp.float32,
    ):
        """Returns a Maxout layer with random weights and zero biases.

        Each weight is drawn uniformly from :math:`[-1/\\sqrt{n}, 1/\\sqrt{n}]`
        with ``n = in_features`` (the default of PyTorch's and equinox's
        Linear layers), so every piece starts as a different random direction;
        biases start at 0.

        Args:
            key: a JAX PRNG key.
            in_features: size of the input's last axis.
            out_features: number of maxout units.
            num_pieces: pieces per unit (1 gives a Dense layer).
            dtype: floating dtype of the weights and biases.
        """
        in_features = _count("Maxout.init", "in_features", in_features)
        out_features = _count("Maxout.init", "out_features", out_features)
        num_pieces = _count("Maxout.init", "num_pieces", num_pieces)
        dtype = _float_dtype("Maxout.init", dtype)
        width = out_features * num_pieces
        bound = 1.0 / in_features**0.5
        weight = jax.random.uniform(
            key, (in_features, width), dtype=dtype, minval=-bound, maxval=bound
        )
        return cls(weight=weight, bias=jnp.zeros((width,), dtype=dtype), num_pieces=num_pieces)

    @property
    def in_features(self) -> int:
        return self.weight.shape[-2]

    @property
    def out_features(self) -> int:
        return self.weight.shape[-1] // self.num_pieces

    def __call__(self, x: ArrayLike) -> jax.Array:
        """Maxout units of ``x`` (shape ``(..., in_features)``): shape ``(..., out_features)``.

        Raises:
            TypeError: if ``weight`` or ``bias`` is not floating.
            ValueError: if ``weight`` is not 2-D, ``bias`` is not of shape
                ``(weight.shape[1],)``, ``x``'s last axis is not ``in_features``,
                or the width does not divide by ``num_pieces``.
        """
        x = as_float_array("Maxout", x)
        weight = _float_parameter("Maxout", "weight", self.weight)
        bias = _float_parameter("Maxout", "bias", self.bias)
        num_pieces = _count("Maxout", "num_pieces", self.num_pieces)
        if weight.ndim != 2:
            raise ValueError(
                f"jaxact.Maxout: weight must have shape (in_features, out_features * "
                f"num_pieces), got shape {weight.shape}"
            )
        if bias.shape != weight.shape[1:]:
            # Checked, not broadcast: a (3, 6) bias would silently add a batch axis.
            raise ValueError(
                f"jaxact.Maxout: bias must have shape {weight.shape[1:]} (one value per "
                f"column of weight, shape {weight.shape}), got shape {bias.shape}"
            )
        if x.ndim == 0 or x.shape[-1] != weight.shape[0]:
            raise ValueError(
                f"jaxact.Maxout: x's last axis has {x.shape[-1] if x.ndim else 0} features "
                f"but the layer takes in_features={weight.shape[0]} (x.shape = {x.shape})"
            )
        z = x @ weight.astype(x.dtype) + bias.astype(x.dtype)
        return _maxout(z, num_pieces, z.ndim - 1, "Maxout")


# --------------------------------------------------------------------------
# jax.export: a function exported with the layers among its arguments records
# their tree structure, which serializing the Exported needs these to write.


def _maxout_pieces_to_bytes(aux_data) -> bytes:
    (num_pieces,) = aux_data
    return str(num_pieces).encode()


# A name registers once per process, so only the module jaxact imports does
# it, not a second copy of this file run under another name (pytest's
# doctest collection of jaxact/_src, which is not a regular package).
if __name__ == "jaxact._src.parametric":
    jax.export.register_pytree_node_serialization(
        PReLU,
        serialized_name="jaxact.PReLU",
        serialize_auxdata=lambda aux_data: b"",
        deserialize_auxdata=lambda data: (),
    )
    jax.export.register_pytree_node_serialization(
        Maxout,
        serialized_name="jaxact.Maxout",
        serialize_auxdata=_maxout_pieces_to_bytes,
        deserialize_auxdata=lambda data: (int(data.decode()),),
    )
