"""Float32 accuracy of jaxact, jax.nn and lax over all 2^32 bit patterns.

Run with ``python -m benchmarks.accuracy`` (``make accuracy``); ``--quick``
measures a 2^22-sample subset spread over the whole range instead. Writes
``benchmarks/results/accuracy.md`` and ``accuracy.json``. A subset (``--quick``,
``--stride``) or a partial run (``--functions``) writes to
``benchmarks/results-quick/`` (git-ignored; ``accuracy_quick.*`` for a subset)
unless ``--out`` says otherwise, so that only a full run replaces the committed
results. Every argument and the output are checked before any work (a problem
is one line on stderr, exit status 2), and one run at a time writes to an
output (a lock file beside it, ``.accuracy.lock`` for ``accuracy.*``).

Every float32 bit pattern is evaluated by each implementation (value and
derivative, one ``jax.jvp`` with a tangent of ones) and compared with the float64
references of ``harness/references.py``, the ones the tests use. Errors are in
ULPs of float32 at the reference: |got - ref| divided by the float32 spacing in
the reference's binade, the definition that ``tests/helpers.py`` uses.

The headline figures (max and 99.99th percentile) count every normal input
whose true result is a normal float32. Everything else is counted apart and
reported, not dropped: zero or subnormal inputs, results below the smallest
normal (where XLA's CPU flushes subnormals to zero), results beyond the float32
range, and NaN and infinite inputs (which must give the reference's NaN or
limit exactly).

A 99.99th percentile over 2^32 errors cannot be taken from the errors
themselves, which would need 16 GiB. Each error is binned by the top 16 bits of
its float32 pattern (sign, exponent and 7 mantissa bits), bins 1/128 of an
octave wide, so the percentile is known to within 0.8% and is reported as the
upper edge of its bin.
"""

from __future__ import annotations

import datetime
import functools
import math
import os
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

import jaxact
from harness import runs
from harness.files import write_json, write_text
from harness.references import (
    ref_celu,
    ref_elu,
    ref_gelu_erf,
    ref_gelu_tanh,
    ref_generalized_logistic,
    ref_hard_sigmoid,
    ref_hard_silu,
    ref_hard_tanh,
    ref_leaky_relu,
    ref_log1mexp,
    ref_log_sigmoid,
    ref_mish,
    ref_relu,
    ref_relu6,
    ref_selu,
    ref_sigmoid,
    ref_silu,
    ref_soft_sign,
    ref_softplus,
    ref_sparse_plus,
    ref_sparse_sigmoid,
    ref_squareplus,
    ref_tanh,
)
from harness.runs import RunError
from harness.timing import isa_info, machine_line

FLOAT32_TINY = float(np.finfo(np.float32).tiny)  # 2^-126, smallest normal
# Float64 values from here up round to inf in float32 (max + half its spacing).
FLOAT32_OVERFLOW = 2.0**128 - 2.0**103
FLOAT32_NMANT = 23

# Groups an input falls in, for one function: only MAIN enters the headline.
MAIN, SMALL_INPUT, TINY_RESULT, HUGE_RESULT, NAN_INPUT, INF_INPUT = range(6)
GROUP_NAMES = {
    MAIN: "normal input, normal result",
    SMALL_INPUT: "zero or subnormal input",
    TINY_RESULT: "result below 2^-126 (subnormal or 0)",
    HUGE_RESULT: "result rounds to ±inf",
    NAN_INPUT: "NaN input",
    INF_INPUT: "±inf input",
}
NUM_GROUPS = 6
# Histogram code: group (3 bits) | flag (1 bit) | top 15 bits of the error's
# float32 pattern (the sign bit is always 0). The flag marks a result flushed
# to zero (for the finite groups) or a mismatch with the reference's NaN or
# limit (for the special inputs).
ERROR_CODE_BITS = 15
NUM_CODES = NUM_GROUPS << (ERROR_CODE_BITS + 1)
INF_ERROR_CODE = int(np.array(np.inf, np.float32).view(np.uint32) >> 16)

