"""`make bench`: what jaxact costs, measured side by side with what it replaces.

Run as ``python -m experiments.bench [--quick] [--out DIR]``. Writes ``bench.md``,
``bench.json`` and ``bench_scaling.png`` to DIR (default ``experiments/results``)
and prints the markdown table.

Every figure comes from :func:`timeit_interleaved`: each contender is jitted and
warmed up once, then the contenders run one after another within each rep (in
an order shuffled anew for every rep), so that load from other processes falls
on all of them alike. A ratio is the median over reps of the per-rep ratio of two
contenders timed in the same rep, which cancels most of that shared noise.

Only the public ``jaxact`` API is used. :func:`time_elementwise` and
:func:`timeit_interleaved` are imported by other experiments; keep their
signatures stable.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import jax
import jax.numpy as jnp
import jaxlib
import numpy as np
from jax import lax

import jaxact
from experiments.common import save_figure, write_text

ELEMENTWISE = (
    "sigmoid",
    "generalized_logistic",
    "tanh",
    "relu",
    "leaky_relu",
    "elu",
    "softplus",
    "log_sigmoid",
)

# alpha = 1 would take jaxact's sigmoid shortcut; 2 exercises the general path.
GENERALIZED_LOGISTIC_ALPHA = 2.0
# A multiply by a constant reads and writes each element once and does no other
# work: no elementwise function can be cheaper, so it is the bandwidth floor.
FLOOR_SCALE = 1.5

# Targets from issues 2, 3 and 5.
ELEMENTWISE_LIMIT = 1.10
PARAMETRIC_LIMIT = 1.10
MLP_TIME_LIMIT = 1.05
MLP_MEMORY_LIMIT = 1.0
MLP_COMPILE_LIMIT = 1.10

DEFAULT_OUT = Path(__file__).resolve().parent / "results"


# --------------------------------------------------------------------------
# the timing primitive


@dataclass(frozen=True)
class Eager:
    """Marks a contender that must not be jitted (PyTorch): it is called as is.

    Its result is complete when the call returns, so nothing is awaited.
    """

    fn: Callable


def timeit_interleaved(
    fns: dict[str, Callable | tuple[Callable, tuple] | Eager],
    reps: int,
    *,
    args: tuple = (),
    number: int = 1,
) -> dict[str, list[float]]:
    """Times several contenders side by side, interleaving them rep by rep.

    Args:
        fns: contender name -> function. A function is jitted and called with
            ``args``; a pair ``(function, own_args)`` is jitted and called with
            ``own_args``; an :class:`Eager` function is called with ``args``
            as is.
        reps: number of timed samples per contender (>= 1).
        args: the arguments shared by the contenders that bring none of their own.
        number: calls per sample, run back to back and awaited once at the end;
            raise it for calls so short that the clock's resolution matters.

    Returns:
        contender name -> ``reps`` seconds per call, in the order taken.

    Each contender runs once untimed first, so compilation is never timed.
    Within each rep the contenders run once each, in a shuffled order.
    """
    if reps < 1 or number < 1:
        raise ValueError(f"timeit_interleaved: reps and number must be >= 1, got {reps}, {number}")
    calls: dict[str, tuple[Callable, tuple]] = {}
    for name, spec in fns.items():
        if isinstance(spec, Eager):
            calls[name] = (spec.fn, args)
        elif isinstance(spec, tuple):
            fn, own_args = spec
            calls[name] = (jax.jit(fn), own_args)
        else:
            calls[name] = (jax.jit(spec), args)
    for fn, fn_args in calls.values():
        jax.block_until_ready(fn(*fn_args))

    names = list(calls)
    times: dict[str, list[float]] = {name: [] for name in names}
    # A fresh order every rep (seeded, so runs are repeatable): a fixed or merely
    # rotated order would give each contender the same predecessor every time,
    # and what runs just before (its freed buffers, the cache it leaves) matters.
    order_rng = random.Random(0)
    for _ in range(reps):
        order_rng.shuffle(names)
        for name in names:
            fn, fn_args = calls[name]
            start = time.perf_counter()
            for _ in range(number - 1):
                fn(*fn_args)
            jax.block_until_ready(fn(*fn_args))
            times[name].append((time.perf_counter() - start) / number)
    return times


def paired_ratio(times: Sequence[float], reference: Sequence[float]) -> float:
    """Median over reps of times[i] / reference[i] (both from one interleaved run)."""
    return statistics.median(t / r for t, r in zip(times, reference, strict=True))


def _summary(times: Sequence[float]) -> dict:
    return {
        "median_s": statistics.median(times),
        "min_s": min(times),
        "max_s": max(times),
    }


def _absent(reason: str) -> dict:
    return {"median_s": None, "min_s": None, "max_s": None, "status": f"absent ({reason})"}


# --------------------------------------------------------------------------
# elementwise functions


def _naive_generalized_logistic(x):
    return (1 + jnp.exp(-x)) ** -GENERALIZED_LOGISTIC_ALPHA


def _jaxact_fn(name: str) -> Callable:
    if name == "generalized_logistic":
        return lambda x: jaxact.generalized_logistic(x, GENERALIZED_LOGISTIC_ALPHA)
    return getattr(jaxact, name)


# name -> (contender label, function): what a user would call without jaxact.
# generalized_logistic has no jax.nn counterpart; the textbook formula stands in.
_REFERENCES: dict[str, tuple[str, Callable]] = {
    "sigmoid": ("jax.nn", jax.nn.sigmoid),
    "generalized_logistic": ("naive (1+exp(-x))**-alpha", _naive_generalized_logistic),
    "tanh": ("jax.nn", jax.nn.tanh),
    "relu": ("jax.nn", jax.nn.relu),
    "leaky_relu": ("jax.nn", jax.nn.leaky_relu),
    "elu": ("jax.nn", jax.nn.elu),
    "softplus": ("jax.nn", jax.nn.softplus),
    "log_sigmoid": ("jax.nn", jax.nn.log_sigmoid),
}

_HIGHEST_LABEL = "lax accuracy=HIGHEST"
_HIGHEST: dict[str, Callable] = {
    "sigmoid": lambda x: lax.logistic(x, accuracy=lax.AccuracyMode.HIGHEST),
    "tanh": lambda x: lax.tanh(x, accuracy=lax.AccuracyMode.HIGHEST),
}

_TORCH_LABEL = "torch (CPU)"
_FLOOR_LABEL = "floor x*s"


def _torch_functions() -> dict[str, Callable] | str:
    """name -> torch function, or the reason torch cannot be measured."""
    try:
        import torch
        import torch.nn.functional as functional
    except ImportError:
        return "torch not importable"

    return {
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "relu": torch.relu,
        "leaky_relu": lambda x: functional.leaky_relu(x, 0.01),
        "elu": functional.elu,
        "softplus": functional.softplus,
        "log_sigmoid": functional.logsigmoid,
    }


def _torch_contender(fn: Callable, x: jax.Array, cotangent: jax.Array, mode: str) -> Eager:
    import torch

    torch_dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16}[str(x.dtype)]
    # numpy has no bfloat16, so the data crosses over as float32 and is cast there.
    x_t = torch.from_numpy(np.asarray(x, np.float32)).to(torch_dtype)
    ct_t = torch.from_numpy(np.asarray(cotangent, np.float32)).to(torch_dtype)
    if mode == "forward":
        return Eager(lambda *_: fn(x_t))

    def forward_and_vjp(*_):
        leaf = x_t.detach().requires_grad_(True)
        y = fn(leaf)
        (grad,) = torch.autograd.grad(y, leaf, ct_t)
        return y, grad

    return Eager(forward_and_vjp)


def _forward_and_vjp(fn: Callable) -> Callable:
    def run(x, cotangent):
        y, pullback = jax.vjp(fn, x)
        return y, pullback(cotangent)[0]

    return run


def _floor(mode: str) -> Callable:
    if mode == "forward":
        return lambda x: x * FLOOR_SCALE
    # Same traffic as a vjp: read x and the cotangent, write y and the gradient.
    return lambda x, cotangent: (x * FLOOR_SCALE, cotangent * FLOOR_SCALE)


def _inputs(n: int, dtype) -> tuple[jax.Array, jax.Array]:
    key_x, key_ct = jax.random.split(jax.random.key(0))
    # Spread over [-8, 8] and beyond so that every branch of every function runs.
    x = (4 * jax.random.normal(key_x, (n,), jnp.float32)).astype(dtype)
    cotangent = jax.random.normal(key_ct, (n,), jnp.float32).astype(dtype)
    return x, cotangent


def time_elementwise(
    names: Sequence[str], n: int, reps: int, dtype=jnp.float32
) -> list[dict]:
    """Times each named jaxact function against its counterparts on ``n`` values.

    Modes: ``"forward"`` (y) and ``"forward+vjp"`` (y and the gradient for a
    random cotangent, as one jitted call). Contenders: ``"jaxact"``, the
    reference (``"jax.nn"``, or the naive formula for generalized_logistic),
    ``lax`` with ``accuracy=HIGHEST`` for sigmoid and tanh, ``"torch (CPU)"``
    (absent unless torch is importable) and the floor ``x * s``.

    Returns:
        One dict per (name, mode, contender) with keys name, mode, contender,
        median_s, min_s, max_s (None when absent), and also dtype, n, status
        (``"ok"`` or ``"absent (why)"``), reference (the label ratios are
        taken against), ratio_reference and ratio_floor (paired medians).
    """
    dtype = jnp.dtype(dtype)
    x, cotangent = _inputs(n, dtype)
    torch_fns = _torch_functions()
    rows = []
    for name in names:
        reference_label, reference_fn = _REFERENCES[name]
        for mode in ("forward", "forward+vjp"):
            wrap = (lambda f: f) if mode == "forward" else _forward_and_vjp
            args = (x,) if mode == "forward" else (x, cotangent)
            contenders: dict = {"jaxact": wrap(_jaxact_fn(name))}
            contenders[reference_label] = wrap(reference_fn)
            if name in _HIGHEST:
                contenders[_HIGHEST_LABEL] = wrap(_HIGHEST[name])
            absent: dict[str, str] = {}
            if isinstance(torch_fns, str):
                absent[_TORCH_LABEL] = torch_fns
            elif name not in torch_fns:
                absent[_TORCH_LABEL] = "no torch counterpart"
            else:
                contenders[_TORCH_LABEL] = _torch_contender(torch_fns[name], x, cotangent, mode)
            contenders[_FLOOR_LABEL] = _floor(mode)

            times = timeit_interleaved(contenders, reps, args=args)
            common = {"name": name, "mode": mode, "dtype": dtype.name, "n": n,
                      "reference": reference_label}
            for label, samples in times.items():
                rows.append({
                    **common, "contender": label, **_summary(samples), "status": "ok",
                    "ratio_reference": paired_ratio(samples, times[reference_label]),
                    "ratio_floor": paired_ratio(samples, times[_FLOOR_LABEL]),
                })
            for label, reason in absent.items():
                rows.append({**common, "contender": label, **_absent(reason),
                             "ratio_reference": None, "ratio_floor": None})
            ratio = paired_ratio(times["jaxact"], times[reference_label])
            _progress(f"{dtype.name} {name} {mode}: jaxact / {reference_label} = {ratio:.3f}")
    return rows


# One HLO instruction per line: "%name = shape opcode(operands), ...", where the
# shape of a tuple is parenthesised and may hold spaces.
_HLO_INSTRUCTION = re.compile(
    r"^\s*(?:ROOT\s+)?%?[\w.-]+\s*=\s*(?:\([^)]*\)|\S+)\s+([a-z][\w-]*)\(", re.M
)
# Opcodes that cost far more than an add on the CPU, and fusions (kernels).
PROFILED_OPCODES = ("exponential", "exponential-minus-one", "log", "log-plus-one", "divide",
                    "tanh", "logistic", "power", "reduce", "fusion")


def hlo_op_counts(fn: Callable, *args) -> dict[str, int]:
    """Opcode counts of the optimised HLO that ``jax.jit(fn)(*args)`` runs,
    plus ``"instructions"``, the total (fused computations included)."""
    return _count_opcodes(jax.jit(fn).lower(*args).compile().as_text())


def _count_opcodes(hlo_text: str) -> dict[str, int]:
    counts = Counter(_HLO_INSTRUCTION.findall(hlo_text))
    return {"instructions": sum(counts.values()),
            **{opcode: counts.get(opcode, 0) for opcode in PROFILED_OPCODES}}


def profile_elementwise(names: Sequence[str], n: int = 1 << 12) -> list[dict]:
    """HLO op counts of jaxact and its reference, float32, both modes. The
    counts do not depend on n, so a small array keeps compiling cheap."""
    x, cotangent = _inputs(n, jnp.float32)
    rows = []
    for name in names:
        reference_label, reference_fn = _REFERENCES[name]
        for label, fn in (("jaxact", _jaxact_fn(name)), (reference_label, reference_fn)):
            rows.append({"name": name, "mode": "forward", "contender": label,
                         **hlo_op_counts(fn, x)})
            rows.append({"name": name, "mode": "forward+vjp", "contender": label,
                         **hlo_op_counts(_forward_and_vjp(fn), x, cotangent)})
    return rows


# --------------------------------------------------------------------------
# scaling with size


def time_scaling(names: Sequence[str], sizes: Sequence[int], reps: int) -> list[dict]:
    """Forward time per element of jaxact and jax.nn for each size (float32)."""
    rows = []
    for n in sizes:
        x, _ = _inputs(n, jnp.float32)
        contenders = {}
        for name in names:
            contenders[(name, "jaxact")] = _jaxact_fn(name)
            contenders[(name, "jax.nn")] = _REFERENCES[name][1]
        # ~2^22 elements per sample keeps each sample well above the clock's
        # resolution and the per-call overhead visible at small sizes.
        number = max(1, (1 << 22) // n)
        faults_before = _minor_page_faults()
        times = timeit_interleaved(
            {f"{name}|{label}": fn for (name, label), fn in contenders.items()},
            reps, args=(x,), number=number,
        )
        calls = len(contenders) * (1 + reps * number)
        faults = (_minor_page_faults() - faults_before) / calls
        for key, samples in times.items():
            name, label = key.split("|")
            summary = _summary(samples)
            rows.append({"name": name, "contender": label, "n": n, "number": number, **summary,
                         "ns_per_element": summary["median_s"] / n * 1e9,
                         "page_faults_per_call": faults})
        _progress(f"scaling n=2^{n.bit_length() - 1}")
    return rows


def _minor_page_faults() -> int:
    """Minor page faults of this process so far (0 where the OS does not say).

    Large outputs may be fresh memory on every call, which the kernel supplies
    page by page; this counts that cost, which no contender can avoid."""
    try:
        import resource
    except ImportError:
        return 0
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def plot_scaling(rows: list[dict], machine: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    styles = {"jaxact": "-", "jax.nn": "--"}
    for name in sorted({r["name"] for r in rows}):
        for label, style in styles.items():
            points = sorted((r["n"], r["ns_per_element"]) for r in rows
                            if r["name"] == name and r["contender"] == label)
            ax.plot(*zip(*points, strict=True), style, marker="o", label=f"{name} ({label})")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("elements (float32)")
    ax.set_ylabel("ns per element (forward, jit, median)")
    ax.set_title(f"Time per element against size\n{machine}", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    save_figure(fig, path)


# --------------------------------------------------------------------------
# PReLU and Maxout


def _parametric_missing() -> str | None:
    missing = [n for n in ("prelu", "PReLU", "maxout", "Maxout") if not hasattr(jaxact, n)]
    return f"jaxact.{', jaxact.'.join(missing)} not importable" if missing else None


def time_prelu(n: int, num_channels: int, reps: int) -> list[dict]:
    """Channel-wise prelu against leaky_relu on ``n`` float32 values, channels last.

    forward+vjp differentiates prelu with respect to the input and the slopes
    (the slopes are what training needs) and leaky_relu with respect to the
    input only, so the ratio includes the extra reduction over the batch.
    """
    x, cotangent = _inputs(n, jnp.float32)
    x = x.reshape(-1, num_channels)
    cotangent = cotangent.reshape(-1, num_channels)
    slopes = jnp.full((num_channels,), 0.25, jnp.float32)

    def prelu_vjp(x, slopes, cotangent):
        y, pullback = jax.vjp(lambda x, s: jaxact.prelu(x, s, channel_axis=-1), x, slopes)
        return y, pullback(cotangent)

    def leaky_vjp(fn):
        return lambda x, slopes, cotangent: _forward_and_vjp(lambda v: fn(v, 0.25))(x, cotangent)

    modes = {
        "forward": {
            "jaxact.prelu": lambda x, s, c: jaxact.prelu(x, s, channel_axis=-1),
            "jax.nn.leaky_relu": lambda x, s, c: jax.nn.leaky_relu(x, 0.25),
            "jaxact.leaky_relu": lambda x, s, c: jaxact.leaky_relu(x, 0.25),
            _FLOOR_LABEL: lambda x, s, c: x * FLOOR_SCALE,
        },
        "forward+vjp": {
            "jaxact.prelu": prelu_vjp,
            "jax.nn.leaky_relu": leaky_vjp(jax.nn.leaky_relu),
            "jaxact.leaky_relu": leaky_vjp(jaxact.leaky_relu),
            _FLOOR_LABEL: lambda x, s, c: (x * FLOOR_SCALE, c * FLOOR_SCALE),
        },
    }
    rows = []
    args = (x, slopes, cotangent)
    for mode, contenders in modes.items():
        times = timeit_interleaved(contenders, reps, args=args)
        for label, samples in times.items():
            rows.append({"group": "prelu", "mode": mode, "contender": label, "n": n,
                         **_summary(samples), "status": "ok",
                         "reference": "jax.nn.leaky_relu",
                         "ratio_reference": paired_ratio(samples, times["jax.nn.leaky_relu"]),
                         "hlo": hlo_op_counts(contenders[label], *args)})
    _progress("prelu")
    return rows


def time_maxout(batch: int, in_features: int, out_features: int, num_pieces: int,
                reps: int) -> list[dict]:
    """jaxact.Maxout against a Dense layer of width out_features * num_pieces
    and two hand-written maxouts, float32.

    forward+backward is one jitted call returning <layer(x), cotangent> and its
    gradients with respect to the parameters and the input. The value is
    returned so that the forward matmul is really done: the gradients of a
    Dense layer alone do not need it, and XLA would drop it from the floor.
    """
    width = out_features * num_pieces
    keys = jax.random.split(jax.random.key(1), 5)
    x = jax.random.normal(keys[0], (batch, in_features), jnp.float32)
    cotangent = jax.random.normal(keys[1], (batch, out_features), jnp.float32)
    wide_cotangent = jax.random.normal(keys[1], (batch, width), jnp.float32)
    scale = in_features**-0.5
    wide = (scale * jax.random.normal(keys[2], (in_features, width)), jnp.zeros((width,)))
    stacked = (scale * jax.random.normal(keys[3], (num_pieces, in_features, out_features)),
               jnp.zeros((num_pieces, out_features)))
    layer = jaxact.Maxout.init(keys[4], in_features, out_features, num_pieces)

    def dense(params, x):
        w, b = params
        return x @ w + b

    def reshape_max(params, x):
        return dense(params, x).reshape(batch, out_features, num_pieces).max(axis=-1)

    def separate_matmuls(params, x):
        w, b = params
        out = x @ w[0] + b[0]
        for piece in range(1, num_pieces):
            out = jnp.maximum(out, x @ w[piece] + b[piece])
        return out

    def call_layer(params, x):
        return params(x)

    contenders = {
        "jaxact.Maxout": (call_layer, layer, cotangent),
        "Dense floor": (dense, wide, wide_cotangent),
        "matmul+reshape+max": (reshape_max, wide, cotangent),
        "separate matmuls": (separate_matmuls, stacked, cotangent),
    }

    def forward(apply):
        return lambda params, x, ct: apply(params, x)

    def forward_backward(apply):
        def run(params, x, ct):
            return jax.value_and_grad(lambda p, v: jnp.vdot(apply(p, v), ct),
                                      argnums=(0, 1))(params, x)

        return run

    rows = []
    for mode, wrap in (("forward", forward), ("forward+backward", forward_backward)):
        specs = {label: (wrap(apply), (params, x, ct))
                 for label, (apply, params, ct) in contenders.items()}
        times = timeit_interleaved(specs, reps)
        for label, samples in times.items():
            rows.append({"group": "maxout", "mode": mode, "contender": label,
                         "shape": f"batch {batch}, {in_features}->{out_features}, "
                                  f"{num_pieces} pieces",
                         **_summary(samples), "status": "ok", "reference": "Dense floor",
                         "ratio_reference": paired_ratio(samples, times["Dense floor"]),
                         "hlo": hlo_op_counts(specs[label][0], *specs[label][1])})
    _progress("maxout")
    return rows


# --------------------------------------------------------------------------
# MLP training step


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
        reference_label, reference_fn = _REFERENCES[name]
        activations = {"jaxact": _jaxact_fn(name), reference_label: reference_fn}

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
                "depth": depth, "width": width, "batch": batch, **_summary(samples),
                "ratio_reference": paired_ratio(samples, times[reference_label]),
                "compile_median_s": statistics.median(compile_times[label]),
                "lower_median_s": statistics.median(lower_times[label]),
                "compile_ratio": paired_ratio(compile_times[label],
                                              compile_times[reference_label]),
                "temp_bytes": temp_bytes[label],
                "temp_ratio": temp_bytes[label] / temp_bytes[reference_label],
                "hlo": opcodes[label],
            })
        _progress(f"mlp {name}")
    return rows


# --------------------------------------------------------------------------
# targets, report


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict:
    try:
        import torch

        torch_version = torch.__version__
    except ImportError:
        torch_version = "not importable"
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "jax": jax.__version__,
        "jaxlib": jaxlib.__version__,
        "backend": jax.default_backend(),
        "device": str(jax.devices()[0].device_kind),
        "torch": torch_version,
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
    }


def machine_line(machine: dict) -> str:
    return (f"{machine['cpu']}, {machine['cores']} cores, jax {machine['jax']} / "
            f"jaxlib {machine['jaxlib']} ({machine['backend']})")


def check_targets(results: dict) -> list[dict]:
    """One row per target: what was measured, the limit, and whether it passed."""
    targets = []

    def add(target, measured, limit):
        # passed is None when the contender could not be measured at all.
        passed = None if measured is None else measured <= limit
        targets.append({"target": target, "measured": measured, "limit": limit,
                        "passed": passed})

    for row in results["elementwise"]:
        if row["contender"] == "jaxact":
            add(f"{row['name']} {row['mode']} {row['dtype']} vs {row['reference']}",
                row["ratio_reference"], ELEMENTWISE_LIMIT)
    if results["parametric_absent"]:
        add("prelu forward+vjp vs jax.nn.leaky_relu", None, PARAMETRIC_LIMIT)
        add("Maxout forward+backward vs Dense floor", None, PARAMETRIC_LIMIT)
    for row in results["parametric"]:
        if row["contender"] == "jaxact.prelu" and row["mode"] == "forward+vjp":
            add("prelu forward+vjp vs jax.nn.leaky_relu", row["ratio_reference"],
                PARAMETRIC_LIMIT)
        if row["contender"] == "jaxact.Maxout" and row["mode"] == "forward+backward":
            add("Maxout forward+backward vs Dense floor", row["ratio_reference"],
                PARAMETRIC_LIMIT)
    for row in results["mlp"]:
        if row["contender"] == "jaxact":
            what = f"MLP step ({row['name']}) vs {row['reference']}"
            add(f"{what}: time", row["ratio_reference"], MLP_TIME_LIMIT)
            add(f"{what}: temp memory", row["temp_ratio"], MLP_MEMORY_LIMIT)
            add(f"{what}: compile time", row["compile_ratio"], MLP_COMPILE_LIMIT)
    return targets


def _hlo_summary(counts: dict) -> str:
    parts = [f"{counts['instructions']} instructions"]
    parts += [f"{counts[op]} {op}" for op in PROFILED_OPCODES if counts[op]]
    return ", ".join(parts)


def explain_misses(results: dict) -> list[str]:
    """One line per missed target, giving the profile figures that bear on it:
    HLO opcode counts for time and compile-time misses, the extra temporary
    memory in arrays of one layer's activations for memory misses."""
    notes = []
    profile = {(r["name"], r["mode"], r["contender"]): r for r in results["profile"]}
    for row in results["elementwise"]:
        if row["contender"] != "jaxact" or row["ratio_reference"] is None:
            continue
        if row["ratio_reference"] <= ELEMENTWISE_LIMIT:
            continue
        ours = profile.get((row["name"], row["mode"], "jaxact"))
        theirs = profile.get((row["name"], row["mode"], row["reference"]))
        if ours and theirs:
            notes.append(
                f"- {row['name']} {row['mode']} {row['dtype']}: x{row['ratio_reference']:.2f}. "
                f"Compiled HLO, jaxact: {_hlo_summary(ours)}; {row['reference']}: "
                f"{_hlo_summary(theirs)}."
            )
    parametric = {(r["group"], r["mode"], r["contender"]): r for r in results["parametric"]}
    targeted = {("prelu", "forward+vjp", "jaxact.prelu"),
                ("maxout", "forward+backward", "jaxact.Maxout")}
    for (group, mode, label), row in parametric.items():
        if (group, mode, label) not in targeted:
            continue
        if row["ratio_reference"] <= PARAMETRIC_LIMIT:
            continue
        reference = parametric[(group, mode, row["reference"])]
        notes.append(
            f"- {group} {mode}: x{row['ratio_reference']:.2f}. Compiled HLO, {label}: "
            f"{_hlo_summary(row['hlo'])}; {row['reference']}: {_hlo_summary(reference['hlo'])}."
        )
    by_key = {(r["name"], r["contender"]): r for r in results["mlp"]}
    for row in results["mlp"]:
        if row["contender"] != "jaxact":
            continue
        reference = by_key[(row["name"], row["reference"])]
        if row["temp_ratio"] > MLP_MEMORY_LIMIT:
            layer_bytes = row["batch"] * row["width"] * 4
            extra = (row["temp_bytes"] - reference["temp_bytes"]) / layer_bytes
            notes.append(
                f"- MLP ({row['name']}) temp memory: {row['temp_bytes'] / 2**20:.1f} MiB vs "
                f"{reference['temp_bytes'] / 2**20:.1f} MiB, i.e. {extra:.1f} more arrays of "
                f"one layer's activations (batch x width float32) kept for the backward pass "
                f"across {row['depth'] - 1} activation layers."
            )
        if row["compile_ratio"] > MLP_COMPILE_LIMIT or row["ratio_reference"] > MLP_TIME_LIMIT:
            notes.append(
                f"- MLP ({row['name']}) step x{row['ratio_reference']:.2f}, compile "
                f"x{row['compile_ratio']:.2f}; of the median compile, trace + lower took "
                f"{row['lower_median_s']:.3f} s of {row['compile_median_s']:.3f} s vs "
                f"{reference['lower_median_s']:.3f} s of {reference['compile_median_s']:.3f} s. "
                f"Compiled step HLO, jaxact: "
                f"{_hlo_summary(row['hlo'])}; {row['reference']}: "
                f"{_hlo_summary(reference['hlo'])}."
            )
    return notes


