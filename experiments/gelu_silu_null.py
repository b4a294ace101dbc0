"""Experiment 15: the honest null — gelu and silu MLPs as in a transformer block, jax.nn vs jaxact.

The MLP of a transformer block is Dense → gelu (GPT-2) or silu (LLaMA) →
Dense. Two such hidden layers trained on the default data set with each
implementation from the same initial weights and batches: the range of
pre-activations training actually visits, against the input from which
jax.nn's derivative is exactly 0, and the difference in loss and test
accuracy.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from experiments import precision, training
from experiments.common import (
    DOES_NOT_HOLD,
    HOLDS,
    claim,
    clearly_less,
    fmt,
    load_data,
    mean_std,
    new_figure,
    save_figure,
)

FAMILIES = {"gelu": jax.nn.gelu, "silu": jax.nn.silu}
QUICK_FAMILIES = ("gelu",)
LEARNING_RATE = 0.05
MONITOR_EXAMPLES = 512


def _monitor(spec, x):
    @jax.jit
    def largest(params):
        def one_run(run_params):
            _, hidden = training.apply_mlp(run_params, x, spec, with_hidden=True)
            return jnp.max(jnp.stack([jnp.max(jnp.abs(z)) for z, _ in hidden]))

        return jax.vmap(jax.vmap(one_run))(params)

    return largest


@functools.partial(jax.jit, static_argnames=("spec",))
def _beyond(params, x, limit, *, spec):
    """Per seed: fraction of the final pre-activations below -limit."""

    def one_seed(seed_params):
        _, hidden = training.apply_mlp(seed_params, x, spec, with_hidden=True)
        return jnp.mean(jnp.concatenate([(z < -limit).ravel() for z, _ in hidden]))

    return jax.vmap(one_seed)(params)


def run(options) -> dict:
    data = load_data(options)
    hidden, steps = ((16, 16), 50) if options.quick else ((64, 64), 400)
    x = jnp.asarray(data.x_train[:MONITOR_EXAMPLES])
    results = {"hidden": hidden, "steps": steps, "jax": precision.jax_version(), "families": {}}
    for family in QUICK_FAMILIES if options.quick else tuple(FAMILIES):
        where = precision.first_zero_derivative(FAMILIES[family], sign=-1.0)
        per_impl = {"zero_from": where,
                    "failure": precision.failure_note(f"jax.nn.{family}'", FAMILIES[family],
                                                      sign=-1.0)}
        for impl, name in (("jax.nn", f"jax.nn.{family}"), ("jaxact", family)):
            spec = training.activation(name)
            config = training.TrainConfig(name, hidden=hidden, steps=steps,
                                          learning_rates=(LEARNING_RATE,),
                                          num_seeds=options.seeds, eval_every=25)
            trained = training.train(config, data, desc=f"gelu_silu_null {name}",
                                     monitor=_monitor(spec, x))
            final = jax.tree_util.tree_map(lambda leaf: leaf[0], trained.params)
            per_impl[impl] = {
                "eval_steps": trained.eval_steps,
                "train_loss": trained.train_loss[0],
                "test_accuracy": trained.test_accuracy[0],
                "largest_preactivation": trained.monitored[0],  # (S, E)
                "beyond_zero_point": np.asarray(
                    _beyond(final, x, np.inf if where is None else where, spec=spec)),
            }
        results["families"][family] = per_impl
    return results


def plot(results: dict, path) -> None:
    figure, axes = new_figure(2, width=5.0, height=3.6)
    for index, (family, per_impl) in enumerate(results["families"].items()):
        for impl, style in (("jax.nn", "--"), ("jaxact", "-")):
            numbers = per_impl[impl]
            loss = np.asarray(numbers["train_loss"], dtype=np.float64)
            largest = np.asarray(numbers["largest_preactivation"], dtype=np.float64)
            axes[0, 0].semilogy(numbers["eval_steps"], loss.mean(0), style, color=f"C{index}",
                                label=f"{family}, {impl}")
            axes[0, 1].plot(numbers["eval_steps"], largest.max(0), style, color=f"C{index}",
                            label=f"{family}, {impl}")
        if per_impl["zero_from"] is not None:
            axes[0, 1].axhline(per_impl["zero_from"], color=f"C{index}", lw=0.8, ls=":",
                               label=f"jax.nn.{family}' = 0 below minus this")
    axes[0, 0].set(title="training loss", xlabel="step")
    axes[0, 1].set(title="largest |pre-activation| visited", xlabel="step")
    for axis in axes.ravel():
        axis.legend(fontsize=7)
        axis.grid(alpha=0.3)
    save_figure(figure, path)


def claims(results: dict) -> list[dict]:
    parts, differs = [], False
    for family, per_impl in results["families"].items():
        nn, act = per_impl["jax.nn"], per_impl["jaxact"]
        nn_acc = mean_std(nn["test_accuracy"])
        act_acc = mean_std(act["test_accuracy"])
        differs |= clearly_less(nn_acc, act_acc) or clearly_less(act_acc, nn_acc)
        nn_loss = np.asarray(nn["train_loss"], dtype=np.float64)
        act_loss = np.asarray(act["train_loss"], dtype=np.float64)
        gap = float(np.max(np.abs(nn_loss - act_loss) / np.abs(act_loss)))
        largest = float(np.max(np.asarray(act["largest_preactivation"], dtype=np.float64)))
        beyond = mean_std(act["beyond_zero_point"])
        parts.append(
            f"{family}: test accuracy jax.nn {fmt(*nn_acc)}, jaxact {fmt(*act_acc)}; loss "
            f"curves within {gap:.2g} (relative); largest |pre-activation| visited "
            f"{largest:.3g}, share of final pre-activations in jax.nn's zero-derivative tail "
            f"{fmt(*beyond)} ({per_impl['failure']})"
        )
    return [claim(
        "gelu-silu-no-difference",
        "Accurate gelu/silu derivatives change transformer-style MLP training (issue 22; "
        "expected null).",
        f"{len(results['hidden'])} hidden layers {results['hidden']}, SGD lr {LEARNING_RATE}, "
        f"{results['steps']} steps, same start and batches: " + "; ".join(parts),
        HOLDS if differs else DOES_NOT_HOLD,
        results["figure"],
    )]
