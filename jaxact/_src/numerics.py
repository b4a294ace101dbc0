"""Numeric kernels behind the elementwise activations.

float32 ``exp`` of jaxact's own, an accurate ``expm1`` for z <= 0, pieces of
``log1p``, error-free sums and products (Dekker, Knuth), Horner's rule and
the series coefficients the activations evaluate. Nothing here is public.

XLA guards. Three XLA behaviours would silently undo this arithmetic; each
has one guard here, and one test that fails if the guard stops working:

* The algebraic simplifier reassociates constants, rewriting ``(c + e) - c``
  as ``e``, which deletes the rounding error an error-free sum captures.
  Guard: :func:`opaque`. Tests: the exp and error-free-sum accuracy tests
  (their ULP bounds fail without it).
* With ``jax.ensure_compile_time_eval()`` JAX evaluates operations on
  constants while tracing, the barrier of :func:`opaque` included, and XLA
  then folds the constant it gets back. Guard: every activation's kernel
  switches that off for its call (:func:`jaxact._src.jvp.kernel`).
  Test: ``test_compile_time_eval_gives_the_same_results``.
* CSE merges two passes that share a costly operation (an ``exp``, a
  divide), and XLA's CPU backend then writes its result to memory for both:
  an extra pass over memory, and in a network one more activation-sized
  array kept per layer for the backward pass. Guard: :func:`separate`.
  Test: ``test_a_network_keeps_no_more_temporary_arrays_than_with_relu``.

Notation: ``e = exp(-|x|)`` lies in (0, 1] and never overflows, ``q = 1 + e``
lies in [1, 2], and ``q_lo`` is the rounding error of ``q`` so that
``q + q_lo == 1 + e`` exactly.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction

import jax
import jax.numpy as jnp
import numpy as np

# Switch point of the accurate expm1 below. For z < -ln 2, exp(z) <= 1/2 and
# exp(z) - 1 loses nothing: the relative error of exp(z) is multiplied by
# exp(z) / (1 - exp(z)) <= 1. Above it that factor grows without bound as
# z -> 0, so a Taylor polynomial takes over on [-ln 2, 0].
_EXPM1_SWITCH = -math.log(2.0)


def terms_needed(first_omitted_term, dtype) -> int:
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
    n = terms_needed(lambda k: math.log(2.0) ** (k + 1) / math.factorial(k + 1) * 2, dtype)
    return [1.0 / math.factorial(k) for k in range(2, n + 1)]


@functools.cache
def _bernoulli_numbers(n: int) -> tuple[Fraction, ...]:
    """B_0 .. B_n (B_1 = -1/2), exactly, by the standard recurrence."""
    numbers = [Fraction(1)]
    for m in range(1, n + 1):
        numbers.append(-sum(math.comb(m + 1, k) * numbers[k] for k in range(m)) / (m + 1))  # type: ignore[arg-type]
    return tuple(numbers)


def tanh_taylor_coefficient(k: int) -> Fraction:
    """c_k in tanh(x) = sum_(k >= 1) c_k x^(2k - 1) (Abramowitz and Stegun 4.5.64).

    c_k = 2^(2k) (2^(2k) - 1) B_(2k) / (2k)!; successive terms of the series
    shrink by about (2x / pi)^2.
    """
    return (
        Fraction(2 ** (2 * k) * (2 ** (2 * k) - 1))
        * _bernoulli_numbers(2 * k)[2 * k]
        / math.factorial(2 * k)
    )


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
        return tanh_taylor_coefficient(k) / (2 * k)

    n = terms_needed(lambda k: abs(float(d(k + 1))) * _LOG_COSH_SWITCH ** (2 * k) * 2, dtype)
    return [float(d(k)) for k in range(2, n + 1)]


def horner(coefficients: Sequence[float | jax.Array], t: jax.Array) -> jax.Array:
    """sum_i coefficients[i] t^i."""
    result = jnp.full_like(t, coefficients[-1])
    for c in reversed(coefficients[:-1]):
        result = result * t + c
    return result


def opaque(value: float, dtype) -> jax.Array:
    """A scalar constant that XLA's algebraic simplifier cannot see through.

    The simplifier reassociates constants, rewriting ``(c + e) - c`` as ``e``,
    which is exact algebra but silently deletes the rounding error that the
    error-free transformations below exist to capture. A scalar behind an
    optimization barrier costs nothing: it does not split the fusion. (The
    barrier must be staged, not evaluated while tracing: see
    :func:`jaxact._src.jvp.kernel`.)
    """
    return jax.lax.optimization_barrier(jnp.asarray(value, dtype))


def fast_two_sum(big: float, small: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Returns (s, s_lo) with s = fl(big + small) and s + s_lo == big + small exactly.

    Fast2Sum (Dekker 1971) is exact because |big| >= |small| for every use here.
    """
    big = opaque(big, small.dtype)  # type: ignore[assignment]
    s = big + small
    return s, small - (s - big)


