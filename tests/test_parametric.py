"""Tests for prelu / PReLU and maxout / Maxout."""

import functools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import NamedSharding, PartitionSpec
from jax.test_util import check_grads

import jaxact
from tests.helpers import assert_trees_allclose


@pytest.fixture(autouse=True)
def _float64_enabled():
    # Scoped to each test, so other test files in the same worker keep float32 defaults.
    with jax.enable_x64(True):
        yield


RNG = np.random.default_rng(0)


def _random(shape, dtype=np.float64):
    return RNG.normal(size=shape).astype(dtype)


# --------------------------------------------------------------------------
# prelu: values and derivatives against the hand formula


def _prelu_reference(x, slope):
    """The source's definition, in numpy float64: y if y > 0 else a * y."""
    return np.where(x > 0, x, slope * x)


def test_prelu_matches_formula_for_each_slope_shape():
    x = _random((4, 3, 5, 6))
    x[0, 0, 0, :3] = 0.0  # the kink belongs to the y <= 0 branch
    shared = 0.25
    channelwise = np.linspace(-0.5, 1.5, 6)
    per_position = _random((3, 1, 6))  # shared along the W axis only
    for slope, broadcast in [
        (shared, shared),
        (channelwise, channelwise),
        (per_position, per_position),
    ]:
        got = jaxact.prelu(x, jnp.asarray(slope))
        np.testing.assert_array_equal(got, _prelu_reference(x, broadcast))


def test_prelu_channel_axis_runs_the_vector_along_that_axis():
    x_nchw = _random((2, 3, 4, 5))
    slope = np.array([0.1, 0.2, 0.3])
    got = jaxact.prelu(x_nchw, slope, channel_axis=1)
    expected = _prelu_reference(x_nchw, slope[:, None, None])
    np.testing.assert_array_equal(got, expected)
    # Same as channels-last on the transposed array.
    x_nhwc = np.moveaxis(x_nchw, 1, -1)
    np.testing.assert_array_equal(np.moveaxis(np.asarray(got), 1, -1), jaxact.prelu(x_nhwc, slope))


@pytest.mark.parametrize("slope_shape", [(), (6,), (3, 1, 6)])
def test_prelu_gradients_match_the_source_formula(slope_shape):
    x = _random((4, 3, 5, 6))
    x[1, 2, 3, :] = 0.0
    slope = RNG.uniform(0.05, 0.9, size=slope_shape)
    cotangent = _random(x.shape)
    _, vjp = jax.vjp(jaxact.prelu, jnp.asarray(x), jnp.asarray(slope))
    dx, dslope = vjp(jnp.asarray(cotangent))
    # df/dy = 1 for y > 0 and a for y <= 0 (a at the kink y = 0).
    np.testing.assert_allclose(dx, np.where(x > 0, 1.0, slope) * cotangent, rtol=1e-15)
    # df/da = y for y <= 0, summed over the positions that share the slope.
    per_position = np.where(x > 0, 0.0, x) * cotangent
    shared_axes = tuple(range(x.ndim - len(slope_shape)))
    expected = per_position.sum(axis=shared_axes)
    expected = expected.sum(
        axis=tuple(i for i, n in enumerate(slope_shape) if n == 1), keepdims=True
    ).reshape(slope_shape)
    np.testing.assert_allclose(dslope, expected, rtol=1e-12)


def test_prelu_gradients_match_finite_differences_float64():
    # Points away from the kink, where the derivative is continuous.
    x = _random((3, 4))
    x = np.where(np.abs(x) < 0.1, 0.5, x)
    slope = np.array([0.25, -0.5, 1.5, 0.0])
    check_grads(jaxact.prelu, (x, slope), order=2, modes=["fwd", "rev"])
    layer = jaxact.PReLU(jnp.asarray(slope))
    check_grads(lambda layer, x: layer(x), (layer, x), order=1)


