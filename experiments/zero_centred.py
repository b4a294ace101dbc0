"""Experiment 3: zero-centred outputs and the "one update direction".

The source: sigmoid outputs are all positive, so for one example the gradient
of a unit's incoming weights, delta_j * h_i, has the sign of delta_j in every
entry: all weights of that unit move up together or down together. We train a
4-hidden-layer MLP briefly, then measure (a) the mean activation of each layer
over the training set and (b) for each unit of hidden layers 2..4, whether all
entries of its incoming weight gradient share one sign, for single-example
gradients and for minibatch gradients.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from experiments import training
from experiments.common import (
    DOES_NOT_HOLD,
    HOLDS,
    claim,
    depends,
    fmt,
    load_data,
    mean_std,
    new_figure,
    save_figure,
)
from jaxact import diagnostics

ACTIVATIONS = ("sigmoid", "tanh", "elu", "relu")
QUICK_ACTIVATIONS = ("sigmoid", "tanh", "relu")
# A single-example fraction at least this high is "all units" (float noise aside).
ALL_UNITS = 0.99


def _one_sign_fraction(kernel_grad: jax.Array) -> jax.Array:
    """Fraction of units (columns) whose incoming-weight gradient has one sign.

    Zero entries agree with either sign; a unit whose whole column is zero
    receives no update at all and is left out of the count.
    """
    nonneg = jnp.all(kernel_grad >= 0, axis=0)
    nonpos = jnp.all(kernel_grad <= 0, axis=0)
    moving = jnp.any(kernel_grad != 0, axis=0)
    one_sign = (nonneg | nonpos) & moving
    return one_sign.sum() / jnp.maximum(moving.sum(), 1)


@functools.partial(jax.jit, static_argnames=("spec",))
def _measure(params, x, y, *, spec):
    """Per seed: layer means, per-example and minibatch one-sign fractions (layers 2..)."""

    def kernel_fractions(seed_params, xb, yb):
        grads = jax.grad(training.loss_fn)(seed_params, xb, yb, spec)
        hidden_kernels = [layer["kernel"] for layer in grads["dense"][1:-1]]
        return jnp.stack([_one_sign_fraction(k) for k in hidden_kernels])

    def one_seed(seed_params):
        _, hidden = training.apply_mlp(seed_params, x, spec, with_hidden=True)
        means = jnp.stack([diagnostics.activation_stats(h)["mean"] for _, h in hidden])
        per_example = jax.vmap(lambda xi, yi: kernel_fractions(seed_params, xi[None], yi[None]))(
            x, y
        ).mean(axis=0)
        minibatch = kernel_fractions(seed_params, x, y)
        return means, per_example, minibatch

    return jax.vmap(one_seed)(params)


def run(options) -> dict:
    data = load_data(options)
    hidden = (16, 16, 16, 16) if options.quick else (64, 64, 64, 64)
    steps = 50 if options.quick else 300
    batch = 64
    x = jnp.asarray(data.x_train[:batch])
    y = jnp.asarray(data.y_train[:batch])
    results = {"hidden": hidden, "steps": steps, "batch": batch, "activations": {}}
    for name in QUICK_ACTIVATIONS if options.quick else ACTIVATIONS:
        config = training.TrainConfig(
            name, hidden=hidden, steps=steps, num_seeds=options.seeds, learning_rates=(0.05,),
            eval_every=50,
        )
        trained = training.train(config, data, desc=f"zero_centred {name}")
        params = jax.tree_util.tree_map(lambda leaf: leaf[0], trained.params)
        means, per_example, minibatch = _measure(params, x, y, spec=training.activation(name))
        results["activations"][name] = {
            "layer_mean": np.asarray(means),  # (seeds, layers)
            "one_sign_per_example": np.asarray(per_example),  # (seeds, layers - 1)
            "one_sign_minibatch": np.asarray(minibatch),
        }
    return results


def plot(results: dict, path) -> None:
    figure, axes = new_figure(2, width=5.0, height=3.6)
    names = list(results["activations"])
    for index, name in enumerate(names):
        numbers = results["activations"][name]
        means = np.asarray(numbers["layer_mean"])
        layers = np.arange(1, means.shape[1] + 1)
        axes[0, 0].errorbar(layers, means.mean(0), yerr=means.std(0), marker="o", label=name,
                            capsize=3)
        for offset, key, hatch in ((-0.2, "one_sign_per_example", ""),
                                   (0.2, "one_sign_minibatch", "//")):
            value = np.asarray(numbers[key]).mean()
            axes[0, 1].bar(index + offset, value, width=0.4, color=f"C{index}", hatch=hatch,
                           edgecolor="black")
    axes[0, 0].axhline(0.0, color="black", lw=0.8)
    axes[0, 0].set(title="mean activation per layer (trained)", xlabel="hidden layer")
    axes[0, 0].legend(fontsize=8)
    axes[0, 1].set_xticks(range(len(names)), names)
    axes[0, 1].set(title=f"units whose weight gradient has one sign\n"
                   f"(plain: per example, hatched: batch of {results['batch']})", ylim=(0, 1.05))
    save_figure(figure, path)


def claims(results: dict) -> list[dict]:
    acts = results["activations"]
    figure = results["figure"]

    def per_seed_abs_mean(name):
        return mean_std(np.abs(np.asarray(acts[name]["layer_mean"], dtype=np.float64)).mean(1))

    def fraction(name, key):
        return mean_std(np.asarray(acts[name][key], dtype=np.float64).mean(1))

    sig_example = fraction("sigmoid", "one_sign_per_example")
    sig_batch = fraction("sigmoid", "one_sign_minibatch")
    tanh_example = fraction("tanh", "one_sign_per_example")
    if sig_example[0] >= ALL_UNITS and sig_batch[0] >= ALL_UNITS:
        one_sign_verdict = HOLDS
    elif sig_example[0] >= ALL_UNITS:
        one_sign_verdict = depends(
            "batch size: exact for one example, not for the summed minibatch gradient"
        )
    else:
        one_sign_verdict = DOES_NOT_HOLD

    sigmoid_mean = mean_std(np.asarray(acts["sigmoid"]["layer_mean"], dtype=np.float64).mean(1))
    relu_mean = mean_std(np.asarray(acts["relu"]["layer_mean"], dtype=np.float64).mean(1))
    tanh_abs, sigmoid_abs = per_seed_abs_mean("tanh"), per_seed_abs_mean("sigmoid")
    tanh_centred = tanh_abs[0] + tanh_abs[1] < sigmoid_abs[0] - sigmoid_abs[1]
    return [
        claim(
            "sigmoid-one-sign",
            "Sigmoid is not zero-centred, so all weight gradients of a neuron share one sign "
            "(zig-zag updates).",
            f"units with one-sign weight gradient: sigmoid {fmt(*sig_example)} per example, "
            f"{fmt(*sig_batch)} per batch of {results['batch']}; tanh {fmt(*tanh_example)} "
            f"per example; sigmoid mean activation {fmt(*sigmoid_mean)}",
            one_sign_verdict,
            figure,
        ),
        claim(
            "tanh-zero-centred",
            "tanh is zero-centred (range [-1, 1]).",
            f"|mean activation| over layers: tanh {fmt(*tanh_abs)}, sigmoid {fmt(*sigmoid_abs)}",
            HOLDS if tanh_centred else DOES_NOT_HOLD,
            figure,
        ),
        claim(
            "relu-not-zero-centred",
            "ReLU output is not zero-centred.",
            f"mean activation over layers: relu {fmt(*relu_mean)}",
            HOLDS if relu_mean[0] - relu_mean[1] > 0 else DOES_NOT_HOLD,
            figure,
        ),
    ]
