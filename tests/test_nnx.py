"""Tests for jaxact.nnx (flax.nnx layers and mask) and the pytree layers' serialization."""

import subprocess
import sys
from pathlib import Path

import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import jaxact
import jaxact.nnx


class _Block(nnx.Module):
    """Maxout -> PReLU (jaxact) -> Dense -> flax's own PReLU."""

    def __init__(self, rngs):
        self.hidden = jaxact.nnx.Maxout(4, 3, num_pieces=2, rngs=rngs)
        self.act = jaxact.nnx.PReLU(3)
        self.out = nnx.Linear(3, 2, rngs=rngs)
        self.flax_act = nnx.PReLU(0.25)

    def __call__(self, x):
        return self.flax_act(self.out(self.act(self.hidden(x))))


def _data():
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(32, 4)), jnp.float32)
    y = jnp.asarray(rng.normal(size=(32, 2)), jnp.float32)
    return x, y


def _params(model):
    return jax.tree.map(np.array, nnx.to_pure_dict(nnx.state(model, nnx.Param)))


# --------------------------------------------------------------------------
# the layers


def test_prelu_module_is_jaxact_prelu_with_a_param():
    layer = jaxact.nnx.PReLU(3, negative_slope_init=0.1)
    assert isinstance(layer.negative_slope, nnx.Param)
    np.testing.assert_array_equal(layer.negative_slope[...], jnp.full(3, 0.1, jnp.float32))
    x = jnp.array([[-1.0, 2.0, -3.0], [0.0, -0.5, 4.0]])
    np.testing.assert_array_equal(layer(x), jaxact.prelu(x, jnp.full(3, 0.1, jnp.float32)))
    shared = jaxact.nnx.PReLU()
    assert shared.negative_slope.shape == () and float(shared.negative_slope[...]) == 0.25
    nchw = jaxact.nnx.PReLU(2, channel_axis=1)
    x4 = jnp.arange(-8.0, 8.0).reshape(2, 2, 2, 2)
    np.testing.assert_array_equal(nchw(x4), jaxact.prelu(x4, jnp.full(2, 0.25), channel_axis=1))
    assert jaxact.nnx.PReLU(3, rngs=nnx.Rngs(0)).negative_slope.shape == (3,)


def test_maxout_module_is_jaxact_maxout_with_params():
    layer = jaxact.nnx.Maxout(5, 3, num_pieces=4, rngs=nnx.Rngs(params=7))
    assert isinstance(layer.weight, nnx.Param) and isinstance(layer.bias, nnx.Param)
    assert layer.weight.shape == (5, 12) and layer.bias.shape == (12,) and layer.num_pieces == 4
    reference = jaxact.Maxout(layer.weight[...], layer.bias[...], 4)
    x = jnp.asarray(np.random.default_rng(1).normal(size=(6, 5)), jnp.float32)
    np.testing.assert_array_equal(layer(x), reference(x))
    # Two layers from one Rngs draw different weights.
    rngs = nnx.Rngs(0)
    first, second = (jaxact.nnx.Maxout(5, 3, 4, rngs=rngs) for _ in range(2))
    assert not np.array_equal(first.weight[...], second.weight[...])


