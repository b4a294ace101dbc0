"""Helpers shared by the experiments that train jax.nn and jaxact side by side.

Those experiments ask where jaxact's accurate tail derivatives change what
training does. Each row names the JAX version whose jax.nn it measured and
the input from which that version's derivative is exactly zero, both found
here by evaluating jax.nn, never typed in.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np


def jax_version() -> str:
    return f"jax {jax.__version__}"


def first_zero_derivative(fn, dtype=jnp.float32, *, start: float = 0.0, stop: float = 800.0,
                          sign: float = 1.0) -> float | None:
    """The smallest ``|x|`` on a 1/64 grid, going from ``start`` towards ``sign * stop``,
    at which ``jax.grad(fn)(x)`` is exactly zero, or None if none is.

    Float64 inputs need ``jax.enable_x64``; the caller holds it.
    """
    grid = sign * np.arange(start, stop, 1.0 / 64.0)
    derivative = np.asarray(jax.jit(jax.vmap(jax.grad(fn)))(jnp.asarray(grid, dtype)))
    zero = np.flatnonzero(derivative == 0.0)
    return None if zero.size == 0 else float(abs(grid[zero[0]]))


def failure_note(label: str, fn, dtype=jnp.float32, *, sign: float = 1.0) -> str:
    """'jax.nn.sigmoid' is exactly 0 from x = 16.6 in float32 (jax 0.10.2)'.

    ``label`` names the derivative of ``fn`` (e.g. "jax.nn.sigmoid'").
    """
    where = first_zero_derivative(fn, dtype, sign=sign)
    dtype_name = jnp.dtype(dtype).name
    if where is None:
        return f"{label} is never exactly 0 in {dtype_name} ({jax_version()})"
    side = "x" if sign > 0 else "-x"
    return (f"{label} is exactly 0 from {side} = {where:.3g} in {dtype_name} "
            f"({jax_version()})")