def test_prelu_limits_and_nan():
    x = jnp.array([-jnp.inf, jnp.inf, jnp.nan, -2.0])
    np.testing.assert_array_equal(jaxact.prelu(x, 0.5), [-jnp.inf, jnp.inf, jnp.nan, -1.0])
    # With a zero slope the limit at -inf is 0 (relu), not 0 * -inf = NaN.
    np.testing.assert_array_equal(jaxact.prelu(x, 0.0), [0.0, jnp.inf, jnp.nan, 0.0])
    assert np.isnan(jaxact.prelu(jnp.array([-1.0]), jnp.array([jnp.nan]))[0])
    assert jaxact.prelu(jnp.array([1.0]), jnp.array([jnp.nan]))[0] == 1.0


def test_prelu_gradients_at_the_limits_and_nan():
    # One slope per position, so each slope's gradient is that position's df/da.
    x = jnp.array([jnp.inf, -jnp.inf, jnp.nan, 0.0, -0.0, -2.0])
    slopes = jnp.full(x.shape, 0.5)
    grad_x, grad_slopes = jax.grad(lambda x, a: jnp.sum(jaxact.prelu(x, a)), (0, 1))(x, slopes)
    # df/dx: 1 above 0, the slope at and below 0, NaN for NaN (not the slope).
    np.testing.assert_array_equal(grad_x, [1.0, 0.5, jnp.nan, 0.5, 0.5, 0.5])
    # df/da = min(y, 0): 0 at +inf (not NaN), the input itself below, NaN for NaN.
    np.testing.assert_array_equal(grad_slopes, [0.0, -jnp.inf, jnp.nan, 0.0, 0.0, -2.0])


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16, jnp.float32, jnp.float64])
def test_prelu_keeps_the_input_dtype_and_the_slope_gradient_dtype(dtype):
    x = jnp.asarray([-2.0, -0.5, 0.0, 3.0], dtype=dtype)
    slope = jnp.asarray(0.25, dtype=jnp.float32)
    y = jaxact.prelu(x, slope)
    assert y.dtype == dtype
    np.testing.assert_array_equal(np.asarray(y, np.float64), [-0.5, -0.125, 0.0, 3.0])
    dslope = jax.grad(lambda s: jaxact.prelu(x, s).astype(jnp.float32).sum())(slope)
    assert dslope.dtype == jnp.float32
    assert float(dslope) == -2.5


# The kink and NaN at every order up to 3: each sequence of partials, 0 for
# x and 1 for the slope, e.g. (0, 1) is d/da (df/dx).
_PARTIALS = [
    (i,) + rest
    for i in (0, 1)
    for rest in [(), (0,), (1,), (0, 0), (0, 1), (1, 0), (1, 1)]
]


@functools.cache
def _partial(argnums):
    # Jitted and cached: one program per input type, where eagerly each
    # nested grad compiles its operations one by one.
    function = jaxact.prelu
    for argnum in argnums:
        function = jax.grad(function, argnum)
    return jax.jit(function)


@pytest.mark.parametrize("kink", [0.0, -0.0])
def test_prelu_second_and_third_derivatives_at_the_kink_follow_the_slope_side(kink):
    slope = 0.3
    # f = a * x on the documented side x <= 0: d2f/dx da = 1 in either order
    # (autodiff of min(x, -0.0) splits the tie and gave 1/2 for d/dx (df/da)).
    assert float(_partial((0, 1))(kink, slope)) == 1.0
    assert float(_partial((1, 0))(kink, slope)) == 1.0
    assert float(_partial((0, 0))(kink, slope)) == 0.0
    assert float(_partial((1, 1))(kink, slope)) == 0.0
    for argnums in _PARTIALS:
        if len(argnums) == 3:
            assert float(_partial(argnums)(kink, slope)) == 0.0, argnums
    # The same numbers from forward mode (jax.hessian), on an array.
    x = jnp.array([kink, -1.0, 2.0])
    hessian = jax.hessian(lambda x, a: jnp.sum(jaxact.prelu(x, a)), (0, 1))(x, slope)
    np.testing.assert_array_equal(hessian[0][1], [1.0, 1.0, 0.0])
    np.testing.assert_array_equal(hessian[1][0], [1.0, 1.0, 0.0])
    np.testing.assert_array_equal(hessian[0][0], np.zeros((3, 3)))
    assert float(hessian[1][1]) == 0.0