def test_dtype_is_the_computation_and_param_dtype_the_parameters():
    # flax's names: dtype casts the input (None keeps the input's), param_dtype
    # is the parameters' dtype, and gradients come back in param_dtype.
    x = jnp.array([[-1.0, 2.0, -3.0]], jnp.float32)
    prelu = jaxact.nnx.PReLU(3, dtype=jnp.bfloat16)
    assert prelu.negative_slope[...].dtype == jnp.float32 == prelu.param_dtype
    np.testing.assert_array_equal(
        prelu(x), jaxact.prelu(x.astype(jnp.bfloat16), jnp.full(3, 0.25, jnp.float32))
    )
    assert prelu(x).dtype == jnp.bfloat16
    grads = nnx.grad(lambda layer: jnp.sum(layer(x).astype(jnp.float32)))(prelu)
    assert grads["negative_slope"][...].dtype == jnp.float32
    half = jaxact.nnx.PReLU(3, param_dtype=jnp.float16)
    assert half.negative_slope[...].dtype == jnp.float16 == half.param_dtype
    assert half.dtype is None and half(x).dtype == jnp.float32
    assert half(x.astype(jnp.bfloat16)).dtype == jnp.bfloat16

    maxout = jaxact.nnx.Maxout(3, 2, 2, dtype=jnp.bfloat16, rngs=nnx.Rngs(0))
    assert maxout.weight[...].dtype == jnp.float32 == maxout.param_dtype
    np.testing.assert_array_equal(maxout(x), maxout.to_pytree()(x.astype(jnp.bfloat16)))
    assert maxout(x).dtype == jnp.bfloat16
    wide = jaxact.nnx.Maxout(3, 2, 2, param_dtype=jnp.float16, rngs=nnx.Rngs(0))
    assert wide.weight[...].dtype == wide.bias[...].dtype == jnp.float16 == wide.param_dtype
    assert wide.dtype is None and wide(x.astype(jnp.float16)).dtype == jnp.float16

    with pytest.raises(TypeError, match=r"jaxact.nnx.PReLU: dtype must be a floating dtype"):
        jaxact.nnx.PReLU(dtype=jnp.int32)
    with pytest.raises(TypeError, match=r"jaxact.nnx.Maxout: dtype must be a floating dtype"):
        jaxact.nnx.Maxout(3, 2, 2, dtype=jnp.int32, rngs=nnx.Rngs(0))
    with pytest.raises(TypeError, match=r"jaxact.PReLU.init: dtype must be a floating dtype"):
        jaxact.nnx.PReLU(param_dtype=jnp.int32)


def test_pytree_conversions_round_trip():
    pytree = jaxact.Maxout.init(jax.random.key(3), 4, 2, 3)
    module = jaxact.nnx.Maxout.from_pytree(pytree)
    assert module.num_pieces == 3
    back = module.to_pytree()
    assert isinstance(back, jaxact.Maxout) and back.num_pieces == 3
    np.testing.assert_array_equal(back.weight, pytree.weight)
    np.testing.assert_array_equal(back.bias, pytree.bias)
    slopes = jaxact.PReLU(jnp.array([0.1, 0.2]))
    prelu = jaxact.nnx.PReLU.from_pytree(slopes)
    np.testing.assert_array_equal(prelu.to_pytree().negative_slope, slopes.negative_slope)
    x = jnp.array([-1.0, -1.0])
    np.testing.assert_array_equal(prelu(x), slopes(x))


def test_errors_name_the_layer_and_argument():
    with pytest.raises(ValueError, match=r"jaxact.PReLU.init: num_channels must be >= 1, got 0"):
        jaxact.nnx.PReLU(0)
    with pytest.raises(TypeError, match=r"jaxact.nnx.PReLU: channel_axis must be an int"):
        jaxact.nnx.PReLU(3, channel_axis=1.0)
    with pytest.raises(ValueError, match=r"jaxact.prelu: negative_slope has 3 values"):
        jaxact.nnx.PReLU(3)(jnp.ones((2, 4)))
    with pytest.raises(ValueError, match=r"jaxact.Maxout.init: num_pieces must be >= 1"):
        jaxact.nnx.Maxout(4, 2, 0, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match=r"jaxact.Maxout: x's last axis has 5 features"):
        jaxact.nnx.Maxout(4, 2, 2, rngs=nnx.Rngs(0))(jnp.ones((1, 5)))


# --------------------------------------------------------------------------
# training with nnx.Optimizer


