"""Experiment 8: Maxout against ReLU at equal parameter count.

Goodfellow et al.'s Maxout takes the max of k affine pieces; the source says it
generalises ReLU and Leaky ReLU at the price of more parameters. We check the
generalisation exactly (a 2-piece Maxout with one piece zero is ReLU; with one
piece 0.01 times the other, Leaky ReLU) and compare test accuracy of
2-piece Maxout MLPs with ReLU MLPs widened to the same parameter count.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

import jaxact
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

NUM_PIECES = 2
LEARNING_RATE = 0.03
DEPTH = 2


def mlp_parameters(input_size: int, width: int, num_classes: int, num_pieces: int) -> int:
    """Parameter count of input -> width x DEPTH -> classes with num_pieces per unit."""
    count, fan_in = 0, input_size
    for _ in range(DEPTH):
        count += (fan_in + 1) * width * num_pieces
        fan_in = width
    return count + (fan_in + 1) * num_classes


def matched_relu_width(input_size: int, width: int, num_classes: int) -> int:
    """The ReLU width whose parameter count is nearest the Maxout net's."""
    target = mlp_parameters(input_size, width, num_classes, NUM_PIECES)
    return min(range(1, 4 * width + 1),
               key=lambda w: abs(mlp_parameters(input_size, w, num_classes, 1) - target))


def generalisation_error(x: np.ndarray, key: jax.Array) -> dict[str, float]:
    """Max |maxout - relu| and |maxout - leaky_relu| for pieces built to match them."""
    layer = jaxact.Maxout.init(key, x.shape[1], 32, num_pieces=1)
    z = jnp.asarray(x) @ layer.weight + jnp.asarray(np.linspace(-0.5, 0.5, 32), jnp.float32)
    # Contiguous pieces: unit i has columns (2i, 2i + 1).
    as_relu = jaxact.maxout(jnp.stack([z, jnp.zeros_like(z)], axis=-1).reshape(len(x), -1), 2)
    as_leaky = jaxact.maxout(jnp.stack([z, 0.01 * z], axis=-1).reshape(len(x), -1), 2)
    return {
        "relu": float(jnp.max(jnp.abs(as_relu - jaxact.relu(z)))),
        "leaky_relu": float(jnp.max(jnp.abs(as_leaky - jaxact.leaky_relu(z, 0.01)))),
    }


def run(options) -> dict:
    data = load_data(options)
    widths = (8,) if options.quick else (16, 32, 64)
    steps = 50 if options.quick else 1000
    d, classes = data.x_train.shape[1], data.num_classes
    results = {"num_pieces": NUM_PIECES, "depth": DEPTH, "steps": steps, "nets": [],
               "generalisation_error": generalisation_error(
                   data.x_train[:512], jax.random.PRNGKey(0))}
    for width in widths:
        for name, net_width in (("maxout", width), ("relu", matched_relu_width(d, width, classes))):
            config = training.TrainConfig(
                name, hidden=(net_width,) * DEPTH, steps=steps,
                learning_rates=(LEARNING_RATE,), num_seeds=options.seeds, eval_every=50,
            )
            trained = training.train(config, data, desc=f"maxout {name} {net_width}")
            results["nets"].append({
                "activation": name, "width": net_width, "maxout_width": width,
                "parameters": training.count_parameters(
                    training.select_run(trained.params, 0, 0)),
                "test_accuracy": trained.test_accuracy[0],
            })
    results["relu_parameters_at_equal_width"] = {
        str(w): mlp_parameters(d, w, classes, 1) for w in widths
    }
    return results


def plot(results: dict, path) -> None:
    figure, axes = new_figure(1, width=5.5, height=3.8)
    axis = axes[0, 0]
    for index, name in enumerate(("maxout", "relu")):
        nets = [net for net in results["nets"] if net["activation"] == name]
        params = [net["parameters"] for net in nets]
        accuracy = [np.asarray(net["test_accuracy"], dtype=np.float64) for net in nets]
        axis.errorbar(params, [a.mean() for a in accuracy], yerr=[a.std() for a in accuracy],
                      marker="o", capsize=3, label=name, color=f"C{index}")
    axis.set_xscale("log")
    axis.set(title=f"test accuracy vs parameters ({results['num_pieces']}-piece maxout, "
             f"{results['depth']} hidden layers)", xlabel="parameters", ylabel="test accuracy")
    axis.legend()
    axis.grid(alpha=0.3)
    save_figure(figure, path)


def claims(results: dict) -> list[dict]:
    figure = results["figure"]
    errors = results["generalisation_error"]
    maxout_nets = [n for n in results["nets"] if n["activation"] == "maxout"]
    relu_nets = [n for n in results["nets"] if n["activation"] == "relu"]
    pairs = list(zip(maxout_nets, relu_nets, strict=True))
    ratios = [
        n["parameters"] / results["relu_parameters_at_equal_width"][str(n["width"])]
        for n in maxout_nets
    ]
    outcomes = []
    for maxout_net, relu_net in pairs:
        a, b = mean_std(maxout_net["test_accuracy"]), mean_std(relu_net["test_accuracy"])
        outcomes.append("better" if a[0] - a[1] > b[0] + b[1]
                        else "worse" if a[0] + a[1] < b[0] - b[1] else "tie")
    measured = "; ".join(
        f"{m['parameters']} params: maxout {fmt(*mean_std(m['test_accuracy']))} vs relu "
        f"(width {r['width']}, {r['parameters']} params) {fmt(*mean_std(r['test_accuracy']))}"
        for m, r in pairs
    )
    if all(o == "better" for o in outcomes):
        equal_params = HOLDS
    elif all(o == "worse" for o in outcomes):
        equal_params = DOES_NOT_HOLD
    else:
        equal_params = depends("size: maxout is " + ", ".join(
            f"{o} at {m['parameters']} params" for o, (m, _) in zip(outcomes, pairs, strict=True)))
    generalises = errors["relu"] == 0.0 and errors["leaky_relu"] <= 1e-6
    return [
        claim(
            "maxout-generalises",
            "Maxout generalises ReLU and Leaky ReLU, at the price of more parameters.",
            f"max |maxout - relu| = {errors['relu']:.3g}, max |maxout - leaky_relu| = "
            f"{errors['leaky_relu']:.3g} with matched pieces; parameters at equal width: "
            + ", ".join(f"{r:.2f}x" for r in ratios) + " of ReLU's",
            HOLDS if generalises and all(r > 1.5 for r in ratios) else DOES_NOT_HOLD,
            figure,
        ),
        claim(
            "maxout-equal-params",
            "Maxout's extra parameters buy accuracy (vs ReLU nets of equal parameter count).",
            measured,
            equal_params,
            figure,
        ),
    ]