GL_ALPHAS = (0.5, 2.0)
RESULTS = Path(__file__).resolve().parent / "results"
# Where a subset or a partial run writes unless --out says otherwise (git-ignored).
QUICK_RESULTS = Path(__file__).resolve().parent / "results-quick"
# The largest --chunk-bits: a chunk takes about 1 KiB per pattern, so 2^28
# patterns need some 256 GiB, beyond any machine this runs on.
MAX_CHUNK_BITS = 28


def _nan_in_nan_out(xp, x, value):
    # The reference of every quantity, derivatives included, is NaN at NaN.
    return xp.where(xp.isnan(x), xp.nan, value)


# --------------------------------------------------------------------------
# Implementations under test. Each maps float32 x to {quantity: float32 array}.


def _value_and_derivative(fn):
    def evaluate(x):
        value, derivative = jax.jvp(fn, (x,), (jnp.ones_like(x),))
        return {"f": value, "f'": derivative}

    return evaluate


def _with_alpha_derivative(fn, alpha):
    # fn(x, alpha) differentiated in x and, separately, in a traced alpha.
    def evaluate(x):
        out = _value_and_derivative(lambda x: fn(x, alpha))(x)
        alpha_array = jnp.asarray(alpha, jnp.float32)
        _, d_alpha = jax.jvp(lambda a: fn(x, a), (alpha_array,), (jnp.ones_like(alpha_array),))
        out["df/dalpha"] = d_alpha
        return out

    return evaluate


def naive_generalized_logistic(x, alpha):
    # The textbook form; what a user writes without jaxact.
    return (1 + jnp.exp(-x)) ** -alpha


def _highest(op):
    return lambda x: op(x, accuracy=lax.AccuracyMode.HIGHEST)


def functions():
    """(name, reference, {implementation label: evaluate}) for every function."""
    table = [
        ("sigmoid", ref_sigmoid, {
            "jaxact": _value_and_derivative(jaxact.sigmoid),
            "jax.nn": _value_and_derivative(jax.nn.sigmoid),
            "lax HIGHEST": _value_and_derivative(_highest(lax.logistic)),
        }),
        ("tanh", ref_tanh, {
            "jaxact": _value_and_derivative(jaxact.tanh),
            "jax.nn": _value_and_derivative(jnp.tanh),
            "lax HIGHEST": _value_and_derivative(_highest(lax.tanh)),
        }),
        ("elu", ref_elu, {
            "jaxact": _value_and_derivative(jaxact.elu),
            "jax.nn": _value_and_derivative(jax.nn.elu),
        }),
        ("softplus", ref_softplus, {
            "jaxact": _value_and_derivative(jaxact.softplus),
            "jax.nn": _value_and_derivative(jax.nn.softplus),
        }),
        ("log_sigmoid", ref_log_sigmoid, {
            "jaxact": _value_and_derivative(jaxact.log_sigmoid),
            "jax.nn": _value_and_derivative(jax.nn.log_sigmoid),
        }),
        ("relu", ref_relu, {
            "jaxact": _value_and_derivative(jaxact.relu),
            "jax.nn": _value_and_derivative(jax.nn.relu),
        }),
        ("leaky_relu", ref_leaky_relu, {
            "jaxact": _value_and_derivative(jaxact.leaky_relu),
            "jax.nn": _value_and_derivative(jax.nn.leaky_relu),
        }),
    ]
    # The activations of issue 10, each against its jax.nn namesake (swish and
    # hard_swish are aliases of silu and hard_silu, and glu is not elementwise).
    # celu's alpha is differentiated too: its reference has df/dalpha.
    table.append(("celu", ref_celu, {
        "jaxact": _with_alpha_derivative(jaxact.celu, 1.0),
        "jax.nn": _with_alpha_derivative(jax.nn.celu, 1.0),
    }))
    table.append(("gelu", ref_gelu_tanh, {
        "jaxact": _value_and_derivative(functools.partial(jaxact.gelu, approximate=True)),
        "jax.nn": _value_and_derivative(functools.partial(jax.nn.gelu, approximate=True)),
    }))
    table.append(("gelu_exact", ref_gelu_erf, {
        "jaxact": _value_and_derivative(functools.partial(jaxact.gelu, approximate=False)),
        "jax.nn": _value_and_derivative(functools.partial(jax.nn.gelu, approximate=False)),
    }))
    for name, reference in (
        ("silu", ref_silu),
        ("mish", ref_mish),
        ("log1mexp", ref_log1mexp),
        ("soft_sign", ref_soft_sign),
        ("squareplus", ref_squareplus),
        ("relu6", ref_relu6),
        ("selu", ref_selu),
        ("hard_sigmoid", ref_hard_sigmoid),
        ("hard_silu", ref_hard_silu),
        ("hard_tanh", ref_hard_tanh),
        ("sparse_plus", ref_sparse_plus),
        ("sparse_sigmoid", ref_sparse_sigmoid),
    ):
        table.append((name, reference, {
            "jaxact": _value_and_derivative(getattr(jaxact, name)),
            "jax.nn": _value_and_derivative(getattr(jax.nn, name)),
        }))
    for alpha in GL_ALPHAS:
        name = f"generalized_logistic alpha={alpha:g}"
        table.append((name, functools.partial(ref_generalized_logistic, alpha=alpha), {
            "jaxact": _with_alpha_derivative(jaxact.generalized_logistic, alpha),
            "naive": _with_alpha_derivative(naive_generalized_logistic, alpha),
        }))
    return table


