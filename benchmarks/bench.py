"""`make bench`: what jaxact costs, measured side by side with what it replaces.

Run as ``python -m benchmarks.bench [--quick] [--out DIR]``. Writes ``bench.md``,
``bench.json`` and ``bench_scaling.png`` to DIR and prints the markdown table.
DIR is by default ``benchmarks/results`` for a full run and
``benchmarks/results-quick`` (git-ignored) for a quick or partial one
(``--quick``, ``--functions``, ``--suites``, or a ``--merge`` of parts that do
not add up to a full run), so that only a full run replaces the committed
results. Every argument and DIR are checked before any work (a problem is one
line on stderr, exit status 2), and one run at a time writes to a DIR (a lock
file, ``.bench.lock``).

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
from harness import runs
from harness.files import ResultError, read_json, write_text
from harness.runs import RunError
from harness.timing import machine_info, machine_line

DEFAULT_OUT = Path(__file__).resolve().parent / "results"
# Where a quick or partial run writes unless --out says otherwise (git-ignored):
# beside the committed results, never over them.
DEFAULT_QUICK_OUT = Path(__file__).resolve().parent / "results-quick"
WRITTEN = ("bench.json", "bench.md", "bench_scaling.png")


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
        results[suite] = []
    for suite in runs.progress_bar([s for s in SUITES if s in suites], desc="bench suites",
                                   unit="suite"):
        results[suite] = measure[suite]()
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


def read_part(path: Path) -> dict:
    """A bench.json to merge, checked for what :func:`merge` reads from it.

    Raises:
        ResultError: naming ``path``, when it is unreadable, not JSON, or not
            a result of this bench.
    """
    part = read_json(path)
    machine, config = part.get("machine"), part.get("config")
    if (not isinstance(machine, dict) or not isinstance(machine.get("date"), str)
            or not isinstance(config, dict)
            or not all(isinstance(config.get(key), list) for key in ("suites", "functions"))
            or not isinstance(part.get("wall_s"), int | float)
            or not all(isinstance(part.get(suite), list) for suite in SUITES)):
        raise ResultError(f"{path}: not a bench.json (it needs machine.date, config.suites, "
                          f"config.functions, wall_s and a list of rows for each of "
                          f"{', '.join(SUITES)})")
    return part


def is_full(quick: bool, functions, suites) -> bool:
    """True for what a full run measures: full sizes, every function, every suite."""
    return not quick and set(functions) == set(ELEMENTWISE) and set(suites) == set(SUITES)


def _parser() -> runs.ArgumentParser:
    parser = runs.ArgumentParser(prog="python -m benchmarks.bench", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="small sizes and 2 reps: a smoke test of the harness")
    parser.add_argument("--out", type=Path, default=None,
                        help="output folder (default benchmarks/results for a full run, "
                        "benchmarks/results-quick for a quick or partial one)")
    parser.add_argument("--functions", nargs="+", choices=list(ELEMENTWISE), metavar="NAME",
                        help="measure only these elementwise functions (default: all)")
    parser.add_argument("--suites", nargs="+", choices=SUITES, default=None,
                        metavar="SUITE", help=f"run only these suites (default: all of "
                        f"{', '.join(SUITES)})")
    parser.add_argument("--merge", nargs="+", type=Path, metavar="JSON",
                        help="measure nothing: write the report of these partial runs' "
                        "bench.json files together")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.merge and (args.quick or args.functions or args.suites):
        parser.error("--merge measures nothing: --quick, --functions and --suites do not "
                     "apply to it")
    functions = args.functions or list(ELEMENTWISE)
    suites = args.suites or list(SUITES)
    try:
        # Everything that can be checked is checked before the work starts.
        parts = [read_part(path) for path in args.merge or ()]
        if parts:
            full = is_full(
                any(part["config"].get("quick", False) for part in parts),
                [name for part in parts for name in part["config"]["functions"]],
                [suite for part in parts for suite in part["config"]["suites"]])
        else:
            full = is_full(args.quick, functions, suites)
        out = args.out if args.out is not None else DEFAULT_OUT if full else DEFAULT_QUICK_OUT
        runs.prepare_out(out, create=True)
        with runs.exclusive(out, ".bench.lock"):
            runs.remove_temporaries(out, WRITTEN)
            if parts:
                results = merge(parts)
            else:
                results = run(quick=args.quick, names=args.functions, suites=suites)
            markdown = render_markdown(results)
            if results["scaling"]:
                plot_scaling(results["scaling"], machine_line(results["machine"]),
                             out / "bench_scaling.png")
            write_text(out / "bench.json", json.dumps(results, indent=1) + "\n")
            write_text(out / "bench.md", markdown)
    except (RunError, ResultError) as error:
        print(f"{parser.prog}: {error}", file=sys.stderr)
        return 2
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
