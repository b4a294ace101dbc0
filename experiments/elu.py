"""Experiment 7: ELU's mean activations and learning speed (Clevert et al. 2015).

The claim: ELU's negative values push mean activations towards zero, which
brings the gradient nearer the natural gradient and speeds up learning. A
5-hidden-layer MLP with ReLU, Leaky ReLU and ELU: the mean activation of each
layer over the training set through training, and steps to a training accuracy.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from experiments import training
from experiments.common import (
    claim,
    compare_verdict,
    fmt,
    load_data,
    mean_std,
    new_figure,
    save_figure,
)
from jaxact import diagnostics

ACTIVATIONS = ("relu", "leaky_relu", "elu")
QUICK_ACTIVATIONS = ("relu", "elu")
LEARNING_RATE = 0.01
TARGET_ACCURACY = 0.97


@functools.partial(jax.jit, static_argnames=("spec",))
def _layer_means(params, x, *, spec):
    """(seeds, layers) mean activation of each hidden layer over ``x``."""

    def one_seed(seed_params):
        _, hidden = training.apply_mlp(seed_params, x, spec, with_hidden=True)
        return jnp.stack([diagnostics.activation_stats(h)["mean"] for _, h in hidden])

    return jax.vmap(one_seed)(params)


def run(options) -> dict:
    data = load_data(options)
    hidden = (16,) * 5 if options.quick else (64,) * 5
    steps = 50 if options.quick else 1000
    x = jnp.asarray(data.x_train[:1024])
    results = {"hidden": hidden, "steps": steps, "learning_rate": LEARNING_RATE,
               "target_accuracy": TARGET_ACCURACY, "activations": {}}
    for name in QUICK_ACTIVATIONS if options.quick else ACTIVATIONS:
        spec = training.activation(name)
        config = training.TrainConfig(
            name, hidden=hidden, steps=steps, learning_rates=(LEARNING_RATE,),
            num_seeds=options.seeds, eval_every=25,
        )
        initial = jax.tree_util.tree_map(
            lambda leaf: leaf[0],
            training.init_runs(config, data.x_train.shape[1], data.num_classes),
        )
        trained = training.train(config, data, desc=f"elu {name}")
        final = jax.tree_util.tree_map(lambda leaf: leaf[0], trained.params)
        results["activations"][name] = {
            "mean_at_init": np.asarray(_layer_means(initial, x, spec=spec)),
            "mean_trained": np.asarray(_layer_means(final, x, spec=spec)),
            "steps_to_target": trained.steps_to_accuracy(TARGET_ACCURACY)[0],
            "eval_steps": trained.eval_steps,
            "train_loss": trained.train_loss[0],
        }
    return results


def plot(results: dict, path) -> None:
    figure, axes = new_figure(2, width=5.0, height=3.6)
    for index, (name, numbers) in enumerate(results["activations"].items()):
        means = np.asarray(numbers["mean_trained"], dtype=np.float64)
        layers = np.arange(1, means.shape[1] + 1)
        axes[0, 0].errorbar(layers, means.mean(0), yerr=means.std(0), marker="o", capsize=3,
                            label=name, color=f"C{index}")
        loss = np.asarray(numbers["train_loss"], dtype=np.float64)
        axes[0, 1].semilogy(numbers["eval_steps"], loss.mean(0), label=name, color=f"C{index}")
    axes[0, 0].axhline(0.0, color="black", lw=0.8)
    axes[0, 0].set(title="mean activation per layer (trained)", xlabel="hidden layer")
    axes[0, 0].legend(fontsize=8)
    axes[0, 1].set(title=f"training loss (lr {results['learning_rate']}, momentum 0.9)",
                   xlabel="step")
    save_figure(figure, path)


def _abs_mean(numbers, key):
    return mean_std(np.abs(np.asarray(numbers[key], dtype=np.float64)).mean(axis=1))


def _steps(numbers, budget):
    steps = np.asarray(numbers["steps_to_target"], dtype=np.float64)
    return np.where(np.isfinite(steps), steps, budget)


def claims(results: dict) -> list[dict]:
    acts = results["activations"]
    figure = results["figure"]
    elu_mean, relu_mean = _abs_mean(acts["elu"], "mean_trained"), _abs_mean(
        acts["relu"], "mean_trained")
    budget = results["steps"]
    steps = {name: mean_std(_steps(acts[name], budget)) for name in acts}
    target = f"{results['target_accuracy']:.0%}"
    return [
        claim(
            "elu-mean-nearer-zero",
            "ELU's mean activations are nearer zero than ReLU's (Clevert et al.).",
            f"|mean activation| over layers after training: elu {fmt(*elu_mean)}, relu "
            f"{fmt(*relu_mean)}"
            + "".join(f", {name} {fmt(*_abs_mean(acts[name], 'mean_trained'))}"
                      for name in acts if name not in ("elu", "relu")),
            compare_verdict(elu_mean, relu_mean),
            figure,
        ),
        claim(
            "elu-learns-faster",
            "ELU speeds up learning compared with ReLU (Clevert et al.).",
            f"steps to {target} training accuracy ({len(results['hidden'])} hidden layers): "
            + ", ".join(f"{name} {fmt(*steps[name])}" for name in acts),
            compare_verdict(steps["elu"], steps["relu"]),
            figure,
        ),
    ]
