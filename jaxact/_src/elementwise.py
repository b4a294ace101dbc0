"""Elementwise activations with closed-form, cancellation-free derivatives.

Every function here follows the same pattern: a public wrapper converts and
checks its arguments (naming the function in any error), then calls a private
``jax.custom_jvp`` built by ``_unary_activation`` or ``_binary_activation``
from one function that returns the value and the derivative(s). The value and
the derivative are each one fused pass over memory with one ``exp`` per
element (see ``_separate`` for why they do not share it).

Half-precision inputs (bfloat16, float16) are computed in float32 and rounded
once at the end, so their results are the float32 results rounded once to the
narrower type. (bfloat16 tanh on the CPU reads those same results from a
table of all 2^16 inputs: see _bfloat16_table.)

Notation used in the comments: ``e = exp(-|x|)`` lies in (0, 1] and never
overflows, ``q = 1 + e`` lies in [1, 2], and ``q_lo`` is the rounding error of
``q`` so that ``q + q_lo == 1 + e`` exactly.
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Sequence
from fractions import Fraction

import jax
import jax.numpy as jnp
import numpy as np
from jax.custom_derivatives import SymbolicZero
from jax.typing import ArrayLike

from jaxact._src.checks import as_float_array, as_parameter, as_real_array

_HALF_DTYPES = (jnp.dtype(jnp.bfloat16), jnp.dtype(jnp.float16))

# Switch point of the accurate expm1 below. For z < -ln 2, exp(z) <= 1/2 and
# exp(z) - 1 loses nothing: the relative error of exp(z) is multiplied by
# exp(z) / (1 - exp(z)) <= 1. Above it that factor grows without bound as
# z -> 0, so a Taylor polynomial takes over on [-ln 2, 0].
_EXPM1_SWITCH = -math.log(2.0)


def _terms_needed(first_omitted_term, dtype) -> int:
    """Smallest n such that the n-th term of a series is below eps/8 of the result."""
    eps = float(jnp.finfo(dtype).eps)
    n = 1
    while first_omitted_term(n) >= eps / 8:
        n += 1
    return n


@functools.cache
def _expm1_coefficients(dtype) -> list[float]:
    """Taylor coefficients 1/2!, 1/3!, ... of (expm1(z) - z) / z^2 on [-ln 2, 0].

    Enough terms that the first omitted one, ln(2)^(n+1) / (n+1)!, is below an
    eighth of an ULP relative to the smallest result |expm1(-ln 2)| = 1/2:
    10 terms in all for float32, 17 for float64.
    """
    n = _terms_needed(lambda k: math.log(2.0) ** (k + 1) / math.factorial(k + 1) * 2, dtype)
    return [1.0 / math.factorial(k) for k in range(2, n + 1)]


@functools.cache
def _bernoulli_numbers(n: int) -> tuple[Fraction, ...]:
    """B_0 .. B_n (B_1 = -1/2), exactly, by the standard recurrence."""
    numbers = [Fraction(1)]
    for m in range(1, n + 1):
        numbers.append(-sum(math.comb(m + 1, k) * numbers[k] for k in range(m)) / (m + 1))
    return tuple(numbers)


def _tanh_taylor_coefficient(k: int) -> Fraction:
    """c_k in tanh(x) = sum_(k >= 1) c_k x^(2k - 1) (Abramowitz and Stegun 4.5.64).

    c_k = 2^(2k) (2^(2k) - 1) B_(2k) / (2k)!; successive terms of the series
    shrink by about (2x / pi)^2.
    """
    return (
        Fraction(2 ** (2 * k) * (2 ** (2 * k) - 1))
        * _bernoulli_numbers(2 * k)[2 * k]
        / math.factorial(2 * k)
    )


# Below this |x|, tanh is an odd polynomial; above it, exp(-2|x|) <= 1/3
# and (1 - exp(-2|x|)) / (1 + exp(-2|x|)) loses nothing to cancellation.
_TANH_SWITCH = 0.55

# float32: R in tanh(a) = a + a^3 R(a^2) for a <= 0.55, a minimax fit
# (`python -m experiments.fit`) with relative error 1e-9, a sixtieth of an
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
    n = _terms_needed(
        lambda k: abs(float(_tanh_taylor_coefficient(k + 1))) * _TANH_SWITCH ** (2 * k), dtype
    )
    return [float(_tanh_taylor_coefficient(k)) for k in range(2, n + 1)]


# log(1 + e^-a) = ln 2 - a/2 + log cosh(a/2) is a series without any exp for
# a = |x| <= 1.5; there the result needs no exp(-a), whose own rounding error
# would otherwise reach the generalized logistic amplified by alpha.
_LOG_COSH_SWITCH = 0.75


@functools.cache
def _log_cosh_coefficients(dtype) -> list[float]:
    """d_2, d_3, ... of log cosh(t) = t^2 (1/2 + t^2 (d_2 + d_3 t^2 + ...)), |t| <= 0.75.

    d/dt log cosh t = tanh t, so d_k = c_k / (2k) with c_k the tanh
    coefficients. Terms shrink by (2 * 0.75 / pi)^2 = 0.23: 11 terms for
    float32, 24 for float64.
    """
    def d(k):
        return _tanh_taylor_coefficient(k) / (2 * k)

    n = _terms_needed(lambda k: abs(float(d(k + 1))) * _LOG_COSH_SWITCH ** (2 * k) * 2, dtype)
    return [float(d(k)) for k in range(2, n + 1)]


def _horner(coefficients: Sequence[float], t: jax.Array) -> jax.Array:
    """sum_i coefficients[i] t^i."""
    result = jnp.full_like(t, coefficients[-1])
    for c in reversed(coefficients[:-1]):
        result = result * t + c
    return result


def _compute_dtype(dtype):
    return jnp.dtype(jnp.float32) if jnp.dtype(dtype) in _HALF_DTYPES else jnp.dtype(dtype)


def _upcast(x: jax.Array) -> jax.Array:
    return _cast(x, _compute_dtype(x.dtype))


def _cast(x: jax.Array, dtype) -> jax.Array:
    # Skipping a same-dtype astype keeps a weakly typed Python-scalar input
    # weakly typed, as jax.numpy functions do.
    return x if x.dtype == dtype else x.astype(dtype)


def _opaque(value: float, dtype) -> jax.Array:
    """A scalar constant that XLA's algebraic simplifier cannot see through.

    The simplifier reassociates constants, rewriting ``(c + e) - c`` as ``e``,
    which is exact algebra but silently deletes the rounding error that the
    error-free transformations below exist to capture. A scalar behind an
    optimization barrier costs nothing: it does not split the fusion. (The
    barrier must be staged, not evaluated while tracing: see
    _staged_constants.)
    """
    return jax.lax.optimization_barrier(jnp.asarray(value, dtype))


def _staged_constants(activation):
    """``activation``, called with JAX's eager constant folding switched off.

    Inside ``jax.ensure_compile_time_eval()`` JAX evaluates every operation
    on constants while tracing, _opaque's barrier included, and XLA then
    folds the constant it gets back: sigmoid(0.6) came out 0.667 instead of
    0.646, and gradients were off as well. Every public function that uses
    _opaque goes through this wrapper, so the switch is off for the whole
    call, derivative rules included.
    """
    try:  # the switch behind ensure_compile_time_eval is not public API
        from jax._src.config import eager_constant_folding
    except ImportError:  # a JAX that renamed it: call as is
        return activation

    @functools.wraps(activation)
    def call(*args):
        with eager_constant_folding(False):
            return activation(*args)

    return call


def _fast_two_sum(big: float, small: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Returns (s, s_lo) with s = fl(big + small) and s + s_lo == big + small exactly.

    Fast2Sum (Dekker 1971) is exact because |big| >= |small| for every use here.
    """
    big = _opaque(big, small.dtype)
    s = big + small
    return s, small - (s - big)


