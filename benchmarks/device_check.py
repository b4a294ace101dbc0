"""jaxact's promises checked on whatever device JAX runs on: accuracy, same bits, speed.

Run with ``make device-check``, or on a machine without make (a GPU machine
with the checkout and no network)::

    PYTHONPATH=. python -m benchmarks.device_check

It needs only jax, numpy (and scipy, a dependency of jax) and what jaxact
needs; mpmath is used if installed. Within 5 minutes on any backend it

1. evaluates every elementwise function (value and derivative, one jvp) and
   its jax.nn counterpart on the default device at 2^22 float32 inputs spread
   over all 2^32 bit patterns, and measures the errors in float32 ULPs against
   the float64 references of ``harness/references.py``, computed on the
   host in numpy;
2. checks that each function gives the same bits jitted, with x a
   compile-time constant, called eagerly and under ``jax.disable_jit()``
   (values in float32 and bfloat16, derivatives in float32, at small arrays
   that take the eager path, subnormals, infinities and NaN included);
3. times jaxact against jax.nn at 2^24 float32 values (forward, and forward
   with a vjp), as ``make bench`` does: the ratio is the median over reps of
   paired times;

prints the platform, device, CPU model and JAX version, and writes
``benchmarks/results/device-<platform>.md`` (or into ``--out DIR``).
``--smoke`` runs a few functions at small sizes in seconds (the test suite
runs it); it writes only where ``--out`` says, never over committed results.
The exit status is 1 when a function's bits differ between call paths.
"""

from __future__ import annotations

import argparse
import functools
import math
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks.elementwise import (
    ELEMENTWISE,
    GENERALIZED_LOGISTIC_ALPHA,
    forward_and_vjp,
    inputs,
)
from harness import references as refs
from harness.timing import machine_info, paired_ratio, timeit_interleaved

RESULTS = Path(__file__).resolve().parent / "results"


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)

SMOKE_NAMES = ("sigmoid", "gelu", "hard_tanh")
FLOAT32_TINY = float(np.finfo(np.float32).tiny)
FLOAT32_MAX = float(np.finfo(np.float32).max)
# Eager calls on up to this many elements take jaxact's eager path (the
# chunked loop on a CPU); bfloat16 at most 64.
EAGER_SIZE = {"float32": 1024, "bfloat16": 64}


def _has_mpmath() -> bool:
    try:
        import mpmath  # noqa: F401
    except ImportError:
        return False
    return True


def _gelu_without_mpmath(approximate: bool):
    """gelu's float64 reference without the Taylor patch at its derivative's zero.

    ``harness.references`` patches the derivative within 1e-4 of its zero
    with a series whose coefficients come from mpmath. Without mpmath the
    plain float64 formula is used there: its absolute error (about 1e-16) is
    far below a float32 ULP of the derivative except within about 1e-8 of the
    zero, where a 2^22 sample holds no point.
    """
    def reference(xp, x):
        if approximate:
            c = 2 * math.sqrt(2 / math.pi)
            v = c * (x + refs.GELU_TANH_C * x**3)
            dv = c * (1 + 3 * refs.GELU_TANH_C * x * x)
            e = xp.exp(-xp.abs(v))
            sigma = xp.where(v >= 0, 1.0, e) / (1 + e)
            sigma_neg = xp.where(v >= 0, e, 1.0) / (1 + e)
            value, derivative = x * sigma, sigma * (1 + x * dv * sigma_neg)
        else:
            cdf = 0.5 * refs._erfc(xp, -x * math.sqrt(0.5))
            density = xp.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)
            value, derivative = x * cdf, cdf + x * density
        return {"f": refs.at_infinities(xp, x, value, 0.0, math.inf),
                "f'": refs.at_infinities(xp, x, derivative, 0.0, 1.0)}

    return reference


def references() -> dict:
    """name (as in benchmarks.elementwise.ELEMENTWISE) -> float64 reference."""
    table = {
        name: getattr(refs, f"ref_{name}")
        for name in ELEMENTWISE
        if name not in ("gelu", "gelu_exact", "generalized_logistic")
    }
    table["generalized_logistic"] = functools.partial(
        refs.ref_generalized_logistic, alpha=GENERALIZED_LOGISTIC_ALPHA)
    if _has_mpmath():
        table["gelu"], table["gelu_exact"] = refs.ref_gelu_tanh, refs.ref_gelu_erf
    else:
        table["gelu"] = _gelu_without_mpmath(approximate=True)
        table["gelu_exact"] = _gelu_without_mpmath(approximate=False)
    return table