@pytest.mark.parametrize("argnums", _PARTIALS, ids=str)
def test_prelu_nan_input_reaches_every_derivative_up_to_order_3(argnums):
    assert np.isnan(_partial(argnums)(jnp.nan, 0.3)), argnums
    # and no NaN where the input is a number
    for x in (-jnp.inf, -2.0, 0.0, 2.0, jnp.inf):
        if argnums == (1,) and x == -jnp.inf:
            continue  # df/da = x = -inf there
        assert np.isfinite(_partial(argnums)(x, 0.3)), (argnums, x)


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16])
def test_prelu_half_precision_derivatives_of_every_order(dtype):
    # Computed in float32 and rounded once: the rules at the kink and for NaN
    # are float32's, and the slope's gradient is summed in float32.
    slope = jnp.float32(0.3)
    for kink in (0.0, -0.0):
        x = jnp.asarray(kink, dtype)
        assert float(_partial((0, 1))(x, slope)) == 1.0
        assert float(_partial((1, 0))(x, slope)) == 1.0
        assert float(_partial((0, 0))(x, slope)) == 0.0
        assert float(_partial((1, 1))(x, slope)) == 0.0
    for argnums in _PARTIALS:
        assert np.isnan(float(_partial(argnums)(jnp.asarray(jnp.nan, dtype), slope))), argnums
    x = jnp.asarray([-3.0, -0.5, 0.0, 2.0, jnp.inf, -jnp.inf], dtype)
    slopes = jnp.full(x.shape, 0.3, jnp.float32)
    grad_x, grad_slopes = jax.grad(
        lambda x, a: jnp.sum(jaxact.prelu(x, a).astype(jnp.float32)), (0, 1)
    )(x, slopes)
    assert grad_x.dtype == dtype and grad_slopes.dtype == jnp.float32
    np.testing.assert_array_equal(grad_slopes, [-3.0, -0.5, 0.0, 0.0, 0.0, -jnp.inf])
    np.testing.assert_array_equal(
        np.asarray(grad_x, np.float32), np.asarray(jnp.asarray([0.3, 0.3, 0.3, 1, 1, 0.3], dtype))
    )


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float16])
@pytest.mark.parametrize("slope", [0.1, 0.25, 0.3, -0.7, 0.0, 3.3])
def test_prelu_in_half_precision_is_leaky_relu_bit_for_bit_on_every_input(dtype, slope):
    x = jnp.asarray(np.arange(1 << 16, dtype=np.uint16).view(dtype))
    got = np.asarray(jaxact.prelu(x, slope)).view(np.uint16)
    np.testing.assert_array_equal(got, np.asarray(jaxact.leaky_relu(x, slope)).view(np.uint16))
    # Both are the float32 result with the float32 slope, rounded once (rounding
    # the slope to bfloat16 first differed on 15,387 of the inputs at 0.1).
    float32 = jaxact.prelu(x.astype(jnp.float32), jnp.float32(slope)).astype(dtype)
    np.testing.assert_array_equal(got, np.asarray(float32).view(np.uint16))
    # The derivative in x is the float32 slope rounded once, as leaky_relu's.
    finite = x[jnp.isfinite(x)]
    ones = jnp.ones_like(finite)
    _, tangent = jax.jvp(lambda v: jaxact.prelu(v, slope), (finite,), (ones,))
    _, leaky = jax.jvp(lambda v: jaxact.leaky_relu(v, slope), (finite,), (ones,))
    assert tangent.dtype == dtype
    np.testing.assert_array_equal(
        np.asarray(tangent[finite != 0]), np.asarray(leaky[finite != 0])
    )


def test_prelu_channelwise_half_precision_uses_each_float32_slope():
    slopes = jnp.array([0.1, 0.3, 0.7], jnp.float32)
    x = jnp.asarray(np.arange(1 << 16, dtype=np.uint16).view(jnp.bfloat16)[:65535])
    x = x.reshape(-1, 3)
    got = jaxact.prelu(x, slopes)
    for channel in range(3):
        # (A Python float slope: a float32 array would promote x to float32.)
        expected = jaxact.leaky_relu(x[:, channel], float(slopes[channel]))
        np.testing.assert_array_equal(
            np.asarray(got[:, channel]).view(np.uint16), np.asarray(expected).view(np.uint16)
        )


