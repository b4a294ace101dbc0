"""Result files: atomic writes, JSON without NaN, one-line errors naming the file.

The one home of how the benchmarks and the experiments write their results,
so that a run killed half-way never leaves a truncated file in either.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import numpy as np


def _json_default(value: Any):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


def _finite_or_none(value):
    """JSON has no NaN or inf; they become null (a diverged run, a target never reached)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite_or_none(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_or_none(item) for item in value]
    return value


class ResultError(ValueError):
    """A result file or directory cannot be used; the message names it."""


def _tmp_prefix(name: str) -> str:
    return f".{name}."


_TMP_SUFFIX = ".tmp"


def is_temporary_of(file_name: str, target_name: str) -> bool:
    """True if ``file_name`` is a temporary file of an atomic write of ``target_name``.

    Such a file outlives its write only when the process was killed (SIGKILL,
    power loss) between creating and renaming it.
    """
    # mkstemp's random part is letters, digits and underscores.
    pattern = re.escape(_tmp_prefix(target_name)) + r"[A-Za-z0-9_]+" + re.escape(_TMP_SUFFIX)
    return re.fullmatch(pattern, file_name) is not None


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    # Write beside the target and rename: a run killed half-way leaves either
    # the old file or the new one, never a truncated file that `all` would
    # mistake for a finished experiment.
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(
        dir=path.parent, prefix=_tmp_prefix(path.name), suffix=_TMP_SUFFIX
    )
    try:
        with os.fdopen(handle, "wb") as tmp:
            tmp.write(data)
        # mkstemp creates the file 0600; give it the mode any new file gets.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_name, 0o666 & ~umask)
        os.replace(tmp_name, path)
    except BaseException:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)
        raise


def write_json(path: Path, payload: dict) -> None:
    plain = json.loads(json.dumps(payload, default=_json_default))
    text = json.dumps(_finite_or_none(plain), indent=1, allow_nan=False) + "\n"
    _atomic_write_bytes(Path(path), text.encode())


def read_json(path: Path) -> dict:
    """The JSON object in ``path``; :class:`ResultError` naming the file if there is none."""
    path = Path(path)
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ResultError(f"{path}: file not found") from None
    except OSError as error:
        raise ResultError(f"{path}: cannot read file ({error.strerror or error})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ResultError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(value, dict):
        raise ResultError(f"{path}: expected a JSON object, found {type(value).__name__}")
    return value


def write_text(path: Path, text: str) -> None:
    _atomic_write_bytes(Path(path), text.encode())


def save_figure(figure, path: Path) -> None:
    """Saves a matplotlib figure atomically and closes it."""
    import io

    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.tight_layout()  # keeps one row's axis labels off the next row's titles
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    _atomic_write_bytes(Path(path), buffer.getvalue())
