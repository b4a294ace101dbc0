"""Tests of jaxact.diagnostics against hand computations in numpy."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import Mesh, NamedSharding, PartitionSpec

import jaxact
from jaxact import diagnostics
from tests.helpers import assert_trees_allclose, mlp_apply, mlp_init
from tests.test_dtypes import NARROW


def _activations(seed: int, shape, dead_units=()) -> np.ndarray:
    """ReLU-like activations with some units forced to 0 on every sample."""
    rng = np.random.default_rng(seed)
    h = np.maximum(rng.standard_normal(shape).astype(np.float32) - 1.0, 0.0)
    h[..., list(dead_units)] = 0.0
    return h


# --------------------------------------------------------------------------
# active_units, update_active_units, dead_fraction


def test_active_units_by_hand():
    h = jnp.array([[0.0, 1.5, 0.0, -2.0],
                   [0.0, 0.0, 2.0, -1.0]])
    np.testing.assert_array_equal(diagnostics.active_units(h), [False, True, True, False])
    # One sample (1-D) and integer activations.
    np.testing.assert_array_equal(diagnostics.active_units(jnp.array([0, 3, -1])),
                                  [False, True, False])


def test_active_units_reduces_every_leading_axis():
    h = _activations(0, (4, 3, 3, 6), dead_units=(1, 4))
    expected = (h > 0).reshape(-1, 6).any(axis=0)
    assert not expected[1] and not expected[4] and expected.sum() == 4
    got = jax.jit(diagnostics.active_units)(h)
    assert got.dtype == jnp.bool_ and got.shape == (6,)
    np.testing.assert_array_equal(got, expected)


def test_active_units_special_values():
    h = jnp.array([[jnp.nan, jnp.inf, -jnp.inf, -0.0]])
    np.testing.assert_array_equal(diagnostics.active_units(h), [False, True, False, False])


def test_stream_accumulation_equals_one_batch():
    h = _activations(1, (96, 20), dead_units=(0, 7, 13))
    expected = diagnostics.active_units(h)
    update = jax.jit(diagnostics.update_active_units)
    active = jnp.zeros(20, bool)
    for batch in np.split(h, 6):
        active = update(active, batch)
    np.testing.assert_array_equal(active, expected)

    # The same fold as a lax.scan inside one compiled program.
    def fold(active, batch):
        return diagnostics.update_active_units(active, batch), None

    scanned, _ = jax.jit(lambda h: jax.lax.scan(fold, jnp.zeros(20, bool), h))(
        h.reshape(6, 16, 20))
    np.testing.assert_array_equal(scanned, expected)
    np.testing.assert_allclose(diagnostics.dead_fraction(active), 3 / 20)


def test_dead_fraction_by_hand():
    fraction = diagnostics.dead_fraction(jnp.array([True, False, True, False, False]))
    assert fraction.dtype == jnp.float32 and fraction.shape == ()
    assert float(fraction) == pytest.approx(0.6)
    assert float(diagnostics.dead_fraction(jnp.ones(7, bool))) == 0.0
    assert float(diagnostics.dead_fraction(jnp.zeros(7, bool))) == 1.0
    # Masks of two layers stacked: every entry counts.
    stacked = jnp.array([[True, True, False], [False, False, False]])
    assert float(jax.jit(diagnostics.dead_fraction)(stacked)) == pytest.approx(4 / 6)


def test_dead_units_under_vmap_over_seeds():
    h = np.stack([_activations(seed, (32, 10), dead_units=range(seed)) for seed in range(4)])

    def dead(h):
        return diagnostics.dead_fraction(diagnostics.active_units(h))

    got = jax.jit(jax.vmap(dead))(h)
    expected = [float(dead(h[seed])) for seed in range(4)]
    np.testing.assert_allclose(got, expected)
    assert got[3] >= 0.3  # the three forced-dead units of seed 3 are counted


def test_active_and_dead_input_errors():
    with pytest.raises(ValueError, match=r"jaxact\.active_units: h must have at least one axis"):
        diagnostics.active_units(1.0)
    with pytest.raises(TypeError, match=r"jaxact\.active_units: h must hold activation values"):
        diagnostics.active_units(jnp.ones((2, 3), bool))
    with pytest.raises(TypeError, match=r"jaxact\.active_units: h must be an array"):
        diagnostics.active_units([[1.0, 2.0]])
    with pytest.raises(TypeError, match=r"jaxact\.active_units: h must be real"):
        diagnostics.active_units(jnp.ones((2, 3), jnp.complex64))
    with pytest.raises(ValueError, match="no units"):
        diagnostics.active_units(jnp.ones((2, 0)))
    with pytest.raises(TypeError, match=r"jaxact\.update_active_units: active must be a bool"):
        diagnostics.update_active_units(jnp.zeros(3), jnp.ones((2, 3)))
    with pytest.raises(ValueError, match=r"active must have shape \(3,\)"):
        diagnostics.update_active_units(jnp.zeros(4, bool), jnp.ones((2, 3)))
    with pytest.raises(TypeError, match=r"jaxact\.dead_fraction: active must be a bool"):
        diagnostics.dead_fraction(jnp.array([1.0, 0.0]))
    with pytest.raises(ValueError, match=r"jaxact\.dead_fraction: active must have at least"):
        diagnostics.dead_fraction(jnp.array(True))


# --------------------------------------------------------------------------
# saturated_fraction


def _sigmoid_derivative_f64(z):
    s = 1 / (1 + np.exp(-np.asarray(z, np.float64)))
    return s * (1 - s)


def _tanh_derivative_f64(z):
    return 1 / np.cosh(np.asarray(z, np.float64)) ** 2


@pytest.mark.parametrize(
    "activation, derivative, threshold",
    [
        (jaxact.sigmoid, _sigmoid_derivative_f64, 0.01),
        (jaxact.tanh, _tanh_derivative_f64, 0.01),
        (jaxact.tanh, _tanh_derivative_f64, 0.5),
        (jaxact.relu, lambda z: (z > 0).astype(np.float64), 0.01),
        (lambda v: jaxact.leaky_relu(v, 0.005), lambda z: np.where(z >= 0, 1.0, 0.005), 0.01),
    ],
    ids=["sigmoid", "tanh", "tanh-0.5", "relu", "leaky-0.005"],
)
def test_saturated_fraction_by_hand(activation, derivative, threshold):
    z = np.random.default_rng(2).uniform(-15, 15, (64, 12)).astype(np.float32)
    reference = np.abs(derivative(z))
    # No entry so near the threshold that float32 rounding could move it across.
    assert np.min(np.abs(reference - threshold)) > 1e-4 * threshold
    expected = np.mean(reference < threshold)
    got = jax.jit(lambda z: diagnostics.saturated_fraction(z, activation, threshold=threshold))(z)
    assert got.dtype == jnp.float32 and got.shape == ()
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_saturated_fraction_is_strictly_below_the_threshold():
    z = jnp.array([-1.0, 0.0, 1.0, 2.0])
    # relu' is exactly 1 for z > 0: not below a threshold of 1.
    assert float(diagnostics.saturated_fraction(z, jaxact.relu, threshold=1.0)) == 0.5
    leaky = lambda v: jaxact.leaky_relu(v, 0.25)
    assert float(diagnostics.saturated_fraction(z, leaky, threshold=0.25)) == 0.0


def test_saturated_fraction_equals_vmap_of_grad():
    z = jnp.linspace(-30.0, 30.0, 301).reshape(7, 43)
    for activation in (jaxact.sigmoid, jaxact.tanh, jaxact.elu):
        derivative = jax.vmap(jax.grad(activation))(z.ravel())
        expected = float(jnp.mean(jnp.abs(derivative) < 1e-3))
        assert float(diagnostics.saturated_fraction(z, activation, threshold=1e-3)) == expected


def test_saturated_fraction_channelwise_slope():
    # One slope per unit, broadcast against (batch, units): the case vmap(grad)
    # of a scalar function cannot express.
    slopes = jnp.array([0.0, 0.01, 0.25, 0.0])
    z = np.random.default_rng(3).standard_normal((50, 4)).astype(np.float32)
    expected = np.mean((z < 0) & (np.abs(np.asarray(slopes)) < 0.05))
    got = diagnostics.saturated_fraction(z, lambda v: jaxact.leaky_relu(v, slopes), threshold=0.05)
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_saturated_fraction_with_a_prelu_pytree():
    # A parametric activation passed whole, and traced, as in a training step.
    prelu = jaxact.PReLU.init(4)
    prelu = jax.tree_util.tree_map(lambda slope: slope.at[0].set(0.0), prelu)
    z = np.random.default_rng(12).standard_normal((50, 4)).astype(np.float32)
    expected = np.mean((z < 0) & (np.arange(4) == 0))  # only unit 0 has slope < 0.01
    got = jax.jit(lambda act, z: diagnostics.saturated_fraction(z, act))(prelu, z)
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    with pytest.raises(ValueError, match="activation must be elementwise"):
        diagnostics.saturated_fraction(z, lambda v: jaxact.maxout(v, 2))


def test_saturated_fraction_traced_threshold_and_vmap():
    z = np.random.default_rng(4).uniform(-6, 6, (3, 40, 5)).astype(np.float32)
    thresholds = jnp.array([0.01, 0.1, 0.2])

    def per_seed(z, threshold):
        return diagnostics.saturated_fraction(z, jaxact.tanh, threshold=threshold)

    got = jax.jit(jax.vmap(per_seed))(z, thresholds)
    expected = [np.mean(_tanh_derivative_f64(z[i]) < float(thresholds[i])) for i in range(3)]
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_saturated_fraction_special_values():
    infinite = jnp.array([-jnp.inf, jnp.inf, 0.0, 1.0])
    assert float(diagnostics.saturated_fraction(infinite, jaxact.sigmoid)) == 0.5
    assert float(diagnostics.saturated_fraction(infinite, jaxact.tanh)) == 0.5
    with_nan = jnp.array([0.0, jnp.nan, 20.0])
    assert np.isnan(diagnostics.saturated_fraction(with_nan, jaxact.sigmoid))


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16, jnp.float32])
def test_saturated_fraction_half_precision(dtype):
    z = jnp.array([-12.0, -2.0, 0.0, 2.0, 12.0], dtype)
    # sigmoid'(±12) = 6.1e-6 (saturated), sigmoid'(±2) = 0.105, sigmoid'(0) = 0.25.
    np.testing.assert_allclose(diagnostics.saturated_fraction(z, jaxact.sigmoid), 0.4)


def test_saturated_fraction_input_errors():
    z = jnp.ones((2, 3))
    with pytest.raises(TypeError, match=r"jaxact\.saturated_fraction: activation must be callable"):
        diagnostics.saturated_fraction(z, "relu")
    with pytest.raises(ValueError, match="activation must be elementwise"):
        diagnostics.saturated_fraction(z, lambda v: jnp.max(v, axis=-1))
    with pytest.raises(TypeError, match="activation must return a float array"):
        diagnostics.saturated_fraction(z, lambda v: (v > 0).astype(jnp.int32))
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match=r"jaxact\.saturated_fraction: threshold must be > 0"):
            diagnostics.saturated_fraction(z, jaxact.tanh, threshold=bad)
    with pytest.raises(ValueError, match="threshold must be a scalar"):
        diagnostics.saturated_fraction(z, jaxact.tanh, threshold=jnp.array([0.1, 0.2]))
    with pytest.raises(TypeError, match="threshold must be an array"):
        diagnostics.saturated_fraction(z, jaxact.tanh, threshold="0.1")
    with pytest.raises(TypeError, match=r"jaxact\.saturated_fraction: z must be an array"):
        diagnostics.saturated_fraction([1.0, 2.0], jaxact.tanh)
    with pytest.raises(TypeError, match=r"z must be real"):
        diagnostics.saturated_fraction(jnp.ones(2, jnp.complex64), jaxact.tanh)
    with pytest.raises(ValueError, match="z is empty"):
        diagnostics.saturated_fraction(jnp.ones((0, 3)), jaxact.tanh)


# --------------------------------------------------------------------------
# activation_stats


def test_activation_stats_by_hand():
    stats = jax.jit(diagnostics.activation_stats)(jnp.array([[1.0, 3.0], [1.0, 3.0]]))
    assert set(stats) == {"mean", "std"}
    assert float(stats["mean"]) == 2.0 and float(stats["std"]) == 1.0
    h = np.random.default_rng(5).standard_normal((30, 4, 7)).astype(np.float32) * 3 + 0.5
    stats = diagnostics.activation_stats(h)
    np.testing.assert_allclose(stats["mean"], np.mean(h.astype(np.float64)), rtol=1e-5)
    np.testing.assert_allclose(stats["std"], np.std(h.astype(np.float64)), rtol=1e-5)


def test_activation_stats_large_mean_small_spread():
    # E[h^2] - E[h]^2 would give 1e8 + 1 - 1e8 = 0 or 8 in float32; two passes give 1.
    h = jnp.array([[1e4 - 1.0, 1e4 + 1.0]] * 8)
    stats = diagnostics.activation_stats(h)
    assert float(stats["mean"]) == 1e4 and float(stats["std"]) == 1.0


@pytest.mark.parametrize("dtype", [jnp.float16, jnp.float32, jnp.float64])
def test_activation_stats_do_not_overflow_near_the_largest_finite_value(dtype):
    with jax.enable_x64(dtype == jnp.float64):
        big = float(jnp.finfo(dtype).max) * 0.9
        stats = diagnostics.activation_stats(jnp.array([[big, big]], dtype))
        # The sum (and before the fix the mean) overflowed to inf.
        assert float(stats["mean"]) == float(jnp.asarray(big, dtype)) and float(stats["std"]) == 0
        stats = diagnostics.activation_stats(jnp.array([[big, -big]], dtype))
        # x - mean is finite here, but mean((x - mean)^2) is not without scaling.
        assert float(stats["mean"]) == 0.0
        np.testing.assert_allclose(float(stats["std"]), float(jnp.asarray(big, dtype)), rtol=1e-6)
        stats = jax.jit(diagnostics.activation_stats)(jnp.array([[big, big / 2, 0.0, -big]], dtype))
        fractions = np.array([1.0, 0.5, 0.0, -1.0])  # of big: numpy's float64 would overflow
        np.testing.assert_allclose(float(stats["mean"]), fractions.mean() * big, rtol=1e-3)
        np.testing.assert_allclose(float(stats["std"]), fractions.std() * big, rtol=1e-3)


def test_activation_stats_scaling_keeps_ordinary_results_bit_for_bit():
    # Scaling by a power of two is exact: the same bits as the unscaled formula.
    h = np.random.default_rng(8).standard_normal((64, 33)).astype(np.float32) * 7 - 2
    stats = diagnostics.activation_stats(h)
    mean = jnp.mean(jnp.asarray(h))
    assert stats["mean"] == mean
    assert stats["std"] == jnp.sqrt(jnp.mean(jnp.square(jnp.asarray(h) - mean)))


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16, jnp.float32])
def test_activation_stats_keeps_dtype(dtype):
    h = jnp.array([[0.0, 2.0], [4.0, 6.0]], dtype)
    stats = diagnostics.activation_stats(h)
    assert stats["mean"].dtype == dtype and stats["std"].dtype == dtype
    assert float(stats["mean"]) == 3.0
    np.testing.assert_allclose(float(stats["std"]), np.sqrt(5.0), rtol=1e-2)


@pytest.mark.parametrize("dtype", NARROW, ids=str)
def test_narrow_dtypes_are_computed_in_float32_and_rounded_once(dtype):
    # Every floating type narrower than float32 (the float8 and float4 ones
    # too): accumulated in float32, not in the type itself, where sums of
    # squares overflow or turn NaN, and the threshold taken in float32, where
    # 0.01 is not 0 (float8_e4m3fn has no number that small).
    values = np.array([[0.5, 1.0, 2.0], [1.5, 3.0, 0.25], [0.75, 1.0, 2.5]] * 40)
    h = jnp.asarray(values, dtype)
    wide = np.asarray(h.astype(jnp.float32)).astype(np.float64)
    stats = diagnostics.activation_stats(h)
    assert stats["mean"].dtype == dtype and stats["std"].dtype == dtype
    norm = diagnostics.gradient_norms({"g": h})["g"]
    assert norm.dtype == dtype

    def rounded_once(exact):
        return np.asarray(jnp.asarray(exact, jnp.float32).astype(dtype).astype(jnp.float32))

    # (Equal as arrays: a norm beyond a type's largest finite number rounds to
    # NaN in the types without inf, float8_e4m3b11fnuz's 30 say.)
    for got, exact in ((stats["mean"], wide.mean()), (stats["std"], wide.std()),
                       (norm, np.sqrt(np.sum(wide**2)))):
        np.testing.assert_array_equal(np.asarray(got.astype(jnp.float32)), rounded_once(exact))
    z = jnp.asarray([-12.0, -2.0, 0.0, 2.0, 12.0], dtype)
    derivative = np.asarray(jax.vmap(jax.grad(jaxact.sigmoid))(z).astype(jnp.float32))
    # NaN in (float8_e8m0fnu has no 0 and no negative numbers), NaN out.
    expected = np.float32(np.nan if np.isnan(derivative).any()
                          else np.mean(np.abs(derivative) < 0.01))
    got = diagnostics.saturated_fraction(z, jaxact.sigmoid, threshold=0.01)
    np.testing.assert_array_equal(np.asarray(got), expected)


def test_activation_stats_nan_and_errors():
    stats = diagnostics.activation_stats(jnp.array([1.0, jnp.nan]))
    assert np.isnan(stats["mean"]) and np.isnan(stats["std"])
    with pytest.raises(ValueError, match=r"jaxact\.activation_stats: h must have at least one"):
        diagnostics.activation_stats(2.0)
    with pytest.raises(ValueError, match=r"jaxact\.activation_stats: h is empty"):
        diagnostics.activation_stats(jnp.ones((0, 4)))
    with pytest.raises(TypeError, match=r"jaxact\.activation_stats: h must be an array"):
        diagnostics.activation_stats([1.0])


# --------------------------------------------------------------------------
# gradient_norms


def test_gradient_norms_by_hand():
    grads = {
        "dense": {"w": jnp.array([[3.0, 0.0], [0.0, 4.0]]), "b": jnp.array([-12.0, 5.0])},
        "layers": [jnp.array(2.0), None],
    }
    norms = jax.jit(diagnostics.gradient_norms)(grads)
    assert jax.tree_util.tree_structure(norms) == jax.tree_util.tree_structure(grads)
    assert float(norms["dense"]["w"]) == 5.0
    assert float(norms["dense"]["b"]) == 13.0
    assert float(norms["layers"][0]) == 2.0 and norms["layers"][1] is None


def test_gradient_norms_against_numpy():
    rng = np.random.default_rng(6)
    grads = [rng.standard_normal(shape).astype(np.float32) for shape in [(7,), (5, 9), (2, 3, 4)]]
    norms = diagnostics.gradient_norms(grads)
    expected = [np.linalg.norm(leaf.astype(np.float64).ravel()) for leaf in grads]
    assert_trees_allclose(norms, expected, rtol=1e-6)


def test_gradient_norms_tiny_and_huge_values():
    # Unscaled, (1e-30)^2 underflows to 0 and (1e25)^2 overflows to inf in float32.
    tiny = jnp.full((100,), 1e-30)
    huge = jnp.full((4,), 1e25)
    norms = diagnostics.gradient_norms({"tiny": tiny, "huge": huge})
    np.testing.assert_allclose(norms["tiny"], 1e-29, rtol=1e-6)
    np.testing.assert_allclose(norms["huge"], 2e25, rtol=1e-6)
    assert float(jnp.linalg.norm(tiny)) == 0.0  # what the scaling protects against


def test_gradient_norms_special_values_and_dtypes():
    norms = diagnostics.gradient_norms({
        "inf": jnp.array([1.0, -jnp.inf]),
        "nan": jnp.array([1.0, jnp.nan, jnp.inf]),
        "zero": jnp.zeros(3),
        "empty": jnp.zeros((0, 2)),
        "half": jnp.full((1000,), 100.0, jnp.float16),  # sum of squares 1e7 > float16 max
        "bf16": jnp.array([3.0, 4.0], jnp.bfloat16),
    })
    assert float(norms["inf"]) == np.inf
    assert np.isnan(norms["nan"])
    assert float(norms["zero"]) == 0.0 and float(norms["empty"]) == 0.0
    assert norms["half"].dtype == jnp.float16 and norms["bf16"].dtype == jnp.bfloat16
    np.testing.assert_allclose(float(norms["half"]), 100 * np.sqrt(1000), rtol=1e-3)
    assert float(norms["bf16"]) == 5.0


def test_gradient_norms_under_vmap():
    stacked = {"w": np.random.default_rng(7).standard_normal((5, 3, 4)).astype(np.float32)}
    got = jax.vmap(diagnostics.gradient_norms)(stacked)
    expected = np.linalg.norm(stacked["w"].reshape(5, -1).astype(np.float64), axis=1)
    np.testing.assert_allclose(got["w"], expected, rtol=1e-6)


def test_gradient_norms_errors_name_the_leaf():
    with pytest.raises(TypeError, match=r"jaxact\.gradient_norms: grads leaf \['step'\]"):
        diagnostics.gradient_norms({"w": jnp.ones(2), "step": jnp.array(3)})
    with pytest.raises(TypeError, match=r"grads leaf \[1\] must be a float array, got str"):
        diagnostics.gradient_norms([jnp.ones(2), "oops"])


def test_gradient_norms_of_float0_leaves_raise_the_documented_type_error():
    # grad(allow_int=True) gives float0 gradients for integer inputs; jnp cannot
    # read their dtype (a numpy "setting an array element" ValueError before).
    grads = jax.grad(lambda p: p["w"] * 2.0, allow_int=True)({"w": 1.0, "step": jnp.int32(3)})
    assert grads["step"].dtype == jax.dtypes.float0
    with pytest.raises(TypeError, match=r"jaxact\.gradient_norms: grads leaf \['step'\] must be "
                       r"a float array, got dtype float0"):
        diagnostics.gradient_norms(grads)


# --------------------------------------------------------------------------
# inside a jitted training step, and sharded


def _mlp_params(seed: int):
    return mlp_init(jax.random.key(seed), (8, 16, 16, 3))


def _forward(params, x):
    return mlp_apply(params, x, jaxact.relu)


def test_diagnostics_inside_jitted_training_step():
    traces = []

    @jax.jit
    def step(params, active, x, y):
        traces.append(None)  # runs once per compilation

        def loss(params):
            logits, hidden = _forward(params, x)
            log_probs = jax.nn.log_softmax(logits)
            return -jnp.mean(jnp.take_along_axis(log_probs, y[:, None], axis=1)), hidden

        (value, hidden), grads = jax.value_and_grad(loss, has_aux=True)(params)
        active = [
            diagnostics.update_active_units(mask, h)
            for mask, (_, h) in zip(active, hidden, strict=True)
        ]
        report = {
            "dead": [diagnostics.dead_fraction(a) for a in active],
            "saturated": [diagnostics.saturated_fraction(z, jaxact.relu) for z, _ in hidden],
            "stats": [diagnostics.activation_stats(h) for _, h in hidden],
            "grad_norms": diagnostics.gradient_norms(grads),
        }
        params = jax.tree_util.tree_map(lambda p, g: p - 0.1 * g, params, grads)
        return params, active, value, report

    params = _mlp_params(0)
    active = [jnp.zeros(16, bool), jnp.zeros(16, bool)]
    rng = np.random.default_rng(8)
    for _ in range(3):
        x = rng.standard_normal((32, 8)).astype(np.float32)
        y = rng.integers(0, 3, 32).astype(np.int32)
        first_params = params
        params, active, _, report = step(params, active, x, y)
    assert len(traces) == 1

    # The last step's numbers, recomputed outside jit from the same inputs.
    _, hidden = _forward(first_params, x)
    z0, h0 = hidden[0]
    np.testing.assert_allclose(report["saturated"][0], np.mean(np.asarray(z0) <= 0), rtol=1e-6)
    np.testing.assert_allclose(report["stats"][0]["mean"], np.mean(np.asarray(h0)), rtol=1e-5)
    np.testing.assert_allclose(report["dead"][0], np.mean(~np.asarray(active[0])), rtol=1e-6)
    assert report["grad_norms"][0]["w"].shape == ()


def test_sharded_over_host_devices_gives_the_same_numbers():
    devices = jax.devices()
    if len(devices) < 2:
        pytest.skip("needs XLA_FLAGS=--xla_force_host_platform_device_count=8 (tests/conftest.py)")
    mesh = Mesh(np.array(devices), ("data",))
    batch = 8 * len(devices)
    h = _activations(9, (batch, 24), dead_units=(2, 3, 19))
    z = np.random.default_rng(10).uniform(-10, 10, (batch, 24)).astype(np.float32)
    grads = {"w": np.random.default_rng(11).standard_normal((batch, 24)).astype(np.float32)}

    def everything(h, z, grads):
        active = diagnostics.active_units(h)
        return {
            "active": active,
            "dead": diagnostics.dead_fraction(active),
            "saturated": diagnostics.saturated_fraction(z, jaxact.tanh, threshold=0.05),
            "stats": diagnostics.activation_stats(h),
            "norms": diagnostics.gradient_norms(grads),
        }

    compute = jax.jit(everything)
    single = compute(h, z, grads)
    rows = NamedSharding(mesh, PartitionSpec("data"))
    sharded_inputs = jax.device_put((h, z, grads), rows)
    assert len(sharded_inputs[0].sharding.device_set) == len(devices)
    sharded = compute(*sharded_inputs)
    np.testing.assert_array_equal(sharded["active"], single["active"])
    assert float(sharded["dead"]) == pytest.approx(3 / 24)
    assert_trees_allclose(
        {k: v for k, v in sharded.items() if k != "active"},
        {k: v for k, v in single.items() if k != "active"},
        rtol=1e-6,
    )