def one_plus_small(e: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Returns (q, q_lo) with q = fl(1 + e) and q + q_lo == 1 + e exactly, for |e| <= 1."""
    return fast_two_sum(1.0, e)


def two_product_error(a: jax.Array, b: jax.Array, product: jax.Array) -> jax.Array:
    """a * b - fl(a * b), exactly, by Dekker's splitting (no FMA needed)."""
    split = float(2 ** ((jnp.finfo(a.dtype).nmant + 2) // 2) + 1)

    def halves(v):
        scaled = split * v
        high = scaled - (scaled - v)
        return high, v - high

    a_hi, a_lo = halves(a)
    b_hi, b_lo = halves(b)
    return ((a_hi * b_hi - product) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo


def upper_half_mask(dtype) -> tuple[int, np.dtype]:
    """(mask, uint dtype): the bits that keep the upper half of a ``dtype``
    significand (float32: 12 bits kept, float64: 26)."""
    info = np.finfo(dtype)
    cleared = info.nmant - (info.nmant + 1) // 2 + 1
    return ~((1 << cleared) - 1) & ((1 << info.bits) - 1), np.dtype(f"uint{info.bits}")


def upper_half(v: jax.Array) -> jax.Array:
    """v with the lower half of its significand cleared, so that products of
    halves are exact (see upper_half_mask); cheaper than Dekker's split, and
    unlike it made of no multiply and add that the compiler could contract
    into one FMA."""
    mask, uint = upper_half_mask(v.dtype)
    bits = jax.lax.bitcast_convert_type(v, uint)
    return jax.lax.bitcast_convert_type(bits & jnp.array(mask, uint), v.dtype)


@jax.custom_jvp
def rounded(v: jax.Array) -> jax.Array:
    """``v`` itself, as a node that a fused multiply-add cannot reach through.

    LLVM contracts a multiply feeding an add into one FMA, or not, separately
    in each loop that XLA emits for an elementwise pass (the vector body, the
    remainder, short rows), so ``a * b + c`` can round once at some positions
    of an array and twice at others: the bits of an element then depend on
    the array's shape. Behind this node the product is always rounded first.
    XLA keeps it and LLVM cannot remove it: a signed integer minimum with the
    bits of the positive quiet NaN, which is the identity on every number
    (negative ones are negative integers; +inf lies below) and maps a NaN to
    a NaN. One integer instruction, fused into the pass. Formats of 8 bits
    or fewer pass unchanged: their NaN patterns differ (some have no sign
    bit, or NaN where -0 would be), and their results are rounded far
    coarser than a float32 FMA's difference.
    """
    if jnp.finfo(v.dtype).bits < 16:
        return v
    bits = np.dtype(f"int{jnp.finfo(v.dtype).bits}")
    quiet_nan = np.array(np.nan, v.dtype).view(bits)
    as_int = jax.lax.bitcast_convert_type(v, bits)
    return jax.lax.bitcast_convert_type(jnp.minimum(as_int, quiet_nan), v.dtype)


@rounded.defjvp
def _rounded_jvp(primals, tangents):
    # The identity: autodiff through the bit casts would give 0. (The
    # tangent must stay linear for reverse mode, so it passes unguarded.)
    (v,), (v_dot,) = primals, tangents
    return rounded(v), v_dot


def square_of_one_plus(e: jax.Array) -> jax.Array:
    """(1 + e)^2 for e in [0, 1], the denominator of both sigma' and sech^2.

    Expanded as 1 + e (2 + e): each of its three roundings is relative to a
    term no larger than the sum, so it is good to about 2.5 half-ULPs without
    the cost of an exact square (``e * r * r`` with ``r = 1 / (1 + e)`` rounds
    four times, through a reciprocal). The product is :func:`rounded` before
    the add, or an FMA at some positions of an array and not at others would
    make sigma' and sech^2 depend on the array's shape.
    """
    return 1 + rounded(e * (2 + e))


# float32 exp: the coefficients of P in exp(r) = 1 + r + r^2 P(r), a minimax


# for the relative error of exp; fitted error 5e-11, far below float32's
# 6e-8). `python -m benchmarks.fit` refits them; a test measures the result
# against numpy.
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
    p_minus_one, two_to_n = _exp_parts(z, coefficients)
    return (1 + p_minus_one) * two_to_n


def _exp_parts(z: jax.Array, coefficients: Sequence[float]) -> tuple[jax.Array, jax.Array]:
    """(s, 2^n) with exp(z) = (1 + s) 2^n, |s| < 0.42, for z as _exp_of_bounded."""
    _, r, n_bits = _reduce(z)
    p_minus_one = r + (r * r) * horner(coefficients, r)
    return p_minus_one, jax.lax.bitcast_convert_type(n_bits << 23, jnp.float32)


def _reduce(z: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """(n, r, n + 127) with z = n ln 2 + r, n an integer (as a float and as
    the biased exponent bits of 2^n), |r| <= ln(2)/2, for float32 z in
    [-150, 64]."""
    # n = round(z / ln 2), exactly; the barrier keeps XLA from folding
    # (t + magic) - magic back to t. (Reading n from the bits of `shifted`
    # needs no barrier, but costs an integer subtraction and a conversion.)
    magic = opaque(_ROUNDING_MAGIC, z.dtype)
    shifted = z * (1 / math.log(2.0)) + magic
    n = shifted - magic
    # |r| <= ln(2)/2. The first subtraction is exact (n * _EXP_LN2_HI is, and
    # it is within a factor 2 of z); the second rounds once.
    r = (z - n * _EXP_LN2_HI) - n * _EXP_LN2_LO
    # 2^n built from its bits: the integer n is the low bits of `shifted`.
    n_bits = jax.lax.bitcast_convert_type(shifted, jnp.int32) - (_ROUNDING_MAGIC_BITS - 127)
    return n, r, n_bits


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
def exp(z: jax.Array) -> jax.Array:
    """exp(z) for z <= 64 (every caller passes z <= 2), within 1 ULP in float32.

    Float32 only; other dtypes use jnp.exp. One clamp, then
    _exp_of_bounded, which is plain arithmetic (a polynomial and 2^n from
    its bits), so it does not depend on each backend's own exp.
    NaN gives NaN, -inf gives 0.
    """
    if z.dtype != jnp.float32:
        return jnp.exp(z)
    clamped = jnp.maximum(z, _EXP_LOWEST)  # jnp.maximum keeps NaN
    return jnp.where(z < _EXP_LOWEST, 0, _exp_of_bounded(clamped, _EXP_COEFFICIENTS))


@_differentiable_exp
def exp_short(z: jax.Array) -> jax.Array:
    """exp(z) for -87.5 <= z <= 64 only, with the five-term polynomial.

    For callers that bound z themselves and tolerate 0.05 ULP more error
    than exp: no clamp, no underflow select, one multiply-add fewer.
    """
    if z.dtype != jnp.float32:
        return jnp.exp(z)
    return _exp_of_bounded(z, _EXP_SHORT_COEFFICIENTS)


# exp_reduced: exp(z + z_lo) = scale * m * exp(r). Below z = -130 the
# result (< 2^-187) is 0 for every caller; above it 2^(n + 64) >= 2^-123
# stays a normal float32 when n < -100 is raised by 64 and the caller's
# product is scaled back by 2^-64, exactly.
_EXP_REDUCED_LOWEST = -130.0
_EXP_REDUCED_RAISE = 64
# float64: exp(z) is shifted by 64 ln 2 in two parts below z = -640; the
# high part has 49 significant bits, so z + hi is exact for |z| >= 512.
# Callers form m + m w with |w| as small as 2^-54 still counting: m w stays
# a normal number (not flushed to 0 by the CPU's FTZ, where LLVM does not
# fuse the multiply into the add) for m >= 2^-968, z >= -671.
_EXP_REDUCED_ZONE_FLOAT64 = -640.0
_LN2_64_HI = float(np.round(64 * math.log(2.0) * 2.0**43) / 2.0**43)
# ln 2 = 0.6931471805599453 + 2.3190468138462996e-17 (mpmath): the float64
# ln 2 alone would leave 64 * 2.3e-17 = 7 ULP in the result.
_LN2_64_LO = float(
    64 * (Fraction(math.log(2.0)) + Fraction(2.3190468138462996e-17)) - Fraction(_LN2_64_HI)
)


@jax.custom_jvp
def exp_reduced(z: jax.Array, z_lo: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """(m, r, scale) with exp(z + z_lo) = scale * m * exp(r), for z <= 64 and |z_lo| <= ulp(z).

    The float32 exp's range reduction, handed to the caller: m = 2^n is a
    power of 2, |r| <= ln(2)/2 (plus z_lo), and ``expm1_reduced(r)`` is the
    kernel's polynomial exp(r) - 1. A caller multiplying by a factor c then
    rounds once, ``c m + (c m) expm1_reduced(r)`` (c m is exact), where
    ``c * exp(z)`` rounds twice; and exp(r) or exp(-r) can be chosen, e.g.
    sigma(z) = m / (m + exp(-r)). The low part z_lo of an exponent carried in
    two parts joins r, where it costs no rounding. scale is 1, or 2^-64 below
    z = -69.3 to keep m normal; multiplying by it last is exact wherever the
    final result is normal. -inf gives m = 0; NaN gives NaN in r.

    float64: m = exp(z) (shifted by 64 ln 2 below z = -640) and r = z_lo.
    """
    if z.dtype != jnp.float32:
        in_zone = z < _EXP_REDUCED_ZONE_FLOAT64
        m = jnp.exp(jnp.where(in_zone, z + _LN2_64_HI, z))
        r = z_lo + jnp.where(in_zone, _LN2_64_LO, 0.0)
        return m, r, jnp.where(in_zone, 2.0**-_EXP_REDUCED_RAISE, 1.0).astype(z.dtype)
    clamped = jnp.maximum(z, _EXP_REDUCED_LOWEST)  # jnp.maximum keeps NaN
    n, r, n_bits = _reduce(clamped)
    r = r + z_lo
    raised = n < -100
    n_bits = jnp.where(raised, n_bits + _EXP_REDUCED_RAISE, n_bits)
    m = jax.lax.bitcast_convert_type(n_bits << 23, jnp.float32)
    m = jnp.where(z < _EXP_REDUCED_LOWEST, 0, m)
    scale = jnp.where(raised, 2.0**-_EXP_REDUCED_RAISE, 1.0).astype(z.dtype)
    return m, r, scale


@exp_reduced.defjvp
def _exp_reduced_jvp(primals, tangents):
    # m and scale are piecewise constant: all of d exp goes through r.
    (z, z_lo), (z_dot, z_lo_dot) = primals, tangents
    m, r, scale = exp_reduced(z, z_lo)
    return (m, r, scale), (jnp.zeros_like(m), z_dot + z_lo_dot, jnp.zeros_like(scale))


def expm1_reduced(r: jax.Array) -> jax.Array:
    """exp(r) - 1 for r from exp_reduced (|r| <= 0.35 in float32; any r in float64)."""
    if r.dtype != jnp.float32:
        return jnp.expm1(r)
    return r + (r * r) * horner(_EXP_COEFFICIENTS, r)


def expm1_nonpositive(z: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Returns (expm1(z), exp(z)) for z <= 0, each within about one ULP.

    XLA's own expm1 on the CPU is off by several ULP in float32 and
    float64; the Taylor polynomial below is accurate on
    [-ln 2, 0] and ``exp(z) - 1`` is accurate below it (see _EXPM1_SWITCH).
    """
    e = exp(z)
    # Evaluate the polynomial on a clipped input: outside its range it is
    # discarded, and clipping keeps huge |z| from overflowing to inf there.
    # z + z^2 P(z): the rounding errors of the correction term are scaled down
    # by |z P(z)| <= 0.35, and z itself is exact.
    in_range = z >= _EXPM1_SWITCH
    # where, not maximum: at a tie maximum splits the derivative between its
    # arguments, which would halve the second derivative at the switch point.
    small = jnp.where(in_range, z, _EXPM1_SWITCH)
    poly = small + small * (small * horner(_expm1_coefficients(z.dtype), small))
    expm1 = jnp.where(in_range, poly, e - 1)
    return expm1, e


def separate(x: jax.Array) -> jax.Array:
    """The same values as ``x``, in a node that XLA's CSE cannot merge with ``x``.

    A floating x narrower than float32 comes back as float32, the dtype it
    is computed in: XLA's reduce-precision to a narrow format flushes that
    format's subnormals (float16's 6e-8 became 0) and knows nothing of the
    float8 types without inf, while every narrow value is exact in float32.

    A JVP rule needs y and y'; computed from one shared exp or divide, XLA's
    CPU backend writes that to memory for two separate fusions: a full extra
    pass over memory, and an array kept alive from the
    forward to the backward pass. Computing y' from a separated x duplicates
    the exp instead, which costs far less than the memory traffic it saves.
    """
    # An optimization barrier would not do: XLA's CPU pipeline removes
    # barriers before its last CSE, which then merges the two passes again.
    # A reduce-precision to x's own format is the identity on every value
    # (NaN, inf and -0.0 included) that XLA's simplifier keeps by default,
    # and it fuses into the elementwise pass like any other elementwise op.
    if x.dtype.itemsize < 4 and jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.float32)
    info = jnp.finfo(x.dtype)
    return jax.lax.reduce_precision(x, exponent_bits=info.nexp, mantissa_bits=info.nmant)


@jax.custom_jvp
def flush_subnormals(x: jax.Array) -> jax.Array:
    """x with every subnormal replaced by a zero of its sign; other values kept.

    Made of integer operations on the bits (a zero exponent field means zero
    or subnormal), which no floating-point mode, instruction choice or
    constant fold changes; a comparison such as ``|x| < tiny`` would read a
    subnormal as 0 under the CPU's DAZ mode and still work, but the select
    it feeds may be rewritten into a min/max that flushes differently. The
    cost is three integer operations per element, inside the fusion.
    """
    info = jnp.finfo(x.dtype)
    uint = jnp.dtype(f"uint{info.bits}")
    exponent = ((1 << info.nexp) - 1) << info.nmant
    sign = 1 << (info.bits - 1)
    bits = jax.lax.bitcast_convert_type(x, uint)
    flushed = jnp.where(bits & jnp.array(exponent, uint) == 0, bits & jnp.array(sign, uint), bits)
    return jax.lax.bitcast_convert_type(flushed, x.dtype)


@flush_subnormals.defjvp
def _flush_subnormals_jvp(primals, tangents):
    # The identity's tangent: the flush only renames values that the
    # arithmetic already reads as 0, and a derivative taken through it (a
    # second derivative through upcast) is that of the function at x.
    (x,), (x_dot,) = primals, tangents
    return flush_subnormals(x), x_dot


def log1p_small(e: jax.Array) -> jax.Array:
    """log(1 + e) for e in [0, 1].

    log(q + q_lo) = log(q) + q_lo / q to first order, with q + q_lo == 1 + e
    exactly. XLA's log1p is off by up to 2.5 ULP on the CPU; log is within 1.2.
    """
    q, q_lo = one_plus_small(e)
    return jnp.log(q) + q_lo / q


def two_sum(a: jax.Array, b: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(s, err) with s = fl(a + b) and s + err == a + b exactly (Knuth), any order of sizes."""
    s = a + b
    b_virtual = s - a
    return s, (a - (s - b_virtual)) + (b - b_virtual)


_LN2_HI = float(np.float32(math.log(2.0)))
_LN2_LO = math.log(2.0) - _LN2_HI


def log1p_exp_neg(a: jax.Array) -> tuple[jax.Array, jax.Array]:
    """log(1 + exp(-a)) for a = |x| >= 0 as an unevaluated sum hi + lo.

    For a <= 1.5 the series ln 2 - a/2 + log cosh(a/2) is summed with its
    exact leading terms carried separately; beyond, log1p(exp(-a)) <= 0.21
    and the error of exp(-a) is scaled down by exp(-a)/(1 + exp(-a)) < 0.19.
    """
    near = a <= 2 * _LOG_COSH_SWITCH
    half = jnp.where(near, a, 0) * 0.5
    half_sq = half * half
    log_cosh = half_sq * (0.5 + half_sq * horner(_log_cosh_coefficients(a.dtype), half_sq))
    hi, err1 = two_sum(opaque(_LN2_HI, a.dtype), -half)
    hi, err2 = two_sum(hi, log_cosh)
    series_lo = (err1 + err2) + _LN2_LO
    # Beyond, e = exp(-a) <= exp(-1.5) and log1p(e) = e + e^2 P(e): the
    # correction is at most e/8 of the result, so little more than e's own
    # rounding reaches it (XLA's log would add up to 1.2 ULP).
    e = exp(-jnp.where(near, 2 * _LOG_COSH_SWITCH, a))
    far = e + e * (e * horner(_log1p_series_coefficients(a.dtype), e))
    return jnp.where(near, hi, far), jnp.where(near, series_lo, 0)


@functools.cache
def _log1p_series_coefficients(dtype) -> list[float]:
    """-1/2, 1/3, -1/4, ... of log1p(e) = e + e^2 (-1/2 + e/3 - ...) for e <= exp(-1.5).

    Terms shrink by e <= 0.223: 11 coefficients for float32, 24 for float64.
    """
    e_max = math.exp(-2 * _LOG_COSH_SWITCH)
    n = terms_needed(lambda k: e_max ** k / (k + 2), dtype)
    return [(-1.0) ** (k + 1) / k for k in range(2, n + 2)]


@jax.custom_jvp
def nan_marker(x: jax.Array, *params: jax.Array) -> jax.Array:
    """0 where x is a number and NaN where x is NaN, in the broadcast shape of x and params.

    Added to a derivative, it carries a NaN input into derivatives of every
    order and in every direction: its own derivatives, with respect to x and
    each parameter, are NaN where x is NaN and 0 elsewhere. (A select such as
    ``where(x > 0, 1, slope)`` makes a first derivative NaN at most: its
    derivative is 0, NaN or not.)
    """
    shape = jnp.broadcast_shapes(jnp.shape(x), *(jnp.shape(p) for p in params))
    return jnp.broadcast_to(jnp.where(jnp.isnan(x), jnp.nan, 0).astype(x.dtype), shape)


@nan_marker.defjvp
def _nan_marker_jvp(primals, tangents):
    marker = nan_marker(*primals)
    return marker, marker * sum(tangents[1:], tangents[0])
def offset_from(x: jax.Array, point: str) -> jax.Array:
    """x - point, rounded once, for a constant ``point`` given in decimal digits.

    ``point`` is split into hi + lo in x's dtype; ``x - hi`` is exact wherever
    x is within a factor 2 of hi (Sterbenz), which every caller guarantees,
    so only subtracting lo rounds. Near a root of a function at ``point``
    the offset keeps its full relative precision however small it gets,
    which ``x - point`` rounded to the dtype would not.
    """
    exact = Fraction(Decimal(point))
    hi = float(np.asarray(float(exact), x.dtype))
    lo = float(exact - Fraction(hi))
    return (x - opaque(hi, x.dtype)) - lo


# exp(-_RESCALE_SHIFT) is within 2.4e-12 (2^-38.6) relative of a float32 number,
# so scaling back by it costs only the rounding of that product (found by
# scanning multiples of 2^-10 in [16, 32] with mpmath; a test checks it).
# A multiple of 2^-6: z + shift is exact for float32 z in
# [-128, -64] (a multiple of 2^-17 there, and so is the sum, below 64).
_RESCALE_SHIFT = 19.390625
_RESCALE = math.exp(-_RESCALE_SHIFT)


def exp_rescaled(
    z: jax.Array, *, error_free_products: bool = False
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Returns (e, delta, rescale) with e (1 + delta) rescale = exp(z), e never
    flushed to 0 early, and delta e's relative rounding error (see
    exp_with_error).

    Within 8 of the log of the smallest normal float, exp(z) itself would be
    subnormal or 0 (XLA's CPU flushes subnormals) while a product such as
    z exp(z) is still normal; there e = exp(z + 19.39...) and rescale =
    exp(-19.39...), elsewhere e = exp(z) and rescale = 1. Callers multiply
    their product by rescale last, and may add e to 1 as if it were exp(z):
    both round to 1 in the zone (e < 2^-40 there, and below 2^-80 without
    ``error_free_products``).

    With ``error_free_products`` the zone starts where the low parts of
    Dekker products of numbers of e's size (e^2 eps^2, see
    two_product_error) would flush to 0: at log(tiny) - 2 log(eps) + 4
    (-47.3 for float32), so that the caller's error terms stay exact.
    z + shift stays exact there: z is a multiple of 2^-18 below -32.
    """
    finfo = jnp.finfo(z.dtype)
    margin = 4 - 2 * math.log(float(finfo.eps)) if error_free_products else 8
    zone = z < math.log(float(finfo.tiny)) + margin
    e, delta = exp_with_error(jnp.where(zone, z + _RESCALE_SHIFT, z))
    return e, delta, jnp.where(zone, _RESCALE, 1).astype(z.dtype)


def _exp_with_error_jvp(primals, tangents):
    (z,), (z_dot,) = primals, tangents
    e, e_relative_error = exp_with_error(z)
    # The error term is a correction below 2^-23 of e: its own derivative is
    # left out (a relative 2^-23 in higher derivatives, float32 only).
    return (e, e_relative_error), (e * z_dot, jnp.zeros_like(e_relative_error))


@jax.custom_jvp
def exp_with_error(z: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Returns (e, delta) with exp(z) = e (1 + delta) to about 2^-26, z <= 64.

    float32: e is :func:`exp` (the same value) and delta is the rounding
    error of its last addition 1 + s, relative to e, so that a caller whose
    result is sensitive to e's rounding can correct for it; 0 where e is 0.
    Other dtypes: jnp.exp and delta = 0.
    """
    if z.dtype != jnp.float32:
        e = jnp.exp(z)
        return e, jnp.zeros_like(e)
    clamped = jnp.maximum(z, _EXP_LOWEST)  # jnp.maximum keeps NaN
    p_minus_one, two_to_n = _exp_parts(clamped, _EXP_COEFFICIENTS)
    p, p_lo = fast_two_sum(1.0, p_minus_one)
    # p_lo / p with 1 / p = 1 / (1 + s) ~ 1 - s + s^2 - s^3: |s| < 0.42, so
    # the truncation is below 3% of a term below 2^-24 of p.
    delta = p_lo * (1 - p_minus_one * (1 - p_minus_one * (1 - p_minus_one)))
    underflow = z < _EXP_LOWEST
    return jnp.where(underflow, 0, p * two_to_n), jnp.where(underflow, 0, delta)


exp_with_error.defjvp(_exp_with_error_jvp)


def series_near_root(
    x: jax.Array, root: str, coefficients: Sequence[float], window: float
) -> tuple[jax.Array, jax.Array]:
    """Returns (near, f): f = d (c_0 + c_1 d + ...) with d = x - root where near.

    For a function with a simple root at ``root`` (decimal digits) and Taylor
    coefficients c_k of f(root + d) / d. Where near (|d| <= window), f keeps
    its full relative precision however close x gets to the root, which a
    closed form that cancels there cannot; elsewhere f is meaningless. Terms
    up to the first below an eighth of an ULP of c_0 at |d| = window.
    """
    center = float(Fraction(Decimal(root)))
    n = terms_needed(
        lambda k: abs(coefficients[k]) * window**k / abs(coefficients[0]), x.dtype
    )
    if n > len(coefficients):
        raise ValueError(f"series_near_root: {n} terms needed, {len(coefficients)} given")
    near = jnp.abs(x - center) <= window
    # Masked so that the discarded series never sees a large |d| (no inf in
    # its derivatives either).
    offset = offset_from(jnp.where(near, x, center), root)
    return near, offset * horner(coefficients[:n], offset)
