"""Second and third derivatives of every elementwise function against mpmath,
in float32 and float64: at 0, at the kinks, at ±inf and NaN, at the extreme
magnitudes and at a few ordinary points.

References are exact derivatives, not finite differences: each function is
evaluated in mpmath on truncated Taylor series (jets) of order 3, so that
f, f', f'' and f''' come from one evaluation of the closed form at 50 digits,
at any magnitude (mpmath.diff's steps fail at 1e30 and beyond). A piecewise
function takes the piece that jaxact's (and jax.nn's) convention gives at a
kink; see KINK_CONVENTIONS.

Error unit: ULPs of the largest magnitude the derivative takes within 1 of
the point (or at the point). Where a derivative crosses 0 or is far below
its neighbours (sigmoid''(0) = 0, sigmoid''(1e-30) = -1.25e-31) autodiff of
a closed form can only be right to the rounding of the terms it subtracts;
in a tail (sigmoid''(-80) ~ e^-80) the neighbourhood scales with the value,
so the bound there is relative.
"""

from __future__ import annotations

import functools
import math
from fractions import Fraction

import jax
import jax.numpy as jnp
import mpmath
import numpy as np
import pytest

import jaxact
from harness import references

DIGITS = 50
ORDERS = (2, 3)
DTYPES = (np.float32, np.float64)


# --------------------------------------------------------------------------
# order-3 jets in mpmath


class Jet:
    """c_0 + c_1 h + c_2 h^2 + c_3 h^3: the Taylor coefficients of a
    function of x at a point, truncated after h^3 (f^(k) = k! c_k)."""

    def __init__(self, coefficients):
        self.c = [mpmath.mpf(v) for v in coefficients]

    @staticmethod
    def variable(x) -> Jet:
        return Jet([x, 1, 0, 0])

    @staticmethod
    def of(value) -> Jet:
        return value if isinstance(value, Jet) else Jet([value, 0, 0, 0])

    def derivatives(self) -> list:
        return [math.factorial(k) * c for k, c in enumerate(self.c)]

    def __add__(self, other):
        other = Jet.of(other)
        return Jet([a + b for a, b in zip(self.c, other.c, strict=True)])

    __radd__ = __add__

    def __neg__(self):
        return Jet([-a for a in self.c])

    def __sub__(self, other):
        return self + -Jet.of(other)

    def __rsub__(self, other):
        return Jet.of(other) - self

    def __mul__(self, other):
        a, b = self.c, Jet.of(other).c
        return Jet([sum(a[i] * b[k - i] for i in range(k + 1)) for k in range(4)])

    __rmul__ = __mul__

    def __truediv__(self, other):
        return self * Jet.of(other).reciprocal()

    def __rtruediv__(self, other):
        return Jet.of(other) * self.reciprocal()

    def reciprocal(self):
        u = self.c[0]
        return self.apply([1 / u, -1 / u**2, 2 / u**3, -6 / u**4])

    def apply(self, g) -> Jet:
        """g(self) from g's value and first three derivatives at c_0."""
        _, u1, u2, u3 = self.c
        # h = self - c_0; h^2 and h^3 truncated.
        one = [1, 0, 0, 0]
        h = [0, u1, u2, u3]
        h2 = [0, 0, u1 * u1, 2 * u1 * u2]
        h3 = [0, 0, 0, u1**3]
        return Jet([g[0] * one[k] + g[1] * h[k] + g[2] / 2 * h2[k] + g[3] / 6 * h3[k]
                    for k in range(4)])


def exp(u: Jet) -> Jet:
    e = mpmath.exp(u.c[0])
    return u.apply([e] * 4)


def expm1(u: Jet) -> Jet:
    e = mpmath.exp(u.c[0])
    return u.apply([mpmath.expm1(u.c[0]), e, e, e])


def log(u: Jet) -> Jet:
    v = u.c[0]
    return u.apply([mpmath.log(v), 1 / v, -1 / v**2, 2 / v**3])


def log1p(u: Jet) -> Jet:
    v = 1 + u.c[0]
    return u.apply([mpmath.log1p(u.c[0]), 1 / v, -1 / v**2, 2 / v**3])


def sqrt(u: Jet) -> Jet:
    s = mpmath.sqrt(u.c[0])
    return u.apply([s, 1 / (2 * s), -1 / (4 * s**3), 3 / (8 * s**5)])


