"""Refits the float32 polynomial coefficients hard-coded in jaxact/_src/numerics.py
and jaxact/_src/hyperbolic.py.

    python -m benchmarks.fit

Each fit is a weighted minimax (Lawson's iteration: least squares whose
weights are multiplied by the error at each step) on Chebyshev nodes, with
the target and the weights evaluated in mpmath at 40 digits, so that the
printed error is the error of the approximation alone, before float32
rounding. The weights make the error relative to the quantity the caller
rounds in the end (exp(r) for exp, tanh(a) for tanh's series), which is what
ULPs measure.
"""

from __future__ import annotations

import argparse

import mpmath
import numpy as np

NODES = 400
ITERATIONS = 500


def lawson(basis, target, nodes):
    """Coefficients c minimising max_k |sum_j c_j basis(x_k)[j] - target(x_k)|."""
    design = np.array([[float(v) for v in basis(x)] for x in nodes])
    values = np.array([float(target(x)) for x in nodes])
    weights = np.ones(len(nodes))
    for _ in range(ITERATIONS):
        root = np.sqrt(weights)
        coefficients, *_ = np.linalg.lstsq(design * root[:, None], values * root, rcond=None)
        error = np.abs(design @ coefficients - values)
        weights = weights * error
        weights = weights / weights.sum()
    return tuple(float(c) for c in coefficients), float(error.max())


def chebyshev_nodes(low, high):
    mid, half = (low + high) / 2, (high - low) / 2
    return [mid + half * mpmath.cos(mpmath.pi * (k + 0.5) / NODES) for k in range(NODES)]


def fit_exp(num_coefficients: int):
    """P in exp(r) = 1 + r + r^2 P(r) on |r| <= ln(2)/2, error relative to exp(r)."""
    bound = mpmath.log(2) / 2 + mpmath.mpf("1e-3")  # a little margin past ln(2)/2
    nodes = [r for r in chebyshev_nodes(-bound, bound) if r != 0]
    # Both sides divided by exp(r): the fit minimises the relative error of exp.
    return lawson(
        lambda r: [r ** (j + 2) / mpmath.exp(r) for j in range(num_coefficients)],
        lambda r: (mpmath.exp(r) - 1 - r) / mpmath.exp(r),
        nodes,
    )


def fit_tanh(num_coefficients: int, switch: float):
    """R in tanh(a) = a + a^3 R(a^2) on 0 < a <= switch, error relative to tanh(a)."""
    nodes = [a for a in chebyshev_nodes(0, mpmath.mpf(switch)) if a > mpmath.mpf("1e-6")]
    return lawson(
        lambda a: [a ** (2 * j + 3) / mpmath.tanh(a) for j in range(num_coefficients)],
        lambda a: (mpmath.tanh(a) - a) / mpmath.tanh(a),
        nodes,
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    mpmath.mp.dps = 40
    half_ulp = 2.0**-24  # float32's relative rounding error, in the units printed below
    fits = {
        "_EXP_COEFFICIENTS (exp, 6 terms)": fit_exp(6),
        "_EXP_SHORT_COEFFICIENTS (exp, 5 terms)": fit_exp(5),
        "_TANH_SERIES_FLOAT32 (tanh for |x| < 0.55, 5 terms)": fit_tanh(5, 0.55),
    }
    for name, (coefficients, error) in fits.items():
        print(f"{name}: max relative error {error:.3g} = {error / half_ulp:.3g} half-ULPs")
        print(f"    {coefficients}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