def test_slopes_and_maxout_weights_train_under_nnx_optimizer():
    model = _Block(nnx.Rngs(0))
    tx = optax.adamw(1e-2, weight_decay=1e-2, mask=jaxact.nnx.weight_decay_mask_fn(model))
    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
    x, y = _data()
    before = _params(model)
    traces = []

    @nnx.jit
    def step(model, optimizer, x, y):
        traces.append(None)  # runs only while tracing

        def loss_fn(model):
            return jnp.mean((model(x) - y) ** 2)

        loss, grads = nnx.value_and_grad(loss_fn)(model)
        # The slope and the Maxout weights are in the gradient state.
        assert grads["act"]["negative_slope"].shape == (3,)
        assert grads["hidden"]["weight"].shape == (4, 6)
        optimizer.update(model, grads)
        return loss

    losses = [float(step(model, optimizer, x, y)) for _ in range(30)]
    assert len(traces) == 1
    assert losses[-1] < losses[0]
    after = _params(model)
    for path in (("act", "negative_slope"), ("hidden", "weight"), ("hidden", "bias")):
        moved = np.abs(after[path[0]][path[1]] - before[path[0]][path[1]])
        assert np.all(moved > 1e-4), (path, moved)


def test_weight_decay_mask_spares_the_slopes():
    model = _Block(nnx.Rngs(1))
    params = nnx.state(model, nnx.Param)
    mask = jaxact.nnx.weight_decay_mask_fn(model)(params)
    assert mask["act"]["negative_slope"] is False
    assert mask["flax_act"]["negative_slope"] is False
    assert mask["hidden"]["weight"] is True and mask["hidden"]["bias"] is True
    assert mask["out"]["kernel"] is True and mask["out"]["bias"] is True
    # The pure state optax sees in nnx.Optimizer.update has the same answer.
    pure = jaxact.nnx.weight_decay_mask_fn(model)(nnx.as_pure(params))
    assert pure["act"]["negative_slope"] is False and pure["hidden"]["weight"] is True


@pytest.mark.parametrize("masked", [True, False])
def test_weight_decay_alone_leaves_the_slopes_unchanged(masked):
    model = _Block(nnx.Rngs(2))
    mask = jaxact.nnx.weight_decay_mask_fn(model) if masked else None
    optimizer = nnx.Optimizer(model, optax.adamw(0.1, weight_decay=0.5, mask=mask), wrt=nnx.Param)
    before = _params(model)
    zero_grads = jax.tree.map(jnp.zeros_like, nnx.state(model, nnx.Param))
    optimizer.update(model, zero_grads)
    after = _params(model)
    # With zero gradients adamw's whole step is -lr * wd * param.
    np.testing.assert_allclose(
        after["hidden"]["weight"], before["hidden"]["weight"] * (1 - 0.1 * 0.5), rtol=1e-6
    )
    for layer in ("act", "flax_act"):
        slope_before, slope_after = before[layer]["negative_slope"], after[layer]["negative_slope"]
        if masked:
            np.testing.assert_array_equal(slope_after, slope_before)
        else:  # what the mask prevents: 0.25 -> 0.2375
            np.testing.assert_allclose(slope_after, slope_before * 0.95, rtol=1e-6)


def test_weight_decay_mask_finds_slopes_in_sequences():
    rngs = nnx.Rngs(0)
    model = nnx.Sequential(
        jaxact.nnx.Maxout(4, 2, 2, rngs=rngs),
        jaxact.nnx.PReLU(2),
        jaxact.nnx.Maxout(2, 2, 1, rngs=rngs),
        jaxact.nnx.PReLU(),
    )
    mask = jaxact.nnx.weight_decay_mask_fn(model)(nnx.state(model, nnx.Param))
    flat = {
        tuple(getattr(k, "key", k) for k in path): leaf
        for path, leaf in jax.tree_util.tree_flatten_with_path(mask)[0]
    }
    slopes = {path for path, decays in flat.items() if not decays}
    assert {path[:3] for path in slopes} == {
        ("layers", 1, "negative_slope"), ("layers", 3, "negative_slope")
    }
    assert sum(flat.values()) == 4  # two weights and two biases


