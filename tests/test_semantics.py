"""Input and parameter semantics: weak types, dtype promotion as jax.numpy,
kink conventions of higher derivatives, parameters checked as computed with,
errors that name the function, and the guard on JAX's private names.

Each fix of issue 11 (items 1, 2, 4-7, 10) has a test here that failed
before it; the others (float64 accepting what float32 rejects, numbers
untouched by the NaN marker, leaky_relu at 0, a plain import) guard what
those fixes must not change.
"""

from __future__ import annotations

import functools
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import jaxlib
import numpy as np
import pytest
from packaging.specifiers import SpecifierSet

import jaxact
from jaxact._src import jax_internals

ROOT = Path(__file__).resolve().parent.parent


def run_python(code: str, **env) -> subprocess.CompletedProcess:
    """``code`` in a fresh interpreter at the repository root (JAX reads flags at import)."""
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


# --------------------------------------------------------------------------
# private JAX names (issue 11 item 10)


def test_the_jax_range_is_stated_once_and_holds_the_installed_jax():
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'dependencies = {file = ["jaxact/requirements.txt"]}' in pyproject
    assert not re.search(r'^\s*"jax(lib)?[<>=!~]', pyproject, re.MULTILINE)
    requirements = (ROOT / "jaxact" / "requirements.txt").read_text()
    pins = dict(re.findall(r"^(jax|jaxlib)([<>=!~]\S*)", requirements, re.MULTILINE))
    assert pins == {"jax": jax_internals.SUPPORTED_JAX, "jaxlib": jax_internals.SUPPORTED_JAX}
    supported = SpecifierSet(jax_internals.SUPPORTED_JAX)
    assert jax.__version__ in supported
    assert jaxlib.__version__ in supported


@pytest.mark.parametrize("version", ["0.10.1", "0.13.0", "1.0.0"])
def test_import_fails_loudly_on_a_jax_outside_the_range(version):
    assert version not in SpecifierSet(jax_internals.SUPPORTED_JAX)
    assert not jax_internals._in_range(version, jax_internals.SUPPORTED_JAX)
    result = run_python(f"import jax; jax.__version__ = {version!r}\nimport jaxact")
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith(f"ImportError: jaxact: this JAX ({version}) is outside"), last_line
    assert f"jax{jax_internals.SUPPORTED_JAX}" in last_line


def _import_fails_loudly(patch: str, missing: str) -> None:
    result = run_python(f"{patch}\nimport jaxact")
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("ImportError: jaxact:"), result.stderr
    assert missing in last_line
    assert f"jax{jax_internals.SUPPORTED_JAX}" in last_line


def test_import_fails_loudly_without_eager_constant_folding():
    _import_fails_loudly(
        "import jax._src.config as c; del c.eager_constant_folding",
        "jax._src.config.eager_constant_folding",
    )


def test_import_fails_loudly_without_the_disable_jit_switch():
    _import_fails_loudly(
        "import jax._src.config as c; del c.disable_jit",
        "jax._src.config.disable_jit",
    )


def test_import_fails_loudly_without_the_weak_type_conversion():
    # A stand-in that still serves JAX's own callers but has no weak_type argument.
    _import_fails_loudly(
        "import jax._src.lax.lax as lax\n"
        "original = lax._convert_element_type\n"
        "def stub(operand, new_dtype=None, **kwargs):\n"
        "    return original(operand, new_dtype, **kwargs)\n"
        "lax._convert_element_type = stub",
        "jax._src.lax.lax._convert_element_type",
    )


def test_import_succeeds_unpatched():
    result = run_python("import jaxact; print(float(jaxact.sigmoid(0.0)))")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0.5"


# --------------------------------------------------------------------------
# weak types (item 1) and integer promotion (item 2), as jax.numpy