def test_prelu_keeps_weak_types_as_jnp():
    with jax.enable_x64(False):
        weak = jaxact.prelu(0.5, 0.25)
        assert weak.dtype == jnp.float32 and weak.weak_type
        assert (weak * jnp.ones(3, jnp.bfloat16)).dtype == jnp.bfloat16
        assert (jaxact.prelu(-0.5, 0.25) * jnp.ones(3, jnp.bfloat16)).dtype == jnp.bfloat16
        assert jax.jit(jaxact.prelu)(-0.5, 0.25).weak_type
        # A float32 slope array makes the result float32, as jnp promotes it.
        strong = jaxact.prelu(0.5, jnp.float32(0.25))
        assert strong.dtype == jnp.float32 and not strong.weak_type
        assert not jaxact.prelu(jnp.float32(0.5), 0.25).weak_type


def test_prelu_jit_and_eager_agree_and_integer_input_promotes():
    x = _random((5, 3))
    slope = np.array([0.1, 0.2, 0.3])
    np.testing.assert_array_equal(jax.jit(jaxact.prelu)(x, slope), jaxact.prelu(x, slope))
    assert jnp.issubdtype(jaxact.prelu(jnp.arange(-2, 2), 0.5).dtype, jnp.floating)


def test_prelu_errors_name_the_argument():
    x = jnp.ones((2, 4))
    with pytest.raises(ValueError, match=r"negative_slope has 3 values but x has 4 channels"):
        jaxact.prelu(x, jnp.ones(3))
    with pytest.raises(ValueError, match=r"\(3, 4\) does not broadcast to x's shape \(2, 4\)"):
        jaxact.prelu(x, jnp.ones((3, 4)))
    with pytest.raises(ValueError, match=r"channel_axis=2 is out of range .* 2 dimensions"):
        jaxact.prelu(x, 0.25, channel_axis=2)
    with pytest.raises(TypeError, match=r"jaxact.prelu: channel_axis must be an int"):
        jaxact.prelu(x, 0.25, channel_axis=1.0)
    with pytest.raises(TypeError, match=r"jaxact.prelu: negative_slope must have a floating dtype"):
        jaxact.prelu(x, jnp.ones(4, dtype=jnp.int32))
    with pytest.raises(TypeError, match=r"jaxact.prelu: x must be an array"):
        jaxact.prelu([1.0, -1.0], 0.25)
    with pytest.raises(ValueError, match=r"x is a scalar"):
        jaxact.prelu(1.0, jnp.ones(2))
    # Empty slopes and slopes with an axis of the wrong size name the argument.
    for slope, message in [
        (jnp.ones(0), r"jaxact.prelu: negative_slope has 0 values but x has 4 channels"),
        (jnp.ones((0, 4)), r"jaxact.prelu: negative_slope of shape \(0, 4\) does not"),
        (jnp.ones((2, 0)), r"jaxact.prelu: negative_slope of shape \(2, 0\) does not"),
        (jnp.ones((1, 2, 4)), r"jaxact.prelu: negative_slope of shape \(1, 2, 4\) does not"),
    ]:
        with pytest.raises(ValueError, match=message):
            jaxact.prelu(x, slope)
    with pytest.raises(ValueError, match=r"jaxact.prelu: negative_slope has 3 values"):
        jaxact.PReLU.init(3)(x)


# --------------------------------------------------------------------------
# PReLU as a pytree