def test_pytree_prelu_held_as_nnx_data_with_a_param_trains():
    # The pytree layers also fit inside an nnx.Module when their arrays are
    # nnx.Params and the attribute is marked as data.
    class Block(nnx.Module):
        def __init__(self):
            self.weight = nnx.Param(-jnp.eye(3))
            self.activation = nnx.data(jaxact.PReLU(nnx.Param(jnp.full((3,), 0.25))))

        def __call__(self, x):
            return self.activation(x @ self.weight)

    block = Block()
    x = jnp.array([[1.0, 2.0, -1.0]])
    np.testing.assert_array_equal(block(x), [[-0.25, -0.5, 1.0]])
    optimizer = nnx.Optimizer(block, optax.sgd(0.5), wrt=nnx.Param)

    @nnx.jit
    def step(block, optimizer):
        grads = nnx.grad(lambda b: b(x).sum())(block)
        optimizer.update(block, grads)

    step(block, optimizer)
    # d/da of sum(prelu) = sum of the negative inputs: -1, -2, 0 per channel.
    np.testing.assert_allclose(block.activation.negative_slope[...], [0.75, 1.25, 0.25])


# --------------------------------------------------------------------------
# flax.serialization and jax.export of the pytree layers


def _pytree_layers(seed):
    key_prelu, key_maxout = jax.random.split(jax.random.key(seed))
    return {
        "act": jaxact.PReLU(jax.random.uniform(key_prelu, (3,))),
        "hidden": jaxact.Maxout.init(key_maxout, 4, 3, num_pieces=2),
    }


def test_flax_serialization_round_trip_of_the_pytree_layers():
    layers = _pytree_layers(0)
    state = flax.serialization.to_state_dict(layers)
    assert set(state["act"]) == {"negative_slope"}
    assert set(state["hidden"]) == {"weight", "bias"}
    target = _pytree_layers(1)
    restored = flax.serialization.from_bytes(target, flax.serialization.to_bytes(layers))
    assert isinstance(restored["act"], jaxact.PReLU)
    assert isinstance(restored["hidden"], jaxact.Maxout) and restored["hidden"].num_pieces == 2
    jax.tree.map(np.testing.assert_array_equal, restored, layers)
    restored = flax.serialization.from_state_dict(target, state)
    jax.tree.map(np.testing.assert_array_equal, restored, layers)
    with pytest.raises(ValueError, match=r"jaxact.Maxout: the state dict .* fields \['weight'\]"):
        flax.serialization.from_state_dict(target, {**state, "hidden": {"weight": 0}})


def _apply(layers, x):
    return layers["act"](layers["hidden"](x))


def test_jax_export_of_a_function_taking_the_layers():
    layers, other = _pytree_layers(0), _pytree_layers(1)
    x = jnp.asarray(np.random.default_rng(2).normal(size=(5, 4)), jnp.float32)
    exported = jax.export.export(jax.jit(_apply))(layers, x)
    # The layers are arguments, not constants: other values give their own result.
    np.testing.assert_allclose(exported.call(other, x), _apply(other, x), rtol=1e-6)
    np.testing.assert_allclose(exported.call(layers, x), _apply(layers, x), rtol=1e-6)
    grads = jax.grad(lambda layers: exported.call(layers, x).sum())(layers)
    expected = jax.grad(lambda layers: _apply(layers, x).sum())(layers)
    jax.tree.map(lambda g, e: np.testing.assert_allclose(g, e, rtol=1e-6), grads, expected)


def test_jax_export_of_an_nnx_model_split_into_its_state():
    model = _Block(nnx.Rngs(0))
    graphdef, state = nnx.split(model)
    x, _ = _data()

    def forward(state, x):
        return nnx.merge(graphdef, state)(x)

    exported = jax.export.export(jax.jit(forward))(state, x)
    np.testing.assert_allclose(exported.call(state, x), model(x), rtol=1e-6)


def test_serialized_export_round_trip():
    pytest.importorskip("flatbuffers", reason="jax.export serialization needs flatbuffers")
    layers, other = _pytree_layers(0), _pytree_layers(1)
    x = jnp.ones((2, 4), jnp.float32)
    exported = jax.export.export(jax.jit(_apply))(layers, x)
    restored = jax.export.deserialize(exported.serialize())
    assert restored.in_tree == exported.in_tree
    np.testing.assert_allclose(restored.call(other, x), _apply(other, x), rtol=1e-6)


def test_import_jaxact_does_not_import_flax():
    code = "import sys, jaxact; assert 'flax' not in sys.modules, 'flax imported'"
    repository = Path(__file__).resolve().parent.parent
    subprocess.run([sys.executable, "-c", code], check=True, cwd=repository)
