"""Experiment 11: a GRU whose update gates start saturated, under Adam, jax.nn vs jaxact.

A GRU cell, h' = (1 - z)·n + z·h with update gate z = σ(W_z x + U_z h + b_z),
reads a sequence of ±1 inputs and must tell whether their sum is positive.
Its update-gate biases start at ``GATE_BIAS``: z rounds to 1 in float32, so
the state never leaves 0 and the output is constant. The gradient reaching
b_z is σ'(b_z)·(h - n): e^-20-small with jaxact, exactly 0 with jax.nn. Adam
at ε = 1e-12 and at the default ε = 1e-8, both implementations from the same
initial weights and data.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxact
from experiments import precision
from experiments.common import (
    DOES_NOT_HOLD,
    HOLDS,
    claim,
    clearly_less,
    depends,
    fmt,
    mean_std,
    new_figure,
    save_figure,
)

IMPLEMENTATIONS = {"jax.nn": jax.nn.sigmoid, "jaxact": jaxact.sigmoid}
EPSILONS = (1e-8, 1e-12)
QUICK_EPSILONS = (1e-12,)
GATE_BIAS = 20.0
HIDDEN = 16
LENGTH = 9
LEARNING_RATE = 0.03
THRESHOLD = 0.01


def _init(rng: np.random.Generator) -> dict:
    def normal(*shape):
        return (rng.standard_normal(shape) / np.sqrt(shape[0])).astype(np.float32)

    return {
        "w": normal(1, 3 * HIDDEN), "u": normal(HIDDEN, 3 * HIDDEN),
        "b": np.concatenate([np.full(HIDDEN, GATE_BIAS), np.zeros(2 * HIDDEN)]).astype(
            np.float32),
        "out": normal(HIDDEN, 1), "out_b": np.zeros(1, np.float32),
    }


def _data(rng: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray]:
    x = rng.choice([-1.0, 1.0], size=(count, LENGTH, 1)).astype(np.float32)
    # An odd length: the sum is never 0.
    return x, (x.sum(axis=(1, 2)) > 0).astype(np.float32)


def _forward(params, x, sigmoid):
    """Logits and the update-gate pre-activations of every step."""

    def step(h, x_t):
        gates_x = x_t @ params["w"] + params["b"]
        gates_h = h @ params["u"]
        z_pre = gates_x[:, :HIDDEN] + gates_h[:, :HIDDEN]
        z = sigmoid(z_pre)
        r = sigmoid(gates_x[:, HIDDEN:2 * HIDDEN] + gates_h[:, HIDDEN:2 * HIDDEN])
        n = jnp.tanh(gates_x[:, 2 * HIDDEN:] + r * gates_h[:, 2 * HIDDEN:])
        return (1.0 - z) * n + z * h, z_pre

    h0 = jnp.zeros((x.shape[0], HIDDEN), x.dtype)
    h, z_pre = jax.lax.scan(step, h0, jnp.swapaxes(x, 0, 1))
    return (h @ params["out"] + params["out_b"])[:, 0], z_pre


def _loss(params, x, y, sigmoid):
    logits, _ = _forward(params, x, sigmoid)
    return optax.sigmoid_binary_cross_entropy(logits, y).mean()


@functools.partial(jax.jit, static_argnames=("sigmoid", "eps", "steps", "every"))
def _train(params, x, y, x_test, y_test, *, sigmoid, eps, steps, every):
    """Per seed: saturated share of update gates and test accuracy every ``every`` steps."""
    optimizer = optax.adam(LEARNING_RATE, eps=eps)

    def one_seed(p, x, y, x_test, y_test):
        def measure(p):
            logits, z_pre = _forward(p, x_test, sigmoid)
            saturated = jnp.mean(jaxact.sigmoid(z_pre) * jaxact.sigmoid(-z_pre) < THRESHOLD)
            return saturated, jnp.mean((logits > 0) == (y_test > 0.5))

        state = optimizer.init(p)

        def chunk(carry, _):
            def step(carry, _):
                p, state = carry
                grads = jax.grad(_loss)(p, x, y, sigmoid)
                updates, state = optimizer.update(grads, state, p)
                return (optax.apply_updates(p, updates), state), None

            carry, _ = jax.lax.scan(step, carry, None, length=every)
            return carry, measure(carry[0])

        _, curves = jax.lax.scan(chunk, (p, state), None, length=steps // every)
        first = measure(p)
        return tuple(jnp.concatenate([f[None], c]) for f, c in zip(first, curves, strict=True))

    return jax.vmap(one_seed)(params, x, y, x_test, y_test)


def run(options) -> dict:
    steps, every, examples = (150, 50, 128) if options.quick else (300, 25, 256)
    epsilons = QUICK_EPSILONS if options.quick else EPSILONS
    params, train, test = [], [], []
    for seed in range(options.seeds):
        rng = np.random.default_rng([seed, 16])
        params.append(_init(rng))
        train.append(_data(rng, examples))
        test.append(_data(rng, 512))
    stacked = jax.tree_util.tree_map(lambda *leaves: jnp.asarray(np.stack(leaves)), *params)
    x, y = (jnp.asarray(np.stack(part)) for part in zip(*train, strict=True))
    x_test, y_test = (jnp.asarray(np.stack(part)) for part in zip(*test, strict=True))
    results = {"hidden": HIDDEN, "length": LENGTH, "gate_bias": GATE_BIAS, "steps": steps,
               "eval_steps": np.arange(0, steps + 1, every), "jax": precision.jax_version(),
               "failure": precision.failure_note("jax.nn.sigmoid'", jax.nn.sigmoid),
               "epsilons": {}}
    for eps in epsilons:
        per_impl = {}
        for impl, sigmoid in IMPLEMENTATIONS.items():
            saturated, accuracy = _train(stacked, x, y, x_test, y_test, sigmoid=sigmoid,
                                         eps=eps, steps=steps, every=every)
            per_impl[impl] = {"saturated": np.asarray(saturated),
                              "test_accuracy": np.asarray(accuracy)}
        results["epsilons"][f"{eps:g}"] = per_impl
    return results


def plot(results: dict, path) -> None:
    figure, axes = new_figure(2, width=5.0, height=3.6)
    steps = results["eval_steps"]
    for index, (eps, per_impl) in enumerate(results["epsilons"].items()):
        for impl, style in (("jax.nn", "--"), ("jaxact", "-")):
            for column, key in enumerate(("saturated", "test_accuracy")):
                values = np.asarray(per_impl[impl][key], dtype=np.float64)
                axes[0, column].plot(steps, values.mean(0), style, color=f"C{index}",
                                     label=f"Adam ε={eps}, {impl}")
    axes[0, 0].set(title=f"saturated update gates (bias starts at {results['gate_bias']:g})",
                   xlabel="step", ylim=(-0.02, 1.02))
    axes[0, 1].set(title="test accuracy (sign of a ±1 sum)", xlabel="step", ylim=(0.4, 1.02))
    for axis in axes.ravel():
        axis.legend(fontsize=7)
        axis.grid(alpha=0.3)
    save_figure(figure, path)


def claims(results: dict) -> list[dict]:
    parts = []
    final = {}
    for eps, per_impl in results["epsilons"].items():
        for impl in ("jax.nn", "jaxact"):
            accuracy = np.asarray(per_impl[impl]["test_accuracy"], dtype=np.float64)[:, -1]
            saturated = np.asarray(per_impl[impl]["saturated"], dtype=np.float64)[:, -1]
            final[eps, impl] = mean_std(accuracy)
            parts.append(f"ε = {eps}, {impl}: test accuracy {fmt(*final[eps, impl])}, "
                         f"saturated gates at the end {fmt(*mean_std(saturated))}")
    smallest = min(results["epsilons"], key=float)
    nn, act = final[smallest, "jax.nn"], final[smallest, "jaxact"]
    if clearly_less(nn, act):
        verdict = HOLDS
    elif clearly_less(act, nn):
        verdict = DOES_NOT_HOLD
    else:
        verdict = depends("seed-to-seed noise: the difference is within the spread over seeds")
    return [claim(
        "gru-saturated-gates",
        "A GRU whose update gates start saturated (z ≈ 1, state frozen) opens them under "
        "Adam with jaxact's tiny nonzero gate gradients, never with jax.nn's exact zeros "
        "(issue 22).",
        f"GRU, {results['hidden']} units, sequences of {results['length']} ±1 inputs, "
        f"update-gate bias starts at {results['gate_bias']:g}, Adam lr {LEARNING_RATE}, "
        f"{results['steps']} steps: " + "; ".join(parts)
        + f". jax.nn fails: {results['failure']}",
        verdict,
        results["figure"],
    )]
