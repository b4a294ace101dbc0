"""Static cost of the compiled elementwise loops: cycles per element by llvm-mca.

Wall-clock ratios on a shared machine move by several percent from run to
run; the machine code XLA emits does not. For each elementwise function this
compiles jaxact's and the reference's forward and forward+vjp (as
``benchmarks.elementwise`` times them), reads the object file of every loop
fusion from an XLA dump, takes each kernel's main loop (the longest backward
jump), and asks ``llvm-mca`` for the loop's cycles per iteration on this CPU
(``-mcpu=native``). Divided by the elements one iteration handles (the loop
counter's step), that is the kernel's throughput cost per element, the same on
a loaded machine as on an idle one. Summed over the kernels of a call it is the
call's compute cost; a call whose cost per element is below the memory
system's is bandwidth-bound, so the ratio of costs bounds the in-cache ratio of
times and explains a 2^24 ratio that exceeds the floor's.

Run as ``python -m benchmarks.mca [--functions NAME...] [--dtype float32]``:
prints one line per function. Needs ``objdump`` and ``llvm-mca`` on the PATH
(:func:`tools_missing` says which are not); the XLA dump flag must be set before
JAX starts, so :func:`static_profile` runs this module in a child process.
A kernel whose main loop cannot be found, or calls out of the loop (a libm
function), is unknown, and a ratio with an unknown side is not given.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

TOOLS = ("objdump", "llvm-mca")
# The input size compiled: large enough that XLA emits its vectorised loop,
# small enough to compile fast. The loop's step is read against it.
SIZE = 1 << 16


def tools_missing() -> list[str]:
    """The tools of :data:`TOOLS` not on the PATH."""
    return [tool for tool in TOOLS if shutil.which(tool) is None]


def _disassemble(obj: Path) -> list[tuple[int, str]]:
    out = subprocess.run(["objdump", "-d", "--no-show-raw-insn", str(obj)],
                         capture_output=True, text=True, check=True).stdout
    lines = []
    for line in out.splitlines():
        match = re.match(r"\s+([0-9a-f]+):\s+(.*)", line)
        if match:
            lines.append((int(match.group(1), 16), re.sub(r"\s+#.*$", "", match.group(2)).strip()))
    return lines


def _main_loop(lines: list[tuple[int, str]], itemsize: int) -> tuple[list[str], float] | None:
    """(instructions, elements per iteration) of the kernel's main loop, or None.

    The main loop is the longest innermost loop (a backward jump with no
    other backward jump inside). Elements per iteration: each output array
    is written once per element, by vector stores through its own address
    registers, so the stores per address pattern (unrolled copies differ in
    the offset only) times the lanes of a vector is the step, whatever the
    loop counter counts.
    """
    jumps = []
    for address, instruction in lines:
        jump = re.match(r"j\w+\s+([0-9a-f]+)\b", instruction)
        if jump and int(jump.group(1), 16) < address:
            jumps.append((int(jump.group(1), 16), address))
    if not jumps:
        # No loop: a scalar computation (of a parameter, say), nothing per element.
        return [], 0.0
    innermost = [(start, end) for start, end in jumps
                 if not any(start <= s and e <= end and (s, e) != (start, end)
                            for s, e in jumps)]
    best = None
    for start, end in innermost:
        body = [text for at, text in lines if start <= at <= end]
        stores: dict[str, list[int]] = {}
        for text in body:
            store = re.match(r"vmov\w*\s+%([xyz])mm\d+,\s*(-?0x[0-9a-f]+|-?\d+)?\(([^)]*)\)", text)
            if store and "rsp" not in store.group(3) and "rbp" not in store.group(3):
                lanes = {"x": 16, "y": 32, "z": 64}[store.group(1)] // itemsize
                stores.setdefault(store.group(3), []).append(lanes)
        # A loop that calls out (a libm pow, say) costs what llvm-mca cannot
        # see: unknown.
        if not stores or any(text.startswith("call") for text in body):
            continue
        step = min(sum(lanes) for lanes in stores.values())
        if best is None or len(body) > len(best[0]):
            best = (body, step)
    return best


def _loop_cycles(body: list[str]) -> float | None:
    """llvm-mca's cycles per iteration of a loop body, on this CPU."""
    assembly = "\n".join(re.sub(r"<[^>]*>", "", text) for text in body)
    assembly = re.sub(r"^(j\w+)\s+[0-9a-f]+.*$", r"\1 .Lloop", assembly, flags=re.M)
    iterations = 100
    result = subprocess.run(["llvm-mca", "-mcpu=native", f"-iterations={iterations}", "-"],
                            input=".Lloop:\n" + assembly + "\n", capture_output=True, text=True)
    match = re.search(r"Total Cycles:\s+(\d+)", result.stdout)
    return int(match.group(1)) / iterations if match else None