def test_prelu_layer_init():
    shared = jaxact.PReLU.init()
    assert shared.negative_slope.shape == () and float(shared.negative_slope) == 0.25
    layer = jaxact.PReLU.init(5, negative_slope_init=0.1, dtype=jnp.bfloat16)
    assert layer.negative_slope.shape == (5,) and layer.negative_slope.dtype == jnp.bfloat16
    np.testing.assert_array_equal(layer.negative_slope, jnp.bfloat16(0.1))
    with pytest.raises(TypeError, match=r"PReLU.init: dtype must be a floating dtype"):
        jaxact.PReLU.init(3, dtype=jnp.int32)
    with pytest.raises(ValueError, match=r"num_channels must be >= 1, got 0"):
        jaxact.PReLU.init(0)


def test_prelu_layer_flattens_jits_and_differentiates():
    layer = jaxact.PReLU.init(3)
    leaves, treedef = jax.tree_util.tree_flatten(layer)
    assert len(leaves) == 1 and leaves[0] is layer.negative_slope
    rebuilt = jax.tree_util.tree_unflatten(treedef, [leaves[0] * 2])
    assert isinstance(rebuilt, jaxact.PReLU)
    np.testing.assert_array_equal(rebuilt.negative_slope, [0.5, 0.5, 0.5])

    x = jnp.array([[-1.0, 2.0, -3.0], [-1.0, -1.0, 0.0]])
    np.testing.assert_array_equal(jax.jit(lambda m, x: m(x))(layer, x), layer(x))
    grads = jax.grad(lambda m: m(x).sum())(layer)
    assert isinstance(grads, jaxact.PReLU)
    np.testing.assert_array_equal(grads.negative_slope, [-2.0, -1.0, -3.0])


def test_stacked_prelus_vmap_as_an_ensemble():
    slopes = jnp.array([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]])
    members = [jaxact.PReLU(s) for s in slopes]
    ensemble = jax.tree.map(lambda *leaves: jnp.stack(leaves), *members)
    x = jnp.array([[-1.0, -2.0], [3.0, -4.0]])
    got = jax.vmap(lambda m: m(x))(ensemble)
    assert got.shape == (3, 2, 2)
    for index, member in enumerate(members):
        np.testing.assert_array_equal(got[index], member(x))


def test_prelu_as_an_equinox_module_field():
    class Block(eqx.Module):
        weight: jax.Array
        activation: jaxact.PReLU

        def __call__(self, x):
            return self.activation(x @ self.weight)

    block = Block(weight=-jnp.eye(3), activation=jaxact.PReLU.init(3))
    x = jnp.array([[1.0, 2.0, -1.0]])
    np.testing.assert_array_equal(block(x), [[-0.25, -0.5, 1.0]])
    grads = eqx.filter_jit(eqx.filter_grad(lambda b: b(x).sum()))(block)
    np.testing.assert_array_equal(grads.activation.negative_slope, [-1.0, -2.0, 0.0])
    moved = eqx.tree_at(lambda b: b.activation.negative_slope, block, jnp.zeros(3))
    np.testing.assert_array_equal(moved(x), [[0.0, 0.0, 1.0]])


# --------------------------------------------------------------------------
# maxout


def test_maxout_groups_contiguous_features():
    z = _random((3, 12))
    got = jaxact.maxout(z, 4)
    np.testing.assert_array_equal(got, z.reshape(3, 3, 4).max(axis=-1))
    # Unit 1 is features 4..7.
    np.testing.assert_array_equal(got[:, 1], z[:, 4:8].max(axis=-1))
    z3 = _random((2, 6, 5))
    np.testing.assert_array_equal(jaxact.maxout(z3, 3, axis=1), z3.reshape(2, 2, 3, 5).max(axis=2))
    np.testing.assert_array_equal(jaxact.maxout(z, 1), z)


def test_maxout_gradient_goes_to_the_first_winning_piece():
    z = jnp.array([1.0, 3.0, 3.0, 0.0, -1.0, -1.0, -1.0, -1.0])
    grad = jax.grad(lambda z: jaxact.maxout(z, 4).sum())(z)
    np.testing.assert_array_equal(grad, [0, 1, 0, 0, 1, 0, 0, 0])
    # jnp.max splits the gradient among ties instead.
    split = jax.grad(lambda z: z.reshape(2, 4).max(axis=-1).sum())(z)
    assert float(split[1]) == 0.5
    # Forward mode follows the same rule.
    _, tangent = jax.jvp(lambda z: jaxact.maxout(z, 4), (z,), (jnp.arange(8.0),))
    np.testing.assert_array_equal(tangent, [1.0, 4.0])