def tanh(u: Jet) -> Jet:
    # sech^2 directly: 1 - tanh^2 would cancel for large arguments.
    t, s = mpmath.tanh(u.c[0]), mpmath.sech(u.c[0]) ** 2
    return u.apply([t, s, -2 * t * s, s * (4 * t * t - 2 * s)])


def erfc(u: Jet) -> Jet:
    v = u.c[0]
    d = -2 / mpmath.sqrt(mpmath.pi) * mpmath.exp(-v * v)
    return u.apply([mpmath.erfc(v), d, -2 * v * d, (4 * v * v - 2) * d])


def sigmoid(x: Jet) -> Jet:
    return 1 / (1 + exp(-x))


def softplus(x: Jet) -> Jet:
    # log(1 + e^x) = x + log(1 + e^-x): the chain rule's terms of the first
    # form cancel for large x, beyond the 50 digits.
    return log1p(exp(x)) if x.c[0] < 0 else x + log1p(exp(-x))


# --------------------------------------------------------------------------
# the functions: jaxact's, and the mpmath jet of the piece at the point


SELU_SCALE, SELU_ALPHA = references.SELU_SCALE, references.SELU_ALPHA


def _squareplus(x: Jet, b) -> Jet:
    r = sqrt(x * x + b)
    # For x < 0 the same number without the cancellation of x + r.
    return (x + r) / 2 if x.c[0] >= 0 else b / (2 * (r - x))


def _gelu_tanh(x: Jet) -> Jet:
    # The decimal constant read at the working precision: read at mpmath's
    # default 15 digits it is rounded as a float64, which moves v by C x^3
    # times that rounding, a relative error of every derivative in the
    # tail (e^-v) that float64 results resolve.
    c = mpmath.mpf(references.GELU_TANH_C_DECIMAL)
    v = 2 * mpmath.sqrt(2 / mpmath.pi) * (x + c * x * x * x)
    return x * sigmoid(v)


def _piece(x: Jet, pieces) -> Jet:
    """The first (condition on x_0, function) whose condition holds."""
    for condition, fn in pieces:
        if condition(x.c[0]):
            return Jet.of(fn(x))
    raise AssertionError("no piece")