def _one_plus_small(e: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Returns (q, q_lo) with q = fl(1 + e) and q + q_lo == 1 + e exactly, for |e| <= 1."""
    return _fast_two_sum(1.0, e)


def _two_product_error(a: jax.Array, b: jax.Array, product: jax.Array) -> jax.Array:
    """a * b - fl(a * b), exactly, by Dekker's splitting (no FMA needed)."""
    split = float(2 ** ((jnp.finfo(a.dtype).nmant + 2) // 2) + 1)

    def halves(v):
        scaled = split * v
        high = scaled - (scaled - v)
        return high, v - high

    a_hi, a_lo = halves(a)
    b_hi, b_lo = halves(b)
    return ((a_hi * b_hi - product) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo


def _square_of_one_plus(e: jax.Array) -> jax.Array:
    """(1 + e)^2 for e in [0, 1], the denominator of both sigma' and sech^2.

    Expanded as 1 + e (2 + e): each of its three roundings is relative to a
    term no larger than the sum, so it is good to about 2.5 half-ULPs without
    the cost of an exact square (measured: sigma' = e / (1 + e)^2 within
    2.4 ULP in float32, against 4.6 for e * r * r with r = 1 / (1 + e)).
    """
    return 1 + e * (2 + e)


# float32 exp: the coefficients of P in exp(r) = 1 + r + r^2 P(r), a minimax
# fit on |r| <= ln(2)/2 (Lawson's iteration on 400 Chebyshev nodes, weighted
# for the relative error of exp; fitted error 5e-11, far below float32's
# 6e-8). `python -m experiments.fit` refits them; tests/test_accuracy.py
# measures the result against numpy.
_EXP_COEFFICIENTS = (0.5000000068785951, 0.16666665855436238, 0.04166629087477397,
                     0.008333498933987854, 0.0013944966051679525, 0.00019790039134955713)
# One term fewer, fitted the same way: error 3e-9, a twentieth of a float32
# ULP. For tanh's value, whose sensitivity to the error of exp(-2|x|) is below
# 0.75; every other caller uses the six terms above.
_EXP_SHORT_COEFFICIENTS = (0.49999993338029747, 0.16666519005780955, 0.0416684071848884,
                           0.008368913685583955, 0.0013814190808502864)
# Adding 1.5 * 2^23 to a float32 of magnitude below 2^22 rounds it to an
# integer, which then sits in the low bits of the sum's pattern.
_ROUNDING_MAGIC = 1.5 * 2.0**23
_ROUNDING_MAGIC_BITS = int(np.array(_ROUNDING_MAGIC, np.float32).view(np.int32))
# ln 2 in two parts; the high part has 16 significant bits, so n * _EXP_LN2_HI
# is exact for |n| < 2^8.
_EXP_LN2_HI = 0.693359375
_EXP_LN2_LO = math.log(2.0) - _EXP_LN2_HI
# Below this, exp(z) < 2^-126 * 0.9 (subnormal, flushed to 0 on the CPU);
# above it, 2^n with n = round(z / ln 2) >= -126 is a normal float32.
_EXP_LOWEST = -87.5


def _exp_of_bounded(z: jax.Array, coefficients: Sequence[float]) -> jax.Array:
    """exp(z) for float32 z in [-87.5, 64], with no guard outside that range.

    XLA's CPU exp clamps its input and its exponent on both sides and rounds
    with floor; knowing z is in range, this rounds z / ln 2 with a magic
    constant and builds 2^n from bits. NaN gives NaN.
    """
    # n = round(z / ln 2), exactly; the barrier keeps XLA from folding
    # (t + magic) - magic back to t. (Reading n from the bits of `shifted`
    # needs no barrier but measured 6% slower for tanh at 2^24.)
    magic = _opaque(_ROUNDING_MAGIC, z.dtype)
    shifted = z * (1 / math.log(2.0)) + magic
    n = shifted - magic
    # |r| <= ln(2)/2. The first subtraction is exact (n * _EXP_LN2_HI is, and
    # it is within a factor 2 of z); the second rounds once.
    r = (z - n * _EXP_LN2_HI) - n * _EXP_LN2_LO
    p = 1 + (r + (r * r) * _horner(coefficients, r))
    # 2^n built from its bits: the integer n is the low bits of `shifted`.
    n_bits = jax.lax.bitcast_convert_type(shifted, jnp.int32) - (_ROUNDING_MAGIC_BITS - 127)
    return p * jax.lax.bitcast_convert_type(n_bits << 23, jnp.float32)


def _differentiable_exp(exp):
    """``exp`` as a ``custom_jvp`` with derivative exp(z) z_dot.

    Autodiff through the rounding and the bit manipulation would give 0;
    second derivatives of every activation go through this rule.
    """
    exp = jax.custom_jvp(exp)

    @exp.defjvp
    def jvp(primals, tangents):
        (z,), (z_dot,) = primals, tangents
        y = exp(z)
        return y, y * z_dot

    return exp


@_differentiable_exp
def _exp(z: jax.Array) -> jax.Array:
    """exp(z) for z <= 64 (every caller passes z <= 2), within 1 ULP in float32.

    Float32 only; other dtypes use jnp.exp. One clamp, then
    _exp_of_bounded: 0.86x the time of jnp.exp on 2^16 values, 0.89x on
    2^24, and within 0.99 ULP on every float32 in [-87.3, 0] (jnp.exp: 1.01),
    all measured. NaN gives NaN, -inf gives 0.
    """
    if z.dtype != jnp.float32:
        return jnp.exp(z)
    clamped = jnp.maximum(z, _EXP_LOWEST)  # jnp.maximum keeps NaN
    return jnp.where(z < _EXP_LOWEST, 0, _exp_of_bounded(clamped, _EXP_COEFFICIENTS))


@_differentiable_exp
def _exp_short(z: jax.Array) -> jax.Array:
    """exp(z) for -87.5 <= z <= 64 only, with the five-term polynomial.

    For callers that bound z themselves and tolerate 0.05 ULP more error
    than _exp: no clamp, no underflow select, one multiply-add fewer.
    """
    if z.dtype != jnp.float32:
        return jnp.exp(z)
    return _exp_of_bounded(z, _EXP_SHORT_COEFFICIENTS)


def _expm1_nonpositive(z: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Returns (expm1(z), exp(z)) for z <= 0, each within about one ULP.

    XLA's own expm1 on the CPU is off by up to 5.5 ULP in float32 and 4.4 in
    float64 (measured); the Taylor polynomial below is accurate on
    [-ln 2, 0] and ``exp(z) - 1`` is accurate below it (see _EXPM1_SWITCH).
    """
    e = _exp(z)
    # Evaluate the polynomial on a clipped input: outside its range it is
    # discarded, and clipping keeps huge |z| from overflowing to inf there.
    # z + z^2 P(z): the rounding errors of the correction term are scaled down
    # by |z P(z)| <= 0.35, and z itself is exact.
    in_range = z >= _EXPM1_SWITCH
    # where, not maximum: at a tie maximum splits the derivative between its
    # arguments, which would halve the second derivative at the switch point.
    small = jnp.where(in_range, z, _EXPM1_SWITCH)
    poly = small + small * (small * _horner(_expm1_coefficients(z.dtype), small))
    expm1 = jnp.where(in_range, poly, e - 1)
    return expm1, e


def _separate(x: jax.Array) -> jax.Array:
    """The same values as ``x``, in a node that XLA's CSE cannot merge with ``x``.

    A JVP rule needs y and y'; computed from one shared exp, XLA's CPU backend
    writes that exp to memory for two separate fusions, a full extra pass
    (1.5x jax.nn's time, measured). Computing y' from a separated x duplicates
    the exp instead, which costs far less than the memory traffic it saves.
    """
    return jax.lax.optimization_barrier(x)


def _unary_activation(value_and_derivative, *, bfloat16_table: bool = False):
    """f(x) as a ``custom_jvp`` from ``value_and_derivative(x) -> (f(x), f'(x))``.

    Outside jit and grad the primal is one compiled call; the JVP rule
    computes the value from x and the derivative from a separated x (see
    _separate), each in its own fused pass. With ``bfloat16_table``, the
    value of a bfloat16 input on the CPU is read from a table (see
    _bfloat16_table); the derivative is always computed.
    """

    def value(x: jax.Array) -> jax.Array:
        y, _ = value_and_derivative(_upcast(x))
        return _cast(y, x.dtype)

    @jax.custom_jvp
    @jax.jit
    def activation(x: jax.Array) -> jax.Array:
        table = _bfloat16_table(value) if bfloat16_table and x.dtype == jnp.bfloat16 else None
        if table is None:
            return value(x)
        return jax.lax.platform_dependent(x, cpu=functools.partial(_look_up, table), default=value)

    def jvp(primals, tangents):
        (x,), (x_dot,) = primals, tangents
        # The value through `activation` itself: differentiating this rule
        # (a second derivative) then goes through the rule again, never
        # through the value's own arithmetic, which a table lookup has none of.
        y = activation(x)
        _, dy = value_and_derivative(_upcast(_separate(x)))
        return y, _cast(_cast(x_dot, dy.dtype) * dy, x.dtype)

    activation.defjvp(jvp)
    return _staged_constants(activation)


@functools.cache
def _bfloat16_table(value) -> np.ndarray | None:
    """``value`` at every bfloat16 bit pattern, as bit patterns: 128 KiB.

    On the CPU a bfloat16 tanh spends most of its time in the float32
    arithmetic and the rounding back (1.15x jax.nn's time, measured); one
    lookup in this table costs 0.82x, and its entries are by construction
    the float32 result rounded once, as the computed path's are. Built once
    per function, on the CPU, at the first trace; None where JAX has no CPU
    backend (then nothing needs it).
    """
    try:
        cpu_device = jax.devices("cpu")[0]
    except RuntimeError:
        return None
    patterns = np.arange(2**16, dtype=np.uint32).astype(np.uint16).view(jnp.bfloat16)
    # Compiled ahead of time and called with concrete patterns, it runs now
    # even while an enclosing function is being traced. (Not
    # ensure_compile_time_eval: that would fold the _opaque constants and
    # with them the exp's rounding.)
    cpu = jax.sharding.SingleDeviceSharding(cpu_device)
    spec = jax.ShapeDtypeStruct(patterns.shape, patterns.dtype, sharding=cpu)
    results = jax.jit(value).lower(spec).compile()(patterns)
    return np.asarray(results).view(np.uint16)


def _look_up(table: np.ndarray, x: jax.Array) -> jax.Array:
    """table[bits of x], as x's dtype."""
    index = jax.lax.bitcast_convert_type(x, jnp.uint16).astype(jnp.int32)
    patterns = jnp.asarray(table).at[index].get(mode="promise_in_bounds")
    return jax.lax.bitcast_convert_type(patterns, x.dtype)


def _binary_activation(value_and_partials):
    """f(x, p) as a ``custom_jvp`` from ``value_and_partials(x, p) -> (f, df/dx, df/dp)``.

    The rule is registered with ``symbolic_zeros=True``: a parameter that is
    not being differentiated contributes no term at all, rather than a zero
    tangent times df/dp, which is NaN where df/dp is infinite (leaky_relu's
    df/dslope = x at x = -inf) and costs a pass of arithmetic everywhere else.
    """

    @jax.custom_jvp
    @jax.jit
    def activation(x: jax.Array, param: jax.Array) -> jax.Array:
        y, _, _ = value_and_partials(_upcast(x), _upcast(param))
        return _cast(y, x.dtype)

    def jvp(primals, tangents):
        (x, param), (x_dot, param_dot) = primals, tangents
        y, _, _ = value_and_partials(_upcast(x), _upcast(param))
        _, dy_dx, dy_dparam = value_and_partials(_upcast(_separate(x)), _upcast(param))
        ct = y.dtype
        y_dot = jnp.zeros_like(y)
        if not isinstance(x_dot, SymbolicZero):
            y_dot = y_dot + _cast(x_dot, ct) * dy_dx
        if not isinstance(param_dot, SymbolicZero):
            y_dot = y_dot + _cast(param_dot, ct) * dy_dparam
        return _cast(y, x.dtype), _cast(y_dot, x.dtype)

    activation.defjvp(jvp, symbolic_zeros=True)
    return _staged_constants(activation)


# --------------------------------------------------------------------------
# sigmoid, softplus, log_sigmoid: all built on e = exp(-|x|)


def _logistic_from_exp(x: jax.Array, e: jax.Array) -> jax.Array:
    """sigma(x) given e = exp(-|x|): 1 / (1 + e) for x >= 0, e / (1 + e) below.

    Neither half is formed as 1 - sigma(.), which would cancel to 0 for large |x|.
    """
    return jnp.where(x >= 0, 1, e) / (1 + e)


@jax.jit
def _logistic_and_derivative(x: jax.Array):
    e = _exp(-jnp.abs(x))
    # sigma'(x) = sigma(x) sigma(-x) = e / (1 + e)^2: the source's S(1 - S)
    # without forming 1 - S, which is exactly 0 once S rounds to 1.
    return _logistic_from_exp(x, e), e / _square_of_one_plus(e)


_sigmoid = _unary_activation(_logistic_and_derivative)


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

    Accuracy (float32, all 2^32 inputs against a float64 reference, ``make
    accuracy``): value within 2.4 ULP, derivative within 2.4 ULP (jax.nn:
    2.5 and 1.7e7).

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


def _log1p_small(e: jax.Array) -> jax.Array:
    """log(1 + e) for e in [0, 1].

    log(q + q_lo) = log(q) + q_lo / q to first order, with q + q_lo == 1 + e
    exactly. XLA's log1p is off by up to 2.5 ULP on the CPU; log is within 1.2.
    """
    q, q_lo = _one_plus_small(e)
    return jnp.log(q) + q_lo / q


@jax.jit
def _softplus_and_derivative(x: jax.Array):
    e = _exp(-jnp.abs(x))
    y = jnp.maximum(x, 0) + _log1p_small(e)
    return y, _logistic_from_exp(x, e)


_softplus = _unary_activation(_softplus_and_derivative)


def softplus(x: ArrayLike) -> jax.Array:
    r"""Softplus, the smooth ReLU.

    .. math::
        \mathrm{softplus}(x) = \log(1 + e^{x}) = \max(x, 0) + \log(1 + e^{-|x|})

    Args:
        x: input array or number (integers promote to the default float dtype).

    Returns:
        An array of the same shape and floating dtype as ``x``, in [0, inf].

    Derivative: :math:`\mathrm{softplus}'(x) = \sigma(x)`.

    Accuracy (float32, all inputs, ``make accuracy``): value and derivative
    within 2.4 ULP (jax.nn: 3.0 and 8.5).

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


_log_sigmoid = _unary_activation(_log_sigmoid_and_derivative)


def log_sigmoid(x: ArrayLike) -> jax.Array:
    r"""Logarithm of the sigmoid.

    .. math::
        \log \sigma(x) = -\mathrm{softplus}(-x) = \min(x, 0) - \log(1 + e^{-|x|})

    Args:
        x: input array or number (integers promote to the default float dtype).

    Returns:
        An array of the same shape and floating dtype as ``x``, in [-inf, 0].

    Derivative: :math:`\sigma(-x)`, never formed as :math:`1 - \sigma(x)`.

    Accuracy (float32, all inputs, ``make accuracy``): value and derivative
    within 2.4 ULP (jax.nn: 3.0 and 8.5).

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
    return _exp(jnp.where(in_zone, z + _UNDERFLOW_SHIFT, z))


def _two_sum(a: jax.Array, b: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(s, err) with s = fl(a + b) and s + err == a + b exactly (Knuth), any order of sizes."""
    s = a + b
    b_virtual = s - a
    return s, (a - (s - b_virtual)) + (b - b_virtual)


_LN2_HI = float(np.float32(math.log(2.0)))
_LN2_LO = math.log(2.0) - _LN2_HI


def _log1p_exp_neg(a: jax.Array) -> tuple[jax.Array, jax.Array]:
    """log(1 + exp(-a)) for a = |x| >= 0 as an unevaluated sum hi + lo.

    For a <= 1.5 the series ln 2 - a/2 + log cosh(a/2) is summed with its
    exact leading terms carried separately; beyond, log1p(exp(-a)) <= 0.21
    and the error of exp(-a) is scaled down by exp(-a)/(1 + exp(-a)) < 0.19.
    """
    near = a <= 2 * _LOG_COSH_SWITCH
    half = jnp.where(near, a, 0) * 0.5
    half_sq = half * half
    log_cosh = half_sq * (0.5 + half_sq * _horner(_log_cosh_coefficients(a.dtype), half_sq))
    hi, err1 = _two_sum(_opaque(_LN2_HI, a.dtype), -half)
    hi, err2 = _two_sum(hi, log_cosh)
    series_lo = (err1 + err2) + _LN2_LO
    # Beyond, e = exp(-a) <= exp(-1.5) and log1p(e) = e + e^2 P(e): the
    # correction is at most e/8 of the result, so little more than e's own
    # rounding reaches it (XLA's log would add up to 1.2 ULP).
    e = _exp(-jnp.where(near, 2 * _LOG_COSH_SWITCH, a))
    far = e + e * (e * _horner(_log1p_series_coefficients(a.dtype), e))
    return jnp.where(near, hi, far), jnp.where(near, series_lo, 0)


@functools.cache
def _log1p_series_coefficients(dtype) -> list[float]:
    """-1/2, 1/3, -1/4, ... of log1p(e) = e + e^2 (-1/2 + e/3 - ...) for e <= exp(-1.5).

    Terms shrink by e <= 0.223: 11 coefficients for float32, 24 for float64.
    """
    e_max = math.exp(-2 * _LOG_COSH_SWITCH)
    n = _terms_needed(lambda k: e_max ** k / (k + 2), dtype)
    return [(-1.0) ** (k + 1) / k for k in range(2, n + 2)]


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
    log1p_hi, log1p_lo = _log1p_exp_neg(a)
    x_neg = jnp.minimum(x, 0)
    x_pos = jnp.maximum(x, 0)
    # Dekker's split overflows for |x| near the top of the range, where y has
    # long underflowed to 0 anyway: feed it a harmless value there.
    finite_x = jnp.where(a < 1e30, x_neg, 0)
    scaled_x = alpha * x_neg
    scaled_x_err = _two_product_error(alpha, finite_x, alpha * finite_x)
    scaled_log1p = alpha * log1p_hi
    scaled_log1p_err = _two_product_error(alpha, log1p_hi, scaled_log1p)
    exponent, sum_err = _two_sum(scaled_x, -scaled_log1p)
    exponent_lo = (scaled_x_err - scaled_log1p_err) + (sum_err - alpha * log1p_lo)
    # Infinite x makes the error terms inf - inf; the exponent itself is right.
    exponent_lo = jnp.where(jnp.isfinite(exponent), exponent_lo, 0)
    y = _exp(exponent) * (1 + exponent_lo)

    grad_exponent, err1 = _two_sum(exponent, -x_pos)
    grad_exponent, err2 = _two_sum(grad_exponent, -log1p_hi)
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


_generalized_logistic = _binary_activation(_generalized_logistic_parts)


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

    Accuracy (float32, all inputs, ``make accuracy``): at alpha = 0.5 value
    within 2.2 ULP, derivatives within 2.2 (x) and 3.3 (alpha); at alpha = 2,
    2.4, 3.1 and 3.6. Errors grow slowly with alpha (about 5 ULP at alpha = 7).

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
        "generalized_logistic", "alpha", alpha, _compute_dtype(x.dtype),
        minimum=0.0, inclusive=False,
    )
    return _generalized_logistic(x, alpha)


# --------------------------------------------------------------------------
# tanh


@jax.jit
def _tanh_and_derivative(x: jax.Array):
    a = jnp.abs(x)
    is_small = a < _TANH_SWITCH
    # Small |x|: x + x^3 R(x^2), whose leading term is exact. (Clipped with
    # where: the polynomial is discarded above the switch point.)
    small = jnp.where(is_small, a, 0)
    small_sq = small * small
    tanh_small = small + small * (small_sq * _horner(_tanh_coefficients(x.dtype), small_sq))
    # Large |x|: tanh = (1 - e) / (1 + e) with e = exp(-2|x|) <= 1/3, so 1 - e
    # does not cancel, and nothing overflows.
    e = _exp_short(-2 * jnp.minimum(a, _TANH_SATURATION))  # jnp.minimum keeps NaN
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
    shifted = _exp(z + _SECH_SHIFT)
    return (shifted * _SECH_SCALE) / _square_of_one_plus(shifted * _SECH_UNSHIFT)


_tanh = _unary_activation(_tanh_and_derivative, bfloat16_table=True)


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

    Accuracy (float32, all inputs, ``make accuracy``): value within 1.51 ULP,
    derivative within 3.14 ULP (jnp.tanh: 4.9 and 1.7e7).

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


# --------------------------------------------------------------------------
# ReLU family


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
    dy_dx = _cast(jnp.where(positive, 1, jnp.where(x < 0, negative_slope, jnp.nan)), x.dtype)
    dy_dslope = jnp.where(positive, 0, x)
    return y, dy_dx, dy_dslope


_leaky_relu = _binary_activation(_leaky_relu_parts)


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
        "leaky_relu", "negative_slope", negative_slope, _compute_dtype(x.dtype),
        minimum=-math.inf, inclusive=True,
    )
    return _leaky_relu(x, negative_slope)


@jax.jit
def _elu_parts(x: jax.Array, alpha: jax.Array):
    # Double where: the exponential branch sees only x <= 0, so it cannot
    # overflow for large x and poison the gradient with inf * 0.
    expm1_x, exp_x = _expm1_nonpositive(jnp.minimum(x, 0))
    positive = x > 0
    y = jnp.where(positive, x, alpha * expm1_x)
    dy_dx = jnp.where(positive, 1, alpha * exp_x)
    dy_dalpha = jnp.where(positive, 0, expm1_x)
    return y, dy_dx, dy_dalpha


_elu = _binary_activation(_elu_parts)


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

    Accuracy (float32, all inputs, ``make accuracy``): value within 1.4 ULP,
    derivative within 0.99 ULP (jax.nn: 5.7 and 1.7e7).

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
        "elu", "alpha", alpha, _compute_dtype(x.dtype), minimum=0.0, inclusive=True
    )
    return _elu(x, alpha)


