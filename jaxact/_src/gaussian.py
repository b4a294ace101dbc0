"""The Gaussian family: gelu, exact (x Phi(x)) and in its tanh approximation.

Both are written around a = |x| and the tail quantity that stays small, so
that nothing is formed as 1 - (something close to 1) and no exponent is
rounded before the exp amplifies its error:

* exact: Phi(-a) = Q(a) = exp(-a^2/2 + log G(a)), with a^2 carried exactly
  (an error-free product), log G and the derivative's T (and their relatives
  below) fitted polynomials, ``python -m benchmarks.fit_gaussian``;
* tanh form: x sigma(v) with v = 2 sqrt(2/pi) (x + 0.044715 x^3) carried as
  an unevaluated sum hi + lo, since exp(-|v|) multiplies the error of v by
  |v| (up to 87 where the result is still a normal float32).
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxact._src.checks import as_float_array
from jaxact._src.hyperbolic import _tanh_and_derivative
from jaxact._src.jvp import unary_activation
from jaxact._src.numerics import (
    _EXP_SHORT_COEFFICIENTS,
    _reduce,
    exp_reduced,
    expm1_reduced,
    horner,
    opaque,
    square_of_one_plus,
    terms_needed,
    two_sum,
    upper_half,
    upper_half_mask,
)

# --------------------------------------------------------------------------
# Fitted polynomials (``python -m benchmarks.fit_gaussian``; float32 by
# weighted minimax, float64 by Chebyshev interpolation in mpmath). With
# Q(a) = Phi(-a) = erfc(a / sqrt 2) / 2, G(a) = exp(a^2/2) Q(a) and u = 1/a^2:
#   LG(a) = log G(a)                 on [0, 1.5] and [1.5, 3], about 0.75 and 2.25;
#   LM(u) = log (a G(a))             for a > 3, in u - 1/18;
#   T(a) = a / sqrt(2 pi) - G(a) = (a - a0) P(a), P on the same two pieces;
#   W(u) = T(a) / a                  for a > 3, in u - 1/18;
# and for the tanh form, its derivative = (x - x0) P(x) on [-1.5, 0], P in
# x + 0.75. Each polynomial's fitted relative error is a small fraction of
# an ULP (noted beside it); the rest of the error budget is rounding.
# Why these pieces: at a = 3 the series in u (asymptotic, 1 - u + 3u^2 ...)
# still converges fast enough for 9 float32 terms; one polynomial on all of
# [0, 3] needs 13 terms whose alternating sum loses more to float32 rounding
# than two polynomials of width 1.5 with fewer terms each.
_SWITCH = 3.0
_MIDDLE = 1.5
_PIECE_CENTERS = (0.75, 2.25)
_U_CENTER = 1 / (2 * _SWITCH**2)
# a0, the zero of T (where gelu'(-a0) = 0), and x0, the zero of the tanh
# form's derivative, each as a float64 pair hi + lo (mpmath.findroot).
_T_ZERO = (0.7517915246935645, -1.4956759177009883e-17)
_APPROX_ZERO = (-0.7524614220710163, 3.635560509207687e-17)
_APPROX_ROOT_LOW = -1.5
_APPROX_ROOT_CENTER = -0.75
_LG1_FLOAT32 = (  # 8 terms, fitted relative error 3.62e-09
    -1.2031982260211085, -0.578777983745084, 0.11546607153763788, -0.023043239457775377,
    0.003813046167505074, -0.00040726646687448833, -2.0774610625186914e-05, 2.166681988287461e-05,
)
_LG1_FLOAT64 = (  # 18 terms, fitted relative error 1.4e-19
    -1.2031982299196562, -0.5787779652212071, 0.11546629652924696, -0.023043521300005358,
    0.0038110261149568196, -0.00040612906356755706, -1.4974035601144648e-05,
    2.0083887446898375e-05, -5.23772057891436e-06, 6.279678154850484e-07, 6.983884483164167e-08,
    -5.518972987054936e-08, 1.3938751048766102e-08, -1.4648050313920865e-09,
    -3.1128766376869384e-10, 1.8669338440031503e-10, -3.9591659919723257e-11,
    1.961485226287207e-12,
)
_LG2_FLOAT32 = (  # 8 terms, fitted relative error 4.41e-11
    -1.873065381092517, -0.3464025392761923, 0.05029978100236074, -0.008392924858830064,
    0.0013652793691823861, -0.0002021695289915607, 2.506070752248769e-05, -1.9846796236925122e-06,
)
_LG2_FLOAT64 = (  # 18 terms, fitted relative error 1.37e-22
    -1.8730653811532716, -0.34640253868696214, 0.050299784572781434, -0.00839293597062843,
    0.0013652476723309374, -0.00020211111643912748, 2.514678674321985e-05, -2.1004202015884513e-06,
    -6.171125307739117e-08, 7.552370593708025e-08, -2.004044954933155e-08, 3.5806830231223912e-09,
    -4.3206610671530495e-10, 1.3643281361006068e-11, 1.019793444650739e-11,
    -3.5929668786145713e-12, 7.714912128684155e-13, -1.0498265631737769e-13,
)
_LM_FLOAT32 = (  # 9 terms, fitted relative error 2.92e-09
    -0.9683243423422789, -0.7986499897576916, 1.3413789604818143, -3.9497471652446134,
    15.342374868656812, -68.63790231750102, 342.84774876226595, -2861.61539739089,
    20051.20682693099,
)
_LM_FLOAT64 = (  # 25 terms, fitted relative error 4.17e-18
    -0.9683243435929755, -0.7986503969126698, 1.341394852217009, -3.9480304978977814,
    15.309092094492005, -70.55845495294153, 367.40098101440503, -2098.653885623932,
    12904.365839245276, -84303.96081557726, 579670.0656283058, -4169590.4195763003,
    31145315.175865605, -235893530.7974458, 1867485444.394005, -18557265530.687103,
    161537227299.91064, 167619010829.83414, -3596170421207.4062, -459795316514676.75,
    4660409693656009.0, 5.6629455636773336e+16, -5.936264243585155e+17, -6.038009097198186e+18,
    6.174248547055664e+19,
)
_T1_FLOAT32 = (  # 10 terms, fitted relative error 7.21e-10
    0.5725581362617717, -0.08488758170460821, 0.036658584246494964, -0.014350704357673319,
    0.0051802597242918925, -0.0017446718830502706, 0.000550531370454861, -0.00016543738176543802,
    5.272642924283315e-05, -1.4452017047776381e-05,
)
_T2_FLOAT32 = (  # 10 terms, fitted relative error 1.9e-11
    0.4965718761811871, -0.029638181418334488, 0.008470657120668338, -0.002295660222938429,
    0.0005933291435144615, -0.00014691158566866757, 3.492103899292606e-05, -8.018481992482452e-06,
    1.9026753811821925e-06, -4.118739969193305e-07,
)
_W_FLOAT32 = (  # 8 terms, fitted relative error 1.72e-09
    0.3778467918065333, -0.36287083617979904, 0.2682436809521773, -0.52287647296535,
    1.5104575343917517, -5.519078799665183, 29.31935045373313, -157.04509853043308,
)
_APPROX_ROOT_FLOAT32 = (  # 11 terms, fitted relative error 2.6e-09
    0.4313538398395546, 0.3874386616442763, -0.016624830979293594, -0.11410633933983703,
    -0.01637673560876001, 0.019753808479056213, 0.005218332081285963, -0.0024162238772267794,
    -0.0009140400445541557, 0.0002203869088365637, 0.00010483524011806407,
)
_T1_FLOAT64 = (  # 18 terms, fitted relative error 2.15e-18
    0.5725581358499552, -0.0848875812280429, 0.03665862086212702, -0.014350722404658548,
    0.005179740514328998, -0.001744484561928155, 0.0005530963889259276, -0.00016621843941943504,
    4.760621736225915e-05, -1.305199406591364e-05, 3.4380570843791276e-06, -8.728157906641315e-07,
    2.1416125141304367e-07, -5.088355289776312e-08, 1.1657752111105009e-08,
    -2.6149923418535603e-09, 6.423263010188233e-10, -1.360173753828708e-10,
)
_T2_FLOAT64 = (  # 18 terms, fitted relative error 1.26e-20
    0.49657187617178217, -0.02963818140427908, 0.008470657955178875, -0.002295660680234701,
    0.0005933173131924637, -0.0001469073411171353, 3.497958289429382e-05, -8.034740684387604e-06,
    1.7851730594233967e-06, -3.845403541934052e-07, 8.046870390014695e-08, -1.638702111841463e-08,
    3.252840840993022e-09, -6.301721852036163e-10, 1.1894798198537932e-10, -2.2036715654922595e-11,
    4.3366819908724315e-12, -7.688609823851505e-13,
)
_W_FLOAT64 = (  # 25 terms, fitted relative error 1.6e-19
    0.3778467924280061, -0.3628708636786341, 0.268237379267324, -0.5227768064034826,
    1.5203450368246247, -5.618652545747809, 24.490004515237196, -120.68805638143614,
    654.6835830422588, -3838.4378235332224, 24007.206550229588, -158688.6622169638,
    1099384.4920422593, -7854776.47261918, 58600831.631915115, -509730837.7885901,
    4169328630.034857, -7290136424.505472, 21325519962.419437, -8667586828799.095,
    84711112365863.78, 965037793512418.6, -9901165138036408.0, -1.1038639465702606e+17,
    1.0968383953076106e+18,
)
_APPROX_ROOT_FLOAT64 = (  # 24 terms, fitted relative error 1.06e-19
    0.4313538401592927, 0.38743867758837774, -0.016624851119394483, -0.11410691776916562,
    -0.016376619135709643, 0.019759698565181956, 0.005219158695032743, -0.0024409366689254006,
    -0.0009215614972292378, 0.00026697431310842825, 0.00012329945964375768, -3.542450384430691e-05,
    -1.576014524211492e-05, 6.001835787290384e-06, 2.396564298660052e-06, -1.0067110874272554e-06,
    -4.2466410577703214e-07, 1.448583327660469e-07, 7.369928282815103e-08, -1.7504941444840374e-08,
    -1.1005433323536279e-08, 1.7849885845291465e-09, 1.0967082262887394e-09,
    -1.3227525464783562e-10,
)

# The tanh form: v = 2u = x (C + D x^2) with C = 2 sqrt(2/pi) and
# D = 0.044715 C, each as a float64 pair hi + lo (mpmath, 40 digits).
_APPROX_C = (1.5957691216057308, -9.96930880911092e-17)
_APPROX_D = (0.07135481627260025, -6.175149918155315e-19)

# Beyond |x| = 40 the exact form is x or 0 in float64 (exp(-800) = 0), and
# beyond |x| = 30 the tanh form is (|v| > 1900); clamping there keeps x^2
# and the products of Dekker's split finite.
_ERF_CLAMP = 40.0
_APPROX_CLAMP = 30.0


@functools.cache
def _coefficients(dtype) -> dict:
    if jnp.dtype(dtype) == jnp.float32:
        return {"LG": (_LG1_FLOAT32, _LG2_FLOAT32), "LM": _LM_FLOAT32,
                "T": (_T1_FLOAT32, _T2_FLOAT32), "W": _W_FLOAT32, "root": _APPROX_ROOT_FLOAT32}
    return {"LG": (_LG1_FLOAT64, _LG2_FLOAT64), "LM": _LM_FLOAT64,
            "T": (_T1_FLOAT64, _T2_FLOAT64), "W": _W_FLOAT64, "root": _APPROX_ROOT_FLOAT64}


# Below |x| = 0.5, Phi(x) = 1/2 + x E(x^2) is summed from its Taylor series
# (1/sqrt(2 pi)) sum_k (-x^2/2)^k / (k! (2k + 1)), whose terms shrink by at
# least 1/8: 6 terms for float32, 14 for float64. 1/2 + x E stays in
# [0.3, 0.7] there, with x E's rounding scaled down by |x E| / Phi < 0.7,
# where exp(-x^2/2) G(|x|) would leave Q's error on 1 - Q ~ 1/2.
_SERIES_SWITCH = 0.5


@functools.cache
def _cdf_series_coefficients(dtype) -> list[float]:
    def term(k):
        return (_SERIES_SWITCH**2 / 2) ** k / (math.factorial(k) * (2 * k + 1))

    n = terms_needed(term, dtype)
    return [
        (-0.5) ** k / (math.factorial(k) * (2 * k + 1) * math.sqrt(2 * math.pi)) for k in range(n)
    ]


def _pair(value: tuple[float, float], dtype) -> tuple[float, float]:
    """A float64 pair hi + lo re-split so that hi is exact in ``dtype``."""
    hi = float(np.asarray(value[0], dtype))
    return hi, float(np.asarray((value[0] - hi) + value[1], dtype))


def _horner_head_and_rest(degree: int, coefficient, t: jax.Array):
    """(head, rest) with sum_i c_i t^i = head + rest, c_i = coefficient(i, 0).

    head is c_0 rounded to t's dtype and rest carries its rounding error
    (coefficient(0, 1)), so a caller that adds head last rounds once where
    Horner's rule would round c_0 and then the sum (and c_0 is within a
    factor 2 of the result for every polynomial here).
    """
    result = coefficient(degree, 0)
    for index in range(degree - 1, 0, -1):
        result = result * t + coefficient(index, 0)
    return coefficient(0, 0), t * result + coefficient(0, 1)


def _head_and_rest(coefficients, t: jax.Array):
    """_horner_head_and_rest of one polynomial."""
    def coefficient(index, part):
        return jnp.asarray(_pair((coefficients[index], 0.0), t.dtype)[part], t.dtype)

    return _horner_head_and_rest(len(coefficients) - 1, coefficient, t)


def _head_and_rest_near_far(near_pieces, far, s: jax.Array, near: jax.Array,
                            upper: jax.Array):
    """_horner_head_and_rest of three polynomials in one loop: near_pieces[1]
    where near and upper, near_pieces[0] where near only, ``far`` elsewhere,
    chosen coefficient by coefficient (two selects of constants each, where
    separate loops cost a multiply and an add per term of each and a select
    of their results). The shorter ones are padded with leading zeros, which
    leave their sums unchanged (0 s + c = c)."""
    degree = max(len(piece) for piece in (*near_pieces, far)) - 1

    def padded(coefficients):
        return (*coefficients, *([0.0] * (degree + 1 - len(coefficients))))

    low, high, far = (padded(piece) for piece in (*near_pieces, far))

    def coefficient(index, part):
        low_c, high_c, far_c = (_pair((piece[index], 0.0), s.dtype)[part]
                                for piece in (low, high, far))
        return jnp.where(near, jnp.where(upper, high_c, low_c), far_c).astype(s.dtype)

    return _horner_head_and_rest(degree, coefficient, s)


def _times_exp(head: jax.Array, rest: jax.Array, m: jax.Array, w: jax.Array) -> jax.Array:
    """(head + rest) exp(z) / scale, rounded about once, from exp_reduced(z, z_lo) =
    (m, r, scale) and w = expm1_reduced(r): m (head + (rest + (head + rest) w)),
    where m is a power of 2 (float32) and |rest|, |w| are small."""
    return (head + (rest + (head + rest) * w)) * m


def _halves(v: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(hi, lo) = (upper_half(v), v - hi), both exact: a product of two
    halves is exact, and the split costs a mask and a subtraction where
    Dekker's costs a multiply and three subtractions."""
    hi = upper_half(v)
    return hi, v - hi


