"""Command line: ``python -m experiments NAME|all|report [options]``.

Each experiment writes ``NAME.png`` then ``NAME.json`` (its numbers and
verdicts) into ``--out`` (default ``experiments/results``; with ``--quick``,
``experiments/results-quick``, so a smoke run never overwrites the committed
results). ``REPORT.md`` is regenerated from all JSON files present after every
run; ``report`` redraws the figures and the report from the JSON alone.

Resuming: ``all`` keeps a manifest (``.run-manifest.json``) of its key (every
option that changes results: data set, data directory and a digest of the data,
seeds, quick, the JAX backend and device count, a digest of the code) and of the
SHA-256 of each file it wrote. Started again with the same key after an
interruption, it skips the experiments whose files still have those digests;
anything else (another key, files written by another run, ``--force``, a
completed run) is measured afresh.

One run at a time per ``--out`` (a lock file, ``filelock``); Ctrl-C exits with 130 leaving
no half-written file (writes are atomic; a killed run's temporary files are
removed by the next run). Bad input (data files, result files, an unusable
``--out``) is one line on stderr naming the file, and exit status 2.
"""

from __future__ import annotations

import _thread
import contextlib
import hashlib
import importlib
import os
import sys
import threading
import time
from pathlib import Path

import jax

from experiments import EXPERIMENT_NAMES, report
from experiments.common import (
    ResultError,
    RunOptions,
    load_data,
    read_json,
    read_result,
    write_json,
)
from experiments.data import DATASET_NAMES, DataError, fingerprint
from harness import runs
from harness.runs import RunError
from harness.timing import machine_line

DEFAULT_OUT = Path(__file__).resolve().parent / "results"
# Quick runs are smoke runs: by default they write beside the committed results
# (git-ignored), never over them, so a quick run cannot flip REPORT.md's verdicts.
DEFAULT_QUICK_OUT = Path(__file__).resolve().parent / "results-quick"


def _parser() -> runs.ArgumentParser:
    parser = runs.ArgumentParser(
        prog="python -m experiments",
        description="Measure the classic claims about activation functions on real data.",
    )
    parser.add_argument("name", choices=(*EXPERIMENT_NAMES, "all", "report"))
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for the tests")
    parser.add_argument("--seeds", type=int, default=5, help="seeds per configuration (>= 1)")
    parser.add_argument(
        "--out", type=Path, default=None,
        help="results directory (default experiments/results, "
        "or experiments/results-quick with --quick)",
    )
    parser.add_argument("--dataset", default="digits", choices=DATASET_NAMES)
    parser.add_argument("--data-dir", default=None, help="directory of the data set's files")
    parser.add_argument("--force", action="store_true", help="rerun finished experiments")
    return parser


def _experiment(name: str):
    """The experiment's module (one place, so the runner's tests can stub training)."""
    return importlib.import_module(f"experiments.{name}")


def run_experiment(name: str, options: RunOptions) -> dict:
    """Runs one experiment and writes its PNG, then its JSON (the JSON marks it done)."""
    module = _experiment(name)
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


_MANIFEST = ".run-manifest.json"
_LOCK = ".lock"
_REPO = Path(__file__).resolve().parents[1]
# The code whose change changes results: a run resumed after editing it starts afresh.
_CODE_DIRS = ("experiments", "harness", "jaxact")