# name: (jaxact function of x, mpmath jet function, kinks). Each piece
# includes its kinks as jaxact's convention says (KINK_CONVENTIONS).
FUNCTIONS = {
    "sigmoid": (jaxact.sigmoid, sigmoid, ()),
    "softplus": (jaxact.softplus, softplus, ()),
    "log_sigmoid": (jaxact.log_sigmoid, lambda x: -softplus(-x), ()),
    "generalized_logistic(alpha=0.5)": (
        functools.partial(jaxact.generalized_logistic, alpha=0.5),
        lambda x: exp(-0.5 * softplus(-x)), ()),
    "generalized_logistic(alpha=2)": (
        functools.partial(jaxact.generalized_logistic, alpha=2.0),
        lambda x: exp(-2 * softplus(-x)), ()),
    "generalized_logistic": (jaxact.generalized_logistic, sigmoid, ()),
    "silu": (jaxact.silu, lambda x: x * sigmoid(x), ()),
    "log1mexp": (jaxact.log1mexp, lambda x: log(-expm1(-x)), ()),
    "tanh": (jaxact.tanh, tanh, ()),
    "mish": (jaxact.mish, lambda x: x * tanh(softplus(x)), ()),
    "soft_sign": (jaxact.soft_sign, lambda x: _piece(x, [
        (lambda v: v >= 0, lambda x: x / (1 + x)),
        (lambda v: True, lambda x: x / (1 - x))]), (0.0,)),
    "squareplus": (jaxact.squareplus, lambda x: _squareplus(x, 4), ()),
    "squareplus(b=0.25)": (functools.partial(jaxact.squareplus, b=0.25),
                           lambda x: _squareplus(x, mpmath.mpf(0.25)), ()),
    "gelu": (jaxact.gelu, _gelu_tanh, ()),
    "gelu(approximate=False)": (
        functools.partial(jaxact.gelu, approximate=False), lambda x: _piece(x, [
        # Beyond 40, x (1 - Phi(40)) and its derivatives are below 1e-340
        # (and mpmath's erfc fails at 1e300).
        (lambda v: v > 40, lambda x: x), (lambda v: v < -40, lambda x: 0),
        (lambda v: True, lambda x: x * erfc(-x / mpmath.sqrt(2)) / 2)]), ()),
    "relu": (jaxact.relu, lambda x: _piece(x, [
        (lambda v: v > 0, lambda x: x), (lambda v: True, lambda x: 0)]), (0.0,)),
    "leaky_relu": (jaxact.leaky_relu, lambda x: _piece(x, [
        (lambda v: v >= 0, lambda x: x),
        (lambda v: True, lambda x: mpmath.mpf(0.01) * x)]), (0.0,)),
    "elu": (jaxact.elu, lambda x: _piece(x, [
        (lambda v: v > 0, lambda x: x), (lambda v: True, expm1)]), (0.0,)),
    "elu(alpha=0.5)": (functools.partial(jaxact.elu, alpha=0.5), lambda x: _piece(x, [
        (lambda v: v > 0, lambda x: x),
        (lambda v: True, lambda x: mpmath.mpf(0.5) * expm1(x))]), (0.0,)),
    "selu": (jaxact.selu, lambda x: SELU_SCALE * _piece(x, [
        (lambda v: v > 0, lambda x: x),
        (lambda v: True, lambda x: SELU_ALPHA * expm1(x))]), (0.0,)),
    "celu": (jaxact.celu, lambda x: _piece(x, [
        (lambda v: v > 0, lambda x: x), (lambda v: True, expm1)]), (0.0,)),
    "celu(alpha=0.5)": (functools.partial(jaxact.celu, alpha=0.5), lambda x: _piece(x, [
        (lambda v: v > 0, lambda x: x),
        (lambda v: True, lambda x: expm1(x / mpmath.mpf(0.5)) / 2)]), (0.0,)),
    "relu6": (jaxact.relu6, lambda x: _piece(x, [
        (lambda v: 0 < v < 6, lambda x: x), (lambda v: v >= 6, lambda x: 6),
        (lambda v: True, lambda x: 0)]), (0.0, 6.0)),
    "hard_sigmoid": (jaxact.hard_sigmoid, lambda x: _piece(x, [
        (lambda v: -3 < v < 3, lambda x: (x + 3) / 6), (lambda v: v >= 3, lambda x: 1),
        (lambda v: True, lambda x: 0)]), (-3.0, 3.0)),
    "hard_silu": (jaxact.hard_silu, lambda x: _piece(x, [
        (lambda v: -3 < v < 3, lambda x: x * (x + 3) / 6), (lambda v: v >= 3, lambda x: x),
        (lambda v: True, lambda x: 0)]), (-3.0, 3.0)),
    "hard_tanh": (jaxact.hard_tanh, lambda x: _piece(x, [
        (lambda v: -1 <= v <= 1, lambda x: x), (lambda v: v > 1, lambda x: 1),
        (lambda v: True, lambda x: -1)]), (-1.0, 1.0)),
    "sparse_plus": (jaxact.sparse_plus, lambda x: _piece(x, [
        (lambda v: -1 < v < 1, lambda x: (x + 1) * (x + 1) / 4),
        (lambda v: v >= 1, lambda x: x), (lambda v: True, lambda x: 0)]), (-1.0, 1.0)),
    "sparse_sigmoid": (jaxact.sparse_sigmoid, lambda x: _piece(x, [
        (lambda v: -1 < v < 1, lambda x: (x + 1) / 2), (lambda v: v >= 1, lambda x: 1),
        (lambda v: True, lambda x: 0)]), (-1.0, 1.0)),
    # glu as a function of its gate b, values a = 1.5: a sigma(b).
    "glu (gate)": (lambda b: jaxact.glu(jnp.stack([jnp.full_like(b, 1.5), b]))[0],
                   lambda x: mpmath.mpf(1.5) * sigmoid(x), ()),
}

