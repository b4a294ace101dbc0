"""Experiment 16: the Laplacian of a tanh MLP (a PINN's residual) in float32, jax.nn vs jaxact.

A physics-informed network u: R² → R (tanh MLP, three hidden layers) enters
its loss through Δu = trace(jax.hessian(u)), which needs tanh'' = -2·tanh·tanh'.
Unscaled coordinates (inputs in [-s, s] instead of [-1, 1]) push the first
layer's pre-activations into the tails, where jnp.tanh's derivative
1 - tanh² rounds to exactly 0 in float32. At each input scale and width: the
relative error of the float32 Laplacian (jnp.tanh or jaxact.tanh) against
the same network in float64 (jaxact), over points drawn in the domain.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

import jaxact
from experiments import precision
from experiments.common import (
    DOES_NOT_HOLD,
    HOLDS,
    claim,
    depends,
    new_figure,
    save_figure,
)

SCALES = (1.0, 10.0, 100.0, 1000.0)
WIDTHS = (16, 64)
QUICK_SCALES = (1.0, 100.0)
QUICK_WIDTHS = (16,)
DEPTH = 3
POINTS = 256
# A Laplacian is "wrong" beyond this relative error (float32 rounding through
# two derivatives of a three-layer network stays well below it).
WRONG = 1e-2


def _network(params, point, tanh):
    h = point
    *layers, last = params
    for kernel, bias in layers:
        h = tanh(h @ kernel + bias)
    return (h @ last[0] + last[1])[0]


@functools.partial(jax.jit, static_argnames=("tanh",))
def _laplacians(params, points, *, tanh):
    """(seeds, points) Laplacian of every seed's network at every point."""

    def laplacian(seed_params, point):
        return jnp.trace(jax.hessian(_network, argnums=1)(seed_params, point, tanh))

    return jax.vmap(lambda p: jax.vmap(lambda x: laplacian(p, x))(points))(params)


def _init(seeds: int, width: int) -> list:
    sizes = (2, *(width,) * DEPTH, 1)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
        std = np.sqrt(2.0 / (fan_in + fan_out))
        kernels = np.stack([std * np.random.default_rng([seed, width, fan_in]).standard_normal(
            (fan_in, fan_out)) for seed in range(seeds)])
        params.append((kernels.astype(np.float32), np.zeros((seeds, fan_out), np.float32)))
    return params


def run(options) -> dict:
    scales = QUICK_SCALES if options.quick else SCALES
    widths = QUICK_WIDTHS if options.quick else WIDTHS
    unit = np.random.default_rng(0).uniform(-1.0, 1.0, (POINTS, 2))
    results = {"depth": DEPTH, "points": POINTS, "wrong": WRONG,
               "jax": precision.jax_version(),
               "failure": precision.failure_note("jnp.tanh'", jnp.tanh), "configs": []}
    with jax.enable_x64(True):
        for width in widths:
            params = _init(options.seeds, width)
            params32 = jax.tree_util.tree_map(jnp.asarray, params)
            params64 = jax.tree_util.tree_map(lambda p: jnp.asarray(p, jnp.float64), params)
            for scale in scales:
                points = (scale * unit).astype(np.float32)
                reference = np.asarray(_laplacians(params64, jnp.asarray(points, jnp.float64),
                                                   tanh=jaxact.tanh))
                entry = {"width": width, "scale": scale}
                for impl, tanh in (("jax.nn", jnp.tanh), ("jaxact", jaxact.tanh)):
                    value = np.asarray(_laplacians(params32, jnp.asarray(points), tanh=tanh),
                                       np.float64)
                    with np.errstate(divide="ignore", invalid="ignore"):
                        entry[impl] = np.abs(value - reference) / np.abs(reference)
                    entry[f"{impl}_exact_zero"] = float(((value == 0) & (reference != 0)).mean())
                results["configs"].append(entry)
    return results


def _wrong(errors, wrong) -> float:
    errors = np.nan_to_num(np.asarray(errors, dtype=np.float64), nan=1.0, posinf=1.0)
    return float((errors > wrong).mean())


def plot(results: dict, path) -> None:
    figure, axes = new_figure(1, width=5.6, height=3.8)
    axis = axes[0, 0]
    widths = sorted({c["width"] for c in results["configs"]})
    for index, width in enumerate(widths):
        configs = [c for c in results["configs"] if c["width"] == width]
        scales = [c["scale"] for c in configs]
        for impl, style in (("jax.nn", "--o"), ("jaxact", "-s")):
            axis.semilogx(scales, [_wrong(c[impl], results["wrong"]) for c in configs], style,
                          color=f"C{index}", label=f"width {width}, {impl}")
    axis.set(title=f"share of points with float32 Laplacian rel. error > {results['wrong']:g}",
             xlabel="input scale (coordinates in [-s, s])", ylim=(-0.02, 1.02))
    axis.title.set_fontsize(9)
    axis.legend(fontsize=7)
    axis.grid(alpha=0.3)
    save_figure(figure, path)


def claims(results: dict) -> list[dict]:
    wrong = results["wrong"]
    parts, better, worse = [], 0, 0
    for config in results["configs"]:
        nn, act = _wrong(config["jax.nn"], wrong), _wrong(config["jaxact"], wrong)
        better += nn > act
        worse += act > nn
        parts.append(
            f"width {config['width']}, scale {config['scale']:g}: jax.nn {nn:.0%} "
            f"({config['jax.nn_exact_zero']:.0%} exactly 0), jaxact {act:.0%}"
        )
    if better and not worse:
        verdict = HOLDS if better == len(results["configs"]) else depends(
            "the input scale: only where the first layer saturates")
    elif not better and not worse:
        verdict = DOES_NOT_HOLD
    else:
        verdict = depends("the configuration: each is worse somewhere")
    return [claim(
        "pinn-laplacian-float32",
        "The Laplacian of a tanh PINN (jax.hessian) in float32 is wrong with jax.nn's tanh "
        "and accurate with jaxact's, against float64 (issue 22).",
        f"tanh MLP with {results['depth']} hidden layers, {results['points']} points in "
        f"[-s, s]²; share of points with relative error > {wrong:g}: " + "; ".join(parts)
        + f". jax.nn fails: {results['failure']}. (The converged PDE error of a trained "
        "PINN is not measured here.)",
        verdict,
        results["figure"],
    )]