def test_maxout_nan_and_inf():
    z = jnp.array([1.0, jnp.nan, -jnp.inf, -jnp.inf, jnp.inf, 2.0])
    got = jaxact.maxout(z, 2)
    np.testing.assert_array_equal(got, [jnp.nan, -jnp.inf, jnp.inf])
    grad = jax.grad(lambda z: jaxact.maxout(z, 2)[2])(z)
    np.testing.assert_array_equal(grad, [0, 0, 0, 0, 1, 0])


def test_maxout_value_is_the_winning_piece_on_every_call_path():
    # Ties of signed zeros, NaN pieces and infinities: the value is the very
    # piece that takes the gradient (argmax's), bit for bit, whether computed
    # alone, jitted, or beside its derivative in either mode.
    z = jnp.array([
        [-0.0, 0.0, -1.0], [0.0, -0.0, -0.0], [1.0, jnp.nan, jnp.nan],
        [-jnp.inf, -jnp.inf, -jnp.inf], [2.0, 5.0, 5.0], [-3.0, -2.0, -0.0],
    ])

    def f(z):
        return jaxact.maxout(z, 3)

    winner = jnp.argmax(z, axis=-1)
    expected = np.asarray(jnp.take_along_axis(z, winner[:, None], axis=-1))
    paths = {
        "plain": f(z),
        "jit": jax.jit(f)(z),
        "vjp": jax.vjp(f, z)[0],
        "jvp": jax.jvp(f, (z,), (jnp.ones_like(z),))[0],
        "jit(vjp)": jax.jit(lambda z: jax.vjp(f, z)[0])(z),
    }
    for path, got in paths.items():
        np.testing.assert_array_equal(got, expected, err_msg=path)
        np.testing.assert_array_equal(np.signbit(got), np.signbit(expected), err_msg=path)
    grad = jax.grad(lambda z: jnp.sum(f(z)))(z)
    np.testing.assert_array_equal(grad, jax.nn.one_hot(winner, 3))


def test_maxout_gradient_matches_finite_differences_float64():
    z = _random((3, 8))  # distinct values: the maximum is smooth there
    check_grads(lambda z: jaxact.maxout(z, 4), (z,), order=2, modes=["fwd", "rev"])


def test_maxout_errors_give_the_numbers():
    with pytest.raises(ValueError, match=r"10 features along axis 1 do not divide .*num_pieces=4"):
        jaxact.maxout(jnp.ones((2, 10)), 4)
    with pytest.raises(ValueError, match=r"num_pieces must be >= 1, got 0"):
        jaxact.maxout(jnp.ones((2, 4)), 0)
    with pytest.raises(TypeError, match=r"num_pieces must be an int, got float"):
        jaxact.maxout(jnp.ones((2, 4)), 2.0)
    with pytest.raises(TypeError, match=r"num_pieces must be an int, got bool"):
        jaxact.maxout(jnp.ones((2, 4)), True)
    with pytest.raises(ValueError, match=r"axis=2 is out of range"):
        jaxact.maxout(jnp.ones((2, 4)), 2, axis=2)


# --------------------------------------------------------------------------
# Maxout as a layer


def _layer_from_pieces(pieces):
    """A Maxout layer from a list of (weight (in, out), bias (out,)) pieces."""
    weight = jnp.stack([w for w, _ in pieces], axis=-1)  # (in, out, pieces)
    bias = jnp.stack([b for _, b in pieces], axis=-1)
    in_features, out_features, num_pieces = weight.shape
    return jaxact.Maxout(
        weight=weight.reshape(in_features, out_features * num_pieces),
        bias=bias.reshape(out_features * num_pieces),
        num_pieces=num_pieces,
    )


