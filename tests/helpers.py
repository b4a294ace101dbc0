"""Comparison helpers shared by the tests.

ULPs are the unit for accuracy: a relative tolerance is too loose near 1 and
too strict near the underflow threshold, while "within n representable values
of the reference" means the same thing at every magnitude.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np


def ulp_error(got, reference) -> np.ndarray:
    """|got - reference| in units of the spacing of got's dtype at the reference.

    ``reference`` is a float64 (or better) value; ``got`` any float dtype. The
    spacing is floored at the dtype's smallest normal spacing, so errors among
    subnormals are measured against the subnormal step, not blown up.
    """
    got = np.asarray(got)
    dtype = got.dtype
    if str(dtype) == "bfloat16":
        import ml_dtypes

        finfo = ml_dtypes.finfo(dtype)
    else:
        finfo = np.finfo(dtype)
    ref = np.asarray(reference, dtype=np.float64)
    got64 = got.astype(np.float64)
    # One ULP of the target dtype in the binade of the reference.
    exponent = np.floor(np.log2(np.maximum(np.abs(ref), float(finfo.tiny))))
    spacing = np.exp2(exponent - finfo.nmant)
    with np.errstate(invalid="ignore"):
        err = np.abs(got64 - ref) / spacing
    both_nan = np.isnan(got64) & np.isnan(ref)
    same_inf = np.isinf(got64) & np.isinf(ref) & (np.sign(got64) == np.sign(ref))
    err = np.where(both_nan | same_inf, 0.0, err)
    return np.where(np.isnan(err), np.inf, err)


def assert_ulp_close(got, reference, max_ulp: float, *, context: str = "") -> None:
    err = ulp_error(got, reference)
    if err.size and err.max() > max_ulp:
        where = int(np.argmax(err))
        got_flat = np.asarray(got).ravel()
        ref_flat = np.asarray(reference, dtype=np.float64).ravel()
        raise AssertionError(
            f"{context} max error {err.max():.3g} ULP > {max_ulp} at index {where}: "
            f"got {got_flat[where]!r}, reference {ref_flat[where]!r}"
        )


def assert_trees_allclose(actual, desired, *, rtol: float = 1e-6, atol: float = 0.0) -> None:
    """Leaf-by-leaf allclose of two pytrees with the same structure."""
    actual_leaves, actual_def = jax.tree_util.tree_flatten(actual)
    desired_leaves, desired_def = jax.tree_util.tree_flatten(desired)
    assert actual_def == desired_def, f"tree structures differ: {actual_def} vs {desired_def}"
    for index, (a, d) in enumerate(zip(actual_leaves, desired_leaves, strict=True)):
        a = np.asarray(a, dtype=np.float64)
        d = np.asarray(d, dtype=np.float64)
        assert a.shape == d.shape, f"leaf {index}: shape {a.shape} vs {d.shape}"
        np.testing.assert_allclose(a, d, rtol=rtol, atol=atol, err_msg=f"leaf {index}")


def mlp_init(key, sizes) -> list[dict]:
    """A small MLP: one ``{"w", "b"}`` dense layer per consecutive pair of ``sizes``,
    weights normal / sqrt(fan-in), biases 0."""
    keys = jax.random.split(key, len(sizes) - 1)
    return [
        {"w": jax.random.normal(k, (n_in, n_out)) / np.sqrt(n_in), "b": jnp.zeros(n_out)}
        for k, n_in, n_out in zip(keys, sizes[:-1], sizes[1:], strict=True)
    ]


def mlp_apply(params, x, activation):
    """The MLP of :func:`mlp_init` with ``activation`` after every hidden layer.

    Returns the output (no activation on the last layer) and, per hidden layer,
    the pair (pre-activation, activation output).
    """
    hidden = []
    for layer in params[:-1]:
        z = x @ layer["w"] + layer["b"]
        x = activation(z)
        hidden.append((z, x))
    return x @ params[-1]["w"] + params[-1]["b"], hidden


def value_and_slope(reference):
    """A ``harness.references`` entry, ``(xp, x, ...) -> {"f", "f'", ...}``,
    as ``(xp, x, ...) -> (value, derivative in x)``."""

    @functools.wraps(reference)
    def pair(*args, **kwargs):
        out = reference(*args, **kwargs)
        return out["f"], out["f'"]

    return pair


def assert_normal_results_within(
    x, got, reference, max_ulp, context, *, min_fraction=0.4, exact_zeros=False
):
    """ULP bound wherever the true result is a normal float32.

    Results below the smallest normal float32 are flushed to zero by XLA's
    CPU and are judged apart: they must be finite (and exactly 0 where the
    true result is 0, with ``exact_zeros``). ``min_fraction`` guards against a
    sweep that, by mistake, has almost no normal results to judge.
    """
    tiny_normal = float(np.finfo(np.float32).tiny)
    got = np.asarray(got)
    magnitude = np.abs(reference)
    normal = (magnitude >= tiny_normal) & (magnitude <= np.finfo(np.float32).max)
    assert normal.sum() > min_fraction * x.size, f"{context}: too few normal results to judge"
    error = ulp_error(got[normal], reference[normal])
    worst = int(np.argmax(error))
    assert error[worst] <= max_ulp, (
        f"{context}: {error[worst]:.3g} ULP > {max_ulp} at x = {x[normal][worst]!r}: "
        f"got {got[normal][worst]!r}, expected {reference[normal][worst]!r}"
    )
    if exact_zeros:
        zero = reference == 0
        assert np.all(got[zero] == 0), f"{context}: nonzero where the result is 0"
    tiny = magnitude < tiny_normal
    assert np.all(np.isfinite(got[tiny])), f"{context}: NaN/inf where the result is tiny"


def assert_rounded_once(half, single, dtype, context, inputs):
    """``half`` (a bfloat16/float16 result) is ``single`` (the float32 result) rounded once.

    NaN matches NaN; ``inputs`` names the first input that differs.
    """
    assert half.dtype == jnp.dtype(dtype)
    half = np.asarray(half).astype(np.float32)
    with np.errstate(invalid="ignore", over="ignore"):
        rounded = np.asarray(single).astype(dtype).astype(np.float32)
    same = (half == rounded) | (np.isnan(half) & np.isnan(rounded))
    assert same.all(), (
        f"{context}: {int((~same).sum())} of {same.size} differ, first at "
        f"{inputs[~same][0]!r}: {half[~same][0]!r} vs {rounded[~same][0]!r}"
    )


# The first JAX whose jax.nn no longer has the defect a test shows jaxact
# avoids: a comparison with jax.nn follows the installed one.
JAX_NN_FIXED_IN = {
    "elu": (0, 12, 0),  # derivative as expm1(x) + 1: exactly 0 below x = -17
    "selu": (0, 12, 0),
    "celu": (0, 12, 0),
    "squareplus": (0, 12, 0),  # x + sqrt(x^2 + b) cancels for x << 0
}


def jax_nn_has_defect(name: str) -> bool:
    """Whether the installed jax.nn still has the defect of ``name`` in JAX_NN_FIXED_IN."""
    return jax.__version_info__[:3] < JAX_NN_FIXED_IN[name]