def _kernels_cost(objects: Sequence[Path], itemsize: int) -> float | None:
    """Summed cycles per element of the kernels' main loops; None if one is unknown."""
    total = 0.0
    for obj in objects:
        loop = _main_loop(_disassemble(obj), itemsize)
        if loop is None:
            return None
        if not loop[0]:
            continue
        cycles = _loop_cycles(loop[0])
        if cycles is None:
            return None
        total += cycles / loop[1]
    return total


def _measure(names: Sequence[str], dtype_name: str, dump: Path) -> list[dict]:
    import jax
    import jax.numpy as jnp

    from benchmarks.elementwise import ELEMENTWISE, forward_and_vjp, inputs

    dtype = jnp.dtype(dtype_name)
    x, cotangent = inputs(SIZE, dtype)
    rows = []
    for name in names:
        function = ELEMENTWISE[name]
        for mode in ("forward", "forward+vjp"):
            costs = {}
            for label, fn in (("jaxact", function.jaxact), ("reference", function.reference)):
                call = fn if mode == "forward" else forward_and_vjp(fn)
                args = (x,) if mode == "forward" else (x, cotangent)
                before = set(dump.glob("*.o"))
                jax.jit(call).lower(*args).compile()
                costs[label] = _kernels_cost(sorted(set(dump.glob("*.o")) - before),
                                             dtype.itemsize)
            ratio = (None if None in costs.values() or not costs["reference"]
                     else costs["jaxact"] / costs["reference"])
            rows.append({"name": name, "mode": mode, "dtype": dtype.name,
                         "jaxact_cycles": costs["jaxact"],
                         "reference_cycles": costs["reference"],
                         "reference": function.reference_label, "ratio": ratio})
    return rows


def static_profile(names: Sequence[str], dtype: str = "float32") -> list[dict] | str:
    """Cycles per element of jaxact's and the reference's kernels, per function and mode.

    Runs this module in a child process (the XLA dump flag must be set before
    JAX starts). Returns the rows, or a one-line reason when the tools are
    missing or the child fails.
    """
    missing = tools_missing()
    if missing:
        return f"not measured: {', '.join(missing)} not on the PATH"
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "rows.json"
        result = subprocess.run(
            [sys.executable, "-m", "benchmarks.mca", "--dtype", dtype, "--json", str(out),
             "--functions", *names],
            capture_output=True, text=True, cwd=Path(__file__).resolve().parent.parent)
        if result.returncode:
            tail = (result.stderr.strip().splitlines() or ["no output"])[-1]
            return f"not measured: the child process failed ({tail})"
        return json.loads(out.read_text())


def main(argv: Sequence[str] | None = None) -> int:
    from harness import runs

    parser = runs.ArgumentParser(prog="python -m benchmarks.mca", description=__doc__)
    parser.add_argument("--functions", nargs="+", metavar="NAME", default=None)
    parser.add_argument("--dtype", default="float32", choices=("float32", "bfloat16", "float64"))
    parser.add_argument("--json", type=Path, default=None,
                        help="write the rows to this file instead of printing them")
    args = parser.parse_args(argv)
    missing = tools_missing()
    if missing:
        parser.error(f"{', '.join(missing)} not on the PATH")
    with tempfile.TemporaryDirectory() as folder:
        os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} --xla_dump_to={folder}"
        if args.dtype == "float64":
            os.environ["JAX_ENABLE_X64"] = "1"
        from benchmarks.elementwise import ELEMENTWISE

        names = args.functions or list(ELEMENTWISE)
        unknown = [name for name in names if name not in ELEMENTWISE]
        if unknown:
            parser.error(f"unknown functions: {', '.join(unknown)}")
        rows = _measure(names, args.dtype, Path(folder))
    if args.json:
        args.json.write_text(json.dumps(rows))
        return 0
    for row in rows:
        def cycles(value):
            return "?" if value is None else f"{value:.2f}"

        ratio = "?" if row["ratio"] is None else f"{row['ratio']:.2f}"
        print(f"{row['name']:22s} {row['mode']:12s} {row['dtype']}: jaxact "
              f"{cycles(row['jaxact_cycles'])} vs {row['reference']} "
              f"{cycles(row['reference_cycles'])} cycles/element: {ratio}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
