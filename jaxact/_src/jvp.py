"""The ``custom_jvp`` builders every elementwise activation is made with.

A public function converts and checks its arguments (naming itself in any
error), then calls a ``jax.custom_jvp`` built here from one function that
returns the value and the derivative(s). The value and the derivative are
each one fused pass over memory (see :func:`jaxact._src.numerics.separate`
for why they do not share their ``exp``).

Half-precision inputs (bfloat16, float16) are computed in float32 and rounded
once at the end, so their results are the float32 results rounded once to the
narrower type.

Every activation is one compiled kernel, and gives the same bits however it
is called (see :func:`kernel`).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
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


def kernel(activation, *, default_param: float | None = None):
    """``activation`` (a ``custom_jvp``) as one jitted call that gives the same bits everywhere.

    * Called eagerly, a jitted function costs one dispatch (a few µs)
      instead of tracing the ``custom_jvp`` on every call (hundreds).
    * Under ``jax.disable_jit()`` it still runs compiled, as a JAX primitive
      does: evaluated op by op it could not give the same results, because
      XLA contracts ``a * b + c`` into one rounding (an FMA) inside a fused
      kernel and cannot across separate ops.
    * It is called with eager constant folding off (see staged_constants).
    * Its inputs go through a barrier first (see guard_inputs), so that an
      input XLA knows at compile time is not folded by XLA's simplifier,
      which reassociates the error-free arithmetic (the barrier costs
      nothing: it does not split the fusion).
    * ``default_param``, for ``activation(x, param)``: a call whose param
      is this Python float runs a kernel compiled with it as a constant.
      A Python float argument of a jitted function is copied to the device
      on every call, which costs an eager call on a small array as much as
      the activation itself; the barrier keeps the constant from being
      folded, so the bits are those of the general kernel.
    """
    jitted = jax.jit(activation)
    if default_param is not None:
        with_default = jax.jit(lambda x: activation(x, default_param))

    @functools.wraps(activation)
    def call(*args):
        target = jitted
        if default_param is not None and type(args[1]) is float and args[1] == default_param:
            target, args = with_default, args[:1]
        if jax.config.jax_disable_jit:
            with jax.disable_jit(False):
                return target(*args)
        return target(*args)

    call = staged_constants(call)
    call.default_param = default_param
    return call


def guard_inputs(*args):
    """``args`` unchanged, behind one barrier XLA cannot constant-fold through."""
    return jax.lax.optimization_barrier(args)


def unary_activation(value_and_derivative, *, cpu_bfloat16_value=None):
    """f(x) as a ``custom_jvp`` from ``value_and_derivative(x) -> (f(x), f'(x))``.

    The primal is one fused pass; the JVP rule computes the value from x and
    the derivative from a separated x (see separate), each in its own fused
    pass.

    ``cpu_bfloat16_value(x32) -> float32``, if given, computes the value of
    a bfloat16 input on the CPU instead: a cheaper float32 function whose
    rounding to bfloat16 equals that of f at all 2^16 bfloat16 inputs (its
    test checks every one). The derivative is always computed.
    """
    def value(x: jax.Array) -> jax.Array:
        y, _ = value_and_derivative(upcast(x))
        return cast(y, x.dtype)

    def cpu_bfloat16(x: jax.Array) -> jax.Array:
        return cast(cpu_bfloat16_value(upcast(x)), x.dtype)

    @jax.custom_jvp
    def activation(x: jax.Array) -> jax.Array:
        (x,) = guard_inputs(x)
        if cpu_bfloat16_value is None or x.dtype != jnp.bfloat16:
            return value(x)
        return jax.lax.platform_dependent(x, cpu=cpu_bfloat16, default=value)

    def jvp(primals, tangents):
        (x,), (x_dot,) = primals, tangents
        # The value through `activation` itself: differentiating this rule
        # (a second derivative) then goes through the rule again, never
        # through the value's own arithmetic (nor through cpu_bfloat16_value,
        # which may be one whose autodiff derivative is poor).
        y = activation(x)
        _, dy = value_and_derivative(upcast(separate(x)))
        return y, cast(cast(x_dot, dy.dtype) * dy, x.dtype)

    activation.defjvp(jvp)
    return kernel(activation)


def binary_activation(value_and_partials, *, default_param: float | None = None):
    """f(x, p) as a ``custom_jvp`` from ``value_and_partials(x, p) -> (f, df/dx, df/dp)``.

    The parameter p is cast to x's compute dtype inside (float32 for half
    precision), so a Python number may be passed as it is; ``default_param``
    is the public function's default p (see kernel).

    The rule is registered with ``symbolic_zeros=True``: a parameter that is
    not being differentiated contributes no term at all, rather than a zero
    tangent times df/dp, which is NaN where df/dp is infinite (leaky_relu's
    df/dslope = x at x = -inf) and costs a pass of arithmetic everywhere else.
    """
    @jax.custom_jvp
    def activation(x: jax.Array, param: jax.Array) -> jax.Array:
        x, param = guard_inputs(x, param)
        y, _, _ = value_and_partials(upcast(x), cast(param, compute_dtype(x.dtype)))
        return cast(y, x.dtype)

    def jvp(primals, tangents):
        (x, param), (x_dot, param_dot) = primals, tangents
        x, param = guard_inputs(x, param)
        param = cast(param, compute_dtype(x.dtype))
        y, _, _ = value_and_partials(upcast(x), param)
        _, dy_dx, dy_dparam = value_and_partials(upcast(separate(x)), param)
        ct = y.dtype
        y_dot = jnp.zeros_like(y)
        if not isinstance(x_dot, SymbolicZero):
            y_dot = y_dot + cast(x_dot, ct) * dy_dx
        if not isinstance(param_dot, SymbolicZero):
            y_dot = y_dot + cast(param_dot, ct) * dy_dparam
        return cast(y, x.dtype), cast(y_dot, x.dtype)

    activation.defjvp(jvp, symbolic_zeros=True)
    return kernel(activation, default_param=default_param)
