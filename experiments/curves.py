"""Experiment 1: every activation and its derivative on [-10, 10].

The source's two-panel sigmoid-vs-tanh figure, extended to the whole family:
the top two rows are the classic functions, the bottom two the modern ones
jax.nn also ships (silu, gelu, mish, selu, celu, soft_sign, squareplus and the
piecewise-linear "hard" and "sparse" variants). The numbers kept are the
derivatives at the ends of the range, which decide the claims "sigmoid
saturates at both ends" and "tanh's gradient at the ends is even smaller than
sigmoid's".
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

import jaxact
from experiments.common import DOES_NOT_HOLD, HOLDS, claim, new_figure, save_figure

# Below this |f'(x)| a unit passes on less than 1% of its gradient: "saturated"
# (the same threshold as the saturation experiment).
SATURATION_THRESHOLD = 0.01


def _families() -> dict[str, dict[str, callable]]:
    # Two pieces per unit, contiguous as jaxact.maxout groups them.
    maxout_input = lambda x: jnp.stack([x, 0.3 * x - 1.0], axis=-1)
    return {
        "sigmoid / tanh": {"sigmoid": jaxact.sigmoid, "tanh": jaxact.tanh},
        "generalized logistic": {
            f"α={alpha}": (lambda x, alpha=alpha: jaxact.generalized_logistic(x, alpha))
            for alpha in (0.25, 0.5, 1.0, 2.0, 4.0)
        },
        "ReLU / leaky / PReLU": {
            "relu": jaxact.relu,
            **{
                f"slope={slope}": (lambda x, slope=slope: jaxact.leaky_relu(x, slope))
                for slope in (0.01, 0.1, 0.25)
            },
        },
        "ELU": {
            f"α={alpha}": (lambda x, alpha=alpha: jaxact.elu(x, alpha))
            for alpha in (0.5, 1.0, 2.0)
        },
        "Maxout (2 pieces: x, 0.3x - 1)": {
            "maxout": lambda x: jaxact.maxout(maxout_input(x), num_pieces=2)[..., 0]
        },
    }


def _modern_families() -> dict[str, dict[str, callable]]:
    return {
        "silu / gelu / mish": {
            "silu": jaxact.silu,
            "gelu (tanh form)": jaxact.gelu,
            "gelu (exact)": lambda x: jaxact.gelu(x, approximate=False),
            "mish": jaxact.mish,
        },
        "SELU / CELU": {
            "selu": jaxact.selu,
            **{
                f"celu α={alpha}": (lambda x, alpha=alpha: jaxact.celu(x, alpha))
                for alpha in (0.5, 1.0, 2.0)
            },
        },
        # (log1mexp is left out: it is defined for x > 0 only and is -inf at 0.)
        "soft_sign / squareplus": {
            "soft_sign": jaxact.soft_sign,
            "squareplus b=4": jaxact.squareplus,
            "squareplus b=1": lambda x: jaxact.squareplus(x, 1.0),
        },
        "hard / sparse": {
            "hard_sigmoid": jaxact.hard_sigmoid,
            "hard_silu": jaxact.hard_silu,
            "hard_tanh": jaxact.hard_tanh,
            "relu6": jaxact.relu6,
            "sparse_plus": jaxact.sparse_plus,
            "sparse_sigmoid": jaxact.sparse_sigmoid,
        },
    }


def _value_and_derivative(fn, x):
    # One jitted program per curve: eagerly, the vmapped gradient is traced
    # and its operations dispatched one by one, which costs more than
    # compiling them once.
    grad = jax.vmap(jax.grad(lambda v: fn(v[None])[0]))
    value, derivative = jax.jit(lambda x: (fn(x), grad(x)))(x)
    return np.asarray(value), np.asarray(derivative)


def run(options) -> dict:
    x = jnp.linspace(-10.0, 10.0, 101 if options.quick else 801, dtype=jnp.float32)
    curves = {}
    for panel_set in (_families(), _modern_families()):
        for family, members in panel_set.items():
            curves[family] = {}
            for label, fn in members.items():
                value, derivative = _value_and_derivative(fn, x)
                curves[family][label] = {"value": value, "derivative": derivative}
    ends = jnp.asarray([-10.0, -5.0, 0.0, 5.0, 10.0], jnp.float32)
    end_derivatives = {
        name: _value_and_derivative(fn, ends)[1]
        for name, fn in {
            "sigmoid": jaxact.sigmoid, "tanh": jaxact.tanh, "relu": jaxact.relu,
            "elu": jaxact.elu,
        }.items()
    }
    return {
        "x": np.asarray(x),
        "curves": curves,
        "modern": list(_modern_families()),
        "end_points": np.asarray(ends),
        "end_derivatives": end_derivatives,
        "saturation_threshold": SATURATION_THRESHOLD,
    }


def plot(results: dict, path) -> None:
    families = results["curves"]
    modern = set(results.get("modern", ()))
    panel_sets = [
        [name for name in families if name not in modern],
        [name for name in families if name in modern],
    ]
    panel_sets = [names for names in panel_sets if names]
    columns = max(len(names) for names in panel_sets)
    figure, axes = new_figure(columns, 2 * len(panel_sets), width=3.6, height=3.0)
    x = np.asarray(results["x"])
    for set_index, names in enumerate(panel_sets):
        value_row, derivative_row = axes[2 * set_index], axes[2 * set_index + 1]
        for column, family in enumerate(names):
            for label, curve in families[family].items():
                value_row[column].plot(x, curve["value"], label=label)
                derivative_row[column].plot(x, curve["derivative"], label=label)
            value_row[column].set_title(family, fontsize=9)
            value_row[column].legend(fontsize=6)
            derivative_row[column].set_xlabel("x")
        for column in range(len(names), columns):
            value_row[column].set_visible(False)
            derivative_row[column].set_visible(False)
        value_row[0].set_ylabel("f(x)")
        derivative_row[0].set_ylabel("f'(x)")
    for axis in axes.ravel():
        axis.grid(alpha=0.3)
    save_figure(figure, path)


def claims(results: dict) -> list[dict]:
    ends = [float(value) for value in results["end_points"]]
    sig = dict(zip(ends, results["end_derivatives"]["sigmoid"], strict=True))
    tanh = dict(zip(ends, results["end_derivatives"]["tanh"], strict=True))
    threshold = results["saturation_threshold"]
    figure = results["figure"]
    sigmoid_saturates = sig[-10.0] < threshold and sig[10.0] < threshold
    # "At the ends" means both |x| = 5 and |x| = 10: the claim must hold at each.
    tanh_smaller = all(tanh[x] < sig[x] for x in (-10.0, -5.0, 5.0, 10.0))
    return [
        claim(
            "sigmoid-saturates-ends",
            "Sigmoid saturates at both ends: its gradient is ≈ 0 for large |x|.",
            f"σ'(-10) = {sig[-10.0]:.3g}, σ'(10) = {sig[10.0]:.3g} (threshold {threshold}); "
            f"σ'(0) = {sig[0.0]:.3g}",
            HOLDS if sigmoid_saturates else DOES_NOT_HOLD,
            figure,
        ),
        claim(
            "tanh-ends-smaller",
            "tanh's gradient at the ends is even smaller than sigmoid's.",
            f"tanh'(±5) = {tanh[5.0]:.3g} vs σ'(±5) = {sig[5.0]:.3g}; "
            f"tanh'(±10) = {tanh[10.0]:.3g} vs σ'(±10) = {sig[10.0]:.3g} "
            f"(but tanh'(0) = {tanh[0.0]:.3g} vs σ'(0) = {sig[0.0]:.3g})",
            HOLDS if tanh_smaller else DOES_NOT_HOLD,
            figure,
        ),
    ]
