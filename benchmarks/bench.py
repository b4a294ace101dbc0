"""`make bench`: what jaxact costs, measured side by side with what it replaces.

Run as ``python -m benchmarks.bench [--quick] [--out DIR]``. Writes ``bench.md``,
``bench.json`` and ``bench_scaling.png`` to DIR (default ``benchmarks/results``)
and prints the markdown table.

Every figure comes from :func:`harness.timing.timeit_interleaved`: each
contender is jitted and warmed up once, then the contenders run one after
another within each rep (in an order shuffled anew for every rep), so that load
from other processes falls on all of them alike. A ratio is the median over
reps of the per-rep ratio of two contenders timed in the same rep, which
cancels most of that shared noise.

The suites live in ``benchmarks.elementwise`` (the registry of functions),
``benchmarks.parametric`` and ``benchmarks.models``; the targets in
``benchmarks.targets``; the markdown and the plot in ``benchmarks.report``.
Only the public ``jaxact`` API is used.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks.elementwise import (
    ELEMENTWISE,
    profile_elementwise,
    progress,
    time_eager,
    time_elementwise,
    time_scaling,
)
from benchmarks.models import time_mlp, time_pinn
from benchmarks.parametric import time_maxout, time_prelu
from benchmarks.report import plot_scaling, render_markdown
from benchmarks.targets import check_targets
from harness.files import write_text
from harness.timing import machine_info, machine_line

DEFAULT_OUT = Path(__file__).resolve().parent / "results"


# The PINN step's activations: tanh is what PINNs use.
PINN_FUNCTIONS = ("tanh",)


def _config(quick: bool) -> dict:
    if quick:
        return {"quick": True, "n": 1 << 12, "reps": 2, "dtypes": ["float32", "bfloat16"],
                "eager": {"n": 128, "reps": 2, "number": 2},
                "scaling_sizes": [1 << 10, 1 << 12], "scaling_reps": 2,
                "prelu_channels": 16, "maxout": (64, 32, 32, 4),
                "mlp_small": {"depth": 3, "width": 32, "batch": 8}, "mlp_small_reps": 2,
                "mlp": {"depth": 3, "width": 64, "batch": 16}, "mlp_reps": 2,
                "compile_reps": 1, "pinn_points": 16, "pinn_reps": 2}
    return {"quick": False, "n": 1 << 24, "reps": 10, "dtypes": ["float32", "bfloat16"],
            "eager": {"n": 128, "reps": 10, "number": 20},
            "scaling_sizes": [1 << k for k in range(10, 27, 2)], "scaling_reps": 10,
            "prelu_channels": 64, "maxout": (2048, 512, 512, 4),
            "mlp_small": {"depth": 4, "width": 256, "batch": 64}, "mlp_small_reps": 20,
            "mlp": {"depth": 20, "width": 1024, "batch": 512}, "mlp_reps": 10,
            "compile_reps": 5, "pinn_points": 1024, "pinn_reps": 10}


SUITES = ("elementwise", "eager", "parametric", "mlp_small", "mlp", "pinn", "scaling",
          "profile")


def run(quick: bool = False, names: Sequence[str] | None = None,
        suites: Sequence[str] = SUITES) -> dict:
    """Runs the benchmarks and returns the results (what bench.json holds).

    ``names`` restricts the elementwise suites to those functions of
    :data:`benchmarks.elementwise.ELEMENTWISE` (default: all of them);
    ``suites`` to those of :data:`SUITES` (the others give no rows).
    """
    start = time.perf_counter()
    config = {**_config(quick), "functions": list(ELEMENTWISE if names is None else names),
              "suites": list(suites)}
    names = config["functions"]
    machine = machine_info()
    progress(machine_line(machine))
    measure = {
        "elementwise": lambda: [
            row for dtype in config["dtypes"]
            for row in time_elementwise(names, config["n"], config["reps"], dtype)
        ],
        "eager": lambda: time_eager(names, **config["eager"]),
        "parametric": lambda: (
            time_prelu(config["n"], config["prelu_channels"], config["reps"])
            + time_maxout(*config["maxout"], config["reps"])
        ),
        "mlp_small": lambda: time_mlp(names, **config["mlp_small"],
                                      reps=config["mlp_small_reps"], model="mlp_small"),
        "mlp": lambda: time_mlp(names, **config["mlp"], reps=config["mlp_reps"],
                                compile_reps=config["compile_reps"]),
        "pinn": lambda: time_pinn([name for name in names if name in PINN_FUNCTIONS],
                                  config["pinn_points"], config["pinn_reps"]),
        "scaling": lambda: time_scaling(names, config["scaling_sizes"], config["scaling_reps"]),
        "profile": lambda: profile_elementwise(names),
    }
    results: dict = {"machine": machine, "config": config}
    for suite in SUITES:
        results[suite] = measure[suite]() if suite in suites else []
    results["targets"] = check_targets(results)
    results["wall_s"] = time.perf_counter() - start
    return results


def merge(parts: Sequence[dict]) -> dict:
    """One result from partial runs (``--suites``), each suite's rows from the runs
    that measured it; the targets are checked anew. For a bench run in pieces,
    e.g. where one command may only run a few minutes."""
    first = parts[0]
    results: dict = {"machine": first["machine"], "config": dict(first["config"])}
    results["config"]["parts"] = [
        {"date": part["machine"]["date"], "suites": part["config"]["suites"],
         "functions": part["config"]["functions"], "wall_s": part["wall_s"]}
        for part in parts
    ]
    results["config"]["suites"] = [suite for suite in SUITES
                                   if any(suite in part["config"]["suites"] for part in parts)]
    results["config"]["functions"] = list(dict.fromkeys(
        name for part in parts for name in part["config"]["functions"]))
    for suite in SUITES:
        results[suite] = [row for part in parts for row in part[suite]]
    results["targets"] = check_targets(results)
    results["wall_s"] = sum(part["wall_s"] for part in parts)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="small sizes and 2 reps: a smoke test of the harness")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    parser.add_argument("--functions", nargs="+", choices=list(ELEMENTWISE), metavar="NAME",
                        help="measure only these elementwise functions (default: all)")
    parser.add_argument("--suites", nargs="+", choices=SUITES, default=list(SUITES),
                        metavar="SUITE", help=f"run only these suites (default: all of "
                        f"{', '.join(SUITES)})")
    parser.add_argument("--merge", nargs="+", type=Path, metavar="JSON",
                        help="measure nothing: write the report of these partial runs' "
                        "bench.json files together")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    if args.merge:
        results = merge([json.loads(path.read_text()) for path in args.merge])
    else:
        results = run(quick=args.quick, names=args.functions, suites=args.suites)
    markdown = render_markdown(results)
    if results["scaling"]:
        plot_scaling(results["scaling"], machine_line(results["machine"]),
                     args.out / "bench_scaling.png")
    write_text(args.out / "bench.json", json.dumps(results, indent=1) + "\n")
    write_text(args.out / "bench.md", markdown)
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
