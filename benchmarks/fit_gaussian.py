"""Refits the polynomial coefficients hard-coded in jaxact/_src/gaussian.py.

    python -m benchmarks.fit_gaussian [--dtype float32|float64] [--only NAME]
                                        [--terms N ...]

With no --terms, each polynomial is fitted with the number of terms the
library uses (TERMS below) and printed as the library's _NAME_FLOAT32 /
_NAME_FLOAT64 tuple, with its fitted relative error.

float32: a weighted minimax (benchmarks.fit.lawson) on Chebyshev nodes with
the targets in mpmath at 40 digits, relative to the quantity each feeds.
float64: Chebyshev interpolation in mpmath (mpmath.chebyfit), which is within
a small factor of minimax and needs no float64 least squares (whose own
rounding, 1e-16, is the size of the error sought).

The functions of a = |x| (Q(a) = Phi(-a), the normal upper tail):
log G(a), G(a) = exp(a^2/2) Q(a), on [0, MIDDLE] (LG1) and [MIDDLE, SWITCH]
(LG2); log M(u), M = a G(a) with u = 1/a^2, beyond SWITCH (LM);
T(a) = a/sqrt(2 pi) - G(a) = (a - a0) P(a) on the same two pieces (T1, T2;
a0 its zero); W(u) = T(a)/a beyond; and the tanh form's derivative,
(x - x0) P(x) on [-1.5, 0].
"""

from __future__ import annotations

import argparse

import mpmath

from benchmarks.fit import chebyshev_nodes, lawson

# Keep in step with jaxact/_src/gaussian.py.
SWITCH = 3.0
MIDDLE = 1.5
U_CENTER = 1 / (2 * SWITCH**2)
APPROX_ROOT_LOW, APPROX_ROOT_HIGH = -1.5, 0.0
APPROX_C = "0.044715"  # the decimal, exactly
# Terms per polynomial as in the library: (float32, float64). The two pieces
# of G and of T share a length (their coefficients are selected per element).
TERMS = {"LG1": (8, 18), "LG2": (8, 18), "LM": (9, 25), "T1": (10, 18), "T2": (10, 18),
         "W": (8, 25), "APPROX_ROOT": (11, 24)}


def upper_tail(a):
    return mpmath.erfc(a / mpmath.sqrt(2)) / 2


def g_function(a):
    return mpmath.exp(a * a / 2) * upper_tail(a)


def log_g(a):
    return mpmath.log(g_function(a))


def log_m_of_u(u):
    return mpmath.log(m_of_u(u))


def m_of_u(u):
    if u == 0:  # the limit: a Q(a) ~ phi(a)
        return 1 / mpmath.sqrt(2 * mpmath.pi)
    a = 1 / mpmath.sqrt(u)
    return a * g_function(a)


def t_function(a):
    return a / mpmath.sqrt(2 * mpmath.pi) - g_function(a)


def root_of(f, guess):
    return mpmath.findroot(f, guess)


def w_of_u(u):
    if u == 0:  # the limit: G(a) / a -> 0
        return 1 / mpmath.sqrt(2 * mpmath.pi)
    a = 1 / mpmath.sqrt(u)
    return t_function(a) / a


def approx_derivative(x):
    """d/dx of x sigma(v), v = 2 sqrt(2/pi) (x + c x^3)."""
    c = mpmath.mpf(APPROX_C)
    k = 2 * mpmath.sqrt(2 / mpmath.pi)
    v = k * (x + c * x**3)
    dv = k * (1 + 3 * c * x**2)
    sig = 1 / (1 + mpmath.exp(-v))
    return sig + x * dv * sig * (1 - sig)


def problems():
    """name -> (target(t), low, high, shift, zero) with the argument t - shift.

    ``zero`` is a root r of the quantity: the fit is then of quantity/(t - r).
    """
    a0 = root_of(t_function, 0.75)
    x0 = root_of(approx_derivative, -0.75)
    return {
        "LG1": (log_g, 0, MIDDLE, MIDDLE / 2, None),
        "LG2": (log_g, MIDDLE, SWITCH, (MIDDLE + SWITCH) / 2, None),
        "LM": (log_m_of_u, 0, 1 / SWITCH**2, U_CENTER, None),
        "T1": (t_function, 0, MIDDLE, MIDDLE / 2, a0),
        "T2": (t_function, MIDDLE, SWITCH, (MIDDLE + SWITCH) / 2, a0),
        "W": (w_of_u, 0, 1 / SWITCH**2, U_CENTER, None),
        "APPROX_ROOT": (approx_derivative, APPROX_ROOT_LOW, APPROX_ROOT_HIGH,
                        (APPROX_ROOT_LOW + APPROX_ROOT_HIGH) / 2, x0),
    }, {"a0": a0, "x0": x0}


def fit_float32(target, low, high, shift, zero, num_coefficients):
    low, high = mpmath.mpf(low), mpmath.mpf(high)
    nodes = [t for t in chebyshev_nodes(low, high)]

    def quotient(t):
        value = target(t)
        return value if zero is None else value / (t - zero)

    return lawson(
        lambda t: [(t - shift) ** j / quotient(t) for j in range(num_coefficients)],
        lambda t: mpmath.mpf(1),
        nodes,
    )


def fit_float64(target, low, high, shift, zero, num_coefficients):
    low, high = mpmath.mpf(low), mpmath.mpf(high)

    def quotient(s):
        t = s + shift
        if zero is not None and abs(t - zero) < mpmath.mpf("1e-20"):
            t = zero + mpmath.mpf("1e-20")
        value = target(t)
        return value if zero is None else value / (t - zero)

    poly, err = mpmath.chebyfit(quotient, [low - shift, high - shift], num_coefficients,
                                error=True)
    # Relative error, sampled.
    worst = 0
    for k in range(401):
        s = low - shift + (high - low) * k / 400
        worst = max(worst, abs(mpmath.polyval(poly, s) / quotient(s) - 1))
    return tuple(float(c) for c in reversed(poly)), float(worst)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--only", default=None)
    parser.add_argument("--terms", type=int, nargs="*", default=None)
    args = parser.parse_args(argv)
    mpmath.mp.dps = 40
    table, roots = problems()
    for name, value in roots.items():
        hi = float(value)
        print(f"{name} = {hi!r} + {float(value - mpmath.mpf(hi))!r}")
    fit = fit_float32 if args.dtype == "float32" else fit_float64
    half_ulp = 2.0**-24 if args.dtype == "float32" else 2.0**-53
    for name, problem in table.items():
        if args.only and name != args.only:
            continue
        default = TERMS[name][0 if args.dtype == "float32" else 1]
        for terms in args.terms or [default]:
            coefficients, error = fit(*problem, terms)
            print(f"{name} {terms} terms: max relative error {error:.3g} = "
                  f"{error / half_ulp:.3g} half-ULPs")
            print(f"    _{name}_{args.dtype.upper()} = {coefficients}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
