"""Options, result checks and verdict rules shared by every experiment.

The result files themselves are written and read by ``harness.files``, which
the benchmarks share; its names are imported here so that an experiment
imports everything it writes with from one module.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np

from harness.files import (  # noqa: F401  (re-exported for the experiments)
    ResultError,
    is_temporary_of,
    read_json,
    save_figure,
    write_json,
    write_text,
)

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
