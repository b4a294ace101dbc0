"""Experiment 9: the cost of each activation relative to ReLU.

The source: sigmoid's exp is costly, ReLU is cheap, PReLU's slopes cost next
to nothing. Each activation's forward pass and forward + backward (a VJP, with
respect to the slopes too for PReLU) on the same array, timed side by side
with the bench's interleaved timer (``harness.timing.timeit_interleaved``),
and the per-repetition ratio to ReLU.

Timings on a shared machine move with its load, so the verdict on "exp is
costly" is three-way: it holds when even the faster quartile of the paired
ratios is above ``COSTLY``, does not hold when even the slower quartile is
below it, and otherwise depends on the machine's load (the run records the
load average before and after). XLA's own operation counts (flops and
transcendental operations per element, from the compiled program's cost analysis)
are reported beside the times: they do not depend on load.
"""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import numpy as np

import jaxact
from experiments.common import DOES_NOT_HOLD, HOLDS, claim, depends, new_figure, save_figure
from harness.timing import timeit_interleaved

# Costly: the faster quartile of the per-rep ratios is still 20% above ReLU.
COSTLY = 1.2
# Negligible: PReLU's median forward+backward within 10% of leaky_relu's.
NEGLIGIBLE = 1.1
CHANNELS = 256
PRELU_SLOPES = jnp.full((CHANNELS,), 0.25, jnp.float32)


def _functions() -> dict[str, callable]:
    return {
        "relu": jaxact.relu,
        "leaky_relu": jaxact.leaky_relu,
        "prelu": lambda x, slopes: jaxact.prelu(x, slopes),
        "elu": jaxact.elu,
        "sigmoid": jaxact.sigmoid,
        "tanh": jaxact.tanh,
        "generalized_logistic": lambda x: jaxact.generalized_logistic(x, 2.0),
        "softplus": jaxact.softplus,
    }


def _forward(name, fn):
    return (lambda x, cotangent: fn(x, PRELU_SLOPES)) if name == "prelu" else (
        lambda x, cotangent: fn(x))


def _forward_backward(name, fn):
    if name == "prelu":
        def run(x, cotangent):
            y, pullback = jax.vjp(fn, x, PRELU_SLOPES)
            return y, pullback(cotangent)

        return run

    def run(x, cotangent):
        y, pullback = jax.vjp(fn, x)
        return y, pullback(cotangent)

    return run


def _operations_per_element(fn, x, cotangent) -> dict[str, float]:
    """XLA's count of transcendental operations and flops per element of x."""
    analysis = jax.jit(fn).lower(x, cotangent).compile().cost_analysis()
    if isinstance(analysis, list):  # older jax returns one dict per program
        analysis = analysis[0]
    return {
        key: float(analysis.get(key, 0.0)) / x.size for key in ("transcendentals", "flops")
    }


def _load_average() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:  # not available on this platform
        return None