# --------------------------------------------------------------------------
# 1. accuracy


def sample(num_bits: int) -> np.ndarray:
    """2^num_bits float32 values, one per block of the 2^32 bit patterns at a
    pseudo-random offset in the block (so low mantissa bits are not all 0),
    then -0, +inf and -inf (one pattern each, which no block may draw)."""
    count = 1 << num_bits
    block = 1 << (32 - num_bits)
    position = np.arange(count, dtype=np.uint64)
    mixed = (position * 0x9E3779B1) & 0xFFFFFFFF
    mixed ^= mixed >> 15
    bits = position * block + (mixed & (block - 1))
    limits = np.asarray([-0.0, np.inf, -np.inf], np.float32)
    return np.concatenate([bits.astype(np.uint32).view(np.float32), limits])


def _value_and_derivative(fn):
    @jax.jit
    def evaluate(x):
        return jax.jvp(fn, (x,), (jnp.ones_like(x),))

    return evaluate


def ulp_errors(got: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """|got - reference| in float32 ULPs at the reference (spacing floored at
    the smallest normal's), as tests/helpers.py measures it."""
    got64 = got.astype(np.float64)
    exponent = np.floor(np.log2(np.maximum(np.abs(reference), FLOAT32_TINY)))
    with np.errstate(invalid="ignore", over="ignore"):
        error = np.abs(got64 - reference) / np.exp2(exponent - 23)
    return np.where(got64 == reference, 0.0, error)


def judge(x: np.ndarray, got: np.ndarray, reference: np.ndarray) -> dict:
    """Max ULP error over normal inputs with a normal float32 result, and the
    number of NaN or infinite inputs whose result is not the reference's NaN
    or limit (rounded to float32)."""
    with np.errstate(invalid="ignore", over="ignore"):
        magnitude = np.abs(reference)
        main = (np.isfinite(x) & (np.abs(x) >= FLOAT32_TINY)
                & (magnitude >= FLOAT32_TINY) & (magnitude <= FLOAT32_MAX))
        error = ulp_errors(got[main], reference[main])
        special = ~np.isfinite(x)
        want = reference[special].astype(np.float32)
        have = got[special]
        wrong = ~((have == want) | (np.isnan(have) & np.isnan(want)))
    worst = int(np.argmax(error)) if error.size else None
    return {
        "max_ulp": float(error[worst]) if error.size else math.nan,
        "at": float(x[main][worst]) if error.size else math.nan,
        "special_wrong": int(wrong.sum()),
    }


def check_accuracy(names, num_bits: int, log=progress) -> list[dict]:
    x = sample(num_bits)
    x_device = jnp.asarray(x)
    table = references()
    rows = []
    for name in names:
        function = ELEMENTWISE[name]
        with np.errstate(all="ignore"):
            reference = table[name](np, x.astype(np.float64))
            reference = {q: np.where(np.isnan(x), np.nan, r) for q, r in reference.items()}
        contenders = (("jaxact", function.jaxact), (function.reference_label, function.reference))
        for label, fn in contenders:
            value, derivative = jax.device_get(_value_and_derivative(fn)(x_device))
            for quantity, got in (("f", value), ("f'", derivative)):
                rows.append({"name": name, "implementation": label, "quantity": quantity,
                             **judge(x, np.asarray(got), reference[quantity])})
        mine = [r for r in rows[-4:] if r["implementation"] == "jaxact"]
        log(f"accuracy {name}: jaxact f {mine[0]['max_ulp']:.3g} ULP, "
            f"f' {mine[1]['max_ulp']:.3g} ULP")
    return rows


# --------------------------------------------------------------------------
# 2. the same bits on every call path


def bit_sample(dtype, size: int) -> np.ndarray:
    """``size`` values of ``dtype`` spread over its bit patterns, with ±0,
    subnormals, ±inf and NaN among them."""
    dtype = jnp.dtype(dtype)
    width = dtype.itemsize * 8
    unsigned = np.dtype(f"uint{width}")
    finfo = jnp.finfo(dtype)
    subnormal = float(finfo.smallest_subnormal)
    special = np.asarray([0.0, -0.0, subnormal, -subnormal, float(finfo.tiny) / 2, math.inf,
                          -math.inf, math.nan, 1.0, -1.0, 6.0, 3.0]).astype(dtype)
    spread = size - special.size
    positions = (np.arange(spread, dtype=np.uint64) * ((1 << width) // spread)
                 + 12345) % (1 << width)
    return np.concatenate([special, positions.astype(unsigned).view(dtype)])


def _bits(array) -> np.ndarray:
    """Bit patterns of an array, every NaN made one pattern."""
    array = np.asarray(array)
    width = array.dtype.itemsize * 8
    nan = np.isnan(array.astype(np.float32))
    bits = array.view(np.dtype(f"uint{width}")).copy()
    bits[nan] = 0
    return np.where(nan, np.iinfo(bits.dtype).max, bits)


def call_paths(fn, x_host: np.ndarray) -> dict:
    """fn at x jitted, with x a compile-time constant, eagerly, and under disable_jit."""
    x = jnp.asarray(x_host)
    results = {"jit": jax.jit(fn)(x), "constant": jax.jit(lambda: fn(jnp.asarray(x_host)))(),
               "eager": fn(x)}
    with jax.disable_jit():
        results["disable_jit"] = fn(x)
    return results


def _differs(row: dict) -> bool:
    return any(row[path] for path in ("constant", "eager", "disable_jit"))


def check_bits(names, log=progress) -> list[dict]:
    rows = []
    for name in names:
        fn = ELEMENTWISE[name].jaxact
        cases = [("f", "float32", fn), ("f", "bfloat16", fn),
                 ("f'", "float32", jax.vmap(jax.grad(fn)))]
        for quantity, dtype, evaluate in cases:
            x = bit_sample(dtype, EAGER_SIZE[dtype])
            results = call_paths(evaluate, x)
            want = _bits(results["jit"])
            differ = {path: int((_bits(got) != want).sum())
                      for path, got in results.items() if path != "jit"}
            rows.append({"name": name, "quantity": quantity, "dtype": dtype, "size": x.size,
                         **differ})
        bad = [r for r in rows[-len(cases):] if _differs(r)]
        log(f"bits {name}: {'same on every path' if not bad else bad}")
    return rows


# --------------------------------------------------------------------------
# 3. speed, and the report


def check_speed(names, n: int, reps: int, log=progress) -> list[dict]:
    """jaxact against its counterpart, interleaved rep by rep (as make bench)."""
    x, cotangent = inputs(n)
    rows = []
    for name in names:
        function = ELEMENTWISE[name]
        for mode, wrap, args in (("forward", lambda f: f, (x,)),
                                 ("forward+vjp", forward_and_vjp, (x, cotangent))):
            times = timeit_interleaved({"jaxact": wrap(function.jaxact),
                                        "counterpart": wrap(function.reference)}, reps, args=args)
            rows.append({"name": name, "mode": mode,
                         "jaxact_ms": 1e3 * float(np.median(times["jaxact"])),
                         "counterpart_ms": 1e3 * float(np.median(times["counterpart"])),
                         "ratio": paired_ratio(times["jaxact"], times["counterpart"])})
            log(f"speed {name} {mode}: jaxact / {function.reference_label} = "
                f"{rows[-1]['ratio']:.3f}")
    return rows


def machine() -> dict:
    info = machine_info()
    device = jax.devices()[0]
    info.update(platform_name=device.platform, device_kind=device.device_kind,
                device_count=jax.device_count(), mpmath=_has_mpmath())
    return info


def _table(header, rows) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(str(cell) for cell in row) + " |" for row in rows)]


