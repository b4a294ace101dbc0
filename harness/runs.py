"""What the command lines share: their checks before any work, a lock per output, progress.

``python -m benchmarks.bench``, ``python -m benchmarks.accuracy`` and
``python -m experiments`` check every argument and their output directory
before the work starts, report a problem in one line (exit status 2), let one
run at a time write to an output, and show progress bars on a terminal.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import filelock
from tqdm.auto import tqdm

from harness.files import is_temporary_of


class RunError(Exception):
    """The command cannot run as asked; the message is the one line to print."""


class ArgumentParser(argparse.ArgumentParser):
    """argparse whose errors are one line, ``prog: message``, with exit status 2.

    argparse prints the usage block before the message; a run that stops at
    once should say only what was wrong (``--help`` gives the usage).
    """

    def error(self, message: str):
        self.exit(2, f"{self.prog}: {message} (see --help)\n")


def prepare_out(out: Path, *, create: bool) -> None:
    """Checks an output directory before any work, so a bad one fails at once in one line.

    Raises:
        RunError: ``out`` is a file (or lies under one), or is missing and
            ``create`` is false, or cannot be created.
    """
    if out.exists() and not out.is_dir():
        raise RunError(f"{out}: --out is not a directory")
    if not out.exists():
        if not create:
            raise RunError(f"{out}: no such results directory")
        try:
            out.mkdir(parents=True)
        except OSError as error:
            raise RunError(f"{out}: cannot create --out ({error.strerror or error})") from None


def _holder() -> str:
    command = " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv else "python"
    return f"pid {os.getpid()}, started {time.strftime('%Y-%m-%d %H:%M:%S')}, {command}"


@contextlib.contextmanager
def exclusive(out: Path, lock_name: str = ".lock") -> Iterator[None]:
    """Holds the lock ``out / lock_name`` for one run; a second run gets a one-line error.

    An OS lock (``filelock`` takes flock on POSIX) rather than a marker file:
    the OS releases it when the process dies, so a killed run never leaves a
    stale lock behind. The holder writes its process id, start time and command
    into the lock file, which the refused run quotes.

    Raises:
        RunError: ``out`` is not writable, or another run holds the lock.
    """
    path = out / lock_name
    try:
        # filelock would report an unwritable directory as a lock it could not
        # take (and retry); opening the file first gives the OS's reason.
        open(path, "a").close()
    except OSError as error:
        raise RunError(f"{out}: cannot write to --out ({error.strerror or error})") from None
    lock = filelock.FileLock(path, timeout=0)
    try:
        lock.acquire()
    except filelock.Timeout:
        try:
            holder = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError):
            holder = ""
        raise RunError(
            f"{out}: another run is writing here ({holder or 'another process'}; lock "
            f"{path.name}); wait for it to finish or choose another --out"
        ) from None
    try:
        # Truncating through another descriptor keeps the lock: flock belongs to
        # the open file that filelock holds, not to the file's contents.
        path.write_text(_holder() + "\n", encoding="utf-8")
        yield
    finally:
        lock.release()


def remove_temporaries(out: Path, targets: Sequence[str]) -> list[str]:
    """Deletes the temporary files that killed atomic writes of ``targets`` left in ``out``.

    Call it holding ``out``'s lock: then no other run is writing them.
    Returns the names removed.
    """
    removed = []
    for path in out.iterdir():
        if any(is_temporary_of(path.name, target) for target in targets):
            path.unlink(missing_ok=True)
            removed.append(path.name)
    return removed


def progress_bar(iterable: Iterable, *, desc: str, disable: bool | None = None, **kwargs):
    """A tqdm bar on stderr; by default shown only on a terminal (not in logs or tests)."""
    return tqdm(iterable, desc=desc, file=sys.stderr, disable=disable, dynamic_ncols=True,
                **kwargs)