def _code_digest() -> str:
    digest = hashlib.sha256()
    for directory in _CODE_DIRS:
        for path in sorted((_REPO / directory).rglob("*.py")):
            digest.update(str(path.relative_to(_REPO)).encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def run_key(options: RunOptions) -> dict:
    """Everything a result depends on; ``all`` resumes only a run with the same key.

    Loads the data set (once per process: the experiments reuse it), so a bad
    data file is reported before any work.
    """
    data_dir = None if options.data_dir is None else str(Path(options.data_dir).resolve())
    return {
        "dataset": options.dataset,
        "data_dir": data_dir,
        "data_sha256": fingerprint(load_data(options)),
        "seeds": options.seeds,
        "quick": options.quick,
        # Sharding over more devices reorders the batch reductions, and the
        # cost experiment times the backend.
        "backend": jax.default_backend(),
        "device_count": jax.device_count(),
        "jax": jax.__version__,
        "code_sha256": _code_digest(),
    }


def _file_digest(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _written_files(name: str) -> tuple[str, ...]:
    return (f"{name}.png", f"{name}.json")


def _read_manifest(out: Path) -> dict | None:
    """The manifest of the last ``all`` in ``out``, or None if there is no usable one."""
    try:
        manifest = read_json(out / _MANIFEST)
    except ResultError:
        return None
    if not isinstance(manifest.get("key"), dict) or not isinstance(manifest.get("files"), dict):
        return None
    return manifest


def _resumable(out: Path, key: dict, force: bool) -> dict[str, dict]:
    """The experiments an interrupted ``all`` with this key finished, with their digests."""
    manifest = _read_manifest(out)
    if force or manifest is None or manifest.get("state") != "running":
        return {}
    if manifest["key"] != key:
        earlier = manifest["key"]
        changed = sorted(k for k in {*key, *earlier} if key.get(k) != earlier.get(k))
        print(f"[experiments] the interrupted run in {out} had other options "
              f"({', '.join(changed)} differ): starting afresh")
        return {}
    return {
        name: digests for name, digests in manifest["files"].items()
        if name in EXPERIMENT_NAMES and isinstance(digests, dict)
        and set(digests) == set(_written_files(name))
        and all(_file_digest(out / file) == digest for file, digest in digests.items())
    }


def _write_manifest(out: Path, state: str, key: dict, files: dict) -> None:
    write_json(out / _MANIFEST, {"state": state, "key": key, "files": files})


@contextlib.contextmanager
def _exclusive(out: Path):
    """Holds ``out``'s lock for one run (a second run on ``out`` gets a clear error)
    and removes the temporary files a killed run left there."""
    with runs.exclusive(out, _LOCK):
        _remove_orphans(out)
        yield


def _remove_orphans(out: Path) -> None:
    """Deletes temporary files a killed run left (only ours, and only under the lock)."""
    targets = [file for name in EXPERIMENT_NAMES for file in _written_files(name)]
    for name in runs.remove_temporaries(out, [*targets, "REPORT.md", _MANIFEST]):
        print(f"[experiments] removed {name}, left by an interrupted run")


def _report(options: RunOptions) -> None:
    """Figures and report again from the JSON alone: no training."""
    for name, path in report.result_paths(options.out).items():
        result = read_result(path)
        try:
            _experiment(name).plot(result, options.out / f"{name}.png")
        except (KeyError, IndexError, TypeError, ValueError) as error:
            raise ResultError(
                f"{path}: cannot draw {name}.png from it ({type(error).__name__}: {error})"
            ) from None
    print(f"[experiments] report: {report.write_report(options.out)}")


def _run(args, options: RunOptions) -> None:
    if args.name == "report":
        runs.prepare_out(options.out, create=False)
        with _exclusive(options.out):
            _report(options)
        return
    runs.prepare_out(options.out, create=True)
    with _exclusive(options.out):
        names = EXPERIMENT_NAMES if args.name == "all" else (args.name,)
        finished: dict[str, dict] = {}
        key = None
        if args.name == "all":
            key = run_key(options)
            finished = _resumable(options.out, key, args.force)
            if finished:
                print(f"[experiments] resuming the interrupted run in {options.out}: "
                      f"{len(finished)} of {len(names)} experiments finished")
            _write_manifest(options.out, "running", key, finished)
        for name in runs.progress_bar(names, desc="experiments", unit="experiment"):
            if name in finished:
                print(f"[experiments] {name}: finished before the interruption, skipped")
                continue
            started = time.perf_counter()
            run_experiment(name, options)
            print(f"[experiments] {name}: {time.perf_counter() - started:.1f} s")
            if args.name == "all":
                finished[name] = {
                    file: _file_digest(options.out / file) for file in _written_files(name)
                }
                _write_manifest(options.out, "running", key, finished)
        if args.name == "all":
            _write_manifest(options.out, "complete", key, finished)
        print(f"[experiments] report: {report.write_report(options.out)}")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.seeds < 1:
        _parser().error(f"--seeds must be >= 1, got {args.seeds}")
    if args.out is None:
        args.out = DEFAULT_QUICK_OUT if args.quick else DEFAULT_OUT
    options = RunOptions(
        quick=args.quick, seeds=args.seeds, out=args.out, dataset=args.dataset,
        data_dir=args.data_dir,
    )
    try:
        _run(args, options)
    except (RunError, DataError, ResultError) as error:
        print(f"python -m experiments: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        # Every file is written atomically, so nothing is half-written; the
        # manifest lists what finished.
        resume = " (run `all` again with the same options to resume)" if args.name == "all" else ""
        print(f"python -m experiments: interrupted{resume}", file=sys.stderr)
        return 130
    return 0


def _redeliver_dropped_interrupt(unraisable) -> None:
    """``sys.unraisablehook``: a Ctrl-C that CPython dropped is raised again.

    An exception raised inside a ``__del__``, a weakref callback or a
    garbage-collector callback (jax registers one that runs at every
    collection) is printed and dropped. A KeyboardInterrupt that arrived
    there was lost and the run went on to the end. It is delivered again a
    moment later from another thread (delivered at once, it would be raised
    inside this hook and dropped too), and if it lands in such a place again
    it comes back here.
    """
    if issubclass(unraisable.exc_type, KeyboardInterrupt):
        threading.Timer(0.01, _thread.interrupt_main).start()
        return
    sys.__unraisablehook__(unraisable)


if __name__ == "__main__":
    sys.unraisablehook = _redeliver_dropped_interrupt
    status = main()
    if status == 130:
        # Interrupted: skip the interpreter's teardown, which can crash
        # (SIGSEGV) while XLA's threads still run the interrupted computation.
        # Every file is already written or removed, and the lock released.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    sys.exit(status)