# --------------------------------------------------------------------------
# Errors and their histogram codes, in XLA.


def float32_spacing(reference):
    """Spacing of float32 in the binade of a float64 reference, from its bits.

    Exact (no log2): the float64 exponent field minus 23 is the exponent of
    the float32 spacing. Floored at the subnormal spacing 2^-149.
    """
    bits = lax.bitcast_convert_type(reference, jnp.uint64)
    biased_exponent = (bits >> 52) & 0x7FF
    floored = jnp.maximum(biased_exponent, 1023 - 149 + FLOAT32_NMANT)
    return lax.bitcast_convert_type((floored - FLOAT32_NMANT) << 52, jnp.float64)


def input_groups(x):
    """The group of each input that depends on the input alone, else MAIN."""
    return jnp.select(
        [jnp.isnan(x), jnp.isinf(x), jnp.abs(x) < FLOAT32_TINY],
        [NAN_INPUT, INF_INPUT, SMALL_INPUT],
        MAIN,
    ).astype(jnp.uint32)


class ReferenceParts:
    """What the error of every implementation of one quantity shares.

    Computed once per quantity and chunk, so each implementation's error costs
    a handful of elementwise operations.
    """

    def __init__(self, x_group, reference):
        abs_ref = jnp.abs(reference)
        # A result beyond the float32 range must be the infinity it rounds to.
        reference = jnp.where(abs_ref >= FLOAT32_OVERFLOW, reference * jnp.inf, reference)
        self.reference = reference
        # Multiplying by a power of two is exact, unlike a division.
        self.inverse_spacing = 1 / float32_spacing(reference)
        self.group = jnp.where(
            x_group != MAIN,
            x_group,
            jnp.where(abs_ref < FLOAT32_TINY, TINY_RESULT,
                      jnp.where(abs_ref >= FLOAT32_OVERFLOW, HUGE_RESULT, MAIN)).astype(jnp.uint32),
        )
        self.group_code = self.group << (ERROR_CODE_BITS + 1)
        self.special = self.group >= HUGE_RESULT
        self.nonzero = reference != 0


WORST_GROUPS = (MAIN, SMALL_INPUT, TINY_RESULT)


