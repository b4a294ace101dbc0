"""The same bits at every x86 ISA level, on every call path, subnormals included.

XLA's CPU compiler picks instructions by the ISA it may use
(``--xla_cpu_max_isa``): at AMX a kernel rounds float32 to bfloat16 with a
native instruction that flushes subnormals where XLA's software rounding
keeps them, and a select may become a min/max that reads a subnormal as 0.
jaxact flushes subnormals itself (jvp's module docstring), so every path
gives the same bits. One subprocess per ISA level computes every function's
value and derivative on every path; the results are compared across paths
and across levels.
"""

from __future__ import annotations

import functools
import os
import pathlib
import subprocess
import sys

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np

import jaxact
from tests.test_kernels import EAGER

REPO = pathlib.Path(__file__).resolve().parent.parent

FUNCTIONS = {**EAGER, "prelu": functools.partial(jaxact.prelu, negative_slope=0.25)}
DTYPES = ("float32", "bfloat16", "float16", "float8_e4m3fn")
# Constants and eager calls are checked where the AMX failures were (each is
# a compile per dtype): float32 and bfloat16.
PATH_DTYPES = ("float32", "bfloat16")


def _cpu_has(flag: str) -> bool:
    try:
        with open("/proc/cpuinfo") as f:
            return any(line.startswith("flags") and flag in line.split() for line in f)
    except OSError:
        return True


# The default ISA (the CPU's best), and two levels below it. XLA caps a level
# above the CPU's to the CPU's, so on a CPU without AVX-512 that run would
# repeat the default one and is left out.
ISA_LEVELS = (None, "AVX2", *(("AVX512",) if _cpu_has("avx512f") else ()))


def special_values(dtype) -> np.ndarray:
    """64 values of ``dtype``: subnormals of it and of float32, zeros, kinks, limits, NaN."""
    info = ml_dtypes.finfo(dtype)
    tiny32 = float(np.finfo(np.float32).tiny)
    magnitudes = [
        0.0, float(info.smallest_subnormal), float(info.tiny) - float(info.smallest_subnormal),
        float(info.tiny) / 2, float(info.tiny), 2.0**-149, 2.0**-127, tiny32 / 3, tiny32,
        1e-30, 1e-5, 6e-8, 0.1, 0.5, 1.0, 1.5, 2.0, 3.0, 6.0, 10.0, 20.0, 90.0, 1e30,
        float(info.max), np.inf, np.nan,
    ]
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        wide = np.array(magnitudes + [-m for m in magnitudes], np.float64)
        values = wide.astype(np.float32).astype(dtype)
    bits = np.unique(values.view(f"u{values.itemsize}"))
    # Padded to 64 with a spread of normal values (the eager chunked limit).
    extra = np.linspace(-4, 4, 64 - bits.size).astype(np.float32).astype(dtype)
    return np.concatenate([bits.view(dtype), extra])


def sweep(dtype) -> np.ndarray:
    """Every pattern of a 16- or 8-bit type; every 65,537th of float32."""
    if dtype == np.float32:
        return np.arange(0, 2**32, 65_537, dtype=np.uint64).astype(np.uint32).view(np.float32)
    bits = 8 * np.dtype(dtype).itemsize
    return np.arange(1 << bits, dtype=f"u{np.dtype(dtype).itemsize}").view(dtype)


def _all_quantities(x: jax.Array) -> dict[str, jax.Array]:
    results = {}
    for name, fn in FUNCTIONS.items():
        results[f"{name} value"] = fn(x)
        results[f"{name} d/dx"] = jax.vmap(jax.grad(fn))(x)
    return results


def _as_bits(value) -> np.ndarray:
    value = np.asarray(value)
    return value.view(f"u{value.itemsize}")


def compute_every_path(path: str, other_paths: bool = True) -> None:
    """Writes to ``path`` (npz) the bits of every function, jitted and, with
    ``other_paths``, on the constant and eager paths too."""
    out = {}
    for name in DTYPES:
        dtype = jnp.dtype(name)
        special = special_values(dtype)
        # One program per dtype: the special values, then the sweep.
        both = jnp.asarray(np.concatenate([special, sweep(dtype)]))
        for label, value in jax.jit(_all_quantities)(both).items():
            out[f"jit sweep|{name}|{label}"] = _as_bits(value)[special.size:]
            out[f"jit|{name}|{label}"] = _as_bits(value)[:special.size]
        if not other_paths or name not in PATH_DTYPES:
            continue
        # Values only: a derivative at a constant x has its own test (its
        # rule's input barrier, tests/test_kernels.py).
        x = jnp.asarray(special)
        values = jax.jit(lambda x=x: {name: fn(x) for name, fn in FUNCTIONS.items()})()
        for fn_name, value in values.items():
            out[f"constant|{name}|{fn_name} value"] = _as_bits(value)
        for fn_name, fn in FUNCTIONS.items():
            out[f"eager|{name}|{fn_name} value"] = _as_bits(fn(x))
    np.savez(path, **out)