def test_maxout_layer_reproduces_relu_and_leaky_relu_exactly():
    # Integer data and a dyadic slope make every product and sum exact, so the
    # comparison is of the functions, not of the matmul's summation order.
    x = jnp.asarray(RNG.integers(-8, 8, size=(64, 5)), dtype=jnp.float32)
    w = jnp.asarray(RNG.integers(-4, 4, size=(5, 3)), dtype=jnp.float32)
    b = jnp.asarray(RNG.integers(-4, 4, size=(3,)), dtype=jnp.float32)
    z = x @ w + b
    assert bool(jnp.any(z < 0)) and bool(jnp.any(z > 0))

    relu_layer = _layer_from_pieces([(w, b), (jnp.zeros_like(w), jnp.zeros_like(b))])
    np.testing.assert_array_equal(relu_layer(x), jaxact.relu(z))

    slope = 0.125
    leaky_layer = _layer_from_pieces([(w, b), (slope * w, slope * b)])
    np.testing.assert_array_equal(leaky_layer(x), jaxact.leaky_relu(z, slope))
    # The gradient with respect to the input agrees too (away from z = 0).
    x_off_kink = x + 0.5
    np.testing.assert_array_equal(
        jax.grad(lambda x: leaky_layer(x).sum())(x_off_kink),
        jax.grad(lambda x: jaxact.leaky_relu(x @ w + b, slope).sum())(x_off_kink),
    )


def test_maxout_layer_gradient_routes_through_the_winners():
    layer = jaxact.Maxout.init(jax.random.key(1), 6, 4, 3, dtype=jnp.float64)
    x = jnp.asarray(_random((10, 6)))
    cotangent = jnp.asarray(_random((10, 4)))
    grads = jax.grad(lambda m: jnp.sum(m(x) * cotangent))(layer)
    z = np.asarray(x @ layer.weight + layer.bias).reshape(10, 4, 3)
    winners = np.argmax(z, axis=-1)[..., None] == np.arange(3)
    dz = (winners * np.asarray(cotangent)[..., None]).reshape(10, 12)
    np.testing.assert_allclose(grads.weight, np.asarray(x).T @ dz, rtol=1e-12)
    np.testing.assert_allclose(grads.bias, dz.sum(axis=0), rtol=1e-12)
    assert grads.num_pieces == 3


def test_maxout_layer_init_layout_and_pytree():
    layer = jaxact.Maxout.init(jax.random.key(0), 7, 5, 3)
    assert layer.weight.shape == (7, 15) and layer.bias.shape == (15,)
    assert (layer.in_features, layer.out_features, layer.num_pieces) == (7, 5, 3)
    assert float(jnp.max(jnp.abs(layer.weight))) <= 1 / np.sqrt(7)
    np.testing.assert_array_equal(layer.bias, 0.0)
    leaves, treedef = jax.tree_util.tree_flatten(layer)
    assert len(leaves) == 2  # num_pieces is static
    assert jax.tree_util.tree_unflatten(treedef, leaves).num_pieces == 3
    # One trace serves layers with other weights but the same num_pieces.
    traces = []

    @jax.jit
    def apply(layer, x):
        traces.append(None)
        return layer(x)

    x = jnp.ones((2, 7))
    apply(layer, x)
    apply(jax.tree.map(lambda a: a + 1, layer), x)
    assert len(traces) == 1


def test_stacked_maxouts_vmap_as_an_ensemble():
    keys = jax.random.split(jax.random.key(2), 4)
    ensemble = jax.vmap(lambda k: jaxact.Maxout.init(k, 3, 2, 2))(keys)
    assert ensemble.weight.shape == (4, 3, 4)
    x = jnp.asarray(_random((5, 3)), dtype=jnp.float32)
    got = jax.vmap(lambda m: m(x))(ensemble)
    for index in range(4):
        member = jax.tree.map(lambda a, i=index: a[i], ensemble)
        np.testing.assert_allclose(got[index], member(x), rtol=1e-6)