# Each jaxact function beside the jax.nn (or jnp) function whose type rules it follows.
UNARY = {
    "sigmoid": (jaxact.sigmoid, jax.nn.sigmoid),
    "tanh": (jaxact.tanh, jnp.tanh),
    "softplus": (jaxact.softplus, jax.nn.softplus),
    "log_sigmoid": (jaxact.log_sigmoid, jax.nn.log_sigmoid),
    "elu": (jaxact.elu, jax.nn.elu),
    "leaky_relu": (jaxact.leaky_relu, jax.nn.leaky_relu),
    "relu": (jaxact.relu, jax.nn.relu),
    "generalized_logistic": (jaxact.generalized_logistic, jax.nn.sigmoid),
    "generalized_logistic(alpha=2)": (
        functools.partial(jaxact.generalized_logistic, alpha=2.0),
        lambda x: jax.nn.sigmoid(x) * jax.nn.sigmoid(x),
    ),
}
# With a parameter: jaxact's function and jax.nn's (generalized_logistic's
# type rules are those of exp(alpha log sigmoid(x))).
BINARY = {
    "elu": (jaxact.elu, jax.nn.elu),
    "leaky_relu": (jaxact.leaky_relu, jax.nn.leaky_relu),
    "generalized_logistic": (
        jaxact.generalized_logistic, lambda x, a: jnp.exp(a * jax.nn.log_sigmoid(x))
    ),
}


def weak(value) -> bool:
    return jax.typeof(value).weak_type


# The references' result types are read from their traces (jax.eval_shape):
# nothing of jax.nn needs compiling for the types these tests compare.
@pytest.mark.parametrize("name", list(UNARY))
def test_python_scalar_gives_a_weakly_typed_result_as_jax_nn(name):
    fn, reference = UNARY[name]
    assert weak(fn(0.5)) and jax.eval_shape(reference, 0.5).weak_type
    assert (fn(0.5) * jnp.ones(3, jnp.bfloat16)).dtype == jnp.bfloat16
    assert (fn(-0.5) * jnp.ones(3, jnp.float16)).dtype == jnp.float16
    # Under jit and grad as well, and an array keeps its strong type.
    assert jax.jit(lambda: fn(0.5) * jnp.ones(2, jnp.bfloat16))().dtype == jnp.bfloat16
    assert weak(jax.jit(fn)(0.5)) == jax.eval_shape(jax.jit(reference), 0.5).weak_type
    assert weak(jax.grad(fn)(0.5)) == jax.eval_shape(jax.grad(reference), 0.5).weak_type
    assert not weak(fn(jnp.float32(0.5))) and not weak(fn(np.float32(0.5)))
    assert fn(0.5).dtype == jnp.float32


@pytest.mark.parametrize("name", list(BINARY))
@pytest.mark.parametrize(
    "x, param",
    [
        (0.5, 0.25),
        (-0.5, 0.25),
        (0.5, jnp.float32(0.25)),
        (jnp.float32(-0.5), 0.25),
        (jnp.float32(-0.5), jnp.float32(0.25)),
        (jnp.asarray([0.5, -1.0]), 0.5),
    ],
    ids=["weak,weak", "weak,weak-", "weak,strong", "strong,weak", "strong,strong", "array,weak"],
)
def test_weak_type_with_a_parameter_as_jax_nn(name, x, param):
    fn, reference = BINARY[name]
    assert weak(fn(x, param)) == jax.eval_shape(reference, x, param).weak_type
    grads = jax.grad(lambda a, b: fn(a, b).sum(), (0, 1))(x, param)
    reference_grad = jax.grad(lambda a, b: reference(a, b).sum(), (0, 1))
    reference_grads = jax.eval_shape(reference_grad, x, param)
    assert [weak(g) for g in grads] == [g.weak_type for g in reference_grads]


INTEGER_DTYPES = ["bool", "int8", "int16", "int32", "int64",
                  "uint8", "uint16", "uint32", "uint64"]


@pytest.mark.parametrize("x64", [False, True], ids=["x32", "x64"])
@pytest.mark.parametrize("name", [n for n in UNARY if n != "relu"])
def test_integer_and_bool_inputs_promote_as_jnp(name, x64):
    fn, _ = UNARY[name]
    with jax.enable_x64(x64):
        inputs = [np.asarray([0, 1, 3]).astype(d) for d in INTEGER_DTYPES]
        inputs += [jnp.asarray(v) for v in inputs] + [1, True, jnp.asarray(2)]
        for x in inputs:
            expected = jax.eval_shape(jnp.tanh, x)
            got = fn(x)
            label = f"{name}({type(x).__name__} {jnp.result_type(x)})"
            assert got.dtype == expected.dtype, label
            assert weak(got) == expected.weak_type, label
            # The same values as from the floating input.
            np.testing.assert_array_equal(
                np.asarray(got), np.asarray(fn(jnp.asarray(x, expected.dtype))), err_msg=label
            )


