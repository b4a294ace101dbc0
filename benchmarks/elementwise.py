"""The elementwise suites: one registry of functions, timed against their counterparts.

:data:`ELEMENTWISE` names every elementwise function the bench measures, with
what a user would call without jaxact. Every elementwise suite (timing at one
size, the scaling table, the HLO profile, the MLP step) takes its names from it,
so a new function is measured everywhere by adding one line there.
"""

from __future__ import annotations

import cProfile
import pstats
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import jax
import jax.numpy as jnp
from jax import lax

import jaxact
from benchmarks.hlo import hlo_op_counts, xla_cost
from harness.timing import Eager, paired_ratio, summary, timeit_interleaved, xla_isa_cap

# alpha = 1 would take jaxact's sigmoid shortcut; 2 exercises the general path.
GENERALIZED_LOGISTIC_ALPHA = 2.0
# A multiply by a constant reads and writes each element once and does no other
# work: no elementwise function can be cheaper, so it is the bandwidth floor.
FLOOR_SCALE = 1.5
FLOOR_LABEL = "floor x*s"
HIGHEST_LABEL = "lax accuracy=HIGHEST"


@dataclass(frozen=True)
class Function:
    """One elementwise function: jaxact's and the counterpart it is compared with."""

    jaxact: Callable
    reference: Callable
    reference_label: str = "jax.nn"
    # lax's own accurate version, where there is one.
    highest: Callable | None = None


def _naive_generalized_logistic(x):
    return (1 + jnp.exp(-x)) ** -GENERALIZED_LOGISTIC_ALPHA


def _highest(op: Callable) -> Callable:
    return lambda x: op(x, accuracy=lax.AccuracyMode.HIGHEST)


# name -> Function. generalized_logistic has no jax.nn counterpart; the
# textbook formula stands in.
ELEMENTWISE: dict[str, Function] = {
    "sigmoid": Function(jaxact.sigmoid, jax.nn.sigmoid, highest=_highest(lax.logistic)),
    "generalized_logistic": Function(
        lambda x: jaxact.generalized_logistic(x, GENERALIZED_LOGISTIC_ALPHA),
        _naive_generalized_logistic, "naive (1+exp(-x))**-alpha"),
    "tanh": Function(jaxact.tanh, jax.nn.tanh, highest=_highest(lax.tanh)),
    "relu": Function(jaxact.relu, jax.nn.relu),
    "leaky_relu": Function(jaxact.leaky_relu, jax.nn.leaky_relu),
    "elu": Function(jaxact.elu, jax.nn.elu),
    "softplus": Function(jaxact.softplus, jax.nn.softplus),
    "log_sigmoid": Function(jaxact.log_sigmoid, jax.nn.log_sigmoid),
    # issue 10 (swish and hard_swish are aliases; glu is not elementwise)
    "silu": Function(jaxact.silu, jax.nn.silu),
    "mish": Function(jaxact.mish, jax.nn.mish),
    "log1mexp": Function(jaxact.log1mexp, jax.nn.log1mexp),
    "soft_sign": Function(jaxact.soft_sign, jax.nn.soft_sign),
    "squareplus": Function(jaxact.squareplus, jax.nn.squareplus),
    "gelu": Function(jaxact.gelu, jax.nn.gelu),
    "gelu_exact": Function(lambda x: jaxact.gelu(x, approximate=False),
                           lambda x: jax.nn.gelu(x, approximate=False)),
    "relu6": Function(jaxact.relu6, jax.nn.relu6),
    "selu": Function(jaxact.selu, jax.nn.selu),
    "celu": Function(jaxact.celu, jax.nn.celu),
    "hard_sigmoid": Function(jaxact.hard_sigmoid, jax.nn.hard_sigmoid),
    "hard_silu": Function(jaxact.hard_silu, jax.nn.hard_silu),
    "hard_tanh": Function(jaxact.hard_tanh, jax.nn.hard_tanh),
    "sparse_plus": Function(jaxact.sparse_plus, jax.nn.sparse_plus),
    "sparse_sigmoid": Function(jaxact.sparse_sigmoid, jax.nn.sparse_sigmoid),
}


_STARTED = time.perf_counter()


def progress(message: str) -> None:
    """A line on stderr, with the seconds since the bench was imported, and the
    ISA cap and float64 mode of this process where they are set (the bench
    runs those passes in processes of their own).

    Written through tqdm, which prints it above the progress bar, not into it.
    Imported here, not with the module: the device check imports this module
    on GPU machines that have jax and numpy but no tqdm.
    """
    from tqdm.auto import tqdm

    cap = xla_isa_cap()
    mode = (f" {cap}" if cap else "") + (" x64" if jax.config.jax_enable_x64 else "")
    tqdm.write(f"[bench{mode} {time.perf_counter() - _STARTED:6.1f} s] {message}",
               file=sys.stderr)


