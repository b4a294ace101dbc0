"""bench.md and bench_scaling.png from the results that ``benchmarks.bench`` measured."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from benchmarks.hlo import CHEAP_COMPUTATION_FLOPS, PROFILED_OPCODES, hlo_summary, xla_cost_summary
from benchmarks.targets import (
    EAGER_LIMIT,
    ELEMENTWISE_LIMIT,
    IN_CACHE_LIMIT,
    ISA_ORDER,
    LARGE_SIZE,
    MAXOUT_BACKWARD_LIMIT,
    MAXOUT_FORWARD_LIMIT,
    MLP_COMPILE_LIMIT,
    MLP_EXTRA_ARRAYS_LIMIT,
    MLP_TIME_LIMIT,
    MODEL_COMPILE_LIMIT,
    MODEL_MEMORY_LIMIT,
    MODEL_TIME_LIMIT,
    PRELU_AUTODIFF_LIMIT,
    extra_arrays_per_layer,
    scaling_ranges,
    worst_scaling,
)
from harness.files import save_figure
from harness.timing import machine_line


def _missed(value, limit) -> bool:
    return value is not None and value > limit


def explain_misses(results: dict) -> list[str]:
    """One line per missed target, giving the profile figures that bear on it:
    HLO opcode counts for time and compile-time misses, the extra temporary
    memory in arrays of one layer's activations for memory misses."""
    notes = []
    # (Profiles written before the bench profiled every dtype are float32's.)
    profile = {(r["name"], r["mode"], r["contender"], r.get("dtype", "float32")): r
               for r in results["profile"]}

    def compare(what, ratio, ours, theirs, label):
        notes.append(f"- {what}: x{ratio:.2f}. Compiled HLO, jaxact: {hlo_summary(ours)}; "
                     f"{label}: {hlo_summary(theirs)}.")

    def compare_elementwise(what, ratio, name, mode, dtype, reference):
        ours = profile.get((name, mode, "jaxact", dtype))
        theirs = profile.get((name, mode, reference, dtype))
        if ours and theirs:
            compare(what, ratio, ours, theirs, reference)
        else:
            notes.append(f"- {what}: x{ratio:.2f}.")

    for row in results["elementwise"]:
        if row["contender"] == "jaxact" and _missed(row["ratio_reference"], ELEMENTWISE_LIMIT):
            compare_elementwise(
                f"{row['name']} {row['mode']} {row['dtype']} ({_isa(row)} ISA)",
                row["ratio_reference"], row["name"], row["mode"], row["dtype"],
                row["reference"])
    in_cache = results.get("in_cache", [])
    for (name, mode, isa), (ratio, n) in worst_scaling(in_cache).items():
        if _missed(ratio, IN_CACHE_LIMIT):
            reference = next(r["reference"] for r in in_cache if r["name"] == name)
            compare_elementwise(f"{name} {mode} float32 in cache at 2^{n.bit_length() - 1} "
                                f"({isa} ISA)", ratio, name, mode, "float32", reference)
    worst = {}
    for sizes, limit in scaling_ranges(results["scaling"]):
        for key, (ratio, n) in worst_scaling(results["scaling"], sizes).items():
            if _missed(ratio, limit):
                worst.setdefault(key[0], []).append((ratio, n))
    for name, misses in worst.items():
        for ratio, n in misses:
            what = f"{name} forward at 2^{n.bit_length() - 1} values"
            reference = next(r["reference"] for r in results["scaling"] if r["name"] == name)
            compare_elementwise(what, ratio, name, "forward", "float32", reference)
        costs = {r["contender"]: r.get("xla") for r in results["scaling"]
                 if r["name"] == name and r["n"] == n}
        if costs.get("jaxact") and costs.get(reference):
            notes[-1] += (
                f" XLA's CPU cost model at this size, jaxact: "
                f"{xla_cost_summary(costs['jaxact'], n)}; {reference}: "
                f"{xla_cost_summary(costs[reference], n)} (XLA splits a fusion with more "
                "flops than bytes over threads from about 200,000 / (flops + 10 bytes "
                "per element) elements, any other from 256 KiB of traffic; see "
                "benchmarks/hlo.py)."
            )
    eager_misses = [r for r in results["eager"]
                    if r["contender"] == "jaxact" and _missed(r["ratio_reference"], EAGER_LIMIT)]
    if eager_misses:
        reference = {(r["name"], r["mode"]): r for r in results["eager"]
                     if r["contender"] == r["reference"]}
        def eager(r, theirs):
            flops = ""
            if theirs.get("xla"):
                flops = f" ({theirs['xla']['flops']:,.0f} flops)"
            return (f"{r['name']} {r['mode']} {r['median_s'] * 1e6:.0f} µs and "
                    f"{r['python_calls']} calls vs {theirs['median_s'] * 1e6:.0f} µs and "
                    f"{theirs['python_calls']}{flops}")

        notes.append(
            "- eager calls (time per call, Python function calls per call): " + "; ".join(
                eager(r, reference[(r["name"], r["mode"])]) for r in eager_misses)
            + ". A jitted function called eagerly takes jax's C++ fast path (no Python "
            "calls); every Python call counted is dispatch work done in Python instead. "
            f"XLA's CPU client runs an executable of fewer than {CHEAP_COMPUTATION_FLOPS:,} "
            "flops (as counted by its cost analysis) on the calling thread and any other on "
            "a worker thread; jaxact's eager calls on small arrays run their kernel in "
            "chunks under that count (jvp.kernel; tests/test_kernels.py checks every "
            "kernel), so what remains is the Python work (see benchmarks/hlo.py)."
        )
    parametric = {(r["group"], r["mode"], r["contender"]): r for r in results["parametric"]}
    for (group, mode, label), row in parametric.items():
        limit = {("forward+vjp", "jaxact.prelu"): PRELU_AUTODIFF_LIMIT,
                 ("forward", "jaxact.Maxout"): MAXOUT_FORWARD_LIMIT,
                 ("forward+backward", "jaxact.Maxout"): MAXOUT_BACKWARD_LIMIT}.get((mode, label))
        if limit is not None and _missed(row["ratio_reference"], limit):
            reference = parametric[(group, mode, row["reference"])]
            notes.append(
                f"- {group} {mode}: x{row['ratio_reference']:.2f}. Compiled HLO, {label}: "
                f"{hlo_summary(row['hlo'])}; {row['reference']}: "
                f"{hlo_summary(reference['hlo'])}."
            )
    for model in ("mlp_small", "mlp"):
        by_key = {(r["name"], r["contender"]): r for r in results[model]}
        for row in results[model]:
            if row["contender"] != "jaxact":
                continue
            reference = by_key[(row["name"], row["reference"])]
            what = f"{model} step ({row['name']})"
            if model == "mlp" and _missed(extra_arrays_per_layer(row), MLP_EXTRA_ARRAYS_LIMIT):
                notes.append(
                    f"- {what} temp memory: {row['arrays_per_layer']:.2f} activation-sized "
                    f"arrays per layer against {row['relu_arrays_per_layer']:.2f} for the "
                    f"jax.nn.relu step ({row['temp_bytes'] / 2**20:.1f} MiB)."
                )
            # Only the 20-layer step has compile-time and memory targets.
            if model == "mlp" and _missed(row.get("compile_ratio"), MLP_COMPILE_LIMIT):
                notes.append(
                    f"- {what} compile x{row['compile_ratio']:.2f}: trace + lower took "
                    f"{row['lower_median_s']:.3f} s of {row['compile_median_s']:.3f} s vs "
                    f"{reference['lower_median_s']:.3f} s of "
                    f"{reference['compile_median_s']:.3f} s. Compiled step HLO, jaxact: "
                    f"{hlo_summary(row['hlo'])}; {row['reference']}: "
                    f"{hlo_summary(reference['hlo'])}."
                )
            if _missed(row["ratio_reference"], MLP_TIME_LIMIT):
                compare(f"{what} time", row["ratio_reference"], row["hlo"], reference["hlo"],
                        row["reference"])
    models = results.get("models", [])
    by_key = {(r["model"], r["dtype"], _isa(r), r["contender"]): r for r in models}
    for row in models:
        if row["contender"] != "jaxact":
            continue
        reference = by_key[(row["model"], row["dtype"], _isa(row), row["reference"])]
        missed = [f"{what} x{row[key]:.2f}" for what, key, limit in (
            ("step time", "ratio_reference", MODEL_TIME_LIMIT),
            ("compile time", "compile_ratio", MODEL_COMPILE_LIMIT),
            ("temporary memory", "temp_ratio", MODEL_MEMORY_LIMIT)) if _missed(row[key], limit)]
        if missed:
            notes.append(
                f"- {row['model']} step ({row['name']}, {row['dtype']}, {_isa(row)} ISA): "
                f"{', '.join(missed)}. Optimized HLO: {row['hlo_instructions']} instructions "
                f"against {reference['hlo_instructions']}; temporary memory "
                f"{row['temp_bytes'] / 2**20:.2f} MiB against "
                f"{reference['temp_bytes'] / 2**20:.2f} MiB; compile "
                f"{row['compile_median_s']:.2f} s against {reference['compile_median_s']:.2f} s."
            )
    return notes


