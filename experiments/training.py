"""The one training loop every experiment shares.

A multilayer perceptron for any activation of the study, trained for all seeds
(and all learning rates) of one configuration together: the model, the
optimiser state and the batch indices carry leading axes (learning rate, seed),
and one jitted program advances every run by ``chunk`` steps under
``jax.vmap``. The batch axis is sharded over ``jax.devices()`` with a
``NamedSharding``, so the same code runs on one device or many.

Everything is deterministic given ``TrainConfig.seed``: the initial weights
and the batch order come from numpy generators seeded with it and the run's
index.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P
from tqdm.auto import tqdm

import jaxact

BATCH_AXIS = "batch"


# ----------------------------------------------------------------- activations
@dataclasses.dataclass(frozen=True, eq=False)
class Activation:
    """One activation as the MLP uses it.

    ``apply(layer_params, z)`` maps a layer's pre-activation ``z`` (units on the
    last axis, ``width * num_pieces`` of them) to its output (``width`` units).
    ``init(width)`` makes the activation's own learned parameters for one
    layer (``None`` for the fixed ones). ``derivative_fn`` is the elementwise
    function whose derivative decides saturation (``None`` for Maxout, whose
    derivative with respect to the winning piece is always 1).
    """

    name: str
    apply: Callable[[Any, jax.Array], jax.Array]
    init: Callable[[int], Any] = lambda width: None
    num_pieces: int = 1
    derivative_fn: Callable[[jax.Array], jax.Array] | None = None


def _fixed(name: str, fn: Callable[[jax.Array], jax.Array]) -> Activation:
    return Activation(name, lambda _, z: fn(z), derivative_fn=fn)


# He et al. (2015) start every PReLU slope at 0.25.
PRELU_INIT_SLOPE = 0.25


def _prelu(name: str, shared: bool) -> Activation:
    def init(width: int):
        return jaxact.PReLU.init(None if shared else width, negative_slope_init=PRELU_INIT_SLOPE)

    return Activation(
        name,
        lambda layer, z: layer(z),
        init=init,
        derivative_fn=lambda z: jaxact.leaky_relu(z, PRELU_INIT_SLOPE),
    )


def _maxout(num_pieces: int) -> Activation:
    return Activation(
        f"maxout{num_pieces}" if num_pieces != 2 else "maxout",
        lambda _, z: jaxact.maxout(z, num_pieces=num_pieces),
        num_pieces=num_pieces,
    )


ACTIVATIONS: dict[str, Activation] = {
    spec.name: spec
    for spec in (
        _fixed("sigmoid", jaxact.sigmoid),
        _fixed("tanh", jaxact.tanh),
        _fixed("relu", jaxact.relu),
        _fixed("leaky_relu", jaxact.leaky_relu),
        _fixed("elu", jaxact.elu),
        _prelu("prelu", shared=False),
        _prelu("prelu_shared", shared=True),
        _maxout(2),
        _maxout(3),
        # jax.nn's own functions, for the experiments that train the two side by
        # side; saturation is still judged on the accurate derivative.
        Activation("jax.nn.sigmoid", lambda _, z: jax.nn.sigmoid(z),
                   derivative_fn=jaxact.sigmoid),
        Activation("jax.nn.tanh", lambda _, z: jnp.tanh(z), derivative_fn=jaxact.tanh),
        _fixed("gelu", jaxact.gelu),
        _fixed("silu", jaxact.silu),
        Activation("jax.nn.gelu", lambda _, z: jax.nn.gelu(z), derivative_fn=jaxact.gelu),
        Activation("jax.nn.silu", lambda _, z: jax.nn.silu(z), derivative_fn=jaxact.silu),
    )
}


def activation(name: str) -> Activation:
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(
            f"experiments.training: unknown activation {name!r}; valid: {sorted(ACTIVATIONS)}"
        ) from None


# ----------------------------------------------------------------------- model
def init_mlp(
    rng: np.random.Generator,
    sizes: tuple[int, ...],
    spec: Activation,
    *,
    weight_std: str | float = "glorot",
    bias_init: float = 0.0,
) -> dict:
    """Parameters of an MLP ``sizes[0] -> ... -> sizes[-1]``.

    Hidden layers produce ``width * num_pieces`` pre-activations (Maxout takes
    the max over pieces); the last layer is linear. ``weight_std`` is
    ``"glorot"`` (normal, variance 2 / (fan_in + fan_out): the same scale for
    every activation, so comparisons are not tuned to one of them) or a fixed
    standard deviation. ``bias_init`` sets every hidden bias (a negative value
    is the "bad initialisation" of the dead-ReLU experiment).

    The weights are drawn with numpy rather than ``jax.random``, which would
    compile a random-number program per layer shape (seconds each on a CPU).
    """
    dense = []
    activations = []
    for index, (fan_in, width) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        is_hidden = index < len(sizes) - 2
        fan_out = width * spec.num_pieces if is_hidden else width
        std = math.sqrt(2.0 / (fan_in + fan_out)) if weight_std == "glorot" else weight_std
        dense.append(
            {
                "kernel": (std * rng.standard_normal((fan_in, fan_out))).astype(np.float32),
                "bias": np.full((fan_out,), bias_init if is_hidden else 0.0, np.float32),
            }
        )
        if is_hidden:
            activations.append(spec.init(width))
    return {"dense": dense, "activation": activations}


def apply_mlp(params: dict, x: jax.Array, spec: Activation, *, with_hidden: bool = False):
    """Logits for a batch ``x`` (channels last); with ``with_hidden`` also the
    per-layer pre-activations and outputs ``[(z, h), ...]`` the diagnostics use."""
    hidden = []
    h = x
    *layers, last = params["dense"]
    for layer, act_params in zip(layers, params["activation"], strict=True):
        z = h @ layer["kernel"] + layer["bias"]
        h = spec.apply(act_params, z)
        hidden.append((z, h))
    logits = h @ last["kernel"] + last["bias"]
    return (logits, hidden) if with_hidden else logits


def loss_fn(params, x, y, spec: Activation) -> jax.Array:
    logits = apply_mlp(params, x, spec)
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()


def count_parameters(params) -> int:
    return int(sum(np.size(leaf) for leaf in jax.tree_util.tree_leaves(params)))


def decay_mask(params: dict) -> dict:
    """Weight decay on the dense kernels only: not on biases, and not on the
    activations' own parameters (He et al. 2015 put no decay on PReLU slopes;
    ``jaxact.weight_decay_mask`` picks those out by their place in the tree)."""
    return {
        "dense": [{"kernel": True, "bias": False} for _ in params["dense"]],
        "activation": [
            None if layer is None else jaxact.weight_decay_mask(layer)
            for layer in params["activation"]
        ],
    }


# ------------------------------------------------------------------- training
@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """One configuration; its seeds and learning rates train together."""

    activation: str
    hidden: tuple[int, ...] = (64, 64)
    steps: int = 600
    batch_size: int = 64
    learning_rates: tuple[float, ...] = (0.05,)
    momentum: float = 0.9
    weight_decay: float = 0.0
    bias_init: float = 0.0
    weight_std: str | float = "glorot"
    num_seeds: int = 5
    seed: int = 0
    eval_every: int = 25
    # "sgd" (with ``momentum``) or "adam" (with ``adam_eps``, added to the root
    # of the second moment: the size of gradient below which Adam stops
    # normalising the update).
    optimizer: str = "sgd"
    adam_eps: float = 1e-8


@dataclasses.dataclass
class TrainResult:
    """Arrays with leading axes (learning rate, seed)."""

    config: TrainConfig
    params: Any
    eval_steps: np.ndarray  # (E,)
    train_accuracy: np.ndarray  # (L, S, E) on the evaluation subset of the training set
    train_loss: np.ndarray  # (L, S, E)
    test_accuracy: np.ndarray  # (L, S)
    diverged: np.ndarray  # (L, S) bool: the loss became inf or NaN
    monitored: np.ndarray | None = None  # (L, S, E, ...) what ``train``'s ``monitor`` returned

    def steps_to_accuracy(self, target: float) -> np.ndarray:
        """(L, S) first evaluated step with training accuracy >= target; inf if never."""
        reached = self.train_accuracy >= target
        first = np.argmax(reached, axis=-1)
        steps = self.eval_steps[first].astype(np.float64)
        return np.where(reached.any(axis=-1), steps, np.inf)


def make_mesh(batch_size: int) -> Mesh:
    """A 1-D mesh over as many devices as divide the batch evenly."""
    devices = jax.devices()
    count = max(n for n in range(1, len(devices) + 1) if batch_size % n == 0)
    return Mesh(np.array(devices[:count]), (BATCH_AXIS,))


def batch_indices(num_examples: int, batch_size: int, steps: int, seeds: np.ndarray) -> np.ndarray:
    """(S, steps, B) indices: for each seed, shuffled epochs without replacement."""
    per_seed = []
    for seed in seeds:
        rng = np.random.default_rng(int(seed))
        epochs = -(-steps * batch_size // num_examples)
        order = np.concatenate([rng.permutation(num_examples) for _ in range(epochs)])
        per_seed.append(order[: steps * batch_size].reshape(steps, batch_size))
    return np.stack(per_seed).astype(np.int32)


def _transform(config: TrainConfig, params) -> optax.GradientTransformation:
    # SGD with momentum (or Adam), the learning rate applied outside so it can
    # be a vmapped array (one compiled program for every learning rate).
    if config.optimizer == "adam":
        direction = optax.scale_by_adam(eps=config.adam_eps)
    elif config.optimizer == "sgd":
        direction = optax.trace(decay=config.momentum)
    else:
        raise ValueError(f"experiments.training: unknown optimizer {config.optimizer!r}")
    return optax.chain(
        optax.add_decayed_weights(config.weight_decay, mask=decay_mask(params)),
        direction,
    )


@functools.partial(jax.jit, static_argnames=("config", "spec", "mesh"))
def _train_chunk(
    params, opt_state, learning_rates, x_train, y_train, indices, *, config, spec, mesh
):
    """Advances every (learning rate, seed) run by ``indices.shape[1]`` steps."""
    transform = _transform(config, jax.tree_util.tree_map(lambda leaf: leaf[0, 0], params))

    def one_run(run_params, run_state, learning_rate, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(run_params, x, y, spec)
        updates, run_state = transform.update(grads, run_state, run_params)
        run_params = jax.tree_util.tree_map(
            lambda p, u: p - learning_rate * u, run_params, updates
        )
        return run_params, run_state, loss

    # Seeds share the learning rate; learning rates share the batch.
    over_seeds = jax.vmap(one_run, in_axes=(0, 0, None, 0, 0))
    over_rates = jax.vmap(over_seeds, in_axes=(0, 0, 0, None, None))

    def step(carry, step_indices):
        run_params, run_state = carry
        x = x_train[step_indices]
        y = y_train[step_indices]
        # The gathered batch stays split over devices along its batch axis.
        x = jax.lax.with_sharding_constraint(x, NamedSharding(mesh, P(None, BATCH_AXIS, None)))
        y = jax.lax.with_sharding_constraint(y, NamedSharding(mesh, P(None, BATCH_AXIS)))
        run_params, run_state, loss = over_rates(run_params, run_state, learning_rates, x, y)
        return (run_params, run_state), loss

    (params, opt_state), losses = jax.lax.scan(
        step, (params, opt_state), jnp.swapaxes(indices, 0, 1)
    )
    return params, opt_state, losses[-1]


@functools.partial(jax.jit, static_argnames=("spec",))
def _evaluate(params, x_train, y_train, x_test, y_test, *, spec):
    """(L, S) training accuracy, training loss and test accuracy, in one program."""

    def one_run(run_params):
        logits = apply_mlp(run_params, x_train, spec)
        accuracy = (jnp.argmax(logits, axis=-1) == y_train).mean()
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, y_train).mean()
        test_logits = apply_mlp(run_params, x_test, spec)
        return accuracy, loss, (jnp.argmax(test_logits, axis=-1) == y_test).mean()

    return jax.vmap(jax.vmap(one_run))(params)


# Accuracy during training is measured on a fixed subset of the training set,
# large enough for a smooth curve and small enough to evaluate every chunk.
EVAL_SUBSET = 2048


def init_runs(config: TrainConfig, input_size: int, num_classes: int):
    """Initial parameters with leading axes (L, S): seed s starts from the same
    weights for every learning rate, so rates are compared from equal starts."""
    spec = activation(config.activation)
    sizes = (input_size, *config.hidden, num_classes)
    per_seed = [
        init_mlp(
            np.random.default_rng([config.seed, seed]), sizes, spec,
            weight_std=config.weight_std, bias_init=config.bias_init,
        )
        for seed in range(config.num_seeds)
    ]
    num_rates = len(config.learning_rates)
    return jax.tree_util.tree_map(
        lambda *leaves: jnp.asarray(
            np.broadcast_to(np.stack([np.asarray(leaf) for leaf in leaves]),
                            (num_rates, len(leaves), *np.shape(leaves[0])))
        ),
        *per_seed,
    )


def train(
    config: TrainConfig, data, *, desc: str | None = None,
    monitor: Callable[[Any], jax.Array] | None = None,
) -> TrainResult:
    """Trains every seed and learning rate of ``config`` on ``data`` (an
    ``experiments.data.Dataset``) and returns their curves and final state.

    ``monitor``, a jitted function of the (L, S)-stacked parameters returning an
    (L, S, ...) array, is called at every evaluation; its values make
    ``TrainResult.monitored``.
    """
    spec = activation(config.activation)
    mesh = make_mesh(config.batch_size)
    replicated = NamedSharding(mesh, P())
    x_train = jax.device_put(jnp.asarray(data.x_train), replicated)
    y_train = jax.device_put(jnp.asarray(data.y_train), replicated)

    params = jax.device_put(
        init_runs(config, data.x_train.shape[1], data.num_classes), replicated
    )
    transform = _transform(config, jax.tree_util.tree_map(lambda leaf: leaf[0, 0], params))
    # Every input of _train_chunk placed as its outputs come back, so that
    # the second chunk reuses the first one's executable instead of
    # compiling again for other input shardings.
    opt_state = jax.device_put(jax.vmap(jax.vmap(transform.init))(params), replicated)
    learning_rates = jax.device_put(jnp.asarray(config.learning_rates, jnp.float32), replicated)

    seeds = config.seed * 1000 + np.arange(config.num_seeds)
    indices = batch_indices(len(data.y_train), config.batch_size, config.steps, seeds)
    subset = np.random.default_rng(config.seed).permutation(len(data.y_train))[:EVAL_SUBSET]
    x_eval, y_eval = jnp.asarray(data.x_train[subset]), jnp.asarray(data.y_train[subset])

    chunk = config.eval_every
    if config.steps % chunk:
        raise ValueError(f"steps ({config.steps}) must be a multiple of eval_every ({chunk})")
    x_test, y_test = jnp.asarray(data.x_test), jnp.asarray(data.y_test)
    evaluate = functools.partial(
        _evaluate, x_train=x_eval, y_train=y_eval, x_test=x_test, y_test=y_test, spec=spec
    )
    eval_steps, accuracy_curve, loss_curve = [0], [], []
    accuracy, loss, test_accuracy = evaluate(params)
    accuracy_curve.append(np.asarray(accuracy))
    loss_curve.append(np.asarray(loss))
    monitored = [] if monitor is None else [np.asarray(monitor(params))]
    index_sharding = NamedSharding(mesh, P(None, None, BATCH_AXIS))
    for start in tqdm(
        range(0, config.steps, chunk), desc=desc or config.activation, leave=False, unit="chunk"
    ):
        chunk_indices = jax.device_put(indices[:, start : start + chunk], index_sharding)
        params, opt_state, _ = _train_chunk(
            params, opt_state, learning_rates, x_train, y_train, chunk_indices,
            config=config, spec=spec, mesh=mesh,
        )
        accuracy, loss, test_accuracy = evaluate(params)
        eval_steps.append(start + chunk)
        accuracy_curve.append(np.asarray(accuracy))
        loss_curve.append(np.asarray(loss))
        if monitor is not None:
            monitored.append(np.asarray(monitor(params)))

    train_loss = np.stack(loss_curve, axis=-1)
    return TrainResult(
        config=config,
        params=params,
        eval_steps=np.asarray(eval_steps),
        train_accuracy=np.stack(accuracy_curve, axis=-1),
        train_loss=train_loss,
        test_accuracy=np.asarray(test_accuracy),
        diverged=~np.isfinite(train_loss[..., -1]),
        monitored=np.stack(monitored, axis=2) if monitored else None,
    )


def select_run(params, rate_index: int, seed_index: int):
    """The parameters of one run out of the (L, S) stack."""
    return jax.tree_util.tree_map(lambda leaf: leaf[rate_index, seed_index], params)
