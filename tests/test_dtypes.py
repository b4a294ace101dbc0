"""Every floating dtype jax.nn takes: computed in float32, rounded once.

bfloat16, float16 and the float8 and float4 types of ml_dtypes are computed
in float32 and rounded once to their own type, on every bit pattern, value
and derivative; parameters promote with x as jax.nn's do, also under
JAX_ENABLE_X64.
"""

from __future__ import annotations

import functools
import os
import pathlib
import re
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxact
from jaxact._src.jvp import EAGER_CHUNKED_MAX_HALF, _runs_in_chunks
from tests.test_kernels import EAGER, _assert_same_bits

REPO = pathlib.Path(__file__).resolve().parent.parent

# The narrow floating types, by name: those the installed jax.numpy has.
NARROW_NAMES = (
    "bfloat16", "float16", "float8_e3m4", "float8_e4m3", "float8_e4m3b11fnuz",
    "float8_e4m3fn", "float8_e4m3fnuz", "float8_e5m2", "float8_e5m2fnuz", "float8_e8m0fnu",
    "float4_e2m1fn",
)
# Types of jax.numpy that XLA's CPU cannot compute with at all (jax.nn fails on
# them too): the float6 types are an unsupported primitive type (jax 0.12
# aborts the process), and jax 0.12 has float8_e5m3fnu but no conversion to it.
NOT_COMPUTABLE = ("float6_e2m3fn", "float6_e3m2fn", "float8_e5m3fnu")
NARROW = [jnp.dtype(getattr(jnp, name)) for name in NARROW_NAMES if hasattr(jnp, name)]
BYTE_TYPES = [dtype for dtype in NARROW if dtype.itemsize == 1]

FUNCTIONS = {**EAGER, "prelu": functools.partial(jaxact.prelu, negative_slope=0.25)}


def test_every_narrow_floating_type_of_jax_numpy_is_covered():
    names = {name for name in dir(jnp) if re.fullmatch(r"float[48]_\w+|float6_\w+", name)}
    unknown = names - set(NARROW_NAMES) - set(NOT_COMPUTABLE)
    assert not unknown, f"floating types of jax.numpy neither tested nor excluded: {unknown}"
    assert len(BYTE_TYPES) >= 8


def _every_pattern(dtype) -> np.ndarray:
    """Every bit pattern of a one-byte type (a 4-bit type: its 16 patterns)."""
    bits = jnp.finfo(dtype).bits
    return np.arange(1 << bits, dtype=np.uint8).view(dtype)


def _all_quantities(x: jax.Array) -> dict[str, jax.Array]:
    """Every function's value and derivative at x, as one program (one compile)."""
    results = {}
    for name, fn in FUNCTIONS.items():
        results[f"{name} value"] = fn(x)
        results[f"{name} d/dx"] = jax.vmap(jax.grad(fn))(x)
    return results


@functools.cache
def _float32_results() -> tuple[dict[str, np.ndarray], dict]:
    """jaxact's float32 results at every pattern of every byte type, and each type's slice."""
    patterns = {dtype: _every_pattern(dtype) for dtype in BYTE_TYPES}
    wide = np.concatenate([p.astype(np.float32) for p in patterns.values()])
    results = jax.jit(_all_quantities)(jnp.asarray(wide))
    offsets = np.cumsum([0] + [p.size for p in patterns.values()])
    where = {dtype: slice(offsets[i], offsets[i + 1]) for i, dtype in enumerate(patterns)}
    return {k: np.asarray(v) for k, v in results.items()}, where


@pytest.mark.parametrize("dtype", BYTE_TYPES, ids=str)
def test_every_bit_pattern_is_the_float32_result_rounded_once(dtype):
    # Before, float8 and float4 inputs were computed in their own type: silu
    # was NaN on e4m3fn, mish killed the interpreter on e4m3fnuz, silu raised
    # on e8m0fnu and gelu failed to compile on float4_e2m1fn. The reference
    # is jaxact's own float32 result, rounded by XLA's conversion (astype).
    x = jnp.asarray(_every_pattern(dtype))
    got = jax.jit(_all_quantities)(x)
    wide, where = _float32_results()
    convert = jax.jit(lambda v: v.astype(dtype))
    nan = np.isnan(np.asarray(x.astype(jnp.float32)))
    for label, value in got.items():
        assert value.dtype == dtype, (label, value.dtype)
        _assert_same_bits(value, convert(wide[label][where[dtype]]), f"{label} {dtype}")
        # NaN in gives NaN out where the type has a NaN.
        assert np.isnan(np.asarray(value.astype(jnp.float32))[nan]).all(), (label, dtype)


