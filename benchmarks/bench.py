"""`make bench`: what jaxact costs, measured side by side with what it replaces.

Run as ``python -m benchmarks.bench [--quick] [--out DIR]``. Writes ``bench.md``,
``bench.json`` and ``bench_scaling.png`` to DIR and prints the markdown table.
DIR is by default ``benchmarks/results`` for a full run and
``benchmarks/results-quick`` (git-ignored) for a quick or partial one
(``--quick``, ``--functions``, ``--suites``, ``--isa``, ``--dtypes``, or a
``--merge`` of parts that do not add up to a full run), so that only a full run
replaces the committed results. Every argument and DIR are checked before any
work (a problem is one line on stderr, exit status 2), and one run at a time
writes to a DIR (a lock file, ``.bench.lock``).

Every figure comes from :func:`harness.timing.timeit_interleaved`: each
contender is jitted and warmed up once, then the contenders run one after
another within each rep (in an order shuffled anew for every rep), so that load
from other processes falls on all of them alike. A ratio is the median over
reps of the per-rep ratio of two contenders timed in the same rep, which
cancels most of that shared noise.

Two ISA levels: ``default`` (XLA compiles for the best ISA the CPU has) and
``AVX2`` (``XLA_FLAGS=--xla_cpu_max_isa=AVX2``), which repeats the suites of
:data:`ISA_SUITES` (elementwise at 2^24 in every dtype, in cache, the models).
XLA reads the cap when its CPU backend starts, and float64 needs
``JAX_ENABLE_X64=1``, which would change the default dtype of every other
suite; so each (level, float64 or not) is a pass that runs in a process of its
own (:func:`plan`), a ``python -m benchmarks.bench`` started with that
environment, whose rows this run collects. Every row and target names its level.

A full run should take about 40 minutes on two otherwise idle cores (an
estimate from the times of its parts on an AMD EPYC; beside other jobs, more):
the scaling table and the 20-layer MLP step take about a third of it, the
float64 and AVX2 passes another third. To keep it so, the scaling table, whose
sizes the in-cache and 2^24 rows measure more closely, takes 6 reps, and each
model 5 paired compiles.

The suites live in ``benchmarks.elementwise`` (the registry of functions),
``benchmarks.parametric`` and ``benchmarks.models``; the targets in
``benchmarks.targets``; the markdown and the plot in ``benchmarks.report``.
Only the public ``jaxact`` API is used.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import jax

from benchmarks.elementwise import (
    ELEMENTWISE,
    profile_elementwise,
    progress,
    time_eager,
    time_elementwise,
    time_in_cache,
    time_scaling,
)
from benchmarks.mca import static_profile
from benchmarks.models import time_mlp, time_models
from benchmarks.parametric import time_maxout, time_prelu
from benchmarks.report import plot_scaling, render_markdown
from benchmarks.targets import check_targets
from harness import runs
from harness.files import ResultError, read_json, write_text
from harness.runs import RunError
from harness.timing import (
    cpu_isa_extensions,
    isa_info,
    machine_info,
    machine_line,
    xla_isa_cap,
)

DEFAULT_OUT = Path(__file__).resolve().parent / "results"
# Where a quick or partial run writes unless --out says otherwise (git-ignored):
# beside the committed results, never over them.
DEFAULT_QUICK_OUT = Path(__file__).resolve().parent / "results-quick"
WRITTEN = ("bench.json", "bench.md", "bench_scaling.png")


def with_static_cost(rows: list[dict], names: Sequence[str], dtype) -> list[dict]:
    """The profile rows with ``cycles_per_element``: the static cost of each
    contender's compiled loops (:mod:`benchmarks.mca`), None where it could
    not be measured (the tools missing, a loop that calls out)."""
    static = static_profile(names, str(jax.numpy.dtype(dtype)))
    cost = {}
    if isinstance(static, list):
        for row in static:
            cost[row["name"], row["mode"], "jaxact"] = row["jaxact_cycles"]
            cost[row["name"], row["mode"], row["reference"]] = row["reference_cycles"]
    return [{**row, "cycles_per_element": cost.get((row["name"], row["mode"], row["contender"]))}
            for row in rows]


def _config(quick: bool) -> dict:
    if quick:
        tiny = {"vocab": 32, "seq": 8, "batch": 2, "width": 16, "heads": 2, "layers": 1}
        return {"quick": True, "n": 1 << 12, "reps": 2,
                "in_cache_sizes": [1 << 12], "in_cache_reps": 2,
                "eager": {"n": 128, "reps": 2, "number": 2},
                "scaling_sizes": [1 << 10, 1 << 12], "scaling_reps": 2,
                "prelu_channels": 16, "maxout": (64, 32, 32, 4),
                "mlp_small": {"depth": 3, "width": 32, "batch": 8}, "mlp_small_reps": 2,
                "mlp": {"depth": 3, "width": 64, "batch": 16}, "mlp_reps": 2,
                "compile_reps": 1,
                "models": {"gpt2": {**tiny, "hidden": 64}, "llama": {**tiny, "hidden": 48},
                           "pinn": {"widths": [2, 8, 1], "points": 16}},
                "model_reps": 2, "model_compile_reps": 1}
    decoder = {"vocab": 512, "seq": 64, "batch": 8, "width": 128, "heads": 4, "layers": 2}
    return {"quick": False, "n": 1 << 24, "reps": 10,
            "in_cache_sizes": [1 << 16, 1 << 18, 1 << 20], "in_cache_reps": 10,
            "eager": {"n": 128, "reps": 10, "number": 20},
            "scaling_sizes": [1 << k for k in range(10, 27, 2)], "scaling_reps": 6,
            "prelu_channels": 64, "maxout": (2048, 512, 512, 4),
            "mlp_small": {"depth": 4, "width": 256, "batch": 64}, "mlp_small_reps": 20,
            "mlp": {"depth": 20, "width": 1024, "batch": 512}, "mlp_reps": 10,
            "compile_reps": 5,
            # LLaMA's MLP width, 8/3 of the model's, rounded to a multiple of 8.
            "models": {"gpt2": {**decoder, "hidden": 512}, "llama": {**decoder, "hidden": 344},
                       "pinn": {"widths": [2, 64, 64, 64, 1], "points": 1024}},
            "model_reps": 30, "model_compile_reps": 5}


SUITES = ("elementwise", "in_cache", "eager", "parametric", "mlp_small", "mlp", "models",
          "scaling", "profile")
ISA_LEVELS = ("default", "AVX2")
# The value of --xla_cpu_max_isa each level sets (None: no cap, the CPU's best).
ISA_CAPS = {"default": None, "AVX2": "AVX2"}
DTYPES = ("float32", "bfloat16", "float64")
# The suites that the AVX2 pass repeats: those whose targets issue 20 sets at
# both ISA levels. The others (eager calls, the scaling plot, the MLP steps,
# PReLU and Maxout, the HLO profile, which the ISA does not change) run at the
# default level only.
ISA_SUITES = ("elementwise", "in_cache", "models")
# The suites with rows per dtype (--dtypes); the others measure float32 only.
DTYPE_SUITES = ("elementwise", "models", "profile")
# Set in the environment of a pass's process: it must run its pass itself.
_CHILD_ENV = "JAXACT_BENCH_PASS"
REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Pass:
    """What one process measures: its ISA level, whether float64 is on, its suites
    and the dtypes of its per-dtype suites."""

    isa: str
    x64: bool
    suites: tuple[str, ...]
    dtypes: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"{self.isa} ISA, {'float64' if self.x64 else 'float32 and bfloat16'}"


def plan(suites: Sequence[str], isas: Sequence[str], dtypes: Sequence[str]) -> list[Pass]:
    """The passes a run needs, one process each.

    float64 needs ``JAX_ENABLE_X64``, which would change the default dtype of
    every other suite, and XLA reads ``--xla_cpu_max_isa`` once, when its CPU
    backend starts: so each (ISA level, float64 or not) runs in a process of
    its own. Suites with nothing to measure in a pass are left out of it.
    """
    passes = []
    for isa in ISA_LEVELS:
        if isa not in isas:
            continue
        for x64 in (False, True):
            pass_dtypes = tuple(d for d in DTYPES if d in dtypes and (d == "float64") == x64)
            pass_suites = tuple(
                suite for suite in SUITES
                if suite in suites and (isa == "default" or suite in ISA_SUITES)
                and (bool(pass_dtypes) if suite in DTYPE_SUITES else not x64))
            if pass_suites:
                passes.append(Pass(isa, x64, pass_suites, pass_dtypes))
    return passes


def runs_here(pass_: Pass) -> bool:
    """Whether this process is set up as ``pass_`` needs (its ISA cap and x64 mode)."""
    return (xla_isa_cap() == ISA_CAPS[pass_.isa]
            and bool(jax.config.jax_enable_x64) == pass_.x64)


def _pass_environment(pass_: Pass) -> dict[str, str]:
    env = dict(os.environ)
    flags = [flag for flag in env.get("XLA_FLAGS", "").split()
             if not flag.startswith("--xla_cpu_max_isa=")]
    if ISA_CAPS[pass_.isa]:
        flags.append(f"--xla_cpu_max_isa={ISA_CAPS[pass_.isa]}")
    env["XLA_FLAGS"] = " ".join(flags)
    env["JAX_ENABLE_X64"] = "1" if pass_.x64 else "0"
    env[_CHILD_ENV] = "1"
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO), *filter(None, [env.get("PYTHONPATH")])])
    return env


def _run_in_child(pass_: Pass, config: dict) -> dict:
    """Runs ``pass_`` as ``python -m benchmarks.bench`` in a process set up for it
    and returns its results (its progress goes to this process's stderr)."""
    with tempfile.TemporaryDirectory(prefix="bench-pass-") as out:
        command = [sys.executable, "-m", "benchmarks.bench", "--out", out, "--isa", pass_.isa,
                   "--suites", *pass_.suites, "--functions", *config["functions"],
                   *(["--dtypes", *pass_.dtypes] if pass_.dtypes else []),
                   *(["--quick"] if config["quick"] else [])]
        completed = subprocess.run(command, cwd=REPO, env=_pass_environment(pass_),
                                   stdout=subprocess.DEVNULL, check=False)
        if completed.returncode != 0:
            raise RunError(f"the pass at the {pass_.label} failed (exit status "
                           f"{completed.returncode}; its messages are above)")
        return read_part(Path(out) / "bench.json")


def measure_pass(pass_: Pass, config: dict) -> dict:
    """Runs the suites of ``pass_`` in this process: suite -> rows, each row tagged
    with the ISA level, and ``passes``, the one pass's description."""
    start = time.perf_counter()
    names = config["functions"]
    measure = {
        "elementwise": lambda: [
            row for dtype in pass_.dtypes
            for row in time_elementwise(names, config["n"], config["reps"], dtype)
        ],
        "in_cache": lambda: time_in_cache(names, config["in_cache_sizes"],
                                          config["in_cache_reps"]),
        "eager": lambda: time_eager(names, **config["eager"]),
        "parametric": lambda: (
            time_prelu(config["n"], config["prelu_channels"], config["reps"])
            + time_maxout(*config["maxout"], config["reps"])
        ),
        "mlp_small": lambda: time_mlp(names, **config["mlp_small"],
                                      reps=config["mlp_small_reps"], model="mlp_small"),
        "mlp": lambda: time_mlp(names, **config["mlp"], reps=config["mlp_reps"],
                                compile_reps=config["compile_reps"]),
        # A quick run compiles each model once, without the warm-up compile.
        "models": lambda: time_models(names, pass_.dtypes, config["models"],
                                      config["model_reps"], config["model_compile_reps"],
                                      warm_up=not config["quick"]),
        "scaling": lambda: time_scaling(names, config["scaling_sizes"], config["scaling_reps"]),
        "profile": lambda: [row for dtype in pass_.dtypes
                            for row in with_static_cost(profile_elementwise(names, dtype),
                                                        names, dtype)],
    }
    part: dict = {suite: [] for suite in SUITES}
    for suite in runs.progress_bar(pass_.suites, desc=f"bench suites ({pass_.label})",
                                   unit="suite"):
        part[suite] = [{**row, "isa": pass_.isa} for row in measure[suite]()]
    part["passes"] = [{"isa": pass_.isa, "x64": pass_.x64, "suites": list(pass_.suites),
                       "dtypes": list(pass_.dtypes), "xla_isa": isa_info(),
                       "wall_s": time.perf_counter() - start}]
    return part


def run(quick: bool = False, names: Sequence[str] | None = None,
        suites: Sequence[str] = SUITES, isas: Sequence[str] = ISA_LEVELS,
        dtypes: Sequence[str] = DTYPES) -> dict:
    """Runs the benchmarks and returns the results (what bench.json holds).

    ``names`` restricts the elementwise suites and the models (by their
    activation) to those functions of
    :data:`benchmarks.elementwise.ELEMENTWISE` (default: all of them);
    ``suites`` to those of :data:`SUITES` (the others give no rows); ``isas``
    to those of :data:`ISA_LEVELS`; ``dtypes`` the per-dtype suites to those
    of :data:`DTYPES`. Each pass of :func:`plan` that this process is not set
    up for runs in a child process.

    Raises:
        RunError: a pass's process failed, or this process is such a child
            and not set up for its pass.
    """
    start = time.perf_counter()
    config = {**_config(quick), "functions": list(ELEMENTWISE if names is None else names),
              "suites": list(suites), "isas": list(isas), "dtypes": list(dtypes)}
    machine = machine_info()
    progress(machine_line(machine))
    results: dict = {"machine": machine, "config": config,
                     "cpu_isa_extensions": cpu_isa_extensions(), "passes": []}
    for suite in SUITES:
        results[suite] = []
    # The pass this process is set up for first, then the others' processes.
    passes = sorted(plan(suites, isas, dtypes), key=lambda p: not runs_here(p))
    for pass_ in passes:
        if pass_.isa == "AVX2" and "avx2" not in results["cpu_isa_extensions"]:
            # A cap above what the CPU has changes nothing, and XLA knows no
            # x86 cap on other architectures.
            results["passes"].append({"isa": pass_.isa, "x64": pass_.x64,
                                      "suites": list(pass_.suites),
                                      "dtypes": list(pass_.dtypes),
                                      "xla_isa": "not run: the CPU has no AVX2", "wall_s": 0.0})
            progress(f"the {pass_.label} is left out: the CPU has no AVX2")
            continue
        if runs_here(pass_):
            part = measure_pass(pass_, config)
        elif os.environ.get(_CHILD_ENV):
            raise RunError(f"a pass's process is not set up for the {pass_.label} "
                           "(XLA_FLAGS or JAX_ENABLE_X64 differ)")
        else:
            progress(f"the {pass_.label} runs in a process of its own")
            part = _run_in_child(pass_, config)
        for suite in SUITES:
            results[suite] += part[suite]
        results["passes"] += part["passes"]
    results["targets"] = check_targets(results)
    results["wall_s"] = time.perf_counter() - start
    return results


def merge(parts: Sequence[dict]) -> dict:
    """One result from partial runs (``--suites``), each suite's rows from the runs
    that measured it; the targets are checked anew. For a bench run in pieces,
    e.g. where one command may only run a few minutes."""
    first = parts[0]
    results: dict = {"machine": first["machine"], "config": dict(first["config"]),
                     "cpu_isa_extensions": first.get("cpu_isa_extensions"),
                     "passes": [p for part in parts for p in part.get("passes", [])]}
    results["config"]["parts"] = [
        {"date": part["machine"]["date"], "suites": part["config"]["suites"],
         "functions": part["config"]["functions"], "wall_s": part["wall_s"]}
        for part in parts
    ]
    for key, order in (("suites", SUITES), ("isas", ISA_LEVELS), ("dtypes", DTYPES)):
        results["config"][key] = [
            value for value in order
            if any(value in part["config"].get(key, ()) for part in parts)]
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


def is_full(quick: bool, functions, suites, isas=ISA_LEVELS, dtypes=DTYPES) -> bool:
    """True for what a full run measures: full sizes, every function, suite, ISA
    level and dtype."""
    return (not quick and set(functions) == set(ELEMENTWISE) and set(suites) == set(SUITES)
            and set(isas) == set(ISA_LEVELS) and set(dtypes) == set(DTYPES))


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
    parser.add_argument("--isa", nargs="+", choices=ISA_LEVELS, default=None, metavar="LEVEL",
                        help="measure only at these ISA levels: default (the best the CPU "
                        "has) and AVX2 (--xla_cpu_max_isa=AVX2, in a process of its own; "
                        f"suites {', '.join(ISA_SUITES)}) (default: both)")
    parser.add_argument("--dtypes", nargs="+", choices=DTYPES, default=None, metavar="DTYPE",
                        help="the dtypes of the per-dtype suites "
                        f"({', '.join(DTYPE_SUITES)}; float64 in a process of its own with "
                        f"JAX_ENABLE_X64=1) (default: all of {', '.join(DTYPES)})")
    parser.add_argument("--merge", nargs="+", type=Path, metavar="JSON",
                        help="measure nothing: write the report of these partial runs' "
                        "bench.json files together")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.merge and (args.quick or args.functions or args.suites or args.isa
                       or args.dtypes):
        parser.error("--merge measures nothing: --quick, --functions, --suites, --isa and "
                     "--dtypes do not apply to it")
    functions = args.functions or list(ELEMENTWISE)
    suites = args.suites or list(SUITES)
    isas = args.isa or list(ISA_LEVELS)
    dtypes = args.dtypes or list(DTYPES)
    try:
        # Everything that can be checked is checked before the work starts.
        parts = [read_part(path) for path in args.merge or ()]
        if parts:
            full = is_full(
                any(part["config"].get("quick", False) for part in parts),
                [name for part in parts for name in part["config"]["functions"]],
                [suite for part in parts for suite in part["config"]["suites"]],
                # (Parts written before the bench measured them name no ISA
                # levels or dtypes: theirs were these.)
                [isa for part in parts for isa in part["config"].get("isas", ["default"])],
                [dtype for part in parts
                 for dtype in part["config"].get("dtypes", ["float32", "bfloat16"])])
        else:
            full = is_full(args.quick, functions, suites, isas, dtypes)
        out = args.out if args.out is not None else DEFAULT_OUT if full else DEFAULT_QUICK_OUT
        runs.prepare_out(out, create=True)
        with runs.exclusive(out, ".bench.lock"):
            runs.remove_temporaries(out, WRITTEN)
            if parts:
                results = merge(parts)
            else:
                results = run(quick=args.quick, names=args.functions, suites=suites,
                              isas=isas, dtypes=dtypes)
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
