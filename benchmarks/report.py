"""bench.md and bench_scaling.png from the results that ``benchmarks.bench`` measured."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from benchmarks.hlo import CHEAP_COMPUTATION_FLOPS, PROFILED_OPCODES, hlo_summary, xla_cost_summary
from benchmarks.targets import (
    EAGER_LIMIT,
    ELEMENTWISE_LIMIT,
    MLP_COMPILE_LIMIT,
    MLP_EXTRA_ARRAYS_LIMIT,
    MLP_TIME_LIMIT,
    PARAMETRIC_LIMIT,
    PRELU_AUTODIFF_LIMIT,
    extra_arrays_per_layer,
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
    profile = {(r["name"], r["mode"], r["contender"]): r for r in results["profile"]}

    def compare(what, ratio, ours, theirs, label):
        notes.append(f"- {what}: x{ratio:.2f}. Compiled HLO, jaxact: {hlo_summary(ours)}; "
                     f"{label}: {hlo_summary(theirs)}.")

    for row in results["elementwise"]:
        if row["contender"] == "jaxact" and _missed(row["ratio_reference"], ELEMENTWISE_LIMIT):
            ours = profile.get((row["name"], row["mode"], "jaxact"))
            theirs = profile.get((row["name"], row["mode"], row["reference"]))
            if ours and theirs:
                compare(f"{row['name']} {row['mode']} {row['dtype']}", row["ratio_reference"],
                        ours, theirs, row["reference"])
    for name, (ratio, n) in worst_scaling(results["scaling"]).items():
        if not _missed(ratio, ELEMENTWISE_LIMIT):
            continue
        what = f"{name} forward at 2^{n.bit_length() - 1} values"
        ours = profile.get((name, "forward", "jaxact"))
        reference = next(r["reference"] for r in results["scaling"] if r["name"] == name)
        theirs = profile.get((name, "forward", reference))
        if ours and theirs:
            compare(what, ratio, ours, theirs, reference)
        else:
            notes.append(f"- {what}: x{ratio:.2f}.")
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
                 ("forward+backward", "jaxact.Maxout"): PARAMETRIC_LIMIT}.get((mode, label))
        if limit is not None and _missed(row["ratio_reference"], limit):
            reference = parametric[(group, mode, row["reference"])]
            notes.append(
                f"- {group} {mode}: x{row['ratio_reference']:.2f}. Compiled HLO, {label}: "
                f"{hlo_summary(row['hlo'])}; {row['reference']}: "
                f"{hlo_summary(reference['hlo'])}."
            )
    for model in ("mlp_small", "mlp", "pinn"):
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
    return notes


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


def render_markdown(results: dict) -> str:
    machine, config = results["machine"], results["config"]
    targets = results["targets"]
    met = sum(t["passed"] is True for t in targets)
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
        *([f"Assembled from {len(config['parts'])} partial runs on this machine "
           "(`python -m benchmarks.bench --merge`): " + "; ".join(
               f"{part['date']}, {' '.join(part['suites'])} for "
               f"{', '.join(part['functions'])}" for part in config["parts"]) + ".", ""]
          if "parts" in config else []),
        "Method: every contender jitted (except in the eager table), warmed up, then run "
        f"interleaved with the others rep by rep ({config['reps']} reps; MLP "
        f"{config['mlp_reps']}); times are median (min–max) per call. A ratio is the median "
        "over reps of the per-rep ratio of the two contenders, which cancels load shared by "
        "both. The floor is a jitted `x * s` on the same array (forward+vjp: "
        "`(x * s, cotangent * s)`, the same traffic as a vjp). generalized_logistic "
        "(alpha = 2) has no jax.nn counterpart and is compared with the naive "
        "`(1 + exp(-x)) ** -alpha`. The machine may be shared with other jobs, so single "
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
              _ms(r["median_s"]), f"{_ms(r['min_s'])}–{_ms(r['max_s'])}",
              _ratio(r["ratio_reference"]), _ratio(r["ratio_floor"])]
             for r in results["elementwise"] if r["dtype"] == dtype],
        )

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
    if results["pinn"]:
        first = results["pinn"][0]
        sizes = "→".join(str(size) for size in first["sizes"])
        out += ["", f"## PINN-style step: gradient of the mean squared Laplacian "
                    f"(`jax.hessian`) of a {sizes} MLP at {first['points']} points, float32",
                ""]
        out += _model_table(results["pinn"], memory=False)

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
        out += ["## Profile: opcode counts in the compiled HLO (float32)", "",
                "From `jax.jit(f).lower(x).compile().as_text()`; fused computations included.",
                ""]
        out += _table(["function", "mode", "contender", "instructions", *PROFILED_OPCODES],
                      [[r["name"], r["mode"], r["contender"], r["instructions"],
                        *(r[opcode] for opcode in PROFILED_OPCODES)] for r in results["profile"]])
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
    right.axhline(ELEMENTWISE_LIMIT, color="black", lw=0.8, ls=":", label="target")
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
