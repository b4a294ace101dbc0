"""Opcode counts of the compiled HLO: the profile that explains a missed target."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

import jax

# One HLO instruction per line: "%name = shape opcode(operands), ...", where the
# shape of a tuple is parenthesised and may hold spaces.
_HLO_INSTRUCTION = re.compile(
    r"^\s*(?:ROOT\s+)?%?[\w.-]+\s*=\s*(?:\([^)]*\)|\S+)\s+([a-z][\w-]*)\(", re.M
)
# Opcodes that cost far more than an add on the CPU, and fusions (kernels).
PROFILED_OPCODES = ("exponential", "exponential-minus-one", "log", "log-plus-one", "divide",
                    "tanh", "logistic", "power", "reduce", "fusion")


def hlo_op_counts(fn: Callable, *args) -> dict[str, int]:
    """Opcode counts of the optimised HLO that ``jax.jit(fn)(*args)`` runs,
    plus ``"instructions"``, the total (fused computations included)."""
    return count_opcodes(jax.jit(fn).lower(*args).compile().as_text())


def count_opcodes(hlo_text: str) -> dict[str, int]:
    counts = Counter(_HLO_INSTRUCTION.findall(hlo_text))
    return {"instructions": sum(counts.values()),
            **{opcode: counts.get(opcode, 0) for opcode in PROFILED_OPCODES}}


def hlo_summary(counts: dict) -> str:
    """'N instructions, k exponential, ...': the nonzero counts in one line."""
    parts = [f"{counts['instructions']} instructions"]
    parts += [f"{counts[op]} {op}" for op in PROFILED_OPCODES if counts[op]]
    return ", ".join(parts)