def run(options) -> dict:
    n = 1 << 12 if options.quick else 1 << 20
    reps = 3 if options.quick else 40
    key_x, key_c = jax.random.split(jax.random.PRNGKey(0))
    x = 4.0 * jax.random.normal(key_x, (n // CHANNELS, CHANNELS), jnp.float32)
    cotangent = jax.random.normal(key_c, x.shape, jnp.float32)
    results = {
        "n": n,
        "reps": reps,
        "cpu_count": os.cpu_count(),
        "load_average_before": _load_average(),
        "operations": {
            name: _operations_per_element(_forward(name, fn), x, cotangent)
            for name, fn in _functions().items()
        },
        "modes": {},
    }
    for mode, wrap in (("forward", _forward), ("forward+backward", _forward_backward)):
        fns = {name: wrap(name, fn) for name, fn in _functions().items()}
        times = timeit_interleaved(fns, reps, args=(x, cotangent))
        relu = np.asarray(times["relu"])
        results["modes"][mode] = {
            name: {
                "median_s": float(np.median(samples)),
                "ratio_to_relu": np.asarray(samples) / relu,  # per rep, paired
            }
            for name, samples in times.items()
        }
    results["load_average_after"] = _load_average()
    return results


def _quartiles(ratios) -> tuple[float, float, float]:
    q1, median, q3 = np.percentile(np.asarray(ratios, dtype=np.float64), [25, 50, 75])
    return float(q1), float(median), float(q3)


def plot(results: dict, path) -> None:
    figure, axes = new_figure(1, width=7.0, height=3.8)
    axis = axes[0, 0]
    modes = list(results["modes"])
    names = list(results["modes"][modes[0]])
    for offset, mode in zip((-0.2, 0.2), modes, strict=True):
        q = np.array([_quartiles(results["modes"][mode][n]["ratio_to_relu"]) for n in names])
        axis.bar(np.arange(len(names)) + offset, q[:, 1], width=0.4, label=mode,
                 yerr=[q[:, 1] - q[:, 0], q[:, 2] - q[:, 1]], capsize=2)
    axis.axhline(1.0, color="black", lw=0.8)
    axis.set_xticks(range(len(names)), names, rotation=30)
    axis.set(title=f"time relative to relu ({results['n']} float32 values, median and "
             "quartiles of paired reps)", ylabel="ratio")
    axis.legend()
    save_figure(figure, path)


def claims(results: dict) -> list[dict]:
    figure = results["figure"]
    forward = results["modes"]["forward"]
    both = results["modes"]["forward+backward"]
    exp_based = ("sigmoid", "elu", "tanh")
    quart = {name: _quartiles(forward[name]["ratio_to_relu"]) for name in exp_based}
    sigmoid_q1, _, sigmoid_q3 = quart["sigmoid"]
    if sigmoid_q1 > COSTLY:
        costly_verdict = HOLDS
    elif sigmoid_q3 < COSTLY:
        costly_verdict = DOES_NOT_HOLD
    else:
        costly_verdict = depends(
            f"machine load: the quartiles of sigmoid's ratio straddle {COSTLY}")
    operations = results.get("operations", {})
    conditions = (
        f"; {results['n']} float32 values, {results['reps']} paired reps, "
        f"load average {results.get('load_average_before')} → "
        f"{results.get('load_average_after')} on {results.get('cpu_count')} CPUs"
    )
    if operations:
        # jaxact's float32 exp is polynomial arithmetic, not an XLA
        # transcendental, so its cost shows in the flop count.
        conditions += "; XLA flops per element (load-independent): " + ", ".join(
            f"{name} {operations[name]['flops']:.0f}"
            for name in ("relu", *exp_based) if name in operations
        )
    prelu_vs_leaky = np.asarray(both["prelu"]["ratio_to_relu"], dtype=np.float64) / np.asarray(
        both["leaky_relu"]["ratio_to_relu"], dtype=np.float64)
    prelu_median = float(np.median(prelu_vs_leaky))

    def describe(name):
        q1, median, q3 = quart[name]
        both_median = _quartiles(both[name]["ratio_to_relu"])[1]
        return f"{name} {median:.2f}x [{q1:.2f}, {q3:.2f}] (fwd+bwd {both_median:.2f}x)"

    return [
        claim(
            "sigmoid-exp-costly",
            "Sigmoid's exp is costly (ReLU is cheap).",
            "forward time / relu, median [quartiles]: "
            + ", ".join(describe(name) for name in exp_based)
            + conditions,
            costly_verdict,
            figure,
        ),
        claim(
            "prelu-negligible-time",
            "PReLU costs negligible extra computation.",
            f"channel-wise prelu forward+backward (input and slope gradients) / leaky_relu "
            f"(input gradient): median {prelu_median:.2f}x",
            HOLDS if prelu_median < NEGLIGIBLE else DOES_NOT_HOLD,
            figure,
        ),
    ]
