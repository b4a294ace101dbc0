"""Float64 references of the elementwise activations and their derivatives.

One set, shared by ``tests/test_accuracy.py`` (in numpy) and the ``make accuracy``
harness (in XLA, for speed). Each ``ref_NAME(xp, x)`` is written against an
array module ``xp`` (``numpy`` or ``jax.numpy``) and returns
``{"f": value, "f'": derivative in x}``, plus ``"df/dalpha"`` for a function
with a parameter alpha. The argument ``x`` is float64.

Each is accurate to a few float64 ULPs, about 2^-29 float32 ULPs: none
subtracts nearly equal numbers, and the only transcendental calls are exp,
expm1 and log1p at arguments where they are well conditioned. The harness
checks XLA's float64 versions against numpy's libm
(``benchmarks.accuracy.reference_self_check``).
"""

from __future__ import annotations

# jax.nn.leaky_relu's default slope; the float32 rounding of 0.01 is part of
# what the float32 results are judged on.
LEAKY_SLOPE = 0.01


def logistic_terms(xp, x):
    """(sigma(x), sigma(-x), log(1 + exp(-|x|))), each to a few float64 ULPs."""
    # e = exp(-|x|) lies in (0, 1]: it never overflows, and 1 + e lies in
    # [1, 2], so sigma(|x|) = 1 / (1 + e) and sigma(-|x|) = e / (1 + e) carry
    # only the rounding of e, of the sum and of the quotient.
    e = xp.exp(-xp.abs(x))
    sig_abs = 1 / (1 + e)
    sig_neg_abs = e * sig_abs
    sig = xp.where(x >= 0, sig_abs, sig_neg_abs)
    sig_of_neg = xp.where(x >= 0, sig_neg_abs, sig_abs)
    # log(1 + e) through log1p: log(1 + e) formed directly would lose e's
    # digits below float64's eps for large |x|.
    return sig, sig_of_neg, xp.log1p(e)


def ref_sigmoid(xp, x):
    sig, sig_of_neg, _ = logistic_terms(xp, x)
    # sigma'(x) = sigma(x) sigma(-x): a product of two accurate factors.
    return {"f": sig, "f'": sig * sig_of_neg}


def ref_tanh(xp, x):
    # tanh(|x|) = -m / (2 + m) with m = expm1(-2|x|) in [-1, 0]: expm1 keeps
    # m's relative accuracy near 0 (where tanh x ~ x), 2 + m lies in [1, 2].
    m = xp.expm1(-2 * xp.abs(x))
    value = xp.where(x < 0, m / (2 + m), -m / (2 + m))
    # sech^2(x) = 4 e / (1 + e)^2 with e = exp(-2|x|) in (0, 1]: no 1 - tanh^2.
    e = xp.exp(-2 * xp.abs(x))
    return {"f": value, "f'": 4 * e / ((1 + e) * (1 + e))}


def ref_relu(xp, x):
    # jax.nn's convention at the kink: relu'(0) = 0.
    return {"f": xp.maximum(x, 0), "f'": xp.where(x > 0, 1.0, 0.0)}


def ref_leaky_relu(xp, x, negative_slope=LEAKY_SLOPE):
    return {
        "f": xp.where(x >= 0, x, negative_slope * x),
        "f'": xp.where(x >= 0, 1.0, negative_slope),
    }


def ref_elu(xp, x, alpha=1.0):
    # expm1 and exp of x <= 0 only (x > 0 is the identity): expm1 keeps the
    # relative accuracy of e^x - 1 near 0, and e^x is computed directly rather
    # than as expm1(x) + 1, which would lose e^x entirely below -37.
    negative = xp.minimum(x, 0)
    expm1 = xp.expm1(negative)
    return {
        "f": xp.where(x > 0, x, alpha * expm1),
        "f'": xp.where(x > 0, 1.0, alpha * xp.exp(negative)),
        "df/dalpha": xp.where(x > 0, 0.0, expm1),
    }


def ref_softplus(xp, x):
    sig, _, log1p_e = logistic_terms(xp, x)
    # max(x, 0) + log1p(e^-|x|): both terms are >= 0, so the sum cannot cancel.
    return {"f": xp.maximum(x, 0) + log1p_e, "f'": sig}


def ref_log_sigmoid(xp, x):
    _, sig_of_neg, log1p_e = logistic_terms(xp, x)
    # min(x, 0) - log1p(e^-|x|): both terms are <= 0, no cancellation.
    return {"f": xp.minimum(x, 0) - log1p_e, "f'": sig_of_neg}


def ref_generalized_logistic(xp, x, alpha):
    _, sig_of_neg, log1p_e = logistic_terms(xp, x)
    log_sig = xp.minimum(x, 0) - log1p_e
    # y = exp(alpha log sigma(x)). The exponent's absolute error is a few
    # float64 ULPs of |alpha log sigma| <= 104 wherever y is a float32
    # (normal or subnormal), so y's relative error stays below 2^-44.
    value = xp.exp(alpha * log_sig)
    # d/dalpha = y log sigma(x); its limit at x = -inf is 0 (y -> 0 much
    # faster than log sigma -> -inf), where the product would be 0 * inf.
    d_alpha = xp.where(value == 0, 0.0, value * log_sig)
    return {"f": value, "f'": alpha * value * sig_of_neg, "df/dalpha": d_alpha}
