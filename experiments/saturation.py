"""Experiment 2: saturation and vanishing gradients at initialisation.

A 10-hidden-layer MLP on a batch of real training data, at two
initialisations: Glorot (variance 2 / (fan_in + fan_out)) and the naive
N(0, 1). For each activation and seed: the L2 norm of the loss gradient with
respect to each layer's kernel, and the fraction of saturated pre-activations
(|f'(z)| < 0.01) per layer.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from experiments import training
from experiments.common import (
    DOES_NOT_HOLD,
    HOLDS,
    claim,
    fmt,
    load_data,
    mean_std,
    new_figure,
    save_figure,
)
from jaxact import diagnostics

ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "elu", "prelu", "maxout")
QUICK_ACTIVATIONS = ("sigmoid", "tanh", "relu")
INITS = {"glorot": "glorot", "normal(0, 1)": 1.0}
THRESHOLD = 0.01
# Gradients "vanish" when the first layer gets under a tenth of the last
# hidden layer's gradient norm: a tenfold slower start for the bottom layers.
VANISHING_RATIO = 0.1


@functools.partial(jax.jit, static_argnames=("spec",))
def _measure(params, x, y, *, spec):
    """Per seed: kernel gradient norm per layer and saturated fraction per hidden layer."""

    def one_seed(seed_params):
        grads = jax.grad(training.loss_fn)(seed_params, x, y, spec)
        norms = diagnostics.gradient_norms([layer["kernel"] for layer in grads["dense"]])
        _, hidden = training.apply_mlp(seed_params, x, spec, with_hidden=True)
        if spec.derivative_fn is None:
            # Maxout passes the whole gradient to the winning piece: never saturated.
            saturated = [jnp.zeros((), jnp.float32) for _ in hidden]
        else:
            saturated = [
                diagnostics.saturated_fraction(z, spec.derivative_fn, threshold=THRESHOLD)
                for z, _ in hidden
            ]
        return jnp.stack(norms), jnp.stack(saturated)

    return jax.vmap(one_seed)(params)


def run(options) -> dict:
    data = load_data(options)
    depth, width, batch = (10, 16, 64) if options.quick else (10, 64, 512)
    x = jnp.asarray(data.x_train[:batch])
    y = jnp.asarray(data.y_train[:batch])
    results = {"depth": depth, "width": width, "batch": batch, "threshold": THRESHOLD,
               "inits": {}}
    names = QUICK_ACTIVATIONS if options.quick else ACTIVATIONS
    for name in tqdm(names, desc="saturation", leave=False):
        # Both initialisations stacked on the seed axis: one compiled program each.
        stacked = []
        for init in INITS:
            config = training.TrainConfig(
                name, hidden=(width,) * depth, num_seeds=options.seeds, weight_std=INITS[init]
            )
            params = training.init_runs(config, data.x_train.shape[1], data.num_classes)
            stacked.append(jax.tree_util.tree_map(lambda leaf: leaf[0], params))
        params = jax.tree_util.tree_map(lambda *leaves: jnp.concatenate(leaves), *stacked)
        norms, saturated = _measure(params, x, y, spec=training.activation(name))
        for index, init in enumerate(INITS):
            part = slice(index * options.seeds, (index + 1) * options.seeds)
            results["inits"].setdefault(init, {})[name] = {
                "gradient_norm": np.asarray(norms[part]),  # (seeds, depth + 1)
                "saturated_fraction": np.asarray(saturated[part]),  # (seeds, depth)
            }
    return results


def plot(results: dict, path) -> None:
    inits = results["inits"]
    figure, axes = new_figure(2, len(inits), width=4.8, height=3.4)
    for row, (init, per_activation) in enumerate(inits.items()):
        for name, numbers in per_activation.items():
            norms = np.asarray(numbers["gradient_norm"], dtype=np.float64)
            saturated = np.asarray(numbers["saturated_fraction"], dtype=np.float64)
            layers = np.arange(1, norms.shape[1] + 1)
            axes[row, 0].semilogy(layers, norms.mean(0), marker=".", label=name)
            axes[row, 1].plot(layers[:-1], saturated.mean(0), marker=".", label=name)
        axes[row, 0].set_title(f"{init} init: kernel gradient norm", fontsize=9)
        axes[row, 1].set_title(f"{init} init: fraction |f'(z)| < {results['threshold']}",
                               fontsize=9)
        axes[row, 0].set_xlabel("layer (input → output)")
        axes[row, 1].set_xlabel("hidden layer")
    axes[0, 0].legend(fontsize=7)
    for axis in axes.ravel():
        axis.grid(alpha=0.3)
    save_figure(figure, path)


def _first_over_last(numbers) -> tuple[float, float]:
    norms = np.asarray(numbers["gradient_norm"], dtype=np.float64)
    # Layer 1 against the last hidden layer (index -2; -1 is the linear output).
    return mean_std(norms[:, 0] / norms[:, -2])


def _saturated(numbers) -> tuple[float, float]:
    return mean_std(np.asarray(numbers["saturated_fraction"], dtype=np.float64).mean(axis=1))


def claims(results: dict) -> list[dict]:
    glorot = results["inits"]["glorot"]
    naive = results["inits"]["normal(0, 1)"]
    figure = results["figure"]
    depth = results["depth"]
    rows = []
    for name, text in (
        ("sigmoid", "Sigmoid saturates: gradients vanish in deep networks."),
        ("tanh", "tanh still saturates (vanishing gradients), though zero-centred."),
    ):
        ratio = _first_over_last(glorot[name])
        relu_ratio = _first_over_last(glorot["relu"])
        sat_naive = _saturated(naive[name])
        sat_glorot = _saturated(glorot[name])
        vanishes = ratio[0] + ratio[1] < VANISHING_RATIO
        saturates_when_large = sat_naive[0] > 0.5
        if vanishes and saturates_when_large:
            verdict = HOLDS
        elif vanishes or saturates_when_large:
            verdict = (
                "depends on initialisation: saturation needs large weights"
                if not vanishes
                else "depends on initialisation: gradients vanish, few units saturated"
            )
        else:
            verdict = DOES_NOT_HOLD
        rows.append(claim(
            f"{name}-saturates-deep",
            text,
            f"{depth}-layer MLP at init: layer-1 / layer-{depth} gradient norm "
            f"{fmt(*ratio)} (relu {fmt(*relu_ratio)}); saturated units "
            f"{fmt(*sat_glorot)} (Glorot init), {fmt(*sat_naive)} (N(0,1) init)",
            verdict,
            figure,
        ))
    return rows