@pytest.mark.parametrize("dtype", [jnp.bfloat16, jnp.float32, jnp.float64])
def test_maxout_layer_computes_in_the_input_dtype(dtype):
    layer = jaxact.Maxout.init(jax.random.key(0), 4, 2, 2, dtype=jnp.float32)
    x = jnp.ones((3, 4), dtype=dtype)
    assert layer(x).dtype == dtype
    grads = jax.grad(lambda m: m(x).astype(jnp.float32).sum())(layer)
    assert grads.weight.dtype == jnp.float32


def test_maxout_layer_errors_give_the_numbers():
    layer = jaxact.Maxout.init(jax.random.key(0), 4, 2, 2)
    with pytest.raises(ValueError, match=r"has 5 features but the layer takes in_features=4"):
        layer(jnp.ones((3, 5)))
    with pytest.raises(ValueError, match=r"num_pieces must be >= 1, got 0"):
        jaxact.Maxout.init(jax.random.key(0), 4, 2, 0)
    with pytest.raises(TypeError, match=r"num_pieces must be an int, got float"):
        jaxact.Maxout.init(jax.random.key(0), 4, 2, 2.5)
    with pytest.raises(TypeError, match=r"dtype must be a floating dtype"):
        jaxact.Maxout.init(jax.random.key(0), 4, 2, 2, dtype=jnp.int32)
    int_layer = jaxact.Maxout(jnp.ones((4, 4), jnp.int32), jnp.zeros(4, jnp.int32), 2)
    with pytest.raises(TypeError, match=r"Maxout: weight must have a floating dtype"):
        int_layer(jnp.ones((3, 4)))
    with pytest.raises(ValueError, match=r"6 features along axis 1 do not divide .*num_pieces=4"):
        jaxact.Maxout(jnp.ones((4, 6)), jnp.zeros(6), 4)(jnp.ones((3, 4)))
    with pytest.raises(ValueError, match=r"bias must have shape \(4,\) .* got shape \(3,\)"):
        jaxact.Maxout(layer.weight, jnp.zeros(3), 2)(jnp.ones((3, 4)))
    with pytest.raises(ValueError, match=r"Maxout: weight must have shape \(in_features, out"):
        jaxact.Maxout(jnp.ones((4, 2, 2)), jnp.zeros(4), 2)(jnp.ones((3, 4)))


def test_maxout_layer_refuses_a_bias_that_would_broadcast_to_a_new_batch():
    # A (3, 6) bias on a (4,) input used to broadcast into a (3, 3) output.
    layer = jaxact.Maxout(jnp.ones((4, 6)), jnp.ones((3, 6)), 2)
    with pytest.raises(ValueError, match=r"jaxact.Maxout: bias must have shape \(6,\)"):
        layer(jnp.ones(4))
    with pytest.raises(ValueError, match=r"jaxact.Maxout: bias must have shape \(6,\)"):
        jax.jit(lambda m, x: m(x))(layer, jnp.ones(4))


def test_maxout_complex_error_names_z():
    with pytest.raises(TypeError, match=r"jaxact.maxout: z must be real, got dtype complex"):
        jaxact.maxout(jnp.ones(4, jnp.complex64), 2)


# --------------------------------------------------------------------------
# sharding


def test_parametric_layers_on_batch_sharded_inputs():
    devices = np.array(jax.devices())
    assert len(devices) == 8, "tests/conftest.py asks for 8 host devices"
    mesh = jax.sharding.Mesh(devices, ("batch",))
    x = jnp.asarray(_random((16, 8)), dtype=jnp.float32)
    sharded = jax.device_put(x, NamedSharding(mesh, PartitionSpec("batch")))
    prelu_layer = jaxact.PReLU(jnp.linspace(0.0, 1.0, 8, dtype=jnp.float32))
    maxout_layer = jaxact.Maxout.init(jax.random.key(0), 8, 4, 2)

    def loss(params, x):
        prelu_layer, maxout_layer = params
        return jnp.sum(maxout_layer(prelu_layer(x)) ** 2)

    params = (prelu_layer, maxout_layer)
    expected = jax.value_and_grad(loss)(params, x)
    got = jax.jit(jax.value_and_grad(loss))(params, sharded)
    assert_trees_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert jax.jit(maxout_layer)(sharded).sharding.spec[0] == "batch"
