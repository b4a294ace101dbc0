"""Experiment 14: gradient error of deep saturated tanh networks in float32, jax.nn vs jaxact.

A tanh MLP of width 32 on a batch of the default data set, at growing depth
and initial weight scale (a multiple of Glorot's standard deviation): for each
layer, the relative error ‖g32 - g64‖ / ‖g64‖ of the loss gradient with respect
to its kernel, where g32 comes from the float32 network (jax.nn's tanh or
jaxact's) and g64 from the same weights in float64 with jaxact (exact to
float32's eyes). Large scales saturate the units, where jnp.tanh's derivative
1 - tanh² rounds to exactly 0 in float32.
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
    depends,
    load_data,
    new_figure,
    save_figure,
)

WIDTH = 32
BATCH = 64
DEPTHS = (4, 16)
SCALES = (1.0, 4.0, 16.0)
QUICK_DEPTHS = (4,)
QUICK_SCALES = (1.0, 4.0)
# A layer's gradient is "wrong" when its relative error exceeds this (float32's
# own rounding, accumulated over a deep network, stays far below it).
WRONG = 1e-2


def _loss(params, x, y, tanh):
    h = x
    *layers, last = params
    for kernel in layers:
        h = tanh(h @ kernel)
    logits = h @ last
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()


@functools.partial(jax.jit, static_argnames=("tanh",))
def _gradients(params, x, y, *, tanh):
    return jax.vmap(jax.grad(_loss), in_axes=(0, None, None, None))(params, x, y, tanh)


def _relative_errors(grads, reference) -> np.ndarray:
    """(seeds, layers) relative error of each layer's kernel gradient."""
    errors = []
    for g, g64 in zip(grads, reference, strict=True):
        g = np.asarray(g, np.float64).reshape(g.shape[0], -1)
        g64 = np.asarray(g64, np.float64).reshape(g64.shape[0], -1)
        norm = np.linalg.norm(g64, axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            errors.append(np.linalg.norm(g - g64, axis=1) / norm)
    return np.stack(errors, axis=1)


def run(options) -> dict:
    data = load_data(options)
    x = data.x_train[:BATCH]
    y = jnp.asarray(data.y_train[:BATCH])
    depths = QUICK_DEPTHS if options.quick else DEPTHS
    scales = QUICK_SCALES if options.quick else SCALES
    results = {"width": WIDTH, "batch": BATCH, "wrong": WRONG, "jax": precision.jax_version(),
               "failure": precision.failure_note("jnp.tanh'", jnp.tanh), "configs": []}
    with jax.enable_x64(True):
        for depth in depths:
            sizes = (x.shape[1], *(WIDTH,) * depth, data.num_classes)
            for scale in scales:
                params = []
                for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
                    std = scale * np.sqrt(2.0 / (fan_in + fan_out))
                    params.append(np.stack([
                        std * np.random.default_rng([seed, depth, fan_in]).standard_normal(
                            (fan_in, fan_out))
                        for seed in range(options.seeds)
                    ]).astype(np.float32))
                params32 = [jnp.asarray(p) for p in params]
                params64 = [jnp.asarray(p, jnp.float64) for p in params]
                reference = _gradients(params64, jnp.asarray(x, jnp.float64), y,
                                       tanh=jaxact.tanh)
                x32 = jnp.asarray(x, jnp.float32)
                entry = {"depth": depth, "scale": scale}
                for impl, tanh in (("jax.nn", jnp.tanh), ("jaxact", jaxact.tanh)):
                    entry[impl] = _relative_errors(
                        _gradients(params32, x32, y, tanh=tanh), reference)
                results["configs"].append(entry)
    return results


def plot(results: dict, path) -> None:
    configs = results["configs"]
    scales = sorted({c["scale"] for c in configs})
    figure, axes = new_figure(len(scales), width=4.2, height=3.4)
    for column, scale in enumerate(scales):
        axis = axes[0, column]
        for index, config in enumerate(c for c in configs if c["scale"] == scale):
            for impl, style in (("jax.nn", "--"), ("jaxact", "-")):
                errors = np.asarray(config[impl], dtype=np.float64)
                errors = np.nan_to_num(errors, nan=1.0, posinf=1.0)
                layers = np.arange(1, errors.shape[1] + 1)
                axis.semilogy(layers, np.maximum(np.median(errors, axis=0), 1e-9), style,
                              color=f"C{index}", marker=".",
                              label=f"depth {config['depth']}, {impl}")
        axis.axhline(results["wrong"], color="black", lw=0.8)
        axis.set(title=f"float32 kernel-gradient rel. error, weights {scale:g}x Glorot",
                 xlabel="layer (input → output)")
        axis.title.set_fontsize(8)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=6)
    save_figure(figure, path)


def _wrong_fraction(errors, wrong) -> float:
    errors = np.nan_to_num(np.asarray(errors, dtype=np.float64), nan=1.0, posinf=1.0)
    return float((errors > wrong).mean())


def _median(errors) -> float:
    return float(np.nanmedian(np.asarray(errors, dtype=np.float64)))


def claims(results: dict) -> list[dict]:
    wrong = results["wrong"]
    parts, nn_worse, act_worse = [], 0, 0
    for config in results["configs"]:
        nn = _wrong_fraction(config["jax.nn"], wrong)
        act = _wrong_fraction(config["jaxact"], wrong)
        nn_worse += nn > act
        act_worse += act > nn
        parts.append(f"depth {config['depth']}, {config['scale']:g}x: jax.nn {nn:.0%} "
                     f"(median {_median(config['jax.nn']):.1g}), jaxact {act:.0%} "
                     f"(median {_median(config['jaxact']):.1g})")
    if nn_worse and not act_worse:
        verdict = depends("the weight scale: jax.nn is worse only where units saturate"
                          ) if nn_worse < len(results["configs"]) else HOLDS
    elif not nn_worse and not act_worse:
        verdict = DOES_NOT_HOLD
    else:
        verdict = depends("the configuration: each is worse somewhere")
    return [claim(
        "deep-saturated-gradient-error",
        "In deep saturated tanh networks, float32 gradients from jax.nn are far from the "
        "float64 ones while jaxact's stay accurate (issue 22).",
        f"width {results['width']}, batch {results['batch']}; share of (layer, seed) kernel "
        f"gradients with relative error > {wrong:g} against float64: " + "; ".join(parts)
        + f". jax.nn fails: {results['failure']}; the saturated units' true contributions "
        "are too small to change a layer's gradient norm; where both are wrong, float32 "
        "rounding of the chaotic forward pass decides, not the derivative",
        verdict,
        results["figure"],
    )]