def forward_and_vjp(fn: Callable) -> Callable:
    """(x, cotangent) -> (fn(x), the vjp of fn at x for the cotangent)."""

    def run(x, cotangent):
        y, pullback = jax.vjp(fn, x)
        return y, pullback(cotangent)[0]

    return run


def _floor(mode: str) -> Callable:
    if mode == "forward":
        return lambda x: x * FLOOR_SCALE
    # Same traffic as a vjp: read x and the cotangent, write y and the gradient.
    return lambda x, cotangent: (x * FLOOR_SCALE, cotangent * FLOOR_SCALE)


def inputs(n: int, dtype=jnp.float32) -> tuple[jax.Array, jax.Array]:
    """n values spread over [-8, 8] and beyond, and a cotangent, of ``dtype``."""
    key_x, key_ct = jax.random.split(jax.random.key(0))
    # Wide enough that every branch of every function runs.
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
    ``lax`` with ``accuracy=HIGHEST`` for sigmoid and tanh, and the floor ``x * s``.

    Returns:
        One dict per (name, mode, contender) with keys name, mode, contender,
        median_s, min_s, max_s, dtype, n, reference (the label ratios are
        taken against), ratio_reference and ratio_floor (paired medians).
    """
    dtype = jnp.dtype(dtype)
    x, cotangent = inputs(n, dtype)
    rows = []
    for name in names:
        function = ELEMENTWISE[name]
        reference_label = function.reference_label
        for mode in ("forward", "forward+vjp"):
            wrap = (lambda f: f) if mode == "forward" else forward_and_vjp
            args = (x,) if mode == "forward" else (x, cotangent)
            contenders: dict = {"jaxact": wrap(function.jaxact),
                                reference_label: wrap(function.reference)}
            if function.highest is not None:
                contenders[HIGHEST_LABEL] = wrap(function.highest)
            contenders[FLOOR_LABEL] = _floor(mode)

            times = timeit_interleaved(contenders, reps, args=args)
            common = {"name": name, "mode": mode, "dtype": dtype.name, "n": n,
                      "reference": reference_label}
            for label, samples in times.items():
                rows.append({
                    **common, "contender": label, **summary(samples),
                    "ratio_reference": paired_ratio(samples, times[reference_label]),
                    "ratio_floor": paired_ratio(samples, times[FLOOR_LABEL]),
                })
            ratio = paired_ratio(times["jaxact"], times[reference_label])
            progress(f"{dtype.name} {name} {mode}: jaxact / {reference_label} = {ratio:.3f}")
    return rows


def _eager_grad(fn: Callable) -> Callable:
    # What a user writes outside jit: the gradient of a sum, traced on every call.
    return jax.grad(lambda x: jnp.sum(fn(x)))


def python_calls(fn: Callable, *args) -> int:
    """Python function calls made by one call of ``fn`` (already warmed up).

    A jitted function called eagerly takes jax's C++ fast path and makes none;
    each call counted here is dispatch work done in Python instead."""
    profile = cProfile.Profile()
    profile.enable()
    jax.block_until_ready(fn(*args))
    profile.disable()
    return pstats.Stats(profile).total_calls


def time_eager(names: Sequence[str], n: int, reps: int, number: int) -> list[dict]:
    """Per-call time of un-jitted (eager) calls on ``n`` float32 values.

    Modes ``"forward"`` (``f(x)``) and ``"grad"`` (``jax.grad`` of ``sum(f(x))``),
    each called as is, ``number`` calls per sample: the dispatch and tracing
    overhead a user pays outside ``jax.jit``, which dominates at small ``n``.
    Rows as :func:`time_elementwise`'s, without the floor, plus
    ``python_calls`` (:func:`python_calls`), the profile of a slow eager call.
    """
    x, _ = inputs(n, jnp.float32)
    rows = []
    for name in names:
        function = ELEMENTWISE[name]
        reference_label = function.reference_label
        for mode in ("forward", "grad"):
            wrap = (lambda f: f) if mode == "forward" else _eager_grad
            contenders = {"jaxact": Eager(wrap(function.jaxact)),
                          reference_label: Eager(wrap(function.reference))}
            times = timeit_interleaved(contenders, reps, args=(x,), number=number)
            for label, samples in times.items():
                rows.append({
                    "name": name, "mode": mode, "dtype": "float32", "n": n,
                    "contender": label, "reference": reference_label, **summary(samples),
                    "ratio_reference": paired_ratio(samples, times[reference_label]),
                    "python_calls": python_calls(contenders[label].fn, x),
                    # A forward call is one executable: whether it runs on the
                    # calling thread depends on its flop count (see hlo.py).
                    **({"xla": xla_cost(contenders[label].fn, x)} if mode == "forward" else {}),
                })
            ratio = paired_ratio(times["jaxact"], times[reference_label])
            progress(f"eager {name} {mode}: jaxact / {reference_label} = {ratio:.2f}")
    return rows


def profile_elementwise(names: Sequence[str], dtype=jnp.float32, n: int = 1 << 12
                        ) -> list[dict]:
    """HLO op counts of jaxact and its reference in ``dtype``, both modes. The
    counts do not depend on n, so a small array keeps compiling cheap."""
    dtype = jnp.dtype(dtype)
    x, cotangent = inputs(n, dtype)
    rows = []
    for name in names:
        function = ELEMENTWISE[name]
        for label, fn in (("jaxact", function.jaxact),
                          (function.reference_label, function.reference)):
            common = {"name": name, "dtype": dtype.name, "contender": label}
            rows.append({**common, "mode": "forward", **hlo_op_counts(fn, x)})
            rows.append({**common, "mode": "forward+vjp",
                         **hlo_op_counts(forward_and_vjp(fn), x, cotangent)})
    return rows


def time_in_cache(names: Sequence[str], sizes: Sequence[int], reps: int) -> list[dict]:
    """Forward and forward+vjp of jaxact and its reference on float32 arrays small
    enough to stay in cache, where the arithmetic, not memory traffic, decides.

    Each sample runs about 2^22 elements (calls back to back, awaited once),
    as in :func:`time_scaling`. Rows as :func:`time_elementwise`'s, without
    the floor, plus ``number`` (calls per sample) and ``ns_per_element``.
    """
    rows = []
    for n in sizes:
        x, cotangent = inputs(n, jnp.float32)
        number = max(1, (1 << 22) // n)
        for name in names:
            function = ELEMENTWISE[name]
            reference_label = function.reference_label
            for mode in ("forward", "forward+vjp"):
                wrap = (lambda f: f) if mode == "forward" else forward_and_vjp
                args = (x,) if mode == "forward" else (x, cotangent)
                times = timeit_interleaved({"jaxact": wrap(function.jaxact),
                                            reference_label: wrap(function.reference)},
                                           reps, args=args, number=number)
                for label, samples in times.items():
                    stats = summary(samples)
                    rows.append({"name": name, "mode": mode, "dtype": "float32", "n": n,
                                 "number": number, "contender": label,
                                 "reference": reference_label, **stats,
                                 "ratio_reference": paired_ratio(samples,
                                                                 times[reference_label]),
                                 "ns_per_element": stats["median_s"] / n * 1e9})
        progress(f"in cache n=2^{n.bit_length() - 1}")
    return rows


def time_scaling(names: Sequence[str], sizes: Sequence[int], reps: int) -> list[dict]:
    """Forward time per element of jaxact and its reference at each size (float32).

    Each function's two contenders run interleaved in a timing loop of their
    own, so the two samples of a rep are taken back to back and the paired
    ``ratio_reference`` cancels as much of the shared load as it can.
    """
    rows = []
    for n in sizes:
        x, _ = inputs(n, jnp.float32)
        # ~2^22 elements per sample keeps each sample well above the clock's
        # resolution and the per-call overhead visible at small sizes.
        number = max(1, (1 << 22) // n)
        for name in names:
            function = ELEMENTWISE[name]
            contenders = {"jaxact": function.jaxact, function.reference_label: function.reference}
            faults_before = _minor_page_faults()
            times = timeit_interleaved(contenders, reps, args=(x,), number=number)
            faults = (_minor_page_faults() - faults_before) / (2 * (1 + reps * number))
            for label, samples in times.items():
                stats = summary(samples)
                rows.append({"name": name, "contender": label, "n": n, "number": number,
                             **stats, "reference": function.reference_label,
                             "ratio_reference": paired_ratio(
                                 samples, times[function.reference_label]),
                             "ns_per_element": stats["median_s"] / n * 1e9,
                             "page_faults_per_call": faults,
                             "xla": xla_cost(contenders[label], x)})
        progress(f"scaling n=2^{n.bit_length() - 1}")
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