def _isa(row: dict) -> str:
    # (Rows written before the bench measured two ISA levels have no "isa".)
    return row.get("isa", "default")


def scaling_notes(rows: list[dict]) -> list[str]:
    """What the scaling run says about the per-call cost that is not the function's."""
    if not rows:
        return []
    sizes = sorted({r["n"] for r in rows})
    faults = {r["n"]: r["page_faults_per_call"] for r in rows}
    # The cheapest contender per element at each size: the per-call overhead
    # shows as the rise below the size where it is lowest.
    floor = {n: min(r["ns_per_element"] for r in rows if r["n"] == n) for n in sizes}
    cheapest = min(floor, key=floor.get)
    text = (
        "Read from the table above: the cost per element is lowest at "
        f"n = 2^{cheapest.bit_length() - 1} ({floor[cheapest]:.3f} ns for the cheapest "
        "contender); below that the per-call overhead dominates. Minor page faults per call: "
        f"{faults[cheapest]:.0f} at 2^{cheapest.bit_length() - 1}, "
        f"{faults[sizes[-1]]:.0f} at 2^{sizes[-1].bit_length() - 1}."
    )
    if faults[sizes[-1]] > 10 * max(faults[cheapest], 1):
        text += (
            " At the large sizes the output is fresh memory that the kernel supplies page by "
            "page, a cost every contender pays alike, so ratios measured there (the 2^24 "
            "tables included) are pulled towards 1."
        )
    lines = [text, "", "jaxact / reference at each size (paired median ratio):", ""]
    ratio = {(r["name"], r["n"]): r["ratio_reference"] for r in rows
             if r["contender"] == "jaxact"}
    reference = {r["name"]: r["reference"] for r in rows}
    for name in dict.fromkeys(r["name"] for r in rows):
        ratios = ", ".join(f"2^{n.bit_length() - 1}: {ratio[(name, n)]:.2f}" for n in sizes)
        lines.append(f"- {name} jaxact / {reference[name]}: {ratios}")
    return lines + [""]