def ulp_errors(parts: ReferenceParts, got):
    """Float32 ULP error of each element; NaN where exactly one side is NaN."""
    got64 = got.astype(jnp.float64)
    reference = parts.reference
    agree = (got64 == reference) | (jnp.isnan(got64) & jnp.isnan(reference))
    error = jnp.where(agree, 0.0, jnp.abs(got64 - reference) * parts.inverse_spacing)
    return error.astype(jnp.float32), agree, got64


def error_codes(parts: ReferenceParts, got):
    """Histogram code of each element.

    The code packs the group, a flag (flushed to zero, or for NaN and inf
    inputs a mismatch with the reference) and the top 15 bits of the error's
    float32 pattern: non-negative float32 patterns order as their values, and
    NaN codes sit just above inf.

    No reductions here: XLA fuses the whole error computation into each
    reduction that reads it, which tripled the run time. The largest error of
    a group is found exactly (with `errors_and_groups`) only for chunks whose
    top histogram bin may hold an error above the largest so far.
    """
    error, agree, got64 = ulp_errors(parts, got)
    flushed = (got64 == 0) & parts.nonzero
    # A limit such as leaky_relu'(-inf) = 0.01 has no float32 form: the right
    # answer for an infinite input is the reference rounded to float32.
    rounded = parts.reference.astype(jnp.float32).astype(jnp.float64)
    flag = jnp.where(parts.special, ~(agree | (got64 == rounded)), flushed).astype(jnp.uint32)
    error_bits = lax.bitcast_convert_type(error, jnp.uint32)
    return parts.group_code | (flag << ERROR_CODE_BITS) | (error_bits >> 16)


def errors_and_groups(parts: ReferenceParts, got):
    """Each element's error (NaN made inf) and group, for locating the worst on the host.

    numpy's masked argmax over these is cheaper than XLA's, which would fuse
    the whole error computation into every argmax again.
    """
    error, _, _ = ulp_errors(parts, got)
    return jnp.where(jnp.isnan(error), jnp.inf, error), parts.group.astype(jnp.uint8)


def sample_bits(chunk_index, chunk_size, stride):
    """The uint32 patterns of one chunk: every pattern, or one per block of ``stride``.

    With a stride, each block contributes one pattern at a pseudo-random
    offset, so a subset does not only see patterns with zero low bits.
    """
    position = chunk_index.astype(jnp.uint32) * jnp.uint32(chunk_size) + jnp.arange(
        chunk_size, dtype=jnp.uint32
    )
    if stride == 1:
        return position
    mixed = position * jnp.uint32(0x9E3779B1)
    mixed = mixed ^ (mixed >> 15)
    return position * jnp.uint32(stride) + (mixed & jnp.uint32(stride - 1))


def make_kernel(reference, implementations, chunk_size, stride, locate=False):
    """Jitted (chunk index -> per row results) for one function.

    Returns {(quantity, implementation): codes}, or with ``locate``
    {(quantity, implementation): (errors, groups), ("x", ""): inputs}.
    """

    @jax.jit
    def kernel(chunk_index):
        x = lax.bitcast_convert_type(sample_bits(chunk_index, chunk_size, stride), jnp.float32)
        x_group = input_groups(x)
        refs = reference(jnp, x.astype(jnp.float64))
        parts = {q: ReferenceParts(x_group, _nan_in_nan_out(jnp, x, r)) for q, r in refs.items()}
        out = {("x", ""): x} if locate else {}
        for label, evaluate in implementations.items():
            for quantity, got in evaluate(x).items():
                if locate:
                    out[(quantity, label)] = errors_and_groups(parts[quantity], got)
                else:
                    out[(quantity, label)] = error_codes(parts[quantity], got)
        return out

    return kernel