# Where jax.nn's second derivative at a kink differs between its versions or
# from the piece jaxact takes (jax 0.10.2 and 0.12.1, checked by
# jax.grad(jax.grad(jax.nn.NAME)) at the kink): jaxact keeps one piece for
# every order.
KINK_CONVENTIONS = {
    # jax.nn 0.10.2: -2 and 6 (the x >= 0 piece); 0.12.1: -0.0 and 0.
    "soft_sign": "soft_sign''(0) = -2, soft_sign'''(0) = 6: the x >= 0 piece",
    # jax.nn: 1/4 and 1/8 for alpha = 1 (max(x, 0) + alpha expm1(min(x, 0) /
    # alpha) splits each tie in half).
    "celu": "celu''(0) = 1/alpha, celu'''(0) = 1/alpha^2: the x <= 0 piece, as elu",
    # jax.nn (both): elu''(0) = alpha, selu''(0) = scale alpha; relu, relu6,
    # leaky_relu, hard_*, sparse_* 0 at their kinks: the same here.
}


def _points(name: str, dtype) -> np.ndarray:
    """0, the kinks, ordinary points, both ends of the range and ±inf."""
    finfo = np.finfo(dtype)
    magnitudes = [float(finfo.tiny), 1e-30, 0.5, 1.5, 5.0, 20.0, 60.0, 100.0, 1e6, 1e30,
                  float(finfo.max)]
    if dtype == np.float64:
        magnitudes += [1e-300, 700.0, 1e300]
    magnitudes += [math.inf]
    points = [0.0, *magnitudes, *(-m for m in magnitudes), *FUNCTIONS[name][2]]
    if name == "log1mexp":  # its domain
        points = [p for p in points if p >= 0]
    points.append(math.nan)
    return np.unique(np.asarray(points, dtype))


def _jet_at(name: str, x: float) -> list:
    return _jet_of(FUNCTIONS[name][1], x)


def _jet_of(jet, x: float) -> list:
    """The value and the first three derivatives at x of the jet function ``jet``."""
    # Enough digits that x^2 + b keeps b at the largest |x| (squareplus at
    # 1e300): twice x's decimal exponent beyond DIGITS.
    digits = DIGITS
    if math.isfinite(x) and abs(x) > 1:
        digits += 2 * math.ceil(math.log10(abs(x)))
    with mpmath.workdps(digits):
        return jet(Jet.variable(mpmath.mpf(x))).derivatives()


# Limits that the jets cannot evaluate at the point itself.
LIMITS = {
    # log1mexp'(x) = 1 / expm1(x): '' = -e^x / expm1(x)^2 -> -inf,
    # ''' = e^x (2 e^x / expm1(x) - 1) / expm1(x)^2 -> +inf as x -> 0+.
    ("log1mexp", 0.0): (-math.inf, math.inf),
}


