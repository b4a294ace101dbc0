"""Tests for weight_decay_mask, momentum_sgd, and training PReLU + Maxout with optax."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from sklearn.datasets import load_digits

import jaxact


def _small_model(key):
    first, second = jax.random.split(key)
    return {
        "hidden": jaxact.Maxout.init(first, 4, 3, num_pieces=1),
        "act": jaxact.PReLU.init(3),  # 1-D slope, same shape as the hidden bias
        "out": [jaxact.Maxout.init(second, 3, 2, num_pieces=2), jaxact.PReLU.init()],
    }


def test_weight_decay_mask_is_false_exactly_on_prelu_slopes():
    params = _small_model(jax.random.key(0))
    assert params["act"].negative_slope.shape == params["hidden"].bias.shape
    mask = jaxact.weight_decay_mask(params)
    assert jax.tree.structure(mask) == jax.tree.structure(params)
    paths_and_flags = jax.tree_util.tree_flatten_with_path(mask)[0]
    slopes = [jax.tree_util.keystr(path) for path, flag in paths_and_flags if flag is False]
    assert slopes == ["['act'].negative_slope", "['out'][1].negative_slope"]
    assert all(flag is True or flag is False for _, flag in paths_and_flags)


def test_weight_decay_mask_finds_slopes_inside_an_equinox_module():
    class Net(eqx.Module):
        linear: eqx.nn.Linear
        activation: jaxact.PReLU

    net = Net(eqx.nn.Linear(3, 3, key=jax.random.key(0)), jaxact.PReLU.init(3))
    mask = jaxact.weight_decay_mask(eqx.filter(net, eqx.is_array))
    assert mask.activation.negative_slope is False
    assert mask.linear.weight is True and mask.linear.bias is True


def test_adamw_with_the_mask_decays_weights_but_not_zero_gradient_slopes():
    params = _small_model(jax.random.key(1))
    params = jax.tree.map(lambda a: a + 0.5, params)  # nonzero biases, so their decay shows
    learning_rate, weight_decay = 0.1, 0.2
    optimizer = optax.adamw(learning_rate, weight_decay=weight_decay, mask=jaxact.weight_decay_mask)
    state = optimizer.init(params)
    zero_grads = jax.tree.map(jnp.zeros_like, params)
    updates, state = jax.jit(optimizer.update)(zero_grads, state, params)
    new_params = optax.apply_updates(params, updates)

    np.testing.assert_array_equal(new_params["act"].negative_slope, params["act"].negative_slope)
    np.testing.assert_array_equal(
        new_params["out"][1].negative_slope, params["out"][1].negative_slope
    )
    for layer, new_layer in [(params["hidden"], new_params["hidden"]),
                             (params["out"][0], new_params["out"][0])]:
        for name in ("weight", "bias"):
            old, new = getattr(layer, name), getattr(new_layer, name)
            np.testing.assert_allclose(new, old * (1 - learning_rate * weight_decay), rtol=1e-6)
            assert not np.array_equal(new, old)

    # Without the mask the slopes decay too: the mask is what keeps them.
    unmasked = optax.adamw(learning_rate, weight_decay=weight_decay)
    updates, _ = unmasked.update(zero_grads, unmasked.init(params), params)
    decayed = optax.apply_updates(params, updates)
    assert not np.array_equal(decayed["act"].negative_slope, params["act"].negative_slope)


def test_mask_works_with_optax_masked_as_a_tree():
    params = _small_model(jax.random.key(2))
    decay = optax.masked(optax.add_decayed_weights(1.0), jaxact.weight_decay_mask(params))
    zero_grads = jax.tree.map(jnp.zeros_like, params)
    updates, _ = decay.update(zero_grads, decay.init(params), params)
    np.testing.assert_array_equal(updates["act"].negative_slope, 0.0)
    np.testing.assert_array_equal(updates["hidden"].weight, params["hidden"].weight)


def _source_momentum_loop(params, grad_fn, learning_rate, momentum, weight_decay, steps):
    """The source's update written out: delta := mu delta + eps dE/da; a := a - delta.

    Weight decay lambda * w joins the gradient of every leaf except PReLU slopes.
    """
    decays = jaxact.weight_decay_mask(params)
    delta = jax.tree.map(jnp.zeros_like, params)
    history = []
    for _ in range(steps):
        grads = grad_fn(params)
        grads = jax.tree.map(
            lambda g, p, decays: g + weight_decay * p if decays else g, grads, params, decays
        )
        delta = jax.tree.map(lambda d, g: momentum * d + learning_rate * g, delta, grads)
        params = jax.tree.map(lambda p, d: p - d, params, delta)
        history.append(params)
    return history


@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
def test_momentum_sgd_is_the_source_update(weight_decay):
    with jax.enable_x64(True):
        params = jax.tree.map(
            lambda a: a.astype(jnp.float64), _small_model(jax.random.key(3))
        )
        x = jnp.asarray(np.random.default_rng(0).normal(size=(8, 4)))

        def loss(params):
            h = params["act"](params["hidden"](x))
            return jnp.sum(params["out"][1](params["out"][0](h)) ** 2)

        grad_fn = jax.jit(jax.grad(loss))
        learning_rate, momentum, steps = 0.05, 0.9, 5
        expected = _source_momentum_loop(
            params, grad_fn, learning_rate, momentum, weight_decay, steps
        )
        optimizer = jaxact.momentum_sgd(learning_rate, momentum, weight_decay=weight_decay)
        plain_sgd = optax.sgd(learning_rate, momentum=momentum)
        state, plain_state, plain_params = optimizer.init(params), plain_sgd.init(params), params
        for step in range(steps):
            updates, state = optimizer.update(grad_fn(params), state, params)
            params = optax.apply_updates(params, updates)
            jax.tree.map(
                lambda got, want: np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15),
                params, expected[step],
            )
            if weight_decay == 0.0:  # the helper is then exactly optax.sgd with momentum
                updates, plain_state = plain_sgd.update(grad_fn(plain_params), plain_state)
                plain_params = optax.apply_updates(plain_params, updates)
                jax.tree.map(np.testing.assert_array_equal, plain_params, params)
        moved = params["act"].negative_slope != 0.25
        assert bool(jnp.all(moved))


# --------------------------------------------------------------------------
# end to end: an MLP with PReLU and Maxout layers learns the digits


def _init_mlp(key):
    first, second, third = jax.random.split(key, 3)
    return [
        jaxact.Maxout.init(first, 64, 64, num_pieces=1),  # a Dense layer
        jaxact.PReLU.init(64),
        jaxact.Maxout.init(second, 64, 32, num_pieces=4),
        jaxact.Maxout.init(third, 32, 10, num_pieces=1),
    ]


def _logits(layers, x):
    for layer in layers:
        x = layer(x)
    return x


def test_mlp_with_prelu_and_maxout_learns_digits_with_optax():
    digits = load_digits()
    x = jnp.asarray(digits.data / 16.0, dtype=jnp.float32)
    y = jnp.asarray(digits.target)
    order = np.random.default_rng(0).permutation(len(y))
    train, test = order[:1400], order[1400:]

    params = _init_mlp(jax.random.key(0))
    optimizer = optax.adamw(3e-3, weight_decay=1e-4, mask=jaxact.weight_decay_mask)
    opt_state = optimizer.init(params)
    traces = []

    @jax.jit
    def step(params, opt_state, x, y):
        traces.append(None)  # runs only while tracing

        def loss(params):
            logits = _logits(params, x)
            return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

        value, grads = jax.value_and_grad(loss)(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, value

    batches = np.array_split(train, 7)  # 200 examples each
    for epoch in range(40):
        for batch in batches:
            params, opt_state, loss = step(params, opt_state, x[batch], y[batch])
        if epoch == 0:
            assert len(traces) == 1, "the second call of the step retraced"
    assert len(traces) == 1

    accuracy = float(jnp.mean(jnp.argmax(_logits(params, x[test]), axis=-1) == y[test]))
    # A bar this model clears with room to spare (measured: 0.985 on the 397 held-out digits).
    assert accuracy >= 0.9, f"held-out accuracy {accuracy:.3f} < 0.9"
    slopes = params[1].negative_slope
    assert float(jnp.max(jnp.abs(slopes - 0.25))) > 1e-2, "PReLU slopes did not move"
    assert float(loss) < 0.5


# --------------------------------------------------------------------------
# momentum_sgd's settings


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"learning_rate": 0.1, "momentum": 1.5}, r"momentum must be in \[0, 1\), got 1.5"),
        ({"learning_rate": 0.1, "momentum": 1.0}, r"momentum must be in \[0, 1\), got 1.0"),
        ({"learning_rate": 0.1, "momentum": -0.1}, r"momentum must be in \[0, 1\), got -0.1"),
        ({"learning_rate": 0.1, "momentum": np.nan}, r"momentum must be in \[0, 1\), got nan"),
        ({"learning_rate": -0.1}, r"learning_rate must be finite and >= 0, got -0.1"),
        ({"learning_rate": np.inf}, r"learning_rate must be finite and >= 0, got inf"),
        ({"learning_rate": jnp.float32(-1)}, r"learning_rate must be finite and >= 0, got -1.0"),
        ({"learning_rate": 0.1, "weight_decay": -5e-4}, r"weight_decay must be finite and >= 0"),
        ({"learning_rate": jnp.ones(2)}, r"learning_rate must be a scalar, got shape \(2,\)"),
    ],
)
def test_momentum_sgd_refuses_settings_out_of_range(kwargs, message):
    with pytest.raises(ValueError, match=r"jaxact.momentum_sgd: " + message):
        jaxact.momentum_sgd(**kwargs)


def test_momentum_sgd_accepts_the_edges_schedules_and_traced_settings():
    params = {"w": jnp.ones(2)}
    grads = {"w": jnp.full(2, 2.0)}
    for optimizer in [
        jaxact.momentum_sgd(0.0, 0.0),
        jaxact.momentum_sgd(optax.constant_schedule(0.0), 0.5),
    ]:
        updates, _ = optimizer.update(grads, optimizer.init(params), params)
        np.testing.assert_array_equal(updates["w"], 0.0)
    with pytest.raises(TypeError, match=r"jaxact.momentum_sgd: learning_rate must be an array"):
        jaxact.momentum_sgd("0.1")

    @jax.jit
    def first_update(learning_rate, momentum):
        optimizer = jaxact.momentum_sgd(learning_rate, momentum)
        return optimizer.update(grads, optimizer.init(params), params)[0]

    np.testing.assert_allclose(first_update(0.5, 0.9)["w"], -1.0)