def test_eager_calls_on_a_byte_type_give_the_bits_of_the_whole_kernel():
    # The eager chunked loop holds a float8 x as uint8 (as half precision as
    # uint16); a 4-bit x is computed whole (see jvp._in_chunks).
    dtype = jnp.dtype(jnp.float8_e4m3fn)
    values = _every_pattern(dtype)
    for name, fn in FUNCTIONS.items():
        whole = np.asarray(jax.jit(fn)(jnp.asarray(values)))
        for start in (0, values.size - EAGER_CHUNKED_MAX_HALF):
            window = jnp.asarray(values[start:start + EAGER_CHUNKED_MAX_HALF])
            assert _runs_in_chunks((window,), 4)
            _assert_same_bits(fn(window), whole[start:start + EAGER_CHUNKED_MAX_HALF],
                              f"{name} {dtype} x[{start}:] eager")


def test_a_4_bit_type_runs_eagerly():
    x = jnp.asarray(_every_pattern(jnp.float4_e2m1fn))
    for name, fn in FUNCTIONS.items():
        _assert_same_bits(fn(x), jax.jit(fn)(x), f"{name} float4_e2m1fn eager")


# The parametric functions of jax.nn, with the argument that is promoted.
PARAMETRIC = {
    "leaky_relu": "negative_slope",
    "elu": "alpha",
    "celu": "alpha",
    "squareplus": "b",
}


def _result_type(fn, x, param) -> str:
    """fn(x, param)'s dtype and weak type, or the error it raises (float8 with float32)."""
    try:
        result = jax.eval_shape(fn, x, param)
    except jax.dtypes.TypePromotionError:
        return "TypePromotionError"
    return f"{result.dtype}{' weak' * result.weak_type}"


def _promotion_table() -> list[str]:
    """Every (x, parameter) type pair whose jaxact result type differs from jax.nn's."""
    xs = {
        "float": 0.5, "bfloat16": jnp.ones(3, jnp.bfloat16), "float16": jnp.ones(3, jnp.float16),
        "float32": jnp.ones(3, jnp.float32), "float8_e4m3fn": jnp.ones(3, jnp.float8_e4m3fn),
        "float64": np.ones(3, np.float64),
    }
    # Integer x and integer-array parameters are left out: jaxact converts
    # them as jnp.tanh does (strongly typed float32, see the README's input
    # rules), where jax.nn's arithmetic keeps a Python float's weak type.
    params = {
        "float": 2.0, "int": 2, "float32": jnp.float32(2.0), "bfloat16": jnp.bfloat16(2.0),
        "float16 array": jnp.full(3, 2.0, jnp.float16), "numpy float64": np.float64(2.0),
        "numpy float32": np.float32(2.0), "weak array": jnp.asarray(2.0),
    }
    wrong = []
    for name, arg in PARAMETRIC.items():
        for x_name, x in xs.items():
            for p_name, p in params.items():
                got = _result_type(getattr(jaxact, name), x, p)
                want = _result_type(getattr(jax.nn, name), x, p)
                if got != want:
                    wrong.append(f"{name}(x: {x_name}, {arg}: {p_name}): {got} where "
                                 f"jax.nn gives {want}")
    # generalized_logistic has no jax.nn counterpart: jax.numpy's promotion
    # of x (as a floating array) and alpha, as the others.
    for x_name, x in xs.items():
        for p_name, p in params.items():
            got = _result_type(jaxact.generalized_logistic, x, p)
            want = _result_type(lambda x, p: jaxact.sigmoid(x) * p, x, p)
            if got != want:
                wrong.append(f"generalized_logistic(x: {x_name}, alpha: {p_name}): "
                             f"{got} where jax.numpy promotes to {want}")
    return wrong


def test_parameters_promote_as_jax_nn_s():
    # Before, celu(x_bfloat16, jnp.float32(2.0)) was bfloat16 (jax.nn: float32).
    wrong = _promotion_table()
    assert not wrong, "\n".join(wrong)


def test_parameters_promote_as_jax_nn_s_with_x64():
    script = "from tests.test_dtypes import _promotion_table; print(_promotion_table())"
    env = {**os.environ, "JAX_ENABLE_X64": "1", "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-c", script], env=env, cwd=REPO, timeout=300,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "[]", result.stdout


def test_a_nan_parameter_gives_nan_where_jax_nn_s_does():
    # Before, celu(x, nan) was x for x > 0 (jax.nn: NaN everywhere).
    x = jnp.array([-jnp.inf, -2.0, -0.0, 0.0, 2.0, jnp.inf, jnp.nan])
    for name in PARAMETRIC:
        for nan in (jnp.float32(jnp.nan), float("nan")):
            got = np.isnan(np.asarray(getattr(jaxact, name)(x, nan)))
            want = np.isnan(np.asarray(getattr(jax.nn, name)(x, nan)))
            if name == "squareplus":  # NaN for every x (jax 0.12's is not at ±inf)
                want = np.ones_like(want)
            np.testing.assert_array_equal(got, want, err_msg=name)
    grad = jax.vmap(jax.grad(jaxact.celu), (0, None))(x, jnp.float32(jnp.nan))
    assert np.isnan(np.asarray(grad)).all()