def reference_self_check(table, num_samples=1 << 20):
    """Largest difference, in float32 ULPs, between the XLA and numpy references.

    numpy's exp, expm1 and log1p are the platform libm's (correctly rounded or
    nearly so in float64); agreement far below one float32 ULP shows that
    XLA's float64 versions are good enough for a float32 reference.
    """
    rng = np.random.default_rng(0)
    bits = rng.integers(0, 2**32, num_samples, dtype=np.uint64).astype(np.uint32)
    worst = 0.0
    with np.errstate(all="ignore"):
        x = bits.view(np.float32).astype(np.float64)
        x = x[np.isfinite(x)]
        for _, reference, _ in table:
            from_numpy = reference(np, x)
            from_xla = jax.jit(lambda x, reference=reference: reference(jnp, x))(x)
            for quantity, expected in from_numpy.items():
                got = np.asarray(from_xla[quantity])
                spacing = np.asarray(float32_spacing(jnp.asarray(expected)))
                both = (got == expected) | (np.isnan(got) & np.isnan(expected))
                diff = np.where(both, 0.0, np.abs(got - expected) / spacing)
                worst = max(worst, float(np.nanmax(np.where(np.isnan(diff), np.inf, diff))))
    return worst


# --------------------------------------------------------------------------
# Accumulation and the report.


def decode_upper_edge(error_code: int) -> float:
    """Upper edge of an error bin: the next 16-bit prefix, as a float32."""
    if error_code >= INF_ERROR_CODE:
        return math.inf
    if error_code == 0:
        # Errors below 1e-40 ULP: exact results, reported as 0.
        return 0.0
    return float(np.array((error_code + 1) << 16, np.uint32).view(np.float32))


def percentile_from_histogram(counts: np.ndarray, fraction: float) -> float:
    total = int(counts.sum())
    if total == 0:
        return math.nan
    cumulative = np.cumsum(counts)
    # Smallest bin whose cumulative count reaches the fraction.
    index = int(np.searchsorted(cumulative, math.ceil(fraction * total)))
    return decode_upper_edge(index)


def summarise(histogram: np.ndarray, worst: dict) -> dict:
    by_group = histogram.reshape(NUM_GROUPS, 2, 1 << ERROR_CODE_BITS)
    summary = {}
    for group, name in GROUP_NAMES.items():
        counts = by_group[group]
        entry = {
            "description": name,
            "count": int(counts.sum()),
            # The flag bit: flushed to zero (finite groups) or wrong NaN/limit.
            "flagged": int(counts[1].sum()),
            "nonfinite_error": int(counts[:, INF_ERROR_CODE:].sum()),
        }
        if group in worst:
            entry["max_ulp"], entry["worst_x"] = worst[group][:2]
        if group == MAIN:
            percentile = percentile_from_histogram(counts.sum(axis=0), 0.9999)
            # The bin's upper edge can pass the exact maximum inside that bin.
            entry["p9999_ulp"] = min(percentile, entry.get("max_ulp", math.inf))
        summary[group] = entry
    return summary


def run(chunk_bits: int, stride: int, show_progress: bool = True,
        names: list[str] | None = None) -> dict:
    # The references are float64; the functions under test still see float32
    # arrays, and Python-number parameters stay weakly typed, so x64 does not
    # change what they compute. Scoped, so that importing this module (as the
    # tests do) leaves jax's configuration alone.
    with jax.enable_x64(True):
        return _run(chunk_bits, stride, show_progress, names)