# --------------------------------------------------------------------------
# generalized_logistic's partials at ±inf (item 4)

ALL_FLOATS = [jnp.bfloat16, jnp.float16, jnp.float32, jnp.float64]


@functools.cache
def _jitted_partials(fn, order):
    fns = [fn]
    for _ in range(order):
        fns = [jax.grad(g, i) for g in fns for i in (0, 1)]
    return jax.jit(lambda x, param: [g(x, param) for g in fns])


def partials(fn, x, param, order):
    """Every partial derivative of fn(x, param) of the given order (0: the value)."""
    # One compiled call for all of them: eagerly, each nested grad would
    # dispatch its operations one by one (seconds per order), with the same
    # bits (tests/test_kernels.py). Kept per (fn, order), the program is
    # compiled once for all the x and param of one dtype and weak type.
    return _jitted_partials(fn, order)(x, param)


@pytest.mark.parametrize("dtype", ALL_FLOATS, ids=lambda d: jnp.dtype(d).name)
@pytest.mark.parametrize("alpha", [0.5, 2.0, 1e-30])
def test_generalized_logistic_partials_at_infinity_are_the_limits(dtype, alpha):
    with jax.enable_x64(True):
        for x, value in [(-jnp.inf, 0.0), (jnp.inf, 1.0)]:
            # alpha as a Python float: it is used in the computing dtype (1e-30
            # is 0 in float16 but not in float32, where float16 is computed).
            x_, alpha_ = jnp.asarray(x, dtype), alpha
            assert float(jaxact.generalized_logistic(x_, alpha_)) == value
            # Every first and second partial tends to 0 as x -> ±inf.
            for order in (1, 2):
                got = [float(p) for p in partials(jaxact.generalized_logistic, x_, alpha_, order)]
                assert got == [0.0] * len(got), (x, order, got)


# --------------------------------------------------------------------------
# derivatives of every order at the kink and at NaN (item 5, rectifiers)


def x_partials(fn, x, order):
    for _ in range(order):
        fn = jax.grad(fn)
    return float(jax.jit(fn)(x))


@pytest.mark.parametrize("x", [0.0, -0.0])
@pytest.mark.parametrize("alpha", [0.7, 1.0, 2.5])
def test_elu_derivatives_at_zero_follow_the_nonpositive_branch(x, alpha):
    # x <= 0: elu = alpha (e^x - 1), so d^k/dx^k = alpha e^0 = alpha, and
    # d/dalpha of d^k/dx^k = 1 for k >= 1; d^k/dalpha^k = 0 for k >= 2.
    alpha32 = float(np.float32(alpha))
    expected = {
        1: [alpha32, 0.0],
        2: [alpha32, 1.0, 1.0, 0.0],
        3: [alpha32, 1.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0],
    }
    for order, values in expected.items():
        assert [float(p) for p in partials(jaxact.elu, x, alpha, order)] == values, order
    # Nested jvp differentiates the value's own formula once: alpha there too.
    (_, slope), (slope_of_value, curvature) = jax.jvp(
        lambda v: jax.jvp(lambda u: jaxact.elu(u, alpha), (v,), (1.0,)), (x,), (1.0,)
    )
    assert [float(slope), float(slope_of_value), float(curvature)] == [alpha32] * 3


def test_leaky_relu_and_relu_derivatives_at_zero_follow_jax_nn():
    # leaky_relu'(0) = 1 (the x >= 0 branch, y = x): higher ones are 0.
    expected = {1: [1.0, 0.0], 2: [0.0] * 4, 3: [0.0] * 8}
    for x in (0.0, -0.0):
        for order, values in expected.items():
            got = [float(p) for p in partials(jaxact.leaky_relu, x, 0.1, order)]
            assert got == values, (x, order)
            assert x_partials(jaxact.relu, x, order) == 0.0
            assert x_partials(jax.nn.relu, x, 1) == 0.0