def _ulp(value) -> str:
    return "nan" if math.isnan(value) else f"{value:.3g}"


def render(result: dict) -> str:
    info = result["machine"]
    lines = [
        f"# jaxact on {info['platform_name']} ({info['device_kind']})",
        "",
        f"Made by `{result['command']}` in {result['seconds']:.0f} s ("
        + ", ".join(f"{part} {seconds:.0f} s" for part, seconds in result["part_seconds"].items())
        + ").",
        "",
        f"- platform: {info['platform_name']}, {info['device_count']} device(s), "
        f"device kind: {info['device_kind']}",
        f"- host CPU: {info['cpu']}, {info['cores']} cores; {info['platform']}",
        f"- jax {info['jax']}, jaxlib {info['jaxlib']}, Python {info['python']}; "
        "mpmath " + ("used" if info["mpmath"]
                     else "absent (gelu derivative near its zero: plain float64)"),
        f"- {info['date']}",
        "",
        f"## Accuracy: 2^{result['accuracy_bits']} float32 inputs over all bit patterns",
        "",
        "Max error in float32 ULPs over normal inputs with a normal result, against float64",
        "references computed on the host; `special` counts NaN/±inf inputs whose result is",
        "not the reference's NaN or limit.",
        "",
    ]
    by_key = {(r["name"], r["implementation"], r["quantity"]): r for r in result["accuracy"]}
    rows = []
    for name in dict.fromkeys(r["name"] for r in result["accuracy"]):
        other = ELEMENTWISE[name].reference_label
        cells = [name]
        for label in ("jaxact", other):
            for quantity in ("f", "f'"):
                r = by_key[(name, label, quantity)]
                cells.append(_ulp(r["max_ulp"]) + (f" ({r['special_wrong']} special)"
                                                  if r["special_wrong"] else ""))
        rows.append(cells)
    lines += _table(["function", "jaxact f", "jaxact f'", "counterpart f", "counterpart f'"], rows)
    lines += ["", "(The counterpart is jax.nn, or for generalized_logistic the naive "
              f"(1 + exp(-x))^-{GENERALIZED_LOGISTIC_ALPHA:g}.)", "",
              "## Same bits on every call path", "",
              "Elements whose bits differ from the jitted call (NaN payloads ignored); "
              "the eager arrays are small enough to take the eager path.", ""]
    lines += _table(["function", "quantity", "dtype", "size", "constant", "eager", "disable_jit"],
                    [[r["name"], r["quantity"], r["dtype"], r["size"], r["constant"], r["eager"],
                      r["disable_jit"]] for r in result["bits"]])
    lines += ["", f"## Speed at {result['speed_n']} float32 values, {result['speed_reps']} reps",
              "", "Median ms per call; ratio = median over reps of paired jaxact / counterpart.",
              ""]
    rows = [[r["name"], r["mode"], f"{r['jaxact_ms']:.3f}", f"{r['counterpart_ms']:.3f}",
             f"{r['ratio']:.3f}"] for r in result["speed"]]
    lines += _table(["function", "mode", "jaxact ms", "counterpart ms", "ratio"], rows)
    return "\n".join(lines) + "\n"