def _product_error(a: tuple[jax.Array | float, jax.Array | float],
                   b: tuple[jax.Array | float, jax.Array | float],
                   product: jax.Array) -> jax.Array:
    """a b - fl(a b), exactly, from the halves of a and b (Dekker's sum of
    the four partial products, each exact; with truncated halves every
    partial sum is exact too). No product here rounds, so a fused
    multiply-add that the compiler may form or not gives the same bits."""
    (a_hi, a_lo), (b_hi, b_lo) = a, b
    return ((a_hi * b_hi - product) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo


def _expm1_short(r: jax.Array) -> jax.Array:
    """expm1_reduced with exp's five-term polynomial for float32 (exp_short's,
    0.05 ULP more error); the value and the derivative are at most as
    sensitive to exp(r) as exp itself, and their bounds leave room for it."""
    if r.dtype != jnp.float32:
        return expm1_reduced(r)
    return r + (r * r) * horner(_EXP_SHORT_COEFFICIENTS, r)


def _second_derivative(second_and_third):
    """unary_activation's ``second_derivative`` from ``second_and_third(x) -> (f'', f''')``.

    f'' is a ``custom_jvp`` whose rule is the f''' of the same kernel, so a
    third derivative is one kernel in every order of transformations. Built
    by autodiff of f'' instead, reverse mode would multiply a cotangent by
    the small scale of _scaled_density or _approx_sech before the other
    factors, and a tiny density by it, which underflows in the tails where
    f''' is still normal.
    """
    @jax.custom_jvp
    def second(x):
        return second_and_third(x)[0]

    @second.defjvp
    def second_jvp(primals, tangents):
        (x,), (x_dot,) = primals, tangents
        return second(x), second_and_third(x)[1] * x_dot

    def second_derivative(x, y, dy):
        del y, dy  # gelu'' from gelu and gelu' would cancel
        return second(x)

    return second_derivative


# --------------------------------------------------------------------------
# exact form


@jax.jit
def _gelu_erf_and_derivative(x: jax.Array):
    coefficients = _coefficients(x.dtype)
    a = jnp.abs(x)
    clamped = jnp.minimum(a, _ERF_CLAMP)  # jnp.minimum keeps NaN
    # exp(-a^2/2) from the exact square: rounding a^2 would cost a^2/2
    # half-ULPs (85 near a = 13, where the result is still normal).
    halves = _halves(clamped)
    square = clamped * clamped
    square_lo = _product_error(halves, halves, square)
    m, r, scale = exp_reduced(-0.5 * square, -0.5 * square_lo)
    w = _expm1_short(r)
    near = a <= _SWITCH
    upper = a > _MIDDLE
    # Each polynomial is evaluated on an input clipped to its own piece, so
    # the discarded one stays finite (and so do its derivatives).
    t = jnp.where(near, a, _SWITCH) - jnp.where(upper, _PIECE_CENTERS[1], _PIECE_CENTERS[0])
    u = 1 / jnp.where(near, _SWITCH**2, square) - _U_CENTER
    s = jnp.where(near, t, u)
    negative = x < 0

    # Value: x Phi(x) = x Q(a) below 0 and x (1 - Q(a)) above, Q <= 1/2,
    # with Q = exp(-a^2/2 + log G(a)) and, beyond a = 3, a Q(a) =
    # exp(-a^2/2 + log M(u)): one exp of an exponent carried in two parts
    # (the square's error, the logarithm's head and rest), so that x Q =
    # x m + (x m) expm1(r) rounds once (x m is exact). Multiplying exp(-a^2/2)
    # by G instead costs a rounding per product, and more where |expm1(r)|
    # is large. (scale is 1 except for a > 11.7.)
    log_head, log_rest = _head_and_rest_near_far(coefficients["LG"], coefficients["LM"], s,
                                                 near, upper)
    log_sum = log_head + log_rest  # |rest| < |head|: its error is exact below
    log_sum_lo = (log_head - log_sum) + log_rest
    exponent, exponent_err = two_sum(-0.5 * square, log_sum)
    exponent_lo = exponent_err + (-0.5 * square_lo + log_sum_lo)
    m_value, r_value, scale_value = exp_reduced(exponent, exponent_lo)
    w_value = _expm1_short(r_value)
    tail = (m_value + m_value * w_value) * scale_value  # Q near 0, a Q beyond 3
    scaled_x = x * m_value
    y_near = jnp.where(negative, scaled_x + scaled_x * w_value, x * (1 - tail))
    y = jnp.where(near, y_near, jnp.where(negative, -tail, x - tail))
    small = a <= _SERIES_SWITCH
    x_small = jnp.where(small, x, 0)
    series = horner(_cdf_series_coefficients(x.dtype), x_small * x_small)
    y = jnp.where(small, x_small * (0.5 + x_small * series), y)

    # Derivative Phi(x) + x phi(x) = -e T(a) below 0 and 1 + e T(a) above.
    # T vanishes at a0 (gelu' has its zero at -a0), so it is (a - a0) P(a),
    # with a - a0 = (a - hi) - lo: a - hi is exact near a0 (Sterbenz), and
    # lo's product joins the small terms, so the result keeps its relative
    # accuracy right through the zero. (opaque: XLA would fold a - hi - lo
    # into a - (hi + lo), rounded.)
    zero_hi, zero_lo = _pair(_T_ZERO, x.dtype)
    distance = a - opaque(zero_hi, x.dtype)
    # Far out T = a W(u), in the same loop as P.
    p_head, p_rest = _head_and_rest_near_far(coefficients["T"], coefficients["W"], s, near,
                                             upper)
    factor = jnp.where(near, distance, clamped)
    t_head = factor * p_head
    t_rest = factor * p_rest - jnp.where(near, zero_lo, 0.0).astype(x.dtype) * (p_head + p_rest)
    scaled_t = _times_exp(t_head, t_rest, m, w) * scale
    dy = jnp.where(negative, -scaled_t, 1 + scaled_t)
    return y, dy


# log sqrt(2 pi) as a float64 pair hi + lo (mpmath, 40 digits).
_LOG_SQRT_2PI = (0.9189385332046728, -3.8782941580672414e-17)


@jax.custom_jvp
def _scaled_density(x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(p, scale) with the normal density phi(x) = scale p, for the higher derivatives.

    phi = exp(-x^2/2 - log sqrt(2 pi)), one exp of an exponent carried in two
    parts (the exact square, the constant's head and rest), so that p =
    m + m expm1(r) rounds once (rounding x^2 would cost x^2/2 half-ULPs).
    scale is exp_reduced's power of 2 (1, or tiny far out), and p stays
    normal wherever phi x^3 is, so the products of the polynomial factors
    of gelu'' and gelu''' round as any normal product and scale multiplies
    last, exactly. The rule phi' = -x phi keeps every higher derivative off
    the exp's own arithmetic.
    """
    dtype = x.dtype
    a = jnp.minimum(jnp.abs(x), _ERF_CLAMP)  # jnp.minimum keeps NaN
    halves = _halves(a)
    square = a * a
    square_lo = _product_error(halves, halves, square)
    log_hi, log_lo = _pair(_LOG_SQRT_2PI, dtype)
    # (opaque: XLA would fold the constant out of two_sum's error term.)
    exponent, exponent_err = two_sum(-0.5 * square, opaque(-log_hi, dtype))
    m, r, scale = exp_reduced(exponent, exponent_err + (-0.5 * square_lo - log_lo))
    return m + m * expm1_reduced(r), scale


@_scaled_density.defjvp
def _scaled_density_jvp(primals, tangents):
    (x,), (x_dot,) = primals, tangents
    p, scale = _scaled_density(x)
    # Clamped as in the primal: beyond it p = 0, and inf * 0 would be NaN.
    slope = -jnp.clip(x, -_ERF_CLAMP, _ERF_CLAMP) * p
    return (p, scale), (slope * x_dot, jnp.zeros_like(scale))


def _gelu_erf_second_and_third(x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(gelu'', gelu''') = (phi(x) (2 - x^2), x phi(x) (x^2 - 4)) of the exact form."""
    p, scale = _scaled_density(x)
    # Clamped where p = 0: inf^2 times 0 would be NaN.
    clamped = jnp.clip(x, -_ERF_CLAMP, _ERF_CLAMP)
    square = clamped * clamped
    return (p * (2 - square)) * scale, (p * (clamped * (square - 4))) * scale


# gelu's result is strongly typed, as jax.nn.gelu's is.
_gelu_erf = unary_activation(
    _gelu_erf_and_derivative, second_derivative=_second_derivative(_gelu_erf_second_and_third),
    eager_chunk=4, weak_as_inputs=False, flush_on_cpu=False)


# --------------------------------------------------------------------------
# tanh form


def _upper_half_constant(value: float, dtype) -> float:
    """upper_half of a Python float in ``dtype``, as a Python float."""
    mask, uint = upper_half_mask(dtype)
    return float((np.asarray(value, dtype).view(uint) & uint.type(mask)).view(dtype))


def _exact_cubic_head(square, square_lo, d_hi: float, d_lo: float):
    """(cubic, cubic_lo) with cubic + cubic_lo = D x^2 (x^2 = square + square_lo)
    and cubic an exact product of two half-width numbers; for float64.

    Why: XLA's CPU backend does not copy an expensive op such as exp into
    several consumers, so exp(-|v|), shared by the value and the derivative,
    may get a fusion of its own that recomputes v = x (C + D x^2), while each
    consumer recomputes v and its error v_lo. And LLVM contracts a multiply
    into the add that reads it (one FMA, one rounding) where the product has
    no other use: in the exp's fusion C + D x^2 becomes an FMA, in the
    consumers' (whose error terms also read D x^2) it stays two roundings.
    The two v then differ by an ULP or two, and v_lo, the error of the
    consumers' v, corrects a v that exp never saw; exp turns an error in v
    into the same relative error of its result, |v| (up to 700) ULPs per
    ULP of v. With D x^2's head an exact product, an FMA and a separate
    multiply and add round C + D x^2 alike, and every fusion computes the
    same v; the rest never reaches exp and may contract freely. (float32
    keeps its arithmetic: its exp is jaxact's own, plain arithmetic that
    every fusion recomputes together with v, so no fusion reads a v rounded
    elsewhere.)
    """
    d_head = _upper_half_constant(d_hi, square.dtype)
    d_rest = d_hi - d_head  # exact: at most 27 significant bits
    square_head = upper_half(square)
    square_rest = square - square_head  # exact
    cubic = d_head * square_head  # 26 x 26 bits: exact
    # d_head * square_rest and d_rest * square_head are exact (at most 53
    # bits); their sum rounds by at most 2^-77 of cubic, the remaining terms
    # (2^-50 of cubic and below) by far less.
    cubic_lo = (d_head * square_rest + d_rest * square_head) + (
        d_rest * square_rest + (d_lo * square + d_hi * square_lo)
    )
    return cubic, cubic_lo


def _constant_halves(value: float, dtype) -> tuple[float, float]:
    """_halves of a Python float rounded to ``dtype``, as Python floats."""
    hi = _upper_half_constant(value, dtype)
    return hi, float(np.asarray(value, dtype)) - hi


# exp(-v) for the tanh form as 2^-32 m exp(r), m = 2^(n + 32) for float32:
# a fixed scale in place of exp_reduced's selected one. v <= 1968 (|x| <= 30);
# clamped at v = 109, n >= -157 and m stays normal, and every result built on
# it (at most 30 e^-109 = 2^-152.4) rounds to 0 below the clamp, as the true
# one does; above it x m, e and the bracket times m are exact or rounded as
# with scale 1, and the final product by 2^-32 is exact wherever the result is
# normal.
_APPROX_EXP_RAISE = 32
_APPROX_EXP_LOWEST = -109.0


@jax.custom_jvp
def _exp_of_minus(v: jax.Array, v_lo: jax.Array):
    """(m, r, scale) with exp(-(v + v_lo)) = scale m exp(r), for v >= 0: float32
    as above (scale a Python float), float64 by exp_reduced."""
    if v.dtype != jnp.float32:
        return exp_reduced(-v, -v_lo)
    n, r, n_bits = _reduce(jnp.maximum(-v, _APPROX_EXP_LOWEST))  # keeps NaN
    m = jax.lax.bitcast_convert_type((n_bits + _APPROX_EXP_RAISE) << 23, jnp.float32)
    return m, r - v_lo, 2.0**-_APPROX_EXP_RAISE


@_exp_of_minus.defjvp
def _exp_of_minus_jvp(primals, tangents):
    # As exp_reduced's: m and scale are constant, r carries the tangent.
    (v, v_lo), (v_dot, v_lo_dot) = primals, tangents
    m, r, scale = _exp_of_minus(v, v_lo)
    zero = jnp.zeros_like(m)
    scale_dot = zero if isinstance(scale, float) else jnp.zeros_like(scale)
    return (m, r, scale), (zero, -(v_dot + v_lo_dot), scale_dot)


def _approx_exponent(a: jax.Array):
    """(a_halves, cubic, cubic_lo, v, v_lo): the tanh form's v = a (C + D a^2)
    as v + v_lo, for a = |x| clamped, with D a^2 = cubic + cubic_lo.

    Each product and sum keeps its rounding error: exp(-v) multiplies an
    absolute error of v by v.
    """
    dtype = a.dtype
    c_hi, c_lo = _pair(_APPROX_C, dtype)
    d_hi, d_lo = _pair(_APPROX_D, dtype)
    a_halves = _halves(a)
    square = a * a
    square_lo = _product_error(a_halves, a_halves, square)
    if dtype == jnp.float32:
        d = jnp.asarray(d_hi, dtype)
        cubic = d * square
        cubic_lo = _product_error(_constant_halves(d_hi, dtype), _halves(square), cubic) + (
            d_lo * square + d_hi * square_lo)
    else:
        cubic, cubic_lo = _exact_cubic_head(square, square_lo, d_hi, d_lo)
    slope, slope_err = two_sum(opaque(c_hi, dtype), cubic)
    slope_lo = slope_err + (cubic_lo + c_lo)
    v = a * slope
    v_lo = _product_error(a_halves, _halves(slope), v) + a * slope_lo
    return a_halves, cubic, cubic_lo, v, v_lo


@jax.jit
def _gelu_tanh_and_derivative(x: jax.Array):
    dtype = x.dtype
    # On a = |x| (v is odd in x): no select of the exponent's sign.
    a = jnp.minimum(jnp.abs(x), _APPROX_CLAMP)  # jnp.minimum keeps NaN
    a_halves, cubic, cubic_lo, v, v_lo = _approx_exponent(a)
    negative = x < 0
    # e = exp(-v) = scale m exp(r), in (0, 1].
    m, r, scale = _exp_of_minus(v, v_lo)

    # Value x sigma(+-v), e = exp(-v) = scale m exp(r): sigma(v) =
    # 1 / ((1 + m) + m expm1(r)) above 0, and sigma(-v) = e / (1 + e) =
    # m / ((1 + m) + expm1(-r)) below (numerator and denominator divided by
    # exp(r)), each m taken times scale. Either way x m is exact and the
    # denominator rounds once: 1 + m is exact (m is a power of 2) except
    # where m < 2^-23, and then the sum is taken the other way round. One
    # division serves both signs; above 30, where the denominator is 1, the
    # numerator x keeps +inf, and below -30 -a m rounds to -0.
    # (opaque 1: XLA would reassociate (1 + a) + b into (a + b) + 1.)
    one = opaque(1.0, dtype)
    w_signed = _expm1_short(jnp.where(negative, -r, r))
    tail = jnp.where(negative, w_signed, (m * w_signed) * scale)
    small_m = m * scale < 2.0**-23
    denominator = jnp.where(small_m, one + (tail + m * scale), (one + m * scale) + tail)
    numerator = jnp.where(negative, -(a * m), x)
    y = (numerator / denominator) * jnp.where(negative, scale, one)

    # Derivative sigma(v) (1 + x v' sigma(-v)) with v' = C + 3 D x^2, from
    # e = exp(-v): ((1 + e) + a v' e) / (1 + e)^2 above 0 (all terms
    # positive) and e ((1 + e) - a v') / (1 + e)^2 below, which cancels at its
    # zero x0; on [-1.5, 0] it is (x - x0) P(x) instead, as for the exact
    # form. Below -1.5, (1 + e) - a v' cancels by at most a factor 1.5, and
    # a v' = v + 2 a (D a^2) reuses v's two parts: 1 - v is exact there
    # (v > 2.6), and with the rounding error of the sum carried along, the
    # bracket rounds once more. The product 2 a (D a^2) rounds with no error
    # term: it is at most 2/3 of the bracket, so it costs under a half-ULP of
    # it, where the error of v needs its two parts (e turns it into a
    # relative error of the result of v times its size).
    w = _expm1_short(r)
    e = (m + m * w) * scale
    q = jnp.where(small_m, one + e, (one + m * scale) + (m * w) * scale)
    cubic_term = a * cubic
    cubic_term_lo = a * cubic_lo
    if dtype != jnp.float32:
        # float64 keeps the product's error term: its other roundings (XLA's
        # exp, the rounded m) already take most of its bound.
        cubic_term_lo = cubic_term_lo + _product_error(a_halves, _halves(cubic), cubic_term)
    bracket, bracket_err = two_sum(one - v, -2 * cubic_term)
    bracket_rest = bracket_err + (e - (v_lo + 2 * cubic_term_lo))
    scaled_slope = (v + 2 * cubic_term) + (v_lo + 2 * cubic_term_lo)
    dy_far = jnp.where(
        negative,
        _times_exp(bracket, bracket_rest, m, w) * scale,
        q + scaled_slope * e,
    ) / square_of_one_plus(e)
    # x = 0 (either sign) takes the far form, which is exactly 1/2 there
    # (v = 0, e = 1: 2 / 4): the fitted piece is 1/2 only to within its
    # rounding, which a fused multiply-add decides.
    in_root = (x >= _APPROX_ROOT_LOW) & (x < 0)
    near = jnp.where(in_root, x, _APPROX_ROOT_CENTER)
    zero_hi, zero_lo = _pair(_APPROX_ZERO, dtype)
    distance = near - opaque(zero_hi, dtype)
    p_head, p_rest = _head_and_rest(_coefficients(dtype)["root"], near - _APPROX_ROOT_CENTER)
    dy_root = distance * p_head + (distance * p_rest - zero_lo * (p_head + p_rest))
    dy = jnp.where(in_root, dy_root, dy_far)
    return y, dy


def _approx_slope(x: jax.Array) -> jax.Array:
    """v' = C + 3 D x^2, the slope of the tanh form's v, on x clamped as v is."""
    clamped = jnp.clip(x, -_APPROX_CLAMP, _APPROX_CLAMP)  # keeps NaN
    return _APPROX_C[0] + (3 * _APPROX_D[0]) * (clamped * clamped)


@jax.custom_jvp
def _approx_sech(x: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """(s, scale, t) with sigma'(v) = sech^2(v/2) / 4 = scale s and t = tanh(v/2),
    v the tanh form's v(x), for the higher derivatives.

    s = e / (1 + e)^2 from e = exp(-|v|) with v in two parts, as in the value
    kernel (1 - t^2 would cancel for large |x|, and exp of a rounded v would
    turn v's rounding into a relative error of s times |v|). As in
    _scaled_density, scale is exp_reduced's power of 2 and s stays normal
    wherever sigma'(v) x v'^3 is. t is jaxact's tanh of (v + v_lo) / 2
    rounded (v alone is far coarser in float64), a rounding to which it is
    insensitive: tanh's relative condition number u sech^2(u) / tanh(u) is
    below 1. The rule, sigma''(v) = -sigma'(v) t and tanh'(v/2) =
    2 sigma'(v), keeps every higher derivative off the exp's own arithmetic.
    """
    a = jnp.minimum(jnp.abs(x), _APPROX_CLAMP)  # jnp.minimum keeps NaN
    _, _, _, v, v_lo = _approx_exponent(a)
    m, r, scale = exp_reduced(-v, -v_lo)
    e = m + m * expm1_reduced(r)
    s = e / square_of_one_plus(e * scale)
    t = jnp.copysign(_tanh_and_derivative(0.5 * (v + v_lo))[0], x)
    return s, scale, t


@_approx_sech.defjvp
def _approx_sech_jvp(primals, tangents):
    (x,), (x_dot,) = primals, tangents
    s, scale, t = _approx_sech(x)
    slope = _approx_slope(x)
    s_dot = -((s * t) * slope) * x_dot
    t_dot = (2 * (s * scale) * slope) * x_dot
    return (s, scale, t), (s_dot, jnp.zeros_like(scale), t_dot)


def _gelu_tanh_second_and_third(x: jax.Array) -> tuple[jax.Array, jax.Array]:
    """The tanh form's f'' and f''', from s, t of _approx_sech and polynomials.

    With f = x sigma(v), f' = sigma(v) + x v' sigma'(v), sigma'' = -sigma' t,
    t' = 2 sigma' v' and v'' = 6 D x:
      f''  = sigma' (2 v' + x v'' - x v'^2 t)
           = sigma' ((2 C + 12 D x^2) - x v'^2 t),
      f''' = sigma' (24 D x - t v' ((3 C + 27 D x^2) - x v'^2 t)) - 2 x v'^3 sigma'^2,
    each bracket with its one cancellation (through the zero of f'' or f''')
    in a single subtraction. The last term is below sigma''s rounding
    wherever scale is not 1.
    """
    s, scale, t = _approx_sech(x)
    clamped = jnp.clip(x, -_APPROX_CLAMP, _APPROX_CLAMP)  # where s = 0: no inf * 0
    square = clamped * clamped
    slope = _approx_slope(x)
    c, d = _APPROX_C[0], _APPROX_D[0]
    slope_term = clamped * (slope * slope) * t  # x v'^2 t
    second = s * ((2 * c + (12 * d) * square) - slope_term)
    inner = (3 * c + (27 * d) * square) - slope_term
    third = s * ((24 * d) * clamped - (t * slope) * inner) - (
        2 * clamped * (slope * slope * slope)) * (s * (s * scale))
    return second * scale, third * scale


_gelu_tanh = unary_activation(
    _gelu_tanh_and_derivative, second_derivative=_second_derivative(_gelu_tanh_second_and_third),
    eager_chunk=4, weak_as_inputs=False, flush_on_cpu=False)


def _static_flag(approximate) -> bool:
    """``approximate`` as a Python bool, decided while tracing as jax.nn does.

    jax.nn.gelu takes any value's truth; strings are refused here because
    PyTorch's ``approximate="none"`` would be true and silently pick the tanh
    form, and traced values because the choice changes the computation.
    """
    if isinstance(approximate, jax.core.Tracer):
        raise TypeError(
            "jaxact.gelu: approximate must be a static Python bool, got a traced value "
            "(mark it static in jax.jit)"
        )
    if isinstance(approximate, (str, bytes)):
        raise TypeError(
            f"jaxact.gelu: approximate must be a bool, got the string {approximate!r} "
            "(PyTorch's 'tanh' is approximate=True, 'none' is approximate=False)"
        )
    try:
        return bool(approximate)
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"jaxact.gelu: approximate must be a bool, got {type(approximate).__name__}"
        ) from err


def gelu(x: ArrayLike, approximate: bool = True) -> jax.Array:
    r"""Gaussian error linear unit.

    .. math::
        \mathrm{gelu}(x) = x\,\Phi(x) = \frac{x}{2}\,\mathrm{erfc}\!\left(\frac{-x}{\sqrt 2}\right)

    or, with ``approximate=True`` (the default, as in ``jax.nn``),

    .. math::
        \mathrm{gelu}(x) = \frac{x}{2}\left(1 + \tanh\!\left(\sqrt{2/\pi}\,
            (x + 0.044715\,x^3)\right)\right) = x\,\sigma(2u),\quad
            u = \sqrt{2/\pi}\,(x + 0.044715\,x^3)

    Args:
        x: input array or number. Integer and bool inputs promote to the
            default float dtype.
        approximate: whether to use the tanh form; a static Python bool
            (any value with a truth value, as in ``jax.nn``, except strings
            and traced values, which raise ``TypeError``).

    Returns:
        An array of the same shape and floating dtype as ``x``.

    Derivative: :math:`\Phi(x) + x\,\phi(x)`, and for the tanh form
    :math:`\sigma(2u)\,(1 + 2x\,u'(x)\,\sigma(-2u))`. Both are smooth, with
    no kink (``gelu'(0) = 1/2``, as ``jax.grad(jax.nn.gelu)``), and each has
    one zero, near x = -0.75, through which it keeps its relative accuracy.
    Second and third derivatives (``jax.hessian``, nested ``jax.grad``) have
    closed forms of their own, :math:`\phi(x)\,(2 - x^2)` and
    :math:`x\,\phi(x)\,(x^2 - 4)` for the exact form, and in
    :math:`\sigma'(2u)` and :math:`\tanh u` for the tanh form, each computed
    from an accurately rounded density (not autodiff of the derivative's
    kernel).

    The exact form is built on :math:`\Phi(-|x|) = e^{-x^2/2}\,G(|x|)` with
    :math:`x^2` carried exactly and G fitted, not on ``erfc`` of a rounded
    argument (whose error grows as x^2/2 half-ULPs): ``jax.nn.gelu`` with
    ``approximate=False`` returns 0 below x = -13.0 where the result is
    still a normal float32. The tanh form is :math:`x\,\sigma(2u)` with 2u
    carried in two parts (:math:`e^{2u}` multiplies its error by :math:`|2u|`);
    ``jax.nn``'s ``1 + tanh`` cancels to 0 below x = -7.9.

    Accuracy: float32 value within 2.5 ULP and derivative within 4 ULP
    wherever the true result is a normal float32 (the tanh form against its
    own formula), half precision the float32 result rounded once (:doc:`/accuracy`).

    Limits: ``gelu(inf) = inf`` (derivative 1), ``gelu(-inf) = -0.0``
    (derivative 0); NaN gives NaN.

    Example:
        >>> import jax
        >>> import jax.numpy as jnp
        >>> import jaxact
        >>> jaxact.gelu(jnp.array([-1.0, 0.0, 1.0]), approximate=False)
        Array([-0.15865526,  0.        ,  0.8413447 ], dtype=float32)
        >>> float(jaxact.gelu(-8.0))  # jax.nn.gelu gives -0.0
        -3.1077828e-21
        >>> float(jax.grad(jaxact.gelu)(0.0))
        0.5

    See also: :func:`sigmoid`, :func:`tanh`.

    References: Hendrycks and Gimpel, "Gaussian Error Linear Units (GELUs)", 2016.
    """
    x = as_float_array("gelu", x)
    if _static_flag(approximate):
        return _gelu_tanh(x)
    return _gelu_erf(x)