@functools.cache
def _references(name: str, dtype) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(points, derivatives of orders 2 and 3, their scale), float64 arrays.

    The scale is the largest magnitude of the derivative at the point and
    at +-0.5 and +-1 from it (the reference itself where that is ±inf).
    """
    points = _points(name, dtype).astype(np.float64)
    expected = np.zeros((len(points), 2))
    scale = np.zeros((len(points), 2))
    for i, x in enumerate(points):
        if np.isnan(x):
            expected[i] = scale[i] = np.nan
            continue
        if np.isinf(x):
            # Every function here tends to a constant or to a line: its
            # higher derivatives tend to 0.
            continue
        if (name, float(x)) in LIMITS:
            expected[i] = scale[i] = LIMITS[name, float(x)]
            continue
        expected[i] = [float(d) for d in _jet_at(name, x)[2:]]
        near = [x + step for step in (-1, -0.5, 0.5, 1)]
        if name == "log1mexp":
            near = [t for t in near if t > 0]
        magnitudes = [np.abs(expected[i])]
        for t in near:
            magnitudes.append(np.abs([float(d) for d in _jet_at(name, t)[2:]]))
        scale[i] = np.max(magnitudes, axis=0)
    return points, expected.T, scale.T


# float32 and float64, each order: the bound on the error in ULPs of the
# local scale (see the module docstring).
MAX_ULP = {np.float32: 8.0, np.float64: 8.0}

@functools.cache
def _derivative_program(name: str, order: int):
    """One program: the order-th derivative by nested jax.grad, and for
    order 2 also by jax.hessian (forward over reverse), which transforms
    the rules in another order."""
    fn = FUNCTIONS[name][0]
    nested = fn
    for _ in range(order):
        nested = jax.grad(nested)
    if order == 3:
        return jax.jit(jax.vmap(lambda x: (nested(x),)))
    return jax.jit(jax.vmap(lambda x: (nested(x), jax.hessian(fn)(x))))


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_higher_derivatives_against_mpmath(name, order, dtype):
    points, expected, scale = _references(name, dtype)
    expected, scale = expected[order - 2], scale[order - 2]
    # Beyond the dtype's range the reference rounds to ±inf.
    expected = np.where(np.abs(expected) > np.finfo(dtype).max, expected * np.inf, expected)
    with jax.enable_x64(dtype == np.float64):
        results = _derivative_program(name, order)(jnp.asarray(points, dtype))
    for how, got in zip(("jax.grad", "jax.hessian"), results, strict=False):
        got = np.asarray(got)
        assert got.dtype == dtype
        _check(f"{name} order {order} {np.dtype(dtype).name} ({how})",
               points, got.astype(np.float64), expected, scale, dtype, np.isfinite(points))


def _check(context, points, got, expected, scale, dtype, judged):
    nan = np.isnan(points)
    assert np.isnan(got[nan]).all(), f"{context}: NaN in, {got[nan]} out"
    infinite = np.isinf(points)
    assert (got[infinite] == 0).all(), f"{context} at {points[infinite]}: {got[infinite]}, limit 0"
    finite = ~nan & ~infinite & judged
    error = _error(got[finite], expected[finite], scale[finite], dtype)
    worst = int(np.argmax(error))
    assert error[worst] <= MAX_ULP[dtype], (
        f"{context}: {error[worst]:.3g} ULP of the local scale at x = "
        f"{points[finite][worst]!r}: got {got[finite][worst]!r}, mpmath {expected[finite][worst]!r}"
    )


def _error(got, expected, scale, dtype) -> np.ndarray:
    """|got - expected| in ULPs of the local scale; where the scale is below
    the smallest normal number, in units of that number (XLA's CPU flushes
    subnormal results to 0). 0 where both are the same infinity."""
    finfo = np.finfo(dtype)
    magnitude = np.maximum(np.abs(expected), scale)
    unit = np.exp2(np.floor(np.log2(np.clip(magnitude, finfo.tiny, finfo.max))) - finfo.nmant)
    unit = np.where(magnitude < finfo.tiny, finfo.tiny, unit)
    with np.errstate(invalid="ignore"):
        error = np.abs(got - expected) / unit
    return np.where(got == expected, 0.0, np.where(np.isnan(error), np.inf, error))


def test_float64_hard_silu_keeps_its_precision_at_tiny_x():
    # x (x + 3) / 6 with 1/6 in two parts: a float32 high part left a low
    # part that a product below 2^-995 flushes to 0, and float32's precision
    # with it (hard_silu(1e-300) was 5.0000001490116125e-301).
    x = np.array([1e-300, -1e-300, 3e-290, -7e-299, 1e-200], np.float64)
    with jax.enable_x64(True):
        got = np.asarray(jax.jit(jaxact.hard_silu)(jnp.asarray(x)))
    exact = [Fraction(v) * (Fraction(v) + 3) / 6 for v in x]
    error = [abs(Fraction(g) - e) / Fraction(np.spacing(abs(float(e))))
             for g, e in zip(got, exact, strict=True)]
    assert max(error) <= 1, (got, [float(e) for e in exact])


def test_squareplus_with_b_0_has_the_derivatives_of_relu():
    # b = 0 is relu: second and third derivatives 0 away from the kink and at
    # it (its first derivative there is the selected 1/2), NaN at NaN. They
    # were NaN at every x: the unused branches' sqrt(0) and 0 / 0 met zero
    # cotangents.
    # Tiny x too: there 1 / x^2 overflows, and XLA rewrote the rule's
    # (a / r) / r / r into a / r^3, 0 / 0 where r^3 underflows.
    x = jnp.asarray([0.0, -0.0, 1.0, -1.0, 3e-10, -3e-10, 1e-15, -1e-25, 1e-37, 1e30, -1e30,
                     np.inf, -np.inf, np.nan], jnp.float32)

    def second(v):
        return jax.grad(jax.grad(jaxact.squareplus), argnums=0)(v, 0.0)

    def third(v):
        return jax.grad(jax.grad(jax.grad(jaxact.squareplus)))(v, 0.0)

    def hessian(v):
        return jax.hessian(jaxact.squareplus)(v, 0.0)

    for how in (second, third, hessian):
        got = np.asarray(jax.jit(jax.vmap(how))(x))
        np.testing.assert_array_equal(got[:-1], 0, err_msg=how.__name__)
        assert np.isnan(got[-1]), how.__name__


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_squareplus_with_a_tiny_b_near_0(dtype):
    # b / (2 r^3) and its derivative -3 b x / (2 r^5) with r^3 and r^5 below
    # the smallest normal number: finite, and close to the closed forms (they
    # were NaN and infinite).
    info = np.finfo(dtype)
    b = float(info.tiny) ** 0.75  # r^3 >= b^(3/2) underflows at x = 0
    x = np.array([0.0, b**0.5, -(b**0.5) / 4, 3 * b**0.5], np.float64)

    def second(v):
        return jax.grad(jax.grad(jaxact.squareplus))(v, b)

    def third(v):
        return jax.grad(second)(v)

    with jax.enable_x64(dtype == np.float64):
        got = [np.asarray(jax.jit(jax.vmap(how))(jnp.asarray(x, dtype))).astype(np.float64)
               for how in (second, third)]
    exact_x = [mpmath.mpf(float(v)) for v in np.asarray(x, dtype)]
    exact_b = mpmath.mpf(float(np.asarray(b, dtype)))
    r = [mpmath.sqrt(v * v + exact_b) for v in exact_x]
    expected = [
        [float(exact_b / (2 * s**3)) for s in r],
        [float(-3 * exact_b * v / (2 * s**5)) for v, s in zip(exact_x, r, strict=True)],
    ]
    for order, (g, e) in enumerate(zip(got, expected, strict=True), start=2):
        np.testing.assert_allclose(g, e, rtol=16 * info.eps, atol=0, err_msg=f"order {order}")


def _dense_references(name: str, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Orders 2 and 3 at ``points`` and their local scale, as _references."""
    expected = np.array([[float(d) for d in _jet_at(name, x)[2:]] for x in points])
    scale = np.abs(expected)
    for step in (-1, -0.5, 0.5, 1):
        near = np.array([[float(d) for d in _jet_at(name, x + step)[2:]] for x in points])
        scale = np.maximum(scale, np.abs(near))
    return expected.T, scale.T