def scaling_notes(rows: list[dict]) -> list[str]:
    """What the scaling run says about the per-call cost that is not the function's."""
    if not rows:
        return []
    sizes = sorted({r["n"] for r in rows})
    faults = {r["n"]: r["page_faults_per_call"] for r in rows}
    floor = {r["n"]: r["ns_per_element"] for r in rows
             if (r["name"], r["contender"]) == ("relu", "jax.nn")}
    cheapest = min(floor, key=floor.get)
    text = (
        "Read from the table above: the cost per element is lowest at "
        f"n = 2^{cheapest.bit_length() - 1} ({floor[cheapest]:.3f} ns for jax.nn relu); below "
        "that the per-call overhead dominates. Minor page faults per call: "
        f"{faults[cheapest]:.0f} at 2^{cheapest.bit_length() - 1}, "
        f"{faults[sizes[-1]]:.0f} at 2^{sizes[-1].bit_length() - 1}."
    )
    if faults[sizes[-1]] > 10 * max(faults[cheapest], 1):
        text += (
            " At the large sizes the output is fresh memory that the kernel supplies page by "
            "page, a cost every contender pays alike, so ratios measured there (the 2^24 "
            "tables included) are pulled towards 1."
        )
    lines = [text, "", "jaxact / jax.nn at each size (ratio of the medians):", ""]
    by_key = {(r["name"], r["contender"], r["n"]): r["ns_per_element"] for r in rows}
    for name in sorted({r["name"] for r in rows}):
        ratios = ", ".join(
            f"2^{n.bit_length() - 1}: "
            f"{by_key[(name, 'jaxact', n)] / by_key[(name, 'jax.nn', n)]:.2f}"
            for n in sizes
        )
        lines.append(f"- {name} jaxact / jax.nn: {ratios}")
    return lines + [""]


