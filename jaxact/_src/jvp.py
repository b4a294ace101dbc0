"""The ``custom_jvp`` builders every elementwise activation is made with.

A public function converts and checks its arguments (naming itself in any
error), then calls a ``jax.custom_jvp`` built here from one function that
returns the value and the derivative(s). The value and the derivative are
each one fused pass over memory (see :func:`jaxact._src.numerics.separate`
for why they do not share their ``exp``).

Half-precision inputs (bfloat16, float16) are computed in float32 and rounded
once at the end, so their results are the float32 results rounded once to the
narrower type.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax.custom_derivatives import SymbolicZero

from jaxact._src.numerics import separate, staged_constants

HALF_DTYPES = (jnp.dtype(jnp.bfloat16), jnp.dtype(jnp.float16))


def compute_dtype(dtype):
    return jnp.dtype(jnp.float32) if jnp.dtype(dtype) in HALF_DTYPES else jnp.dtype(dtype)


def upcast(x: jax.Array) -> jax.Array:
    return cast(x, compute_dtype(x.dtype))


def cast(x: jax.Array, dtype) -> jax.Array:
    # Skipping a same-dtype astype keeps a weakly typed Python-scalar input
    # weakly typed, as jax.numpy functions do.
    return x if x.dtype == dtype else x.astype(dtype)


def unary_activation(value_and_derivative, *, bfloat16_table: bool = False):
    """f(x) as a ``custom_jvp`` from ``value_and_derivative(x) -> (f(x), f'(x))``.

    Outside jit and grad the primal is one compiled call; the JVP rule
    computes the value from x and the derivative from a separated x (see
    separate), each in its own fused pass. With ``bfloat16_table``, the
    value of a bfloat16 input on the CPU is read from a table (see
    _bfloat16_table); the derivative is always computed.
    """

    def value(x: jax.Array) -> jax.Array:
        y, _ = value_and_derivative(upcast(x))
        return cast(y, x.dtype)

    @jax.custom_jvp
    @jax.jit
    def activation(x: jax.Array) -> jax.Array:
        table = _bfloat16_table(value) if bfloat16_table and x.dtype == jnp.bfloat16 else None
        if table is None:
            return value(x)
        return jax.lax.platform_dependent(x, cpu=functools.partial(_look_up, table), default=value)

    def jvp(primals, tangents):
        (x,), (x_dot,) = primals, tangents
        # The value through `activation` itself: differentiating this rule
        # (a second derivative) then goes through the rule again, never
        # through the value's own arithmetic, which a table lookup has none of.
        y = activation(x)
        _, dy = value_and_derivative(upcast(separate(x)))
        return y, cast(cast(x_dot, dy.dtype) * dy, x.dtype)

    activation.defjvp(jvp)
    return staged_constants(activation)


@functools.cache
def _bfloat16_table(value) -> np.ndarray | None:
    """``value`` at every bfloat16 bit pattern, as bit patterns: 128 KiB.

    On the CPU a bfloat16 tanh spends most of its time in the float32
    arithmetic and the rounding back (1.15x jax.nn's time, measured); one
    lookup in this table costs 0.82x, and its entries are by construction
    the float32 result rounded once, as the computed path's are. Built once
    per function, on the CPU, at the first trace; None where JAX has no CPU
    backend (then nothing needs it).
    """
    try:
        cpu_device = jax.devices("cpu")[0]
    except RuntimeError:
        return None
    patterns = np.arange(2**16, dtype=np.uint32).astype(np.uint16).view(jnp.bfloat16)
    # Compiled ahead of time and called with concrete patterns, it runs now
    # even while an enclosing function is being traced. (Not
    # ensure_compile_time_eval: that would fold the opaque constants and
    # with them the exp's rounding.)
    cpu = jax.sharding.SingleDeviceSharding(cpu_device)
    spec = jax.ShapeDtypeStruct(patterns.shape, patterns.dtype, sharding=cpu)
    results = jax.jit(value).lower(spec).compile()(patterns)
    return np.asarray(results).view(np.uint16)


def _look_up(table: np.ndarray, x: jax.Array) -> jax.Array:
    """table[bits of x], as x's dtype."""
    index = jax.lax.bitcast_convert_type(x, jnp.uint16).astype(jnp.int32)
    patterns = jnp.asarray(table).at[index].get(mode="promise_in_bounds")
    return jax.lax.bitcast_convert_type(patterns, x.dtype)


def binary_activation(value_and_partials):
    """f(x, p) as a ``custom_jvp`` from ``value_and_partials(x, p) -> (f, df/dx, df/dp)``.

    The rule is registered with ``symbolic_zeros=True``: a parameter that is
    not being differentiated contributes no term at all, rather than a zero
    tangent times df/dp, which is NaN where df/dp is infinite (leaky_relu's
    df/dslope = x at x = -inf) and costs a pass of arithmetic everywhere else.
    """

    @jax.custom_jvp
    @jax.jit
    def activation(x: jax.Array, param: jax.Array) -> jax.Array:
        y, _, _ = value_and_partials(upcast(x), upcast(param))
        return cast(y, x.dtype)

    def jvp(primals, tangents):
        (x, param), (x_dot, param_dot) = primals, tangents
        y, _, _ = value_and_partials(upcast(x), upcast(param))
        _, dy_dx, dy_dparam = value_and_partials(upcast(separate(x)), upcast(param))
        ct = y.dtype
        y_dot = jnp.zeros_like(y)
        if not isinstance(x_dot, SymbolicZero):
            y_dot = y_dot + cast(x_dot, ct) * dy_dx
        if not isinstance(param_dot, SymbolicZero):
            y_dot = y_dot + cast(param_dot, ct) * dy_dparam
        return cast(y, x.dtype), cast(y_dot, x.dtype)

    activation.defjvp(jvp, symbolic_zeros=True)
    return staged_constants(activation)
