"""Options, result files and verdict rules shared by every experiment."""

from __future__ import annotations

import dataclasses
import json
import math
import os
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


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    # Write beside the target and rename: a run killed half-way leaves either
    # the old file or the new one, never a truncated file that `all` would
    # mistake for a finished experiment.
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
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
    return json.loads(Path(path).read_text())


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