def _run_at(isa: str | None, path: pathlib.Path) -> dict[str, np.ndarray]:
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(REPO)}
    flags = env.get("XLA_FLAGS", "")
    if isa is not None:
        flags += f" --xla_cpu_max_isa={isa}"
    env["XLA_FLAGS"] = flags
    # The call paths are compared at the default level, where the AMX
    # difference was; below it the jitted bits are compared with the default's.
    script = ("from tests.test_isa import compute_every_path; "
              f"compute_every_path({str(path)!r}, other_paths={isa is None})")
    result = subprocess.run([sys.executable, "-c", script], env=env, cwd=REPO, timeout=900,
                            capture_output=True, text=True)
    assert result.returncode == 0, f"ISA {isa}: {result.stderr[-3000:]}"
    with np.load(path) as data:
        return dict(data)


def _differences(got: dict, want: dict, what: str) -> list[str]:
    wrong = []
    for key, bits in want.items():
        other = got[key]
        dtype = jnp.dtype(key.split("|")[-2])
        nan = np.isnan(bits.view(dtype).astype(np.float32)) & np.isnan(
            other.view(dtype).astype(np.float32))
        differ = (bits != other) & ~nan
        if differ.any():
            i = int(np.flatnonzero(differ)[0])
            wrong.append(f"{what} {key}: {int(differ.sum())} differ, first "
                         f"{other.view(dtype)[i]!r} vs {bits.view(dtype)[i]!r}")
    return wrong


def test_every_path_gives_the_same_bits_at_every_isa_level(tmp_path):
    results = {isa: _run_at(isa, tmp_path / f"{isa}.npz") for isa in ISA_LEVELS}
    wrong = []
    for isa, bits in results.items():
        jit = {k.split("|", 1)[1]: v for k, v in bits.items() if k.startswith("jit|")}
        for path in ("constant", "eager"):
            other = {k.split("|", 1)[1]: v for k, v in bits.items() if k.startswith(path + "|")}
            wrong += _differences(jit, other, f"ISA {isa}: {path} vs jit")
        if isa is not None:
            assert set(bits) == {k for k in results[None] if k.startswith("jit")}
            wrong += _differences(results[None], bits, f"ISA {isa} vs default")
    assert not wrong, "\n".join(wrong[:40])


def test_subnormals_are_zeros_of_their_sign():
    # The one defined way: a float32 (bfloat16) subnormal input is read as a
    # zero of its sign, so hard_tanh and relu, which pass x through, return
    # that zero, on every path (a constant x kept the subnormal before).
    x = jnp.asarray(np.array([1e-40, -1e-40, 2.0**-149, -(2.0**-149)], np.float32))
    for dtype in (jnp.float32, jnp.bfloat16):
        xs = x.astype(dtype)
        want = np.array([0.0, -0.0, 0.0, -0.0], np.float32)
        for fn in (jaxact.hard_tanh, jaxact.relu, jaxact.tanh, jaxact.celu):
            got = {"jit": jax.jit(fn)(xs), "constant": jax.jit(lambda fn=fn, xs=xs: fn(xs))()}
            for label, value in got.items():
                value = np.asarray(value.astype(jnp.float32))
                np.testing.assert_array_equal(value, 0, err_msg=f"{fn.__name__} {label} {dtype}")
                if fn is not jaxact.relu:  # (relu(-0.0) is either zero, as max gives it)
                    np.testing.assert_array_equal(np.signbit(value), np.signbit(want),
                                                  err_msg=f"{fn.__name__} {label} {dtype}")


def _bits(value) -> np.ndarray:
    value = np.asarray(value)
    if value.dtype != np.float64:
        value = value.astype(np.float32)
    return value.view(np.uint64 if value.dtype == np.float64 else np.uint32)


def test_every_function_reads_a_subnormal_input_as_a_zero_of_its_sign():
    # Value and derivative of every function at ±subnormal equal, bit for bit,
    # those at ±0, on the argument and the constant path: whether a kernel
    # flushes its input itself or leaves it to the CPU's arithmetic (see
    # jvp.upcast), a subnormal never reaches a result unflushed.
    wrong = []
    for dtype in (*PATH_DTYPES, "float64"):
        tiny = float(np.finfo(np.float64 if dtype == "float64" else np.float32).tiny)
        with jax.enable_x64(dtype == "float64"):
            x = jnp.asarray(np.array([tiny / 3, -tiny / 3, tiny / 2**6, -tiny / 2**6]),
                            dtype)
            zeros = jnp.asarray(np.array([0.0, -0.0, 0.0, -0.0]), dtype)

            def all_of(v):
                return {name: (fn(v), jax.vmap(jax.grad(fn))(v))
                        for name, fn in FUNCTIONS.items()}

            want = jax.jit(all_of)(zeros)
            got = {"jit": jax.jit(all_of)(x), "constant": jax.jit(lambda x=x: all_of(x))()}
            wrong += [f"{name} {label} {dtype} {kind}"
                      for label, results in got.items() for name, pair in results.items()
                      for kind, value, expected in zip(("value", "derivative"), pair,
                                                       want[name], strict=True)
                      if not np.array_equal(_bits(value), _bits(expected))]
    assert not wrong, wrong