# Between the points above, near 0: autodiff of the derivative's own
# arithmetic (sech^2's and sigma''s exp and divisions) lost up to 20 ULP of
# the local scale at orders 2 and 3 (tanh at x = 7.9e-4 in float32). Their
# derivatives have rules of their own (tanh'' = -2 tanh sech^2, sigma'' =
# sigma' (1 - 2 sigma)), so every order is a polynomial in the two accurate
# kernels.
NEAR_ZERO = np.geomspace(1e-6, 3.0, 120)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name", ["tanh", "sigmoid"])
def test_higher_derivatives_near_zero(name, dtype):
    points = np.concatenate([-NEAR_ZERO, NEAR_ZERO]).astype(dtype)
    expected, scale = _dense_references(name, points.astype(np.float64))
    judged = np.ones(points.shape, bool)
    with jax.enable_x64(dtype == np.float64):
        for order in ORDERS:
            got = _derivative_program(name, order)(jnp.asarray(points))[0]
            _check(f"{name} order {order} {np.dtype(dtype).name} near 0", points.astype(np.float64),
                   np.asarray(got, np.float64), expected[order - 2], scale[order - 2], dtype,
                   judged)


# --------------------------------------------------------------------------
# generalized_logistic's second and third partials that involve alpha


def _gl_alpha_partial_jet(alpha: float, alpha_order: int):
    """x -> the jet of d^m/dalpha^m sigma(x)^alpha = sigma(x)^alpha (log sigma(x))^m."""
    def jet(x: Jet) -> Jet:
        log_sigma = -softplus(-x)
        result = exp(mpmath.mpf(alpha) * log_sigma)
        for _ in range(alpha_order):
            result = result * log_sigma
        return result

    return jet