def test_negative_zero_is_kept_as_jax_nn():
    for x in (jnp.float32(-0.0), jnp.bfloat16(-0.0), jnp.float16(-0.0)):
        for fn, reference in [(jaxact.elu, jax.nn.elu), (jaxact.leaky_relu, jax.nn.leaky_relu)]:
            assert np.signbit(np.asarray(reference(x), np.float32))
            assert np.signbit(np.asarray(fn(x), np.float32)), (fn, x.dtype)
    assert np.signbit(float(jaxact.elu(-0.0, 0.0)))
    assert not np.signbit(float(jaxact.elu(0.0)))


@pytest.mark.parametrize("dtype", ALL_FLOATS, ids=lambda d: jnp.dtype(d).name)
def test_nan_reaches_every_derivative_order(dtype):
    with jax.enable_x64(True):
        x = jnp.asarray(jnp.nan, dtype)
        for order in (1, 2, 3):
            assert np.isnan(x_partials(jaxact.relu, x, order)), order
            for fn, param in [(jaxact.leaky_relu, 0.1), (jaxact.elu, 0.7)]:
                got = [float(p) for p in partials(fn, x, param, order)]
                assert all(np.isnan(got)), (fn, order, got)


def test_nan_marker_leaves_numbers_alone():
    # Away from NaN the marker adds nothing to any derivative, also where x is ±inf.
    for order in (1, 2, 3):
        for x in (-jnp.inf, -3.0, 2.0, jnp.inf):
            for fn, param in [(jaxact.leaky_relu, 0.1), (jaxact.elu, 0.7)]:
                got = [float(p) for p in partials(fn, x, param, order)]
                assert not any(np.isnan(got)), (fn, x, order, got)


# --------------------------------------------------------------------------
# parameters checked as computed with, or their limits (item 6)


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16, jnp.float32])
@pytest.mark.parametrize(
    "alpha", [1e-50, np.float64(1e-50), np.asarray([1.0, 1e-50]), 1e-40, jnp.float32(1e-40)]
)
def test_generalized_logistic_alpha_that_underflows_is_an_error(dtype, alpha):
    # float32 is the dtype of the arithmetic for all three (half precision is
    # computed in float32): 1e-50 is 0 there, and 1e-40 subnormal, which XLA
    # flushes to 0.
    message = r"generalized_logistic: alpha must be > 0\.0, got \S+, which is 0\.0 in float32"
    with pytest.raises(ValueError, match=message):
        jaxact.generalized_logistic(jnp.ones(2, dtype), alpha)


def test_parameters_representable_in_float64_are_accepted_there():
    with jax.enable_x64(True):
        x = jnp.asarray([-1.0, 2.0], jnp.float64)
        np.testing.assert_allclose(
            np.asarray(jaxact.generalized_logistic(x, 1e-50)), [1.0, 1.0], rtol=1e-15
        )
        np.testing.assert_allclose(
            np.asarray(jaxact.elu(x, 1e300)), [1e300 * math.expm1(-1.0), 2.0], rtol=1e-15
        )


@pytest.mark.parametrize("alpha", [1e300, np.float64(1e39), jnp.inf, np.asarray([1.0, 1e300])])
def test_elu_alpha_that_is_infinite_where_used_is_an_error(alpha):
    with pytest.raises(ValueError, match=r"elu: alpha must be >= 0\.0 and finite, got .*inf"):
        jaxact.elu(jnp.ones(2, jnp.float32), alpha)


def test_generalized_logistic_nan_alpha_gives_nan_even_at_the_limits():
    # NaN in, NaN out: x = -inf took its limit 0 whatever alpha was.
    x = jnp.asarray([-jnp.inf, -1.0, 0.0, 1.0, jnp.inf, jnp.nan])
    for alpha in (jnp.nan, jnp.float32(jnp.nan)):
        assert np.isnan(np.asarray(jaxact.generalized_logistic(x, alpha))).all(), alpha
        assert np.isnan(np.asarray(jax.jit(jaxact.generalized_logistic)(x, alpha))).all()
        slope = jax.vmap(jax.grad(jaxact.generalized_logistic), in_axes=(0, None))(x, alpha)
        assert np.isnan(np.asarray(slope)).all(), alpha