def run(smoke: bool = False, log=progress) -> dict:
    started = time.perf_counter()
    info = machine()
    log(f"platform {info['platform_name']} ({info['device_kind']}), host CPU {info['cpu']}, "
        f"jax {info['jax']} / jaxlib {info['jaxlib']}")
    names = SMOKE_NAMES if smoke else tuple(ELEMENTWISE)
    accuracy_bits = 12 if smoke else 22
    speed_n = 1 << (12 if smoke else 24)
    # On a CPU a 2^24 call takes a tenth of a second: few reps keep the
    # whole check under 5 minutes on two cores.
    speed_reps = 3 if smoke else (5 if info["platform_name"] == "cpu" else 25)
    result = {"machine": info, "accuracy_bits": accuracy_bits, "speed_n": speed_n,
              "speed_reps": speed_reps, "part_seconds": {}}
    for part, check in (("accuracy", lambda: check_accuracy(names, accuracy_bits, log)),
                        ("bits", lambda: check_bits(names, log)),
                        ("speed", lambda: check_speed(names, speed_n, speed_reps, log))):
        part_started = time.perf_counter()
        result[part] = check()
        result["part_seconds"][part] = time.perf_counter() - part_started
    result["seconds"] = time.perf_counter() - started
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true",
                        help="a few functions at small sizes; writes only with --out")
    parser.add_argument("--out", type=Path, default=None,
                        help="directory for device-<platform>.md (default: benchmarks/results, "
                             "full runs only)")
    args = parser.parse_args(argv)
    result = run(smoke=args.smoke)
    result["command"] = "python -m benchmarks.device_check" + (" --smoke" if args.smoke else "")
    report = render(result)
    print(report)
    out = args.out if args.out is not None else (None if args.smoke else RESULTS)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        path = out / f"device-{result['machine']['platform_name']}.md"
        path.write_text(report)
        print(f"wrote {path}", file=sys.stderr)
    return 1 if any(_differs(row) for row in result["bits"]) else 0


if __name__ == "__main__":
    sys.exit(main())
