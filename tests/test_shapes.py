"""The same input value gives the same bits whatever the shape of the array.

XLA's CPU backend emits one loop nest per shape: an 8-wide vector body, a
scalar or narrower remainder, rows of 3 or 4 elements. LLVM decides per code
path whether a multiply feeding an add becomes one fused multiply-add, so an
expression whose value depends on that choice gives different bits in
different positions of an array, or for different shapes. Each function and
its derivative run here on the same values laid out in shapes that exercise
those paths, and must agree bit for bit with the flat layout.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxact

ELEMENTWISE = {
    "elu": jaxact.elu,
    "generalized_logistic": jaxact.generalized_logistic,
    "generalized_logistic(alpha=0.5)": functools.partial(jaxact.generalized_logistic, alpha=0.5),
    "leaky_relu": jaxact.leaky_relu,
    "log_sigmoid": jaxact.log_sigmoid,
    "relu": jaxact.relu,
    "sigmoid": jaxact.sigmoid,
    "softplus": jaxact.softplus,
    "tanh": jaxact.tanh,
    "log1mexp": jaxact.log1mexp,
    "mish": jaxact.mish,
    "silu": jaxact.silu,
    "soft_sign": jaxact.soft_sign,
    "squareplus": jaxact.squareplus,
    "gelu": jaxact.gelu,
    "gelu(approximate=False)": functools.partial(jaxact.gelu, approximate=False),
    "celu": jaxact.celu,
    "hard_sigmoid": jaxact.hard_sigmoid,
    "hard_silu": jaxact.hard_silu,
    "hard_tanh": jaxact.hard_tanh,
    "relu6": jaxact.relu6,
    "selu": jaxact.selu,
    "sparse_plus": jaxact.sparse_plus,
    "sparse_sigmoid": jaxact.sparse_sigmoid,
    # glu pairs each value with a gate: see _glu_pairs.
    "glu": jaxact.glu,
}

# Compared with the flat layout of all the inputs (not a multiple of 8):
# 2-D with rows shorter than the vector width, rows of 6 and 13, and one
# long enough for many vector iterations. (Shapes (12,), (3, 4), (1, 96) and
# (13,) found nothing that these miss, and each costs a compilation per
# function.)
SHAPES = [(4, 3), (4, 4), (16, 6), (7, 13), (4099,)]


def _inputs() -> np.ndarray:
    """Values around every switch point of the functions (0, ±1, ±5, ±20,
    ±90), tiny and huge magnitudes, and a dense stretch in between: float64,
    rounded to each dtype by the caller."""
    magnitudes = np.concatenate([
        [0.0, 1e-30, 1e-7, 1e-3, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 6.0,
         10.0, 17.0, 20.0, 40.0, 88.0, 90.0, 100.0, 1e4, 1e10, 1e30, 3e38, np.inf],
        np.nextafter(np.float32([1.0, 3.0, 5.0, 20.0]), np.float32(0)),
        np.nextafter(np.float32([1.0, 3.0, 5.0, 20.0]), np.float32(np.inf)),
        np.geomspace(1e-6, 100.0, 200),
        np.linspace(0.0, 8.0, 300),
    ])
    return np.concatenate([magnitudes, -magnitudes, [np.nan]])


def _laid_out(values: np.ndarray, shape: tuple[int, ...]) -> list[np.ndarray]:
    """``values`` (one row per input) cycled into as many arrays of ``shape``
    (plus the row's own shape) as it takes to hold all of them."""
    size = int(np.prod(shape))
    count = -(-len(values) // size)
    cycled = np.resize(values, (count * size, *values.shape[1:]))
    return [chunk.reshape(shape + values.shape[1:]) for chunk in np.split(cycled, count)]


def _glu_pairs(pairs: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """glu's input for (value, gate) pairs laid out in ``shape``: the values,
    then the gates, along the last axis."""
    return np.concatenate([pairs[..., 0].reshape(shape), pairs[..., 1].reshape(shape)], axis=-1)


def _values_and_slopes(fn, count):
    """One jit for ``count`` arrays (one per shape): fn's value and
    elementwise derivative at each. XLA emits a loop nest per shape, as it
    would for separate calls, at the cost of one compilation."""

    def pair(x):
        # The gradient of the sum is the elementwise derivative.
        return fn(x), jax.grad(lambda v: fn(v).sum())(x)

    return jax.jit(lambda *xs: [pair(x) for x in xs[:count]])


def _results(name, values, shapes, dtype):
    """fn's value and derivative at ``values`` computed in arrays of each of
    ``shapes``: per shape, (values, slopes) flattened to one row per input
    (glu: a row of two slopes, in the value and in the gate)."""
    fn = _values_and_slopes(ELEMENTWISE[name], len(shapes))
    if name == "glu":
        # Each value gated by the value at the mirrored position.
        pairs = np.stack([values, values[::-1]], axis=-1)
        layouts = [_laid_out(pairs, shape) for shape in shapes]
    else:
        layouts = [_laid_out(values, shape) for shape in shapes]
    calls = max(len(chunks) for chunks in layouts)
    outputs = [[] for _ in shapes]
    slopes = [[] for _ in shapes]
    for call in range(calls):
        args = []
        for shape, chunks in zip(shapes, layouts, strict=True):
            chunk = chunks[call % len(chunks)]
            if name == "glu":
                chunk = _glu_pairs(chunk, shape)
            args.append(jnp.asarray(chunk, dtype))
        for index, (value, slope) in enumerate(fn(*args)):
            if call >= len(layouts[index]):
                continue
            outputs[index].append(np.asarray(value).ravel())
            if name == "glu":
                half = slope.shape[-1] // 2
                slope = np.stack([np.asarray(slope[..., :half]).ravel(),
                                  np.asarray(slope[..., half:]).ravel()], axis=-1)
            slopes[index].append(np.asarray(slope).reshape(outputs[index][-1].size, -1))
    n = len(values)
    return [(np.concatenate(o)[:n], np.concatenate(s)[:n])
            for o, s in zip(outputs, slopes, strict=True)]


def _bits(a: np.ndarray) -> np.ndarray:
    return a.view(f"uint{a.dtype.itemsize * 8}")


@pytest.mark.parametrize("dtype", [jnp.float32])
@pytest.mark.parametrize("name", list(ELEMENTWISE))
def test_bits_do_not_depend_on_the_shape(name, dtype):
    values = np.asarray(_inputs(), dtype)
    (flat_value, flat_slope), *others = _results(
        name, values, [(len(values),), *SHAPES], dtype)
    differences = []
    for shape, (value, slope) in zip(SHAPES, others, strict=True):
        for what, got, expected in [("value", value, flat_value), ("slope", slope, flat_slope)]:
            # Any NaN matches any NaN: its payload and sign are not promised.
            both_nan = np.isnan(got.astype(np.float32)) & np.isnan(expected.astype(np.float32))
            differ = (_bits(got) != _bits(expected)) & ~both_nan
            differ = differ.reshape(len(values), -1).any(axis=1)
            if differ.any():
                first = int(np.argmax(differ))
                differences.append(
                    f"{what} in {shape}: {int(differ.sum())} of {len(values)}, first at "
                    f"x = {values[first]!r}: {got.reshape(len(values), -1)[first]!r} vs "
                    f"{expected.reshape(len(values), -1)[first]!r}")
    assert not differences, f"{name} {jnp.dtype(dtype).name}: " + "; ".join(differences)


@pytest.mark.parametrize(
    "dtype", [jnp.bfloat16, jnp.float16, jnp.float32, jnp.float8_e4m3fnuz, jnp.float8_e4m3fn]
)
def test_the_contraction_guard_is_the_identity(dtype):
    # numerics.rounded, the guard the fixes above rely on: every 16-bit
    # pattern, float32's special values and binade edges, every 8-bit
    # pattern (those formats pass through); NaN may only become NaN.
    from jaxact._src.numerics import rounded

    width = jnp.finfo(dtype).bits
    uint = np.dtype(f"uint{width}") if width > 8 else np.dtype("uint8")
    if width <= 16:
        patterns = np.arange(2**width, dtype=uint)
    else:
        edges = np.float32([0.0, 1e-45, 1.1754942e-38, 1.1754944e-38, 1.0, 3.4028235e38, np.inf])
        patterns = np.concatenate([
            edges.view(uint), np.uint32([0x7F800001, 0x7FC00000, 0x7FFFFFFF]),
            np.random.default_rng(0).integers(0, 2**32, 1 << 16, dtype=np.uint32)])
        patterns = np.concatenate([patterns, patterns | np.uint32(0x80000000)])
    x = patterns.view(jnp.dtype(dtype))
    got = np.asarray(jax.jit(rounded)(jnp.asarray(x)))
    nan = np.isnan(x.astype(np.float32))
    assert np.array_equal(got.view(uint)[~nan], patterns[~nan])
    assert np.isnan(got[nan].astype(np.float32)).all()
