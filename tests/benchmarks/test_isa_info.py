"""The benchmark reports name the ISA their figures were made at."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

from harness.timing import isa_info, machine_info, machine_line

REPO = pathlib.Path(__file__).resolve().parents[2]


def test_machine_line_names_the_isa_and_the_xla_cap():
    machine = machine_info()
    assert machine["isa"] == isa_info()
    assert f"ISA {machine['isa']}" in machine_line(machine)
    env = {**os.environ, "XLA_FLAGS": "--xla_cpu_max_isa=AVX2"}
    capped = subprocess.run(
        [sys.executable, "-c", "from harness.timing import isa_info; print(isa_info())"],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=120, check=True)
    assert capped.stdout.strip().endswith("XLA max ISA AVX2"), capped.stdout
    # A result written before the ISA was recorded still renders.
    assert "ISA" not in machine_line({k: v for k, v in machine.items() if k != "isa"})
