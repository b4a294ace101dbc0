"""Every public elementwise function gives the same bits, value and first
derivative, whether x is an argument of jit or a constant XLA knows at
compile time, in every floating dtype (subnormal inputs included).

A constant x is what XLA's simplifier folds: without the barrier on each
kernel's inputs (the value's and the derivative's) it evaluates part of the
arithmetic at compile time, with other roundings and without the CPU's
flushing of subnormals. ``tests/test_kernels.py`` checks a few functions on
every float32 pattern, and a parameter passed as a Python float, an array
or a traced value; this covers every function on a smaller sample.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxact

FUNCTIONS = {
    "sigmoid": jaxact.sigmoid,
    "softplus": jaxact.softplus,
    "log_sigmoid": jaxact.log_sigmoid,
    "generalized_logistic": jaxact.generalized_logistic,
    "generalized_logistic(alpha=0.5)": functools.partial(jaxact.generalized_logistic, alpha=0.5),
    "silu": jaxact.silu,
    "tanh": jaxact.tanh,
    "mish": jaxact.mish,
    "soft_sign": jaxact.soft_sign,
    "squareplus": jaxact.squareplus,
    "squareplus(b=0.5)": functools.partial(jaxact.squareplus, b=0.5),
    "gelu": jaxact.gelu,
    "gelu(approximate=False)": functools.partial(jaxact.gelu, approximate=False),
    "relu": jaxact.relu,
    "leaky_relu": jaxact.leaky_relu,
    "elu": jaxact.elu,
    "elu(alpha=0.7)": functools.partial(jaxact.elu, alpha=0.7),
    "relu6": jaxact.relu6,
    "selu": jaxact.selu,
    "celu": jaxact.celu,
    "celu(alpha=0.5)": functools.partial(jaxact.celu, alpha=0.5),
    "hard_sigmoid": jaxact.hard_sigmoid,
    "hard_silu": jaxact.hard_silu,
    "hard_tanh": jaxact.hard_tanh,
    "sparse_plus": jaxact.sparse_plus,
    "sparse_sigmoid": jaxact.sparse_sigmoid,
    "prelu": lambda x: jaxact.prelu(x, jnp.asarray(0.3, x.dtype)),
}
DTYPES = [jnp.float32, jnp.float64, jnp.float16, jnp.bfloat16]


@functools.cache
def _inputs(dtype) -> np.ndarray:
    """Every bit pattern of a 16-bit type; else normal samples, every binade
    of both signs (subnormals included), the kinks and the special values."""
    dtype = np.dtype(dtype)
    if dtype.itemsize == 2:
        return np.arange(1 << 16, dtype=np.uint16).view(dtype)
    finfo = np.finfo(dtype)
    magnitudes = np.geomspace(float(finfo.smallest_subnormal), float(finfo.max), 1500)
    normal = np.random.default_rng(0).standard_normal(1000) * 4
    special = [0.0, -0.0, np.inf, -np.inf, np.nan, 0.5, 1, -1, 3, -3, 6, -6]
    return np.concatenate([magnitudes, -magnitudes, normal, special]).astype(dtype)


def _value_and_slope(fn, x):
    return fn(x), jax.vmap(jax.grad(fn))(x)


def _assert_same_bits(got, want, context: str) -> None:
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype, context
    unsigned = f"u{got.itemsize}"
    nan = np.isnan(got.astype(np.float64)) & np.isnan(want.astype(np.float64))
    same = (got.view(unsigned) == want.view(unsigned)) | nan
    if not same.all():
        first = int(np.flatnonzero(~same)[0])
        raise AssertionError(
            f"{context}: {int((~same).sum())} of {same.size} differ, first "
            f"{got[first]!r} vs {want[first]!r}"
        )


def _all_values_and_slopes(x, x_nonnegative):
    """{name: (value, d/dx)} for every function, from one program."""
    results = {name: _value_and_slope(fn, x) for name, fn in FUNCTIONS.items()}
    results["log1mexp"] = _value_and_slope(jaxact.log1mexp, x_nonnegative)
    results["glu"] = (jaxact.glu(x), jax.grad(lambda v: jaxact.glu(v).sum())(x))
    return results


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: jnp.dtype(d).name)
def test_a_constant_x_gives_the_bits_of_an_argument(dtype):
    # All functions in one program per path: a compile per function would
    # cost the suite far more than the arithmetic.
    with jax.enable_x64(dtype == jnp.float64):
        x = _inputs(dtype)
        # log1mexp's domain, x >= 0, made here: a jnp.abs in the program
        # would be folded on the constant too, derivative included.
        inputs = (x, np.abs(x))
        as_argument = jax.jit(_all_values_and_slopes)(*inputs)
        as_constant = jax.jit(lambda: _all_values_and_slopes(*inputs))()
    for name, quantities in as_argument.items():
        for label, got, want in zip(("value", "derivative"), as_constant[name], quantities,
                                    strict=True):
            _assert_same_bits(got, want, f"{name} {jnp.dtype(dtype).name} {label}")
