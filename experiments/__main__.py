"""Command line: ``python -m experiments NAME|all [options]``.

Each experiment writes ``NAME.json`` (its numbers and verdicts) and
``NAME.png`` into ``--out``; the report ``REPORT.md`` is regenerated from all
JSON files present after every run (``report`` redraws the figures and the
report from the JSON files alone, training nothing). An interrupted ``all`` resumes
where it stopped: started again with the same options, it skips the experiments
whose JSON was written (last, atomically) before the interruption; ``--force``
reruns them. A completed ``all`` is measured afresh the next time.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

import jax

from benchmarks.timing import machine_line
from experiments import EXPERIMENT_NAMES, report
from experiments.common import RunOptions, read_json, write_json
from experiments.data import DATASET_NAMES, DataError

DEFAULT_OUT = Path(__file__).resolve().parent / "results"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m experiments",
        description="Measure the classic claims about activation functions on real data.",
    )
    parser.add_argument("name", choices=(*EXPERIMENT_NAMES, "all", "report"))
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for the tests")
    parser.add_argument("--seeds", type=int, default=5, help="seeds per configuration (>= 1)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results directory")
    parser.add_argument("--dataset", default="digits", choices=DATASET_NAMES)
    parser.add_argument("--data-dir", default=None, help="directory of the data set's files")
    parser.add_argument("--force", action="store_true", help="rerun finished experiments")
    return parser


def run_experiment(name: str, options: RunOptions) -> dict:
    """Runs one experiment and writes its PNG, then its JSON (the JSON marks it done)."""
    module = importlib.import_module(f"experiments.{name}")
    started = time.perf_counter()
    results = module.run(options)
    results["figure"] = f"{name}.png"
    results["meta"] = {
        "experiment": name,
        "dataset": options.dataset,
        "seeds": options.seeds,
        "quick": options.quick,
        "seconds": round(time.perf_counter() - started, 2),
        # The bench's description of the machine, so both reports name it alike.
        "machine": f"{machine_line()}, "
        f"{jax.device_count()} device(s)",
    }
    module.plot(results, options.out / f"{name}.png")
    results["claims"] = module.claims(results)
    write_json(options.out / f"{name}.json", results)
    return results


_IN_PROGRESS = ".all-in-progress.json"


def _options_record(options: RunOptions) -> dict:
    """The options that change results; a resumed run must share them."""
    return {"dataset": options.dataset, "seeds": options.seeds, "quick": options.quick}


def _read_marker(path) -> dict | None:
    try:
        return read_json(path)
    except (OSError, ValueError):
        return None


def _finished_with(path, wanted: dict) -> bool:
    """True if ``path`` holds a finished experiment run with the ``wanted`` options."""
    try:
        meta = read_json(path)["meta"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return all(meta.get(key) == value for key, value in wanted.items())


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.seeds < 1:
        _parser().error(f"--seeds must be >= 1, got {args.seeds}")
    options = RunOptions(
        quick=args.quick, seeds=args.seeds, out=args.out, dataset=args.dataset,
        data_dir=args.data_dir,
    )
    if args.name == "report":
        # Figures and report again from the JSON alone: no training.
        for name in EXPERIMENT_NAMES:
            path = options.out / f"{name}.json"
            if path.exists():
                module = importlib.import_module(f"experiments.{name}")
                module.plot(read_json(path), options.out / f"{name}.png")
        print(f"[experiments] report: {report.write_report(options.out)}")
        return 0
    names = EXPERIMENT_NAMES if args.name == "all" else (args.name,)
    # ``all`` leaves a marker while it runs. Finding one from an earlier ``all``
    # with the same options means that run was interrupted: its finished
    # experiments are kept. Without one (a finished run, or results committed
    # from another machine), ``all`` measures everything again.
    marker = options.out / _IN_PROGRESS
    wanted = _options_record(options)
    resuming = (
        args.name == "all" and not args.force and marker.exists() and _read_marker(marker) == wanted
    )
    if args.name == "all":
        options.out.mkdir(parents=True, exist_ok=True)
        write_json(marker, wanted)
    try:
        for name in names:
            if resuming and _finished_with(options.out / f"{name}.json", wanted):
                print(f"[experiments] {name}: finished before the interruption, skipped")
                continue
            started = time.perf_counter()
            run_experiment(name, options)
            print(f"[experiments] {name}: {time.perf_counter() - started:.1f} s")
    except DataError as error:
        print(f"python -m experiments: {error}", file=sys.stderr)
        return 2
    if args.name == "all":
        marker.unlink()
    path = report.write_report(options.out)
    print(f"[experiments] report: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
