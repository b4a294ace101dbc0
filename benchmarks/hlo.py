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
    # The static cost of the compiled loops, where benchmarks.mca measured it.
    if counts.get("cycles_per_element") is not None:
        parts.append(f"{counts['cycles_per_element']:.2f} cycles/element (llvm-mca)")
    return ", ".join(parts)


# XLA's CPU backend splits a fusion over threads by its cost analysis
# (xla/service/cpu/parallel_task_assignment.cc): a fusion with more flops than
# bytes accessed is "compute bound" and gets one thread per 100,000 units of
# flops + 2 transcendentals + 10 bytes; any other gets one per 256 KiB of
# bytes accessed. Its thread count is recorded as the fusion's
# "outer_dimension_partitions". And the PjRt CPU client runs an executable on
# the calling thread only when its total flop count is below 1,000
# (xla/pjrt/cpu/cpu_client.cc, "cheap_computation"); any other is handed to a
# worker thread, a cost an eager call on a small array feels.
CHEAP_COMPUTATION_FLOPS = 1000
_PARTITIONS = re.compile(r'"outer_dimension_partitions":\[([^\]]*)\]')


def xla_cost(fn: Callable, *args) -> dict[str, float]:
    """What XLA's CPU cost model sees in ``jax.jit(fn)(*args)``.

    ``flops``, ``transcendentals`` and ``bytes`` of the whole executable as
    XLA's cost analysis counts them (an exp is a transcendental, a polynomial
    for it a dozen flops), and ``threads``: the most threads any one fusion is
    split over.
    """
    compiled = jax.jit(fn).lower(*args).compile()
    analysis = compiled.cost_analysis()
    if isinstance(analysis, list):  # one entry per program on older jax
        analysis = analysis[0]
    threads = 1
    for partitions in _PARTITIONS.findall(compiled.as_text()):
        count = 1
        for part in re.findall(r"\d+", partitions):
            count *= int(part)
        threads = max(threads, count)
    return {"flops": float(analysis.get("flops", 0.0)),
            "transcendentals": float(analysis.get("transcendentals", 0.0)),
            "bytes": float(analysis.get("bytes accessed", 0.0)),
            "threads": threads}


def xla_cost_summary(cost: dict, n: int) -> str:
    """'35.0 flops + 0.0 transcendentals per element, 2 threads' for n elements."""
    return (f"{cost['flops'] / n:.1f} flops + {cost['transcendentals'] / n:.1f} "
            f"transcendentals per element, {cost['threads']} "
            f"thread{'s' if cost['threads'] > 1 else ''}")
