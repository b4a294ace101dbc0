"""Training steps of small models: jaxact against the same model with jax.nn."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp

from benchmarks.elementwise import ELEMENTWISE, progress
from benchmarks.hlo import count_opcodes
from harness.timing import Eager, paired_ratio, summary, timeit_interleaved


def _mlp_step_factory(activation: Callable, learning_rate: float = 1e-3) -> Callable:
    """A fresh SGD step each call, so that jax's trace cache cannot hide compile time."""

    def loss(params, x, y):
        h = x
        for w, b in params[:-1]:
            h = activation(h @ w + b)
        w, b = params[-1]
        return jnp.mean((h @ w + b - y) ** 2)

    def step(params, x, y):
        value, grads = jax.value_and_grad(loss)(params, x, y)
        params = jax.tree.map(lambda p, g: p - learning_rate * g, params, grads)
        return params, value

    return step


def _compile(step: Callable, *args) -> tuple[float, float, object]:
    """(trace + lower seconds, total seconds, compiled) of a fresh jit of ``step``."""
    start = time.perf_counter()
    lowered = jax.jit(step).lower(*args)
    lowered_at = time.perf_counter()
    compiled = lowered.compile()
    return lowered_at - start, time.perf_counter() - start, compiled


def time_mlp(names: Sequence[str], depth: int, width: int, batch: int, reps: int,
             compile_reps: int = 1, model: str = "mlp") -> list[dict]:
    """SGD step of a ``depth``-layer MLP with each activation, jaxact vs the reference:
    step time, compile time (lower + compile) and the compiled step's temporary memory.

    Memory is also given in activation-sized arrays (batch x width float32) per
    activation layer, and against the same step with jax.nn.relu, which keeps
    one such array per layer for its backward pass (its input, beside the output
    the next matmul's gradient needs).
    """
    keys = jax.random.split(jax.random.key(2), depth + 2)
    params = [(width**-0.5 * jax.random.normal(k, (width, width)), jnp.zeros((width,)))
              for k in keys[:depth]]
    x = jax.random.normal(keys[depth], (batch, width))
    y = jax.random.normal(keys[depth + 1], (batch, width))
    layer_bytes = (depth - 1) * batch * width * 4
    relu_temp_bytes = _compile(_mlp_step_factory(jax.nn.relu), params, x, y)[2] \
        .memory_analysis().temp_size_in_bytes
    rows = []
    for name in names:
        function = ELEMENTWISE[name]
        reference_label = function.reference_label
        activations = {"jaxact": function.jaxact, reference_label: function.reference}

        # Compile time is trace + lower (Python, jax) plus XLA's compile; both
        # are kept, as they point at different causes.
        lower_times: dict[str, list[float]] = {label: [] for label in activations}
        compile_times: dict[str, list[float]] = {label: [] for label in activations}
        compiled = {}
        for _ in range(compile_reps):
            for label, activation in activations.items():
                lower_s, total_s, compiled[label] = _compile(_mlp_step_factory(activation),
                                                             params, x, y)
                lower_times[label].append(lower_s)
                compile_times[label].append(total_s)
        temp_bytes = {label: step.memory_analysis().temp_size_in_bytes
                      for label, step in compiled.items()}
        # The executables just compiled are the ones timed: no compile twice.
        times = timeit_interleaved({label: Eager(step) for label, step in compiled.items()},
                                   reps, args=(params, x, y))
        for label, samples in times.items():
            rows.append({
                "model": model, "name": name, "contender": label, "reference": reference_label,
                "depth": depth, "width": width, "batch": batch, **summary(samples),
                "ratio_reference": paired_ratio(samples, times[reference_label]),
                "compile_median_s": statistics.median(compile_times[label]),
                "lower_median_s": statistics.median(lower_times[label]),
                "compile_ratio": paired_ratio(compile_times[label],
                                              compile_times[reference_label]),
                "temp_bytes": temp_bytes[label],
                "temp_ratio": temp_bytes[label] / temp_bytes[reference_label],
                "arrays_per_layer": temp_bytes[label] / layer_bytes,
                "relu_arrays_per_layer": relu_temp_bytes / layer_bytes,
                "temp_ratio_relu": temp_bytes[label] / relu_temp_bytes,
                "hlo": count_opcodes(compiled[label].as_text()),
            })
        progress(f"{model} {name}: jaxact / {reference_label} = "
                 f"{paired_ratio(times['jaxact'], times[reference_label]):.3f}")
    return rows


# The PINN-style model: u(p) for points p in the plane, tanh hidden layers.
PINN_SIZES = (2, 64, 64, 64, 1)


def _pinn_step_factory(activation: Callable, learning_rate: float = 1e-3) -> Callable:
    """SGD step on the mean squared Laplacian of u, the Laplacian from ``jax.hessian``:
    the third derivative of the activation is in the gradient."""

    def u(params, point):
        h = point
        for w, b in params[:-1]:
            h = activation(h @ w + b)
        w, b = params[-1]
        return (h @ w + b)[0]

    def laplacian(params, point):
        return jnp.trace(jax.hessian(u, argnums=1)(params, point))

    def loss(params, points):
        return jnp.mean(jax.vmap(laplacian, in_axes=(None, 0))(params, points) ** 2)

    def step(params, points):
        value, grads = jax.value_and_grad(loss)(params, points)
        params = jax.tree.map(lambda p, g: p - learning_rate * g, params, grads)
        return params, value

    return step


def time_pinn(names: Sequence[str], num_points: int, reps: int) -> list[dict]:
    """The PINN-style step (:func:`_pinn_step_factory`) at ``num_points`` points,
    jaxact vs the reference, for each named (smooth) activation."""
    keys = jax.random.split(jax.random.key(3), len(PINN_SIZES))
    params = [(n_in**-0.5 * jax.random.normal(k, (n_in, n_out)), jnp.zeros((n_out,)))
              for k, n_in, n_out in zip(keys[:-1], PINN_SIZES[:-1], PINN_SIZES[1:],
                                        strict=True)]
    points = jax.random.uniform(keys[-1], (num_points, 2), minval=-1.0, maxval=1.0)
    rows = []
    for name in names:
        function = ELEMENTWISE[name]
        reference_label = function.reference_label
        activations = {"jaxact": function.jaxact, reference_label: function.reference}
        steps = {label: jax.jit(_pinn_step_factory(activation)).lower(params, points).compile()
                 for label, activation in activations.items()}
        times = timeit_interleaved({label: Eager(step) for label, step in steps.items()},
                                   reps, args=(params, points))
        for label, samples in times.items():
            rows.append({
                "model": "pinn", "name": name, "contender": label, "reference": reference_label,
                "sizes": list(PINN_SIZES), "points": num_points, **summary(samples),
                "ratio_reference": paired_ratio(samples, times[reference_label]),
                "hlo": count_opcodes(steps[label].as_text()),
            })
        progress(f"pinn {name}: jaxact / {reference_label} = "
                 f"{paired_ratio(times['jaxact'], times[reference_label]):.3f}")
    return rows
