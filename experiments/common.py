"""Options, result files and verdict rules shared by every experiment."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

HOLDS = "holds"
DOES_NOT_HOLD = "does not hold"


def depends(on: str) -> str:
    return f"depends on {on}"


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """What the command line chose; every experiment reads its sizes from here."""

    quick: bool = False
    seeds: int = 5
    out: Path = Path("experiments/results")
    dataset: str = "digits"
    data_dir: str | None = None


def claim(claim_id: str, text: str, measured: str, verdict: str, figure: str) -> dict:
    """One row of the report: the claim as the source states it and what we found."""
    return {
        "id": claim_id,
        "claim": text,
        "measured": measured,
        "verdict": verdict,
        "figure": figure,
    }


def mean_std(values) -> tuple[float, float]:
    """Mean and (population) standard deviation over the finite entries."""
    values = np.asarray(values, dtype=np.float64).ravel()
    values = values[np.isfinite(values)]
    if values.size == 0:
        return math.nan, math.nan
    return float(values.mean()), float(values.std())


def fmt(mean: float, std: float | None = None, digits: int = 3) -> str:
    """'0.123 ± 0.004', the form every measured number takes in the report."""
    if std is None:
        return f"{mean:.{digits}g}"
    return f"{mean:.{digits}g} ± {std:.2g}"


def clearly_less(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """True when mean a is below mean b by more than the two spreads together.

    The rule every 'X is smaller/faster than Y' verdict uses, so a difference
    inside the seed-to-seed noise never counts as a result.
    """
    (mean_a, std_a), (mean_b, std_b) = a, b
    return mean_a + std_a < mean_b - std_b


def compare_verdict(a, b, *, noise_means: str = "seed-to-seed noise") -> str:
    """'holds' if a is clearly below b, 'does not hold' if clearly above, else 'depends'."""
    if clearly_less(a, b):
        return HOLDS
    if clearly_less(b, a):
        return DOES_NOT_HOLD
    return depends(f"{noise_means}: the difference is within the spread over seeds")


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


_META_KEYS = ("experiment", "dataset", "seeds", "quick", "seconds", "machine")
_CLAIM_KEYS = ("id", "claim", "measured", "verdict", "figure")


def read_result(path: Path) -> dict:
    """An experiment's result file, checked for what the report reads from it.

    Raises:
        ResultError: naming ``path``, when it is unreadable, not JSON, or lacks
            the ``meta`` or ``claims`` entries an experiment run writes.
    """
    result = read_json(path)
    meta, claims = result.get("meta"), result.get("claims")
    if not isinstance(meta, dict) or any(key not in meta for key in _META_KEYS):
        raise ResultError(
            f"{path}: not an experiment result (its 'meta' needs {', '.join(_META_KEYS)})"
        )
    if not isinstance(claims, list) or not all(
        isinstance(row, dict) and all(key in row for key in _CLAIM_KEYS) for row in claims
    ):
        raise ResultError(
            f"{path}: not an experiment result ('claims' must be a list of rows with "
            f"{', '.join(_CLAIM_KEYS)})"
        )
    return result


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


def new_figure(ncols: int = 1, nrows: int = 1, *, width: float = 5.0, height: float = 3.6):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(
        nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False
    )
    return figure, axes


_DATA_CACHE: dict = {}


def load_data(options: RunOptions):
    """The options' data set, read once per process (every experiment shares it)."""
    from experiments.data import load_dataset

    key = (options.dataset, options.data_dir)
    if key not in _DATA_CACHE:
        _DATA_CACHE[key] = load_dataset(options.dataset, options.data_dir)
    return _DATA_CACHE[key]