@pytest.mark.parametrize("alpha", [jnp.inf, 1e300])
def test_generalized_logistic_infinite_alpha_gives_the_limit(alpha):
    # sigma(x)^alpha -> 0 as alpha -> inf for every x < inf (sigma(x) < 1);
    # at x = inf it is 1. Every derivative tends to 0.
    x = jnp.asarray([-jnp.inf, -100.0, -1.0, 0.0, 1.0, 100.0, jnp.inf, jnp.nan])
    expected = [0, 0, 0, 0, 0, 0, 1, np.nan]
    np.testing.assert_array_equal(np.asarray(jaxact.generalized_logistic(x, alpha)), expected)
    for x_i, expected_i in zip(x[:-1], expected[:-1], strict=True):
        for order in (1, 2):
            got = [float(p) for p in partials(jaxact.generalized_logistic, x_i, alpha, order)]
            assert got == [0.0] * len(got), (float(x_i), order)
        assert float(jaxact.generalized_logistic(x_i, alpha)) == expected_i
    # A traced infinite alpha too.
    np.testing.assert_array_equal(
        np.asarray(jax.jit(jaxact.generalized_logistic)(x, jnp.float32(jnp.inf))), expected
    )


def test_leaky_relu_infinite_slope_gives_the_limits():
    x = jnp.asarray([-1.0, -0.0, 0.0, 1.0, jnp.nan])
    for slope, expected in [(jnp.inf, [-jnp.inf, -0.0, 0.0, 1.0, np.nan]),
                            (-jnp.inf, [jnp.inf, -0.0, 0.0, 1.0, np.nan])]:
        got = np.asarray(jaxact.leaky_relu(x, slope))
        np.testing.assert_array_equal(got, expected)
        np.testing.assert_array_equal(np.signbit(got[1:3]), [True, False])
        np.testing.assert_array_equal(np.asarray(jax.jit(jaxact.leaky_relu)(x, slope)), expected)
        # At x = 0 the x >= 0 branch: slope 1, d/dslope 0, never NaN.
        assert [float(p) for p in partials(jaxact.leaky_relu, 0.0, slope, 1)] == [1.0, 0.0]


# --------------------------------------------------------------------------
# parameter shapes (item 7)

PARAMETER_NAMES = {
    "leaky_relu": "negative_slope",
    "elu": "alpha",
    "generalized_logistic": "alpha",
}


@pytest.mark.parametrize("name", list(PARAMETER_NAMES))
def test_parameter_of_the_wrong_shape_names_the_function_and_argument(name):
    fn, arg = getattr(jaxact, name), PARAMETER_NAMES[name]
    x = jnp.ones((4, 2))
    message = (
        rf"jaxact\.{name}: {arg} of shape \(3,\) does not broadcast against x of shape \(4, 2\)"
    )
    with pytest.raises(ValueError, match=message):
        fn(x, jnp.full(3, 0.5))
    with pytest.raises(ValueError, match=message):
        fn(x, **{arg: np.full(3, 0.5)})
    with pytest.raises(ValueError, match=message):  # traced: the shape is still known
        jax.jit(fn)(x, jnp.full(3, 0.5))
    # An empty parameter would empty the result silently.
    with pytest.raises(ValueError, match=rf"jaxact\.{name}: {arg} is empty \(shape \(0,\)\)"):
        fn(jnp.ones((4, 1)), jnp.ones(0))
    # What broadcasts is accepted: per column, per row, and an empty x.
    assert fn(x, jnp.full(2, 0.5)).shape == (4, 2)
    assert fn(x, jnp.full((4, 1), 0.5)).shape == (4, 2)
    assert fn(jnp.ones((0, 2)), jnp.full(2, 0.5)).shape == (0, 2)
    assert fn(jnp.ones(0), jnp.ones(0)).shape == (0,)