def _gl_partials(x, alpha):
    """Every partial of orders 2 and 3 with at least one alpha, labelled by
    (x order, alpha order, how): nested jax.grad in both orders of the
    mixed second partial, and jax.hessian (forward over reverse)."""
    def d(g, argnum):
        return jax.grad(g, argnum)

    f = jaxact.generalized_logistic
    hessian = jax.hessian(f, (0, 1))(x, alpha)
    return {
        (1, 1, "d/dx d/dalpha"): d(d(f, 1), 0)(x, alpha),
        (1, 1, "d/dalpha d/dx"): d(d(f, 0), 1)(x, alpha),
        (0, 2, "jax.grad"): d(d(f, 1), 1)(x, alpha),
        (1, 1, "jax.hessian[0][1]"): hessian[0][1],
        (1, 1, "jax.hessian[1][0]"): hessian[1][0],
        (0, 2, "jax.hessian"): hessian[1][1],
        (2, 1, "jax.grad"): d(d(d(f, 1), 0), 0)(x, alpha),
        (1, 2, "jax.grad"): d(d(d(f, 1), 1), 0)(x, alpha),
        (0, 3, "jax.grad"): d(d(d(f, 1), 1), 1)(x, alpha),
    }


_GL_ALPHAS = (0.5, 2.0)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_generalized_logistic_alpha_partials_against_mpmath(dtype):
    # Each partial with m alpha derivatives is the jet in x of
    # sigma^alpha (log sigma)^m, at the points above, for two alphas; an
    # infinite alpha gives the limit 0 and a NaN alpha NaN, at every x
    # (+-inf included). One program over all (x, alpha) pairs.
    points = _points("generalized_logistic", dtype)
    alphas = np.array([*_GL_ALPHAS, np.inf, np.nan], dtype)
    xs, alpha_grid = (a.ravel() for a in np.meshgrid(points, alphas))
    with jax.enable_x64(dtype == np.float64):
        results = jax.jit(jax.vmap(_gl_partials))(jnp.asarray(xs), jnp.asarray(alpha_grid))
    finite = np.isfinite(xs) & np.isfinite(alpha_grid)
    for (x_order, alpha_order, how), got in results.items():
        got = np.asarray(got)
        assert got.dtype == dtype
        got = got.astype(np.float64)
        context = f"d^{x_order}/dx d^{alpha_order}/dalpha {np.dtype(dtype).name} ({how})"
        nan = np.isnan(xs) | np.isnan(alpha_grid)
        assert np.isnan(got[nan]).all(), f"{context}: NaN in, {got[nan]} out"
        limits = ~nan & ~finite
        assert (got[limits] == 0).all(), (
            f"{context} at x = {xs[limits]}, alpha = {alpha_grid[limits]}: "
            f"{got[limits]}, limit 0")
        for alpha in _GL_ALPHAS:
            at = finite & (alpha_grid == alpha)
            expected, scale = (r[x_order] for r in _gl_alpha_references(
                alpha, alpha_order, tuple(xs[at].astype(np.float64))))
            error = _error(got[at], expected, scale, dtype)
            worst = int(np.argmax(error))
            assert error[worst] <= MAX_ULP[dtype], (
                f"{context}, alpha = {alpha}: {error[worst]:.3g} ULP of the local scale at x = "
                f"{xs[at][worst]!r}: got {got[at][worst]!r}, mpmath {expected[worst]!r}")


@functools.cache
def _gl_alpha_references(alpha, alpha_order, points):
    """(expected, scale) at ``points``, each indexed [x order][point]: every
    x derivative of the partial with ``alpha_order`` alpha derivatives and
    its local scale (as _references)."""
    jet = functools.cache(lambda x: [float(d) for d in _jet_of(
        _gl_alpha_partial_jet(alpha, alpha_order), x)])
    expected = np.array([jet(x) for x in points]).T
    scale = np.abs(expected)
    for step in (-1, -0.5, 0.5, 1):
        scale = np.maximum(scale, np.abs(np.array([jet(x + step) for x in points]).T))
    return expected, scale