def _run(chunk_bits: int, stride: int, show_progress: bool, names=None) -> dict:
    # A name selects a function and its parameter variants
    # ("generalized_logistic" both alphas).
    table = [entry for entry in functions()
             if names is None or entry[0].split()[0] in names]
    chunk_size = 1 << chunk_bits
    total = (1 << 32) // stride
    if total % chunk_size:
        raise ValueError(f"--chunk-bits {chunk_bits} does not divide 2^32 / stride = {total}")
    num_chunks = total // chunk_size

    # Compiled ahead of time, so that the time per chunk (and the estimate for
    # a full run made from a subset) does not include compilation.
    compile_start = time.perf_counter()
    example_index = jnp.asarray(0, jnp.uint32)
    disable = None if show_progress else True
    kernels, locators = [], []
    for _, reference, impls in runs.progress_bar(table, desc="compiling", unit="function",
                                                 disable=disable):
        kernels.append(
            make_kernel(reference, impls, chunk_size, stride).lower(example_index).compile())
        # Called only for chunks that hold a new worst error.
        locators.append(make_kernel(reference, impls, chunk_size, stride, locate=True)
                        .lower(example_index).compile())
    compile_seconds = time.perf_counter() - compile_start
    histograms = {}
    worst = {}
    start = time.perf_counter()

    def dispatch(chunk_index):
        index = jnp.asarray(chunk_index, jnp.uint32)
        return index, [kernel(index) for kernel in kernels]

    locate_calls = [0]
    locate_seconds = [0.0]

    def accumulate(index, outputs):
        for (name, _, _), out, locate in zip(table, outputs, locators, strict=True):
            located = None
            for (quantity, label), code in out.items():
                key = (name, quantity, label)
                counts = np.bincount(np.asarray(code), minlength=NUM_CODES)
                if key in histograms:
                    histograms[key] += counts
                else:
                    histograms[key] = counts
                best = worst.setdefault(key, {})
                by_group = counts.reshape(NUM_GROUPS, 2, 1 << ERROR_CODE_BITS).sum(axis=1)
                for group in WORST_GROUPS:
                    filled = np.flatnonzero(by_group[group])
                    if filled.size == 0:
                        continue
                    top_bin = int(filled[-1])
                    # Relocate only when the errors climb into a higher bin:
                    # within one bin, later chunks may hide an error up to 0.8%
                    # larger, but relocating every tie cost ~1 s in nearly every
                    # chunk of a full run.
                    if group in best and top_bin <= best[group][2]:
                        continue
                    if located is None:
                        locate_start = time.perf_counter()
                        located = jax.device_get(locate(index))
                        locate_calls[0] += 1
                        locate_seconds[0] += time.perf_counter() - locate_start
                    errors, groups = located[(quantity, label)]
                    masked = np.where(groups == group, errors, -1.0)
                    at = int(np.argmax(masked))
                    error, x = float(masked[at]), located[("x", "")][at]
                    best[group] = (error, float(x), top_bin)

    chunks = runs.progress_bar(range(num_chunks), desc="float32 patterns", unit="chunk",
                               disable=disable)
    # Dispatch the next chunk before binning this one: XLA computes while numpy counts.
    pending = dispatch(0)
    for chunk_index in chunks:
        upcoming = dispatch(chunk_index + 1) if chunk_index + 1 < num_chunks else None
        accumulate(*pending)
        pending = upcoming
    elapsed = time.perf_counter() - start

    rows = []
    for name, _, impls in table:
        quantities = [q for (n, q, _lbl) in histograms if n == name]
        for quantity in dict.fromkeys(quantities):
            for label in impls:
                key = (name, quantity, label)
                rows.append({
                    "function": name,
                    "quantity": quantity,
                    "implementation": label,
                    "groups": {GROUP_NAMES[g]: entry
                               for g, entry in summarise(histograms[key], worst[key]).items()},
                })
    return {
        "samples": total,
        "stride": stride,
        "chunk_bits": chunk_bits,
        "seconds": elapsed,
        "compile_seconds": compile_seconds,
        "chunks": num_chunks,
        "chunks_times_functions_relocated": locate_calls[0],
        # A subset relocates its worst errors in nearly every chunk, a full run
        # in few: the estimate leaves that time out.
        "estimated_full_seconds": (elapsed - locate_seconds[0]) * stride,
        "relocate_seconds": locate_seconds[0],
        "reference_self_check_ulp": reference_self_check(table),
        "machine": machine_line(),
        "isa": isa_info(),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "rows": rows,
    }


