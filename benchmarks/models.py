"""Training steps of small models: jaxact against the same model with jax.nn."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp

from benchmarks.elementwise import ELEMENTWISE, progress
from benchmarks.hlo import hlo_op_counts
from benchmarks.timing import paired_ratio, summary, timeit_interleaved


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


def time_mlp(names: Sequence[str], depth: int, width: int, batch: int, reps: int,
             compile_reps: int) -> list[dict]:
    """SGD step of a ``depth``-layer MLP with each activation, jaxact vs the reference:
    step time, compile time (lower + compile) and the compiled step's temporary memory.
    """
    keys = jax.random.split(jax.random.key(2), depth + 2)
    params = [(width**-0.5 * jax.random.normal(k, (width, width)), jnp.zeros((width,)))
              for k in keys[:depth]]
    x = jax.random.normal(keys[depth], (batch, width))
    y = jax.random.normal(keys[depth + 1], (batch, width))
    rows = []
    for name in names:
        function = ELEMENTWISE[name]
        reference_label = function.reference_label
        activations = {"jaxact": function.jaxact, reference_label: function.reference}

        # Compile time is trace + lower (Python, jax) plus XLA's compile; both
        # are kept, as they point at different causes.
        lower_times: dict[str, list[float]] = {label: [] for label in activations}
        compile_times: dict[str, list[float]] = {label: [] for label in activations}
        temp_bytes, opcodes = {}, {}
        for _ in range(compile_reps):
            for label, activation in activations.items():
                start = time.perf_counter()
                lowered = jax.jit(_mlp_step_factory(activation)).lower(params, x, y)
                lowered_at = time.perf_counter()
                compiled = lowered.compile()
                lower_times[label].append(lowered_at - start)
                compile_times[label].append(time.perf_counter() - start)
                temp_bytes[label] = compiled.memory_analysis().temp_size_in_bytes
        # Counted once, outside the timed compiles.
        for label, activation in activations.items():
            opcodes[label] = hlo_op_counts(_mlp_step_factory(activation), params, x, y)

        steps = {label: _mlp_step_factory(activation) for label, activation in activations.items()}
        times = timeit_interleaved(steps, reps, args=(params, x, y))
        for label, samples in times.items():
            rows.append({
                "name": name, "contender": label, "reference": reference_label,
                "depth": depth, "width": width, "batch": batch, **summary(samples),
                "ratio_reference": paired_ratio(samples, times[reference_label]),
                "compile_median_s": statistics.median(compile_times[label]),
                "lower_median_s": statistics.median(lower_times[label]),
                "compile_ratio": paired_ratio(compile_times[label],
                                              compile_times[reference_label]),
                "temp_bytes": temp_bytes[label],
                "temp_ratio": temp_bytes[label] / temp_bytes[reference_label],
                "hlo": opcodes[label],
            })
        progress(f"mlp {name}")
    return rows