# gelu between the points above: near 0, where its derivatives were autodiff
# of the first derivative's fitted pieces (whose own derivatives are not
# fitted); and far out, where the normal density (exact form) or sigma'(v)
# (tanh form) is below the smallest normal number but gelu'' and gelu''' are
# not, so that they are computed from the density scaled by a power of 2,
# the scale multiplied last. The tails are judged in ULPs of the value
# itself: the local scale (the derivative 1 nearer to 0) is e^|x| times
# larger there.
GELU_NEAR_ZERO = np.geomspace(1e-6, 3.0, 40)
GELU_UNDERFLOW = {
    ("gelu", np.float32): (10.1, 10.25),
    ("gelu", np.float64): (21.2, 21.25),
    ("gelu(approximate=False)", np.float32): (13.2, 13.4),
    ("gelu(approximate=False)", np.float64): (37.65, 37.75),
}


@pytest.mark.parametrize(
    "case", [f"{name} {np.dtype(dtype).name}" for name, dtype in GELU_UNDERFLOW])
def test_gelu_derivatives_near_zero_and_where_the_density_underflows(case):
    name, dtype_name = case.rsplit(" ", 1)
    dtype = np.dtype(dtype_name).type
    tails = np.asarray(GELU_UNDERFLOW[name, dtype])
    points = np.concatenate([-GELU_NEAR_ZERO, GELU_NEAR_ZERO, -tails, tails]).astype(dtype)
    fn = FUNCTIONS[name][0]
    program = jax.jit(jax.vmap(lambda x: (
        jax.grad(jax.grad(fn))(x), jax.hessian(fn)(x), jax.grad(jax.grad(jax.grad(fn)))(x))))
    with jax.enable_x64(dtype == np.float64):
        results = [np.asarray(r, np.float64) for r in program(jnp.asarray(points))]
    x = points.astype(np.float64)
    near = slice(0, 2 * len(GELU_NEAR_ZERO))
    far = slice(near.stop, None)
    expected, scale = _dense_references(name, x[near])
    jets = [_jet_at(name, v) for v in x[far]]
    for how, order, got in zip(("jax.grad", "jax.hessian", "jax.grad"), (2, 2, 3), results,
                               strict=True):
        context = f"{name} order {order} {dtype_name} ({how})"
        _check(f"{context} near 0", x[near], got[near], expected[order - 2], scale[order - 2],
               dtype, np.ones(x[near].shape, bool))
        want = np.array([float(jet[order]) for jet in jets])
        assert (np.abs(want) >= np.finfo(dtype).tiny).all()  # normal results
        error = np.abs(got[far] - want) / np.spacing(np.abs(want).astype(dtype))
        worst = int(np.argmax(error))
        assert error[worst] <= MAX_ULP[dtype], (
            f"{context}: {error[worst]:.3g} ULP at x = {x[far][worst]!r}: "
            f"got {got[far][worst]!r}, mpmath {want[worst]!r}")


def _mish_dense_points(dtype) -> np.ndarray:
    """Both tails down to where mish'' and mish''' leave the normal range
    (float32: below x = -91 and above 46; float64: -712 and 357), past
    where e^-|x| or e^-2|x| alone flush, and densely between and near 0."""
    near_zero = np.geomspace(1e-6, 3.0, 30)
    if dtype == np.float32:
        spread = np.arange(-91.0, 46.0, 0.75)
    else:
        spread = np.concatenate([np.linspace(-712.0, -8.0, 40), np.arange(-8.0, 8.0, 0.25),
                                 np.linspace(8.0, 357.0, 30)])
    return np.unique(np.concatenate([spread, near_zero, -near_zero]).astype(dtype))


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_mish_higher_derivatives_over_its_range(dtype):
    # mish'' and mish''' by autodiff of the first derivative's arithmetic
    # cancelled for large x (1 - t and t' ~ 2 e^-2x formed from terms of size
    # e^-x), flushed in both tails and lost up to 11 ULP near 0; they are
    # rational functions of e^-|x| with rules of their own.
    points = _mish_dense_points(dtype)
    expected, scale = _dense_references("mish", points.astype(np.float64))
    judged = np.ones(points.shape, bool)
    with jax.enable_x64(dtype == np.float64):
        for order in ORDERS:
            results = _derivative_program("mish", order)(jnp.asarray(points))
            for how, got in zip(("jax.grad", "jax.hessian"), results, strict=False):
                _check(f"mish order {order} {np.dtype(dtype).name} ({how}) over its range",
                       points.astype(np.float64), np.asarray(got, np.float64),
                       expected[order - 2], scale[order - 2], dtype, judged)
