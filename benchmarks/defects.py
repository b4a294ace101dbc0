"""Where the installed jax.nn's float32 values and gradients go wrong, against jaxact's.

    python -m benchmarks.defects            # prints a markdown table for this JAX
    python -m benchmarks.defects --out DIR  # and writes DIR/jax_nn_defects-<jax version>.md

A point counts as wrong where jaxact's result (itself within 4 ULP of the
truth, see the Accuracy page) is a normal float32 and jax.nn's differs from it
by more than a relative 1e-3, or is not finite. The inputs are 80,000
log-spaced magnitudes from 1e-3 to the largest float32, of both signs. The
ranges printed are the smallest and largest such input on each side of 0;
inside them a few points may still be right.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import jaxact
from harness.files import write_text
from harness.timing import machine_line

FUNCTIONS = ["sigmoid", "log_sigmoid", "softplus", "silu", "mish", "gelu", "tanh",
             "soft_sign", "elu", "selu", "celu", "squareplus"]
RELATIVE_TOLERANCE = 1e-3


def _inputs() -> np.ndarray:
    magnitudes = np.logspace(-3, np.log10(np.finfo(np.float32).max), 40_000)
    with np.errstate(over="ignore"):  # the last magnitude may round up to inf
        x = np.concatenate([-magnitudes[::-1], magnitudes]).astype(np.float32)
    return x[np.isfinite(x)]


def _wrong_ranges(x: np.ndarray, got, reference) -> str:
    got, reference = np.asarray(got, np.float64), np.asarray(reference, np.float64)
    normal = np.abs(reference) >= np.finfo(np.float32).tiny
    with np.errstate(invalid="ignore"):
        off = np.abs(got - reference) > RELATIVE_TOLERANCE * np.abs(reference)
    wrong = normal & (off | ~np.isfinite(got))
    parts = []
    for side in (x[wrong & (x < 0)], x[wrong & (x > 0)]):
        if side.size:
            parts.append(f"{side.min():.3g} … {side.max():.3g}")
    return ", ".join(parts) or "—"


def table() -> str:
    x = _inputs()
    lines = [f"jax.nn {jax.__version__} against jaxact, float32; {machine_line()}", "",
             "| function | gradient wrong for x in | value wrong for x in |", "|---|---|---|"]
    for name in FUNCTIONS:
        theirs = jnp.tanh if name == "tanh" else getattr(jax.nn, name)
        ours = getattr(jaxact, name)
        rows = [jax.jit(jax.vmap(jax.grad(fn)))(x) for fn in (theirs, ours)]
        values = [jax.jit(fn)(x) for fn in (theirs, ours)]
        lines.append(f"| {name} | {_wrong_ranges(x, *rows)} | {_wrong_ranges(x, *values)} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.defects", description=__doc__)
    parser.add_argument("--out", type=Path, help="directory for jax_nn_defects-<jax>.md")
    args = parser.parse_args(argv)
    text = table()
    print(text, end="")
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        write_text(args.out / f"jax_nn_defects-{jax.__version__}.md", text)


if __name__ == "__main__":
    main()