def _ms(seconds) -> str:
    return "—" if seconds is None else f"{seconds * 1e3:.3f}"


def _ratio(value) -> str:
    return "—" if value is None else f"{value:.3f}"


def _table(header: Sequence[str], rows: list[Sequence]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def _model_table(rows: list[dict], memory: bool) -> list[str]:
    header = ["activation", "contender", "step ms", "min–max ms", "× reference"]
    if memory:
        header += ["compile s", "× reference", "temp MiB", "arrays per layer",
                   "× jax.nn.relu step"]
    lines = []
    for r in rows:
        line = [r["name"], r["contender"], _ms(r["median_s"]),
                f"{_ms(r['min_s'])}–{_ms(r['max_s'])}", _ratio(r["ratio_reference"])]
        if memory:
            line += [f"{r['compile_median_s']:.3f}", _ratio(r["compile_ratio"]),
                     f"{r['temp_bytes'] / 2**20:.1f}", f"{r['arrays_per_layer']:.2f}",
                     _ratio(r["temp_ratio_relu"])]
        lines.append(line)
    return _table(header, lines)


def _isa_levels(results: dict) -> list[str]:
    levels = {_isa(row) for suite in ("elementwise", "in_cache", "models")
              for row in results.get(suite, [])}
    return [isa for isa in ISA_ORDER if isa in levels] + sorted(levels - set(ISA_ORDER))


def isa_lines(results: dict) -> list[str]:
    """The header's account of the ISA levels: each pass's process, and whether
    the default level is AVX2 already on this CPU."""
    passes = results.get("passes", [])
    if not passes:
        return []
    lines = ["ISA levels: `default` is what XLA picks on this CPU (its best), `AVX2` the "
             "same with `XLA_FLAGS=--xla_cpu_max_isa=AVX2`; each level, and float64 "
             "(`JAX_ENABLE_X64=1`), ran in a process of its own:", ""]
    for part in passes:
        lines.append(f"- {part['isa']}, {'float64' if part['x64'] else 'float32/bfloat16'}: "
                     f"{part['xla_isa']}; {', '.join(part['suites'])}; "
                     f"{part['wall_s']:.0f} s")
    extensions = results.get("cpu_isa_extensions")
    if extensions is not None and extensions and extensions[-1] == "avx2":
        lines += ["", "This CPU's best ISA is AVX2 (no AVX-512), so both levels compile to the "
                  "same ISA here: the two columns are the same level measured twice, and "
                  "their difference is the run's noise."]
    return lines + [""]


def _elementwise_summary(results: dict) -> list[str]:
    """function x mode rows, one column of jaxact / reference per (dtype, ISA)."""
    rows = [r for r in results["elementwise"] if r["contender"] == "jaxact"]
    if not rows:
        return []
    columns = list(dict.fromkeys(
        (r["dtype"], _isa(r)) for r in sorted(
            rows, key=lambda r: (["float32", "bfloat16", "float64"].index(r["dtype"])
                                 if r["dtype"] in ("float32", "bfloat16", "float64") else 3,
                                 ISA_ORDER.index(_isa(r)) if _isa(r) in ISA_ORDER else 2))))
    ratio = {(r["name"], r["mode"], r["dtype"], _isa(r)): r["ratio_reference"] for r in rows}
    n = rows[0]["n"]
    lines = ["", f"## Elementwise at n = 2^{n.bit_length() - 1}: jaxact / reference, "
             f"every dtype and ISA level (target ≤ {ELEMENTWISE_LIMIT:.2f})", ""]
    lines += _table(
        ["function", "mode", *(f"{dtype} {isa}" for dtype, isa in columns)],
        [[name, mode, *(_ratio(ratio.get((name, mode, *column))) for column in columns)]
         for name, mode in dict.fromkeys((r["name"], r["mode"]) for r in rows)])
    return lines


def _in_cache_table(rows: list[dict]) -> list[str]:
    if not rows:
        return []
    sizes = sorted({r["n"] for r in rows})
    lookup = {(r["name"], r["mode"], _isa(r), r["contender"], r["n"]): r for r in rows}
    lines = ["", f"## In cache: float32, jaxact / reference (target ≤ {IN_CACHE_LIMIT:.2f})",
             "", "Each sample runs about 2^22 elements (the call repeated); ns per element of "
             "jaxact and of the reference in brackets.", ""]
    body = []
    # Each function's rows at the two levels side by side.
    order = list(dict.fromkeys((r["name"], r["mode"]) for r in rows))
    for name, mode, isa, reference in sorted(
            dict.fromkeys((r["name"], r["mode"], _isa(r), r["reference"]) for r in rows),
            key=lambda key: (order.index(key[:2]),
                             ISA_ORDER.index(key[2]) if key[2] in ISA_ORDER else 2)):
        cells = []
        for n in sizes:
            ours, theirs = (lookup.get((name, mode, isa, label, n))
                            for label in ("jaxact", reference))
            cells.append("—" if ours is None or theirs is None else
                         f"{ours['ratio_reference']:.3f} ({ours['ns_per_element']:.2f} / "
                         f"{theirs['ns_per_element']:.2f})")
        body.append([name, mode, isa, reference, *cells])
    lines += _table(["function", "mode", "ISA", "reference",
                     *(f"2^{n.bit_length() - 1}" for n in sizes)], body)
    return lines


def _models_table(rows: list[dict]) -> list[str]:
    if not rows:
        return []
    lines = ["", "## Models: Adam training step, jaxact against jax.nn", "",
             f"Targets: step time ≤ {MODEL_TIME_LIMIT:.2f}, compile time ≤ "
             f"{MODEL_COMPILE_LIMIT:.2f}, temporary memory ≤ {MODEL_MEMORY_LIMIT:.2f} times "
             "jax.nn's; the optimized HLO's instruction count is for information. Compile "
             "time is trace, lower and XLA compile of a fresh `jax.jit`, the two contenders "
             "alternating, the ratio the median of the paired ratios (the target is on the "
             "wall-clock time a user waits; the ratio of this process's CPU time, which "
             "other jobs on the machine do not inflate, is beside it); temporary memory is "
             "`compiled.memory_analysis().temp_size_in_bytes`.", ""]
    for model in dict.fromkeys(r["model"] for r in rows):
        first = next(r for r in rows if r["model"] == model)
        sizes = ", ".join(f"{key} {value}" for key, value in first["sizes"].items())
        lines.append(f"- {model}: {first['description']}, {first['name']}; {sizes}")
    lines.append("")
    lines += _table(
        ["model", "dtype", "ISA", "contender", "step ms", "min–max ms", "× ref", "compile s",
         "× ref", "× ref (CPU time)", "temp MiB", "× ref", "HLO instructions", "× ref"],
        [[r["model"], r["dtype"], _isa(r), r["contender"], _ms(r["median_s"]),
          f"{_ms(r['min_s'])}–{_ms(r['max_s'])}", _ratio(r["ratio_reference"]),
          f"{r['compile_median_s']:.3f}", _ratio(r["compile_ratio"]),
          _ratio(r.get("compile_cpu_ratio")),
          f"{r['temp_bytes'] / 2**20:.2f}", _ratio(r["temp_ratio"]), r["hlo_instructions"],
          _ratio(r["hlo_ratio"])] for r in rows])
    return lines


def render_markdown(results: dict) -> str:
    machine, config = results["machine"], results["config"]
    targets = results["targets"]
    met = sum(t["passed"] is True for t in targets)
    levels = _isa_levels(results)
    out = [
        "# jaxact benchmarks",
        "",
        f"Machine: {machine_line(machine)}. Python {machine['python']}, "
        f"{machine['platform']}. Run {machine['date']}, "
        + ("QUICK smoke run (sizes too small to mean anything)" if config["quick"]
           else "full sizes")
        + f", {results['wall_s']:.0f} s; suites: {', '.join(config['suites'])}.",
        "",
        f"Backend {machine['backend']}, device {machine['device']}"
        + ("; no GPU was measured in this run." if machine["backend"] == "cpu" else "."),
        "",
        *isa_lines(results),
        *([f"Assembled from {len(config['parts'])} partial runs on this machine "
           "(`python -m benchmarks.bench --merge`): " + "; ".join(
               f"{part['date']}, {' '.join(part['suites'])} for "
               f"{', '.join(part['functions'])}" for part in config["parts"]) + ".", ""]
          if "parts" in config else []),
        "Method: every contender jitted (except in the eager table), warmed up, then run "
        f"interleaved with the others rep by rep ({config['reps']} reps; MLP "
        f"{config['mlp_reps']}"
        + (f"; models {config['model_reps']}" if "model_reps" in config else "")
        + "); times are median (min–max) per call. A ratio is the median "
        "over reps of the per-rep ratio of the two contenders, which cancels load shared by "
        "both. The floor is a jitted `x * s` on the same array (forward+vjp: "
        "`(x * s, cotangent * s)`, the same traffic as a vjp). generalized_logistic "
        "(alpha = 2) has no jax.nn counterpart and is compared with the naive "
        "`(1 + exp(-x)) ** -alpha`. The machine may be shared with other jobs, so single "
        "times are noisy; the paired ratios much less so.",
        "",
        f"## Targets: {met} of {len(targets)} met"
        + (f" (ISA levels: {', '.join(levels)})" if levels else ""),
        "",
    ]
    out += _table(["target", "ISA", "measured", "limit", "result"],
                  [[t["target"], t.get("isa", "default"), _ratio(t["measured"]),
                    f"≤ {t['limit']:.2f}",
                    {True: "pass", False: "**FAIL**", None: "not measured"}[t["passed"]]]
                   for t in targets])
    out += _elementwise_summary(results)

    for dtype, isa in dict.fromkeys((r["dtype"], _isa(r)) for r in results["elementwise"]):
        n = next(r["n"] for r in results["elementwise"] if r["dtype"] == dtype)
        out += ["", f"## Elementwise, {dtype}, {isa} ISA, n = 2^{n.bit_length() - 1}", ""]
        out += _table(
            ["function", "mode", "contender", "median ms", "min–max ms", "× reference",
             "× floor"],
            [[r["name"], r["mode"], r["contender"],
              _ms(r["median_s"]), f"{_ms(r['min_s'])}–{_ms(r['max_s'])}",
              _ratio(r["ratio_reference"]), _ratio(r["ratio_floor"])]
             for r in results["elementwise"] if (r["dtype"], _isa(r)) == (dtype, isa)],
        )
    out += _in_cache_table(results.get("in_cache", []))
    out += _models_table(results.get("models", []))

    if results["eager"]:
        eager = config["eager"]
        out += ["", f"## Eager (un-jitted) calls, float32, n = {eager['n']}", "",
                f"Each sample is {eager['number']} calls back to back; grad is "
                "`jax.grad(lambda x: sum(f(x)))` called outside jit.", ""]
        out += _table(
            ["function", "mode", "contender", "median µs", "min–max µs", "× reference",
             "Python calls per call"],
            [[r["name"], r["mode"], r["contender"], f"{r['median_s'] * 1e6:.1f}",
              f"{r['min_s'] * 1e6:.1f}–{r['max_s'] * 1e6:.1f}", _ratio(r["ratio_reference"]),
              r["python_calls"]]
             for r in results["eager"]],
        )

    if results["parametric"]:
        out += ["", "## PReLU and Maxout, float32", "",
                "prelu: one slope per channel, channels last; prelu shared: one slope. "
                "forward+vjp differentiates in x and the slope (leaky_relu: in x only, its slope "
                "a constant).", ""]
        out += _table(
            ["what", "mode", "contender", "median ms", "min–max ms", "× reference",
             "× jax.nn.leaky_relu"],
            [[r["group"] + (f" ({r['shape']})" if "shape" in r else
                            f" (n = {r['n']}, {r['channels']} channels)"),
              r["mode"], r["contender"],
              _ms(r["median_s"]) if r["status"] == "ok" else r["status"],
              "—" if r["median_s"] is None else f"{_ms(r['min_s'])}–{_ms(r['max_s'])}",
              f"{_ratio(r['ratio_reference'])} ({r['reference']})",
              _ratio(r.get("ratio_leaky_relu"))]
             for r in results["parametric"]],
        )

    if results["mlp_small"]:
        first = results["mlp_small"][0]
        out += ["", f"## Small MLP SGD step: {first['depth']} layers of {first['width']}, "
                    f"batch {first['batch']}, float32", ""]
        out += _model_table(results["mlp_small"], memory=False)
    if results["mlp"]:
        first = results["mlp"][0]
        out += ["", f"## MLP SGD step: {first['depth']} layers, width {first['width']}, "
                    f"batch {first['batch']}, float32", "",
                "Temporary memory of the compiled step, also in activation-sized arrays "
                "(batch × width float32) per activation layer; the target is the jax.nn.relu "
                "step's, which keeps one such array per layer for its backward pass.", ""]
        out += _model_table(results["mlp"], memory=True)
    if results["scaling"]:
        out += ["", "## Scaling (forward, float32): ns per element", ""]
        sizes = sorted({r["n"] for r in results["scaling"]})
        series = list(dict.fromkeys((r["name"], r["contender"]) for r in results["scaling"]))
        lookup = {(r["name"], r["contender"], r["n"]): r["ns_per_element"]
                  for r in results["scaling"]}
        out += _table(["n"] + [f"{name} ({label})" for name, label in series],
                      [[f"2^{n.bit_length() - 1}"] + [f"{lookup[(*s, n)]:.3f}" for s in series]
                       for n in sizes])
        out += ["", "![time per element and ratio against size](bench_scaling.png)", ""]
        out += scaling_notes(results["scaling"])
    if results["profile"]:
        out += ["## Profile: opcode counts in the compiled HLO", "",
                "From `jax.jit(f).lower(x).compile().as_text()`; fused computations included. "
                "Cycles per element: the static cost of the compiled loops on this CPU "
                "(`python -m benchmarks.mca`: llvm-mca on XLA's object code, summed over the "
                "call's kernels), which load on the machine does not change; blank where "
                "it could not be measured.",
                ""]

        def cycles(row):
            value = row.get("cycles_per_element")
            return "" if value is None else f"{value:.2f}"

        out += _table(["function", "dtype", "mode", "contender", "cycles/element",
                       "instructions", *PROFILED_OPCODES],
                      [[r["name"], r.get("dtype", "float32"), r["mode"], r["contender"],
                        cycles(r), r["instructions"], *(r[opcode] for opcode in PROFILED_OPCODES)]
                       for r in results["profile"]])
    out.append("")
    misses = explain_misses(results)
    if misses:
        out += ["## Profile of each missed target", "", *misses, ""]
    return "\n".join(out)


def plot_scaling(rows: list[dict], machine: str, path: Path) -> None:
    """Left: ns per element against size, jaxact solid, its reference dashed.
    Right: the paired ratio jaxact / reference against size, with the target."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.8))
    for index, name in enumerate(dict.fromkeys(r["name"] for r in rows)):
        color = f"C{index % 10}"
        mine = sorted((r["n"], r["ns_per_element"], r["ratio_reference"]) for r in rows
                      if r["name"] == name and r["contender"] == "jaxact")
        theirs = sorted((r["n"], r["ns_per_element"]) for r in rows
                        if r["name"] == name and r["contender"] != "jaxact")
        sizes = [n for n, _, _ in mine]
        left.plot(sizes, [t for _, t, _ in mine], "-", color=color, marker="o", ms=3,
                  label=name)
        left.plot([n for n, _ in theirs], [t for _, t in theirs], "--", color=color)
        right.plot(sizes, [q for _, _, q in mine], "-", color=color, marker="o", ms=3,
                   label=name)
    # The target: the in-cache limit below LARGE_SIZE, the 2^24 one from it up.
    sizes = sorted({r["n"] for r in rows})
    right.step(sizes, [IN_CACHE_LIMIT if n < LARGE_SIZE else ELEMENTWISE_LIMIT for n in sizes],
               where="post", color="black", lw=0.8, ls=":", label="target")
    right.axhline(1.0, color="grey", lw=0.6)
    for ax in (left, right):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("elements (float32)")
        ax.grid(True, which="both", alpha=0.3)
    left.set_yscale("log")
    left.set_ylabel("ns per element (forward, jit, median)")
    left.set_title("jaxact solid, reference dashed", fontsize=9)
    right.set_ylabel("jaxact / reference (paired median)")
    right.set_title(machine, fontsize=9)
    right.legend(fontsize=7, ncols=2)
    save_figure(fig, path)