def _fmt_ulp(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if math.isinf(value):
        return "inf"
    if value >= 1e4:
        return f"{value:.2e}"
    return f"{value:.3g}"


def to_markdown(result: dict, command: str) -> str:
    main = GROUP_NAMES[MAIN]
    small = GROUP_NAMES[SMALL_INPUT]
    tiny = GROUP_NAMES[TINY_RESULT]
    huge = GROUP_NAMES[HUGE_RESULT]
    nan_input = GROUP_NAMES[NAN_INPUT]
    inf_input = GROUP_NAMES[INF_INPUT]
    subset = (
        "all 2^32 float32 bit patterns" if result["stride"] == 1
        else f"{result['samples']:,} float32 bit patterns, one in every {result['stride']} "
             "(a subset spread over the whole range)"
    )
    lines = [
        "# Float32 accuracy: jaxact, jax.nn and lax side by side",
        "",
        f"Made by `{command}` on {result['machine']}, {result['date']}; "
        f"{subset}; {result['seconds']:.0f} s.",
        "",
        "Error unit: ULPs of float32 at the float64 reference (|got - ref| / spacing of float32 "
        "in the reference's binade). f' is the derivative in x (one `jax.jvp` with a tangent of "
        "ones), df/dalpha the derivative in a traced alpha. The float64 references use "
        "cancellation-free formulas (see `harness/references.py`); they agree with numpy's libm "
        f"to {result['reference_self_check_ulp']:.2g} float32 ULP on 2^20 random patterns.",
        "",
        "Max and 99.99th percentile count every normal input whose true result is a normal "
        "float32. The 99.99th percentile is the upper edge of a bin 1/128 of an octave wide. "
        "The max is the exact largest error of the first chunk that reached the top bin; the "
        "true max is at most 0.8% (one bin) larger. "
        "NaN/inf: results that are NaN or infinite where the reference is finite, over all "
        "finite inputs (the groups counted apart included).",
        "",
        "| function | quantity | implementation | max ULP | 99.99% ULP | worst x | NaN/inf |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for row in result["rows"]:
        entry = row["groups"][main]
        nonfinite = sum(row["groups"][GROUP_NAMES[g]]["nonfinite_error"] for g in WORST_GROUPS)
        # With no error at all, the "worst" input is an arbitrary one.
        worst_x = f"{entry['worst_x']:.9g}" if entry.get("max_ulp") else "–"
        lines.append(
            f"| {row['function']} | {row['quantity']} | {row['implementation']} | "
            f"{_fmt_ulp(entry['max_ulp'])} | {_fmt_ulp(entry['p9999_ulp'])} | "
            f"{worst_x} | {nonfinite:,} |"
        )
    lines += [
        "",
        "## Counted apart",
        "",
        "Zero or subnormal inputs, and results below 2^-126 (subnormal, or 0): max error in "
        "float32 ULPs with the spacing floored at the subnormal step 2^-149; *flushed* = the "
        "result is 0 where the reference is not. Results that round to ±inf, and ±inf and NaN "
        "inputs: *wrong* = not the reference's limit or NaN exactly (a derivative's reference "
        "at NaN is NaN).",
        "",
        "| function | quantity | implementation | subnormal in: n / max ULP / flushed | "
        "tiny result: n / max ULP / flushed | rounds to ±inf: n / wrong | ±inf in: wrong | "
        "NaN in: wrong |",
        "|---|---|---|---|---|---|---:|---:|",
    ]
    for row in result["rows"]:
        groups = row["groups"]

        def finite_group(name, groups=groups):
            entry = groups[name]
            if entry["count"] == 0:
                return "0"
            return (
                f"{entry['count']:,} / {_fmt_ulp(entry['max_ulp'])} / {entry['flagged']:,}"
            )

        huge_wrong = groups[huge]["flagged"]
        lines.append(
            f"| {row['function']} | {row['quantity']} | {row['implementation']} | "
            f"{finite_group(small)} | {finite_group(tiny)} | "
            f"{groups[huge]['count']:,} / {huge_wrong:,} | "
            f"{groups[inf_input]['flagged']:,} of {groups[inf_input]['count']:,} | "
            f"{groups[nan_input]['flagged']:,} of {groups[nan_input]['count']:,} |"
        )
    lines.append("")
    return "\n".join(lines)


def output_prefix(out: str | None, stride: int, functions) -> Path:
    """Where the run writes (the path of its .json and .md without the suffix).

    ``out`` is a path without suffix, or a directory: one that exists, or one
    written with a trailing slash; a directory gets the default file name.
    Without ``out``, only a full run writes to ``benchmarks/results``.
    """
    name = "accuracy" if stride == 1 else "accuracy_quick"
    if out is None:
        full = stride == 1 and not functions
        return (RESULTS if full else QUICK_RESULTS) / name
    if out.endswith(("/", os.sep)) or Path(out).is_dir():
        return Path(out) / name
    return Path(out)


def _parser() -> runs.ArgumentParser:
    parser = runs.ArgumentParser(
        prog="python -m benchmarks.accuracy", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--quick", action="store_true",
                        help="a 2^22-sample subset spread over the range (stride 1024)")
    parser.add_argument("--stride", type=int, default=None,
                        help="measure one pattern in every STRIDE (a power of 2); default 1")
    parser.add_argument("--chunk-bits", type=int, default=22,
                        help="log2 of the patterns evaluated per step, 0 to "
                        f"{MAX_CHUNK_BITS} (memory ~ 2^bits * 1 KiB)")
    parser.add_argument("--out", default=None,
                        help="output path without suffix, or a directory (one that exists, "
                        "or DIR/); default benchmarks/results/accuracy for a full run, "
                        "benchmarks/results-quick/accuracy[_quick] for a subset or a "
                        "partial one")
    parser.add_argument("--functions", nargs="+", metavar="NAME",
                        help="measure only these functions (default: all)")
    parser.add_argument("--no-progress", action="store_true")
    return parser


def main(argv=None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)

    stride = args.stride if args.stride is not None else (1024 if args.quick else 1)
    if not 1 <= stride <= 1 << 32 or stride & (stride - 1):
        parser.error(f"--stride must be a power of 2 from 1 to 2^32, got {stride}")
    if not 0 <= args.chunk_bits <= MAX_CHUNK_BITS:
        parser.error(f"--chunk-bits must be from 0 to {MAX_CHUNK_BITS}, got {args.chunk_bits}")
    chunk_bits = min(args.chunk_bits, 32 - stride.bit_length() + 1)
    known = {entry[0].split()[0] for entry in functions()}
    unknown = sorted(set(args.functions or ()) - known)
    if unknown:
        parser.error(f"unknown function(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    if args.out == "":
        parser.error("--out is empty")
    prefix = output_prefix(args.out, stride, args.functions)
    written = [prefix.parent / (prefix.name + suffix) for suffix in (".json", ".md")]
    command = "python -m benchmarks.accuracy " + " ".join(sys.argv[1:] if argv is None else argv)
    try:
        runs.prepare_out(prefix.parent, create=True)
        for path in written:
            if path.is_dir():
                raise RunError(f"{path}: is a directory, where --out would write a file")
        with runs.exclusive(prefix.parent, f".{prefix.name}.lock"):
            runs.remove_temporaries(prefix.parent, [path.name for path in written])
            result = run(chunk_bits, stride, show_progress=not args.no_progress,
                         names=args.functions)
            markdown = to_markdown(result, command.strip())
            write_json(written[0], result)
            write_text(written[1], markdown)
    except RunError as error:
        print(f"{parser.prog}: {error}", file=sys.stderr)
        return 2
    print(markdown)
    if stride > 1:
        print(f"estimated time for all 2^32 patterns: {result['estimated_full_seconds'] / 60:.0f} "
              "min on this machine")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
