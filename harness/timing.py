"""The interleaved timer and the machine line: the one home of both.

``benchmarks.bench`` and the claims study (``experiments.cost``,
``experiments.__main__``) import them from here, so every timing in the
project is taken the same way and every report names its machine alike.
"""

from __future__ import annotations

import os
import platform
import random
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import jax
import jaxlib


@dataclass(frozen=True)
class Eager:
    """Marks a contender that must not be jitted: it is called as is.

    Used for un-jitted (eager) jax calls, whose per-call dispatch cost is what
    is measured; the result is still awaited with ``jax.block_until_ready``.
    """

    fn: Callable


def timeit_interleaved(
    fns: dict[str, Callable | tuple[Callable, tuple] | Eager],
    reps: int,
    *,
    args: tuple = (),
    number: int = 1,
) -> dict[str, list[float]]:
    """Times several contenders side by side, interleaving them rep by rep.

    Args:
        fns: contender name -> function. A function is jitted and called with
            ``args``; a pair ``(function, own_args)`` is jitted and called with
            ``own_args``; an :class:`Eager` function is called with ``args``
            as is.
        reps: number of timed samples per contender (>= 1).
        args: the arguments shared by the contenders that bring none of their own.
        number: calls per sample, run back to back and awaited once at the end;
            raise it for calls so short that the clock's resolution matters.

    Returns:
        contender name -> ``reps`` seconds per call, in the order taken.

    Each contender runs once untimed first, so compilation is never timed.
    Within each rep the contenders run once each, in a shuffled order.
    """
    if reps < 1 or number < 1:
        raise ValueError(f"timeit_interleaved: reps and number must be >= 1, got {reps}, {number}")
    calls: dict[str, tuple[Callable, tuple]] = {}
    for name, spec in fns.items():
        if isinstance(spec, Eager):
            calls[name] = (spec.fn, args)
        elif isinstance(spec, tuple):
            fn, own_args = spec
            calls[name] = (jax.jit(fn), own_args)
        else:
            calls[name] = (jax.jit(spec), args)
    for fn, fn_args in calls.values():
        jax.block_until_ready(fn(*fn_args))

    names = list(calls)
    times: dict[str, list[float]] = {name: [] for name in names}
    # A fresh order every rep (seeded, so runs are repeatable): a fixed or merely
    # rotated order would give each contender the same predecessor every time,
    # and what runs just before (its freed buffers, the cache it leaves) matters.
    order_rng = random.Random(0)
    for _ in range(reps):
        order_rng.shuffle(names)
        for name in names:
            fn, fn_args = calls[name]
            start = time.perf_counter()
            for _ in range(number - 1):
                fn(*fn_args)
            jax.block_until_ready(fn(*fn_args))
            times[name].append((time.perf_counter() - start) / number)
    return times


def paired_ratio(times: Sequence[float], reference: Sequence[float]) -> float:
    """Median over reps of times[i] / reference[i] (both from one interleaved run)."""
    return statistics.median(t / r for t, r in zip(times, reference, strict=True))


def summary(times: Sequence[float]) -> dict:
    """Median, min and max of one contender's samples, in seconds."""
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times)}


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# x86 extensions that change which instructions XLA's CPU compiler emits, in
# /proc/cpuinfo's names, lowest first.
_ISA_EXTENSIONS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "avx512_fp16",
                   "amx_tile", "amx_bf16", "amx_fp16")


def cpu_isa_extensions() -> list[str]:
    """The extensions of :data:`_ISA_EXTENSIONS` this CPU has (/proc/cpuinfo), lowest first."""
    flags: set[str] = set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    break
    except OSError:
        pass
    return [name for name in _ISA_EXTENSIONS if name in flags]


def xla_isa_cap(xla_flags: str | None = None) -> str | None:
    """The ``--xla_cpu_max_isa`` value in XLA_FLAGS (or ``xla_flags``), None without one."""
    flags = os.environ.get("XLA_FLAGS", "") if xla_flags is None else xla_flags
    return next((flag.split("=", 1)[1] for flag in flags.split()
                 if flag.startswith("--xla_cpu_max_isa=")), None)


def isa_info() -> str:
    """The ISA the figures were made at: the CPU's extensions and XLA's cap on them.

    XLA compiles for the best ISA the CPU has unless ``--xla_cpu_max_isa`` in
    XLA_FLAGS caps it, and the instructions (so speed, and bits where an
    instruction rounds differently) depend on it.
    """
    present = cpu_isa_extensions()
    cap = xla_isa_cap()
    cpu = "+".join(present) if present else (platform.machine() or "unknown")
    return f"{cpu}, XLA max ISA {cap or 'default (the best the CPU has)'}"


def machine_info() -> dict:
    """What the figures depend on: CPU, cores, versions, backend and device, date."""
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "jax": jax.__version__,
        "jaxlib": jaxlib.__version__,
        "backend": jax.default_backend(),
        "device": str(jax.devices()[0].device_kind),
        "isa": isa_info(),
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
    }


def machine_line(machine: dict | None = None) -> str:
    """One line naming the machine, as every report states it."""
    machine = machine_info() if machine is None else machine
    # (Results written before the ISA was recorded have no "isa".)
    isa = f"; ISA {machine['isa']}" if "isa" in machine else ""
    return (f"{machine['cpu']}, {machine['cores']} cores, jax {machine['jax']} / "
            f"jaxlib {machine['jaxlib']} ({machine['backend']}{isa})")