def _ms(seconds) -> str:
    return "—" if seconds is None else f"{seconds * 1e3:.3f}"


def _ratio(value) -> str:
    return "—" if value is None else f"{value:.3f}"


def _table(header: Sequence[str], rows: list[Sequence]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def render_markdown(results: dict) -> str:
    machine, config = results["machine"], results["config"]
    targets = results["targets"]
    met = sum(t["passed"] is True for t in targets)
    out = [
        "# jaxact benchmarks",
        "",
        f"Machine: {machine_line(machine)}. Python {machine['python']}, "
        f"{machine['platform']}; torch: {machine['torch']}. Run {machine['date']}, "
        f"{'QUICK smoke run (sizes too small to mean anything)' if config['quick'] else 'full run'}"
        f" in {results['wall_s']:.0f} s.",
        "",
        "GPU: not measured in this session (no GPU machine was available).",
        "",
        "Method: every contender jitted, warmed up, then run interleaved with the others rep "
        f"by rep ({config['reps']} reps; MLP {config['mlp_reps']}); times are median "
        "(min–max) per call. A ratio is the median over reps of the per-rep ratio of the two "
        "contenders, which cancels load shared by both. The floor is a jitted `x * s` on the "
        "same array (forward+vjp: `(x * s, cotangent * s)`, the same traffic as a vjp). "
        "generalized_logistic (alpha = 2) has no jax.nn counterpart and is compared with the "
        "naive `(1 + exp(-x)) ** -alpha`. The machine was shared with other jobs, so single "
        "times are noisy; the paired ratios much less so.",
        "",
        f"## Targets: {met} of {len(targets)} met",
        "",
    ]
    out += _table(["target", "measured", "limit", "result"],
                  [[t["target"], _ratio(t["measured"]), f"≤ {t['limit']:.2f}",
                    {True: "pass", False: "**FAIL**", None: "not measured"}[t["passed"]]]
                   for t in targets])

    for dtype in sorted({r["dtype"] for r in results["elementwise"]}, reverse=True):
        n = next(r["n"] for r in results["elementwise"] if r["dtype"] == dtype)
        out += ["", f"## Elementwise, {dtype}, n = 2^{n.bit_length() - 1}", ""]
        out += _table(
            ["function", "mode", "contender", "median ms", "min–max ms", "× reference",
             "× floor"],
            [[r["name"], r["mode"], r["contender"],
              _ms(r["median_s"]) if r["status"] == "ok" else r["status"],
              "—" if r["median_s"] is None else f"{_ms(r['min_s'])}–{_ms(r['max_s'])}",
              _ratio(r["ratio_reference"]), _ratio(r["ratio_floor"])]
             for r in results["elementwise"] if r["dtype"] == dtype],
        )

    out += ["", "## PReLU (channel-wise) and Maxout, float32", ""]
    if results["parametric_absent"]:
        out.append(f"absent ({results['parametric_absent']})")
    else:
        out += _table(
            ["what", "mode", "contender", "median ms", "min–max ms", "× reference"],
            [[r["group"] + (f" ({r['shape']})" if "shape" in r else f" (n = {r['n']})"),
              r["mode"], r["contender"], _ms(r["median_s"]),
              f"{_ms(r['min_s'])}–{_ms(r['max_s'])}",
              f"{_ratio(r['ratio_reference'])} ({r['reference']})"]
             for r in results["parametric"]],
        )

    if results["mlp"]:
        first = results["mlp"][0]
        out += ["", f"## MLP SGD step: {first['depth']} layers, width {first['width']}, "
                    f"batch {first['batch']}, float32", ""]
        out += _table(
            ["activation", "contender", "step ms", "min–max ms", "× reference",
             "compile s", "× reference", "temp MiB", "× reference"],
            [[r["name"], r["contender"], _ms(r["median_s"]),
              f"{_ms(r['min_s'])}–{_ms(r['max_s'])}", _ratio(r["ratio_reference"]),
              f"{r['compile_median_s']:.3f}", _ratio(r["compile_ratio"]),
              f"{r['temp_bytes'] / 2**20:.1f}", _ratio(r["temp_ratio"])]
             for r in results["mlp"]],
        )

    out += ["", "## Scaling (forward, float32): ns per element", ""]
    sizes = sorted({r["n"] for r in results["scaling"]})
    series = sorted({(r["name"], r["contender"]) for r in results["scaling"]})
    lookup = {(r["name"], r["contender"], r["n"]): r["ns_per_element"]
              for r in results["scaling"]}
    out += _table(["n"] + [f"{name} ({label})" for name, label in series],
                  [[f"2^{n.bit_length() - 1}"] + [f"{lookup[(*s, n)]:.3f}" for s in series]
                   for n in sizes])
    out += ["", "![time per element against size](bench_scaling.png)", ""]
    out += scaling_notes(results["scaling"])
    out += ["## Profile: opcode counts in the compiled HLO (float32)", "",
            "From `jax.jit(f).lower(x).compile().as_text()`; fused computations included.", ""]
    out += _table(["function", "mode", "contender", "instructions", *PROFILED_OPCODES],
                  [[r["name"], r["mode"], r["contender"], r["instructions"],
                    *(r[opcode] for opcode in PROFILED_OPCODES)] for r in results["profile"]])
    out.append("")
    misses = explain_misses(results)
    if misses:
        out += ["## Profile of each missed target", "", *misses, ""]
    return "\n".join(out)


def _progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# command line


def _config(quick: bool) -> dict:
    if quick:
        return {"quick": True, "n": 1 << 12, "reps": 2, "dtypes": ["float32", "bfloat16"],
                "scaling_sizes": [1 << 10, 1 << 12, 1 << 14], "scaling_reps": 2,
                "prelu_channels": 16, "maxout": (64, 32, 32, 4),
                "mlp": {"depth": 3, "width": 64, "batch": 16}, "mlp_reps": 2,
                "compile_reps": 1}
    return {"quick": False, "n": 1 << 24, "reps": 10, "dtypes": ["float32", "bfloat16"],
            "scaling_sizes": [1 << k for k in range(10, 27, 2)], "scaling_reps": 10,
            "prelu_channels": 64, "maxout": (2048, 512, 512, 4),
            "mlp": {"depth": 20, "width": 1024, "batch": 512}, "mlp_reps": 10,
            "compile_reps": 5}


def run(quick: bool = False) -> dict:
    """Runs every benchmark and returns the results (what bench.json holds)."""
    start = time.perf_counter()
    config = _config(quick)
    machine = machine_info()
    _progress(machine_line(machine))
    results: dict = {"machine": machine, "config": config}

    results["elementwise"] = [
        row for dtype in config["dtypes"]
        for row in time_elementwise(ELEMENTWISE, config["n"], config["reps"], dtype)
    ]
    results["parametric_absent"] = _parametric_missing()
    results["parametric"] = [] if results["parametric_absent"] else (
        time_prelu(config["n"], config["prelu_channels"], config["reps"])
        + time_maxout(*config["maxout"], config["reps"])
    )
    results["mlp"] = time_mlp(ELEMENTWISE, **config["mlp"], reps=config["mlp_reps"],
                              compile_reps=config["compile_reps"])
    results["scaling"] = time_scaling(("sigmoid", "relu"), config["scaling_sizes"],
                                      config["scaling_reps"])
    results["profile"] = profile_elementwise(ELEMENTWISE)
    results["targets"] = check_targets(results)
    results["wall_s"] = time.perf_counter() - start
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments.bench", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="small sizes and 2 reps: a smoke test of the harness")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    results = run(quick=args.quick)
    markdown = render_markdown(results)
    plot_scaling(results["scaling"], machine_line(results["machine"]),
                 args.out / "bench_scaling.png")
    write_text(args.out / "bench.json", json.dumps(results, indent=1) + "\n")
    write_text(args.out / "bench.md", markdown)
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
